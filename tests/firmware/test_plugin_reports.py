"""What a firmware engineer sees when a firmware test fails: run inner test sessions with pytester.

The inner tests are exactly what a firmware repository would write; the outer test asserts on
the terminal output and the JUnit XML of one inner run (a run costs about a second).
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

pytest_plugins = ["pytester"]

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "build" / "firmware"

INNER_TESTS = '''
import pytest

def test_expect_misses(npuemu_boot):
    machine = npuemu_boot("rv64/uart_irq.elf")
    machine.uart.expect(r"Goodbye")

def test_exits_first(npuemu_boot):
    npuemu_boot("rv32/hello.elf").run_until(uart="Goodbye")

def test_budget_runs_out(npuemu_boot):
    machine = npuemu_boot("rv32/compute.elf")
    machine.run_until(exit=0)                 # budget from --npuemu-max-insns: still in crt0

def test_trap_storm(npuemu_boot):
    npuemu_boot("rv32/runaway.elf").run_until(exit=0)

def test_plain_assert_on_firmware_state(npuemu_boot):
    machine = npuemu_boot("rv32/hello.elf")
    machine.run_until(exit=0)
    assert machine.read_symbol("counter") == 6

def test_passes(npuemu_boot):
    npuemu_boot("rv64/hello.elf").run_until(exit=0)
'''


def _block(output: str, test: str) -> str:
    """The failure block of one inner test in the terminal output."""
    start = output.index(f"_ {test} _")
    end = output.find("\n____", start + 1)
    return output[start : end if end != -1 else None]


def test_failing_firmware_tests_report_what_to_fix(pytester: pytest.Pytester):
    pytester.makepyfile(test_inner=INNER_TESTS)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess(f"--npuemu-firmware-dir={FIRMWARE_DIR}", "--npuemu-max-insns=20000",
                                          f"--junitxml={junit}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=5)
    output = result.stdout.str()

    # expect() that never matches: the firmware idles in wfi; reason, PC as symbol+offset and
    # file:line, console tail, registers; the traceback points at the test's line.
    block = _block(output, "test_expect_misses")
    assert ("FirmwareError: console output matching 'Goodbye': not reached within 10 s of virtual time "
            "(timeout) (sleeping in wfi: nothing left to wake it)") in block
    assert re.search(r"pc:         0x[0-9a-f]+ <main\+\d+>", block)
    assert "| uart_irq: type characters, 'q' to quit" in block
    assert "mstatus=" in block and " sp=" in block
    assert 'machine.uart.expect(r"Goodbye")' in block

    block = _block(output, "test_exits_first")
    assert "console output matching 'Goodbye': the firmware exited with status 0 first" in block
    assert "state:      exited with status 0" in block and "| bye" in block

    block = _block(output, "test_budget_runs_out")
    assert "exit with status 0: not reached within 20,000 instructions (max_insns)" in block
    assert re.search(r"pc:         0x[0-9a-f]+ <_start\+\d+> at firmware/crt0.S:\d+", block)  # symbol, file:line
    assert "console:    (no output)" in block

    block = _block(output, "test_trap_storm")
    assert "trap storm: the trap handler at 0x10000 itself faults" in block
    assert "last trap:  exception 1 (instruction access fault)" in block

    # A plain assert on firmware state gets the plugin's console section.
    block = _block(output, "test_plain_assert_on_firmware_state")
    assert "assert 5 == 6" in block
    assert "npuemu console: hello.elf" in block
    assert "exited with status 0" in block and "global_var = 170, counter = 5" in block

    # JUnit XML, as CI systems read it, carries the report in the failure element.
    cases = {case.get("name"): case for case in ElementTree.parse(junit).iter("testcase")}
    assert len(cases) == 6
    failure = cases["test_trap_storm"].find("failure")
    assert failure is not None and "trap storm" in failure.get("message", "")
    assert "mcause=0x1" in (failure.text or "")
    assert cases["test_passes"].find("failure") is None
