"""/NFU specs, value formats, C strings and escapes."""

from __future__ import annotations

import pytest

from emu.debugger.errors import DebuggerError
from emu.debugger.xformat import (
    Spec,
    c_string,
    char_literal,
    decode_escapes,
    format_scalar,
    format_value,
    parse_spec,
)


def test_spec_defaults_and_memory() -> None:
    spec, rest = parse_spec("/4xw $sp", Spec(), 32)
    assert spec == Spec(4, "x", 4) and rest == "$sp"
    spec, rest = parse_spec("/2 0x80000000", Spec(1, "d", 2), 32)
    assert spec == Spec(2, "d", 2)  # format and size remembered
    assert parse_spec("/s msg", Spec(), 32)[0].size == 1
    assert parse_spec("/a $sp", Spec(), 64)[0].size == 8
    assert parse_spec("/x", Spec(1, "c", 1), 32)[0].size == 4
    assert parse_spec("$sp", Spec(3, "t", 2), 32) == (Spec(1, "t", 2), "$sp")


@pytest.mark.parametrize("text", ["/4q $sp", "/0x 1", "/4xz 1"])
def test_bad_specs(text: str) -> None:
    with pytest.raises(DebuggerError):
        parse_spec(text, Spec(), 32)


@pytest.mark.parametrize("value, fmt, size, text", [
    (0x2A, "x", 4, "0x0000002a"), (0xFF, "d", 1, "-1"), (0xFF, "u", 1, "255"), (8, "o", 1, "010"),
    (5, "t", 1, "00000101"), (97, "c", 1, "97 'a'"), (10, "c", 1, "10 '\\n'"), (0x80000000, "a", 4, "0x80000000"),
])
def test_format_value(value: int, fmt: str, size: int, text: str) -> None:
    assert format_value(value, fmt, size) == text


def test_format_scalar() -> None:
    assert format_scalar(-1, None, 32) == "-1"
    assert format_scalar(-1, "x", 32) == "0xffffffff"
    assert format_scalar(5, "t", 32) == "101"
    with pytest.raises(DebuggerError):
        format_scalar(1, "s", 32)


def test_strings_and_escapes() -> None:
    assert c_string(b'hi "x"\n\x01') == '"hi \\"x\\"\\n\\001"'
    assert char_literal(0) == "'\\000'"
    assert decode_escapes("a\\r\\n\\x41\\\\\\e") == b"a\r\nA\\\x1b"
    with pytest.raises(DebuggerError):
        decode_escapes("\\q")
    with pytest.raises(DebuggerError):
        decode_escapes("\\xZZ")
