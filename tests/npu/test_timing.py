"""Virtual-time completion, interrupts, counters, energy, the trace, stats and snapshots."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from emu.npu_device.regs import BITS, REG, VERSION

from .harness import DATA, IRQ, Harness
from .strategies import SMALL


def dma(h: Harness, nbytes: int, flags: int = 0) -> bytes:
    return h.desc("DMA_IN", flags=flags, dram_addr=DATA, sram_addr=0, rows=1, row_bytes=nbytes)


def test_dma_cycles_and_completion_time() -> None:
    """fetch + overhead + latency + row + bursts + ceil(bytes / bandwidth) cycles at 500 MHz (2 ns per cycle)."""
    h = Harness(SMALL)
    t = h.npu.config.timing
    bursts = -(-1000 // t.dma_burst_bytes)
    cycles = (t.descriptor_fetch + t.command_overhead + t.dma_latency + t.dma_row_cycles
              + bursts * t.dma_burst_cycles + -(-1000 // t.dma_bytes_per_cycle))
    h.submit(dma(h, 1000, IRQ), wait=False)
    assert h.npu.scratchpad is not None
    assert h.reg("RING_HEAD") == 0 and h.reg("STATUS") & BITS["STATUS_BUSY"] and not h.irq.level
    assert h.clock.next_deadline() == 2 * cycles
    h.advance(2 * cycles - 1)
    assert h.reg("RING_HEAD") == 0 and not h.irq.level
    h.advance(1)
    assert h.irq.level and h.reg("RING_HEAD") == 1 and not h.reg("STATUS") & BITS["STATUS_BUSY"]
    assert h.reg("INT_STATUS") == BITS["INT_DONE"]
    h.w32(REG["INT_STATUS"], BITS["INT_DONE"])
    assert not h.irq.level and h.irq_edges == [True, False]
    assert h.counter("BUSY_CYCLES") == cycles and h.counter("CYCLES") == cycles
    assert h.counter("DMA_IN") == 1000 and h.counter("COMMANDS") == 1


def test_commands_are_serial_and_only_flagged_ones_interrupt() -> None:
    h = Harness(SMALL)
    h.submit(dma(h, 64), dma(h, 64), dma(h, 64, IRQ), dma(h, 64), wait=False)
    events = h.clock.pending_events()
    assert len(events) == 1  # one event per interrupting command
    one = h.npu.costs.ns(h.npu.costs.dma(1, 64, True).cycles)
    assert events[0].when_ns == 3 * one
    h.advance(2 * one)
    assert h.reg("RING_HEAD") == 2 and not h.irq.level
    h.advance(one)
    assert h.irq.level and h.reg("RING_HEAD") == 3
    h.advance(one)
    assert h.reg("RING_HEAD") == 4


def test_new_batch_starts_after_previous_end() -> None:
    h = Harness(SMALL)
    h.submit(dma(h, 4000), wait=False)
    first_end = h.npu.last_end_ns
    h.advance(10)
    h.submit(h.desc("FENCE", flags=IRQ), wait=False)
    t = h.npu.config.timing
    assert h.clock.next_deadline() == first_end + h.npu.costs.ns(t.descriptor_fetch + t.command_overhead)


def test_mvm_timing_macs_energy_and_idle() -> None:
    """Bit-serial rows through the adder tree; energy from the activation bits; idle costs nothing."""
    h = Harness(SMALL)
    cfg = h.npu.config
    t, e = cfg.timing, cfg.energy
    act = np.array([[3] * 16, [0] * 16, [-1] * 16, [1, 2] * 8], dtype=np.int8)
    for row in range(4):
        h.spad_put(16 * row, act[row])
    h.submit(h.desc("MVM", tile=0, m=4, k=16, n=16, act_stride=16, acc_stride=64, flags=IRQ))
    depth = int(np.ceil(np.log2(cfg.rows)))
    cycles = t.descriptor_fetch + t.command_overhead + 4 * 8 + depth + t.accumulate_latency
    assert h.counter("BUSY_CYCLES") == cycles
    assert h.counter("MACS") == 4 * 16 * 16
    ones = 16 * 2 + 0 + 16 * 8 + 8 * 1 + 8 * 1  # set bits of the activations
    planes = 2 + 0 + 8 + 2  # bit-planes with a 1 somewhere in the row (all-zero ones skipped)
    # one adder tree per column (12-bit trees over 8 rows: products of 12 - 3 = 9 bits, so one tree
    # serves an int8 weight) over 16 rows: 8 adders of 10 bits, 4 of 11, 2 of 12, 1 of 13
    tree = 8 * 10 + 4 * 11 + 2 * 12 + 13
    macro = (ones * (e.input_driver + 16 * 8 * e.cell_bit)
             + planes * 16 * (tree * e.adder_bit + 32 * e.accumulator_bit))
    dynamic = 64 * e.dram_byte + macro + 64 * e.output + (4 * 16 + 4 * 16 * 4) * e.sram_byte
    leakage = cycles * e.leakage_mw * 1e3 / cfg.npu_mhz
    assert h.counter("ENERGY_PJ") == int(dynamic + leakage)
    h.advance(1000)  # idle: power-gated, no energy
    assert h.counter("ENERGY_PJ") == int(dynamic + leakage)
    assert h.npu.counters()["energy_pj"] == h.counter("ENERGY_PJ")
    assert h.npu.energy_by_op() == {"MVM": pytest.approx(dynamic)}


def test_zero_activations_cost_less_than_dense_ones() -> None:
    """Data dependence: the same MVM on zeros skips every bit-plane."""
    energies = []
    for value in (0, -1):
        h = Harness(SMALL)
        h.spad_put(0, np.full(16, value, dtype=np.int8))
        h.submit(h.desc("MVM", tile=0, m=1, k=16, n=16, act_stride=16, acc_stride=64))
        energies.append(h.npu.energy_by_op()["MVM"])
    e = SMALL.energy
    tree = 8 * 10 + 4 * 11 + 2 * 12 + 13  # see test_mvm_timing_macs_energy_and_idle
    assert energies[1] - energies[0] == pytest.approx(
        16 * 8 * (e.input_driver + 16 * 8 * e.cell_bit) + 8 * 16 * (tree * e.adder_bit + 32 * e.accumulator_bit))


def test_a_never_enabled_npu_costs_nothing() -> None:
    h = Harness(SMALL)
    h.w32(REG["CTRL"], 0)
    h.advance(10_000_000)
    assert h.counter("ENERGY_PJ") == 0 and h.counter("BUSY_CYCLES") == 0


def test_register_widths_and_unknown_offsets() -> None:
    h = Harness(SMALL)
    assert h.npu.read(REG["ID"], 1) == 0x31 and h.npu.read(REG["ID"] + 2, 2) == 0x4E50
    assert h.npu.read(REG["ID"], 8) == VERSION << 32 | 0x4E50_5531
    h.npu.write(REG["RING_BASE_LO"], 8, 0x1234_5678_9ABC_DEC0)
    assert h.reg("RING_BASE_LO") == 0x9ABC_DEC0 and h.reg("RING_BASE_HI") == 0x1234_5678
    h.npu.write(REG["RING_SIZE"] + 1, 1, 0x02)
    assert h.reg("RING_SIZE") == 0x0240
    assert h.npu.read(0x0F0, 4) == 0 and h.npu.read(0xFFC, 4) == 0
    h.npu.write(0x0F0, 4, 0xFFFF_FFFF)
    h.npu.write(REG["ID"], 4, 0)
    assert h.reg("ID") == 0x4E50_5531


def test_trace_stats_and_queue(tmp_path) -> None:
    h = Harness(SMALL)
    h.submit(dma(h, 64), h.desc("FENCE", flags=IRQ, tag=7))
    h.submit(dma(h, 16), bytes(64))
    path = tmp_path / "trace.json"
    h.npu.write_trace(str(path))
    events = [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]
    assert [e["name"] for e in events] == ["DMA_IN", "FENCE", "DMA_IN", "op0x0"]
    assert events[1]["args"]["tag"] == 7 and events[3]["args"]["error"] == 1
    assert events[1]["ts"] == events[0]["ts"] + events[0]["dur"]
    lines = h.npu.stats_lines()
    assert lines and all(line.startswith("npu: ") for line in lines)
    q = h.npu.queue()
    assert [e["state"] for e in q] == ["done", "done", "done", "error"]
    assert q[1]["op"] == "FENCE" and q[1]["tag"] == 7
    assert h.npu.decode_descriptor(dma(h, 8))["row_bytes"] == 8
    s = h.npu.status()
    assert s["error_name"] == "OPCODE" and s["head"] == 3


def test_queue_shows_unfetched_descriptors() -> None:
    h = Harness(SMALL)
    h.w32(REG["CTRL"], 0)  # disabled: the doorbell does nothing
    h.submit(dma(h, 8), wait=False)
    assert [e["state"] for e in h.npu.queue()] == ["queued"]
    h.w32(REG["CTRL"], BITS["CTRL_ENABLE"])  # enabling starts the queue
    h.wait_idle()
    assert [e["state"] for e in h.npu.queue()] == ["done"]


def test_snapshot_restores_pending_completion() -> None:
    h = Harness(SMALL)
    h.put(DATA, np.arange(64, dtype=np.uint8))
    h.submit(dma(h, 64, IRQ), wait=False)
    saved = h.npu.get_state()
    when = h.clock.next_deadline()
    h.wait_idle()
    assert h.irq.level
    h.npu.write(REG["CTRL"], 4, BITS["CTRL_RESET"])
    h.npu.scratchpad[:] = 0
    h.clock.set_state({"now_ns": 0})
    h.npu.set_state(saved)
    assert h.clock.next_deadline() == when and not h.irq.level and h.reg("RING_HEAD") == 0
    assert h.npu.scratchpad[:64].tolist() == list(range(64))
    h.wait_idle()
    assert h.irq.level and h.reg("RING_HEAD") == 1
    saved["spad"][0] = 99  # get_state returned copies
    assert h.npu.scratchpad[0] == 0


def test_power_on_reset() -> None:
    h = Harness(SMALL)
    h.npu.scratchpad[:4] = 1
    h.submit(h.desc("FENCE", flags=IRQ))
    h.npu.reset()
    assert not h.irq.level and h.npu.scratchpad.sum() == 0 and h.reg("RING_SIZE") == 0 and h.reg("CTRL") == 0


def test_state_pickles() -> None:
    """On-disk snapshots pickle the device state."""
    h = Harness(SMALL)
    h.submit(h.desc("FENCE", flags=IRQ), wait=False)
    h.npu.set_state(pickle.loads(pickle.dumps(h.npu.get_state())))
    h.wait_idle()
    assert h.irq.level and h.reg("RING_HEAD") == 1
