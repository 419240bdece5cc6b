"""DMA_IN / DMA_OUT: 2-D strided copies equal a row-by-row golden copy, for both on-chip memories."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from .harness import ACC, DATA, Harness
from .strategies import SMALL


def golden_copy(src: bytes, src_off: int, src_stride: int, dst: bytearray, dst_off: int, dst_stride: int,
                rows: int, row_bytes: int) -> None:
    for r in range(rows):
        for b in range(row_bytes):
            dst[dst_off + r * dst_stride + b] = src[src_off + r * src_stride + b]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_dma_round_trip(data: st.DataObject) -> None:
    h = Harness(SMALL)
    acc = data.draw(st.booleans(), "accumulator")
    align = 4 if acc else 1
    rows = data.draw(st.integers(0, 6), "rows")
    row_bytes = align * data.draw(st.integers(0, 24 // align), "row_bytes")
    dram_stride = align * data.draw(st.integers(row_bytes // align, 40 // align), "dram_stride")
    sram_stride = align * data.draw(st.integers(row_bytes // align, 40 // align), "sram_stride")
    sram_addr = align * data.draw(st.integers(0, 64), "sram_addr")
    src_addr = DATA + align * data.draw(st.integers(0, 64), "src")
    out_addr = DATA + 0x1000 + align * data.draw(st.integers(0, 64), "dst")
    out_stride = align * data.draw(st.integers(row_bytes // align, 40 // align), "out_stride")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    h.put(DATA, rng.integers(0, 256, 0x2000, dtype=np.uint8))
    before_onchip = (h.npu.accumulator.view(np.uint8) if acc else h.npu.scratchpad).tobytes()
    before_dram = bytearray(h.ram.read(DATA, 0x2000))
    flags = ACC if acc else 0
    h.submit(h.desc("DMA_IN", flags=flags, dram_addr=src_addr, sram_addr=sram_addr, rows=rows, row_bytes=row_bytes,
                    dram_stride=dram_stride, sram_stride=sram_stride),
             h.desc("DMA_OUT", flags=flags, dram_addr=out_addr, sram_addr=sram_addr, rows=rows, row_bytes=row_bytes,
                    dram_stride=out_stride, sram_stride=sram_stride))
    assert h.error() == 0
    onchip = bytearray(before_onchip)
    golden_copy(bytes(before_dram), src_addr - DATA, dram_stride, onchip, sram_addr, sram_stride, rows, row_bytes)
    golden_copy(bytes(onchip), sram_addr, sram_stride, before_dram, out_addr - DATA, out_stride, rows, row_bytes)
    now_onchip = (h.npu.accumulator.view(np.uint8) if acc else h.npu.scratchpad).tobytes()
    assert now_onchip == bytes(onchip)
    assert h.ram.read(DATA, 0x2000) == bytes(before_dram)
    assert h.counter("DMA_IN") == rows * row_bytes == h.counter("DMA_OUT")


def test_overlapping_source_rows_broadcast() -> None:
    """A source stride smaller than the row (here 0) re-reads DRAM: im2col and broadcasts rely on it."""
    h = Harness(SMALL)
    h.put(DATA, np.arange(8, dtype=np.uint8))
    h.submit(h.desc("DMA_IN", dram_addr=DATA, sram_addr=0, rows=3, row_bytes=4, dram_stride=2, sram_stride=4))
    assert h.npu.scratchpad[:12].tolist() == [0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7]
