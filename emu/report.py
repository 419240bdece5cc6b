"""``npuemu report trace.json``: where the NPU's time and energy went, from a ``--npu-trace`` file.

The trace is Chrome/Perfetto JSON with one complete event per NPU command (its cost in
``args``); the report adds them up per operation: commands, busy time and its share of the
traced span, energy and its share, MACs, errors.  With matplotlib (the ``plot`` extra) it also
writes two PNG charts: NPU utilization over time and energy by operation.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emu.errors import ConfigError, HostFileError
from emu.host_files import read_regular_file

UTILIZATION_BINS = 100
MAX_TRACE_BYTES = 1 << 30  # a trace file `npuemu report` reads whole (about 4 M commands)


@dataclass
class OpTotals:
    commands: int = 0
    busy_us: float = 0.0
    energy_pj: float = 0.0
    macs: int = 0
    errors: int = 0


@dataclass
class TraceSummary:
    ops: dict[str, OpTotals] = field(default_factory=dict)
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) in us, per command
    dropped: int = 0

    @property
    def start_us(self) -> float:
        return min((s for s, _ in self.spans), default=0.0)

    @property
    def end_us(self) -> float:
        return max((e for _, e in self.spans), default=0.0)


def load_trace(path: str | os.PathLike) -> TraceSummary:
    """Read an npuemu NPU trace; ConfigError (one line) for anything else."""
    try:  # a regular file (a FIFO or /dev/zero must not hang), at most MAX_TRACE_BYTES
        data = json.loads(read_regular_file(path, MAX_TRACE_BYTES))
    except HostFileError as e:
        raise ConfigError(f"cannot read {str(e).rstrip('.')}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not JSON ({e})") from None
    events = data.get("traceEvents") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise ConfigError(f"{path}: not a trace (no traceEvents list): write one with npuemu run --npu-trace")
    summary = TraceSummary(dropped=int((data.get("otherData") or {}).get("dropped_commands", 0)))
    for event in events:
        if not isinstance(event, dict) or event.get("ph") != "X" or event.get("cat") != "npu":
            continue
        args: dict[str, Any] = event.get("args") or {}
        op = summary.ops.setdefault(str(event.get("name")), OpTotals())
        start, duration = float(event.get("ts", 0)), float(event.get("dur", 0))
        op.commands += 1
        op.busy_us += duration
        op.energy_pj += float(args.get("energy_pj", 0))
        op.macs += int(args.get("macs", 0))
        op.errors += 1 if args.get("error") else 0
        summary.spans.append((start, start + duration))
    if not summary.spans:
        raise ConfigError(f"{path}: the trace holds no NPU commands")
    return summary


def format_report(summary: TraceSummary) -> str:
    span = max(summary.end_us - summary.start_us, 1e-9)
    busy = sum(op.busy_us for op in summary.ops.values())
    energy = sum(op.energy_pj for op in summary.ops.values())
    lines = [f"NPU trace: {sum(op.commands for op in summary.ops.values())} commands over {span:.3f} us "
             f"(busy {busy:.3f} us, {busy / span:.1%} utilization), {energy / 1e6:.6f} uJ in commands "
             "(idle energy is not in the trace)"
             + (f"; {summary.dropped} earlier commands not in the trace" if summary.dropped else ""),
             f"{'operation':<14} {'commands':>9} {'busy us':>12} {'time %':>7} {'energy uJ':>12} "
             f"{'energy %':>8} {'MACs':>12} {'errors':>6}"]
    for name, op in sorted(summary.ops.items(), key=lambda item: (-item[1].energy_pj, item[0])):
        lines.append(f"{name:<14} {op.commands:>9} {op.busy_us:>12.3f} {op.busy_us / max(busy, 1e-9):>7.1%} "
                     f"{op.energy_pj / 1e6:>12.6f} {op.energy_pj / max(energy, 1e-9):>8.1%} {op.macs:>12} "
                     f"{op.errors:>6}")
    return "\n".join(lines)


def utilization(summary: TraceSummary, bins: int = UTILIZATION_BINS) -> list[float]:
    """Busy fraction of each of ``bins`` equal slices of the traced span."""
    start, end = summary.start_us, summary.end_us
    width = max(end - start, 1e-9) / bins
    busy = [0.0] * bins
    for s, e in summary.spans:
        first, last = int((s - start) / width), min(int((e - start) / width), bins - 1)
        for b in range(min(first, bins - 1), last + 1):
            lo, hi = start + b * width, start + (b + 1) * width
            busy[b] += max(0.0, min(e, hi) - max(s, lo))
    return [min(1.0, value / width) for value in busy]


def write_charts(summary: TraceSummary, directory: str | os.PathLike) -> list[Path]:
    """npu_utilization.png and npu_energy_by_op.png in ``directory`` (needs matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("--charts needs matplotlib: pip install 'npuemu[plot]'") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    out = Path(directory)
    values = utilization(summary)
    width = (summary.end_us - summary.start_us) / len(values)
    figure, axes = pyplot.subplots(figsize=(8, 3))
    axes.bar([summary.start_us + i * width for i in range(len(values))], [v * 100 for v in values],
             width=width, align="edge")
    axes.set_xlabel("virtual time (us)")
    axes.set_ylabel("NPU busy (%)")
    axes.set_ylim(0, 100)
    axes.set_title("NPU utilization")
    figure.tight_layout()
    paths = [out / "npu_utilization.png", out / "npu_energy_by_op.png"]
    figure.savefig(paths[0], dpi=100)
    pyplot.close(figure)
    ops = sorted(summary.ops.items(), key=lambda item: -item[1].energy_pj)
    figure, axes = pyplot.subplots(figsize=(8, 3))
    axes.bar([name for name, _ in ops], [op.energy_pj / 1e6 for _, op in ops])
    axes.set_ylabel("energy (uJ)")
    axes.set_title("NPU energy by operation")
    figure.tight_layout()
    figure.savefig(paths[1], dpi=100)
    pyplot.close(figure)
    return paths
