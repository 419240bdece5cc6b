"""Strict completion: outputs land at the modelled completion; CPU accesses racing a command are reported."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emu.npu_device.regs import REG
from emu.testing import FirmwareError, FirmwareMachine

from .harness import DATA, FakeHooks, Harness
from .strategies import SMALL, descriptor


def strict_harness() -> tuple[Harness, FakeHooks, list[str]]:
    h = Harness(SMALL)
    hooks, reports = FakeHooks(), []
    h.npu.enable_strict(hooks, reports.append)
    return h, hooks, reports


def test_dma_out_lands_at_completion() -> None:
    h, hooks, reports = strict_harness()
    h.npu.scratchpad[:64] = np.arange(64, dtype=np.uint8)
    out = DATA + 0x1000
    h.submit(h.desc("DMA_OUT", dram_addr=out, sram_addr=0, rows=1, row_bytes=64), wait=False)
    assert h.get(out, 64, np.uint8).tolist() == [0] * 64  # not yet: the command has not completed
    hooks.access(out + 8, write=False)  # the racing read is reported with the descriptor
    assert len(reports) == 1 and "CPU read of" in reports[0] and "DMA_OUT" in reports[0]
    h.wait_idle()
    assert h.get(out, 64, np.uint8).tolist() == list(range(64))
    assert not hooks.hooks  # the guards went with the completion
    hooks.access(out + 8, write=False)
    assert len(reports) == 1


def test_write_to_a_pending_input_is_reported_and_reads_are_fine() -> None:
    h, hooks, reports = strict_harness()
    h.submit(h.desc("DMA_IN", dram_addr=DATA, sram_addr=0, rows=4, row_bytes=16, dram_stride=64,
                    sram_stride=16), wait=False)
    hooks.access(DATA + 8, write=False)  # reading an input is no race
    hooks.access(DATA + 32, write=True)  # between the strided rows: not an input
    assert reports == []
    hooks.access(DATA + 64 + 4, write=True)  # row 1 of the input
    assert len(reports) == 1 and "CPU write to" in reports[0] and "it reads" in reports[0]


def test_a_later_doorbell_sees_held_outputs_and_stacked_writes_land_in_order() -> None:
    h, hooks, reports = strict_harness()
    out = DATA + 0x2000
    h.npu.scratchpad[:8] = 1
    h.npu.scratchpad[8:16] = 2
    h.submit(h.desc("DMA_OUT", dram_addr=out, sram_addr=0, rows=1, row_bytes=8), wait=False)
    # a second batch: the DMA_IN reads what the pending DMA_OUT wrote (the scoreboard orders it after)
    h.submit(h.desc("DMA_IN", dram_addr=out, sram_addr=32, rows=1, row_bytes=8),
             h.desc("DMA_OUT", dram_addr=out, sram_addr=8, rows=1, row_bytes=8), wait=False)
    assert h.get(out, 8, np.uint8).tolist() == [0] * 8
    h.wait_idle()
    assert h.npu.scratchpad[32:40].tolist() == [1] * 8
    assert h.get(out, 8, np.uint8).tolist() == [2] * 8
    assert reports == []


def race(firmware, arch: str, wait_first: int, kind: int = 0) -> FirmwareMachine:
    machine = FirmwareMachine(firmware("npu_race", arch))
    machine.run_until(symbol="main")  # after crt0 cleared .bss
    machine.write_symbol("wait_first", wait_first)
    machine.write_symbol("kind", kind)
    return machine


@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_firmware_reading_before_completion_fails_with_pc_and_descriptor(firmware, arch: str) -> None:
    machine = race(firmware, arch, 0)
    with pytest.raises(FirmwareError) as info:
        machine.run_until(exit=0)
    message = str(info.value)
    found = re.search(r"npu strict: CPU read of (0x[0-9a-f]+) at pc 0x[0-9a-f]+ <main\+\d+> before descriptor 1 "
                      r"\(DMA_OUT at (0x[0-9a-f]+)\)", message)
    assert found, message
    ring = machine.symbol_address("ring")
    assert int(found.group(2), 16) == ring + 64  # the second slot: the DMA_OUT
    assert int(found.group(1), 16) == machine.symbol_address("dst")


@pytest.mark.parametrize(("kind", "op"), [(1, "DWCONV"), (2, "QADD")])
def test_reading_a_dwconv_or_qadd_result_before_completion_is_caught(firmware, kind: int, op: str) -> None:
    """DWCONV and QADD write on-chip memory; the CPU sees their results through the DMA_OUT the
    scoreboard orders after them (their declared operands: read-after-write of the accumulator or
    scratchpad), so that DMA_OUT's output stays guarded until after the op has ended."""
    machine = race(firmware, "rv32", 0, kind)
    with pytest.raises(FirmwareError) as info:
        machine.run_until(exit=0)
    message = str(info.value)
    found = re.search(r"npu strict: CPU read of (0x[0-9a-f]+) at pc 0x[0-9a-f]+ <main\+\d+> before descriptor 3 "
                      r"\(DMA_OUT at (0x[0-9a-f]+)\) completes: it will write \[0x[0-9a-f]+, 0x[0-9a-f]+\) until (\d+) ns", message)
    assert found, message
    assert int(found.group(1), 16) == machine.symbol_address("dst")
    assert int(found.group(2), 16) == machine.symbol_address("ring") + 3 * 64
    records = {r.op: r for r in machine.machine.npu.trace.records}
    assert records["DMA_OUT"].start_ns >= records[op].end_ns > records[op].start_ns
    assert int(found.group(3)) >= records[op].end_ns
    # The op did not wait for the DMA_IN of the other operand's unrelated bytes beyond its own inputs,
    # and ran on the vector engine, not as a barrier: it started when its inputs had arrived.
    dma_ins = [r for r in machine.machine.npu.trace.records if r.op == "DMA_IN"]
    assert records[op].start_ns == max(r.end_ns for r in dma_ins)


@pytest.mark.parametrize("kind", [0, 1, 2])
@pytest.mark.parametrize("arch", ["rv32", "rv64"])
def test_the_same_firmware_with_npu_wait_passes(firmware, arch: str, kind: int) -> None:
    machine = race(firmware, arch, 1, kind)
    machine.run_until(exit=0)
    machine.uart.expect("npu_race: waited")


def test_cli_warns_under_npu_strict_and_is_silent_without(firmware) -> None:
    elf = str(firmware("npu_race", "rv32"))
    run = [sys.executable, "-m", "emu.cli", "run", "--deterministic"]
    strict = subprocess.run([*run, "--npu-strict", elf], capture_output=True, text=True, timeout=60, check=False)
    assert "npuemu: warning: npu strict: CPU read of" in strict.stderr
    assert strict.returncode == 1  # the firmware's own check: it read stale bytes, as on hardware
    loose = subprocess.run([*run, elf], capture_output=True, text=True, timeout=60, check=False)
    assert loose.returncode == 0 and "npu strict" not in loose.stderr  # the bug the issue reproduced


def test_debugger_stops_at_the_racing_read(firmware, tmp_path) -> None:
    script = tmp_path / "cmds"
    script.write_text("continue\n")
    proc = subprocess.run([sys.executable, "-m", "emu.cli", "debug", "--batch", str(script),
                           str(firmware("npu_race", "rv32"))], capture_output=True, text=True, timeout=60, check=False)
    out = proc.stdout + proc.stderr
    assert re.search(r"Program stopped: npu strict: CPU read of 0x[0-9a-f]+ at pc 0x[0-9a-f]+ <main\+\d+>", out), out
    assert "npu_race:" not in out  # stopped before the firmware printed its result


def test_snapshot_restore_brings_back_held_writes_and_guards() -> None:
    h, hooks, reports = strict_harness()
    h.npu.scratchpad[:8] = 7
    out = DATA + 0x3000
    h.submit(h.desc("DMA_OUT", dram_addr=out, sram_addr=0, rows=1, row_bytes=8), wait=False)
    saved = h.npu.get_state()
    h.wait_idle()
    assert h.get(out, 8, np.uint8).tolist() == [7] * 8 and not hooks.hooks
    h.ram.write(out, bytes(8))  # the snapshot's RAM: the output not landed yet
    h.clock.set_state({"now_ns": 0})
    h.npu.set_state(saved)
    hooks.access(out, write=False)
    assert len(reports) == 1 and "CPU read of" in reports[0]
    h.wait_idle()
    assert h.get(out, 8, np.uint8).tolist() == [7] * 8


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches=st.lists(st.tuples(st.lists(descriptor(), min_size=1, max_size=6), st.integers(0, 3000)),
                        min_size=1, max_size=5))
def test_strict_mode_ends_in_the_same_state_as_eager_execution(batches: list[tuple[list[bytes], int]]) -> None:
    """Random descriptors in batches with random gaps: once everything completed, RAM and on-chip memories
    are byte-identical with and without strict completion (held writes land, in order)."""
    from .harness import RING

    runs = []
    for strict in (False, True):
        h = Harness(SMALL, ram_size=1 << 20)
        if strict:
            h.npu.enable_strict(FakeHooks(), lambda message: None)
        rng = np.random.default_rng(3)
        h.ram.view(0x8001_0000, 0x10000)[:] = rng.integers(0, 256, 0x10000, dtype=np.uint8)
        h.npu.scratchpad[:] = rng.integers(0, 256, h.npu.scratchpad.size, dtype=np.uint8)
        slot = 0
        for descs, gap in batches:
            for d in descs:
                h.ram.write(RING + (slot % h.ring_slots) * 64, d)
                slot += 1
            if slot - h.reg("RING_HEAD") > h.ring_slots:
                break
            h.w32(REG["RING_TAIL"], slot)
            h.w32(REG["DOORBELL"], 1)
            h.advance(gap)
        h.wait_idle()
        assert not h.npu.internal_errors
        runs.append((h.ram.buf.tobytes(), h.npu.scratchpad.tobytes(), h.npu.accumulator.tobytes(),
                     h.npu.tiles.tobytes(), h.reg("RING_HEAD"), h.error()))
    assert runs[0] == runs[1]
