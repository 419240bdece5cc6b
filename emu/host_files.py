"""Host files npuemu reads or writes by a name someone else gave: debugger scripts and source
files, trace and NPU config files, `npuemu report` inputs.

Every name comes from someone else -- the user, a script, a firmware's DWARF
-- so each may name a device (``/dev/zero`` never ends), a FIFO (opening it
blocks until a writer appears), a huge file, or hold a NUL byte (which
``open`` rejects with ValueError, not OSError).  Reads therefore take
regular files only, opened without blocking and checked on the open
descriptor (no race with a rename), and at most ``limit`` bytes.  Every
failure is a :class:`HostFileError` with a one-line message (the debugger shows it as its own
error: emu/debugger/files.py).
"""

from __future__ import annotations

import os
import stat
from contextvars import ContextVar
from pathlib import Path

from emu.elf_loader import read_bounded
from emu.errors import HostFileError

MAX_SCRIPT_BYTES = 1 << 20   # ``source`` / ``--batch`` scripts
MAX_SOURCE_BYTES = 4 << 20   # C/assembly files the DWARF line table names

# Set (to the refusal message) while the GDB stub's ``monitor`` runs a command for whoever reached
# its socket, unless npuemu was started with --gdb-allow-host-files: no host file is then touched.
HOST_FILES_REFUSED: ContextVar[str | None] = ContextVar("host_files_refused", default=None)


def _size_text(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"


def _shown(path: Path | str) -> str:
    """The name for a one-line message: quoted when it holds a newline or another control character."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _check_name(name: str | os.PathLike[str], expand_user: bool = True) -> Path:
    refused = HOST_FILES_REFUSED.get()
    if refused:
        raise HostFileError(refused)
    text = os.fspath(name)
    if "\0" in text:
        raise HostFileError(f"{_shown(text)}: file names cannot contain a NUL byte.")
    if not text:
        raise HostFileError("Empty file name.")
    if not expand_user:
        return Path(text)
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~" with no home directory to expand to
        return Path(text)


def read_regular_file(name: str | os.PathLike[str], limit: int, *, expand_user: bool = True) -> bytes:
    """The bytes of regular file ``name``; a HostFileError if it is anything else or over ``limit`` bytes.

    ``~`` is expanded as a shell would unless ``expand_user`` is False (names from an ELF).
    """
    path = _check_name(name, expand_user)
    # O_NONBLOCK: opening a FIFO must not wait for a writer (it changes nothing for regular files).
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError) as e:
        raise HostFileError(f"{_shown(path)}: {getattr(e, 'strerror', None) or e}.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "Is a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise HostFileError(f"{_shown(path)}: {kind}.")
        if info.st_size > limit:
            raise HostFileError(f"{_shown(path)}: too large ({info.st_size} bytes; "
                                f"the limit is {_size_text(limit)}).")
        data = read_bounded(fd, info.st_size, limit)
        if data is None:  # it grew after fstat
            raise HostFileError(f"{_shown(path)}: too large (over {_size_text(limit)}).")
        return data
    except OSError as e:
        raise HostFileError(f"{_shown(path)}: {e.strerror or e}.") from None
    finally:
        os.close(fd)


def read_text_lines(name: str | os.PathLike[str], limit: int, *, expand_user: bool = True) -> list[str]:
    """A regular file's lines as UTF-8 (undecodable bytes replaced)."""
    data = read_regular_file(name, limit, expand_user=expand_user)
    return data.decode("utf-8", errors="replace").splitlines()


def output_path(name: str) -> str:
    """A file name a command may create or overwrite: no NUL, and not an existing FIFO or device.

    Writing to a FIFO would block the shell until a reader appears; to a
    device, it is almost certainly a typo.
    """
    path = _check_name(name)
    try:
        info = path.stat()
    except OSError:
        return str(path)  # does not exist (yet): open() reports anything else
    if stat.S_ISDIR(info.st_mode):
        raise HostFileError(f"{_shown(path)}: Is a directory.")
    if not stat.S_ISREG(info.st_mode):
        raise HostFileError(f"{_shown(path)}: not a regular file.")
    return str(path)
