/* run_in_mode(mode, entry, arg): enter `entry` at privilege `mode` (0 U, 1 S, 3 M) with a0 = arg,
 * through mret.  Any trap that reaches M-mode ends the run: it records mcause/mepc/mtval/mstatus in
 * m_rec and returns mcause to the caller (code that finishes does `ecall`: cause 8, 9 or 11).
 * s_trap records scause/sepc/stval/sstatus in s_rec and ecalls to M (cause 9): install it in stvec
 * and delegate with medeleg to observe what S-mode sees.  u_* code lives on its own 4 KiB pages so
 * the page tables can map it for U-mode at another virtual address. */
#if __riscv_xlen == 64
#define STORE sd
#define LOAD ld
#define W 8
#else
#define STORE sw
#define LOAD lw
#define W 4
#endif
    .option norelax
    .section .text
    .globl run_in_mode
run_in_mode:
    la      t0, saved
    STORE   sp, 0(t0)
    STORE   ra, 1*W(t0)
    STORE   s0, 2*W(t0)
    STORE   s1, 3*W(t0)
    STORE   gp, 4*W(t0)
    STORE   tp, 5*W(t0)
    csrr    t1, mtvec
    STORE   t1, 6*W(t0)
    la      t1, m_trap
    csrw    mtvec, t1
    csrw    mepc, a1
    li      t1, 0x1800
    csrc    mstatus, t1
    slli    a0, a0, 11
    csrs    mstatus, a0
    mv      a0, a2
    mret

    .align 2
m_trap:
    la      t0, m_rec
    csrr    t1, mcause
    STORE   t1, 0(t0)
    csrr    t1, mepc
    STORE   t1, 1*W(t0)
    csrr    t1, mtval
    STORE   t1, 2*W(t0)
    csrr    t1, mstatus
    STORE   t1, 3*W(t0)
    STORE   a0, 4*W(t0)             /* what the code left in a0 */
    la      t0, saved
    LOAD    sp, 0(t0)
    LOAD    ra, 1*W(t0)
    LOAD    s0, 2*W(t0)
    LOAD    s1, 3*W(t0)
    LOAD    gp, 4*W(t0)
    LOAD    tp, 5*W(t0)
    LOAD    t1, 6*W(t0)
    csrw    mtvec, t1
    csrr    a0, mcause
    ret

    .globl s_trap
    .align 2
s_trap:
    la      t0, s_rec
    csrr    t1, scause
    STORE   t1, 0(t0)
    csrr    t1, sepc
    STORE   t1, 1*W(t0)
    csrr    t1, stval
    STORE   t1, 2*W(t0)
    csrr    t1, sstatus
    STORE   t1, 3*W(t0)
    ecall

/* -- small bodies run at a lower privilege ------------------------------------------------------ */
    .globl body_ecall, body_load, body_store, body_sret, body_wfi, body_satp, body_sfence
body_ecall:                         /* a0 = address to read, result in a0 */
    ecall
body_load:
    LOAD    a0, 0(a0)
    ecall
body_store:
    STORE   a0, 0(a0)
    ecall
    .globl body_amo, body_lrsc, body_tselect, body_flw, body_cfld, body_cfsd
    .option push
    .option arch, +f, +d
body_flw:                           /* FP accesses at a0 (FS must be on); c.fld/c.fsd compressed */
    flw     f0, 0(a0)
    ecall
body_cfld:
    c.fld   fs0, 0(a0)
    ecall
body_cfsd:
    c.fsd   fs0, 0(a0)
    ecall
    .option pop
body_tselect:                       /* the trigger CSRs are M-mode only */
    csrr    a0, 0x7a0
    ecall
body_amo:                           /* a0 = word to OR 0 into (read and write), old value in a0 */
    amoor.w a0, zero, (a0)
    ecall
body_lrsc:                          /* a0 = word: lr then sc of the same value, sc result in a0 */
    lr.w    t1, (a0)
    sc.w    a0, t1, (a0)
    ecall
body_sret:
    csrw    sepc, a0
    sret
body_wfi:
    wfi
    ecall
body_satp:
    csrr    a0, satp
    ecall
body_sfence:
    sfence.vma
    ecall

/* F: move a0 through f0 (needs mstatus.FS != Off).  The SDK builds for rv32imac/rv64imac, so the
 * F instructions are enabled here only. */
    .globl body_fp
body_fp:
    .option push
    .option arch, +f
    fmv.w.x f0, a0
    fmv.x.w a0, f0
    .option pop
    ecall

/* Entered in S-mode at a virtual alias of this page: sret to U at a0 (SPP = 0). */
    .globl s_alias_sret
s_alias_sret:
    csrw    sepc, a0
    li      t1, 0x100
    csrc    sstatus, t1
    .globl s_alias_sret_insn
s_alias_sret_insn:
    sret

/* U-mode code page: at VA USER_CODE_VA. u_load_store loads a0, stores a1 there, ecalls. */
    .section .text.user, "ax", @progbits
    .balign 4096
    .globl user_page
user_page:
    .globl u_load
u_load:
    LOAD    a0, 0(a0)
    ecall
    .globl u_store
u_store:
    STORE   a0, 0(a0)
    ecall
    .globl u_jump
u_jump:
    jr      a0
    .globl u_ecall
u_ecall:
    ecall
    .org 4094                       /* a 4-byte instruction straddling into the next (data) page */
    .globl u_straddle
u_straddle:
    .option push
    .option norvc
    addi    a0, a0, 1
    .option pop
    .balign 4096

    .section .bss
    .align 3
saved:  .space 8*W
    .globl m_rec, s_rec
m_rec:  .space 5*W
s_rec:  .space 4*W
