"""The presets reproduce the published macro figures they cite, and docs/npu.md shows the computed table."""

from __future__ import annotations

import pytest

from emu.npu_device import calibration
from emu.npu_device.config import NpuConfig, presets


def _id(p: calibration.Point) -> str:
    return f"{p.preset}-{'T' if p.transposed else 'F'}-{p.input_bits}b-{'fit' if p.fitted else 'held'}"


@pytest.mark.parametrize("point", [p for p in calibration.POINTS if p.fitted], ids=_id)
def test_preset_matches_the_figure_it_is_fitted_to_within_ten_percent(point: calibration.Point) -> None:
    ours = calibration.measure(point)
    assert abs(ours / point.tops_per_watt - 1) <= calibration.MAX_ERROR, (point, ours)


@pytest.mark.parametrize("point", [p for p in calibration.POINTS if not p.fitted], ids=_id)
def test_held_out_point_within_ten_percent_or_its_miss_is_explained(point: calibration.Point) -> None:
    """A held-out figure is the validation: its error is reported as it is, never tuned away; one
    above the goal must say why (rendered under the docs table)."""
    error = calibration.measure(point) / point.tops_per_watt - 1
    if abs(error) > calibration.MAX_ERROR:
        assert point.why, f"{_id(point)} misses by {error:+.1%}: state why in Point.why"
        assert f"{error:+.1%}, above the" in calibration.table()


def test_bit_parallel_transposable_preset_misses_int4_as_much() -> None:
    """What the docs state: the paper's bit-parallel datapath, re-fitted to the INT8 figure, leaves
    the INT4 miss where it is (so keeping the preset bit-serial hides nothing), and only by
    inflating adder_bit about 8x (one 1-bit plane's tree billed per 8-bit input)."""
    adder, own, _, error = calibration.bit_parallel_what_if()
    held = next(p for p in calibration.POINTS if p.preset == "transposable_28nm" and not p.fitted)
    assert abs(error) > calibration.MAX_ERROR
    assert abs(error - (calibration.measure(held) / held.tops_per_watt - 1)) < 0.02
    assert 6 < adder / own < 10


def test_every_preset_has_a_held_out_point_or_says_why_not() -> None:
    held = {p.preset for p in calibration.POINTS if not p.fitted}
    assert held | set(calibration.NOTHING_HELD_OUT) == set(presets())
    assert not held & set(calibration.NOTHING_HELD_OUT)


def test_docs_table_is_the_computed_one() -> None:
    documented = calibration.documented(calibration.DOC.read_text())
    assert documented == calibration.table(), "stale: run python -m emu.npu_device.calibration --write"


def test_every_preset_loads_and_is_calibrated() -> None:
    names = presets()
    assert {"chih2021_22nm", "fujiwara2022_5nm", "transposable_28nm"} <= set(names)
    assert {p.preset for p in calibration.POINTS} == set(names)
    for name in names:
        assert NpuConfig.load(name).macro.name


def test_lower_precision_and_newer_node_cost_less_per_mac() -> None:
    """Sanity of the structure, not of a fit: int4 < int8 on one macro, 5 nm < 22 nm at one precision."""
    p = calibration.POINTS[0]
    int8 = p._replace(input_bits=8, weight_bits=8)
    assert calibration.measure(p) > 2 * calibration.measure(int8)
    assert calibration.measure(calibration.POINTS[1]) > 2 * calibration.measure(p)


def test_unknown_preset_names_the_presets() -> None:
    from emu.errors import ConfigError

    with pytest.raises(ConfigError, match="presets: chih2021_22nm, fujiwara2022_5nm, transposable_28nm"):
        NpuConfig.load("chih2021")
