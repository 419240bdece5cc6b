"""Call-stack unwinding for ``backtrace``, ``finish``, ``up``/``down`` and ``info frame``.

DWARF call frame information first (``.debug_frame``/``.eh_frame`` through emu.dwarf.cfi): it
is exact at every instruction and optimisation level.  Each physical frame then expands into the
inlined calls that contain its pc (``DW_TAG_inlined_subroutine``), innermost first, as GDB shows
them.  An ELF without CFI falls back to reading the prologue and the frame pointer: the firmware
is built with ``-fno-omit-frame-pointer``, so every function sets ``s0`` to its CFA, and the
prologue (``addi sp,sp,-N`` / ``s[wd] ra|s0,OFF(sp)`` / ``addi s0,sp,N``, compressed or not)
tells where ``ra`` and the caller's ``s0`` were saved.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.debugger.disasm import Insn
from emu.debugger.errors import DebuggerError
from emu.dwarf.cfi import MEPC, Regs, caller_of
from emu.dwarf.info import Scope, name_of

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

_STORE = re.compile(r"^(ra|s0), (-?(?:0x)?[0-9a-f]+)\(sp\)$")
_MAX_PROLOGUE = 32
MAX_FRAMES = 64


@dataclass
class Frame:
    level: int
    pc: int
    cfa: int  # the caller's sp: identifies the frame (finish, next over recursion)
    regs: Regs | None = None        # the physical frame's registers (DWARF numbers), None: no CFI
    scope: Scope | None = None      # the function or inlined call this frame shows
    inlined: bool = False           # an inlined call: its caller frame has the same pc
    caller_pc: int | None = None    # the saved pc (``info frame``)

    @property
    def lookup_pc(self) -> int:
        """The pc that finds this frame's block and locations: ``pc - 1`` in callers, as GDB does."""
        if self.regs is not None:
            return self.pc if self.regs.innermost or self.regs.exact_pc else self.pc - 1
        return self.pc if self.level == 0 else self.pc - 1


@dataclass
class Prologue:
    frame_size: int = 0
    sp_adjusted: bool = False
    ra_offset: int | None = None  # from the adjusted sp
    s0_offset: int | None = None
    fp_offset: int | None = None  # s0 = adjusted sp + fp_offset, once set


def _imm(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def analyze(insns: list[Insn], pc: int) -> Prologue:
    """What the prologue had done before ``pc``."""
    p = Prologue()
    for insn in insns:
        if insn.addr >= pc:
            break
        m, ops = insn.mnemonic, insn.operands
        parts = ops.split(", ")
        if m in ("addi", "c.addi", "c.addi16sp") and parts[0] == "sp" and not p.sp_adjusted:
            imm = _imm(parts[-1])
            if imm is not None and imm < 0:
                p.frame_size, p.sp_adjusted = -imm, True
        elif m in ("sw", "sd", "c.swsp", "c.sdsp"):
            hit = _STORE.match(ops)
            if hit and p.sp_adjusted:
                off = int(hit.group(2), 0)
                if hit.group(1) == "ra":
                    p.ra_offset = off
                else:
                    p.s0_offset = off
        elif m in ("addi", "c.addi4spn") and parts[:2] == ["s0", "sp"]:
            p.fp_offset = _imm(parts[-1])
    return p


def prologue_end(insns: list[Insn]) -> int | None:
    """The address after the leading run of prologue instructions; None when the function has none."""
    end = None
    for insn in insns:
        parts = insn.operands.split(", ")
        adjusts_sp = insn.mnemonic in ("addi", "c.addi", "c.addi16sp") and parts[0] == "sp"
        saves = insn.mnemonic in ("sw", "sd", "c.swsp", "c.sdsp") and insn.operands.endswith("(sp)")
        sets_fp = insn.mnemonic in ("addi", "c.addi4spn") and parts[:2] == ["s0", "sp"]
        if not (adjusts_sp or saves or sets_fp):
            break
        end = insn.addr + insn.size
    return end


def unwind(shell: CommandShell, limit: int = MAX_FRAMES) -> list[Frame]:
    """Frames from the innermost outwards, inlined calls included; stops after ``main``
    (GDB's ``backtrace past-main off``) or when the chain breaks."""
    info = shell.debug_info
    if info.cfi is None or not info.cfi.covers(shell.pc) and not info.function_at(shell.pc):
        return _unwind_by_prologue(shell, limit)
    values = {n: shell.get_reg(f"x{n}") for n in range(1, 32)}
    values[0] = 0
    with contextlib.suppress(DebuggerError):
        values[MEPC] = shell.get_reg("mepc")  # the trap entry's return column (crt0.S CFI)
    regs = Regs(shell.pc, values)
    regs.innermost = True
    out: list[Frame] = []
    physical = 0
    while len(out) < limit:
        pc = regs.pc
        lookup = pc if physical == 0 or regs.exact_pc else pc - 1
        try:
            caller = caller_of(regs, info.cfi, shell.read_mem, lookup, innermost=physical == 0)
        except DebuggerError:
            caller = None
        cfa = regs.cfa if regs.has_cfi else regs.values.get(2, 0)
        chain = info.inline_chain(lookup)
        if physical == 0:
            chain = _skip_inline_entries(chain, pc, bool(shell.breakpoints.at(pc)))
        func = shell.function_of(lookup)
        for depth, scope in enumerate(reversed(chain)):
            if len(out) >= limit:
                break
            out.append(Frame(len(out), pc, cfa, regs, scope, inlined=depth < len(chain) - 1,
                             caller_pc=caller.pc if caller is not None else None))
        if not chain:
            out.append(Frame(len(out), pc, cfa, regs, None, caller_pc=caller.pc if caller is not None else None))
        name = name_of(chain[0].die) if chain else func
        if caller is None or name == "main" or caller.pc == 0:
            break
        sp, caller_sp = regs.values.get(2, 0), caller.values.get(2, 0)
        if caller_sp < sp or (caller_sp == sp and caller.pc == pc):
            break  # a corrupt stack or a loop: stop rather than repeat frames
        regs = caller
        physical += 1
    return out[:limit]


def _skip_inline_entries(chain: list[Scope], pc: int, user_breakpoint: bool) -> list[Scope]:
    """GDB hides an inlined call whose first instruction is the pc (the stop shows the call site;
    ``step`` then enters it as it enters a call), except when a user breakpoint stopped there."""
    while len(chain) > 1 and chain[-1].entry_pc == pc and not user_breakpoint:
        chain = chain[:-1]
    return chain


def _is_return(insn: Insn) -> bool:
    return (insn.mnemonic == "ret" or (insn.mnemonic == "c.jr" and insn.operands == "ra"))


def _unwind_by_prologue(shell: CommandShell, limit: int) -> list[Frame]:
    """Frames from the prologues and ``s0``, for ELFs without CFI; stops after ``main``."""
    word = shell.xlen // 8
    pc, sp, s0 = shell.pc, shell.get_reg("sp"), shell.get_reg("s0")
    ra: int | None = shell.get_reg("ra")
    frames: list[Frame] = []
    while len(frames) < limit:
        hit = shell.elf.symbol_at(pc if not frames else pc - 1)
        if hit is None or hit[0].kind != "func":
            frames.append(Frame(len(frames), pc, sp))
            break
        start = hit[0].addr
        insns = shell.disassembler.decode(_read_code(shell, start, min(pc - start, _MAX_PROLOGUE * 4)), start)
        p = analyze(insns, pc)
        at_pc = shell.disassembler.decode(_read_code(shell, pc, 4), pc, 1) if not frames else []
        if (at_pc and _is_return(at_pc[0])) or not p.sp_adjusted:
            cfa, ret, caller_s0 = sp, ra, s0
        else:
            base = s0 - p.fp_offset if p.fp_offset is not None else sp
            cfa = base + p.frame_size
            try:
                ret = shell.read_int(base + p.ra_offset, word) if p.ra_offset is not None else ra
                caller_s0 = shell.read_int(base + p.s0_offset, word) if p.s0_offset is not None else s0
            except DebuggerError:  # a corrupt frame pointer: show what we have
                frames.append(Frame(len(frames), pc, cfa))
                break
        frames.append(Frame(len(frames), pc, cfa))
        if hit[0].name == "main" or ret is None or ret == 0 or cfa < sp or (frames[1:] and cfa == sp):
            break
        pc, sp, s0, ra = ret, cfa, caller_s0, None
    return frames


def _read_code(shell: CommandShell, addr: int, n: int) -> bytes:
    """Up to ``n`` bytes at ``addr``, shorter at the end of RAM."""
    while n > 0:
        try:
            return shell.read_mem(addr, n)
        except DebuggerError:  # the end of RAM: a shorter read will do
            n -= 2
    return b""
