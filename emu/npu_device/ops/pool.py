"""POOL: max or average pooling of an int8 HWC tensor in the scratchpad (valid windows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emu.npu_device import dma, postproc
from emu.npu_device.command import Command, Data, Operands, flat
from emu.npu_device.encoding import Field, Layout
from emu.npu_device.fault import NpuFault
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor


def out_shape(h: int, w: int, kh: int, kw: int, sh: int, sw: int) -> tuple[int, int]:
    """The output height and width of valid windows (0 for fields the executor rejects: never raises)."""
    oh = (h - kh) // sh + 1 if sh and kh and h >= kh else 0
    ow = (w - kw) // sw + 1 if sw and kw and w >= kw else 0
    return oh, ow


def execute(ex: Executor, d: Any) -> Cost:
    oh, ow = postproc.pool_shape(d.h, d.w, d.kh, d.kw, d.sh, d.sw)
    x = dma.sram(ex.spad8, d.in_addr, 1, d.h * d.w * d.c, 0)
    out = dma.sram(ex.spad8, d.out_addr, 1, oh * ow * d.c, 0, dest=True)
    if d.op not in (0, 1):
        raise NpuFault("BAD_ARG", f"unknown pooling op {d.op}")
    if d.c:
        out[...] = postproc.pool(d.op, x.reshape(d.h, d.w, d.c), d.kh, d.kw, d.sh, d.sw).reshape(1, -1)
    return cost(ex.costs, d, Data())


def cost(costs: CostModel, d: Any, data: Data) -> Cost:
    oh, ow = out_shape(d.h, d.w, d.kh, d.kw, d.sh, d.sw)
    reads = oh * ow * d.c * d.kh * d.kw
    return costs.vector(reads, reads + oh * ow * d.c)


def operands(d: Any) -> Operands:
    oh, ow = out_shape(d.h, d.w, d.kh, d.kw, d.sh, d.sw)
    return Operands((flat("spad", d.in_addr, d.h * d.w * d.c),), (flat("spad", d.out_addr, oh * ow * d.c),))


COMMANDS = (
    Command(Layout("POOL", 0x09, "int8 H x W x C (contiguous HWC) -> OH x OW x C, valid windows, NPU_POOL_MAX/AVG", (
        Field("in_addr", 8, "I", "scratchpad input"),
        Field("out_addr", 12, "I", "scratchpad output"),
        Field("h", 16, "H", "input height"), Field("w", 18, "H", "input width"),
        Field("c", 20, "H", "channels"),
        Field("kh", 22, "B", "window height"), Field("kw", 23, "B", "window width"),
        Field("sh", 24, "B", "vertical stride"), Field("sw", 25, "B", "horizontal stride"),
        Field("op", 26, "B", "NPU_POOL_*"),
    )), "vector", execute, cost, operands),
)
