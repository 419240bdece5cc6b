"""The encodings every part of the NPU model shares: descriptor format, flags, error codes, enums.

Split from :mod:`emu.npu_device.regs` so that the command declarations (:mod:`emu.npu_device.ops`),
from which regs derives its opcode and descriptor tables, can use them without an import cycle.
"""

from __future__ import annotations

import struct
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

DESC_BYTES = 64

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

    def __init__(self, name: str, opcode: int, doc: str, fields: tuple[Field, ...]) -> None:
        self.name = name
        self.opcode = opcode
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
