"""Typed target values and how GDB prints them: ``{x = 3, y = -3, tag = 0 '\\000'}``, ``"abc"``,
``0x80002048 <nodes>``, ``<optimized out>``, and the ``/x`` forms of all of them.

A :class:`Value` is a type plus the bytes of the object (little-endian, as on RISC-V) and, when
it is an lvalue, where it lives (a memory address or a register), so ``&``, ``=`` and ``->`` work
on it.  Printing never raises for unreadable memory inside an aggregate: GDB writes
``<error: Cannot access memory at address 0x...>`` in place, and so do we.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from emu.dwarf.types import ATE_BOOLEAN, ATE_FLOAT, CType, declare

REPEAT_THRESHOLD = 10   # GDB's "print repeats": longer runs print as <repeats N times>
PRINT_ELEMENTS = 200    # GDB's "print elements"


@dataclass
class Value:
    type: CType
    data: bytes | None              # None: <optimized out>
    address: int | None = None      # an lvalue in memory
    reg: int | None = None          # an lvalue in a register (DWARF number)
    bit_size: int = 0               # a bitfield: ``bit_pos`` bits into the storage at ``address``
    bit_pos: int = 0
    error: str | None = None        # why the bytes could not be read

    @property
    def optimized_out(self) -> bool:
        return self.data is None and self.error is None

    def as_int(self) -> int:
        """The integer value (signed or not as the type says); pointers and enums too."""
        if self.data is None:
            raise ValueError(self.error or "value has been optimized out")
        t = self.type.strip()
        if t.kind == "base" and t.encoding == ATE_FLOAT:
            return int(self.as_float())
        raw = int.from_bytes(self.data, "little")
        bits = self.bit_size or 8 * len(self.data)
        if self.bit_size:
            raw &= (1 << bits) - 1
        if self.type.is_signed and bits and raw >> (bits - 1):
            raw -= 1 << bits
        return raw

    def as_float(self) -> float:
        assert self.data is not None
        if len(self.data) == 4:
            return float(struct.unpack("<f", self.data)[0])
        if len(self.data) == 8:
            return float(struct.unpack("<d", self.data)[0])
        raise ValueError(f"{len(self.data)}-byte floats are not supported")


def int_bytes(value: int, size: int) -> bytes:
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little") if size else b""


@dataclass
class Printer:
    """How to print: ``symbolize(addr)`` gives ``nodes+8`` for data/code addresses or None;
    ``read(addr, n)`` reads target memory (for ``char *`` strings) and raises on failure."""

    symbolize: Callable[[int], str | None]
    read: Callable[[int, int], bytes]
    fmt: str | None = None

    # -- entry point ---------------------------------------------------------------------------------
    def top(self, v: Value) -> str:
        """The text after ``$1 = ``: pointers get their type in front, as GDB prints them."""
        t = v.type.strip()
        if v.data is not None and self.fmt is None:
            if t.kind == "pointer":
                target = (t.target or t).strip()
                if not (target.kind == "base" and target.size == 1 and target.encoding != ATE_BOOLEAN):
                    return f"({declare(v.type)}) {self.value(v)}"
            if t.kind == "func":
                return f"{{{declare(v.type)}}} {self.pointer(v.address or 0, code=True)}"
        return self.value(v)

    def value(self, v: Value) -> str:
        if v.error is not None:
            return f"<error: {v.error}>"
        if v.data is None:
            return "<optimized out>"
        t = v.type.strip()
        if t.kind in ("struct", "union"):
            return self._aggregate(v, t)
        if t.kind == "array":
            return self._array(v, t)
        if t.kind == "func":
            return f"{{{declare(v.type)}}} {self.pointer(v.address or 0, code=True)}"
        return self.scalar(v)

    # -- scalars ---------------------------------------------------------------------------------------
    def scalar(self, v: Value) -> str:
        t = v.type.strip()
        fmt = self.fmt
        if t.kind == "base" and t.encoding == ATE_FLOAT and fmt is None:
            return _float_text(v.as_float(), len(v.data or b""))
        n = v.as_int()
        bits = 8 * len(v.data or b"")  # a bitfield prints in its declared type's width, as in GDB
        if fmt == "a":
            return self.pointer(n & ((1 << bits) - 1))
        if fmt is not None:
            return format_int(n, fmt, bits, v.type.is_signed)
        if t.kind == "pointer":
            target = (t.target or t).strip()
            if target.kind == "base" and target.size == 1 and target.encoding != ATE_BOOLEAN:
                return self._char_pointer(n)
            return self.pointer(n, code=target.kind == "func")
        if t.kind == "enum":
            for name, val in t.enumerators:
                if val == n:
                    return name
            return self._flag_enum(t, n)
        if t.kind == "base" and t.encoding == ATE_BOOLEAN:
            return "true" if n == 1 else "false" if n == 0 else str(n)
        if v.type.is_char:
            return f"{n} {char_literal(n & 0xFF)}"
        return str(n)

    def _flag_enum(self, t: CType, n: int) -> str:
        return str(n)

    def pointer(self, addr: int, code: bool = False) -> str:
        name = self.symbolize(addr) if addr else None
        return f"{addr:#x} <{name}>" if name else f"{addr:#x}"

    def _char_pointer(self, addr: int) -> str:
        if addr == 0:
            return "0x0"
        data = bytearray()
        try:
            while len(data) < PRINT_ELEMENTS:
                chunk = self.read(addr + len(data), 1)
                if chunk[0] == 0:
                    break
                data += chunk
        except Exception:  # noqa: BLE001 - any read failure prints in place, as GDB does
            return f"{addr:#x} <error: Cannot access memory at address {addr + len(data):#x}>"
        more = "..." if len(data) == PRINT_ELEMENTS else ""
        return f"{self.pointer(addr)} {c_string_segments(bytes(data))}{more}"

    # -- aggregates --------------------------------------------------------------------------------------
    def _aggregate(self, v: Value, t: CType) -> str:
        parts = []
        for m in t.members:
            member = member_value(v, m)
            parts.append(f"{m.name} = {self.value(member)}" if m.name else self.value(member))
        return "{" + ", ".join(parts) + "}"

    def _array(self, v: Value, t: CType) -> str:
        element = t.target
        assert element is not None and v.data is not None
        size = element.byte_size
        count = t.count or 0
        if element.is_char and self.fmt is None:
            return char_array_text(v.data[:count])
        if size == 0 or count == 0:
            return "{}"
        items = [Value(element, v.data[i * size:(i + 1) * size]) for i in range(min(count, PRINT_ELEMENTS))]
        texts = [self.value(it) for it in items]
        out: list[str] = []
        for text, reps in _runs(texts):
            if reps > REPEAT_THRESHOLD:
                out.append(f"{text} <repeats {reps} times>")
            else:
                out.extend([text] * reps)
        return "{" + ", ".join(out) + ("..." if count > PRINT_ELEMENTS else "") + "}"


def member_value(v: Value, m) -> Value:
    """A member of a struct/union value (a bitfield keeps its bit position)."""
    size = m.type.byte_size
    if v.data is None:
        return Value(m.type, None, error=v.error)
    if m.bit_size:
        raw = int.from_bytes(v.data, "little") >> m.bit_offset
        raw &= (1 << m.bit_size) - 1
        storage = max(size, 1)
        addr = None if v.address is None else v.address + m.offset
        return Value(m.type, int_bytes(raw, storage), addr, bit_size=m.bit_size,
                     bit_pos=m.bit_offset - 8 * m.offset)
    data = v.data[m.offset:m.offset + size]
    return Value(m.type, data, None if v.address is None else v.address + m.offset)


def format_int(n: int, fmt: str, bits: int, signed: bool) -> str:
    """``p/x``-style integer text in the value's width."""
    bits = max(bits, 1)
    masked = n & ((1 << bits) - 1)
    if fmt in ("x", "a", "z"):
        return f"{masked:#x}"
    if fmt == "o":
        return f"0{masked:o}" if masked else "0"
    if fmt == "t":
        return f"{masked:b}"
    if fmt == "d":
        return str(masked - (1 << bits) if masked >> (bits - 1) else masked)
    if fmt == "u":
        return str(masked)
    if fmt == "c":
        v = masked & 0xFF
        return f"{v - 256 if signed and v > 127 else v} {char_literal(v)}"
    raise ValueError(f'Undefined output format "{fmt}".')


def _float_text(x: float, size: int) -> str:
    if x != x:
        return "nan(0x8000000000000)" if size == 8 else "nan(0x400000)"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{9 if size == 4 else 17}g}"


def char_literal(byte: int) -> str:
    """``'a'``, ``'\\n'``, ``'\\377'`` as GDB writes a char."""
    return "'" + _escape(byte, "'") + "'"


_SPECIAL = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 27: "\\033", 92: "\\\\"}


def _escape(byte: int, quote: str) -> str:
    if byte == ord(quote):
        return "\\" + quote
    if byte in _SPECIAL:
        return _SPECIAL[byte]
    return chr(byte) if 32 <= byte < 127 else f"\\{byte:03o}"


def c_string_segments(data: bytes) -> str:
    """GDB's string printing: quoted runs, with runs over the repeat threshold as ``'x' <repeats N times>``."""
    if not data:
        return '""'
    out: list[str] = []
    current = ""
    for byte, reps in _runs(data):
        if reps > REPEAT_THRESHOLD:
            if current:
                out.append(f'"{current}"')
                current = ""
            out.append(f"{char_literal(byte)} <repeats {reps} times>")
        else:
            current += _escape(byte, '"') * reps
    if current:
        out.append(f'"{current}"')
    return ", ".join(out)


def _runs(items) -> list[tuple]:
    """Runs of equal neighbours as (item, count): GDB's repeat grouping."""
    return [(item, len(list(group))) for item, group in groupby(items)]


def char_array_text(data: bytes) -> str:
    """A ``char[N]`` as GDB prints it: one trailing NUL dropped, everything else shown."""
    if data.endswith(b"\0"):
        data = data[:-1]
    if len(data) > PRINT_ELEMENTS:
        return c_string_segments(data[:PRINT_ELEMENTS]) + "..."
    return c_string_segments(data)
