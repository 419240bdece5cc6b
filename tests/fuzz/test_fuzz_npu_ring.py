"""Fuzz the NPU's descriptor rings: random register writes and random descriptors (mostly
well-typed with wild field values, sometimes pure noise).  Nothing firmware writes makes the
device raise; a failing command latches its error code with the failing descriptor's address
and touches nothing; the device's state round-trips through get/set.

Every example runs under :func:`fuzzing.no_hang` (10 s): one descriptor's host work is bounded
(docs/npu.md, "Limits of one command"), so an alarm inside a command is a finding; the device
records it as an internal error, which the checks below report."""

from __future__ import annotations

import numpy as np
import pytest
from fuzzing import FUZZ, PROFILE, Campaign, no_hang
from hypothesis import given, settings
from hypothesis import strategies as st
from npu.harness import RING, Harness
from npu.strategies import SMALL, descriptor
from support.state import state_equal

from emu.npu_device import NpuConfig
from emu.npu_device.regs import DESC_BYTES, REG, REGISTERS

ACTION = st.one_of(
    st.tuples(st.just("write"), st.sampled_from([r.offset for r in REGISTERS] + [0x0F0, 0xFFC]),
              st.sampled_from([1, 2, 4, 8]), st.integers(0, 2**64 - 1)),
    st.tuples(st.just("read"), st.integers(0, 0xFFF), st.sampled_from([1, 2, 4, 8]), st.just(0)),
    st.tuples(st.just("time"), st.integers(0, 5000), st.just(0), st.just(0)),
    st.tuples(st.just("submit"), st.integers(1, 8), st.just(0), st.just(0)),
)


def test_fuzz_npu_ring_random_writes_and_descriptors_never_raise(campaign: Campaign) -> None:
    @settings(FUZZ, max_examples=FUZZ.max_examples * 4)
    @given(descs=st.lists(descriptor(), min_size=1, max_size=64), actions=st.lists(ACTION, max_size=30))
    def fuzzer(descs: list[bytes], actions: list[tuple]) -> None:
        campaign.tried()
        with no_hang(10):
            ring(descs, actions)

    def ring(descs: list[bytes], actions: list[tuple]) -> None:
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
        state = h.npu.get_state()
        h.npu.set_state(state)
        assert state_equal(h.npu.get_state(), state)

    campaign.run(fuzzer)


@pytest.mark.parametrize("config", [SMALL, NpuConfig.load(None)], ids=["small", "default"])
def test_fuzz_npu_ring_aborted_command_latches_its_address_and_touches_nothing(campaign: Campaign,
                                                                                config: NpuConfig) -> None:
    """Whatever a descriptor says: either it runs, or it fails with ERR_DESC = its address and RAM,
    scratchpad, accumulator and tiles are exactly as before.  On the default configuration too,
    where more large commands are legal: no_hang holds each to 10 s (docs/npu.md bounds them
    to ~0.1 s)."""
    quick = 5 if config is SMALL else 2  # fuzz-quick: 200 / 80 examples, about 2 s / 1.5 s
    @settings(FUZZ, max_examples=FUZZ.max_examples * (quick if PROFILE == "fuzz-quick" else 1))
    @given(d=descriptor())
    def fuzzer(d: bytes) -> None:
        campaign.tried()
        h = Harness(config, ram_size=1 << 20)
        rng = np.random.default_rng(1)
        h.ram.view(0x8001_0000, 0x10000)[:] = rng.integers(0, 256, 0x10000, dtype=np.uint8)
        h.npu.scratchpad[:] = rng.integers(0, 256, h.npu.scratchpad.size, dtype=np.uint8)
        before = (h.ram.buf.tobytes(), h.npu.scratchpad.tobytes(), h.npu.accumulator.tobytes(),
                  h.npu.tiles.tobytes())
        with no_hang(10):
            h.submit(d)
        if h.error():
            assert h.reg("ERR_DESC_LO") | h.reg("ERR_DESC_HI") << 32 == RING
            after = (h.ram.buf.tobytes(), h.npu.scratchpad.tobytes(), h.npu.accumulator.tobytes(),
                     h.npu.tiles.tobytes())
            ring = slice(RING - 0x8000_0000, RING - 0x8000_0000 + DESC_BYTES)
            assert after[0][: ring.start] == before[0][: ring.start]
            assert after[0][ring.stop :] == before[0][ring.stop :]
            assert after[1:] == before[1:]
        assert not h.npu.internal_errors

    campaign.run(fuzzer)


def test_fuzz_npu_ring_in_batches_gives_the_same_result(campaign: Campaign) -> None:
    """A ring runs in batches that look at the machine's stop request (``must_yield``) in between.
    Never asked to stop, the batches leave the device exactly as one uninterrupted run (state,
    counters, timing); stopped after every batch (Ctrl-C held down), the rest of the ring runs
    when time moves on, with the same functional result and error."""
    @FUZZ
    @given(descs=st.lists(descriptor(), min_size=1, max_size=64), seed=st.integers(0, 2**32 - 1))
    def fuzzer(descs: list[bytes], seed: int) -> None:
        campaign.tried()
        runs = []
        for hook in (None, lambda: False, lambda: True):
            h = Harness(SMALL, ram_size=1 << 20)
            h.npu.must_yield = hook
            rng = np.random.default_rng(seed)
            h.ram.view(0x8001_0000, 0x10000)[:] = rng.integers(0, 256, 0x10000, dtype=np.uint8)
            h.npu.scratchpad[:] = rng.integers(0, 256, h.npu.scratchpad.size, dtype=np.uint8)
            with no_hang(10):
                h.submit(*descs)
            assert not h.npu.internal_errors and not h.npu.deferred
            runs.append(h)
        plain, batched, stopped = runs
        assert state_equal(batched.npu.get_state(), plain.npu.get_state())
        assert batched.npu.counters() == plain.npu.counters()
        for h in (batched, stopped):
            assert h.error() == plain.error() and h.reg("RING_HEAD") == plain.reg("RING_HEAD")
            assert h.ram.buf.tobytes() == plain.ram.buf.tobytes()
            assert h.npu.scratchpad.tobytes() == plain.npu.scratchpad.tobytes()
            assert h.npu.accumulator.tobytes() == plain.npu.accumulator.tobytes()
            assert h.npu.tiles.tobytes() == plain.npu.tiles.tobytes()

    campaign.run(fuzzer)
