"""The DWARF of one firmware ELF, indexed for a debugger: functions by pc, inline chains, scopes,
variables, globals, types by name, call frame information.

Parsed lazily through pyelftools on the first question (booting must not pay for it) and never
trusted: a malformed ELF gives "no debug information" for what it breaks, not an exception.
"""

from __future__ import annotations

import bisect
import io
from dataclasses import dataclass
from typing import Any

from elftools.dwarf.locationlists import BaseAddressEntry, LocationEntry, LocationParser
from elftools.elf.elffile import ELFFile

from emu.dwarf.cfi import CallFrameTable
from emu.dwarf.types import VOID, CType, TypeBuilder, base, pointer_to
from emu.elf_loader import _file_names  # the line table's own names, so rows compare

_SCOPE_TAGS = ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine", "DW_TAG_lexical_block")


def attr(die: Any, name: str, default: Any = None) -> Any:
    a = die.attributes.get(name)
    return default if a is None else a.value


def text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


def origin(die: Any) -> Any:
    """The DIE that carries the name and type: through ``abstract_origin``/``specification``."""
    seen = 0
    while seen < 8:
        for link in ("DW_AT_abstract_origin", "DW_AT_specification"):
            if link in die.attributes and "DW_AT_name" not in die.attributes:
                die = die.get_DIE_from_attribute(link)
                break
        else:
            return die
        seen += 1
    return die


def name_of(die: Any) -> str:
    return text(attr(origin(die), "DW_AT_name", ""))


@dataclass(frozen=True)
class Scope:
    """A function, inlined call or block DIE with the address ranges it covers."""

    die: Any
    cu: Any
    ranges: tuple[tuple[int, int], ...]

    def contains(self, pc: int) -> bool:
        return any(lo <= pc < hi for lo, hi in self.ranges)

    @property
    def low(self) -> int:
        return min(lo for lo, _ in self.ranges)

    @property
    def entry_pc(self) -> int:
        entry = attr(self.die, "DW_AT_entry_pc")
        if isinstance(entry, int) and self.die.attributes["DW_AT_entry_pc"].form == "DW_FORM_addr":
            return entry
        return self.low


@dataclass(frozen=True)
class Variable:
    name: str
    die: Any
    cu: Any
    is_param: bool


class DebugInfo:
    """Everything the debugger asks DWARF; ``DebugInfo.empty`` when the ELF has none."""

    def __init__(self, raw: bytes, xlen: int) -> None:
        self.xlen = xlen
        self.types = TypeBuilder(xlen)
        self._functions: list[Scope] = []
        self._starts: list[int] = []
        self._globals: dict[str, tuple[Any, Any]] = {}
        self._named_types: dict[str, Any] = {}
        self._functions_by_name: dict[str, Scope] = {}
        self._enumerators: dict[str, tuple[Any, Any]] = {}  # name -> (enum type DIE, enumerator DIE)
        self.cfi: CallFrameTable | None = None
        self.absolute_symbols: set[str] = set()  # SHN_ABS: constants, not code or data addresses
        self._file_names: dict[int, dict[int, str]] = {}
        self._rows_at: dict[int, int] | None = None
        self._prologue_ends: set[int] = set()
        self._stmt_rows: dict[tuple[str, int], set[int]] = {}
        self._loclist_cus: dict[int, bool] = {}
        self.dwarf: Any = None
        try:
            elf = ELFFile(io.BytesIO(raw))
            symtab = elf.get_section_by_name(".symtab")
            if symtab is not None and hasattr(symtab, "iter_symbols"):
                self.absolute_symbols = {sym.name for sym in symtab.iter_symbols() if sym["st_shndx"] == "SHN_ABS"}
            if not elf.has_dwarf_info():
                return
            self.dwarf = elf.get_dwarf_info()
            self._loc_parser = LocationParser(self.dwarf.location_lists())
            self._index()
            self.cfi = CallFrameTable(self.dwarf, xlen)
        except Exception:  # noqa: BLE001 - pyelftools raises many types on malformed DWARF
            self._functions, self._starts = [], []

    @property
    def structs(self) -> Any:
        return self.dwarf.structs

    # -- indexing -------------------------------------------------------------------------------
    def _index(self) -> None:
        for cu in self.dwarf.iter_CUs():
            top = cu.get_top_DIE()
            for die in top.iter_children():
                tag = die.tag
                name = text(attr(die, "DW_AT_name", ""))
                if tag == "DW_TAG_subprogram":
                    ranges = self.ranges(die, cu)
                    if ranges:
                        scope = Scope(die, cu, ranges)
                        self._functions.append(scope)
                        self._functions_by_name.setdefault(name_of(die), scope)
                elif tag == "DW_TAG_variable":
                    spec = origin(die)
                    vname = text(attr(spec, "DW_AT_name", ""))
                    if vname and ("DW_AT_location" in die.attributes or vname not in self._globals):
                        self._globals[vname] = (die, cu)
                if tag == "DW_TAG_enumeration_type":
                    for child in die.iter_children():
                        if child.tag == "DW_TAG_enumerator":
                            self._enumerators.setdefault(text(attr(child, "DW_AT_name", "")), (die, child))
                if tag in ("DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_enumeration_type") and name:
                    key = {"DW_TAG_structure_type": "struct", "DW_TAG_union_type": "union",
                           "DW_TAG_enumeration_type": "enum"}[tag] + " " + name
                    if key not in self._named_types or attr(self._named_types[key], "DW_AT_declaration"):
                        self._named_types[key] = die
                elif tag in ("DW_TAG_typedef", "DW_TAG_base_type") and name:
                    self._named_types.setdefault(name, die)
        self._functions.sort(key=lambda s: s.low)
        self._starts = [s.low for s in self._functions]

    def ranges(self, die: Any, cu: Any) -> tuple[tuple[int, int], ...]:
        """``[low, high)`` ranges of a scope DIE (``low_pc``/``high_pc`` or ``DW_AT_ranges``)."""
        if "DW_AT_low_pc" in die.attributes and "DW_AT_high_pc" in die.attributes:
            low = attr(die, "DW_AT_low_pc")
            high_attr = die.attributes["DW_AT_high_pc"]
            high = high_attr.value if high_attr.form == "DW_FORM_addr" else low + high_attr.value
            return ((low, high),)
        if "DW_AT_ranges" in die.attributes:
            rl = self.dwarf.range_lists()
            if rl is None:
                return ()
            try:
                entries = rl.get_range_list_at_offset(attr(die, "DW_AT_ranges"), cu=cu)
            except TypeError:
                entries = rl.get_range_list_at_offset(attr(die, "DW_AT_ranges"))
            base_addr = attr(cu.get_top_DIE(), "DW_AT_low_pc", 0) or 0
            out = []
            for e in entries:
                if type(e).__name__ == "BaseAddressEntry":
                    base_addr = e.base_address
                elif getattr(e, "is_absolute", False):
                    out.append((e.begin_offset, e.end_offset))
                else:
                    out.append((base_addr + e.begin_offset, base_addr + e.end_offset))
            return tuple((lo, hi) for lo, hi in out if hi > lo)
        return ()

    # -- functions and scopes ---------------------------------------------------------------------
    def function_at(self, pc: int) -> Scope | None:
        i = bisect.bisect_right(self._starts, pc) - 1
        # Ranges may interleave (cold partitions): look back a few functions.
        for j in range(i, max(-1, i - 8), -1):
            if self._functions[j].contains(pc):
                return self._functions[j]
        for f in self._functions:
            if len(f.ranges) > 1 and f.contains(pc):
                return f
        return None

    def function_named(self, name: str) -> Scope | None:
        return self._functions_by_name.get(name)

    def function_names(self) -> list[str]:
        return sorted(self._functions_by_name)

    def scopes_at(self, pc: int) -> list[Scope]:
        """Nested scopes containing ``pc``, outermost (the function) first."""
        fn = self.function_at(pc)
        if fn is None:
            return []
        chain = [fn]
        die = fn.die
        while True:
            for child in die.iter_children():
                if child.tag in ("DW_TAG_inlined_subroutine", "DW_TAG_lexical_block"):
                    rng = self.ranges(child, fn.cu)
                    if any(lo <= pc < hi for lo, hi in rng):
                        chain.append(Scope(child, fn.cu, rng))
                        die = child
                        break
            else:
                return chain

    def inline_chain(self, pc: int) -> list[Scope]:
        """The function, then each inlined call containing ``pc``, innermost last."""
        return [s for s in self.scopes_at(pc) if s.die.tag != "DW_TAG_lexical_block"]

    def variables(self, pc: int, frame_scope: Scope) -> tuple[list[Variable], list[list[Variable]]]:
        """``(params, locals by block innermost first)`` visible at ``pc`` in the function or inlined
        call ``frame_scope`` (its nested inlined calls are other frames)."""
        chain = self.scopes_at(pc)
        try:
            start = next(i for i, s in enumerate(chain) if s.die.offset == frame_scope.die.offset)
        except StopIteration:
            chain, start = [frame_scope], 0
        mine = [chain[start]]
        for s in chain[start + 1:]:
            if s.die.tag == "DW_TAG_inlined_subroutine":
                break
            mine.append(s)
        params: list[Variable] = []
        blocks: list[list[Variable]] = []
        for depth, s in enumerate(mine):
            local: list[Variable] = []
            for child in s.die.iter_children():
                if child.tag == "DW_TAG_formal_parameter" and depth == 0:
                    params.append(Variable(name_of(child), child, s.cu, True))
                elif child.tag == "DW_TAG_variable":
                    n = name_of(child)
                    if n:
                        local.append(Variable(n, child, s.cu, False))
            blocks.append(local)
        return params, list(reversed(blocks))

    def lookup_global(self, name: str) -> Variable | None:
        hit = self._globals.get(name)
        return None if hit is None else Variable(name, hit[0], hit[1], False)

    def enumerator(self, name: str) -> tuple[CType, int] | None:
        """An enumeration constant (``RED``) as ``(its enum type, value)``."""
        hit = self._enumerators.get(name)
        if hit is None:
            return None
        return self.types.build(hit[0]), int(attr(hit[1], "DW_AT_const_value", 0))

    def global_names(self) -> list[str]:
        return sorted(self._globals)

    # -- types ---------------------------------------------------------------------------------------
    def type_of(self, die: Any) -> CType:
        return self.types.of(origin(die))

    def function_type(self, scope: Scope) -> CType:
        """A function's C type: ``int (struct node *, int)``."""
        die = origin(scope.die)
        params = [self.types.of(origin(c)) for c in die.iter_children() if c.tag == "DW_TAG_formal_parameter"]
        varargs = any(c.tag == "DW_TAG_unspecified_parameters" for c in die.iter_children())
        return CType("func", target=self.types.of(die), params=params, varargs=varargs)

    def named_type(self, name: str) -> CType | None:
        """``int``, ``struct point``, ``shape_t``, ``unsigned int``... or None."""
        norm = " ".join(name.split())
        die = self._named_types.get(norm)
        if die is not None:
            return self.types.build(die)
        return _C_BASE.get(norm) if norm in _C_BASE else None

    # -- locations ---------------------------------------------------------------------------------
    def location_expr(self, die: Any, cu: Any, pc: int) -> bytes | list[int] | None:
        """The location expression in force at ``pc`` (location lists select by pc); None: optimized out."""
        a = die.attributes.get("DW_AT_location")
        if a is None:
            return None
        if a.form == "DW_FORM_exprloc" or isinstance(a.value, list):
            return a.value
        try:
            entries = self._loc_parser.parse_from_attribute(a, cu.header["version"], die)
        except Exception:  # noqa: BLE001 - a malformed list: optimized out
            return None
        if not isinstance(entries, list):
            return getattr(entries, "loc_expr", None)
        base_addr = attr(cu.get_top_DIE(), "DW_AT_low_pc", 0) or 0
        for e in entries:
            if isinstance(e, BaseAddressEntry):
                base_addr = e.base_address
            elif isinstance(e, LocationEntry):
                lo, hi = (e.begin_offset, e.end_offset) if getattr(e, "is_absolute", False) else \
                    (base_addr + e.begin_offset, base_addr + e.end_offset)
                if lo <= pc < hi:
                    return e.loc_expr
        return None

    def call_site(self, scope: Scope) -> tuple[str, int] | None:
        """``(file, line)`` an inlined call was made from (``DW_AT_call_file``/``call_line``)."""
        line = attr(scope.die, "DW_AT_call_line")
        index = attr(scope.die, "DW_AT_call_file")
        if line is None or index is None:
            return None
        return self.file_name(scope.cu, int(index)), int(line)

    def file_name(self, cu: Any, index: int) -> str:
        """A line-table file index of ``cu`` -> its path, as the line table rows name it."""
        cache = self._file_names.get(cu.cu_offset)
        if cache is None:
            lp = self.dwarf.line_program_for_CU(cu)
            cache = _file_names(lp.header) if lp is not None else {}
            self._file_names[cu.cu_offset] = cache
        return cache.get(index, "??")

    def _line_facts(self) -> tuple[dict[int, int], set[int]]:
        """Rows per address and the ``prologue_end`` addresses, from every CU's line program."""
        if self._rows_at is None:
            rows: dict[int, int] = {}
            ends: set[int] = set()
            try:
                for cu in self.dwarf.iter_CUs():
                    lp = self.dwarf.line_program_for_CU(cu)
                    if lp is None:
                        continue
                    names = _file_names(lp.header)
                    for entry in lp.get_entries():
                        st = entry.state
                        if st is None or st.end_sequence:
                            continue
                        rows[st.address] = rows.get(st.address, 0) + 1
                        if st.prologue_end:
                            ends.add(st.address)
                        if st.is_stmt:
                            key = (names.get(st.file, "?"), st.line)
                            self._stmt_rows.setdefault(key, set()).add(st.address)
            except Exception:  # noqa: BLE001 - a malformed line program: what was read so far
                pass
            self._rows_at, self._prologue_ends = rows, ends
        return self._rows_at, self._prologue_ends

    def statement_addresses(self, file: str, line: int) -> list[int]:
        """Every address with an ``is_stmt`` row for ``file:line``, including rows that share their
        address with later rows (several lines at one address in optimised code), as GDB keeps them."""
        self._line_facts()
        return sorted(self._stmt_rows.get((file, line), ()))

    def has_location_lists(self, cu: Any) -> bool:
        """Does any variable of ``cu`` use a location list?  GDB then trusts the CU's locations at
        every pc (``locations_valid``) and does not skip prologues: ``break FUNC`` stops at the
        function's first instruction in optimised (-Og and up) code."""
        key = cu.cu_offset
        if key not in self._loclist_cus:
            found = False
            try:
                for die in cu.iter_DIEs():
                    a = die.attributes.get("DW_AT_location")
                    if a is not None and a.form in ("DW_FORM_sec_offset", "DW_FORM_loclistx", "DW_FORM_data4",
                                                    "DW_FORM_data8"):
                        found = True
                        break
            except Exception:  # noqa: BLE001 - malformed DWARF: behave as for unoptimised code
                found = False
            self._loclist_cus[key] = found
        return self._loclist_cus[key]

    def rows_at(self, addr: int) -> int:
        """How many line-table rows start at ``addr`` (several at a function's start: optimised code)."""
        return self._line_facts()[0].get(addr, 0)

    def prologue_end(self, low: int, high: int) -> int | None:
        """The first address in ``[low, high)`` the compiler marked ``prologue_end``, if any."""
        hits = [a for a in self._line_facts()[1] if low <= a < high]
        return min(hits) if hits else None

    def language(self, cu: Any) -> str:
        """``c`` or ``asm``, as ``info frame`` names a frame's source language."""
        lang = attr(cu.get_top_DIE(), "DW_AT_language", 0)
        return "asm" if lang == 0x8001 else "c"


_C_BASE = {
    "char": base("char", 1, 0x08), "signed char": base("signed char", 1, 0x06),
    "unsigned char": base("unsigned char", 1, 0x08), "short": base("short", 2, 0x05),
    "unsigned short": base("unsigned short", 2, 0x07), "int": base("int", 4, 0x05),
    "unsigned int": base("unsigned int", 4, 0x07), "unsigned": base("unsigned int", 4, 0x07),
    "long long": base("long long", 8, 0x05), "unsigned long long": base("unsigned long long", 8, 0x07),
    "float": base("float", 4, 0x04), "double": base("double", 8, 0x04), "_Bool": base("_Bool", 1, 0x02),
    "void": VOID,
}


def c_base_types(xlen: int) -> dict[str, CType]:
    """The C base types by name for this XLEN (``long`` follows it), for casts without DWARF."""
    out = dict(_C_BASE)
    word = xlen // 8
    out["long"] = base("long", word, 0x05)
    out["unsigned long"] = base("unsigned long", word, 0x07)
    out["long int"] = out["long"]
    out["long unsigned int"] = out["unsigned long"]
    out["short int"] = out["short"]
    out["short unsigned int"] = out["unsigned short"]
    for bits in (8, 16, 32, 64):
        out[f"int{bits}_t"] = base(f"int{bits}_t", bits // 8, 0x05 if bits > 8 else 0x06)
        out[f"uint{bits}_t"] = base(f"uint{bits}_t", bits // 8, 0x07 if bits > 8 else 0x08)
    out["size_t"] = base("size_t", word, 0x07)
    out["uintptr_t"] = base("uintptr_t", word, 0x07)
    out["intptr_t"] = base("intptr_t", word, 0x05)
    out["void *"] = pointer_to(VOID, xlen)
    return out

