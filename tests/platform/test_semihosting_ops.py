"""Each semihosting operation, called as firmware would: an argument block of XLEN-wide words in RAM."""

from __future__ import annotations

import pytest

from emu.clock import VirtualClock
from emu.devices import semihosting as sh
from emu.memory import Ram

BLOCK, BUF, NAME = 0x8000_0100, 0x8000_1000, 0x8000_2000


class Host:
    def __init__(self, xlen: int, root=None, stdin: bytes = b"") -> None:
        self.ram = Ram(1 << 16)
        self.ticks = [0]
        self.clock = VirtualClock(deterministic=True, ns_per_insn=10, insn_count=lambda: self.ticks[0])
        self.out, self.err, self.exits = bytearray(), bytearray(), []
        self.stdin = bytearray(stdin)
        self.word = xlen // 8
        self.sh = sh.Semihosting(
            self.ram, xlen, self.clock, argv=["fw.elf", "a", "b"], root=root, stdout=self.out.extend,
            stderr=self.err.extend, read_stdin=self._read, on_exit=self.exits.append,
            heap=(0x80100000, 0x87000000, 0x88000000, 0x87000000))

    def _read(self, n: int) -> bytes:
        data = bytes(self.stdin[:n])
        del self.stdin[:n]
        return data

    def block(self, *words: int) -> int:
        for i, w in enumerate(words):
            self.ram.write_int(BLOCK + i * self.word, self.word, w)
        return BLOCK

    def call(self, op: int, *words: int) -> int:
        result = self.sh.call(op, self.block(*words) if words else 0)
        return result - (1 << (8 * self.word)) if result >> (8 * self.word - 1) else result

    def open(self, name: bytes, mode: int) -> int:
        self.ram.write(NAME, name + b"\0")
        return self.call(sh.SYS_OPEN, NAME, mode, len(name))


@pytest.fixture(params=[32, 64])
def host(request) -> Host:
    return Host(request.param, stdin=b"xyz")


def test_console_handles(host):
    assert host.call(sh.SYS_ISTTY, 1) == 1
    host.ram.write(BUF, b"out\0")
    assert host.call(sh.SYS_WRITE, 1, BUF, 3) == 0 and host.call(sh.SYS_WRITE, 2, BUF, 2) == 0
    assert host.out == b"out" and host.err == b"ou"
    assert host.call(sh.SYS_READ, 0, BUF, 2) == 0 and host.ram.read(BUF, 2) == b"xy"
    assert host.sh.call(sh.SYS_READC, 0) == ord("z")
    host.ram.write(BUF, b"!")
    host.sh.call(sh.SYS_WRITEC, BUF)
    host.ram.write(BUF, b"zero\0")
    host.sh.call(sh.SYS_WRITE0, BUF)
    assert host.out == b"out!zero"


def test_tt_and_features(host):
    fd = host.open(b":tt", 4)
    assert host.call(sh.SYS_ISTTY, fd) == 1
    feat = host.open(b":semihosting-features", 0)
    assert host.call(sh.SYS_FLEN, feat) == 5
    assert host.call(sh.SYS_READ, feat, BUF, 5) == 0 and host.ram.read(BUF, 5) == b"SHFB\x03"
    assert host.call(sh.SYS_SEEK, feat, 4) == 0 and host.call(sh.SYS_READ, feat, BUF, 4) == 3
    assert host.call(sh.SYS_CLOSE, feat) == 0 and host.call(sh.SYS_CLOSE, feat) == -1
    assert host.sh.call(sh.SYS_ERRNO, 0) == sh.EBADF


def test_time_and_clock(host):
    host.ticks[0] = 250_000_000  # 2.5 virtual seconds at 10 ns per instruction
    assert host.sh.call(sh.SYS_CLOCK, 0) == 250
    assert host.sh.call(sh.SYS_TIME, 0) == sh.DETERMINISTIC_EPOCH + 2
    assert host.sh.call(sh.SYS_TICKFREQ, 0) == 10_000_000
    assert host.sh.call(sh.SYS_ELAPSED, BUF) == 0 and host.ram.read_int(BUF, 8) == 25_000_000


def test_cmdline_heapinfo_iserror(host):
    assert host.call(sh.SYS_GET_CMDLINE, BUF, 64) == 0
    assert host.ram.read(BUF, 9) == b"fw.elf a\x20"[:9] and host.ram.read(BUF + 10, 1) == b"\0"
    assert host.ram.read_int(BLOCK + host.word, host.word) == 10
    assert host.call(sh.SYS_GET_CMDLINE, BUF, 4) == -1  # too small
    assert host.sh.call(sh.SYS_HEAPINFO, host.block(BUF)) == 0  # a1 -> a word holding the block's address
    assert [host.ram.read_int(BUF + i * host.word, host.word) for i in range(4)] == \
        [0x80100000, 0x87000000, 0x88000000, 0x87000000]
    assert host.call(sh.SYS_ISERROR, (1 << (8 * host.word)) - 1) == 1 and host.call(sh.SYS_ISERROR, 5) == 0


def test_exit_and_exit_extended(host):
    host.call(sh.SYS_EXIT_EXTENDED, sh.ADP_STOPPED_APPLICATION_EXIT, 9)
    if host.word == 4:
        host.sh.call(sh.SYS_EXIT, sh.ADP_STOPPED_APPLICATION_EXIT)  # RV32: a1 is the reason
        host.sh.call(sh.SYS_EXIT, 0x20023)                          # any other reason: status 1
        assert host.exits == [9, 0, 1]
    else:
        host.call(sh.SYS_EXIT, sh.ADP_STOPPED_APPLICATION_EXIT, 4)  # RV64: a block like EXIT_EXTENDED
        assert host.exits == [9, 4]


def test_host_files_need_a_root(tmp_path):
    closed = Host(64)
    assert closed.open(b"x.txt", 4) == -1 and closed.sh.call(sh.SYS_ERRNO, 0) == sh.EACCES
    (tmp_path / "in.txt").write_bytes(b"0123456789")
    h = Host(64, root=tmp_path)
    fd = h.open(b"in.txt", 0)
    assert h.call(sh.SYS_FLEN, fd) == 10 and h.call(sh.SYS_ISTTY, fd) == 0
    assert h.call(sh.SYS_SEEK, fd, 6) == 0 and h.call(sh.SYS_READ, fd, BUF, 8) == 4
    assert h.ram.read(BUF, 4) == b"6789"
    h.ram.write(NAME, b"in.txt")
    h.ram.write(NAME + 16, b"moved.txt")
    assert h.call(sh.SYS_RENAME, NAME, 6, NAME + 16, 9) == 0 and (tmp_path / "moved.txt").exists()
    assert h.call(sh.SYS_REMOVE, NAME + 16, 9) == 0 and not (tmp_path / "moved.txt").exists()
    h.ram.write(NAME, b"../up.txt")
    assert h.call(sh.SYS_REMOVE, NAME, 9) == -1


def test_bad_pointers_and_unknown_operations_fail_cleanly(host):
    assert host.sh.call(sh.SYS_WRITE0, 0x10) == (1 << (8 * host.word)) - 1   # outside RAM: -1
    assert host.sh.call(0x7F, 0) == (1 << (8 * host.word)) - 1
    assert host.sh.call(sh.SYS_ERRNO, 0) == sh.ENOSYS
