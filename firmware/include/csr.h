/* CSR access macros and the machine-mode bit definitions the SDK uses. */
#ifndef NPUEMU_CSR_H
#define NPUEMU_CSR_H

#include <stdint.h>

#define CSR_STR_(x) #x
#define CSR_STR(x)  CSR_STR_(x)

/* `csr` is a CSR name (mstatus) or number (0x300). All values are XLEN wide (uintptr_t). */
#define csr_read(csr) ({ uintptr_t v_; __asm__ volatile("csrr %0, " CSR_STR(csr) : "=r"(v_)); v_; })
#define csr_write(csr, val) ({ __asm__ volatile("csrw " CSR_STR(csr) ", %0" :: "rK"((uintptr_t)(val)) : "memory"); })
#define csr_swap(csr, val) ({ uintptr_t v_; __asm__ volatile("csrrw %0, " CSR_STR(csr) ", %1" \
                              : "=r"(v_) : "rK"((uintptr_t)(val)) : "memory"); v_; })
#define csr_set(csr, bits) ({ __asm__ volatile("csrs " CSR_STR(csr) ", %0" :: "rK"((uintptr_t)(bits)) : "memory"); })
#define csr_clear(csr, bits) ({ __asm__ volatile("csrc " CSR_STR(csr) ", %0" :: "rK"((uintptr_t)(bits)) : "memory"); })
#define csr_read_set(csr, bits) ({ uintptr_t v_; __asm__ volatile("csrrs %0, " CSR_STR(csr) ", %1" \
                                   : "=r"(v_) : "rK"((uintptr_t)(bits)) : "memory"); v_; })
#define csr_read_clear(csr, bits) ({ uintptr_t v_; __asm__ volatile("csrrc %0, " CSR_STR(csr) ", %1" \
                                     : "=r"(v_) : "rK"((uintptr_t)(bits)) : "memory"); v_; })

#define XLEN (__riscv_xlen)

/* mstatus */
#define MSTATUS_MIE        (1UL << 3)
#define MSTATUS_MPIE       (1UL << 7)
#define MSTATUS_MPP_SHIFT  11
#define MSTATUS_MPP        (3UL << MSTATUS_MPP_SHIFT)
#define MSTATUS_MPRV       (1UL << 17)
#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

/* mie / mip */
#define MIP_MSIP  (1UL << 3)
#define MIP_MTIP  (1UL << 7)
#define MIP_MEIP  (1UL << 11)
#define MIE_MSIE  MIP_MSIP
#define MIE_MTIE  MIP_MTIP
#define MIE_MEIE  MIP_MEIP

/* mtvec */
#define MTVEC_DIRECT   0UL
#define MTVEC_VECTORED 1UL

/* mcause */
#define MCAUSE_INTERRUPT   (1UL << (__riscv_xlen - 1))
#define MCAUSE_CODE(c)     ((c) & ~MCAUSE_INTERRUPT)

#define CAUSE_MISALIGNED_FETCH   0
#define CAUSE_FETCH_ACCESS       1
#define CAUSE_ILLEGAL_INSN       2
#define CAUSE_BREAKPOINT         3
#define CAUSE_MISALIGNED_LOAD    4
#define CAUSE_LOAD_ACCESS        5
#define CAUSE_MISALIGNED_STORE   6
#define CAUSE_STORE_ACCESS       7
#define CAUSE_ECALL_U            8
#define CAUSE_ECALL_S            9
#define CAUSE_ECALL_M           11
#define CAUSE_FETCH_PAGE_FAULT  12
#define CAUSE_LOAD_PAGE_FAULT   13
#define CAUSE_STORE_PAGE_FAULT  15
#define TRAP_NUM_EXCEPTIONS     16

#define IRQ_M_SOFT   3
#define IRQ_M_TIMER  7
#define IRQ_M_EXT   11
#define TRAP_NUM_INTERRUPTS 16

/* PMP */
#define PMP_R      0x01
#define PMP_W      0x02
#define PMP_X      0x04
#define PMP_NAPOT  0x18

static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

/* Global machine-mode interrupt enable (mstatus.MIE); irq_save returns the old state for irq_restore. */
static inline void irq_global_enable(void) { csr_set(mstatus, MSTATUS_MIE); }
static inline void irq_global_disable(void) { csr_clear(mstatus, MSTATUS_MIE); }
static inline uintptr_t irq_save(void) { return csr_read_clear(mstatus, MSTATUS_MIE) & MSTATUS_MIE; }
static inline void irq_restore(uintptr_t state) { csr_set(mstatus, state); }

/* Wait for interrupts without the lost-wake-up race. Call with mstatus.MIE clear, after checking
 * the condition you wait for: wfi (a pending enabled interrupt wakes it even while masked), then
 * unmask so the pending handlers run, and mask again. Loop: while (!done) irq_wait(); */
static inline void irq_wait(void)
{
    wfi();
    irq_global_enable();
    irq_global_disable();
}

#endif
