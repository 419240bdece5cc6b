"""Nothing firmware writes makes the device raise: random register writes and random descriptors."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emu.npu_device.regs import DESC_BYTES, LAYOUTS, REG, REGISTERS

from .harness import RING, Harness
from .strategies import SMALL

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


ACTION = st.one_of(
    st.tuples(st.just("write"), st.sampled_from([r.offset for r in REGISTERS] + [0x0F0, 0xFFC]),
              st.sampled_from([1, 2, 4, 8]), st.integers(0, 2**64 - 1)),
    st.tuples(st.just("read"), st.integers(0, 0xFFF), st.sampled_from([1, 2, 4, 8]), st.just(0)),
    st.tuples(st.just("time"), st.integers(0, 5000), st.just(0), st.just(0)),
    st.tuples(st.just("submit"), st.integers(1, 8), st.just(0), st.just(0)),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(descs=st.lists(descriptor(), min_size=1, max_size=64), actions=st.lists(ACTION, max_size=30))
def test_random_writes_and_descriptors_never_raise(descs: list[bytes], actions: list[tuple]) -> None:
    h = Harness(SMALL)
    rng = np.random.default_rng(len(descs))
    h.ram.view(0x8001_0000, 0x10000)[:] = rng.integers(0, 256, 0x10000, dtype=np.uint8)
    for i, d in enumerate(descs):
        h.ram.write(RING + i * DESC_BYTES, d)
    h.w32(REG["RING_TAIL"], len(descs))
    h.w32(REG["DOORBELL"], 1)
    for kind, a, b, c in actions:
        if kind == "write":
            h.npu.write(min(a, 0x1000 - b), b, c % (1 << (8 * b)))
        elif kind == "read":
            value = h.npu.read(min(a, 0x1000 - b), b)
            assert 0 <= value < 1 << (8 * b)
        elif kind == "time":
            h.advance(a)
        else:
            tail = h.reg("RING_TAIL")
            h.w32(REG["RING_TAIL"], (tail + a) & 0xFFFF_FFFF)
            h.w32(REG["DOORBELL"], 0)
    h.wait_idle()
    h.npu.status()
    h.npu.queue()
    h.npu.counters()
    h.npu.stats_lines()
    assert not h.npu.internal_errors


@settings(max_examples=200, deadline=None)
@given(d=descriptor())
def test_an_aborted_command_touches_nothing(d: bytes) -> None:
    """Whatever a descriptor says: either it runs, or it fails and RAM, scratchpad, accumulator and tiles
    are exactly as before."""
    h = Harness(SMALL, ram_size=1 << 20)
    rng = np.random.default_rng(1)
    h.ram.view(0x8001_0000, 0x10000)[:] = rng.integers(0, 256, 0x10000, dtype=np.uint8)
    h.npu.scratchpad[:] = rng.integers(0, 256, h.npu.scratchpad.size, dtype=np.uint8)
    before = (h.ram.buf.tobytes(), h.npu.scratchpad.tobytes(), h.npu.accumulator.tobytes(), h.npu.tiles.tobytes())
    h.submit(d)
    if h.error():
        after = (h.ram.buf.tobytes(), h.npu.scratchpad.tobytes(), h.npu.accumulator.tobytes(), h.npu.tiles.tobytes())
        ring = slice(RING - 0x8000_0000, RING - 0x8000_0000 + DESC_BYTES)
        assert after[0][: ring.start] == before[0][: ring.start] and after[0][ring.stop :] == before[0][ring.stop :]
        assert after[1:] == before[1:]
    assert not h.npu.internal_errors
