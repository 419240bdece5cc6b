"""What declaring an NPU command means: one :class:`Command` record per opcode.

A command is its descriptor :class:`~emu.npu_device.encoding.Layout` (opcode, fields, docs), the
engine that runs it, its executor, its cost function and its operands (what it reads and writes).
Everything else follows from the declarations in :mod:`emu.npu_device.ops`: the opcode and
layout tables of :mod:`emu.npu_device.regs` (so the generated C header and the decoder the
debugger's ``npu queue`` uses), the scoreboard's footprints, strict mode's guarded DRAM ranges,
the regions debugger watchpoints see, the trace track, and the compiler's static estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from emu.npu_device.encoding import Layout
from emu.npu_device.timing import Cost, CostModel, MacroActivity

if TYPE_CHECKING:
    from emu.npu_device.commands import Executor

ENGINES = ("load", "mac", "vector", "store")  # the engines with their own queues (docs/npu.md)
BARRIER = ""  # the engine of a command that orders every other one (FENCE)


class Strided(NamedTuple):
    """A 2-D strided operand: ``rows`` rows of ``row_bytes`` bytes every ``stride`` bytes from
    ``addr`` in one memory space: "dram" (addresses), "spad" or "acc" (byte offsets)."""

    space: str
    addr: int
    rows: int
    row_bytes: int
    stride: int

    def span(self) -> tuple[int, int]:
        """[lo, hi) bytes touched (empty at ``addr`` if there are none)."""
        if self.rows <= 0 or self.row_bytes <= 0:
            return self.addr, self.addr
        return self.addr, self.addr + (self.rows - 1) * self.stride + self.row_bytes


def flat(space: str, addr: int, nbytes: int) -> Strided:
    """A contiguous operand of ``nbytes`` bytes."""
    return Strided(space, addr, 1, nbytes, 0)


class Tiles(NamedTuple):
    """A K x N weight matrix in the tiles from ``first`` on, in row-major tile-grid order; ``whole``:
    the command writes whole tiles (LOAD_WEIGHTS clears what the matrix does not cover)."""

    first: int
    k: int
    n: int
    whole: bool = False

    space = "tiles"

    def grid(self, tile_rows: int, tile_cols: int) -> tuple[int, int]:
        """Tile-grid shape (tiles down K, tiles across N) of the matrix (TileStore.grid, unchecked)."""
        return -(-self.k // tile_rows), -(-self.n // tile_cols)


Operand = Strided | Tiles


class Operands(NamedTuple):
    reads: tuple[Operand, ...]
    writes: tuple[Operand, ...]


class Data(NamedTuple):
    """What a cost depends on besides the descriptor: the activations' bits (None: not known, as in
    the compiler's static estimate, which assumes every bit-plane driven and half the bits 1) and
    whether the addressed weights are stored as packed int4."""

    activity: MacroActivity | None = None
    int4: bool = False


@dataclass(frozen=True)
class Command:
    """One NPU command, declared once.

    ``execute(ex, d)`` checks the decoded descriptor ``d`` (raising ``NpuFault`` before it writes
    anything), applies its effect to the executor's memories and returns its :class:`Cost`.
    ``prepare(ex, d)``, when given, checks once and returns a function applying the effect, which
    the device may call again for identical descriptor bytes while the tiles are unchanged; by
    default every call runs ``execute``.  ``cost(model, d, data)`` is the command's cost (what
    ``execute`` returns for the same fields and data).  ``operands(d)`` lists what it reads and
    writes (it must not raise, even for fields ``execute`` rejects).  ``engine`` is one of
    :data:`ENGINES`, or :data:`BARRIER`.
    """

    layout: Layout
    engine: str
    execute: Callable[[Executor, Any], Cost]
    cost: Callable[[CostModel, Any, Data], Cost]
    operands: Callable[[Any], Operands]
    prepare: Callable[[Executor, Any], Callable[[], Cost]] | None = None

    def __post_init__(self) -> None:
        if self.engine not in (*ENGINES, BARRIER):
            raise ValueError(f"{self.name}: unknown engine {self.engine!r}")

    @property
    def name(self) -> str:
        return self.layout.name

    @property
    def opcode(self) -> int:
        return self.layout.opcode

    def prepared(self, ex: Executor, d: Any) -> Callable[[], Cost]:
        """The function the device runs (and may re-run) for the decoded descriptor ``d``."""
        if self.prepare is not None:
            return self.prepare(ex, d)
        return partial(self.execute, ex, d)

    def dram_ranges(self, d: Any) -> tuple[list[Strided], list[Strided]]:
        """(written, read) DRAM operands of ``d``: what strict mode holds back and guards."""
        ops = self.operands(d)
        return ([o for o in ops.writes if o.space == "dram"], [o for o in ops.reads if o.space == "dram"])
