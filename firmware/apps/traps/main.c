/* traps: every synchronous exception the platform raises, a vectored software interrupt, and a
 * round trip to U-mode. Prints cause, mepc (relative to the faulting label) and mtval for each,
 * checks them against what QEMU 7.2 does, and exits 0 when everything matched. */
#include "sdk.h"

#define UNMAPPED   0x00010000UL
#define USER_EXIT  0x5e5e

/* faults.S */
extern void do_ecall_m(void), do_ebreak(void), do_illegal_csr(void), do_illegal_word(void);
extern unsigned do_load(uintptr_t addr);
extern void do_store(uintptr_t addr), do_jump(uintptr_t addr), run_user(void (*fn)(void));
extern uintptr_t user_syscall(void);
extern char ecall_m_insn[], ebreak_insn[], illegal_csr_insn[], illegal_word_insn[], load_insn[],
    store_insn[], ecall_u_insn[], user_exit_insn[], user_return[];

static struct trap_frame last;   /* copy of the frame of the last trap */
static volatile unsigned traps_taken;
static unsigned failures;

#define MAX_TRAPS 20   /* more than this means a trap loop: stop instead of storming */

static void record(struct trap_frame *f)
{
    last = *f;
    traps_taken++;
    if (traps_taken > MAX_TRAPS) {
        printf("traps: trap loop: mcause=0x%lx mepc=0x%lx mtval=0x%lx\n", (unsigned long)f->mcause,
               (unsigned long)f->mepc, (unsigned long)f->mtval);
        exit(2);
    }
}

/* Exceptions we resume from by skipping the faulting instruction. */
static void skip_handler(struct trap_frame *f)
{
    record(f);
    f->mepc += 4;
}

/* Instruction fetch fault: the faulting address is not executable, resume at the caller. A fault
 * anywhere else is unexpected: end the test. */
static void fetch_handler(struct trap_frame *f)
{
    record(f);
    if (f->mepc != UNMAPPED) {
        printf("traps: unexpected instruction access fault at 0x%lx (mtval 0x%lx)\n", (unsigned long)f->mepc,
               (unsigned long)f->mtval);
        exit(3);
    }
    f->mepc = f->regs[1];
}

static unsigned user_calls;

static void ecall_u_handler(struct trap_frame *f)
{
    if (f->regs[17] == USER_EXIT) {            /* back to M-mode at user_return */
        f->mepc = (uintptr_t)user_return;
        f->mstatus = (f->mstatus & ~MSTATUS_MPP) | ((uintptr_t)PRV_M << MSTATUS_MPP_SHIFT);
        return;
    }
    record(f);
    user_calls++;
    f->regs[10] = 0x600d;                       /* a0: the "syscall" result */
    f->mepc += 4;
}

static unsigned mpp(uintptr_t mstatus) { return (mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT; }
static unsigned mpie(uintptr_t mstatus) { return (mstatus & MSTATUS_MPIE) ? 1 : 0; }

static void check(const char *name, int ok)
{
    printf("  %-28s %s\n", name, ok ? "ok" : "FAIL");
    if (!ok)
        failures++;
}

/* Print the trap as "cause mepc mtval" with mepc relative to `label` (NULL: absolute). */
static void report(const char *what, const char *label_name, const char *label)
{
    printf("%s: cause=%lu (%s) mepc=", what, (unsigned long)last.mcause, trap_cause_name(last.mcause));
    if (label)
        printf("%s+%ld", label_name, (long)(last.mepc - (uintptr_t)label));
    else
        printf("0x%lx", (unsigned long)last.mepc);
    printf(" mtval=0x%lx MPP=%u MPIE=%u\n", (unsigned long)last.mtval, mpp(last.mstatus), mpie(last.mstatus));
}

static void expect(const char *what, unsigned before, uintptr_t cause, uintptr_t mepc, uintptr_t mtval,
                   unsigned want_mpp)
{
    check(what, traps_taken == before + 1 && last.mcause == cause && last.mepc == mepc &&
                    last.mtval == mtval && mpp(last.mstatus) == want_mpp);
}

static volatile unsigned msip_taken;
static volatile intptr_t msip_vector = -2;
static volatile uintptr_t msip_cause, msip_mstatus;

static void msip_handler(struct trap_frame *f)
{
    clint_set_msip(0);
    msip_vector = f->vector;
    msip_cause = f->mcause;
    msip_mstatus = f->mstatus;
    msip_taken++;
}

static volatile uintptr_t user_result;

static void user_main(void)
{
    /* Runs in U-mode: one system call, which the M-mode handler answers in a0. */
    user_result = user_syscall();
}

int main(void)
{
    unsigned n;
    printf("traps: rv%d\n", XLEN);
    trap_set_exception_handler(CAUSE_ECALL_M, skip_handler);
    trap_set_exception_handler(CAUSE_BREAKPOINT, skip_handler);
    trap_set_exception_handler(CAUSE_ILLEGAL_INSN, skip_handler);
    trap_set_exception_handler(CAUSE_LOAD_ACCESS, skip_handler);
    trap_set_exception_handler(CAUSE_STORE_ACCESS, skip_handler);
    trap_set_exception_handler(CAUSE_FETCH_ACCESS, fetch_handler);
    trap_set_exception_handler(CAUSE_ECALL_U, ecall_u_handler);

    n = traps_taken;
    do_ecall_m();
    report("ecall from M", "ecall_m_insn", ecall_m_insn);
    expect("ecall from M", n, CAUSE_ECALL_M, (uintptr_t)ecall_m_insn, 0, PRV_M);
    check("ecall from M: MPIE=0", mpie(last.mstatus) == 0);

    n = traps_taken;
    do_ebreak();
    report("ebreak", "ebreak_insn", ebreak_insn);
    expect("ebreak", n, CAUSE_BREAKPOINT, (uintptr_t)ebreak_insn, 0, PRV_M);

    n = traps_taken;
    do_illegal_csr();
    report("illegal csr 0x7ff", "illegal_csr_insn", illegal_csr_insn);
    expect("illegal csr 0x7ff", n, CAUSE_ILLEGAL_INSN, (uintptr_t)illegal_csr_insn, 0x7ff022f3, PRV_M);

    n = traps_taken;
    do_illegal_word();
    report("illegal .word 0xffffffff", "illegal_word_insn", illegal_word_insn);
    expect("illegal .word 0xffffffff", n, CAUSE_ILLEGAL_INSN, (uintptr_t)illegal_word_insn, 0xffffffff, PRV_M);

    n = traps_taken;
    (void)do_load(UNMAPPED);
    report("load 0x10000", "load_insn", load_insn);
    expect("load access fault", n, CAUSE_LOAD_ACCESS, (uintptr_t)load_insn, UNMAPPED, PRV_M);

    n = traps_taken;
    do_store(UNMAPPED);
    report("store 0x10000", "store_insn", store_insn);
    expect("store access fault", n, CAUSE_STORE_ACCESS, (uintptr_t)store_insn, UNMAPPED, PRV_M);

    n = traps_taken;
    do_jump(UNMAPPED);
    report("jump to 0x10000", NULL, NULL);
    expect("instruction access fault", n, CAUSE_FETCH_ACCESS, UNMAPPED, UNMAPPED, PRV_M);

    /* U-mode: QEMU enforces PMP, so open all memory to U (pmpaddr0 = all ones, NAPOT, RWX). */
    csr_write(pmpaddr0, (uintptr_t)-1);
    csr_write(pmpcfg0, PMP_NAPOT | PMP_R | PMP_W | PMP_X);
    n = traps_taken;
    run_user(user_main);
    report("ecall from U", "ecall_u_insn", ecall_u_insn);
    expect("ecall from U", n, CAUSE_ECALL_U, (uintptr_t)ecall_u_insn, 0, PRV_U);
    printf("user syscall result: 0x%lx\n", (unsigned long)user_result);
    check("syscall answered", user_calls == 1 && user_result == 0x600d);
    /* Back in M-mode: an M-only CSR is accessible without a trap (mret left MPP = U). */
    n = traps_taken;
    csr_write(mscratch, 0x1234);
    check("back in M-mode", traps_taken == n && csr_read(mscratch) == 0x1234 && mpp(csr_read(mstatus)) == PRV_U);

    /* Vectored mtvec, machine software interrupt through CLINT msip. */
    trap_use_vectored(1);
    trap_set_interrupt_handler(IRQ_M_SOFT, msip_handler);
    csr_set(mie, MIE_MSIE);
    irq_global_enable();
    clint_set_msip(1);
    for (unsigned spins = 0; !msip_taken && spins < 1000000; spins++)
        ;
    irq_global_disable();
    csr_clear(mie, MIE_MSIE);
    trap_use_vectored(0);
    printf("msip: taken=%u cause=0x%lx vector=%ld MPP=%u MPIE=%u\n", msip_taken, (unsigned long)msip_cause,
           (long)msip_vector, mpp(msip_mstatus), mpie(msip_mstatus));
    check("software interrupt (vectored)", msip_taken == 1 && msip_cause == (MCAUSE_INTERRUPT | IRQ_M_SOFT) &&
                                               msip_vector == IRQ_M_SOFT && mpp(msip_mstatus) == PRV_M &&
                                               mpie(msip_mstatus) == 1);

    printf("traps: %u traps, %u failures\n", traps_taken, failures);
    return failures ? 1 : 0;
}
