"""Integer arithmetic of the NPU (docs/npu.md, "Arithmetic") vectorized with numpy int64.

The firmware result must equal these bit for bit, so each function restates one device formula;
tests/workloads cross-checks them against the plain golden models in tests/npu/golden.py.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A positive real scale as (Q31 multiplier, shift) with real ~= multiplier * 2^shift / 2^31.

    The TFLite ``QuantizeMultiplier`` convention the POSTPROC command expects: shift > 0 is a
    left shift, < 0 a right shift, and both must fit the device's -31..31.
    """
    if real <= 0:
        raise ValueError(f"requantization scale must be positive, got {real}")
    mantissa, exponent = math.frexp(real)  # real = mantissa * 2^exponent, mantissa in [0.5, 1)
    multiplier = round(mantissa * 2**31)
    if multiplier == 2**31:
        multiplier //= 2
        exponent += 1
    if not -31 <= exponent <= 31:
        raise ValueError(f"requantization scale {real} needs shift {exponent}, outside -31..31")
    return multiplier, exponent


def requantize(x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier on int64 arrays (broadcast per channel over the last axis)."""
    x = np.asarray(x, dtype=np.int64)
    m = np.asarray(multiplier, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    left, right = np.maximum(s, 0), np.maximum(-s, 0)
    x1 = np.clip(x << left, INT32_MIN, INT32_MAX)
    ab = x1 * m
    t = ab + np.where(ab >= 0, 2**30, 1 - 2**30)
    x2 = np.where(t >= 0, t >> 31, -((-t) >> 31))  # truncation toward zero, as C
    x2 = np.where((x1 == INT32_MIN) & (m == INT32_MIN), INT32_MAX, x2)
    mask = (np.int64(1) << right) - 1
    threshold = (mask >> 1) + (x2 < 0)
    return (x2 >> right) + ((x2 & mask) > threshold)


def wrap32(x: np.ndarray) -> np.ndarray:
    """Two's complement int32 wrap-around of an int64 array (the hardware adders)."""
    return ((np.asarray(x, dtype=np.int64) + 2**31) % 2**32 - 2**31).astype(np.int64)


def postproc(acc: np.ndarray, bias: np.ndarray | None, multiplier: np.ndarray, shift: np.ndarray,
             lo: int, hi: int, zero_point: int = 0) -> np.ndarray:
    """POSTPROC: int8 = sat(requant(wrap32(acc + bias)) + zero_point, lo, hi), per channel."""
    x = np.asarray(acc, dtype=np.int64)
    if bias is not None:
        x = wrap32(x + np.asarray(bias, dtype=np.int64))
    return np.clip(requantize(x, multiplier, shift) + zero_point, lo, hi).astype(np.int8)


def weight_update(w: np.ndarray, x: np.ndarray, d: np.ndarray, shift: int) -> np.ndarray:
    """WEIGHT_UPDATE with nearest rounding: sat8(W + ((x^T d + 2^(s-1)) >> s))."""
    g = np.asarray(x, dtype=np.int64).T @ np.asarray(d, dtype=np.int64)
    if shift:
        g = (g + (1 << (shift - 1))) >> shift
    return np.clip(np.asarray(w, dtype=np.int64) + g, -128, 127).astype(np.int8)


def first_argmax(rows: np.ndarray) -> np.ndarray:
    """ARGMAX: the index of the first maximum of each row (numpy's argmax has the same tie rule)."""
    return np.argmax(rows, axis=1).astype(np.int32)
