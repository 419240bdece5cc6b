"""Snapshot benchmarks: costs that must follow what changed, not the size of RAM (issue 11 item 5,
issue 17 D2/O1).  Each row states CPU time next to wall time; ratios are against a baseline
measured in the same run: the old whole-RAM copy, the same command with the default RAM, QEMU 7.2
loading the same ELF (net of a tiny one), or a plain run.

Register: add "bench.bench_snapshots" to SUITES in bench/__main__.py.
"""

from __future__ import annotations

import mmap
import os
import pty
import re
import resource
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_hart import qemu_times
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


PROMPT = b"(npuemu)"
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def _first_prompt(ram: str) -> tuple[float, float]:
    """(wall to the first prompt, CPU of the whole process) of ``npuemu debug --ram RAM hello.elf``
    in a pty, as a user at a terminal sees it.  prompt_toolkit asks the terminal where the cursor
    is (ESC [6n); the answer is given as a terminal would."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # a user's default
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: become npuemu
        os.execve(sys.executable, [sys.executable, "-m", "emu.cli", "debug", "--ram", ram, str(HELLO)], env)
    seen, wall = b"", None
    try:
        while wall is None:
            if not select.select([fd], [], [], 60)[0]:
                raise RuntimeError(f"npuemu debug --ram {ram}: no prompt within 60 s")
            chunk = os.read(fd, 4096)
            if b"\x1b[6n" in chunk:
                os.write(fd, b"\x1b[1;1R")
            seen += chunk
            if PROMPT in _ANSI.sub(b"", seen):
                wall = time.perf_counter() - start
        os.write(fd, b"quit\n")
        while select.select([fd], [], [], 10)[0] and os.read(fd, 4096):
            pass
    except OSError:
        pass  # EIO: the child closed the terminal
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if wall is None:
        raise RuntimeError(f"npuemu debug --ram {ram}: exited before its prompt")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def debug_attach() -> list[dict]:
    _first_prompt("128M")  # writes the bytecode cache, as any first run on a user's machine does
    big = min((_first_prompt("1G") for _ in range(3)), key=lambda t: t[1])
    small = min((_first_prompt("128M") for _ in range(3)), key=lambda t: t[1])
    return [
        _row("npuemu debug --ram 1G: start to first prompt (wall)", big[0], "s", big[0] / small[0],
             "<= 1.5 s; ratio vs --ram 128M"),
        _row("npuemu debug --ram 1G: whole process (CPU)", big[1], "s", big[1] / small[1], "ratio vs --ram 128M"),
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


def _big_elf_source(section: str, fill: int) -> str:
    """An rv32 program that exits through the finisher at once, carrying ``fill`` bytes of
    ``section`` (.text: an executable segment the loader scans; .data: plain data)."""
    return (".globl _start\n.section .text\n_start:\n    li t0, 0x100000\n    li t1, 0x5555\n"
            "    sw t1, 0(t0)\n1:  j 1b\n"
            f".section {section}\n.fill {fill // 4}, 4, 0x00000013\n")  # nop words


def _assemble(source: str, elf: Path) -> Path:
    src = elf.with_suffix(".S")
    src.write_text(source)
    subprocess.run(["riscv64-unknown-elf-gcc", "-march=rv32imac", "-mabi=ilp32", "-nostdlib",
                    "-Wl,-Ttext=0x80000000", "-Wl,--section-start=.data=0x80100000",
                    "-Wl,-z,max-page-size=4096", "-Wl,--no-warn-rwx-segments", "-o", str(elf), str(src)],
                   check=True, capture_output=True)
    return elf


def _npuemu_load(elf: Path) -> tuple[float, float]:
    return _timed(lambda: Machine.from_elf(elf))


def _net(measure, big: Path, small: Path) -> tuple[float, float]:
    """(wall, CPU) of loading ``big`` minus loading ``small``, each the fastest of 3 (a difference
    of minima: a difference of single runs goes negative under load)."""
    bigs, smalls = [measure(big) for _ in range(3)], [measure(small) for _ in range(3)]
    return (min(w for w, _ in bigs) - min(w for w, _ in smalls),
            min(c for _, c in bigs) - min(c for _, c in smalls))


def _floor_load(elf: Path) -> tuple[float, float]:
    """What any loader must do: read the file, copy its bytes into fresh zero RAM (numpy)."""
    def load() -> None:
        data = np.frombuffer(elf.read_bytes(), dtype=np.uint8)
        ram = np.frombuffer(mmap.mmap(-1, 128 * MIB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS), dtype=np.uint8)
        ram[: data.size] = data

    return _timed(load)


def large_elf() -> list[dict]:
    """Loading a 64 MiB ELF, code or data, net of a tiny ELF: ratio against the floor (read the file,
    copy it into RAM, numpy), and QEMU 7.2 loading (and exiting from) the same two files."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        small = _assemble(_big_elf_source(".data", 4), Path(tmp) / "small.elf")
        for section, kind in ((".text", "executable"), (".data", "data")):
            big = _assemble(_big_elf_source(section, 64 * MIB), Path(tmp) / f"big{section}.elf")
            wall, cpu = _net(_npuemu_load, big, small)
            f_wall, f_cpu = _net(_floor_load, big, small)
            q_wall, q_cpu = _net(qemu_times, big, small)
            rows += [_row(f"load a 64 MiB ELF, {kind} segment (wall, net of a tiny ELF)", wall, "s",
                          wall / f_wall, f"<= 1 s; ratio vs read+copy {f_wall:.3f} s (QEMU net {q_wall:.3f} s)"),
                     _row(f"load a 64 MiB ELF, {kind} segment (CPU, net of a tiny ELF)", cpu, "s",
                          cpu / f_cpu, f"ratio vs read+copy {f_cpu:.3f} s (QEMU net {q_cpu:.3f} s)")]
    return rows


def time_travel_overhead() -> list[dict]:
    """The compute firmware (640 M instructions) --deterministic, run through the reverse-execution
    engine's forward() (checkpoints on the way) against a plain run, same run, CPU time."""
    from emu.debugger.timetravel import TimeTravel

    compute = ROOT / "build" / "firmware" / "rv32" / "compute.elf"

    def plain() -> float:
        m = Machine.from_elf(compute, deterministic=True)
        return _timed(m.run)[1]

    def travelling() -> float:
        m = Machine.from_elf(compute, deterministic=True)
        return _timed(TimeTravel(m).forward)[1]

    base, cpu = min(plain() for _ in range(2)), min(travelling() for _ in range(2))
    return [_row("compute --deterministic through the time-travel engine (CPU)", cpu, "s", cpu / base,
                 f"ratio vs a plain run ({base:.2f} s)")]


def run() -> list[dict]:
    return (snapshot_restore() + debug_attach() + named_snapshots() + guest_reset() + large_elf()
            + time_travel_overhead())


if __name__ == "__main__":
    for r in run():
        print(f"{r['benchmark']:<58} {r['value']:>10.4g} {r['unit']:<4} {r['ratio']:>8.4f}  {r['target']}")
