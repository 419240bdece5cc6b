"""Fuzz semihosting: random operations, argument blocks and names against a root holding every
kind of host file.  Never a Python exception (the guest sees -1 and an errno), never a block, and
never a change outside the root."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from fuzzing import FUZZ, Campaign, no_hang
from hypothesis import given
from hypothesis import strategies as st

from emu.clock import VirtualClock
from emu.devices import semihosting as sh
from emu.memory import Ram

RAM_BASE, RAM_SIZE = 0x8000_0000, 1 << 16
BLOCK, NAME, BUF = RAM_BASE + 0x100, RAM_BASE + 0x2000, RAM_BASE + 0x4000
HOST_NAMES = [b"file", b"dir", b"fifo", b"loop", b"dangling", b"outside", b"sock", b"readonly", b"new",
              b"dir/inner", b"../escape", b"/etc/hostname", b":tt", b":semihosting-features", b"", b".",
              b"fi\0le", b"a" * 300, b"loop/x", b"\xff\xfe"]
OPS = [sh.SYS_OPEN, sh.SYS_CLOSE, sh.SYS_WRITEC, sh.SYS_WRITE0, sh.SYS_WRITE, sh.SYS_READ, sh.SYS_READC,
       sh.SYS_ISERROR, sh.SYS_ISTTY, sh.SYS_SEEK, sh.SYS_FLEN, sh.SYS_REMOVE, sh.SYS_RENAME, sh.SYS_CLOCK,
       sh.SYS_TIME, sh.SYS_ERRNO, sh.SYS_GET_CMDLINE, sh.SYS_HEAPINFO, sh.SYS_EXIT, sh.SYS_EXIT_EXTENDED,
       sh.SYS_ELAPSED, sh.SYS_TICKFREQ, 0x00, 0x17, 0x7F, 0xFFFF_FFFF]


def _populate(root: Path, outside: Path) -> None:
    (root / "file").write_bytes(b"0123456789")
    (root / "dir").mkdir()
    os.mkfifo(root / "fifo")
    (root / "loop").symlink_to("loop")
    (root / "dangling").symlink_to("nowhere")
    (root / "outside").symlink_to(outside)
    (root / "readonly").write_bytes(b"ro")
    (root / "readonly").chmod(0o444)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    sock.close()


def _words(xlen: int) -> st.SearchStrategy[int]:
    top = (1 << xlen) - 1
    pointers = st.sampled_from([BLOCK, NAME, BUF, RAM_BASE, RAM_BASE + RAM_SIZE - 1, RAM_BASE + RAM_SIZE, 0])
    edges = st.sampled_from([0, 1, 2, 3, 4, 8, 11, 12, 255, 4096, top, top >> 1, (top >> 1) + 1])
    return st.one_of(pointers, edges, st.integers(0, top), st.integers(0, 64))


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("keep")
    _populate(root, outside)
    return root, outside


@pytest.mark.parametrize("xlen", [32, 64])
def test_fuzz_semihosting_calls_never_raise_block_or_escape(tree, xlen, campaign: Campaign):
    root, outside = tree
    word = xlen // 8

    @FUZZ
    @given(calls=st.lists(st.tuples(st.sampled_from(OPS), st.lists(_words(xlen), min_size=4, max_size=4),
                                    st.sampled_from(HOST_NAMES)), min_size=1, max_size=12))
    def fuzzer(calls):
        campaign.tried()
        shutil.rmtree(root)  # every example starts from the same tree
        root.mkdir()
        _populate(root, outside)
        ram = Ram(RAM_SIZE, RAM_BASE)
        exits: list[int] = []
        host = sh.Semihosting(ram, xlen, VirtualClock(deterministic=True), argv=["fw", "x"], root=root,
                              stdout=lambda b: None, stderr=lambda b: None, read_stdin=lambda n: b"",
                              on_exit=exits.append, heap=(0, 0, 0, 0))
        try:
            for op, words, name in calls:
                ram.write(NAME, name[: 0x2000 - 1] + b"\0")
                for i, w in enumerate(words):
                    ram.write_int(BLOCK + i * word, word, w)
                arg = BLOCK if words[0] % 3 else words[1]
                with no_hang(5):
                    result = host.call(op, arg)
                assert isinstance(result, int) and 0 <= result < 1 << xlen
                state = host.get_state()
                host.set_state(state)  # open handles round-trip (reopened at their positions)
                assert set(host.get_state()["handles"]) <= set(state["handles"])
        finally:
            host.close_all()
        assert sorted(p.name for p in outside.iterdir()) == ["secret"]
        assert (outside / "secret").read_text() == "keep"
        assert not (root.parent / "escape").exists()

    campaign.run(fuzzer)
