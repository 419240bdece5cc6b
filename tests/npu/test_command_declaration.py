"""One place per NPU command: a command declared once (layout, engine, executor, cost, operands)
shows up everywhere the interface is seen -- the register tables and decoder, the generated C
header, the scoreboard, strict mode, the trace, the debugger's watch regions and queue, and the
compiler's estimate -- without touching any of them."""

from __future__ import annotations

from typing import Any

import numpy as np

from emu.compiler.estimate import desc_cost
from emu.compiler.lower import Desc
from emu.npu_device import dma, header, ops, regs
from emu.npu_device.command import ENGINES, Command, Data, Operands, flat
from emu.npu_device.encoding import Field, Layout
from emu.npu_device.observe import Region, written_regions
from emu.npu_device.scoreboard import footprint
from emu.npu_device.strict import dram_ranges
from emu.npu_device.timing import Cost, CostModel
from emu.npu_device.trace import ENGINES as TRACKS
from emu.npu_device.trace import record_events

from .harness import DATA, FakeHooks, Harness
from .strategies import SMALL

FILL_OPCODE = 0x3F


def _fill_execute(ex: Any, d: Any) -> Cost:
    dst = dma.dram(ex.ram, d.dram_addr, 1, d.count, 0, dest=True)
    dst[...] = d.value
    ex.ram.written(d.dram_addr, d.count)
    return _fill_cost(ex.costs, d, Data())


def _fill_cost(costs: CostModel, d: Any, data: Data) -> Cost:
    return costs.dma(1, d.count, inbound=False)


def _fill_operands(d: Any) -> Operands:
    return Operands((), (flat("dram", d.dram_addr, d.count),))


# The whole declaration of a command that exists only for this test.
FILL = Command(Layout("FILL", FILL_OPCODE, "DRAM[dram_addr .. + count) = value (test-only command)", (
    Field("dram_addr", 8, "Q", "DRAM byte address"),
    Field("count", 16, "I", "bytes"),
    Field("value", 20, "B", "byte stored"),
)), "store", _fill_execute, _fill_cost, _fill_operands)


def test_a_declared_command_is_decoded_generated_scheduled_guarded_and_estimated() -> None:
    out = DATA + 0x300
    with ops.registered(FILL):
        raw = regs.LAYOUT["FILL"].pack(dram_addr=out, count=48, value=0x5A, tag=7)
        assert regs.OPCODES["FILL"] == FILL_OPCODE and regs.OPCODE_NAMES[FILL_OPCODE] == "FILL"
        decoded = regs.decode_descriptor(raw)
        assert (decoded["op"], decoded["dram_addr"], decoded["count"], decoded["value"], decoded["tag"]) == \
            ("FILL", out, 48, 0x5A, 7)

        text = header.render()
        assert "#define NPU_OP_FILL                        0x3Fu" in text
        assert "} npu_fill_t;" in text and "offsetof(npu_fill_t, value) == 20" in text
        assert "    npu_fill_t fill;" in text

        d = regs.LAYOUT["FILL"].unpack(raw)
        fp = footprint("FILL", d, SMALL)
        assert fp is not None and fp.engine == "store" and fp.reads == ()
        assert [(r.space, r.lo, r.hi) for r in fp.writes] == [("dram", out, out + 48)]
        assert dram_ranges("FILL", d) == ([(out, out + 48)], [])

        estimate = desc_cost(CostModel(SMALL), Desc("FILL", {"dram_addr": 0, "count": 48, "value": 1}))
        assert estimate == CostModel(SMALL).dma(1, 48, inbound=False)

        # Run it on the device as firmware would, strict mode on, a debugger observer attached.
        h = Harness(SMALL)
        hooks, reports = FakeHooks(), []
        h.npu.enable_strict(hooks, reports.append)
        events = []
        h.npu.observers.append(events.append)
        h.submit(raw, wait=False)
        hooks.access(out + 5, write=False)  # the CPU reads the output before the command completed
        assert len(reports) == 1 and "FILL at" in reports[0]
        assert h.get(out, 48, np.uint8).tolist() == [0] * 48  # strict: not landed yet
        assert [e["op"] for e in h.npu.queue()] == ["FILL"]
        h.wait_idle()
        assert h.error() == 0
        assert h.get(out, 48, np.uint8).tolist() == [0x5A] * 48
        assert h.counter("DMA_OUT") == 48 and h.counter("BUSY_CYCLES") == estimate.cycles
        assert events[0].op == "FILL" and events[0].regions == (Region("dram", out, out + 48),)
        trace = h.npu.trace.records[-1]
        assert trace.op == "FILL" and trace.cost == estimate
        assert record_events(trace)[0]["tid"] == TRACKS.index("store") + 1

    # Gone again: unknown opcode, and the checked-in header is what the declarations generate.
    assert "FILL" not in regs.OPCODES and FILL_OPCODE not in regs.LAYOUT_BY_OPCODE
    assert header.render() == header.DEFAULT_PATH.read_text()


def test_every_declared_command_has_a_known_engine_and_operands_that_never_raise() -> None:
    """Operands are computed before the executor checks the fields (the scoreboard needs them),
    so they must accept anything, including descriptors the executor rejects."""
    rng = np.random.default_rng(1)
    for command in ops.COMMANDS.values():
        assert command.engine in (*ENGINES, "")
        for _ in range(50):
            raw = bytes([command.opcode]) + rng.integers(0, 256, regs.DESC_BYTES - 1, dtype=np.uint8).tobytes()
            reads, writes = command.operands(command.layout.unpack(raw))
            assert all(o.space in ("dram", "spad", "acc", "tiles") for o in (*reads, *writes))


def test_dwconv_and_qadd_writes_are_what_debugger_watchpoints_see() -> None:
    """`npu watch acc|scratchpad` see DWCONV and QADD writes: the regions come from their operands."""
    dw = regs.LAYOUT["DWCONV"].unpack(regs.LAYOUT["DWCONV"].pack(in_addr=0, w_addr=512, acc_addr=64, h=6, w=5, c=4,
                                                                 kh=3, kw=2, sh=1, sw=1))
    assert written_regions(regs.OPCODES["DWCONV"], dw, 8, 8) == (Region("accumulator", 64, 64 + 4 * 4 * 4 * 4),)
    qadd = regs.LAYOUT["QADD"].unpack(regs.LAYOUT["QADD"].pack(a_addr=0, b_addr=100, out_addr=300, count=50))
    assert written_regions(regs.OPCODES["QADD"], qadd, 8, 8) == (Region("scratchpad", 300, 350),)
