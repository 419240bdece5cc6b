"""Command resolution as GDB does it: exact names, aliases, unique prefixes, sub-commands."""

from __future__ import annotations

import pytest

from emu.debugger.commands import build_registry
from emu.debugger.errors import DebuggerError
from emu.debugger.registry import split_command


@pytest.mark.parametrize("word, name", [
    ("s", "step"), ("n", "next"), ("c", "continue"), ("b", "break"), ("si", "stepi"), ("ni", "nexti"),
    ("bt", "backtrace"), ("p", "print"), ("i", "info"), ("d", "delete"), ("r", "run"), ("disas", "disassemble"),
    ("fin", "finish"), ("tb", "tbreak"), ("q", "quit"), ("l", "list"), ("u", "until"), ("rsi", "reverse-stepi"),
    ("adv", "advance"), ("snap", "snapshot"),
])
def test_abbreviations(word: str, name: str) -> None:
    assert build_registry().resolve(word).name == name


def test_ambiguous_and_unknown() -> None:
    reg = build_registry()
    with pytest.raises(DebuggerError, match="Ambiguous command \"re\""):
        reg.resolve("re")
    with pytest.raises(DebuggerError, match="Undefined command: \"frobnicate\""):
        reg.resolve("frobnicate")


def test_info_subcommands() -> None:
    info = build_registry().resolve("info").subcommands
    assert info is not None
    assert info.resolve("r").name == "registers"
    assert info.resolve("b").name == "breakpoints"
    assert info.resolve("dev").name == "devices"
    with pytest.raises(DebuggerError, match="Undefined info command"):
        info.resolve("nosuch")


def test_every_command_has_help() -> None:
    reg = build_registry()
    for command in reg:
        assert command.usage.strip() and " -- " in command.summary
        for sub in command.subcommands or []:
            assert " -- " in sub.summary


def test_split_command() -> None:
    assert split_command("x/4xw $sp") == ("x", "/4xw $sp")
    assert split_command("  p/x 1 ") == ("p", "/x 1")
    assert split_command("reverse-stepi 3") == ("reverse-stepi", "3")
    assert split_command("b main") == ("b", "main")
