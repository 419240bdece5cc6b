/* npu_demo: the flagship NPU demo (docs/demos.md).
 *
 * Demo 1, inference: an int8 MLP trained at build time on the 8x8 digits classifies the whole
 * held-out split on the NPU, then the same network runs on the CPU alone; prints accuracy, NPU
 * cycles and energy per inference, speed-up and energy ratio.
 * Demo 2, on-device learning: both layers are fine-tuned in the tiles on digits shifted one pixel
 * right, which the network never saw: forward MVMs, error at the logits on the CPU, back-propagation
 * through the classifier with MVM_T, ReLU derivative with ELTWISE, WEIGHT_UPDATE of both layers;
 * prints held-out accuracy on shifted digits before and after.
 *
 * Results are also left in globals for tests (npu_pred, cpu_pred, shifted_before, shifted_after,
 * demo_result). Set npu_wait_irq = 0 before main runs to wait by polling instead of wfi. */
#include "sdk.h"
#include "npu.h"
#include "cpu_ref.h"
#include "npu_demo_model.h"

/* CPU energy per instruction, in hundredths of a pJ: 5.06 pJ = a 32-bit RISC microcontroller core
 * at 2.56 uW/MHz plus its SRAM at 2.5 uW/MHz (Pons et al., "A 0.5 V 2.5 uW/MHz microcontroller ...",
 * 55 nm DDC CMOS at 0.5 V), one instruction per cycle assumed. A near-threshold figure: low, so
 * the comparison favours the CPU (docs/demos.md, "An honest comparison"). */
#define CPU_CPJ_PER_INSN 506u
#define CPU_NODE "55 nm"
/* The emulator's nominal CPU speed: 100 MIPS, 10 ns per instruction (deterministic mode). */
#define CPU_NS_PER_INSN 10u

#define RING_SLOTS 64u

static npu_desc_t ring[RING_SLOTS] __attribute__((aligned(64)));
volatile uint32_t npu_wait_irq = 1;

uint8_t npu_pred[N_TEST], cpu_pred[N_TEST], shifted_before[N_TEST], shifted_after[N_TEST], original_after[N_TEST];
static int32_t argmax_out[N_TEST];
static uint64_t e2e_speedup_x100, energy_ratio_x100;  /* for the closing summary */
static int32_t learn_logits[LEARN_BATCH][MODEL_CLASSES];
static int8_t learn_error[LEARN_BATCH][MODEL_CLASSES];

/* Read by tests: accuracies in images correct, counters of the inference pass, CPU instructions. */
struct demo_result {
    unsigned npu_correct, cpu_correct, cpu_npu_agree, shifted_correct_before, shifted_correct_after;
    unsigned status;  /* 0 = finished without NPU error */
    uint64_t macs, dma_in, dma_out, weight_bytes, commands, busy_cycles, energy_pj;
    uint64_t cpu_insns, driver_insns;
    unsigned original_correct_after;  /* unshifted held-out digits after learning (forgetting check) */
} demo_result;

static uint64_t instret(void)
{
#if __riscv_xlen == 32
    uint32_t hi, lo;
    do {
        hi = (uint32_t)csr_read(minstreth);
        lo = (uint32_t)csr_read(minstret);
    } while ((uint32_t)csr_read(minstreth) != hi);
    return ((uint64_t)hi << 32) | lo;
#else
    return csr_read(minstret);
#endif
}

static void die(const char *what, int err)
{
    npu_error_t e;
    npu_get_error(&e);
    printf("npu_demo: %s failed: NPU error %s (%d), descriptor at 0x%lx (ring slot %lu)\n", what,
           npu_error_name(e.code), err, (unsigned long)e.desc_addr,
           (unsigned long)((e.desc_addr - (uintptr_t)ring) / sizeof(npu_desc_t)));
    demo_result.status = 1;
    exit(1);
}

/* Classifies n images on the NPU into pred[] (all batches queued, one wait). */
static void npu_classify(const int8_t (*x)[MODEL_INPUTS], uint32_t n, uint8_t *pred)
{
    for (uint32_t start = 0; start < n; start += MODEL_BATCH) {
        uint32_t m = n - start < MODEL_BATCH ? n - start : MODEL_BATCH;
        npu_dma_in(0, x[start], SPAD_INPUT, 1, m * MODEL_INPUTS, 0, 0);
        npu_dense_forward(model_layers, MODEL_LAYERS, m);
        npu_argmax(NPU_F_ACC, &argmax_out[start], 0, 4 * MODEL_CLASSES, m, MODEL_CLASSES);
    }
    int err = npu_run();
    if (err)
        die("inference", err);
    for (uint32_t i = 0; i < n; i++)
        pred[i] = (uint8_t)argmax_out[i];
}

static unsigned correct(const uint8_t *pred, uint32_t n)
{
    unsigned c = 0;
    for (uint32_t i = 0; i < n; i++)
        c += pred[i] == test_y[i];
    return c;
}

/* "12.34" from a value scaled by 100 (printf has no floating point). */
static void print_fixed2(uint64_t x100)
{
    printf("%lu.%02lu", (unsigned long)(x100 / 100), (unsigned long)(x100 % 100));
}

static void demo_inference(void)
{
    npu_counters_t before, after, d;
    npu_read_counters(&before);
    uint64_t t0 = instret();
    npu_dense_load(model_layers, MODEL_LAYERS);
    npu_classify(test_x, N_TEST, npu_pred);
    uint64_t driver = instret() - t0;
    npu_read_counters(&after);
    npu_counters_delta(&d, &after, &before);

    static int8_t scratch[2][CPU_REF_MAX_WIDTH];
    int32_t logits[MODEL_CLASSES];
    t0 = instret();
    for (uint32_t i = 0; i < N_TEST; i++) {
        cpu_dense_forward(model_layers, MODEL_LAYERS, test_x[i], scratch, logits);
        cpu_pred[i] = (uint8_t)cpu_argmax(logits, MODEL_CLASSES);
    }
    uint64_t cpu = instret() - t0;

    struct demo_result *r = &demo_result;
    r->npu_correct = correct(npu_pred, N_TEST);
    r->cpu_correct = correct(cpu_pred, N_TEST);
    for (uint32_t i = 0; i < N_TEST; i++)
        r->cpu_npu_agree += npu_pred[i] == cpu_pred[i];
    r->macs = d.macs;
    r->dma_in = d.dma_in;
    r->dma_out = d.dma_out;
    r->weight_bytes = d.weight_bytes;
    r->commands = d.commands;
    r->busy_cycles = d.busy_cycles;
    r->energy_pj = d.energy_pj;
    r->cpu_insns = cpu;
    r->driver_insns = driver;

    uint32_t khz = npu_get_info()->clock_khz;
    uint64_t npu_ns = d.busy_cycles * 1000000u / khz;  /* modelled NPU busy time */
    uint64_t cpu_ns = cpu * CPU_NS_PER_INSN;
    uint64_t e2e_ns = npu_ns + driver * CPU_NS_PER_INSN;  /* NPU time + driver CPU time, not overlapped */
    uint64_t cpu_pj = cpu * CPU_CPJ_PER_INSN / 100;
    uint64_t driver_pj = driver * CPU_CPJ_PER_INSN / 100;  /* the driver's CPU work: charged to the NPU side */
    uint64_t npu_side_pj = d.energy_pj + driver_pj;
    printf("[1] inference: %u held-out digits, MLP 64-%u-%u int8 (per-channel), %u tiles\n", N_TEST,
           MODEL_HIDDEN, MODEL_CLASSES, MODEL_CLASSIFIER_TILE + 1);
    printf("    accuracy NPU %u/%u = ", r->npu_correct, N_TEST);
    print_fixed2(10000ull * r->npu_correct / N_TEST);
    printf("%%, CPU %u/%u, NPU == CPU on %u/%u images\n", r->cpu_correct, N_TEST, r->cpu_npu_agree, N_TEST);
    printf("    NPU per inference: %lu busy cycles, %lu MACs, %lu pJ NPU + %lu driver instructions (%lu pJ)"
           " = %lu pJ; %lu commands in total\n",
           (unsigned long)(d.busy_cycles / N_TEST), (unsigned long)(d.macs / N_TEST),
           (unsigned long)(d.energy_pj / N_TEST), (unsigned long)(driver / N_TEST),
           (unsigned long)(driver_pj / N_TEST), (unsigned long)(npu_side_pj / N_TEST), (unsigned long)d.commands);
    printf("    CPU per inference: %lu instructions of an optimized kernel (%lu.%02lu per MAC, %lu ns at 100 MIPS),"
           " %lu pJ at %u.%02u pJ/instruction\n",
           (unsigned long)(cpu / N_TEST), (unsigned long)(cpu / (d.macs ? d.macs : 1)),
           (unsigned long)(cpu * 100 / (d.macs ? d.macs : 1) % 100), (unsigned long)(cpu_ns / N_TEST),
           (unsigned long)(cpu_pj / N_TEST), CPU_CPJ_PER_INSN / 100, CPU_CPJ_PER_INSN % 100);
    e2e_speedup_x100 = 100 * cpu_ns / (e2e_ns ? e2e_ns : 1);
    energy_ratio_x100 = 100 * cpu_pj / (npu_side_pj ? npu_side_pj : 1);
    printf("    speed-up NPU vs CPU: ");
    print_fixed2(100 * cpu_ns / (npu_ns ? npu_ns : 1));
    printf("x (NPU busy time), ");
    print_fixed2(e2e_speedup_x100);
    printf("x end to end (driver instructions included); energy ratio ");
    print_fixed2(energy_ratio_x100);
    printf("x (driver energy included)\n");
}

/* Margin perceptron error of one batch (toolchain/npu_model/mlp.py: error_signal): +ERROR_STEP on
 * the true class and -ERROR_STEP on the strongest wrong class when the margin is too small. */
static void error_signal(uint32_t m, const uint8_t *labels)
{
    for (uint32_t i = 0; i < m; i++) {
        const int32_t *z = learn_logits[i];
        uint32_t y = labels[i], rival = y == 0 ? 1 : 0;
        for (uint32_t j = 0; j < MODEL_CLASSES; j++)
            if (j != y && z[j] > z[rival])
                rival = j;
        for (uint32_t j = 0; j < MODEL_CLASSES; j++)
            learn_error[i][j] = 0;
        if ((int64_t)z[y] - z[rival] < MODEL_MARGIN) {
            learn_error[i][y] = ERROR_STEP;
            learn_error[i][rival] = -ERROR_STEP;
        }
    }
}

static void demo_learning(void)
{
    const npu_dense_layer_t *hid = &model_layers[0], *cls = &model_layers[1];
    npu_classify(shifted_test_x, N_TEST, shifted_before);
    for (uint32_t epoch = 0; epoch < LEARN_EPOCHS; epoch++)
        for (uint32_t start = 0; start < N_LEARN; start += LEARN_BATCH) {
            uint32_t m = N_LEARN - start < LEARN_BATCH ? N_LEARN - start : LEARN_BATCH;
            /* forward with the current weights; logits to DRAM for the error */
            npu_dma_in(0, learn_x[start], SPAD_INPUT, 1, m * MODEL_INPUTS, 0, 0);
            npu_dense_forward(model_layers, MODEL_LAYERS, m);
            npu_dma_out(NPU_F_ACC, learn_logits, 0, 1, m * 4 * MODEL_CLASSES, 0, 0);
            int err = npu_run();
            if (err)
                die("learning forward", err);
            error_signal(m, &learn_y[start]);
            /* Backward pass, queued (it runs before the next batch's forward pass); the inputs x and
             * the hidden rows h (with their constant column) are still in the scratchpad. */
            npu_dma_in(0, learn_error, SPAD_ERROR, 1, m * MODEL_CLASSES, 0, 0);
            /* error at the hidden layer: d @ W2^T through the classifier tile, to int8 */
            npu_mvm(NPU_OP_MVM_T, 0, cls->tile, m, cls->k, cls->n, SPAD_ERROR, MODEL_CLASSES, 0, 4 * cls->k);
            npu_postproc(0, 0, m, MODEL_HIDDEN, 0, 4 * cls->k, SPAD_DH, MODEL_HIDDEN, NPU_ACT_NONE)
                ->postproc.shift = 1 - DELTA_SHIFT;  /* x 2^30/2^31 then >> (DELTA_SHIFT - 1) */
            /* ReLU derivative: clamp(max(h, h), 0, 1), times the error */
            npu_desc_t *mask = npu_eltwise(NPU_ELT_MAX, hid->out_addr, hid->out_stride, hid->out_addr,
                                           hid->out_stride, SPAD_MASK, MODEL_HIDDEN, m, MODEL_HIDDEN, NPU_ACT_CLAMP);
            mask->eltwise.clamp_min = 0;
            mask->eltwise.clamp_max = 1;
            npu_eltwise(NPU_ELT_MUL, SPAD_DH, MODEL_HIDDEN, SPAD_MASK, MODEL_HIDDEN, SPAD_DELTA, MODEL_HIDDEN, m,
                        MODEL_HIDDEN, NPU_ACT_NONE);
            /* W2 += (h^T d) >> LEARN_SHIFT, W1 += (x^T delta) >> LEARN_SHIFT_HIDDEN, in the tiles */
            npu_weight_update(0, cls->tile, m, cls->k, cls->n, cls->in_addr, cls->in_stride, SPAD_ERROR,
                              MODEL_CLASSES, 0, (uint8_t)(LEARN_SHIFT + learn_decay[epoch]));
            npu_weight_update(0, hid->tile, m, hid->k, hid->n, hid->in_addr, hid->in_stride, SPAD_DELTA,
                              MODEL_HIDDEN, 0, (uint8_t)(LEARN_SHIFT_HIDDEN + learn_decay[epoch]));
        }
    npu_classify(shifted_test_x, N_TEST, shifted_after);
    npu_classify(test_x, N_TEST, original_after);

    struct demo_result *r = &demo_result;
    r->shifted_correct_before = correct(shifted_before, N_TEST);
    r->shifted_correct_after = correct(shifted_after, N_TEST);
    r->original_correct_after = correct(original_after, N_TEST);
    printf("[2] on-device learning: both layers fine-tuned in the tiles on %u digits shifted 1 pixel right\n",
           N_LEARN - N_REHEARSAL);
    printf("    + a rehearsal buffer of %u original digits, %u epochs x %u batches: forward MVMs, error on the\n",
           N_REHEARSAL, LEARN_EPOCHS, (N_LEARN + LEARN_BATCH - 1) / LEARN_BATCH);
    printf("    CPU, MVM_T back-propagation, WEIGHT_UPDATE (learning rate halved in the last epochs)\n");
    printf("    held-out shifted digits: accuracy ");
    print_fixed2(10000ull * r->shifted_correct_before / N_TEST);
    printf("%% before -> ");
    print_fixed2(10000ull * r->shifted_correct_after / N_TEST);
    printf("%% after (%u -> %u of %u)\n", r->shifted_correct_before, r->shifted_correct_after, N_TEST);
    printf("    held-out original digits: accuracy ");
    print_fixed2(10000ull * r->npu_correct / N_TEST);
    printf("%% before -> ");
    print_fixed2(10000ull * r->original_correct_after / N_TEST);
    printf("%% after (not forgotten)\n");
}

int main(void)
{
    if (npu_init(ring, RING_SLOTS, npu_wait_irq ? NPU_WAIT_IRQ : NPU_WAIT_POLL)) {
        printf("npu_demo: no NPU (ID/VERSION mismatch)\n");
        return 2;
    }
    const npu_info_t *info = npu_get_info();
    printf("npu_demo: NPU %u tiles of %ux%u, %u kHz, waiting by %s (rv%d)\n", (unsigned)info->tiles,
           (unsigned)info->tile_rows, (unsigned)info->tile_cols, (unsigned)info->clock_khz, npu_wait_irq ? "interrupt" : "polling", XLEN);
    demo_inference();
    demo_learning();
    const struct demo_result *r = &demo_result;
    printf("summary: NPU accuracy ");
    print_fixed2(10000ull * r->npu_correct / N_TEST);
    printf("%% (CPU agrees on %u/%u), ", r->cpu_npu_agree, N_TEST);
    print_fixed2(e2e_speedup_x100);
    printf("x faster and ");
    print_fixed2(energy_ratio_x100);
    int gained = (int)r->shifted_correct_after - (int)r->shifted_correct_before;
    printf("x less energy than the CPU; on-device learning %c", gained < 0 ? '-' : '+');
    print_fixed2(10000ull * (unsigned)(gained < 0 ? -gained : gained) / N_TEST);
    printf(" points on shifted digits\n");
    printf("figures: NPU = D-IMC macro cost model at %u nm (the preset `npuemu run --stats` names), CPU = %u.%02u"
           " pJ/instruction at " CPU_NODE " (Pons et al.), 100 MIPS\n", (unsigned)mmio_read32(NPU_MMIO_BASE + NPU_REG_NODE_NM),
           CPU_CPJ_PER_INSN / 100, CPU_CPJ_PER_INSN % 100);
    printf("npu_demo: done\n");
    return 0;
}
