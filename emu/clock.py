"""Virtual time and the event queue; the machine owns both.

Time is kept in nanoseconds.  ``mtime`` (the CLINT's 10 MHz counter) is
``now_ns() // 100``.  Two sources of time:

* realtime (default, as QEMU without -icount): host time since start, plus the
  time skipped while the CPU sleeps in ``wfi``, minus the time spent halted in
  a debugger.  Fast: the CPU runs without a per-instruction hook.
* deterministic: executed instructions x ``ns_per_insn`` plus skipped time, so
  the same ELF and input give the same bytes and the same final mtime.

Devices call :meth:`VirtualClock.schedule` to be called back at a virtual
time; the machine ends CPU slices at the next event and fast-forwards to it
when the CPU sleeps.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

NS_PER_MTIME_TICK = 100  # 10 MHz timebase, as QEMU virt


class TimeState(ctypes.Structure):
    """The clock's state, shared with the native counter-CSR callback in emu/_icount.c (same
    layout as its ``struct time_state``): the guest's ``rdtime``/``rdcycle`` read it in C."""

    _fields_ = [
        ("count", ctypes.POINTER(ctypes.c_uint64)),
        ("skipped_ns", ctypes.c_int64),
        ("host_start_ns", ctypes.c_int64),
        ("paused_at_ns", ctypes.c_int64),  # -1 while time runs
        ("ns_per_insn", ctypes.c_uint64),
        ("deterministic", ctypes.c_uint32),
        ("counting", ctypes.c_uint32),
        ("xlen", ctypes.c_uint32),
        ("inhibit", ctypes.c_uint32),
        ("offset", ctypes.c_int64 * 2),
        ("frozen", ctypes.c_uint64 * 2),
    ]


@dataclass(order=True)
class Event:
    """A pending callback; ``cancel()`` it through the clock."""

    when_ns: int
    seq: int
    callback: Callable[[], None] = field(compare=False)
    name: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)


class VirtualClock:
    """Virtual time in ns and a queue of device events ordered by time."""

    def __init__(
        self,
        deterministic: bool = False,
        ns_per_insn: int = 10,
        insn_count: Callable[[], int] | None = None,
    ) -> None:
        self.deterministic = deterministic
        self.ns_per_insn = ns_per_insn
        self._insn_count = insn_count or (lambda: 0)
        # perf_counter_ns is CLOCK_MONOTONIC on Linux, the clock emu/_icount.c reads.
        self.state = TimeState(None, 0, time.perf_counter_ns(), -1, ns_per_insn, int(deterministic))
        self._queue: list[Event] = []
        self._seq = itertools.count()
        # Called when an event is scheduled earlier than anything queued, so the machine
        # can end the running CPU slice in time.
        self.on_new_deadline: Callable[[int], None] = lambda when_ns: None

    # -- reading time -------------------------------------------------------
    def now_ns(self) -> int:
        state = self.state
        if self.deterministic:
            return self._insn_count() * self.ns_per_insn + state.skipped_ns
        host = state.paused_at_ns if state.paused_at_ns >= 0 else time.perf_counter_ns()
        return host - state.host_start_ns + state.skipped_ns

    def mtime(self) -> int:
        return self.now_ns() // NS_PER_MTIME_TICK

    # -- moving time --------------------------------------------------------
    def skip_to(self, when_ns: int) -> None:
        """Jump forward (wfi with nothing to do until ``when_ns``); never goes back."""
        now = self.now_ns()
        if when_ns > now:
            self.state.skipped_ns += when_ns - now

    def set_mtime(self, ticks: int) -> None:
        """A guest write to mtime moves virtual time (forwards or backwards)."""
        self.state.skipped_ns += ticks * NS_PER_MTIME_TICK - self.now_ns()

    def pause(self) -> None:
        """Stop realtime time while halted (debugger prompt, gdb stop)."""
        if self.state.paused_at_ns < 0:
            self.state.paused_at_ns = time.perf_counter_ns()

    def freeze(self) -> bool:
        """Stop realtime time while a device model computes (host work, not guest time); returns
        whether this call paused it, i.e. whether the caller must :meth:`resume`."""
        if self.deterministic or self.state.paused_at_ns >= 0:
            return False
        self.state.paused_at_ns = time.perf_counter_ns()
        return True

    def resume(self) -> None:
        state = self.state
        if state.paused_at_ns >= 0:
            state.host_start_ns += time.perf_counter_ns() - state.paused_at_ns
            state.paused_at_ns = -1

    # -- events -------------------------------------------------------------
    def schedule(self, when_ns: int, callback: Callable[[], None], name: str = "") -> Event:
        event = Event(when_ns, next(self._seq), callback, name)
        earliest = self.next_deadline()
        heapq.heappush(self._queue, event)
        if earliest is None or when_ns < earliest:
            self.on_new_deadline(when_ns)
        return event

    def schedule_in(self, delay_ns: int, callback: Callable[[], None], name: str = "") -> Event:
        return self.schedule(self.now_ns() + max(0, delay_ns), callback, name)

    def cancel(self, event: Event | None) -> None:
        if event is not None:
            event.cancelled = True

    def next_deadline(self) -> int | None:
        while self._queue and self._queue[0].cancelled:
            heapq.heappop(self._queue)
        return self._queue[0].when_ns if self._queue else None

    def run_due(self) -> int:
        """Run every event whose time has come; returns how many ran."""
        ran = 0
        now = self.now_ns()
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > now:
                return ran
            event = heapq.heappop(self._queue)
            event.callback()
            ran += 1

    def pending_events(self) -> list[Event]:
        return sorted(e for e in self._queue if not e.cancelled)

    # -- snapshots ------------------------------------------------------------
    def get_state(self) -> dict:
        return {"now_ns": self.now_ns()}

    def set_state(self, state: dict) -> None:
        """Restore time; events are re-created by the devices' own set_state."""
        self._queue.clear()
        self.state.skipped_ns += state["now_ns"] - self.now_ns()
