"""C types from DWARF DIEs, and how GDB writes them (``whatis``, ``ptype``, ``(struct node *)``).

A :class:`CType` is built once per DIE offset (recursive types such as a linked list's ``next``
point back at their struct, so members are filled after the struct is cached).  Only what a C
debugger needs is kept: kind, name, size, encoding, target, members, enumerators, array length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# DWARF base type encodings (DW_ATE_*) -> what printing needs to know.
ATE_BOOLEAN, ATE_FLOAT, ATE_SIGNED, ATE_SIGNED_CHAR, ATE_UNSIGNED, ATE_UNSIGNED_CHAR, ATE_UTF = (
    0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x10)

_KINDS = {
    "DW_TAG_base_type": "base", "DW_TAG_structure_type": "struct", "DW_TAG_union_type": "union",
    "DW_TAG_enumeration_type": "enum", "DW_TAG_array_type": "array", "DW_TAG_pointer_type": "pointer",
    "DW_TAG_typedef": "typedef", "DW_TAG_const_type": "const", "DW_TAG_volatile_type": "volatile",
    "DW_TAG_subroutine_type": "func", "DW_TAG_restrict_type": "restrict", "DW_TAG_atomic_type": "atomic",
}


@dataclass(eq=False)
class Member:
    name: str
    type: CType
    offset: int                 # bytes from the start of the struct
    bit_size: int = 0           # 0: not a bitfield
    bit_offset: int = 0         # bits from the start of the struct (DWARF 4/5 data_bit_offset)


@dataclass(eq=False)
class CType:
    """One C type; ``target`` is the pointee, element, aliased or qualified type, or the return type."""

    kind: str                   # base struct union enum array pointer typedef const volatile func void
    name: str = ""
    size: int = 0
    encoding: int = 0
    target: CType | None = None
    members: list[Member] = field(default_factory=list)
    enumerators: list[tuple[str, int]] = field(default_factory=list)
    count: int | None = None    # array length; None: unknown (``int []``)
    params: list[CType] = field(default_factory=list)
    varargs: bool = False
    prototyped: bool = True     # a function type: ``int (void)``, or ``int ()`` when unprototyped
    declaration: bool = False   # an incomplete struct (``struct foo;``)

    # -- what the type is underneath ------------------------------------------------------------
    def strip(self) -> CType:
        """The type under typedefs and qualifiers (what decides how a value prints)."""
        t = self
        for _ in range(64):  # a typedef cycle in a hostile ELF must not loop forever
            if t.kind not in ("typedef", "const", "volatile", "restrict", "atomic") or t.target is None:
                break
            t = t.target
        if t.kind in ("typedef", "const", "volatile", "restrict", "atomic"):
            return VOID
        return t

    @property
    def byte_size(self) -> int:
        t = self.strip()
        if t.kind == "array":
            return (t.count or 0) * (t.target.byte_size if t.target else 0)
        return t.size

    @property
    def is_signed(self) -> bool:
        t = self.strip()
        if t.kind == "enum":
            return any(v < 0 for _, v in t.enumerators) or (t.target is not None and t.target.is_signed)
        return t.kind == "base" and t.encoding in (ATE_SIGNED, ATE_SIGNED_CHAR)

    @property
    def is_char(self) -> bool:
        t = self.strip()
        return t.kind == "base" and t.size == 1 and t.encoding in (ATE_SIGNED_CHAR, ATE_UNSIGNED_CHAR)

    @property
    def is_scalar(self) -> bool:
        return self.strip().kind in ("base", "enum", "pointer")

    @property
    def is_integer(self) -> bool:
        t = self.strip()
        return t.kind == "enum" or (t.kind == "base" and t.encoding != ATE_FLOAT)

    def member(self, name: str) -> Member | None:
        for m in self.strip().members:
            if m.name == name:
                return m
        for m in self.strip().members:  # anonymous struct/union members
            if not m.name and m.type.strip().kind in ("struct", "union"):
                inner = m.type.member(name)
                if inner is not None:
                    return Member(inner.name, inner.type, m.offset + inner.offset, inner.bit_size,
                                  inner.bit_offset + 8 * m.offset)
        return None


VOID = CType("void", "void")


def base(name: str, size: int, encoding: int) -> CType:
    return CType("base", name, size, encoding)


def pointer_to(target: CType, xlen: int) -> CType:
    return CType("pointer", "", xlen // 8, target=target)


# -- names as GDB writes them ----------------------------------------------------------------------------
def _prefix(t: CType) -> str:
    """The leftmost part: ``int``, ``struct point``, ``const volatile int``."""
    if t.kind == "struct":
        return f"struct {t.name}" if t.name else "struct {...}"
    if t.kind == "union":
        return f"union {t.name}" if t.name else "union {...}"
    if t.kind == "enum":
        return f"enum {t.name}" if t.name else "enum {...}"
    if t.kind in ("const", "volatile", "restrict", "atomic"):
        quals, inner = _qualifiers(t)
        return f"{' '.join(quals)} {_prefix(inner)}"
    return t.name or "void"


def _qualifiers(t: CType) -> tuple[list[str], CType]:
    quals: list[str] = []
    while t.kind in ("const", "volatile", "restrict", "atomic"):
        quals.append(t.kind)
        t = t.target or VOID
    order = ("const", "volatile", "restrict", "atomic")  # GDB's order, whatever DWARF's nesting
    return sorted(set(quals), key=order.index), t


def declare(t: CType, inner: str = "") -> str:
    """C declarator text: ``declare(int[5], "arr")`` -> ``int arr[5]``; with ``inner=""``, the type name."""
    if t.kind == "pointer":
        target = t.target or VOID
        text = "*" + inner
        if target.kind in ("array", "func"):
            text = f"({text})"
        return declare(target, text)
    if t.kind in ("const", "volatile", "restrict", "atomic"):
        quals, under = _qualifiers(t)
        if under.kind == "pointer":  # ``int * const p``
            return declare(under, f" {' '.join(quals)}" + (f" {inner}" if inner else ""))
    if t.kind == "array":
        dim = f"[{t.count}]" if t.count is not None else "[]"
        return declare(t.target or VOID, inner + dim)
    if t.kind == "func":
        params = ", ".join(declare(p) for p in t.params) + (", ..." if t.varargs and t.params else "")
        if not t.params and not t.varargs:
            params = "void" if t.prototyped else ""
        return declare(t.target or VOID, f"{inner}({params})")
    head = _prefix(t)
    if not inner:
        return head
    return f"{head} {inner.lstrip()}" if inner.startswith(" ") else f"{head} {inner}"


def type_name(t: CType) -> str:
    """What ``whatis`` prints: typedef names kept, ``struct node *``, ``int [5]``."""
    return declare(t)


def ptype_text(t: CType) -> str:
    """What ``ptype`` prints: typedefs resolved down to the base type, whose struct, union or enum
    body is expanded in place (``struct shape {...} *`` for a ``shape_t *``)."""
    resolved = _resolve_base(t)
    base_t = resolved
    while base_t.kind in ("pointer", "array", "const", "volatile", "restrict", "atomic", "func") \
            and base_t.target is not None:
        base_t = base_t.target
    name = declare(resolved)
    if base_t.kind not in ("struct", "union", "enum") or base_t.declaration:
        return name
    head = _prefix(base_t)
    return name.replace(head, head + " " + _body(base_t), 1) if head in name else name


def _resolve_base(t: CType) -> CType:
    """``t`` with the typedefs of its outer level and at the bottom of its declarator resolved."""
    while t.kind == "typedef" and t.target is not None:
        t = t.target
    if t.kind in ("pointer", "array", "const", "volatile", "restrict", "atomic", "func") and t.target is not None:
        inner = _resolve_base(t.target)
        if inner is not t.target:
            return CType(t.kind, t.name, t.size, t.encoding, inner, t.members, t.enumerators, t.count,
                         t.params, t.varargs, t.prototyped, t.declaration)
    return t


def _body(t: CType) -> str:
    if t.kind == "enum":
        parts = []
        expected = 0
        for n, v in t.enumerators:
            parts.append(n if v == expected else f"{n} = {v}")
            expected = v + 1
        return "{" + ", ".join(parts) + "}"
    lines = ["{"]
    for m in t.members:
        text = declare(m.type, m.name)
        if m.bit_size:
            text += f" : {m.bit_size}"
        lines.append(f"    {text};")
    lines.append("}")
    return "\n".join(lines)


# -- building from DIEs -----------------------------------------------------------------------------------
def _attr(die: Any, name: str, default: Any = None) -> Any:
    a = die.attributes.get(name)
    return default if a is None else a.value


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


# GCC names base types "short int", "long unsigned int"...; GDB prints them the short C way.
_GDB_BASE_NAMES = {
    "short int": "short", "short unsigned int": "unsigned short", "long int": "long",
    "long unsigned int": "unsigned long", "long long int": "long long",
    "long long unsigned int": "unsigned long long",
}


class TypeBuilder:
    """DIE -> :class:`CType`, cached by DIE offset (so recursive types terminate)."""

    MAX_DEPTH = 64  # nested type DIEs followed at once; a hostile ELF's deeper chain ends in void

    def __init__(self, xlen: int) -> None:
        self.xlen = xlen
        self._cache: dict[int, CType] = {}
        self._depth = 0

    def of(self, die: Any | None) -> CType:
        """The type a DIE's ``DW_AT_type`` names (void when absent)."""
        if die is None or "DW_AT_type" not in die.attributes:
            return VOID
        return self.build(die.get_DIE_from_attribute("DW_AT_type"))

    def build(self, die: Any) -> CType:
        cached = self._cache.get(die.offset)
        if cached is not None:
            return cached
        if self._depth >= self.MAX_DEPTH:
            return VOID
        self._depth += 1
        try:
            return self._build(die)
        finally:
            self._depth -= 1

    def _build(self, die: Any) -> CType:
        kind = _KINDS.get(die.tag, "void")
        t = CType(kind, _text(_attr(die, "DW_AT_name", "")), int(_attr(die, "DW_AT_byte_size", 0) or 0),
                  int(_attr(die, "DW_AT_encoding", 0) or 0))
        t.declaration = bool(_attr(die, "DW_AT_declaration", False))
        if kind == "base":
            t.name = _GDB_BASE_NAMES.get(t.name, t.name)
        self._cache[die.offset] = t
        if kind == "pointer" and not t.size:
            t.size = self.xlen // 8
        if kind in ("pointer", "typedef", "const", "volatile", "restrict", "atomic", "func", "enum", "array"):
            t.target = self.of(die) if "DW_AT_type" in die.attributes else (VOID if kind != "enum" else None)
        if kind in ("struct", "union"):
            for child in die.iter_children():
                if child.tag == "DW_TAG_member":
                    t.members.append(self._member(child))
        elif kind == "enum":
            for child in die.iter_children():
                if child.tag == "DW_TAG_enumerator":
                    v = int(_attr(child, "DW_AT_const_value", 0))
                    if t.target is not None and not t.target.is_signed and v < 0:
                        v &= (1 << (8 * t.size)) - 1
                    t.enumerators.append((_text(_attr(child, "DW_AT_name")), v))
        elif kind == "array":
            dims = []
            for child in die.iter_children():
                if child.tag == "DW_TAG_subrange_type":
                    if "DW_AT_count" in child.attributes:
                        dims.append(int(_attr(child, "DW_AT_count")))
                    elif "DW_AT_upper_bound" in child.attributes and isinstance(_attr(child, "DW_AT_upper_bound"), int):
                        dims.append(int(_attr(child, "DW_AT_upper_bound")) + 1)
                    else:
                        dims.append(None)
            element = t.target or VOID
            for n in reversed(dims[1:]):  # int a[2][3] is an array of 2 arrays of 3
                element = CType("array", target=element, count=n)
            t.count = dims[0] if dims else None
            t.target = element
        elif kind == "func":
            t.prototyped = bool(_attr(die, "DW_AT_prototyped", False))
            for child in die.iter_children():
                if child.tag == "DW_TAG_formal_parameter":
                    t.params.append(self.of(child))
                elif child.tag == "DW_TAG_unspecified_parameters":
                    t.varargs = True
        return t

    def _member(self, die: Any) -> Member:
        mtype = self.of(die)
        loc = _attr(die, "DW_AT_data_member_location", 0)
        offset = loc if isinstance(loc, int) else 0
        bit_size = int(_attr(die, "DW_AT_bit_size", 0) or 0)
        if "DW_AT_data_bit_offset" in die.attributes:
            bit_offset = int(_attr(die, "DW_AT_data_bit_offset"))
            offset = bit_offset // 8
        elif bit_size and "DW_AT_bit_offset" in die.attributes:  # DWARF 2/3, big-endian numbering
            storage = int(_attr(die, "DW_AT_byte_size", mtype.byte_size))
            bit_offset = 8 * offset + 8 * storage - int(_attr(die, "DW_AT_bit_offset")) - bit_size
        else:
            bit_offset = 8 * offset
        return Member(_text(_attr(die, "DW_AT_name", "")), mtype, offset, bit_size, bit_offset)
