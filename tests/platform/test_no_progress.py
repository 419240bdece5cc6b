"""Firmware that can never make progress is reported, not left to hang."""

from __future__ import annotations

import pytest
from asm import assemble
from npuemu_cli import run_npuemu

from emu.cli import EXIT_FATAL


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_handler_returning_into_a_jump_into_nothing(tmp_path, arch):
    elf = assemble(tmp_path, """
    la t0, handler
    csrw mtvec, t0
    li t0, 0x20000
    jr t0                 # nothing is mapped there
.align 2
handler:
    mret                  # returns to the faulting address: forever
""", arch)
    result = run_npuemu("run", "--timeout", "20", elf)
    text = result.output.decode()
    assert result.status == EXIT_FATAL
    assert "keeps jumping into nothing at 0x20000" in text and "instruction access fault" in text


def test_wfi_with_nothing_to_wake_it(tmp_path):
    elf = assemble(tmp_path, "    wfi\n    j finish_pass")
    result = run_npuemu("run", elf)
    assert result.status == EXIT_FATAL
    assert "sleeps in wfi with no interrupt that can wake it" in result.output.decode()


def test_ecall_in_a_loop_is_progress_not_a_storm(tmp_path):
    elf = assemble(tmp_path, """
    la t0, handler
    csrw mtvec, t0
    li s0, 500
loop:
    ecall
    addi s0, s0, -1
    bnez s0, loop
    j finish_pass
.align 2
handler:
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
""")
    assert run_npuemu("run", "--timeout", "20", elf).status == 0
