/* D-IMC NPU driver: ring, submission, polled or interrupt-driven completion, errors, counters,
 * and the dense-layer runtime the model tools target. API and usage: docs/npu-driver.md. */
#include "sdk.h"
#include "npu.h"
#include "string.h"

npu_t npu;

static uint32_t rd(uint32_t off) { return mmio_read32(NPU_MMIO_BASE + off); }
static void wr(uint32_t off, uint32_t v) { mmio_write32(NPU_MMIO_BASE + off, v); }

/* A 64-bit counter from its _LO/_HI pair: HI, LO, HI again until HI is stable (rv32 cannot read
 * both words at once; on rv64 the loop runs once). */
static uint64_t rd64(uint32_t lo)
{
    uint32_t hi, low;
    do {
        hi = rd(lo + 4);
        low = rd(lo);
    } while (rd(lo + 4) != hi);
    return ((uint64_t)hi << 32) | low;
}

static void npu_irq(unsigned source)
{
    (void)source;
    uint32_t status = rd(NPU_REG_INT_STATUS);
    if (status & NPU_INT_DONE)
        npu.irq_done++;
    if (status & NPU_INT_ERROR)
        npu.irq_error++;
    wr(NPU_REG_INT_STATUS, status);  /* write 1 to clear: the level drops */
}

void npu_set_wait_mode(npu_wait_mode_t mode)
{
    npu.mode = mode;
    if (mode == NPU_WAIT_IRQ) {
        irq_register(NPU_IRQ, npu_irq);
        wr(NPU_REG_INT_ENABLE, NPU_INT_DONE | NPU_INT_ERROR);
    } else {
        wr(NPU_REG_INT_ENABLE, 0);
        irq_unregister(NPU_IRQ);
    }
}

int npu_init(npu_desc_t *ring, uint32_t slots, npu_wait_mode_t mode)
{
    npu_info_t *i = &npu.info;
    i->id = rd(NPU_REG_ID);
    i->version = rd(NPU_REG_VERSION);
    if (i->id != NPU_ID_MAGIC || i->version >> 16 != NPU_VERSION >> 16 || !ring || !slots ||
        ((uintptr_t)ring & 63))
        return -1;
    i->tiles = rd(NPU_REG_TILES);
    i->tile_rows = rd(NPU_REG_TILE_ROWS);
    i->tile_cols = rd(NPU_REG_TILE_COLS);
    i->spad_bytes = rd(NPU_REG_SPAD_BYTES);
    i->acc_bytes = rd(NPU_REG_ACC_BYTES);
    i->clock_khz = rd(NPU_REG_CLOCK_KHZ);
    npu.ring = ring;
    npu.slots = slots;
    wr(NPU_REG_CTRL, 0);
    wr(NPU_REG_RING_BASE_LO, (uint32_t)(uintptr_t)ring);
    wr(NPU_REG_RING_BASE_HI, (uint32_t)((uint64_t)(uintptr_t)ring >> 32));
    wr(NPU_REG_RING_SIZE, slots);
    npu_set_wait_mode(mode);
    npu_recover();
    return 0;
}

const npu_info_t *npu_get_info(void) { return &npu.info; }

void npu_recover(void)
{
    wr(NPU_REG_CTRL, NPU_CTRL_ENABLE | NPU_CTRL_RESET);
    wr(NPU_REG_INT_STATUS, NPU_INT_DONE | NPU_INT_ERROR);
    npu.tail = npu.submitted = npu.head_seen = 0;
}

static int has_error(void) { return (rd(NPU_REG_STATUS) & NPU_STATUS_ERROR) != 0; }

static int reached(uint32_t count) { return (int32_t)(rd(NPU_REG_RING_HEAD) - count) >= 0; }

/* Wait until RING_HEAD reaches `count` (free-running compare) or the device halts on an error.
 * In IRQ mode the last submitted descriptor carries F_IRQ, so the wfi always has an interrupt to
 * end it; waiting for everything submitted also waits for that interrupt to be taken, so no stale
 * DONE is left pending (even when the command ended before the CPU looked). */
static int wait_for(uint32_t count)
{
    if (npu.mode == NPU_WAIT_IRQ) {
        int all = count == npu.submitted;
        uintptr_t saved = irq_save();
        while (!has_error() && !(reached(count) && (!all || npu.irq_done != npu.done_mark)))
            irq_wait();
        irq_restore(saved);
    } else {
        while (!reached(count) && !has_error())
            ;
    }
    return has_error() ? (int)rd(NPU_REG_ERR_CODE) : NPU_ERR_NONE;
}

npu_desc_t *npu_next(uint8_t opcode)
{
    /* Full by the last head we saw? Then read the register (one MMIO read per lap, not per slot). */
    if (npu.tail - npu.head_seen >= npu.slots && npu.tail - (npu.head_seen = rd(NPU_REG_RING_HEAD)) >= npu.slots) {
        npu_submit();  /* full: the oldest slot is still queued */
        wait_for(npu.tail - npu.slots + 1);
        npu.head_seen = rd(NPU_REG_RING_HEAD);
    }
    npu_desc_t *d = &npu.ring[npu.tail % npu.slots];
    memset(d, 0, sizeof *d);
    d->bytes[0] = opcode;
    npu.tail++;
    return d;
}

void npu_queued_in_place(uint32_t count) { npu.tail += count; }

void npu_submit(void)
{
    if (npu.tail == npu.submitted)
        return;
    if (npu.mode == NPU_WAIT_IRQ)
        npu.ring[(npu.tail - 1) % npu.slots].bytes[1] |= NPU_F_IRQ;
    npu.done_mark = npu.irq_done;
    __sync_synchronize();  /* descriptors in memory before the doorbell */
    wr(NPU_REG_RING_TAIL, npu.tail);
    wr(NPU_REG_DOORBELL, 1);
    npu.submitted = npu.tail;
}

int npu_wait(void) { return wait_for(npu.submitted); }

int npu_run(void)
{
    npu_submit();
    return npu_wait();
}

int npu_get_error(npu_error_t *err)
{
    err->code = has_error() ? rd(NPU_REG_ERR_CODE) : NPU_ERR_NONE;
    err->desc_addr = ((uint64_t)rd(NPU_REG_ERR_DESC_HI) << 32) | rd(NPU_REG_ERR_DESC_LO);
    err->head = rd(NPU_REG_RING_HEAD);
    return (int)err->code;
}

const char *npu_error_name(uint32_t code)
{
    static const char *const names[] = {"NONE", "OPCODE", "ALIGN", "DRAM_RANGE", "SRAM_RANGE",
                                        "TILE_RANGE", "RING_OVERFLOW", "BAD_ARG"};
    return code < sizeof names / sizeof names[0] ? names[code] : "UNKNOWN";
}

void npu_read_counters(npu_counters_t *c)
{
    c->cycles = rd64(NPU_REG_CYCLES_LO);
    c->busy_cycles = rd64(NPU_REG_BUSY_CYCLES_LO);
    c->macs = rd64(NPU_REG_MACS_LO);
    c->dma_in = rd64(NPU_REG_DMA_IN_LO);
    c->dma_out = rd64(NPU_REG_DMA_OUT_LO);
    c->weight_bytes = rd64(NPU_REG_WEIGHT_BYTES_LO);
    c->energy_pj = rd64(NPU_REG_ENERGY_PJ_LO);
    c->commands = rd64(NPU_REG_COMMANDS_LO);
}

void npu_counters_delta(npu_counters_t *c, const npu_counters_t *after, const npu_counters_t *before)
{
    c->cycles = after->cycles - before->cycles;
    c->busy_cycles = after->busy_cycles - before->busy_cycles;
    c->macs = after->macs - before->macs;
    c->dma_in = after->dma_in - before->dma_in;
    c->dma_out = after->dma_out - before->dma_out;
    c->weight_bytes = after->weight_bytes - before->weight_bytes;
    c->energy_pj = after->energy_pj - before->energy_pj;
    c->commands = after->commands - before->commands;
}

/* ---- builders ---- */

npu_desc_t *npu_dma_in(uint8_t flags, const void *dram, uint32_t sram, uint32_t rows, uint32_t row_bytes,
                       uint32_t dram_stride, uint32_t sram_stride)
{
    npu_desc_t *d = npu_next(NPU_OP_DMA_IN);
    npu_dma_in_t *x = &d->dma_in;
    x->flags = flags;
    x->dram_addr = (uintptr_t)dram;
    x->sram_addr = sram;
    x->rows = rows;
    x->row_bytes = row_bytes;
    x->dram_stride = dram_stride;
    x->sram_stride = sram_stride;
    return d;
}

npu_desc_t *npu_dma_out(uint8_t flags, void *dram, uint32_t sram, uint32_t rows, uint32_t row_bytes,
                        uint32_t dram_stride, uint32_t sram_stride)
{
    npu_desc_t *d = npu_dma_in(flags, dram, sram, rows, row_bytes, dram_stride, sram_stride);
    d->dma_out.opcode = NPU_OP_DMA_OUT;  /* same layout as DMA_IN */
    return d;
}

npu_desc_t *npu_load_weights(uint8_t flags, const void *dram, uint16_t tile, uint32_t k, uint32_t n,
                             uint32_t dram_stride)
{
    npu_desc_t *d = npu_next(NPU_OP_LOAD_WEIGHTS);
    npu_load_weights_t *x = &d->load_weights;
    x->flags = flags;
    x->dram_addr = (uintptr_t)dram;
    x->tile = tile;
    x->k = k;
    x->n = n;
    x->dram_stride = dram_stride;
    return d;
}

npu_desc_t *npu_mvm(uint8_t opcode, uint8_t flags, uint16_t tile, uint32_t m, uint32_t k, uint32_t n,
                    uint32_t act_addr, uint32_t act_stride, uint32_t acc_addr, uint32_t acc_stride)
{
    npu_desc_t *d = npu_next(opcode);
    npu_mvm_t *x = &d->mvm;  /* MVM_T has the same layout */
    x->flags = flags;
    x->tile = tile;
    x->m = m;
    x->k = k;
    x->n = n;
    x->act_addr = act_addr;
    x->act_stride = act_stride;
    x->acc_addr = acc_addr;
    x->acc_stride = acc_stride;
    return d;
}

npu_desc_t *npu_weight_update(uint8_t flags, uint16_t tile, uint32_t m, uint32_t k, uint32_t n,
                              uint32_t x_addr, uint32_t x_stride, uint32_t d_addr, uint32_t d_stride,
                              uint32_t seed, uint8_t shift)
{
    npu_desc_t *d = npu_next(NPU_OP_WEIGHT_UPDATE);
    npu_weight_update_t *x = &d->weight_update;
    x->flags = flags;
    x->tile = tile;
    x->m = m;
    x->k = k;
    x->n = n;
    x->x_addr = x_addr;
    x->x_stride = x_stride;
    x->d_addr = d_addr;
    x->d_stride = d_stride;
    x->seed = seed;
    x->shift = shift;
    return d;
}

npu_desc_t *npu_postproc(const int32_t *bias, const int32_t *quant, uint32_t m, uint32_t n,
                         uint32_t acc_addr, uint32_t acc_stride, uint32_t out_addr, uint32_t out_stride,
                         uint8_t act)
{
    npu_desc_t *d = npu_next(NPU_OP_POSTPROC);
    npu_postproc_t *x = &d->postproc;
    x->bias_addr = (uintptr_t)bias;
    x->quant_addr = (uintptr_t)quant;
    x->m = m;
    x->n = n;
    x->acc_addr = acc_addr;
    x->acc_stride = acc_stride;
    x->out_addr = out_addr;
    x->out_stride = out_stride;
    x->multiplier = 1 << 30;  /* identity (used only without quant) */
    x->shift = 1;
    x->act = act;
    x->clamp_min = -128;
    x->clamp_max = 127;
    return d;
}

npu_desc_t *npu_eltwise(uint8_t op, uint32_t a_addr, uint32_t a_stride, uint32_t b_addr, uint32_t b_stride,
                        uint32_t out_addr, uint32_t out_stride, uint32_t m, uint32_t n, uint8_t act)
{
    npu_desc_t *d = npu_next(NPU_OP_ELTWISE);
    npu_eltwise_t *x = &d->eltwise;
    x->a_addr = a_addr;
    x->a_stride = a_stride;
    x->b_addr = b_addr;
    x->b_stride = b_stride;
    x->out_addr = out_addr;
    x->out_stride = out_stride;
    x->m = m;
    x->n = n;
    x->multiplier = 1 << 30;
    x->shift = 1;
    x->act = act;
    x->op = op;
    x->clamp_min = -128;
    x->clamp_max = 127;
    return d;
}

npu_desc_t *npu_pool(uint8_t op, uint32_t in_addr, uint32_t out_addr, uint16_t h, uint16_t w, uint16_t c,
                     uint8_t kh, uint8_t kw, uint8_t sh, uint8_t sw)
{
    npu_desc_t *d = npu_next(NPU_OP_POOL);
    npu_pool_t *x = &d->pool;
    x->in_addr = in_addr;
    x->out_addr = out_addr;
    x->h = h;
    x->w = w;
    x->c = c;
    x->kh = kh;
    x->kw = kw;
    x->sh = sh;
    x->sw = sw;
    x->op = op;
    return d;
}

npu_desc_t *npu_argmax(uint8_t flags, int32_t *dram, uint32_t src_addr, uint32_t src_stride, uint32_t m,
                       uint32_t n)
{
    npu_desc_t *d = npu_next(NPU_OP_ARGMAX);
    npu_argmax_t *x = &d->argmax;
    x->flags = flags;
    x->dram_addr = (uintptr_t)dram;
    x->src_addr = src_addr;
    x->src_stride = src_stride;
    x->m = m;
    x->n = n;
    return d;
}

npu_desc_t *npu_dwconv(const npu_dwconv_t *fields)
{
    npu_desc_t *d = npu_next(NPU_OP_DWCONV);
    d->dwconv = *fields;
    d->dwconv.opcode = NPU_OP_DWCONV;
    return d;
}

npu_desc_t *npu_qadd(const npu_qadd_t *fields)
{
    npu_desc_t *d = npu_next(NPU_OP_QADD);
    d->qadd = *fields;
    d->qadd.opcode = NPU_OP_QADD;
    return d;
}

npu_desc_t *npu_fence(void) { return npu_next(NPU_OP_FENCE); }

/* ---- dense-layer runtime ---- */

void npu_dense_load(const npu_dense_layer_t *layers, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        npu_load_weights(0, layers[i].weights, layers[i].tile, layers[i].k, layers[i].n, layers[i].n);
}

void npu_dense_forward(const npu_dense_layer_t *layers, unsigned count, uint32_t m)
{
    for (unsigned i = 0; i < count; i++) {
        const npu_dense_layer_t *l = &layers[i];
        if (l->const_input)  /* stride-0 DMA: the same byte into column k-1 of every row */
            npu_dma_in(0, l->const_input, l->in_addr + l->k - 1, m, 1, 0, l->in_stride);
        npu_mvm(NPU_OP_MVM, 0, l->tile, m, l->k, l->n, l->in_addr, l->in_stride, 0, 4 * l->n);
        if (l->bias || l->quant)
            npu_postproc(l->bias, l->quant, m, l->n, 0, 4 * l->n, l->out_addr, l->out_stride, l->act);
    }
}
