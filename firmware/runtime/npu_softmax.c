/* TFLite Micro's int8 -> int8 SOFTMAX on the CPU, bit-exact.
 *
 * The arithmetic of tensorflow/lite/kernels/internal/reference/softmax.h (quantized path) with
 * gemmlowp's fixed-point exp_on_negative_values and one_over_one_plus_x_for_x_in_0_1
 * (fixedpoint/fixedpoint.h): input differences are Q5.26, exponentials Q0.31, their sum Q12.19.
 * The compiler computes the input multiplier, left shift and diff_min as TFLM's Prepare does. */
#include <stdint.h>

#include "npu_model.h"

#define I32_MIN ((int32_t)0x80000000)
#define I32_MAX ((int32_t)0x7FFFFFFF)

/* SaturatingRoundingDoublingHighMul: round(a * b / 2^31), (MIN, MIN) -> MAX. */
static int32_t srdhm(int32_t a, int32_t b)
{
    if (a == I32_MIN && b == I32_MIN)
        return I32_MAX;
    int64_t ab = (int64_t)a * b;
    int64_t nudge = ab >= 0 ? (1 << 30) : 1 - (1 << 30);
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* RoundingDivideByPOT: x / 2^e, rounded to nearest, ties away from zero. */
static int32_t rdbpot(int32_t x, int e)
{
    int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (remainder > threshold ? 1 : 0);
}

/* SaturatingRoundingMultiplyByPOT<e> for e > 0: saturating left shift. */
static int32_t sat_shl(int32_t x, int e)
{
    int32_t threshold = (int32_t)((1u << (31 - e)) - 1);
    if (x > threshold)
        return I32_MAX;
    if (x < -threshold)
        return I32_MIN;
    return (int32_t)((uint32_t)x << e);
}

static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* exp(a) for a Q5.26 a <= 0, as Q0.31. */
static int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t one_quarter = 1 << 24;
    int32_t a_mod = wrap_sub(a & (one_quarter - 1), one_quarter);
    /* exp on [-1/4, 0): Taylor series around -1/8 in Q0.31 */
    int32_t x = wrap_add(sat_shl(a_mod, 5), 1 << 28);
    int32_t x2 = srdhm(x, x), x3 = srdhm(x2, x), x4 = srdhm(x2, x2);
    int32_t x4_over_4 = rdbpot(x4, 2);
    int32_t t = rdbpot(wrap_add(srdhm(wrap_add(x4_over_4, x3), 715827883), x2), 1);
    int32_t result = wrap_add(1895147668, srdhm(1895147668, wrap_add(x, t)));
    int32_t remainder = wrap_sub(a_mod, a);
    for (int i = 0; i < 7; i++)
        if (remainder & (1 << (26 - 2 + i)))
            result = srdhm(result, barrel[i]);
    return a == 0 ? I32_MAX : result;
}

/* 1 / (1 + a) for a Q0.31 a in [0, 1), as Q0.31 (Newton-Raphson, three steps). */
static int32_t one_over_one_plus_x(int32_t a)
{
    int64_t sum = (int64_t)a + I32_MAX;
    int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = wrap_add(1515870810, srdhm(half_denominator, -1010580540));
    for (int i = 0; i < 3; i++) {
        int32_t one_minus = wrap_sub(1 << 29, srdhm(half_denominator, x));
        x = wrap_add(x, sat_shl(srdhm(x, one_minus), 2));
    }
    return sat_shl(x, 1);
}

static int clz32(uint32_t x)
{
    int n = 0;
    while (n < 32 && !(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
}

void npu_softmax_int8(const int8_t *in, int8_t *out, uint32_t rows, uint32_t depth, int32_t mult, int32_t shift,
                      int32_t diff_min)
{
    for (uint32_t r = 0; r < rows; r++, in += depth, out += depth) {
        int32_t max = -128;
        for (uint32_t c = 0; c < depth; c++)
            max = in[c] > max ? in[c] : max;
        int32_t sum = 0;  /* Q12.19 */
        for (uint32_t c = 0; c < depth; c++) {
            int32_t diff = in[c] - max;
            if (diff >= diff_min)
                sum = wrap_add(sum, rdbpot(exp_on_negative_values(srdhm(diff * (1 << shift), mult)), 12));
        }
        int headroom = clz32((uint32_t)sum);
        int bits_over_unit = 12 - headroom;
        int32_t scale = one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - (1u << 31)));
        for (uint32_t c = 0; c < depth; c++) {
            int32_t diff = in[c] - max;
            int32_t v = -128;
            if (diff >= diff_min) {
                int32_t e = exp_on_negative_values(srdhm(diff * (1 << shift), mult));
                v = rdbpot(srdhm(scale, e), bits_over_unit + 31 - 8) - 128;
                v = v > 127 ? 127 : v < -128 ? -128 : v;
            }
            out[c] = (int8_t)v;
        }
    }
}
