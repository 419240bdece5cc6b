"""Demo 1 (inference) and Demo 2 (on-device learning) of firmware/apps/npu_demo, checked image by
image against the quantized Python reference (toolchain/npu_model/mlp.py)."""

from __future__ import annotations

import numpy as np
from npu_model import mlp

from .conftest import DemoResult, run_polled_to_exit

MIN_ACCURACY = 0.95
MIN_LEARNING_GAIN = 0.35  # the reference gains ~49 points (46% -> 96%) on shifted digits


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


def test_on_device_learning_matches_the_reference_and_gains(demo, digits_model) -> None:
    data, q = digits_model
    shifted = mlp.quantize_input(data.shifted_test_x)
    before = mlp.predict(q, shifted)
    after = mlp.predict(mlp.learn(q, mlp.quantize_input(data.shifted_train_x), data.train_y), shifted)
    assert np.array_equal(predictions(demo, "shifted_before"), before)
    assert np.array_equal(predictions(demo, "shifted_after"), after)
    gain = float((after == data.test_y).mean() - (before == data.test_y).mean())
    assert gain >= MIN_LEARNING_GAIN
    demo.uart.expect(r"accuracy \d+\.\d\d% before -> \d+\.\d\d% after")


def test_polled_driver_gives_the_same_results(npuemu_warm_boot, digits_model) -> None:
    data, q = digits_model
    machine = npuemu_warm_boot("rv64/npu_demo.elf", setup=run_polled_to_exit)
    machine.uart.expect("waiting by polling")
    assert np.array_equal(predictions(machine, "npu_pred"), mlp.predict(q, mlp.quantize_input(data.test_x)))
    assert machine.npu_counters()["commands"] > 0
