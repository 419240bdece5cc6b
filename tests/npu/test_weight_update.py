"""WEIGHT_UPDATE: W <- sat(W + round((x^T d) >> s)), nearest or seeded-stochastic rounding, int8/int4 ranges."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.npu_device.config import NpuConfig
from emu.npu_device.regs import BITS, FLAGS, REG

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


def _broadcast_update(h: Harness, m: int, k: int, n: int, shift: int, value: int = -128) -> None:
    """x = d = ``value`` everywhere through stride-0 rows: (x^T d)[i, j] = m * value^2."""
    h.spad_put(0, np.full(k, value, dtype=np.int8))
    h.spad_put(1024, np.full(n, value, dtype=np.int8))
    h.submit(h.desc("WEIGHT_UPDATE", tile=0, m=m, k=k, n=n, x_addr=0, x_stride=0, d_addr=1024, d_stride=0,
                    shift=shift))
    assert h.error() == 0


BIG_SPAD = NpuConfig.load(None).replace(tiles=8, rows=8, cols=8)  # small tiles, the full 256 KiB scratchpad


def test_wrap_regression_gradient_is_exact_int64() -> None:
    """x = d = -128, M = 131072: x^T d = 2^31 exactly; >> 31 (round half up) is +1, not -1 (int32 wrap)."""
    h = Harness(BIG_SPAD)
    _broadcast_update(h, 131072, 2, 2, 31)
    assert (h.npu.tile(0)[:2, :2] == 1).all()
    assert not h.reg("STATUS") & BITS["STATUS_GRAD_SAT"]


def test_gradient_saturates_at_the_configured_width_and_flags() -> None:
    """A 32-bit gradient accumulator saturates 2^31 to 2^31 - 1 and sets the sticky GRAD_SAT bit."""
    data = BIG_SPAD.as_dict()
    data["training"]["grad_bits"] = 32
    h = Harness(NpuConfig.from_dict(data))
    _broadcast_update(h, 131072, 2, 2, 30)
    assert (h.npu.tile(0)[:2, :2] == 2).all()  # (2^31 - 1 + 2^29) >> 30 = 2
    assert h.reg("STATUS") & BITS["STATUS_GRAD_SAT"]
    _broadcast_update(h, 1, 2, 2, 30, value=1)  # a small update later: the flag stays
    assert h.reg("STATUS") & BITS["STATUS_GRAD_SAT"]
    h.w32(REG["CTRL"], BITS["CTRL_RESET"] | BITS["CTRL_ENABLE"])
    assert not h.reg("STATUS") & BITS["STATUS_GRAD_SAT"]
    data["training"]["grad_bits"] = 31  # one bit less: 2^31 saturates to 2^30 - 1 -> (2^30 - 1 + 2^29) >> 30 = 1
    h = Harness(NpuConfig.from_dict(data))
    _broadcast_update(h, 131072, 2, 2, 30)
    assert (h.npu.tile(0)[:2, :2] == 1).all() and h.reg("STATUS") & BITS["STATUS_GRAD_SAT"]


def test_tile_write_counters_count_rows_for_firmware() -> None:
    """LOAD_WEIGHTS writes every row of each tile of its grid; WEIGHT_UPDATE the K rows it updates."""
    h = Harness(BIG_SPAD)  # 8 x 8 tiles
    load_weights(h, np.ones((12, 4), dtype=np.int8), 2, False, False, 0)  # a 2 x 1 grid: tiles 2, 3
    _broadcast_update(h, 1, 12, 4, 0, value=1)  # K = 12 at tile 0: 8 rows of tile 0, 4 of tile 1

    def writes(tile: int) -> int:
        h.w32(REG["TILE_SELECT"], tile)
        return h.reg("TILE_WRITES_LO") | h.reg("TILE_WRITES_HI") << 32

    assert [writes(t) for t in range(5)] == [8, 4, 8, 8, 0]
    assert writes(1000) == 0


@settings(max_examples=10, deadline=None)
@given(m=st.integers(1, 1 << 17), value=st.integers(-128, 127), shift=st.integers(0, 31))
def test_large_m_property(m: int, value: int, shift: int) -> None:
    """M up to 2^17 broadcast rows: every weight moves by the exact rounded gradient, saturated to int8."""
    h = Harness(BIG_SPAD)
    _broadcast_update(h, m, 2, 2, shift, value=value)
    g = m * value * value
    step = (g + (1 << (shift - 1))) >> shift if shift else g
    np.testing.assert_array_equal(h.npu.tile(0)[:2, :2], np.full((2, 2), min(step, 127), dtype=np.int8))


@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_full_geometry_property(data: st.DataObject) -> None:
    """Full 256 x 256 tiles, K and N spanning two tiles, M up to 64 rows of random int8: matches golden."""
    m = data.draw(st.integers(1, 64))
    k, n = data.draw(st.integers(1, 512)), data.draw(st.integers(1, 256))
    shift = data.draw(st.integers(0, 31))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-128, 128, (m, k), dtype=np.int8)
    d = rng.integers(-128, 128, (m, n), dtype=np.int8)
    h = Harness(NpuConfig.load(None).replace(tiles=4))
    h.spad_put(0, x.reshape(-1))
    h.spad_put(131072, d.reshape(-1))
    h.submit(h.desc("WEIGHT_UPDATE", tile=0, m=m, k=k, n=n, x_addr=0, x_stride=k, d_addr=131072, d_stride=n,
                    shift=shift))
    assert h.error() == 0
    lo, hi = np.full((k, n), -128), np.full((k, n), 127)
    expected = golden.weight_update(np.zeros((k, n), dtype=np.int8), x, d, shift, False, 0, lo, hi)
    full = h.npu.tiles[:2].reshape(-1, 256)  # tiles 0, 1 stacked: rows 0..511 (a 2 x 1 grid)
    np.testing.assert_array_equal(full[:k, :n], expected)
