"""The one way the debugger reads an integer the user typed (counts, line numbers, breakpoint
numbers, frame levels).

``str.isdigit()`` accepts superscript and other Unicode digits (``"²".isdigit()`` is True) that
``int()`` then rejects with a ValueError; every command used to pair the two.  Here only ASCII
forms GDB accepts pass: decimal, ``0x`` hex, ``0`` octal, an optional sign, at most 40 characters.
"""

from __future__ import annotations

import re

from emu.debugger.errors import DebuggerError

_INT = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+", re.ASCII)
MAX_CHARS = 40


def is_int(text: str) -> bool:
    """True when ``text`` is an integer :func:`parse_int` accepts."""
    return len(text) <= MAX_CHARS and _INT.fullmatch(text) is not None


def is_decimal(text: str) -> bool:
    """True for a plain ASCII decimal number (``12`` as a line number or breakpoint number)."""
    return len(text) <= MAX_CHARS and _DECIMAL.fullmatch(text) is not None


def parse_int(text: str, what: str = "number") -> int:
    """``text`` as an integer, or :class:`DebuggerError` naming ``what`` in one line."""
    text = text.strip()
    if not is_int(text):
        shown = text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "..."
        raise DebuggerError(f'Invalid {what} "{shown}".')
    return int(text, 0) if not re.fullmatch(r"[+-]?0[0-7]+", text) else int(text, 8)
