/* npu_model.h -- generic runtime for models compiled by `npuemu compile` (docs/compiler.md).
 *
 * A compiled model is data: a weights blob, a program of NPU descriptors whose DRAM fields are
 * offsets (relocated once against the weights blob and the arena into a RAM copy that becomes the
 * driver's ring), a layer table and a memory plan. npu_model_run() submits each layer's slice of
 * the ring (the first, "input", DMAs the caller's input into the arena; one doorbell and one wait
 * per layer, so the device counters give a per-layer profile), runs the CPU fallbacks (SOFTMAX,
 * bit-exact with TFLite Micro) and copies the output out. The runtime points the NPU driver at
 * the model's ring (npu_init) and re-arms the model (weights included) whenever the driver was
 * pointed elsewhere since. */
#ifndef NPU_MODEL_H
#define NPU_MODEL_H

#include <stdint.h>

#include "npu.h"

enum { NPU_MODEL_NPU = 0, NPU_MODEL_SOFTMAX = 1, NPU_MODEL_ALIAS = 2 };
/* What a descriptor's u64 DRAM field is relative to (INPUT: the input pointer of each run). */
enum { NPU_MODEL_BASE_NONE = 0, NPU_MODEL_BASE_WEIGHTS = 1, NPU_MODEL_BASE_ARENA = 2, NPU_MODEL_BASE_INPUT = 3 };

/* Errors of npu_model_init/npu_model_run (> 0: an NPU_ERR_* code of the failing layer). */
enum {
    NPU_MODEL_OK = 0,
    NPU_MODEL_ERR_NO_NPU = -1,    /* no NPU of interface major 1 */
    NPU_MODEL_ERR_GEOMETRY = -2,  /* the device's tiles/scratchpad/accumulator are smaller than planned */
};

typedef struct {
    const char *name;      /* "index:OPERATOR" */
    uint8_t kind;          /* NPU_MODEL_* */
    uint32_t first, count; /* descriptors of an NPU layer */
    uint32_t in_off, out_off, rows, depth;  /* SOFTMAX: arena offsets and shape */
    int32_t mult, shift, diff_min;          /* SOFTMAX: TFLM's input multiplier, left shift, diff_min */
    uint64_t macs;           /* the operator's multiply-accumulates */
    uint64_t est_cycles;     /* compile-time estimate of the NPU busy cycles */
    uint64_t est_energy_pj;  /* compile-time estimate of the dynamic energy */
    uint32_t util_permille;  /* weight cells used / cells of the tiles the layer occupies */
} npu_model_layer_t;

/* Measured per layer by the last npu_model_run. */
typedef struct {
    npu_counters_t npu;
    uint64_t cpu_cycles;  /* mcycle delta around a CPU layer */
} npu_model_stats_t;

typedef struct {
    int relocated;             /* ring holds the relocated program */
    npu_model_stats_t *stats;  /* n_layers entries */
} npu_model_state_t;

typedef struct {
    const char *name;
    const uint8_t *weights;
    uint32_t weights_bytes;
    int8_t *arena;
    uint32_t arena_bytes;
    const uint8_t *program;  /* n_desc descriptors of NPU_DESC_BYTES, DRAM fields as offsets */
    npu_desc_t *ring;        /* RAM for the relocated program: the driver's ring while this model runs */
    const uint8_t *relocs;   /* 2 per descriptor: base of the u64 field at byte 8 and at byte 16 */
    uint32_t n_desc;         /* descriptors of the inference */
    uint32_t n_preload;      /* then these: LOAD_WEIGHTS of resident weights, run when the model is armed */
    const npu_model_layer_t *layers;
    uint32_t n_layers;
    uint32_t in_bytes;       /* layer 0 ("input") DMAs them from the input pointer into the arena */
    uint32_t out_off, out_bytes;
    uint32_t spad_bytes, acc_bytes, tiles, tile_rows, tile_cols;  /* peak use / geometry planned */
    npu_model_state_t *state;
    const char *profile;     /* the layer table in ELF section .npuemu.layers, read by the emulator */
} npu_model_t;

/* Initializes the driver (once) and checks the device against the model's plan. */
int npu_model_init(const npu_model_t *m);
/* One inference: input is in_bytes of int8 (the input tensor, dense), output gets out_bytes. */
int npu_model_run(const npu_model_t *m, const int8_t *input, int8_t *output);
/* Per-layer counters cost 8 64-bit MMIO reads before and after each layer: on by default; off
 * for throughput (npu_model_print_profile then shows zeros). */
void npu_model_set_profiling(int on);
/* Per-layer table of the last run: measured NPU counters next to the compile-time estimate. */
void npu_model_print_profile(const npu_model_t *m);
/* The summary line: arena, weights, peak scratchpad/accumulator against the device's. */
void npu_model_print_plan(const npu_model_t *m);

/* TFLite Micro's int8 softmax (reference_ops::Softmax) over rows x depth. */
void npu_softmax_int8(const int8_t *in, int8_t *out, uint32_t rows, uint32_t depth, int32_t mult, int32_t shift,
                      int32_t diff_min);

#endif /* NPU_MODEL_H */
