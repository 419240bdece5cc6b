"""Deterministic mode: the same ELF and input give the same bytes and the same final mtime."""

from __future__ import annotations

import pytest

from emu import Machine, StopReason


def _run(elf, stdin_bytes: bytes = b""):
    m = Machine.from_elf(elf, deterministic=True)
    m.feed_input(stdin_bytes)
    stop = m.run(max_insns=50_000_000)
    return stop, bytes(m.uart.output), m.clock.mtime(), m.insn_count


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
@pytest.mark.parametrize(("app", "stdin"), [("timer", b""), ("uart_irq", b"some input\nq")])
def test_two_runs_are_identical(firmware, arch, app, stdin):
    first = _run(firmware(app, arch), stdin)
    second = _run(firmware(app, arch), stdin)
    assert first[0].reason is StopReason.EXITED and first[0].exit_code == 0
    assert first[1] == second[1] and first[1]
    assert first[2] == second[2] and first[3] == second[3]


def test_wfi_sleep_skips_virtual_time(firmware):
    m = Machine.from_elf(firmware("sleep", "rv32"), deterministic=True)
    stop = m.run(max_insns=10_000_000)
    assert stop.reason is StopReason.EXITED and stop.exit_code == 0
    assert m.clock.mtime() >= 10_000_000  # one virtual second of a 10 MHz timebase
    assert m.insn_count < 1_000_000       # ...in far fewer instructions than a busy wait
