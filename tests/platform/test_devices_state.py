"""Device state declared once: every device (and semihosting) snapshots, restores and resets
through the same protocol, driven through its registers as firmware would."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.state import state_equal

from emu import Machine
from emu.devices import semihosting as sh
from emu.devices.base import Stateful, StateVersionError
from emu.devices.clint import MSIP, MTIMECMP
from emu.devices.plic import CONTEXT, ENABLE
from emu.npu_device.regs import REG

HELLO = Path(__file__).resolve().parents[2] / "build" / "firmware" / "rv32" / "hello.elf"
SCRATCH = 0x8010_0000  # RAM the semihosting argument blocks use (above hello's image)


def _open(m: Machine, name: bytes, mode: int) -> int:
    m.ram.write(SCRATCH + 0x100, name + b"\0")
    word = m.xlen // 8
    for i, v in enumerate((SCRATCH + 0x100, mode, len(name))):
        m.ram.write_int(SCRATCH + i * word, word, v)
    return m.semihost.call(sh.SYS_OPEN, SCRATCH)


def _close(m: Machine, fd: int) -> None:
    m.ram.write_int(SCRATCH, m.xlen // 8, fd)
    m.semihost.call(sh.SYS_CLOSE, SCRATCH)


# Per device: two different mutations made through its registers (offset, width, value) or, for
# semihosting, through its calls.
MUTATIONS = {
    "test-finisher": ([], []),
    "clint": ([(MSIP, 4, 1), (MTIMECMP, 8, 5000)], [(MSIP, 4, 0), (MTIMECMP, 8, 123)]),
    "plic": ([(4 * 10, 4, 3), (ENABLE, 4, 1 << 10), (CONTEXT, 4, 1)],
             [(4 * 10, 4, 7), (ENABLE + 0x80, 4, 0xFFFF_FFFE), (CONTEXT + 0x1000, 4, 5)]),
    "uart0": ([(1, 1, 0x0F), (2, 1, 0xC1), (3, 1, 0x03), (7, 1, 0x5A), (0, 1, ord("A"))],
              [(3, 1, 0x80), (0, 1, 0x01), (1, 1, 0x00), (3, 1, 0x03), (1, 1, 0x02), (7, 1, 0xA5)]),
    "npu": ([(REG["INT_ENABLE"], 4, 3), (REG["RING_BASE_LO"], 4, 0x8020_0000), (REG["RING_SIZE"], 4, 8)],
            [(REG["INT_ENABLE"], 4, 1), (REG["RING_SIZE"], 4, 16), (REG["CTRL"], 4, 1)]),
}


def _machine() -> Machine:
    return Machine.from_elf(HELLO, deterministic=True)


def _device(m: Machine, name: str) -> Stateful:
    return m.semihost if name == "semihosting" else next(d for d in m.devices if d.name == name)


def _mutate(m: Machine, name: str, which: int, tmp_path) -> None:
    if name == "semihosting":
        if which == 0:
            _open(m, b":tt", 4)
            m.semihost.errno = 5
        else:
            _close(m, 3)
            _open(m, b":semihosting-features", 0)
        return
    device = _device(m, name)
    for offset, width, value in MUTATIONS[name][which]:
        device.write(offset, width, value)


@pytest.mark.parametrize("name", [*MUTATIONS, "semihosting"])
def test_every_device_snapshots_restores_and_resets_to_power_on(name, tmp_path):
    m = _machine()
    assert {d.name for d in m.devices} == set(MUTATIONS)  # a new device must be added above
    device = _device(m, name)
    fresh = device.get_state()
    _mutate(m, name, 0, tmp_path)
    saved_state = device.get_state()
    if MUTATIONS.get(name, ([1], []))[0]:
        assert not state_equal(saved_state, fresh), "the mutation must change the declared state"
    snap = m.snapshot()
    _mutate(m, name, 1, tmp_path)
    assert not state_equal(device.get_state(), saved_state) or name == "test-finisher"
    m.restore(snap)
    assert state_equal(device.get_state(), saved_state)
    device.reset()
    assert state_equal(device.get_state(), _device(_machine(), name).get_state())
    assert state_equal(device.get_state(), fresh)


def test_snapshots_are_keyed_by_device_name_and_versioned():
    m = _machine()
    snap = m.snapshot()
    assert set(snap.devices) == {"test-finisher", "clint", "plic", "uart0", "npu", "semihosting"}
    state = m.clint.get_state()
    state["version"] += 1
    with pytest.raises(StateVersionError, match="clint: saved state version"):
        m.clint.set_state(state)
    del snap.devices["plic"]
    with pytest.raises(Exception, match="do not match this machine"):
        m.restore(snap)


def test_pending_clock_events_are_saved_as_times_and_rearmed():
    """The UART's receive timeout is pending at the snapshot: after restore it fires at its time."""
    m = _machine()
    m.uart.write(2, 1, 0xC1)  # FIFO on, trigger level 14: two bytes wait for the timeout
    m.uart.write(1, 1, 0x01)
    m.uart.send(b"ab")
    state = m.uart.get_state()
    when = state["events"]["_timeout_event"]
    assert when is not None
    snap = m.snapshot()
    m.uart.read(0, 1), m.uart.read(0, 1)  # noqa: B018 - drain: the timeout is cancelled
    assert m.uart.get_state()["events"]["_timeout_event"] is None
    m.restore(snap)
    assert [e.when_ns for e in m.clock.pending_events() if e.name.startswith("uart0")] == [when]
    m.clock.skip_to(when)
    m.clock.run_due()
    assert m.uart.read(2, 1) & 0x0F == 0x0C  # character-timeout interrupt, as before the snapshot
