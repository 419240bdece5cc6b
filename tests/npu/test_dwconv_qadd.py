"""DWCONV and QADD (for TFLite DEPTHWISE_CONV_2D and ADD) against plain-loop golden
models, plus their errors and the POSTPROC regression of issue 17 N2."""

from __future__ import annotations

import tracemalloc

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.npu_device.regs import ERRORS

from . import golden
from .harness import ACC, Harness
from .strategies import SMALL, int8s, int_array

I32 = st.integers(-(2**31), 2**31 - 1)
SHIFT = st.integers(-31, 31)


def golden_dwconv(x: np.ndarray, w: np.ndarray, sh: int, sw: int) -> list[list[list[int]]]:
    """out[y][x][c] = sum over the kh x kw window of in * w, Python ints, wrapped to int32."""
    h, wd, c = x.shape
    kh, kw, _ = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    return [[[golden.wrap32(sum(int(x[oy * sh + ky][ox * sw + kx][ch]) * int(w[ky][kx][ch])
                                for ky in range(kh) for kx in range(kw)))
              for ch in range(c)] for ox in range(ow)] for oy in range(oh)]


def golden_qadd(a: int, b: int, p: dict) -> int:
    """TFLite reference_integer_ops::AddFunc, one element, with int32 wrap-around as in C."""
    sa = golden.requant(golden.wrap32((a + p["a_offset"]) * 2 ** p["left_shift"]), p["a_multiplier"], p["a_shift"])
    sb = golden.requant(golden.wrap32((b + p["b_offset"]) * 2 ** p["left_shift"]), p["b_multiplier"], p["b_shift"])
    y = golden.requant(golden.wrap32(sa + sb), p["out_multiplier"], p["out_shift"])
    return golden.sat(y + p["zero_point"], p["clamp_min"], p["clamp_max"])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), accumulate=st.booleans())
def test_dwconv_matches_golden(data: st.DataObject, accumulate: bool) -> None:
    h = Harness(SMALL)
    kh, kw = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    ih, iw = data.draw(st.integers(kh, 7)), data.draw(st.integers(kw, 7))
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    c = data.draw(st.integers(1, 6))
    x, w = int8s(data.draw, (ih, iw, c)), int8s(data.draw, (kh, kw, c))
    oh, ow = (ih - kh) // sh + 1, (iw - kw) // sw + 1
    prior = int_array(data.draw, (oh * ow * c,), -(2**31), 2**31 - 1).astype(np.int32)
    h.spad_put(0, x)
    h.spad_put(1024, w)
    h.npu.accumulator[4 : 4 + prior.size] = prior
    h.submit(h.desc("DWCONV", flags=ACC if accumulate else 0, in_addr=0, w_addr=1024, acc_addr=16,
                    h=ih, w=iw, c=c, kh=kh, kw=kw, sh=sh, sw=sw))
    assert h.error() == 0
    expect = np.array(golden_dwconv(x, w, sh, sw), dtype=np.int64).ravel()
    if accumulate:
        expect = np.array([golden.wrap32(int(e) + int(p)) for e, p in zip(expect, prior, strict=True)])
    assert h.npu.accumulator[4 : 4 + prior.size].tolist() == expect.tolist()
    assert h.counter("MACS") == oh * ow * c * kh * kw


@st.composite
def qadd_params(draw: st.DrawFn) -> dict:
    cmin = draw(st.integers(-128, 127))
    return {"a_offset": draw(st.integers(-(2**15), 2**15 - 1)), "b_offset": draw(st.integers(-(2**15), 2**15 - 1)),
            "left_shift": draw(st.sampled_from([0, 1, 20, 24, 31])),
            "a_multiplier": draw(I32), "b_multiplier": draw(I32), "out_multiplier": draw(I32),
            "a_shift": draw(SHIFT), "b_shift": draw(SHIFT), "out_shift": draw(SHIFT),
            "zero_point": draw(st.integers(-(2**15), 2**15 - 1)),
            "clamp_min": cmin, "clamp_max": draw(st.integers(cmin, 127))}


@settings(max_examples=150, deadline=None)
@given(data=st.data(), p=qadd_params())
def test_qadd_matches_golden(data: st.DataObject, p: dict) -> None:
    h = Harness(SMALL)
    n = data.draw(st.integers(1, 40))
    a, b = int8s(data.draw, (n,)), int8s(data.draw, (n,))
    h.spad_put(0, a)
    h.spad_put(100, b)
    h.submit(h.desc("QADD", a_addr=0, b_addr=100, out_addr=200, count=n, **p))
    assert h.error() == 0
    got = h.npu.scratchpad[200 : 200 + n].view(np.int8).tolist()
    assert got == [golden_qadd(int(x), int(y), p) for x, y in zip(a, b, strict=True)]


def test_qadd_tflite_parameters_in_place() -> None:
    """The ResNet-8 style call: left shift 20, output written over input a."""
    h = Harness(SMALL)
    a = np.arange(-128, 128, dtype=np.int8)
    b = a[::-1].copy()
    p = {"a_offset": 5, "b_offset": -3, "left_shift": 20, "a_multiplier": 1 << 30, "b_multiplier": 1518500250,
         "out_multiplier": 1300000000, "a_shift": 0, "b_shift": -1, "out_shift": -19, "zero_point": -7,
         "clamp_min": -128, "clamp_max": 127}
    h.spad_put(0, a)
    h.spad_put(512, b)
    h.submit(h.desc("QADD", a_addr=0, b_addr=512, out_addr=0, count=256, **p))
    assert h.npu.scratchpad[:256].view(np.int8).tolist() == [golden_qadd(int(x), int(y), p) for x, y in zip(a, b, strict=True)]


def test_new_command_errors() -> None:
    cases = [
        ("DWCONV", {"h": 2, "w": 2, "c": 1, "kh": 3, "kw": 1, "sh": 1, "sw": 1}, "BAD_ARG"),  # window > input
        ("DWCONV", {"h": 2, "w": 2, "c": 1, "kh": 1, "kw": 1, "sh": 0, "sw": 1}, "BAD_ARG"),  # zero stride
        ("DWCONV", {"h": 2, "w": 2, "c": 1, "kh": 1, "kw": 1, "sh": 1, "sw": 1, "acc_addr": 2}, "ALIGN"),
        ("DWCONV", {"in_addr": 3500, "h": 32, "w": 32, "c": 1, "kh": 1, "kw": 1, "sh": 1, "sw": 1}, "SRAM_RANGE"),
        ("QADD", {"count": 4, "a_shift": 32, "clamp_max": 127}, "BAD_ARG"),
        ("QADD", {"count": 4, "left_shift": 32, "clamp_max": 127}, "BAD_ARG"),
        ("QADD", {"count": 4, "clamp_min": 5, "clamp_max": 4}, "BAD_ARG"),
        ("QADD", {"count": 1000, "out_addr": 3500, "clamp_max": 127}, "SRAM_RANGE"),
    ]
    for name, fields, err in cases:
        h = Harness(SMALL)
        before = h.npu.scratchpad.copy(), h.npu.accumulator.copy()
        h.submit(h.desc(name, **fields))
        assert h.error() == ERRORS[err][0], (name, fields)
        assert (h.npu.scratchpad == before[0]).all() and (h.npu.accumulator == before[1]).all()


def test_postproc_huge_n_without_rows_allocates_nothing() -> None:
    """Issue 17 N2: m = 0, n = 0xFFFFFFFF used to allocate a 16 GiB bias array before checking n."""
    h = Harness(SMALL)
    tracemalloc.start()
    try:
        h.submit(h.desc("POSTPROC", m=0, n=0xFFFF_FFFF, multiplier=1 << 30, shift=1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert h.error() == 0  # zero rows: a legal no-op
    assert peak < 1 << 20
    h.submit(h.desc("POSTPROC", bias_addr=0x8000_0000, m=0, n=0xFFFF_FFFF, multiplier=1 << 30, shift=1))
    assert h.error() == ERRORS["DRAM_RANGE"][0]  # a bias of 16 GiB cannot be in RAM
