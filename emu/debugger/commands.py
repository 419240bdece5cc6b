"""The debugger's command layer: ``CommandShell(machine, write).execute(line)``.

This is the whole debugger minus the terminal: the prompt_toolkit REPL, the
``--batch`` scripts and the GDB stub's ``monitor`` all feed lines into
:meth:`CommandShell.execute`, and everything the user sees goes through
``write``.  Commands live in the ``cmd_*`` modules, grouped by what they
touch; this module keeps what they share: the registry, the machine access
that turns Machine errors into one-line messages, and the GDB-style
"where are we" lines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import emu.debugger.cmd_faults as cmd_faults
from emu.debugger import (
    cmd_break,
    cmd_code,
    cmd_data,
    cmd_frames,
    cmd_misc,
    cmd_npu,
    cmd_platform,
    cmd_reverse,
    cmd_run,
    cmd_time,
)
from emu.debugger.bptable import BreakpointTable
from emu.debugger.disasm import Disassembler
from emu.debugger.errors import DebuggerError
from emu.debugger.pager import Pager
from emu.debugger.registers import canonical
from emu.debugger.registry import Command, Registry, split_command
from emu.debugger.source import SourceCache
from emu.debugger.xformat import Spec
from emu.dwarf.info import DebugInfo
from emu.dwarf.types import CType
from emu.dwarf.values import Value
from emu.errors import EmuError

if TYPE_CHECKING:
    from emu.elf_loader import ElfImage
    from emu.machine import Machine

Write = Callable[[str], None]


def build_registry() -> Registry:
    """All commands; ``info`` and ``npu`` carry sub-registries the cmd modules fill."""
    root = Registry()
    info = Registry("info")
    root.add(Command("info", None, "info WHAT -- show registers, breakpoints, devices, time, ...\n"
                     "Type \"help info\" for the list.", aliases=("i", "inf"), subcommands=info))
    for module in (cmd_run, cmd_break, cmd_data, cmd_code, cmd_frames, cmd_platform, cmd_npu, cmd_time, cmd_reverse,
                   cmd_misc):
        module.register(root, info)
    cmd_faults.register(root, info)
    return root


def _from_pyelftools(error: BaseException) -> bool:
    """Was ``error`` raised while pyelftools decoded DWARF (its own errors, or the KeyError/struct
    errors malformed bytes cause in it)?"""
    tb = error.__traceback__
    while tb is not None:
        if "/elftools/" in tb.tb_frame.f_code.co_filename.replace("\\", "/"):
            return True
        tb = tb.tb_next
    return False


class CommandShell:
    """Executes debugger command lines against one Machine; owns breakpoints, snapshots and history."""

    def __init__(self, machine: Machine, write: Write) -> None:
        self.machine = machine
        self.write = write
        self.registry = build_registry()
        self.breakpoints = BreakpointTable(machine)
        self.disassembler = Disassembler(machine.xlen)
        self.sources = SourceCache()
        self.values: list[Value] = []  # GDB's value history: $1, $2, ...
        self.convenience: dict[str, Value] = {}  # $name variables (set $x = 1, $_, $_exitcode)
        self._debug_info: DebugInfo | None = None
        self._debug_info_elf: object = None
        self._frame_level = 0
        self._frame_key: tuple[int, int, int] | None = None  # the stop the selection belongs to
        self.list_size = cmd_code.LIST_SIZE  # ``set listsize``
        self.pager: Pager | None = None  # the terminal REPL's (emu.debugger.pager), else None
        self.resolved_line: tuple[int, str, int] | None = None  # (addr, file, line) of the last FILE:LINE
        self.displays: list[cmd_frames.Display] = []
        self.display_next = 0
        self.x_spec = Spec()
        self.x_next: int | None = None  # where a bare ``x`` (or Enter after x) continues
        self.list_next: tuple[str, int] | None = None  # (file, first line) of the next bare ``list``
        self.last_repeatable = ""
        self.interrupted = threading.Event()
        self.quit_requested: int | None = None
        self.source_depth = 0
        self.timeline = cmd_time.Timeline(self)

    # -- running lines ---------------------------------------------------------------------------
    def execute(self, line: str) -> bool:
        """Run one command line; print errors as one line.  Returns False when the command failed.

        An empty line repeats the last repeatable command (stepping, ``x``, ``list``), as
        Enter does in GDB; a line starting with ``#`` is a comment.
        """
        text = line.strip()
        if not text:
            text = self.last_repeatable
            if not text:
                return True
        elif text.startswith("#"):
            return True
        try:
            command, arg = self.resolve(text)
            self.last_repeatable = text if command.repeatable else ""
            if command.handler is None:
                raise DebuggerError(f'"{command.name}" must be followed by a sub-command.  Try "help {command.name}".')
            before = self._moved_key()
            try:
                command.handler(self, arg)
            finally:
                self.timeline.note_stop()
            if self.displays and self._moved_key() != before:
                cmd_frames.show_displays(self)
            return True
        except EmuError as e:
            self.write(f"{e}\n")
        except KeyboardInterrupt:
            self.machine.request_stop()
            self.write("Quit\n")
        except Exception as e:  # noqa: BLE001 - last line of defence: nothing typed may kill the shell
            if _from_pyelftools(e):  # DWARF parsed lazily: a hostile ELF fails deep inside pyelftools
                detail = str(e).splitlines()[0] if str(e) else ""
                self.write(f"Malformed debug information in the ELF ({type(e).__name__}: {detail})\n")
            else:
                self.write(f"internal error in \"{text}\": {type(e).__name__}: {e}\n")
        return False

    def _moved_key(self) -> tuple[int, int]:
        """Changes when the target ran (GDB shows the ``display`` list after each stop)."""
        try:
            return self.pc, int(getattr(self.machine, "insn_count", 0) or 0)
        except Exception:  # noqa: BLE001 - a machine that cannot say: treat as not moved
            return 0, 0

    def resolve(self, text: str) -> tuple[Command, str]:
        """The command and its argument text, descending into ``info``/``npu``/... sub-commands."""
        word, arg = split_command(text)
        command = self.registry.resolve(word)
        while command.subcommands is not None and arg:
            word, rest = split_command(arg)
            command, arg = command.subcommands.resolve(word), rest
        return command, arg

    def interrupt(self) -> None:
        """Ctrl-C from another thread: stop the machine, any stepping loop of ours and a
        reverse-continue's search."""
        self.interrupted.set()
        self.timeline.travel.cancel.set()
        self.machine.request_stop()

    # -- output --------------------------------------------------------------------------------------
    def out(self, text: str = "") -> None:
        self.write(text + "\n")

    # -- machine access with one-line errors ------------------------------------------------------------
    @property
    def xlen(self) -> int:
        return int(self.machine.xlen)

    @property
    def elf(self) -> ElfImage:
        if self.machine.elf is None:
            raise DebuggerError("No firmware loaded.")
        return self.machine.elf

    def get_reg(self, name: str) -> int:
        reg = canonical(name)
        try:
            return int(self.machine.read_reg(reg))
        except (KeyError, ValueError, EmuError) as e:
            raise DebuggerError(f"Invalid register `{name}'") from e

    def set_reg(self, name: str, value: int) -> None:
        reg = canonical(name)
        if reg == "zero":
            return  # x0 ignores writes, as on hardware
        try:
            self.machine.write_reg(reg, value & ((1 << self.xlen) - 1) if reg != "priv" else value)
        except (KeyError, ValueError, EmuError) as e:
            raise DebuggerError(f"Invalid register `{name}'") from e
        self.timeline.state_changed()

    def read_mem(self, addr: int, size: int) -> bytes:
        """Target memory for ``x``, ``p`` and the DWARF readers: RAM, and device registers that
        read without side effects through ``Machine.peek`` when the Machine has it (a refused
        register's message names it)."""
        if addr < 0 or size < 0 or addr + size > 1 << self.xlen:
            raise DebuggerError(f"Cannot access memory at address {addr:#x}")
        peek = getattr(self.machine, "peek", None)
        try:
            return bytes(peek(addr, size) if peek is not None else self.machine.read_mem(addr, size))
        except EmuError as e:
            detail = str(e).splitlines()[0] if peek is not None and str(e) else ""
            if detail and "register" in detail:
                raise DebuggerError(detail) from None
            raise DebuggerError(f"Cannot access memory at address {addr:#x}") from None

    def read_int(self, addr: int, size: int) -> int:
        return int.from_bytes(self.read_mem(addr, size), "little")

    def write_int(self, addr: int, size: int, value: int) -> None:
        self.write_mem(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def write_mem(self, addr: int, data: bytes) -> None:
        self.read_mem(addr, len(data))  # same bounds message as a read
        self.machine.write_mem(addr, data)
        self.timeline.state_changed()

    def symbol(self, name: str) -> tuple[int, int, bool] | None:
        sym = self.elf.lookup(name)
        return None if sym is None else (sym.addr, sym.size, sym.kind == "object")

    def history(self, index: int | None) -> int:
        from emu.debugger.expr import as_int

        return as_int(self.history_value(index))

    def history_value(self, index: int | None) -> Value:
        if not self.values:
            raise DebuggerError("History is empty.")
        if index is None:
            return self.values[-1]
        if not 1 <= index <= len(self.values):
            raise DebuggerError(f"History has not yet reached ${index}.")
        return self.values[index - 1]

    def record(self, value: Value) -> int:
        """Append to the value history; returns its number (``$N``)."""
        self.values.append(value)
        return len(self.values)

    # -- DWARF: variables, types, the selected frame -------------------------------------------------
    @property
    def debug_info(self) -> DebugInfo:
        """The ELF's DWARF, parsed on first use."""
        if self._debug_info is None or self._debug_info_elf is not self.elf:
            self._debug_info = DebugInfo(self.elf.raw, self.xlen)
            self._debug_info_elf = self.elf
        return self._debug_info

    def _stop_key(self) -> tuple[int, int, int]:
        return (self.pc, self.get_reg("sp"), int(getattr(self.machine, "insn_count", 0) or 0))

    @property
    def frame_level(self) -> int:
        """The selected frame (``frame N``, ``up``, ``down``); back to 0 whenever the target moved."""
        if self._frame_key != self._stop_key():
            self._frame_level, self._frame_key = 0, self._stop_key()
        return self._frame_level

    def select_frame(self, level: int) -> None:
        self._frame_level, self._frame_key = level, self._stop_key()

    def selected_frame(self):
        """The selected :class:`emu.debugger.frames.Frame`, or None without one."""
        from emu.debugger import frames

        level = self.frame_level
        stack = frames.unwind(self, limit=level + 1)
        if not stack:
            return None
        return stack[min(level, len(stack) - 1)]

    def variable(self, name: str) -> Value | None:
        """``name`` as a C variable of the selected frame, a DWARF global or function; None if unknown."""
        from emu.debugger import scope

        if self.machine.elf is None:
            return None
        frame = self.selected_frame() if self.debug_info.function_at(self.pc) is not None or self._frame_level \
            else None
        return scope.lookup(self, frame, name)

    def set_convenience_int(self, name: str, value: int, type_name: str = "int") -> None:
        """Set ``$name`` to an integer of a C type (GDB sets ``$_``, ``$_exitcode`` this way)."""
        from emu.debugger.expr import _builtin_type
        from emu.dwarf.values import int_bytes

        t = _builtin_type(type_name, self.xlen)
        assert t is not None
        self.convenience[name] = Value(t, int_bytes(value, t.byte_size))

    def named_type(self, name: str) -> CType | None:
        if self.machine.elf is None:
            return None
        return self.debug_info.named_type(name)

    def set_dwarf_reg(self, number: int, value: int) -> None:
        """Assign a variable living in a register: only in frame #0, whose registers are the live ones."""
        if self.frame_level != 0:
            raise DebuggerError("Assigning to a register variable of an outer frame is not supported.")
        self.set_reg(f"x{number}", value)

    @property
    def pc(self) -> int:
        return int(self.machine.read_reg("pc"))

    # -- symbols and lines -----------------------------------------------------------------------------
    def describe(self, addr: int) -> str | None:
        """``main+4`` for an address inside a symbol, else None."""
        hit = self.elf.symbol_at(addr)
        if hit is None or not self._loaded(hit[0].name):
            return None
        sym, off = hit
        return f"{sym.name}+{off}" if off else sym.name

    def data_symbol(self, addr: int) -> str | None:
        """``nodes+8`` when ``addr`` is inside a data object or function (how GDB annotates pointers)."""
        hit = self.elf.symbol_at(addr)
        if hit is None or hit[0].kind not in ("func", "object") or not self._loaded(hit[0].name):
            return None
        sym, off = hit
        if sym.size and off >= sym.size:
            return None
        return f"{sym.name}+{off}" if off else sym.name

    def _loaded(self, name: str) -> bool:
        """False for absolute symbols (picolibc's at 0 such as ``vfscanf``): constants, not code or data."""
        return name not in self.debug_info.absolute_symbols

    def function_of(self, addr: int) -> str | None:
        """The code symbol containing ``addr``: a C function or an assembly label (``trap_entry``)."""
        hit = self.elf.symbol_at(addr)
        return hit[0].name if hit is not None and hit[0].kind in ("func", "notype") else None

    def location_line(self, addr: int, prefix: str = "") -> None:
        """Print where ``addr`` is, as GDB does after a stop.

        ``check (p=0x80002048 <nodes>, k=3) at main.c:105`` then the source line; ``0x... in``
        in front when ``addr`` is not the start of a line; ``0x... in ?? ()`` without symbols.
        At the pc, the innermost frame (an inlined call included) names the function.
        """
        if addr == self.pc and self.machine.elf is not None:
            from emu.debugger import frames

            stack = frames.unwind(self, limit=2)
            if stack and stack[0].scope is not None:
                self.select_frame(0)
                cmd_frames.print_frame(self, stack[0], stack, prefix, level=False)
                return
        elf = self.elf
        func = self.function_of(addr)
        where = elf.line_for(addr)
        at_start = where is not None and self.sources.is_line_start(elf, addr)
        text = "" if at_start else f"{addr:#x} in "
        text += f"{func or '??'} ()"
        if where is not None:
            text += f" at {self.sources.short(where[0])}:{where[1]}"
        self.out(prefix + text)
        if where is not None:
            self.out(self.sources.line_text(where[0], where[1]))
            self.list_next = (where[0], max(1, where[1] - 5))

    def frame_line(self, addr: int) -> None:
        """What ``stepi``/``step`` print: the source line, prefixed by the pc when mid-line."""
        elf = self.elf
        where = elf.line_for(addr)
        if where is None:
            self.out(f"{addr:#x} in {self.function_of(addr) or '??'} ()")
            return
        if not self.sources.is_line_start(elf, addr):
            self.out(f"{addr:#x}\t{self.sources.line_text(where[0], where[1])}")
        else:
            self.out(self.sources.line_text(where[0], where[1]))
        self.list_next = (where[0], max(1, where[1] - 5))
