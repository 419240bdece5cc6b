/* npu_race: a driver bug strict completion catches. An NPU command chain whose DRAM output is
 * read before the chain completed when `wait_first` is 0 (the bug: on hardware the read returns
 * stale bytes), and after npu_wait() when it is 1. `kind` picks the chain: 0 a DMA round trip,
 * 1 a DWCONV whose int32 outputs are stored from the accumulator, 2 a QADD whose int8 sum is
 * stored; the DMA_OUT is the fourth descriptor of chains 1 and 2 (DMA_IN, DMA_IN, op, DMA_OUT),
 * ordered after the op by the scoreboard (read-after-write of its on-chip output). Under strict
 * completion (--npu-strict, npuemu debug, the test fixtures) the buggy read is reported with the
 * PC of the load and the descriptor; tests/npu/test_strict.py drives every variant. */
#include "sdk.h"
#include "npu.h"
#include "string.h"

#define SLOTS 8u
#define BYTES 4096u
#define H 16u  /* DWCONV: H x H x C input, 3 x 3 kernel, stride 1 */
#define C 16u
#define KS 3u
#define OH (H - KS + 1u)
#define SPAD_W 8192u  /* scratchpad offset of the second operand */

static npu_desc_t ring[SLOTS] __attribute__((aligned(64)));
static uint8_t src[BYTES] __attribute__((aligned(64)));
static uint8_t src2[BYTES] __attribute__((aligned(64)));
static int32_t dst[BYTES] __attribute__((aligned(64)));  /* big enough for every chain's output */
volatile uint32_t wait_first = 0;  /* the test sets 1 for the fixed driver */
volatile uint32_t kind = 0;        /* the test picks the chain */

static uint32_t queue_chain(void)
{
    if (kind == 1) {
        npu_dma_in(0, src, 0, 1, H * H * C, 0, 0);
        npu_dma_in(0, src2, SPAD_W, 1, KS * KS * C, 0, 0);
        npu_dwconv(&(npu_dwconv_t){.in_addr = 0, .w_addr = SPAD_W, .acc_addr = 0, .h = H, .w = H, .c = C,
                                   .kh = KS, .kw = KS, .sh = 1, .sw = 1});
        npu_dma_out(NPU_F_ACC, dst, 0, 1, OH * OH * C * 4u, 0, 0);
        return OH * OH * C * 4u;
    }
    if (kind == 2) {
        npu_dma_in(0, src, 0, 1, BYTES, 0, 0);
        npu_dma_in(0, src2, SPAD_W, 1, BYTES, 0, 0);
        /* identity requantizations (2^30 with shift 1): out = sat8(a + b) */
        npu_qadd(&(npu_qadd_t){.a_addr = 0, .b_addr = SPAD_W, .out_addr = 2u * SPAD_W, .count = BYTES,
                               .a_multiplier = 1 << 30, .b_multiplier = 1 << 30, .out_multiplier = 1 << 30,
                               .a_shift = 1, .b_shift = 1, .out_shift = 1, .clamp_min = -128, .clamp_max = 127});
        npu_dma_out(0, dst, 2u * SPAD_W, 1, BYTES, 0, 0);
        return BYTES;
    }
    npu_dma_in(0, src, 0, 1, BYTES, 0, 0);
    npu_dma_out(0, dst, 0, 1, BYTES, 0, 0);
    return BYTES;
}

static uint32_t expected_sum(void)
{
    uint32_t sum = 0;
    if (kind == 1) {
        for (unsigned y = 0; y < OH; y++)
            for (unsigned x = 0; x < OH; x++)
                for (unsigned c = 0; c < C; c++) {
                    int32_t acc = 0;
                    for (unsigned ky = 0; ky < KS; ky++)
                        for (unsigned kx = 0; kx < KS; kx++)
                            acc += (int8_t)src[((y + ky) * H + x + kx) * C + c] * (int8_t)src2[(ky * KS + kx) * C + c];
                    sum += (uint32_t)acc;
                }
        return sum;
    }
    for (unsigned i = 0; i < BYTES; i++) {
        int v = kind == 2 ? (int8_t)src[i] + (int8_t)src2[i] : src[i];
        if (kind == 2)
            v = v > 127 ? 127 : v < -128 ? -128 : v;
        sum += (uint8_t)v;
    }
    return sum;
}

int main(void)
{
    if (npu_init(ring, SLOTS, NPU_WAIT_POLL)) {
        printf("FAIL no NPU\n");
        return 2;
    }
    for (unsigned i = 0; i < BYTES; i++) {
        src[i] = (uint8_t)(i * 5 + 1);
        src2[i] = (uint8_t)(i * 11 + 3);
    }
    memset(dst, 0, sizeof dst);
    uint32_t out_bytes = queue_chain();
    npu_submit();
    if (wait_first && npu_wait() != NPU_ERR_NONE)
        return 3;
    uint32_t sum = 0;
    if (kind == 1)  /* the read: before completion unless wait_first */
        for (unsigned i = 0; i < out_bytes / 4u; i++)
            sum += (uint32_t)dst[i];
    else
        for (unsigned i = 0; i < out_bytes; i++)
            sum += ((const uint8_t *)dst)[i];
    if (!wait_first && npu_wait() != NPU_ERR_NONE)
        return 3;
    uint32_t expected = expected_sum();
    printf("npu_race: %s, checksum %lu (expected %lu)\n", wait_first ? "waited" : "did not wait",
           (unsigned long)sum, (unsigned long)expected);
    return sum == expected ? 0 : 1;
}
