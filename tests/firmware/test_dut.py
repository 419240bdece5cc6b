"""The `dut` fixture as a firmware repository uses it: the same inner test file on npuemu and on QEMU.

Inner sessions run with pytester; the outer tests check the outcomes, the Unity cases turned
into pytest results, the JUnit XML (full console per test) and the shard option.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

import emu.dut  # noqa: F401 - loaded once here: in-process inner runs unload what they import (numpy cannot reload)

pytest_plugins = ["pytester"]

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "build" / "firmware"

INNER_TESTS = r'''
import re

import pytest


@pytest.mark.npuemu_firmware("rv32/unity_demo.elf")
def test_unity_suite(dut):
    run = dut.expect_unity_test_output()
    assert (run.tests, run.failures, run.ignored) == (5, 1, 1)
    assert dut.expect_exit() == 1          # the firmware returns its failure count


@pytest.mark.npuemu_firmware("rv64/hello.elf")
def test_expect_forms(dut):
    match = dut.expect([r"no such line", re.compile(r"add\((\d+), 8\)")])   # a list: whichever comes first
    assert match.group(1) == "42" and match.re.pattern == r"add\((\d+), 8\)"
    assert dut.expect_exact("factorial(5) = 120").group(0) == "factorial(5) = 120"   # literal, no escaping
    with dut.expect_no(r"error|panic"):
        line = dut.expect_line(r"global_var = \d+, counter = \d+")
    assert line.group(0) == "global_var = 170, counter = 5"
    assert dut.expect_exit(0) == 0


@pytest.mark.npuemu_firmware("rv32/hello.elf")
def test_line_anchoring(dut):
    # "bye" is a whole line; "ello" is only part of one, so the line match skips it.
    assert dut.expect_line(r"bye|ello").group(0) == "bye"


@pytest.mark.npuemu_firmware("rv32/hello.elf")
def test_forbidden_output_fails(dut):
    with dut.expect_no(r"factorial"):
        dut.expect("bye")


@pytest.mark.npuemu_firmware("rv64/uart_irq.elf")
def test_write_and_echo(dut):
    dut.expect_exact("'q' to quit")
    dut.write("ping\n")
    dut.expect_line("ping")
    dut.write("q")
    assert dut.expect_exit() == 0


@pytest.mark.npuemu_firmware("rv64/uart_irq.elf", timeout=0.5)
def test_timeout_fails(dut):
    dut.expect("never printed")
'''


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, ElementTree.Element]]:
    pytester.makepyfile(test_inner=INNER_TESTS)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess(f"--npuemu-firmware-dir={FIRMWARE_DIR}", f"--junitxml={junit}",
                                          "-p", "no:cacheprovider", *args)
    cases = {case.get("name"): case for case in ElementTree.parse(junit).iter("testcase")}
    return result, cases


@pytest.mark.parametrize(("backend", "workers"), [("npuemu", []), ("npuemu", ["-n", "2"]),
                                                  pytest.param("qemu", [], marks=pytest.mark.qemu)],
                         ids=["npuemu", "npuemu-xdist", "qemu"])
def test_same_test_file_on_both_backends(pytester: pytest.Pytester, backend: str, workers: list[str]):
    result, cases = _run(pytester, f"--npuemu-backend={backend}", *workers)
    # 5 Unity cases -> 3 passed, 1 failed, 1 skipped; 4 more tests of which 2 fail on purpose.
    result.assert_outcomes(passed=3 + 3, failed=1 + 2, skipped=1)
    output = result.stdout.str()
    assert "test_unity_suite::test_deliberately_failing" in output
    assert "unity_demo/main.c:40: test_deliberately_failing: Expected 5 Was 4" in output
    assert "forbidden output 'factorial' appeared: 'add(42, 8) = 50, factorial(5) = 120'" in output
    unit = "virtual" if backend == "npuemu" else "host"
    assert f"console output matching 'never printed': not reached within 0.5 s of {unit} time" in output

    failing = cases["test_deliberately_failing"].find("failure")
    assert failing is not None and "Expected 5 Was 4" in failing.get("message", "")
    assert cases["test_ignored_until_later"].find("skipped") is not None
    assert cases["test_snprintf_truncates"].find("failure") is None
    # The whole console, not a tail, in the JUnit test case of the test that ran the firmware.
    log = cases["test_unity_suite"].findtext("system-out") or ""
    assert "main.c:51:test_snprintf_formats_decimal:PASS" in log and "5 Tests 1 Failures 1 Ignored" in log
    assert "ping" in (cases["test_write_and_echo"].findtext("system-out") or "")


def test_shards_split_the_tests_without_overlap(pytester: pytest.Pytester):
    pytester.makepyfile(test_many="\n".join(f"def test_{i}(): pass" for i in range(7)))
    seen = []
    for shard in ("1/3", "2/3", "3/3"):
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v", f"--npuemu-shard={shard}")
        seen.append(sorted(line.split("::")[1].split()[0] for line in result.outlines if " PASSED" in line))
    assert seen == [["test_0", "test_3", "test_6"], ["test_1", "test_4"], ["test_2", "test_5"]]
    bad = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--npuemu-shard=4/3")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
