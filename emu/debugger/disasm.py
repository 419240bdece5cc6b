"""RISC-V disassembly with capstone, labelled the way GDB labels it.

Capstone prints jump and branch offsets relative to the instruction; a
firmware engineer wants the target and its symbol (``jal 0x80000040 <foo>``),
as objdump and GDB show, so those operands are rewritten here.  Bytes that do
not decode become ``.2byte``/``.4byte`` so a dump never stops at data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

# Mnemonics whose last operand is a pc-relative offset.
_PC_RELATIVE = {
    "jal", "beq", "bne", "blt", "bge", "bltu", "bgeu", "beqz", "bnez", "blez", "bgez", "bltz", "bgtz",
    "bgt", "ble", "bgtu", "bleu", "j", "c.j", "c.jal", "c.beqz", "c.bnez",
}

Describe = Callable[[int], str | None]


@dataclass(frozen=True)
class Insn:
    addr: int
    size: int
    mnemonic: str
    operands: str
    raw: bytes
    target: int | None = None  # absolute target of a jump or branch


class Disassembler:
    """Decodes RV32/RV64 with the C extension; one instance per machine (capstone handles are costly)."""

    def __init__(self, xlen: int) -> None:
        self.xlen = xlen

    @functools.cached_property
    def _cs(self):
        """The capstone handle, made on first use: importing capstone costs 20-40 ms that the
        debugger's first prompt need not wait for."""
        import capstone

        mode = capstone.CS_MODE_RISCV64 if self.xlen == 64 else capstone.CS_MODE_RISCV32
        return capstone.Cs(capstone.CS_ARCH_RISCV, mode | capstone.CS_MODE_RISCVC)

    def decode(self, code: bytes, addr: int, count: int | None = None) -> list[Insn]:
        """Up to ``count`` instructions (all of ``code`` when None) starting at ``addr``."""
        out: list[Insn] = []
        off = 0
        while off < len(code) and (count is None or len(out) < count):
            got = next(self._cs.disasm(code[off:off + 4], addr + off, 1), None)
            if got is None:
                size = 4 if code[off] & 3 == 3 and off + 4 <= len(code) else 2
                if off + size > len(code):
                    break
                word = int.from_bytes(code[off:off + size], "little")
                out.append(Insn(addr + off, size, f".{size}byte", f"{word:#x}", code[off:off + size]))
            else:
                out.append(_relocate(Insn(got.address, got.size, got.mnemonic, got.op_str,
                                          bytes(got.bytes))))
            off += out[-1].size
        return out


def _relocate(insn: Insn) -> Insn:
    """Turn a pc-relative last operand into the absolute target."""
    if insn.mnemonic not in _PC_RELATIVE:
        return insn
    parts = insn.operands.rsplit(", ", 1)
    try:
        offset = int(parts[-1], 0)
    except ValueError:
        return insn
    target = insn.addr + offset
    operands = f"{parts[0]}, {target:#x}" if len(parts) == 2 else f"{target:#x}"
    return Insn(insn.addr, insn.size, insn.mnemonic, operands, insn.raw, target)


def format_insn(insn: Insn, describe: Describe, label: str, current: bool) -> str:
    """One GDB-style line: ``=> 0x80000004 <main+4>:\\tsw\\tra,12(sp)``."""
    text = f"{insn.mnemonic}\t{insn.operands}".rstrip()
    if insn.target is not None:
        name = describe(insn.target)
        if name:
            text += f" <{name}>"
    marker = "=> " if current else "   "
    return f"{marker}{insn.addr:#x}{label}:\t{text}"


def is_call(insn: Insn) -> bool:
    """A call links into ra: ``jal ra``/``jal x``, ``jalr ra, ...``, ``c.jal``, ``c.jalr``."""
    m, ops = insn.mnemonic, insn.operands
    if m in ("c.jal", "c.jalr"):
        return True
    if m == "jal":
        return "," not in ops or ops.startswith("ra,")
    if m == "jalr":
        return ops.startswith("ra") or "," not in ops
    return False
