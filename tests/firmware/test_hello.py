"""hello: console output, exit status, globals read through the symbol table, run_until(symbol=)."""

from __future__ import annotations

import pytest


def test_prints_and_exits_zero(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/hello.elf")
    match = machine.uart.expect(r"Hello from npuemu firmware \(rv(\d+)\)")
    assert match.group(1) == arch[2:]
    machine.uart.expect(r"add\(42, 8\) = 50, factorial\(5\) = 120")
    machine.run_until(exit=0)
    assert machine.exit_code == 0
    assert machine.uart.output.endswith(b"bye\n")
    assert machine.read_symbol("global_var") == 170
    assert machine.read_symbol("counter") == 5


def test_run_until_main_stops_before_any_of_main_runs(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/hello.elf")
    machine.run_until(symbol="main")
    assert machine.pc == machine.symbol_address("main")
    assert "<main>" in machine.where(machine.pc) and "hello/main.c:" in machine.where(machine.pc)
    assert machine.read_symbol("global_var") == 42  # .data initialised by crt0
    assert machine.read_symbol("counter") == 0      # .bss cleared
    assert machine.uart.output == b""


def test_expect_stops_right_after_the_matching_output(npuemu_boot, arch):
    """The state a test inspects after expect() is the state at that line, not some time later."""
    machine = npuemu_boot(f"{arch}/hello.elf")
    machine.uart.expect("Hello from")
    assert machine.read_symbol("counter") == 0
    machine.uart.expect("add")
    assert machine.read_symbol("counter") == 5
    assert not machine.exited


def test_write_symbol_and_signed_reads(npuemu_boot, arch):
    machine = npuemu_boot(f"{arch}/hello.elf")
    machine.run_until(symbol="main")
    machine.write_symbol("global_var", -5)
    assert machine.read_symbol("global_var", signed=True) == -5
    assert machine.read_symbol("global_var") == 2**32 - 5
    machine.run_until(exit=0)
    assert "add(42, 8) = 3," in machine.uart.text           # add(-5, 8): the firmware saw our value
    assert machine.read_symbol("global_var", signed=True) == 3 + 120


def test_unknown_symbol_suggests_names(npuemu_boot):
    machine = npuemu_boot("rv32/hello.elf")
    with pytest.raises(LookupError, match="did you mean.*counter"):
        machine.read_symbol("countr")
