"""HTIF tohost/fromhost as riscv-tests and Spike use them: putchar, syscall write, exit codes."""

from __future__ import annotations

import pytest
from asm import assemble
from npuemu_cli import run_npuemu

# tohost = dev<<56 | cmd<<48 | payload.  RV32 writes the 64-bit value as two words, low first.
HTIF = """
    .macro tohost_write lo, hi
    la t0, tohost
#if __riscv_xlen == 64
    li t1, \\hi
    slli t1, t1, 32
    li t2, \\lo
    slli t2, t2, 32
    srli t2, t2, 32
    or t1, t1, t2
    sd t1, 0(t0)
#else
    li t1, \\lo
    sw t1, 0(t0)
    li t1, \\hi
    sw t1, 4(t0)
#endif
1:  lw t1, 0(t0)        # the host clears tohost when done
    bnez t1, 1b
    .endm

    tohost_write 0x48, 0x01010000   # device 1 command 1: putchar 'H'
    tohost_write 0x69, 0x01010000   # 'i'
    tohost_write 0x0a, 0x01010000   # newline
    la a0, magic
    tohost_write_reg a0
    tohost_write 0x0f, 0             # exit: payload 15 = (7 << 1) | 1 -> status 7
2:  j 2b

    .section .data
    .align 3
magic:  .dword 64, 1, msg, 8, 0, 0, 0, 0    # syscall write(1, msg, 8)
msg:    .ascii "syscall\\n"
    .section .tohost, "aw", @progbits
    .align 12               # its own page, as riscv-tests' linker script places it
    .globl tohost
tohost: .dword 0
    .align 6
    .globl fromhost
fromhost: .dword 0
"""

WRITE_REG = """
    .macro tohost_write_reg reg
    la t0, tohost
#if __riscv_xlen == 64
    sd \\reg, 0(t0)
#else
    sw \\reg, 0(t0)
    sw zero, 4(t0)
#endif
1:  lw t1, 0(t0)
    bnez t1, 1b
    .endm
"""


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
@pytest.mark.parametrize("own_page", [True, False], ids=["tohost-own-page", "tohost-beside-code"])
def test_htif_console_syscall_and_exit(tmp_path, arch, own_page):
    source = WRITE_REG + HTIF if own_page else WRITE_REG + HTIF.replace(".align 12", ".align 6")
    result = run_npuemu("run", "--timeout", "20", assemble(tmp_path, source, arch))
    assert result.output.decode() == "Hi\nsyscall\n"
    assert result.status == 7


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_tohost_beside_code_is_served_at_once(tmp_path, arch):
    """tohost in a page with code cannot be MMIO; a write hook on its 8 bytes ends the slice right
    after the store, so the firmware's wait for the host lasts a few instructions, not the rest of
    a slice (200,000 instructions in deterministic mode)."""
    from emu import Machine

    source = WRITE_REG + HTIF.replace(".align 12", ".align 6")
    out = bytearray()
    m = Machine.from_elf(assemble(tmp_path, source, arch), deterministic=True, stdout=out.extend)
    page = m.elf.tohost & ~0xFFF
    assert any(s < page + 0x1000 and page < e for s, e in m.layout.executable_ranges())
    stop = m.run(max_insns=1_000_000)
    assert (bytes(out), stop.exit_code) == (b"Hi\nsyscall\n", 7)
    assert m.insn_count < 2_000
