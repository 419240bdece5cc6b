"""Call-stack unwinding for ``backtrace`` and ``finish``, by prologue analysis and the frame pointer.

Why not DWARF CFI: the firmware is built with ``-fno-omit-frame-pointer``, so
every function sets ``s0`` to its CFA (the caller's ``sp``), and reading the
prologue tells where ``ra`` and the caller's ``s0`` were saved; that covers
leaf functions (which save ``s0`` but not ``ra``) and a pc still inside a
prologue, with no .eh_frame parser.  The prologue is the run of
``addi sp,sp,-N`` / ``s[wd] ra|s0,OFF(sp)`` / ``addi s0,sp,N`` at the
function's start, in any of their compressed forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.debugger.disasm import Insn
from emu.debugger.errors import DebuggerError

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

_STORE = re.compile(r"^(ra|s0), (-?(?:0x)?[0-9a-f]+)\(sp\)$")
_MAX_PROLOGUE = 32
MAX_FRAMES = 64


@dataclass(frozen=True)
class Frame:
    level: int
    pc: int
    cfa: int  # the caller's sp: identifies the frame (finish, next over recursion)


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


def _is_return(insn: Insn) -> bool:
    return (insn.mnemonic == "ret" or (insn.mnemonic == "c.jr" and insn.operands == "ra"))


def unwind(shell: CommandShell, limit: int = MAX_FRAMES) -> list[Frame]:
    """Frames from the innermost outwards; stops after ``main`` or when the chain breaks."""
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
