"""The engines' scoreboard: which engine runs a command and which on-chip/DRAM ranges it reads and writes.

The NPU has four engines with their own in-order queues, as TVM VTA's load/compute/store
modules -- the load DMA (DMA_IN, LOAD_WEIGHTS), the MAC array (MVM, MVM_T, WEIGHT_UPDATE), the
vector unit (POSTPROC, ELTWISE, POOL, ARGMAX, DWCONV, QADD) and the store DMA (DMA_OUT) -- fed
in order by one descriptor front end.  Each command declares its engine and operands
(:mod:`emu.npu_device.ops`); this module turns them into footprints.  A command starts when its
engine is free and every earlier command it depends on has ended: a read-after-write,
write-after-read or write-after-write overlap of its :class:`Footprint` with an earlier
command's (the hardware's scoreboard; firmware writes no dependency fields).  FENCE (declared a
barrier) is one: it starts after every earlier command ends, and later commands start after it.
So DMA for layer n+1 overlaps the MVMs of layer n, and LOAD_WEIGHTS into some tiles overlaps
MVMs on others (ping-pong weights: each tile is its own macro; writing the rows of a macro while
it computes, as Fujiwara et al.'s 5 nm macro can, is not modelled below tile level).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from emu.npu_device.command import BARRIER, Operand, Tiles
from emu.npu_device.config import NpuConfig
from emu.npu_device.ops import BY_NAME


class Region(NamedTuple):
    space: str  # "dram", "spad", "acc", "tiles"
    lo: int
    hi: int  # exclusive


class Footprint(NamedTuple):
    engine: str
    reads: tuple[Region, ...]
    writes: tuple[Region, ...]


def region(operand: Operand, config: NpuConfig) -> Region:
    """The range an operand occupies; for weights, the tiles (each a separate macro) it spans."""
    if isinstance(operand, Tiles):
        tk, tn = operand.grid(config.rows, config.cols)
        return Region("tiles", operand.first, operand.first + max(1, tk * tn))
    return Region(operand.space, *operand.span())


def footprint(name: str, d: Any, config: NpuConfig) -> Footprint | None:
    """The engine and ranges of the decoded descriptor ``d`` of opcode ``name`` (from its command's
    declared engine and operands); None: a barrier."""
    command = BY_NAME.get(name)
    if command is None or command.engine == BARRIER:
        return None
    reads, writes = command.operands(d)
    return Footprint(command.engine, tuple(region(o, config) for o in reads), tuple(region(o, config) for o in writes))


def _overlap(a: tuple[Region, ...], b: tuple[Region, ...]) -> bool:
    for x in a:
        for y in b:
            if x.space == y.space and x.lo < y.hi and y.lo < x.hi:
                return True
    return False


def depends(later: Footprint, earlier: Footprint) -> bool:
    """True if ``later`` must wait for ``earlier`` (RAW, WAR or WAW overlap)."""
    return (_overlap(later.reads, earlier.writes) or _overlap(later.writes, earlier.writes)
            or _overlap(later.writes, earlier.reads))
