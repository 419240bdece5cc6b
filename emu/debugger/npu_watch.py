"""NPU-aware stops: ``npu break OPCODE|any [on submit|on complete]`` and ``npu watch WHERE [RANGE]``.

The NPU device only publishes events (emu/npu_device/observe.py); this module
decides which ones stop the CPU and asks the machine for a clean stop after the
current instruction (``Machine.request_debug_stop``), as a watchpoint does.
The device executes a descriptor's functional effect when the doorbell is rung,
so "submit" breakpoints and watchpoints stop right after the doorbell store;
"complete" breakpoints stop when the command's modeled end time arrives (a
clock event), which is when the firmware could first see it done.

One :class:`NpuWatch` per machine (:func:`npu_watch`), shared by the debugger
shell and the GDB stub's ``monitor``.  It is subscribed to the device only while
it holds points, so runs without NPU breakpoints pay nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from emu.clock import Event
from emu.debugger.companions import companion
from emu.debugger.numbers import is_decimal
from emu.npu_device.observe import NpuEvent, Region
from emu.npu_device.regs import ERROR_NAMES, OPCODES

if TYPE_CHECKING:
    from emu.machine import Machine

WATCH_SPACES = {"scratchpad": "scratchpad", "spad": "scratchpad", "acc": "accumulator",
                "accumulator": "accumulator", "tile": "tile", "dram": "dram"}


class NpuWatchError(ValueError):
    """A bad ``npu break`` / ``npu watch`` argument; the message is one line for the user."""


@dataclass
class NpuPoint:
    """An NPU breakpoint (``opcode`` None = any) or watchpoint (``region`` set)."""

    number: int
    opcode: int | None = None
    when: str = "submit"            # "submit" or "complete" (breakpoints)
    region: Region | None = None    # watchpoints: what must be written
    hits: int = 0

    @property
    def is_watch(self) -> bool:
        return self.region is not None

    def what(self) -> str:
        if self.region is not None:
            return f"npu watch {_region_text(self.region)}"
        name = "any" if self.opcode is None else _opcode_name(self.opcode)
        return f"npu break {name} on {self.when}"

    def matches(self, event: NpuEvent) -> bool:
        if self.region is not None:
            return any(_overlap(self.region, r) for r in event.regions)
        return self.opcode is None or self.opcode == event.opcode


def _opcode_name(opcode: int) -> str:
    return next((name for name, value in OPCODES.items() if value == opcode), f"{opcode:#x}")


def _region_text(region: Region) -> str:
    if region.space == "tile":
        return f"tile {region.tile} rows {region.start}:{region.end} cols {region.col_start}:{region.col_end}"
    if region.space == "accumulator":
        return f"accumulator {region.start // 4}:{-(-region.end // 4)} (int32 entries)"
    if region.space == "dram":
        return f"dram {region.start:#x}..{region.end:#x}"
    return f"{region.space} {region.start}:{region.end} (bytes)"


def _overlap(want: Region, got: Region) -> bool:
    if want.space != got.space:
        return False
    if want.space == "tile":
        return (want.tile == got.tile and want.start < got.end and got.start < want.end
                and want.col_start < got.col_end and got.col_start < want.col_end)
    return want.start < got.end and got.start < want.end


def parse_span(text: str, limit: int, what: str) -> tuple[int, int]:
    """``START:END`` (either may be omitted) or ``INDEX`` within ``0:limit`` -> (start, end)."""
    lo, sep, hi = text.partition(":")
    try:
        start = int(lo, 0) if lo else 0
        end = int(hi, 0) if sep and hi else (limit if sep else start + 1)
    except ValueError:
        raise NpuWatchError(f'Bad range "{text}" for {what}: use START:END.') from None
    if not 0 <= start < end <= limit:
        raise NpuWatchError(f"Range {start}:{end} is outside {what} 0:{limit}.")
    return start, end


class NpuWatch:
    """The NPU breakpoints and watchpoints of one machine."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self.points: list[NpuPoint] = []
        self._next = 1
        self._paused = False
        self._events: list[Event] = []
        self._subscribed = False

    # -- points -------------------------------------------------------------------------------
    def add_break(self, spec: str) -> NpuPoint:
        """``OPCODE|any [on submit|on complete]`` (opcode by name, any case, or number)."""
        words = spec.split()
        if not words:
            raise NpuWatchError("Argument required (an opcode name such as MVM, or any).")
        when = "submit"
        if len(words) == 3 and words[1] == "on" and words[2] in ("submit", "complete"):
            when = words[2]
        elif len(words) != 1:
            raise NpuWatchError(f'Bad npu break "{spec}": use OPCODE|any [on submit|on complete].')
        name = words[0]
        opcode: int | None
        if name.lower() == "any":
            opcode = None
        elif name.upper() in OPCODES:
            opcode = OPCODES[name.upper()]
        else:
            try:
                opcode = int(name, 0)
            except ValueError:
                raise NpuWatchError(f'Unknown NPU opcode "{name}": one of any, '
                                    f'{", ".join(OPCODES)}.') from None
            if opcode not in OPCODES.values():
                raise NpuWatchError(f"Unknown NPU opcode {name}: one of {', '.join(OPCODES)}.")
        return self._add(NpuPoint(self._next, opcode, when))

    def add_watch(self, spec: str) -> NpuPoint:
        """``scratchpad|acc START:END`` (bytes, int32 entries), ``dram START:END`` (addresses) or
        ``tile N [R0:R1[,C0:C1]]``."""
        npu = self.m.npu
        words = spec.split()
        if not words or words[0] not in WATCH_SPACES:
            raise NpuWatchError("Argument required: scratchpad START:END, acc START:END, dram START:END "
                                "or tile N [R0:R1[,C0:C1]].")
        space = WATCH_SPACES[words[0]]
        if space == "tile":
            if len(words) not in (2, 3) or not is_decimal(words[1]):
                raise NpuWatchError("Usage: npu watch tile N [R0:R1[,C0:C1]].")
            tiles, rows, cols = npu.tiles.shape
            tile = int(words[1])
            if tile >= tiles:
                raise NpuWatchError(f"No tile {tile}: the NPU has {tiles} tiles (0..{tiles - 1}).")
            rows_text, _, cols_text = (words[2] if len(words) == 3 else "").partition(",")
            r0, r1 = parse_span(rows_text, rows, "tile rows") if rows_text else (0, rows)
            c0, c1 = parse_span(cols_text, cols, "tile columns") if cols_text else (0, cols)
            region = Region("tile", r0, r1, tile, c0, c1)
        else:
            if len(words) != 2:
                raise NpuWatchError(f"Usage: npu watch {words[0]} START:END.")
            if space == "scratchpad":
                start, end = parse_span(words[1], npu.scratchpad.size, "the scratchpad (bytes)")
                region = Region(space, start, end)
            elif space == "dram":  # DMA_OUT and ARGMAX write RAM: CPU watchpoints do not see it
                ram = self.m.ram
                start, end = parse_span(words[1], ram.end, "DRAM (addresses)")
                if start < ram.base:
                    raise NpuWatchError(f"DRAM is {ram.base:#x}..{ram.end:#x}: {start:#x} is below it.")
                region = Region(space, start, end)
            else:
                start, end = parse_span(words[1], npu.accumulator.size, "the accumulator (int32 entries)")
                region = Region(space, 4 * start, 4 * end)
        return self._add(NpuPoint(self._next, region=region))

    def _add(self, point: NpuPoint) -> NpuPoint:
        self._next += 1
        self.points.append(point)
        self._subscribe()
        return point

    def delete(self, number: int | None = None) -> None:
        """Delete point ``number`` (all when None); KeyError if there is no such point."""
        if number is None:
            self.points.clear()
        else:
            point = next((p for p in self.points if p.number == number), None)
            if point is None:
                raise KeyError(number)
            self.points.remove(point)
        if not any(p.when == "complete" for p in self.points):
            self._cancel_events()
        self._subscribe()

    def _subscribe(self) -> None:
        observers = self.m.npu.observers
        if self.points and not self._subscribed:
            observers.append(self._on_event)
        elif not self.points and self._subscribed:
            observers.remove(self._on_event)
        self._subscribed = bool(self.points)

    # -- replays (time travel) ---------------------------------------------------------------
    def pause(self, paused: bool) -> None:
        """TimeTravel replay hook: no stops while replaying; completions re-armed afterwards (a
        snapshot restore empties the clock's queue)."""
        self._paused = paused
        if not paused:
            self._rearm()

    def _rearm(self) -> None:
        self._cancel_events()
        completes = [p for p in self.points if p.when == "complete" and not p.is_watch]
        if not completes:
            return
        now = self.m.clock.now_ns()
        for rec in reversed(self.m.npu.trace.records):  # commands run one after another: newest last
            if rec.end_ns <= now:
                break
            if not rec.error and rec.fields is not None:
                event = NpuEvent(rec.index, rec.addr, rec.fields.opcode, rec.fields, rec.start_ns, rec.end_ns)
                self._schedule_completion(event, [p for p in completes if p.matches(event)], pc=None)

    def _cancel_events(self) -> None:
        for event in self._events:
            self.m.clock.cancel(event)
        self._events.clear()

    # -- events ---------------------------------------------------------------------------------
    def _on_event(self, event: NpuEvent) -> None:
        """The device fetched a descriptor (inside the doorbell store, on the emulation thread)."""
        if self._paused:
            return
        pc = self.m.cpu.pc  # the store that rang the doorbell
        now: list[str] = []
        for point in self.points:
            if not point.matches(event):
                continue
            if point.is_watch:
                point.hits += 1
                now.append(f"NPU watchpoint {point.number}: {_region_text(point.region)} written by "
                           f"{event.describe()}; {', '.join(_region_text(r) for r in event.regions)}; "
                           f"doorbell rung at pc {self._where(pc)}")
            elif point.when == "submit":
                point.hits += 1
                error = f" -> error {event.error} ({ERROR_NAMES.get(event.error, '?')})" if event.error else ""
                now.append(f"NPU breakpoint {point.number}: {event.describe()} submitted{error}; "
                           f"doorbell rung at pc {self._where(pc)}")
        later = [p for p in self.points if not p.is_watch and p.when == "complete" and p.matches(event)]
        if later and not event.error:
            self._schedule_completion(event, later, pc)
        if now:
            self.m.request_debug_stop("\n".join(now))  # the machine joins the requests of one stop

    def _schedule_completion(self, event: NpuEvent, points: list[NpuPoint], pc: int | None) -> None:
        if not points:
            return
        rung = f"; doorbell rung at pc {self._where(pc)}" if pc is not None else ""
        npu = self.m.npu
        epoch = npu.reset_ns  # a CTRL.RESET drops the queue: the command then never completes

        def complete() -> None:
            live = [p for p in points if p in self.points]
            if self._paused or not live or npu.reset_ns != epoch:
                return
            for p in live:
                p.hits += 1
            self.m.request_debug_stop("\n".join(f"NPU breakpoint {p.number}: {event.describe()} completed at "
                                                f"{event.end_ns} ns{rung}" for p in live))

        self._events.append(self.m.clock.schedule(event.end_ns, complete, "npu-break"))
        if len(self._events) > 4096:  # long runs: forget the fired and cancelled ones
            self._events = [e for e in self._events if not e.cancelled and e.when_ns > self.m.clock.now_ns()]

    def _where(self, pc: int) -> str:
        return self.m.symbol_name(pc)  # 0x80000010 <main+4>

    def lines(self) -> list[str]:
        """``npu breakpoints``: one line per point."""
        return [f"{p.number:<4}{p.what()}" + (f"  (hit {p.hits} time{'s' * (p.hits != 1)})" if p.hits else "")
                for p in self.points]


def npu_watch(machine: Machine) -> NpuWatch:
    """The machine's NpuWatch (created on first use)."""
    return companion(machine, "npu_watch", lambda: NpuWatch(machine))
