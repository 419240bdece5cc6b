"""PLIC as QEMU's ``sifive_plic`` on virt: 96 sources, contexts 0 (hart 0 M) and 1 (hart 0 S).

Level semantics as QEMU 7.2: a source's pending bit follows its wire; claim
clears pending and marks the source claimed (not presented again) until the
matching complete, after which a still-high wire is pending again.  One output
line per context (MEIP for context 0, SEIP for context 1) is re-evaluated after
every change, so the hart sees a level and never asks the PLIC.
"""

from __future__ import annotations

from emu.devices.base import IrqLine, MmioDevice
from emu.devices.regs import plic_registers

NUM_SOURCES = 96
NUM_CONTEXTS = 2
PENDING = 0x1000
ENABLE = 0x2000
ENABLE_STRIDE = 0x80
CONTEXT = 0x200000
CONTEXT_STRIDE = 0x1000


class Plic(MmioDevice):
    name = "plic"
    size = 0x400000
    registers = plic_registers(NUM_SOURCES, NUM_CONTEXTS)
    state_fields = ("priority", "level", "pending", "claimed", "enable", "threshold")

    def __init__(self, context_lines: list[IrqLine] | None = None) -> None:
        self.context_lines = context_lines or [IrqLine(lambda level: None) for _ in range(NUM_CONTEXTS)]
        self.priority = [0] * NUM_SOURCES
        self.level = [False] * NUM_SOURCES
        self.pending = [False] * NUM_SOURCES
        self.claimed = [False] * NUM_SOURCES
        self.enable = [[False] * NUM_SOURCES for _ in range(NUM_CONTEXTS)]
        self.threshold = [0] * NUM_CONTEXTS
        self.capture_power_on()

    def line(self, source: int) -> IrqLine:
        """The wire a device drives into ``source``."""
        return IrqLine(lambda level: self.set_level(source, level))

    def set_level(self, source: int, level: bool) -> None:
        if 0 < source < NUM_SOURCES:
            self.level[source] = level
            self.pending[source] = level and not self.claimed[source]
            self._drive()

    def _drive(self) -> None:
        for ctx, line in enumerate(self.context_lines):
            line.set(self._best(ctx) != 0)

    def post_load(self) -> None:
        self._drive()

    def _best(self, ctx: int) -> int:
        if not any(self.pending):
            return 0
        best, best_prio = 0, self.threshold[ctx]
        enabled = self.enable[ctx]
        for src, pending in enumerate(self.pending):
            if pending and enabled[src] and self.priority[src] > best_prio:
                best, best_prio = src, self.priority[src]
        return best

    def interrupt_pending(self, ctx: int) -> bool:
        """MEIP (context 0) or SEIP (context 1)."""
        return self._best(ctx) != 0

    def read(self, offset: int, width: int) -> int:
        if offset < PENDING:
            src = offset // 4
            return self.priority[src] if src < NUM_SOURCES else 0
        if offset < ENABLE:
            word = (offset - PENDING) // 4
            return self._bits(self.pending, word)
        if offset < CONTEXT:
            ctx, word = divmod(offset - ENABLE, ENABLE_STRIDE)
            return self._bits(self.enable[ctx], word // 4) if ctx < NUM_CONTEXTS else 0
        ctx, reg = divmod(offset - CONTEXT, CONTEXT_STRIDE)
        if ctx >= NUM_CONTEXTS:
            return 0
        if reg == 0:
            return self.threshold[ctx]
        if reg == 4:
            src = self._best(ctx)
            if src:
                self.pending[src] = False
                self.claimed[src] = True
                self._drive()
            return src
        return 0

    def write(self, offset: int, width: int, value: int) -> None:
        """Register write; the context lines change (and the hart hears) only when the write made
        an interrupt deliverable or took it away, so firmware rewriting PLIC registers stays fast."""
        self._write(offset, value & 0xFFFFFFFF)
        self._drive()

    def _write(self, offset: int, value: int) -> None:
        if offset < PENDING:
            src = offset // 4
            if 0 < src < NUM_SOURCES:
                self.priority[src] = value & 7
        elif offset < ENABLE:
            return  # pending bits are read-only
        elif offset < CONTEXT:
            ctx, word = divmod(offset - ENABLE, ENABLE_STRIDE)
            if ctx < NUM_CONTEXTS and word // 4 < NUM_SOURCES // 32:
                base = (word // 4) * 32
                for bit in range(32):
                    if base + bit:
                        self.enable[ctx][base + bit] = bool(value >> bit & 1)
        else:
            ctx, reg = divmod(offset - CONTEXT, CONTEXT_STRIDE)
            if ctx >= NUM_CONTEXTS:
                return
            if reg == 0:
                self.threshold[ctx] = value & 7
            elif reg == 4 and 0 < value < NUM_SOURCES and self.claimed[value]:
                self.claimed[value] = False
                self.pending[value] = self.level[value]

    @staticmethod
    def _bits(flags: list[bool], word: int) -> int:
        base = word * 32
        if base >= NUM_SOURCES:
            return 0
        return sum(1 << i for i in range(32) if base + i < NUM_SOURCES and flags[base + i])
