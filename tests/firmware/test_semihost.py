"""semihost: picolibc over semihosting; argv from the boot, exit status through SYS_EXIT."""

from __future__ import annotations


def test_argv_and_exit_status(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/semihost.elf", args=["alpha", "exit=7"])
    machine.uart.expect(rf"hello from picolibc \(rv{arch[2:]}\)")
    machine.run_until(exit=7)
    assert machine.exit_code == 7
    text = machine.uart.text
    assert '= "alpha"' in text and '= "exit=7"' in text
    assert "semihost: exiting with 7" in text


def test_default_exit_status(npuemu_boot):
    machine = npuemu_boot("rv32/semihost.elf")
    machine.run_until(exit=3)
    assert b"this line goes to stderr" in machine.uart.output + machine.uart.stderr


def test_a_trap_loop_is_reported_as_a_trap_storm(npuemu_boot):
    """picolibc's stack is linked at the top of 128 MiB: in 64 MiB every push in its trap handler
    faults again; the machine reports the storm instead of spinning."""
    from emu.testing import FirmwareError

    machine = npuemu_boot("rv64/semihost.elf", ram="64M")
    try:
        machine.run_until(exit=3)
    except FirmwareError as error:
        assert "trap storm: the same fault repeats at" in error.report and "<_trap+" in error.report
        assert "store/AMO access fault" in error.report and "tval=0x87ff" in error.report
    else:
        raise AssertionError("the firmware ran in 64 MiB")
    assert machine.machine.ram.size == 64 << 20
