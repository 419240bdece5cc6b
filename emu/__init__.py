"""npuemu: a full-system RISC-V emulator with a digital in-memory-compute NPU.

``Machine``, ``Stop`` and ``StopReason`` load lazily: the pytest plugin imports this package in
every pytest run where npuemu is installed, and must not pay for Unicorn and numpy there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.errors import BusError, ConfigError, ElfError, EmuError

if TYPE_CHECKING:
    from emu.machine import Machine, Stop, StopReason

__all__ = ["Machine", "Stop", "StopReason", "EmuError", "ElfError", "BusError", "ConfigError"]
_LAZY = {"Machine", "Stop", "StopReason"}


def __getattr__(name: str):
    if name in _LAZY:
        from emu import machine

        return getattr(machine, name)
    raise AttributeError(f"module 'emu' has no attribute {name!r}")
