"""The baseline npuemu is measured against: the least a Unicorn + pyelftools script needs to boot
a virt firmware ELF (RAM over a numpy buffer, a write-only UART, the finisher), no machinery.

Usage: python bench/bare_unicorn.py FIRMWARE.elf  (prints the console, exits with the firmware's status)
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV32, UC_MODE_RISCV64, UC_PROT_ALL, Uc

RAM_BASE, RAM_SIZE = 0x8000_0000, 128 << 20


def boot(path: str, console=lambda b: os.write(1, b)) -> tuple[int, float]:
    """Run ``path`` to its finisher write; returns (exit status, seconds spent in emu_start)."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        mode = UC_MODE_RISCV64 if elf.elfclass == 64 else UC_MODE_RISCV32
        uc = Uc(UC_ARCH_RISCV, mode)
        ram = np.zeros(RAM_SIZE, dtype=np.uint8)
        uc.mem_map_ptr(RAM_BASE, RAM_SIZE, UC_PROT_ALL, ram.ctypes.data)
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD":
                data = seg.data()
                off = seg["p_paddr"] - RAM_BASE
                ram[off : off + len(data)] = np.frombuffer(data, dtype=np.uint8)
        entry = elf["e_entry"]
    status = [None]

    def uart_write(uc, offset, size, value, _):
        if offset == 0:
            console(bytes((value & 0xFF,)))

    def finisher_write(uc, offset, size, value, _):
        status[0] = 0 if value & 0xFFFF == 0x5555 else (value >> 16) & 0xFFFF
        uc.emu_stop()

    uc.mmio_map(0x1000_0000, 0x1000, lambda uc, off, size, _: 0x60 if off == 5 else 0, None, uart_write, None)
    uc.mmio_map(0x0010_0000, 0x1000, lambda *a: 0, None, finisher_write, None)
    uc.mem_map(0x0200_0000, 0x1_0000)   # CLINT and PLIC as plain memory: the crt0 touches them
    uc.mem_map(0x0C00_0000, 0x40_0000)
    start = time.perf_counter()
    uc.emu_start(entry, 1)
    return status[0] if status[0] is not None else 1, time.perf_counter() - start


if __name__ == "__main__":
    code, _ = boot(sys.argv[1])
    sys.exit(code)
