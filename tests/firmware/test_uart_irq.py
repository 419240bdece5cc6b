"""uart_irq: interrupt-driven echo of what the test types; 'q' ends it with status 0."""

from __future__ import annotations


def test_echoes_input_and_quits_on_q(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/uart_irq.elf")
    machine.uart.expect("'q' to quit")
    machine.uart.send(b"hello")
    machine.uart.expect("hello")
    machine.uart.send("npu")
    machine.uart.expect("npu")
    machine.uart.send("q")
    machine.run_until(exit=0)
    match = machine.uart.expect(r"received (\d+) characters \(including 'q'\), echoed (\d+)")
    assert match.groups() == ("9", "8")


def test_waiting_for_input_that_never_comes_is_reported(npuemu_boot):
    from emu.testing import FirmwareError

    machine = npuemu_boot("rv64/uart_irq.elf")
    machine.uart.expect("'q' to quit")
    try:
        machine.uart.expect("never printed")
    except FirmwareError as error:
        assert "sleeping in wfi" in error.reason
        assert "<main+" in error.report and "| uart_irq: type characters" in error.report
    else:
        raise AssertionError("expect() matched text the firmware never printed")
