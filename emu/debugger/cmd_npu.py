"""The NPU's insides, through its inspection API: ``npu status|queue|tiles|dump|counters|trace``,
and NPU-aware stops: ``npu break``, ``npu watch``, ``npu breakpoints``, ``npu clear``
(emu/debugger/npu_watch.py).

Matrices print as rows of right-aligned numbers with row and column indices,
which is how a firmware engineer compares them with the reference model's
output; large ones are cut to a window the user can move with RANGE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from emu.debugger.errors import DebuggerError
from emu.debugger.files import output_path
from emu.debugger.npu_watch import NpuWatchError, npu_watch, parse_span
from emu.debugger.numbers import is_decimal
from emu.debugger.registry import Command, Registry

if TYPE_CHECKING:
    from emu.debugger.commands import CommandShell
    from emu.npu_device.device import NpuDevice

MAX_ROWS = 32
MAX_COLS = 32
FLAT_PER_ROW = {"scratchpad": 16, "acc": 8}


def register(root: Registry, info: Registry) -> None:
    npu = Registry("npu")
    npu.add(Command("status", npu_status, "npu status -- enable, busy, error, ring pointers, interrupts."))
    npu.add(Command("queue", npu_queue, "npu queue -- recent, running and queued command descriptors, decoded."))
    npu.add(Command("tiles", npu_tiles, "npu tiles -- per weight tile: mode and value range."))
    npu.add(Command("dump", npu_dump, "npu dump TILE|scratchpad|acc [RANGE] -- print as a matrix.\n"
                    "TILE is a tile number; RANGE is R0:R1[,C0:C1] for a tile and START:END (elements)\n"
                    "for the scratchpad (bytes) and the accumulator (int32).\n"
                    "  npu dump 0\n  npu dump 0 0:4,0:8\n  npu dump scratchpad 0:64\n  npu dump acc 0:16"))
    npu.add(Command("counters", npu_counters, "npu counters -- commands, cycles, MACs, DMA bytes, energy."))
    npu.add(Command("trace", npu_trace, "npu trace FILE -- write a Chrome/Perfetto trace of every NPU command.",
                    complete="file"))
    npu.add(Command("break", npu_break, "npu break OPCODE|any [on submit|on complete] -- stop the CPU when a\n"
                    "matching descriptor is submitted (right after the doorbell store: the NPU executes it\n"
                    "then) or completes (at its modeled end time), and show it decoded.\n"
                    "  npu break MVM\n  npu break any on complete"))
    npu.add(Command("watch", npu_watch_cmd, "npu watch scratchpad|acc|dram START:END | tile N [RANGE] -- stop\n"
                    "when an NPU command writes there (scratchpad in bytes, acc in int32 entries, dram\n"
                    "by address: DMA_OUT and ARGMAX, which CPU watchpoints do not see; RANGE is tile rows\n"
                    "and columns R0:R1[,C0:C1]), naming the command, its descriptor address and the doorbell's pc.\n"
                    "  npu watch acc 0:64\n  npu watch tile 0\n  npu watch dram 0x80020000:0x80020100"))
    npu.add(Command("breakpoints", npu_breakpoints, "npu breakpoints -- list NPU breakpoints and watchpoints."))
    npu.add(Command("clear", npu_clear, "npu clear [N] -- delete NPU breakpoint/watchpoint N (all without N)."))
    root.add(Command("npu", None, "npu status|queue|tiles|dump|counters|trace|break|watch|... -- the NPU's "
                     "internal state, and stops on NPU commands.", subcommands=npu))


def _npu(shell: CommandShell) -> NpuDevice:
    if shell.machine.npu is None:
        raise DebuggerError("This machine has no NPU.")
    return shell.machine.npu


def _value(key: str, v: object) -> str:
    """Addresses in hex, flags as yes/no, everything else as Python prints it."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) and ("addr" in key or "base" in key):
        return f"{v:#x}"
    return str(v)


def npu_status(shell: CommandShell, arg: str) -> None:
    for key, value in _npu(shell).status().items():
        shell.out(f"{key:<18}{_value(key, value)}")


def npu_queue(shell: CommandShell, arg: str) -> None:
    entries = _npu(shell).queue()
    if not entries:
        shell.out("The NPU command queue is empty.")
        return
    shell.out(f"{'#':>5} {'addr':<12}{'op':<14}{'state':<9}{'start ns':>12}{'end ns':>12}  fields")
    core = {"index", "addr", "op", "opcode", "state", "start_ns", "end_ns"}
    for e in entries:
        fields = " ".join(f"{k}={_value(k, v)}" for k, v in e.items() if k not in core)
        start = e.get("start_ns", "")
        end = e.get("end_ns", "")
        shell.out(f"{e['index']:>5} {e['addr']:<#12x}{str(e.get('op', '?')):<14}{e['state']:<9}"
                  f"{start!s:>12}{end!s:>12}  {fields}")


def npu_tiles(shell: CommandShell, arg: str) -> None:
    npu = _npu(shell)
    tiles = npu.tiles
    shell.out(f"{tiles.shape[0]} tiles of {tiles.shape[1]}x{tiles.shape[2]} weights")
    for i in range(tiles.shape[0]):
        t = tiles[i]
        used = int(np.count_nonzero(t))
        mode = "int4" if bool(npu.tile_int4[i]) else "int8"
        span = f"min {int(t.min())} max {int(t.max())}" if used else "all zero"
        shell.out(f"  tile {i:<3} {mode}  {used:>6} non-zero  {span}")


def _slice(text: str, length: int, what: str) -> slice:
    """``START:END`` (either may be omitted) or ``INDEX`` within ``0:length``, parsed as NPU
    watchpoints parse their ranges; errors as one debugger line."""
    try:
        return slice(*parse_span(text, length, what))
    except NpuWatchError as e:
        raise DebuggerError(str(e)) from None


def _matrix(shell: CommandShell, data: np.ndarray, row0: int, col0: int, row_step: int = 1) -> None:
    width = max(len(str(int(data.min()))), len(str(int(data.max()))), len(str(col0 + data.shape[1] - 1))) + 1
    shell.out("      " + "".join(f"{col0 + c:>{width}}" for c in range(data.shape[1])))
    for r in range(data.shape[0]):
        shell.out(f"{row0 + r * row_step:>5}:" + "".join(f"{int(v):>{width}}" for v in data[r]))


def npu_dump(shell: CommandShell, arg: str) -> None:
    npu = _npu(shell)
    words = arg.split()
    if not words:
        raise DebuggerError("Argument required (TILE, scratchpad or acc).")
    what = words[0]
    rng = words[1] if len(words) > 1 else ""
    if is_decimal(what):  # ASCII digits only (emu.debugger.numbers: issue 17 D3)
        tiles = npu.tiles
        index = int(what)
        if index >= tiles.shape[0]:
            raise DebuggerError(f"No tile {index}: the NPU has {tiles.shape[0]} tiles (0..{tiles.shape[0] - 1}).")
        rows_text, _, cols_text = rng.partition(",")
        rows = _slice(rows_text, tiles.shape[1], "tile rows") if rows_text else slice(0, min(MAX_ROWS, tiles.shape[1]))
        cols = _slice(cols_text, tiles.shape[2], "tile columns") if cols_text else slice(0, min(MAX_COLS, tiles.shape[2]))
        shell.out(f"tile {index} rows {rows.start}:{rows.stop} cols {cols.start}:{cols.stop} "
                  f"(of {tiles.shape[1]}x{tiles.shape[2]}, {'int4' if npu.tile_int4[index] else 'int8'})")
        _matrix(shell, npu.tile(index)[rows, cols], rows.start, cols.start)
        return
    names = {"scratchpad": "scratchpad", "spad": "scratchpad", "acc": "acc", "accumulator": "acc"}
    if what not in names:
        raise DebuggerError(f'Unknown NPU buffer "{what}": use a tile number, scratchpad or acc.')
    key = names[what]
    flat = np.asarray(npu.scratchpad if key == "scratchpad" else npu.accumulator).reshape(-1)
    per_row = FLAT_PER_ROW[key]
    part = _slice(rng, flat.size, f"the {key} (entries)") if rng else slice(0, min(flat.size, MAX_ROWS * per_row // 4))
    data = flat[part]
    pad = (-data.size) % per_row
    shell.out(f"{key} [{part.start}:{part.stop}] of {flat.size} ({'uint8' if key == 'scratchpad' else 'int32'})")
    padded = np.concatenate([data.astype(np.int64), np.zeros(pad, dtype=np.int64)]).reshape(-1, per_row)
    _matrix(shell, padded, part.start, 0, row_step=per_row)
    if pad:
        shell.out(f"(last row padded with {pad} zero(s) past {part.stop})")


def npu_counters(shell: CommandShell, arg: str) -> None:
    for key, value in _npu(shell).counters().items():
        shell.out(f"{key:<16}{value}")


def npu_trace(shell: CommandShell, arg: str) -> None:
    name = arg.strip()
    if not name:
        raise DebuggerError("Argument required (output file).")
    npu = _npu(shell)
    path = output_path(name)
    try:
        npu.write_trace(path)
    except (OSError, ValueError) as e:
        raise DebuggerError(f"cannot write {path}: {e.strerror or e}") from None
    shell.out(f"NPU trace written to {path} (open it in ui.perfetto.dev).")


def npu_break(shell: CommandShell, arg: str) -> None:
    _add_point(shell, arg, "breakpoint", npu_watch(shell.machine).add_break)


def npu_watch_cmd(shell: CommandShell, arg: str) -> None:
    _add_point(shell, arg, "watchpoint", npu_watch(shell.machine).add_watch)


def _add_point(shell: CommandShell, arg: str, kind: str, add) -> None:
    """``npu break`` / ``npu watch``: NpuWatch's parse errors become one debugger line."""
    _npu(shell)
    try:
        point = add(arg)
    except NpuWatchError as e:
        raise DebuggerError(str(e)) from None
    shell.out(f"NPU {kind} {point.number}: {point.what()}")


def npu_breakpoints(shell: CommandShell, arg: str) -> None:
    lines = npu_watch(shell.machine).lines()
    shell.out("\n".join(["Num What", *lines]) if lines else "No NPU breakpoints or watchpoints.")


def npu_clear(shell: CommandShell, arg: str) -> None:
    text = arg.strip()
    if text and not is_decimal(text):
        raise DebuggerError(f'Bad NPU breakpoint number "{text}".')
    try:
        npu_watch(shell.machine).delete(int(text) if text else None)
    except KeyError:
        raise DebuggerError(f"No NPU breakpoint number {text}.") from None
