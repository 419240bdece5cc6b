/* Generic runtime for compiled models (npu_model.h, docs/compiler.md). */
#include "sdk.h"
#include "npu.h"
#include "npu_model.h"
#include "string.h"

static const npu_model_t *active;  /* the model whose program is the driver's ring */
static int profiling = 1;

void npu_model_set_profiling(int on) { profiling = on; }

/* Adds the weights or arena base to the u64 DRAM field at byte `off` of a descriptor. */
static void relocate(const npu_model_t *m, npu_desc_t *d, unsigned off, uint8_t base)
{
    if (base != NPU_MODEL_BASE_WEIGHTS && base != NPU_MODEL_BASE_ARENA)
        return;  /* NONE, or INPUT: patched by each run */
    uint64_t v;
    memcpy(&v, &d->bytes[off], sizeof v);
    v += base == NPU_MODEL_BASE_WEIGHTS ? (uintptr_t)m->weights : (uintptr_t)m->arena;
    memcpy(&d->bytes[off], &v, sizeof v);
}

/* The model's program, relocated once into its RAM copy, becomes the driver's ring: slot i holds
 * descriptor i, so an inference queues nothing but RING_TAIL moves (npu_queued_in_place). The ring
 * has exactly n_desc slots and one inference advances the tail by n_desc, so slots stay aligned. */
int npu_model_init(const npu_model_t *m)
{
    if (active == m && npu.ring == m->ring)  /* still armed: nobody re-pointed the driver since */
        return NPU_MODEL_OK;
    uint32_t all = m->n_desc + m->n_preload;
    if (!m->state->relocated) {
        memcpy(m->ring, m->program, (uintptr_t)all * NPU_DESC_BYTES);
        for (uint32_t j = 0; j < all; j++) {
            relocate(m, &m->ring[j], 8, m->relocs[2 * j]);
            relocate(m, &m->ring[j], 16, m->relocs[2 * j + 1]);
        }
        m->state->relocated = 1;
    }
    /* Resident weights: the preload after the program is a ring of its own, run once here (the
     * tiles keep them across CTRL.RESET; another model arming the NPU replaces them). */
    if (npu_init(m->n_preload ? m->ring + m->n_desc : m->ring, m->n_preload ? m->n_preload : 1, NPU_WAIT_IRQ))
        return NPU_MODEL_ERR_NO_NPU;
    const npu_info_t *i = npu_get_info();
    if (m->spad_bytes > i->spad_bytes || m->acc_bytes > i->acc_bytes || m->tiles > i->tiles ||
        m->tile_rows != i->tile_rows || m->tile_cols != i->tile_cols)
        return NPU_MODEL_ERR_GEOMETRY;
    if (m->n_preload) {
        npu_queued_in_place(m->n_preload);
        int rc = npu_run();
        m->ring[all - 1].bytes[1] &= (uint8_t)~NPU_F_IRQ;
        if (rc) {
            printf("npu_model: loading the weights of %s failed: NPU error %s\n", m->name, npu_error_name(rc));
            npu_recover();
            return rc;
        }
        npu_init(m->ring, m->n_desc ? m->n_desc : 1, NPU_WAIT_IRQ);
    }
    active = m;
    return NPU_MODEL_OK;
}

/* Submits descriptors [first, end) already in the ring and waits; the completion flag the driver
 * sets on the last one is cleared again (the ring is reused by every inference). */
static int run_range(const npu_model_t *m, uint32_t first, uint32_t end)
{
    npu_queued_in_place(end - first);
    int rc = npu_run();
    m->ring[end - 1].bytes[1] &= (uint8_t)~NPU_F_IRQ;
    return rc;
}

static int report(const npu_model_layer_t *l, int rc)
{
    npu_error_t err;
    npu_get_error(&err);
    printf("npu_model: layer %s failed: NPU error %s after %lu descriptors\n", l->name, npu_error_name(err.code),
           (unsigned long)err.head);
    npu_recover();
    active = NULL;  /* the driver's tail restarted: re-arm the ring at the next run */
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
    /* The input layer's DMAs read the caller's buffer: offset in the program + this run's pointer */
    for (uint32_t j = m->layers[0].first; j < m->layers[0].first + m->layers[0].count; j++)
        if (m->relocs[2 * j] == NPU_MODEL_BASE_INPUT) {
            uint64_t v;
            memcpy(&v, m->program + (uintptr_t)j * NPU_DESC_BYTES + 8, sizeof v);
            v += (uintptr_t)input;
            memcpy(&m->ring[j].bytes[8], &v, sizeof v);
        }
    const npu_model_layer_t *pending = NULL;  /* last NPU layer of the batch not yet submitted */
    uint32_t batch = 0;                       /* first descriptor of that batch */
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const npu_model_layer_t *l = &m->layers[i];
        npu_model_stats_t *s = &m->state->stats[i];
        memset(s, 0, sizeof *s);
        if (l->kind == NPU_MODEL_NPU && l->count) {
            if (!profiling) {
                if (!pending)
                    batch = l->first;
                pending = l;
                continue;
            }
            npu_counters_t before, after;
            npu_read_counters(&before);
            rc = run_range(m, l->first, l->first + l->count);
            npu_read_counters(&after);
            npu_counters_delta(&s->npu, &after, &before);
            if (rc)
                return report(l, rc);
            continue;
        }
        if (pending && (rc = run_range(m, batch, pending->first + pending->count)) != 0)
            return report(pending, rc);
        pending = NULL;
        if (l->kind == NPU_MODEL_SOFTMAX) {
            uintptr_t t0 = csr_read(mcycle);
            npu_softmax_int8(m->arena + l->in_off, m->arena + l->out_off, l->rows, l->depth, l->mult, l->shift,
                             l->diff_min);
            s->cpu_cycles = (uintptr_t)(csr_read(mcycle) - t0);
        }
    }
    if (pending && (rc = run_range(m, batch, pending->first + pending->count)) != 0)
        return report(pending, rc);
    memcpy(output, m->arena + m->out_off, m->out_bytes);
    return NPU_MODEL_OK;
}

void npu_model_print_plan(const npu_model_t *m)
{
    const npu_info_t *i = npu_get_info();
    printf("model %s: %lu layers, %lu NPU descriptors (+%lu loading resident weights), weights %lu B, arena %lu B, "
           "peak scratchpad %lu/%lu B, peak accumulator %lu/%lu B, tiles %lu/%lu\n",
           m->name, (unsigned long)m->n_layers, (unsigned long)m->n_desc, (unsigned long)m->n_preload,
           (unsigned long)m->weights_bytes,
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
