"""Just enough RISC-V decoding to find a load/store's effective address.

Needed in two places where Unicorn does not tell us: the address of a
misaligned access (mtval), and checking that the CPU stopped *on* the store
that a device asked to stop after (Unicorn re-executes it otherwise).
"""

from __future__ import annotations

from collections.abc import Callable


def insn_length(low_halfword: int) -> int:
    return 4 if low_halfword & 3 == 3 else 2


def _sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


def memory_target(insn: int, xreg: Callable[[int], int], xlen: int) -> tuple[int, bool] | None:
    """(address, is_store) of a load, store or AMO; None for other instructions."""
    mask = (1 << xlen) - 1
    if insn & 3 == 3:
        opcode = insn & 0x7F
        rs1 = (insn >> 15) & 31
        if opcode == 0x03:  # loads
            return (xreg(rs1) + _sext(insn >> 20, 12)) & mask, False
        if opcode == 0x23:  # stores
            imm = ((insn >> 25) << 5) | ((insn >> 7) & 31)
            return (xreg(rs1) + _sext(imm, 12)) & mask, True
        if opcode == 0x2F:  # AMOs (lr is a load)
            return xreg(rs1) & mask, (insn >> 27) != 0x02
        return None
    quadrant, funct3 = insn & 3, (insn >> 13) & 7
    if quadrant == 0 and funct3 in (2, 3, 6, 7):  # c.lw c.ld c.sw c.sd
        rs1 = 8 + ((insn >> 7) & 7)
        if funct3 in (2, 6):
            off = ((insn >> 6) & 1) << 2 | ((insn >> 10) & 7) << 3 | ((insn >> 5) & 1) << 6
        else:
            off = ((insn >> 10) & 7) << 3 | ((insn >> 5) & 3) << 6
        return (xreg(rs1) + off) & mask, funct3 >= 6
    if quadrant == 2 and funct3 in (2, 3):  # c.lwsp c.ldsp
        if funct3 == 2:
            off = ((insn >> 4) & 7) << 2 | ((insn >> 12) & 1) << 5 | ((insn >> 2) & 3) << 6
        else:
            off = ((insn >> 5) & 3) << 3 | ((insn >> 12) & 1) << 5 | ((insn >> 2) & 7) << 6
        return (xreg(2) + off) & mask, False
    if quadrant == 2 and funct3 in (6, 7):  # c.swsp c.sdsp
        if funct3 == 6:
            off = ((insn >> 9) & 0xF) << 2 | ((insn >> 7) & 3) << 6
        else:
            off = ((insn >> 10) & 7) << 3 | ((insn >> 7) & 7) << 6
        return (xreg(2) + off) & mask, True
    return None
