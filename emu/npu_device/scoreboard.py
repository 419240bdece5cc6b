"""The engines' scoreboard: which engine runs a command and which on-chip/DRAM ranges it reads and writes.

The NPU has four engines with their own in-order queues, as TVM VTA's load/compute/store
modules -- the load DMA (DMA_IN, LOAD_WEIGHTS), the MAC array (MVM, MVM_T, WEIGHT_UPDATE), the
vector unit (POSTPROC, ELTWISE, POOL, ARGMAX) and the store DMA (DMA_OUT) -- fed in order by
one descriptor front end.  A command starts when its engine is free and every
earlier command it depends on has ended: a read-after-write, write-after-read or
write-after-write overlap of its :class:`Footprint` with an earlier command's (the hardware's
scoreboard; firmware writes no dependency fields).  FENCE and any opcode this module does not
know are barriers: they start after every earlier command ends, and later commands start after
them.  So DMA for layer n+1 overlaps the MVMs of layer n, and LOAD_WEIGHTS into some tiles
overlaps MVMs on others (ping-pong weights: each tile is its own macro; writing the rows of a
macro while it computes, as Fujiwara et al.'s 5 nm macro can, is not modelled below tile level).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from emu.npu_device.config import NpuConfig
from emu.npu_device.regs import FLAGS

F_ACC = FLAGS["ACC"]
F_TRANSPOSE = FLAGS["TRANSPOSE"]
F_INT4 = FLAGS["INT4"]


class Region(NamedTuple):
    space: str  # "dram", "spad", "acc", "tiles"
    lo: int
    hi: int  # exclusive


class Footprint(NamedTuple):
    engine: str
    reads: tuple[Region, ...]
    writes: tuple[Region, ...]


def span(addr: int, rows: int, row_bytes: int, stride: int) -> tuple[int, int]:
    """[lo, hi) bytes touched by a 2-D strided operand."""
    if not rows or not row_bytes:
        return addr, addr
    return addr, addr + (rows - 1) * stride + row_bytes


def _region(space: str, addr: int, rows: int, row_bytes: int, stride: int) -> Region:
    return Region(space, *span(addr, rows, row_bytes, stride))


def _tiles(config: NpuConfig, tile: int, k: int, n: int) -> Region:
    """The tiles (each a separate macro) a K x N matrix at ``tile`` occupies."""
    tk, tn = -(-k // config.rows), -(-n // config.cols)
    return Region("tiles", tile, tile + max(1, tk * tn))


def footprint(name: str, d: Any, config: NpuConfig) -> Footprint | None:
    """The engine and ranges of the decoded descriptor ``d`` of opcode ``name``; None: a barrier."""
    if name in ("DMA_IN", "DMA_OUT"):
        onchip = _region("acc" if d.flags & F_ACC else "spad", d.sram_addr, d.rows, d.row_bytes, d.sram_stride)
        dram = _region("dram", d.dram_addr, d.rows, d.row_bytes, d.dram_stride)
        return Footprint("load", (dram,), (onchip,)) if name == "DMA_IN" else Footprint("store", (onchip,), (dram,))
    if name == "LOAD_WEIGHTS":
        rows, cols = (d.n, d.k) if d.flags & F_TRANSPOSE else (d.k, d.n)
        row_bytes = (cols + 1) // 2 if d.flags & F_INT4 else cols
        return Footprint("load", (_region("dram", d.dram_addr, rows, row_bytes, d.dram_stride),),
                         (_tiles(config, d.tile, d.k, d.n),))
    if name in ("MVM", "MVM_T"):
        depth, width = (d.n, d.k) if name == "MVM_T" else (d.k, d.n)
        act = _region("spad", d.act_addr, d.m, depth, d.act_stride)
        out = _region("acc", d.acc_addr, d.m, 4 * width, d.acc_stride)
        reads = (act, _tiles(config, d.tile, d.k, d.n)) + ((out,) if d.flags & F_ACC else ())
        return Footprint("mac", reads, (out,))
    if name == "WEIGHT_UPDATE":
        tiles = _tiles(config, d.tile, d.k, d.n)
        return Footprint("mac", (_region("spad", d.x_addr, d.m, d.k, d.x_stride),
                                 _region("spad", d.d_addr, d.m, d.n, d.d_stride), tiles), (tiles,))
    if name == "POSTPROC":
        reads = [_region("acc", d.acc_addr, d.m, 4 * d.n, d.acc_stride)]
        if d.bias_addr:
            reads.append(Region("dram", d.bias_addr, d.bias_addr + 4 * d.n))
        if d.quant_addr:
            reads.append(Region("dram", d.quant_addr, d.quant_addr + 8 * d.n))
        return Footprint("vector", tuple(reads), (_region("spad", d.out_addr, d.m, d.n, d.out_stride),))
    if name == "ELTWISE":
        return Footprint("vector", (_region("spad", d.a_addr, d.m, d.n, d.a_stride),
                                    _region("spad", d.b_addr, d.m, d.n, d.b_stride)),
                         (_region("spad", d.out_addr, d.m, d.n, d.out_stride),))
    if name == "POOL":
        oh = (d.h - d.kh) // d.sh + 1 if d.sh and d.h >= d.kh else 0
        ow = (d.w - d.kw) // d.sw + 1 if d.sw and d.w >= d.kw else 0
        return Footprint("vector", (Region("spad", d.in_addr, d.in_addr + d.h * d.w * d.c),),
                         (Region("spad", d.out_addr, d.out_addr + oh * ow * d.c),))
    if name == "ARGMAX":
        item = 4 if d.flags & F_ACC else 1
        src = _region("acc" if d.flags & F_ACC else "spad", d.src_addr, d.m, item * d.n, d.src_stride)
        return Footprint("vector", (src,), (Region("dram", d.dram_addr, d.dram_addr + 4 * d.m),))
    return None


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
