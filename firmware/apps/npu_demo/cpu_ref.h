/* CPU-only int8 reference of a dense layer table (see cpu_ref.c). */
#ifndef NPU_DEMO_CPU_REF_H
#define NPU_DEMO_CPU_REF_H

#include <stdint.h>

#include "npu.h"

#define CPU_REF_MAX_WIDTH 256  /* widest layer output the scratch rows hold */

int32_t cpu_requantize(int32_t x, int32_t multiplier, int shift);
uint32_t cpu_argmax(const int32_t *v, uint32_t n);
/* One input row through the layers; the last layer (no bias/quant) leaves its n int32 in logits. */
void cpu_dense_forward(const npu_dense_layer_t *layers, unsigned count, const int8_t *input,
                       int8_t scratch[2][CPU_REF_MAX_WIDTH], int32_t *logits);

#endif
