"""Expression parsing and evaluation (p, x, set, conditions) against an in-test register/memory model."""

from __future__ import annotations

import pytest

from emu.debugger import expr
from emu.debugger.errors import DebuggerError


class Ctx:
    """Registers and a little memory: just enough to evaluate expressions without a Machine."""

    xlen = 32

    def __init__(self) -> None:
        self.regs = {"a0": 5, "sp": 0x1000, "pc": 0x80000010}
        self.mem = bytearray(64)
        self.values = [7, 9]

    def get_reg(self, name: str) -> int:
        if name not in self.regs:
            raise DebuggerError(f"Invalid register `{name}'")
        return self.regs[name]

    def set_reg(self, name: str, value: int) -> None:
        self.regs[name] = value

    def read_int(self, addr: int, size: int) -> int:
        return int.from_bytes(self.mem[addr:addr + size], "little")

    def write_int(self, addr: int, size: int, value: int) -> None:
        self.mem[addr:addr + size] = (value & ((1 << 8 * size) - 1)).to_bytes(size, "little")

    def symbol(self, name: str) -> tuple[int, int, bool] | None:
        return {"counter": (8, 4, True), "main": (0x80000000, 20, False), "buf": (16, 16, True)}.get(name)

    def history(self, index: int | None) -> int:
        return self.values[-1] if index is None else self.values[index - 1]


@pytest.mark.parametrize("text, value", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("0x10 | 0b1", 17), ("010", 8), ("'a'", 97), ("'\\n'", 10),
    ("-7 / 2", -3), ("-7 % 2", -1), ("1 << 4 >> 2", 4), ("!0 && 3", 1), ("0 || 0", 0), ("~0 & 0xff", 255),
    ("3 > 2 == 1", 1), ("$a0 * 2", 10), ("$1 + $", 16), ("main + 4", 0x80000004), ("&counter", 8),
    ("5 ^ 1", 4), ("2 <= 2", 1), ("buf", 16),
])
def test_values(text: str, value: int) -> None:
    assert expr.eval_text(text, Ctx()) == value


def test_memory_reads_sized_and_signed() -> None:
    ctx = Ctx()
    ctx.write_int(8, 4, 0xFFFFFFFE)
    assert expr.eval_text("counter", ctx) == -2
    assert expr.eval_text("{unsigned int} 8", ctx) == 0xFFFFFFFE
    assert expr.eval_text("{char} 8", ctx) == 0xFE          # plain char is unsigned on RISC-V
    assert expr.eval_text("{signed char} 8", ctx) == -2
    assert expr.eval_text("{uint8_t} 8", ctx) == 0xFE
    assert expr.eval_text("*8", ctx) == -2
    assert expr.eval_text("{long} &counter", ctx) == -2


def test_assignments_write_through() -> None:
    ctx = Ctx()
    assert expr.eval_text("$a0 = 3 + 4", ctx) == 7 and ctx.regs["a0"] == 7
    expr.eval_text("{short} 4 = 0x1234", ctx)
    assert ctx.mem[4:6] == b"\x34\x12"
    expr.eval_text("counter = -1", ctx)
    assert ctx.read_int(8, 4) == 0xFFFFFFFF


def test_parse_once_evaluate_many() -> None:
    ctx = Ctx()
    node = expr.parse("$a0 == 5", 32)
    assert expr.evaluate(node, ctx) == 1
    ctx.regs["a0"] = 6
    assert expr.evaluate(node, ctx) == 0


@pytest.mark.parametrize("text, message", [
    ("", "Argument required"), ("1 +", "syntax error"), ("(1", "syntax error"), ("1 2", "syntax error"),
    ("nosuch", 'No symbol "nosuch"'), ("$nosuch", "Invalid register"), ("1 / 0", "Division by zero"),
    ("1 @ 2", "Only values in memory"), ("1 # 2", "Invalid character"), ("3 = 4", "not an lvalue"), ("main = 1", "Cannot assign to function"),
    ("{struct x} 0", 'No symbol "struct x"'), ("&5", "address"), ("1 << 99999", "Shift count"),
    ("__import__('os')", "Invalid character"),
])
def test_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(DebuggerError) as e:
        expr.eval_text(text, Ctx())
    assert message in str(e.value) and "\n" not in str(e.value)


def test_type_sizes_follow_xlen() -> None:
    assert expr.type_size("long", 64) == (8, True)
    assert expr.type_size("char *", 32) == (4, False)
    assert expr.type_size("unsigned   char", 32) == (1, False)
