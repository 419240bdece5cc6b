/* npu.h -- driver for the D-IMC NPU (docs/npu-driver.md; hardware: docs/npu.md, npu_regs.h).
 *
 * One ring of descriptors in DRAM, owned by the driver. Build commands with the npu_* builders
 * (each returns its zeroed, filled-in slot so callers can adjust a field), then npu_run() (or
 * npu_submit() + npu_wait()). Waiting polls RING_HEAD or sleeps in wfi until the completion
 * interrupt, selected with npu_set_wait_mode(). A failing command comes back as an error code
 * with the address of its descriptor; npu_recover() clears it. Works on rv32 and rv64. */
#ifndef NPU_H
#define NPU_H

#include <stdint.h>

#include "npu_regs.h"

typedef enum { NPU_WAIT_POLL = 0, NPU_WAIT_IRQ = 1 } npu_wait_mode_t;

/* Identity and geometry, read from the device by npu_init(). */
typedef struct {
    uint32_t id, version, tiles, tile_rows, tile_cols, spad_bytes, acc_bytes, clock_khz;
} npu_info_t;

/* The eight 64-bit performance counters (docs/npu.md, "Counters"). */
typedef struct {
    uint64_t cycles, busy_cycles, macs, dma_in, dma_out, weight_bytes, energy_pj, commands;
} npu_counters_t;

/* The latched error of the command that halted the device. */
typedef struct {
    uint32_t code;       /* NPU_ERR_*; NPU_ERR_NONE when there is no error */
    uint64_t desc_addr;  /* DRAM address of the failing descriptor */
    uint32_t head;       /* RING_HEAD: how many descriptors completed before it */
} npu_error_t;

/* Driver state: a plain struct so an app can own several rings in sequence (one at a time). */
typedef struct {
    npu_desc_t *ring;    /* slots descriptors, 64-byte aligned */
    uint32_t slots;
    uint32_t tail;       /* descriptors written (free-running, as RING_TAIL) */
    uint32_t submitted;  /* tail at the last doorbell */
    uint32_t head_seen;  /* RING_HEAD as last read: npu_next reads the register only when this says full */
    npu_wait_mode_t mode;
    npu_info_t info;
    volatile uint32_t irq_done, irq_error;  /* interrupts taken (by kind) */
    uint32_t done_mark;  /* irq_done at the last doorbell */
} npu_t;

/* The driver instance all npu_* calls use. */
extern npu_t npu;

/* Reads ID/VERSION and the geometry, programs the ring (ring must be 64-byte aligned, slots > 0),
 * resets and enables the device and, for NPU_WAIT_IRQ, registers the PLIC handler.
 * Returns 0, or -1 when no NPU of interface major version 1 answers. */
int npu_init(npu_desc_t *ring, uint32_t slots, npu_wait_mode_t mode);
void npu_set_wait_mode(npu_wait_mode_t mode);
const npu_info_t *npu_get_info(void);

/* A zeroed descriptor in the next slot with its opcode set. When the ring is full it submits what
 * is queued and waits for a slot (an error while waiting is reported by the next npu_wait). */
npu_desc_t *npu_next(uint8_t opcode);
/* For a ring that holds a precompiled program (firmware/runtime): the caller wrote the next
 * `count` slots in place; account for them as npu_next would (no zeroing, no copy). */
void npu_queued_in_place(uint32_t count);
/* Doorbell for every descriptor written since the last one (F_IRQ on the last in IRQ mode). */
void npu_submit(void);
/* Waits until every submitted descriptor completed or the device stopped on an error.
 * Returns NPU_ERR_NONE or the latched error code (see npu_get_error). */
int npu_wait(void);
/* npu_submit() + npu_wait(). */
int npu_run(void);
/* Fills *err (code NPU_ERR_NONE when the device is fine); returns err->code. */
int npu_get_error(npu_error_t *err);
/* CTRL.RESET: drops the queue, clears the error and the counters (tiles, scratchpad and
 * accumulator keep their contents), and re-enables the device. */
void npu_recover(void);
const char *npu_error_name(uint32_t code);
void npu_read_counters(npu_counters_t *c);
/* c = after - before, counter by counter. */
void npu_counters_delta(npu_counters_t *c, const npu_counters_t *after, const npu_counters_t *before);

/* ---- command builders: one descriptor each, returned for further tweaks ---- */
npu_desc_t *npu_dma_in(uint8_t flags, const void *dram, uint32_t sram, uint32_t rows, uint32_t row_bytes,
                       uint32_t dram_stride, uint32_t sram_stride);
npu_desc_t *npu_dma_out(uint8_t flags, void *dram, uint32_t sram, uint32_t rows, uint32_t row_bytes,
                        uint32_t dram_stride, uint32_t sram_stride);
npu_desc_t *npu_load_weights(uint8_t flags, const void *dram, uint16_t tile, uint32_t k, uint32_t n,
                             uint32_t dram_stride);
/* MVM (opcode NPU_OP_MVM) or MVM_T (NPU_OP_MVM_T): same fields. */
npu_desc_t *npu_mvm(uint8_t opcode, uint8_t flags, uint16_t tile, uint32_t m, uint32_t k, uint32_t n,
                    uint32_t act_addr, uint32_t act_stride, uint32_t acc_addr, uint32_t acc_stride);
npu_desc_t *npu_weight_update(uint8_t flags, uint16_t tile, uint32_t m, uint32_t k, uint32_t n,
                              uint32_t x_addr, uint32_t x_stride, uint32_t d_addr, uint32_t d_stride,
                              uint32_t seed, uint8_t shift);
/* POSTPROC with per-channel bias (int32[n]) and quant (int32[n][2]) from DRAM (either may be NULL),
 * activation act with zero point 0; clamp bounds default to the full int8 range. */
npu_desc_t *npu_postproc(const int32_t *bias, const int32_t *quant, uint32_t m, uint32_t n,
                         uint32_t acc_addr, uint32_t acc_stride, uint32_t out_addr, uint32_t out_stride,
                         uint8_t act);
/* ELTWISE out = act(requant(op(a, b))) over m x n int8 in the scratchpad, identity requantization
 * (multiplier 2^30, shift 1), offsets and zero point 0, clamp = int8 range (adjust via the result). */
npu_desc_t *npu_eltwise(uint8_t op, uint32_t a_addr, uint32_t a_stride, uint32_t b_addr, uint32_t b_stride,
                        uint32_t out_addr, uint32_t out_stride, uint32_t m, uint32_t n, uint8_t act);
npu_desc_t *npu_pool(uint8_t op, uint32_t in_addr, uint32_t out_addr, uint16_t h, uint16_t w, uint16_t c,
                     uint8_t kh, uint8_t kw, uint8_t sh, uint8_t sw);
npu_desc_t *npu_argmax(uint8_t flags, int32_t *dram, uint32_t src_addr, uint32_t src_stride, uint32_t m,
                       uint32_t n);
npu_desc_t *npu_fence(void);
/* DWCONV and QADD take every field in a designated-initializer struct (opcode filled in):
 *   npu_dwconv(&(npu_dwconv_t){.in_addr = 0, .w_addr = 512, .h = 6, .w = 6, .c = 8, .kh = 3, .kw = 3,
 *                               .sh = 1, .sw = 1});
 *   npu_qadd(&(npu_qadd_t){.count = n, .left_shift = 20, .a_multiplier = ..., .clamp_max = 127}); */
npu_desc_t *npu_dwconv(const npu_dwconv_t *fields);
npu_desc_t *npu_qadd(const npu_qadd_t *fields);

/* ---- quantized dense layers, as emitted by toolchain/npu_model ---- */

/* One layer of a model's layer table: out = act(requant(in @ W + bias)) for `m` rows.
 * bias == NULL and quant == NULL: the int32 result stays in the accumulator (logits). */
typedef struct {
    uint16_t tile;            /* first tile of W (K x N, row-major in `weights`) */
    uint32_t k, n;
    const int8_t *weights;
    const int32_t *bias;      /* int32[n] or NULL */
    const int32_t *quant;     /* int32[n][2] {Q31 multiplier, shift} or NULL */
    uint8_t act;              /* NPU_ACT_* */
    uint32_t in_addr, in_stride;    /* scratchpad input rows (int8) */
    uint32_t out_addr, out_stride;  /* scratchpad output rows (int8), when requantized */
    const int8_t *const_input;      /* non-NULL: input column k-1 is this constant (bias input) */
} npu_dense_layer_t;

/* LOAD_WEIGHTS of every layer (queued, not waited for). */
void npu_dense_load(const npu_dense_layer_t *layers, unsigned count);
/* Queues the layers for m rows already in layer 0's input buffer; the last layer's int32 result is
 * left at accumulator address 0 with row stride 4 * n. */
void npu_dense_forward(const npu_dense_layer_t *layers, unsigned count, uint32_t m);

#endif /* NPU_H */
