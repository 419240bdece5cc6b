/* Instructions that trap, each at a global label so main.c can check mepc exactly.
 * Uncompressed (norvc) so that mtval of the illegal ones holds the full instruction bits. */
    .option norvc
    .text

    .globl do_ecall_m
do_ecall_m:
    .globl ecall_m_insn
ecall_m_insn:
    ecall
    ret

    .globl do_ebreak
do_ebreak:
    .globl ebreak_insn
ebreak_insn:
    ebreak                  /* no slli/srai around it: not a semihosting call */
    ret

    .globl do_illegal_csr
do_illegal_csr:
    .globl illegal_csr_insn
illegal_csr_insn:
    csrr    t0, 0x7ff       /* unimplemented CSR: 0x7ff022f3 */
    ret

    .globl do_illegal_word
do_illegal_word:
    .globl illegal_word_insn
illegal_word_insn:
    .word   0xffffffff
    ret

    /* a0 = address */
    .globl do_load
do_load:
    .globl load_insn
load_insn:
    lw      a0, 0(a0)
    ret

    .globl do_store
do_store:
    .globl store_insn
store_insn:
    sw      zero, 0(a0)
    ret

    /* a0 = address to jump to; the handler resumes at ra */
    .globl do_jump
do_jump:
    addi    sp, sp, -16
#if __riscv_xlen == 64
    sd      ra, 8(sp)
#else
    sw      ra, 12(sp)
#endif
    jalr    ra, 0(a0)
#if __riscv_xlen == 64
    ld      ra, 8(sp)
#else
    lw      ra, 12(sp)
#endif
    addi    sp, sp, 16
    ret

    /* run_user(fn): mret to U-mode at user_trampoline, which calls fn (a0) and then returns to
     * M-mode with `ecall` (a7 = USER_EXIT); the ECALL_U handler resumes at user_return in M-mode. */
    .globl run_user
run_user:
    addi    sp, sp, -16
#if __riscv_xlen == 64
    sd      ra, 8(sp)
    sd      s1, 0(sp)
#else
    sw      ra, 12(sp)
    sw      s1, 8(sp)
#endif
    mv      s1, a0
    la      t0, user_trampoline
    csrw    mepc, t0
    li      t0, 0x1800      /* MPP = U */
    csrc    mstatus, t0
    mret
user_trampoline:
    jalr    ra, 0(s1)
    li      a7, 0x5e5e      /* USER_EXIT */
    .globl user_exit_insn
user_exit_insn:
    ecall
1:  j       1b              /* not reached */
    .globl user_return
user_return:
#if __riscv_xlen == 64
    ld      s1, 0(sp)
    ld      ra, 8(sp)
#else
    lw      s1, 8(sp)
    lw      ra, 12(sp)
#endif
    addi    sp, sp, 16
    ret

    /* Called in U-mode: an ecall with a7 = 1. */
    .globl user_syscall
user_syscall:
    li      a7, 1
    .globl ecall_u_insn
ecall_u_insn:
    ecall
    ret
