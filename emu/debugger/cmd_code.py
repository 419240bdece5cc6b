"""Reading code: ``disassemble``, ``x/i`` (via :func:`print_insns`), ``list``, ``backtrace``, ``info line``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.debugger import locations
from emu.debugger.disasm import format_insn
from emu.debugger.errors import DebuggerError
from emu.debugger.numbers import is_decimal
from emu.debugger.registry import Command, Registry

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

LIST_SIZE = 10
MAX_DISASSEMBLE = 64 * 1024  # bytes one ``disassemble FUNC`` shows (16 Ki instructions at most)


def register(root: Registry, info: Registry) -> None:
    root.add(Command("disassemble", disassemble, "disassemble [LOC | START,END | START,+LEN] -- "
                     "disassemble a function (the pc's by default).\nThe current instruction is marked "
                     "with =>.\n  disassemble main\n  disassemble 0x80000000,+16", complete="location"))
    root.add(Command("list", list_cmd, "list [LOC] -- show source lines around LOC (or continue the last "
                     "listing).\nLOC: LINE, FILE:LINE, FUNCTION, *ADDR.\n  list main\n  list hello.c:10",
                     aliases=("l",), complete="location", repeatable=True))
    info.add(Command("line", info_line, "info line [LOC] -- the address range of a source line.",
                     complete="location"))


def print_insns(shell: CommandShell, addr: int, count: int) -> int:
    """``x/Ni``: ``count`` instructions from ``addr`` with ``<sym+off>`` labels; returns the next address."""
    pc = shell.pc
    code = read_upto(shell, addr, 4 * count)
    insns = shell.disassembler.decode(code, addr, count)
    if not insns:
        raise DebuggerError(f"Cannot access memory at address {addr:#x}")
    for insn in insns:
        name = shell.describe(insn.addr)
        shell.out(format_insn(insn, shell.describe, f" <{name}>" if name else "", insn.addr == pc))
    return insns[-1].addr + insns[-1].size


def read_upto(shell: CommandShell, addr: int, n: int) -> bytes:
    """``n`` bytes, or as many as RAM has from ``addr`` on (the last instructions of RAM).

    The readable prefix is found by bisection (a few reads), not by shrinking two bytes at a time,
    so a request far past the end of RAM returns at once.
    """
    try:
        return shell.read_mem(addr, n)
    except DebuggerError:
        pass
    good, bad = 0, n  # a read of ``good`` bytes works (0 trivially), of ``bad`` bytes fails
    while bad - good > 2:
        mid = (good + bad) // 2 & ~1
        if mid <= good:
            break
        try:
            shell.read_mem(addr, mid)
            good = mid
        except DebuggerError:
            bad = mid
    return shell.read_mem(addr, good if good else min(n, 2))


def _range(shell: CommandShell, arg: str) -> tuple[int, int, str | None]:
    """``(start, end, function name or None)`` for the disassemble argument forms."""
    if "," in arg:
        first, second = (s.strip() for s in arg.split(",", 1))
        start = locations.resolve(shell, first if first.startswith("*") else "*" + first)
        end = start + int(locations.resolve(shell, "*" + second[1:])) if second.startswith("+") \
            else locations.resolve(shell, "*" + second)
        if end <= start:
            raise DebuggerError("Invalid range: END must be after START.")
        return start, min(end, start + 4096), None
    addr = locations.resolve(shell, arg) if arg else shell.pc
    hit = shell.elf.symbol_at(addr)
    if hit is None or hit[0].kind != "func" or hit[0].size == 0:
        raise DebuggerError(f"No function contains specified address ({addr:#x}); use START,+LEN.")
    sym = hit[0]
    if sym.size > MAX_DISASSEMBLE:  # a corrupt or hostile st_size must not hang the shell
        shell.out(f"(function {sym.name} claims {sym.size} bytes: showing the first {MAX_DISASSEMBLE}; "
                  "use START,+LEN for more)")
        return sym.addr, sym.addr + MAX_DISASSEMBLE, sym.name
    return sym.addr, sym.addr + sym.size, sym.name


def disassemble(shell: CommandShell, arg: str) -> None:
    arg = arg.strip()
    if arg.startswith("/"):
        raise DebuggerError("disassemble modifiers (/r /m /s) are not supported.")
    start, end, func = _range(shell, arg)
    insns = shell.disassembler.decode(read_upto(shell, start, end - start), start)
    pc = shell.pc
    shell.out(f"Dump of assembler code for function {func}:" if func else
              f"Dump of assembler code from {start:#x} to {end:#x}:")
    for insn in insns:
        label = f" <+{insn.addr - start}>" if func else _sym_label(shell, insn.addr)
        shell.out(format_insn(insn, shell.describe, label, insn.addr == pc))
    shell.out("End of assembler dump.")


def _sym_label(shell: CommandShell, addr: int) -> str:
    name = shell.describe(addr)
    return f" <{name}>" if name else ""


def _list_start(shell: CommandShell, arg: str) -> tuple[str, int]:
    """``(file, first line)`` for ``list ARG``: lines by number, functions and addresses by their line."""
    file_part, _, line_part = arg.rpartition(":")
    if is_decimal(line_part) and not arg.startswith("*"):
        file = locations.source_file(shell, file_part) if file_part else locations.current_file(shell)
        return file, max(1, int(line_part) - shell.list_size // 2)
    sym = shell.elf.lookup(arg)
    # A function lists around its opening line, as GDB centres ``list main``.
    addr = sym.addr if sym is not None and sym.kind == "func" else locations.resolve(shell, arg)
    where = shell.elf.line_for(addr)
    if where is None:
        raise DebuggerError(f"No line number information available for address {addr:#x}")
    return where[0], max(1, where[1] - shell.list_size // 2 + 1)


def list_cmd(shell: CommandShell, arg: str) -> None:
    arg = arg.strip()
    if arg:
        file, first = _list_start(shell, arg)
    else:
        if shell.list_next is None:
            where = shell.elf.line_for(shell.pc)
            if where is None:
                raise DebuggerError("No line number information available for the current address.")
            shell.list_next = (where[0], max(1, where[1] - shell.list_size // 2))
        file, first = shell.list_next
    text = shell.sources.lines(file)
    if text is None:
        raise DebuggerError(f"{file}: No such file or directory.")
    if first > len(text):
        raise DebuggerError(f"Line number {first} out of range; \"{shell.sources.short(file)}\" has {len(text)} lines.")
    last = min(first + shell.list_size - 1, len(text))
    for n in range(first, last + 1):
        shell.out(f"{n}\t{text[n - 1]}")
    shell.list_next = (file, last + 1)
    shell.last_repeatable = "list"


def info_line(shell: CommandShell, arg: str) -> None:
    addr = locations.resolve(shell, arg) if arg.strip() else shell.pc
    elf = shell.elf
    where = elf.line_for(addr)
    if where is None:
        shell.out(f"No line number information available for address {addr:#x}")
        return
    starts = elf.addresses_for_line(*where)
    first = min(starts) if starts else addr
    name = shell.describe(first)
    shell.out(f'Line {where[1]} of "{shell.sources.short(where[0])}" starts at address {first:#x}'
              + (f" <{name}>." if name else "."))
