"""GDB locations: ``*ADDR``, ``0x80000010``, ``main``, ``hello.c:12``, ``12`` -> an address.

A function name resolves past its prologue, as GDB places ``break main``:
to the first address whose source line differs from the function's opening
line, so the stop shows the first statement and the frame is complete for
``backtrace``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from emu.debugger import expr, frames
from emu.debugger.errors import DebuggerError
from emu.debugger.numbers import is_decimal

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

_FILE_LINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>[0-9]{1,12})$", re.ASCII)
_IDENT = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.$]*$")


def after_prologue(shell: CommandShell, addr: int, size: int, trust_locations: bool = True) -> int:
    """Where ``break FUNCTION`` goes, by GDB's rules: the ``prologue_end`` row when the compiler
    marked one; the function's first instruction in optimised code (a CU with location lists,
    which GDB trusts at every pc, or several line rows at the function's start); otherwise the
    first line start after the prologue's stores and ``s0`` set-up (-O0).

    A function without a prologue (a leaf, or shrink-wrapped code that tests its
    arguments first) breaks at its first instruction, as GDB does.  ``step`` into a function
    passes ``trust_locations=False``: GDB skips the prologue there by the line table alone.
    """
    info = shell.debug_info
    marked = info.prologue_end(addr, addr + max(size, 1))
    if marked is not None:
        return marked
    fn = info.function_at(addr)
    if info.rows_at(addr) >= 2 or (trust_locations and fn is not None and info.has_location_lists(fn.cu)):
        return addr
    elf = shell.elf
    try:
        code = shell.read_mem(addr, min(max(size, 2), 128))
    except DebuggerError:
        return addr
    end = frames.prologue_end(shell.disassembler.decode(code, addr))
    if end is None:
        return addr
    for a in range(end, addr + max(size, 2), 2):
        if shell.sources.is_line_start(elf, a):
            return a
    return addr


def current_file(shell: CommandShell) -> str:
    """The file ``list`` last showed, else the pc's file; for bare ``LINE`` locations."""
    if shell.list_next is not None:
        return shell.list_next[0]
    where = shell.elf.line_for(shell.pc)
    if where is None:
        raise DebuggerError("No default source file: use FILE:LINE.")
    return where[0]


def source_file(shell: CommandShell, name: str) -> str:
    """The line table's path for ``name`` (a base name or a path suffix)."""
    return source_files(shell, name)[0]


def source_files(shell: CommandShell, name: str) -> list[str]:
    """Every line-table path ``name`` matches (a base name may name several files, as in GDB)."""
    found = [f for f in shell.elf.source_files()
             if f == name or f.endswith("/" + name) or shell.sources.short(f) == name]
    if not found:
        raise DebuggerError(f"No source file named {name}.")
    return found


def line_address(shell: CommandShell, file: str, line: int) -> int:
    """The lowest address of ``file:line`` or of the next line that has code (as GDB moves a breakpoint),
    over every file the name matches."""
    paths = source_files(shell, file)
    for candidate in range(line, line + 50):
        found = [(a, path) for path in paths for a in shell.debug_info.statement_addresses(path, candidate)]
        found = found or [(a, path) for path in paths for a in shell.elf.addresses_for_line(path, candidate)]
        if found:
            addr, path = min(found)
            shell.resolved_line = (addr, path, candidate)
            return addr
    raise DebuggerError(f'Line {line} in file "{shell.sources.short(paths[0])}" has no code.')


def resolve(shell: CommandShell, text: str) -> int:
    """The address a location names; :class:`DebuggerError` with GDB's wording otherwise."""
    text = text.strip()
    shell.resolved_line = None
    if not text:
        raise DebuggerError("Argument required (location).")
    if text.startswith("*"):
        return expr.eval_text(text[1:], shell) & ((1 << shell.xlen) - 1)
    m = _FILE_LINE.match(text)
    if m:
        return line_address(shell, m.group("file"), int(m.group("line")))
    if is_decimal(text):
        return line_address(shell, current_file(shell), int(text))
    if _IDENT.match(text):
        sym = shell.elf.lookup(text)
        if sym is None:
            raise DebuggerError(f'Function "{text}" not defined.')
        return after_prologue(shell, sym.addr, sym.size) if sym.kind == "func" else sym.addr
    return expr.eval_text(text, shell) & ((1 << shell.xlen) - 1)


def describe_location(shell: CommandShell, addr: int) -> str:
    """``0x80000010: file hello.c, line 12.`` as GDB confirms a new breakpoint."""
    where = shell.elf.line_for(addr)
    resolved = getattr(shell, "resolved_line", None)
    if resolved is not None and resolved[0] == addr:  # FILE:LINE: the line asked for, as GDB confirms it
        where = resolved[1:]
    if where is None:
        name = shell.describe(addr)
        return f"{addr:#x}" + (f" <{name}>" if name else "")
    return f"{addr:#x}: file {shell.sources.short(where[0])}, line {where[1]}."
