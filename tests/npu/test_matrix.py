"""LOAD_WEIGHTS, MVM and MVM_T against the golden integer products, over shapes, tiles and precisions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.npu_device import NpuConfig
from emu.npu_device.regs import FLAGS
from emu.npu_device.tiles import F32_EXACT, exact_matmul

from . import golden
from .harness import ACC, DATA, Harness
from .strategies import SMALL, int8s, int_array

W_ADDR = DATA
ACC_OUT = DATA + 0x8000


def load_weights(h: Harness, w: np.ndarray, tile: int, int4: bool, transpose: bool, pad: int) -> None:
    """Put W (K x N) in DRAM in the requested format and LOAD_WEIGHTS it."""
    stored = w.T if transpose else w
    rows = [golden.int4_pack(r) if int4 else r.astype(np.int8).tobytes() for r in stored]
    stride = (len(rows[0]) if rows else 0) + pad
    for i, r in enumerate(rows):
        h.ram.write(W_ADDR + i * stride, r)
    flags = (FLAGS["INT4"] if int4 else 0) | (FLAGS["TRANSPOSE"] if transpose else 0)
    h.submit(h.desc("LOAD_WEIGHTS", flags=flags, dram_addr=W_ADDR, tile=tile, k=w.shape[0], n=w.shape[1],
                    dram_stride=stride))
    assert h.error() == 0


@st.composite
def problems(draw: st.DrawFn) -> dict:
    int4 = draw(st.booleans())
    k, n = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    tiles = -(-k // 8) * -(-n // 8)
    if tiles > 8:
        k = min(k, 8 * (8 // -(-n // 8)))
        tiles = -(-k // 8) * -(-n // 8)
    tile = draw(st.integers(0, 8 - tiles))
    m = draw(st.integers(1, 5))
    w = int_array(draw, (k, n), -8, 7) if int4 else int_array(draw, (k, n), -128, 127)
    return {"int4": int4, "k": k, "n": n, "tile": tile, "m": m, "w": w.astype(np.int8),
            "transpose": draw(st.booleans()), "pad": draw(st.integers(0, 3)),
            "act_pad": draw(st.integers(0, 3)), "acc_pad": draw(st.integers(0, 2)),
            "accumulate": draw(st.booleans()), "seed": draw(st.integers(0, 2**32 - 1)),
            "act": int8s(draw, (m, max(k, n))), "init": int_array(draw, (m, max(k, n)), -(2**31), 2**31 - 1)}


@pytest.mark.parametrize("transposed", [False, True], ids=["MVM", "MVM_T"])
@settings(max_examples=50, deadline=None)
@given(p=problems())
def test_product_matches_golden(transposed: bool, p: dict) -> None:
    h = Harness(SMALL)
    load_weights(h, p["w"], p["tile"], p["int4"], p["transpose"], p["pad"])
    np.testing.assert_array_equal(h.npu.tiles.reshape(-1).size, 8 * 64)
    k, n, m = p["k"], p["n"], p["m"]
    depth, width = (n, k) if transposed else (k, n)
    act = p["act"][:, :depth]
    act_stride = depth + p["act_pad"]
    for i in range(m):
        h.spad_put(i * act_stride, act[i])
    acc_stride = 4 * (width + p["acc_pad"])
    init = p["init"][:, :width].astype(np.int32)
    for i in range(m):
        h.npu.accumulator[i * acc_stride // 4 : i * acc_stride // 4 + width] = init[i]
    h.submit(h.desc("MVM_T" if transposed else "MVM", flags=ACC if p["accumulate"] else 0, tile=p["tile"],
                    m=m, k=k, n=n, act_addr=0, act_stride=act_stride, acc_addr=0, acc_stride=acc_stride),
             h.desc("DMA_OUT", flags=ACC, dram_addr=ACC_OUT, sram_addr=0, rows=m, row_bytes=4 * width,
                    dram_stride=4 * width, sram_stride=acc_stride))
    assert h.error() == 0
    expected = golden.matmul(act, p["w"].T if transposed else p["w"])
    if p["accumulate"]:
        expected = np.vectorize(golden.wrap32)(expected.astype(np.int64) + init).astype(np.int32)
    got = h.get(ACC_OUT, m * width, np.int32).reshape(m, width)
    np.testing.assert_array_equal(got, expected)
    assert h.counter("MACS") == m * k * n


def test_tiles_hold_the_documented_blocks() -> None:
    """Tile t0 + i*tn + j holds W[i*R:(i+1)*R, j*C:(j+1)*C], zero-padded; int4 tiles are flagged."""
    h = Harness(SMALL)
    w = np.arange(12 * 20, dtype=np.int64).reshape(12, 20) % 15 - 8
    load_weights(h, w.astype(np.int8), 1, True, False, 0)
    for i in range(2):
        for j in range(3):
            block = np.zeros((8, 8), dtype=np.int8)
            part = w[i * 8 : (i + 1) * 8, j * 8 : (j + 1) * 8]
            block[: part.shape[0], : part.shape[1]] = part
            np.testing.assert_array_equal(h.npu.tile(1 + i * 3 + j), block)
    assert h.npu.tile_int4.tolist() == [False] + [True] * 6 + [False]


def test_int4_packing_and_sign_extension() -> None:
    h = Harness(SMALL)
    h.ram.write(W_ADDR, bytes([0x87, 0xF0, 0x0F]))  # elements 7, -8, 0, -1, -1 (odd N: last nibble ignored)
    h.submit(h.desc("LOAD_WEIGHTS", flags=FLAGS["INT4"], dram_addr=W_ADDR, tile=0, k=1, n=5, dram_stride=3))
    assert h.npu.tile(0)[0, :6].tolist() == [7, -8, 0, -1, -1, 0]


@pytest.mark.parametrize("k, dtype", [(1024, np.float32), (1025, np.float64)])
def test_blas_exact_at_worst_case(k: int, dtype: type) -> None:
    """All -128: every partial sum is +k*2^14 -- 2^24 at K=1024 (float32's last exact integer) -- and beyond."""
    a = np.full((3, k), -128, dtype=np.int8)
    b = np.full((k, 2), -128, dtype=np.int8)
    assert (k * 128 * 128 <= F32_EXACT) == (dtype is np.float32)
    np.testing.assert_array_equal(exact_matmul(a, b, 128, 128), np.full((3, 2), k * 16384, dtype=np.int32))
    # Alternating signs make large partial sums of both signs that cancel: any rounding would show.
    a2 = np.where(np.arange(k) % 2, 127, -128).astype(np.int8)[None, :].repeat(2, 0)
    b2 = np.where(np.arange(k) % 3, -128, 127).astype(np.int8)[:, None]
    ref = sum(int(x) * int(y) for x, y in zip(a2[0], b2[:, 0], strict=True))
    assert exact_matmul(a2, b2, 128, 128)[0, 0] == ref


def test_device_gemm_k1024_and_k4096_worst_case() -> None:
    """Through the device on the default geometry: K = 1024 (float32 path) and K = 4096 (float64 path)."""
    for k, n in ((1024, 256), (4096, 256)):
        h = Harness(NpuConfig.load(None), ram_size=16 << 20)
        h.ram.view(W_ADDR, k * n)[:] = 0x80  # -128
        h.npu.scratchpad[: 2 * k] = 0x80
        h.submit(h.desc("LOAD_WEIGHTS", dram_addr=W_ADDR, tile=0, k=k, n=n, dram_stride=n),
                 h.desc("MVM", tile=0, m=2, k=k, n=n, act_addr=0, act_stride=k, acc_addr=0, acc_stride=4 * n))
        assert h.error() == 0
        assert (h.npu.accumulator[: 2 * n] == k * 16384).all()
