"""Static cost of a compiled model: each descriptor through the device's own CostModel.

Each descriptor's cost is its command's declared cost function (``emu.npu_device.ops``), the one
the device's executor returns, so a layer's estimated cycles equal the busy cycles the device counts when it runs
(tests/tflite check this); idle time between layers (the CPU queueing the next layer) is not in
the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from emu.compiler.lower import BASE_NONE, CompiledModel, Desc, Layer
from emu.npu_device.command import Data
from emu.npu_device.ops import BY_NAME
from emu.npu_device.timing import Cost, CostModel


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
    """The cost the command's declaration gives (emu.npu_device.ops) for the descriptor's fields.

    A relocated address field (at byte 8 or 16) is 0 in the compiled table but non-zero once
    loaded, which matters where the cost depends on whether an address is set (POSTPROC's bias
    and quantization tables).  The macro's energy depends on the activations' bits, unknown
    before the run: the command's cost then assumes every bit-plane driven and half the bits 1.
    """
    command = BY_NAME.get(d.op)
    if command is None:
        raise ValueError(f"no cost for {d.op}")
    layout = command.layout
    values = {name: d.fields.get(name, 0) for name in layout.tuple._fields}
    for f in layout.fields:
        if (f.offset == 8 and d.reloc8 != BASE_NONE) or (f.offset == 16 and d.reloc16 != BASE_NONE):
            values[f.name] = values[f.name] or 1
    return command.cost(costs, layout.tuple(**values), Data())


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
