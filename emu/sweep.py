"""``npuemu sweep``: a grid of (firmware, NPU configuration) cases -> one table and a Pareto plot.

Every case boots deterministically and runs to its exit (or its instruction / virtual-time
budget); the row holds the exit status, a digest of the console, the instruction count, the
virtual time, the NPU counters and the cost per NPU operation.  Nothing in a row depends on the
host or on which worker ran it, and rows come back in grid order, so 1 worker, N local
processes or a Ray cluster give the same table byte for byte.  Each row is keyed by
(ELF hash, configuration hash, npuemu version).

Workers are warm: a worker boots each (ELF, configuration) once, snapshots the power-on state and
restores it for the next case that needs it (the same machine state as a fresh boot).  Locally
that is a process pool over all cores; with ``--ray ADDRESS`` (or ``RAY_ADDRESS``) each Ray
worker is a long-lived actor holding such snapshots, and the ELF and configuration travel with
the case, so remote machines need nothing but npuemu.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emu.errors import ConfigError

NPU_COUNTERS = ("commands", "cycles", "busy_cycles", "macs", "energy_pj", "dma_in", "dma_out")
# Machine options a grid may vary (--option KEY=V1,V2): DRAM size, ns per instruction, semihosting argv.
MACHINE_OPTIONS = {"ram": str, "ns_per_insn": int, "args": str}
COLUMNS = ("key", "firmware", "elf_sha256", "config", "config_sha256", "options", "npuemu", "status", "exit_code",
           "instructions", "virtual_ns", "console_sha256", "console_lines",
           *(f"npu_{name}" for name in NPU_COUNTERS), "per_op")
DEFAULT_MAX_INSNS = 200_000_000
DEFAULT_TIMEOUT = 60.0  # virtual seconds


def npuemu_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("npuemu")
    except PackageNotFoundError:
        return "0+source"


@dataclass(frozen=True)
class Case:
    """One cell of the grid, self-contained so it can run on another machine."""

    firmware: str          # display name (the path as given)
    elf: bytes
    overrides: tuple[tuple[str, Any], ...]  # ("geometry.tiles", 4), ...
    max_insns: int
    timeout: float
    options: tuple[tuple[str, Any], ...] = ()  # ("ram", "64M"), ("args", "a b"), ...

    def machine_options(self) -> dict[str, Any]:
        out = dict(self.options)
        if "args" in out:
            out["args"] = tuple(str(out["args"]).split())
        if "ram" in out:
            out["ram"] = str(out["ram"])
        return out

    @property
    def elf_sha256(self) -> str:
        return hashlib.sha256(self.elf).hexdigest()

    @property
    def config_toml(self) -> str:
        sections: dict[str, dict[str, Any]] = {}
        for dotted, value in self.overrides:
            section, _, key = dotted.partition(".")
            sections.setdefault(section, {})[key] = value
        return "".join(f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
                       for name, keys in sections.items())

    @property
    def config_sha256(self) -> str:
        return hashlib.sha256(self.config_toml.encode()).hexdigest()

    @property
    def key(self) -> str:
        text = (f"{self.elf_sha256}:{self.config_sha256}:{npuemu_version()}:{self.max_insns}:{self.timeout!r}:"
                f"{json.dumps(self.options)}")
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_axis(text: str, machine: bool = False) -> tuple[str, list[Any]]:
    """``geometry.tiles=4,16`` -> ("geometry.tiles", [4, 16]) (ints, floats, else strings);
    with ``machine``, a machine option (``ram=64M,128M``, ``ns_per_insn=5,10``, ``args=a b,c``)."""
    name, sep, values = text.partition("=")
    if machine:
        if not sep or name.strip() not in MACHINE_OPTIONS or not values:
            raise ConfigError(f"--option {text!r}: expected KEY=V1,V2,... with KEY one of {', '.join(MACHINE_OPTIONS)}")
    elif not sep or "." not in name or not values:
        raise ConfigError(f"--npu {text!r}: expected SECTION.KEY=V1,V2,... (e.g. geometry.tiles=4,16)")

    def value(word: str) -> Any:
        for kind in (int, float):
            try:
                return kind(word)
            except ValueError:
                pass
        return word

    return name.strip(), [value(word.strip()) for word in values.split(",")]


def build_grid(firmware: Sequence[str | os.PathLike], axes: Sequence[tuple[str, list[Any]]], *,
               max_insns: int = DEFAULT_MAX_INSNS, timeout: float = DEFAULT_TIMEOUT,
               option_axes: Sequence[tuple[str, list[Any]]] = ()) -> list[Case]:
    """The cases in grid order: firmware outermost, then each NPU axis, then each option axis,
    each in the order given."""
    from emu.npu_device import NpuConfig

    elfs = []
    for path in firmware:
        try:
            elfs.append((str(path), Path(path).read_bytes()))
        except OSError as e:
            raise ConfigError(f"cannot read firmware {path}: {e.strerror}") from None
    for name, values in option_axes:
        for value in values:
            _check_option(name, value)
    names = [name for name, _ in axes]
    option_names = [name for name, _ in option_axes]
    if len(set(names)) != len(names) or len(set(option_names)) != len(option_names):
        raise ConfigError("each --npu or --option key may be given once (list its values: KEY=V1,V2)")
    cases = []
    grid = itertools.product(elfs, itertools.product(*(vals for _, vals in axes)),
                             itertools.product(*(vals for _, vals in option_axes)))
    for (name, elf), values, options in grid:
        cases.append(Case(name, elf, tuple(zip(names, values, strict=True)), max_insns, timeout,
                          tuple(zip(option_names, options, strict=True))))
    with tempfile.TemporaryDirectory() as scratch:  # every configuration is checked before any run
        for toml in dict.fromkeys(case.config_toml for case in cases):
            path = Path(scratch, "npu.toml")
            path.write_text(toml)
            NpuConfig.load(str(path))
    return cases


def _check_option(name: str, value: Any) -> None:
    """A bad machine option fails here, before any case runs (not inside a remote worker)."""
    from emu.memory import parse_size

    if name == "ram":
        try:
            parse_size(str(value))
        except ValueError as e:
            raise ConfigError(f"--option ram={value}: {e}") from None
    elif name == "ns_per_insn" and not (isinstance(value, int) and value > 0):
        raise ConfigError(f"--option ns_per_insn={value}: must be a positive integer")


class SweepWorker:
    """Runs cases, keeping one booted machine and its power-on snapshot per (ELF, configuration)."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="npuemu-sweep-")  # removed with the worker
        self._dir = self._tmp.name
        self._warm: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def close(self) -> None:
        for machine, _ in self._warm.values():
            machine.close()
        self._warm.clear()
        self._tmp.cleanup()

    def _machine(self, case: Case) -> Any:
        from emu.testing import FirmwareMachine

        key = (case.elf_sha256, case.config_sha256, json.dumps(case.options))
        if key in self._warm:
            machine, snapshot = self._warm[key]
            machine.restore(snapshot)
            return machine
        elf = Path(self._dir, f"{case.elf_sha256[:16]}-{Path(case.firmware).name}")
        elf.write_bytes(case.elf)
        config = Path(self._dir, f"{case.config_sha256[:16]}.toml")
        config.write_text(case.config_toml)
        machine = FirmwareMachine(elf, npu_config=str(config), deterministic=True, **case.machine_options())
        machine.npu.enable_full_trace()
        self._warm[key] = (machine, machine.snapshot())
        return machine

    def run(self, case: Case) -> dict[str, Any]:
        from emu.machine import StopReason

        machine = self._machine(case)
        npu = machine.npu
        before = {name: npu.counters()[name] + npu.lifetime[name] for name in NPU_COUNTERS}
        start_insns, start_ns = machine.insn_count or 0, machine.clock.now_ns()
        first_record = len(npu.trace.records)
        clock = machine.clock
        deadline = clock.schedule(start_ns + int(case.timeout * 1e9), machine.request_stop, "sweep-timeout")
        try:
            stop = machine.machine.run(max_insns=case.max_insns)
        finally:
            clock.cancel(deadline)
        after = {name: npu.counters()[name] + npu.lifetime[name] for name in NPU_COUNTERS}
        per_op: dict[str, dict[str, float]] = {}
        for record in npu.trace.records[first_record:]:
            op = per_op.setdefault(record.op, {"count": 0, "cycles": 0, "energy_pj": 0.0})
            op["count"] += 1
            if record.cost is not None:
                op["cycles"] += record.cost.cycles
                op["energy_pj"] = round(op["energy_pj"] + record.cost.energy_pj, 6)
        console = machine.uart.output
        status = {StopReason.EXITED: "exited", StopReason.INSN_LIMIT: "max_insns",
                  StopReason.INTERRUPTED: "timeout"}.get(stop.reason, stop.reason.value)
        row = {
            "key": case.key, "firmware": case.firmware, "elf_sha256": case.elf_sha256[:16],
            "config": json.dumps(dict(case.overrides), sort_keys=True), "config_sha256": case.config_sha256[:16],
            "options": json.dumps(dict(case.options), sort_keys=True),
            "npuemu": npuemu_version(), "status": status,
            "exit_code": stop.exit_code if stop.reason is StopReason.EXITED else "",
            "instructions": (machine.insn_count or 0) - start_insns, "virtual_ns": clock.now_ns() - start_ns,
            "console_sha256": hashlib.sha256(console).hexdigest()[:16], "console_lines": console.count(b"\n"),
            **{f"npu_{name}": round(after[name] - before[name], 6) for name in NPU_COUNTERS},
            "per_op": json.dumps(per_op, sort_keys=True),
        }
        return row


_PROCESS_WORKER: SweepWorker | None = None


def _run_in_process(case: Case) -> dict[str, Any]:
    global _PROCESS_WORKER
    if _PROCESS_WORKER is None:
        _PROCESS_WORKER = SweepWorker()
    return _PROCESS_WORKER.run(case)


def run_local(cases: Sequence[Case], workers: int) -> list[dict[str, Any]]:
    """Rows in grid order; ``workers`` processes (1: in this process)."""
    if workers <= 1:
        worker = SweepWorker()
        try:
            return [worker.run(case) for case in cases]
        finally:
            worker.close()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Cases of one (ELF, config) go to the same chunk where possible: warm restores, not boots.
    chunk = max(1, len(cases) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_run_in_process, cases, chunksize=chunk))


def run_ray(cases: Sequence[Case], address: str, workers: int | None = None) -> list[dict[str, Any]]:
    """Rows in grid order from warm actors on the Ray cluster at ``address``."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'npuemu[ray]'") from None
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1)(SweepWorker)
        actors = [actor.remote() for _ in range(min(count, len(cases)) or 1)]
        # Same (ELF, config) -> same actor, so each actor boots a configuration once.
        slots: dict[tuple[str, str, str], int] = {}
        futures = []
        for case in cases:
            slot = slots.setdefault((case.elf_sha256, case.config_sha256, json.dumps(case.options)),
                                    len(slots) % len(actors))
            futures.append(actors[slot].run.remote(case))
        rows = ray.get(futures)
        ray.get([actor.close.remote() for actor in actors])
        return rows
    finally:
        ray.shutdown()


def write_table(rows: Iterable[dict[str, Any]], path: str | os.PathLike) -> None:
    """CSV, or Parquet for a ``.parquet`` path (needs pyarrow)."""
    rows = list(rows)
    if str(path).endswith(".parquet"):
        try:
            import pyarrow
            import pyarrow.parquet
        except ImportError:
            raise ConfigError("a .parquet table needs pyarrow (pip install pyarrow); or write .csv") from None
        table = pyarrow.Table.from_pylist([{c: str(row[c]) if c == "exit_code" else row[c] for c in COLUMNS}
                                           for row in rows])
        pyarrow.parquet.write_table(table, str(path))
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    Path(path).write_text(buffer.getvalue())


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (lower is better)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((ox <= x and oy <= y) and (ox < x or oy < y) for ox, oy in points)
        if not dominated:
            front.append(i)
    return front


def plot_pareto(rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> None:
    """Virtual time against NPU energy per case, the Pareto front joined (needs matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("--plot needs matplotlib: pip install 'npuemu[plot]'") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    points = [(row["virtual_ns"] / 1e6, row["npu_energy_pj"] / 1e6) for row in rows]
    front = sorted(pareto_front(points), key=lambda i: points[i])
    figure, axes = pyplot.subplots(figsize=(7, 5))
    for name in dict.fromkeys(row["firmware"] for row in rows):
        mine = [p for p, row in zip(points, rows, strict=True) if row["firmware"] == name]
        axes.scatter([x for x, _ in mine], [y for _, y in mine], label=Path(name).name, alpha=0.8)
    axes.plot([points[i][0] for i in front], [points[i][1] for i in front], "k--", linewidth=1, label="Pareto front")
    axes.set_xlabel("virtual time (ms)")
    axes.set_ylabel("NPU energy (uJ)")
    axes.set_title(f"npuemu sweep: {len(rows)} cases")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(str(path), dpi=100)
    pyplot.close(figure)
