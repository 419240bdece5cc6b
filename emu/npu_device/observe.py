"""What the NPU tells its observers: one :class:`NpuEvent` per command it fetches.

The device knows nothing of debuggers: it calls every callable in
``NpuDevice.observers`` with the event of each descriptor it executed (or
rejected), and nothing at all when the list is empty.  The event carries what a
tool needs to decide whether it cares -- the opcode, the descriptor's address,
its decoded fields, the modeled [start, end) interval -- and the regions the
command wrote, computed from the descriptor the same way the executor reads it
(docs/npu.md).  The debugger's ``npu break`` / ``npu watch`` are built on it
(emu/debugger/npu_watch.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emu.npu_device.postproc import pool_shape
from emu.npu_device.regs import FLAGS, OPCODE_NAMES

F_ACC = FLAGS["ACC"]
SPACES = ("scratchpad", "accumulator", "tile", "dram")


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


def _rows_span(addr: int, rows: int, row_bytes: int, stride: int) -> tuple[int, int] | None:
    """[first, last + 1) bytes touched by ``rows`` rows of ``row_bytes`` every ``stride`` bytes."""
    if rows <= 0 or row_bytes <= 0:
        return None
    return addr, addr + (rows - 1) * stride + row_bytes


def _tiles(base: int, k: int, n: int, tile_rows: int, tile_cols: int, whole: bool) -> list[Region]:
    """The tiles of a K x N matrix at ``base`` in row-major tile-grid order (see TileStore.grid)."""
    if k <= 0 or n <= 0:
        return []
    tk, tn = -(-k // tile_rows), -(-n // tile_cols)
    out = []
    for i in range(tk):
        for j in range(tn):
            rows = tile_rows if whole else min(tile_rows, k - i * tile_rows)
            cols = tile_cols if whole else min(tile_cols, n - j * tile_cols)
            out.append(Region("tile", 0, rows, base + i * tn + j, 0, cols))
    return out


def written_regions(opcode: int, d: Any, tile_rows: int, tile_cols: int) -> tuple[Region, ...]:
    """Where a successfully executed descriptor ``d`` wrote (its fields as the executor reads them)."""
    name = OPCODE_NAMES.get(opcode)
    spans: list[Region] = []

    def add(space: str, span: tuple[int, int] | None) -> None:
        if span is not None:
            spans.append(Region(space, *span))

    onchip = "accumulator" if name in ("DMA_IN", "DMA_OUT", "ARGMAX") and d.flags & F_ACC else "scratchpad"
    if name == "DMA_IN":
        add(onchip, _rows_span(d.sram_addr, d.rows, d.row_bytes, d.sram_stride))
    elif name == "DMA_OUT":
        add("dram", _rows_span(d.dram_addr, d.rows, d.row_bytes, d.dram_stride))
    elif name in ("LOAD_WEIGHTS", "WEIGHT_UPDATE"):
        spans += _tiles(d.tile, d.k, d.n, tile_rows, tile_cols, whole=name == "LOAD_WEIGHTS")
    elif name in ("MVM", "MVM_T"):
        width = d.n if name == "MVM" else d.k
        add("accumulator", _rows_span(d.acc_addr, d.m, 4 * width, d.acc_stride))
    elif name in ("POSTPROC", "ELTWISE"):
        add("scratchpad", _rows_span(d.out_addr, d.m, d.n, d.out_stride))
    elif name == "POOL":
        oh, ow = pool_shape(d.h, d.w, d.kh, d.kw, d.sh, d.sw)
        add("scratchpad", _rows_span(d.out_addr, 1, oh * ow * d.c, 0))
    elif name == "ARGMAX":
        add("dram", _rows_span(d.dram_addr, 1, 4 * d.m, 0))
    return tuple(spans)


def make_event(index: int, desc_addr: int, opcode: int, fields: Any, start_ns: int, end_ns: int,
               error: int, geometry: tuple[int, int]) -> NpuEvent:
    """The event for one fetched descriptor (``geometry`` = tile rows, tile columns)."""
    try:
        regions = written_regions(opcode, fields, *geometry) if not error and fields is not None else ()
    except (ArithmeticError, ValueError):  # fields the executor accepted cannot fail here; be safe
        regions = ()
    return NpuEvent(index, desc_addr, opcode, fields, start_ns, end_ns, error, regions)
