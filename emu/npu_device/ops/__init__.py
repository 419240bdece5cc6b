"""The NPU's commands, one declaration each (:class:`~emu.npu_device.command.Command`).

Adding a command is adding a module here (its layout, engine, executor, cost and operands) and
listing it in :data:`MODULES`; :func:`register` adds one at run time (tests declare a command
that exists only for them).  The tables below are live: :mod:`emu.npu_device.regs` exports them
as its opcode and layout tables, so the generated header, the decoder, the scoreboard, strict
mode, the trace and the debugger see a registered command at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from emu.npu_device.command import Command
from emu.npu_device.encoding import Layout
from emu.npu_device.ops import (
    argmax,
    dma,
    dwconv,
    eltwise,
    fence,
    load_weights,
    mvm,
    pool,
    postproc,
    qadd,
    weight_update,
)

MODULES = (dma, load_weights, mvm, weight_update, postproc, eltwise, pool, argmax, fence, dwconv, qadd)

COMMANDS: dict[int, Command] = {}  # by opcode, in opcode order
BY_NAME: dict[str, Command] = {}
OPCODES: dict[str, int] = {}  # name -> opcode, in opcode order
OPCODE_NAMES: dict[int, str] = {}
LAYOUTS: list[Layout] = []  # in opcode order
LAYOUT: dict[str, Layout] = {}
LAYOUT_BY_OPCODE: dict[int, Layout] = {}


def _rebuild() -> None:
    """Refill every table from :data:`COMMANDS` in place (importers hold these very objects)."""
    ordered = sorted(COMMANDS.values(), key=lambda c: c.opcode)
    COMMANDS.clear()
    COMMANDS.update((c.opcode, c) for c in ordered)
    for table in (BY_NAME, OPCODES, OPCODE_NAMES, LAYOUT, LAYOUT_BY_OPCODE):
        table.clear()
    LAYOUTS[:] = [c.layout for c in ordered]
    BY_NAME.update((c.name, c) for c in ordered)
    OPCODES.update((c.name, c.opcode) for c in ordered)
    OPCODE_NAMES.update((c.opcode, c.name) for c in ordered)
    LAYOUT.update((c.name, c.layout) for c in ordered)
    LAYOUT_BY_OPCODE.update((c.opcode, c.layout) for c in ordered)


def register(command: Command) -> None:
    """Add ``command``; its opcode and name must be new (opcode 0 is never valid: zeroed memory)."""
    if not 0 < command.opcode < 0x100:
        raise ValueError(f"{command.name}: opcode {command.opcode:#x} outside 0x01..0xff")
    if command.opcode in COMMANDS or command.name in BY_NAME:
        raise ValueError(f"{command.name}: opcode {command.opcode:#x} or name already declared")
    COMMANDS[command.opcode] = command
    _rebuild()


def unregister(command: Command) -> None:
    del COMMANDS[command.opcode]
    _rebuild()


@contextmanager
def registered(command: Command) -> Iterator[Command]:
    """``command`` declared for the duration of a ``with`` block (tests)."""
    register(command)
    try:
        yield command
    finally:
        unregister(command)


for _module in MODULES:
    for _command in _module.COMMANDS:
        register(_command)
