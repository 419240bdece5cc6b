"""GDB-flavoured C expressions over registers, memory, symbols and DWARF variables, for ``p``, ``x``,
``set``, ``display``, watch expressions and breakpoint conditions.

Parsed once into a small tree and evaluated many times (a breakpoint condition runs at every
hit), never through Python's ``eval``: what a user types must not reach the interpreter.  Values
are typed (:class:`emu.dwarf.values.Value`): C's integer promotions and usual arithmetic
conversions decide width and signedness, so a 32-bit pointer above 0x80000000 stays an unsigned
address on rv32 and ``0xffffffff + 1`` is 0 as in GDB.

Grammar (C precedence, GDB's ``@`` between shifts and sums): ``= || && | ^ & == != < > <= >= << >>
@ + - * / %``, unary ``- ! ~ * & + sizeof``, casts ``(TYPE)`` and ``{TYPE} ADDR``, postfix ``[i]``,
``.m``, ``->m``; primaries: numbers, chars, ``$reg``, ``$N``/``$`` (value history), ``$name``
(convenience variables), names (locals of the selected frame, then globals, then ELF symbols).
Nesting is bounded (:data:`MAX_DEPTH`): a hostile 300-deep or 3000-term expression is one error
line, not a RecursionError.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from emu.debugger.errors import DebuggerError
from emu.dwarf.info import c_base_types
from emu.dwarf.types import ATE_FLOAT, VOID, CType, base, declare, pointer_to
from emu.dwarf.values import Value, int_bytes

MAX_DEPTH = 200  # tree depth: deeper input is refused before any recursion can overflow
MAX_NESTING = 40  # parentheses, brackets and prefix operators inside each other (the parser recurses
# through every precedence level for each: ~16 Python frames per level)


class EvalContext(Protocol):
    """What an expression can reach; the command layer implements it over the Machine.

    Optional extras (found with getattr): ``read_mem(addr, n)``, ``write_mem(addr, data)``,
    ``variable(name) -> Value | None`` (DWARF), ``named_type(name) -> CType | None``,
    ``convenience`` (a dict), ``history_value(index) -> Value``.
    """

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
    t = _builtin_type(name, xlen)
    if t is None:
        raise DebuggerError(f'No symbol "{name}" in current context.')
    return t.byte_size, t.is_signed


def to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


_BUILTIN_CACHE: dict[int, dict[str, CType]] = {}


def _builtin_type(name: str, xlen: int) -> CType | None:
    table = _BUILTIN_CACHE.setdefault(xlen, c_base_types(xlen))
    norm = " ".join(name.replace("*", " * ").split())
    stars = 0
    while norm.endswith("*"):
        norm, stars = norm[:-1].rstrip(), stars + 1
    t = table.get(norm) or (table.get(norm.removesuffix(" int")) if norm.endswith(" int") else None)
    if t is None:
        return None
    for _ in range(stars):
        t = pointer_to(t, xlen)
    return t


# -- tokens -------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>0[xX][0-9a-fA-F]+[uUlL]*|0[bB][01]+[uUlL]*|[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[uUlL]*)
    | (?P<char>'(?:\\.|[^'\\])')
    | (?P<reg>\$[A-Za-z_][A-Za-z0-9_]*|\$\d*)
    | (?P<type>\{[^}]*\})
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>->|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>()=\[\].@])
    )""", re.VERBOSE | re.ASCII)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "e": "\x1b",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_TYPE_WORDS = {"struct", "union", "enum", "unsigned", "signed", "char", "short", "int", "long", "float",
               "double", "void", "_Bool", "const", "volatile"}


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

    ``num``/``float`` (value, ctype), ``hist`` (value: N of ``$N``, None for ``$``), ``reg`` and
    ``sym`` (name), ``mem`` (``{TYPE} ADDR``: left, ctype), ``cast`` (left, ctype), ``sizeof``
    (left or ctype), unary ``neg not inv deref addr pos`` (left), ``index`` ``@`` ``=`` and binary
    operators (left, right), ``member``/``arrow`` (left, name).
    """

    op: str
    left: Node | None = None
    right: Node | None = None
    value: Any = None
    name: str = ""
    ctype: CType | None = None
    depth: int = 1

    @property
    def lhs(self) -> Node:
        assert self.left is not None, self.op
        return self.left

    @property
    def rhs(self) -> Node:
        assert self.right is not None, self.op
        return self.right


def _node(op: str, left: Node | None = None, right: Node | None = None, **kw: Any) -> Node:
    depth = 1 + max(left.depth if left else 0, right.depth if right else 0)
    if depth > MAX_DEPTH:
        raise DebuggerError(f"Expression too complex: nested more than {MAX_DEPTH} levels deep.")
    return Node(op, left, right, depth=depth, **kw)


_BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="),
           ("<<", ">>"), ("@",), ("+", "-"), ("*", "/", "%")]


class _Parser:
    def __init__(self, text: str, xlen: int, types: Callable[[str], CType | None] | None) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.xlen = xlen
        self.types = types
        self.nesting = 0

    def peek(self, ahead: int = 0) -> str | None:
        j = self.i + ahead
        return self.toks[j][1] if j < len(self.toks) else None

    def kind(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.toks[j][0] if j < len(self.toks) else ""

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise DebuggerError("A syntax error in expression, near `'.")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        if self.peek() != tok:
            rest = " ".join(t[1] for t in self.toks[self.i:])
            raise DebuggerError(f"A syntax error in expression, near `{rest}'.")
        self.take()

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise DebuggerError(f"Expression too complex: nested more than {MAX_NESTING} levels deep.")

    def top(self) -> Node:
        node = self.assignment()
        if self.i < len(self.toks):
            rest = " ".join(t[1] for t in self.toks[self.i:])
            raise DebuggerError(f"A syntax error in expression, near `{rest}'.")
        return node

    def assignment(self) -> Node:
        node = self.binary(0)
        if self.peek() == "=" and self.kind() == "op":
            self.take()
            if node.op not in ("reg", "mem", "sym", "deref", "index", "member", "arrow", "conv"):
                raise DebuggerError("Left operand of assignment is not an lvalue.")
            self.enter()
            node = _node("=", node, self.assignment())
            self.nesting -= 1
        return node

    def binary(self, level: int) -> Node:
        if level == len(_BINARY):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek() in _BINARY[level] and self.kind() == "op":
            op = self.take()[1]
            node = _node(op, node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        kind, tok = self.toks[self.i] if self.i < len(self.toks) else ("", "")
        if kind == "op" and tok in ("-", "!", "~", "*", "&", "+"):
            self.take()
            self.enter()
            operand = self.unary()
            self.nesting -= 1
            return _node({"-": "neg", "!": "not", "~": "inv", "*": "deref", "&": "addr", "+": "pos"}[tok],
                         operand)
        if kind == "name" and tok == "sizeof":
            self.take()
            if self.peek() == "(" and self._type_ahead(1):
                self.take()
                t = self.type_name()
                self.expect(")")
                return _node("sizeof", ctype=t)
            return _node("sizeof", self.unary())
        if kind == "type":
            self.take()
            t = self.resolve_type(tok[1:-1])
            return _node("mem", self.unary(), ctype=t)
        if tok == "(" and kind == "op" and self._type_ahead(1):
            self.take()
            t = self.type_name()
            self.expect(")")
            return _node("cast", self.unary(), ctype=t)
        return self.postfix(self.primary())

    def _type_ahead(self, ahead: int) -> bool:
        """Does a type name start ``ahead`` tokens on (a cast or ``sizeof(TYPE)``)?"""
        if self.kind(ahead) != "name":
            return False
        word = self.peek(ahead) or ""
        if word in _TYPE_WORDS:
            return True
        following = self.peek(ahead + 1)
        if following not in (")", "*"):
            return False
        return self.types is not None and self.types(word) is not None or _builtin_type(word, self.xlen) is not None

    def type_name(self) -> CType:
        words: list[str] = []
        while self.kind() == "name":
            words.append(self.take()[1])
        stars = 0
        while self.peek() == "*":
            self.take()
            stars += 1
        t = self.resolve_type(" ".join(words))
        for _ in range(stars):
            t = pointer_to(t, self.xlen)
        return t

    def resolve_type(self, text: str) -> CType:
        norm = " ".join(text.replace("*", " * ").split())
        stars = 0
        while norm.endswith("*"):
            norm, stars = norm[:-1].rstrip(), stars + 1
        words = [w for w in norm.split() if w not in ("const", "volatile")]
        name = " ".join(words)
        t = self.types(name) if self.types is not None else None
        if t is None:
            t = _builtin_type(name, self.xlen)
        if t is None:
            raise DebuggerError(f'No symbol "{text.strip()}" in current context.')
        for _ in range(stars):
            t = pointer_to(t, self.xlen)
        return t

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if self.kind() != "op":
                return node
            if tok == "[":
                self.take()
                self.enter()
                index = self.assignment()
                self.nesting -= 1
                self.expect("]")
                node = _node("index", node, index)
            elif tok in (".", "->"):
                self.take()
                if self.kind() != "name":
                    raise DebuggerError(f"A syntax error in expression, near `{self.peek() or ''}'.")
                node = _node("member" if tok == "." else "arrow", node, name=self.take()[1])
            else:
                return node

    def primary(self) -> Node:
        kind, tok = self.take()
        if kind == "num":
            return _number(tok, self.xlen)
        if kind == "char":
            body = tok[1:-1]
            ch = _ESCAPES.get(body[1], body[1]) if body.startswith("\\") else body
            return _node("num", value=ord(ch), ctype=_builtin_type("char", self.xlen))
        if kind == "reg":
            name = tok[1:]
            if name == "" or name.isdigit():
                return _node("hist", value=int(name) if name else None)
            return _node("reg", name=name)
        if kind == "name":
            return _node("sym", name=tok)
        if tok == "(":
            self.enter()
            node = self.assignment()
            self.nesting -= 1
            if self.take()[1] != ")":
                raise DebuggerError("A syntax error in expression, near `'.")
            return node
        raise DebuggerError(f"A syntax error in expression, near `{tok}'.")


def _number(tok: str, xlen: int) -> Node:
    if "." in tok:
        try:
            return _node("float", value=float(tok), ctype=_builtin_type("double", xlen))
        except ValueError:
            raise DebuggerError(f'Invalid number "{tok}".') from None
    digits = tok.rstrip("uUlL")
    suffix = tok[len(digits):].lower()
    low = digits.lower()
    base_ = 16 if low.startswith("0x") else 2 if low.startswith("0b") else 8 if len(digits) > 1 and digits[0] == "0" else 10
    body = digits[2:] if base_ in (16, 2) else digits
    if len(body) > 64 or not body:
        raise DebuggerError(f'Invalid number "{tok}".')
    try:
        value = int(body, base_)
    except ValueError:
        raise DebuggerError(f'Invalid number "{tok}".') from None
    # C's literal types: the first of int, [unsigned int,] long, [unsigned long,] long long... that fits.
    word = xlen // 8
    candidates = [("int", 4, True), ("unsigned int", 4, False), ("long", word, True),
                  ("unsigned long", word, False), ("long long", 8, True), ("unsigned long long", 8, False)]
    if base_ == 10 and "u" not in suffix:
        candidates = [c for c in candidates if c[2]]
    if "u" in suffix:
        candidates = [c for c in candidates if not c[2]]
    if "l" in suffix:
        candidates = [c for c in candidates if c[0] not in ("int", "unsigned int")]
    for name, size, signed in candidates:
        if value < (1 << (8 * size - (1 if signed else 0))):
            return _node("num", value=value, ctype=_builtin_type(name, xlen))
    raise DebuggerError("Numeric constant too large.")


def parse(text: str, xlen: int, types: Callable[[str], CType | None] | None = None) -> Node:
    """The tree of ``text``; :class:`DebuggerError` on a syntax error.  ``types`` names DWARF types
    (typedefs and ``struct X``) for casts and ``sizeof``."""
    if not text.strip():
        raise DebuggerError("Argument required (expression to compute).")
    return _Parser(text, xlen, types).top()


# -- evaluation ---------------------------------------------------------------------------------------------
@dataclass
class _Env:
    ctx: Any
    xlen: int
    types: dict[str, CType] = field(default_factory=dict)

    def t(self, name: str) -> CType:
        t = _builtin_type(name, self.xlen)
        assert t is not None, name
        return t


def evaluate(node: Node, ctx: EvalContext) -> int:
    """The integer value of ``node`` (an aggregate's address); assignments write through ``ctx``."""
    return as_int(evaluate_value(node, ctx))


def as_int(v: Value) -> int:
    """An integer for addresses and conditions: aggregates and functions give their address."""
    return _to_int(v)


def evaluate_value(node: Node, ctx: EvalContext) -> Value:
    """The typed value of ``node``."""
    return _eval(node, _Env(ctx, ctx.xlen))


def eval_text(text: str, ctx: EvalContext) -> int:
    """Parse and evaluate in one go (``x``, locations, watch addresses)."""
    return evaluate(parse(text, ctx.xlen, getattr(ctx, "named_type", None)), ctx)


def _int_value(n: int, t: CType) -> Value:
    return Value(t, int_bytes(n, t.byte_size))


def _read(env: _Env, addr: int, size: int) -> bytes:
    reader = getattr(env.ctx, "read_mem", None)
    if reader is not None:
        return bytes(reader(addr, size))
    return bytes(env.ctx.read_int(addr + i, 1) for i in range(size))


def _write(env: _Env, addr: int, data: bytes) -> None:
    writer = getattr(env.ctx, "write_mem", None)
    if writer is not None:
        writer(addr, data)
        return
    for i, b in enumerate(data):
        env.ctx.write_int(addr + i, 1, b)


def at(env: _Env, t: CType, addr: int) -> Value:
    """The object of type ``t`` at ``addr`` (an lvalue)."""
    addr &= (1 << env.xlen) - 1
    size = t.byte_size
    if t.strip().kind == "func":
        return Value(t, b"", addr)
    if size > 1 << 20:
        raise DebuggerError(f"value requires {size} bytes, which is more than max-value-size")
    return Value(t, _read(env, addr, size), addr)


def _eval(node: Node, env: _Env) -> Value:
    op = node.op
    ctx = env.ctx
    if op == "num":
        assert node.ctype is not None
        return _int_value(int(node.value), node.ctype)
    if op == "float":
        return Value(env.t("double"), struct.pack("<d", node.value))
    if op == "reg":
        return _register(env, node.name)
    if op == "hist":
        getter = getattr(ctx, "history_value", None)
        if getter is not None:
            return getter(node.value)
        return _int_value(ctx.history(node.value), env.t("long"))
    if op == "sym":
        return _symbol(env, node.name)
    if op == "mem":
        assert node.ctype is not None
        return at(env, node.ctype, as_int(_eval(node.lhs, env)))
    if op == "cast":
        assert node.ctype is not None
        return cast(_eval(node.lhs, env), node.ctype, env)
    if op == "sizeof":
        t = node.ctype if node.ctype is not None else _eval(node.lhs, env).type
        return _int_value(t.byte_size, env.t("int"))  # GDB's sizeof is an int
    if op == "deref":
        operand = _eval(node.lhs, env)
        if node.lhs.op == "sym" and operand.type.kind != "nodebug" and operand.type.strip().kind in ("base", "enum"):
            raise DebuggerError("Attempt to take contents of a non-pointer value.")  # a C int variable
        return _deref(operand, env)
    if op == "addr":
        return _address_of(_eval(node.lhs, env), env)
    if op == "index":
        return _index(_eval(node.lhs, env), _eval(node.rhs, env), env)
    if op in ("member", "arrow"):
        base_v = _eval(node.lhs, env)
        if op == "arrow":
            if base_v.type.strip().kind != "pointer":
                raise DebuggerError(f"The -> operator cannot be applied to a value of type "
                                    f"'{declare(base_v.type)}'.")
            base_v = _deref(base_v, env)
        return member(base_v, node.name)
    if op == "=":
        return _assign(node.lhs, _eval(node.rhs, env), env)
    if op == "@":
        return _artificial_array(_eval(node.lhs, env), _eval(node.rhs, env), env)
    if op in ("neg", "not", "inv", "pos"):
        v = _eval(node.lhs, env)
        if op == "not":
            return _int_value(int(not _truth(v)), env.t("int"))
        if _is_float(v):
            x = v.as_float()
            return Value(env.t("double"), struct.pack("<d", -x if op == "neg" else x)) if op != "inv" else \
                _fail("Argument to complement operation not an integer, boolean.")
        t = _promote(v.type, env)
        n = _to_int(v)
        return _int_value(-n if op == "neg" else ~n if op == "inv" else n, t)
    if op == "&&":
        return _int_value(int(_truth(_eval(node.lhs, env)) and _truth(_eval(node.rhs, env))), env.t("int"))
    if op == "||":
        return _int_value(int(_truth(_eval(node.lhs, env)) or _truth(_eval(node.rhs, env))), env.t("int"))
    return _binary(op, _eval(node.lhs, env), _eval(node.rhs, env), env)


def _fail(message: str) -> Value:
    raise DebuggerError(message)


def _is_float(v: Value) -> bool:
    t = v.type.strip()
    return t.kind == "base" and t.encoding == ATE_FLOAT


def _to_int(v: Value) -> int:
    if v.data is None:
        raise DebuggerError(v.error or "value has been optimized out")
    t = v.type.strip()
    if t.kind in ("struct", "union"):
        raise DebuggerError("Argument to arithmetic operation not a number or boolean.")
    if v.type.kind == "nodebug" and v.type.target is not None:
        return Value(v.type.target, v.data).as_int()
    if t.kind in ("array", "func") or v.type.kind == "nodebug":
        if v.address is None:
            raise DebuggerError("Attempt to take address of value not located in memory.")
        return v.address
    return v.as_int()


def _truth(v: Value) -> bool:
    return bool(v.as_float()) if _is_float(v) else bool(_to_int(v))


def _promote(t: CType, env: _Env) -> CType:
    if t.kind == "nodebug" and t.target is not None:
        return _promote(t.target, env)
    s = t.strip()
    if s.kind == "pointer":
        return t
    if s.kind in ("array", "func") or t.kind == "nodebug":
        return pointer_to(VOID, env.xlen)
    if s.byte_size < 4 or s.kind == "enum" or (s.kind == "base" and s.encoding == 0x02):
        return env.t("int") if not (s.byte_size == 4 and not t.is_signed) else env.t("unsigned int")
    return s


def _common(a: CType, b: CType, env: _Env) -> CType:
    """C's usual arithmetic conversions on promoted integer types."""
    a, b = _promote(a, env), _promote(b, env)
    if a.byte_size != b.byte_size:
        return a if a.byte_size > b.byte_size else b
    return a if not a.is_signed else b


def _binary(op: str, a: Value, b: Value, env: _Env) -> Value:
    if _is_float(a) or _is_float(b):
        return _float_binary(op, a, b, env)
    ak, bk = a.type.strip().kind, b.type.strip().kind
    a_ptr = ak in ("pointer", "array")
    b_ptr = bk in ("pointer", "array")
    if op in ("+", "-") and a_ptr and not b_ptr:
        target = _pointee(a.type)
        scale = max(target.byte_size, 1) if target.kind != "void" else 1
        n = _to_int(a) + (_to_int(b) if op == "+" else -_to_int(b)) * scale
        ptr_t = a.type if ak == "pointer" else pointer_to(target, env.xlen)
        return _int_value(n, ptr_t)
    if op == "+" and b_ptr and not a_ptr:
        return _binary("+", b, a, env)
    if op == "-" and a_ptr and b_ptr:
        scale = max(_pointee(a.type).byte_size, 1)
        return _int_value((_to_int(a) - _to_int(b)) // scale, env.t("long"))
    if op in ("==", "!=", "<", ">", "<=", ">="):
        if a_ptr or b_ptr:
            x, y = _to_int(a) & ((1 << env.xlen) - 1), _to_int(b) & ((1 << env.xlen) - 1)
        else:
            t = _common(a.type, b.type, env)
            x, y = _cast_int(_to_int(a), t), _cast_int(_to_int(b), t)
        result = {"==": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]
        return _int_value(int(result), env.t("int"))
    if op in ("<<", ">>"):
        t = _promote(a.type, env)
        count = _to_int(b)
        if not 0 <= count < 4096:
            raise DebuggerError(f"Shift count {count} out of range")
        x = _cast_int(_to_int(a), t)
        return _int_value(x << count if op == "<<" else x >> count, t)
    t = _common(a.type, b.type, env)
    x, y = _cast_int(_to_int(a), t), _cast_int(_to_int(b), t)
    if op in ("/", "%"):
        if y == 0:
            raise DebuggerError("Division by zero")
        q = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)  # C truncates toward zero
        return _int_value(q if op == "/" else x - q * y, t)
    ops: dict[str, Callable[[int, int], int]] = {
        "+": lambda p, q: p + q, "-": lambda p, q: p - q, "*": lambda p, q: p * q,
        "&": lambda p, q: p & q, "|": lambda p, q: p | q, "^": lambda p, q: p ^ q}
    return _int_value(ops[op](x, y), t)


def _float_binary(op: str, a: Value, b: Value, env: _Env) -> Value:
    x = a.as_float() if _is_float(a) else float(_to_int(a))
    y = b.as_float() if _is_float(b) else float(_to_int(b))
    if op in ("==", "!=", "<", ">", "<=", ">="):
        result = {"==": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]
        return _int_value(int(result), env.t("int"))
    if op == "/" and y == 0:
        raise DebuggerError("Division by zero")
    if op not in ("+", "-", "*", "/"):
        raise DebuggerError("Integer only operation.")
    r = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else 0.0}[op]
    return Value(env.t("double"), struct.pack("<d", r))


def _cast_int(n: int, t: CType) -> int:
    bits = 8 * max(t.byte_size, 1)
    n &= (1 << bits) - 1
    return n - (1 << bits) if t.is_signed and n >> (bits - 1) else n


def _pointee(t: CType) -> CType:
    s = t.strip()
    return s.target or VOID


def cast(v: Value, t: CType, env: _Env) -> Value:
    """``(TYPE) value`` with C's conversions (integers truncate or extend, floats convert)."""
    s = t.strip()
    if s.kind in ("struct", "union", "array"):
        if v.data is not None and len(v.data) == s.byte_size:
            return Value(t, v.data, v.address)
        raise DebuggerError("Invalid cast.")
    if s.kind == "void":
        return Value(t, b"")
    if s.kind == "base" and s.encoding == ATE_FLOAT:
        x = v.as_float() if _is_float(v) else float(_to_int(v))
        return Value(t, struct.pack("<f" if s.byte_size == 4 else "<d", x))
    n = int(v.as_float()) if _is_float(v) else _to_int(v)
    if s.kind == "base" and s.encoding == 0x02:
        n = int(bool(n))
    return _int_value(n, t)


def member(v: Value, name: str) -> Value:
    from emu.dwarf.values import member_value

    t = v.type.strip()
    if t.kind not in ("struct", "union"):
        raise DebuggerError("Attempt to extract a component of a value that is not a structure.")
    m = v.type.member(name)
    if m is None:
        raise DebuggerError(f"There is no member named {name}.")
    return member_value(v, m)


def _deref(v: Value, env: _Env) -> Value:
    t = v.type.strip()
    if t.kind == "array":
        return at(env, t.target or VOID, _to_int(v))
    if t.kind == "func":
        return v
    if t.kind != "pointer":
        if t.kind == "base" and t.encoding != ATE_FLOAT or v.type.kind == "nodebug":
            # GDB derefs an integer as a pointer to ``long`` (``*0x80001000``); old scripts use it.
            return at(env, env.t("int") if env.xlen == 32 else env.t("long"), _to_int(v))
        raise DebuggerError("Attempt to take contents of a non-pointer value.")
    target = t.target or VOID
    if target.strip().kind == "void":
        raise DebuggerError("Attempt to take contents of a non-pointer value.")
    return at(env, target, _to_int(v))


def _address_of(v: Value, env: _Env) -> Value:
    if v.bit_size:
        raise DebuggerError("Attempt to take address of value not located in memory.")
    if v.address is None:
        if v.reg is not None:
            raise DebuggerError("Address requested for identifier which is in register")
        raise DebuggerError("Attempt to take address of value not located in memory.")
    if v.type.kind == "nodebug":
        return Value(CType("pointer", size=env.xlen // 8, target=v.type), int_bytes(v.address, env.xlen // 8))
    return _int_value(v.address, pointer_to(v.type, env.xlen))


def _index(a: Value, i: Value, env: _Env) -> Value:
    t = a.type.strip()
    if t.kind not in ("array", "pointer"):
        if i.type.strip().kind in ("array", "pointer"):
            return _index(i, a, env)
        raise DebuggerError("cannot subscript something of type `" + declare(a.type) + "'")
    element = t.target or VOID
    n = _to_int(i)
    if t.kind == "array" and a.data is None and a.address is None and a.error is None:
        return Value(element, None)  # an element of an optimized-out array is optimized out
    if t.kind == "array" and a.data is not None and a.address is None:
        size = element.byte_size
        if not 0 <= n < (t.count or 0):
            raise DebuggerError("no such vector element")
        return Value(element, a.data[n * size:(n + 1) * size])
    base_addr = _to_int(a)
    return at(env, element, base_addr + n * element.byte_size)


def _artificial_array(a: Value, n: Value, env: _Env) -> Value:
    count = _to_int(n)
    if a.address is None:
        raise DebuggerError("Only values in memory can be extended with '@'.")
    if count <= 0:
        raise DebuggerError("Non-positive repeat count.")
    t = CType("array", target=a.type, count=count)
    return at(env, t, a.address)


def _register(env: _Env, name: str) -> Value:
    ctx = env.ctx
    conv = getattr(ctx, "convenience", None)
    if conv is not None and name in conv:
        return conv[name]
    try:
        n = ctx.get_reg(name)
    except DebuggerError:
        if conv is not None:
            return Value(VOID, b"")  # an unset convenience variable is void, as in GDB
        raise
    from emu.debugger.registers import CODE_POINTERS, canonical

    reg = canonical(name)
    word = env.xlen // 8
    if reg in CODE_POINTERS:
        t = CType("pointer", size=word, target=CType("func", target=VOID, prototyped=False))
    elif reg in ("sp", "gp", "tp"):
        t = pointer_to(VOID, env.xlen)
    elif reg == "priv":
        t = env.t("int")
    else:
        t = env.t("long")
    return Value(t, int_bytes(n, t.byte_size))


def _is_register(ctx: Any, name: str) -> bool:
    try:
        ctx.get_reg(name)
    except DebuggerError:
        return False
    return True


def _symbol(env: _Env, name: str) -> Value:
    ctx = env.ctx
    finder = getattr(ctx, "variable", None)
    if finder is not None:
        v = finder(name)
        if v is not None:
            return v
    hit = ctx.symbol(name)
    if hit is None:
        raise DebuggerError(f'No symbol "{name}" in current context.')
    addr, size, variable = hit
    if variable and size in (1, 2, 4, 8):
        t = base(f"int{8 * size}", size, 0x05) if size > 1 else base("char", 1, 0x08)
        t = CType("nodebug", "<data variable, no debug info>", size, target=t)
        return Value(t, _read(env, addr, size), addr)
    kind = "data" if variable else "text"
    return Value(CType("nodebug", f"<{kind} variable, no debug info>", 0), b"", addr)


def _assign(target: Node, value: Value, env: _Env) -> Value:
    ctx = env.ctx
    if target.op == "reg":
        conv = getattr(ctx, "convenience", None)
        if conv is not None and (target.name in conv or not _is_register(ctx, target.name)):
            conv[target.name] = value
            return value
        ctx.set_reg(target.name, _to_int(value))
        return _register(env, target.name)
    lhs = _eval(target, env)
    if lhs.type.kind == "nodebug" and lhs.type.size == 0:
        raise DebuggerError(f'Cannot assign to function "{target.name}".' if target.op == "sym"
                            else "Left operand of assignment is not an lvalue.")
    t = lhs.type.target if lhs.type.kind == "nodebug" else lhs.type
    assert t is not None
    if lhs.reg is not None and lhs.address is None:
        setter = getattr(ctx, "set_dwarf_reg", None)
        if setter is None:
            raise DebuggerError("Left operand of assignment is not a modifiable lvalue.")
        new = cast(value, t, env)
        setter(lhs.reg, _to_int(new))
        return new
    if lhs.address is None:
        raise DebuggerError("Left operand of assignment is not a modifiable lvalue.")
    s = t.strip()
    if s.kind in ("struct", "union", "array"):
        if value.data is None or len(value.data) != s.byte_size:
            raise DebuggerError("Invalid cast.")
        _write(env, lhs.address, value.data)
        return Value(t, value.data, lhs.address)
    new = cast(value, t, env)
    assert new.data is not None
    if lhs.bit_size:
        storage = len(lhs.data or b"") or 1
        old = int.from_bytes(_read(env, lhs.address, storage), "little")
        mask = ((1 << lhs.bit_size) - 1) << lhs.bit_pos
        raw = (old & ~mask) | ((int.from_bytes(new.data, "little") << lhs.bit_pos) & mask)
        _write(env, lhs.address, int_bytes(raw, storage))
        return Value(t, int_bytes(_to_int(new) & ((1 << lhs.bit_size) - 1), storage), lhs.address,
                     bit_size=lhs.bit_size, bit_pos=lhs.bit_pos)
    _write(env, lhs.address, new.data)
    return Value(t, new.data, lhs.address)
