"""Breakpoints and watchpoints: ``break``, ``tbreak``, ``delete``, ``disable``, ``enable``, ``condition``,
``watch``/``rwatch``/``awatch``, ``info breakpoints``."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from emu.debugger import expr, locations
from emu.debugger.bptable import WATCH_KINDS, Point
from emu.debugger.errors import DebuggerError
from emu.debugger.numbers import is_decimal
from emu.debugger.registry import Command, Registry

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

_IF = re.compile(r"(?:^|\s)if(?:\s|$)")


def register(root: Registry, info: Registry) -> None:
    root.add(Command("break", break_cmd, "break [LOC] [if EXPR] -- stop when execution reaches LOC.\n"
                     "LOC: FUNCTION, FILE:LINE, LINE, *ADDR or ADDR; EXPR is checked at every hit.\n"
                     "  break main\n  b hello.c:12\n  b *0x80000010 if $a0 == 3",
                     aliases=("b", "br", "bre", "brea"), complete="location"))
    root.add(Command("tbreak", tbreak_cmd, "tbreak LOC [if EXPR] -- a breakpoint deleted at its first stop.",
                     complete="location"))
    root.add(Command("delete", delete_cmd, "delete [N...] -- delete breakpoints/watchpoints (all without N).\n"
                     "N may be a range: delete 2-4", aliases=("d",)))
    root.add(Command("disable", lambda s, a: _enable(s, a, False),
                     "disable [N...] -- keep breakpoints but stop using them (all without N).", aliases=("disa",)))
    root.add(Command("enable", lambda s, a: _enable(s, a, True),
                     "enable [N...] -- use disabled breakpoints again (all without N).", aliases=("en",)))
    root.add(Command("condition", condition_cmd, "condition N [EXPR] -- stop at breakpoint N only when EXPR "
                     "is non-zero; no EXPR removes the condition.\n  condition 1 counter > 2"))
    for name, kind in (("watch", "w"), ("rwatch", "r"), ("awatch", "a")):
        verb = {"w": "written (value changes)", "r": "read", "a": "read or written"}[kind]
        root.add(Command(name, functools.partial(watch_cmd, kind=kind),
                         f"{name} VAR|ADDR [LEN] -- stop when memory is {verb}.\nVAR watches the variable's "
                         f"size; ADDR watches LEN bytes (4 by default).\n  {name} counter\n  {name} 0x80001000 8",
                         complete="symbol"))
    info.add(Command("breakpoints", info_breakpoints, "info breakpoints -- list breakpoints and watchpoints.",
                     aliases=("b", "break", "watchpoints")))


def _split_condition(arg: str) -> tuple[str, str]:
    m = _IF.search(arg)
    if m is None:
        return arg.strip(), ""
    return arg[:m.start()].strip(), arg[m.end():].strip()


def _add_break(shell: CommandShell, arg: str, temporary: bool) -> Point:
    loc, cond = _split_condition(arg)
    if cond == "" and _IF.search(arg):
        raise DebuggerError("Argument required (boolean expression).")
    node = expr.parse(cond, shell.xlen, shell.named_type) if cond else None
    addr = locations.resolve(shell, loc) if loc else shell.pc
    p = shell.breakpoints.add("b", addr, what=loc or f"*{addr:#x}", temporary=temporary)
    p.condition, p.condition_node = cond, node
    p.shown = watched_text(shell, p)
    title = "Temporary breakpoint" if temporary else "Breakpoint"
    shell.out(f"{title} {p.number} at {locations.describe_location(shell, addr)}")
    return p


def break_cmd(shell: CommandShell, arg: str) -> None:
    _add_break(shell, arg, temporary=False)


def tbreak_cmd(shell: CommandShell, arg: str) -> None:
    _add_break(shell, arg, temporary=True)


def _numbers(shell: CommandShell, arg: str) -> list[int]:
    """``"1 3-5"`` -> [1, 3, 4, 5]; no argument -> every point."""
    if not arg.strip():
        return sorted(shell.breakpoints.points)
    out: list[int] = []
    for word in arg.split():
        lo, _, hi = word.partition("-")
        if not is_decimal(lo) or not is_decimal(hi or lo):
            raise DebuggerError(f'Convenience variable must have integer value.  Bad number "{word}".')
        first, last = int(lo), int(hi or lo)
        if last - first > 100_000:
            raise DebuggerError(f'Range "{word}" is too large.')
        out.extend(range(first, last + 1))
    return out


def delete_cmd(shell: CommandShell, arg: str) -> None:
    for n in _numbers(shell, arg):
        shell.breakpoints.delete(n)


def _enable(shell: CommandShell, arg: str, enabled: bool) -> None:
    for n in _numbers(shell, arg):
        shell.breakpoints.set_enabled(n, enabled)


def condition_cmd(shell: CommandShell, arg: str) -> None:
    number, _, cond = arg.strip().partition(" ")
    if not is_decimal(number):
        raise DebuggerError("Argument required (breakpoint number).")
    p = shell.breakpoints.get(int(number))
    if p.kind != "b":
        raise DebuggerError("Conditions are supported on breakpoints only.")
    cond = cond.strip()
    p.condition_node = expr.parse(cond, shell.xlen, shell.named_type) if cond else None
    p.condition = cond
    if not cond:
        shell.out(f"Breakpoint {p.number} now unconditional.")


def watch_cmd(shell: CommandShell, arg: str, *, kind: str) -> None:
    words = arg.split()
    if not words:
        raise DebuggerError("Argument required (expression to compute).")
    cond = ""
    if "if" in words[1:]:  # ``watch EXPR if COND``
        at = words.index("if", 1)
        words, cond = words[:at], " ".join(words[at + 1:])
        if not cond:
            raise DebuggerError("Argument required (boolean expression).")
    node = expr.parse(cond, shell.xlen, shell.named_type) if cond else None
    length: int | None = None
    if len(words) > 1 and re.fullmatch(r"[0-9]{1,10}|0x[0-9a-fA-F]{1,16}", words[-1]):
        length = int(words[-1], 0)
        words = words[:-1]
    what = " ".join(words)
    sym = shell.elf.lookup(what)
    if sym is not None and sym.kind == "object":
        addr, size = sym.addr, sym.size or 4
    else:
        value = expr.evaluate_value(expr.parse(what, shell.xlen, shell.named_type), shell)
        if value.address is not None and value.type.kind != "nodebug":
            addr, size = value.address, max(value.type.byte_size, 1)  # an lvalue: watch its bytes
        else:
            addr, size = expr.eval_text(what.removeprefix("*"), shell), 4
    length = length or size
    if not 1 <= length <= 4096:
        raise DebuggerError(f"Watch length must be 1..4096 bytes, not {length}.")
    shell.read_mem(addr, length)  # refuse what the Machine could never report
    p = shell.breakpoints.add(kind, addr, length, what)
    p.condition, p.condition_node = cond, node
    p.shown = watched_text(shell, p)
    title = WATCH_KINDS[kind].replace("access", "access (read/write)")
    shell.out(f"{title} {p.number}: {what}")


def watched_text(shell: CommandShell, p) -> str | None:
    """The watched expression's value as ``print`` shows it (None when it cannot be evaluated)."""
    from emu.debugger.cmd_data import format_value

    try:
        value = expr.evaluate_value(expr.parse(p.what, shell.xlen, shell.named_type), shell)
        if value.address is None or value.type.kind == "nodebug":
            return None
        return format_value(shell, value, None)
    except DebuggerError:
        return None


def info_breakpoints(shell: CommandShell, arg: str) -> None:
    points = sorted(shell.breakpoints.points.values(), key=lambda p: p.number)
    if not points:
        shell.out("No breakpoints or watchpoints.")
        return
    shell.out("Num     Type            Disp Enb Address            What")
    for p in points:
        disp = "del " if p.temporary else "keep"
        enb = "y" if p.enabled else "n"
        if p.kind == "b":
            where = shell.elf.line_for(p.addr)
            func = shell.function_of(p.addr)
            what = (f"in {func} " if func else "") + \
                   (f"at {shell.sources.short(where[0])}:{where[1]}" if where else "")
            shell.out(f"{p.number:<7} {p.type_name:<15} {disp} {enb}   {p.addr:<#18x} {what.strip()}")
        else:
            shell.out(f"{p.number:<7} {p.type_name:<15} {disp} {enb}   {'':<18} {p.what} "
                      f"({p.length} bytes at {p.addr:#x})")
        if p.condition:
            shell.out(f"\tstop only if {p.condition}")
        if p.hits:
            shell.out(f"\tbreakpoint already hit {p.hits} time{'s' if p.hits > 1 else ''}")
