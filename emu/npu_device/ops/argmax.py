"""ARGMAX: the index of each row's first maximum, written to DRAM as int32."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from emu.npu_device import dma
from emu.npu_device.command import Command, Data, Operands, Strided, flat
from emu.npu_device.encoding import FLAGS, Field, Layout
from emu.npu_device.fault import NpuFault
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor

F_ACC = FLAGS["ACC"]


def execute(ex: Executor, d: Any) -> Cost:
    if d.n == 0 and d.m:
        raise NpuFault("BAD_ARG", "argmax of an empty row")
    src = dma.sram(ex.acc if d.flags & F_ACC else ex.spad8, d.src_addr, d.m, d.n, d.src_stride)
    dst = dma.dram(ex.ram, d.dram_addr, 1, 4 * d.m, 0, align=4, dest=True)
    if d.m:
        dst.view(np.int32)[0] = np.argmax(src, axis=1)
        ex.ram.written(d.dram_addr, 4 * d.m)
    return cost(ex.costs, d, Data())


def cost(costs: CostModel, d: Any, data: Data) -> Cost:
    item = 4 if d.flags & F_ACC else 1
    return costs.vector(d.m * d.n, d.m * d.n * item, dram_out=4 * d.m)


def operands(d: Any) -> Operands:
    item = 4 if d.flags & F_ACC else 1
    src = Strided("acc" if d.flags & F_ACC else "spad", d.src_addr, d.m, item * d.n, d.src_stride)
    return Operands((src,), (flat("dram", d.dram_addr, 4 * d.m),))


COMMANDS = (
    Command(Layout("ARGMAX", 0x0A, "dram int32[M] = index of the first maximum of each row (int8 spad or int32 acc "
                   "with F_ACC)", (
                       Field("dram_addr", 8, "Q", "DRAM int32[M] result, 4-byte aligned"),
                       Field("src_addr", 16, "I", "scratchpad/accumulator address"),
                       Field("src_stride", 20, "I", "row stride in bytes"),
                       Field("m", 24, "I", "rows"),
                       Field("n", 28, "I", "elements per row"),
                   )),
            "vector", execute, cost, operands),
)
