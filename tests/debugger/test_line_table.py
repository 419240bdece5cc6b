"""What the debugger relies on in ElfImage: every line-table row start has a line (step, next, break FILE:LINE,
the stop lines).  GCC emits several rows at one address; the row kept must still cover its range."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_every_row_start_has_its_line(firmware, arch) -> None:
    from emu.elf_loader import load_elf

    elf = load_elf(firmware("hello", arch))
    for file in elf.source_files():
        for line in range(1, 40):
            for addr in elf.addresses_for_line(file, line):
                assert elf.line_for(addr) is not None, f"{addr:#x} ({file}:{line}) has no line"


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_every_instruction_of_main_has_a_line(firmware, arch) -> None:
    """pc -> line must cover the whole function, non-statement rows included (GDB's find_pc_line):
    a stop anywhere in main (watchpoint, Ctrl-C, stepi) shows its source line."""
    from emu.debugger.disasm import Disassembler
    from emu.elf_loader import load_elf

    elf = load_elf(firmware("hello", arch))
    main = elf.lookup("main")
    seg = next(s for s in elf.segments if s.paddr <= main.addr < s.paddr + len(s.data))
    code = seg.data[main.addr - seg.paddr: main.addr - seg.paddr + main.size]
    for insn in Disassembler(elf.xlen).decode(code, main.addr):
        assert elf.line_for(insn.addr) is not None, f"{insn.addr:#x} in main has no line"
