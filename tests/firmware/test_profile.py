"""Profiles (instructions per function, virtual time, NPU energy) and baselines that fail on regression."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import emu.dut  # noqa: F401 - loaded once here: in-process inner runs unload what they import (numpy cannot reload)
from emu.profile import BaselineError

pytest_plugins = ["pytester"]

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "build" / "firmware"


def test_function_counts_match_a_per_instruction_count(npuemu_boot, arch):
    from unicorn import UC_HOOK_CODE

    machine = npuemu_boot(f"{arch}/hello.elf")
    factorial = machine.elf.lookup("factorial")
    ran = [0]
    machine.uc.hook_add(UC_HOOK_CODE, lambda *_: ran.__setitem__(0, ran[0] + 1), begin=factorial.addr,
                        end=factorial.addr + factorial.size - 1)
    start = machine.insn_count
    with machine.profile() as profiler:
        machine.run_until(exit=0)
    profile = profiler.result()
    assert profile.functions["factorial"] == ran[0] > 0
    # The exit's block counts whole (blocks are counted when they start): the instructions after
    # the finisher store in it are the only difference from the exact count.
    executed = machine.insn_count - start
    assert 0 <= profile.instructions - executed <= 3
    assert profile.virtual_ns == executed * 10                   # deterministic time: 10 ns per instruction
    assert profile.top(1)[0][1] == max(profile.functions.values())
    assert "factorial" in profile.format(20)


def test_npu_work_and_energy_are_in_the_profile(npuemu_boot):
    machine = npuemu_boot("rv32/npu_drvtest.elf")
    profiler = machine.profile()
    machine.run_until(exit=0)
    profile = profiler.stop()
    totals = machine.npu_counters()
    assert profile.npu["commands"] == 180 and profile.npu["energy_pj"] > 0
    assert profile.npu["macs"] == totals["macs"] + machine.npu.lifetime["macs"]
    assert profile.functions["npu_run"] > 0


def test_assert_within_fails_on_regression_and_rewrites_on_request(npuemu_boot, tmp_path):
    machine = npuemu_boot("rv32/hello.elf")
    with machine.profile() as profiler:
        machine.run_until(exit=0)
    profile = profiler.result()
    baseline = tmp_path / "perf" / "hello.json"
    with pytest.raises(BaselineError, match="no baseline"):
        profile.assert_within(baseline)
    profile.assert_within(baseline, update=True)
    profile.assert_within(baseline, tolerance=0.0)               # the same run is within 0 %
    saved = json.loads(baseline.read_text())
    saved["fn.factorial"] = int(saved["fn.factorial"] / 1.2)      # the code "got 20 % slower"
    saved["insns"] = saved["insns"] * 2                           # and faster elsewhere: fine
    baseline.write_text(json.dumps(saved))
    with pytest.raises(BaselineError, match=r"1 metric\(s\) regressed beyond 5.0%.*\n  fn.factorial: .* \(\+2"):
        profile.assert_within(baseline, tolerance=0.05)
    profile.assert_within(baseline, tolerance=0.25)


def test_plugin_option_rewrites_baselines(pytester: pytest.Pytester):
    pytester.makepyfile(test_perf='''
        def test_hello_cost(npuemu_boot):
            machine = npuemu_boot("rv32/hello.elf")
            profiler = machine.profile()
            machine.run_until(exit=0)
            profiler.stop().assert_within("hello.json", tolerance=0.01)
    ''')
    args = [f"--npuemu-firmware-dir={FIRMWARE_DIR}", "-p", "no:cacheprovider"]
    pytester.runpytest_inprocess(*args).assert_outcomes(failed=1)            # no baseline yet
    pytester.runpytest_inprocess(*args, "--npuemu-update-baselines").assert_outcomes(passed=1)
    assert json.loads((pytester.path / "hello.json").read_text())["fn.main"] > 0
    pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)
