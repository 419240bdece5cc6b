/* The demo network on the CPU alone: the device's integer formulas (docs/npu.md, "Arithmetic") in
 * plain C, walking the same layer table. It is both the CPU baseline of the speed-up (an optimized
 * kernel, register-blocked and unrolled, built with -O2 by app.mk: the CPU is not handicapped) and
 * a cross-check of the NPU's predictions. */
#include "cpu_ref.h"

static int32_t sat32(int64_t x) { return x < INT32_MIN ? INT32_MIN : x > INT32_MAX ? INT32_MAX : (int32_t)x; }

int32_t cpu_requantize(int32_t x, int32_t multiplier, int shift)
{
    int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    int32_t x1 = sat32((int64_t)x * ((int64_t)1 << left));
    int32_t x2;
    if (x1 == INT32_MIN && multiplier == INT32_MIN) {
        x2 = INT32_MAX;
    } else {
        int64_t ab = (int64_t)x1 * multiplier;
        int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
        x2 = (int32_t)((ab + nudge) / ((int64_t)1 << 31));  /* C division truncates toward zero */
    }
    int32_t mask = (int32_t)(((int64_t)1 << right) - 1);
    int32_t threshold = (mask >> 1) + (x2 < 0);
    return (x2 >> right) + ((x2 & mask) > threshold);
}

uint32_t cpu_argmax(const int32_t *v, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* acc[0..n) = in[0..k) @ W[k x n] (row-major, row stride n): the CPU baseline's inner kernel, written
 * as an optimizing compiler cannot on its own: four outputs kept in registers across the whole k
 * loop (register blocking), the four products of a weight row unrolled, one input load per k. */
static void matvec(const int8_t *in, const int8_t *weights, uint32_t k, uint32_t n, int32_t *acc)
{
    uint32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *w = weights + j;
        for (uint32_t i = 0; i < k; i++, w += n) {
            int32_t x = in[i];
            a0 += x * w[0];
            a1 += x * w[1];
            a2 += x * w[2];
            a3 += x * w[3];
        }
        acc[j] = a0;
        acc[j + 1] = a1;
        acc[j + 2] = a2;
        acc[j + 3] = a3;
    }
    for (; j < n; j++) {
        int32_t a = 0;
        for (uint32_t i = 0; i < k; i++)
            a += in[i] * weights[i * n + j];
        acc[j] = a;
    }
}

void cpu_dense_forward(const npu_dense_layer_t *layers, unsigned count, const int8_t *input,
                       int8_t scratch[2][CPU_REF_MAX_WIDTH], int32_t *logits)
{
    const int8_t *in = input;
    int32_t acc[CPU_REF_MAX_WIDTH];
    for (unsigned i = 0; i < count; i++) {
        const npu_dense_layer_t *l = &layers[i];
        int8_t *out = scratch[i % 2];
        int requantized = l->bias || l->quant;
        uint32_t k_data = l->const_input ? l->k - 1 : l->k;
        int32_t lo = l->act == NPU_ACT_RELU ? 0 : -128;  /* zero point 0; NONE and RELU only */
        matvec(in, l->weights, k_data, l->n, acc);
        for (uint32_t j = 0; j < l->n; j++) {
            if (l->const_input)
                acc[j] += *l->const_input * l->weights[k_data * l->n + j];
            if (!requantized) {
                logits[j] = acc[j];
                continue;
            }
            int32_t x = (int32_t)((uint32_t)acc[j] + (uint32_t)(l->bias ? l->bias[j] : 0));  /* wraps */
            int32_t y = l->quant ? cpu_requantize(x, l->quant[2 * j], (int)l->quant[2 * j + 1]) : x;
            out[j] = (int8_t)(y < lo ? lo : y > 127 ? 127 : y);
        }
        in = out;
    }
}
