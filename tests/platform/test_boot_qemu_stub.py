"""QEMU's reset stub semantics, diffed against qemu-system-riscv32/64: a firmware given with --bios
(ELF or raw) prints a0, a1, a2 and the fw_dynamic_info a2 points to, then jumps to the next stage
it names; the raw --kernel prints where it runs and the a1 it got.  Same console, same exit."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from asm import assemble
from npuemu_cli import run_npuemu

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(shutil.which("riscv64-unknown-elf-objcopy") is None, reason="no RISC-V binutils")]

DEFS = """
#if __riscv_xlen == 64
#define LOAD ld
#define W 8
#else
#define LOAD lw
#define W 4
#endif
"""
PUTHEX = """
puthex:                      /* a0 as XLEN/4 hex digits and a newline */
    li t0, 0x10000000
    li t1, __riscv_xlen - 4
1:  srl t2, a0, t1
    andi t2, t2, 15
    li t3, 10
    blt t2, t3, 2f
    addi t2, t2, 'a' - 10 - '0'
2:  addi t2, t2, '0'
    sb t2, 0(t0)
    addi t1, t1, -4
    bgez t1, 1b
    li t2, '\\n'
    sb t2, 0(t0)
    ret
"""
BIOS = DEFS + """
    mv s0, a0
    mv s1, a1
    mv s2, a2
    call puthex
    mv a0, s1
    call puthex
    mv a0, s2
    call puthex
    LOAD a0, 0(s2)           /* fw_dynamic_info: magic, version, next_addr, next_mode */
    call puthex
    LOAD a0, W(s2)
    call puthex
    LOAD a0, 2*W(s2)
    call puthex
    LOAD a0, 3*W(s2)
    call puthex
    LOAD t0, 2*W(s2)
    mv a0, s0
    mv a1, s1
    jr t0
""" + PUTHEX
KERNEL = """
    mv s1, a1
    auipc a0, 0
    call puthex
    mv a0, s1
    call puthex
    li t0, 0x100000
    li t1, (3 << 16) | 0x3333
    sw t1, 0(t0)
9:  j 9b
""" + PUTHEX


def _raw(elf, tmp_path, name):
    out = tmp_path / name
    subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(out)], check=True)
    return out


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
@pytest.mark.parametrize("bios_kind", ["elf", "raw"])
def test_bios_and_raw_kernel_see_what_qemu_gives(tmp_path, arch, bios_kind):
    bios = assemble(tmp_path, BIOS, arch, name="bios")
    if bios_kind == "raw":
        bios = _raw(bios, tmp_path, "bios.bin")
    kernel = _raw(assemble(tmp_path, KERNEL, arch, name="kernel"), tmp_path, "kernel.bin")
    qemu = subprocess.run([f"qemu-system-riscv{arch[2:]}", "-M", "virt", "-m", "128M", "-nographic", "-bios", str(bios),
                           "-kernel", str(kernel)], capture_output=True, timeout=30)
    ours = run_npuemu("run", "--deterministic", "--xlen", arch[2:], "--bios", bios, "--kernel", kernel, merge=False)
    lines = qemu.stdout.decode().split()
    assert lines[1] == lines[8] == "87e00000".zfill(int(arch[2:]) // 4)  # a1 = the FDT, for both stages
    kernel_at = 0x80200000 if arch == "rv64" else 0x80400000  # the first 2 MiB / 4 MiB boundary after the bios
    assert int(lines[5], 16) == kernel_at and int(lines[7], 16) == kernel_at + 2  # auipc after a 2-byte mv
    assert (ours.output, ours.status) == (qemu.stdout, qemu.returncode) == (ours.output, 3)
