"""Demo 3, firmware/apps/npu_cnn: the CNN through im2col DMA + GEMM + pooling on the NPU, checked
image by image against the quantized Python reference (toolchain/npu_model/cnn.py)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from npu_model import cnn, mlp

from .conftest import run_to_exit

COUNTERS = ("macs", "dma_in", "dma_out", "weight_bytes", "commands")


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_cnn_matches_the_quantized_reference(npuemu_warm_boot, cnn_model, arch: str) -> None:
    data, q = cnn_model
    machine = npuemu_warm_boot(f"{arch}/npu_cnn.elf", setup=run_to_exit)
    expected = cnn.predict(q, mlp.quantize_input(data.test_x))
    got = np.frombuffer(machine.read_symbol_bytes("cnn_pred"), dtype=np.uint8).astype(np.int32)
    assert np.array_equal(got, expected), f"{int((got != expected).sum())} predictions differ"
    assert float((got == data.test_y).mean()) >= 0.95
    correct, status, *values = struct.unpack_from("<2I7Q", machine.read_symbol_bytes("cnn_result"))
    assert status == 0 and correct == int((expected == data.test_y).sum())
    assert dict(zip(COUNTERS, values[:5], strict=True)) == cnn.inference_counts(len(data.test_y))
