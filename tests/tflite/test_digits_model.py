"""Acceptance (issue 14): a fifth model built at test time -- an int8 CNN on scikit-learn's digits with
SAME padding, stride 2, ReLU6, a depthwise convolution, a residual ADD, max pooling and softmax,
written through the `tflite` flatbuffer builders -- compiled with `npuemu compile`, built into a
firmware app outside the source tree, and run on rv32 and rv64: byte-identical with TFLite Micro."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tflite_refs import ROOT, tflm_outputs

N_INPUTS = 24


@pytest.fixture(scope="module")
def digits_elf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    import digits_model

    tmp = tmp_path_factory.mktemp("digits")
    model, inputs, labels, _ = digits_model.build()
    path = tmp / "digits.tflite"
    path.write_bytes(model)
    inputs, labels = inputs[:N_INPUTS], labels[:N_INPUTS]
    expected = tflm_outputs(path, inputs)
    gen = tmp / "gen"
    done = subprocess.run([sys.executable, "-m", "emu.cli", "compile", str(path), "-o", str(gen), "--name", "digits"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    app = tmp / "apps" / "digits"
    app.mkdir(parents=True)
    (app / "app.mk").write_text(f"APP_CFLAGS += -O2 -I{gen} -I{ROOT / 'firmware' / 'runtime'}\n")
    (app / "model.c").write_text('#include "npu_model.c"\n#include "npu_softmax.c"\n#include "digits_model.c"\n')
    (app / "main.c").write_text('#include "digits_model.h"\n#define NPU_RUNNER_MODELS &digits_model\n'
                                f"#define NPU_RUNNER_MAX_INPUTS {N_INPUTS}u\n"
                                "#define NPU_RUNNER_MAX_IN_BYTES DIGITS_INPUT_BYTES\n"
                                "#define NPU_RUNNER_MAX_OUT_BYTES DIGITS_OUTPUT_BYTES\n"
                                '#include "npu_model_runner.c"\n')
    build = subprocess.run(["make", "-s", "-f", str(ROOT / "firmware" / "Makefile"), f"APPS_DIR={tmp / 'apps'}",
                            f"BUILD_DIR={tmp / 'build'}"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert build.returncode == 0, build.stderr
    return tmp / "build", inputs, labels, expected


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_digits_cnn_matches_tflite_micro(npuemu_boot, digits_elf, arch: str) -> None:
    build, inputs, labels, expected = digits_elf
    fw = npuemu_boot(build / arch / "digits.elf", deterministic=True)
    fw.run_until(symbol="main")
    fw.write_symbol("tfl_count", N_INPUTS)
    fw.write_mem(fw.symbol_address("tfl_inputs"), inputs.tobytes())
    fw.run_until(exit=0)
    got = np.frombuffer(fw.read_mem(fw.symbol_address("tfl_outputs"), expected.size), np.int8).reshape(expected.shape)
    assert np.array_equal(got, expected)
    assert (got.reshape(N_INPUTS, 10).argmax(axis=1) == labels).mean() > 0.5  # it is a (small) classifier
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"):
        assert op in fw.uart.text
