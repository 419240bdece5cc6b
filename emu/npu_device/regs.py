"""The NPU's register map, bit fields, opcodes, error codes and descriptor layouts.

This module is the single view of the hardware interface: the device decodes with these
tables, ``emu.npu_device.header`` generates ``firmware/include/npu_regs.h`` from them, and
docs/npu.md describes them.  Registers are declared here; the opcodes and descriptor layouts
come from the command declarations (:mod:`emu.npu_device.ops`, one per command) and the shared
encodings from :mod:`emu.npu_device.encoding`.  Change the interface there or here (and bump
:data:`VERSION`), never in the header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emu.npu_device.encoding import (  # noqa: F401 - re-exported: the interface in one module
    ACTIVATIONS,
    DESC_BYTES,
    ELTWISE_OPS,
    ERROR_NAMES,
    ERRORS,
    FLAGS,
    HEADER_FIELDS,
    POOL_OPS,
    Field,
    Layout,
)
from emu.npu_device.ops import LAYOUT, LAYOUT_BY_OPCODE, LAYOUTS, OPCODE_NAMES, OPCODES  # noqa: F401

MMIO_BASE = 0x1800_0000
MMIO_SIZE = 0x1000
PLIC_SOURCE = 40
ID_MAGIC = 0x4E50_5531  # "NPU1" read as a big-endian string
VERSION_MAJOR = 1
VERSION_MINOR = 1  # 1.1: TILE_SELECT/TILE_WRITES, NODE_NM, STATUS.GRAD_SAT
VERSION = (VERSION_MAJOR << 16) | VERSION_MINOR


@dataclass(frozen=True)
class Reg:
    """One 32-bit register word; 64-bit values are a ``_LO``/``_HI`` pair."""

    name: str
    offset: int
    access: str  # "ro", "rw", "w1c", "wo"
    doc: str


REGISTERS: tuple[Reg, ...] = (
    Reg("ID", 0x000, "ro", "magic 0x4E505531 ('NPU1')"),
    Reg("VERSION", 0x004, "ro", "interface version: major << 16 | minor"),
    Reg("TILES", 0x008, "ro", "number of D-IMC tiles T"),
    Reg("TILE_ROWS", 0x00C, "ro", "rows R of a tile (the K direction)"),
    Reg("TILE_COLS", 0x010, "ro", "columns C of a tile (the N direction)"),
    Reg("SPAD_BYTES", 0x014, "ro", "activation scratchpad size in bytes"),
    Reg("ACC_BYTES", 0x018, "ro", "int32 accumulator buffer size in bytes"),
    Reg("CLOCK_KHZ", 0x01C, "ro", "NPU clock in kHz"),
    Reg("DESC_SIZE", 0x020, "ro", "descriptor size in bytes (64)"),
    Reg("CTRL", 0x040, "rw", "bit 0 ENABLE; bit 1 RESET (write 1: drop the queue, clear errors and counters)"),
    Reg("STATUS", 0x044, "ro", "bit 0 BUSY, bit 1 ERROR, bit 2 ENABLED, bit 3 GRAD_SAT"),
    Reg("INT_ENABLE", 0x048, "rw", "bit 0 DONE, bit 1 ERROR"),
    Reg("INT_STATUS", 0x04C, "w1c", "bit 0 DONE, bit 1 ERROR; write 1 to clear"),
    Reg("ERR_CODE", 0x050, "ro", "error code of the aborted command (NPU_ERR_*)"),
    Reg("ERR_DESC_LO", 0x058, "ro", "DRAM address of the failing descriptor, low word"),
    Reg("ERR_DESC_HI", 0x05C, "ro", "DRAM address of the failing descriptor, high word"),
    Reg("RING_BASE_LO", 0x060, "rw", "ring base address (64-byte aligned), low word"),
    Reg("RING_BASE_HI", 0x064, "rw", "ring base address, high word"),
    Reg("RING_SIZE", 0x068, "rw", "ring capacity in descriptors"),
    Reg("RING_HEAD", 0x06C, "ro", "free-running count of completed descriptors"),
    Reg("RING_TAIL", 0x070, "rw", "free-running count of queued descriptors (slot = count % size)"),
    Reg("DOORBELL", 0x074, "wo", "any write: fetch descriptors up to RING_TAIL"),
    Reg("TILE_SELECT", 0x080, "rw", "tile whose endurance counter TILE_WRITES shows"),
    Reg("TILE_WRITES_LO", 0x084, "ro", "weight-row writes into tile TILE_SELECT since power-on (endurance)"),
    Reg("TILE_WRITES_HI", 0x088, "ro", ""),
    Reg("NODE_NM", 0x08C, "ro", "process node in nm of the macro model the cost figures assume"),
    Reg("CYCLES_LO", 0x100, "ro", "NPU cycles since reset"),
    Reg("CYCLES_HI", 0x104, "ro", ""),
    Reg("BUSY_CYCLES_LO", 0x108, "ro", "cycles spent executing completed commands"),
    Reg("BUSY_CYCLES_HI", 0x10C, "ro", ""),
    Reg("MACS_LO", 0x110, "ro", "multiply-accumulates of completed commands"),
    Reg("MACS_HI", 0x114, "ro", ""),
    Reg("DMA_IN_LO", 0x118, "ro", "bytes read from DRAM"),
    Reg("DMA_IN_HI", 0x11C, "ro", ""),
    Reg("DMA_OUT_LO", 0x120, "ro", "bytes written to DRAM"),
    Reg("DMA_OUT_HI", 0x124, "ro", ""),
    Reg("WEIGHT_BYTES_LO", 0x128, "ro", "bytes written into the tiles"),
    Reg("WEIGHT_BYTES_HI", 0x12C, "ro", ""),
    Reg("ENERGY_PJ_LO", 0x130, "ro", "energy in pJ (dynamic of completed commands + leakage over their busy cycles)"),
    Reg("ENERGY_PJ_HI", 0x134, "ro", ""),
    Reg("COMMANDS_LO", 0x138, "ro", "completed commands"),
    Reg("COMMANDS_HI", 0x13C, "ro", ""),
)
REG = {r.name: r.offset for r in REGISTERS}
REG_BY_OFFSET = {r.offset: r for r in REGISTERS}

# The 64-bit counters, in register order, as the names the device's counter dict uses.
COUNTERS = ("cycles", "busy_cycles", "macs", "dma_in", "dma_out", "weight_bytes", "energy_pj", "commands")

BITS: dict[str, int] = {
    "CTRL_ENABLE": 1 << 0,
    "CTRL_RESET": 1 << 1,
    "STATUS_BUSY": 1 << 0,
    "STATUS_ERROR": 1 << 1,
    "STATUS_ENABLED": 1 << 2,
    "STATUS_GRAD_SAT": 1 << 3,  # sticky until CTRL.RESET: a WEIGHT_UPDATE gradient saturated
    "INT_DONE": 1 << 0,
    "INT_ERROR": 1 << 1,
}


def decode_descriptor(data: bytes) -> dict[str, Any]:
    """Decoded fields of one descriptor (unknown opcode -> only the header), for humans and tests."""
    raw = bytes(data[:DESC_BYTES]).ljust(DESC_BYTES, b"\0")
    layout = LAYOUT_BY_OPCODE.get(raw[0])
    if layout is None:
        return {"opcode": raw[0], "op": f"UNKNOWN({raw[0]:#x})", "flags": raw[1],
                "tag": int.from_bytes(raw[2:4], "little")}
    fields = layout.unpack(raw)._asdict()
    return {"op": layout.name, **fields,
            "flag_names": [name for name, bit in FLAGS.items() if fields["flags"] & bit]}
