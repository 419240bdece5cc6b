"""DWARF location expressions: where a variable lives at a pc, in a given frame.

The ops GCC 12 emits for RISC-V from -O0 to -O2: ``fbreg``, ``breg*``, ``reg*``, ``addr``,
``piece``, ``stack_value``, ``implicit_value``, constants, arithmetic and ``call_frame_cfa``
(the usual frame base).  ``entry_value`` (the value a register had on entry, known only through
the caller's call-site data) and ``implicit_pointer`` make the variable ``<optimized out>`` as
GDB prints it when it cannot recover the value.  A malformed expression is never a crash: it
makes the variable unavailable with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from elftools.dwarf.dwarf_expr import DWARFExprParser

MAX_STEPS = 10_000  # DW_OP_skip/bra loops in a hostile ELF must terminate


class OptimizedOut(Exception):
    """The value is not recoverable here (entry_value, empty location list, ...)."""


class LocationError(Exception):
    """The expression cannot be evaluated (unknown op, a register not known in this frame)."""


@dataclass(frozen=True)
class Location:
    """``kind``: memory (``addr``), register (``reg``, DWARF number), value (``data``), pieces."""

    kind: str
    addr: int = 0
    reg: int = 0
    data: bytes = b""
    pieces: tuple[tuple[Location | None, int], ...] = ()  # (location or None = optimized out, bytes)


class FrameAccess(Protocol):
    """What an expression may read: the frame's registers, memory, its CFA and frame base."""

    xlen: int

    def reg(self, number: int) -> int: ...
    def read(self, addr: int, size: int) -> bytes: ...
    def cfa(self) -> int: ...
    def frame_base(self) -> int: ...

    # Optional: ``entry_value(reg) -> int`` resolves DW_OP_entry_value through the caller's
    # DW_TAG_call_site_parameter; without it (or when it raises OptimizedOut) the value is lost.


_BINOPS = {
    "DW_OP_plus": lambda a, b: a + b, "DW_OP_minus": lambda a, b: a - b, "DW_OP_mul": lambda a, b: a * b,
    "DW_OP_and": lambda a, b: a & b, "DW_OP_or": lambda a, b: a | b, "DW_OP_xor": lambda a, b: a ^ b,
    "DW_OP_shl": lambda a, b: a << (b & 127), "DW_OP_shr": lambda a, b: a >> (b & 127),
    "DW_OP_eq": lambda a, b: int(a == b), "DW_OP_ne": lambda a, b: int(a != b),
}
_SIGNED_CMP = {
    "DW_OP_lt": lambda a, b: int(a < b), "DW_OP_gt": lambda a, b: int(a > b),
    "DW_OP_le": lambda a, b: int(a <= b), "DW_OP_ge": lambda a, b: int(a >= b),
}


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def evaluate(expr: bytes | list[int], structs, frame: FrameAccess) -> Location:
    """Run ``expr`` against ``frame``; raises :class:`OptimizedOut` or :class:`LocationError`."""
    try:
        ops = DWARFExprParser(structs).parse_expr(list(expr))
    except Exception as e:  # noqa: BLE001 - pyelftools raises many types on malformed bytes
        raise LocationError(f"malformed DWARF expression ({type(e).__name__})") from None
    if not ops:
        raise OptimizedOut()
    bits = frame.xlen
    mask = (1 << bits) - 1
    stack: list[int] = []
    pieces: list[tuple[Location | None, int]] = []
    current: Location | None = None  # a register/value location waiting for its piece
    by_offset = {op.offset: i for i, op in enumerate(ops)}
    i = steps = 0

    def pop() -> int:
        if not stack:
            raise LocationError("DWARF expression stack underflow")
        return stack.pop()

    while i < len(ops):
        steps += 1
        if steps > MAX_STEPS:
            raise LocationError("DWARF expression does not terminate")
        op = ops[i]
        name, args = op.op_name, op.args
        i += 1
        if name.startswith("DW_OP_lit"):
            stack.append(int(name[9:]))
        elif name in ("DW_OP_addr", "DW_OP_const1u", "DW_OP_const2u", "DW_OP_const4u", "DW_OP_const8u",
                      "DW_OP_constu", "DW_OP_const1s", "DW_OP_const2s", "DW_OP_const4s", "DW_OP_const8s",
                      "DW_OP_consts"):
            stack.append(int(args[0]) & mask)
        elif name.startswith("DW_OP_breg") or name == "DW_OP_bregx":
            reg = int(args[0]) if name == "DW_OP_bregx" else int(name[10:])
            off = int(args[-1])
            stack.append((frame.reg(reg) + off) & mask)
        elif name.startswith("DW_OP_reg") or name == "DW_OP_regx":
            reg = int(args[0]) if name == "DW_OP_regx" else int(name[9:])
            current = Location("register", reg=reg)
        elif name == "DW_OP_fbreg":
            stack.append((frame.frame_base() + int(args[0])) & mask)
        elif name == "DW_OP_call_frame_cfa":
            stack.append(frame.cfa())
        elif name == "DW_OP_stack_value":
            current = Location("value", data=(pop() & mask).to_bytes(bits // 8, "little"))
        elif name == "DW_OP_implicit_value":
            current = Location("value", data=bytes(args[1]) if len(args) > 1 else bytes(args[0]))
        elif name in ("DW_OP_entry_value", "DW_OP_GNU_entry_value"):
            # The register's value on entry: only the caller's call-site data knows it.
            resolver = getattr(frame, "entry_value", None)
            inner = args[0] if args and isinstance(args[0], list) else []
            if resolver is None or len(inner) != 1 or not inner[0].op_name.startswith("DW_OP_reg"):
                raise OptimizedOut()
            reg_op = inner[0]
            reg = int(reg_op.args[0]) if reg_op.op_name == "DW_OP_regx" else int(reg_op.op_name[9:])
            stack.append(resolver(reg) & mask)
        elif name in ("DW_OP_implicit_pointer", "DW_OP_GNU_implicit_pointer", "DW_OP_GNU_parameter_ref"):
            raise OptimizedOut()
        elif name == "DW_OP_piece":
            size = int(args[0])
            if current is None and stack:
                current = Location("memory", addr=stack.pop())
            pieces.append((current, size))
            current = None
        elif name in _BINOPS:
            b, a = pop(), pop()
            stack.append(_BINOPS[name](a, b) & mask)
        elif name in _SIGNED_CMP:
            b, a = _signed(pop(), bits), _signed(pop(), bits)
            stack.append(_SIGNED_CMP[name](a, b))
        elif name == "DW_OP_shra":
            b, a = pop(), _signed(pop(), bits)
            stack.append((a >> (b & 127)) & mask)
        elif name in ("DW_OP_div", "DW_OP_mod"):
            b, a = pop(), pop()
            if b == 0:
                raise LocationError("division by zero in DWARF expression")
            if name == "DW_OP_div":
                sa, sb = _signed(a, bits), _signed(b, bits)
                q = abs(sa) // abs(sb) * (1 if (sa >= 0) == (sb >= 0) else -1)
                stack.append(q & mask)
            else:
                stack.append(a % b)
        elif name == "DW_OP_plus_uconst":
            stack.append((pop() + int(args[0])) & mask)
        elif name in ("DW_OP_neg", "DW_OP_not", "DW_OP_abs"):
            v = _signed(pop(), bits)
            stack.append((-v if name == "DW_OP_neg" else ~v if name == "DW_OP_not" else abs(v)) & mask)
        elif name == "DW_OP_dup":
            stack.append(stack[-1] if stack else pop())
        elif name == "DW_OP_drop":
            pop()
        elif name == "DW_OP_over":
            if len(stack) < 2:
                raise LocationError("DWARF expression stack underflow")
            stack.append(stack[-2])
        elif name == "DW_OP_pick":
            n = int(args[0])
            if n >= len(stack):
                raise LocationError("DWARF expression stack underflow")
            stack.append(stack[-1 - n])
        elif name == "DW_OP_swap":
            b, a = pop(), pop()
            stack += [b, a]
        elif name == "DW_OP_rot":
            c, b, a = pop(), pop(), pop()
            stack += [c, a, b]
        elif name in ("DW_OP_deref", "DW_OP_deref_size"):
            size = int(args[0]) if name == "DW_OP_deref_size" else bits // 8
            stack.append(int.from_bytes(frame.read(pop(), size), "little"))
        elif name in ("DW_OP_skip", "DW_OP_bra"):
            if name == "DW_OP_skip" or pop() != 0:
                target = ops[i - 1].offset + 3 + int(args[0])
                if target not in by_offset and target <= ops[-1].offset:
                    raise LocationError("DW_OP_skip/bra to a bad offset")
                i = by_offset.get(target, len(ops))
        elif name == "DW_OP_nop":
            pass
        else:
            raise LocationError(f"unsupported DWARF op {name}")
    if pieces:
        return Location("pieces", pieces=tuple(pieces))
    if current is not None:
        return current
    if not stack:
        raise OptimizedOut()
    return Location("memory", addr=stack[-1])
