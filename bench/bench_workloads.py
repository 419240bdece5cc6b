"""Workload benchmark: Demo 1 of firmware/apps/npu_demo (the digits MLP on the NPU) in host time.

Measures the NPU inference pass only -- from the driver's first LOAD_WEIGHTS (``npu_dense_load``) to
the start of the CPU reference (``cpu_dense_forward``) -- on rv32 in deterministic mode, best of a
few runs restored from one snapshot. It tells how fast the emulator runs an NPU workload: host
seconds per classified image and NPU commands executed per host second.
"""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ELF = ROOT / "build" / "firmware" / "rv32" / "npu_demo.elf"
IMAGES = 450  # the held-out split (N_TEST of the generated header)
REPEATS = 3


def _measure() -> tuple[float, int, int]:
    """(best host seconds of the inference pass, NPU commands in it, modelled NPU busy ns)."""
    from emu.npu_device.config import NpuConfig
    from emu.testing import FirmwareMachine

    ns_per_cycle = 1000 / NpuConfig.load(None).npu_mhz

    machine = FirmwareMachine(ELF, deterministic=True)
    try:
        machine.run_until(symbol="npu_dense_load")
        start = machine.snapshot()
        best, commands, busy_ns = float("inf"), 0, 0
        for _ in range(REPEATS):
            machine.restore(start)
            before = machine.npu_counters()
            t0 = time.perf_counter()
            machine.run_until(symbol="cpu_dense_forward")
            best = min(best, time.perf_counter() - t0)
            after = machine.npu_counters()
            commands = after["commands"] - before["commands"]
            busy_ns = round((after["busy_cycles"] - before["busy_cycles"]) * ns_per_cycle)
        return best, commands, busy_ns
    finally:
        machine.close()


def run() -> list[dict]:
    if not ELF.exists():
        raise FileNotFoundError(f"{ELF} is missing: run `make firmware` first")
    seconds, commands, busy_ns = _measure()
    per_image = seconds / IMAGES
    return [
        {"benchmark": f"digits MLP on the NPU (rv32): host time per inference ({IMAGES} images)",
         "value": per_image, "unit": "s", "ratio": per_image / (busy_ns * 1e-9 / IMAGES),
         "target": "<= 1e-4 s (ratio: host / modelled NPU time)"},
        {"benchmark": "digits MLP on the NPU (rv32): NPU commands per host second", "value": commands / seconds,
         "unit": "cmd/s", "ratio": (commands / seconds) / (commands / (busy_ns * 1e-9)),
         "target": ">= 2000 (ratio: host rate / modelled NPU rate)"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
