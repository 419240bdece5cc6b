"""Interrupt rules Unicorn leaves to the machine."""

from __future__ import annotations

import pytest
from asm import assemble
from npuemu_cli import run_npuemu
from support.qemu import run_qemu

U_MODE_TIMER = """
    la t0, handler
    csrw mtvec, t0
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    li t0, 0x80
    csrw mie, t0              # MTIE
    csrci mstatus, 8          # MIE = 0: in M-mode the timer could not interrupt
    li t1, 0x0200bff8
    lw t2, 0(t1)              # mtime (low word)
    addi t2, t2, 100
    li t1, 0x02004000
    sw zero, 4(t1)
    sw t2, 0(t1)              # mtimecmp = mtime + 100 ticks
    la t0, user
    csrw mepc, t0
    li t0, 0x1800
    csrc mstatus, t0          # MPP = U
    mret
user:
    j user                    # U-mode: M-level interrupts are enabled regardless of MIE
.align 2
handler:
    csrr t0, mcause
    li t1, 1
    slli t1, t1, __riscv_xlen - 1
    addi t1, t1, 7
    bne t0, t1, fail          # machine timer interrupt
    csrr t0, mstatus
    srli t0, t0, 11
    andi t0, t0, 3
    bnez t0, fail             # taken from U (MPP = 0)
    j finish_pass
fail:
    li t0, 0x100000
    li t1, 0x13333            # exit status 1
    sw t1, 0(t0)
1:  j 1b
"""


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_machine_interrupt_taken_in_u_mode_whatever_mie(tmp_path, arch):
    elf = assemble(tmp_path, U_MODE_TIMER, arch)
    assert run_npuemu("run", "--timeout", "20", elf).status == 0
    assert run_npuemu("run", "--deterministic", "--timeout", "20", elf).status == 0


@pytest.mark.qemu
def test_qemu_agrees(tmp_path):
    assert run_qemu(assemble(tmp_path, U_MODE_TIMER, "rv32"), "rv32").exit_code == 0
