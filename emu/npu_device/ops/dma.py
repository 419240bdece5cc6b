"""DMA_IN and DMA_OUT: 2-D strided copies between DRAM and the scratchpad (or the accumulator)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from emu.npu_device import dma
from emu.npu_device.command import Command, Data, Operands, Strided
from emu.npu_device.encoding import FLAGS, Field, Layout
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor

F_ACC = FLAGS["ACC"]

FIELDS = (
    Field("dram_addr", 8, "Q", "DRAM byte address"),
    Field("sram_addr", 16, "I", "scratchpad/accumulator byte address"),
    Field("rows", 20, "I", "number of rows"),
    Field("row_bytes", 24, "I", "bytes per row"),
    Field("dram_stride", 28, "I", "DRAM row stride in bytes"),
    Field("sram_stride", 32, "I", "on-chip row stride in bytes"),
)


def _onchip(ex: Executor, d: Any) -> tuple[np.ndarray, int]:
    """The on-chip byte array a DMA targets and its alignment (4 for the accumulator)."""
    return (ex.acc_bytes, 4) if d.flags & F_ACC else (ex.spad, 1)


def _copier(dst: np.ndarray, src: np.ndarray, cost: Cost) -> Callable[[], Cost]:
    """A prepared DMA: ``dst[...] = src`` when called, returning ``cost``."""

    def run() -> Cost:
        dst[...] = src
        return cost

    return run


# A DMA's checks and views depend only on its fields and the fixed memory sizes: prepared
# once, the copy itself (reading its source when it runs) is the whole command.
def _prepare_in(ex: Executor, d: Any) -> Callable[[], Cost]:
    base, align = _onchip(ex, d)
    src = dma.dram(ex.ram, d.dram_addr, d.rows, d.row_bytes, d.dram_stride, align=align)
    dst = dma.sram(base, d.sram_addr, d.rows, d.row_bytes, d.sram_stride, dest=True, align=align)
    return _copier(dst, src, _cost_in(ex.costs, d, Data()))


def _prepare_out(ex: Executor, d: Any) -> Callable[[], Cost]:
    base, align = _onchip(ex, d)
    src = dma.sram(base, d.sram_addr, d.rows, d.row_bytes, d.sram_stride, align=align)
    dst = dma.dram(ex.ram, d.dram_addr, d.rows, d.row_bytes, d.dram_stride, align=align, dest=True)
    copy = _copier(dst, src, _cost_out(ex.costs, d, Data()))
    addr, length, written = d.dram_addr, dma.span(d.rows, d.row_bytes, d.dram_stride), ex.ram.written

    def run() -> Cost:
        cost = copy()
        written(addr, length)  # the CPU must not run stale translations of what DMA overwrote
        return cost

    return run


def _cost_in(costs: CostModel, d: Any, data: Data) -> Cost:
    return costs.dma(d.rows, d.row_bytes, inbound=True)


def _cost_out(costs: CostModel, d: Any, data: Data) -> Cost:
    return costs.dma(d.rows, d.row_bytes, inbound=False)


def _sides(d: Any) -> tuple[Strided, Strided]:
    onchip = Strided("acc" if d.flags & F_ACC else "spad", d.sram_addr, d.rows, d.row_bytes, d.sram_stride)
    return Strided("dram", d.dram_addr, d.rows, d.row_bytes, d.dram_stride), onchip


def _operands_in(d: Any) -> Operands:
    dram, onchip = _sides(d)
    return Operands((dram,), (onchip,))


def _operands_out(d: Any) -> Operands:
    dram, onchip = _sides(d)
    return Operands((onchip,), (dram,))


COMMANDS = (
    Command(Layout("DMA_IN", 0x01, "DRAM -> scratchpad (or accumulator with F_ACC): rows x row_bytes, 2-D strided",
                   FIELDS),
            "load", lambda ex, d: _prepare_in(ex, d)(), _cost_in, _operands_in, _prepare_in),
    Command(Layout("DMA_OUT", 0x02, "scratchpad (or accumulator with F_ACC) -> DRAM, 2-D strided", FIELDS),
            "store", lambda ex, d: _prepare_out(ex, d)(), _cost_out, _operands_out, _prepare_out),
)
