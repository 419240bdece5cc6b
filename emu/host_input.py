"""Bytes from the host's stdin for the guest (UART RX, semihosting reads).

A reader thread fills a buffer so the run loop never blocks on the terminal;
deterministic runs read the whole (non-interactive) input up front so bytes
reach the guest at the same virtual time on every run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import BinaryIO


class InputInterrupted(Exception):
    """A blocking read gave way to a stop request or a deadline."""


class HostInput:
    def __init__(self, stream: BinaryIO | None) -> None:
        self._buf = bytearray()
        self._cond = threading.Condition()
        self.eof = stream is None
        self._stream = stream  # keep it open: the fd dies with the object
        self._fd = stream.fileno() if stream is not None else None

    def start(self, read_all_first: bool) -> None:
        """Begin reading; ``read_all_first`` is ignored for a terminal (it never ends)."""
        if self._fd is None:
            return
        if read_all_first and not os.isatty(self._fd):
            self._read_all()
            return
        threading.Thread(target=self._pump, name="npuemu-stdin", daemon=True).start()

    def _read_all(self) -> None:
        chunks = []
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            chunks.append(chunk)
        self._buf += b"".join(chunks)
        self.eof = True

    def _pump(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 4096)
            except OSError:
                chunk = b""
            with self._cond:
                if chunk:
                    self._buf += chunk
                else:
                    self.eof = True
                self._cond.notify_all()
            if not chunk:
                return

    @property
    def exhausted(self) -> bool:
        """End of input reached and every byte handed out: nothing more will ever arrive."""
        with self._cond:
            return self.eof and not self._buf

    def take(self, n: int | None = None) -> bytes:
        """Whatever is buffered now (at most ``n`` bytes), without waiting."""
        with self._cond:
            n = len(self._buf) if n is None else min(n, len(self._buf))
            data = bytes(self._buf[:n])
            del self._buf[:n]
            return data

    def read(self, n: int, abort: Callable[[], bool] = lambda: False) -> bytes:
        """Wait for at least one byte (or end of input) and return up to ``n`` bytes; raises
        :class:`InputInterrupted` when ``abort()`` becomes true while waiting."""
        with self._cond:
            while not self._buf and not self.eof:
                if abort():
                    raise InputInterrupted
                self._cond.wait(0.05)
        return self.take(n)

    def wait(self, timeout: float) -> bool:
        """Sleep until input arrives or ``timeout`` seconds pass; True if input is buffered."""
        with self._cond:
            if not self._buf and not self.eof:
                self._cond.wait(timeout)
            return bool(self._buf)
