"""The NPU's register map, bit fields, opcodes, error codes and descriptor layouts.

This module is the single definition of the hardware interface: the device
decodes with these tables, ``emu.npu_device.header`` generates
``firmware/include/npu_regs.h`` from them, and docs/npu.md describes them.
Change the interface here (and bump :data:`VERSION`), never in the header.
"""

from __future__ import annotations

import struct
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

MMIO_BASE = 0x1800_0000
MMIO_SIZE = 0x1000
PLIC_SOURCE = 40
ID_MAGIC = 0x4E50_5531  # "NPU1" read as a big-endian string
VERSION_MAJOR = 1
VERSION_MINOR = 1  # 1.1: TILE_SELECT/TILE_WRITES, NODE_NM, STATUS.GRAD_SAT
VERSION = (VERSION_MAJOR << 16) | VERSION_MINOR
DESC_BYTES = 64


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

OPCODES: dict[str, int] = {
    "DMA_IN": 0x01,
    "DMA_OUT": 0x02,
    "LOAD_WEIGHTS": 0x03,
    "MVM": 0x04,
    "MVM_T": 0x05,
    "WEIGHT_UPDATE": 0x06,
    "POSTPROC": 0x07,
    "ELTWISE": 0x08,
    "POOL": 0x09,
    "ARGMAX": 0x0A,
    "FENCE": 0x0B,
    "DWCONV": 0x0C,
    "QADD": 0x0D,
}
OPCODE_NAMES = {v: k for k, v in OPCODES.items()}

# Descriptor flag bits (byte 1 of every descriptor); which ones an opcode reads is in its layout doc.
FLAGS: dict[str, int] = {
    "IRQ": 1 << 0,  # raise INT_DONE when this command completes
    "ACC": 1 << 1,  # DMA/ARGMAX: on-chip side is the accumulator; MVM/MVM_T: accumulate (else overwrite)
    "TRANSPOSE": 1 << 2,  # LOAD_WEIGHTS: DRAM holds W^T (N x K)
    "INT4": 1 << 3,  # LOAD_WEIGHTS: DRAM holds packed int4 weights
    "STOCHASTIC": 1 << 4,  # WEIGHT_UPDATE: stochastic rounding (else round half up)
}

ERRORS: dict[str, tuple[int, str]] = {
    "NONE": (0, "no error"),
    "OPCODE": (1, "unknown opcode"),
    "ALIGN": (2, "misaligned address, stride or length"),
    "DRAM_RANGE": (3, "DRAM range outside RAM"),
    "SRAM_RANGE": (4, "transfer past the end of the scratchpad or accumulator"),
    "TILE_RANGE": (5, "tile index or weight matrix outside the tiles"),
    "RING_OVERFLOW": (6, "ring overflow: tail ran past head + size, or moved backwards"),
    "BAD_ARG": (7, "invalid field value (shift, activation, pooling window, overlap...)"),
}
ERROR_NAMES = {code: name for name, (code, _) in ERRORS.items()}

ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU6": 2, "CLAMP": 3}
ELTWISE_OPS = {"ADD": 0, "MUL": 1, "MAX": 2}
POOL_OPS = {"MAX": 0, "AVG": 1}


@dataclass(frozen=True)
class Field:
    """A descriptor field: byte offset and a struct format char (B H I Q unsigned, b h i signed)."""

    name: str
    offset: int
    fmt: str
    doc: str = ""

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)


HEADER_FIELDS = (
    Field("opcode", 0, "B", "NPU_OP_*"),
    Field("flags", 1, "B", "NPU_F_*"),
    Field("tag", 2, "H", "free for firmware; shown in traces and the debugger"),
)


class Layout:
    """A 64-byte descriptor format; ``unpack`` returns a namedtuple of every field."""

    def __init__(self, name: str, doc: str, fields: tuple[Field, ...]) -> None:
        self.name = name
        self.opcode = OPCODES[name]
        self.doc = doc
        self.fields = HEADER_FIELDS + fields
        fmt, pos = "<", 0
        for f in sorted(self.fields, key=lambda f: f.offset):
            if f.offset < pos or f.offset % f.size:
                raise ValueError(f"{name}.{f.name}: overlapping or unaligned field")
            fmt += "x" * (f.offset - pos) + f.fmt
            pos = f.offset + f.size
        if pos > DESC_BYTES:
            raise ValueError(f"{name} is longer than {DESC_BYTES} bytes")
        fmt += "x" * (DESC_BYTES - pos)
        self.struct = struct.Struct(fmt)
        ordered = sorted(self.fields, key=lambda f: f.offset)
        self.tuple = namedtuple(name.title().replace("_", ""), [f.name for f in ordered])  # type: ignore[misc]

    def unpack(self, data: bytes | memoryview, offset: int = 0) -> Any:
        return self.tuple._make(self.struct.unpack_from(data, offset))

    def pack(self, **values: int) -> bytes:
        """Encode a descriptor (missing fields are 0, ``opcode`` is filled in)."""
        values.setdefault("opcode", self.opcode)
        unknown = set(values) - set(self.tuple._fields)
        if unknown:
            raise KeyError(f"{self.name} has no field {sorted(unknown)}")
        return self.struct.pack(*(values.get(name, 0) for name in self.tuple._fields))


def _act_acc_fields(first: int) -> tuple[Field, ...]:
    """The scratchpad activation and accumulator operands shared by MVM and MVM_T."""
    return (
        Field("act_addr", first, "I", "scratchpad activations (int8)"),
        Field("act_stride", first + 4, "I", "activation row stride in bytes"),
        Field("acc_addr", first + 8, "I", "accumulator byte address (4-aligned)"),
        Field("acc_stride", first + 12, "I", "accumulator row stride in bytes (4-aligned)"),
    )

LAYOUTS: tuple[Layout, ...] = (
    Layout("DMA_IN", "DRAM -> scratchpad (or accumulator with F_ACC): rows x row_bytes, 2-D strided", (
        Field("dram_addr", 8, "Q", "DRAM byte address"),
        Field("sram_addr", 16, "I", "scratchpad/accumulator byte address"),
        Field("rows", 20, "I", "number of rows"),
        Field("row_bytes", 24, "I", "bytes per row"),
        Field("dram_stride", 28, "I", "DRAM row stride in bytes"),
        Field("sram_stride", 32, "I", "on-chip row stride in bytes"),
    )),
    Layout("DMA_OUT", "scratchpad (or accumulator with F_ACC) -> DRAM, 2-D strided", (
        Field("dram_addr", 8, "Q", "DRAM byte address"),
        Field("sram_addr", 16, "I", "scratchpad/accumulator byte address"),
        Field("rows", 20, "I", "number of rows"),
        Field("row_bytes", 24, "I", "bytes per row"),
        Field("dram_stride", 28, "I", "DRAM row stride in bytes"),
        Field("sram_stride", 32, "I", "on-chip row stride in bytes"),
    )),
    Layout("LOAD_WEIGHTS", "DRAM K x N weight matrix (int8, or int4 with F_INT4; W^T with F_TRANSPOSE) "
           "-> tiles tile.. in row-major tile-grid order", (
        Field("dram_addr", 8, "Q", "DRAM byte address of row 0"),
        Field("tile", 16, "H", "first tile"),
        Field("k", 20, "I", "rows K of W"),
        Field("n", 24, "I", "columns N of W"),
        Field("dram_stride", 28, "I", "bytes between DRAM rows (rows of W, or of W^T with F_TRANSPOSE)"),
    )),
    Layout("MVM", "acc[M x N] (=|+=) act[M x K] @ W[K x N] through the tiles at tile..", (
        Field("tile", 16, "H", "first tile of W"),
        Field("m", 20, "I", "activation rows M"),
        Field("k", 24, "I", "K"),
        Field("n", 28, "I", "N"),
        *_act_acc_fields(32),
    )),
    Layout("MVM_T", "acc[M x K] (=|+=) act[M x N] @ W^T through the same stored K x N weights", (
        Field("tile", 16, "H", "first tile of W"),
        Field("m", 20, "I", "activation rows M"),
        Field("k", 24, "I", "K"),
        Field("n", 28, "I", "N"),
        *_act_acc_fields(32),
    )),
    Layout("WEIGHT_UPDATE", "W <- sat(W + round((x^T d) >> shift)), x: M x K, d: M x N (int8, scratchpad)", (
        Field("tile", 16, "H", "first tile of W"),
        Field("m", 20, "I", "rank M (rows of x and d)"),
        Field("k", 24, "I", "K"),
        Field("n", 28, "I", "N"),
        Field("x_addr", 32, "I", "scratchpad address of x"),
        Field("x_stride", 36, "I", "row stride of x"),
        Field("d_addr", 40, "I", "scratchpad address of d"),
        Field("d_stride", 44, "I", "row stride of d"),
        Field("seed", 48, "I", "stochastic rounding seed"),
        Field("shift", 52, "B", "right shift s, 0..31"),
    )),
    Layout("POSTPROC", "out[M x N] int8 = act(sat8(requant(acc + bias) + zp)), per-channel over N", (
        Field("bias_addr", 8, "Q", "DRAM int32[N] bias, 0 = none"),
        Field("quant_addr", 16, "Q", "DRAM int32[N][2] {multiplier, shift}, 0 = use the fields below"),
        Field("m", 24, "I", "rows"),
        Field("n", 28, "I", "channels"),
        Field("acc_addr", 32, "I", "accumulator byte address (4-aligned)"),
        Field("acc_stride", 36, "I", "accumulator row stride (4-aligned)"),
        Field("out_addr", 40, "I", "scratchpad output address"),
        Field("out_stride", 44, "I", "output row stride"),
        Field("multiplier", 48, "i", "per-tensor Q31 multiplier"),
        Field("shift", 52, "b", "per-tensor shift: > 0 left, < 0 right (-31..31)"),
        Field("act", 53, "B", "NPU_ACT_*"),
        Field("zero_point", 54, "h", "output zero point"),
        Field("clamp_min", 56, "b", "NPU_ACT_CLAMP lower bound"),
        Field("clamp_max", 57, "b", "NPU_ACT_CLAMP/RELU6 upper bound"),
    )),
    Layout("ELTWISE", "out = act(sat8(requant(op(a + a_off, b + b_off)) + zp)), int8 M x N in scratchpad", (
        Field("a_addr", 8, "I", "input a"), Field("a_stride", 12, "I", "row stride of a"),
        Field("b_addr", 16, "I", "input b"), Field("b_stride", 20, "I", "row stride of b"),
        Field("out_addr", 24, "I", "output"), Field("out_stride", 28, "I", "row stride of out"),
        Field("m", 32, "I", "rows"), Field("n", 36, "I", "columns"),
        Field("multiplier", 40, "i", "Q31 multiplier"),
        Field("shift", 44, "b", "shift: > 0 left, < 0 right"),
        Field("act", 45, "B", "NPU_ACT_*"),
        Field("op", 46, "B", "NPU_ELT_*"),
        Field("clamp_min", 47, "b", "clamp lower bound"),
        Field("clamp_max", 48, "b", "clamp/RELU6 upper bound"),
        Field("zero_point", 50, "h", "output zero point"),
        Field("a_offset", 52, "h", "added to a"),
        Field("b_offset", 54, "h", "added to b"),
    )),
    Layout("POOL", "int8 H x W x C (contiguous HWC) -> OH x OW x C, valid windows, NPU_POOL_MAX/AVG", (
        Field("in_addr", 8, "I", "scratchpad input"),
        Field("out_addr", 12, "I", "scratchpad output"),
        Field("h", 16, "H", "input height"), Field("w", 18, "H", "input width"),
        Field("c", 20, "H", "channels"),
        Field("kh", 22, "B", "window height"), Field("kw", 23, "B", "window width"),
        Field("sh", 24, "B", "vertical stride"), Field("sw", 25, "B", "horizontal stride"),
        Field("op", 26, "B", "NPU_POOL_*"),
    )),
    Layout("ARGMAX", "dram int32[M] = index of the first maximum of each row (int8 spad or int32 acc with F_ACC)", (
        Field("dram_addr", 8, "Q", "DRAM int32[M] result, 4-byte aligned"),
        Field("src_addr", 16, "I", "scratchpad/accumulator address"),
        Field("src_stride", 20, "I", "row stride in bytes"),
        Field("m", 24, "I", "rows"),
        Field("n", 28, "I", "elements per row"),
    )),
    Layout("FENCE", "completes after every earlier command (use with F_IRQ for a batch interrupt)", ()),
    Layout("DWCONV", "acc[OH x OW x C] (=|+= with F_ACC) depthwise valid convolution of int8 H x W x C by "
           "kh x kw x C weights, both in the scratchpad", (
        Field("in_addr", 8, "I", "scratchpad input, contiguous H x W x C int8"),
        Field("w_addr", 12, "I", "scratchpad weights, contiguous kh x kw x C int8"),
        Field("acc_addr", 16, "I", "accumulator byte address of the OH x OW x C int32 output (4-aligned)"),
        Field("h", 20, "H", "input height"), Field("w", 22, "H", "input width"),
        Field("c", 24, "H", "channels"),
        Field("kh", 26, "B", "kernel height"), Field("kw", 27, "B", "kernel width"),
        Field("sh", 28, "B", "vertical stride"), Field("sw", 29, "B", "horizontal stride"),
    )),
    Layout("QADD", "out = clamp(requant(requant((a+a_off) << ls, a_m, a_s) + requant((b+b_off) << ls, b_m, b_s), "
           "out_m, out_s) + zp): int8 add with two input scales (TFLite ADD)", (
        Field("a_addr", 8, "I", "scratchpad input a (contiguous int8)"),
        Field("b_addr", 12, "I", "scratchpad input b (contiguous int8)"),
        Field("out_addr", 16, "I", "scratchpad output (contiguous int8)"),
        Field("count", 20, "I", "elements"),
        Field("a_multiplier", 24, "i", "Q31 multiplier of a"),
        Field("b_multiplier", 28, "i", "Q31 multiplier of b"),
        Field("out_multiplier", 32, "i", "Q31 multiplier of the sum"),
        Field("a_shift", 36, "b", "shift of a: > 0 left, < 0 right (-31..31)"),
        Field("b_shift", 37, "b", "shift of b (-31..31)"),
        Field("out_shift", 38, "b", "shift of the sum (-31..31)"),
        Field("left_shift", 39, "B", "ls: left shift of both offset inputs, 0..31 (TFLite uses 20)"),
        Field("a_offset", 40, "h", "added to a (TFLite: -zero point of a)"),
        Field("b_offset", 42, "h", "added to b"),
        Field("zero_point", 44, "h", "output zero point"),
        Field("clamp_min", 46, "b", "output lower bound"),
        Field("clamp_max", 47, "b", "output upper bound"),
    )),
)
LAYOUT_BY_OPCODE = {layout.opcode: layout for layout in LAYOUTS}
LAYOUT = {layout.name: layout for layout in LAYOUTS}


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
