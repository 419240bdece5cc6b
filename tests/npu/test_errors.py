"""Every error class: command aborted, code and descriptor latched, error IRQ, nothing outside touched."""

from __future__ import annotations

import numpy as np
import pytest

from emu.npu_device.regs import BITS, DESC_BYTES, ERRORS, FLAGS, REG

from .harness import ACC, DATA, RING, Harness
from .strategies import SMALL

END = 0x8000_0000 + (8 << 20)  # first byte past the harness RAM

CASES = {
    "OPCODE": [dict(raw=bytes(64)), dict(raw=b"\xff" + bytes(63))],
    "ALIGN": [dict(cmd="DMA_IN", flags=ACC, dram_addr=DATA + 2, sram_addr=0, rows=1, row_bytes=4),
              dict(cmd="DMA_OUT", flags=ACC, dram_addr=DATA, sram_addr=2, rows=1, row_bytes=4),
              dict(cmd="DMA_IN", flags=ACC, dram_addr=DATA, sram_addr=0, rows=1, row_bytes=6),
              dict(cmd="POSTPROC", bias_addr=DATA + 1, m=1, n=1, acc_addr=0, out_addr=0),
              dict(cmd="MVM", tile=0, m=1, k=1, n=1, acc_addr=2)],
    "DRAM_RANGE": [dict(cmd="DMA_IN", dram_addr=0x1000, sram_addr=0, rows=1, row_bytes=4),
                   dict(cmd="DMA_OUT", dram_addr=END - 2, sram_addr=0, rows=1, row_bytes=4),
                   dict(cmd="DMA_IN", dram_addr=DATA, sram_addr=0, rows=3, row_bytes=4, dram_stride=1 << 31,
                        sram_stride=4),
                   dict(cmd="LOAD_WEIGHTS", dram_addr=(1 << 64) - 4, tile=0, k=1, n=8, dram_stride=8),
                   dict(cmd="ARGMAX", dram_addr=END, src_addr=0, m=1, n=4)],
    "SRAM_RANGE": [dict(cmd="DMA_IN", dram_addr=DATA, sram_addr=4090, rows=1, row_bytes=8),
                   dict(cmd="DMA_IN", dram_addr=DATA, sram_addr=0, rows=2, row_bytes=8, dram_stride=8,
                        sram_stride=4092),
                   dict(cmd="MVM", tile=0, m=2, k=8, n=8, act_addr=4090, act_stride=8, acc_addr=0, acc_stride=32),
                   dict(cmd="MVM_T", tile=0, m=1, k=8, n=8, act_addr=0, act_stride=8, acc_addr=4092),
                   dict(cmd="POOL", in_addr=4000, out_addr=0, h=10, w=10, c=1, kh=1, kw=1, sh=1, sw=1)],
    "TILE_RANGE": [dict(cmd="LOAD_WEIGHTS", dram_addr=DATA, tile=8, k=1, n=1, dram_stride=1),
                   dict(cmd="LOAD_WEIGHTS", dram_addr=DATA, tile=5, k=16, n=16, dram_stride=16),
                   dict(cmd="MVM", tile=0, m=1, k=72, n=1, act_stride=72, acc_stride=4),
                   dict(cmd="WEIGHT_UPDATE", tile=65535, m=1, k=1, n=1)],
    "BAD_ARG": [dict(cmd="WEIGHT_UPDATE", tile=0, m=1, k=1, n=1, shift=32),
                dict(cmd="POSTPROC", m=1, n=1, act=9),
                dict(cmd="POSTPROC", m=1, n=1, shift=40),
                dict(cmd="POSTPROC", m=1, n=1, act=3, clamp_min=5, clamp_max=4),
                dict(cmd="ELTWISE", m=1, n=1, op=7),
                dict(cmd="POOL", h=2, w=2, c=1, kh=3, kw=1, sh=1, sw=1),
                dict(cmd="POOL", h=2, w=2, c=1, kh=1, kw=1, sh=0, sw=1),
                dict(cmd="DMA_IN", dram_addr=DATA, sram_addr=0, rows=2, row_bytes=8, dram_stride=8, sram_stride=4),
                dict(cmd="ARGMAX", dram_addr=DATA, m=1, n=0)],
}
PARAMS = [(name, case) for name, cases in CASES.items() for case in cases]


def build(h: Harness, case: dict) -> bytes:
    case = dict(case)
    if "raw" in case:
        return case["raw"]
    return h.desc(case.pop("cmd"), **case)


def state(h: Harness) -> tuple:
    return (h.ram.buf.tobytes(), h.npu.scratchpad.tobytes(), h.npu.accumulator.tobytes(), h.npu.tiles.tobytes())


@pytest.mark.parametrize("name, case", PARAMS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(PARAMS)])
def test_error_class(name: str, case: dict) -> None:
    h = Harness(SMALL)
    h.put(DATA, np.arange(256, dtype=np.uint8))
    ok = h.desc("DMA_IN", flags=FLAGS["IRQ"], dram_addr=DATA, sram_addr=0, rows=1, row_bytes=16)
    h.submit(ok)
    h.w32(REG["INT_STATUS"], 0xFF)
    assert h.npu.scratchpad[:16].tolist() == list(range(16))
    before = state(h)
    bad = build(h, case)
    after = h.desc("DMA_IN", dram_addr=DATA, sram_addr=100, rows=1, row_bytes=16)
    h.submit(bad, after)
    assert state(h)[1:] == before[1:]  # nothing on chip touched, and the command after it did not run
    assert h.ram.buf.tobytes()[: RING - 0x8000_0000] == before[0][: RING - 0x8000_0000]
    assert h.error() == ERRORS[name][0]
    addr = h.reg("ERR_DESC_LO") | h.reg("ERR_DESC_HI") << 32
    assert addr == RING + 1 * DESC_BYTES
    assert h.reg("INT_STATUS") == BITS["INT_ERROR"]
    assert h.irq.level
    assert h.reg("STATUS") & BITS["STATUS_ERROR"]
    assert h.reg("RING_HEAD") == 1  # the failing descriptor is not completed
    assert not h.npu.internal_errors
    # Recovery: reset the queue, which keeps the memories, and run again.
    h.w32(REG["CTRL"], BITS["CTRL_ENABLE"] | BITS["CTRL_RESET"])
    assert h.error() == 0 and not h.irq.level and h.reg("RING_HEAD") == 0
    h.submit(after)
    assert h.error() == 0 and h.npu.scratchpad[100:116].tolist() == list(range(16))


def test_ring_overflow() -> None:
    h = Harness(SMALL, ring_slots=4)
    h.w32(REG["RING_TAIL"], 5)  # 5 queued descriptors in a 4-slot ring
    h.w32(REG["DOORBELL"], 1)
    h.wait_idle()
    assert h.error() == ERRORS["RING_OVERFLOW"][0] and h.irq.level
    assert h.reg("RING_HEAD") == 0


def test_ring_overflow_counts_uncompleted_commands() -> None:
    """Slots are free only once their command completes (in virtual time)."""
    h = Harness(SMALL, ring_slots=4)
    fence = h.desc("FENCE")
    h.submit(fence, fence, fence, wait=False)
    h.submit(fence, fence, wait=False)  # 5 not completed > 4 slots
    h.wait_idle()
    assert h.error() == ERRORS["RING_OVERFLOW"][0]
    assert h.reg("RING_HEAD") == 3


def test_ring_base_checks() -> None:
    h = Harness(SMALL)
    h.w32(REG["RING_BASE_LO"], (RING + 8) & 0xFFFF_FFFF)
    h.submit(h.desc("FENCE"))
    assert h.error() == ERRORS["ALIGN"][0]
    h = Harness(SMALL)
    h.w32(REG["RING_SIZE"], 1 << 20)  # 64 MiB ring in 8 MiB of RAM
    h.submit(h.desc("FENCE"))
    assert h.error() == ERRORS["DRAM_RANGE"][0]


def test_error_surfaces_at_modeled_time() -> None:
    """The error becomes visible when the failing command would start, after the commands before it."""
    h = Harness(SMALL)
    long_dma = h.desc("DMA_IN", dram_addr=DATA, sram_addr=0, rows=1, row_bytes=4000)
    h.submit(long_dma, bytes(64), wait=False)
    assert h.error() == 0 and not h.irq.level and h.reg("STATUS") & BITS["STATUS_BUSY"]
    h.wait_idle()
    assert h.error() == ERRORS["OPCODE"][0] and h.irq.level


def test_error_interrupt_masked() -> None:
    h = Harness(SMALL)
    h.w32(REG["INT_ENABLE"], BITS["INT_DONE"])
    h.submit(bytes(64))
    assert h.error() == ERRORS["OPCODE"][0] and not h.irq.level
    assert h.reg("INT_STATUS") == BITS["INT_ERROR"]
    h.w32(REG["INT_ENABLE"], BITS["INT_ERROR"])
    assert h.irq.level
    h.w32(REG["INT_STATUS"], BITS["INT_ERROR"])
    assert not h.irq.level
    h.submit(h.desc("FENCE"))  # halted until CTRL.RESET
    assert h.reg("RING_HEAD") == 0
