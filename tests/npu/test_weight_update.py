"""WEIGHT_UPDATE: W <- sat(W + round((x^T d) >> s)), nearest or seeded-stochastic rounding, int8/int4 ranges."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.npu_device.regs import FLAGS

from . import golden
from .harness import Harness
from .strategies import SMALL, int8s, int_array
from .test_matrix import load_weights


@st.composite
def updates(draw: st.DrawFn) -> dict:
    int4 = draw(st.booleans())
    k, n = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    m = draw(st.integers(1, 4))
    w = int_array(draw, (k, n), -8, 7) if int4 else int_array(draw, (k, n), -128, 127)
    return {"int4": int4, "k": k, "n": n, "m": m, "w": w.astype(np.int8), "tile": draw(st.integers(0, 4)),
            "x": int8s(draw, (m, k)), "d": int8s(draw, (m, n)), "shift": draw(st.integers(0, 31)),
            "stochastic": draw(st.booleans()), "seed": draw(st.integers(0, 2**32 - 1))}


@settings(max_examples=50, deadline=None)
@given(p=updates())
def test_weight_update_matches_golden(p: dict) -> None:
    h = Harness(SMALL)
    k, n, m = p["k"], p["n"], p["m"]
    load_weights(h, p["w"], p["tile"], p["int4"], False, 0)
    before = h.npu.tiles.copy()
    for i in range(m):
        h.spad_put(i * 16, p["x"][i])
        h.spad_put(256 + i * 16, p["d"][i])
    h.submit(h.desc("WEIGHT_UPDATE", flags=FLAGS["STOCHASTIC"] if p["stochastic"] else 0, tile=p["tile"],
                    m=m, k=k, n=n, x_addr=0, x_stride=16, d_addr=256, d_stride=16, seed=p["seed"],
                    shift=p["shift"]))
    assert h.error() == 0
    lo = np.full((k, n), -8 if p["int4"] else -128)
    hi = np.full((k, n), 7 if p["int4"] else 127)
    expected = golden.weight_update(p["w"], p["x"], p["d"], p["shift"], p["stochastic"], p["seed"], lo, hi)
    tk, tn = -(-k // 8), -(-n // 8)
    got = h.npu.tiles[p["tile"] : p["tile"] + tk * tn].reshape(tk, tn, 8, 8).transpose(0, 2, 1, 3).reshape(tk * 8, tn * 8)
    np.testing.assert_array_equal(got[:k, :n], expected)
    assert (got[k:] == 0).all() and (got[:, n:] == 0).all()  # the padding stays untouched (zero after the load)
    others = np.ones(8, dtype=bool)
    others[p["tile"] : p["tile"] + tk * tn] = False
    np.testing.assert_array_equal(h.npu.tiles[others], before[others])


def test_stochastic_rounding_is_deterministic_and_unbiased() -> None:
    """Same seed -> same weights; over many elements the mean update matches the exact mean (1/4 here)."""
    results = []
    for _ in range(2):
        h = Harness(SMALL.replace(tiles=4, rows=64, cols=64))
        h.spad_put(0, np.ones(64, dtype=np.int8))
        h.spad_put(64, np.ones(64, dtype=np.int8))
        h.submit(h.desc("WEIGHT_UPDATE", flags=FLAGS["STOCHASTIC"], tile=0, m=1, k=64, n=64, x_addr=0,
                        x_stride=64, d_addr=64, d_stride=64, seed=1234, shift=2))
        results.append(h.npu.tile(0).copy())
    np.testing.assert_array_equal(results[0], results[1])
    assert set(np.unique(results[0])) == {0, 1}
    assert abs(results[0].mean() - 0.25) < 0.03


def test_round_half_up_ties() -> None:
    """Nearest rounding adds 2^(s-1) before the arithmetic shift: +2/4 -> 1, -2/4 -> 0, -6/4 -> -1."""
    h = Harness(SMALL)
    h.spad_put(0, np.array([1, 1, 1], dtype=np.int8))
    h.spad_put(16, np.array([2, -2, -6], dtype=np.int8))
    h.submit(h.desc("WEIGHT_UPDATE", tile=0, m=1, k=1, n=3, x_addr=0, x_stride=1, d_addr=16, d_stride=3, shift=2))
    assert h.npu.tile(0)[0, :3].tolist() == [1, 0, -1]
