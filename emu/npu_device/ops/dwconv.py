"""DWCONV: depthwise valid convolution on the vector lanes, int8 in the scratchpad to int32 accumulators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from emu.npu_device import dma, postproc
from emu.npu_device.command import Command, Data, Operands, flat
from emu.npu_device.encoding import FLAGS, Field, Layout
from emu.npu_device.fault import NpuFault
from emu.npu_device.ops.pool import out_shape
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor

F_ACC = FLAGS["ACC"]


def execute(ex: Executor, d: Any) -> Cost:
    oh, ow = postproc.pool_shape(d.h, d.w, d.kh, d.kw, d.sh, d.sw)
    if d.kh * d.kw > postproc.MAX_DW_TAPS:
        raise NpuFault("BAD_ARG", f"{d.kh}x{d.kw} kernel: more than {postproc.MAX_DW_TAPS} taps")
    x = dma.sram(ex.spad8, d.in_addr, 1, d.h * d.w * d.c, 0)
    w = dma.sram(ex.spad8, d.w_addr, 1, d.kh * d.kw * d.c, 0)
    out = dma.sram(ex.acc, d.acc_addr, 1, oh * ow * d.c, 0, dest=True)
    if d.c:
        y = postproc.depthwise(x.reshape(d.h, d.w, d.c), w.reshape(d.kh, d.kw, d.c), d.sh, d.sw)
        if d.flags & F_ACC:
            y += out.reshape(oh, ow, d.c)
        out[...] = y.astype(np.int32).reshape(1, -1)  # int64 -> int32 wraps like the adder
    return cost(ex.costs, d, Data())


def cost(costs: CostModel, d: Any, data: Data) -> Cost:
    oh, ow = out_shape(d.h, d.w, d.kh, d.kw, d.sh, d.sw)
    return costs.depthwise(oh * ow * d.c, d.kh * d.kw, (d.h * d.w + d.kh * d.kw) * d.c, bool(d.flags & F_ACC))


def operands(d: Any) -> Operands:
    """Input and weights from the scratchpad; the int32 outputs into the accumulator (read too with F_ACC)."""
    oh, ow = out_shape(d.h, d.w, d.kh, d.kw, d.sh, d.sw)
    out = flat("acc", d.acc_addr, 4 * oh * ow * d.c)
    reads = (flat("spad", d.in_addr, d.h * d.w * d.c), flat("spad", d.w_addr, d.kh * d.kw * d.c))
    return Operands(reads + ((out,) if d.flags & F_ACC else ()), (out,))


COMMANDS = (
    Command(Layout("DWCONV", 0x0C, "acc[OH x OW x C] (=|+= with F_ACC) depthwise valid convolution of int8 H x W x C "
                   "by kh x kw x C weights, both in the scratchpad", (
                       Field("in_addr", 8, "I", "scratchpad input, contiguous H x W x C int8"),
                       Field("w_addr", 12, "I", "scratchpad weights, contiguous kh x kw x C int8"),
                       Field("acc_addr", 16, "I", "accumulator byte address of the OH x OW x C int32 output "
                             "(4-aligned)"),
                       Field("h", 20, "H", "input height"), Field("w", 22, "H", "input width"),
                       Field("c", 24, "H", "channels"),
                       Field("kh", 26, "B", "kernel height"), Field("kw", 27, "B", "kernel width"),
                       Field("sh", 28, "B", "vertical stride"), Field("sw", 29, "B", "horizontal stride"),
                   )),
            "vector", execute, cost, operands),
)
