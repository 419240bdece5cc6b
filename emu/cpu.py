"""The RISC-V hart's registers: Unicorn (npuemu's patched build) with names.

This module names registers and CSRs and reads/writes them whatever the guest's
privilege; trap and interrupt entry happen natively in the patched Unicorn
(emu/hart.py is the Python side of that).
"""

from __future__ import annotations

from dataclasses import dataclass

import unicorn.riscv_const as rc
from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV32, UC_MODE_RISCV64, Uc

ABI_NAMES = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
)

# CSR number -> name, for the CSRs Unicorn exposes through reg_read/reg_write.
CSR_NUMBERS: dict[str, int] = {
    "sstatus": 0x100, "sie": 0x104, "stvec": 0x105, "scounteren": 0x106, "sscratch": 0x140,
    "sepc": 0x141, "scause": 0x142, "stval": 0x143, "sip": 0x144, "satp": 0x180,
    "mstatus": 0x300, "misa": 0x301, "medeleg": 0x302, "mideleg": 0x303, "mie": 0x304,
    "mtvec": 0x305, "mcounteren": 0x306, "mscratch": 0x340, "mepc": 0x341, "mcause": 0x342,
    "mtval": 0x343, "mip": 0x344, "mvendorid": 0xF11, "marchid": 0xF12, "mimpid": 0xF13,
    "mhartid": 0xF14, "cycle": 0xC00, "time": 0xC01, "instret": 0xC02, "mcycle": 0xB00, "minstret": 0xB02,
}
MACHINE_CSRS = ("mstatus", "misa", "medeleg", "mideleg", "mie", "mtvec", "mscratch", "mepc",
                "mcause", "mtval", "mip", "mhartid")

PRIV_U, PRIV_S, PRIV_M = 0, 1, 3
PRIV_NAMES = {PRIV_U: "U", PRIV_S: "S", PRIV_M: "M"}

MSTATUS_SPP = 1 << 8
MSTATUS_MPP_SHIFT = 11

# Exception causes
CAUSE_FETCH_ACCESS = 1
CAUSE_ILLEGAL = 2
CAUSE_BREAKPOINT = 3
CAUSE_LOAD_ACCESS = 5
CAUSE_STORE_ACCESS = 7
# Interrupt causes (mcause with the top bit set)
IRQ_MSI, IRQ_MTI, IRQ_MEI = 3, 7, 11
MIP_MSIP, MIP_MTIP, MIP_MEIP = 1 << IRQ_MSI, 1 << IRQ_MTI, 1 << IRQ_MEI
MIP_SEIP = 1 << 9

EXCEPTION_NAMES = {
    0: "instruction address misaligned", 1: "instruction access fault", 2: "illegal instruction",
    3: "breakpoint", 4: "load address misaligned", 5: "load access fault",
    6: "store/AMO address misaligned", 7: "store/AMO access fault", 8: "ecall from U-mode",
    9: "ecall from S-mode", 11: "ecall from M-mode", 12: "instruction page fault",
    13: "load page fault", 15: "store/AMO page fault",
}
INTERRUPT_NAMES = {1: "supervisor software interrupt", 3: "machine software interrupt",
                   5: "supervisor timer interrupt", 7: "machine timer interrupt",
                   9: "supervisor external interrupt", 11: "machine external interrupt"}


def _reg_ids() -> dict[str, int]:
    ids = {f"x{i}": getattr(rc, f"UC_RISCV_REG_X{i}") for i in range(32)}
    ids.update({name: getattr(rc, f"UC_RISCV_REG_X{i}") for i, name in enumerate(ABI_NAMES)})
    ids["fp"] = rc.UC_RISCV_REG_X8
    ids["pc"] = rc.UC_RISCV_REG_PC
    ids["priv"] = rc.UC_RISCV_REG_PRIV
    for name in CSR_NUMBERS:
        ids[name] = getattr(rc, f"UC_RISCV_REG_{name.upper()}")
    return ids


REG_IDS = _reg_ids()
CSR_IDS = {num: REG_IDS[name] for name, num in CSR_NUMBERS.items()}


@dataclass(frozen=True)
class TrapInfo:
    """The last trap the hart took, for `info trap` and failure messages."""

    cause: int
    interrupt: bool
    epc: int
    tval: int
    from_priv: int
    to_priv: int

    def describe(self) -> str:
        names = INTERRUPT_NAMES if self.interrupt else EXCEPTION_NAMES
        kind = "interrupt" if self.interrupt else "exception"
        return (f"{kind} {self.cause} ({names.get(self.cause, 'unknown')}) at epc={self.epc:#x} "
                f"tval={self.tval:#x}, {PRIV_NAMES.get(self.from_priv, '?')}->{PRIV_NAMES.get(self.to_priv, '?')}")


class Cpu:
    """One RISC-V hart on Unicorn, with named registers; ``last_trap`` is kept by emu/hart.py."""

    def __init__(self, xlen: int) -> None:
        if xlen not in (32, 64):
            raise ValueError(f"xlen must be 32 or 64, not {xlen}")
        self.xlen = xlen
        self.mask = (1 << xlen) - 1
        self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64 if xlen == 64 else UC_MODE_RISCV32)
        self.last_trap: TrapInfo | None = None

    # -- registers ---------------------------------------------------------------
    @staticmethod
    def register_names() -> list[str]:
        return list(ABI_NAMES) + ["pc", "priv"] + list(CSR_NUMBERS)

    def read(self, name: str) -> int:
        """A register by name (x5, t0, pc, priv, mstatus...); KeyError for unknown names."""
        key = name.lower()
        if key in CSR_NUMBERS:
            return self._csr_op(REG_IDS[key])
        return self.uc.reg_read(REG_IDS[key]) & self.mask

    def write(self, name: str, value: int) -> None:
        key = name.lower()
        if key in ("x0", "zero"):
            return
        if key in CSR_NUMBERS:
            self._csr_op(REG_IDS[key], value)
            return
        if key == "priv":
            self.priv = value
            return
        self.uc.reg_write(REG_IDS[key], value & self.mask)

    def _csr_op(self, reg: int, value: int | None = None) -> int:
        """Unicorn checks the *guest's* privilege on CSR reg_read/reg_write (U-mode reads 0 and
        writes are dropped), so access CSRs as M-mode and put the privilege back."""
        priv = self.uc.reg_read(rc.UC_RISCV_REG_PRIV)
        if priv != PRIV_M:
            self.uc.reg_write(rc.UC_RISCV_REG_PRIV, PRIV_M)
        try:
            if value is None:
                return self.uc.reg_read(reg) & self.mask
            self.uc.reg_write(reg, value & self.mask)
            return value
        finally:
            if priv != PRIV_M:
                self.uc.reg_write(rc.UC_RISCV_REG_PRIV, priv)

    def x(self, i: int) -> int:
        return 0 if i == 0 else self.uc.reg_read(REG_IDS[f"x{i}"]) & self.mask

    def set_x(self, i: int, value: int) -> None:
        if i:
            self.uc.reg_write(REG_IDS[f"x{i}"], value & self.mask)

    @property
    def pc(self) -> int:
        return self.uc.reg_read(rc.UC_RISCV_REG_PC) & self.mask

    @pc.setter
    def pc(self, value: int) -> None:
        self.uc.reg_write(rc.UC_RISCV_REG_PC, value & self.mask)

    @property
    def priv(self) -> int:
        return self.uc.reg_read(rc.UC_RISCV_REG_PRIV)

    @priv.setter
    def priv(self, value: int) -> None:
        if value not in PRIV_NAMES:
            raise ValueError(f"privilege must be 0 (U), 1 (S) or 3 (M), not {value}")
        self.uc.reg_write(rc.UC_RISCV_REG_PRIV, value)

    def csr(self, num: int) -> int | None:
        reg = CSR_IDS.get(num)
        return None if reg is None else self._csr_op(reg)

    def set_csr(self, num: int, value: int) -> bool:
        reg = CSR_IDS.get(num)
        if reg is None:
            return False
        self._csr_op(reg, value)
        return True
