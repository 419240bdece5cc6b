"""The framing layer and the target description, without a machine or a socket."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from emu.debugger.gdb_packets import (
    MAX_PACKET,
    FrameKind,
    PacketReader,
    checksum,
    escape_binary,
    frame_packet,
    hex_to_bytes,
    hex_to_int,
    unescape_binary,
)
from emu.debugger.gdb_target import PRIV_REGNUM, decode_value, encode_value, target_xml

pytestmark = pytest.mark.gdb


def test_checksum_and_framing():
    assert checksum(b"") == 0
    assert checksum(b"OK") == 0x9A
    assert frame_packet(b"OK") == b"$OK#9a"
    assert frame_packet(b"qSupported") == b"$qSupported#37"


def test_reader_splits_packets_across_and_within_reads():
    reader = PacketReader()
    stream = b"+$g#67$m80000000,4#" + b"%02x" % checksum(b"m80000000,4") + b"-\x03"
    frames = [f for i in range(len(stream)) for f in reader.feed(stream[i:i + 1])]
    assert [f.kind for f in frames] == [FrameKind.ACK, FrameKind.PACKET, FrameKind.PACKET,
                                        FrameKind.NACK, FrameKind.INTERRUPT]
    assert frames[1].data == b"g" and frames[1].checksum_ok
    assert frames[2].data == b"m80000000,4"
    assert list(PacketReader().feed(stream)) == frames


def test_reader_flags_bad_checksums_and_non_hex_digits():
    frames = list(PacketReader().feed(b"$g#00$g# 7$g#+7$g#67"))
    assert [f.checksum_ok for f in frames] == [False, False, False, True]


def test_reader_skips_noise_and_restarts_on_dollar():
    frames = list(PacketReader().feed(b"garbage\r\n$junk$g#67"))
    assert len(frames) == 1 and frames[0].data == b"g"


def test_reader_cuts_oversized_packets_and_recovers():
    reader = PacketReader(max_packet=16)
    frames = list(reader.feed(b"$" + b"a" * 100 + b"#00$g#67"))
    assert frames[0].overflow and frames[0].data == b""
    assert frames[1].data == b"g" and frames[1].checksum_ok


def test_binary_escaping_round_trips():
    data = bytes(range(256)) + b"}#$*"
    escaped = escape_binary(data)
    for special in b"#$*":
        assert special not in escaped
    assert b"}]" in escaped and b"}\x03" in escaped and b"}\x04" in escaped and b"}\x0a" in escaped
    assert unescape_binary(escaped) == data
    with pytest.raises(ValueError):
        unescape_binary(b"ab}")


def test_strict_hex():
    assert hex_to_bytes(b"00ff") == b"\x00\xff"
    assert hex_to_int(b"80000000") == 0x80000000
    for bad in (b"0", b"0 ff", b"zz", b"\xff\xfe"):
        with pytest.raises(ValueError):
            hex_to_bytes(bad)
    for bad in (b"", b" 1", b"+1", b"-1", b"0x10"):
        with pytest.raises(ValueError):
            hex_to_int(bad)


@pytest.mark.parametrize("xlen", [32, 64])
def test_register_encoding_is_little_endian_xlen(xlen):
    encoded = encode_value(0x80000000, xlen)
    assert encoded == (b"00000080" if xlen == 32 else b"0000008000000000")
    assert decode_value(encoded, xlen) == 0x80000000
    assert encode_value(-1, xlen) == b"f" * (xlen // 4)
    with pytest.raises(ValueError):
        decode_value(b"00", xlen)


@pytest.mark.parametrize("xlen", [32, 64])
def test_target_xml(xlen):
    root = ET.fromstring(target_xml(xlen).split("\n", 2)[2])  # past the XML and DOCTYPE lines
    assert root.find("architecture").text == f"riscv:rv{xlen}"
    features = {f.get("name"): f for f in root.findall("feature")}
    assert set(features) == {"org.gnu.gdb.riscv.cpu", "org.gnu.gdb.riscv.csr", "org.gnu.gdb.riscv.virtual"}
    regs = {r.get("name"): r for f in features.values() for r in f.findall("reg")}
    assert [r.get("name") for r in features["org.gnu.gdb.riscv.cpu"]] == [f"x{i}" for i in range(32)] + ["pc"]
    assert regs["pc"].get("regnum") == "32"
    assert regs["mstatus"].get("regnum") == "833"
    assert regs["mepc"].get("regnum") == str(65 + 0x341)
    assert regs["priv"].get("regnum") == str(PRIV_REGNUM) == "4161"
    assert {r.get("bitsize") for r in regs.values()} == {str(xlen)}
    assert MAX_PACKET >= 0x1000
