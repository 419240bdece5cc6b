"""emu.dwarf on its own: location expressions op by op, C declarators, GDB's value formatting.
(The whole chain against gdb-multiarch is test_dwarf_vs_gdb.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from emu.dwarf.info import DebugInfo
from emu.dwarf.location import LocationError, OptimizedOut, evaluate
from emu.dwarf.types import VOID, CType, base, declare, pointer_to, ptype_text
from emu.dwarf.values import Printer, Value, char_array_text, int_bytes

ROOT = Path(__file__).resolve().parents[2]
INT = base("int", 4, 0x05)
CHAR = base("char", 1, 0x08)


@pytest.fixture(scope="module")
def structs():
    elf = ROOT / "build" / "firmware" / "rv32" / "dbgtest.elf"
    if not elf.exists():
        pytest.fail("run `make firmware` first", pytrace=False)
    return DebugInfo(elf.read_bytes(), 32).structs


class Frame:
    xlen = 32

    def __init__(self, entry: dict[int, int] | None = None) -> None:
        self.regs = {2: 0x1000, 8: 0x2000, 10: 0x55}
        self.mem = {0x2000 + i: i for i in range(16)}
        self.entries = entry

    def reg(self, n: int) -> int:
        if n not in self.regs:
            raise LocationError(f"register {n}")
        return self.regs[n]

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.mem.get(addr + i, 0) for i in range(size))

    def cfa(self) -> int:
        return 0x1100

    def frame_base(self) -> int:
        return self.cfa()

    def entry_value(self, reg: int) -> int:
        if self.entries is None or reg not in self.entries:
            raise OptimizedOut()
        return self.entries[reg]


@pytest.mark.parametrize("expr, kind, where", [
    ([0x91, 0x7C], "memory", 0x1100 - 4),                 # DW_OP_fbreg -4
    ([0x78, 0x08], "memory", 0x2008),                     # DW_OP_breg8 8
    ([0x5A], "register", 10),                             # DW_OP_reg10
    ([0x9C], "memory", 0x1100),                           # DW_OP_call_frame_cfa
    ([0x03, 0x00, 0x30, 0x00, 0x80], "memory", 0x80003000),  # DW_OP_addr
    ([0x78, 0x00, 0x06], "memory", 0x03020100),           # breg8 0; deref
])
def test_location_ops(structs, expr, kind, where) -> None:
    loc = evaluate(expr, structs, Frame())
    assert loc.kind == kind and (loc.addr if kind == "memory" else loc.reg) == where


def test_values_pieces_and_entry_values(structs) -> None:
    v = evaluate([0x35, 0x9F], structs, Frame())            # DW_OP_lit5; stack_value
    assert v.kind == "value" and v.data == int_bytes(5, 4)
    v = evaluate([0x9E, 0x02, 0x34, 0x12], structs, Frame())  # DW_OP_implicit_value 2 bytes
    assert v.kind == "value" and v.data == b"\x34\x12"
    p = evaluate([0x5A, 0x93, 0x04, 0x93, 0x02], structs, Frame())  # reg10 piece 4, (empty) piece 2
    assert p.kind == "pieces" and p.pieces[0][0].reg == 10 and p.pieces[1] == (None, 2)
    entry = [0xA3, 0x01, 0x5B, 0x9F]                      # entry_value(reg11); stack_value
    with pytest.raises(OptimizedOut):
        evaluate(entry, structs, Frame())
    assert evaluate(entry, structs, Frame({11: 7})).data == int_bytes(7, 4)


@pytest.mark.parametrize("expr", [
    [0x2F, 0xFD, 0xFF],        # DW_OP_skip -3: a loop onto itself
    [0x22],                    # DW_OP_plus on an empty stack
    [0x7D, 0x00],              # breg13: a register the frame does not have
    [0xFF],                    # not an op
])
def test_bad_expressions_are_errors_not_crashes(structs, expr) -> None:
    with pytest.raises((LocationError, OptimizedOut)):
        evaluate(expr, structs, Frame())


def test_declarators_as_gdb_writes_them() -> None:
    fn = CType("func", target=INT, params=[INT])
    assert declare(pointer_to(fn, 32)) == "int (*)(int)"
    assert declare(CType("array", target=pointer_to(CHAR, 32), count=3), "argv") == "char *argv[3]"
    assert declare(pointer_to(CType("array", target=INT, count=4), 32)) == "int (*)[4]"
    assert declare(CType("const", target=pointer_to(INT, 32)), "p") == "int * const p"
    assert declare(CType("volatile", target=CType("const", target=INT))) == "const volatile int"
    assert declare(CType("func", target=VOID, prototyped=False)) == "void ()"
    point = CType("struct", "point", 8)
    assert ptype_text(CType("typedef", "point_t", target=point)) == "struct point {\n}"


def test_gdb_value_formatting() -> None:
    assert char_array_text(b"ab" + b"\0" * 14) == '"ab", \'\\000\' <repeats 13 times>'
    assert char_array_text(b"x\"\\\n\x1b\xff") == '"x\\"\\\\\\n\\033\\377"'
    pr = Printer(lambda a: "sym" if a == 0x80000000 else None, lambda a, n: b"hi\0"[a - 0x10:a - 0x10 + n])
    arr = Value(CType("array", target=INT, count=12), int_bytes(7, 4) * 12)
    assert pr.value(arr) == "{7 <repeats 12 times>}"
    assert pr.top(Value(pointer_to(INT, 32), int_bytes(0x80000000, 4))) == "(int *) 0x80000000 <sym>"
    assert pr.top(Value(pointer_to(CHAR, 32), int_bytes(0x10, 4))) == '0x10 "hi"'
    assert pr.value(Value(base("double", 8, 0x04), bytes.fromhex("9a9999999999b93f"))) == "0.10000000000000001"
    assert pr.value(Value(INT, None)) == "<optimized out>"
