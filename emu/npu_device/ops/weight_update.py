"""WEIGHT_UPDATE: in-place training step W <- sat(W + round((x^T d) >> shift)) in the tiles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emu.npu_device import dma, postproc
from emu.npu_device.command import Command, Data, Operands, Strided, Tiles
from emu.npu_device.encoding import FLAGS, Field, Layout
from emu.npu_device.fault import NpuFault
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor

F_STOCHASTIC = FLAGS["STOCHASTIC"]


def execute(ex: Executor, d: Any) -> Cost:
    if d.shift > postproc.MAX_SHIFT:
        raise NpuFault("BAD_ARG", f"weight update shift {d.shift} > {postproc.MAX_SHIFT}")
    ex.tiles.grid(d.tile, d.k, d.n)
    x = dma.sram(ex.spad8, d.x_addr, d.m, d.k, d.x_stride)
    delta = dma.sram(ex.spad8, d.d_addr, d.m, d.n, d.d_stride)
    int4 = ex.tiles.bound(d.tile, d.k, d.n) == 8
    if d.k and d.n and ex.tiles.update(d.tile, x, delta, d.shift, bool(d.flags & F_STOCHASTIC), d.seed,
                                       ex.costs.config.training.grad_bits):
        ex.grad_saturated = True
    return cost(ex.costs, d, Data(ex.costs.activity(x.T), int4))


def cost(costs: CostModel, d: Any, data: Data) -> Cost:
    activity = data.activity if data.activity is not None else costs.assumed_activity(d.k, d.m)
    return costs.weight_update(d.m, d.k, d.n, data.int4, activity)


def operands(d: Any) -> Operands:
    tiles = Tiles(d.tile, d.k, d.n)
    return Operands((Strided("spad", d.x_addr, d.m, d.k, d.x_stride),
                     Strided("spad", d.d_addr, d.m, d.n, d.d_stride), tiles), (tiles,))


COMMANDS = (
    Command(Layout("WEIGHT_UPDATE", 0x06, "W <- sat(W + round((x^T d) >> shift)), x: M x K, d: M x N "
                   "(int8, scratchpad)", (
                       Field("tile", 16, "H", "first tile of W"),
                       Field("m", 20, "I", "rank M (rows of x and d)"),
                       Field("k", 24, "I", "K"),
                       Field("n", 28, "I", "N"),
                       Field("x_addr", 32, "I", "scratchpad address of x"),
                       Field("x_stride", 36, "I", "row stride of x"),
                       Field("d_addr", 40, "I", "scratchpad address of d"),
                       Field("d_stride", 44, "I", "row stride of d"),
                       Field("seed", 48, "I", "stochastic rounding seed"),
                       Field("shift", 52, "B", "right shift s, 0..31"),
                   )),
            "mac", execute, cost, operands),
)
