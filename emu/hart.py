"""The hart's privileged machinery, native: trap entry, interrupt lines, counter CSRs.

npuemu runs on a patched Unicorn (toolchain/unicorn/README.md) whose RISC-V target
enters traps the way QEMU does (``riscv_cpu_do_interrupt``: xepc, xcause, xtval,
delegation, vectoring, ecall cause by privilege) and takes interrupts from real
``mip`` bits right after the instruction that enables them.  This module is the
thin Python side of that: devices set ``mip`` bits through :meth:`Hart.set_irq`,
the machine raises the few exceptions only it can detect (ebreak that is not a
semihosting call, accesses to unmapped memory) through :meth:`Hart.raise_exception`,
and every trap taken is recorded (``last_trap``) and checked for storms.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from unicorn import UC_HOOK_INTR
from unicorn.unicorn_py3 import unicorn as _ucpy

from emu import _icount
from emu.clock import TimeState
from emu.cpu import (
    EXCEPTION_NAMES,
    MIP_MEIP,
    MIP_MSIP,
    MIP_MTIP,
    MIP_SEIP,
    MSTATUS_MPP_SHIFT,
    MSTATUS_SPP,
    PRIV_M,
    PRIV_S,
    Cpu,
    TrapInfo,
)

DRIVEN_MIP = MIP_MSIP | MIP_MTIP | MIP_SEIP | MIP_MEIP  # the mip bits device lines drive
TRAP_STORM_LIMIT = 64       # identical faults in a row that mean "no progress"
REPEATABLE_FAULTS = frozenset({1, 2, 4, 5, 6, 7})  # access, illegal, misaligned; not ecall or page faults

_lib = _ucpy.uclib


def _bind(name: str, restype, *argtypes) -> Callable:
    try:
        fn = getattr(_lib, name)
    except AttributeError:
        raise RuntimeError(f"the installed Unicorn is not npuemu's patched build ({name} is missing): "
                           "run `npuemu build-unicorn` (`make setup` in a checkout)") from None
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


_patch_level = _bind("uc_npuemu_patch_level", ctypes.c_uint32)
_native_traps = _bind("uc_npuemu_riscv_native_traps", ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
_set_mip = _bind("uc_npuemu_riscv_set_mip", ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32)
_raise = _bind("uc_npuemu_riscv_raise", ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64)
_set_counter_fn = _bind("uc_npuemu_riscv_set_counter_fn", ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                        ctypes.c_void_p)

PATCH_LEVEL = _patch_level()


class Hart:
    """Native trap and interrupt delivery for one :class:`Cpu`; ``on_storm(message)`` is told when
    the firmware traps forever without progress (the same fault at the same instruction)."""

    def __init__(self, cpu: Cpu, time_state: TimeState, on_storm: Callable[[str], None]) -> None:
        self.cpu = cpu
        self.uc = cpu.uc
        self._handle = self.uc._uch
        self.on_storm = on_storm
        self.describe_pc: Callable[[int], str] = lambda pc: f"{pc:#x}"
        self._levels = 0          # the mip bits the devices drive, as last pushed
        self._storm = 0
        self._last_key: tuple[int, int] | None = None
        self._time = time_state
        time_state.xlen = cpu.xlen
        if _native_traps(self._handle, 1) != 0:
            raise RuntimeError("uc_npuemu_riscv_native_traps failed")
        _set_counter_fn(self._handle, ctypes.c_void_p(_icount.counter_address()),
                        ctypes.cast(ctypes.pointer(time_state), ctypes.c_void_p))
        self.uc.hook_add(UC_HOOK_INTR, self._on_trap)

    # -- interrupt lines -------------------------------------------------------------------
    def set_irqs(self, levels: int, mask: int, force: bool = False) -> None:
        """Several lines at once (``levels`` & ``mask``); ``force`` pushes them even if unchanged
        (after a CPU context restore, which restores ``mip`` too)."""
        new = (self._levels & ~mask) | (levels & mask)
        changed = mask if force else new ^ self._levels
        if changed:
            self._levels = new
            _set_mip(self._handle, changed, new & changed)

    # -- exceptions --------------------------------------------------------------------------
    def raise_exception(self, cause: int, tval: int = 0) -> None:
        """Take exception ``cause`` at the current pc, through the CPU's own trap entry."""
        self.cpu.last_trap = None
        from_priv = self.cpu.priv
        epc = self.cpu.pc
        if _raise(self._handle, cause, tval & self.cpu.mask) != 0:
            raise RuntimeError(f"uc_npuemu_riscv_raise({cause}) failed")
        self._record(epc, from_priv)

    def _on_trap(self, _uc, _intno: int, _user: object) -> None:
        """UC_HOOK_INTR, after the native entry of an exception or an interrupt: record it, watch
        for storms."""
        to = self.cpu.priv
        epc = self.cpu.read("mepc" if to == PRIV_M else "sepc")
        status = self.cpu.read("mstatus")
        spp = PRIV_S if status & MSTATUS_SPP else 0
        self._record(epc, (status >> MSTATUS_MPP_SHIFT) & 3 if to == PRIV_M else spp)

    def _record(self, epc: int, from_priv: int) -> None:
        to = self.cpu.priv
        level = "m" if to == PRIV_M else "s"
        tval = self.cpu.read(f"{level}tval")
        xcause = self.cpu.read(f"{level}cause")
        top = 1 << (self.cpu.xlen - 1)
        actual = xcause & ~top
        self.cpu.last_trap = TrapInfo(actual, bool(xcause & top), epc, tval, from_priv, to)
        key = (xcause, epc)
        if not xcause & top and actual in REPEATABLE_FAULTS and key == self._last_key:
            self._storm += 1
        else:
            self._storm = 0
        self._last_key = key
        if self._storm >= TRAP_STORM_LIMIT:
            self._storm = 0
            self.on_storm(self._storm_message(actual, epc, tval))

    def _storm_message(self, cause: int, epc: int, tval: int) -> str:
        handler = self.cpu.pc
        where = (f"the trap handler at {self.describe_pc(handler)} itself faults" if epc == handler
                 else f"the same fault repeats at {self.describe_pc(epc)}")
        if cause == 1 and epc != handler:
            where = f"the firmware keeps jumping into nothing at {epc:#x} (its trap handler returns there)"
        return f"trap storm: {where} ({EXCEPTION_NAMES.get(cause, cause)}, tval={tval:#x})"

    def progress(self) -> None:
        """The firmware made progress (a semihosting call, a new run): forget repeated faults."""
        self._storm = 0
        self._last_key = None
