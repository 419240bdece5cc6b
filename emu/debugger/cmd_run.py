"""Run control: ``run``, ``start``, ``continue``, ``stepi``, ``nexti``, ``step``, ``next``, ``finish``,
``until``, ``advance`` (running is in resume.py, stop reports in stops.py).

Source-line stepping is done here, over ``Machine.step`` and internal
breakpoints, because it is debugger policy (GDB's rules), not machine
behaviour: ``step`` single-steps until the pc starts a different source
line; ``next`` runs over calls with a breakpoint at the return address that
only counts in the caller's frame (``sp`` back to its value at the call), so
recursion does not stop it early.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.debugger import cmd_frames, frames, locations
from emu.debugger.bptable import Point
from emu.debugger.cmd_data import format_value
from emu.debugger.disasm import Insn, is_call
from emu.debugger.errors import DebuggerError
from emu.debugger.numbers import parse_int
from emu.debugger.registry import Command, Registry
from emu.debugger.resume import require_alive, resume, run_to, stop_kind, user_hit
from emu.debugger.stops import report, report_interrupt
from emu.dwarf.types import CType, declare
from emu.dwarf.values import Value, int_bytes
from emu.machine import Stop, StopReason

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

# A runaway ``step`` (a loop with no line info) gives the prompt back after this many instructions.
STEP_LIMIT = 1_000_000


def register(root: Registry, info: Registry) -> None:
    root.add(Command("run", run_cmd, "run -- restart the firmware from its entry point and continue.\n"
                     "Breakpoints are kept; RAM, registers and devices return to their power-on state.",
                     aliases=("r",)))
    root.add(Command("start", start_cmd, "start -- restart and stop at the first line of main."))
    root.add(Command("continue", continue_cmd, "continue -- resume until a breakpoint, a watchpoint, exit or "
                     "Ctrl-C.", aliases=("c", "cont", "fg")))
    root.add(Command("stepi", lambda s, a: stepi(s, a, over=False), "stepi [N] -- execute N instructions "
                     "(1), entering calls and traps.", aliases=("si",), repeatable=True))
    root.add(Command("nexti", lambda s, a: stepi(s, a, over=True), "nexti [N] -- like stepi, but a call runs "
                     "to its return.", aliases=("ni",), repeatable=True))
    root.add(Command("step", lambda s, a: step_lines(s, a, over=False), "step [N] -- run to the next source "
                     "line, entering functions that have line information.", aliases=("s",), repeatable=True))
    root.add(Command("next", lambda s, a: step_lines(s, a, over=True), "next [N] -- run to the next source "
                     "line in this function, running over calls.", aliases=("n",), repeatable=True))
    root.add(Command("finish", finish_cmd, "finish -- run until the selected function returns; prints the value "
                     "it returns (typed, from DWARF; nothing for void).",
                     aliases=("fin",)))
    root.add(Command("until", until_cmd, "until [LOC] -- without LOC: like next, but never stops on a jump "
                     "back (leave a loop).\nWith LOC: run until LOC or until the current function returns.",
                     aliases=("u",), complete="location", repeatable=True))
    root.add(Command("advance", advance_cmd, "advance LOC -- run until LOC (or the current function returns).",
                     complete="location"))


# -- commands -------------------------------------------------------------------------------------------
def run_cmd(shell: CommandShell, arg: str) -> None:
    shell.timeline.restart()
    shell.out(f"Starting program: {shell.elf.path}")
    at_entry = Stop(StopReason.BREAKPOINT, shell.pc)
    hit = user_hit(shell, at_entry)
    if hit:  # a breakpoint on the entry point: Machine.run would execute it, GDB stops there
        shell.timeline.fresh_start = False
        report(shell, at_entry, hit)
        return
    continue_cmd(shell, "")


def start_cmd(shell: CommandShell, arg: str) -> None:
    addr = locations.resolve(shell, "main")
    shell.breakpoints.add("b", addr, what="main", temporary=True)
    shell.out(f"Temporary breakpoint {shell.breakpoints.last_number()} at "
              f"{locations.describe_location(shell, addr)}")
    run_cmd(shell, "")


def continue_cmd(shell: CommandShell, arg: str) -> None:
    require_alive(shell)
    if not shell.timeline.fresh_start:
        shell.out("Continuing.")
    shell.timeline.fresh_start = False
    report(shell, *resume(shell))


def _count(arg: str) -> int:
    arg = arg.strip()
    if not arg:
        return 1
    n = parse_int(arg, "number")
    if n < 1:
        raise DebuggerError("Count must be a positive number.")
    return n


def _insn_at(shell: CommandShell, addr: int) -> Insn | None:
    try:
        got = shell.disassembler.decode(shell.read_mem(addr, 4), addr, 1)
    except DebuggerError:
        try:
            got = shell.disassembler.decode(shell.read_mem(addr, 2), addr, 1)
        except DebuggerError:
            return None
    return got[0] if got else None


def _step_over_call(shell: CommandShell) -> tuple[Stop, list[Point]] | None:
    """When the pc is at a call, run to its return in this frame; None when it is not a call."""
    insn = _insn_at(shell, shell.pc)
    if insn is None or not is_call(insn):
        return None
    return run_to(shell, [(insn.addr + insn.size, shell.get_reg("sp"))])


def stepi(shell: CommandShell, arg: str, over: bool) -> None:
    require_alive(shell)
    n = _count(arg)
    func_before = shell.function_of(shell.pc)
    for _ in range(n):
        if shell.interrupted.is_set():
            report_interrupt(shell)
            return
        result = _step_over_call(shell) if over else None
        stop, hit = result if result is not None else (shell.timeline.travel.forward(step=True), [])
        if hit or stop_kind(stop) not in ("STEPPED", "BREAKPOINT"):
            report(shell, stop, hit)
            return
    if shell.function_of(shell.pc) != func_before:
        shell.location_line(shell.pc)
    else:
        shell.frame_line(shell.pc)


def step_lines(shell: CommandShell, arg: str, over: bool, forward_only: bool = False) -> None:
    require_alive(shell)
    for _ in range(_count(arg)):
        if not _step_one_line(shell, over, forward_only):
            return


def _enter_function(shell: CommandShell) -> tuple[Stop, list[Point]] | None:
    """After stepping into a call: run past the callee's prologue, as GDB's ``step`` does.

    None when there is nothing to skip (no symbol at the pc, or no prologue).
    """
    hit = shell.elf.symbol_at(shell.pc)
    if hit is None or hit[1] != 0:
        return None
    target = locations.after_prologue(shell, hit[0].addr, hit[0].size, trust_locations=False)
    if target == shell.pc:
        return None
    return run_to(shell, [(target, 0)])


def _step_one_line(shell: CommandShell, over: bool, forward_only: bool) -> bool:
    """One ``step``/``next``/``until``; prints where it stopped.  False when something else stopped it."""
    elf = shell.elf
    start_pc = shell.pc
    start_line = elf.line_for(start_pc)
    start_func = shell.function_of(start_pc)
    if start_line is None:
        shell.out(f"Single stepping until exit from function {start_func or '??'},\n"
                  "which has no line number information.")
        return _finish(shell, announce=False)
    for _ in range(STEP_LIMIT):
        if shell.interrupted.is_set():
            report_interrupt(shell)
            return False
        insn = _insn_at(shell, shell.pc)
        calling = insn is not None and is_call(insn)
        back = (insn.addr + insn.size, shell.get_reg("sp")) if insn is not None else (0, 0)  # a call's return
        if calling and over:
            stop, hit = run_to(shell, [back])
        else:
            stop, hit = shell.timeline.travel.forward(step=True), []
            if calling and stop_kind(stop) == "STEPPED":
                if elf.line_for(shell.pc) is None:  # no line info: run through it
                    stop, hit = run_to(shell, [back])
                else:
                    entered = _enter_function(shell)
                    if entered is None or (stop_kind(entered[0]) == "BREAKPOINT" and not entered[1]):
                        shell.location_line(shell.pc)
                        return True
                    stop, hit = entered
        if stop_kind(stop) not in ("STEPPED", "BREAKPOINT") or hit:
            report(shell, stop, hit)
            return False
        pc = shell.pc
        where = elf.line_for(pc)
        if where is None:
            if shell.function_of(pc) == start_func:
                continue  # an instruction the line table does not cover, still in this function
            shell.location_line(pc)  # returned into code without lines
            return True
        if where != start_line and shell.sources.is_line_start(elf, pc):
            if forward_only and pc < start_pc and shell.function_of(pc) == start_func:
                continue
            if shell.function_of(pc) != start_func:
                shell.location_line(pc)
            else:
                shell.frame_line(pc)
            return True
    shell.out(f"Stepped {STEP_LIMIT} instructions without reaching a new line.")
    shell.location_line(shell.pc)
    return False


def _caller(shell: CommandShell) -> frames.Frame:
    stack = frames.unwind(shell, limit=2)
    if len(stack) < 2:
        raise DebuggerError('"finish" not meaningful in the outermost frame.')
    return stack[1]


def _finish(shell: CommandShell, announce: bool) -> bool:
    """Run until the selected frame returns; True when it did (not stopped by something else)."""
    level = shell.frame_level if announce else 0
    stack = frames.unwind(shell, limit=level + 2)
    if len(stack) < level + 2:
        raise DebuggerError('"finish" not meaningful in the outermost frame.')
    frame, caller = stack[level], stack[level + 1]
    if announce:
        shell.out(f"Run till exit from {cmd_frames.frame_text(shell, frame, stack)}")
    if frame.inlined and frame.scope is not None:
        return _leave_inlined(shell, frame)
    stop, hit = run_to(shell, [(caller.pc, frame.cfa)])
    if stop_kind(stop) != "BREAKPOINT" or hit:
        report(shell, stop, hit)
        return False
    shell.location_line(shell.pc)
    return True


def _leave_inlined(shell: CommandShell, frame: frames.Frame) -> bool:
    """``finish`` in an inlined call: step (over calls) until the pc leaves its code in this frame."""
    assert frame.scope is not None
    for _ in range(STEP_LIMIT):
        if shell.interrupted.is_set():
            report_interrupt(shell)
            return False
        result = _step_over_call(shell)
        stop, hit = result if result is not None else (shell.timeline.travel.forward(step=True), [])
        if hit or stop_kind(stop) not in ("STEPPED", "BREAKPOINT"):
            report(shell, stop, hit)
            return False
        if not frame.scope.contains(shell.pc) and shell.get_reg("sp") <= frame.cfa:
            shell.location_line(shell.pc)
            return False  # an inlined call returns no value GDB can show
    shell.location_line(shell.pc)
    return False


def return_value(shell: CommandShell, rtype: CType) -> Value | None:
    """The value a function of return type ``rtype`` left in a0/a1 (RISC-V integer calling
    convention, soft float); None for void or a struct returned in memory."""
    size = rtype.byte_size
    word = shell.xlen // 8
    if rtype.strip().kind == "void" or size == 0 or size > 2 * word:
        return None
    raw = shell.get_reg("a0") | (shell.get_reg("a1") << (8 * word))
    return Value(rtype, int_bytes(raw, 2 * word)[:size])


def finish_cmd(shell: CommandShell, arg: str) -> None:
    require_alive(shell)
    level = shell.frame_level
    stack = frames.unwind(shell, limit=level + 1)
    scope = stack[level].scope if len(stack) > level else None
    inlined = len(stack) > level and stack[level].inlined
    if not _finish(shell, announce=True) or inlined:
        return
    if scope is None:  # no DWARF: a0 as before
        value = Value(CType("base", "long", shell.xlen // 8, 0x05), int_bytes(shell.get_reg("a0"), shell.xlen // 8))
    else:
        rtype = shell.debug_info.function_type(scope).target
        if rtype is None or rtype.strip().kind == "void":
            return
        value = return_value(shell, rtype)
        if value is None:
            shell.out(f"Value returned has type: {declare(rtype)}. Cannot determine contents")
            return
    shell.out(f"Value returned is ${shell.record(value)} = {format_value(shell, value, None)}")


def _run_to_location(shell: CommandShell, arg: str) -> None:
    """``until LOC``/``advance LOC``: LOC, or the return of the current frame, whichever comes first."""
    require_alive(shell)
    addr = locations.resolve(shell, arg)
    targets = [(addr, 0)]
    stack = frames.unwind(shell, limit=2)
    if len(stack) == 2:
        targets.append((stack[1].pc, stack[0].cfa))
    stop, hit = run_to(shell, targets)
    if stop_kind(stop) != "BREAKPOINT" or hit:
        report(shell, stop, hit)
        return
    shell.location_line(shell.pc)


def until_cmd(shell: CommandShell, arg: str) -> None:
    if arg.strip():
        _run_to_location(shell, arg)
    else:
        step_lines(shell, "", over=True, forward_only=True)


def advance_cmd(shell: CommandShell, arg: str) -> None:
    if not arg.strip():
        raise DebuggerError("Argument required (a location).")
    _run_to_location(shell, arg)
