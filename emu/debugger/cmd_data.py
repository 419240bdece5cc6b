"""Looking at and changing state: ``info registers``, ``print``, ``set``, ``x``, ``info symbol``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emu.debugger import expr
from emu.debugger.cmd_code import print_insns, read_upto
from emu.debugger.errors import DebuggerError
from emu.debugger.numbers import parse_int
from emu.debugger.registers import ABI, CODE_POINTERS, MACHINE_CSRS, PRIV_NAMES, canonical
from emu.debugger.registry import Command, Registry
from emu.debugger.xformat import PER_LINE, Spec, c_string, format_scalar, parse_spec
from emu.debugger.xformat import format_value as format_unit
from emu.dwarf.values import Printer, Value

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell

MAX_STRING = 200  # bytes of one x/s string, as GDB's default "print elements" limit


def register(root: Registry, info: Registry) -> None:
    info.add(Command("registers", info_registers, "info registers [NAME...] -- general registers, pc, "
                     "privilege and machine CSRs.\nNames are ABI names (a0, sp), x0..x31, pc, priv or CSR names "
                     "(mstatus, mcause...).\n  info registers a0 sp mcause", aliases=("r", "reg"),
                     complete="register"))
    info.add(Command("all-registers", info_all_registers, "info all-registers -- every register and CSR "
                     "the hart has (supervisor CSRs and counters too)."))
    info.add(Command("symbol", info_symbol, "info symbol ADDR -- which symbol ADDR is in.\n"
                     "  info symbol 0x80000010   ->   main + 16", complete="symbol"))
    root.add(Command("print", print_cmd, "print[/FMT] EXPR -- evaluate an expression and print it.\n"
                     "EXPR: C operators over numbers, $registers, symbols (a variable's value, a function's "
                     "address),\n&var, *ADDR (an int), {TYPE} ADDR, $N (value history). FMT: x d u o t c a.\n"
                     "An assignment (p $a0 = 5) also stores.\n  p counter    p/x $sp    p {char} 0x80001000",
                     aliases=("p", "inspect"), complete="symbol"))
    root.add(Command("output", output_cmd, "output[/FMT] EXPR -- print EXPR's value alone: no $N, no newline "
                     "(for scripts).", complete="symbol"))
    root.add(Command("set", set_cmd, "set [var] LVALUE = EXPR -- change a register, memory or a variable.\n"
                     "  set $a0 = 1\n  set {int} 0x80001000 = 5\n  set var counter = 3", complete="symbol"))
    root.add(Command("x", x_cmd, "x/NFU ADDR -- examine memory: N units of size U (b h w g) in format F\n"
                     "(x d u o t a c s i).  Format and size are remembered; Enter continues after the last unit.\n"
                     "  x/4xw $sp    x/s &message    x/8i $pc", complete="symbol", repeatable=True))


def info_registers(shell: CommandShell, arg: str) -> None:
    names = arg.replace("$", "").split() or [*ABI[1:], "pc", "priv", *MACHINE_CSRS]
    for name in names:
        value = shell.get_reg(name)
        shell.out(f"{name:<15}{_hex(value):<19}{_natural(shell, canonical(name), value)}")


def info_all_registers(shell: CommandShell, arg: str) -> None:
    info_registers(shell, " ".join(n for n in shell.machine.register_names() if n != "zero"))


def _hex(value: int) -> str:
    return f"{value:#x}"


def _natural(shell: CommandShell, reg: str, value: int) -> str:
    """GDB's right-hand column: the symbol for code pointers, signed decimal for integers."""
    if reg == "priv":
        return PRIV_NAMES.get(value, "?")
    if reg in CODE_POINTERS or reg in ("sp", "gp", "tp") or reg in MACHINE_CSRS:
        name = shell.describe(value) if reg in CODE_POINTERS else None
        return f"{value:#x} <{name}>" if name else f"{value:#x}"
    return str(expr.to_signed(value, shell.xlen))


def _print_spec(arg: str) -> tuple[str | None, str]:
    if not arg.startswith("/"):
        return None, arg
    word, _, rest = arg[1:].partition(" ")
    if len(word) != 1 or word not in "xduotcaz":
        raise DebuggerError(f'Undefined output format "{word}".')
    return word, rest.strip()


def printer(shell: CommandShell, fmt: str | None = None) -> Printer:
    """How this shell prints values: pointers name the data or code symbol they point at."""
    return Printer(shell.data_symbol, shell.read_mem, fmt)


def format_value(shell: CommandShell, v: Value, fmt: str | None) -> str:
    """The text after ``$N = `` for any value, typed from DWARF or a bare ELF symbol."""
    if v.type.kind == "void":
        return "void"
    if v.type.kind == "nodebug":
        return _nodebug(shell, v, fmt)
    return printer(shell, fmt).top(v)


def _nodebug(shell: CommandShell, v: Value, fmt: str | None) -> str:
    """A symbol without DWARF: functions as ``{<text variable, no debug info>} 0x... <f>``, data as ints."""
    if v.type.target is not None:  # a 1/2/4/8-byte data symbol: an int of its size, as before DWARF
        n = expr.as_int(v)
        return format_scalar(n, fmt, 8 * v.type.size)
    addr = v.address or 0
    sym = shell.elf.symbol_at(addr)
    if "data" in v.type.name and sym is not None:
        return _array(shell, addr, sym[0].size, fmt)
    if fmt is not None:
        return format_scalar(addr, fmt, shell.xlen)
    return f"{{{v.type.name}}} {addr:#x}" + (f" <{sym[0].name}>" if sym else "")


def print_cmd(shell: CommandShell, arg: str) -> None:
    fmt, text = _print_spec(arg.strip())
    if not text:
        value = shell.history_value(None)
    else:
        node = expr.parse(text, shell.xlen, shell.named_type)
        value = expr.evaluate_value(node, shell)
        if node.op == "=":
            shell.timeline.state_changed()
    shown = format_value(shell, value, fmt)
    if value.type.kind == "void":
        shell.out(f"${shell.record(value)} = void")
        return
    shell.out(f"${shell.record(value)} = {shown}")


def output_cmd(shell: CommandShell, arg: str) -> None:
    fmt, text = _print_spec(arg.strip())
    if not text:
        raise DebuggerError("Argument required (expression to compute).")
    value = expr.evaluate_value(expr.parse(text, shell.xlen, shell.named_type), shell)
    shell.write(format_value(shell, value, fmt))


def _array(shell: CommandShell, addr: int, size: int, fmt: str | None) -> str:
    """An array-like variable: ints when the size allows, else bytes, at most 64 elements."""
    unit = 4 if size % 4 == 0 else 1
    data = shell.read_mem(addr, min(size, 64 * unit))
    items = [int.from_bytes(data[i:i + unit], "little") for i in range(0, len(data), unit)]
    shown = [format_scalar(expr.to_signed(v, 8 * unit) if fmt is None else v, fmt, 8 * unit) for v in items]
    more = "..." if size > len(data) else ""
    return "{" + ", ".join(shown) + more + "}"


def set_cmd(shell: CommandShell, arg: str) -> None:
    text = arg.strip()
    word, _, value = text.partition(" ")
    if word in ("pagination", "height"):  # the interactive pager (emu.debugger.pager)
        _set_pager(shell, word, value.strip())
        return
    if text.split(" ", 1)[0] == "listsize":  # ``set listsize N|unlimited``: lines per ``list``
        value = text[len("listsize"):].strip()
        if value in ("unlimited", "0"):
            shell.list_size = 1 << 20
            return
        size = parse_int(value, "list size")
        if not 1 <= size <= 1 << 20:
            raise DebuggerError(f"integer {size} out of range")
        shell.list_size = size
        return
    for prefix in ("variable ", "var "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    node = expr.parse(text, shell.xlen, shell.named_type)
    if node.op != "=":
        raise DebuggerError("set: expected an assignment, e.g. set $a0 = 1 or set {int} 0x80001000 = 5")
    expr.evaluate_value(node, shell)
    shell.timeline.state_changed()


def _set_pager(shell: CommandShell, word: str, value: str) -> None:
    pager = shell.pager
    if word == "pagination":
        if value not in ("on", "off", ""):
            raise DebuggerError('"on" or "off" expected.')
        if pager is not None:
            pager.enabled = value != "off"
        return
    height = 0 if value == "unlimited" else parse_int(value, "height")
    if height < 0:
        raise DebuggerError(f"integer {height} out of range")
    if pager is not None:
        pager.fixed_height = height


def x_cmd(shell: CommandShell, arg: str) -> None:
    spec, text = parse_spec(arg, shell.x_spec, shell.xlen)
    if text:
        addr = expr.eval_text(text, shell)
    elif shell.x_next is not None:
        addr = shell.x_next
    else:
        raise DebuggerError("Argument required (starting display address).")
    shell.x_spec = spec
    addr &= (1 << shell.xlen) - 1
    if spec.fmt == "i":
        shell.x_next = print_insns(shell, addr, spec.count)
    elif spec.fmt == "s":
        shell.x_next = _x_strings(shell, addr, spec.count)
    else:
        shell.x_next = _x_units(shell, addr, spec)
    last = shell.x_next - (spec.size if spec.fmt not in "is" else 0)
    shell.set_convenience_int("_", last if spec.fmt not in "is" else addr, "unsigned long")  # GDB's $_
    shell.last_repeatable = "x"


def _label(shell: CommandShell, addr: int) -> str:
    name = shell.describe(addr)
    return f"{addr:#x} <{name}>:" if name else f"{addr:#x}:"


def _x_units(shell: CommandShell, addr: int, spec: Spec) -> int:
    data = shell.read_mem(addr, spec.count * spec.size)
    per_line = PER_LINE[spec.size]
    for start in range(0, spec.count, per_line):
        cells = []
        for i in range(start, min(start + per_line, spec.count)):
            value = int.from_bytes(data[i * spec.size:(i + 1) * spec.size], "little")
            cells.append(_cell(shell, value, spec))
        shell.out(_label(shell, addr + start * spec.size) + "\t" + "\t".join(cells))
    return addr + spec.count * spec.size


def _cell(shell: CommandShell, value: int, spec: Spec) -> str:
    if spec.fmt == "a":
        name = shell.describe(value)
        return f"{value:#x}" + (f" <{name}>" if name else "")
    return format_unit(value, spec.fmt, spec.size)


def _x_strings(shell: CommandShell, addr: int, count: int) -> int:
    for _ in range(count):
        # One read per string (up to 200 bytes, fewer at the end of RAM), then byte by byte only
        # where RAM ends, so a string running off it fails at the first missing byte, as in GDB.
        data = bytearray(read_upto(shell, addr, MAX_STRING))
        end = data.find(0)
        if end >= 0:
            del data[end:]
        else:
            while len(data) < MAX_STRING:
                byte = shell.read_mem(addr + len(data), 1)[0]
                if byte == 0:
                    break
                data.append(byte)
        text = c_string(bytes(data)) + ("..." if len(data) == MAX_STRING else "")
        shell.out(f"{_label(shell, addr)}\t{text}")
        addr += len(data) + 1
    return addr


def info_symbol(shell: CommandShell, arg: str) -> None:
    if not arg.strip():
        raise DebuggerError("Argument required (address).")
    addr = expr.eval_text(arg, shell)
    hit = shell.elf.symbol_at(addr)
    if hit is None:
        shell.out(f"No symbol matches {arg.strip()}.")
        return
    sym, off = hit
    shell.out(f"{sym.name} + {off}" if off else sym.name)
