"""GDB Remote Serial Protocol framing: ``$payload#cs``, acks, Ctrl-C and binary escapes.

This module knows bytes, not debugging: :class:`PacketReader` turns whatever a
socket delivers (packets split across reads, several per read, garbage between
them) into :class:`Frame` objects, and :func:`frame_packet` builds what we send.
It is kept apart from the stub so it can be tested (and fuzzed) without a
machine or a socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

# The biggest packet we accept (and announce as PacketSize in qSupported).  gdb sizes its
# memory writes and register packets to fit; anything longer is a broken client.
MAX_PACKET = 0x4000

INTERRUPT_BYTE = 0x03
# Characters that cannot appear raw inside binary data (X packets, qXfer replies).
_SPECIAL = frozenset(b"#$}*")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class FrameKind(Enum):
    PACKET = "packet"
    INTERRUPT = "interrupt"  # a bare 0x03 between packets: gdb's Ctrl-C
    ACK = "ack"
    NACK = "nack"


@dataclass(frozen=True)
class Frame:
    """One unit from the client.  For packets, ``data`` is the payload with escapes still in.

    ``checksum_ok`` is False for a packet whose checksum did not match (or whose checksum
    digits were not hex); ``overflow`` is True when the payload was longer than
    :data:`MAX_PACKET` and was cut (its data is then empty).
    """

    kind: FrameKind
    data: bytes = b""
    checksum_ok: bool = True
    overflow: bool = False


def checksum(payload: bytes) -> int:
    """The RSP checksum: the sum of the payload bytes modulo 256."""
    return sum(payload) & 0xFF


def frame_packet(payload: bytes) -> bytes:
    """``$payload#xx``; the payload must already be escaped if it carries binary data."""
    return b"$" + payload + b"#" + b"%02x" % checksum(payload)


def escape_binary(data: bytes) -> bytes:
    """Escape ``# $ } *`` as ``}`` + (byte ^ 0x20), for binary data we send (qXfer replies).

    ``*`` matters because gdb reads it as run-length encoding in every reply.
    """
    out = bytearray()
    for b in data:
        if b in _SPECIAL:
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape_binary(data: bytes) -> bytes:
    """Undo :func:`escape_binary` (X packet data).  A trailing lone ``}`` is a ValueError."""
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            nxt = next(it, None)
            if nxt is None:
                raise ValueError("escape character at the end of binary data")
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def hex_to_bytes(text: bytes) -> bytes:
    """Strict hex decoding (``bytes.fromhex`` would accept spaces); ValueError otherwise."""
    if len(text) % 2 or not all(c in _HEX_DIGITS for c in text):
        raise ValueError(f"not hex: {text[:40]!r}")
    return bytes.fromhex(text.decode("ascii"))


def hex_to_int(text: bytes) -> int:
    """A non-empty hex number as the protocol writes addresses and lengths; ValueError otherwise."""
    if not text or not all(c in _HEX_DIGITS for c in text):
        raise ValueError(f"not a hex number: {text[:40]!r}")
    return int(text, 16)


class PacketReader:
    """Incremental parser: feed it socket bytes, get complete frames back in order.

    Bytes outside a packet other than ``+``, ``-`` and 0x03 are noise (a line
    discipline echo, a telnet probe) and are skipped.  A ``$`` inside a packet
    restarts the packet, as gdb itself resynchronises after a lost ``#``.
    """

    def __init__(self, max_packet: int = MAX_PACKET) -> None:
        self._max = max_packet
        self._payload = bytearray()
        self._sum_digits = bytearray()
        self._state = "idle"  # idle | payload | checksum
        self._overflow = False

    def feed(self, data: bytes) -> Iterator[Frame]:
        for b in data:
            if self._state == "idle":
                if b == ord("$"):
                    self._start_packet()
                elif b == ord("+"):
                    yield Frame(FrameKind.ACK)
                elif b == ord("-"):
                    yield Frame(FrameKind.NACK)
                elif b == INTERRUPT_BYTE:
                    yield Frame(FrameKind.INTERRUPT)
            elif self._state == "payload":
                if b == ord("#"):
                    self._state = "checksum"
                elif b == ord("$"):
                    self._start_packet()
                elif len(self._payload) < self._max:
                    self._payload.append(b)
                else:
                    self._overflow = True
            else:
                self._sum_digits.append(b)
                if len(self._sum_digits) == 2:
                    yield self._finish_packet()

    def _start_packet(self) -> None:
        self._payload.clear()
        self._sum_digits.clear()
        self._overflow = False
        self._state = "payload"

    def _finish_packet(self) -> Frame:
        self._state = "idle"
        digits = bytes(self._sum_digits)
        # Not hex is as bad as a wrong sum (checked by hand: int() would accept " f" or "+f").
        ok = all(d in _HEX_DIGITS for d in digits) and int(digits, 16) == checksum(self._payload)
        if self._overflow:
            return Frame(FrameKind.PACKET, b"", checksum_ok=True, overflow=True)
        return Frame(FrameKind.PACKET, bytes(self._payload), checksum_ok=ok)
