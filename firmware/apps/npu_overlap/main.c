/* npu_overlap: the same 8-layer sequence run twice on the NPU, first serialized (a FENCE after
 * every command: one engine at a time, as a single-queue NPU runs), then double-buffered
 * (layer n+1's activations DMA into the other scratchpad buffer while layer n's MVM runs, layer
 * n's accumulator is post-processed while layer n+1 accumulates into the other half, and the two
 * weight sets alternate between two tile groups). The DMA, MAC and vector engines then overlap.
 * Then a depthwise sequence the same two ways (DWCONV and POSTPROC on the vector unit: layer
 * n+1's input DMA and layer n-1's output DMA overlap layer n's DWCONV).
 * Prints the modelled NPU cycles of both and exits 0 only if the outputs agree and the
 * double-buffered runs are faster. tests/npu/test_overlap.py drives it. */
#include "sdk.h"
#include "npu.h"
#include "string.h"

#define LAYERS 8u
#define M 64u    /* activation rows per layer */
#define K 256u
#define N 128u
#define SLOTS 128u

static npu_desc_t ring[SLOTS] __attribute__((aligned(64)));
static int8_t input[LAYERS][M][K] __attribute__((aligned(64)));
static int8_t weights[2][K][N] __attribute__((aligned(64)));
static int8_t out_serial[LAYERS][M][N] __attribute__((aligned(64)));
static int8_t out_overlap[LAYERS][M][N] __attribute__((aligned(64)));

/* The depthwise sequence: H x H x C inputs (the first bytes of input[i]), 3 x 3 kernel. */
#define DH 16u
#define DC 32u
#define DK 3u
#define DO (DH - DK + 1u)
static int8_t dw_weights[DK * DK * DC] __attribute__((aligned(64)));
static int8_t dw_serial[LAYERS][DO * DO * DC] __attribute__((aligned(64)));
static int8_t dw_overlap[LAYERS][DO * DO * DC] __attribute__((aligned(64)));
#define DW_IN(b) (65536u + (b) * DH * DH * DC)
#define DW_W (65536u + 2u * DH * DH * DC)
#define DW_OUT(b) (DW_W + 512u + (b) * DO * DO * DC)
#define DW_ACC(b) (65536u + (b) * DO * DO * DC * 4u)

/* Scratchpad / accumulator halves: buffer b of each. */
#define ACT(b) ((b) * M * K)
#define OUT(b) (2u * M * K + (b) * M * N)
#define ACC(b) ((b) * M * N * 4u)

static uint64_t cycles_now(void)
{
    npu_counters_t c;
    npu_read_counters(&c);
    return c.cycles;
}

static void layer(unsigned i, unsigned b, int8_t (*out)[M][N], int serial)
{
    npu_dma_in(0, input[i], ACT(b), M, K, K, K);
    if (serial)
        npu_fence();
    npu_mvm(NPU_OP_MVM, 0, (uint16_t)((i % 2) * 8), M, K, N, ACT(b), K, ACC(b), N * 4);
    if (serial)
        npu_fence();
    npu_postproc(NULL, NULL, M, N, ACC(b), N * 4, OUT(b), N, NPU_ACT_RELU)->postproc.multiplier = 1 << 24;
    if (serial)
        npu_fence();
    npu_dma_out(0, out[i], OUT(b), M, N, N, N);
    if (serial)
        npu_fence();
}

static uint64_t run(int8_t (*out)[M][N], int serial)
{
    npu_load_weights(0, weights[0], 0, K, N, N);
    npu_load_weights(0, weights[1], 8, K, N, N);
    if (npu_run() != NPU_ERR_NONE)
        return 0;
    for (unsigned i = 0; i < LAYERS; i++)  /* queued, not submitted: the ring holds them all */
        layer(i, serial ? 0 : i % 2, out, serial);
    uint64_t start = cycles_now();
    if (npu_run() != NPU_ERR_NONE)
        return 0;
    return cycles_now() - start;
}

static void dw_layer(unsigned i, unsigned b, int8_t (*out)[DO * DO * DC], int serial)
{
    npu_dma_in(0, input[i], DW_IN(b), 1, DH * DH * DC, 0, 0);
    if (serial)
        npu_fence();
    npu_dwconv(&(npu_dwconv_t){.in_addr = DW_IN(b), .w_addr = DW_W, .acc_addr = DW_ACC(b), .h = DH, .w = DH,
                               .c = DC, .kh = DK, .kw = DK, .sh = 1, .sw = 1});
    if (serial)
        npu_fence();
    npu_postproc(NULL, NULL, DO * DO, DC, DW_ACC(b), DC * 4, DW_OUT(b), DC, NPU_ACT_RELU)->postproc.multiplier = 1 << 24;
    if (serial)
        npu_fence();
    npu_dma_out(0, out[i], DW_OUT(b), 1, DO * DO * DC, 0, 0);
    if (serial)
        npu_fence();
}

static uint64_t dw_run(int8_t (*out)[DO * DO * DC], int serial)
{
    npu_dma_in(0, dw_weights, DW_W, 1, sizeof dw_weights, 0, 0);
    if (npu_run() != NPU_ERR_NONE)
        return 0;
    for (unsigned i = 0; i < LAYERS; i++)
        dw_layer(i, serial ? 0 : i % 2, out, serial);
    uint64_t start = cycles_now();
    if (npu_run() != NPU_ERR_NONE)
        return 0;
    return cycles_now() - start;
}

int main(void)
{
    if (npu_init(ring, SLOTS, NPU_WAIT_POLL)) {
        printf("FAIL no NPU\n");
        return 2;
    }
    for (unsigned i = 0; i < LAYERS; i++)
        for (unsigned r = 0; r < M; r++)
            for (unsigned k = 0; k < K; k++)
                input[i][r][k] = (int8_t)((i * 31 + r * 7 + k * 3) % 23 - 11);
    for (unsigned w = 0; w < 2; w++)
        for (unsigned k = 0; k < K; k++)
            for (unsigned n = 0; n < N; n++)
                weights[w][k][n] = (int8_t)((w * 5 + k * 13 + n * 11) % 9 - 4);
    for (unsigned i = 0; i < sizeof dw_weights; i++)
        dw_weights[i] = (int8_t)((i * 7) % 11 - 5);
    uint64_t serial = run(out_serial, 1);
    uint64_t overlap = run(out_overlap, 0);
    int same = memcmp(out_serial, out_overlap, sizeof out_serial) == 0;
    printf("npu_overlap: serialized %lu cycles, double-buffered %lu cycles (%lu.%02lux), outputs %s\n",
           (unsigned long)serial, (unsigned long)overlap, (unsigned long)(overlap ? serial / overlap : 0),
           (unsigned long)(overlap ? serial * 100 / overlap % 100 : 0), same ? "identical" : "DIFFER");
    uint64_t dw_ser = dw_run(dw_serial, 1);
    uint64_t dw_ovl = dw_run(dw_overlap, 0);
    int dw_same = memcmp(dw_serial, dw_overlap, sizeof dw_serial) == 0;
    printf("npu_overlap: depthwise serialized %lu cycles, double-buffered %lu cycles (%lu.%02lux), outputs %s\n",
           (unsigned long)dw_ser, (unsigned long)dw_ovl, (unsigned long)(dw_ovl ? dw_ser / dw_ovl : 0),
           (unsigned long)(dw_ovl ? dw_ser * 100 / dw_ovl % 100 : 0), dw_same ? "identical" : "DIFFER");
    int ok = serial && overlap && same && overlap < serial;
    return ok && dw_ser && dw_ovl && dw_same && dw_ovl < dw_ser ? 0 : 1;
}
