"""Assemble a few lines of RISC-V into a bootable ELF, for tests that need one precise behaviour."""

from __future__ import annotations

import subprocess
from pathlib import Path

MARCH = {"rv32": ("rv32imac", "ilp32"), "rv64": ("rv64imac", "lp64")}
FINISH = """
finish_pass:
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
"""


def assemble(tmp_path: Path, source: str, arch: str = "rv32", name: str = "snippet") -> Path:
    """``source`` starts at ``_start`` (0x8000_0000); ``j finish_pass`` ends the run with status 0."""
    march, mabi = MARCH[arch]
    src = tmp_path / f"{name}.S"  # .S: the C preprocessor runs (#if __riscv_xlen)
    src.write_text(f".globl _start\n.section .text\n_start:\n{source}\n{FINISH}")
    elf = tmp_path / f"{name}.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", f"-march={march}", f"-mabi={mabi}", "-misa-spec=2.2",
                    "-nostdlib", "-Wl,--no-relax", "-Wl,-N", "-Wl,-Ttext=0x80000000", "-Wl,--no-warn-rwx-segments", "-o", str(elf), str(src)],
                   check=True, capture_output=True)
    return elf
