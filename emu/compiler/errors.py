"""The one-line error every unsupported model ends with (no traceback)."""

from emu.errors import EmuError


class CompileError(EmuError):
    """A model the compiler cannot map: the message names the operator and its index."""
