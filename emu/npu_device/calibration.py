"""Calibration of the macro presets against the published figures they are fitted to.

Each :class:`Point` names a preset, the paper's figure (macro-level TOPS/W) and the operating
point it was measured at; :func:`measure` runs the cost model at that point (full-tile
products of uniformly random inputs of the stated precision, macro energy only: cells,
drivers, adder tree, accumulators) and :func:`table` renders the comparison that docs/npu.md
carries between its ``calibration`` markers.  ``python -m emu.npu_device.calibration --write``
refreshes the docs; tests/npu/test_calibration.py fails when they are stale or an error
exceeds :data:`MAX_ERROR`.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from emu.npu_device.config import NpuConfig
from emu.npu_device.timing import CostModel

MAX_ERROR = 0.10
ROWS_PER_POINT = 64  # activation rows per measured product
SEED = 2021
DOC = Path(__file__).resolve().parents[2] / "docs" / "npu.md"
BEGIN, END = "<!-- calibration:begin -->", "<!-- calibration:end -->"


class Point(NamedTuple):
    preset: str
    source: str  # the paper and exactly which figure
    condition: str  # the operating point as the paper states it
    input_bits: int
    weight_bits: int  # 4: int4 weights (packed where the macro packs), 8: int8
    transposed: bool  # MVM_T (backward pass) instead of MVM
    tops_per_watt: float  # the paper's figure


POINTS: tuple[Point, ...] = (
    Point("chih2021_22nm", "Chih et al., ISSCC 2021: title/abstract figure 89 TOPS/W",
          "macro level, 4-b inputs x 4-b weights, 22 nm", 4, 4, False, 89.0),
    Point("fujiwara2022_5nm", "Fujiwara et al., ISSCC 2022: title/abstract figure 254 TOPS/W",
          "macro level, 4-b inputs x 4-b weights, 5 nm", 4, 4, False, 254.0),
    Point("transposable_28nm", "28 nm transposable training macro: low end of 17.5-71.4 TOPS/W",
          "macro level, int8 x int8, forward (MVM)", 8, 8, False, 17.5),
    Point("transposable_28nm", "same macro, same figure (same MAC circuits backward)",
          "macro level, int8 x int8, backward (MVM_T)", 8, 8, True, 17.5),
)


def random_inputs(rng: np.random.Generator, rows: int, depth: int, bits: int) -> np.ndarray:
    """Uniform inputs of ``bits`` precision as int8: unsigned 0..2^b-1 below 8 bits, int8 at 8."""
    if bits >= 8:
        return rng.integers(-128, 128, (rows, depth), dtype=np.int8)
    return rng.integers(0, 1 << bits, (rows, depth), dtype=np.int8)


def measure(point: Point) -> float:
    """Our model's macro-level TOPS/W at the point's operating condition."""
    config = NpuConfig.load(point.preset)
    costs = CostModel(config)
    depth, width = (config.cols, config.rows) if point.transposed else (config.rows, config.cols)
    act = random_inputs(np.random.default_rng(SEED), ROWS_PER_POINT, depth, point.input_bits)
    energy = costs.macro_pj(costs.activity(act), depth, width, costs.weight_bits(point.weight_bits == 4))
    if point.transposed:
        energy *= config.energy.transposed_factor
    ops = 2 * ROWS_PER_POINT * depth * width
    return ops / energy  # 1 TOPS/W = 1 op per pJ


def rows() -> list[tuple[Point, float, float]]:
    """(point, our TOPS/W, relative error) for every calibration point."""
    out = []
    for point in POINTS:
        ours = measure(point)
        out.append((point, ours, ours / point.tops_per_watt - 1))
    return out


def table() -> str:
    lines = [BEGIN,
             "| preset | paper figure (source) | operating point | paper TOPS/W | model TOPS/W | error |",
             "|---|---|---|---|---|---|"]
    for point, ours, error in rows():
        lines.append(f"| `{point.preset}` | {point.source} | {point.condition} | {point.tops_per_watt:g} | "
                     f"{ours:.1f} | {error:+.1%} |")
    lines.append(END)
    return "\n".join(lines)


def documented(text: str) -> str | None:
    """The calibration block of docs/npu.md's ``text``, markers included (None if missing)."""
    match = re.search(re.escape(BEGIN) + ".*?" + re.escape(END), text, re.S)
    return match.group(0) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print (or --write into docs/npu.md) the calibration table")
    parser.add_argument("--write", action="store_true", help="replace the table in docs/npu.md")
    opts = parser.parse_args(argv)
    rendered = table()
    if not opts.write:
        print(rendered)
        return 0
    text = DOC.read_text()
    old = documented(text)
    if old is None:
        sys.stderr.write(f"calibration: no {BEGIN} ... {END} block in {DOC}\n")
        return 1
    DOC.write_text(text.replace(old, rendered))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
