"""Snapshots: boot once, restore per test (npuemu_warm_boot), and snapshot/restore inside a test."""

from __future__ import annotations

import pytest


def to_main(machine) -> None:
    """Warm-boot set-up shared by the tests below: crt0 and sdk_init done, main not started."""
    machine.run_until(symbol="main")


@pytest.fixture
def hello(npuemu_warm_boot, arch):
    return npuemu_warm_boot(f"{arch}/hello.elf", setup=to_main)


@pytest.mark.parametrize("value", [7, 1000])
def test_each_test_starts_from_the_pristine_snapshot(hello, value):
    """Whatever the previous test on this worker did to the machine is gone."""
    assert hello.pc == hello.symbol_address("main")
    assert hello.read_symbol("global_var") == 42
    assert hello.uart.output == b"" and not hello.exited
    hello.write_symbol("global_var", value)
    hello.run_until(exit=0)
    assert f"global_var = {value + 8 + 120}," in hello.uart.text


def test_restore_replays_identically(npuemu_boot, arch):
    """Deterministic mode: the same state and input give the same output and the same clock."""
    machine = npuemu_boot(f"{arch}/uart_irq.elf")
    machine.uart.expect("'q' to quit")
    snap = machine.snapshot()
    runs = []
    for text in ("abc", "abc", "xy"):
        machine.restore(snap)
        machine.uart.send(text + "q")
        machine.run_until(exit=0)
        runs.append((machine.uart.output, machine.clock.now_ns(), machine.insn_count))
    assert runs[0] == runs[1]
    assert runs[2][0] != runs[0][0] and b"xy" in runs[2][0]
    machine.restore(snap)
    assert machine.uart.output.endswith(b"'q' to quit") and not machine.exited  # stopped at the match


def test_restore_after_a_trap_storm(npuemu_boot):
    """A fatal stop does not stick to the machine once an earlier state is restored."""
    from emu.testing import FirmwareError

    machine = npuemu_boot("rv32/runaway.elf")
    machine.run_until(symbol="main")
    snap = machine.snapshot()
    for _ in range(2):
        with pytest.raises(FirmwareError, match="trap storm"):
            machine.run_until(exit=0)
        machine.restore(snap)
        assert machine.pc == machine.symbol_address("main")
