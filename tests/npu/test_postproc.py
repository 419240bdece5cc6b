"""POSTPROC, ELTWISE, POOL and ARGMAX against the golden models, with extreme and tie-breaking values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.npu_device import postproc
from emu.npu_device.regs import ACTIVATIONS, FLAGS

from . import golden
from .harness import DATA, Harness
from .strategies import SMALL, int8s, int_array

I32 = st.integers(-(2**31), 2**31 - 1)
SHIFT = st.integers(-31, 31)


@st.composite
def act_params(draw: st.DrawFn) -> dict:
    act = draw(st.sampled_from(sorted(ACTIVATIONS.values())))
    zp = draw(st.integers(-128, 127))
    cmin = draw(st.integers(-128, 127))
    cmax = draw(st.integers(cmin if act == 3 else max(zp, -128) if act == 2 else -128, 127))
    return {"act": act, "zero_point": zp, "clamp_min": cmin, "clamp_max": cmax}


@settings(max_examples=300, deadline=None)
@given(x=st.one_of(I32, st.sampled_from([-(2**31), 2**31 - 1, 0, -1, 1])),
       mult=st.one_of(I32, st.sampled_from([-(2**31), 2**31 - 1, 2**30])), shift=SHIFT)
def test_requantize_scalar(x: int, mult: int, shift: int) -> None:
    assert int(postproc.requantize(np.array([x]), mult, shift)[0]) == golden.requant(x, mult, shift)


def test_rounding_ties() -> None:
    """RoundingDivideByPOT rounds ties away from zero: 6/4=1.5->2, -6/4->-2, 2/4->1, -2/4->-1, -1/4->0."""
    assert postproc.rounding_divide_by_pot(np.array([6, -6, 2, -2, -1]), 2).tolist() == [2, -2, 1, -1, 0]
    assert int(postproc.srdhm(np.array([-(2**31)]), -(2**31))[0]) == 2**31 - 1


@settings(max_examples=40, deadline=None)
@given(data=st.data(), a=act_params(), per_channel=st.booleans(), use_bias=st.booleans())
def test_postproc_matches_golden(data: st.DataObject, a: dict, per_channel: bool, use_bias: bool) -> None:
    h = Harness(SMALL)
    m, n = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 12))
    acc = int_array(data.draw, (m, n), -(2**31), 2**31 - 1).astype(np.int32)
    bias = int_array(data.draw, (n,), -(2**31), 2**31 - 1).astype(np.int32) if use_bias else np.zeros(n, np.int32)
    mults = [data.draw(I32) for _ in range(n)] if per_channel else [data.draw(I32)] * n
    shifts = [data.draw(SHIFT) for _ in range(n)] if per_channel else [data.draw(SHIFT)] * n
    acc_stride = 4 * (n + 1)
    for i in range(m):
        h.npu.accumulator[i * (n + 1) : i * (n + 1) + n] = acc[i]
    h.put(DATA, bias)
    h.put(DATA + 0x100, np.array(list(zip(mults, shifts, strict=True)), dtype=np.int32))
    h.submit(h.desc("POSTPROC", bias_addr=DATA if use_bias else 0, quant_addr=DATA + 0x100 if per_channel else 0,
                    m=m, n=n, acc_addr=0, acc_stride=acc_stride, out_addr=16, out_stride=n + 2,
                    multiplier=mults[0], shift=shifts[0], **a))
    assert h.error() == 0
    lo, hi = golden.act_bounds(a["act"], a["zero_point"], a["clamp_min"], a["clamp_max"])
    expected = golden.postproc(acc, bias.tolist(), mults, shifts, a["zero_point"], lo, hi)
    got = np.stack([h.npu.scratchpad[16 + i * (n + 2) : 16 + i * (n + 2) + n].view(np.int8) for i in range(m)])
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), a=act_params(), op=st.integers(0, 2))
def test_eltwise_matches_golden(data: st.DataObject, a: dict, op: int) -> None:
    h = Harness(SMALL)
    m, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 10))
    x, y = int8s(data.draw, (m, n)), int8s(data.draw, (m, n))
    a_off, b_off = data.draw(st.integers(-(2**15), 2**15 - 1)), data.draw(st.integers(-(2**15), 2**15 - 1))
    mult, shift = data.draw(I32), data.draw(SHIFT)
    for i in range(m):
        h.spad_put(i * 16, x[i])
        h.spad_put(512 + i * 12, y[i])
    h.submit(h.desc("ELTWISE", a_addr=0, a_stride=16, b_addr=512, b_stride=12, out_addr=1024, out_stride=n, m=m, n=n,
                    multiplier=mult, shift=shift, op=op, a_offset=a_off, b_offset=b_off, **a))
    assert h.error() == 0
    lo, hi = golden.act_bounds(a["act"], a["zero_point"], a["clamp_min"], a["clamp_max"])
    expected = golden.eltwise(op, x, y, a_off, b_off, mult, shift, a["zero_point"], lo, hi)
    np.testing.assert_array_equal(h.npu.scratchpad[1024 : 1024 + m * n].view(np.int8).reshape(m, n), expected)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), op=st.integers(0, 1))
def test_pool_matches_golden(data: st.DataObject, op: int) -> None:
    h = Harness(SMALL)
    hh, ww, c = data.draw(st.integers(1, 7)), data.draw(st.integers(1, 7)), data.draw(st.integers(1, 4))
    kh, kw = data.draw(st.integers(1, hh)), data.draw(st.integers(1, ww))
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    x = int8s(data.draw, (hh, ww, c))
    h.spad_put(8, x)
    h.submit(h.desc("POOL", in_addr=8, out_addr=1024, h=hh, w=ww, c=c, kh=kh, kw=kw, sh=sh, sw=sw, op=op))
    assert h.error() == 0
    expected = golden.pool(op, x, kh, kw, sh, sw)
    np.testing.assert_array_equal(h.npu.scratchpad[1024 : 1024 + expected.size].view(np.int8), expected.ravel())


def test_avg_pool_rounds_half_away_from_zero() -> None:
    h = Harness(SMALL)
    h.spad_put(0, np.array([1, 2, -1, -2, 1, 0, -3, 0], dtype=np.int8).reshape(1, 8, 1))  # pairs: 1.5 -1.5 .5 -1.5
    h.submit(h.desc("POOL", in_addr=0, out_addr=64, h=1, w=8, c=1, kh=1, kw=2, sh=1, sw=2, op=1))
    assert h.npu.scratchpad[64:68].view(np.int8).tolist() == [2, -2, 1, -2]


@pytest.mark.parametrize("acc", [False, True])
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_argmax_matches_golden(acc: bool, data: st.DataObject) -> None:
    h = Harness(SMALL)
    m, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 16))
    if acc:
        x = int_array(data.draw, (m, n), -(2**31), 2**31 - 1).astype(np.int32)
        for i in range(m):
            h.npu.accumulator[i * 16 : i * 16 + n] = x[i]
        stride = 64
    else:
        x = int_array(data.draw, (m, n), -128, 127).astype(np.int8)
        for i in range(m):
            h.spad_put(i * 16, x[i])
        stride = 16
    h.submit(h.desc("ARGMAX", flags=FLAGS["ACC"] if acc else 0, dram_addr=DATA, src_addr=0, src_stride=stride, m=m, n=n))
    assert h.error() == 0
    assert h.get(DATA, m, np.int32).tolist() == golden.argmax(x)
