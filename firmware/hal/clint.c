/* CLINT timer and software interrupt for hart 0. */
#include "clint.h"

#include "csr.h"
#include "platform.h"

#define MTIME    ((volatile uint32_t *)(CLINT_BASE + CLINT_MTIME))
#define MTIMECMP ((volatile uint32_t *)(CLINT_BASE + CLINT_MTIMECMP))
#define MSIP     ((volatile uint32_t *)(CLINT_BASE + CLINT_MSIP))

uint64_t clint_mtime(void)
{
#if __riscv_xlen == 64
    return *(volatile uint64_t *)MTIME;
#else
    uint32_t hi, lo;
    do {  /* re-read when the low word wrapped between the two reads */
        hi = MTIME[1];
        lo = MTIME[0];
    } while (hi != MTIME[1]);
    return ((uint64_t)hi << 32) | lo;
#endif
}

void clint_set_mtimecmp(uint64_t when)
{
#if __riscv_xlen == 64
    *(volatile uint64_t *)MTIMECMP = when;
#else
    MTIMECMP[1] = 0xffffffffu;  /* no spurious interrupt while the halves disagree */
    MTIMECMP[0] = (uint32_t)when;
    MTIMECMP[1] = (uint32_t)(when >> 32);
#endif
}

uint64_t clint_mtimecmp(void)
{
#if __riscv_xlen == 64
    return *(volatile uint64_t *)MTIMECMP;
#else
    return ((uint64_t)MTIMECMP[1] << 32) | MTIMECMP[0];
#endif
}

void clint_disarm(void) { clint_set_mtimecmp(UINT64_MAX); }

void clint_set_msip(int pending) { *MSIP = pending ? 1u : 0u; }

void timer_sleep_until(uint64_t deadline)
{
    uintptr_t irq = irq_save();
    uintptr_t mtie_was = csr_read_set(mie, MIE_MTIE) & MIE_MTIE;
    clint_set_mtimecmp(deadline);
    while (clint_mtime() < deadline)
        wfi();  /* wakes on the pending MTIP even with mstatus.MIE = 0 */
    clint_disarm();
    if (!mtie_was)
        csr_clear(mie, MIE_MTIE);
    irq_restore(irq);
}

void delay_ticks(uint64_t ticks) { timer_sleep_until(clint_mtime() + ticks); }
void delay_us(uint32_t us) { delay_ticks((uint64_t)us * (TIMER_FREQ_HZ / 1000000)); }
void delay_ms(uint32_t ms) { delay_ticks((uint64_t)ms * (TIMER_FREQ_HZ / 1000)); }
