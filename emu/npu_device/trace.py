"""Chrome/Perfetto trace of every command the NPU executed (``npuemu run --npu-trace out.json``).

Recording is an append of a plain tuple per command (the hot path of tiny
commands); formatting to JSON happens only when the trace is written.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

MAX_RECORDS = 1_000_000  # about 200 MB of JSON; later commands are counted as dropped


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
        self.items: list[Any] = []
        self._converted = 0
        self.dropped = 0

    @property
    def records(self) -> list[Record]:
        """Every logged command, oldest first (the live list: read, do not write)."""
        items = self.items
        if self._converted < len(items):
            items[self._converted :] = map(Record._make, items[self._converted :])
            self._converted = len(items)
        return items

    def add(self, record: Record) -> None:
        if len(self.items) < MAX_RECORDS:
            self.items.append(record)
        else:
            self.dropped += 1

    def clear(self) -> None:
        self.items.clear()
        self._converted = 0
        self.dropped = 0

    def events(self) -> list[dict[str, Any]]:
        """Trace Event Format "complete" events, one per command, timestamps in microseconds."""
        out: list[dict[str, Any]] = [
            {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "npu"}},
            {"name": "thread_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "commands"}},
        ]
        for r in self.records:
            args: dict[str, Any] = {"index": r.index, "descriptor": f"{r.addr:#x}"}
            if r.fields is not None:
                args.update({k: v for k, v in r.fields._asdict().items() if k != "opcode"})
            if r.cost is not None:
                args.update(r.cost._asdict())
            if r.error:
                args["error"] = r.error
            out.append({"name": r.op, "cat": "npu", "ph": "X", "pid": 1, "tid": 1,
                        "ts": r.start_ns / 1000, "dur": (r.end_ns - r.start_ns) / 1000, "args": args})
        return out

    def write(self, path: str) -> None:
        data = {"traceEvents": self.events(), "displayTimeUnit": "ns",
                "otherData": {"dropped_commands": self.dropped}}
        with open(path, "w") as fh:
            json.dump(data, fh)
