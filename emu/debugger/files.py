"""Host files as the debugger's commands see them: :mod:`emu.host_files`, whose one-line
:class:`~emu.errors.HostFileError` becomes a :class:`DebuggerError` (the shell's and the stub's
error for anything the user got wrong)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from emu import host_files
from emu.debugger.errors import DebuggerError
from emu.errors import HostFileError
from emu.host_files import HOST_FILES_REFUSED, MAX_SCRIPT_BYTES, MAX_SOURCE_BYTES

__all__ = ["HOST_FILES_REFUSED", "MAX_SCRIPT_BYTES", "MAX_SOURCE_BYTES", "output_path", "read_regular_file",
           "read_text_lines"]

P = ParamSpec("P")
R = TypeVar("R")


def _as_debugger_error(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except HostFileError as e:
            raise DebuggerError(str(e)) from None

    return wrapper


read_regular_file = _as_debugger_error(host_files.read_regular_file)
read_text_lines = _as_debugger_error(host_files.read_text_lines)
output_path = _as_debugger_error(host_files.output_path)
