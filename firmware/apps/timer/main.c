/* timer: N periodic machine-timer interrupts (mtimecmp re-armed in the handler, wfi in between),
 * then one virtual second of sleep. */
#include "sdk.h"

#define TICKS          5
#define PERIOD_TICKS   (TIMER_FREQ_HZ / 100)   /* 10 ms */

static volatile unsigned ticks;
static uint64_t next_deadline;

static void timer_handler(struct trap_frame *frame)
{
    (void)frame;
    ticks++;
    if (ticks < TICKS) {
        next_deadline += PERIOD_TICKS;
        clint_set_mtimecmp(next_deadline);
    } else {
        clint_disarm();
    }
}

int main(void)
{
    printf("timer: %d interrupts every %lu ticks\n", TICKS, (unsigned long)PERIOD_TICKS);
    trap_set_interrupt_handler(IRQ_M_TIMER, timer_handler);
    uint64_t start = clint_mtime();
    next_deadline = start + PERIOD_TICKS;
    clint_set_mtimecmp(next_deadline);
    csr_set(mie, MIE_MTIE);

    /* Interrupts stay masked except inside irq_wait(), so a tick cannot slip in between the
     * check and the wfi. */
    unsigned seen = 0;
    while (seen < TICKS) {
        if (ticks == seen)
            irq_wait();
        for (; seen < ticks; seen++) {
            uint64_t late = clint_mtime() - start;
            printf("tick %u: %s\n", seen + 1, late >= (seen + 1) * PERIOD_TICKS ? "on time" : "EARLY");
        }
    }
    irq_global_disable();
    csr_clear(mie, MIE_MTIE);
    trap_set_interrupt_handler(IRQ_M_TIMER, 0);

    uint64_t before = clint_mtime();
    timer_sleep_until(before + TIMER_FREQ_HZ);
    uint64_t slept = clint_mtime() - before;
    printf("slept 1 s: %s\n", slept >= TIMER_FREQ_HZ ? "ok" : "too short");
    printf("timer: %u interrupts\n", ticks);
    return (ticks == TICKS && slept >= TIMER_FREQ_HZ) ? 0 : 1;
}
