"""POSTPROC: requantize int32 accumulators to int8 activations, per channel, with bias and activation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from emu.npu_device import dma, postproc
from emu.npu_device.command import Command, Data, Operands, Strided, flat
from emu.npu_device.encoding import Field, Layout
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor


def _int32_array(ex: Executor, addr: int, count: int) -> np.ndarray:
    """``count`` int32 read from DRAM (4-byte aligned)."""
    return dma.dram(ex.ram, addr, 1, 4 * count, 0, align=4).view(np.int32)[0]


def execute(ex: Executor, d: Any) -> Cost:
    lo, hi = postproc.activation_bounds(d.act, d.zero_point, d.clamp_min, d.clamp_max)
    acc = dma.sram(ex.acc, d.acc_addr, d.m, d.n, d.acc_stride)
    out = dma.sram(ex.spad8, d.out_addr, d.m, d.n, d.out_stride, dest=True)
    bias: np.ndarray | int = 0  # no per-channel array before n is validated (issue 17 N2)
    if d.bias_addr:
        bias = _int32_array(ex, d.bias_addr, d.n)
    if d.quant_addr:
        quant = _int32_array(ex, d.quant_addr, 2 * d.n).reshape(d.n, 2)
        mult, shift = quant[:, 0], quant[:, 1]
    else:
        mult, shift = d.multiplier, d.shift
    postproc.check_shift(shift)
    if d.m and d.n:
        y = postproc.requantize(acc + bias, mult, shift)  # acc + bias wraps in int32
        out[...] = postproc.finish(y, d.zero_point, lo, hi)
    return cost(ex.costs, d, Data())


def cost(costs: CostModel, d: Any, data: Data) -> Cost:
    dram_in = (4 * d.n if d.bias_addr else 0) + (8 * d.n if d.quant_addr else 0)
    return costs.vector(d.m * d.n, d.m * d.n * 5, dram_in=dram_in)


def operands(d: Any) -> Operands:
    reads = [Strided("acc", d.acc_addr, d.m, 4 * d.n, d.acc_stride)]
    if d.bias_addr:
        reads.append(flat("dram", d.bias_addr, 4 * d.n))
    if d.quant_addr:
        reads.append(flat("dram", d.quant_addr, 8 * d.n))
    return Operands(tuple(reads), (Strided("spad", d.out_addr, d.m, d.n, d.out_stride),))


COMMANDS = (
    Command(Layout("POSTPROC", 0x07, "out[M x N] int8 = act(sat8(requant(acc + bias) + zp)), per-channel over N", (
        Field("bias_addr", 8, "Q", "DRAM int32[N] bias, 0 = none"),
        Field("quant_addr", 16, "Q", "DRAM int32[N][2] {multiplier, shift}, 0 = use the fields below"),
        Field("m", 24, "I", "rows"),
        Field("n", 28, "I", "channels"),
        Field("acc_addr", 32, "I", "accumulator byte address (4-aligned)"),
        Field("acc_stride", 36, "I", "accumulator row stride (4-aligned)"),
        Field("out_addr", 40, "I", "scratchpad output address"),
        Field("out_stride", 44, "I", "output row stride"),
        Field("multiplier", 48, "i", "per-tensor Q31 multiplier"),
        Field("shift", 52, "b", "per-tensor shift: > 0 left, < 0 right (-31..31)"),
        Field("act", 53, "B", "NPU_ACT_*"),
        Field("zero_point", 54, "h", "output zero point"),
        Field("clamp_min", 56, "b", "NPU_ACT_CLAMP lower bound"),
        Field("clamp_max", 57, "b", "NPU_ACT_CLAMP/RELU6 upper bound"),
    )), "vector", execute, cost, operands),
)
