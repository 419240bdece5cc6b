"""Reverse execution past single instructions: ``reverse-continue``, ``reverse-next``,
``reverse-step``, ``reverse-finish`` (``reverse-stepi`` is in cmd_time).

Thin commands over the machine's time-travel engine (emu/debugger/timetravel.py, the one the GDB
stub's ``bs``/``bc`` use).  ``reverse-continue`` is the engine's search for the last breakpoint or
watchpoint hit, repeated while the hit is not the user's (a false condition), as gdb does over
``bc``.  Line-wise commands ask the engine for a trace of the last instructions (pc and sp,
doubling its length until it reaches far enough back) and pick the place GDB would stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.debugger import frames
from emu.debugger.errors import DebuggerError
from emu.debugger.registry import Command, Registry
from emu.debugger.resume import user_hit
from emu.debugger.timetravel import Cancelled, NoHistory, ReverseHit
from emu.machine import Stop, StopReason

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell
    from emu.debugger.timetravel import TimeTravel

FIRST_TRACE = 4096          # instructions traced back at first (doubled until enough)
MAX_TRACE = 1 << 20         # never single-step more than this many instructions per command


def register(root: Registry, info: Registry) -> None:
    root.add(Command("reverse-continue", reverse_continue, "reverse-continue -- run backwards to the last "
                     "breakpoint or watchpoint hit (or the start of the history).", aliases=("rc",)))
    root.add(Command("reverse-next", lambda s, a: reverse_lines(s, a, over=True), "reverse-next -- back to "
                     "the start of the previous source line of this function, over calls.", aliases=("rn",)))
    root.add(Command("reverse-step", lambda s, a: reverse_lines(s, a, over=False), "reverse-step -- back "
                     "to the start of the previous source line, into calls.", aliases=("rs",)))
    root.add(Command("reverse-finish", reverse_finish, "reverse-finish -- back to the call of the selected "
                     "function (the caller's call instruction)."))


@dataclass(frozen=True)
class Point:
    count: int   # instructions executed before this state
    pc: int
    sp: int


def _engine(shell: CommandShell) -> TimeTravel:
    travel = shell.timeline.travel
    if not travel.available:
        raise DebuggerError("Reverse execution needs deterministic time: start npuemu debug without --realtime.")
    return travel


def reverse_continue(shell: CommandShell, arg: str) -> None:
    travel = _engine(shell)
    m = shell.machine
    while True:
        try:
            hit = travel.reverse_continue()
        except NoHistory:
            hit = ReverseHit("begin", m.insn_count or 0, m.cpu.pc)
        except Cancelled:  # Ctrl-C: the engine is back where the search began
            shell.out("\nProgram received signal SIGINT, Interrupt.")
            shell.location_line(shell.pc)
            return
        if hit.kind != "breakpoint":
            break
        points = user_hit(shell, Stop(StopReason.BREAKPOINT, hit.pc))
        if points:
            shell.out("")
            shell.location_line(shell.pc, f"Breakpoint {points[0].number}, ")
            return
    if hit.kind == "begin":
        shell.out("\nNo more reverse-execution history.")
    else:
        shell.out("")
    shell.location_line(shell.pc)


def _search_back(shell: CommandShell, choose) -> None:
    """Trace further and further back until ``choose(trace, reached_begin)`` names a count; go there."""
    travel = _engine(shell)
    length = FIRST_TRACE
    while True:
        trace = [Point(count, pc, sp) for count, (pc, sp) in
                 travel.trace(length, lambda: (shell.pc, shell.get_reg("sp")))]
        reached_begin = not trace or trace[0].count <= travel.begin
        found = choose(trace, reached_begin)
        if found is not None:
            travel.go_to(found)
            return
        if reached_begin or length >= MAX_TRACE:
            if trace:
                travel.go_to(trace[0].count)
            shell.out("\nNo more reverse-execution history.")
            return
        length *= 2


def reverse_lines(shell: CommandShell, arg: str, over: bool) -> None:
    elf = shell.elf
    start_line = elf.line_for(shell.pc)
    start_func = shell.function_of(shell.pc)
    start_sp = shell.get_reg("sp")
    stack = frames.unwind(shell, limit=1)
    cfa = stack[0].cfa if stack else start_sp

    def same_frame(p: Point) -> bool:
        return shell.function_of(p.pc) == start_func and p.sp >= start_sp and p.sp < cfa + 1

    mid_line = not shell.sources.is_line_start(elf, shell.pc)

    def choose(trace: list[Point], reached_anchor: bool) -> int | None:
        i = len(trace) - 1
        if mid_line:  # GDB first goes back to the start of the line it is in
            if i >= 0 and same_frame(trace[i]) and elf.line_for(trace[i].pc) == start_line:
                return _line_start(trace, i, shell)
            return trace[-1].count + 1 if trace else None
        # 1. leave the current line's run (in this frame; callee instructions are skipped for next)
        while i >= 0:
            p = trace[i]
            if p.sp >= cfa and shell.function_of(p.pc) != start_func:
                return _line_start(trace, i, shell)  # returned to before our call: the caller's line
            if same_frame(p) and elf.line_for(p.pc) != start_line:
                break
            if not over and not same_frame(p) and elf.line_for(p.pc) is not None and p.sp < start_sp:
                return p.count  # reverse-step enters the callee at its last line
            i -= 1
        if i < 0:
            return None
        return _line_start(trace, i, shell)

    _search_back(shell, choose)
    shell.frame_line(shell.pc) if shell.function_of(shell.pc) == start_func else shell.location_line(shell.pc)


def _line_start(trace: list[Point], i: int, shell: CommandShell) -> int | None:
    """The first state of the run of trace[i]'s line that ends at i (callee states skipped)."""
    elf = shell.elf
    line = elf.line_for(trace[i].pc)
    func = shell.function_of(trace[i].pc)
    sp = trace[i].sp
    first = i
    j = i - 1
    while j >= 0:
        p = trace[j]
        if p.sp <= sp and shell.function_of(p.pc) != func:
            j -= 1  # inside a call made from this line (its ``ret`` runs at the caller's sp)
            continue
        if elf.line_for(p.pc) != line or shell.function_of(p.pc) != func:
            break
        first = j
        j -= 1
    if j < 0:
        return None  # the line may start before the trace: trace further back
    return trace[first].count


def reverse_finish(shell: CommandShell, arg: str) -> None:
    stack = frames.unwind(shell, limit=shell.frame_level + 2)
    level = min(shell.frame_level, len(stack) - 1)
    if level + 1 >= len(stack):
        raise DebuggerError('"finish" not meaningful in the outermost frame.')
    from emu.debugger.cmd_frames import frame_text

    shell.out(f"Run back to call of {frame_text(shell, stack[level], stack)}")
    cfa = stack[level].cfa
    fn = shell.debug_info.function_at(stack[level].lookup_pc)
    hit = shell.elf.symbol_at(stack[level].lookup_pc)
    entry = fn.low if fn is not None else hit[0].addr if hit is not None else None

    def choose(trace: list[Point], reached_anchor: bool) -> int | None:
        # The call: the caller's state (sp at or above the frame's CFA) whose next instruction is the
        # function's entry; a recursive call from the same function is told apart by the sp.
        for i in range(len(trace) - 1, 0, -1):
            if trace[i].pc == entry and trace[i].sp >= cfa and trace[i - 1].sp >= cfa:
                return trace[i - 1].count
        return None

    _search_back(shell, choose)
    shell.location_line(shell.pc)
