/* npu_selftest: every NPU command through the ring with the completion interrupt (wfi + PLIC
 * handler), each result checked against a plain C computation, every error class triggered and its
 * latched code checked. One line per check; exits 0 only if all pass. See docs/npu.md. */
#include "sdk.h"
#include "npu_regs.h"
#include "string.h"

#define SLOTS 64u

static npu_desc_t ring[SLOTS] __attribute__((aligned(64)));
static volatile unsigned done_irqs, error_irqs;
static uint32_t tail;
static int failures, checks;

static uint32_t rd(uint32_t off) { return mmio_read32(NPU_MMIO_BASE + off); }
static void wr(uint32_t off, uint32_t v) { mmio_write32(NPU_MMIO_BASE + off, v); }
static uint64_t rd64(uint32_t lo)
{
    uint32_t hi, low;
    do {
        hi = rd(lo + 4);
        low = rd(lo);
    } while (rd(lo + 4) != hi);
    return ((uint64_t)hi << 32) | low;
}

static void check(const char *name, int ok)
{
    checks++;
    if (!ok)
        failures++;
    printf("%s %s\n", ok ? "PASS" : "FAIL", name);
}

static void npu_irq(unsigned source)
{
    (void)source;
    uint32_t status = rd(NPU_REG_INT_STATUS);
    if (status & NPU_INT_DONE)
        done_irqs++;
    if (status & NPU_INT_ERROR)
        error_irqs++;
    wr(NPU_REG_INT_STATUS, status);  /* write 1 to clear */
}

/* A zeroed descriptor in the next ring slot. */
static npu_desc_t *desc(uint8_t opcode)
{
    npu_desc_t *d = &ring[tail % SLOTS];
    memset(d, 0, sizeof *d);
    d->bytes[0] = opcode;
    tail++;
    return d;
}

/* Ring the doorbell for everything queued, flagging the last descriptor to interrupt, and sleep
 * until its completion (or an error) interrupt. */
static void run(void)
{
    unsigned done = done_irqs, errors = error_irqs;
    ring[(tail - 1) % SLOTS].bytes[1] |= NPU_F_IRQ;
    __sync_synchronize();
    wr(NPU_REG_RING_TAIL, tail);
    wr(NPU_REG_DOORBELL, 1);
    while (done_irqs == done && error_irqs == errors)
        irq_wait();
}

static void npu_reset(void)
{
    wr(NPU_REG_CTRL, NPU_CTRL_ENABLE | NPU_CTRL_RESET);
    tail = 0;
}

/* ---- plain C reference arithmetic (docs/npu.md, "Arithmetic") ---- */
static int32_t sat(int64_t x, int32_t lo, int32_t hi) { return x < lo ? lo : x > hi ? hi : (int32_t)x; }

static int32_t srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static int32_t rdbpot(int32_t x, int e)
{
    int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    int32_t threshold = (mask >> 1) + (x < 0);
    return (x >> e) + ((x & mask) > threshold);
}

static int32_t requant(int64_t x, int32_t mult, int shift)
{
    int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    return rdbpot(srdhm(sat(x * ((int64_t)1 << left), INT32_MIN, INT32_MAX), mult), right);
}

static uint64_t splitmix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t lcg = 12345u;
static int8_t rnd8(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return (int8_t)(lcg >> 24);
}

/* ---- data in DRAM ---- */
#define M 3
#define K1 300   /* > 256 rows: the weights span two tiles along K */
#define N1 20
static int8_t w1[K1][N1], a1[M][K1];
static int32_t out1[M][N1], ref1[M][N1];

#define K2 24
#define N2 270   /* > 256 columns: two tiles along N */
static uint8_t w2t_packed[N2][K2 / 2];  /* W^T, int4 */
static int8_t w2[K2][N2], a2[2][K2], at2[2][N2];
static int32_t out2[2][N2 > K2 ? N2 : K2];

static uint8_t src[128], dst[160];
static int8_t small[64];
static int32_t bias[8], quant[8][2], acc8[4][8];
static int8_t out8[4][8];
static int32_t argmax_out[4];

static void test_dma(void)
{
    for (unsigned i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 7 + 1);
    memset(dst, 0, sizeof dst);
    npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)src; in->sram_addr = 100; in->rows = 5; in->row_bytes = 7;
    in->dram_stride = 11; in->sram_stride = 8;
    npu_dma_out_t *out = &desc(NPU_OP_DMA_OUT)->dma_out;
    out->dram_addr = (uintptr_t)dst; out->sram_addr = 100; out->rows = 5; out->row_bytes = 7;
    out->dram_stride = 9; out->sram_stride = 8;
    run();
    int ok = 1;
    for (int r = 0; r < 5; r++)
        for (int b = 0; b < 9; b++)
            ok &= dst[r * 9 + b] == (b < 7 ? src[r * 11 + b] : 0);
    check("dma 2-D strided in/out", ok);
}

/* int8 weights w1 (K1 x N1) into tiles 1..2, activations a1 into the scratchpad, MVM twice. */
static void test_mvm(void)
{
    for (int k = 0; k < K1; k++)
        for (int n = 0; n < N1; n++)
            w1[k][n] = (k + n) % 17 == 0 ? -128 : rnd8();
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K1; k++)
            a1[m][k] = k == 5 ? -128 : rnd8();
    npu_load_weights_t *lw = &desc(NPU_OP_LOAD_WEIGHTS)->load_weights;
    lw->dram_addr = (uintptr_t)w1; lw->tile = 1; lw->k = K1; lw->n = N1; lw->dram_stride = N1;
    npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)a1; in->sram_addr = 0; in->rows = M; in->row_bytes = K1;
    in->dram_stride = K1; in->sram_stride = K1;
    for (int pass = 0; pass < 2; pass++) {  /* overwrite, then accumulate: 2 x the product */
        npu_mvm_t *mv = &desc(NPU_OP_MVM)->mvm;
        mv->flags = pass ? NPU_F_ACC : 0;
        mv->tile = 1; mv->m = M; mv->k = K1; mv->n = N1;
        mv->act_addr = 0; mv->act_stride = K1; mv->acc_addr = 64; mv->acc_stride = 4 * N1;
    }
    npu_dma_out_t *out = &desc(NPU_OP_DMA_OUT)->dma_out;
    out->flags = NPU_F_ACC; out->dram_addr = (uintptr_t)out1; out->sram_addr = 64; out->rows = M;
    out->row_bytes = 4 * N1; out->dram_stride = 4 * N1; out->sram_stride = 4 * N1;
    uint64_t macs = rd64(NPU_REG_MACS_LO);
    run();
    int ok = 1;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N1; n++) {
            int32_t s = 0;
            for (int k = 0; k < K1; k++)
                s += a1[m][k] * w1[k][n];
            ref1[m][n] = 2 * s;
            ok &= out1[m][n] == ref1[m][n];
        }
    check("load int8 weights over 2 tiles + MVM overwrite/accumulate", ok);
    check("MAC counter", rd64(NPU_REG_MACS_LO) - macs == 2ull * M * K1 * N1);
}

static void test_int4_transposed(void)
{
    for (int k = 0; k < K2; k++)
        for (int n = 0; n < N2; n++)
            w2[k][n] = (int8_t)((k * 3 + n * 5) % 16 - 8);  /* -8..7 */
    for (int n = 0; n < N2; n++)
        for (int k = 0; k < K2; k += 2)
            w2t_packed[n][k / 2] = (uint8_t)((w2[k][n] & 0xF) | (w2[k + 1][n] & 0xF) << 4);
    for (int m = 0; m < 2; m++) {
        for (int k = 0; k < K2; k++)
            a2[m][k] = rnd8();
        for (int n = 0; n < N2; n++)
            at2[m][n] = rnd8();
    }
    npu_load_weights_t *lw = &desc(NPU_OP_LOAD_WEIGHTS)->load_weights;
    lw->flags = NPU_F_INT4 | NPU_F_TRANSPOSE;
    lw->dram_addr = (uintptr_t)w2t_packed; lw->tile = 4; lw->k = K2; lw->n = N2; lw->dram_stride = K2 / 2;
    npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)a2; in->sram_addr = 0; in->rows = 2; in->row_bytes = K2;
    in->dram_stride = K2; in->sram_stride = K2;
    npu_mvm_t *mv = &desc(NPU_OP_MVM)->mvm;
    mv->tile = 4; mv->m = 2; mv->k = K2; mv->n = N2;
    mv->act_addr = 0; mv->act_stride = K2; mv->acc_addr = 0; mv->acc_stride = 4 * N2;
    npu_dma_out_t *out = &desc(NPU_OP_DMA_OUT)->dma_out;
    out->flags = NPU_F_ACC; out->dram_addr = (uintptr_t)out2; out->rows = 1; out->row_bytes = 8 * N2;
    run();
    int ok = 1;
    for (int m = 0; m < 2; m++)
        for (int n = 0; n < N2; n++) {
            int32_t s = 0;
            for (int k = 0; k < K2; k++)
                s += a2[m][k] * w2[k][n];
            ok &= ((int32_t *)out2)[m * N2 + n] == s;
        }
    check("load int4 transposed weights over 2 tiles + MVM", ok);

    /* MVM_T: act (2 x N2) through the same stored weights -> 2 x K2 */
    in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)at2; in->sram_addr = 1024; in->rows = 2; in->row_bytes = N2;
    in->dram_stride = N2; in->sram_stride = N2;
    mv = &desc(NPU_OP_MVM_T)->mvm;  /* same layout as MVM */
    mv->tile = 4; mv->m = 2; mv->k = K2; mv->n = N2;
    mv->act_addr = 1024; mv->act_stride = N2; mv->acc_addr = 0; mv->acc_stride = 4 * K2;
    out = &desc(NPU_OP_DMA_OUT)->dma_out;
    out->flags = NPU_F_ACC; out->dram_addr = (uintptr_t)out2; out->rows = 1; out->row_bytes = 8 * K2;
    run();
    ok = 1;
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < K2; k++) {
            int32_t s = 0;
            for (int n = 0; n < N2; n++)
                s += at2[m][n] * w2[k][n];
            ok &= ((int32_t *)out2)[m * K2 + k] == s;
        }
    check("MVM_T through the stored weights", ok);
}

/* WEIGHT_UPDATE on an 8x8 int8 matrix, read back with an identity MVM (acc = I @ W = W). */
static void test_weight_update(int stochastic)
{
    static int8_t w[8][8], x[2][8], d[2][8], eye[8][8];
    static int32_t got[8][8];
    const unsigned shift = 3, seed = 77;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            w[i][j] = (i + j) % 5 == 0 ? 127 : rnd8();
            eye[i][j] = i == j;
        }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 8; j++) {
            x[i][j] = rnd8();
            d[i][j] = j == 0 ? 127 : rnd8();
        }
    npu_load_weights_t *lw = &desc(NPU_OP_LOAD_WEIGHTS)->load_weights;
    lw->dram_addr = (uintptr_t)w; lw->tile = 0; lw->k = 8; lw->n = 8; lw->dram_stride = 8;
    npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)x; in->sram_addr = 0; in->rows = 1; in->row_bytes = 16;
    in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)d; in->sram_addr = 16; in->rows = 1; in->row_bytes = 16;
    in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)eye; in->sram_addr = 64; in->rows = 1; in->row_bytes = 64;
    npu_weight_update_t *wu = &desc(NPU_OP_WEIGHT_UPDATE)->weight_update;
    wu->flags = stochastic ? NPU_F_STOCHASTIC : 0;
    wu->tile = 0; wu->m = 2; wu->k = 8; wu->n = 8; wu->x_addr = 0; wu->x_stride = 8;
    wu->d_addr = 16; wu->d_stride = 8; wu->seed = seed; wu->shift = shift;
    npu_mvm_t *mv = &desc(NPU_OP_MVM)->mvm;
    mv->tile = 0; mv->m = 8; mv->k = 8; mv->n = 8; mv->act_addr = 64; mv->act_stride = 8;
    mv->acc_addr = 0; mv->acc_stride = 32;
    npu_dma_out_t *out = &desc(NPU_OP_DMA_OUT)->dma_out;
    out->flags = NPU_F_ACC; out->dram_addr = (uintptr_t)got; out->rows = 1; out->row_bytes = sizeof got;
    run();
    int ok = 1;
    for (int k = 0; k < 8; k++)
        for (int n = 0; n < 8; n++) {
            int64_t g = 0;
            for (int i = 0; i < 2; i++)
                g += x[i][k] * d[i][n];
            int64_t r = stochastic ? (int64_t)(splitmix64(((uint64_t)seed << 32) + (uint64_t)(k * 8 + n)) >> (64 - shift))
                                   : (1 << (shift - 1));
            ok &= got[k][n] == sat(w[k][n] + ((g + r) >> shift), -128, 127);
        }
    check(stochastic ? "WEIGHT_UPDATE stochastic rounding" : "WEIGHT_UPDATE nearest rounding", ok);
}

static void test_postproc(void)
{
    const int zp = -5;
    for (int j = 0; j < 8; j++) {
        bias[j] = j * 1000 - 3000;
        quant[j][0] = 0x40000000 + j * 12345678;
        quant[j][1] = j - 4;
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            acc8[i][j] = (i * 8 + j) * 977 - 12000 + (j == 7 ? INT32_MAX - 1000 : 0);
    npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->flags = NPU_F_ACC; in->dram_addr = (uintptr_t)acc8; in->sram_addr = 256; in->rows = 1;
    in->row_bytes = sizeof acc8;
    npu_postproc_t *pp = &desc(NPU_OP_POSTPROC)->postproc;
    pp->bias_addr = (uintptr_t)bias; pp->quant_addr = (uintptr_t)quant; pp->m = 4; pp->n = 8;
    pp->acc_addr = 256; pp->acc_stride = 32; pp->out_addr = 512; pp->out_stride = 8;
    pp->act = NPU_ACT_RELU; pp->zero_point = zp;
    npu_dma_out_t *out = &desc(NPU_OP_DMA_OUT)->dma_out;
    out->dram_addr = (uintptr_t)out8; out->sram_addr = 512; out->rows = 1; out->row_bytes = sizeof out8;
    run();
    int ok = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) {
            int32_t x = (int32_t)((uint32_t)acc8[i][j] + (uint32_t)bias[j]);  /* wraps */
            int32_t y = requant(x, quant[j][0], quant[j][1]);
            ok &= out8[i][j] == sat((int64_t)y + zp, zp, 127);
        }
    check("POSTPROC bias + per-channel requant + ReLU", ok);
}

static void test_eltwise_pool_argmax(void)
{
    static const uint8_t ops[3] = {NPU_ELT_ADD, NPU_ELT_MUL, NPU_ELT_MAX};
    static const char *names[3] = {"ELTWISE add", "ELTWISE mul", "ELTWISE max"};
    for (int i = 0; i < 64; i++)
        small[i] = i == 3 ? -128 : rnd8();
    for (int o = 0; o < 3; o++) {
        npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
        in->dram_addr = (uintptr_t)small; in->sram_addr = 0; in->rows = 1; in->row_bytes = 64;
        npu_eltwise_t *e = &desc(NPU_OP_ELTWISE)->eltwise;
        e->a_addr = 0; e->a_stride = 8; e->b_addr = 32; e->b_stride = 8; e->out_addr = 128; e->out_stride = 8;
        e->m = 4; e->n = 8; e->multiplier = 0x50000000; e->shift = -2; e->op = ops[o];
        e->act = NPU_ACT_CLAMP; e->clamp_min = -100; e->clamp_max = 100; e->zero_point = 3;
        e->a_offset = 7; e->b_offset = -3;
        npu_dma_out_t *out = &desc(NPU_OP_DMA_OUT)->dma_out;
        out->dram_addr = (uintptr_t)out8; out->sram_addr = 128; out->rows = 1; out->row_bytes = 32;
        run();
        int ok = 1;
        for (int i = 0; i < 32; i++) {
            int32_t a = small[i] + 7, b = small[32 + i] - 3;
            int32_t t = o == 0 ? a + b : o == 1 ? a * b : (a > b ? a : b);
            ok &= ((int8_t *)out8)[i] == sat((int64_t)requant(t, 0x50000000, -2) + 3, -100, 100);
        }
        check(names[o], ok);
    }
    /* POOL 2x2 stride 2 on a 4x4x4 HWC map (small[0..63]) */
    for (int op = 0; op < 2; op++) {
        npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
        in->dram_addr = (uintptr_t)small; in->sram_addr = 0; in->rows = 1; in->row_bytes = 64;
        npu_pool_t *p = &desc(NPU_OP_POOL)->pool;
        p->in_addr = 0; p->out_addr = 256; p->h = 4; p->w = 4; p->c = 4; p->kh = 2; p->kw = 2;
        p->sh = 2; p->sw = 2; p->op = op ? NPU_POOL_AVG : NPU_POOL_MAX;
        npu_dma_out_t *out = &desc(NPU_OP_DMA_OUT)->dma_out;
        out->dram_addr = (uintptr_t)out8; out->sram_addr = 256; out->rows = 1; out->row_bytes = 16;
        run();
        int ok = 1;
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++)
                for (int c = 0; c < 4; c++) {
                    int best = -128, sum = 0;
                    for (int u = 0; u < 2; u++)
                        for (int v = 0; v < 2; v++) {
                            int val = small[((2 * y + u) * 4 + 2 * x + v) * 4 + c];
                            best = val > best ? val : best;
                            sum += val;
                        }
                    int avg = sum >= 0 ? (sum + 2) / 4 : -((-sum + 2) / 4);
                    ok &= ((int8_t *)out8)[(y * 2 + x) * 4 + c] == (op ? avg : best);
                }
        check(op ? "POOL avg 2x2/2" : "POOL max 2x2/2", ok);
    }
    /* ARGMAX of 4 rows of 16 int8 */
    npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)small; in->sram_addr = 0; in->rows = 1; in->row_bytes = 64;
    npu_argmax_t *am = &desc(NPU_OP_ARGMAX)->argmax;
    am->dram_addr = (uintptr_t)argmax_out; am->src_addr = 0; am->src_stride = 16; am->m = 4; am->n = 16;
    run();
    int ok = 1;
    for (int r = 0; r < 4; r++) {
        int best = 0;
        for (int i = 1; i < 16; i++)
            if (small[r * 16 + i] > small[r * 16 + best])
                best = i;
        ok &= argmax_out[r] == best;
    }
    check("ARGMAX", ok);
}

/* Many commands in one doorbell, one FENCE interrupt; the CPU works while the NPU is busy. Twenty long
 * MVM_T commands (M rows of 1x1, ~2 ms modelled each) keep the NPU busy long enough to be seen busy
 * even when virtual time follows host time. */
/* DWCONV: 5 x 6 x 3 input, 3 x 2 kernel, strides 2 x 1, then accumulate a second pass (F_ACC). */
static void test_dwconv(void)
{
    enum { H = 5, W = 6, C = 3, KH = 3, KW = 2, SH = 2, SW = 1, OH = (H - KH) / SH + 1, OW = (W - KW) / SW + 1 };
    static int8_t x[H][W][C], k[KH][KW][C];
    static int32_t got[OH][OW][C];
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            for (int c = 0; c < C; c++)
                x[i][j][c] = (i + j + c) % 7 == 0 ? -128 : rnd8();
    for (int i = 0; i < KH; i++)
        for (int j = 0; j < KW; j++)
            for (int c = 0; c < C; c++)
                k[i][j][c] = rnd8();
    npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)x; in->sram_addr = 0; in->rows = 1; in->row_bytes = sizeof x;
    in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)k; in->sram_addr = 256; in->rows = 1; in->row_bytes = sizeof k;
    for (int pass = 0; pass < 2; pass++) {
        npu_dwconv_t *dw = &desc(NPU_OP_DWCONV)->dwconv;
        dw->flags = pass ? NPU_F_ACC : 0;
        dw->in_addr = 0; dw->w_addr = 256; dw->acc_addr = 1024; dw->h = H; dw->w = W; dw->c = C;
        dw->kh = KH; dw->kw = KW; dw->sh = SH; dw->sw = SW;
    }
    npu_dma_out_t *out = &desc(NPU_OP_DMA_OUT)->dma_out;
    out->flags = NPU_F_ACC; out->dram_addr = (uintptr_t)got; out->sram_addr = 1024; out->rows = 1;
    out->row_bytes = sizeof got;
    uint64_t macs = rd64(NPU_REG_MACS_LO);
    run();
    int ok = 1;
    for (int i = 0; i < OH; i++)
        for (int j = 0; j < OW; j++)
            for (int c = 0; c < C; c++) {
                int32_t s = 0;
                for (int a = 0; a < KH; a++)
                    for (int b = 0; b < KW; b++)
                        s += x[i * SH + a][j * SW + b][c] * k[a][b][c];
                ok &= got[i][j][c] == 2 * s;
            }
    check("DWCONV 3x2/2x1 depthwise, overwrite then accumulate", ok && rd64(NPU_REG_MACS_LO) - macs ==
          2ull * OH * OW * C * KH * KW);
}

/* QADD with TFLite's ADD parameters (left shift 20, two input scales), written over input a. */
static void test_qadd(void)
{
    enum { N = 48 };
    static int8_t a[N], b[N], got[N];
    const int32_t am = 1073741824, bm = 1518500250, om = 1400000000;
    const int as = 0, bs = -1, os = -19, aoff = 7, boff = -3, zp = -9, lo = -100, hi = 120;
    for (int i = 0; i < N; i++) {
        a[i] = i < 2 ? (i ? 127 : -128) : rnd8();
        b[i] = i < 2 ? (i ? -128 : 127) : rnd8();
    }
    npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)a; in->sram_addr = 0; in->rows = 1; in->row_bytes = N;
    in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)b; in->sram_addr = 64; in->rows = 1; in->row_bytes = N;
    npu_qadd_t *q = &desc(NPU_OP_QADD)->qadd;
    q->a_addr = 0; q->b_addr = 64; q->out_addr = 0; q->count = N;
    q->a_multiplier = am; q->b_multiplier = bm; q->out_multiplier = om;
    q->a_shift = as; q->b_shift = bs; q->out_shift = os; q->left_shift = 20;
    q->a_offset = aoff; q->b_offset = boff; q->zero_point = zp; q->clamp_min = lo; q->clamp_max = hi;
    npu_dma_out_t *out = &desc(NPU_OP_DMA_OUT)->dma_out;
    out->dram_addr = (uintptr_t)got; out->sram_addr = 0; out->rows = 1; out->row_bytes = N;
    run();
    int ok = 1;
    for (int i = 0; i < N; i++) {
        int32_t sa = requant((int32_t)((uint32_t)(a[i] + aoff) << 20), am, as);
        int32_t sb = requant((int32_t)((uint32_t)(b[i] + boff) << 20), bm, bs);
        ok &= got[i] == sat(requant((int32_t)((uint32_t)sa + (uint32_t)sb), om, os) + zp, lo, hi);
    }
    check("QADD two input scales + clamp (TFLite ADD)", ok);
}

static void test_batch_and_overlap(void)
{
    uint64_t commands = rd64(NPU_REG_COMMANDS_LO);
    uint32_t rows = rd(NPU_REG_ACC_BYTES) / 4;
    if (rows > rd(NPU_REG_SPAD_BYTES))
        rows = rd(NPU_REG_SPAD_BYTES);
    for (int i = 0; i < 40; i++) {
        npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
        in->dram_addr = (uintptr_t)src; in->sram_addr = 0; in->rows = 1; in->row_bytes = 128;
    }
    for (int i = 0; i < 20; i++) {
        npu_mvm_t *mv = &desc(NPU_OP_MVM_T)->mvm;
        mv->tile = 0; mv->m = rows; mv->k = 1; mv->n = 1; mv->act_stride = 1; mv->acc_stride = 4;
    }
    desc(NPU_OP_FENCE);
    unsigned done = done_irqs;
    ring[(tail - 1) % SLOTS].bytes[1] |= NPU_F_IRQ;
    __sync_synchronize();
    wr(NPU_REG_RING_TAIL, tail);
    wr(NPU_REG_DOORBELL, 1);
    int busy = (rd(NPU_REG_STATUS) & NPU_STATUS_BUSY) != 0 && rd(NPU_REG_RING_HEAD) != tail;
    volatile uint32_t work = 0;
    for (int i = 0; i < 100; i++)  /* CPU work overlapping the NPU */
        work += (uint32_t)i;
    while (done_irqs == done)
        irq_wait();
    check("61 commands, one FENCE interrupt, CPU overlap", busy && rd(NPU_REG_RING_HEAD) == tail &&
          rd64(NPU_REG_COMMANDS_LO) - commands == 61 && !(rd(NPU_REG_STATUS) & NPU_STATUS_BUSY));
    check("counters advance (cycles, energy, DMA)", rd64(NPU_REG_CYCLES_LO) > rd64(NPU_REG_BUSY_CYCLES_LO) &&
          rd64(NPU_REG_ENERGY_PJ_LO) > 0 && rd64(NPU_REG_DMA_IN_LO) >= 40 * 128);
}

static void expect_error(const char *name, uint32_t code)
{
    uint32_t slot = (tail - 1) % SLOTS;
    run();
    uint64_t addr = ((uint64_t)rd(NPU_REG_ERR_DESC_HI) << 32) | rd(NPU_REG_ERR_DESC_LO);
    int ok = rd(NPU_REG_ERR_CODE) == code && (rd(NPU_REG_STATUS) & NPU_STATUS_ERROR) &&
             (code == NPU_ERR_RING_OVERFLOW || addr == (uintptr_t)&ring[slot]);
    char line[64];
    snprintf(line, sizeof line, "error %s (code %u)", name, (unsigned)rd(NPU_REG_ERR_CODE));
    check(line, ok);
    npu_reset();
}

static void test_errors(void)
{
    desc(0x00);
    expect_error("OPCODE", NPU_ERR_OPCODE);

    npu_dma_in_t *in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->flags = NPU_F_ACC; in->dram_addr = (uintptr_t)src + 2; in->rows = 1; in->row_bytes = 4;
    expect_error("ALIGN", NPU_ERR_ALIGN);

    in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = 0x1000; in->rows = 1; in->row_bytes = 4;
    expect_error("DRAM_RANGE", NPU_ERR_DRAM_RANGE);

    in = &desc(NPU_OP_DMA_IN)->dma_in;
    in->dram_addr = (uintptr_t)src; in->sram_addr = rd(NPU_REG_SPAD_BYTES) - 2; in->rows = 1; in->row_bytes = 4;
    expect_error("SRAM_RANGE", NPU_ERR_SRAM_RANGE);

    npu_load_weights_t *lw = &desc(NPU_OP_LOAD_WEIGHTS)->load_weights;
    lw->dram_addr = (uintptr_t)w1; lw->tile = (uint16_t)rd(NPU_REG_TILES); lw->k = 1; lw->n = 1; lw->dram_stride = 1;
    expect_error("TILE_RANGE", NPU_ERR_TILE_RANGE);

    npu_weight_update_t *wu = &desc(NPU_OP_WEIGHT_UPDATE)->weight_update;
    wu->m = 1; wu->k = 1; wu->n = 1; wu->shift = 40;
    expect_error("BAD_ARG", NPU_ERR_BAD_ARG);

    /* more uncompleted descriptors than slots */
    desc(NPU_OP_FENCE);
    tail += SLOTS;
    expect_error("RING_OVERFLOW", NPU_ERR_RING_OVERFLOW);

    desc(NPU_OP_FENCE);
    run();
    check("recovery after CTRL.RESET", rd(NPU_REG_ERR_CODE) == 0 && rd(NPU_REG_RING_HEAD) == 1);
}

int main(void)
{
    printf("npu_selftest: id %08x version %08x tiles %u x %ux%u spad %u acc %u clock %u kHz\n",
           (unsigned)rd(NPU_REG_ID), (unsigned)rd(NPU_REG_VERSION), (unsigned)rd(NPU_REG_TILES),
           (unsigned)rd(NPU_REG_TILE_ROWS), (unsigned)rd(NPU_REG_TILE_COLS), (unsigned)rd(NPU_REG_SPAD_BYTES),
           (unsigned)rd(NPU_REG_ACC_BYTES), (unsigned)rd(NPU_REG_CLOCK_KHZ));
    check("ID and version", rd(NPU_REG_ID) == NPU_ID_MAGIC && rd(NPU_REG_VERSION) >> 16 == NPU_VERSION >> 16);
    if (rd(NPU_REG_TILES) < 6 || rd(NPU_REG_TILE_ROWS) < 160 || rd(NPU_REG_TILE_COLS) < 160 ||
        rd(NPU_REG_SPAD_BYTES) < 4096 || rd(NPU_REG_ACC_BYTES) < 4096) {
        printf("FAIL geometry too small for this test\n");
        return 1;
    }

    irq_register(NPU_IRQ, npu_irq);
    wr(NPU_REG_RING_BASE_LO, (uint32_t)(uintptr_t)ring);
    wr(NPU_REG_RING_BASE_HI, (uint32_t)((uint64_t)(uintptr_t)ring >> 32));
    wr(NPU_REG_RING_SIZE, SLOTS);
    wr(NPU_REG_INT_ENABLE, NPU_INT_DONE | NPU_INT_ERROR);
    npu_reset();

    test_dma();
    test_mvm();
    test_int4_transposed();
    test_weight_update(0);
    test_weight_update(1);
    test_postproc();
    test_eltwise_pool_argmax();
    test_dwconv();
    test_qadd();
    test_batch_and_overlap();
    test_errors();

    printf("npu_selftest: %d/%d checks passed\n", checks - failures, checks);
    return failures ? 1 : 0;
}
