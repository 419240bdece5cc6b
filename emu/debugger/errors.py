"""The one exception a debugger command raises for anything the user got wrong."""

from __future__ import annotations

from emu.errors import EmuError


class DebuggerError(EmuError):
    """A bad command or argument: the shell prints the message on one line and carries on."""
