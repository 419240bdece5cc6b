"""GDB locations: ``*ADDR``, ``0x80000010``, ``main``, ``hello.c:12``, ``12`` -> an address.

A function name resolves past its prologue, as GDB places ``break main``:
to the first address whose source line differs from the function's opening
line, so the stop shows the first statement and the frame is complete for
``backtrace``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from emu.debugger import expr
from emu.debugger.errors import DebuggerError

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

_FILE_LINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+)$")
_IDENT = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.$]*$")


def after_prologue(shell: CommandShell, addr: int, size: int) -> int:
    """The first address of ``[addr, addr+size)`` on a different source line than ``addr``."""
    elf = shell.machine.elf
    first = elf.line_for(addr)
    if first is None:
        return addr
    for a in range(addr + 2, addr + max(size, 2), 2):
        where = elf.line_for(a)
        if where is not None and where != first and shell.sources.is_line_start(elf, a):
            return a
    return addr


def current_file(shell: CommandShell) -> str:
    """The file ``list`` last showed, else the pc's file; for bare ``LINE`` locations."""
    if shell.list_next is not None:
        return shell.list_next[0]
    where = shell.machine.elf.line_for(shell.pc)
    if where is None:
        raise DebuggerError("No default source file: use FILE:LINE.")
    return where[0]


def line_address(shell: CommandShell, file: str, line: int) -> int:
    """The lowest address of ``file:line`` or of the next line that has code (as GDB moves a breakpoint)."""
    elf = shell.machine.elf
    if not any(f == file or f.endswith("/" + file) or shell.sources.short(f) == file for f in elf.source_files()):
        raise DebuggerError(f'No source file named {file}.')
    for candidate in range(line, line + 50):
        addrs = elf.addresses_for_line(file, candidate)
        if addrs:
            return min(addrs)
    raise DebuggerError(f'Line {line} in file "{file}" has no code.')


def resolve(shell: CommandShell, text: str) -> int:
    """The address a location names; :class:`DebuggerError` with GDB's wording otherwise."""
    text = text.strip()
    if not text:
        raise DebuggerError("Argument required (location).")
    if text.startswith("*"):
        return expr.eval_text(text[1:], shell) & ((1 << shell.xlen) - 1)
    m = _FILE_LINE.match(text)
    if m:
        return line_address(shell, m.group("file"), int(m.group("line")))
    if text.isdigit():
        return line_address(shell, current_file(shell), int(text))
    if _IDENT.match(text):
        sym = shell.machine.elf.lookup(text)
        if sym is None:
            raise DebuggerError(f'Function "{text}" not defined.')
        return after_prologue(shell, sym.addr, sym.size) if sym.kind == "func" else sym.addr
    return expr.eval_text(text, shell) & ((1 << shell.xlen) - 1)


def describe_location(shell: CommandShell, addr: int) -> str:
    """``0x80000010: file hello.c, line 12.`` as GDB confirms a new breakpoint."""
    where = shell.machine.elf.line_for(addr)
    if where is None:
        name = shell.describe(addr)
        return f"{addr:#x}" + (f" <{name}>" if name else "")
    return f"{addr:#x}: file {shell.sources.short(where[0])}, line {where[1]}."
