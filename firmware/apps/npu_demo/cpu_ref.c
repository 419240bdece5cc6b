/* The demo network on the CPU alone: the device's integer formulas (docs/npu.md, "Arithmetic") in
 * plain C, walking the same layer table. It is both the CPU baseline of the speed-up (built with
 * -O2 by app.mk, so the CPU is not handicapped) and a cross-check of the NPU's predictions. */
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

void cpu_dense_forward(const npu_dense_layer_t *layers, unsigned count, const int8_t *input,
                       int8_t scratch[2][CPU_REF_MAX_WIDTH], int32_t *logits)
{
    const int8_t *in = input;
    for (unsigned i = 0; i < count; i++) {
        const npu_dense_layer_t *l = &layers[i];
        int8_t *out = scratch[i % 2];
        int requantized = l->bias || l->quant;
        uint32_t k_data = l->const_input ? l->k - 1 : l->k;
        int32_t lo = l->act == NPU_ACT_RELU ? 0 : -128;  /* zero point 0; NONE and RELU only */
        for (uint32_t j = 0; j < l->n; j++) {
            const int8_t *w = l->weights + j;
            int32_t acc = 0;
            for (uint32_t k = 0; k < k_data; k++)
                acc += in[k] * w[k * l->n];
            if (l->const_input)
                acc += *l->const_input * w[k_data * l->n];
            if (!requantized) {
                logits[j] = acc;
                continue;
            }
            int32_t x = (int32_t)((uint32_t)acc + (uint32_t)(l->bias ? l->bias[j] : 0));  /* wraps */
            int32_t y = l->quant ? cpu_requantize(x, l->quant[2 * j], (int)l->quant[2 * j + 1]) : x;
            out[j] = (int8_t)(y < lo ? lo : y > 127 ? 127 : y);
        }
        in = out;
    }
}
