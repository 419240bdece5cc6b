"""Performance profiles of firmware and baselines that fail a test on regression.

``machine.profile()`` (on :class:`emu.testing.FirmwareMachine`) starts a :class:`Profiler`: a
``UC_HOOK_BLOCK`` counts each translated block's executions, and the report attributes
``executions x instructions in the block`` to the function holding the block.  A block cut
short (by the exit, a breakpoint or a trap) still counts whole, so a count can exceed the exact
one by the few instructions after the cut.  With the NPU's
counters (cycles, MACs, energy) and the virtual time, that is a :class:`Profile`, all numbers
that do not depend on the host: under deterministic time they are identical on every run.

``profile.assert_within("perf/baseline.json", tolerance=0.05)`` compares with a checked-in
baseline and fails when a metric grew by more than the tolerance; it writes the file instead
when asked (``update=True``, ``NPUEMU_UPDATE_BASELINES=1`` or pytest's
``--npuemu-update-baselines``) or when it does not exist yet and updating is allowed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from emu.decode import insn_length

if TYPE_CHECKING:
    from emu.machine import Machine

UPDATE_ENV = "NPUEMU_UPDATE_BASELINES"
NPU_METRICS = ("cycles", "macs", "energy_pj", "commands", "dma_in", "dma_out")


class BaselineError(AssertionError):
    """A profile exceeded its baseline (a test *failure*: an AssertionError)."""


@dataclass
class Profile:
    """What one stretch of firmware cost: instructions per function, virtual time, NPU work."""

    functions: dict[str, int] = field(default_factory=dict)
    instructions: int = 0
    virtual_ns: int = 0
    npu: dict[str, int] = field(default_factory=dict)

    def metrics(self) -> dict[str, int]:
        """Flat ``name -> value``: ``insns``, ``virtual_ns``, ``npu.<counter>``, ``fn.<function>``."""
        out = {"insns": self.instructions, "virtual_ns": self.virtual_ns}
        out.update({f"npu.{name}": value for name, value in self.npu.items()})
        out.update({f"fn.{name}": value for name, value in self.functions.items()})
        return out

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        return sorted(self.functions.items(), key=lambda item: (-item[1], item[0]))[:n]

    def format(self, n: int = 10) -> str:
        lines = [f"{self.instructions:,} instructions, {self.virtual_ns / 1e6:.3f} ms virtual time, "
                 f"NPU {self.npu.get('energy_pj', 0) / 1e6:.3f} uJ in {self.npu.get('commands', 0)} commands"]
        lines += [f"  {count:>12,}  {count / max(self.instructions, 1):6.1%}  {name}" for name, count in self.top(n)]
        return "\n".join(lines)

    def assert_within(self, baseline: str | os.PathLike, tolerance: float = 0.05, *,
                      update: bool | None = None) -> None:
        """Fail when a metric exceeds the baseline by more than ``tolerance`` (relative).

        Only regressions fail: a metric that shrank passes (rewrite the baseline to lock the gain
        in).  Metrics new since the baseline was written are ignored until it is rewritten.
        """
        __tracebackhide__ = True
        path = Path(baseline)
        if update is None:
            update = os.environ.get(UPDATE_ENV, "") not in ("", "0")
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.metrics(), indent=1, sort_keys=True) + "\n")
            return
        if not path.is_file():
            raise BaselineError(f"no baseline {path}: write it with --npuemu-update-baselines "
                                f"(or {UPDATE_ENV}=1)")
        expected: dict[str, int] = json.loads(path.read_text())
        now = self.metrics()
        worse = []
        for name, old in sorted(expected.items()):
            new = now.get(name, 0)
            if new > old * (1 + tolerance):
                change = f"+{(new - old) / old:.1%}" if old else "new cost"
                worse.append(f"  {name}: {old:,} -> {new:,} ({change})")
        if worse:
            raise BaselineError(f"{len(worse)} metric(s) regressed beyond {tolerance:.1%} of {path}:\n"
                                + "\n".join(worse) + "\n(intended? rewrite it with --npuemu-update-baselines)")


class Profiler:
    """Counts what runs on ``machine`` from its creation to :meth:`result` (or :meth:`stop`)."""

    def __init__(self, machine: Machine) -> None:
        from unicorn import UC_HOOK_BLOCK

        self.machine = machine
        self.blocks: Counter[tuple[int, int]] = Counter()
        self._start_ns = machine.clock.now_ns()
        self._start_npu = self._npu_totals()
        ranges = machine.elf.executable_ranges() if machine.elf is not None else []
        self._hooks = [machine.uc.hook_add(UC_HOOK_BLOCK, self._on_block, begin=start, end=end - 1)
                       for start, end in ranges]
        for start, end in ranges:  # blocks translated before the hook would not report
            machine.uc.ctl_remove_cache(start, end)
        self._final: Profile | None = None
        self._lengths: dict[tuple[int, int], int] = {}

    def _on_block(self, _uc: object, address: int, size: int, _user: object) -> None:
        self.blocks[(address, size)] += 1

    def _npu_totals(self) -> dict[str, int]:
        npu = self.machine.npu
        counters = npu.counters()
        return {name: counters.get(name, 0) + npu.lifetime.get(name, 0) for name in NPU_METRICS}

    def _insns(self, start: int, size: int) -> int:
        key = (start, size)
        if key not in self._lengths:
            count, addr = 0, start
            while addr < start + size:
                addr += insn_length(int.from_bytes(self.machine.read_mem(addr, 2), "little"))
                count += 1
            self._lengths[key] = count
        return self._lengths[key]

    def result(self) -> Profile:
        """The profile so far (or the final one after :meth:`stop`)."""
        if self._final is not None:
            return self._final
        elf = self.machine.elf
        functions: Counter[str] = Counter()
        for (start, size), hits in self.blocks.items():
            hit = elf.symbol_at(start) if elf is not None else None
            functions[hit[0].name if hit else f"{start:#x}"] += hits * self._insns(start, size)
        npu_now = self._npu_totals()
        return Profile(functions=dict(functions), instructions=sum(functions.values()),
                       virtual_ns=self.machine.clock.now_ns() - self._start_ns,
                       npu={name: npu_now[name] - self._start_npu[name] for name in NPU_METRICS})

    def stop(self) -> Profile:
        """Stop counting; the final profile."""
        if self._final is None:
            self._final = self.result()
            for hook in self._hooks:
                self.machine.uc.hook_del(hook)
        return self._final

    def __enter__(self) -> Profiler:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
