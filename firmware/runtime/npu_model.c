/* Generic runtime for compiled models (npu_model.h, docs/compiler.md). */
#include "sdk.h"
#include "npu.h"
#include "npu_model.h"
#include "string.h"

#define RING_SLOTS 256

static npu_desc_t ring[RING_SLOTS] __attribute__((aligned(64)));
static int driver_ready;
static int profiling = 1;

void npu_model_set_profiling(int on) { profiling = on; }

int npu_model_init(const npu_model_t *m)
{
    if (!driver_ready) {
        if (npu_init(ring, RING_SLOTS, NPU_WAIT_IRQ))
            return NPU_MODEL_ERR_NO_NPU;
        driver_ready = 1;
    }
    const npu_info_t *i = npu_get_info();
    if (m->spad_bytes > i->spad_bytes || m->acc_bytes > i->acc_bytes || m->tiles > i->tiles ||
        m->tile_rows != i->tile_rows || m->tile_cols != i->tile_cols)
        return NPU_MODEL_ERR_GEOMETRY;
    if (!m->state->initialized) {
        for (uint32_t f = 0; f < m->n_fills; f++)
            memset(m->arena + m->fills[f].offset, m->fills[f].value, m->fills[f].size);
        m->state->initialized = 1;
    }
    return NPU_MODEL_OK;
}

/* Adds the weights or arena base to the u64 DRAM field at byte `off` of a queued descriptor. */
static void relocate(const npu_model_t *m, npu_desc_t *d, unsigned off, uint8_t base)
{
    if (base == NPU_MODEL_BASE_NONE)
        return;
    uint64_t v;
    memcpy(&v, &d->bytes[off], sizeof v);
    v += base == NPU_MODEL_BASE_WEIGHTS ? (uintptr_t)m->weights : (uintptr_t)m->arena;
    memcpy(&d->bytes[off], &v, sizeof v);
}

/* Queues a layer's descriptors through the driver, relocating their DRAM fields. */
static void queue_layer(const npu_model_t *m, const npu_model_layer_t *l)
{
    for (uint32_t j = l->first; j < l->first + l->count; j++) {
        const uint8_t *src = m->program + (uintptr_t)j * NPU_DESC_BYTES;
        npu_desc_t *d = npu_next(src[0]);
        memcpy(d, src, NPU_DESC_BYTES);
        relocate(m, d, 8, m->relocs[2 * j]);
        relocate(m, d, 16, m->relocs[2 * j + 1]);
    }
}

static int report(const npu_model_layer_t *l, int rc)
{
    npu_error_t err;
    npu_get_error(&err);
    printf("npu_model: layer %s failed: NPU error %s after %lu descriptors\n", l->name, npu_error_name(err.code),
           (unsigned long)err.head);
    npu_recover();
    return rc;
}

/* With profiling, one doorbell and one wait per NPU layer, the counters read around it; without,
 * consecutive NPU layers go out as one batch and the CPU waits only before a CPU layer and at the
 * end (one completion interrupt instead of one per layer). */
int npu_model_run(const npu_model_t *m, const int8_t *input, int8_t *output)
{
    int rc = npu_model_init(m);
    if (rc)
        return rc;
    for (uint32_t r = 0; r < m->in_rows; r++)
        memcpy(m->arena + m->in_off + r * m->in_stride, input + r * m->in_row_bytes, m->in_row_bytes);
    const npu_model_layer_t *pending = NULL;  /* last NPU layer queued and not waited for */
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const npu_model_layer_t *l = &m->layers[i];
        npu_model_stats_t *s = &m->state->stats[i];
        memset(s, 0, sizeof *s);
        if (l->kind == NPU_MODEL_NPU) {
            npu_counters_t before, after;
            if (!profiling) {
                queue_layer(m, l);
                pending = l;
                continue;
            }
            npu_read_counters(&before);
            queue_layer(m, l);
            rc = npu_run();
            npu_read_counters(&after);
            npu_counters_delta(&s->npu, &after, &before);
            if (rc)
                return report(l, rc);
            continue;
        }
        if (pending && (rc = npu_run()) != 0)
            return report(pending, rc);
        pending = NULL;
        if (l->kind == NPU_MODEL_SOFTMAX) {
            uintptr_t t0 = csr_read(mcycle);
            npu_softmax_int8(m->arena + l->in_off, m->arena + l->out_off, l->rows, l->depth, l->mult, l->shift,
                             l->diff_min);
            s->cpu_cycles = (uintptr_t)(csr_read(mcycle) - t0);
        }
    }
    if (pending && (rc = npu_run()) != 0)
        return report(pending, rc);
    memcpy(output, m->arena + m->out_off, m->out_bytes);
    return NPU_MODEL_OK;
}

void npu_model_print_plan(const npu_model_t *m)
{
    const npu_info_t *i = npu_get_info();
    printf("model %s: %lu layers, %lu NPU descriptors, weights %lu B, arena %lu B, peak scratchpad %lu/%lu B, "
           "peak accumulator %lu/%lu B, tiles %lu/%lu\n",
           m->name, (unsigned long)m->n_layers, (unsigned long)m->n_desc, (unsigned long)m->weights_bytes,
           (unsigned long)m->arena_bytes, (unsigned long)m->spad_bytes, (unsigned long)i->spad_bytes,
           (unsigned long)m->acc_bytes, (unsigned long)i->acc_bytes, (unsigned long)m->tiles,
           (unsigned long)i->tiles);
}

void npu_model_print_profile(const npu_model_t *m)
{
    npu_counters_t total = {0};
    uint64_t est = 0;
    printf("%-22s %6s %10s %10s %10s %9s %9s %11s %5s\n", "layer", "cmds", "cycles", "est", "MACs", "DMA in",
           "DMA out", "energy pJ", "util");
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const npu_model_layer_t *l = &m->layers[i];
        const npu_model_stats_t *s = &m->state->stats[i];
        if (l->kind == NPU_MODEL_SOFTMAX) {
            printf("%-22s %6s %10s %10s %10s %9s %9s %11s %5s  (CPU, %llu mcycle)\n", l->name, "-", "-", "-", "-",
                   "-", "-", "-", "-", (unsigned long long)s->cpu_cycles);
            continue;
        }
        if (l->kind == NPU_MODEL_ALIAS) {
            printf("%-22s %6s %10s %10s %10s %9s %9s %11s %5s  (no-op)\n", l->name, "-", "-", "-", "-", "-", "-",
                   "-", "-");
            continue;
        }
        printf("%-22s %6llu %10llu %10llu %10llu %9llu %9llu %11llu ", l->name,
               (unsigned long long)s->npu.commands, (unsigned long long)s->npu.busy_cycles,
               (unsigned long long)l->est_cycles, (unsigned long long)s->npu.macs,
               (unsigned long long)s->npu.dma_in, (unsigned long long)s->npu.dma_out,
               (unsigned long long)s->npu.energy_pj);
        if (l->util_permille)  /* tile utilization; layers that use no tiles print "-" */
            printf("%3lu.%lu%%\n", (unsigned long)(l->util_permille / 10), (unsigned long)(l->util_permille % 10));
        else
            printf("%5s\n", "-");
        total.commands += s->npu.commands;
        total.busy_cycles += s->npu.busy_cycles;
        total.cycles += s->npu.cycles;
        total.macs += s->npu.macs;
        total.dma_in += s->npu.dma_in;
        total.dma_out += s->npu.dma_out;
        total.energy_pj += s->npu.energy_pj;
        est += l->est_cycles;
    }
    printf("%-22s %6llu %10llu %10llu %10llu %9llu %9llu %11llu\n", "total", (unsigned long long)total.commands,
           (unsigned long long)total.busy_cycles, (unsigned long long)est, (unsigned long long)total.macs,
           (unsigned long long)total.dma_in, (unsigned long long)total.dma_out,
           (unsigned long long)total.energy_pj);
    printf("NPU wall cycles %llu (busy %llu)\n", (unsigned long long)total.cycles,
           (unsigned long long)total.busy_cycles);
}
