/* M -> S -> U and back: a U-mode ecall delegated to S (medeleg), then an S-mode ecall to M.
 * The handlers record what they saw in globals for main.c to print. Uses its own mtvec. */
#if __riscv_xlen == 64
#define STORE sd
#define W 8
#else
#define STORE sw
#define W 4
#endif
    .section .text
    .globl run_delegation
run_delegation:
    /* M-mode: remember where to come back, install our handlers, enter S at s_entry. */
    la      t0, saved_sp
    STORE   sp, 0(t0)
    STORE   ra, W(t0)
    csrr    t1, mtvec
    STORE   t1, 2*W(t0)
    la      t0, m_trap
    csrw    mtvec, t0
    la      t0, s_trap
    csrw    stvec, t0
    li      t0, (1 << 8)            /* delegate ecall from U to S */
    csrw    medeleg, t0
    la      t0, s_entry
    csrw    mepc, t0
    li      t0, 0x1800
    csrc    mstatus, t0
    li      t0, 0x0800              /* MPP = S */
    csrs    mstatus, t0
    mret
s_entry:
    la      t0, u_entry
    csrw    sepc, t0
    li      t0, 0x100               /* SPP = U */
    csrc    sstatus, t0
    sret
u_entry:
    li      a7, 42
    .globl u_ecall_insn
u_ecall_insn:
    ecall
1:  j       1b
    .align 2
s_trap:
    la      t0, s_seen
    csrr    t1, scause
    STORE   t1, 0(t0)
    csrr    t1, sepc
    STORE   t1, W(t0)
    csrr    t1, stval
    STORE   t1, 2*W(t0)
    csrr    t1, sstatus
    STORE   t1, 3*W(t0)
    .globl s_ecall_insn
s_ecall_insn:
    ecall
2:  j       2b
    .align 2
m_trap:
    la      t0, m_seen
    csrr    t1, mcause
    STORE   t1, 0(t0)
    csrr    t1, mepc
    STORE   t1, W(t0)
    csrr    t1, mstatus
    STORE   t1, 3*W(t0)
    csrw    medeleg, zero
    la      t0, saved_sp
#if __riscv_xlen == 64
    ld      sp, 0(t0)
    ld      ra, 8(t0)
    ld      t1, 16(t0)
#else
    lw      sp, 0(t0)
    lw      ra, 4(t0)
    lw      t1, 8(t0)
#endif
    csrw    mtvec, t1
    la      t0, back_in_m
    csrw    mepc, t0
    li      t0, 0x1800              /* MPP = M */
    csrs    mstatus, t0
    mret
back_in_m:
    ret

    .section .bss
    .align 3
saved_sp:   .space 3*W
    .globl s_seen, m_seen
s_seen:     .space 4*W
m_seen:     .space 4*W
