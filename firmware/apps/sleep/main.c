/* sleep: one virtual second in wfi (mtimecmp + wfi), then exit 0. */
#include "sdk.h"

int main(void)
{
    uint64_t start = clint_mtime();
    timer_sleep_until(start + TIMER_FREQ_HZ);
    uint64_t slept = clint_mtime() - start;
    printf("slept %s1 s\n", slept >= TIMER_FREQ_HZ ? ">= " : "< ");
    return slept >= TIMER_FREQ_HZ ? 0 : 1;
}
