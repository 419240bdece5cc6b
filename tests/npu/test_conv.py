"""A small convolution the way firmware does it: im2col by 2-D DMA (overlapping source rows), one MVM.

The im2col matrix has one row per output pixel and kh*kw*C columns. For each output row y and kernel
row ky, one DMA copies OW rows of kw*C bytes, input stride C (overlapping windows), into column block
ky of the im2col rows: 3*OH DMAs for a 3x3 kernel.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from .harness import DATA, Harness
from .strategies import SMALL, int8s
from .test_matrix import load_weights

OUT = DATA + 0x4000
IMG = DATA + 0x2000  # load_weights stages W at DATA


def conv_golden(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """out[y][x][o] = sum over ky, kx, c of in[y+ky][x+kx][c] * w[ky][kx][c][o] (valid, stride 1)."""
    h, wd, c = x.shape
    kh, kw, _, co = w.shape
    out = np.zeros((h - kh + 1, wd - kw + 1, co), dtype=np.int64)
    for y in range(out.shape[0]):
        for xx in range(out.shape[1]):
            for o in range(co):
                out[y, xx, o] = sum(int(x[y + u, xx + v, ch]) * int(w[u, v, ch, o])
                                    for u in range(kh) for v in range(kw) for ch in range(c))
    return out


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_conv_by_im2col_dma_and_mvm(data: st.DataObject) -> None:
    h = Harness(SMALL)
    hh, ww, c = data.draw(st.integers(3, 6)), data.draw(st.integers(3, 6)), data.draw(st.integers(1, 2))
    co = data.draw(st.integers(1, 5))
    x, w = int8s(data.draw, (hh, ww, c)), int8s(data.draw, (3, 3, c, co))
    oh, ow, cols = hh - 2, ww - 2, 9 * c
    h.put(IMG, x)
    load_weights(h, w.reshape(cols, co), 0, False, False, 0)
    dmas = [h.desc("DMA_IN", dram_addr=IMG + ((y + ky) * ww) * c, sram_addr=(y * ow) * cols + ky * 3 * c,
                   rows=ow, row_bytes=3 * c, dram_stride=c, sram_stride=cols)
            for y in range(oh) for ky in range(3)]
    mvm = h.desc("MVM", tile=0, m=oh * ow, k=cols, n=co, act_addr=0, act_stride=cols, acc_addr=0, acc_stride=4 * co)
    out = h.desc("DMA_OUT", flags=2, dram_addr=OUT, sram_addr=0, rows=1, row_bytes=4 * oh * ow * co)
    h.submit(*dmas, mvm, out)
    assert h.error() == 0
    got = h.get(OUT, oh * ow * co, np.int32).reshape(oh, ow, co)
    np.testing.assert_array_equal(got, conv_golden(x, w))
