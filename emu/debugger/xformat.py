"""GDB's ``/NFU`` output specs and how values and memory print under them.

``x/NFU`` and ``p/F`` share these letters, and GDB remembers the last format
and unit size between ``x`` commands, so the spec parser takes the previous
spec as its defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from emu.debugger.errors import DebuggerError
from emu.debugger.expr import to_signed

FORMATS = "xduotacsi"
SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}
# Units per output line, as GDB prints them.
PER_LINE = {1: 8, 2: 8, 4: 4, 8: 2}
# Units (values, strings or instructions) one ``x`` may print: a typo such as x/100000000xb must not
# print hundreds of megabytes.  64 Ki units is 512 KiB of 8-byte words, more than anyone reads.
MAX_COUNT = 64 * 1024


@dataclass(frozen=True)
class Spec:
    count: int = 1
    fmt: str = "x"
    size: int = 4


def parse_spec(text: str, previous: Spec, xlen: int) -> tuple[Spec, str]:
    """Split ``"/4xw $sp"`` into ``(Spec(4, "x", 4), "$sp")``; no ``/`` keeps ``previous``'s format and size."""
    text = text.strip()
    if not text.startswith("/"):
        return Spec(1, previous.fmt, previous.size), text
    word, _, rest = text[1:].partition(" ")
    digits = ""
    i = 0
    while i < len(word) and (word[i] in "0123456789" or (i == 0 and word[i] == "-")):
        digits += word[i]
        i += 1
    fmt, size, explicit_size = previous.fmt, previous.size, False
    for ch in word[i:]:
        if ch in FORMATS:
            fmt = ch
        elif ch in SIZES:
            size, explicit_size = SIZES[ch], True
        else:
            raise DebuggerError(f'Invalid format letter "{ch}" (formats: {FORMATS}, sizes: bhwg).')
    if digits.startswith("-") and digits != "-":
        raise DebuggerError("Count must be a positive number.")
    significant = digits.lstrip("0")
    if len(significant) > len(str(MAX_COUNT)):  # also keeps int() clear of its 4300-digit limit
        shown = significant[:12] + ("..." if len(significant) > 12 else "")
        raise DebuggerError(f"Count {shown} is too large (at most {MAX_COUNT} units per command).")
    count = int(digits) if digits not in ("", "-") else 1
    if count <= 0:
        raise DebuggerError("Count must be a positive number.")
    if count > MAX_COUNT:
        raise DebuggerError(f"Count {count} is too large (at most {MAX_COUNT} units per command).")
    if not explicit_size:
        if fmt in "cs":
            size = 1
        elif fmt == "a":
            size = xlen // 8
        elif previous.fmt in "cs" and fmt not in "cs":
            size = 4
    return Spec(count, fmt, size), rest.strip()


def format_value(value: int, fmt: str, size: int) -> str:
    """One unit of ``size`` bytes in format ``fmt`` (x d u o t c a), as GDB prints it."""
    bits = 8 * size
    value &= (1 << bits) - 1
    if fmt == "x":
        return f"0x{value:0{2 * size}x}"
    if fmt == "d":
        return str(to_signed(value, bits))
    if fmt == "u":
        return str(value)
    if fmt == "o":
        return f"0{value:o}" if value else "0"
    if fmt == "t":
        return f"{value:0{bits}b}"
    if fmt == "c":
        return f"{to_signed(value, bits)} {char_literal(value & 0xFF)}"
    if fmt == "a":
        return f"{value:#x}"
    raise DebuggerError(f'Format letter "{fmt}" is meaningless here.')


def format_scalar(value: int, fmt: str | None, bits: int) -> str:
    """A ``p`` result: decimal by default; ``/x /d /u /o /t /c /a`` in the value's width, unpadded."""
    if fmt is None:
        return str(value)
    masked = value & ((1 << bits) - 1)
    if fmt in "xa":
        return f"{masked:#x}"
    if fmt == "t":
        return f"{masked:b}"
    if fmt in "duoc":
        return format_value(masked, fmt, bits // 8)
    raise DebuggerError(f'Format letter "{fmt}" is meaningless in "print" command.')


def char_literal(byte: int) -> str:
    """``'a'``, ``'\\n'``, ``'\\377'`` as GDB writes a char."""
    special = {0: "\\000", 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
               27: "\\033", 39: "\\'", 92: "\\\\"}
    if byte in special:
        return f"'{special[byte]}'"
    return f"'{chr(byte)}'" if 32 <= byte < 127 else f"'\\{byte:03o}'"


def c_string(data: bytes) -> str:
    """A C string literal of ``data`` (up to the NUL), escaping what is not printable."""
    out = []
    for b in data:
        if b == 34:
            out.append('\\"')
        elif 32 <= b < 127 and b != 92:
            out.append(chr(b))
        else:
            out.append(char_literal(b)[1:-1])
    return '"' + "".join(out) + '"'


def decode_escapes(text: str) -> bytes:
    """``uart send`` text with C escapes (``\\n \\r \\t \\e \\\\ \\xHH \\0``) -> bytes."""
    out = bytearray()
    i = 0
    simple = {"n": 10, "r": 13, "t": 9, "e": 27, "0": 0, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8}
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 == len(text):
            # Non-UTF-8 bytes of a command line (``-ex $'echo \\xff'``) arrive as surrogate escapes.
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "x":
            digits = text[i + 2:i + 4]
            try:
                out.append(int(digits, 16))
            except ValueError:
                raise DebuggerError(f"Bad escape \\x{digits}: two hex digits expected.") from None
            i += 2 + len(digits)
            continue
        if nxt not in simple:
            raise DebuggerError(f"Unknown escape \\{nxt} (use \\n \\r \\t \\e \\0 \\\\ \\xHH).")
        out.append(simple[nxt])
        i += 2
    return bytes(out)
