"""MVM and MVM_T: matrix products through the stored weights (forward, and transposed for training)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from emu.npu_device import dma
from emu.npu_device.command import Command, Data, Operands, Strided, Tiles
from emu.npu_device.encoding import FLAGS, Field, Layout
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor

F_ACC = FLAGS["ACC"]

FIELDS = (
    Field("tile", 16, "H", "first tile of W"),
    Field("m", 20, "I", "activation rows M"),
    Field("k", 24, "I", "K"),
    Field("n", 28, "I", "N"),
    Field("act_addr", 32, "I", "scratchpad activations (int8)"),
    Field("act_stride", 36, "I", "activation row stride in bytes"),
    Field("acc_addr", 40, "I", "accumulator byte address (4-aligned)"),
    Field("acc_stride", 44, "I", "accumulator row stride in bytes (4-aligned)"),
)


def _shape(d: Any, transposed: bool) -> tuple[int, int]:
    """(depth, width): input elements per row and outputs per row."""
    return (d.n, d.k) if transposed else (d.k, d.n)


def _prepare(ex: Executor, d: Any, transposed: bool) -> Callable[[], Cost]:
    """Check an MVM/MVM_T and decide everything about it; the returned function applies it.

    Nothing the checks or the cost depend on changes until the tiles are next written (the
    views are of the fixed on-chip memories), so the device may run it again for an identical
    descriptor while ``tiles.version`` is unchanged.
    """
    depth, width = _shape(d, transposed)
    ex.tiles.grid(d.tile, d.k, d.n)
    act = dma.sram(ex.spad8, d.act_addr, d.m, depth, d.act_stride)
    out = dma.sram(ex.acc, d.acc_addr, d.m, width, d.acc_stride, dest=True)
    accumulate = bool(d.flags & F_ACC)
    int4 = ex.tiles.bound(d.tile, d.k, d.n) == 8
    costs, m, k, n = ex.costs, d.m, d.k, d.n
    if not (d.m and width):
        fixed = costs.mvm(m, k, n, int4, transposed, accumulate, costs.activity(act))
        return lambda: fixed
    product = ex.tiles.product(d.tile, act, k, n, transposed, out, accumulate)
    cycles, macs, base, per_one, per_plane = costs.mvm_terms(m, k, n, int4, transposed, accumulate)
    activity = costs.activity

    def run() -> Cost:  # the energy depends on the activation bits read when it runs
        product()
        ones, planes = activity(act)
        return Cost(cycles, macs, 0, 0, 0, base + ones * per_one + planes * per_plane)

    return run


def _cost(costs: CostModel, d: Any, data: Data, transposed: bool) -> Cost:
    depth, _ = _shape(d, transposed)
    activity = data.activity if data.activity is not None else costs.assumed_activity(d.m, depth)
    return costs.mvm(d.m, d.k, d.n, data.int4, transposed, bool(d.flags & F_ACC), activity)


def _operands(d: Any, transposed: bool) -> Operands:
    depth, width = _shape(d, transposed)
    out = Strided("acc", d.acc_addr, d.m, 4 * width, d.acc_stride)
    reads = (Strided("spad", d.act_addr, d.m, depth, d.act_stride), Tiles(d.tile, d.k, d.n))
    return Operands(reads + ((out,) if d.flags & F_ACC else ()), (out,))


def _declare(name: str, opcode: int, doc: str, transposed: bool) -> Command:
    def prepare(ex: Executor, d: Any) -> Callable[[], Cost]:
        return _prepare(ex, d, transposed)

    return Command(Layout(name, opcode, doc, FIELDS), "mac", lambda ex, d: prepare(ex, d)(),
                   lambda costs, d, data: _cost(costs, d, data, transposed),
                   lambda d: _operands(d, transposed), prepare)


COMMANDS = (
    _declare("MVM", 0x04, "acc[M x N] (=|+=) act[M x K] @ W[K x N] through the tiles at tile..", False),
    _declare("MVM_T", 0x05, "acc[M x K] (=|+=) act[M x N] @ W^T through the same stored K x N weights", True),
)
