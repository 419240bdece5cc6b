"""Integer post-processing: requantization, activations, element-wise ops, pooling, argmax.

The rounding rules are TFLite's / CMSIS-NN's reference ones (docs/npu.md has
the formulas), vectorized over int64 so no intermediate can overflow.
"""

from __future__ import annotations

import numpy as np

from emu.npu_device.encoding import ACTIVATIONS, ELTWISE_OPS, POOL_OPS
from emu.npu_device.fault import NpuFault

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT8_MIN, INT8_MAX = -128, 127
MAX_SHIFT = 31
# DWCONV kernel taps (kh * kw) the vector unit's weight buffer holds per channel: real depthwise
# engines bound the kernel (docs/npu.md), and it bounds one command's work (issue 17).
MAX_DW_TAPS = 1024


def check_shift(shift: np.ndarray | int) -> None:
    if np.any(np.abs(shift) > MAX_SHIFT):
        raise NpuFault("BAD_ARG", f"requantization shift outside -{MAX_SHIFT}..{MAX_SHIFT}")


def srdhm(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul: round(a*b / 2^31), ties away from zero; (MIN, MIN) -> MAX."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudged = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))  # C division truncates toward 0
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def requantize(x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier: RDBPOT(SRDHM(sat32(x * 2^max(shift,0)), mult), max(-shift,0))."""
    shift = np.asarray(shift, dtype=np.int64)
    check_shift(shift)
    left = np.maximum(shift, 0)
    scaled = np.clip(np.asarray(x, dtype=np.int64) << left, INT32_MIN, INT32_MAX)
    return rounding_divide_by_pot(srdhm(scaled, multiplier), np.maximum(-shift, 0))


def activation_bounds(act: int, zero_point: int, clamp_min: int, clamp_max: int) -> tuple[int, int]:
    """[lo, hi] of the output after the activation (a subset of int8)."""
    if act == ACTIVATIONS["NONE"]:
        lo, hi = INT8_MIN, INT8_MAX
    elif act == ACTIVATIONS["RELU"]:
        lo, hi = max(zero_point, INT8_MIN), INT8_MAX
    elif act == ACTIVATIONS["RELU6"]:
        lo, hi = max(zero_point, INT8_MIN), clamp_max
    elif act == ACTIVATIONS["CLAMP"]:
        lo, hi = clamp_min, clamp_max
    else:
        raise NpuFault("BAD_ARG", f"unknown activation {act}")
    if lo > hi:
        raise NpuFault("BAD_ARG", f"empty activation range [{lo}, {hi}]")
    return lo, hi


def finish(y: np.ndarray, zero_point: int, lo: int, hi: int) -> np.ndarray:
    """int8 output: min(max(y + zero_point, lo), hi)."""
    return np.clip(y + zero_point, lo, hi).astype(np.int8)


def eltwise(op: int, a: np.ndarray, b: np.ndarray, a_offset: int, b_offset: int) -> np.ndarray:
    """The int32 element-wise result before requantization: (a+a_off) op (b+b_off)."""
    a32 = a.astype(np.int64) + a_offset
    b32 = b.astype(np.int64) + b_offset
    if op == ELTWISE_OPS["ADD"]:
        return a32 + b32
    if op == ELTWISE_OPS["MUL"]:
        return a32 * b32
    if op == ELTWISE_OPS["MAX"]:
        return np.maximum(a32, b32)
    raise NpuFault("BAD_ARG", f"unknown element-wise op {op}")


def pool_shape(h: int, w: int, kh: int, kw: int, sh: int, sw: int) -> tuple[int, int]:
    """Output height and width of a valid (unpadded) pooling window."""
    if min(kh, kw, sh, sw) == 0 or kh > h or kw > w:
        raise NpuFault("BAD_ARG", f"pooling window {kh}x{kw}/{sh}x{sw} on {h}x{w}")
    return (h - kh) // sh + 1, (w - kw) // sw + 1


def pool(op: int, x: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    """Max or average (round half away from zero) over kh x kw windows of an H x W x C int8 map.

    Separable: a kh-row reduction then a kw-column one, kh + kw vectorized passes, so even a
    255 x 255 window over the whole scratchpad costs milliseconds (issue 17: one descriptor
    must not keep the host busy for seconds).  Max and the integer sum are exact in any order.
    """
    if op not in (POOL_OPS["MAX"], POOL_OPS["AVG"]):
        raise NpuFault("BAD_ARG", f"unknown pooling op {op}")
    rows = _window_reduce(x, kh, sh, 0, op)
    total = _window_reduce(rows, kw, sw, 1, op)
    if op == POOL_OPS["MAX"]:
        return total
    count = kh * kw
    return (np.sign(total) * ((np.abs(total) + count // 2) // count)).astype(np.int8)


def _window_reduce(x: np.ndarray, k: int, stride: int, axis: int, op: int) -> np.ndarray:
    """Max (int8) or sum (int64) over windows of ``k`` along ``axis``, ``stride`` apart."""
    n_out = (x.shape[axis] - k) // stride + 1

    def tap(i: int) -> np.ndarray:
        index = [slice(None)] * x.ndim
        index[axis] = slice(i, i + (n_out - 1) * stride + 1, stride)
        return x[tuple(index)]

    if op == POOL_OPS["MAX"]:
        acc = tap(0).copy()
        for i in range(1, k):
            np.maximum(acc, tap(i), out=acc)
    else:
        acc = tap(0).astype(np.int64)
        for i in range(1, k):
            np.add(acc, tap(i), out=acc)
    return acc


def depthwise(x: np.ndarray, w: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """Valid depthwise convolution: out[y, x, c] = sum over the window of in * w (exact, int64).

    One vectorized multiply-add per kernel tap: kh*kw numpy passes over the output, no loop
    per pixel.
    """
    kh, kw, _ = w.shape
    oh, ow = (x.shape[0] - kh) // sh + 1, (x.shape[1] - kw) // sw + 1
    x64 = x.astype(np.int64)
    out = np.zeros((oh, ow, x.shape[2]), dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            out += x64[ky : ky + (oh - 1) * sh + 1 : sh, kx : kx + (ow - 1) * sw + 1 : sw] * w[ky, kx]
    return out


def wrap32(x: np.ndarray) -> np.ndarray:
    """x modulo 2^32 as two's complement (what an int32 adder or multiplier keeps)."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 31)) & 0xFFFF_FFFF) - (1 << 31)


def qadd(a: np.ndarray, b: np.ndarray, a_offset: int, b_offset: int, left_shift: int,
         a_quant: tuple[int, int], b_quant: tuple[int, int], out_quant: tuple[int, int]) -> np.ndarray:
    """TFLite's int8 ADD before the zero point: each input rescaled on its own, summed, rescaled.

    ``(a + a_offset) * 2^left_shift`` and the sum wrap in int32 as TFLite's int32 C code does.
    """
    sa = requantize(wrap32((a.astype(np.int64) + a_offset) << left_shift), *a_quant)
    sb = requantize(wrap32((b.astype(np.int64) + b_offset) << left_shift), *b_quant)
    return requantize(wrap32(sa + sb), *out_quant)
