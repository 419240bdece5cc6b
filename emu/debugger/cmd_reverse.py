"""Reverse execution past single instructions: ``reverse-continue``, ``reverse-next``,
``reverse-step``, ``reverse-finish`` (``reverse-stepi`` is in cmd_time).

Built on the same anchors as ``reverse-stepi`` (cmd_time.Timeline): deterministic time makes
"restore the anchor, run k instructions" reproduce the past exactly.  ``reverse-continue`` replays
the window since the anchor with the user's breakpoints and watchpoints armed and goes to the last
hit before now.  Line-wise commands replay the last instructions one by one (a trace of pc and
sp, doubling its length until it reaches far enough back) and pick the place GDB would stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.debugger import frames
from emu.debugger.errors import DebuggerError
from emu.debugger.registry import Command, Registry
from emu.debugger.resume import user_hit

if TYPE_CHECKING:
    from emu.debugger.cmd_time import Saved
    from emu.debugger.commands import CommandShell

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


def _anchor(shell: CommandShell) -> tuple[Saved, int]:
    m = shell.machine
    if m.insn_count is None or not m.clock.deterministic:
        raise DebuggerError("Reverse execution needs deterministic time: start npuemu debug without --realtime.")
    tl = shell.timeline
    if m.state_writes != tl._writes:  # changed behind the shell's back (gdb, a test)
        tl.state_changed()
    now = m.insn_count
    usable = [a for a in tl.anchors if a.insn_count is not None and a.insn_count < now]
    if not usable:
        raise DebuggerError("No more reverse-execution history.")
    return usable[0], now


def _go_to(shell: CommandShell, anchor: Saved, count: int) -> None:
    """Restore ``anchor`` and run forward to instruction ``count``, output muted, breakpoints ignored."""
    m = shell.machine
    m.restore(anchor.snapshot)
    m.output_muted = True
    try:
        with shell.breakpoints.suspended():
            while m.insn_count < count:
                stop = m.step(count - m.insn_count)
                if stop.reason.name in ("EXITED", "FATAL"):
                    break
    finally:
        m.output_muted = False


def reverse_continue(shell: CommandShell, arg: str) -> None:
    anchor, now = _anchor(shell)
    m = shell.machine
    m.restore(anchor.snapshot)
    last: tuple[int, str] | None = None
    m.output_muted = True
    try:
        while m.insn_count < now:
            stop = m.run(max_insns=now - m.insn_count)
            kind = stop.reason.name
            if _is_now(shell, now):
                break
            if kind == "BREAKPOINT" and user_hit(shell, stop):
                last = (m.insn_count, "breakpoint")  # the stop is before the instruction, uncounted
            elif kind == "WATCHPOINT":
                last = (m.insn_count - 1, "watchpoint")  # stop before the store that changed it
            elif kind not in ("BREAKPOINT", "WATCHPOINT"):
                break
    finally:
        m.output_muted = False
    target = last[0] if last is not None else anchor.insn_count or 0
    _go_to(shell, anchor, target)
    if last is None:
        shell.out("\nNo more reverse-execution history.")
        shell.location_line(shell.pc)
        return
    hit = shell.breakpoints.at(shell.pc) if last[1] == "breakpoint" else []
    if hit:
        shell.out("")
        shell.location_line(shell.pc, f"Breakpoint {hit[0].number}, ")
    else:
        shell.out("")
        shell.location_line(shell.pc)


def _is_now(shell: CommandShell, now: int) -> bool:
    """Replay reached the present (instruction ``now``)."""
    return shell.machine.insn_count >= now


def _trace(shell: CommandShell, anchor: Saved, now: int, length: int) -> list[Point]:
    """The states of the last ``length`` instructions before ``now`` (oldest first), by replay."""
    m = shell.machine
    start = max(anchor.insn_count or 0, now - length)
    _go_to(shell, anchor, start)
    out: list[Point] = []
    m.output_muted = True
    try:
        with shell.breakpoints.suspended():
            while not _is_now(shell, now):
                out.append(Point(m.insn_count, shell.pc, shell.get_reg("sp")))
                stop = m.step(1)
                if stop.reason.name in ("EXITED", "FATAL"):
                    break
    finally:
        m.output_muted = False
    return out


def _search_back(shell: CommandShell, choose) -> None:
    """Trace further and further back until ``choose(trace)`` names a count; go there."""
    anchor, now = _anchor(shell)
    length = FIRST_TRACE
    while True:
        trace = _trace(shell, anchor, now, length)
        reached_anchor = not trace or trace[0].count <= (anchor.insn_count or 0)
        found = choose(trace, reached_anchor)
        if found is not None:
            _go_to(shell, anchor, found)
            return
        if reached_anchor or length >= MAX_TRACE:
            _go_to(shell, anchor, trace[0].count if trace else now)
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
                return _line_start(trace, i, shell, same_frame)
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
        return _line_start(trace, i, shell, same_frame)

    _search_back(shell, choose)
    shell.frame_line(shell.pc) if shell.function_of(shell.pc) == start_func else shell.location_line(shell.pc)


def _line_start(trace: list[Point], i: int, shell: CommandShell, same_frame=None) -> int | None:  # noqa: ARG001
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
