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
from emu.debugger import cmd_break, cmd_code, cmd_data, cmd_misc, cmd_npu, cmd_platform, cmd_run, cmd_time
from emu.debugger.bptable import BreakpointTable
from emu.debugger.disasm import Disassembler
from emu.debugger.errors import DebuggerError
from emu.debugger.registers import canonical
from emu.debugger.registry import Command, Registry, split_command
from emu.debugger.source import SourceCache
from emu.debugger.xformat import Spec
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
    for module in (cmd_run, cmd_break, cmd_data, cmd_code, cmd_platform, cmd_npu, cmd_time, cmd_misc):
        module.register(root, info)
    cmd_faults.register(root, info)
    return root


class CommandShell:
    """Executes debugger command lines against one Machine; owns breakpoints, snapshots and history."""

    def __init__(self, machine: Machine, write: Write) -> None:
        self.machine = machine
        self.write = write
        self.registry = build_registry()
        self.breakpoints = BreakpointTable(machine)
        self.disassembler = Disassembler(machine.xlen)
        self.sources = SourceCache()
        self.values: list[int] = []  # GDB's value history: $1, $2, ...
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
            try:
                command.handler(self, arg)
            finally:
                self.timeline.note_stop()
            return True
        except EmuError as e:
            self.write(f"{e}\n")
        except KeyboardInterrupt:
            self.machine.request_stop()
            self.write("Quit\n")
        except Exception as e:  # noqa: BLE001 - last line of defence: nothing typed may kill the shell
            self.write(f"internal error in \"{text}\": {type(e).__name__}: {e}\n")
        return False

    def resolve(self, text: str) -> tuple[Command, str]:
        """The command and its argument text, descending into ``info``/``npu``/... sub-commands."""
        word, arg = split_command(text)
        command = self.registry.resolve(word)
        while command.subcommands is not None and arg:
            word, rest = split_command(arg)
            command, arg = command.subcommands.resolve(word), rest
        return command, arg

    def interrupt(self) -> None:
        """Ctrl-C from another thread: stop the machine and any stepping loop of ours."""
        self.interrupted.set()
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
        if addr < 0 or size < 0 or addr + size > 1 << self.xlen:
            raise DebuggerError(f"Cannot access memory at address {addr:#x}")
        try:
            return bytes(self.machine.read_mem(addr, size))
        except EmuError:
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
        if not self.values:
            raise DebuggerError("History is empty.")
        if index is None:
            return self.values[-1]
        if not 1 <= index <= len(self.values):
            raise DebuggerError(f"History has not yet reached ${index}.")
        return self.values[index - 1]

    @property
    def pc(self) -> int:
        return int(self.machine.read_reg("pc"))

    # -- symbols and lines -----------------------------------------------------------------------------
    def describe(self, addr: int) -> str | None:
        """``main+4`` for an address inside a symbol, else None."""
        hit = self.elf.symbol_at(addr)
        if hit is None:
            return None
        sym, off = hit
        return f"{sym.name}+{off}" if off else sym.name

    def function_of(self, addr: int) -> str | None:
        """The code symbol containing ``addr``: a C function or an assembly label (``trap_entry``)."""
        hit = self.elf.symbol_at(addr)
        return hit[0].name if hit is not None and hit[0].kind in ("func", "notype") else None

    def location_line(self, addr: int, prefix: str = "") -> None:
        """Print where ``addr`` is, as GDB does after a stop.

        ``main () at hello.c:10`` then the source line; ``0x... in main () at ...`` when
        ``addr`` is not the start of a line; ``0x... in ?? ()`` without symbols.
        """
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
