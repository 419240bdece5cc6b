"""Random, malformed and truncated traffic must never crash or hang the stub.

Hypothesis builds sessions out of real command letters with random
arguments, random bytes, bad checksums, stray 0x03/+/- bytes and truncated
packets (a random ``c`` may run the firmware, a ``D`` or ``k`` end the
session early); each session ends with the client hanging up, possibly
mid-packet.  The stub must not hit an internal error, and its thread must finish.
"""

from __future__ import annotations

import socket

import pytest
from conftest import FIRMWARE, start_stub
from hypothesis import given, settings
from hypothesis import strategies as st

from emu import Machine
from emu.debugger.gdb_packets import frame_packet

pytestmark = pytest.mark.gdb

COMMANDS = [b"?", b"c", b"D", b"k", b"g", b"G", b"p", b"P", b"m", b"M", b"X", b"s", b"S", b"Z", b"z", b"q", b"Q", b"v",
            b"H", b"T", b"qXfer:features:read:", b"qRcmd,", b"qSupported:", b"vCont;", b"vCont?",
            b"QStartNoAckMode", b"Z0,", b"Z2,", b"z4,", b"m8000", b"M8000", b"X8000"]
# Arguments in the protocol's alphabet, so they get past the first parse more often than pure noise.
ARG_BYTES = st.binary(max_size=40) | st.text("0123456789abcdefABCDEF,:;=#$}*-xl", max_size=40).map(str.encode)

packet = st.builds(lambda cmd, arg: cmd + arg, st.sampled_from(COMMANDS), ARG_BYTES)
chunk = st.one_of(
    packet.map(frame_packet),                                             # well-formed
    packet.map(lambda p: b"$" + p + b"#zz"),                              # bad checksum
    packet.map(lambda p: frame_packet(p)[: max(1, len(p) // 2)]),         # truncated
    st.sampled_from([b"\x03", b"+", b"-", b"$", b"#", b"}"]),
    st.binary(max_size=30),
)


@pytest.fixture(scope="module")
def machine() -> Machine:
    """One machine for all examples: the fuzz mutates it, which is part of the point."""
    elf = FIRMWARE / "rv32" / "hello.elf"
    if not elf.exists():
        pytest.fail(f"{elf} is missing: run `make firmware` first", pytrace=False)
    return Machine.from_elf(elf)


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(chunk, max_size=25))
def test_random_traffic_never_crashes_or_hangs(machine, chunks):
    log: list[str] = []
    run = start_stub(machine, log)
    sock = run.client.sock
    sock.settimeout(5)
    for data in chunks:
        try:
            sock.sendall(data)
        except OSError:
            break  # the stub hung up (k, D or vKill in the noise): that is a clean end
    # Hang up; the stub's replies are never read (its sends must survive that too).
    sock.shutdown(socket.SHUT_WR)
    sock.close()
    run.wait(timeout=20)
    # E replies are fine; an exception the dispatcher had to catch is a bug.
    assert not [line for line in log if "internal error" in line]
