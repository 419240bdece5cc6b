"""`npuemu compile` as a user runs it: outputs, the static estimate, one-line errors for unsupported
models, and the lowering under a small NPU geometry (K and N split across tiles, weights streamed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tflite_refs import MLPERF, ROOT, model_path, random_inputs, tflm_outputs
from tflite_writer import OPS, OPTS, TYPES, ModelWriter


def compile_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emu.cli", "compile", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_compile_writes_c_and_estimate(tmp_path: Path) -> None:
    done = compile_cli(str(model_path("kws_ref_model")), "-o", str(tmp_path), "--name", "kws", "--estimate")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "kws_model.c").exists() and (tmp_path / "kws_model.h").exists()
    assert "extern const npu_model_t kws_model;" in (tmp_path / "kws_model.h").read_text()
    out = done.stdout
    assert "peak scratchpad" in out and "arena" in out
    assert "1:DEPTHWISE_CONV_2D" in out and "12:SOFTMAX" in out and "(CPU)" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert int(total.split()[3]) == 2_656_768  # MACs of the DS-CNN (conv + depthwise + FC)


def _tiny_model(input_type: int, op: int = OPS.FULLY_CONNECTED) -> bytes:
    w = ModelWriter()
    scale = None if input_type == TYPES.FLOAT32 else 0.1
    x = w.tensor("x", (1, 4), input_type, scale=scale, zero_point=0)
    y = w.tensor("y", (1, 4), input_type, scale=scale, zero_point=0)
    if op == OPS.FULLY_CONNECTED:
        wt = w.tensor("w", (4, 4), TYPES.INT8 if scale else TYPES.FLOAT32, scale=scale, zero_point=0,
                      data=np.eye(4, dtype=np.int8 if scale else np.float32))
        w.op(op, [x, wt, -1], [y], OPTS.FullyConnectedOptions, FusedActivationFunction=0)
    else:
        w.op(op, [x], [y])
    return w.build([x], [y])


@pytest.mark.parametrize(("kind", "expect"), [
    ("float", "float model: input tensor 'x' is FLOAT32"),
    ("int16", "operator 0 (FULLY_CONNECTED): int16 activations 'x'"),
    ("unknown", "operator 0 (TANH): operator not supported"),
    ("garbage", "not a TFLite flatbuffer"),
    ("truncated", "corrupt TFLite flatbuffer"),
])
def test_unsupported_models_fail_in_one_line(tmp_path: Path, kind: str, expect: str) -> None:
    data = {"float": lambda: _tiny_model(TYPES.FLOAT32), "int16": lambda: _tiny_model(TYPES.INT16),
            "unknown": lambda: _tiny_model(TYPES.INT8, OPS.TANH), "garbage": lambda: b"\x00" * 64,
            "truncated": lambda: model_path("kws_ref_model").read_bytes()[:3000]}[kind]()
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    assert expect in one_line_error(compile_cli(str(path)))


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = one_line_error(compile_cli(str(model_path("ad01_int8")), "-o", str(blocker / "out")))
    assert "cannot write to" in line


def test_shape_beyond_the_scratchpad(tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text("[geometry]\nscratchpad_bytes = 2048\n")
    line = one_line_error(compile_cli(str(model_path("vww_96_int8")), "--npu-config", str(config)))
    assert "operator 3 (DEPTHWISE_CONV_2D)" in line and "shape beyond the scratchpad" in line


def test_streamed_weights_on_a_small_npu_match_tflite_micro() -> None:
    """ad01 on 2 tiles of 64 x 64: every FC layer's K x N is split in blocks, reloaded per block."""
    from emu.compiler import compile_model
    from emu.compiler.hostrun import HostRunner
    from emu.npu_device import NpuConfig

    config = NpuConfig.load(None).replace(tiles=2, rows=64, cols=64)
    path = model_path(MLPERF["ad01"][1])
    model = compile_model(path, config)
    loads = [d for d in model.descriptors if d.op == "LOAD_WEIGHTS"]
    assert len(loads) == 34  # 640 x 128 needs 20 tiles: 10 blocks of 128 x 64; 128 x 128: 2 blocks
    assert all(-(-d.fields["k"] // 64) * -(-d.fields["n"] // 64) <= 2 for d in loads)
    inputs = random_inputs((1, 640), 4, seed=9)
    runner = HostRunner(model)
    expected = tflm_outputs(path, inputs)
    for x, ref in zip(inputs, expected, strict=True):
        assert np.array_equal(runner.run(x), ref)


def test_mutated_models_never_escape_as_tracebacks(tmp_path: Path) -> None:
    """Random byte flips in a real model: it compiles, or fails with a CompileError; nothing else."""
    from emu.compiler import CompileError, compile_model

    original = model_path("kws_ref_model").read_bytes()
    rng = np.random.default_rng(17)
    outcomes = {"ok": 0, "error": 0}
    for i in range(40):
        data = bytearray(original)
        for pos in rng.integers(8, len(data), size=int(rng.integers(1, 40))):
            data[pos] = int(rng.integers(0, 256))
        path = tmp_path / f"fuzz_{i}.tflite"
        path.write_bytes(bytes(data))
        try:
            compile_model(path)
            outcomes["ok"] += 1
        except CompileError:
            outcomes["error"] += 1
        finally:
            path.unlink()
    assert outcomes["ok"] + outcomes["error"] == 40


def test_depthwise_kernel_beyond_dwconv_is_one_line(tmp_path: Path) -> None:
    """DWCONV holds at most 1024 taps (issue 17, docs/npu.md): a 33 x 32 depthwise kernel is refused
    at compile time rather than failing on the NPU."""
    w = ModelWriter()
    x = w.tensor("x", (1, 40, 40, 1), scale=0.1, zero_point=0)
    wt = w.tensor("w", (1, 33, 32, 1), scale=[0.01], zero_point=[0], data=np.ones((1, 33, 32, 1), np.int8), qdim=3)
    b = w.tensor("b", (1,), TYPES.INT32, scale=[0.001], zero_point=[0], data=np.zeros(1, np.int32))
    y = w.tensor("y", (1, 8, 9, 1), scale=0.5, zero_point=0)
    w.op(OPS.DEPTHWISE_CONV_2D, [x, wt, b], [y], OPTS.DepthwiseConv2DOptions, Padding=1, StrideW=1, StrideH=1,
         DepthMultiplier=1, FusedActivationFunction=0)
    path = tmp_path / "dw.tflite"
    path.write_bytes(w.build([x], [y]))
    line = one_line_error(compile_cli(str(path)))
    assert "operator 0 (DEPTHWISE_CONV_2D)" in line and "at most 1024 taps" in line
