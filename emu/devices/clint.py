"""CLINT (SiFive/ACLINT layout as in QEMU virt): msip, mtimecmp, mtime for hart 0.

Two interrupt outputs, as QEMU's aclint: ``msip_line`` follows the msip bit and
``mtip_line`` is high once mtimecmp has been written and mtime >= mtimecmp.
Writing mtimecmp schedules a clock event at that time, which raises the line,
so a sleeping CPU wakes up exactly then; the machine never looks inside.

Fast path (issue 11): mtime reads are computed natively (emu/_mmiofast.c) from
the clock's shared ``TimeState``, exactly as :meth:`VirtualClock.mtime` does;
every other access (msip, mtimecmp, mtime writes) runs here.
"""

from __future__ import annotations

import ctypes

from emu.bus import NativeHeader, NativeMmio
from emu.clock import NS_PER_MTIME_TICK, Event, VirtualClock
from emu.devices.base import IrqLine, MmioDevice
from emu.devices.regs import clint_registers

MSIP = 0x0
MTIMECMP = 0x4000
MTIME = 0xBFF8
U64 = (1 << 64) - 1


class ClintNative(ctypes.Structure):
    """Shared with ``struct clint_fast`` in emu/_mmiofast.c (same order)."""

    _fields_ = [("fb", NativeHeader), ("time", ctypes.c_void_p), ("mtime_fast", ctypes.c_uint32)]


def _merge(old: int, offset: int, width: int, value: int) -> int:
    """Apply a 4- or 8-byte write at byte ``offset`` (0 or 4) of a 64-bit register."""
    shift = 8 * offset
    mask = ((1 << (8 * width)) - 1) << shift
    return (old & ~mask | (value << shift) & mask) & U64


class Clint(MmioDevice):
    name = "clint"
    size = 0x10000
    registers = clint_registers()
    state_fields = ("msip", "mtimecmp", "armed")  # the mtimecmp event follows from them (post_load)

    def __init__(self, clock: VirtualClock, msip_line: IrqLine | None = None,
                 mtip_line: IrqLine | None = None) -> None:
        self.clock = clock
        self.msip_line = msip_line or IrqLine(lambda level: None)
        self.mtip_line = mtip_line or IrqLine(lambda level: None)
        self.msip = 0
        self.mtimecmp = U64
        self.armed = False
        self._event: Event | None = None
        state = getattr(clock, "state", None)  # a VirtualClock's TimeState; test doubles have none
        self.native: NativeMmio | None = None
        if state is not None:
            self._native = ClintNative(time=ctypes.addressof(state))
            self._time_state = state  # the C side points into it
            self.native = NativeMmio(self._native, "clint_read", None, self._set_traced)
        self.capture_power_on()

    def _set_traced(self, traced: bool) -> None:
        self._native.mtime_fast = int(not traced)

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
        if offset == MSIP:
            self.msip = value & 1
        elif MTIMECMP <= offset < MTIMECMP + 8:
            self.mtimecmp = _merge(self.mtimecmp, offset - MTIMECMP, width, value)
            self.armed = True
            self._reschedule()
        elif MTIME <= offset < MTIME + 8:
            self.clock.set_mtime(_merge(self.clock.mtime(), offset - MTIME, width, value))
            self._reschedule()
        self._drive()

    def _drive(self) -> None:
        self.msip_line.set(bool(self.msip))
        self.mtip_line.set(self.mtip())

    def _reschedule(self) -> None:
        self.clock.cancel(self._event)
        self._event = None
        if self.armed and self.mtimecmp != U64 and self.mtimecmp > self.clock.mtime():
            self._event = self.clock.schedule(self.mtimecmp * NS_PER_MTIME_TICK, self._fire, "mtimecmp")

    def _fire(self) -> None:
        self._event = None
        self._drive()

    def time_moved(self) -> None:
        """Virtual time was set from outside (restore, guest reset keeping time): re-evaluate."""
        self._reschedule()
        self._drive()

    def post_load(self) -> None:
        self._reschedule()
        self._drive()
