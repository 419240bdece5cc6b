"""The NPU datapath a command executes on: on-chip memories, tiles and the cost model.

Each command's executor is declared with the command (:mod:`emu.npu_device.ops`); this class
holds what they share and dispatches by opcode.  Every executor validates every field before it
writes anything, so an aborted command (an :class:`NpuFault`) leaves DRAM, the scratchpad, the
accumulator and the tiles untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from emu.memory import Ram
from emu.npu_device.ops import COMMANDS
from emu.npu_device.tiles import TileStore
from emu.npu_device.timing import Cost, CostModel


class Executor:
    """The NPU datapath: on-chip memories, tiles and the cost model the commands' executors use."""

    def __init__(self, ram: Ram, tiles: TileStore, spad: np.ndarray, acc: np.ndarray, costs: CostModel) -> None:
        self.ram = ram
        self.tiles = tiles
        self.spad = spad  # uint8 bytes of the scratchpad
        self.spad8 = spad.view(np.int8)
        self.acc = acc  # int32 accumulator entries
        self.acc_bytes = acc.view(np.uint8)
        self.costs = costs
        self.grad_saturated = False  # sticky: a WEIGHT_UPDATE gradient hit training.grad_bits (STATUS.GRAD_SAT)

    def prepare(self, opcode: int, d: Any) -> Callable[[], Cost]:
        """A function executing the decoded descriptor ``d`` and returning its cost.

        It may be called again for the same descriptor bytes while ``tiles.version`` is
        unchanged.  Commands declared with a ``prepare`` (DMA_IN, DMA_OUT, MVM, MVM_T) are
        checked here, once (raising :class:`NpuFault` as their executors would); for the others
        every call runs the executor, which checks every time.
        """
        return COMMANDS[opcode].prepared(self, d)
