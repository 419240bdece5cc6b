"""The user's numbered breakpoints and watchpoints, and their insertion into the Machine.

The Machine keeps a plain set of addresses; the debugger needs more: GDB
numbers, enable/disable, one-shot ``tbreak``, conditions, hit counts, and
internal breakpoints (``next``, ``finish``) that may sit on the same address
as a user's.  Insertions are reference-counted here so removing one never
removes the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emu.debugger.errors import DebuggerError
from emu.debugger.expr import Node

if TYPE_CHECKING:
    from emu.machine import Machine

WATCH_KINDS = {"w": "Hardware watchpoint", "r": "Hardware read watchpoint", "a": "Hardware access watchpoint"}


@dataclass
class Point:
    """A breakpoint (``kind`` "b") or a watchpoint (``kind`` "w", "r" or "a")."""

    number: int
    kind: str
    addr: int
    length: int = 0
    what: str = ""  # the user's words: "main", "hello.c:12", "counter"
    temporary: bool = False
    enabled: bool = True
    condition: str = ""
    condition_node: Node | None = field(default=None, repr=False)
    hits: int = 0
    shown: str | None = None  # a watched expression's value as last printed (GDB's "Old value")

    @property
    def type_name(self) -> str:
        return "breakpoint" if self.kind == "b" else WATCH_KINDS[self.kind].lower().removeprefix("hardware ")


class BreakpointTable:
    """Numbered points; keeps the Machine's breakpoint and watchpoint sets in step with them."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.points: dict[int, Point] = {}
        self._next = 1
        self._bp_refs: Counter[int] = Counter()

    # -- machine insertion, shared with internal breakpoints -----------------------------------------
    def hold(self, addr: int) -> None:
        """Insert a breakpoint at ``addr`` (first holder) and count the holder."""
        if self._bp_refs[addr] == 0:
            self.machine.add_breakpoint(addr)
        self._bp_refs[addr] += 1

    def release(self, addr: int) -> None:
        self._bp_refs[addr] -= 1
        if self._bp_refs[addr] <= 0:
            del self._bp_refs[addr]
            self.machine.remove_breakpoint(addr)

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Every breakpoint and watchpoint out of the Machine for a replay (reverse execution):
        a replay runs to an instruction count and must not stop, or count a stop, on the way."""
        addrs = list(self._bp_refs)
        watches = [p for p in self.points.values() if p.kind != "b" and p.enabled]
        for a in addrs:
            self.machine.remove_breakpoint(a)
        for p in watches:
            self.machine.remove_watchpoint(p.addr, p.length, p.kind)
        try:
            yield
        finally:
            for a in addrs:
                self.machine.add_breakpoint(a)
            for p in watches:
                self.machine.add_watchpoint(p.addr, p.length, p.kind)

    def internal(self, addr: int) -> bool:
        """Someone other than the user's enabled breakpoints holds ``addr`` (next, finish, until)."""
        return self._bp_refs[addr] > len(self.at(addr)) if addr in self._bp_refs else False

    def last_number(self) -> int:
        return self._next - 1

    def _arm(self, p: Point) -> None:
        if p.kind == "b":
            self.hold(p.addr)
        else:
            self.machine.add_watchpoint(p.addr, p.length, p.kind)

    def _disarm(self, p: Point) -> None:
        if p.kind == "b":
            self.release(p.addr)
        else:
            self.machine.remove_watchpoint(p.addr, p.length, p.kind)

    # -- the user's table ------------------------------------------------------------------------------
    def add(self, kind: str, addr: int, length: int = 0, what: str = "", temporary: bool = False) -> Point:
        p = Point(self._next, kind, addr, length, what, temporary)
        self._arm(p)
        self.points[p.number] = p
        self._next += 1
        return p

    def get(self, number: int) -> Point:
        if number not in self.points:
            raise DebuggerError(f"No breakpoint number {number}.")
        return self.points[number]

    def delete(self, number: int) -> None:
        p = self.get(number)
        if p.enabled:
            self._disarm(p)
        del self.points[number]

    def set_enabled(self, number: int, enabled: bool) -> None:
        p = self.get(number)
        if p.enabled != enabled:
            (self._arm if enabled else self._disarm)(p)
            p.enabled = enabled

    def at(self, addr: int) -> list[Point]:
        """Enabled breakpoints at ``addr``, in number order."""
        return [p for p in self.points.values() if p.kind == "b" and p.enabled and p.addr == addr]

    def watch_for(self, addr: int, length: int, kind: str) -> Point | None:
        """The enabled watchpoint the Machine reported (it reports the range and kind it was given)."""
        for p in self.points.values():
            if p.kind == kind and p.enabled and p.addr == addr and p.length == length:
                return p
        return None
