"""Snapshot benchmarks: costs that must follow what changed, not the size of RAM (issue 11 item 5,
issue 17 D2/O1).  Each row states CPU time next to wall time; ratios are against the old
whole-RAM copy measured in the same run, or against the same command with default RAM.

Register: add "bench.bench_snapshots" to SUITES in bench/__main__.py.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from emu import Machine

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "build" / "firmware" / "rv32" / "hello.elf"
GIB = 1 << 30
MIB = 1 << 20


def _timed(fn) -> tuple[float, float]:
    """(wall, cpu) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _row(name: str, value: float, unit: str, ratio: float, target: str) -> dict:
    return {"benchmark": name, "value": value, "unit": unit, "ratio": ratio, "target": target}


def snapshot_restore() -> list[dict]:
    m = Machine.from_elf(HELLO, ram_size=GIB)
    m.snapshot()  # the first image: what the ELF wrote
    touched = m.ram.view(0x8000_0000 + GIB // 2, MIB)

    def cycle() -> None:
        touched[:] = 0x5A
        snap = m.snapshot()
        touched[:] = 0xA5
        m.restore(snap)

    wall, cpu = min(_timed(cycle) for _ in range(5))
    # Baseline: what snapshots cost before (copy all of RAM, copy it back), same machine, same run.
    def full_copy() -> None:
        saved = m.ram.buf.copy()
        np.copyto(m.ram.buf, saved)

    base_wall, base_cpu = _timed(full_copy)
    return [
        _row("snapshot+restore, 1 MiB touched of 1 GiB RAM (wall)", wall, "s", wall / base_wall, "<= 0.2 s"),
        _row("snapshot+restore, 1 MiB touched of 1 GiB RAM (CPU)", cpu, "s", cpu / base_cpu,
             "ratio vs copying all RAM"),
    ]


def _debug_attach(ram: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run([sys.executable, "-m", "emu.cli", "debug", "--ram", ram, "-ex", "quit", str(HELLO)],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120, check=False)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def debug_attach() -> list[dict]:
    big = min((_debug_attach("1G") for _ in range(3)), key=lambda t: t[1])
    small = min((_debug_attach("128M") for _ in range(3)), key=lambda t: t[1])
    return [
        _row("npuemu debug --ram 1G attach (wall)", big[0], "s", big[0] / small[0], "<= 1.5 s; ratio vs 128M"),
        _row("npuemu debug --ram 1G attach (CPU)", big[1], "s", big[1] / small[1], "ratio vs --ram 128M"),
    ]


def named_snapshots() -> list[dict]:
    m = Machine.from_elf(HELLO, ram_size=GIB)
    snaps = []
    for i in range(20):
        m.ram.view(0x8000_0000 + i * MIB, 64 << 10)[:] = i + 1  # each step changes 64 KiB
        snaps.append(m.snapshot())
    held = m.ram.live_image_bytes()
    return [_row("20 named snapshots, --ram 1G: bytes held", held / MIB, "MiB", held / (20 * GIB),
                 "ratio vs 20 full copies")]


def guest_reset() -> list[dict]:
    m = Machine.from_elf(HELLO, ram_size=GIB)
    m.ram.view(0x8000_0000 + GIB // 2, MIB)[:] = 1
    wall, cpu = _timed(m.reset)
    base_wall, _ = _timed(lambda: m.ram.buf.fill(0))
    return [_row("guest reset, --ram 1G (wall)", wall, "s", wall / base_wall, "ratio vs zero-filling RAM")]


BIG_ELF_SOURCE = """
.globl _start
.section .text
_start:
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
.section .data
.fill 64*1024*1024/8, 8, 0x0123456789abcdef
"""


def large_elf() -> list[dict]:
    """Loading a 64 MiB ELF (data segment), against reading the same file's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        src, elf = Path(tmp) / "big.S", Path(tmp) / "big.elf"
        src.write_text(BIG_ELF_SOURCE)
        subprocess.run(["riscv64-unknown-elf-gcc", "-march=rv32imac", "-mabi=ilp32", "-nostdlib",
                        "-Wl,-Ttext=0x80001000", "-Wl,--section-start=.data=0x80100000",
                        "-Wl,-z,max-page-size=4096", "-Wl,--no-warn-rwx-segments", "-o", str(elf), str(src)],
                       check=True, capture_output=True)
        wall, cpu = min((_timed(lambda: Machine.from_elf(elf, ram_size=256 * MIB)) for _ in range(3)),
                        key=lambda t: t[1])
        base_wall, _ = min(_timed(elf.read_bytes) for _ in range(3))
    return [_row("load a 64 MiB ELF (wall)", wall, "s", wall / base_wall, "<= 1 s; ratio vs reading the file"),
            _row("load a 64 MiB ELF (CPU)", cpu, "s", 0.0, "")]


def run() -> list[dict]:
    return snapshot_restore() + debug_attach() + named_snapshots() + guest_reset() + large_elf()


if __name__ == "__main__":
    for r in run():
        print(f"{r['benchmark']:<58} {r['value']:>10.4g} {r['unit']:<4} {r['ratio']:>8.4f}  {r['target']}")
