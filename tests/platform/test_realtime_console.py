"""Realtime mode under host load: no console byte lost or doubled, timer ticks keep up with wall time.

Both run next to busy-loop processes, which is what used to break realtime mode: Unicorn's
``emu_start`` timeout thread stopped the CPU inside UART callbacks (bytes written twice), and
every slice paid for a thread.  The console test is the full campaign of issue 11 (1 MiB x 20),
line-buffered as ``npuemu run`` is, so LSR polls and THR writes take the native fast path
(emu/_mmiofast.c); ``NPUEMU_CONSOLE_RUNS=N`` changes the number of runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time

import pytest
from asm import assemble

from emu import Machine

CONSOLE_BYTES = 1 << 20
CONSOLE_RUNS = int(os.environ.get("NPUEMU_CONSOLE_RUNS", "20"))

# Polls LSR.THRE before every byte (as firmware does), prints '0'..'n' and a newline per 64 bytes.
CONSOLE = """
    li s0, 0x10000000
    li s1, {count}
    li s2, 0
1:  lbu t0, 5(s0)
    andi t0, t0, 0x20
    beqz t0, 1b
    andi t1, s2, 63
    addi t1, t1, 48
    li t2, 111
    bne t1, t2, 2f
    li t1, 10
2:  sb t1, 0(s0)
    addi s2, s2, 1
    bne s2, s1, 1b
    j finish_pass
"""


def expected_console(count: int) -> bytes:
    line = bytes(range(48, 48 + 63)) + b"\n"
    return (line * (count // 64 + 1))[:count]


@contextlib.contextmanager
def busy_loops(n: int = 2, cpu: str | None = None, seconds: int = 600):
    """``n`` busy-looping processes (each ends by itself after ``seconds``), pinned to ``cpu`` if
    given.  taskset execs the loop, so the killed pid is the loop itself (a `timeout` wrapper in
    between, killed, left its child spinning)."""
    pin = ["taskset", "-c", cpu] if cpu is not None else []
    loop = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    procs = [subprocess.Popen([*pin, sys.executable, "-c", loop]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_console_is_exact_in_realtime_mode_under_load(tmp_path):
    elf = assemble(tmp_path, CONSOLE.format(count=CONSOLE_BYTES), "rv32", "console")
    want = expected_console(CONSOLE_BYTES)
    with busy_loops():
        for run in range(CONSOLE_RUNS):
            out = bytearray()
            machine = Machine.from_elf(elf, stdout=out.extend, buffer_console=True)
            stop = machine.run(timeout=300)
            assert stop.exit_code == 0, stop.message
            assert len(out) == CONSOLE_BYTES, f"run {run}: {len(out)} bytes"
            assert out == want, f"run {run}: output differs"
            assert machine.uart._native.transmitted == CONSOLE_BYTES  # all of it on the fast path


# A 1 kHz tick re-armed from the previous mtimecmp (not from mtime): late interrupts must be caught
# up.  Prints "S" at start, then after 3 s of virtual time the tick count in hex.
TICK = """
    la t0, handler
    csrw mtvec, t0
    li s0, 0
    li s3, 0x0200bff8
    li s4, 0x02004000
    lw s5, 0(s3)
    li t0, 10000
    add s5, s5, t0
    li t0, -1
    sw t0, 4(s4)
    sw s5, 0(s4)
    sw zero, 4(s4)
    li s6, 0x10000000
    li t0, 'S'
    sb t0, 0(s6)
    li t0, 10
    sb t0, 0(s6)
    li t0, 30000000 - 10000
    add s7, s5, t0            # 3 s after the first mtime read
    li t0, 0x80
    csrw mie, t0
    csrsi mstatus, 8
1:  lw t0, 0(s3)
    bltu t0, s7, 1b
    csrci mstatus, 8
    li t2, 28
2:  srl t1, s0, t2
    andi t1, t1, 15
    addi t1, t1, 48
    li t3, 58
    blt t1, t3, 3f
    addi t1, t1, 39
3:  sb t1, 0(s6)
    addi t2, t2, -4
    bgez t2, 2b
    li t1, 10
    sb t1, 0(s6)
    j finish_pass
.align 2
handler:
    addi s0, s0, 1
    li t6, 10000
    add s5, s5, t6
    sw s5, 0(s4)
    mret
"""


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is not installed")
def test_1khz_tick_keeps_wall_time_pinned_next_to_busy_loops(tmp_path):
    elf = assemble(tmp_path, TICK, "rv32", "tick")
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "emu.cli", "run", "--timeout", "60", str(elf)]
    with busy_loops(cpu="0"):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert proc.stdout.readline() == b"S\n"
            start = time.monotonic()
            last = proc.stdout.readline()
            wall_ms = (time.monotonic() - start) * 1000
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()
            proc.wait()
    ticks = int(last.strip(), 16)
    assert abs(ticks - wall_ms) <= 0.05 * wall_ms, f"{ticks} ticks in {wall_ms:.0f} ms of wall time"
