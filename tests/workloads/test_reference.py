"""The model tools' integer arithmetic against the NPU golden models (tests/npu/golden.py), and the
training being deterministic: the two facts the bit-exact comparisons above rest on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from npu import golden  # tests/npu (tests/ is on sys.path: rootdir-relative packages)
from npu_model import mlp, quant

INT32 = st.integers(-(2**31), 2**31 - 1)


@settings(max_examples=300, deadline=None)
@given(INT32, st.integers(0, 2**31 - 1) | st.just(-(2**31)), st.integers(-31, 31))
def test_requantize_equals_golden(x: int, multiplier: int, shift: int) -> None:
    assert int(quant.requantize(np.array([x]), multiplier, shift)[0]) == golden.requant(x, multiplier, shift)


def test_weight_update_equals_golden() -> None:
    rng = np.random.default_rng(1)
    w = rng.integers(-128, 128, (9, 5)).astype(np.int8)
    x = rng.integers(-128, 128, (4, 9)).astype(np.int8)
    d = rng.integers(-128, 128, (4, 5)).astype(np.int8)
    lo, hi = np.full(w.shape, -128), np.full(w.shape, 127)
    for shift in (0, 1, 9):
        assert np.array_equal(quant.weight_update(w, x, d, shift),
                              golden.weight_update(w, x, d, shift, False, 0, lo, hi))


def test_quantize_multiplier_round_trips() -> None:
    for real in (1e-6, 0.0123, 0.5, 0.999999, 1.0, 3.7):
        m, s = quant.quantize_multiplier(real)
        assert 2**30 <= m < 2**31 and abs(m * 2.0**s / 2**31 - real) <= real * 2**-30


def test_training_is_deterministic(tmp_path, digits_model) -> None:
    _, cached = digits_model
    _, fresh = mlp.build(tmp_path / "model.npz")
    for name in ("w1", "b1", "mult1", "shift1", "w2"):
        assert np.array_equal(getattr(fresh, name), getattr(cached, name)), name
    assert fresh.margin == cached.margin
