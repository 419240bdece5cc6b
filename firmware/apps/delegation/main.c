/* delegation: a U-mode ecall delegated to S-mode through medeleg, handled with stvec/scause/sepc,
 * then an ecall from S back to M.  Prints what each level saw; exits 0 when it all matched. */
#include "sdk.h"

extern void run_delegation(void);
extern uintptr_t s_seen[4], m_seen[4];
extern char u_ecall_insn[], s_ecall_insn[];

static int check(const char *what, int ok)
{
    printf("  %-34s %s\n", what, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}

int main(void)
{
    printf("delegation: rv%d\n", __riscv_xlen);
    csr_write(pmpaddr0, (uintptr_t)-1);      /* QEMU enforces PMP for S and U */
    csr_write(pmpcfg0, PMP_NAPOT | PMP_R | PMP_W | PMP_X);
    run_delegation();
    printf("S saw scause=%lu sepc-u_ecall_insn=%ld stval=0x%lx SPP=%lu\n", (unsigned long)s_seen[0],
           (long)(s_seen[1] - (uintptr_t)u_ecall_insn), (unsigned long)s_seen[2],
           (unsigned long)((s_seen[3] >> 8) & 1));
    printf("M saw mcause=%lu mepc-s_ecall_insn=%ld MPP=%lu\n", (unsigned long)m_seen[0],
           (long)(m_seen[1] - (uintptr_t)s_ecall_insn), (unsigned long)((m_seen[3] >> 11) & 3));
    int failures = 0;
    failures += check("U ecall delegated to S (cause 8)", s_seen[0] == 8);
    failures += check("sepc = the U ecall", s_seen[1] == (uintptr_t)u_ecall_insn);
    failures += check("SPP = U", ((s_seen[3] >> 8) & 1) == 0);
    failures += check("S ecall to M (cause 9)", m_seen[0] == 9);
    failures += check("mepc = the S ecall", m_seen[1] == (uintptr_t)s_ecall_insn);
    failures += check("MPP = S", ((m_seen[3] >> 11) & 3) == 1);
    printf("delegation: %d failures\n", failures);
    return failures;
}
