"""Fuzz every device's registers: random offsets, widths and values, reads and writes mixed.
A device never raises whatever the guest does, its declared state round-trips through
get/set, and a machine snapshot taken in the middle restores it exactly."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from fuzzing import FUZZ, Campaign, no_hang
from hypothesis import given
from hypothesis import strategies as st
from support.state import state_equal

from emu import Machine

HELLO = Path(__file__).resolve().parents[2] / "build" / "firmware" / "rv32" / "hello.elf"
DEVICES = ["test-finisher", "clint", "plic", "uart0", "npu"]


@cache
def _machine() -> tuple[Machine, object]:
    if not HELLO.exists():
        pytest.fail(f"{HELLO} is missing: run `make firmware` first", pytrace=False)
    m = Machine.from_elf(HELLO, deterministic=True)
    return m, m.snapshot()


def _accesses(size: int, declared: list[int]) -> st.SearchStrategy:
    offsets = st.one_of(st.sampled_from(declared or [0]), st.integers(0, size - 1),
                        st.sampled_from([0, size - 1, size - 4, size - 8]).filter(lambda o: o >= 0))
    return st.tuples(st.booleans(), offsets, st.sampled_from([1, 2, 4, 8]), st.integers(0, (1 << 64) - 1))


@pytest.mark.parametrize("name", DEVICES)
def test_fuzz_device_registers_never_raise_and_state_round_trips(name, campaign: Campaign):
    m, boot = _machine()
    device = next(d for d in m.devices if d.name == name)
    declared = [r.offset for r in device.registers.registers] if device.registers else []

    @FUZZ
    @given(first=st.lists(_accesses(device.size, declared), max_size=24),
           second=st.lists(_accesses(device.size, declared), min_size=1, max_size=24))
    def fuzzer(first, second):
        campaign.tried()
        m.restore(boot)
        errors: list[str] = []
        m.bus.on_error = errors.append

        def apply(accesses):
            for is_write, offset, width, value in accesses:
                with no_hang(5):
                    if is_write:
                        device.write(offset, width, value & ((1 << (8 * width)) - 1))
                    else:
                        assert 0 <= device.read(offset, width) < 1 << 64
                m.clock.run_due()

        apply(first)
        state = device.get_state()
        device.set_state(state)
        assert state_equal(device.get_state(), state)
        snap = m.snapshot()
        apply(second)
        m.restore(snap)
        assert state_equal(device.get_state(), state)
        assert errors == []

    campaign.run(fuzzer)
