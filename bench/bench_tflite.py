"""MLPerf Tiny models compiled by `npuemu compile`: host time per inference on npuemu (firmware
`mlperf`, CPU and NPU emulated, realtime mode) next to the TFLite Micro interpreter's host time for
the same model and inputs. Wall and CPU time both; ratio = npuemu / TFLM CPU time (steadier than
wall time on a shared machine; target <= 1, issue 14). Set OPENBLAS_NUM_THREADS=1 on a loaded
machine: OpenBLAS's spinning threads otherwise cost npuemu 2-3x.

Register with `SUITES` in bench/__main__.py ("bench.bench_tflite"); `python -m bench.bench_tflite`
runs it alone.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ELF = ROOT / "build" / "firmware" / "rv32" / "mlperf.elf"
MODELS_DIR = Path(os.environ.get("NPUEMU_MODELS") or ROOT.parent / "shared" / "models" / "mlperf-tiny")
MODELS = [("ad01", 0, "ad01_int8"), ("kws", 1, "kws_ref_model"), ("resnet", 2, "pretrainedResnet_quant"),
          ("vww", 3, "vww_96_int8")]
INPUTS = 10


def _inputs(path: Path, count: int) -> np.ndarray:
    from emu.compiler.model import load

    model = load(path)
    shape = model.tensors[model.inputs[0]].shape
    return np.random.default_rng(0).integers(-128, 128, size=(count, *shape), dtype=np.int8)


def _npuemu(index: int, inputs: np.ndarray, strict: bool) -> tuple[float, float]:
    """(wall, cpu) seconds for len(inputs) inferences in one boot, boot and load excluded; ``strict``:
    NPU strict completion on, as in tests (held writes and access guards), off as in ``npuemu run``."""
    from emu.testing import FirmwareMachine

    fw = FirmwareMachine(ELF, deterministic=True, timeout=3600, npu_strict=strict)
    try:
        fw.run_until(symbol="main")
        fw.write_symbol("tfl_model", index)
        fw.write_symbol("tfl_count", len(inputs))
        fw.write_symbol("tfl_profile", 0)
        fw.write_mem(fw.symbol_address("tfl_inputs"), inputs.tobytes())
        wall, cpu = time.perf_counter(), time.process_time()
        fw.run_until(exit=0, max_insns=10**11)
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        fw.close()


def _tflm(path: Path, inputs: np.ndarray) -> tuple[float, float]:
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(path))
    wall, cpu = time.perf_counter(), time.process_time()
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        interp.get_output(0)
    return time.perf_counter() - wall, time.process_time() - cpu


def run() -> list[dict]:
    if not ELF.exists():
        raise FileNotFoundError(f"{ELF} is missing: run `make firmware` first")
    rows = []
    for name, index, stem in MODELS:
        path = MODELS_DIR / f"{stem}.tflite"
        inputs = _inputs(path, INPUTS)
        emu_wall, emu_cpu = _npuemu(index, inputs, strict=False)
        _, strict_cpu = _npuemu(index, inputs, strict=True)
        ref_wall, ref_cpu = _tflm(path, inputs)
        rows.append({"benchmark": f"{name} on npuemu (rv32 firmware + NPU, deterministic): host wall time per "
                                  f"inference (CPU {emu_cpu / INPUTS * 1e3:.2f} ms; with --npu-strict "
                                  f"{strict_cpu / INPUTS * 1e3:.2f} ms); TFLM wall "
                                  f"{ref_wall / INPUTS * 1e3:.2f} ms, CPU {ref_cpu / INPUTS * 1e3:.2f} ms",
                     "value": emu_wall / INPUTS, "unit": "s", "ratio": emu_cpu / ref_cpu,
                     "target": "ratio (CPU time npuemu / TFLM) <= 1"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['benchmark']}: {row['value'] * 1e3:.2f} ms, ratio {row['ratio']:.2f}")
