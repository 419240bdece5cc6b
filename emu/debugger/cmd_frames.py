"""The stack and the program's data from DWARF: ``backtrace``, ``frame``/``up``/``down``, ``info
frame|locals|args|source|functions|variables``, ``ptype``, ``whatis``, ``display``/``undisplay``.

Frame lines follow GDB's layout: ``#1  0x800003ae in main () at main.c:129``, arguments as
``name=value`` with aggregates shown as ``...`` (GDB's ``print frame-arguments scalars``), inlined
calls as frames of their own without an address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.debugger import expr, frames, scope
from emu.debugger.errors import DebuggerError
from emu.debugger.registry import Command, Registry
from emu.dwarf.info import attr, name_of, origin
from emu.dwarf.types import declare, ptype_text
from emu.dwarf.values import Value

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell
    from emu.debugger.frames import Frame

# x8 is "fp" in GDB's frame listings; the others go by their ABI names.
_DWARF_REG_NAMES = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4",
                    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
                    "t5", "t6"]


def register(root: Registry, info: Registry) -> None:
    root.add(Command("backtrace", backtrace, "backtrace [N] -- show the call stack, inlined calls included.\n"
                     "Unwinds with the DWARF call frame information (the frame pointer without it).",
                     aliases=("bt", "where")))
    root.add(Command("frame", frame_cmd, "frame [N] -- select and show frame N (the selected frame without N).",
                     aliases=("f",)))
    root.add(Command("up", lambda s, a: _move(s, a, +1), "up [N] -- select the frame N levels up (the caller)."))
    root.add(Command("down", lambda s, a: _move(s, a, -1), "down [N] -- select the frame N levels down.",
                     aliases=("do",)))
    root.add(Command("ptype", ptype_cmd, "ptype EXPR|TYPE -- the type of an expression, structs expanded.\n"
                     "  ptype s    ptype struct node    ptype shape_t", complete="symbol"))
    root.add(Command("whatis", whatis_cmd, "whatis EXPR|TYPE -- the type name of an expression.",
                     complete="symbol"))
    root.add(Command("display", display_cmd, "display[/FMT] EXPR -- print EXPR after every stop (no EXPR: "
                     "print them all now).", complete="symbol"))
    root.add(Command("undisplay", undisplay_cmd, "undisplay [N...] -- stop displaying (all without N)."))
    info.add(Command("frame", info_frame, "info frame -- the selected frame: addresses, caller, saved registers.",
                     aliases=("f",)))
    info.add(Command("locals", info_locals, "info locals -- local variables of the selected frame."))
    info.add(Command("args", info_args, "info args -- arguments of the selected frame."))
    info.add(Command("source", info_source, "info source -- the current source file."))
    info.add(Command("functions", lambda s, a: _info_names(s, a, functions=True),
                     "info functions [REGEXP] -- functions with debug information."))
    info.add(Command("variables", lambda s, a: _info_names(s, a, functions=False),
                     "info variables [REGEXP] -- global and static variables."))
    info.add(Command("display", info_display, "info display -- the expressions shown after each stop."))


# -- frame lines --------------------------------------------------------------------------------------------
def frame_name(shell: CommandShell, f: Frame) -> str:
    if f.scope is not None:
        return name_of(f.scope.die) or "??"
    return shell.function_of(f.lookup_pc) or "??"


def frame_where(shell: CommandShell, f: Frame, stack: list[Frame] | None = None) -> tuple[str, int] | None:
    """The source position of a frame: for the caller of an inlined call, the call site."""
    callee = _callee(f, stack)
    if callee is not None and callee.inlined and callee.scope is not None:
        site = shell.debug_info.call_site(callee.scope)
        if site is not None:
            return site
    return shell.elf.line_for(f.lookup_pc)


def _callee(f: Frame, stack: list[Frame] | None) -> Frame | None:
    if stack is None or f.level == 0 or f.level - 1 >= len(stack):
        return None
    return stack[f.level - 1]


def args_text(shell: CommandShell, f: Frame) -> str:
    """``p=0x80002048 <nodes>, k=3``: scalars by value, aggregates as ``...``."""
    parts = []
    pr = _printer(shell)
    for name, v in scope.arguments(shell, f):
        kind = v.type.strip().kind
        parts.append(f"{name}=..." if kind in ("struct", "union", "array") and v.data is not None
                     else f"{name}={pr.value(v)}")
    return ", ".join(parts)


def _printer(shell: CommandShell, fmt: str | None = None):
    from emu.debugger.cmd_data import printer

    return printer(shell, fmt)


def frame_text(shell: CommandShell, f: Frame, stack: list[Frame] | None = None, level: bool = True) -> str:
    """``#1  0x800003ae in main () at main.c:129`` (``level=False``: the stop line without ``#N``)."""
    where = frame_where(shell, f, stack)
    callee = _callee(f, stack)
    show_addr = not (callee is not None and callee.inlined)
    if show_addr:
        if f.level == 0 or (f.regs is not None and (f.regs.innermost or f.regs.exact_pc)):
            show_addr = where is None or not shell.sources.is_line_start(shell.elf, f.pc)
        else:
            show_addr = True
    text = f"#{f.level:<3}" if level else ""
    if show_addr:
        text += f"0x{f.pc:0{shell.xlen // 4}x} in "  # frame lines pad the pc to XLEN, as GDB does
    text += f"{frame_name(shell, f)} ({args_text(shell, f)})"
    if where is not None:
        text += f" at {shell.sources.short(where[0])}:{where[1]}"
    return text


def print_frame(shell: CommandShell, f: Frame, stack: list[Frame], prefix: str = "", level: bool = True) -> None:
    """A frame line and its source line, as ``frame``/``up``/stops print them."""
    shell.out(prefix + frame_text(shell, f, stack, level))
    where = frame_where(shell, f, stack)
    if where is not None:
        shell.out(shell.sources.line_text(where[0], where[1]))
        shell.list_next = (where[0], max(1, where[1] - 5))


# -- commands ----------------------------------------------------------------------------------------------
def _int_arg(text: str, what: str) -> int:
    from emu.debugger.numbers import parse_int

    return parse_int(text, what)


def backtrace(shell: CommandShell, arg: str) -> None:
    limit = frames.MAX_FRAMES
    text = arg.strip()
    if text:
        try:
            limit = _int_arg(text, "count")
        except DebuggerError:
            raise DebuggerError(f'No symbol "{text}" in current context.') from None
    stack = frames.unwind(shell, limit=max(limit, 1) + 1)
    for f in stack[:max(limit, 1)]:
        shell.out(frame_text(shell, f, stack))
    if len(stack) > max(limit, 1):
        shell.out("(More stack frames follow...)")


def _stack(shell: CommandShell) -> list[Frame]:
    stack = frames.unwind(shell)
    if not stack:
        raise DebuggerError("No stack.")
    return stack


def frame_cmd(shell: CommandShell, arg: str) -> None:
    stack = _stack(shell)
    level = shell.frame_level if not arg.strip() else _int_arg(arg.strip(), "frame level")
    if not 0 <= level < len(stack):
        raise DebuggerError("No frame at level " + arg.strip() + ".")
    shell.select_frame(level)
    print_frame(shell, stack[level], stack)


def _move(shell: CommandShell, arg: str, direction: int) -> None:
    n = _int_arg(arg.strip(), "count") if arg.strip() else 1
    stack = _stack(shell)
    level = shell.frame_level + direction * n
    if level < 0:
        raise DebuggerError("Bottom (innermost) frame selected; you cannot go down.")
    if level >= len(stack):
        if shell.frame_level == len(stack) - 1:
            raise DebuggerError("Initial frame selected; you cannot go up.")
        level = len(stack) - 1
    shell.select_frame(level)
    print_frame(shell, stack[level], stack)


def info_frame(shell: CommandShell, arg: str) -> None:
    stack = _stack(shell)
    level = min(shell.frame_level, len(stack) - 1)
    f = stack[level]
    where = frame_where(shell, f, stack)
    at = f" ({where[0]}:{where[1]})" if where is not None else ""
    shell.out(f"Stack level {level}, frame at {f.cfa:#x}:")
    saved = f"; saved pc = {f.caller_pc:#x}" if f.caller_pc is not None and not f.inlined else ""
    shell.out(f" pc = {f.pc:#x} in {frame_name(shell, f)}{at}{saved}")
    if f.inlined and level + 1 < len(stack):
        shell.out(f" inlined into frame {level + 1}")
    links = []
    if level + 1 < len(stack) and not f.inlined:
        links.append(f"called by frame at {stack[level + 1].cfa:#x}")
    if level > 0:
        links.append(f"caller of frame at {stack[level - 1].cfa:#x}")
    if links:
        shell.out(" " + ", ".join(links))
    lang = shell.debug_info.language(f.scope.cu) if f.scope is not None else "asm"
    shell.out(f" source language {lang}.")
    shell.out(f" Arglist at {f.cfa:#x}, args: {args_text(shell, f)}")
    shell.out(f" Locals at {f.cfa:#x}, Previous frame's sp is {f.cfa:#x}")
    saved_at = dict(f.regs.saved_at) if f.regs is not None else {}
    if saved_at:
        parts = [f"{_DWARF_REG_NAMES[r]} at {a:#x}" for r, a in sorted(saved_at.items()) if r < 32]
        if 1 in saved_at:
            parts.append(f"pc at {saved_at[1]:#x}")
        shell.out(" Saved registers:")
        shell.out("  " + ", ".join(parts))


def info_locals(shell: CommandShell, arg: str) -> None:
    _print_variables(shell, scope.locals_of, "No locals.")


def info_args(shell: CommandShell, arg: str) -> None:
    _print_variables(shell, scope.arguments, "No arguments.")


def _print_variables(shell: CommandShell, collect, none: str) -> None:
    """``info locals`` / ``info args``: ``collect(shell, frame)`` -> [(name, value)], one per line."""
    f = shell.selected_frame()
    if f is None or f.scope is None:
        raise DebuggerError("No symbol table info available.")
    found = collect(shell, f)
    if not found:
        shell.out(none)
    pr = _printer(shell)
    for name, v in found:
        shell.out(f"{name} = {pr.value(v)}")


def _type_of(shell: CommandShell, text: str):
    """A type named by ``text`` (``struct node``, ``shape_t``, ``int *``) or the type of the expression,
    as (type, named): ptype's and whatis's argument."""
    text = text.strip()
    if not text:
        raise DebuggerError("Argument required (one or more choice items).")
    norm = " ".join(text.split())
    stars = len(norm) - len(norm.rstrip("* "))
    name = norm.rstrip("* ")
    t = shell.named_type(name) if name else None
    if t is not None or name.split(" ")[0] in ("struct", "union", "enum"):
        if t is None:
            raise DebuggerError(f'No {name.split(" ")[0]} type named {name.split(" ", 1)[-1]}.')
        from emu.dwarf.types import pointer_to

        for _ in range(norm.count("*") if stars else 0):
            t = pointer_to(t, shell.xlen)
        return t, True
    node = expr.parse(text, shell.xlen, shell.named_type)
    if node.op == "=":
        raise DebuggerError("ptype/whatis do not assign: use print.")
    return expr.evaluate_value(node, shell).type, False


def ptype_cmd(shell: CommandShell, arg: str) -> None:
    t, _ = _type_of(shell, arg)
    shell.out(f"type = {_nodebug_type(t) if t.kind == 'nodebug' else ptype_text(t)}")


def whatis_cmd(shell: CommandShell, arg: str) -> None:
    t, named = _type_of(shell, arg)
    if t.kind == "nodebug":
        shell.out(f"type = {_nodebug_type(t)}")
        return
    if named and t.kind == "typedef" and t.target is not None:  # whatis TYPEDEF unrolls one level
        t = t.target
    shell.out(f"type = {declare(t)}")


def _nodebug_type(t) -> str:
    return "int" if t.target is not None else t.name.strip()


def info_source(shell: CommandShell, arg: str) -> None:
    where = shell.elf.line_for(shell.pc)
    f = shell.selected_frame()
    if where is None or f is None or f.scope is None:
        shell.out("No current source file.")
        return
    shell.out(f"Current source file is {where[0]}")
    lines = shell.sources.lines(where[0])
    if lines is not None:
        shell.out(f"Contains {len(lines)} lines.")
    shell.out(f"Source language is {shell.debug_info.language(f.scope.cu)}.")


def _info_names(shell: CommandShell, arg: str, functions: bool) -> None:
    """GDB's layout: per declaring file (sorted), ``LINE:\tDECLARATION;``, globals then statics,
    each by name."""
    try:
        pattern = re.compile(arg.strip()) if arg.strip() else None
    except re.error as e:
        raise DebuggerError(f"Invalid regexp: {e}") from None
    info = shell.debug_info
    names = info.function_names() if functions else info.global_names()
    what = "functions" if functions else "variables"
    title = f"All {what}" + (f' matching regular expression "{arg.strip()}":' if pattern is not None else ":")
    by_file: dict[str, list[tuple[bool, str, int, str]]] = {}
    code = shell.elf.executable_ranges()
    for n in names:
        if pattern is not None and not pattern.search(n):
            continue
        if functions:
            fn = info.function_named(n)
            assert fn is not None
            if not any(lo <= fn.low < hi for lo, hi in code):
                continue  # discarded by --gc-sections: its DWARF survives at address 0
            die, cu, t = origin(fn.die), fn.cu, info.function_type(fn)
        else:
            var = info.lookup_global(n)
            assert var is not None
            die, cu, t = origin(var.die), var.cu, info.type_of(var.die)
        static = "" if attr(die, "DW_AT_external", False) else "static "
        index = attr(die, "DW_AT_decl_file")
        file = info.file_name(cu, int(index)) if index is not None else "??"
        line = int(attr(die, "DW_AT_decl_line", 0) or 0)
        by_file.setdefault(file, []).append((bool(static), n, line, f"{static}{declare(t, n)};"))
    shell.out(title)
    for file in sorted(by_file):
        shell.out("")
        shell.out(f"File {file}:")
        for _, _, line, text in sorted(by_file[file]):  # globals, then statics (GDB's block order)
            shell.out(f"{line}:\t{text}")


# -- display ----------------------------------------------------------------------------------------------
@dataclass
class Display:
    number: int
    text: str
    fmt: str | None


def display_cmd(shell: CommandShell, arg: str) -> None:
    from emu.debugger.cmd_data import _print_spec

    text = arg.strip()
    if not text:
        show_displays(shell, automatic=False)
        return
    fmt, body = _print_spec(text)
    expr.parse(body, shell.xlen, shell.named_type)  # a syntax error is reported now, not at every stop
    shell.display_next += 1
    d = Display(shell.display_next, body, fmt)
    shell.displays.append(d)
    _show(shell, d)


def _show(shell: CommandShell, d: Display, automatic: bool = False) -> None:
    from emu.debugger.cmd_data import format_value

    label = f"{d.number}: " + (f"/{d.fmt} " if d.fmt else "") + d.text
    try:
        v: Value = expr.evaluate_value(expr.parse(d.text, shell.xlen, shell.named_type), shell)
        shell.out(f"{label} = {format_value(shell, v, d.fmt)}")
    except DebuggerError as e:
        if automatic and str(e).startswith("No symbol"):
            return  # a local of another scope: GDB shows it again when its block is back
        shell.out(f"{label} = <error: {e}>")


def show_displays(shell: CommandShell, automatic: bool = True) -> None:
    for d in shell.displays:
        _show(shell, d, automatic)


def undisplay_cmd(shell: CommandShell, arg: str) -> None:
    if not arg.strip():
        shell.displays.clear()
        return
    for word in arg.split():
        n = _int_arg(word, "display number")
        before = len(shell.displays)
        shell.displays[:] = [d for d in shell.displays if d.number != n]
        if len(shell.displays) == before:
            raise DebuggerError(f"No display number {n}.")


def info_display(shell: CommandShell, arg: str) -> None:
    if not shell.displays:
        shell.out("There are no auto-display expressions now.")
        return
    shell.out("Auto-display expressions now in effect:\nNum Enb Expression")
    for d in shell.displays:
        shell.out(f"{d.number}:   y  " + (f"/{d.fmt} " if d.fmt else "") + d.text)
