"""CLINT (SiFive/ACLINT layout as in QEMU virt): msip, mtimecmp, mtime for hart 0.

MTIP is a level the machine samples: set once mtimecmp has been written and
mtime >= mtimecmp, as QEMU's aclint mtimer.  Writing mtimecmp schedules a clock
event at that time so a sleeping CPU wakes up exactly then.
"""

from __future__ import annotations

from collections.abc import Callable

from emu.clock import NS_PER_MTIME_TICK, Event, VirtualClock
from emu.devices.base import MmioDevice

MSIP = 0x0
MTIMECMP = 0x4000
MTIME = 0xBFF8
U64 = (1 << 64) - 1


def _merge(old: int, offset: int, width: int, value: int) -> int:
    """Apply a 4- or 8-byte write at byte ``offset`` (0 or 4) of a 64-bit register."""
    shift = 8 * offset
    mask = ((1 << (8 * width)) - 1) << shift
    return (old & ~mask | (value << shift) & mask) & U64


class Clint(MmioDevice):
    name = "clint"
    size = 0x10000

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        # Called after writes that may make MSIP/MTIP pending, so the CPU can take them now.
        self.on_change: Callable[[], None] = lambda: None
        self.reset()

    def reset(self) -> None:
        self.msip = 0
        self.mtimecmp = U64
        self.armed = False
        self._event: Event | None = None

    def mtip(self) -> bool:
        return self.armed and self.clock.mtime() >= self.mtimecmp

    def read(self, offset: int, width: int) -> int:
        if offset == MSIP:
            return self.msip
        if MTIMECMP <= offset < MTIMECMP + 8:
            return (self.mtimecmp >> (8 * (offset - MTIMECMP))) & ((1 << (8 * width)) - 1)
        if MTIME <= offset < MTIME + 8:
            return (self.clock.mtime() >> (8 * (offset - MTIME))) & ((1 << (8 * width)) - 1)
        return 0

    def write(self, offset: int, width: int, value: int) -> None:
        """Register write; tells ``on_change`` only when MSIP or MTIP became pending."""
        before = (self.msip, self.mtip())
        self._write(offset, width, value)
        if (self.msip and not before[0]) or (self.mtip() and not before[1]):
            self.on_change()

    def _write(self, offset: int, width: int, value: int) -> None:
        if offset == MSIP:
            self.msip = value & 1
        elif MTIMECMP <= offset < MTIMECMP + 8:
            self.mtimecmp = _merge(self.mtimecmp, offset - MTIMECMP, width, value)
            self.armed = True
            self._reschedule()
        elif MTIME <= offset < MTIME + 8:
            self.clock.set_mtime(_merge(self.clock.mtime(), offset - MTIME, width, value))
            self._reschedule()

    def _reschedule(self) -> None:
        self.clock.cancel(self._event)
        self._event = None
        if self.armed and self.mtimecmp != U64 and self.mtimecmp > self.clock.mtime():
            self._event = self.clock.schedule(self.mtimecmp * NS_PER_MTIME_TICK, self._fire, "mtimecmp")

    def _fire(self) -> None:
        self._event = None  # the machine samples mtip() after running events

    def get_state(self) -> dict:
        return {"msip": self.msip, "mtimecmp": self.mtimecmp, "armed": self.armed}

    def set_state(self, state: dict) -> None:
        self.msip, self.mtimecmp, self.armed = state["msip"], state["mtimecmp"], state["armed"]
        self._event = None
        self._reschedule()
