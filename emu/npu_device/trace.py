"""The NPU's command log: the debugger's ``npu queue``/``npu trace`` and the Chrome/Perfetto trace.

By default only the recent history is kept (the last :data:`HISTORY` commands, at most
``HISTORY + TRIM_EVERY`` held), so a long run does not accumulate a record per command.  With
full tracing (``NpuDevice.enable_full_trace()``) every command is kept in memory; with a
streamed trace (``enable_full_trace(path)``, what ``npuemu run --npu-trace out.json`` asks for)
the history stays bounded and every record is written to the file as it leaves the history, so
memory stays bounded however long the run (:class:`TraceWriter`).

The trace has one track per engine (load DMA, MAC array, vector unit, store DMA, control) and
two counter tracks with a series per engine (``C`` events): ``power``, the command's dynamic
energy over its duration in mW, and ``utilization``, 1 while the engine runs a command.  When the
firmware names its descriptor tags (a compiled model's layer table, ``NpuDevice.set_layers``) a
``layers`` track has one slice per contiguous run of a tag, named by its layer (:class:`LayerTrack`).

Recording is an append of a plain tuple per command (the hot path of tiny commands); formatting
to JSON happens only when the trace is written.

The log is a window ``[start, end)`` of the stream of every command logged since power-on:
records before ``start`` were dropped (:attr:`Trace.dropped`).  A snapshot remembers its point
in that stream (:meth:`Trace.mark`) and restoring it rewinds the log there (:meth:`Trace.rewind`),
so commands replayed after a restore (the debugger's reverse-stepi) are not logged twice.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any, NamedTuple

from emu.npu_device import command
from emu.npu_device.ops import BY_NAME

HISTORY = 4096  # commands kept without full tracing (the debugger's queue shows the last 256)
TRIM_EVERY = 1024  # the oldest records are dropped in batches of this size (an amortised trim)

# One track per engine; a command's is the engine its declaration names (emu.npu_device.ops);
# barriers (FENCE) and errors go on "control".
ENGINES = (*command.ENGINES, "control")
LAYERS_TID = len(ENGINES) + 1  # the layers track


class Record(NamedTuple):
    index: int  # free-running descriptor count
    addr: int  # DRAM address of the descriptor
    op: str
    start_ns: int
    end_ns: int
    fields: Any  # the decoded descriptor (a namedtuple), or None
    cost: Any  # timing.Cost, or None for an aborted command
    error: int  # 0, or the error code the command was aborted with


class Trace:
    """The command log behind the trace file and the debugger's ``queue()``."""

    def __init__(self) -> None:
        # The log: Records, then plain tuples of the same fields that the device's hot loop
        # appends (a tuple is cheaper to build than a namedtuple); :attr:`records` converts them.
        # The hot loop appends to ``items`` itself, calling :meth:`trim` first once it holds
        # ``limit`` records.
        self.items: list[Any] = []
        self._converted = 0
        self.start = 0  # stream position of items[0]: records before it were dropped
        self._keep_all = False
        self.limit = HISTORY + TRIM_EVERY
        self.sink: TraceWriter | None = None  # a streamed trace file (see stream)
        self.sink_start = 0  # stream position when streaming began: earlier records are not in the file
        self.layer_names: dict[int, str] = {}  # descriptor tag -> layer name (empty: no layers track)

    # -- retention -------------------------------------------------------------------------
    @property
    def keep_all(self) -> bool:
        """Full tracing: keep every record (for a trace file) instead of the recent history."""
        return self._keep_all

    @keep_all.setter
    def keep_all(self, value: bool) -> None:
        self._keep_all = bool(value)
        self.limit = sys.maxsize if self._keep_all else HISTORY + TRIM_EVERY
        if not self._keep_all and len(self.items) > HISTORY:
            self._drop_oldest(len(self.items) - HISTORY)

    def trim(self) -> None:
        """Drop the oldest records down to :data:`HISTORY` (called when ``limit`` is reached)."""
        if not self._keep_all and len(self.items) > HISTORY:
            self._drop_oldest(len(self.items) - HISTORY)

    def _drop_oldest(self, n: int) -> None:
        if self.sink is not None:
            records = self.records
            for record in records[:n]:
                self.sink.add(record)
        del self.items[:n]
        self.start += n
        self._converted = max(0, self._converted - n)

    @property
    def dropped(self) -> int:
        """Commands logged since power-on (or the restored snapshot's point) that are not kept."""
        return self.start

    @property
    def end(self) -> int:
        """Stream position after the newest record: commands logged since power-on."""
        return self.start + len(self.items)

    # -- snapshots -------------------------------------------------------------------------
    def mark(self) -> tuple[int, Any]:
        """The log's point, for a snapshot: (end, identity of the newest record or None)."""
        items = self.items
        return self.end, self._identity(items[-1]) if items else None

    def rewind(self, mark: tuple[int, Any]) -> None:
        """Return the log to a :meth:`mark`: drop the records logged after it.

        If the log does not hold the marked point's newest record (the snapshot is from another
        timeline, e.g. restored after an earlier one, or that record was since dropped) nothing
        kept is known to precede the point, so the log restarts empty at it.
        """
        end, last = mark
        start, items = self.start, self.items
        if self.sink is not None and end < start:
            self.sink.restored(end)  # already in the file: the replay will be logged again after a marker
        if start < end <= start + len(items) and self._identity(items[end - start - 1]) == last:
            del items[end - start :]
            self._converted = min(self._converted, len(items))
        else:
            items.clear()
            self._converted = 0
            self.start = end

    @staticmethod
    def _identity(record: Any) -> tuple[int, int, int, int]:
        # (index, addr, start_ns, end_ns): a record's place in its timeline
        return record[0], record[1], record[3], record[4]

    # -- logging and reading ---------------------------------------------------------------
    @property
    def records(self) -> list[Record]:
        """Every kept command, oldest first (the live list: read, do not write)."""
        items = self.items
        if self._converted < len(items):
            items[self._converted :] = map(Record._make, items[self._converted :])
            self._converted = len(items)
        return items

    def add(self, record: Record) -> None:
        if len(self.items) >= self.limit:
            self.trim()
        self.items.append(record)

    def clear(self) -> None:
        self.items.clear()
        self._converted = 0
        self.start = 0

    def events(self) -> list[dict[str, Any]]:
        """Trace Event Format events: metadata, then per kept command its span and power counter."""
        out = metadata_events()
        layers = LayerTrack(self.layer_names) if self.layer_names else None
        for r in self.records:
            out.extend(record_events(r))
            if layers is not None:
                out.extend(layers.add(r))
        if layers is not None:
            out.extend(layers.flush())
        return out

    def write(self, path: str) -> None:
        data = {"traceEvents": self.events(), "displayTimeUnit": "ns",
                "otherData": {"dropped_commands": self.dropped}}
        with open(path, "w") as fh:
            json.dump(data, fh)

    # -- streaming ---------------------------------------------------------------------------
    def stream(self, writer: TraceWriter) -> None:
        """Write every record to ``writer`` as it leaves the bounded history (and the rest at close)."""
        self.sink = writer
        self.keep_all = False
        if self.layer_names:
            writer.layers = LayerTrack(self.layer_names)

    def close_stream(self) -> None:
        """Write the records still held, then the file's end; the history itself is kept."""
        if self.sink is None:
            return
        for record in self.records:
            self.sink.add(record)
        self.sink.close(self.sink_start)  # the commands logged before streaming began
        self.sink = None


def metadata_events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "npu"}}]
    for tid, engine in enumerate(ENGINES, 1):
        out.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": engine}})
    return out


class LayerTrack:
    """The ``layers`` track: one slice per contiguous run of commands with the same tag.

    A run spans its first command's start to its latest end.  Consecutive layers may overlap in
    time (the next layer's loads run while the previous one computes): slices on one track must
    not overlap, so a slice starts no earlier than the previous one ended (``args.first_start_us``
    keeps the true start).
    """

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names
        self.run: list[Any] | None = None  # [tag, start_ns, end_ns, commands, busy cycles, MACs, pJ]
        self.last_end = 0
        self.named = False  # the track's name is written with its first slice

    def add(self, r: Any) -> list[dict[str, Any]]:
        if r.fields is None or r.cost is None:
            return []
        tag, run = r.fields.tag, self.run
        if run is not None and run[0] == tag:
            run[2] = max(run[2], r.end_ns)
            run[3] += 1
            run[4] += r.cost.cycles
            run[5] += r.cost.macs
            run[6] += r.cost.energy_pj
            return []
        out = self.flush()
        self.run = [tag, r.start_ns, r.end_ns, 1, r.cost.cycles, r.cost.macs, r.cost.energy_pj]
        return out

    def flush(self) -> list[dict[str, Any]]:
        """The slice of the current run (ended by a new tag or the end of the trace)."""
        run, self.run = self.run, None
        if run is None:
            return []
        tag, start, end, commands, cycles, macs, energy = run
        begin = max(start, self.last_end)
        self.last_end = max(end, begin)
        out = [] if self.named else [{"name": "thread_name", "ph": "M", "pid": 1, "tid": LAYERS_TID,
                                      "args": {"name": "layers"}}]
        self.named = True
        return [*out, {"name": self.names.get(tag, f"tag {tag:#x}"), "cat": "layer", "ph": "X", "pid": 1,
                 "tid": LAYERS_TID, "ts": begin / 1000, "dur": (self.last_end - begin) / 1000,
                 "args": {"tag": tag, "commands": commands, "busy_cycles": cycles, "macs": macs,
                          "energy_pj": energy, "first_start_us": start / 1000}}]


def record_events(r: Any) -> list[dict[str, Any]]:
    """A command's complete ("X") event on its engine's track, and its power and utilization counters."""
    declared = BY_NAME.get(r.op)
    engine = declared.engine if declared is not None and declared.engine and not r.error else "control"
    tid = ENGINES.index(engine) + 1
    args: dict[str, Any] = {"index": r.index, "descriptor": f"{r.addr:#x}"}
    if r.fields is not None:
        args.update({k: v for k, v in r.fields._asdict().items() if k != "opcode"})
    if r.cost is not None:
        args.update(r.cost._asdict())
    if r.error:
        args["error"] = r.error
    ts, dur = r.start_ns / 1000, (r.end_ns - r.start_ns) / 1000
    out = [{"name": r.op, "cat": "npu", "ph": "X", "pid": 1, "tid": tid, "ts": ts, "dur": dur, "args": args}]
    if r.cost is not None and r.end_ns > r.start_ns:
        power = {f"{engine} mW": r.cost.energy_pj / (r.end_ns - r.start_ns)}  # pJ/ns = mW
        out.append({"name": "power", "ph": "C", "pid": 1, "ts": ts, "args": power})
        out.append({"name": "power", "ph": "C", "pid": 1, "ts": ts + dur, "args": {f"{engine} mW": 0}})
        out.append({"name": "utilization", "ph": "C", "pid": 1, "ts": ts, "args": {engine: 1}})
        out.append({"name": "utilization", "ph": "C", "pid": 1, "ts": ts + dur, "args": {engine: 0}})
    return out


class TraceWriter:
    """A Chrome/Perfetto JSON trace written incrementally: events go to the file as they come."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fh: IO[str] = open(path, "w")  # noqa: SIM115 - closed by close()
        self.fh.write('{"displayTimeUnit": "ns", "traceEvents": [\n')
        self.fh.write(",\n".join(json.dumps(e) for e in metadata_events()))
        self.count = 0
        self.layers: LayerTrack | None = None  # set by Trace.stream when the tags have names
        self._encode = json.JSONEncoder().encode

    def add(self, record: Any) -> None:
        events = record_events(record)
        if self.layers is not None:
            events += self.layers.add(record)
        self.fh.write("".join([",\n" + self._encode(event) for event in events]))
        self.count += 1

    def restored(self, position: int) -> None:
        """A snapshot restore rewound the log to ``position``: commands after it will appear again."""
        self.fh.write(",\n" + json.dumps({"name": "snapshot restored", "ph": "i", "s": "p", "pid": 1,
                                            "ts": 0, "args": {"stream_position": position}}))

    def close(self, dropped: int) -> None:
        if self.layers is not None:
            self.fh.write("".join([",\n" + self._encode(event) for event in self.layers.flush()]))
        self.fh.write('\n], "otherData": ' + json.dumps({"dropped_commands": dropped,
                                                          "streamed_commands": self.count}) + "}\n")
        self.fh.close()
