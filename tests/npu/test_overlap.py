"""Concurrent engines: the scoreboard overlaps independent commands and orders dependent ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from emu.npu_device.regs import REG

from .harness import DATA, IRQ, Harness
from .strategies import SMALL


def spans(h: Harness) -> list[tuple[str, int, int]]:
    return [(r.op, r.start_ns, r.end_ns) for r in h.npu.trace.records]


def test_independent_dma_overlaps_an_mvm_and_dependent_one_waits() -> None:
    h = Harness(SMALL)
    mvm = h.desc("MVM", tile=0, m=64, k=8, n=8, act_addr=0, act_stride=8, acc_addr=0, acc_stride=32)
    other = h.desc("DMA_IN", dram_addr=DATA, sram_addr=1024, rows=1, row_bytes=256)  # not the MVM's input
    same = h.desc("DMA_IN", dram_addr=DATA, sram_addr=0, rows=1, row_bytes=256)  # overwrites its input (WAR)
    h.submit(mvm, other, same, h.desc("FENCE", flags=IRQ), wait=False)
    (_, m0, m1), (_, o0, _), (_, s0, _), (_, f0, _) = spans(h)
    assert o0 < m1  # overlaps the MVM on the load engine
    assert s0 >= m1 and s0 >= o0  # waits for the MVM (WAR) and the load engine
    assert f0 >= max(end for _, _, end in spans(h)[:3])  # FENCE: a barrier
    h.wait_idle()
    assert h.reg("RING_HEAD") == 4 and h.irq.level


def test_completion_is_in_order() -> None:
    """RING_HEAD counts in order: a short command behind a long one on another engine completes with it."""
    h = Harness(SMALL)
    long = h.desc("MVM", tile=0, m=32, k=8, n=8, act_addr=0, act_stride=0, acc_addr=0, acc_stride=32)
    short = h.desc("DMA_IN", dram_addr=DATA, sram_addr=2048, rows=1, row_bytes=8)
    h.submit(long, short, wait=False)
    (_, _, long_end), (_, _, short_end) = spans(h)
    assert short_end < long_end
    h.advance(short_end - h.clock.now_ns())
    assert h.reg("RING_HEAD") == 0
    h.advance(long_end - h.clock.now_ns())
    assert h.reg("RING_HEAD") == 2


def test_raw_through_the_accumulator_and_dram() -> None:
    """POSTPROC waits for the MVM writing its accumulator rows; DMA_OUT for the POSTPROC; a DMA_IN of
    the DRAM a DMA_OUT writes waits for it."""
    h = Harness(SMALL)
    h.submit(h.desc("MVM", tile=0, m=4, k=8, n=8, act_addr=0, act_stride=8, acc_addr=0, acc_stride=32),
             h.desc("POSTPROC", m=4, n=8, acc_addr=0, acc_stride=32, out_addr=512, out_stride=8,
                    multiplier=1 << 30, shift=1),
             h.desc("DMA_OUT", dram_addr=DATA, sram_addr=512, rows=4, row_bytes=8),
             h.desc("DMA_IN", dram_addr=DATA + 8, sram_addr=1024, rows=1, row_bytes=8), wait=False)
    s = spans(h)
    for (_, _, before), (_, start, _) in zip(s, s[1:], strict=False):
        assert start >= before
    assert h.error() == 0


def test_dwconv_and_qadd_overlap_other_engines_and_wait_for_their_operands() -> None:
    """DWCONV and QADD run on the vector engine with declared operands (no longer barriers): a DMA
    into another buffer and an MVM overlap them; a DMA_IN overwriting a DWCONV input waits for it
    (WAR), a QADD waits for the DMA_IN writing its inputs (RAW)."""
    h = Harness(SMALL)
    dw = h.desc("DWCONV", in_addr=0, w_addr=1024, acc_addr=1024, h=8, w=8, c=16, kh=3, kw=3, sh=1, sw=1)
    other = h.desc("DMA_IN", dram_addr=DATA, sram_addr=2048, rows=1, row_bytes=512)  # not a DWCONV operand
    mvm = h.desc("MVM", tile=0, m=16, k=8, n=8, act_addr=3072, act_stride=8, acc_addr=0, acc_stride=32)
    war = h.desc("DMA_IN", dram_addr=DATA, sram_addr=0, rows=1, row_bytes=64)  # overwrites the DWCONV input
    qadd = h.desc("QADD", a_addr=2048, b_addr=2304, out_addr=3584, count=256, a_multiplier=1 << 30,
                  b_multiplier=1 << 30, out_multiplier=1 << 30, a_shift=1, b_shift=1, out_shift=1,
                  clamp_min=-128, clamp_max=127)  # reads what `other` loads
    h.submit(dw, other, mvm, war, qadd, wait=False)
    (_, d0, d1), (_, o0, o1), (_, m0, _), (_, w0, _), (_, q0, _) = spans(h)
    assert o0 < d1 and m0 < d1  # the load DMA and the MAC array run during the DWCONV
    assert w0 >= d1  # WAR on the DWCONV input
    assert q0 >= o1 and q0 >= d1  # RAW on its inputs; the vector engine is in order
    h.wait_idle()
    assert h.error() == 0


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_double_buffered_firmware_is_faster_and_the_trace_shows_overlap(arch: str, firmware, tmp_path) -> None:
    trace = tmp_path / "overlap.json"
    proc = subprocess.run([sys.executable, "-m", "emu.cli", "run", "--deterministic", "--npu-trace", str(trace),
                           str(firmware("npu_overlap", arch))], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    serial, overlap = map(int, re.search(r"serialized (\d+) cycles, double-buffered (\d+) cycles",
                                         proc.stdout).groups())
    assert overlap < 0.75 * serial
    # The depthwise sequence: DWCONV on the vector unit overlaps the DMAs of the other buffer (as a
    # barrier, DWCONV's old behaviour, the double-buffered run took 39965 of 45320 cycles: 0.88).
    dw_serial, dw_overlap = map(int, re.search(r"depthwise serialized (\d+) cycles, double-buffered (\d+) cycles",
                                               proc.stdout).groups())
    assert dw_overlap < 0.85 * dw_serial
    events = [e for e in json.loads(trace.read_text())["traceEvents"] if e["ph"] == "X"]
    loads = [e for e in events if e["tid"] == 1]
    macs = [e for e in events if e["tid"] == 2]
    dwconvs = [e for e in events if e["name"] == "DWCONV"]
    assert any(a["ts"] < b["ts"] + b["dur"] and b["ts"] < a["ts"] + a["dur"] for a in loads for b in macs)
    assert dwconvs and all(e["tid"] == 3 for e in dwconvs)  # the vector track
    assert any(a["ts"] < b["ts"] + b["dur"] and b["ts"] < a["ts"] + a["dur"] for a in loads for b in dwconvs)


def test_a_reset_forgets_the_engines() -> None:
    h = Harness(SMALL)
    h.submit(h.desc("MVM", tile=0, m=32, k=8, n=8, act_addr=0, act_stride=0, acc_addr=0, acc_stride=32),
             wait=False)
    h.w32(REG["CTRL"], 3)
    h.submit(h.desc("FENCE"), wait=False)
    (_, start, _), = spans(h)[1:]
    assert start == h.clock.now_ns()
