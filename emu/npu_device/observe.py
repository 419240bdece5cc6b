"""What the NPU tells its observers: one :class:`NpuEvent` per command it fetches.

The device knows nothing of debuggers: it calls every callable in
``NpuDevice.observers`` with the event of each descriptor it executed (or
rejected), and nothing at all when the list is empty.  The event carries what a
tool needs to decide whether it cares -- the opcode, the descriptor's address,
its decoded fields, the modeled [start, end) interval -- and the regions the
command wrote, the written operands its declaration lists (:mod:`emu.npu_device.ops`).  The debugger's ``npu break`` / ``npu watch`` are built on it
(emu/debugger/npu_watch.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emu.npu_device.command import Tiles
from emu.npu_device.ops import COMMANDS, OPCODE_NAMES

SPACES = ("scratchpad", "accumulator", "tile", "dram")
SPACE_NAMES = {"spad": "scratchpad", "acc": "accumulator", "dram": "dram"}  # command operands' spaces


@dataclass(frozen=True)
class Region:
    """A written range: bytes [start, end) of the scratchpad, accumulator or DRAM (addresses), or
    rows [start, end) x columns [col_start, col_end) of weight tile ``tile``."""

    space: str
    start: int
    end: int
    tile: int = -1
    col_start: int = 0
    col_end: int = 0

    def __str__(self) -> str:
        if self.space == "tile":
            return f"tile {self.tile} rows {self.start}:{self.end} cols {self.col_start}:{self.col_end}"
        if self.space == "dram":
            return f"dram {self.start:#x}..{self.end:#x}"
        return f"{self.space} {self.start}:{self.end}"


@dataclass(frozen=True)
class NpuEvent:
    """One descriptor the device fetched: executed (``error`` 0) or rejected with an NPU error code."""

    index: int
    desc_addr: int
    opcode: int
    fields: Any                 # the Layout's namedtuple, None for an unknown opcode
    start_ns: int
    end_ns: int
    error: int = 0
    regions: tuple[Region, ...] = field(default=())

    @property
    def op(self) -> str:
        return OPCODE_NAMES.get(self.opcode, f"op{self.opcode:#x}")

    def describe(self) -> str:
        """``MVM #3 at 0x80001040 (tile=0 m=1 k=64 n=64 ...)``: the descriptor decoded in one line."""
        shown = ""
        if self.fields is not None:
            items = [(k, v) for k, v in self.fields._asdict().items() if k != "opcode"]
            shown = " (" + " ".join(f"{k}={v:#x}" if "addr" in k else f"{k}={v}" for k, v in items) + ")"
        return f"{self.op} #{self.index} at {self.desc_addr:#x}{shown}"


def _tiles(t: Tiles, tile_rows: int, tile_cols: int) -> list[Region]:
    """The tiles of a K x N matrix in row-major tile-grid order (see TileStore.grid)."""
    if t.k <= 0 or t.n <= 0:
        return []
    tk, tn = t.grid(tile_rows, tile_cols)
    out = []
    for i in range(tk):
        for j in range(tn):
            rows = tile_rows if t.whole else min(tile_rows, t.k - i * tile_rows)
            cols = tile_cols if t.whole else min(tile_cols, t.n - j * tile_cols)
            out.append(Region("tile", 0, rows, t.first + i * tn + j, 0, cols))
    return out


def written_regions(opcode: int, d: Any, tile_rows: int, tile_cols: int) -> tuple[Region, ...]:
    """Where a successfully executed descriptor ``d`` wrote: its command's declared written operands."""
    command = COMMANDS.get(opcode)
    if command is None:
        return ()
    spans: list[Region] = []
    for operand in command.operands(d).writes:
        if isinstance(operand, Tiles):
            spans += _tiles(operand, tile_rows, tile_cols)
        elif operand.rows > 0 and operand.row_bytes > 0:
            spans.append(Region(SPACE_NAMES[operand.space], *operand.span()))
    return tuple(spans)


def make_event(index: int, desc_addr: int, opcode: int, fields: Any, start_ns: int, end_ns: int,
               error: int, geometry: tuple[int, int]) -> NpuEvent:
    """The event for one fetched descriptor (``geometry`` = tile rows, tile columns)."""
    try:
        regions = written_regions(opcode, fields, *geometry) if not error and fields is not None else ()
    except (ArithmeticError, ValueError):  # fields the executor accepted cannot fail here; be safe
        regions = ()
    return NpuEvent(index, desc_addr, opcode, fields, start_ns, end_ns, error, regions)
