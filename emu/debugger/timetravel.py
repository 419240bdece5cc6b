"""Time travel: going back in a deterministic run by checkpoints and re-execution.

With deterministic time the machine's whole future follows from its state and
the instruction count, so the state ``k`` instructions ago is reached by
restoring the nearest earlier *checkpoint* and executing forward again.  This
module is the one engine behind both front ends: gdb's reverse execution (the
stub's ``bs`` and ``bc`` packets) and the debugger shell's ``reverse-*``
commands (emu/debugger/cmd_time.py, cmd_reverse.py).  :func:`time_travel` gives
the machine's engine, shared by whichever front ends drive it.

- :meth:`TimeTravel.forward` runs the machine in chunks and takes a checkpoint
  whenever enough host time has passed since the last one (so checkpoints cost
  a bounded share of the run, about 1/:data:`CHECKPOINT_COST_SHARE`); below the
  furthest point reached it re-executes silently (the output was printed);
  :meth:`TimeTravel.note_stop` lets a front end that ran the machine itself
  (the shell's stepping commands) leave a checkpoint behind when it went far;
- :meth:`TimeTravel.step_back` returns ``n`` instructions back;
- :meth:`TimeTravel.reverse_continue` finds the *last* breakpoint or
  watchpoint hit before the current point, by replaying the segments between
  checkpoints newest first, and stops there;
- :meth:`TimeTravel.trace` replays the last instructions one by one and
  records what the caller asks (pc, sp): the shell's line-wise reverse
  commands pick the place to stop from it, then :meth:`TimeTravel.go_to` it.

A checkpoint is a machine snapshot (emu/snapshot.py): its RAM is a
:class:`~emu.memory.RamImage`, pages written since the previous image copied,
the others shared, so a checkpoint costs what changed, not the RAM size.  The
oldest checkpoints are dropped when the live images hold more than ``budget``
bytes.  A few *near* checkpoints close to where the user is stepping back make
repeated ``reverse-stepi`` cheap.  Anything changed from outside the guest (a
register or memory write by gdb or the shell, typed input) cannot be replayed:
the history restarts at that point (``Machine.state_writes`` tells).

A front end runs the firmware forward through :meth:`TimeTravel.forward` (or calls
:meth:`note_stop` after running it), calls :meth:`restart` when it resets or restores the
machine, and builds the other reverse commands from :meth:`step_back`,
:meth:`reverse_continue` and :meth:`trace` as gdb does from ``bs``/``bc``: reverse-finish is a
breakpoint at the function's entry, a reverse-continue and one step back; a breakpoint condition
that is false means reverse-continue again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from emu.machine import Stop, StopReason
from emu.snapshot import Snapshot

if TYPE_CHECKING:
    from emu.breakpoints import WatchHit
    from emu.machine import Machine

DEFAULT_BUDGET = 256 << 20      # RAM page bytes live images may hold (the oldest checkpoints go first)
CHUNK_INSNS = 1_000_000         # forward execution between checks for a due checkpoint
CHECKPOINT_COST_SHARE = 20      # a checkpoint is due after this many times its own cost in run time
MIN_CHECKPOINT_COST = 1e-3      # ... counted as at least this (s)
NEAR_SPAN = 20_000              # a step back replays at most about this much from a near checkpoint
NEAR_KEEP = 4                   # near checkpoints kept (most recent first)
FAR_INSNS = 2_000_000           # note_stop: a checkpoint when the machine ran this far past the last one
T = TypeVar("T")


class NoHistory(Exception):
    """Reverse execution cannot go further back (or the run is not deterministic)."""


class Cancelled(Exception):
    """``cancel`` was set during a :meth:`TimeTravel.reverse_continue`: the machine is back where
    the search started."""


@dataclass
class Checkpoint:
    """The machine at ``count`` instructions (its snapshot's RAM image shares unchanged pages)."""

    count: int
    pc: int
    state: Snapshot


@dataclass
class ReverseHit:
    """Where :meth:`TimeTravel.reverse_continue` stopped: a breakpoint or watchpoint, or the start."""

    kind: str                  # "breakpoint", "watchpoint" or "begin" (no hit: start of history)
    count: int
    pc: int
    watch: WatchHit | None = None


class TimeTravel:
    """Checkpoints of one Machine's deterministic timeline, and the ways to move back along it."""

    def __init__(self, machine: Machine, *, budget: int = DEFAULT_BUDGET,
                 chunk: int = CHUNK_INSNS, interval: int | None = None) -> None:
        """``interval`` forces a checkpoint every that many instructions (tests); by default the
        interval follows the checkpoints' measured cost."""
        self.m = machine
        self.budget = budget
        self.chunk = chunk
        self.interval = interval
        self.checkpoints: list[Checkpoint] = []   # sorted by count
        self._near: list[Checkpoint] = []
        self._writes = -1
        self.frontier = 0  # the furthest instruction count reached: below it, output was printed
        self._last_cost = 0.0
        self._ran_since = 0.0  # host seconds spent executing forward since the last checkpoint
        # Called around replays (True before, False after): observers that must not fire twice
        # (NPU breakpoints) pause themselves.
        self.replay_hooks: list[Callable[[bool], None]] = []
        # Set from another thread (gdb's Ctrl-C) to abandon a reverse-continue's search.
        self.cancel = threading.Event()
        if self.available:
            self.restart()

    # -- the timeline ----------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self.m.clock.deterministic and self.m.insn_count is not None

    def restart(self) -> None:
        """Forget the history: it begins now (without deterministic time there is none)."""
        self.checkpoints = []
        self._near = []
        if not self.available:
            return
        self._take()
        self._writes = self.m.state_writes
        self.frontier = self.m.insn_count or 0

    def sync(self) -> None:
        """A change from outside the guest since the last check makes the history unreplayable."""
        if self.m.state_writes != self._writes:
            self.restart()

    @property
    def begin(self) -> int:
        return self.checkpoints[0].count if self.checkpoints else 0

    def _take(self, near: bool = False) -> Checkpoint:
        m = self.m
        started = time.thread_time()
        point = Checkpoint(m.insn_count or 0, m.cpu.pc, m.snapshot())
        self._last_cost = time.thread_time() - started
        self._ran_since = 0.0
        if near:
            self._near = [point, *[p for p in self._near if p.count != point.count]][:NEAR_KEEP]
            return point
        index = next((i for i, p in enumerate(self.checkpoints) if p.count >= point.count), len(self.checkpoints))
        if index < len(self.checkpoints) and self.checkpoints[index].count == point.count:
            return self.checkpoints[index]
        self.checkpoints.insert(index, point)
        self._trim()
        return point

    def _trim(self) -> None:
        """Drop the oldest checkpoints (never the last two) while the live RAM images exceed the
        budget (a dropped checkpoint's image goes at once: nothing else refers to it)."""
        while len(self.checkpoints) > 2 and self.m.ram.live_image_bytes() > self.budget:
            del self.checkpoints[0]

    def _due(self) -> bool:
        m = self.m
        latest = self.checkpoints[-1].count if self.checkpoints else 0
        count = m.insn_count or 0
        if count <= latest:
            return False
        if self.interval is not None:
            return count - latest >= self.interval
        # CPU time executing, not wall time: a user thinking between two steps costs no checkpoint.
        return self._ran_since >= CHECKPOINT_COST_SHARE * max(self._last_cost, MIN_CHECKPOINT_COST)

    def _restore(self, point: Checkpoint) -> None:
        self.m.restore(point.state)
        self._writes = self.m.state_writes

    def note_stop(self) -> None:
        """The machine ran outside :meth:`forward` (and stopped): a checkpoint if one is due, and
        the frontier moves (what ran was printed)."""
        if not self.available:
            return
        self.sync()
        count = self.m.insn_count or 0
        self.frontier = max(self.frontier, count)
        latest = self.checkpoints[-1].count if self.checkpoints else 0
        if self._due() or count - latest >= FAR_INSNS:  # stepping commands do not count run time
            self._take()

    # -- forward ------------------------------------------------------------------------------------
    def forward(self, step: bool = False, interrupted: threading.Event | None = None) -> Stop:
        """``machine.step()`` or ``machine.run()``, leaving checkpoints behind on the way (without
        deterministic time there is no history: just the run).  ``interrupted`` (the shell's Ctrl-C)
        is checked between chunks too: a stop request made between two chunks would be dropped
        by the next chunk's start."""
        m = self.m
        if not self.available:
            return m.step() if step else m.run()
        self.sync()
        if step:
            stop = self._run(1, stepping=True)
            if self._due():
                self._take()
            return stop
        while True:
            latest = self.checkpoints[-1].count if self.checkpoints else 0
            budget = self.chunk if self.interval is None else max(1, latest + self.interval - (m.insn_count or 0))
            stop = self._run(budget, stepping=False)
            if stop.reason is not StopReason.INSN_LIMIT:
                return stop
            if interrupted is not None and interrupted.is_set():
                return Stop(StopReason.INTERRUPTED, m.cpu.pc, "interrupted")
            if self._due():
                self._take()
            if m.cpu.pc in m.debug.breakpoints:
                # The chunk ended right before a breakpoint: its hook did not run, and the next
                # chunk would step over it (a resume executes the instruction it starts on).
                return Stop(StopReason.BREAKPOINT, m.cpu.pc, f"breakpoint at {m.symbol_name(m.cpu.pc)}")

    def _run(self, budget: int, stepping: bool) -> Stop:
        """Up to ``budget`` instructions; silent up to the frontier (that output was printed the
        first time: re-executing after a step back prints nothing twice, as rr does)."""
        m = self.m
        count = m.insn_count or 0
        behind = self.frontier - count
        if behind > 0:
            budget = min(budget, behind)
        m.output_muted = behind > 0
        started = time.thread_time()
        try:
            stop = m.step(budget) if stepping else m.run(max_insns=budget)
        finally:
            m.output_muted = False
            self._ran_since += time.thread_time() - started
        self.frontier = max(self.frontier, m.insn_count or 0)
        return stop

    # -- backward -----------------------------------------------------------------------------------
    @contextmanager
    def _replaying(self) -> Iterator[None]:
        m = self.m
        m.output_muted = True  # what the replayed instructions print was printed the first time
        for hook in self.replay_hooks:
            hook(True)
        try:
            yield
        finally:
            m.output_muted = False
            for hook in self.replay_hooks:
                hook(False)
            self._writes = m.state_writes

    def _require(self) -> int:
        if not self.available:
            raise NoHistory("reverse execution needs deterministic time (npuemu run --deterministic, "
                            "or npuemu debug without --realtime)")
        self.sync()
        return self.m.insn_count or 0

    def _base_for(self, target: int) -> Checkpoint:
        candidates = [p for p in self.checkpoints + self._near if p.count <= target]
        if not candidates:
            raise NoHistory("no more reverse-execution history")
        return max(candidates, key=lambda p: p.count)

    def _run_to(self, target: int) -> None:
        """Execute forward to exactly ``target`` instructions, through breakpoints and watchpoints."""
        m = self.m
        while (m.insn_count or 0) < target:
            stop = m.step(min(target - (m.insn_count or 0), self.chunk))
            if stop.reason in (StopReason.EXITED, StopReason.FATAL):
                break

    def go_to(self, target: int) -> None:
        """Move to instruction count ``target`` (before now) by restoring and replaying."""
        self._require()
        base = self._base_for(target)
        with self._replaying():
            self._restore(base)
            if target - base.count > NEAR_SPAN:
                # Keep a checkpoint near the target: the next step back starts from there.
                self._run_to(target - NEAR_SPAN // 2)
                self._take(near=True)
            self._run_to(target)

    def trace(self, length: int, probe: Callable[[], T]) -> list[tuple[int, T]]:
        """``(count, probe())`` for each of the last ``length`` instructions before now (fewer
        when the history begins later), oldest first, by replaying them one at a time; the
        machine ends where it was."""
        now = self._require()
        start = max(self.begin, now - length)
        out: list[tuple[int, T]] = []
        if start < now:
            self.go_to(start)
        m = self.m
        with self._replaying():
            while (m.insn_count or 0) < now:
                count = m.insn_count or 0
                out.append((count, probe()))
                stop = m.step(1)
                if stop.reason in (StopReason.EXITED, StopReason.FATAL) or (m.insn_count or 0) == count:
                    break
        return out

    def step_back(self, n: int = 1) -> None:
        """Go back ``n`` instructions; :class:`NoHistory` (nothing moved) past the start."""
        now = self._require()
        if n < 1:
            return
        if now - n < self.begin:
            raise NoHistory("no more reverse-execution history")
        self.go_to(now - n)

    def reverse_continue(self) -> ReverseHit:
        """Go back to the last breakpoint or watchpoint hit before now, or to the start of history.

        Each segment between checkpoints is replayed with the debug points armed, newest segment
        first, until one holds a hit.  A breakpoint stops before its instruction (as forward); a
        watchpoint stops before the instruction that made the access, where the old value is
        still in memory, as gdb expects from a reverse watchpoint.
        """
        now = self._require()
        self.cancel.clear()
        try:
            return self._search_back(now)
        except Cancelled:
            self.go_to(now)
            raise

    def _search_back(self, now: int) -> ReverseHit:
        m = self.m
        end = now
        points = sorted({p.count: p for p in self.checkpoints + self._near}.values(), key=lambda p: p.count)
        for base in reversed([p for p in points if p.count < now]):
            if base.count >= end:
                continue
            hit = self._last_hit(base, end)
            if hit is not None:
                self.go_to(hit.count)
                return hit
            end = base.count
        with self._replaying():
            self._restore(self.checkpoints[0])
        return ReverseHit("begin", m.insn_count or 0, m.cpu.pc)

    def _last_hit(self, base: Checkpoint, end: int) -> ReverseHit | None:
        m = self.m
        last: ReverseHit | None = None
        with self._replaying():
            self._restore(base)
            if base.pc in m.debug.breakpoints:
                last = ReverseHit("breakpoint", base.count, base.pc)
            while (m.insn_count or 0) < end:
                if self.cancel.is_set():
                    raise Cancelled
                stop = m.step(min(end - (m.insn_count or 0), self.chunk))
                count = m.insn_count or 0
                if stop.reason is StopReason.BREAKPOINT and count < end:
                    last = ReverseHit("breakpoint", count, stop.pc)
                elif stop.reason is StopReason.WATCHPOINT and stop.watch is not None:
                    last = ReverseHit("watchpoint", count - 1, stop.watch.pc, stop.watch)
                elif stop.reason in (StopReason.EXITED, StopReason.FATAL):
                    break
        return last


def time_travel(machine: Machine) -> TimeTravel:
    """The machine's one time-travel engine (created on first use), shared by the shell and the
    GDB stub; NPU breakpoints pause while it replays."""
    from emu.debugger.companions import companion
    from emu.debugger.npu_watch import npu_watch

    def make() -> TimeTravel:
        engine = TimeTravel(machine)
        engine.replay_hooks.append(npu_watch(machine).pause)
        return engine

    return companion(machine, "time_travel", make)
