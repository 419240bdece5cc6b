/* Start-up and trap entry for bare-metal apps on the QEMU virt platform (M-mode, hart 0).
 * QEMU `-bios none -kernel app.elf` (and npuemu) enter at _start with a0 = hartid. */

/* No linker relaxation in this file: GNU as 2.40 writes the DWARF extent of _start and trap_entry
 * (DW_AT_high_pc) as a constant, which relaxation would make too long, overlapping main and
 * confusing gdb's `next`/`step`.  CFI goes to .debug_frame with the C code's (no .eh_frame kept). */
    .option norelax; .cfi_sections .debug_frame

#if __riscv_xlen == 64
#define REG_S sd
#define REG_L ld
#define REGBYTES 8
#else
#define REG_S sw
#define REG_L lw
#define REGBYTES 4
#endif

/* struct trap_frame (include/trap.h): regs[32], mepc, mcause, mtval, mstatus, vector, pad[3] */
#define FRAME_WORDS  40
#define FRAME_SIZE   (FRAME_WORDS * REGBYTES)
#define F_MEPC       (32 * REGBYTES)
#define F_MCAUSE     (33 * REGBYTES)
#define F_MTVAL      (34 * REGBYTES)
#define F_MSTATUS    (35 * REGBYTES)
#define F_VECTOR     (36 * REGBYTES)

    .section .text.init, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    .cfi_startproc
    .cfi_undefined ra
    la      gp, __global_pointer$
    csrw    mie, zero
    csrci   mstatus, 0x8            /* MIE = 0 */
    la      t0, trap_entry
    csrw    mtvec, t0
    la      sp, __stack_top
    mv      s0, zero                /* end of the frame-pointer chain for gdb `bt` */
    bnez    a0, .Lpark              /* only hart 0 runs the app */

    /* .data is linked and loaded in place (DRAM); copy it only when its load address differs. */
    la      t0, __data_load
    la      t1, __data_start
    la      t2, __data_end
    beq     t0, t1, 2f
1:  bgeu    t1, t2, 2f
    lw      t3, 0(t0)
    sw      t3, 0(t1)
    addi    t0, t0, 4
    addi    t1, t1, 4
    j       1b
2:
    la      t0, __bss_start
    la      t1, __bss_end
3:  bgeu    t0, t1, 4f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       3b
4:
    call    sdk_init
    li      a0, 0                   /* argc */
    li      a1, 0                   /* argv */
    call    main
    call    exit                    /* finisher: 0 -> pass, else fail(code) */
.Lpark:
    wfi
    j       .Lpark
    .cfi_endproc
    .size _start, . - _start

/* Direct-mode trap entry: every trap lands here (frame->vector = -1). */
    .section .text.trap, "ax", @progbits
    .align  2
    .globl  trap_entry
    .type   trap_entry, @function
trap_entry:
    csrw    mscratch, t0
    li      t0, -1
    j       trap_common
    .size trap_entry, . - trap_entry

/* Vectored-mode table: entry i records i in frame->vector. */
    .align  8
    .globl  trap_vector_table
trap_vector_table:
    .option push
    .option norvc
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    j       .Lvec\n
    .endr
    .option pop
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
.Lvec\n:
    csrw    mscratch, t0
    li      t0, \n
    j       trap_common
    .endr

/* t0 = vector number, the interrupted t0 is in mscratch.
 * CFI: the return address is mepc (DWARF column 4096 + 0x341, GDB's CSR numbering), so debuggers
 * unwind from a handler into the interrupted code.  No .cfi_signal_frame: its "S" augmentation in
 * .debug_frame is not understood by pyelftools 0.33 (it would drop all of the ELF's CFI). */
#define DWARF_MEPC (4096 + 0x341)
trap_common:
    .cfi_startproc
    .cfi_return_column DWARF_MEPC
    addi    sp, sp, -FRAME_SIZE
    .cfi_def_cfa_offset FRAME_SIZE
    REG_S   t0, F_VECTOR(sp)
    csrr    t0, mscratch
    REG_S   t0, 5*REGBYTES(sp)
    .cfi_offset x5, 5*REGBYTES - FRAME_SIZE
    REG_S   x1, 1*REGBYTES(sp)
    .cfi_offset x1, 1*REGBYTES - FRAME_SIZE
    addi    t0, sp, FRAME_SIZE
    REG_S   t0, 2*REGBYTES(sp)      /* interrupted sp */
    REG_S   x3, 3*REGBYTES(sp)
    REG_S   x4, 4*REGBYTES(sp)
    .irp n, 6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    REG_S   x\n, \n*REGBYTES(sp)
    .cfi_offset x\n, \n*REGBYTES - FRAME_SIZE
    .endr
    csrr    t0, mepc
    REG_S   t0, F_MEPC(sp)
    .cfi_offset DWARF_MEPC, F_MEPC - FRAME_SIZE
    csrr    t0, mcause
    REG_S   t0, F_MCAUSE(sp)
    csrr    t0, mtval
    REG_S   t0, F_MTVAL(sp)
    csrr    t0, mstatus
    REG_S   t0, F_MSTATUS(sp)
    mv      a0, sp
    call    trap_dispatch
    REG_L   t0, F_MEPC(sp)
    csrw    mepc, t0
    REG_L   t0, F_MSTATUS(sp)
    csrw    mstatus, t0
    REG_L   x1, 1*REGBYTES(sp)
    REG_L   x3, 3*REGBYTES(sp)
    REG_L   x4, 4*REGBYTES(sp)
    .irp n, 5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    REG_L   x\n, \n*REGBYTES(sp)
    .endr
    REG_L   sp, 2*REGBYTES(sp)
    mret
    .cfi_endproc
    .size trap_common, . - trap_common
