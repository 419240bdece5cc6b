"""Firmware coverage: lcov tracefiles from executed blocks and the DWARF line table.

The oracle is independent of the block counting: a per-instruction code hook over one function
records every PC that runs, and the tracefile's covered lines of that function must be exactly
the lines of those PCs (its never-run branches at count 0).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import emu.dut  # noqa: F401 - loaded once here: in-process inner runs unload what they import (numpy cannot reload)
from emu.coverage import CoverageCollector, parse_tracefile
from emu.testing import FirmwareMachine

pytest_plugins = ["pytester"]

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "build" / "firmware"


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_covered_lines_of_a_function_are_exactly_the_executed_ones(arch):
    from unicorn import UC_HOOK_CODE

    machine = FirmwareMachine(FIRMWARE_DIR / arch / "unity_demo.elf")
    try:
        collector = CoverageCollector(machine.machine)
        function = machine.elf.lookup("UnityAssertEqualNumber")
        start, end = function.addr, function.addr + function.size
        ran: list[int] = []
        machine.uc.hook_add(UC_HOOK_CODE, lambda _uc, pc, _size, _user: ran.append(pc), begin=start, end=end - 1)
        machine.uc.ctl_remove_cache(start, end)
        machine.run_until(exit=1)
        files = parse_tracefile(collector.tracefile("unity"))
    finally:
        machine.close()
    source = next(path for path in files if path.endswith("unity_demo/unity.c"))
    assert Path(source).is_absolute() and Path(source).is_file()
    table = machine.elf._lines
    function_lines = {line for addr, (_, line) in zip(table.addrs, table.rows, strict=True) if start <= addr < end}
    executed_lines = {machine.elf.line_for(pc)[1] for pc in ran}
    covered = {line for line in function_lines if files[source].lines[line] > 0}
    assert covered == executed_lines
    assert function_lines - covered, "the demo never takes the hex or message branch: some lines stay at 0"
    entries = ran.count(start)
    assert entries == 4 and files[source].functions["UnityAssertEqualNumber"][1] == entries


INNER = '''
import pytest

@pytest.mark.npuemu_firmware("rv32/unity_demo.elf")
def test_suite(dut):
    dut.expect_unity_test_output()

def test_hello(npuemu_boot):
    npuemu_boot("rv32/hello.elf").run_until(exit=0)
'''


@pytest.mark.skipif(shutil.which("genhtml") is None, reason="genhtml (Debian lcov) is not installed")
def test_plugin_writes_per_test_and_merged_tracefiles_that_genhtml_renders(pytester: pytest.Pytester,
                                                                            tmp_path: Path):
    pytester.makepyfile(test_inner=INNER)
    out = tmp_path / "coverage"
    result = pytester.runpytest_inprocess(f"--npuemu-firmware-dir={FIRMWARE_DIR}", f"--npuemu-coverage={out}",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1, skipped=1)  # unity_demo's cases; hello
    names = sorted(p.name for p in out.glob("*.info"))
    assert names == ["merged.info", "test_inner.py_test_hello.info", "test_inner.py_test_suite.info"]
    merged = parse_tracefile((out / "merged.info").read_text())
    hello = parse_tracefile((out / "test_inner.py_test_hello.info").read_text())
    crt0 = next(path for path in merged if path.endswith("firmware/crt0.S"))
    entry_line = min(hello[crt0].lines)
    assert merged[crt0].lines[entry_line] == 2 and hello[crt0].lines[entry_line] == 1  # both tests booted
    render = subprocess.run(["genhtml", "-q", "-o", str(tmp_path / "html"), str(out / "merged.info")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert render.returncode == 0, render.stderr
    assert (tmp_path / "html" / "index.html").is_file()
    assert list((tmp_path / "html").rglob("unity.c.gcov.html"))
