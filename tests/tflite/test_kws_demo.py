"""`make run DEMO=kws`: the keyword-spotting demo prints the plan, the per-layer cost and the class
probabilities, which equal TFLite Micro's for the same built-in features."""

from __future__ import annotations

import re

import numpy as np
import pytest
from tflite_refs import MLPERF, model_path, tflm_outputs


def demo_features() -> np.ndarray:
    """The firmware's make_features() (firmware/apps/kws/main.c), in numpy."""
    x = np.zeros((49, 10), dtype=np.int64)
    for t in range(49):
        for f in range(10):
            formant = (t * 7 // 49 + 1) - f
            x[t, f] = 60 - 9 * f + (40 if -1 <= formant <= 1 else 0) - (50 if t < 6 or t > 42 else 0)
    return np.clip(x, -128, 127).astype(np.int8).reshape(1, 1, 49, 10, 1)


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_kws_demo(npuemu_boot, firmware, arch: str) -> None:
    fw = npuemu_boot(firmware("kws", arch), deterministic=True)
    fw.run_until(exit=0)
    text = fw.uart.text
    assert "model kws: 14 layers" in text and "peak scratchpad" in text  # 13 operators + the input copy
    assert re.search(r"^0:CONV_2D\s+\d+\s+\d+\s+\d+\s+320000\s", text, re.M)
    assert "12:SOFTMAX" in text and "(CPU," in text
    probs = [int(v) for v in re.search(r"class probabilities \(/256\):((?: \d+)+)", text).group(1).split()]
    expected = tflm_outputs(model_path(MLPERF["kws"][1]), demo_features())[0].ravel().astype(int) + 128
    assert probs == expected.tolist()
    assert f"predicted class {int(np.argmax(expected))}" in text
