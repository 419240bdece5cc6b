"""TFLite's quantization arithmetic, reproduced bit for bit (double precision as in C++).

Sources: tensorflow/lite/kernels/internal/quantization_util.cc (QuantizeMultiplier,
PreprocessSoftmaxScaling, CalculateInputRadius), tensorflow/lite/kernels/kernel_util.cc
(CalculateActivationRangeQuantized, PopulateConvolutionQuantizationParams,
GetQuantizedConvolutionMultipler), tflite-micro kernels/add_common.cc and softmax_common.cc.
"""

from __future__ import annotations

import math

import numpy as np

# tflite ActivationFunctionType
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3


def tflite_round(x: float) -> int:
    """std::round: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(m: float) -> tuple[int, int]:
    """QuantizeMultiplier: m = q * 2^shift with q a Q31 integer in [2^30, 2^31)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if shift > 30:
        shift, q_fixed = 30, (1 << 31) - 1
    return q_fixed, shift


def conv_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float, channels: int
                     ) -> np.ndarray:
    """Per-channel {multiplier, shift} as PopulateConvolutionQuantizationParams (all in double)."""
    scales = np.broadcast_to(np.asarray(filter_scales, dtype=np.float32), (channels,))
    out = np.zeros((channels, 2), dtype=np.int32)
    for c in range(channels):
        eff = float(np.float32(input_scale)) * float(scales[c]) / float(np.float32(output_scale))
        out[c] = quantize_multiplier(eff)
    return out


def fc_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler: the input x filter product is a float32 product."""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(np.float32(output_scale)))


def activation_range(act: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 (f / scale in float32, then roundf)."""

    def q(f: float) -> int:
        return zero_point + tflite_round(float(np.float32(f) / np.float32(scale)))

    if act == ACT_RELU:
        return max(-128, q(0.0)), 127
    if act == ACT_RELU6:
        return max(-128, q(0.0)), min(127, q(6.0))
    if act == ACT_RELU_N1_TO_1:
        return max(-128, q(-1.0)), min(127, q(1.0))
    return -128, 127


def add_params(scale1: float, scale2: float, scale_out: float) -> dict[str, int]:
    """The ADD multipliers of tflite-micro's add_common.cc (int8: left shift 20)."""
    left_shift = 20
    s1, s2, so = (float(np.float32(s)) for s in (scale1, scale2, scale_out))
    twice_max = 2 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max)
    m2, sh2 = quantize_multiplier(s2 / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << left_shift) * so))
    return {"left_shift": left_shift, "a_multiplier": m1, "a_shift": sh1, "b_multiplier": m2, "b_shift": sh2,
            "out_multiplier": mo, "out_shift": sho}


SOFTMAX_DIFF_INTEGER_BITS = 5


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) of TFLM's int8 softmax preparation."""
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - SOFTMAX_DIFF_INTEGER_BITS)),
               (1 << 31) - 1.0)
    mult, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise ValueError("softmax multiplier below one")
    radius = math.floor(1.0 * ((1 << SOFTMAX_DIFF_INTEGER_BITS) - 1)
                        * (1 << (31 - SOFTMAX_DIFF_INTEGER_BITS)) / (1 << left_shift))
    return mult, left_shift, -radius
