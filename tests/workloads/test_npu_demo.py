"""Demo 1 (inference) and Demo 2 (on-device learning) of firmware/apps/npu_demo, checked image by
image against the quantized Python reference (toolchain/npu_model/mlp.py)."""

from __future__ import annotations

import numpy as np
from npu_model import mlp

from .conftest import DemoResult, run_polled_to_exit

MIN_ACCURACY = 0.95
MIN_LEARNING_GAIN = 0.35  # the reference gains ~49 points (46% -> 96%) on shifted digits
MIN_AFTER_LEARNING = 0.93  # on both the shifted and the original held-out digits (no forgetting)


def predictions(machine, symbol: str) -> np.ndarray:
    return np.frombuffer(machine.read_symbol_bytes(symbol), dtype=np.uint8).astype(np.int32)


def test_inference_matches_the_quantized_reference(demo, digits_model) -> None:
    data, q = digits_model
    expected = mlp.predict(q, mlp.quantize_input(data.test_x))
    got = predictions(demo, "npu_pred")
    assert np.array_equal(got, expected), f"{int((got != expected).sum())} predictions differ"
    assert np.array_equal(predictions(demo, "cpu_pred"), expected)
    accuracy = float((got == data.test_y).mean())
    assert accuracy >= MIN_ACCURACY
    result = DemoResult.parse(demo.read_symbol_bytes("demo_result"))
    assert result.status == 0
    assert result.npu_correct == result.cpu_correct == int((expected == data.test_y).sum())
    demo.uart.expect(rf"accuracy NPU {result.npu_correct}/{len(data.test_y)} = \d+\.\d\d%")


def test_counters_equal_the_analytical_counts(demo, digits_model) -> None:
    data, _ = digits_model
    result = DemoResult.parse(demo.read_symbol_bytes("demo_result"))
    counts = mlp.inference_counts(len(data.test_y))
    assert {name: getattr(result, name) for name in counts} == counts
    assert result.busy_cycles > 0 and result.energy_pj > 0


def test_on_device_learning_matches_the_reference_gains_and_does_not_forget(demo, digits_model) -> None:
    data, q = digits_model
    shifted = mlp.quantize_input(data.shifted_test_x)
    before = mlp.predict(q, shifted)
    learned = mlp.learn(q, *mlp.learning_set(data))
    after = mlp.predict(learned, shifted)
    original_after = mlp.predict(learned, mlp.quantize_input(data.test_x))
    assert np.array_equal(predictions(demo, "shifted_before"), before)
    assert np.array_equal(predictions(demo, "shifted_after"), after)
    assert np.array_equal(predictions(demo, "original_after"), original_after)
    gain = float((after == data.test_y).mean() - (before == data.test_y).mean())
    assert gain >= MIN_LEARNING_GAIN
    result = DemoResult.parse(demo.read_symbol_bytes("demo_result"))
    n = len(data.test_y)
    assert result.shifted_correct_after / n >= MIN_AFTER_LEARNING
    assert result.original_correct_after / n >= MIN_AFTER_LEARNING
    assert result.original_correct_after == int((original_after == data.test_y).sum())
    demo.uart.expect(r"shifted digits: accuracy \d+\.\d\d% before -> \d+\.\d\d% after")
    demo.uart.expect(r"original digits: accuracy \d+\.\d\d% before -> \d+\.\d\d% after")


def test_summary_is_honest_about_its_figures(demo) -> None:
    """Driver work charged to the NPU side, an optimized CPU kernel, and the figures' sources named."""
    result = DemoResult.parse(demo.read_symbol_bytes("demo_result"))
    assert result.cpu_insns / result.macs < 7  # the register-blocked kernel (5.5 rv32, 6.3 rv64), not the naive 8.4
    demo.uart.expect(r"\d+ pJ NPU \+ \d+ driver instructions \(\d+ pJ\) = \d+ pJ")
    demo.uart.expect(r"energy ratio \d+\.\d\dx \(driver energy included\)")
    demo.uart.expect(r"figures: NPU = D-IMC macro cost model at 22 nm .* CPU = 5\.06 pJ/instruction at 55 nm")


def test_polled_driver_gives_the_same_results(npuemu_warm_boot, digits_model) -> None:
    data, q = digits_model
    machine = npuemu_warm_boot("rv64/npu_demo.elf", setup=run_polled_to_exit)
    machine.uart.expect("waiting by polling")
    assert np.array_equal(predictions(machine, "npu_pred"), mlp.predict(q, mlp.quantize_input(data.test_x)))
    assert machine.npu_counters()["commands"] > 0
