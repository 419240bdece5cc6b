/* npu_race: a driver bug strict completion catches. A DMA round trip through the NPU whose
 * output is read before the command completed when `wait_first` is 0 (the bug: on hardware the
 * read returns stale bytes), and after npu_wait() when it is 1. Under strict completion
 * (--npu-strict, npuemu debug, the test fixtures) the buggy read is reported with the PC of the
 * load and the descriptor; tests/npu/test_strict.py drives both variants. */
#include "sdk.h"
#include "npu.h"
#include "string.h"

#define SLOTS 8u
#define BYTES 4096u

static npu_desc_t ring[SLOTS] __attribute__((aligned(64)));
static uint8_t src[BYTES] __attribute__((aligned(64)));
static uint8_t dst[BYTES] __attribute__((aligned(64)));
volatile uint32_t wait_first = 0;  /* the test sets 1 for the fixed driver */

int main(void)
{
    if (npu_init(ring, SLOTS, NPU_WAIT_POLL)) {
        printf("FAIL no NPU\n");
        return 2;
    }
    for (unsigned i = 0; i < BYTES; i++)
        src[i] = (uint8_t)(i * 5 + 1);
    memset(dst, 0, sizeof dst);
    npu_dma_in(0, src, 0, 1, BYTES, 0, 0);
    npu_dma_out(0, dst, 0, 1, BYTES, 0, 0);
    npu_submit();
    if (wait_first && npu_wait() != NPU_ERR_NONE)
        return 3;
    uint32_t sum = 0;
    for (unsigned i = 0; i < BYTES; i++)  /* the read: before completion unless wait_first */
        sum += dst[i];
    if (!wait_first)
        npu_wait();
    uint32_t expected = 0;
    for (unsigned i = 0; i < BYTES; i++)
        expected += (uint8_t)(i * 5 + 1);
    printf("npu_race: %s, checksum %lu (expected %lu)\n", wait_first ? "waited" : "did not wait",
           (unsigned long)sum, (unsigned long)expected);
    return sum == expected ? 0 : 1;
}
