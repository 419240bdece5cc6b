"""What gdb is told about the hart: register numbers, the target description XML, byte order.

gdb's RISC-V port numbers registers x0..x31 = 0..31, pc = 32, f0..f31 =
33..64, CSR n = 65 + n and the virtual ``priv`` register = 4161
(gdb/riscv-tdep.h); a stub that describes its registers in an XML target
description with those ``regnum`` values gets every CSR by its usual name
(``p $mstatus``) without gdb guessing.  We have no FPU, so 33..64 are absent.
"""

from __future__ import annotations

from dataclasses import dataclass

from emu.cpu import CSR_NUMBERS
from emu.debugger.gdb_packets import hex_to_bytes

FIRST_CSR_REGNUM = 65
PRIV_REGNUM = 4161
PC_REGNUM = 32
# Registers in the 'g' packet: the cpu feature, in register-number order (as QEMU does;
# gdb fetches the CSRs one at a time with 'p' when it needs them).
G_PACKET_REGS = 33

# gdb's own 64bit-cpu.xml types: pointers get pointer types so `p $sp` prints an address.
_CPU_TYPES = {1: "code_ptr", 2: "data_ptr", 3: "data_ptr", 4: "data_ptr", 8: "data_ptr"}


@dataclass(frozen=True)
class GdbRegister:
    """One register as gdb numbers it, and the Machine name we read it by."""

    number: int
    name: str
    feature: str
    type: str = "int"


def registers() -> list[GdbRegister]:
    """Every register we describe, in register-number order."""
    regs = [GdbRegister(i, f"x{i}", "cpu", _CPU_TYPES.get(i, "int")) for i in range(32)]
    regs.append(GdbRegister(PC_REGNUM, "pc", "cpu", "code_ptr"))
    regs += [GdbRegister(FIRST_CSR_REGNUM + num, name, "csr")
             for name, num in sorted(CSR_NUMBERS.items(), key=lambda item: item[1])]
    regs.append(GdbRegister(PRIV_REGNUM, "priv", "virtual"))
    return regs


REGISTERS = registers()
REGISTERS_BY_NUMBER = {reg.number: reg for reg in REGISTERS}


def target_xml(xlen: int) -> str:
    """The target description gdb reads through ``qXfer:features:read:target.xml``."""
    lines = [
        '<?xml version="1.0"?>',
        '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
        '<target version="1.0">',
        f"  <architecture>riscv:rv{xlen}</architecture>",
    ]
    for feature in ("cpu", "csr", "virtual"):
        lines.append(f'  <feature name="org.gnu.gdb.riscv.{feature}">')
        for reg in REGISTERS:
            if reg.feature != feature:
                continue
            # CSRs are not saved around inferior calls: many have side effects or are read-only.
            extra = ' save-restore="no" group="csr"' if feature == "csr" else ""
            lines.append(f'    <reg name="{reg.name}" bitsize="{xlen}" regnum="{reg.number}" '
                         f'type="{reg.type}"{extra}/>')
        lines.append("  </feature>")
    lines.append("</target>")
    return "\n".join(lines) + "\n"


def encode_value(value: int, xlen: int) -> bytes:
    """A register value as gdb wants it: XLEN/8 bytes, little-endian, as lowercase hex."""
    return (value & ((1 << xlen) - 1)).to_bytes(xlen // 8, "little").hex().encode("ascii")


def decode_value(hex_text: bytes, xlen: int) -> int:
    """The inverse of :func:`encode_value`; ValueError unless exactly XLEN/8 hex bytes."""
    raw = hex_to_bytes(hex_text)
    if len(raw) != xlen // 8:
        raise ValueError(f"register value of {len(raw)} bytes, expected {xlen // 8}")
    return int.from_bytes(raw, "little")
