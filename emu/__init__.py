"""npuemu: a full-system RISC-V emulator with a digital in-memory-compute NPU."""

from emu.errors import BusError, ConfigError, ElfError, EmuError
from emu.machine import Machine, Stop, StopReason

__all__ = ["Machine", "Stop", "StopReason", "EmuError", "ElfError", "BusError", "ConfigError"]
