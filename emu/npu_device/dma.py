"""Bounds-checked 2-D strided views of guest DRAM and of the on-chip memories.

Every transfer the NPU makes is ``rows`` rows of ``cols`` elements, ``stride``
bytes apart.  These helpers check alignment and range *before* any byte moves
(an aborted command touches nothing) and return numpy views, so a transfer is
one vectorized copy with no Python loop per element or row.
"""

from __future__ import annotations

import numpy as np

from emu.memory import Ram
from emu.npu_device.fault import NpuFault


def span(rows: int, cols_bytes: int, stride: int) -> int:
    """Bytes from the first to the last byte touched (0 for an empty transfer)."""
    if rows == 0 or cols_bytes == 0:
        return 0
    return (rows - 1) * stride + cols_bytes


def check_shape(rows: int, row_bytes: int, stride: int, align: int, *, dest: bool) -> None:
    """Alignment of a transfer, and no overlapping rows in a destination (its result would be ill-defined)."""
    if row_bytes % align or (rows > 1 and stride % align):
        raise NpuFault("ALIGN", f"row bytes {row_bytes} / stride {stride} not multiples of {align}")
    if dest and rows > 1 and stride < row_bytes:
        raise NpuFault("BAD_ARG", f"destination rows overlap (stride {stride} < row bytes {row_bytes})")


def rows_view(base: np.ndarray, offset: int, rows: int, cols: int, stride: int) -> np.ndarray:
    """A (rows, cols) view into the 1-D array ``base``, starting at byte ``offset`` (already checked)."""
    item = base.itemsize
    start = offset // item
    if rows <= 1 or stride == cols * item:
        return base[start : start + rows * cols].reshape(rows, cols)
    return np.lib.stride_tricks.as_strided(base[start:], shape=(rows, cols), strides=(stride, item))


def sram(base: np.ndarray, addr: int, rows: int, cols: int, stride: int, *, dest: bool = False,
         align: int = 0) -> np.ndarray:
    """A checked (rows, cols) view of an on-chip memory (scratchpad int8/uint8 or accumulator int32).

    ``align`` defaults to the element size; byte access to the accumulator passes 4.
    """
    item = base.itemsize
    align = align or item
    if addr % align:
        raise NpuFault("ALIGN", f"on-chip address {addr:#x} not {align}-byte aligned")
    check_shape(rows, cols * item, stride, align, dest=dest)
    if rows * cols * item > base.nbytes:
        # Only possible with overlapping (e.g. stride-0) source rows; bounds the work of one command.
        raise NpuFault("BAD_ARG", f"{rows}x{cols} operand is larger than the {base.nbytes}-byte memory")
    if addr + span(rows, cols * item, stride) > base.nbytes:
        raise NpuFault("SRAM_RANGE", f"{addr:#x}+{span(rows, cols * item, stride):#x} past {base.nbytes:#x}")
    return rows_view(base, addr, rows, cols, stride)


def dram(ram: Ram, addr: int, rows: int, row_bytes: int, stride: int, *, align: int = 1,
         dest: bool = False) -> np.ndarray:
    """A checked (rows, row_bytes) uint8 view of guest DRAM."""
    if addr % align:
        raise NpuFault("ALIGN", f"DRAM address {addr:#x} not {align}-byte aligned")
    check_shape(rows, row_bytes, stride, align, dest=dest)
    length = span(rows, row_bytes, stride)
    if length == 0:
        return np.zeros((rows, row_bytes), dtype=np.uint8)
    if not ram.contains(addr, length):
        raise NpuFault("DRAM_RANGE", f"{addr:#x}+{length:#x} outside RAM")
    return rows_view(ram.buf, addr - ram.base, rows, row_bytes, stride)
