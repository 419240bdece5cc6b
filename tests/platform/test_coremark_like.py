"""firmware/apps/coremark_like (npuemu's own CoreMark-like kernel mix, not EEMBC CoreMark): the
same CRC on npuemu (both time modes), on QEMU 7.2 and in a host build of the same C file, and the
bench's iteration patch (bench/bench_hart.py) really changes the work done."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from support.paths import ROOT
from support.qemu import run_qemu

from emu import Machine

sys.path.insert(0, str(ROOT))  # the bench package lives at the repository root, not in the wheel
from bench.bench_hart import with_iterations  # noqa: E402

SOURCE = ROOT / "firmware" / "apps" / "coremark_like" / "main.c"


def _crc(text: str) -> str:
    found = re.search(r"coremark_like: crc (0x[0-9a-f]{4})", text)
    assert found, text
    return found.group(1)


def _npuemu(elf, **options) -> tuple[str, Machine]:
    out: list[bytes] = []
    machine = Machine.from_elf(elf, stdout=out.append, **options)
    stop = machine.run(timeout=120)
    assert stop.exit_code == 0, stop.message
    return b"".join(out).decode(), machine


@pytest.fixture(scope="module")
def host_crc(tmp_path_factory) -> str:
    exe = tmp_path_factory.mktemp("host") / "coremark_like"
    subprocess.run(["gcc", "-O2", "-DHOST_BUILD", "-o", str(exe), str(SOURCE)], check=True, capture_output=True)
    return _crc(subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout)


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_crc_matches_the_host_build_in_both_time_modes(firmware, arch, host_crc):
    elf = firmware("coremark_like", arch)
    realtime, _ = _npuemu(elf)
    deterministic, _ = _npuemu(elf, deterministic=True)
    assert _crc(realtime) == _crc(deterministic) == host_crc
    assert f"rv{arch[2:]}, 200 iterations" in realtime


@pytest.mark.qemu
@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_qemu_prints_the_same(firmware, arch, host_crc):
    result = run_qemu(firmware("coremark_like", arch), arch, timeout=60)
    assert result.exit_code == 0
    assert _crc(result.text) == host_crc


def test_the_bench_iteration_patch_scales_the_work(firmware, tmp_path, host_crc):
    elf = firmware("coremark_like", "rv32")
    counts = {}
    for n in (3, 6):
        text, machine = _npuemu(with_iterations(elf, n, tmp_path), count_insns=True)
        assert f"{n} iterations" in text and _crc(text) == host_crc
        counts[n] = machine.counter.count
    text, base = _npuemu(with_iterations(elf, 0, tmp_path), count_insns=True)
    per_iteration = (counts[6] - counts[3]) / 3
    assert per_iteration > 10_000
    assert abs((counts[3] - base.counter.count) - 3 * per_iteration) < 0.01 * per_iteration
