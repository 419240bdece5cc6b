"""timer: periodic timer interrupts in virtual time, then a one-second wfi sleep."""

from __future__ import annotations

PERIOD_NS = 10_000_000  # the app's 10 ms period


def test_ticks_arrive_on_time_in_virtual_time(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/timer.elf")
    machine.uart.expect(r"timer: 5 interrupts every 100000 ticks")
    for tick in range(1, 6):
        machine.uart.expect(rf"tick {tick}: on time")
        assert machine.read_symbol("ticks") == tick
        assert machine.clock.now_ns() >= tick * PERIOD_NS
    machine.uart.expect("slept 1 s: ok")
    machine.run_until(exit=0)
    assert machine.clock.now_ns() >= 1_050_000_000       # 5 x 10 ms + 1 s, all skipped in wfi
    assert machine.insn_count < 100_000


def test_a_timeout_in_virtual_time_bounds_a_sleeping_firmware(npuemu_boot):
    """0.5 virtual seconds are not enough for the app's one-second sleep: a clean, fast failure."""
    from emu.testing import FirmwareError

    machine = npuemu_boot("rv32/timer.elf")
    machine.uart.expect("tick 5")
    try:
        machine.run_until(exit=0, timeout=0.5)
    except FirmwareError as error:
        assert "not reached within 0.5 s of virtual time" in error.reason
    else:
        raise AssertionError("the timeout did not fire")
    machine.run_until(exit=0)  # and the run can go on from there
