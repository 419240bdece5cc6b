"""Where ``npuemu run --serial`` puts the console (UART, semihosting and HTIF output, UART input).

``stdio`` (the default) is the terminal; ``pty`` creates a pseudo-terminal and prints its path
(connect with ``screen``/``picocom``/``minicom``, as QEMU's ``-serial pty``); ``tcp:HOST:PORT``
listens there and waits for one client before the firmware starts (QEMU's
``-serial tcp::PORT,server``).  TCP binds 127.0.0.1 unless a HOST is given: a console is a
shell into the firmware, not something to expose by accident.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import BinaryIO

from emu.errors import ConfigError

ACCEPT_TIMEOUT = 300.0  # seconds to wait for the TCP client


@dataclass
class SerialBackend:
    """The console's two ends: ``write`` for output, ``stream`` for input (None: no input)."""

    write: Callable[[bytes], None]
    stream: BinaryIO | None
    live: bool  # input arrives while the firmware runs (never read to the end first)
    description: str
    _close: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in self._close:
            with suppress(OSError):
                close()


def parse_serial(spec: str) -> tuple[str, str, int]:
    """``stdio`` / ``pty`` / ``tcp:HOST:PORT`` / ``tcp::PORT`` / ``tcp:PORT`` -> (kind, host, port)."""
    if spec in ("stdio", "pty"):
        return spec, "", 0
    if spec.startswith("tcp:"):
        host, _, port = spec[4:].rpartition(":")
        try:
            number = int(port)
        except ValueError:
            number = -1
        if not 0 < number < 65536:
            raise ConfigError(f"--serial {spec}: expected tcp:HOST:PORT with a port in 1..65535")
        return "tcp", host or "127.0.0.1", number
    raise ConfigError(f"--serial {spec}: expected stdio, pty or tcp:HOST:PORT")


def open_serial(spec: str, announce: Callable[[str], None]) -> SerialBackend | None:
    """The backend for ``spec`` (None for stdio: the CLI's own console); ``announce`` tells the user
    where to connect, before a TCP backend waits for its client."""
    kind, host, port = parse_serial(spec)
    if kind == "stdio":
        return None
    if kind == "pty":
        master, slave = os.openpty()
        path = os.ttyname(slave)
        import tty

        tty.setraw(slave)  # bytes through unchanged, as a UART line
        stream = os.fdopen(master, "rb", buffering=0)
        announce(f"UART on {path}")
        return SerialBackend(lambda data: _write_all(master, data), stream, True, path,
                             [stream.close, lambda: os.close(slave)])
    server = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind((host, port))
    except OSError as e:
        server.close()
        raise ConfigError(f"--serial tcp:{host}:{port}: cannot listen: {e.strerror}") from None
    server.listen(1)
    announce(f"UART waiting for a connection on tcp:{host}:{port}")
    server.settimeout(ACCEPT_TIMEOUT)
    try:
        conn, peer = server.accept()
    except (TimeoutError, OSError):
        server.close()
        raise ConfigError(f"--serial tcp:{host}:{port}: nobody connected within {ACCEPT_TIMEOUT:g} s") from None
    server.close()
    conn.settimeout(None)
    stream = conn.makefile("rb", buffering=0)
    return SerialBackend(lambda data: _send(conn, data), stream, True, f"tcp:{peer[0]}:{peer[1]}",
                         [stream.close, conn.close])


def _write_all(fd: int, data: bytes) -> None:
    with suppress(OSError):  # nobody on the pty: output is dropped, like an unplugged cable
        while data:
            data = data[os.write(fd, data):]


def _send(conn: socket.socket, data: bytes) -> None:
    with suppress(OSError):  # the client went away: the firmware goes on
        conn.sendall(data)


def stderr_announce(message: str) -> None:
    sys.stderr.write(f"npuemu: {message}\n")
    sys.stderr.flush()
