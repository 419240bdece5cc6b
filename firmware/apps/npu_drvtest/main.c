/* npu_drvtest: the NPU driver's own checks, once waiting by polling and once by interrupt:
 * a DMA round trip, ring wrap-around with more commands than slots, a bad descriptor reported as an
 * error with its code and descriptor address (not a hang), and recovery. One PASS/FAIL line per
 * check; exits 0 only if all pass. */
#include "sdk.h"
#include "npu.h"
#include "string.h"

#define SLOTS 8u

static npu_desc_t ring[SLOTS] __attribute__((aligned(64)));
static uint8_t src[256] __attribute__((aligned(64))), dst[256] __attribute__((aligned(64)));
static int checks, failures;

static void check(const char *mode, const char *name, int ok)
{
    checks++;
    failures += !ok;
    printf("%s %s: %s\n", ok ? "PASS" : "FAIL", mode, name);
}

static void round_trip(const char *mode)
{
    for (unsigned i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 7 + 3);
    memset(dst, 0, sizeof dst);
    npu_dma_in(0, src, 0, 1, sizeof src, 0, 0);
    npu_dma_out(0, dst, 0, 1, sizeof dst, 0, 0);
    check(mode, "DMA round trip", npu_run() == NPU_ERR_NONE && memcmp(src, dst, sizeof src) == 0);
}

static void wrap_around(const char *mode)
{
    npu_counters_t before, after;
    npu_read_counters(&before);
    for (unsigned i = 0; i < 10 * SLOTS + 3; i++)  /* npu_next submits and waits when the ring is full */
        npu_fence();
    int err = npu_run();
    npu_read_counters(&after);
    check(mode, "83 commands through an 8-slot ring", err == NPU_ERR_NONE &&
          after.commands - before.commands == 10 * SLOTS + 3);
}

/* A command long enough (16384 rows, ~260 us modelled) that the CPU must really wait for it. */
static void long_command(const char *mode)
{
    unsigned done = npu.irq_done;
    npu_load_weights(0, src, 0, 1, 1, 1);
    npu_mvm(NPU_OP_MVM, 0, 0, 16384, 1, 1, 0, 1, 0, 4);
    int err = npu_run();
    check(mode, "long MVM waited for", err == NPU_ERR_NONE &&
          (npu.mode == NPU_WAIT_IRQ ? npu.irq_done > done : npu.irq_done == done));
}

static void bad_descriptor(const char *mode)
{
    uint32_t start = npu.tail;
    npu_dma_in(0, src, 0, 1, 16, 0, 0);
    npu_desc_t *bad = npu_dma_in(0, (const void *)0x1000, 0, 1, 16, 0, 0);  /* not DRAM */
    npu_fence();
    int err = npu_run();
    npu_error_t e;
    npu_get_error(&e);
    printf("     %s: error %s at descriptor 0x%lx after %u completed\n", mode, npu_error_name(e.code),
           (unsigned long)e.desc_addr, (unsigned)e.head);
    check(mode, "bad DMA address reported as DRAM_RANGE with its descriptor",
          err == NPU_ERR_DRAM_RANGE && e.code == NPU_ERR_DRAM_RANGE && e.desc_addr == (uintptr_t)bad &&
          e.head - start == 1);
    npu_recover();
    npu_next(0x7F);  /* unknown opcode */
    check(mode, "unknown opcode reported as OPCODE", npu_run() == NPU_ERR_OPCODE);
    npu_recover();
    round_trip(mode);
}

int main(void)
{
    if (npu_init(ring, SLOTS, NPU_WAIT_POLL)) {
        printf("FAIL no NPU\n");
        return 2;
    }
    static const char *const names[2] = {"polled", "interrupt"};
    for (int mode = NPU_WAIT_POLL; mode <= NPU_WAIT_IRQ; mode++) {
        npu_set_wait_mode((npu_wait_mode_t)mode);
        round_trip(names[mode]);
        wrap_around(names[mode]);
        long_command(names[mode]);
        bad_descriptor(names[mode]);
    }
    printf("npu_drvtest: %d/%d checks passed\n", checks - failures, checks);
    return failures ? 1 : 0;
}
