"""--stats energy and cycles depend only on the guest: 5 realtime runs under load equal --deterministic.

The five realtime runs of each demo go concurrently (the machine has 2 cores: the runs load each
other and run at different host speeds); every ``npu:`` line but the last (utilization over
elapsed, host-paced virtual time) must be byte-identical across them and equal to the
deterministic run's.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

RUNS = 5


def npu_stats(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.startswith("npuemu: npu:")]
    assert lines and "elapsed cycles" in lines[-1], stderr[-2000:]
    return lines[:-1]


def start(elf: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "emu.cli", "run", "--stats", "--timeout", "120", *extra,
                             str(ROOT / "build" / "firmware" / elf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("elf", ["rv32/npu_demo.elf", "rv64/npu_cnn.elf"])
def test_stats_identical_across_realtime_runs_and_deterministic(elf: str) -> None:
    procs = [start(elf) for _ in range(RUNS)] + [start(elf, "--deterministic")]
    outputs = []
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(npu_stats(err))
    assert all(out == outputs[-1] for out in outputs), outputs
    energy = next(line for line in outputs[-1] if "energy" in line)
    assert "MVM" in energy and "leakage" in energy


def test_firmware_that_never_uses_the_npu_is_charged_nothing() -> None:
    proc = start("rv32/hello.elf")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "npuemu: npu: energy 0.000 uJ = dynamic 0.000 uJ (none) + leakage 0.000 uJ" in err
