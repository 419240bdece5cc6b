"""The hart's hot paths against QEMU 7.2 and a bare Unicorn script, net of start-up.

Each row runs one small kernel (assembled here, see KERNELS) twice on each emulator, with N and
with 0 iterations, and divides the difference by N: QEMU's process start-up and npuemu's ELF load
cancel out.  Both wall and CPU time are reported (CPU: the child's rusage for QEMU, process time
for npuemu, which runs in this process); a warning row says when the host was busy, since wall
ratios then mean little.  The store-heavy and ALU rows also run on bare Unicorn
(bench/bare_unicorn.py).  EEMBC CoreMark is not in any package registry we can reach: the
CoreMark-like row runs npuemu's own kernel mix (firmware/apps/coremark_like: list, matrix, state
machine, CRC), its iteration count patched into the ELF; it is not comparable to CoreMark scores.
"""

from __future__ import annotations

import os
import resource
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from elftools.elf.elffile import ELFFile

from bench import bare_unicorn
from emu import Machine, StopReason

COREMARK_ELF = Path(__file__).resolve().parent.parent / "build" / "firmware" / "rv32" / "coremark_like.elf"
COREMARK_ITERATIONS = 2000

QEMU = "qemu-system-riscv32"
FINISH = """
finish_pass:
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
"""

# Each kernel: the body runs N times (a0 = N at start); `per` names the unit of one iteration.
KERNELS = {
    "alu": ("ALU loop (4 ALU insns + branch)", "iteration", """
    mv t0, a0
1:  addi t1, t1, 3
    xor t2, t2, t1
    slli t3, t2, 1
    add t4, t4, t3
    addi t0, t0, -1
    bnez t0, 1b
"""),
    "store": ("store-heavy loop (8 stores to a 4 KiB buffer)", "iteration", """
    mv t0, a0
    la a1, buffer
1:  andi t1, t0, 0x7f
    slli t1, t1, 5
    add t1, t1, a1
    sw t0, 0(t1)
    sw t0, 4(t1)
    sw t0, 8(t1)
    sw t0, 12(t1)
    sw t0, 16(t1)
    sw t0, 20(t1)
    sw t0, 24(t1)
    sw t0, 28(t1)
    addi t0, t0, -1
    bnez t0, 1b
"""),
    "console": ("console output (LSR poll + THR write)", "byte", """
    li s0, 0x10000000
    mv s1, a0
    beqz s1, 3f
1:  lbu t0, 5(s0)
    andi t0, t0, 0x20
    beqz t0, 1b
    li t1, 'x'
    andi t2, s1, 63
    bnez t2, 2f
    li t1, 10
2:  sb t1, 0(s0)
    addi s1, s1, -1
    bnez s1, 1b
3:
"""),
    "critical": ("critical section (csrci/csrsi mstatus pair)", "pair", """
    mv t0, a0
1:  csrci mstatus, 8
    addi t1, t1, 1
    csrsi mstatus, 8
    addi t0, t0, -1
    bnez t0, 1b
"""),
    "mtime": ("mtime polling (CLINT load)", "read", """
    mv t0, a0
    li t2, 0x0200bff8
1:  lw t1, 0(t2)
    addi t0, t0, -1
    bnez t0, 1b
"""),
    "timer": ("10 kHz timer interrupt, wfi between ticks", "interrupt", """
    la t0, handler
    csrw mtvec, t0
    mv s0, a0
    beqz s0, 3f
    li s3, 0x0200bff8
    li s4, 0x02004000
    lw s5, 0(s3)
    li t0, 1000
    add s5, s5, t0
    li t0, -1
    sw t0, 4(s4)
    sw s5, 0(s4)
    sw zero, 4(s4)
    li t0, 0x80
    csrw mie, t0
    csrsi mstatus, 8
1:  wfi
    bgtz s0, 1b
    csrci mstatus, 8
    j 3f
.align 2
handler:                      # re-armed from mtime: a loaded host skips ticks, never storms
    addi s0, s0, -1
    lw t6, 0(s3)
    addi t6, t6, 1000
    sw t6, 0(s4)
    mret
3:
"""),
}
ITERATIONS = {"alu": 20_000_000, "store": 5_000_000, "console": 262_144, "critical": 2_000_000,
              "mtime": 500_000, "timer": 10_000}


def assemble(kernel: str, n: int, tmp: Path) -> Path:
    body = KERNELS[kernel][2]
    src = tmp / f"{kernel}_{n}.S"
    src.write_text(f".globl _start\n.section .text\n_start:\n    li a0, {n}\n    beqz a0, 9f\n{body}\n9:  j finish_pass\n"
                   f"{FINISH}\n.section .data\n.align 12\nbuffer: .zero 4096\n")
    elf = tmp / f"{kernel}_{n}.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-march=rv32imac", "-mabi=ilp32", "-misa-spec=2.2", "-nostdlib",
                    "-Wl,--no-relax", "-Wl,-N", "-Wl,-Ttext=0x80000000", "-Wl,--no-warn-rwx-segments",
                    "-o", str(elf), str(src)], check=True, capture_output=True)
    return elf


def qemu_times(elf: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one QEMU process running ``elf`` to its finisher write."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([QEMU, "-M", "virt", "-bios", "none", "-kernel", str(elf), "-display", "none", "-serial",
                    "null", "-monitor", "none"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False, timeout=300)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def npuemu_times(elf: Path, **options) -> tuple[float, float]:
    options.setdefault("buffer_console", True)  # as `npuemu run`: the console's native fast path
    machine = Machine.from_elf(elf, **options)
    start, cpu = time.perf_counter(), time.process_time()
    stop = machine.run(timeout=600)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if stop.reason is not StopReason.EXITED or stop.exit_code != 0:
        raise RuntimeError(f"{elf}: {stop.message}")
    return wall, cpu


def bare_times(elf: Path) -> float:
    return bare_unicorn.boot(str(elf), console=lambda b: None)[1]


def _net(run, full: Path, empty: Path, repeat: int = 2) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        w1, c1 = run(full)
        w0, c0 = run(empty)
        walls.append(w1 - w0)
        cpus.append(c1 - c0)
    return min(walls), min(cpus)


def breakpoints_row(tmp: Path) -> dict:
    """ALU loop in --deterministic (the debugger's mode) with 1000 breakpoints never hit vs none."""
    elf = assemble("alu", ITERATIONS["alu"], tmp)  # ~0.1 s runs were at the mercy of host noise

    def timed(n_breaks: int) -> float:
        machine = Machine.from_elf(elf, deterministic=True)
        for i in range(n_breaks):
            machine.add_breakpoint(0x8100_0000 + 4 * i)  # in RAM, never executed
        start = time.process_time()
        stop = machine.run(timeout=600)
        if stop.exit_code != 0:
            raise RuntimeError(stop.message)
        return time.process_time() - start

    pairs = [(timed(0), timed(1000)) for _ in range(3)]  # interleaved: host load hits both alike
    none, many = min(p[0] for p in pairs), min(p[1] for p in pairs)
    return {"benchmark": "ALU loop --deterministic with 1000 breakpoints: CPU s", "value": many, "unit": "s",
            "ratio": many / none, "target": f"<= 1.2 x none ({none:.3f} s)"}


def with_iterations(elf: Path, n: int, tmp: Path) -> Path:
    """A copy of the coremark_like ELF whose ``coremark_iterations`` variable (in .data) is ``n``."""
    with open(elf, "rb") as f:
        image = ELFFile(f)
        sym = image.get_section_by_name(".symtab").get_symbol_by_name("coremark_iterations")[0]
        addr = sym["st_value"]
        sec = next(s for s in image.iter_sections()
                   if s["sh_type"] == "SHT_PROGBITS" and s["sh_addr"] <= addr < s["sh_addr"] + s["sh_size"])
        offset = sec["sh_offset"] + addr - sec["sh_addr"]
    out = tmp / f"coremark_like_{n}.elf"
    shutil.copyfile(elf, out)
    with open(out, "r+b") as f:
        f.seek(offset)
        f.write(struct.pack("<I", n))
    return out


def coremark_rows(tmp: Path) -> list[dict]:
    """npuemu's CoreMark-like mix (not EEMBC CoreMark) against QEMU and bare Unicorn, per iteration."""
    n = COREMARK_ITERATIONS
    full, empty = with_iterations(COREMARK_ELF, n, tmp), with_iterations(COREMARK_ELF, 0, tmp)
    q_wall, q_cpu = _net(qemu_times, full, empty)
    o_wall, o_cpu = _net(npuemu_times, full, empty)
    b = min(bare_times(full) for _ in range(3)) - min(bare_times(empty) for _ in range(3))
    us = lambda t: t / n * 1e6  # noqa: E731
    label = "CoreMark-like mix (own kernels: list, matrix, state, CRC; -O2)"
    return [{"benchmark": f"{label}: npuemu CPU us/iteration (wall {us(o_wall):.3g})", "value": us(o_cpu),
             "unit": "us", "ratio": o_cpu / q_cpu if q_cpu > 0 else 0.0,
             "target": f"x QEMU CPU ({us(q_cpu):.3g} us/iteration, wall {us(q_wall):.3g}); <= 2 (>= 0.5x QEMU)"},
            {"benchmark": f"{label}: bare Unicorn wall us/iteration", "value": us(b), "unit": "us",
             "ratio": o_wall / b if b > 0 else 0.0, "target": "npuemu wall / bare"}]


def run() -> list[dict]:
    rows = []
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1) * 0.5:
        rows.append({"benchmark": f"WARNING: host load average {load:.1f} on {os.cpu_count()} cores: "
                     "wall ratios are unreliable, read the CPU columns", "value": load, "unit": "load",
                     "ratio": 0.0, "target": ""})
    with tempfile.TemporaryDirectory(prefix="npuemu-bench-") as tmp:
        for kernel, (label, per, _body) in KERNELS.items():
            n = ITERATIONS[kernel]
            full, empty = assemble(kernel, n, Path(tmp)), assemble(kernel, 0, Path(tmp))
            q_wall, q_cpu = _net(qemu_times, full, empty, repeat=1 if kernel == "timer" else 2)
            o_wall, o_cpu = _net(npuemu_times, full, empty)
            us = lambda t, n=n: t / n * 1e6  # noqa: E731
            rows.append({"benchmark": f"{label}: npuemu CPU us/{per} (wall {us(o_wall):.3g})",
                         "value": us(o_cpu), "unit": "us", "ratio": o_cpu / q_cpu if q_cpu > 0 else 0.0,
                         "target": f"x QEMU CPU ({us(q_cpu):.3g} us/{per}, wall {us(q_wall):.3g})"})
            if kernel in ("alu", "store"):
                b = min(bare_times(full) for _ in range(3)) - min(bare_times(empty) for _ in range(3))
                rows.append({"benchmark": f"{label}: bare Unicorn wall us/{per}", "value": us(b), "unit": "us",
                             "ratio": o_wall / b if b > 0 else 0.0, "target": "npuemu wall / bare"})
        rows.extend(coremark_rows(Path(tmp)))
        rows.append(breakpoints_row(Path(tmp)))
    return rows
