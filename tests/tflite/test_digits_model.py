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


def compile_model(model: Path, gen: Path, name: str) -> None:
    """`npuemu compile` ``model`` into C sources ``gen/<name>_model.[ch]``."""
    done = subprocess.run([sys.executable, "-m", "emu.cli", "compile", str(model), "-o", str(gen), "--name", name],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr


def model_app(app: Path, gen: Path, models_c: str) -> Path:
    """An out-of-tree firmware app directory with the runtime and the compiled ``models_c``; main.c is the caller's."""
    app.mkdir(parents=True)
    (app / "app.mk").write_text(f"APP_CFLAGS += -O2 -I{gen} -I{ROOT / 'firmware' / 'runtime'}\n")
    (app / "model.c").write_text('#include "npu_model.c"\n#include "npu_softmax.c"\n' + models_c)
    return app


def make_apps(apps: Path, build: Path, *make_args: str) -> None:
    """Build the apps under ``apps`` with the firmware Makefile into ``build``."""
    made = subprocess.run(["make", "-s", "-f", str(ROOT / "firmware" / "Makefile"), f"APPS_DIR={apps}",
                           f"BUILD_DIR={build}", *make_args], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert made.returncode == 0, made.stderr


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
    compile_model(path, gen, "digits")
    app = model_app(tmp / "apps" / "digits", gen, '#include "digits_model.c"\n')
    (app / "main.c").write_text('#include "digits_model.h"\n#define NPU_RUNNER_MODELS &digits_model\n'
                                f"#define NPU_RUNNER_MAX_INPUTS {N_INPUTS}u\n"
                                "#define NPU_RUNNER_MAX_IN_BYTES DIGITS_INPUT_BYTES\n"
                                "#define NPU_RUNNER_MAX_OUT_BYTES DIGITS_OUTPUT_BYTES\n"
                                '#include "npu_model_runner.c"\n')
    make_apps(tmp / "apps", tmp / "build")
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


TWO_MODELS_MAIN = r"""
#include "sdk.h"
#include "npu_model.h"
#include "digits_model.h"
#include "kws_model.h"

#define N 4
volatile uint32_t tfl_count = N;
int8_t digits_in[N][DIGITS_INPUT_BYTES], kws_in[N][KWS_INPUT_BYTES];
int8_t digits_out[N][DIGITS_OUTPUT_BYTES], kws_out[N][KWS_OUTPUT_BYTES];

int main(void)
{
    npu_model_set_profiling(0);
    for (uint32_t i = 0; i < tfl_count; i++)  /* each run re-arms its model: ring and resident weights */
        if (npu_model_run(&digits_model, digits_in[i], digits_out[i]) || npu_model_run(&kws_model, kws_in[i], kws_out[i]))
            return 1;
    return 0;
}
"""


def test_two_models_alternate_in_one_app(npuemu_boot, digits_elf, tmp_path: Path) -> None:
    """Two compiled models in one firmware, run alternately: each run re-arms the NPU (its program as
    the ring, its weights into the tiles) and both stay byte-identical with TFLite Micro."""
    from tflite_refs import MLPERF, model_path, random_inputs

    build, digit_inputs, _, digit_expected = digits_elf
    gen = build.parent / "gen"
    kws = model_path(MLPERF["kws"][1])
    compile_model(kws, gen, "kws")
    app = model_app(tmp_path / "apps" / "two", gen, '#include "digits_model.c"\n#include "kws_model.c"\n')
    (app / "main.c").write_text(TWO_MODELS_MAIN)
    out = tmp_path / "build"
    make_apps(tmp_path / "apps", out, "ARCHES=rv32")
    kws_inputs = random_inputs((1, 49, 10, 1), 4, seed=5)
    kws_expected = tflm_outputs(kws, kws_inputs)
    fw = npuemu_boot(out / "rv32" / "two.elf", deterministic=True)
    fw.run_until(symbol="main")
    fw.write_mem(fw.symbol_address("digits_in"), digit_inputs[:4].tobytes())
    fw.write_mem(fw.symbol_address("kws_in"), kws_inputs.tobytes())
    fw.run_until(exit=0)
    got_d = np.frombuffer(fw.read_symbol_bytes("digits_out"), np.int8).reshape(digit_expected[:4].shape)
    got_k = np.frombuffer(fw.read_symbol_bytes("kws_out"), np.int8).reshape(kws_expected.shape)
    assert np.array_equal(got_d, digit_expected[:4])
    assert np.array_equal(got_k, kws_expected)
