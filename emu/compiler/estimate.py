"""Static cost of a compiled model: each descriptor through the device's own CostModel.

The formulas are those of ``emu.npu_device.timing`` (called with the shapes each command handler
passes), so a layer's estimated cycles equal the busy cycles the device counts when it runs
(tests/tflite check this); idle time between layers (the CPU queueing the next layer) is not in
the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from emu.compiler.lower import CompiledModel, Desc, Layer
from emu.npu_device.regs import FLAGS
from emu.npu_device.timing import Cost, CostModel, MacroActivity


@dataclass
class LayerEstimate:
    name: str
    kind: str
    commands: int
    cycles: int
    macs: int
    dma_in: int
    dma_out: int
    energy_pj: float
    tile_util: float


def desc_cost(costs: CostModel, d: Desc) -> Cost:
    f = d.fields
    acc = bool(f.get("flags", 0) & FLAGS["ACC"])
    if d.op in ("DMA_IN", "DMA_OUT"):
        return costs.dma(f["rows"], f["row_bytes"], inbound=d.op == "DMA_IN")
    if d.op == "LOAD_WEIGHTS":
        rows, cols = (f["n"], f["k"]) if f.get("flags", 0) & FLAGS["TRANSPOSE"] else (f["k"], f["n"])
        return costs.load_weights(rows, cols, f["k"] * f["n"], False)  # as the device reads DRAM
    if d.op == "MVM":
        # The macro's energy depends on the activations' bits, unknown before the run: the estimate
        # assumes every bit-plane is driven and half the input bits are 1.
        planes = f["m"] * costs.planes_per_row
        activity = MacroActivity(ones=f["m"] * f["k"] * 4, planes=planes)
        return costs.mvm(f["m"], f["k"], f["n"], False, False, acc, activity)
    if d.op == "POSTPROC":
        n = f["n"]
        dram_in = (4 * n if f["bias_addr"] or d.reloc8 else 0) + (8 * n if f["quant_addr"] or d.reloc16 else 0)
        return costs.vector(f["m"] * n, f["m"] * n * 5, dram_in=dram_in)
    if d.op == "DWCONV":
        oh = (f["h"] - f["kh"]) // f["sh"] + 1
        ow = (f["w"] - f["kw"]) // f["sw"] + 1
        return costs.depthwise(oh * ow * f["c"], f["kh"] * f["kw"], (f["h"] * f["w"] + f["kh"] * f["kw"]) * f["c"], acc)
    if d.op == "QADD":
        return costs.vector(f["count"], 3 * f["count"])
    if d.op == "POOL":
        oh = (f["h"] - f["kh"]) // f["sh"] + 1
        ow = (f["w"] - f["kw"]) // f["sw"] + 1
        reads = oh * ow * f["c"] * f["kh"] * f["kw"]
        return costs.vector(reads, reads + oh * ow * f["c"])
    raise ValueError(f"no cost for {d.op}")


def estimate_layer(costs: CostModel, layer: Layer) -> LayerEstimate:
    total = [0, 0, 0, 0, 0.0]
    for d in layer.descs:
        c = desc_cost(costs, d)
        total[0] += c.cycles
        total[1] += c.macs
        total[2] += c.dma_in
        total[3] += c.dma_out
        total[4] += c.energy_pj
    return LayerEstimate(layer.name, layer.kind, len(layer.descs), total[0], total[1], total[2], total[3], total[4],
                         layer.tile_util)


def estimate(model: CompiledModel) -> list[LayerEstimate]:
    costs = CostModel(model.config)
    return [estimate_layer(costs, layer) for layer in model.layers]


def table(model: CompiledModel, rows: list[LayerEstimate]) -> str:
    """The --estimate table (one line per layer, then totals)."""
    mhz = model.config.npu_mhz
    lines = [f"{'layer':<22} {'cmds':>5} {'cycles':>10} {'MACs':>10} {'DMA in':>9} {'DMA out':>9} "
             f"{'energy pJ':>11} {'util':>6}"]
    for r in rows:
        if r.kind != "npu":
            lines.append(f"{r.name:<22} {'-':>5} {'(CPU)' if r.kind == 'softmax' else '(no-op)':>10}")
            continue
        util = f"{100 * r.tile_util:5.1f}%" if r.tile_util else f"{'-':>6}"
        lines.append(f"{r.name:<22} {r.commands:>5} {r.cycles:>10} {r.macs:>10} {r.dma_in:>9} {r.dma_out:>9} "
                     f"{r.energy_pj:>11.0f} {util}")
    cycles = sum(r.cycles for r in rows)
    lines.append(f"{'total':<22} {sum(r.commands for r in rows):>5} {cycles:>10} {sum(r.macs for r in rows):>10} "
                 f"{sum(r.dma_in for r in rows):>9} {sum(r.dma_out for r in rows):>9} "
                 f"{sum(r.energy_pj for r in rows):>11.0f}")
    lines.append(f"NPU busy time {cycles / mhz:.1f} us at {mhz:g} MHz")
    if model.preload:
        costs = CostModel(model.config)
        load = [desc_cost(costs, d) for d in model.preload]
        lines.append(f"resident weights: {len(load)} LOAD_WEIGHTS once at init, {sum(c.dma_in for c in load)} B, "
                     f"{sum(c.cycles for c in load)} cycles, {sum(c.energy_pj for c in load):.0f} pJ (not per inference)")
    return "\n".join(lines)
