"""QADD: TFLite's int8 ADD, two inputs with their own scales, on the vector unit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from emu.npu_device import dma, postproc
from emu.npu_device.command import Command, Data, Operands, flat
from emu.npu_device.encoding import Field, Layout
from emu.npu_device.fault import NpuFault
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor


def execute(ex: Executor, d: Any) -> Cost:
    postproc.check_shift(np.array([d.a_shift, d.b_shift, d.out_shift]))
    if d.left_shift > postproc.MAX_SHIFT:
        raise NpuFault("BAD_ARG", f"left shift {d.left_shift} > {postproc.MAX_SHIFT}")
    lo, hi = postproc.activation_bounds(postproc.ACTIVATIONS["CLAMP"], d.zero_point, d.clamp_min, d.clamp_max)
    a = dma.sram(ex.spad8, d.a_addr, 1, d.count, 0)
    b = dma.sram(ex.spad8, d.b_addr, 1, d.count, 0)
    out = dma.sram(ex.spad8, d.out_addr, 1, d.count, 0, dest=True)
    if d.count:
        y = postproc.qadd(a, b, d.a_offset, d.b_offset, d.left_shift, (d.a_multiplier, d.a_shift),
                          (d.b_multiplier, d.b_shift), (d.out_multiplier, d.out_shift))
        out[...] = postproc.finish(y, d.zero_point, lo, hi)
    return cost(ex.costs, d, Data())


def cost(costs: CostModel, d: Any, data: Data) -> Cost:
    return costs.vector(d.count, 3 * d.count)


def operands(d: Any) -> Operands:
    return Operands((flat("spad", d.a_addr, d.count), flat("spad", d.b_addr, d.count)),
                    (flat("spad", d.out_addr, d.count),))


COMMANDS = (
    Command(Layout("QADD", 0x0D, "out = clamp(requant(requant((a+a_off) << ls, a_m, a_s) + requant((b+b_off) << ls, "
                   "b_m, b_s), out_m, out_s) + zp): int8 add with two input scales (TFLite ADD)", (
                       Field("a_addr", 8, "I", "scratchpad input a (contiguous int8)"),
                       Field("b_addr", 12, "I", "scratchpad input b (contiguous int8)"),
                       Field("out_addr", 16, "I", "scratchpad output (contiguous int8)"),
                       Field("count", 20, "I", "elements"),
                       Field("a_multiplier", 24, "i", "Q31 multiplier of a"),
                       Field("b_multiplier", 28, "i", "Q31 multiplier of b"),
                       Field("out_multiplier", 32, "i", "Q31 multiplier of the sum"),
                       Field("a_shift", 36, "b", "shift of a: > 0 left, < 0 right (-31..31)"),
                       Field("b_shift", 37, "b", "shift of b (-31..31)"),
                       Field("out_shift", 38, "b", "shift of the sum (-31..31)"),
                       Field("left_shift", 39, "B", "ls: left shift of both offset inputs, 0..31 (TFLite uses 20)"),
                       Field("a_offset", 40, "h", "added to a (TFLite: -zero point of a)"),
                       Field("b_offset", 42, "h", "added to b"),
                       Field("zero_point", 44, "h", "output zero point"),
                       Field("clamp_min", 46, "b", "output lower bound"),
                       Field("clamp_max", 47, "b", "output upper bound"),
                   )),
            "vector", execute, cost, operands),
)
