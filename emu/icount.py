"""Exact instruction counting and realtime pacing through the native hooks in ``emu/_icount.c``.

Why: deterministic virtual time, ``--max-insns``, single steps and precise
watchpoints all need to know exactly how many instructions ran and to stop the
CPU cleanly between two instructions.  Unicorn's own ``count=`` argument cannot
be read back after an early return, so we install our own C hook and keep its
state in a ctypes structure we can read and write at any time, even from
inside an MMIO callback.
"""

from __future__ import annotations

import ctypes
import time
import weakref

from unicorn import UC_HOOK_CODE, Uc
from unicorn.unicorn_py3 import unicorn as _ucpy

from emu import _icount

NO_LIMIT = (1 << 64) - 1
FAR_NS = 1 << 62  # a host deadline that never comes (fits the C side's int64)


class _State(ctypes.Structure):
    _fields_ = [
        ("count", ctypes.c_uint64),
        ("limit", ctypes.c_uint64),
        ("stop", ctypes.c_void_p),
        ("breaks", ctypes.POINTER(ctypes.c_uint64)),
        ("nbreaks", ctypes.c_uint64),
        ("on_break", ctypes.c_void_p),
        ("filter", ctypes.POINTER(ctypes.c_uint8)),
    ]


BreakCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint64)


class InstructionCounter:
    """Counts executed instructions of one Unicorn instance and can stop it at a given count."""

    def __init__(self, uc: Uc) -> None:
        self._uc = uc
        stop = ctypes.cast(_ucpy.uclib.uc_emu_stop, ctypes.c_void_p).value
        self._filter = (ctypes.c_uint8 * 8192)()  # a bit per 16-bit hash of the PC: rejects most
        self._state = _State(0, NO_LIMIT, stop, None, 0, None,
                             ctypes.cast(self._filter, ctypes.POINTER(ctypes.c_uint8)))
        self._breaks = (ctypes.c_uint64 * 0)()
        self._break_cb: object | None = None
        self._handle: ctypes.c_size_t | None = None
        self.on_enable: list = []  # called once the counter runs (the clock's counter CSRs go exact)

    @property
    def enabled(self) -> bool:
        return self._handle is not None

    def enable(self) -> None:
        """Install the C hook over the whole address space (costs ~2.5x CPU speed)."""
        if self._handle is not None:
            return
        handle = ctypes.c_size_t()
        err = _ucpy.uclib.uc_hook_add(
            self._uc._uch,
            ctypes.byref(handle),
            UC_HOOK_CODE,
            ctypes.c_void_p(_icount.hook_address()),
            ctypes.cast(ctypes.pointer(self._state), ctypes.c_void_p),
            ctypes.c_uint64(1),
            ctypes.c_uint64(0),
        )
        if err != 0:
            raise RuntimeError(f"uc_hook_add for the instruction counter failed ({err})")
        self._handle = handle
        for callback in self.on_enable:
            callback()

    def set_breakpoints(self, addresses: list[int], callback) -> None:
        """Serve breakpoints at ``addresses`` from the C hook while counting: ``callback(addr)``
        returns True to stop before the instruction (it is then not counted)."""

        def trampoline(addr: int) -> int:
            return 1 if callback(addr) else 0

        ctypes.memset(self._filter, 0, ctypes.sizeof(self._filter))
        for addr in addresses:
            bit = _icount.filter_bit(addr)
            self._filter[bit >> 3] |= 1 << (bit & 7)
        self._breaks = (ctypes.c_uint64 * len(addresses))(*sorted(addresses))
        self._break_cb = BreakCallback(trampoline)
        self._state.breaks = ctypes.cast(self._breaks, ctypes.POINTER(ctypes.c_uint64))
        self._state.on_break = ctypes.cast(self._break_cb, ctypes.c_void_p)
        self._state.nbreaks = len(addresses)

    def count_pointer(self) -> ctypes._Pointer:
        """Where the C hook keeps the count (read by the counter-CSR callback)."""
        return ctypes.pointer(ctypes.c_uint64.from_buffer(self._state))

    @property
    def count(self) -> int:
        """Instructions started so far (a trapping instruction counts)."""
        return self._state.count

    @count.setter
    def count(self, value: int) -> None:
        self._state.count = value

    @property
    def limit(self) -> int:
        return self._state.limit

    @limit.setter
    def limit(self, value: int) -> None:
        self._state.limit = min(max(value, 0), NO_LIMIT)

    def stop_now(self) -> None:
        """Stop before the next instruction: a clean stop even from inside an MMIO callback."""
        self._state.limit = self._state.count

    @property
    def at_limit(self) -> bool:
        return self._state.count >= self._state.limit


class Pacer:
    """Ends realtime CPU slices at a host-clock deadline, cleanly between two instructions.

    Why not ``emu_start(timeout=...)``: Unicorn's timer thread costs a thread per slice, and its
    stop could land inside an MMIO callback, which Unicorn then ran again (UART bytes written
    twice under host load).  A per-block hook reading the clock cost every translated block.  Now
    one persistent native thread per machine (``emu/_icount.c``) calls ``uc_emu_stop`` at the
    deadline, and npuemu's Unicorn patch 0009 makes a stop take effect only at a translated
    block's start or before a hooked instruction, never inside an instruction; patch 0010 lets an
    instruction whose hooks are running when the stop lands run, so no hook runs twice for it."""

    def __init__(self, uc: Uc) -> None:
        stop = ctypes.cast(_ucpy.uclib.uc_emu_stop, ctypes.c_void_p).value
        self._pacer = _icount.pacer_new(ctypes.cast(uc._uch, ctypes.c_void_p).value, stop)
        self._stops = 0
        self._finalizer = weakref.finalize(self, _icount.pacer_free, self._pacer)

    def arm(self, host_deadline_ns: int) -> None:
        """Stop the slice about to start once ``host_deadline_ns`` (time.monotonic_ns()) passes."""
        _icount.pacer_arm(self._pacer, min(host_deadline_ns, FAR_NS))

    def tighten(self, host_deadline_ns: int) -> None:
        """An earlier deadline for the running slice (a device scheduled an earlier event)."""
        _icount.pacer_tighten(self._pacer, min(host_deadline_ns, FAR_NS))

    def stop_soon(self) -> None:
        """Stop the running slice at the next block boundary; safe from any thread and from MMIO
        callbacks (a no-op between slices: the run loop checks its own stop flag)."""
        _icount.pacer_tighten(self._pacer, 0)

    def disarm(self) -> None:
        """The slice ended: no stop may reach the engine until the next :meth:`arm`."""
        self._stops = _icount.pacer_disarm(self._pacer)

    @property
    def stops(self) -> int:
        """Stops made up to the last :meth:`disarm`."""
        return self._stops

    def close(self) -> None:
        """End the pacer thread now (also done when the pacer is garbage-collected)."""
        self._finalizer()

    @staticmethod
    def now_ns() -> int:
        return time.monotonic_ns()
