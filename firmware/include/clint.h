/* CLINT: machine timer (mtime / mtimecmp, 10 MHz) and software interrupt (msip). */
#ifndef NPUEMU_CLINT_H
#define NPUEMU_CLINT_H

#include <stdint.h>

#define CLINT_MSIP      0x0000
#define CLINT_MTIMECMP  0x4000
#define CLINT_MTIME     0xBFF8

uint64_t clint_mtime(void);                /* consistent 64-bit read on rv32 too */
void clint_set_mtimecmp(uint64_t when);    /* glitch-free 64-bit write on rv32 */
uint64_t clint_mtimecmp(void);
void clint_disarm(void);                   /* mtimecmp = all ones (no timer interrupt) */
void clint_set_msip(int pending);          /* raise / clear the machine software interrupt */

/* Sleep with wfi until mtime >= deadline. Interrupts stay masked globally while sleeping (they
 * are taken after the call if mstatus.MIE was set); the timer is disarmed on return. */
void timer_sleep_until(uint64_t deadline);
void delay_ticks(uint64_t ticks);
void delay_us(uint32_t us);
void delay_ms(uint32_t ms);

#endif
