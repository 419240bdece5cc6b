"""ELTWISE: element-wise ADD/MUL/MAX of two int8 matrices in the scratchpad, requantized."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emu.npu_device import dma, postproc
from emu.npu_device.command import Command, Data, Operands, Strided
from emu.npu_device.encoding import Field, Layout
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor


def execute(ex: Executor, d: Any) -> Cost:
    lo, hi = postproc.activation_bounds(d.act, d.zero_point, d.clamp_min, d.clamp_max)
    postproc.check_shift(d.shift)
    a = dma.sram(ex.spad8, d.a_addr, d.m, d.n, d.a_stride)
    b = dma.sram(ex.spad8, d.b_addr, d.m, d.n, d.b_stride)
    out = dma.sram(ex.spad8, d.out_addr, d.m, d.n, d.out_stride, dest=True)
    t = postproc.eltwise(d.op, a, b, d.a_offset, d.b_offset)
    out[...] = postproc.finish(postproc.requantize(t, d.multiplier, d.shift), d.zero_point, lo, hi)
    return cost(ex.costs, d, Data())


def cost(costs: CostModel, d: Any, data: Data) -> Cost:
    return costs.vector(d.m * d.n, d.m * d.n * 3)


def operands(d: Any) -> Operands:
    return Operands((Strided("spad", d.a_addr, d.m, d.n, d.a_stride), Strided("spad", d.b_addr, d.m, d.n, d.b_stride)),
                    (Strided("spad", d.out_addr, d.m, d.n, d.out_stride),))


COMMANDS = (
    Command(Layout("ELTWISE", 0x08, "out = act(sat8(requant(op(a + a_off, b + b_off)) + zp)), int8 M x N in "
                   "scratchpad", (
                       Field("a_addr", 8, "I", "input a"), Field("a_stride", 12, "I", "row stride of a"),
                       Field("b_addr", 16, "I", "input b"), Field("b_stride", 20, "I", "row stride of b"),
                       Field("out_addr", 24, "I", "output"), Field("out_stride", 28, "I", "row stride of out"),
                       Field("m", 32, "I", "rows"), Field("n", 36, "I", "columns"),
                       Field("multiplier", 40, "i", "Q31 multiplier"),
                       Field("shift", 44, "b", "shift: > 0 left, < 0 right"),
                       Field("act", 45, "B", "NPU_ACT_*"),
                       Field("op", 46, "B", "NPU_ELT_*"),
                       Field("clamp_min", 47, "b", "clamp lower bound"),
                       Field("clamp_max", 48, "b", "clamp/RELU6 upper bound"),
                       Field("zero_point", 50, "h", "output zero point"),
                       Field("a_offset", 52, "h", "added to a"),
                       Field("b_offset", 54, "h", "added to b"),
                   )),
            "vector", execute, cost, operands),
)
