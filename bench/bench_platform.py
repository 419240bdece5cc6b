"""Platform benchmarks, as ratios against baselines measured in the same run.

- CPU speed on the compute firmware: npuemu (realtime and deterministic) vs a bare Unicorn
  script (bench/bare_unicorn.py) vs qemu-system-riscv32.
- Boot-to-exit of `hello` as a user runs it (a process), vs the bare script and QEMU.
- Host time of a one-second virtual `wfi` sleep, vs QEMU (which sleeps for real).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import bare_unicorn
from emu import Machine, StopReason

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "build" / "firmware"
QEMU = {"rv32": "qemu-system-riscv32", "rv64": "qemu-system-riscv64"}


def _qemu_cmd(elf: Path, arch: str) -> list[str]:
    return [QEMU[arch], "-M", "virt", "-bios", "none", "-kernel", str(elf), "-display", "none",
            "-serial", "null", "-monitor", "none"]


def _wall(cmd: list[str], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=120)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _machine_run(elf: Path, **options) -> tuple[float, Machine]:
    machine = Machine.from_elf(elf, **options)
    start = time.perf_counter()
    stop = machine.run()
    elapsed = time.perf_counter() - start
    if stop.reason is not StopReason.EXITED:
        raise RuntimeError(f"{elf}: {stop.message}")
    return elapsed, machine


def cpu_speed(arch: str = "rv32") -> list[dict]:
    elf = FW / arch / "compute.elf"
    _, counted = _machine_run(elf, count_insns=True)
    insns = counted.insn_count
    t_bare = min(bare_unicorn.boot(str(elf), console=lambda b: None)[1] for _ in range(3))
    t_ours = min(_machine_run(elf)[0] for _ in range(3))
    t_det = min(_machine_run(elf, deterministic=True)[0] for _ in range(3))
    t_qemu = _wall(_qemu_cmd(elf, arch))
    mips = lambda t: insns / t / 1e6  # noqa: E731
    return [
        {"benchmark": f"compute ({arch}, {insns / 1e6:.0f} M insns): bare Unicorn", "value": mips(t_bare),
         "unit": "MIPS", "ratio": 1.0, "target": ""},
        {"benchmark": "compute: npuemu realtime", "value": mips(t_ours), "unit": "MIPS",
         "ratio": t_bare / t_ours, "target": ">= 0.90 of bare"},
        {"benchmark": "compute: npuemu --deterministic", "value": mips(t_det), "unit": "MIPS",
         "ratio": t_bare / t_det, "target": ">= 150 MIPS"},
        {"benchmark": "compute: qemu-system-riscv32 (process wall time)", "value": t_qemu, "unit": "s",
         "ratio": t_qemu / t_ours, "target": f"(npuemu realtime: {t_ours:.3f} s)"},
    ]


def boot_time(arch: str = "rv32") -> list[dict]:
    elf = FW / arch / "hello.elf"
    ours = _wall([sys.executable, "-m", "emu.cli", "run", str(elf)])
    bare = _wall([sys.executable, str(ROOT / "bench" / "bare_unicorn.py"), str(elf)])
    qemu = _wall(_qemu_cmd(elf, arch))
    return [
        {"benchmark": "hello boot-to-exit: npuemu run", "value": ours, "unit": "s", "ratio": ours / bare,
         "target": "<= 0.3 s"},
        {"benchmark": "hello boot-to-exit: bare Unicorn + pyelftools", "value": bare, "unit": "s",
         "ratio": 1.0, "target": ""},
        {"benchmark": "hello boot-to-exit: qemu-system-riscv32", "value": qemu, "unit": "s",
         "ratio": qemu / bare, "target": ""},
    ]


def wfi_sleep(arch: str = "rv32") -> list[dict]:
    elf = FW / arch / "sleep.elf"
    ours = min(_machine_run(elf)[0] for _ in range(3))
    qemu = _wall(_qemu_cmd(elf, arch), repeat=1)
    return [
        {"benchmark": "1 s virtual wfi sleep: npuemu (host time)", "value": ours, "unit": "s",
         "ratio": ours / qemu, "target": "<= 0.05 s"},
        {"benchmark": "1 s virtual wfi sleep: qemu-system-riscv32", "value": qemu, "unit": "s",
         "ratio": 1.0, "target": ""},
    ]


def run() -> list[dict]:
    return cpu_speed() + boot_time() + wfi_sleep()
