/* npu_cnn: Demo 3, a small CNN on the 8x8 digits entirely on the NPU (docs/demos.md).
 *
 * conv 3x3 x 16 (ReLU) -> 2x2 max-pool -> dense 10, per batch of CNN_BATCH images:
 *   3 x DMA_IN   im2col: the batch is one long row of 64-byte images; for kernel row ky, patch row p
 *                gets the 3 bytes at image byte p + 8 ky (overlapping source rows, stride 1), into
 *                9-byte patch rows at column 3 ky. Every position of the 8 x 8 grid gets a patch;
 *                those in rows/columns 6-7 straddle the image edge and are ignored below.
 *   MVM          conv as a GEMM: (64 B) x 9 @ 9 x 16
 *   POSTPROC     bias, per-channel requantization, ReLU -> an HWC map of 8 B rows x 8 x 16
 *   POOL         2x2/2 max over the whole batch as one tall map (windows never cross images)
 *   DMA_IN F_ACC the dense bias broadcast into the accumulator (stride-0 rows)
 *   MVM F_ACC    dense 256 x 10 over the 4 x 4 x 16 pooled map (zero weights where it is garbage)
 *   ARGMAX F_ACC the class of each image, to DRAM
 * Predictions are left in cnn_pred for tests; exits 0 when the pass ran without NPU error. */
#include "sdk.h"
#include "npu.h"
#include "npu_cnn_model.h"

#define RING_SLOTS 64u

static npu_desc_t ring[RING_SLOTS] __attribute__((aligned(64)));
static int32_t argmax_out[N_TEST];
uint8_t cnn_pred[N_TEST];

struct cnn_result {
    unsigned correct, status;
    uint64_t macs, dma_in, dma_out, weight_bytes, commands, busy_cycles, energy_pj;
} cnn_result;

static void queue_batch(uint32_t start, uint32_t m)
{
    const int8_t *images = test_x[start];
    for (uint32_t ky = 0; ky < 3; ky++)
        npu_dma_in(0, images + 8 * ky, SPAD_COLS + 3 * ky, m * 64, 3, 1, 9);
    npu_mvm(NPU_OP_MVM, 0, CNN_CONV_TILE, m * 64, 9, CNN_CHANNELS, SPAD_COLS, 9, 0, 4 * CNN_CHANNELS);
    npu_postproc(cnn_bc, &cnn_qc[0][0], m * 64, CNN_CHANNELS, 0, 4 * CNN_CHANNELS, SPAD_CONV, CNN_CHANNELS,
                 NPU_ACT_RELU);
    npu_pool(NPU_POOL_MAX, SPAD_CONV, SPAD_POOL, (uint16_t)(8 * m), 8, CNN_CHANNELS, 2, 2, 2, 2);
    npu_dma_in(NPU_F_ACC, cnn_bd, 0, m, 4 * CNN_CLASSES, 0, 4 * CNN_CLASSES);
    npu_mvm(NPU_OP_MVM, NPU_F_ACC, CNN_DENSE_TILE, m, CNN_DENSE_K, CNN_CLASSES, SPAD_POOL, CNN_DENSE_K, 0,
            4 * CNN_CLASSES);
    npu_argmax(NPU_F_ACC, &argmax_out[start], 0, 4 * CNN_CLASSES, m, CNN_CLASSES);
}

int main(void)
{
    if (npu_init(ring, RING_SLOTS, NPU_WAIT_IRQ)) {
        printf("npu_cnn: no NPU\n");
        return 2;
    }
    npu_counters_t before, after, d;
    npu_read_counters(&before);
    npu_load_weights(0, cnn_wc, CNN_CONV_TILE, 9, CNN_CHANNELS, CNN_CHANNELS);
    npu_load_weights(0, cnn_wd, CNN_DENSE_TILE, CNN_DENSE_K, CNN_CLASSES, CNN_CLASSES);
    for (uint32_t start = 0; start < N_TEST; start += CNN_BATCH)
        queue_batch(start, N_TEST - start < CNN_BATCH ? N_TEST - start : CNN_BATCH);
    int err = npu_run();
    npu_read_counters(&after);
    npu_counters_delta(&d, &after, &before);
    struct cnn_result *r = &cnn_result;
    if (err) {
        npu_error_t e;
        npu_get_error(&e);
        printf("npu_cnn: NPU error %s at descriptor 0x%lx\n", npu_error_name(e.code), (unsigned long)e.desc_addr);
        r->status = 1;
        return 1;
    }
    for (uint32_t i = 0; i < N_TEST; i++) {
        cnn_pred[i] = (uint8_t)argmax_out[i];
        r->correct += cnn_pred[i] == test_y[i];
    }
    r->macs = d.macs;
    r->dma_in = d.dma_in;
    r->dma_out = d.dma_out;
    r->weight_bytes = d.weight_bytes;
    r->commands = d.commands;
    r->busy_cycles = d.busy_cycles;
    r->energy_pj = d.energy_pj;
    printf("[3] CNN conv3x3x%u-maxpool2-dense%u on the NPU (im2col DMA + GEMM + pooling), %u held-out digits\n",
           CNN_CHANNELS, CNN_CLASSES, N_TEST);
    printf("    accuracy %u/%u = %u.%02u%%; per inference %lu cycles, %lu MACs, %lu pJ; %lu commands\n", r->correct,
           N_TEST, 100 * r->correct / N_TEST, (10000 * r->correct / N_TEST) % 100,
           (unsigned long)(d.busy_cycles / N_TEST), (unsigned long)(d.macs / N_TEST),
           (unsigned long)(d.energy_pj / N_TEST), (unsigned long)d.commands);
    return 0;
}
