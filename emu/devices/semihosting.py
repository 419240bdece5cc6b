"""RISC-V semihosting (the Arm semihosting calls behind ``slli/ebreak/srai``).

picolibc's ``--oslib=semihost`` programs run unmodified.  The host is protected
from the guest: host files are reachable only below ``root`` (the CLI's
``--semihost-root DIR``); without it OPEN of anything but the special names fails.
"""

from __future__ import annotations

import errno as errnos
import fcntl
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from emu.clock import VirtualClock
from emu.devices.base import Stateful
from emu.errors import BusError
from emu.host_input import InputInterrupted
from emu.memory import Ram

SYS_OPEN, SYS_CLOSE, SYS_WRITEC, SYS_WRITE0, SYS_WRITE, SYS_READ, SYS_READC = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
SYS_ISERROR, SYS_ISTTY, SYS_SEEK, SYS_FLEN, SYS_REMOVE, SYS_RENAME = 0x08, 0x09, 0x0A, 0x0C, 0x0E, 0x0F
SYS_CLOCK, SYS_TIME, SYS_ERRNO, SYS_GET_CMDLINE, SYS_HEAPINFO = 0x10, 0x11, 0x13, 0x15, 0x16
SYS_EXIT, SYS_EXIT_EXTENDED, SYS_ELAPSED, SYS_TICKFREQ = 0x18, 0x20, 0x30, 0x31
ADP_STOPPED_APPLICATION_EXIT = 0x20026
FEATURES = b"SHFB" + bytes((0b11,))  # EXIT_EXTENDED, STDOUT_STDERR
MODES = ("rb", "rb", "r+b", "r+b", "wb", "wb", "w+b", "w+b", "ab", "ab", "a+b", "a+b")
DETERMINISTIC_EPOCH = 1_700_000_000  # TIME in deterministic mode: fixed, plus virtual seconds
EBADF, ENOENT, EACCES, EINVAL, ENOSYS = 9, 2, 13, 22, 38
ELOOP, EISDIR, EIO = errnos.ELOOP, errnos.EISDIR, errnos.EIO
SEEK_MAX = (1 << 63) - 1  # the largest offset a host off_t holds
# fopen modes as open(2) flags; O_NONBLOCK so a FIFO or device never blocks the run (it is then
# refused: only regular files are opened), O_NOCTTY so a tty cannot become our controlling terminal.
_OPEN_FLAGS = {
    "rb": os.O_RDONLY, "r+b": os.O_RDWR,
    "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "w+b": os.O_RDWR | os.O_CREAT | os.O_TRUNC,
    "ab": os.O_WRONLY | os.O_CREAT | os.O_APPEND, "a+b": os.O_RDWR | os.O_CREAT | os.O_APPEND,
}


class NotRegularFile(OSError):
    """A host path that exists but is not a regular file (FIFO, device, socket, directory)."""


def open_regular(path: Path, mode: str):
    """Open ``path`` like ``open(path, mode)`` but never block and never return a non-regular file.

    Why: a FIFO (or a tty, a device) inside the semihost root would block ``open``/``read`` forever
    where neither --timeout nor Ctrl-C can reach (issue 17 S2).  The check is made on the opened
    descriptor (fstat), so a path swapped for a FIFO after a check cannot slip through."""
    # O_NOFOLLOW: ``path`` is already resolved, so a symlink there now was swapped in since the
    # root check (ELOOP).
    flags = _OPEN_FLAGS[mode] | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(path, flags & ~os.O_TRUNC, 0o666)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            code = EISDIR if stat.S_ISDIR(info.st_mode) else EINVAL
            raise NotRegularFile(code, f"not a regular file: {path}")
        if flags & os.O_TRUNC:
            os.ftruncate(fd, 0)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


class _Handle:
    def __init__(self, kind: str, file=None, data: bytes = b"", stream: str = "", path: Path | None = None,
                 mode: int = 0) -> None:
        self.kind = kind  # "tty", "file", "features"
        self.file = file
        self.data = data
        self.pos = 0
        self.stream = stream  # "stdin", "stdout", "stderr" for tty handles
        self.path = path      # host file: where it is and how it was opened, to reopen on restore
        self.mode = mode


# Reopening a host file at restore must not truncate it again: "w" modes become "r+".
REOPEN_MODES = ("rb", "rb", "r+b", "r+b", "r+b", "r+b", "r+b", "r+b", "ab", "ab", "a+b", "a+b")


def _console() -> dict[int, _Handle]:
    return {0: _Handle("tty", stream="stdin"), 1: _Handle("tty", stream="stdout"),
            2: _Handle("tty", stream="stderr")}


class Semihosting(Stateful):
    """Executes semihosting operations on behalf of the guest.

    Joins the devices' state protocol (name, version, get/set/reset): its state is the open
    handles (host files saved as path, mode and position, reopened on load) and errno."""

    name = "semihosting"
    state_version = 1

    def __init__(self, ram: Ram, xlen: int, clock: VirtualClock, *, argv: list[str],
                 root: str | os.PathLike | None, stdout: Callable[[bytes], None],
                 stderr: Callable[[bytes], None], read_stdin: Callable[[int], bytes],
                 on_exit: Callable[[int], None], heap: tuple[int, int, int, int]) -> None:
        self.ram = ram
        self.xlen = xlen
        self.word = xlen // 8
        self.clock = clock
        self.argv = argv
        self.root = Path(root).resolve() if root is not None else None
        self.stdout = stdout
        self.stderr = stderr
        self.read_stdin = read_stdin
        self.on_exit = on_exit
        self.heap = heap
        self.errno = 0
        # Handles 0-2 are the console from the start: picolibc's write(2, ...) uses handle 2
        # without an OPEN of ":tt" (QEMU 7.2 rejects it and the output is lost).
        self.handles: dict[int, _Handle] = _console()
        self._next_fd = 3
        self._wall_start = time.time()

    # -- helpers -------------------------------------------------------------------
    def _args(self, addr: int, n: int) -> list[int]:
        return [self.ram.read_int(addr + i * self.word, self.word) for i in range(n)]

    def _ret(self, value: int) -> int:
        return value & ((1 << self.xlen) - 1)

    def _fail(self, err: int) -> int:
        self.errno = err
        return self._ret(-1)

    def _string(self, addr: int, length: int | None = None) -> bytes:
        if length is not None:
            return self.ram.read(addr, length)
        out = bytearray()
        while len(out) < 4096:
            b = self.ram.read(addr + len(out), 1)
            if b == b"\0":
                break
            out += b
        return bytes(out)

    def _write_stream(self, stream: str, data: bytes) -> None:
        (self.stderr if stream == "stderr" else self.stdout)(data)

    # -- dispatch ------------------------------------------------------------------
    def call(self, op: int, arg: int) -> int:
        """Run one operation; returns the value for a0.  Never raises but :class:`InputInterrupted`
        (a stdin read gave way to Ctrl-C, gdb or --timeout; the machine re-runs the call later):
        whatever the guest passes or the host file system does becomes the guest-visible error
        (-1 and SYS_ERRNO), never a traceback (issue 17 S1)."""
        handler = self._ops().get(op)
        if handler is None:
            return self._fail(ENOSYS)
        try:
            return handler(arg)
        except InputInterrupted:
            raise
        except BusError:
            return self._fail(EINVAL)
        except OSError as e:
            return self._fail(e.errno or EIO)
        except RuntimeError:  # pathlib: symlink loop
            return self._fail(ELOOP)
        except (ValueError, OverflowError, UnicodeError):
            return self._fail(EINVAL)

    def _ops(self) -> dict[int, Callable[[int], int]]:
        return {
            SYS_OPEN: self._open, SYS_CLOSE: self._close, SYS_WRITEC: self._writec,
            SYS_WRITE0: self._write0, SYS_WRITE: self._write, SYS_READ: self._read,
            SYS_READC: self._readc, SYS_ISERROR: self._iserror, SYS_ISTTY: self._istty,
            SYS_SEEK: self._seek, SYS_FLEN: self._flen, SYS_REMOVE: self._remove,
            SYS_RENAME: self._rename, SYS_CLOCK: self._clock, SYS_TIME: self._time,
            SYS_ERRNO: lambda arg: self.errno, SYS_GET_CMDLINE: self._cmdline,
            SYS_HEAPINFO: self._heapinfo, SYS_EXIT: self._exit, SYS_EXIT_EXTENDED: self._exit_extended,
            SYS_ELAPSED: self._elapsed, SYS_TICKFREQ: lambda arg: 10_000_000,
        }

    def _new_handle(self, handle: _Handle) -> int:
        fd = self._next_fd
        self._next_fd += 1
        self.handles[fd] = handle
        return fd

    def _host_path(self, name: bytes) -> Path | None:
        """The host path for a guest file name, or None when it would leave the root.  A NUL byte
        raises ValueError (EINVAL) and a symlink loop OSError/RuntimeError (ELOOP) in :meth:`call`."""
        if self.root is None:
            return None
        if b"\0" in name:
            raise ValueError("NUL byte in a semihosting file name")
        rel = os.fsdecode(name)
        path = (self.root / rel).resolve()
        if path != self.root and self.root not in path.parents:
            return None
        return path

    def _open(self, arg: int) -> int:
        name_ptr, mode, length = self._args(arg, 3)
        name = self._string(name_ptr, length)
        if mode >= len(MODES):
            return self._fail(EINVAL)
        if name == b":tt":
            stream = "stdin" if mode < 4 else "stdout" if mode < 8 else "stderr"
            return self._new_handle(_Handle("tty", stream=stream))
        if name == b":semihosting-features":
            return self._new_handle(_Handle("features", data=FEATURES))
        path = self._host_path(name)
        if path is None:
            return self._fail(EACCES)
        try:
            return self._new_handle(_Handle("file", file=open_regular(path, MODES[mode]), path=path, mode=mode))
        except OSError as e:
            return self._fail(e.errno or EINVAL)

    def _close(self, arg: int) -> int:
        (fd,) = self._args(arg, 1)
        handle = self.handles.pop(fd, None)
        if handle is None:
            return self._fail(EBADF)
        if handle.file is not None:
            handle.file.close()
        return 0

    def _writec(self, arg: int) -> int:
        self.stdout(self.ram.read(arg, 1))
        return 0

    def _write0(self, arg: int) -> int:
        self.stdout(self._string(arg))
        return 0

    def _write(self, arg: int) -> int:
        fd, buf, length = self._args(arg, 3)
        handle = self.handles.get(fd)
        if handle is None:
            self.errno = EBADF
            return length
        data = self.ram.read(buf, length)
        if handle.kind == "tty" and handle.stream != "stdin":
            self._write_stream(handle.stream, data)
            return 0
        if handle.kind == "file":
            try:
                return length - handle.file.write(data)
            except OSError as e:
                self.errno = e.errno or EINVAL
                return length
        self.errno = EBADF
        return length

    def _read(self, arg: int) -> int:
        fd, buf, length = self._args(arg, 3)
        handle = self.handles.get(fd)
        if handle is None:
            self.errno = EBADF
            return length
        self.ram.view(buf, length)  # bounds check before consuming input
        if handle.kind == "tty":
            data = self.read_stdin(length) if handle.stream == "stdin" else b""
        elif handle.kind == "features":
            data = handle.data[handle.pos : handle.pos + length]
            handle.pos += len(data)
        else:
            try:
                data = handle.file.read(length)
            except OSError as e:
                self.errno = e.errno or EINVAL
                return length
        self.ram.write(buf, data)
        return length - len(data)

    def _readc(self, arg: int) -> int:
        data = self.read_stdin(1)
        return data[0] if data else self._ret(-1)

    def _iserror(self, arg: int) -> int:
        (status,) = self._args(arg, 1)
        return int(status >> (self.xlen - 1) & 1)

    def _istty(self, arg: int) -> int:
        (fd,) = self._args(arg, 1)
        handle = self.handles.get(fd)
        if handle is None:
            return self._fail(EBADF)
        return 1 if handle.kind == "tty" else 0

    def _seek(self, arg: int) -> int:
        fd, pos = self._args(arg, 2)
        handle = self.handles.get(fd)
        if handle is None:
            return self._fail(EBADF)
        if handle.kind == "features":
            handle.pos = pos
            return 0
        if handle.kind != "file" or pos > SEEK_MAX:
            return self._fail(EINVAL)
        handle.file.seek(pos)  # OSError (beyond what the host allows) -> errno in call()
        return 0

    def _flen(self, arg: int) -> int:
        (fd,) = self._args(arg, 1)
        handle = self.handles.get(fd)
        if handle is None:
            return self._fail(EBADF)
        if handle.kind == "features":
            return len(handle.data)
        if handle.kind != "file":
            return self._fail(EINVAL)
        return os.fstat(handle.file.fileno()).st_size

    def _remove(self, arg: int) -> int:
        name_ptr, length = self._args(arg, 2)
        path = self._host_path(self._string(name_ptr, length))
        if path is None:
            return self._fail(EACCES)
        try:
            path.unlink()
        except OSError as e:
            return self._fail(e.errno or ENOENT)
        return 0

    def _rename(self, arg: int) -> int:
        old_ptr, old_len, new_ptr, new_len = self._args(arg, 4)
        old = self._host_path(self._string(old_ptr, old_len))
        new = self._host_path(self._string(new_ptr, new_len))
        if old is None or new is None:
            return self._fail(EACCES)
        try:
            old.rename(new)
        except OSError as e:
            return self._fail(e.errno or ENOENT)
        return 0

    def _clock(self, arg: int) -> int:
        return self.clock.now_ns() // 10_000_000  # centiseconds

    def _time(self, arg: int) -> int:
        seconds = self.clock.now_ns() // 1_000_000_000
        base = DETERMINISTIC_EPOCH if self.clock.deterministic else int(self._wall_start)
        return base + seconds

    def _elapsed(self, arg: int) -> int:
        self.ram.write_int(arg, 8, self.clock.mtime())
        return 0

    def _cmdline(self, arg: int) -> int:
        buf, size = self._args(arg, 2)
        line = " ".join(self.argv).encode() + b"\0"
        if len(line) > size:
            return self._fail(EINVAL)
        self.ram.write(buf, line)
        self.ram.write_int(arg + self.word, self.word, len(line) - 1)
        return 0

    def _heapinfo(self, arg: int) -> int:
        (block,) = self._args(arg, 1)
        for i, value in enumerate(self.heap):
            self.ram.write_int(block + i * self.word, self.word, value)
        return 0

    def _exit(self, arg: int) -> int:
        if self.xlen == 32:
            self.on_exit(0 if arg == ADP_STOPPED_APPLICATION_EXIT else 1)
        else:
            self._exit_extended(arg)
        return 0

    def _exit_extended(self, arg: int) -> int:
        reason, subcode = self._args(arg, 2)
        self.on_exit(subcode & 0xFF if reason == ADP_STOPPED_APPLICATION_EXIT else 1)
        return 0

    def close_all(self) -> None:
        for handle in self.handles.values():
            if handle.file is not None:
                handle.file.close()
        self.handles.clear()

    # -- machine reset and snapshots --------------------------------------------------
    def reset(self) -> None:
        """Power-on state: host files closed, only the console handles, no errno."""
        self.close_all()
        self.handles = _console()
        self._next_fd = 3
        self.errno = 0

    def get_state(self) -> dict:
        handles = {}
        for fd, h in self.handles.items():
            pos = h.file.tell() if h.file is not None and not h.file.closed else h.pos
            handles[fd] = (h.kind, h.stream, h.data, h.path, h.mode, pos)
        return {"version": self.state_version, "errno": self.errno, "next_fd": self._next_fd,
                "handles": handles}

    def set_state(self, state: dict) -> None:
        """Back to the snapshot's handles: files opened since are closed, the snapshot's reopened
        (without truncating) at their saved positions; one that cannot be reopened stays closed."""
        self.check_version(state)
        self.close_all()
        self.errno, self._next_fd = state["errno"], state["next_fd"]
        for fd, (kind, stream, data, path, mode, pos) in state["handles"].items():
            handle = _Handle(kind, data=data, stream=stream, path=path, mode=mode)
            handle.pos = pos
            if kind == "file":
                try:
                    handle.file = open_regular(path, REOPEN_MODES[mode])
                    handle.file.seek(pos)
                except (OSError, ValueError, OverflowError):
                    continue
            self.handles[fd] = handle
