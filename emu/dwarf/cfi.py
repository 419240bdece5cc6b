"""Call frame information (``.debug_frame`` / ``.eh_frame``): one caller frame from a callee frame.

GCC describes every function's frame in CFI, at every optimisation level; the rows say where the
CFA is (a register plus an offset) and where each saved register sits relative to it.  The
caller's ``sp`` is the CFA and its ``pc`` the saved return address (column 1, ``ra``).  Code
without CFI (hand-written assembly) gets the fallback GDB uses for a frameless leaf: the return
address still in ``ra`` and the CFA at ``sp``, only for the innermost frame.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from emu.dwarf.location import LocationError, OptimizedOut, evaluate

RA, SP, FP = 1, 2, 8
MEPC = 4096 + 0x341  # GDB's DWARF number for the mepc CSR: the SDK trap entry's return column


@dataclass
class Regs:
    """A frame's registers by DWARF number (x0..x31), the pc and the CFA, plus where each was saved."""

    pc: int
    values: dict[int, int]
    cfa: int = 0
    saved_at: dict[int, int] = field(default_factory=dict)  # register -> address holding it (info frame)
    has_cfi: bool = False
    innermost: bool = False  # frame #0's registers (its pc is not a return address)
    exact_pc: bool = False   # interrupted by a trap (a signal frame's caller): pc is not a return address
    signal: bool = False     # this frame is a trap entry (returns through mepc, or CIE augmentation "S")


class CallFrameTable:
    """The decoded CFI rows of every FDE, looked up by pc."""

    def __init__(self, dwarf: Any, xlen: int) -> None:
        self.xlen = xlen
        self.structs = dwarf.structs
        self._fdes: list[tuple[int, int, Any]] = []
        sources = []
        try:
            if dwarf.has_CFI():
                sources.append(dwarf.CFI_entries())
            if dwarf.has_EH_CFI():
                sources.append(dwarf.EH_CFI_entries())
        except Exception:  # noqa: BLE001 - malformed CFI: unwind by the fallback only
            sources = []
        for entries in sources:
            try:
                for e in entries:
                    if type(e).__name__ == "FDE":
                        start = e.header["initial_location"]
                        self._fdes.append((start, start + e.header["address_range"], e))
            except Exception:  # noqa: BLE001
                continue
        self._fdes.sort(key=lambda f: f[0])
        self._starts = [f[0] for f in self._fdes]
        self._decoded: dict[int, list[dict]] = {}

    def row(self, pc: int) -> dict | None:
        """The CFI row in force at ``pc``, or None when no FDE covers it."""
        found = self.entry(pc)
        return found[0] if found is not None else None

    def entry(self, pc: int) -> tuple[dict, int, bool] | None:
        """``(row, return address column, signal frame)`` at ``pc``, or None without an FDE."""
        i = bisect.bisect_right(self._starts, pc) - 1
        if i < 0 or not self._fdes[i][0] <= pc < self._fdes[i][1]:
            return None
        start, _, fde = self._fdes[i]
        row = self._row_in(start, fde, pc)
        if row is None:
            return None
        cie = getattr(fde, "cie", None)
        header = cie.header if cie is not None else {}
        column = int(header.get("return_address_register", RA) or RA)
        augmentation = header.get("augmentation", b"") or b""
        # A trap entry: marked "S", or returning through mepc (the SDK's crt0.S).
        return row, column, b"S" in bytes(augmentation) or column == MEPC

    def _row_in(self, start: int, fde: Any, pc: int) -> dict | None:
        if start not in self._decoded:
            try:
                self._decoded[start] = list(fde.get_decoded().table)
            except Exception:  # noqa: BLE001 - a malformed FDE is "no CFI here"
                self._decoded[start] = []
        rows = [r for r in self._decoded[start] if r["pc"] <= pc]
        return rows[-1] if rows else None

    def covers(self, pc: int) -> bool:
        return self.row(pc) is not None


def caller_of(frame: Regs, table: CallFrameTable, read, lookup_pc: int, innermost: bool) -> Regs | None:
    """The caller's registers, or None when the chain ends (no CFI and not the innermost frame).

    ``lookup_pc`` is ``pc - 1`` for outer frames (a return address can be past its call's FDE),
    ``read(addr, size)`` reads target memory and raises on failure.
    """
    word = table.xlen // 8
    found = table.entry(lookup_pc)
    if found is None:
        if not innermost or RA not in frame.values:
            return None
        regs = dict(frame.values)
        return Regs(frame.values[RA], regs, frame.values.get(SP, 0))
    row, column, signal = found
    frame.signal = signal
    rule = row["cfa"]
    if rule.expr is not None:
        return None
    if rule.reg not in frame.values:
        return None
    cfa = (frame.values[rule.reg] + rule.offset) & ((1 << table.xlen) - 1)
    frame.cfa, frame.has_cfi = cfa, True
    regs = dict(frame.values)
    saved: dict[int, int] = {}
    for reg, r in row.items():
        if not isinstance(reg, int):
            continue
        kind = r.type
        if kind == "OFFSET":
            addr = cfa + r.arg
            regs[reg] = int.from_bytes(read(addr, word), "little")
            saved[reg] = addr
        elif kind == "VAL_OFFSET":
            regs[reg] = cfa + r.arg
        elif kind == "REGISTER":
            if r.arg in frame.values:
                regs[reg] = frame.values[r.arg]
        elif kind == "UNDEFINED":
            regs.pop(reg, None)
        elif kind in ("EXPRESSION", "VAL_EXPRESSION"):
            try:
                loc = evaluate(r.arg, table.structs, _CfaFrame(frame, cfa, read, table.xlen))
            except (LocationError, OptimizedOut):
                regs.pop(reg, None)
                continue
            if kind == "EXPRESSION" and loc.kind == "memory":
                regs[reg] = int.from_bytes(read(loc.addr, word), "little")
                saved[reg] = loc.addr
            elif loc.kind == "memory":
                regs[reg] = loc.addr
    frame.saved_at = saved
    if column not in regs:
        return None
    regs[SP] = cfa
    caller = Regs(regs[column], regs, 0)
    caller.exact_pc = signal  # a trap's mepc is the interrupted instruction itself
    return caller


class _CfaFrame:
    def __init__(self, frame: Regs, cfa: int, read, xlen: int) -> None:
        self._frame, self._cfa, self.read, self.xlen = frame, cfa, read, xlen

    def reg(self, number: int) -> int:
        if number not in self._frame.values:
            raise LocationError(f"register {number} unknown")
        return self._frame.values[number]

    def cfa(self) -> int:
        return self._cfa

    def frame_base(self) -> int:
        raise LocationError("no frame base in CFI")
