"""Running the firmware for the debugger: skipping false conditions and other holders' breakpoints,
and internal breakpoints that only count in a given frame (``next``, ``finish``, ``until``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.debugger import expr
from emu.debugger.bptable import Point
from emu.debugger.errors import DebuggerError
from emu.machine import Stop

if TYPE_CHECKING:
    from emu.breakpoints import WatchHit
    from emu.debugger.commands import CommandShell


def require_alive(shell: CommandShell) -> None:
    if shell.machine.exited:
        raise DebuggerError("The program is not being run.  Use \"run\" to restart it.")


def resume(shell: CommandShell) -> tuple[Stop, list[Point]]:
    """Run until a stop the user asked for: false conditions and other holders' breakpoints are skipped.

    Returns the Stop and the user's breakpoints that caused it (empty for internal ones).
    """
    while True:
        # Through the time-travel engine: checkpoints on the way, and output already printed
        # before a step back is not printed again.  The Machine executes a breakpoint it starts on.
        stop = shell.timeline.travel.forward(interrupted=shell.interrupted)
        if stop_kind(stop) == "WATCHPOINT" and (_unchanged(shell, stop.watch) or
                                                _watch_condition_false(shell, stop.watch)):
            continue
        if stop_kind(stop) != "BREAKPOINT":
            return stop, []
        hit = user_hit(shell, stop)
        if hit is not None:
            return stop, hit


def _unchanged(shell: CommandShell, hit: WatchHit | None) -> bool:
    """GDB's ``watch`` stops only when the value changes; a store of the same value goes on."""
    return (hit is not None and hit.kind == "w" and hit.access == "w" and hit.old == hit.new
            and not shell.interrupted.is_set())


def _watch_condition_false(shell: CommandShell, hit: WatchHit | None) -> bool:
    """``watch EXPR if COND``: a change while COND is false does not stop."""
    if hit is None or shell.interrupted.is_set():
        return False
    p = shell.breakpoints.watch_for(hit.addr, hit.length, hit.kind)
    return p is not None and p.condition_node is not None and not _condition(shell, p)


def user_hit(shell: CommandShell, stop: Stop) -> list[Point] | None:
    """The user's breakpoints at the stop pc whose condition holds; None to keep going."""
    points = shell.breakpoints.at(stop.pc)
    if not points:
        return []  # an internal breakpoint: the caller decides
    hit = [p for p in points if p.condition_node is None or _condition(shell, p)]
    for p in hit:
        p.hits += 1
    if hit:
        return hit
    return [] if shell.breakpoints.internal(stop.pc) else None


def _condition(shell: CommandShell, p: Point) -> bool:
    try:
        return p.condition_node is None or bool(expr.evaluate(p.condition_node, shell))
    except DebuggerError as e:
        shell.out(f"Error in testing condition for breakpoint {p.number}: {e}")
        return True  # GDB stops when a condition cannot be evaluated


def stop_kind(stop: Stop) -> str:
    return stop.reason.name


def run_to(shell: CommandShell, targets: list[tuple[int, int]]) -> tuple[Stop, list[Point]]:
    """Run until one of ``(addr, min_sp)`` is reached with ``sp >= min_sp`` (a frame has returned)."""
    for addr, _ in targets:
        shell.breakpoints.hold(addr)
    try:
        while True:
            stop, hit = resume(shell)
            if stop_kind(stop) != "BREAKPOINT" or hit:
                return stop, hit
            sp = shell.get_reg("sp")
            if any(addr == stop.pc and sp >= min_sp for addr, min_sp in targets):
                return stop, []
            if not any(addr == stop.pc for addr, _ in targets):
                return stop, []  # someone else's breakpoint (the GDB stub's)
    finally:
        for addr, _ in targets:
            shell.breakpoints.release(addr)
