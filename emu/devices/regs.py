"""Registers as data for the UART, the CLINT and the PLIC (as Renode declares them).

Each register is an offset, a name, a width, a reset value and, when reading it
changes the device (pops a FIFO, claims an interrupt, clears a flag), the reason
why.  Two users: MMIO traces name the register an access hits, and the debugger
(``Machine.peek``) reads the registers whose reads are side-effect free and
refuses the others with a message naming the register.  The NPU's map is built
from emu/npu_device/regs.py, its single source of truth.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class Register:
    offset: int
    name: str
    width: int          # bytes
    reset: int = 0
    read_effect: str = ""  # why a read is not side-effect free ("" = safe to read any time)


class RegisterMap:
    """A device's registers sorted by offset; ``inspect_with`` names the command that shows
    the registers a debugger read must not touch."""

    def __init__(self, registers: list[Register], inspect_with: str) -> None:
        self.registers = sorted(registers, key=lambda r: r.offset)
        self._offsets = [r.offset for r in self.registers]
        self.inspect_with = inspect_with
        for a, b in zip(self.registers, self.registers[1:], strict=False):
            if a.offset + a.width > b.offset:
                raise ValueError(f"registers {a.name} and {b.name} overlap")

    def at(self, offset: int) -> Register | None:
        """The register covering byte ``offset`` (None in a reserved gap)."""
        i = bisect.bisect_right(self._offsets, offset) - 1
        if i >= 0:
            reg = self.registers[i]
            if offset < reg.offset + reg.width:
                return reg
        return None

    def describe(self, offset: int) -> str:
        """``LSR`` or ``mtimecmp+4`` or ``+0x123`` (reserved): for MMIO traces."""
        reg = self.at(offset)
        if reg is None:
            return f"+{offset:#x}"
        return reg.name if offset == reg.offset else f"{reg.name}+{offset - reg.offset}"

    def covering(self, start: int, end: int) -> list[Register]:
        i = max(0, bisect.bisect_right(self._offsets, start) - 1)
        out = []
        for reg in self.registers[i:]:
            if reg.offset >= end:
                break
            if reg.offset + reg.width > start:
                out.append(reg)
        return out


def uart_registers() -> RegisterMap:
    """ns16550a, byte registers; offsets 0 and 1 are the divisor latch when LCR.DLAB is set."""
    return RegisterMap([
        Register(0, "RBR/THR/DLL", 1, 0x0C, "pops the receive FIFO"),
        Register(1, "IER/DLM", 1, 0),
        Register(2, "IIR/FCR", 1, 0x01, "acknowledges a THR-empty interrupt"),
        Register(3, "LCR", 1, 0),
        Register(4, "MCR", 1, 0),
        Register(5, "LSR", 1, 0x60, "clears the overrun flag"),
        Register(6, "MSR", 1, 0xB0),
        Register(7, "SCR", 1, 0),
    ], inspect_with="info uart")


def clint_registers(harts: int = 1) -> RegisterMap:
    regs = [Register(4 * h, f"msip{h}", 4) for h in range(harts)]
    regs += [Register(0x4000 + 8 * h, f"mtimecmp{h}", 8, (1 << 64) - 1) for h in range(harts)]
    regs.append(Register(0xBFF8, "mtime", 8))
    return RegisterMap(regs, inspect_with="info time")


def plic_registers(sources: int, contexts: int) -> RegisterMap:
    regs = [Register(4 * s, f"priority{s}", 4) for s in range(1, sources)]
    words = (sources + 31) // 32
    regs += [Register(0x1000 + 4 * w, f"pending{w}", 4) for w in range(words)]
    for ctx in range(contexts):
        regs += [Register(0x2000 + 0x80 * ctx + 4 * w, f"enable{ctx}.{w}", 4) for w in range(words)]
        regs.append(Register(0x20_0000 + 0x1000 * ctx, f"threshold{ctx}", 4))
        regs.append(Register(0x20_0004 + 0x1000 * ctx, f"claim{ctx}", 4, 0,
                             "claims the highest-priority pending interrupt"))
    return RegisterMap(regs, inspect_with="info time")


def npu_registers() -> RegisterMap:
    """From the NPU's own declarations: constants and plain read/write registers are safe; the
    others make the device retire the commands completed so far (state the guest has not seen)."""
    from emu.npu_device import regs as npu

    out = []
    for r in npu.REGISTERS:
        effect = "" if r.offset < npu.REG["CTRL"] or r.access == "rw" else "retires completed NPU commands"
        out.append(Register(r.offset, r.name, 4, 0, effect))
    return RegisterMap(out, inspect_with="npu status")
