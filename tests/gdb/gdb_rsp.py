"""A minimal GDB Remote Serial Protocol client for the in-process stub tests.

It plays gdb's part on the other end of a socket pair: frames packets, acks
replies (unless no-ack mode is on) and collects 'O' console packets, with a
socket timeout so a stub that stops answering fails the test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import socket

from emu.debugger.gdb_packets import FrameKind, PacketReader, frame_packet


class RspClient:
    def __init__(self, sock: socket.socket, timeout: float = 10.0) -> None:
        self.sock = sock
        self.sock.settimeout(timeout)
        self._reader = PacketReader(max_packet=1 << 20)
        self._frames: list = []
        self.no_ack = False
        self.acks: list[str] = []      # "+" / "-" received from the stub, in order
        self.console: list[bytes] = []  # decoded 'O' packets

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, payload: bytes) -> None:
        self.sock.sendall(frame_packet(payload))

    def _next_frame(self):
        while not self._frames:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("stub closed the connection")
            self._frames.extend(self._reader.feed(data))
        return self._frames.pop(0)

    def recv(self) -> bytes:
        """The next reply packet (console 'O' packets are collected, not returned)."""
        while True:
            frame = self._next_frame()
            if frame.kind is FrameKind.ACK:
                self.acks.append("+")
            elif frame.kind is FrameKind.NACK:
                self.acks.append("-")
            elif frame.kind is FrameKind.PACKET:
                if not self.no_ack:
                    with contextlib.suppress(OSError):  # the stub may close right after D
                        self.sock.sendall(b"+")
                data = frame.data
                if data.startswith(b"O") and len(data) > 1 and data != b"OK":
                    self.console.append(bytes.fromhex(data[1:].decode()))
                    continue
                return data

    def cmd(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.recv()

    def start_no_ack(self) -> None:
        assert self.cmd(b"QStartNoAckMode") == b"OK"
        self.no_ack = True

    def closed_by_stub(self) -> bool:
        """True once the stub has closed its end (reads return EOF)."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        return True
