"""LOAD_WEIGHTS: a K x N weight matrix from DRAM into the tiles (int8, or packed int4; or W^T)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from emu.npu_device import dma
from emu.npu_device.command import Command, Data, Operands, Strided, Tiles
from emu.npu_device.encoding import FLAGS, Field, Layout
from emu.npu_device.tiles import unpack_int4
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor

F_TRANSPOSE = FLAGS["TRANSPOSE"]
F_INT4 = FLAGS["INT4"]


def _dram_shape(d: Any) -> tuple[int, int, int]:
    """(rows, columns, bytes per row) of the matrix as DRAM holds it."""
    rows, cols = (d.n, d.k) if d.flags & F_TRANSPOSE else (d.k, d.n)
    return rows, cols, (cols + 1) // 2 if d.flags & F_INT4 else cols


def execute(ex: Executor, d: Any) -> Cost:
    int4 = bool(d.flags & F_INT4)
    rows, cols, row_bytes = _dram_shape(d)
    ex.tiles.grid(d.tile, d.k, d.n)
    raw = dma.dram(ex.ram, d.dram_addr, rows, row_bytes, d.dram_stride)
    w = unpack_int4(raw, cols) if int4 else raw.view(np.int8)
    ex.tiles.store(d.tile, w.T if d.flags & F_TRANSPOSE else w, int4)
    return cost(ex.costs, d, Data())


def cost(costs: CostModel, d: Any, data: Data) -> Cost:
    rows, _, row_bytes = _dram_shape(d)
    return costs.load_weights(rows, row_bytes, d.k * d.n, bool(d.flags & F_INT4))


def operands(d: Any) -> Operands:
    rows, _, row_bytes = _dram_shape(d)
    return Operands((Strided("dram", d.dram_addr, rows, row_bytes, d.dram_stride),),
                    (Tiles(d.tile, d.k, d.n, whole=True),))


COMMANDS = (
    Command(Layout("LOAD_WEIGHTS", 0x03, "DRAM K x N weight matrix (int8, or int4 with F_INT4; W^T with "
                   "F_TRANSPOSE) -> tiles tile.. in row-major tile-grid order", (
                       Field("dram_addr", 8, "Q", "DRAM byte address of row 0"),
                       Field("tile", 16, "H", "first tile"),
                       Field("k", 20, "I", "rows K of W"),
                       Field("n", 24, "I", "columns N of W"),
                       Field("dram_stride", 28, "I", "bytes between DRAM rows (rows of W, or of W^T with F_TRANSPOSE)"),
                   )),
            "load", execute, cost, operands),
)
