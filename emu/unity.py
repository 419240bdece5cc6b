"""Parse the console output of the Unity C test framework (ThrowTheSwitch) into test cases.

Unity prints one line per test case and a summary; :func:`parse_unity` reads exactly that
format, so a firmware test suite written with Unity becomes one pytest result per case
(``dut.expect_unity_test_output()``)::

    src/test_x.c:51:test_adds:PASS
    src/test_x.c:40:test_overflows:FAIL: Expected 5 Was 4
    src/test_x.c:45:test_later:IGNORE: not on this platform

    -----------------------
    3 Tests 1 Failures 1 Ignored
    FAIL
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The summary is the end of a Unity run: the expect() goal.
SUMMARY = re.compile(r"^-+\r?\n(\d+) Tests (\d+) Failures (\d+) Ignored[ \t]*\r?\n(OK|FAIL)\r?\n", re.MULTILINE)
CASE = re.compile(r"^(?P<file>[^\n:]+):(?P<line>\d+):(?P<name>[^\n:]+):(?P<result>PASS|FAIL|IGNORE)"
                  r"(?::[ \t]?(?P<message>[^\r\n]*))?\r?$", re.MULTILINE)
OUTCOMES = {"PASS": "passed", "FAIL": "failed", "IGNORE": "skipped"}


@dataclass(frozen=True)
class UnityCase:
    """One Unity test case: ``outcome`` is pytest's word (passed, failed, skipped)."""

    name: str
    file: str
    line: int
    outcome: str
    message: str


@dataclass(frozen=True)
class UnityRun:
    """All the cases of one Unity run and its own summary counts."""

    cases: tuple[UnityCase, ...]
    tests: int
    failures: int
    ignored: int

    @property
    def ok(self) -> bool:
        return self.failures == 0


class UnityFormatError(AssertionError):
    """The output has a Unity summary that does not agree with its case lines."""


def parse_unity(text: str, summary: re.Match[str]) -> UnityRun:
    """The cases printed in ``text`` before ``summary`` (a :data:`SUMMARY` match in ``text``)."""
    cases = tuple(UnityCase(m["name"], m["file"], int(m["line"]), OUTCOMES[m["result"]], m["message"] or "")
                  for m in CASE.finditer(text, 0, summary.start()))
    run = UnityRun(cases, int(summary[1]), int(summary[2]), int(summary[3]))
    failed = sum(case.outcome == "failed" for case in cases)
    ignored = sum(case.outcome == "skipped" for case in cases)
    if (len(cases), failed, ignored) != (run.tests, run.failures, run.ignored):
        raise UnityFormatError(f"Unity summary says {run.tests} tests, {run.failures} failures, {run.ignored} "
                               f"ignored, but the console shows {len(cases)} case lines ({failed} FAIL, "
                               f"{ignored} IGNORE): a case printed something on its result line?")
    return run
