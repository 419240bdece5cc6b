"""Acceptance (issue 14): the four MLPerf Tiny int8 models, compiled by `npuemu compile` into the
`mlperf` firmware app, run on npuemu (rv32 and rv64) and match TFLite Micro byte for byte on 20
seeded random inputs each. The inputs are written into RAM through the machine's memory API after
boot (one ELF serves every input); the firmware runs them all in one boot."""

from __future__ import annotations

import re

import numpy as np
import pytest
from tflite_refs import MLPERF, model_path, random_inputs, tflm_outputs

N_INPUTS = 20


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
@pytest.mark.parametrize("name", list(MLPERF))
def test_mlperf_model_matches_tflite_micro(npuemu_boot, firmware, name: str, arch: str) -> None:
    index, stem = MLPERF[name]
    path = model_path(stem)
    from emu.compiler.model import load

    shape = load(path).tensors[load(path).inputs[0]].shape
    inputs = random_inputs(shape, N_INPUTS, seed=1400 + index)
    expected = tflm_outputs(path, inputs)

    fw = npuemu_boot(firmware("mlperf", arch), deterministic=True)
    fw.run_until(symbol="main")
    fw.write_symbol("tfl_model", index)
    fw.write_symbol("tfl_count", N_INPUTS)
    fw.write_mem(fw.symbol_address("tfl_inputs"), inputs.tobytes())
    fw.run_until(exit=0, max_insns=2_000_000_000, timeout=600)
    out_bytes = expected[0].size
    raw = fw.read_mem(fw.symbol_address("tfl_outputs"), N_INPUTS * out_bytes)
    got = np.frombuffer(raw, dtype=np.int8).reshape(expected.shape)
    for i in range(N_INPUTS):
        assert np.array_equal(got[i], expected[i]), f"{name} input {i}: {got[i].ravel()[:16]} != {expected[i].ravel()[:16]}"
    text = fw.uart.text
    assert f"runner: {name}, {N_INPUTS} inferences done" in text
    # the per-layer profile: measured busy cycles equal the compile-time estimate on every NPU layer
    rows = re.findall(r"^(\d+:\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s", text, re.M)
    assert rows, text
    for layer, _cmds, cycles, est in rows:
        assert cycles == est, f"{layer}: measured {cycles} cycles, estimated {est}"


def test_batched_submission_without_profiling(npuemu_boot, firmware) -> None:
    """tfl_profile = 0: consecutive NPU layers go out as one batch (one wait per batch); same bytes."""
    index, stem = MLPERF["resnet"]
    path = model_path(stem)
    inputs = random_inputs((1, 32, 32, 3), 3, seed=77)
    expected = tflm_outputs(path, inputs)
    fw = npuemu_boot(firmware("mlperf", "rv64"), deterministic=True)
    fw.run_until(symbol="main")
    fw.write_symbol("tfl_model", index)
    fw.write_symbol("tfl_count", len(inputs))
    fw.write_symbol("tfl_profile", 0)
    fw.write_mem(fw.symbol_address("tfl_inputs"), inputs.tobytes())
    fw.run_until(exit=0)
    got = np.frombuffer(fw.read_mem(fw.symbol_address("tfl_outputs"), expected.size), np.int8)
    assert np.array_equal(got.reshape(expected.shape), expected)
    assert "cycles" not in fw.uart.text  # no profile table
