"""NpuDevice: the NPU's MMIO register block, command ring, virtual-time completion and interrupts.

Execution model (docs/npu.md, "Timing"): on a doorbell the device fetches every
queued descriptor and applies its functional effect at once, inside the MMIO
write, while giving each command a modeled [start, end) interval on a serial
timeline starting at max(now, end of the previous command).  Everything
firmware can observe about progress -- RING_HEAD, STATUS.BUSY, the counters,
INT_STATUS and the IRQ line -- follows virtual time, so a driver that waits
for completion (as it must on hardware) sees exactly the modeled timing.
Executing eagerly keeps tiny-command throughput high: one clock event per
interrupting command, none for the others.
"""

from __future__ import annotations

import copy
import operator
import time
from collections import deque
from collections.abc import Callable
from functools import reduce
from itertools import groupby
from typing import Any

import numpy as np

from emu.clock import Event, VirtualClock
from emu.compiler.layer_table import LayerInfo
from emu.devices.base import IrqLine, MmioDevice
from emu.memory import Ram
from emu.npu_device import observe, regs
from emu.npu_device.command import ENGINES
from emu.npu_device.commands import Executor
from emu.npu_device.config import NpuConfig
from emu.npu_device.fault import NpuFault
from emu.npu_device.regs import BITS, COUNTERS, DESC_BYTES, ERROR_NAMES, FLAGS, LAYOUT_BY_OPCODE, REG
from emu.npu_device.scoreboard import Footprint, depends, footprint
from emu.npu_device.strict import AccessHooks, Guard, StrictCompletion, dram_ranges
from emu.npu_device.tiles import TileStore
from emu.npu_device.timing import Cost, CostModel
from emu.npu_device.trace import LayerTrack, Record, Trace, TraceWriter

U32 = 0xFFFF_FFFF
F_IRQ = FLAGS["IRQ"]
INT_DONE, INT_ERROR = BITS["INT_DONE"], BITS["INT_ERROR"]
RW_REGS = {REG[n]: n for n in ("CTRL", "INT_ENABLE", "RING_BASE_LO", "RING_BASE_HI", "RING_SIZE", "RING_TAIL",
                                "TILE_SELECT")}
COUNTER_REGS = {REG[f"{name.upper()}_LO"]: name for name in COUNTERS}
QUEUE_HISTORY = 256  # completed commands queue() still shows
PLAN_CACHE = 4096  # distinct descriptors kept decoded (and, for DMA/MVM, checked) by _run
FOLD_AT = 4096  # completed commands whose costs _retire keeps before adding them to the totals
# A long ring runs in batches (see _run_batches): a stop request (Ctrl-C, gdb, --timeout) is looked
# at after each, and a batch is one descriptor again once one took YIELD_S of host time.
YIELD_S = 0.05
MAX_BATCH = 256
_TAG = operator.itemgetter(1)  # the tag of a retired (opcode name, tag)
CTRL_ENABLE = BITS["CTRL_ENABLE"]
OFF_RING_HEAD, OFF_RING_TAIL, OFF_DOORBELL = REG["RING_HEAD"], REG["RING_TAIL"], REG["DOORBELL"]
OFF_STATUS, OFF_INT_STATUS, OFF_ERR_CODE = REG["STATUS"], REG["INT_STATUS"], REG["ERR_CODE"]
OFF_ERR_DESC_LO, OFF_ERR_DESC_HI = REG["ERR_DESC_LO"], REG["ERR_DESC_HI"]
OFF_TILE_WRITES_LO, OFF_TILE_WRITES_HI = REG["TILE_WRITES_LO"], REG["TILE_WRITES_HI"]


def _by_name(*energies: dict[tuple[str, int], float]) -> dict[str, float]:
    """Dynamic energy by opcode name, from dictionaries by (opcode name, tag)."""
    out: dict[str, float] = {}
    for by_key in energies:
        for (op, _), pj in by_key.items():
            out[op] = out.get(op, 0.0) + pj
    return out


class NpuDevice(MmioDevice):
    """The D-IMC NPU at 0x1800_0000 (PLIC source 40); see docs/npu.md for the programming model."""

    name = "npu"
    size = regs.MMIO_SIZE

    def __init__(self, ram: Ram, clock: VirtualClock, irq: IrqLine, config: NpuConfig | None = None) -> None:
        self.ram = ram
        self.clock = clock
        self.irq = irq
        self.config = config or NpuConfig.load(None)
        cfg = self.config
        self.costs = CostModel(cfg)
        self._issue_ns = self.costs.ns(cfg.timing.descriptor_fetch + cfg.timing.command_overhead)
        self._tiles = TileStore(cfg.tiles, cfg.rows, cfg.cols)
        self._spad = np.zeros(cfg.scratchpad_bytes, dtype=np.uint8)
        self._acc = np.zeros(cfg.accumulator_bytes // 4, dtype=np.int32)
        self.executor = Executor(ram, self._tiles, self._spad, self._acc, self.costs)
        self.trace = Trace()
        self.layers: dict[int, LayerInfo] = {}  # the firmware's layer table by tag (set_layers)
        self.observers: list[Callable[[observe.NpuEvent], None]] = []  # debugger hooks (observe.py)
        self._stream_path: str | None = None  # the file a streamed trace goes to (enable_full_trace)
        self.strict: StrictCompletion | None = None  # see enable_strict
        # The hot loop's caches (see _run): RAM as a memoryview (cheap 64-byte slices), the
        # decoded/prepared descriptors by their bytes, and command durations by cycle count.
        self._mem = memoryview(ram.buf)
        self._ram_base, self._ram_end = ram.base, ram.base + ram.size
        self._plans: dict[bytes, tuple[Any, ...]] = {}
        self._plans_version = -1
        self._durations: dict[int, int] = {}
        self._hot = (self._mem, self._plans, self._tiles, self._durations, self.trace, self._ram_base)
        self.internal_errors: list[str] = []
        self.injected_errors: list[str] = []  # fail the next commands with these ERRORS names (emu/faults.py)
        # The machine's "a stop was requested" (Ctrl-C, gdb, --timeout): a long ring gives way to it.
        self.must_yield: Callable[[], bool] | None = None
        self._events: deque[Event] = deque()
        self._ro = {
            REG["ID"]: regs.ID_MAGIC, REG["VERSION"]: regs.VERSION, REG["TILES"]: cfg.tiles,
            REG["TILE_ROWS"]: cfg.rows, REG["TILE_COLS"]: cfg.cols, REG["SPAD_BYTES"]: cfg.scratchpad_bytes,
            REG["ACC_BYTES"]: cfg.accumulator_bytes, REG["CLOCK_KHZ"]: int(cfg.npu_mhz * 1000),
            REG["DESC_SIZE"]: DESC_BYTES, REG["NODE_NM"]: cfg.macro.node_nm,
        }
        self.reset()

    # -- reset ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on: memories, tiles, registers, queue and counters cleared."""
        self._tiles.reset()
        self._spad[:] = 0
        self._acc[:] = 0
        self.r = dict.fromkeys(RW_REGS.values(), 0)
        self.trace.clear()
        self.totals = dict.fromkeys(COUNTERS, 0)
        self._retired: list[Cost] = []  # completed, not yet added to totals (see _fold)
        self._retired_ops: list[tuple[str, int]] = []  # their (opcode name, tag), for the breakdowns
        self.layer_totals: dict[int, list[int]] = {}  # per tag with a layer table: commands, cycles, MACs, DMA in/out
        self.lifetime = dict.fromkeys(COUNTERS, 0)  # counters before the last CTRL.RESET, for --stats
        # dynamic pJ by (opcode name, descriptor tag): before the last CTRL.RESET, and since it
        self.lifetime_op_energy: dict[tuple[str, int], float] = {}
        self.op_energy: dict[tuple[str, int], float] = {}
        self.reset_ns = self.clock.now_ns()
        self._soft_reset()

    def _soft_reset(self) -> None:
        """CTRL.RESET: drop the queue, errors, interrupts and counters; keep memories and ring setup.

        The trace and the lifetime totals behind ``stats_lines`` survive: they describe the run.
        """
        now = self.clock.now_ns()
        for name, value in self._counter_values(now).items():
            self.lifetime[name] += value
        for op, pj in self.op_energy.items():
            self.lifetime_op_energy[op] = self.lifetime_op_energy.get(op, 0.0) + pj
        for event in self._events:
            self.clock.cancel(event)
        self._events.clear()
        if self.strict is not None:
            self.strict.clear()
        self.deferred = False  # descriptors left unfetched by a stop request (_run_batches)
        self.r["RING_TAIL"] = 0
        self.head = 0  # completed descriptors (free-running u32)
        self.fetched = 0  # descriptors executed functionally
        # (end_ns, cost, irq, (op, tag)) not yet completed
        self.inflight: deque[tuple[int, Cost, bool, tuple[str, int]]] = deque()
        self.last_end_ns = now  # completion (in order) of the last fetched command
        self.issue_ns = now  # when the front end can start the next command
        self.max_end_ns = now  # the latest end of any fetched command
        self.engine_free = dict.fromkeys(ENGINES, now)
        # Per engine, (end, footprint) of the commands that may still delay a later one, ends in order.
        self.pending: dict[str, deque[tuple[int, Footprint]]] = {engine: deque() for engine in ENGINES}
        self.reset_ns = now
        self.int_status = 0
        self.error: tuple[int, int, int] | None = None  # (code, descriptor address, visible at ns)
        self.error_visible = False
        self.totals = dict.fromkeys(COUNTERS, 0)
        self.totals["energy_pj"] = 0.0  # dynamic energy only: leakage follows busy_cycles (_counter)
        self.op_energy: dict[tuple[str, int], float] = {}  # dynamic pJ by (opcode, tag), since this reset
        self.executor.grad_saturated = False
        self.irq.set(False)

    # -- virtual-time progress -------------------------------------------------------------
    def _retire(self, now: int) -> None:
        """Complete every command whose modeled end is <= now; surface a due error; drive the IRQ line.

        The costs of completed commands are added to the totals by :meth:`_fold`, in bulk, before
        anything reads the totals.  The IRQ line is a function of INT_STATUS & INT_ENABLE, so it is
        only re-driven when this changes INT_STATUS (writers of INT_ENABLE/INT_STATUS drive it).
        """
        inflight = self.inflight
        changed = False
        if inflight and inflight[0][0] <= now:
            retired = self._retired
            ops = self._retired_ops
            done = 0
            irq_done = False
            while inflight and inflight[0][0] <= now:
                _, cost, irq, op = inflight.popleft()
                retired.append(cost)
                ops.append(op)
                done += 1
                if irq:
                    irq_done = True
            self.head = (self.head + done) & U32
            if irq_done and not self.int_status & INT_DONE:
                self.int_status |= INT_DONE
                changed = True
            if len(retired) >= FOLD_AT:
                self._fold()
        if self.strict is not None:
            self.strict.complete(now)
        if self.error is not None and not self.error_visible and self.error[2] <= now:
            self.error_visible = True
            self.int_status |= INT_ERROR
            changed = True
        if changed:
            self._update_irq()

    def _fold(self) -> None:
        """Add the costs of the commands completed since the last fold to the totals.

        Integer sums are exact in any grouping; the energy is a float, so it is added one command
        at a time in completion order, exactly as a running ``+=`` would.
        """
        retired = self._retired
        if not retired:
            return
        cycles, macs, dma_in, dma_out, weight_bytes, energy = zip(*retired, strict=True)
        totals = self.totals
        totals["busy_cycles"] += sum(cycles)
        totals["macs"] += sum(macs)
        totals["dma_in"] += sum(dma_in)
        totals["dma_out"] += sum(dma_out)
        totals["weight_bytes"] += sum(weight_bytes)
        totals["energy_pj"] = reduce(operator.add, energy, totals["energy_pj"])
        totals["commands"] += len(retired)
        by_op = self.op_energy
        for key, pj in zip(self._retired_ops, energy, strict=True):
            by_op[key] = by_op.get(key, 0.0) + pj
        if self.layers:  # per layer (descriptor tag), summed over runs of a tag (a layer's commands are contiguous)
            by_tag = self.layer_totals
            start = 0
            for tag, run in groupby(map(_TAG, self._retired_ops)):  # (C loops: no Python code per command)
                end = start + len(list(run))
                row = by_tag.get(tag)
                if row is None:
                    row = by_tag[tag] = [0, 0, 0, 0, 0]
                row[0] += end - start
                row[1] += sum(cycles[start:end])
                row[2] += sum(macs[start:end])
                row[3] += sum(dma_in[start:end])
                row[4] += sum(dma_out[start:end])
                start = end
        retired.clear()
        self._retired_ops.clear()

    def _update_irq(self) -> None:
        self.irq.set(bool(self.int_status & self.r["INT_ENABLE"]))

    def _on_event(self) -> None:
        now = self.clock.now_ns()
        while self._events and self._events[0].when_ns <= now:
            self._events.popleft()
        self._retire(now)

    def _schedule(self, when_ns: int) -> None:
        self._events.append(self.clock.schedule(when_ns, self._on_event, "npu"))

    # -- the ring --------------------------------------------------------------------------
    def _ring_addr(self, index: int) -> int:
        base = self.r["RING_BASE_LO"] | self.r["RING_BASE_HI"] << 32
        return base + (index % self.r["RING_SIZE"]) * DESC_BYTES if self.r["RING_SIZE"] else base

    def _fail(self, code: int, addr: int, at_ns: int) -> None:
        self.error = (code, addr, at_ns)
        self._schedule(at_ns)

    def _doorbell(self) -> None:
        """Fetch and execute descriptors fetched..RING_TAIL, stopping at the first error."""
        r = self.r
        if not r["CTRL"] & CTRL_ENABLE or self.error is not None:
            return
        now = self.clock.now_ns()
        inflight = self.inflight
        if inflight and inflight[0][0] <= now:  # (no error is pending: _retire's other job)
            self._retire(now)
        tail, size = r["RING_TAIL"], r["RING_SIZE"]
        pending = (tail - self.fetched) & U32
        if pending == 0:
            return
        issue = self.issue_ns
        start = now if now > issue else issue
        base = r["RING_BASE_LO"] | r["RING_BASE_HI"] << 32
        if pending > U32 // 2 or (tail - self.head) & U32 > size:
            self._fail(regs.ERRORS["RING_OVERFLOW"][0], self._ring_addr(self.fetched), max(start, self.max_end_ns))
            return
        if base % DESC_BYTES:
            self._fail(regs.ERRORS["ALIGN"][0], base, max(start, self.max_end_ns))
            return
        if not (self._ram_base <= base and base + size * DESC_BYTES <= self._ram_end):  # ram.contains
            self._fail(regs.ERRORS["DRAM_RANGE"][0], base, max(start, self.max_end_ns))
            return
        # The host's time computing the commands is not NPU time: their modelled durations are.
        frozen = self.clock.freeze()
        strict = self.strict
        try:
            if strict is not None:
                strict.complete(now)
                strict.land_all()
            self._run_batches(start, base - self._ram_base, size, pending)
        finally:
            if strict is not None:
                strict.after_doorbell()
            if frozen:
                self.clock.resume()

    def _run_batches(self, start: int, ring_off: int, size: int, count: int) -> None:
        """:meth:`_run` in batches, so a stop request (:attr:`must_yield`: Ctrl-C, gdb,
        --timeout) is honoured within about YIELD_S of host time plus one command, however long
        the ring (issue 17: one doorbell could keep the host busy for hours inside an MMIO
        write).  Batches grow from one descriptor while they stay fast.  The descriptors a stop
        leaves unfetched are fetched when the machine next runs (:meth:`_resume`), as a new
        doorbell would.  Consecutive batches continue one timeline, so the modeled result is
        the same as one call as long as nothing interrupts."""
        must_yield = self.must_yield
        if must_yield is None:
            self._run(start, ring_off, size, count)
            return
        batch = 1
        while True:
            n = min(batch, count)
            began = time.monotonic()
            self._run(start, ring_off, size, n)
            count -= n
            if not count or self.error is not None:
                return
            start = self.issue_ns  # where the front end stopped: the timeline goes on from there
            if must_yield():
                self._defer()
                return
            batch = min(2 * batch, MAX_BATCH) if time.monotonic() - began < YIELD_S else 1

    def _defer(self) -> None:
        """Fetch the rest of the ring 1 ns later: after the machine has stopped (the event is
        not due in the clock pass that may be running us), as soon as it runs again."""
        self.deferred = True
        self._events.append(self.clock.schedule(self.clock.now_ns() + 1, self._resume, "npu"))

    def _resume(self) -> None:
        if self.deferred:
            self.deferred = False
            self._doorbell()

    def _run(self, start: int, ring_off: int, size: int, count: int) -> None:
        """The hot loop: decode, execute, time and log ``count`` descriptors.

        A descriptor's decoding (and for DMA and MVM its checks, cost and views, see
        ``Executor.prepare``; in strict mode its DRAM ranges) is cached by its 64 bytes, so a
        command repeated from the ring costs a dictionary look-up; the cache is dropped whenever
        the tiles are written.

        Timing (see :mod:`emu.npu_device.scoreboard`): the front end issues one descriptor per
        ``descriptor_fetch + command_overhead`` cycles from ``start``; a command starts when it
        is issued, its engine is free and the earlier commands it depends on have ended.  It
        completes (RING_HEAD, F_IRQ) in order: at max(its end, the previous completion).
        """
        mem, plans, tiles, durations, trace, ram_base = self._hot
        observers = self.observers
        inflight = self.inflight
        records = trace.items
        limit = trace.limit
        index = self.fetched
        engine_free, pending, config = self.engine_free, self.pending, self.config
        issue_ns = self._issue_ns
        t = start  # the front end: the earliest start of the next command
        max_end, retire = self.max_end_ns, self.last_end_ns
        strict = self.strict
        for _ in range(count):
            off = ring_off + (index % size) * DESC_BYTES
            if tiles.version != self._plans_version:
                plans.clear()
                self._plans_version = tiles.version
            key = mem[off : off + DESC_BYTES].tobytes()
            plan = plans.get(key)
            if plan is not None:
                fields, name, run, irq, fp, op_tag, ranges = plan
            else:
                opcode = key[0]
                layout = LAYOUT_BY_OPCODE.get(opcode)
                name = layout.name if layout else f"op{opcode:#x}"
                fields = run = fp = ranges = None
            try:
                if self.injected_errors:
                    raise NpuFault(self.injected_errors.pop(0), "injected")
                if run is None:
                    if layout is None:
                        raise NpuFault("OPCODE", f"opcode {opcode:#x}")
                    fields = layout.unpack(key)
                    run = self.executor.prepare(opcode, fields)
                    irq = bool(fields.flags & F_IRQ)
                    fp = footprint(name, fields, config)
                    op_tag = (name, fields.tag)
                if strict is not None:
                    if ranges is None:  # (a plan cached before strict mode was enabled: not stored)
                        ranges = dram_ranges(name, fields)
                    written, read = ranges
                    olds = [(lo, bytes(self.ram.read(lo, hi - lo))) for lo, hi in written
                            if self.ram.contains(lo, hi - lo)]
                cost = run()
            except NpuFault as fault:
                addr = ram_base + off
                at = t if t > max_end else max_end  # reported after every earlier command
                trace.add(Record(index, addr, name, at, at, fields, None, fault.code))
                self._fail(fault.code, addr, at)
                if observers:
                    self._notify(index, addr, key[0], fields, at, at, fault.code)
                break
            except Exception as exc:  # pragma: no cover - a model bug must not kill the guest
                addr = ram_base + off
                at = t if t > max_end else max_end
                trace.add(Record(index, addr, "INTERNAL", at, at, fields, None, regs.ERRORS["BAD_ARG"][0]))
                self._fail(regs.ERRORS["BAD_ARG"][0], addr, at)
                self.internal_errors.append(repr(exc))  # the property tests assert this stays empty
                break
            if plan is None:
                if len(plans) >= PLAN_CACHE:
                    plans.clear()
                plans[key] = (fields, name, run, irq, fp, op_tag, ranges)
            cycles = cost.cycles
            duration = durations.get(cycles)
            if duration is None:
                if len(durations) >= PLAN_CACHE:
                    durations.clear()
                duration = durations[cycles] = self.costs.ns(cycles)
            if fp is None:  # a barrier (FENCE, or an opcode the scoreboard does not know)
                begin = t if t > max_end else max_end
                end = begin + duration
                for queue in pending.values():
                    if queue:
                        queue.clear()
                t = end  # nothing later starts before it ends
            else:
                engine = fp.engine
                begin = engine_free[engine]
                if t > begin:
                    begin = t
                first = begin
                # Same-engine commands ended by engine_free; on each other engine, ends grow in
                # order, so only the tail ending after ``first`` can delay this one, and its
                # newest conflicting command is the latest of them.
                for other_engine, queue in pending.items():
                    if not queue or other_engine == engine or queue[-1][0] <= first:
                        continue
                    for other_end, other in reversed(queue):
                        if other_end <= first:
                            break
                        if depends(fp, other):
                            if other_end > begin:
                                begin = other_end
                            break
                end = begin + duration
                engine_free[engine] = end
                queue = pending[engine]
                while queue and queue[0][0] <= t:  # can no longer delay anything (starts are >= t)
                    queue.popleft()
                queue.append((end, fp))
                t += issue_ns
            if end > max_end:
                max_end = end
            if end > retire:
                retire = end
            inflight.append((retire, cost, irq, op_tag))
            if irq:
                self._schedule(retire)
            if strict is not None:
                self._strict_pending(strict, index, ram_base + off, name, retire, written, read, olds)
            if len(records) >= limit:  # Trace.add, inlined
                trace.trim()
            records.append((index, ram_base + off, name, begin, end, fields, cost, 0))  # a Record's fields
            if observers:
                self._notify(index, ram_base + off, key[0], fields, begin, end, 0)
            index = (index + 1) & U32
        self.fetched = index
        self.issue_ns = t
        self.max_end_ns, self.last_end_ns = max_end, retire

    def _strict_pending(self, strict: StrictCompletion, index: int, addr: int, name: str, until: int,
                        written: list[tuple[int, int]], read: list[tuple[int, int]],
                        olds: list[tuple[int, bytes]]) -> None:
        """Hold a just-run command's DRAM writes until ``until`` and guard the DRAM it uses."""
        for lo, old in olds:
            strict.hold(until, lo, old)
        if olds:
            self._schedule(until)
        for lo, hi in written:
            strict.guard(Guard(lo, hi, until, True, addr, name, index))
        for lo, hi in [*read, (addr, addr + DESC_BYTES)]:
            strict.guard(Guard(lo, hi, until, False, addr, name, index))

    def _notify(self, index: int, addr: int, opcode: int, fields: Any, start: int, end: int, error: int) -> None:
        event = observe.make_event(index, addr, opcode, fields, start, end, error, (self.config.rows, self.config.cols))
        for observer in list(self.observers):
            observer(event)

    # -- MMIO --------------------------------------------------------------------------------
    def read(self, offset: int, width: int) -> int:
        if width == 4 and not offset & 3:
            if offset == OFF_RING_HEAD:  # the polling loop's register: no look-ups
                self._retire(self.clock.now_ns())
                return self.head
            return self._read_word(offset)
        value = 0
        first = offset & ~3
        for word in range(first, offset + width, 4):
            value |= self._read_word(word) << (8 * (word - first))
        return (value >> (8 * (offset - first))) & ((1 << (8 * width)) - 1)

    def write(self, offset: int, width: int, value: int) -> None:
        if width == 4 and not offset & 3:
            if offset == OFF_DOORBELL:
                self._doorbell()
            elif offset == OFF_RING_TAIL:  # what _write_word does for a full-word RING_TAIL write
                self.r["RING_TAIL"] = value & U32
            else:
                self._write_word(offset, value & U32, U32)
            return
        first = offset & ~3
        shifted = (value & ((1 << (8 * width)) - 1)) << (8 * (offset - first))
        full = ((1 << (8 * width)) - 1) << (8 * (offset - first))
        for word in range(first, offset + width, 4):
            sh = 8 * (word - first)
            self._write_word(word, (shifted >> sh) & U32, (full >> sh) & U32)

    def _read_word(self, off: int) -> int:
        name = RW_REGS.get(off)
        if name is not None:
            return self.r[name]
        if off in self._ro:
            return self._ro[off]
        now = self.clock.now_ns()
        self._retire(now)
        if off == OFF_RING_HEAD:
            return self.head
        if off == OFF_STATUS:
            status = BITS["STATUS_BUSY"] if self.inflight else 0
            status |= BITS["STATUS_ERROR"] if self.error_visible else 0
            status |= BITS["STATUS_GRAD_SAT"] if self.executor.grad_saturated else 0
            return status | (BITS["STATUS_ENABLED"] if self.r["CTRL"] & BITS["CTRL_ENABLE"] else 0)
        if off == OFF_INT_STATUS:
            return self.int_status
        if off == OFF_ERR_CODE:
            return self.error[0] if self.error_visible and self.error else 0
        if off in (OFF_ERR_DESC_LO, OFF_ERR_DESC_HI):
            addr = self.error[1] if self.error_visible and self.error else 0
            return addr & U32 if off == OFF_ERR_DESC_LO else addr >> 32
        if off in (OFF_TILE_WRITES_LO, OFF_TILE_WRITES_HI):
            sel = self.r["TILE_SELECT"]
            writes = int(self._tiles.row_writes[sel]) if sel < self.config.tiles else 0
            return writes & U32 if off == OFF_TILE_WRITES_LO else writes >> 32
        counter = COUNTER_REGS.get(off & ~7)
        if counter is not None:
            value = self._counter(counter, now)
            return value & U32 if not off & 4 else (value >> 32) & U32
        return 0

    def _write_word(self, off: int, value: int, mask: int) -> None:
        name = RW_REGS.get(off)
        if name is not None:
            old = self.r[name]
            self.r[name] = (old & ~mask | value & mask) & U32
            if name == "CTRL":
                self.r["CTRL"] &= BITS["CTRL_ENABLE"]
                if value & mask & BITS["CTRL_RESET"]:
                    self._soft_reset()
                if self.r["CTRL"] & ~old & BITS["CTRL_ENABLE"]:
                    self._doorbell()
            elif name == "INT_ENABLE":
                self._retire(self.clock.now_ns())
                self._update_irq()
        elif off == OFF_INT_STATUS:
            self._retire(self.clock.now_ns())
            self.int_status &= ~(value & mask)
            self._update_irq()
        elif off == OFF_DOORBELL:
            self._doorbell()

    def _counter(self, name: str, now: int) -> int:
        self._fold()
        cycles = self.costs.cycles_in(max(0, now - self.reset_ns))  # a guest may move mtime backwards
        if name == "cycles":
            return cycles
        if name == "energy_pj":  # dynamic + leakage over busy cycles: idle (power-gated) time is free
            return int(self.totals["energy_pj"] + self.costs.static_pj(self.totals["busy_cycles"]))
        return self.totals[name]

    # -- snapshots -----------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        self._fold()
        return copy.deepcopy({
            "tiles": self._tiles.weights, "int4": self._tiles.int4, "spad": self._spad, "acc": self._acc,
            "r": self.r, "head": self.head, "fetched": self.fetched, "inflight": list(self.inflight),
            "last_end_ns": self.last_end_ns, "issue_ns": self.issue_ns, "max_end_ns": self.max_end_ns,
            "engine_free": self.engine_free, "pending": self.pending, "reset_ns": self.reset_ns, "int_status": self.int_status,
            "error": self.error, "error_visible": self.error_visible, "totals": self.totals,
            "lifetime": self.lifetime, "trace": self.trace.mark(), "row_writes": self._tiles.row_writes,
            "op_energy": self.op_energy, "lifetime_op_energy": self.lifetime_op_energy,
            "layer_totals": self.layer_totals, "grad_saturated": self.executor.grad_saturated,
            "deferred": self.deferred,
            "strict_held": list(self.strict.held) if self.strict is not None else [],
            "strict_guards": self.strict.guards if self.strict is not None else [],
        })

    def set_state(self, state: Any) -> None:
        """Restore a :meth:`get_state` result and re-schedule its pending completion events."""
        state = copy.deepcopy(state)
        for event in self._events:
            self.clock.cancel(event)
        self._events.clear()
        self._tiles.weights[...] = state["tiles"]
        self._tiles.int4[...] = state["int4"]
        self._tiles.invalidate()
        self._spad[...] = state["spad"]
        self._acc[...] = state["acc"]
        self.r = state["r"]
        self.head, self.fetched = state["head"], state["fetched"]
        self.inflight = deque(state["inflight"])
        self.last_end_ns, self.reset_ns = state["last_end_ns"], state["reset_ns"]
        self.issue_ns, self.max_end_ns = state["issue_ns"], state["max_end_ns"]
        self.engine_free, self.pending = state["engine_free"], state["pending"]
        self.int_status = state["int_status"]
        self.error, self.error_visible = state["error"], state["error_visible"]
        self.totals, self.lifetime = state["totals"], state["lifetime"]
        self._retired, self._retired_ops = [], []
        self._tiles.row_writes[...] = state["row_writes"]
        self.op_energy, self.lifetime_op_energy = state["op_energy"], state["lifetime_op_energy"]
        self.layer_totals = state["layer_totals"]
        self.executor.grad_saturated = state["grad_saturated"]
        self.trace.rewind(state["trace"])  # a replay after the restore must not log commands twice
        for end, _, irq, _ in self.inflight:
            if irq:
                self._schedule(end)
        if self.error is not None and not self.error_visible:
            self._schedule(self.error[2])
        self.deferred = False
        if state.get("deferred"):
            self._defer()
        if self.strict is not None:  # the held outputs and the guards of the restored pending commands
            self.strict.restore(state["strict_held"], state["strict_guards"])
            for held in self.strict.held:
                self._schedule(held.land_ns)
        self._update_irq()

    # -- inspection API (debugger, tests, CLI) -----------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Everything the debugger's ``npu status`` shows, at the current virtual time."""
        now = self.clock.now_ns()
        self._retire(now)
        code = self.error[0] if self.error and self.error_visible else 0
        return {
            "enabled": bool(self.r["CTRL"] & BITS["CTRL_ENABLE"]), "busy": bool(self.inflight),
            "error": code, "error_name": ERROR_NAMES.get(code, "?"),
            "error_descriptor": self.error[1] if code and self.error else 0,
            "ring_base": self.r["RING_BASE_LO"] | self.r["RING_BASE_HI"] << 32,
            "ring_size": self.r["RING_SIZE"], "head": self.head, "tail": self.r["RING_TAIL"],
            "fetched": self.fetched, "in_flight": len(self.inflight),
            "int_enable": self.r["INT_ENABLE"], "int_status": self.int_status, "irq": self.irq.level,
            "now_ns": now, "busy_until_ns": self.last_end_ns,
        }

    def queue(self) -> list[dict[str, Any]]:
        """Recent completed, in-flight and queued-but-unfetched descriptors, oldest first, decoded."""
        now = self.clock.now_ns()
        out = []
        for rec in self.trace.records[-QUEUE_HISTORY:]:
            state = "error" if rec.error else "done" if rec.end_ns <= now else "running" if rec.start_ns <= now else "pending"
            fields = rec.fields._asdict() if rec.fields is not None else {}
            out.append({"index": rec.index, "addr": rec.addr, "op": rec.op, "state": state,
                        "start_ns": rec.start_ns, "end_ns": rec.end_ns, **fields})
        size = self.r["RING_SIZE"]
        unfetched = (self.r["RING_TAIL"] - self.fetched) & U32
        shown = {entry["index"] for entry in out}  # a failed descriptor stays unfetched: list it once
        for i in range(min(unfetched, size, QUEUE_HISTORY)):
            index = (self.fetched + i) & U32
            addr = self._ring_addr(index)
            if index in shown:
                continue
            if not self.ram.contains(addr, DESC_BYTES):
                break
            out.append({"index": index, "addr": addr, "state": "queued",
                        **regs.decode_descriptor(self.ram.read(addr, DESC_BYTES))})
        return out

    @property
    def tiles(self) -> np.ndarray:
        """All weights, shape (T, R, C) int8 (the live array: read, do not write)."""
        return self._tiles.weights

    def tile(self, index: int) -> np.ndarray:
        return self._tiles.weights[index]

    @property
    def tile_int4(self) -> np.ndarray:
        """Per tile: True if its weights were loaded as int4 (saturation range -8..7)."""
        return self._tiles.int4

    @property
    def scratchpad(self) -> np.ndarray:
        """The activation scratchpad, uint8 bytes (live)."""
        return self._spad

    @property
    def accumulator(self) -> np.ndarray:
        """The accumulator buffer, int32 entries (live)."""
        return self._acc

    def counters(self) -> dict[str, int]:
        """The counter registers' values now (since the last reset)."""
        now = self.clock.now_ns()
        self._retire(now)
        return self._counter_values(now)

    def energy_by_op(self) -> dict[str, float]:
        """Dynamic energy in pJ of the commands completed since the last reset, by opcode name."""
        self._retire(self.clock.now_ns())
        self._fold()
        return _by_name(self.op_energy)

    def _counter_values(self, now: int) -> dict[str, int]:
        return {name: self._counter(name, now) for name in COUNTERS}

    @staticmethod
    def decode_descriptor(data: bytes) -> dict[str, Any]:
        return regs.decode_descriptor(data)

    def set_layers(self, table: dict[int, LayerInfo]) -> None:
        """Name the descriptor tags (the compiler's layer table, emu.compiler.layer_table): the
        device then totals each tag's commands for ``stats_lines`` and the trace's layers track."""
        self.layers = dict(table)
        several = len({info.model for info in table.values()}) > 1
        self.trace.layer_names = names = {tag: f"{info.model}:{info.name}" if several else info.name
                                          for tag, info in table.items()}
        if self.trace.sink is not None and names:  # a trace already streaming
            self.trace.sink.layers = LayerTrack(names)

    def layer_profile(self) -> list[dict[str, Any]]:
        """Measured per layer since power-on (CTRL.RESETs included), in table order, for the layers
        that ran NPU commands; a tag not in the table (a command no model emitted) gets its own row
        named ``tag 0xN``; with several models in the table, rows are named ``model:layer``."""
        self._retire(self.clock.now_ns())
        self._fold()
        energy_by_tag: dict[int, float] = {}
        for energies in (self.lifetime_op_energy, self.op_energy):
            for (_, tag), pj in energies.items():
                energy_by_tag[tag] = energy_by_tag.get(tag, 0.0) + pj
        rows = []
        several = len({info.model for info in self.layers.values()}) > 1  # name rows model:layer
        order = [*self.layers, *sorted(set(self.layer_totals) - set(self.layers))]
        for tag in order:
            info = self.layers.get(tag)
            commands, cycles, macs, dma_in, dma_out = self.layer_totals.get(tag, [0, 0, 0, 0, 0])
            energy = energy_by_tag.get(tag, 0.0)
            if not commands:
                continue  # a CPU or no-op layer, or one of a model the firmware did not run
            estimated = info is not None and info.kind != "shared"  # (a tag two models share: no estimate)
            name = f"tag {tag:#x}" if info is None else f"{info.model}:{info.name}" if several else info.name
            rows.append({"tag": tag, "name": name, "commands": commands,
                         "cycles": cycles, "est_cycles": info.cycles if estimated else None, "macs": macs,
                         "dma_in": dma_in, "dma_out": dma_out, "energy_pj": energy})
        return rows

    def _layer_lines(self) -> list[str]:
        rows = self.layer_profile()
        busy = sum(r["cycles"] for r in rows) or 1
        lines = ["npu: per layer (busy cycles measured and the compiler's estimate; energy: dynamic)",
                 f"npu:   {'layer':<24} {'cmds':>6} {'cycles':>10} {'estimate':>10} {'MACs':>11} {'DMA in':>9} "
                 f"{'DMA out':>9} {'energy uJ':>10} {'share':>6}"]
        for r in rows:
            est = "-" if r["est_cycles"] is None else r["est_cycles"]
            lines.append(f"npu:   {r['name']:<24} {r['commands']:>6} {r['cycles']:>10} {est:>10} {r['macs']:>11} "
                         f"{r['dma_in']:>9} {r['dma_out']:>9} {r['energy_pj'] / 1e6:>10.3f} {r['cycles'] / busy:>6.1%}")
        return lines

    def stats_lines(self) -> list[str]:
        """The CLI's ``--stats`` lines: totals over the whole run, CTRL.RESETs included.

        Every line but the last depends only on guest behaviour (identical in realtime and
        deterministic runs); the last relates busy time to the elapsed virtual time, which is
        host-paced without --deterministic.  With a layer table (:meth:`set_layers`) the per-layer
        profile comes before that last line.
        """
        c = {name: value + self.lifetime[name] for name, value in self.counters().items()}
        by_op = _by_name(self.lifetime_op_energy, self.op_energy)
        dynamic = sum(by_op.values())
        static = self.costs.static_pj(c["busy_cycles"])
        split = ", ".join(f"{op} {pj / 1e6:.3f}" for op, pj in sorted(by_op.items(), key=lambda kv: -kv[1]))
        util = c["busy_cycles"] / max(c["cycles"], 1)
        return [
            f"npu: {self.config.macro.name} at {self.config.npu_mhz:g} MHz",
            f"npu: {c['commands']} commands, {c['busy_cycles']} busy cycles, {c['macs']} MACs",
            f"npu: DMA {c['dma_in']} B in, {c['dma_out']} B out; {c['weight_bytes']} weight bytes written",
            f"npu: energy {(dynamic + static) / 1e6:.3f} uJ = dynamic {dynamic / 1e6:.3f} uJ"
            f" ({split or 'none'}) + leakage {static / 1e6:.3f} uJ over busy cycles (idle: power-gated, 0)",
            *(self._layer_lines() if self.layers else []),
            f"npu: busy {util:.1%} of {c['cycles']} elapsed cycles (virtual time: host-paced unless --deterministic)",
        ]

    def enable_strict(self, hooks: AccessHooks, report: Callable[[str], None]) -> None:
        """Strict completion (:mod:`emu.npu_device.strict`): DRAM outputs land at completion and CPU
        accesses racing a pending command go to ``report``."""
        self.strict = StrictCompletion(self.ram, self.clock.now_ns, hooks, report)

    def enable_full_trace(self, path: str | None = None) -> None:
        """Log every command for a trace file (``--npu-trace``), not just the recent history.

        With ``path`` the trace streams to that file as the run goes (bounded memory; OSError if
        it cannot be created) and :meth:`write_trace` of the same path finishes it; without, every
        command is kept in memory for :meth:`write_trace`.  Call it before the run: commands
        already dropped from the bounded history are not recovered.
        """
        if path is None:
            self.trace.keep_all = True
            return
        self.trace.stream(TraceWriter(path))
        self.trace.sink_start = self.trace.start
        self._stream_path = path

    def write_trace(self, path: str) -> None:
        """Chrome/Perfetto trace JSON of the kept commands (open in ui.perfetto.dev or chrome://tracing).

        That is every command with :meth:`enable_full_trace`, else the recent history (at least the
        last ``emu.npu_device.trace.HISTORY``); ``otherData.dropped_commands`` counts the earlier ones
        left out.  For the path being streamed to, this finishes that file.
        """
        if self.trace.sink is not None and path == self._stream_path:
            self.trace.close_stream()
            return
        self.trace.write(path)
