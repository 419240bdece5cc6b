"""The command log: bounded history by default, every command with full tracing, rewound by restores."""

from __future__ import annotations

import json
import pickle

import pytest

from emu import Machine, StopReason
from emu.npu_device.regs import DESC_BYTES, REG
from emu.npu_device.trace import HISTORY, TRIM_EVERY

from .harness import DATA, IRQ, RING, Harness
from .strategies import SMALL


def run_fences(h: Harness, n: int) -> None:
    """``n`` FENCE commands through the ring, a ring-full per doorbell."""
    fence = h.desc("FENCE")
    for slot in range(h.ring_slots):
        h.ram.write(RING + slot * DESC_BYTES, fence)
    while n:
        batch = min(n, h.ring_slots)
        h.w32(REG["RING_TAIL"], (h.reg("RING_TAIL") + batch) & 0xFFFF_FFFF)
        h.w32(REG["DOORBELL"], 1)
        h.wait_idle()
        n -= batch
    assert h.error() == 0


def indices(h: Harness) -> list[int]:
    return [r.index for r in h.npu.trace.records]


def timeline(h: Harness) -> list[tuple[int, str, int, int]]:
    return [(r.index, r.op, r.start_ns, r.end_ns) for r in h.npu.trace.records]


def test_history_is_bounded_by_default(tmp_path) -> None:
    h = Harness(SMALL)
    n = 3 * (HISTORY + TRIM_EVERY) + 7
    run_fences(h, n)
    trace = h.npu.trace
    assert not trace.keep_all
    kept = indices(h)
    assert HISTORY <= len(kept) <= HISTORY + TRIM_EVERY
    assert kept == list(range(n - len(kept), n))  # the newest, in order
    assert trace.dropped == n - len(kept)
    path = tmp_path / "trace.json"
    h.npu.write_trace(str(path))
    data = json.loads(path.read_text())
    events = [e for e in data["traceEvents"] if e["ph"] == "X"]
    assert len(events) == len(kept) and data["otherData"]["dropped_commands"] == trace.dropped
    assert [e["state"] for e in h.npu.queue()][-1] == "done"


def test_full_trace_keeps_every_command(tmp_path) -> None:
    h = Harness(SMALL)
    h.npu.enable_full_trace()
    assert h.npu.trace.keep_all
    n = 2 * (HISTORY + TRIM_EVERY) + 3
    run_fences(h, n)
    assert indices(h) == list(range(n)) and h.npu.trace.dropped == 0
    path = tmp_path / "trace.json"
    h.npu.write_trace(str(path))
    data = json.loads(path.read_text())
    assert len([e for e in data["traceEvents"] if e["ph"] == "X"]) == n
    assert data["otherData"]["dropped_commands"] == 0
    h.npu.trace.keep_all = False  # back to the bounded history: trimmed at once
    assert indices(h) == list(range(n - HISTORY, n)) and h.npu.trace.dropped == n - HISTORY


def snapshot(h: Harness) -> tuple[dict, dict, int]:
    return h.clock.get_state(), h.npu.get_state(), h.insns


def restore(h: Harness, snap: tuple[dict, dict, int]) -> None:
    clock, npu, h.insns = snap
    h.clock.set_state(clock)
    h.npu.set_state(npu)


@pytest.mark.parametrize("full", [True, False], ids=["full", "bounded"])
def test_restore_rewinds_the_log(full: bool) -> None:
    """Replaying after a restore (reverse-stepi) logs each command once, as the uninterrupted run did."""

    def make() -> Harness:
        h = Harness(SMALL)
        if full:
            h.npu.enable_full_trace()
        return h

    def work(h: Harness) -> None:
        h.submit(h.desc("DMA_IN", dram_addr=DATA, sram_addr=0, rows=1, row_bytes=64), h.desc("FENCE", flags=IRQ))
        h.advance(1000)
        h.submit(h.desc("FENCE", tag=3))

    straight = make()
    run_fences(straight, 100)
    work(straight)
    work(straight)
    expected = timeline(straight)

    h = make()
    run_fences(h, 100)
    snap = snapshot(h)
    work(h)
    for _ in range(3):  # restore, replay, restore again, ...
        restore(h, snap)
        assert indices(h) == list(range(100))
        work(h)
    work(h)
    assert timeline(h) == expected
    assert h.npu.trace.dropped == straight.npu.trace.dropped == 0


def test_restore_after_the_snapshot_point_was_trimmed() -> None:
    h = Harness(SMALL)
    run_fences(h, 10)
    snap = snapshot(h)
    run_fences(h, HISTORY + 2 * TRIM_EVERY)  # record 9 is no longer kept
    restore(h, snap)
    assert indices(h) == [] and h.npu.trace.dropped == 10
    run_fences(h, 5)
    assert indices(h) == list(range(10, 15))


def test_restore_from_another_timeline() -> None:
    """A snapshot whose history the log no longer holds: the log restarts empty at its point."""
    h = Harness(SMALL)
    run_fences(h, 4)
    a = snapshot(h)
    run_fences(h, 6)
    b = snapshot(h)
    restore(h, a)
    h.advance(5000)
    run_fences(h, 8)  # a different future from a
    restore(h, b)
    assert indices(h) == [] and h.npu.trace.dropped == 10
    run_fences(h, 2)
    assert indices(h) == [10, 11]
    restore(h, a)
    assert indices(h) == [] and h.npu.trace.dropped == 4


def test_state_pickles_into_a_fresh_device() -> None:
    h = Harness(SMALL)
    run_fences(h, 20)
    state = pickle.dumps(h.npu.get_state())
    other = Harness(SMALL)
    run_fences(other, 3)
    other.npu.set_state(pickle.loads(state))
    assert indices(other) == [] and other.npu.trace.dropped == 20


def test_machine_snapshot_replay_logs_each_command_once(firmware) -> None:
    """The whole machine, as the debugger's reverse-stepi drives it: snapshot, run, restore, run."""

    def machine() -> Machine:
        m = Machine.from_elf(firmware("npu_selftest", "rv64"), deterministic=True)
        m.npu.enable_full_trace()
        return m

    def finish(m: Machine) -> list[tuple[int, str, int, int]]:
        stop = m.run(max_insns=50_000_000, timeout=60)
        assert stop.reason is StopReason.EXITED and stop.exit_code == 0
        return [(r.index, r.op, r.start_ns, r.end_ns) for r in m.npu.trace.records]

    expected = finish(machine())
    assert len(expected) > 10
    m = machine()
    m.run(max_insns=1_000_000)
    logged = len(m.npu.trace.records)
    assert 0 < logged < len(expected)
    snap = m.snapshot()
    for _ in range(2):
        assert finish(m) == expected
        m.restore(snap)
        assert len(m.npu.trace.records) == logged
    assert finish(m) == expected


def test_streamed_trace_keeps_memory_bounded_in_a_fence_flood(tmp_path) -> None:
    """Issue 17 R1: --npu-trace streams: 12k more commands add < 1.5 MB (kept in memory they add ~3.6 MB),
    and the file has all of them."""
    import tracemalloc

    h = Harness(SMALL)
    path = tmp_path / "flood.json"
    h.npu.enable_full_trace(str(path))
    tracemalloc.start()
    try:
        run_fences(h, 6_000)  # the bounded history is full from here on
        early = tracemalloc.get_traced_memory()[0]
        run_fences(h, 12_000)
        late, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(h.npu.trace.items) <= HISTORY + TRIM_EVERY
    assert late - early < 1_500_000, (early, late)
    assert peak < 16 << 20
    h.npu.write_trace(str(path))
    data = json.loads(path.read_text())
    spans = [e for e in data["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == 18_000 and [e["args"]["index"] for e in spans[:3]] == [0, 1, 2]
    assert spans[-1]["args"]["index"] == 17_999 and data["otherData"]["dropped_commands"] == 0
    names = {e["args"]["name"] for e in data["traceEvents"] if e["ph"] == "M"}
    assert {"load", "mac", "vector", "store", "control"} <= names


def test_cli_streams_the_trace(tmp_path, firmware) -> None:
    """`npuemu run --npu-trace` writes a complete trace (engine tracks, power counters) of the demo."""
    import subprocess
    import sys

    path = tmp_path / "t.json"
    proc = subprocess.run([sys.executable, "-m", "emu.cli", "run", "--npu-trace", str(path),
                           str(firmware("npu_selftest", "rv32"))], capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = json.loads(path.read_text())["traceEvents"]
    assert {e["tid"] for e in events if e["ph"] == "X"} >= {1, 2}  # load DMA and MAC tracks
    assert any(e["ph"] == "C" and e["name"] == "power" for e in events)
    assert any(e["ph"] == "C" and e["name"] == "utilization" and e["args"].get("mac") == 1 for e in events)
    bad = subprocess.run([sys.executable, "-m", "emu.cli", "run", "--npu-trace", str(tmp_path / "no" / "t.json"),
                          str(firmware("npu_selftest", "rv32"))], capture_output=True, timeout=120, check=False)
    assert bad.returncode != 0 and bad.stderr.decode().count("\n") == 1 and b"--npu-trace" in bad.stderr
