"""Integration tests of the thermostat firmware, run on npuemu through its pytest plugin."""

from __future__ import annotations


def command(machine, line: str, reply: str) -> str:
    """Type one command and wait for its reply; the text of the reply line."""
    machine.uart.send(line + "\n")
    return machine.uart.expect(reply + r".*\n").group(0).strip()


def test_boots_with_the_default_target(npuemu_boot):
    machine = npuemu_boot("rv32/thermostat.elf")
    machine.run_until(symbol="main")
    assert machine.read_symbol("target", signed=True) == 20
    machine.uart.expect(r"thermostat ready, target 20")


def test_heater_follows_the_temperature(thermostat):
    assert command(thermostat, "temp 18", "heater") == "heater on"
    assert thermostat.read_symbol("heater_on") == 1
    assert command(thermostat, "temp 25", "heater") == "heater off"
    assert thermostat.read_symbol("heater_on") == 0


def test_new_target(thermostat):
    assert command(thermostat, "set 26", "target") == "target 26"
    assert thermostat.read_symbol("target", signed=True) == 26
    assert command(thermostat, "temp 25", "heater") == "heater on"


def test_bad_commands_are_counted_and_set_the_exit_status(thermostat):
    assert command(thermostat, "set 99", "error") == "error: bad command 'set 99'"
    assert command(thermostat, "fly", "error") == "error: bad command 'fly'"
    assert thermostat.read_symbol("rejected") == 2
    assert thermostat.read_symbol("target", signed=True) == 20
    thermostat.uart.send("quit\n")
    thermostat.run_until(exit=2)
    assert thermostat.uart.text.endswith("bye, 2 rejected\n")


def test_quit_exits_zero(thermostat):
    thermostat.uart.send("quit\n")
    thermostat.run_until(exit=0)
