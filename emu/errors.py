"""Errors the user sees as one clean line (the CLI prints ``npuemu: <message>`` and exits non-zero)."""

from __future__ import annotations


class EmuError(Exception):
    """Base class: anything wrong with the user's input or the guest, never a bug in npuemu."""

    exit_status = 2


class ElfError(EmuError):
    """The firmware file cannot be loaded (not an ELF, not RISC-V, overlaps a device...)."""


class BusError(EmuError):
    """An address range is not backed by RAM (debugger or DMA access)."""


class HostFileError(EmuError):
    """A host file named by the user cannot be read or written (emu/host_files.py)."""


class ConfigError(EmuError):
    """A bad option or configuration file."""
