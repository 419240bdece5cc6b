"""Shared helpers of the TFLite compiler tests: model paths and the TFLite Micro reference.

(No __init__.py and no conftest.py here: a test package named `tflite` would shadow the `tflite`
flatbuffer package the compiler imports.)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = Path(os.environ.get("NPUEMU_MODELS") or ROOT.parent / "shared" / "models" / "mlperf-tiny")
# name -> (index in firmware/apps/mlperf's model table, file stem)
MLPERF = {"ad01": (0, "ad01_int8"), "kws": (1, "kws_ref_model"), "resnet": (2, "pretrainedResnet_quant"),
          "vww": (3, "vww_96_int8")}


def model_path(stem: str) -> Path:
    path = MODELS_DIR / f"{stem}.tflite"
    if not path.exists():
        pytest.fail(f"{path} is missing: the MLPerf Tiny models live in ../shared/models/mlperf-tiny "
                    "next to the project, or set NPUEMU_MODELS=DIR", pytrace=False)
    return path


def tflm_outputs(path: Path, inputs: np.ndarray) -> np.ndarray:
    """The TFLite Micro interpreter's output for each input (the reference)."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    interp = runtime.Interpreter.from_file(str(path))
    outs = []
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(interp.get_output(0).copy())
    return np.stack(outs)


def random_inputs(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(count, *shape), dtype=np.int8)
