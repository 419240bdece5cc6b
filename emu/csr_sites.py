"""Finding the CSR instructions Unicorn gets wrong, so the machine can hook exactly those.

Unicorn 2.1.4 masks guest-visible ``mip`` (MTIP/MSIP/MEIP are ours), returns host
clock ticks for ``cycle``/``instret``, raises illegal-instruction for ``time``, and
cannot tell us when firmware enables interrupts.  A UC_HOOK_CODE on every
instruction would cost most of the CPU's speed; a hook on just the addresses
holding such CSR instructions costs nothing elsewhere.  Scanning every 2-byte
offset is safe: a hook only fires when an instruction *starts* at its address,
and then the bytes there are that instruction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CSR_MSTATUS, CSR_MIE, CSR_MIP = 0x300, 0x304, 0x344
CSR_SSTATUS, CSR_SIE, CSR_MIDELEG = 0x100, 0x104, 0x303
INSN_COUNTERS = {0xC00, 0xC02, 0xC80, 0xC82, 0xB00, 0xB02, 0xB80, 0xB82}  # cycle, instret (+h, m*)
READ_EMULATED = {CSR_MIP, 0xC01, 0xC81} | INSN_COUNTERS
WRITE_WATCHED = {CSR_MSTATUS, CSR_MIE, CSR_SSTATUS, CSR_SIE, CSR_MIDELEG}  # can enable an interrupt
HOOKED_CSRS = READ_EMULATED | WRITE_WATCHED
MRET, SRET = 0x30200073, 0x10200073
COUNTER_CSRS = {"cycle": 0xC00, "time": 0xC01, "mtime": 0xC01, "instret": 0xC02, "mcycle": 0xB00,
                "minstret": 0xB02}


@dataclass(frozen=True)
class CsrInsn:
    """A decoded Zicsr instruction (csrrw/s/c and their immediate forms), or mret/sret (funct3 0:
    returning from a trap can enable an interrupt that is already pending)."""

    csr: int
    funct3: int
    rd: int
    rs1: int  # register number, or the 5-bit immediate for the *i forms

    @property
    def is_xret(self) -> bool:
        return self.funct3 == 0

    @property
    def immediate(self) -> bool:
        return self.funct3 >= 5

    @property
    def writes(self) -> bool:
        """csrrw always writes; csrrs/csrrc only with a non-zero rs1/uimm."""
        return self.funct3 in (1, 5) or self.rs1 != 0


def decode_csr(insn: int) -> CsrInsn | None:
    if insn in (MRET, SRET):
        return CsrInsn(insn >> 20, 0, 0, 0)
    if insn & 0x7F != 0x73:
        return None
    funct3 = (insn >> 12) & 7
    if funct3 in (0, 4):
        return None
    return CsrInsn(insn >> 20, funct3, (insn >> 7) & 31, (insn >> 15) & 31)


def scan(code: bytes, base: int) -> dict[int, CsrInsn]:
    """Addresses in ``code`` (loaded at ``base``) holding a CSR instruction on a hooked CSR."""
    if len(code) < 4:
        return {}
    data = np.frombuffer(code, dtype=np.uint8)
    n = len(data) - 3
    words = (data[:n].astype(np.uint32) | data[1 : n + 1].astype(np.uint32) << 8
             | data[2 : n + 2].astype(np.uint32) << 16 | data[3 : n + 3].astype(np.uint32) << 24)
    offsets = np.arange(0, n, 2)
    words = words[offsets]
    funct3 = (words >> 12) & 7
    csr_insns = (((words & 0x7F) == 0x73) & (funct3 != 0) & (funct3 != 4)
                 & np.isin(words >> 20, np.array(sorted(HOOKED_CSRS), dtype=np.uint32)))
    candidates = offsets[csr_insns | (words == MRET) | (words == SRET)]
    sites = {}
    for off in candidates.tolist():
        insn = decode_csr(int.from_bytes(code[off : off + 4], "little"))
        if insn is not None:
            sites[base + off] = insn
    return sites


def new_value(insn: CsrInsn, old: int, operand: int) -> int:
    """The CSR value after the instruction, given the rs1 value (or uimm)."""
    kind = insn.funct3 & 3
    if kind == 1:
        return operand
    if kind == 2:
        return old | operand
    return old & ~operand
