"""Exact instruction counting through the native hook in ``emu/_icount.c``.

Why: deterministic virtual time, ``--max-insns``, single steps and precise
watchpoints all need to know exactly how many instructions ran and to stop the
CPU cleanly between two instructions.  Unicorn's own ``count=`` argument cannot
be read back after an early return, so we install our own C hook and keep its
state in a ctypes structure we can read and write at any time, even from
inside an MMIO callback.
"""

from __future__ import annotations

import ctypes

from unicorn import UC_HOOK_CODE, Uc
from unicorn.unicorn_py3 import unicorn as _ucpy

from emu import _icount

NO_LIMIT = (1 << 64) - 1


class _State(ctypes.Structure):
    _fields_ = [
        ("count", ctypes.c_uint64),
        ("limit", ctypes.c_uint64),
        ("stop", ctypes.c_void_p),
    ]


class InstructionCounter:
    """Counts executed instructions of one Unicorn instance and can stop it at a given count."""

    def __init__(self, uc: Uc) -> None:
        self._uc = uc
        stop = ctypes.cast(_ucpy.uclib.uc_emu_stop, ctypes.c_void_p).value
        self._state = _State(0, NO_LIMIT, stop)
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
