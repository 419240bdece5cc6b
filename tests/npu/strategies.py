"""Hypothesis strategies biased toward the values that break integer datapaths."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import strategies as st

from emu.npu_device import NpuConfig
from emu.npu_device.regs import DESC_BYTES, LAYOUTS

SMALL = NpuConfig.load(None).replace(tiles=8, rows=8, cols=8, scratchpad_bytes=4096, accumulator_bytes=4096)


def int_array(draw: st.DrawFn, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    """Random ints in [lo, hi]; often all-extreme or mixed with the extremes."""
    mode = draw(st.sampled_from(["random", "extreme", "min", "max"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if mode == "min":
        return np.full(shape, lo, dtype=np.int64)
    if mode == "max":
        return np.full(shape, hi, dtype=np.int64)
    values = rng.integers(lo, hi + 1, size=shape)
    if mode == "extreme":
        values = np.where(rng.random(shape) < 0.5, lo, hi) * np.where(rng.random(shape) < 0.2, 0, 1)
        values = np.where(values == 0, rng.integers(lo, hi + 1, size=shape), values)
    return values


def int8s(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    return int_array(draw, shape, -128, 127).astype(np.int8)


FIELD_VALUE = st.one_of(st.integers(0, 40), st.integers(0, 2**64 - 1), st.sampled_from([0x8001_0000, 0x8000_0000]))


@st.composite
def descriptor(draw: st.DrawFn) -> bytes:
    """Mostly well-typed descriptors with wild field values, sometimes pure noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(min_size=DESC_BYTES, max_size=DESC_BYTES))
    layout = draw(st.sampled_from(LAYOUTS))
    raw = bytearray(DESC_BYTES)
    for f in layout.fields:
        bits = 8 * f.size
        value = draw(FIELD_VALUE) % (1 << bits)
        struct.pack_into("<" + f.fmt.upper(), raw, f.offset, value)
    raw[0] = layout.opcode
    return bytes(raw)
