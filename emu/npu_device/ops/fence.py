"""FENCE: a barrier, completing after every earlier command (with F_IRQ: one interrupt per batch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emu.npu_device.command import BARRIER, Command, Data, Operands
from emu.npu_device.encoding import Layout
from emu.npu_device.timing import Cost, CostModel

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor


def execute(ex: Executor, d: Any) -> Cost:
    return cost(ex.costs, d, Data())


def cost(costs: CostModel, d: Any, data: Data) -> Cost:
    return costs.fence()


def operands(d: Any) -> Operands:
    return Operands((), ())


COMMANDS = (
    Command(Layout("FENCE", 0x0B, "completes after every earlier command (use with F_IRQ for a batch interrupt)", ()),
            BARRIER, execute, cost, operands),
)
