"""Variables of a frame from DWARF: arguments, locals (innermost block first), globals; the
selected frame (``frame N``, ``up``, ``down``) they are read in.

A variable's location is evaluated in its frame: ``fbreg`` against the function's frame base
(usually ``DW_OP_call_frame_cfa``), registers from the frame's unwound register set (frame #0:
the live registers).  Whatever cannot be recovered prints ``<optimized out>`` as in GDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.debugger.errors import DebuggerError
from emu.dwarf.info import Scope, Variable, attr, name_of
from emu.dwarf.location import Location, LocationError, OptimizedOut, evaluate
from emu.dwarf.types import CType
from emu.dwarf.values import Value, int_bytes

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell
    from emu.debugger.frames import Frame


class _MemoryAccess:
    """Target memory for DWARF locations: the shell's reads, errors as LocationError."""

    shell: CommandShell

    def read(self, addr: int, size: int) -> bytes:
        try:
            return self.shell.read_mem(addr, size)
        except DebuggerError as e:
            raise LocationError(str(e)) from None


class FrameAccess(_MemoryAccess):
    """The :class:`emu.dwarf.location.FrameAccess` of one frame."""

    def __init__(self, shell: CommandShell, frame: Frame) -> None:
        self.shell, self.frame, self.xlen = shell, frame, shell.xlen
        self.depth = 0  # entry_value nesting (a recursive function's call value is an entry value)

    def reg(self, number: int) -> int:
        regs = self.frame.regs
        if regs is None:
            if self.frame.level == 0 and 0 <= number < 32:
                return self.shell.get_reg(f"x{number}")
            raise LocationError(f"register {number} is not available in this frame")
        if number not in regs.values:
            raise LocationError(f"register {number} is not saved in this frame")
        return regs.values[number]

    def cfa(self) -> int:
        return self.frame.cfa

    def frame_base(self) -> int:
        scope = _physical_function(self.shell, self.frame)
        if scope is None:
            raise LocationError("no frame base")
        expr = attr(scope.die, "DW_AT_frame_base")
        if expr is None:
            raise LocationError("no frame base")
        loc = evaluate(expr, self.shell.debug_info.structs, self)
        if loc.kind == "register":
            return self.reg(loc.reg)
        if loc.kind == "memory":
            return loc.addr
        raise LocationError("unsupported frame base")


    def entry_value(self, reg: int) -> int:
        """``DW_OP_entry_value(DW_OP_regN)``: the value the caller passed in register N, from the
        ``DW_TAG_call_site_parameter`` of the call that returns to the caller's pc (as GDB does)."""
        from emu.debugger import frames

        if self.depth > 4:
            raise OptimizedOut()
        stack = frames.unwind(self.shell, limit=self.frame.level + 8)
        caller = next((f for f in stack[self.frame.level + 1:] if not f.inlined and f.regs is not self.frame.regs),
                      None)
        caller = next((f for f in stack[self.frame.level + 1:] if f.regs is not self.frame.regs), None) \
            if caller is None else caller
        if caller is None:
            raise OptimizedOut()
        info = self.shell.debug_info
        fn = info.function_at(caller.lookup_pc)
        if fn is None:
            raise OptimizedOut()
        site = _call_site(fn.die, caller.pc)
        if site is None:
            raise OptimizedOut()
        for param in site.iter_children():
            if param.tag not in ("DW_TAG_call_site_parameter", "DW_TAG_GNU_call_site_parameter"):
                continue
            where = attr(param, "DW_AT_location")
            if where != [0x50 + reg] and where != bytes([0x50 + reg]):
                continue
            value = attr(param, "DW_AT_call_value", attr(param, "DW_AT_GNU_call_site_value"))
            if value is None:
                raise OptimizedOut()
            outer = FrameAccess(self.shell, caller)
            outer.depth = self.depth + 1
            loc = evaluate(value, info.structs, outer)
            if loc.kind == "value":
                return int.from_bytes(loc.data, "little")
            if loc.kind == "register":
                return outer.reg(loc.reg)
            if loc.kind == "memory":
                return loc.addr
            raise OptimizedOut()
        raise OptimizedOut()


def _call_site(die, return_pc: int):
    """The call-site DIE under a function (blocks and inlined calls included) returning to ``return_pc``."""
    todo = [die]
    while todo:
        for child in todo.pop().iter_children():
            if child.tag in ("DW_TAG_call_site", "DW_TAG_GNU_call_site"):
                pc = attr(child, "DW_AT_call_return_pc", attr(child, "DW_AT_low_pc"))
                if pc == return_pc:
                    return child
            elif child.tag in ("DW_TAG_lexical_block", "DW_TAG_inlined_subroutine"):
                todo.append(child)
    return None


def _physical_function(shell: CommandShell, frame: Frame) -> Scope | None:
    return shell.debug_info.function_at(frame.lookup_pc)


def read_variable(shell: CommandShell, frame: Frame | None, var: Variable) -> Value:
    """The value of ``var`` (a local/argument of ``frame``, or a global when ``frame`` is None)."""
    info = shell.debug_info
    t = info.type_of(var.die)
    die = var.die
    const = attr(die, "DW_AT_const_value")
    if const is not None:
        if isinstance(const, int):
            return Value(t, int_bytes(const, t.byte_size))
        return Value(t, bytes(const)[:t.byte_size])
    pc = frame.lookup_pc if frame is not None else 0
    expr = info.location_expr(die, var.cu, pc)
    if expr is None:
        return Value(t, None)
    access = FrameAccess(shell, frame) if frame is not None else _GlobalAccess(shell)
    try:
        loc = evaluate(expr, info.structs, access)
        return materialize(shell, t, loc, access)
    except OptimizedOut:
        return Value(t, None)
    except LocationError as e:
        return Value(t, None, error=str(e)) if "Cannot access memory" in str(e) else Value(t, None)


class _GlobalAccess(_MemoryAccess):
    def __init__(self, shell: CommandShell) -> None:
        self.shell, self.xlen = shell, shell.xlen

    def reg(self, number: int) -> int:
        raise LocationError("a global in a register")

    def cfa(self) -> int:
        raise LocationError("no frame")

    def frame_base(self) -> int:
        raise LocationError("no frame")


def materialize(shell: CommandShell, t: CType, loc: Location, access) -> Value:
    """The bytes of a ``t`` at ``loc`` (memory, a register, an implicit value or pieces)."""
    size = t.byte_size
    if t.strip().kind == "func":
        return Value(t, b"", loc.addr if loc.kind == "memory" else None)
    if loc.kind == "memory":
        try:
            return Value(t, shell.read_mem(loc.addr, size), loc.addr)
        except DebuggerError as e:
            return Value(t, None, loc.addr, error=str(e))
    if loc.kind == "register":
        word = shell.xlen // 8
        data = int_bytes(access.reg(loc.reg), word)
        return Value(t, (data + bytes(size))[:size], reg=loc.reg)
    if loc.kind == "value":
        return Value(t, (loc.data + bytes(size))[:size])
    data = bytearray()
    for piece, n in loc.pieces:
        if piece is None:  # an empty piece: padding the compiler does not track (reads as zero)
            data += bytes(n)
            continue
        part = materialize(shell, CType("base", "", n, 0x08), piece, access)
        if part.data is None:
            return Value(t, None)
        data += part.data[:n]
    return Value(t, (bytes(data) + bytes(size))[:size])


def arguments(shell: CommandShell, frame: Frame) -> list[tuple[str, Value]]:
    if frame.scope is None:
        return []
    params, _ = shell.debug_info.variables(frame.lookup_pc, frame.scope)
    return [(p.name, read_variable(shell, frame, p)) for p in params]


def locals_of(shell: CommandShell, frame: Frame) -> list[tuple[str, Value]]:
    """Locals innermost block first, as ``info locals`` lists them (a shadowed name once per block)."""
    if frame.scope is None:
        return []
    _, blocks = shell.debug_info.variables(frame.lookup_pc, frame.scope)
    return [(v.name, read_variable(shell, frame, v)) for block in blocks for v in block]


def lookup(shell: CommandShell, frame: Frame | None, name: str) -> Value | None:
    """``name`` in ``frame``'s scopes (innermost first), then the DWARF globals."""
    info = shell.debug_info
    if frame is not None and frame.scope is not None:
        params, blocks = info.variables(frame.lookup_pc, frame.scope)
        for block in blocks:
            for v in block:
                if v.name == name:
                    return read_variable(shell, frame, v)
        for v in params:
            if v.name == name:
                return read_variable(shell, frame, v)
    var = info.lookup_global(name)
    if var is not None:
        return read_variable(shell, None, var)
    constant = info.enumerator(name)
    if constant is not None:
        return Value(constant[0], int_bytes(constant[1], constant[0].byte_size))
    fn = info.function_named(name)
    if fn is not None:
        return Value(info.function_type(fn), b"", fn.entry_pc if fn.die.tag != "DW_TAG_subprogram" else fn.low)
    return None


def function_name(frame: Frame) -> str | None:
    return name_of(frame.scope.die) if frame.scope is not None else None
