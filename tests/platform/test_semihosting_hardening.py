"""Issue 17 S1/S2: whatever the guest passes and whatever lies in the semihost root, a semihosting
call ends with the guest-visible error (-1, SYS_ERRNO), never a traceback and never a hang."""

from __future__ import annotations

import errno
import os

import pytest
from asm import assemble
from npuemu_cli import run_npuemu
from test_semihosting_ops import NAME, Host

from emu.devices import semihosting as sh


def _clean(result) -> str:
    out = result.output.decode(errors="replace")
    assert "Traceback" not in out and "internal error" not in out, out
    return out


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_s1_symlink_loop_in_the_root_is_a_failed_open(firmware, tmp_path, arch):
    """Reproducer: `ln -s input.txt r/input.txt; npuemu run --semihost-root r semihost_files.elf`."""
    root = tmp_path / "r"
    root.mkdir()
    (root / "input.txt").symlink_to("input.txt")
    result = run_npuemu("run", "--semihost-root", root, firmware("semihost_files", arch), timeout=60)
    out = _clean(result)
    assert result.status == 0 and "input.txt: cannot open" in out and "output.txt: written" in out


@pytest.mark.parametrize("target", ["fifo", "directory"])
def test_s2_fifo_or_directory_in_the_root_never_blocks(firmware, tmp_path, target):
    """Reproducer: `mkfifo r/input.txt; npuemu run --timeout 2 --semihost-root r semihost_files.elf`:
    the open fails at once (only regular files open), the run completes normally."""
    root = tmp_path / "r"
    root.mkdir()
    if target == "fifo":
        os.mkfifo(root / "input.txt")
        os.mkfifo(root / "output.txt")  # opened for writing with no reader: fails too, no block
    else:
        (root / "input.txt").mkdir()
    result = run_npuemu("run", "--timeout", "2", "--semihost-root", root,
                        firmware("semihost_files", "rv32"), timeout=30)
    out = _clean(result)
    assert result.status == 0, out
    assert "input.txt: cannot open" in out


SEMIHOST_CALLS = r"""
    li s11, 0
    la a1, blk_nul
    li a0, 0x01            /* SYS_OPEN "in\0put.txt": EINVAL */
    call semihost
    li t0, -1
    bne a0, t0, fail1
    li a0, 0x13
    call semihost
    li t0, 22
    bne a0, t0, fail2
    la a1, blk_open
    li a0, 0x01            /* SYS_OPEN "input.txt" rb */
    call semihost
    bltz a0, fail3
    la t0, blk_seek
    sd a0, 0(t0)
    la t0, blk_seek2
    sd a0, 0(t0)
    la a1, blk_seek
    li a0, 0x0a            /* SYS_SEEK to 2^63-1: the host refuses, the guest sees -1 */
    call semihost
    li t0, -1
    bne a0, t0, fail4
    la a1, blk_seek2
    li a0, 0x0a            /* SYS_SEEK to 2^63: EINVAL */
    call semihost
    li t0, -1
    bne a0, t0, fail5
    li a0, 0x13
    call semihost
    li t0, 22
    bne a0, t0, fail6
    la a1, blk_loop
    li a0, 0x01            /* SYS_OPEN "loop" (a symlink to itself): ELOOP */
    call semihost
    li t0, -1
    bne a0, t0, fail7
    j finish_pass
fail1: li s11, 1
    j fail
fail2: li s11, 2
    j fail
fail3: li s11, 3
    j fail
fail4: li s11, 4
    j fail
fail5: li s11, 5
    j fail
fail6: li s11, 6
    j fail
fail7: li s11, 7
fail:
    slli s11, s11, 16
    li t0, 0x3333
    or s11, s11, t0
    li t0, 0x100000
    sw s11, 0(t0)
1:  j 1b

.balign 16
semihost:
.option push
.option norvc
    slli x0, x0, 0x1f
    ebreak
    srai x0, x0, 7
.option pop
    ret

.section .data
.balign 8
blk_nul:   .dword name_nul, 0, 9
blk_open:  .dword name_ok, 0, 9
blk_loop:  .dword name_loop, 0, 4
blk_seek:  .dword 0, 0x7fffffffffffffff
blk_seek2: .dword 0, 0x8000000000000000
name_nul:  .ascii "in\0put.txt"
name_ok:   .asciz "input.txt"
name_loop: .asciz "loop"
.section .text
"""


def test_s1_nul_name_seek_beyond_off_t_and_symlink_loop_from_firmware(tmp_path):
    """rv64 firmware makes each S1 call; it exits 0 only if every one returned the documented
    error (status n identifies the check that failed)."""
    root = tmp_path / "r"
    root.mkdir()
    (root / "input.txt").write_text("data\n")
    (root / "loop").symlink_to("loop")
    elf = assemble(tmp_path, SEMIHOST_CALLS, arch="rv64")
    result = run_npuemu("run", "--timeout", "20", "--semihost-root", root, elf, timeout=60)
    _clean(result)
    assert result.status == 0, result.output.decode()


@pytest.mark.parametrize("xlen", [32, 64])
def test_every_s1_case_through_the_argument_block(tmp_path, xlen):
    root = tmp_path / "r"
    root.mkdir()
    (root / "f").write_bytes(b"abc")
    (root / "loop").symlink_to("loop")
    host = Host(xlen, root=root)
    assert host.open(b"lo\0op", 0) == -1 and host.sh.errno == errno.EINVAL
    assert host.open(b"loop", 0) == -1 and host.sh.errno == errno.ELOOP
    assert host.open(b"loop/x", 4) == -1
    fd = host.open(b"f", 0)
    assert fd >= 3
    top = (1 << xlen) - 1
    for pos in (top >> 1, top, (1 << (xlen - 1))):
        # rv32: every 32-bit offset is a valid host offset (past the end is allowed, as lseek);
        # rv64: 2^63-1 is refused by the host, >= 2^63 does not fit off_t.
        assert host.call(sh.SYS_SEEK, fd, pos) == (0 if xlen == 32 else -1)
    assert host.call(sh.SYS_SEEK, fd, 1) == 0
    host.ram.write_int(NAME, 4, 0)
    assert host.call(sh.SYS_REMOVE, NAME, (1 << 20)) == -1  # a name longer than RAM
