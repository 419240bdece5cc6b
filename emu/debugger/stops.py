"""Printing a stop the way GDB does: breakpoint, watchpoint (old and new value), exit, Ctrl-C, fatal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.debugger.bptable import WATCH_KINDS, Point
from emu.debugger.cmd_break import watched_text
from emu.debugger.resume import stop_kind
from emu.machine import Stop

if TYPE_CHECKING:
    from emu.breakpoints import WatchHit
    from emu.debugger.commands import CommandShell


def report(shell: CommandShell, stop: Stop, hit: list[Point]) -> None:
    """Print a stop the way GDB does, and drop hit temporary breakpoints."""
    reason = stop_kind(stop)
    if reason == "EXITED":
        code = stop.exit_code if stop.exit_code is not None else shell.machine.exit_code
        shell.set_convenience_int("_exitcode", code or 0)  # GDB's $_exitcode
        shell.out(f"[Inferior 1 (firmware) exited {'normally' if not code else f'with code {code:02o}'}]")
        return
    if reason == "BREAKPOINT" and hit:
        p = hit[0]
        title = "Temporary breakpoint" if p.temporary else "Breakpoint"
        for q in hit:
            if q.temporary:
                shell.breakpoints.delete(q.number)
        shell.out("")
        shell.location_line(shell.pc, f"{title} {p.number}, ")
        return
    if reason == "WATCHPOINT" and stop.watch is not None:
        _report_watch(shell, stop.watch)
        return
    if reason == "NPU":  # npu break / npu watch (emu/debugger/npu_watch.py): what the NPU did
        shell.out(f"\n{stop.message}")
    elif reason == "INTERRUPTED":
        shell.out("\nProgram received signal SIGINT, Interrupt.")
    elif reason == "FATAL":  # the first line says why; the Machine's register dump is `info registers`
        shell.out(f"\nProgram stopped: {stop.message.splitlines()[0] if stop.message else 'fatal'}")
    elif reason in ("INSN_LIMIT", "TIMEOUT"):
        shell.out(f"\nProgram stopped: {stop.message or reason.lower()}")
    elif reason == "BREAKPOINT":
        shell.out("\nProgram stopped at a breakpoint.")
    shell.location_line(shell.pc)


def _report_watch(shell: CommandShell, hit: WatchHit) -> None:
    """GDB's watchpoint stop: title, old and new value (or the value read), then where."""
    p = shell.breakpoints.watch_for(hit.addr, hit.length, hit.kind)
    if p is not None:
        p.hits += 1
        title = WATCH_KINDS[p.kind].replace("access", "access (read/write)")
        shell.out(f"\n{title} {p.number}: {p.what}\n")
    else:
        shell.out(f"\nWatchpoint at {hit.addr:#x}\n")
    typed = watched_text(shell, p) if p is not None else None
    if hit.access == "w" and typed is not None and p is not None:  # the watched C expression, typed
        shell.out(f"Old value = {p.shown if p.shown is not None else hit.old}\nNew value = {typed}")
        p.shown = typed
    elif hit.access == "w":
        shell.out(f"Old value = {hit.old}\nNew value = {hit.new}")
    else:
        shell.out(f"Value = {hit.old}")
    shell.location_line(shell.pc)


def report_interrupt(shell: CommandShell) -> None:
    """Ctrl-C noticed between instructions of a Python-level stepping loop (``step``, ``stepi N``)."""
    shell.out("\nProgram received signal SIGINT, Interrupt.")
    shell.location_line(shell.pc)
