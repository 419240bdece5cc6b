"""GDB packet fuzzing: random, malformed and truncated traffic must never crash or hang the stub.

Hypothesis builds sessions out of real command letters with random arguments,
random bytes, bad checksums, stray 0x03/+/- bytes and truncated packets (a
random ``c`` may run the firmware, ``bs``/``bc`` run it backwards, a ``D`` or
``k`` ends the session early, ``monitor`` lines drive the shell and the NPU
breakpoints); each session ends with the client hanging up, possibly
mid-packet.  The stub must not hit an internal error, and its thread must
finish.  The framing layer is fuzzed on its own, with many more inputs.

Bounded by the harness (tests/fuzz/fuzzing.py): 40 sessions and 400 framing inputs in
``make test``; ``make fuzz FUZZ_SECONDS=N`` runs each campaign for N seconds.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from fuzzing import FUZZ, Campaign
from hypothesis import given, settings
from hypothesis import strategies as st

from emu import Machine
from emu.debugger.gdb_packets import MAX_PACKET, PacketReader, frame_packet
from emu.debugger.gdbstub import GdbStub

FIRMWARE = Path(__file__).resolve().parents[2] / "build" / "firmware"

COMMANDS = [b"?", b"c", b"D", b"k", b"g", b"G", b"p", b"P", b"m", b"M", b"X", b"s", b"S", b"Z", b"z", b"q", b"Q", b"v",
            b"H", b"T", b"b", b"bs", b"bc", b"qXfer:features:read:", b"qRcmd,", b"qSupported:", b"vCont;",
            b"vCont?", b"QStartNoAckMode", b"Z0,", b"Z2,", b"z4,", b"m8000", b"M8000", b"X8000", b"m1800"]
# Arguments in the protocol's alphabet, so they get past the first parse more often than pure noise.
ARG_BYTES = st.binary(max_size=40) | st.text("0123456789abcdefABCDEF,:;=#$}*-xl", max_size=40).map(str.encode)
MONITOR = ["npu break any", "npu break MVM on complete", "npu watch acc 0:16", "npu watch tile 0 0:4,0:4",
           "npu clear", "npu breakpoints", "npu status", "reverse-stepi", "stepi 3", "source /etc/passwd",
           "npu trace /tmp/npuemu-fuzz-must-not-exist.json", "info registers", "x/4xw $sp"]

packet = st.one_of(
    st.builds(lambda cmd, arg: cmd + arg, st.sampled_from(COMMANDS), ARG_BYTES),
    st.sampled_from(MONITOR).map(lambda line: b"qRcmd," + line.encode().hex().encode()),
)
chunk = st.one_of(
    packet.map(frame_packet),                                             # well-formed
    packet.map(lambda p: b"$" + p + b"#zz"),                              # bad checksum
    packet.map(lambda p: frame_packet(p)[: max(1, len(p) // 2)]),         # truncated
    st.sampled_from([b"\x03", b"+", b"-", b"$", b"#", b"}"]),
    st.binary(max_size=30),
)


@pytest.fixture(scope="module")
def machine() -> Machine:
    """One deterministic machine for all sessions (reverse execution on): the fuzz mutates it."""
    elf = FIRMWARE / "rv32" / "npu_demo.elf"
    if not elf.exists():
        pytest.fail(f"{elf} is missing: run `make firmware` first", pytrace=False)
    return Machine.from_elf(elf, deterministic=True, ram_size=4 << 20)


def test_fuzz_gdb_random_traffic_never_crashes_or_hangs(machine, campaign: Campaign):
    @FUZZ
    @given(chunks=st.lists(chunk, max_size=25))
    def fuzzer(chunks):
        campaign.tried()
        _session(machine, chunks)

    campaign.run(fuzzer)


def _session(machine: Machine, chunks: list[bytes]) -> None:
    """One client session of ``chunks``, then a hang-up; the stub must end cleanly."""
    log: list[str] = []
    server, sock = socket.socketpair()
    result: dict = {}

    def serve() -> None:
        try:
            result["status"] = GdbStub(machine, server, log=log.append).serve()
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = repr(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    sock.settimeout(5)
    for data in chunks:
        try:
            sock.sendall(data)
        except OSError:
            break  # the stub hung up (k, D or vKill in the noise): that is a clean end
    # Hang up; the stub's replies are never read (its sends must survive that too).
    sock.shutdown(socket.SHUT_WR)
    sock.close()
    thread.join(60)
    assert not thread.is_alive(), "the stub did not finish"
    assert "error" not in result, result["error"]
    # E replies are fine; an exception the dispatcher had to catch is a bug.
    assert not [line for line in log if "internal error" in line]
    assert not Path("/tmp/npuemu-fuzz-must-not-exist.json").exists()  # monitor: no host files


def test_fuzz_gdb_framing_never_raises_and_reads_good_packets_intact(campaign: Campaign):
    """Noise never raises nor yields more than PacketSize; well-formed packets, split anywhere, come
    out intact (after noise, a dangling ``$`` or ``#`` may eat the next packet, as in gdb)."""
    @settings(FUZZ, max_examples=FUZZ.max_examples * 10)
    @given(data=st.lists(st.binary(max_size=64) | st.sampled_from([b"$", b"#", b"\x03", b"}"]), max_size=30),
           packets=st.lists(ARG_BYTES.filter(lambda p: not set(p) & set(b"$#")), max_size=5),
           split=st.integers(1, 64))
    def fuzzer(data, packets, split):
        campaign.tried()
        for stream, expect in ((b"".join(data), None), (b"".join(frame_packet(p) for p in packets), packets)):
            reader = PacketReader()
            frames = []
            for i in range(0, len(stream), split):
                frames += list(reader.feed(stream[i:i + split]))
            assert all(len(f.data) <= MAX_PACKET for f in frames)
            if expect is not None:
                assert [(f.data, f.checksum_ok) for f in frames] == [(p, True) for p in expect]

    campaign.run(fuzzer)
