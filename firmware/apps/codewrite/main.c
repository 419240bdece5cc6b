/* codewrite: code rewritten behind the CPU's back must run as rewritten after fence.i (issue 17
 * N1). f() runs first (so it is translated), then its bytes are replaced by g's through the NPU
 * (DMA_IN + DMA_OUT) and by h's through semihosting (SYS_WRITE to a host file, SYS_READ back over
 * f); after each, fence.i and a call of f must see the new code. Needs --semihost-root. */
#include "sdk.h"
#include "npu.h"

#define CODE_BYTES 16u

int f_code(void);
int g_code(void);
int h_code(void);

static npu_desc_t ring[4] __attribute__((aligned(64)));

static long semihost(long op, void *arg)
{
    register long a0 __asm__("a0") = op;
    register void *a1 __asm__("a1") = arg;
    __asm__ volatile(".option push\n.option norvc\n.balign 16\n"
                     "slli x0, x0, 0x1f\nebreak\nsrai x0, x0, 7\n.option pop"
                     : "+r"(a0) : "r"(a1) : "memory");
    return a0;
}

static long host_file(const char *name, long mode)
{
    long args[3] = {(long)name, mode, 8};  /* SYS_OPEN {name, fopen mode index, strlen} */
    return semihost(0x01, args);
}

static int rewrite_by_semihosting(void)
{
    long fd = host_file("code.bin", 4);  /* "w" */
    long wr[3] = {fd, (long)h_code, CODE_BYTES};
    if (fd < 0 || semihost(0x05, wr) != 0 || semihost(0x02, &fd) != 0)
        return -1;
    fd = host_file("code.bin", 1);  /* "rb" */
    long rd[3] = {fd, (long)f_code, CODE_BYTES};
    if (fd < 0 || semihost(0x06, rd) != 0)  /* SYS_READ returns the bytes NOT read */
        return -1;
    semihost(0x02, &fd);
    return 0;
}

int main(void)
{
    int before = f_code();
    npu_init(ring, 4, NPU_WAIT_POLL);
    npu_dma_in(0, (const void *)g_code, 0, 1, CODE_BYTES, 0, 0);
    npu_dma_out(0, (void *)f_code, 0, 1, CODE_BYTES, 0, 0);
    int err = npu_run();
    __asm__ volatile("fence.i" ::: "memory");
    int by_npu = f_code();
    printf("npu dma: f() = %d, then %d (error %d)\n", before, by_npu, err);

    int sh = rewrite_by_semihosting();
    __asm__ volatile("fence.i" ::: "memory");
    int by_semihosting = f_code();
    printf("semihosting read: f() = %d (status %d)\n", by_semihosting, sh);
    return before == 1 && by_npu == 2 && by_semihosting == 3 && err == 0 && sh == 0 ? 0 : 1;
}
