"""GDB-flavoured C expressions over registers, memory and symbols, for ``p``, ``x``, ``set`` and conditions.

Parsed once into a small tree and evaluated many times (a breakpoint condition
runs at every hit), never through Python's ``eval``: what a user types must
not reach the interpreter.  Values are Python ints; memory and registers are
reached through an :class:`EvalContext` so this module needs no Machine.

Grammar (C precedence): ``||  &&  |  ^  &  == !=  < > <= >=  << >>  + -  * / %``,
unary ``- ! ~ * &`` and ``{TYPE} EXPR`` (read ``sizeof(TYPE)`` bytes at EXPR),
primaries: numbers (``42 0x2a 0b101 052 'a'``), ``$reg``, ``$N`` / ``$`` (value
history), symbols (a variable's value; a function's address), ``( )``.
A top-level ``LVALUE = EXPR`` assigns (``$a0 = 1``, ``{int} 0x80001000 = 5``, ``counter = 3``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from emu.debugger.errors import DebuggerError

# C type names accepted in ``{TYPE}`` -> (size in bytes, signed); "long" and pointers follow XLEN.
_TYPES = {
    "char": (1, True), "signed char": (1, True), "unsigned char": (1, False),
    "short": (2, True), "unsigned short": (2, False),
    "int": (4, True), "unsigned": (4, False), "unsigned int": (4, False),
    "long long": (8, True), "unsigned long long": (8, False),
    "int8_t": (1, True), "uint8_t": (1, False), "int16_t": (2, True), "uint16_t": (2, False),
    "int32_t": (4, True), "uint32_t": (4, False), "int64_t": (8, True), "uint64_t": (8, False),
}
_XLEN_TYPES = {"long": True, "unsigned long": False, "size_t": False, "uintptr_t": False, "intptr_t": True}


class EvalContext(Protocol):
    """What an expression can reach; the command layer implements it over the Machine."""

    @property
    def xlen(self) -> int: ...

    def get_reg(self, name: str) -> int: ...
    def set_reg(self, name: str, value: int) -> None: ...
    def read_int(self, addr: int, size: int) -> int: ...
    def write_int(self, addr: int, size: int, value: int) -> None: ...
    def symbol(self, name: str) -> tuple[int, int, bool] | None:
        """``(address, size, is_variable)`` of a symbol, or None."""
    def history(self, index: int | None) -> int: ...


def type_size(name: str, xlen: int) -> tuple[int, bool]:
    """``(size, signed)`` of a C type name such as ``int``, ``unsigned char`` or ``char *``."""
    norm = " ".join(name.replace("*", " * ").split())
    if norm in _TYPES:
        return _TYPES[norm]
    if norm in _XLEN_TYPES:
        return xlen // 8, _XLEN_TYPES[norm]
    if norm.endswith("*"):
        return xlen // 8, False
    raise DebuggerError(f'No symbol "{name}" in current context.')


def to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# -- tokens -------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>0[xX][0-9a-fA-F]+|0[bB][01]+|\d+)
    | (?P<char>'(?:\\.|[^'\\])')
    | (?P<reg>\$[A-Za-z_][A-Za-z0-9_]*|\$\d*)
    | (?P<type>\{[^}]*\})
    | (?P<name>[A-Za-z_.][A-Za-z0-9_.]*)
    | (?P<op><<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>()=])
    )""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "e": "\x1b"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise DebuggerError(f"Invalid character '{text[pos:].strip()[:1]}' in expression.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


# -- tree ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """One tree node; which fields matter depends on ``op``.

    ``num`` (value), ``hist`` (value: N of ``$N``, None for ``$``), ``reg``/``sym``/``addr`` (name),
    ``mem`` (left: address, size, signed), unary ``neg not inv`` (left), ``=`` and binary
    operators (left, right).
    """

    op: str
    left: Node | None = None
    right: Node | None = None
    value: int | None = None
    name: str = ""
    size: int = 0
    signed: bool = False

    @property
    def lhs(self) -> Node:
        assert self.left is not None, self.op
        return self.left

    @property
    def rhs(self) -> Node:
        assert self.right is not None, self.op
        return self.right


_BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="),
           ("<<", ">>"), ("+", "-"), ("*", "/", "%")]


class _Parser:
    def __init__(self, text: str, xlen: int) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.xlen = xlen

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise DebuggerError("A syntax error in expression, near `'.")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def top(self) -> Node:
        node = self.binary(0)
        if self.peek() == "=":
            self.take()
            if node.op not in ("reg", "mem", "sym"):
                raise DebuggerError("Left operand of assignment is not an lvalue.")
            node = Node("=", node, self.binary(0))
        if self.i < len(self.toks):
            rest = " ".join(t[1] for t in self.toks[self.i:])
            raise DebuggerError(f"A syntax error in expression, near `{rest}'.")
        return node

    def binary(self, level: int) -> Node:
        if level == len(_BINARY):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek() in _BINARY[level] and self.toks[self.i][0] == "op":
            op = self.take()[1]
            node = Node(op, node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        kind, tok = self.toks[self.i] if self.i < len(self.toks) else ("", "")
        if kind == "op" and tok in "-!~*&+" and tok:
            self.take()
            operand = self.unary()
            if tok == "&":
                if operand.op != "sym":
                    raise DebuggerError("Attempt to take address of value not located in memory.")
                return Node("addr", name=operand.name)
            if tok == "*":
                return Node("mem", operand, size=4, signed=True)
            return operand if tok == "+" else Node({"-": "neg", "!": "not", "~": "inv"}[tok], operand)
        if kind == "type":
            self.take()
            size, signed = type_size(tok[1:-1], self.xlen)
            return Node("mem", self.unary(), size=size, signed=signed)
        return self.primary()

    def primary(self) -> Node:
        kind, tok = self.take()
        if kind == "num":
            base = 16 if tok[:2] in ("0x", "0X") else 2 if tok[:2] in ("0b", "0B") else 8 if len(tok) > 1 and tok[0] == "0" else 10
            try:
                return Node("num", value=int(tok[2:] if base in (16, 2) else tok, base))
            except ValueError:
                raise DebuggerError(f'Invalid number "{tok}".') from None
        if kind == "char":
            body = tok[1:-1]
            return Node("num", value=ord(_ESCAPES.get(body[1], body[1]) if body.startswith("\\") else body))
        if kind == "reg":
            name = tok[1:]
            if name == "" or name.isdigit():
                return Node("hist", value=int(name) if name else None)
            return Node("reg", name=name)
        if kind == "name":
            return Node("sym", name=tok)
        if tok == "(":
            node = self.binary(0)
            if self.take()[1] != ")":
                raise DebuggerError("A syntax error in expression, near `'.")
            return node
        raise DebuggerError(f"A syntax error in expression, near `{tok}'.")


def parse(text: str, xlen: int) -> Node:
    """The tree of ``text``; :class:`DebuggerError` on a syntax error."""
    if not text.strip():
        raise DebuggerError("Argument required (expression to compute).")
    return _Parser(text, xlen).top()


_OPERATORS: dict[str, Callable[[int, int], int]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "&": operator.and_, "|": operator.or_,
    "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift,
    "==": lambda a, b: int(a == b), "!=": lambda a, b: int(a != b), "<": lambda a, b: int(a < b),
    ">": lambda a, b: int(a > b), "<=": lambda a, b: int(a <= b), ">=": lambda a, b: int(a >= b),
}


def evaluate(node: Node, ctx: EvalContext) -> int:
    """The value of ``node``; assignments write through ``ctx`` and yield the stored value."""
    op = node.op
    if op == "num":
        return int(node.value or 0)
    if op == "reg":
        return ctx.get_reg(node.name)
    if op == "hist":
        return ctx.history(node.value)
    if op == "sym":
        addr, size, variable = _symbol(ctx, node.name)
        if not variable or size not in (1, 2, 4, 8):
            return addr  # functions and arrays stand for their address, as in C
        value = ctx.read_int(addr, size)
        return value if size == 1 else to_signed(value, 8 * size)
    if op == "addr":
        return _symbol(ctx, node.name)[0]
    if op == "mem":
        value = ctx.read_int(evaluate(node.lhs, ctx), node.size)
        return to_signed(value, 8 * node.size) if node.signed else value
    if op == "=":
        return _assign(node.lhs, evaluate(node.rhs, ctx), ctx)
    if op in ("neg", "not", "inv"):
        v = evaluate(node.lhs, ctx)
        return -v if op == "neg" else int(not v) if op == "not" else ~v
    left = evaluate(node.lhs, ctx)
    if op == "&&":
        return int(bool(left) and bool(evaluate(node.rhs, ctx)))
    if op == "||":
        return int(bool(left) or bool(evaluate(node.rhs, ctx)))
    return _binary(op, left, evaluate(node.rhs, ctx))


def _binary(op: str, a: int, b: int) -> int:
    if op in ("/", "%"):
        if b == 0:
            raise DebuggerError("Division by zero")
        q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)  # C truncates toward zero
        return q if op == "/" else a - q * b
    if op in ("<<", ">>") and not 0 <= b < 4096:
        raise DebuggerError(f"Shift count {b} out of range")
    return _OPERATORS[op](a, b)


def _symbol(ctx: EvalContext, name: str) -> tuple[int, int, bool]:
    hit = ctx.symbol(name)
    if hit is None:
        raise DebuggerError(f'No symbol "{name}" in current context.')
    return hit


def _assign(target: Node, value: int, ctx: EvalContext) -> int:
    if target.op == "reg":
        ctx.set_reg(target.name, value)
        return ctx.get_reg(target.name)
    if target.op == "mem":
        ctx.write_int(evaluate(target.lhs, ctx), target.size, value)
        return value
    addr, size, variable = _symbol(ctx, target.name)
    if not variable:
        raise DebuggerError(f'Cannot assign to function "{target.name}".')
    ctx.write_int(addr, size, value)
    return value


def eval_text(text: str, ctx: EvalContext) -> int:
    """Parse and evaluate in one go (``p``, ``x``, ``set``)."""
    return evaluate(parse(text, ctx.xlen), ctx)
