/* priv_spec: the privileged architecture as the spec (and QEMU 7.2) defines it, checked line by line
 * against qemu-system-riscv32/64 by tests/platform/test_priv_spec.py.  Each line starts with a tag
 * naming the feature it shows, so a difference points at one feature:
 *   [pmp-tor] [pmp-deny] [pmp-mtval] [vm] [vm-stval] [satp] [deleg] [fpu] [uxl] [sdtrig] [counters] [tvm] [tsr] [pmp-napot] [tw]
 * ([pmp-mtval] and [vm-stval] are the trap values of the faults [pmp-deny] and [vm] show.)
 * Code runs at U/S through run_in_mode() (harness.S); any trap into M ends that run and is printed. */
#include "sdk.h"

typedef uintptr_t uxl_t;
struct m_record { uxl_t cause, epc, tval, status, a0; };
struct s_record { uxl_t cause, epc, tval, status; };
extern struct m_record m_rec;
extern struct s_record s_rec;
extern uxl_t run_in_mode(unsigned mode, const void *entry, uxl_t arg);
extern char body_fp[];
extern char body_amo[], body_lrsc[], body_tselect[], body_flw[], body_cfld[], body_cfsd[];
extern char body_ecall[], body_load[], body_store[], body_sret[], body_wfi[], body_satp[], body_sfence[];
extern char s_trap[], s_alias_sret[], user_page[], u_load[], u_store[], u_jump[], u_ecall[], u_straddle[];

#define PMP_TOR   0x08
#define PMP_RWX   (PMP_R | PMP_W | PMP_X)
#define MSTATUS_TVM (1UL << 20)
#define MSTATUS_TW  (1UL << 21)
#define MSTATUS_TSR (1UL << 22)
#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_A 0x40
#define PTE_D 0x80
#define USER_VA     0x400000UL      /* U code page; +0x1000 data (A/D clear); +0x2000 read-only; +0x3000 unmapped */
#define ALIAS_VA    0xC0000000UL    /* S-only alias of DRAM */
#define DRAM        0x80000000UL

static uint8_t denied_page[4096] __attribute__((aligned(4096)));
static uxl_t user_data[512] __attribute__((aligned(4096)));
static uxl_t user_ro[512] __attribute__((aligned(4096)));
static uxl_t value = 0x1234;
#if __riscv_xlen == 64
static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l0[512] __attribute__((aligned(4096)));
static uint64_t root48[512] __attribute__((aligned(4096)));  /* Sv48: one more level above root */
#define SATP_ON(root) ((8UL << 60) | ((uxl_t)(root) >> 12))
#else
static uint32_t root[1024] __attribute__((aligned(4096)));
static uint32_t l0[1024] __attribute__((aligned(4096)));
#define SATP_ON(root) ((1UL << 31) | ((uxl_t)(root) >> 12))
#endif

static const char *cause_name(uxl_t cause) { return trap_cause_name(cause); }

/* One run at `mode`; prints what M saw as `[tag] what: mcause=.. (name) mepc=.. a0=..`, and mtval
 * on a line of its own tagged `tval_tag` (or on the same line when tval_tag is NULL). */
static void show_run_tval(const char *tag, const char *tval_tag, const char *what, unsigned mode,
                          const void *entry, uxl_t arg)
{
    uxl_t cause = run_in_mode(mode, entry, arg);
    printf("[%s] %s: mcause=%lu (%s) mepc=0x%lx a0=0x%lx", tag, what, (unsigned long)cause, cause_name(cause),
           (unsigned long)m_rec.epc, (unsigned long)m_rec.a0);
    if (tval_tag)
        printf("\n[%s] %s: mtval=0x%lx\n", tval_tag, what, (unsigned long)m_rec.tval);
    else
        printf(" mtval=0x%lx\n", (unsigned long)m_rec.tval);
}

static void show_run(const char *tag, const char *what, unsigned mode, const void *entry, uxl_t arg)
{
    show_run_tval(tag, NULL, what, mode, entry, arg);
}

static void show_s(const char *tag, const char *what)
{
    printf("[%s] %s: S saw scause=%lu (%s) sepc=0x%lx SPP=%lu; M saw mcause=%lu\n", tag, what,
           (unsigned long)s_rec.cause, cause_name(s_rec.cause), (unsigned long)s_rec.epc,
           (unsigned long)((s_rec.status >> 8) & 1), (unsigned long)m_rec.cause);
    printf("[%s-stval] %s: stval=0x%lx\n", tag, what, (unsigned long)s_rec.tval);
}

static void pmp_off(void)
{
    csr_write(pmpcfg0, 0);
#if __riscv_xlen == 32
    csr_write(pmpcfg1, 0);
#endif
}

static void pmp_tor_all(void)
{
    pmp_off();
    csr_write(pmpaddr0, (uxl_t)-1);
    csr_write(pmpcfg0, PMP_TOR | PMP_RWX);
}

/* -- PMP ------------------------------------------------------------------------------------------ */
static void test_pmp_full(const char *tag)
{
    show_run(tag, "U load", PRV_U, body_load, (uxl_t)&value);
    show_run(tag, "S load", PRV_S, body_load, (uxl_t)&value);
    show_run(tag, "U store", PRV_U, body_store, (uxl_t)&user_data[3]);
    printf("[%s] pmpcfg0=0x%lx pmpaddr0=0x%lx\n", tag, (unsigned long)csr_read(pmpcfg0),
           (unsigned long)csr_read(pmpaddr0));
}

static void test_pmp_deny(void)
{
    uxl_t page = (uxl_t)denied_page;
    pmp_off();
    csr_write(pmpaddr0, page >> 2);               /* [0, page)           RWX */
    csr_write(pmpaddr1, (page + 4096) >> 2);      /* [page, page + 4K)   nothing */
    csr_write(pmpaddr2, (uxl_t)-1);               /* [page + 4K, top)    RWX */
    csr_write(pmpcfg0, (PMP_TOR | PMP_RWX) | (PMP_TOR << 8) | ((uxl_t)(PMP_TOR | PMP_RWX) << 16));
    denied_page[8] = 0x5a;
    printf("[pmp-deny] page at 0x%lx\n", (unsigned long)page);
    show_run_tval("pmp-deny", "pmp-mtval", "U load", PRV_U, body_load, page + 8);
    show_run_tval("pmp-deny", "pmp-mtval", "U store", PRV_U, body_store, page + 16);
    show_run_tval("pmp-deny", "pmp-mtval", "S load", PRV_S, body_load, page + 8);
    show_run("pmp-deny", "M load (not locked)", PRV_M, body_load, page + 8);
    show_run_tval("pmp-deny", "pmp-mtval", "U fetch", PRV_U, u_jump, page);
    show_run("pmp-deny", "U load beside", PRV_U, body_load, (uxl_t)&value);
    pmp_tor_all();
}

/* -- virtual memory ------------------------------------------------------------------------------ */
static uxl_t leaf(uxl_t pa, unsigned flags) { return ((pa >> 12) << 10) | flags; }
static uxl_t *user_data_pte;

static void build_page_tables(void)
{
#if __riscv_xlen == 64
    root[2] = leaf(DRAM, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);        /* 1 GiB identity */
    root[3] = leaf(DRAM, PTE_V | PTE_R | PTE_X | PTE_A);                         /* alias at 0xC0000000 */
    root[0] = leaf((uxl_t)l1, PTE_V);
    l1[2] = leaf((uxl_t)l0, PTE_V);                                              /* VA 0x400000 */
#else
    root[0x200] = leaf(DRAM, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);     /* 4 MiB identity */
    root[0x201] = leaf(DRAM + (4UL << 20), PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
    root[0x300] = leaf(DRAM, PTE_V | PTE_R | PTE_X | PTE_A);                     /* alias at 0xC0000000 */
    root[1] = leaf((uxl_t)l0, PTE_V);                                            /* VA 0x400000 */
#endif
    l0[0] = leaf((uxl_t)user_page, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A);
    l0[1] = leaf((uxl_t)user_data, PTE_V | PTE_R | PTE_W | PTE_U);               /* A and D clear */
    l0[2] = leaf((uxl_t)user_ro, PTE_V | PTE_R | PTE_U | PTE_A);
    l0[3] = 0;
    user_data_pte = (uxl_t *)&l0[1];
}

static uxl_t user_va(const char *sym) { return USER_VA + (uxl_t)(sym - user_page); }

static void test_vm(void)
{
    build_page_tables();
    csr_write(stvec, (uxl_t)s_trap);
    csr_write(medeleg, (1UL << CAUSE_ECALL_U) | (1UL << CAUSE_FETCH_PAGE_FAULT) | (1UL << CAUSE_LOAD_PAGE_FAULT) |
                       (1UL << CAUSE_STORE_PAGE_FAULT));
    csr_write(satp, SATP_ON(root));
    __asm__ volatile("sfence.vma" ::: "memory");
    printf("[vm] satp mode=%lu\n", (unsigned long)(csr_read(satp) >> (__riscv_xlen == 64 ? 60 : 31)));
    user_data[1] = 0x77;

    run_in_mode(PRV_U, (void *)(USER_VA + 0x3000), 0);
    show_s("vm", "U fetch from unmapped 0x403000");
    run_in_mode(PRV_U, (void *)user_va(u_load), USER_VA + 0x3008);
    show_s("vm", "U load from unmapped 0x403008");
    run_in_mode(PRV_U, (void *)user_va(u_store), USER_VA + 0x2010);
    show_s("vm", "U store to read-only 0x402010");
    run_in_mode(PRV_U, (void *)user_va(u_straddle), 0);
    show_s("vm", "U fetch of an instruction straddling into a no-X page");
    run_in_mode(PRV_U, (void *)user_va(u_load), USER_VA + 0x1000 + 8);
    show_s("vm", "U load from 0x401008");
    printf("[vm] data PTE after load: A=%lu D=%lu\n", (unsigned long)(*user_data_pte >> 6 & 1),
           (unsigned long)(*user_data_pte >> 7 & 1));
    run_in_mode(PRV_U, (void *)user_va(u_store), USER_VA + 0x1000 + 16);
    show_s("vm", "U store to 0x401010");
    printf("[vm] data PTE after store: A=%lu D=%lu; stored 0x%lx\n", (unsigned long)(*user_data_pte >> 6 & 1),
           (unsigned long)(*user_data_pte >> 7 & 1), (unsigned long)user_data[2]);
    s_rec.cause = s_rec.epc = 0;
    run_in_mode(PRV_S, (void *)((uxl_t)s_alias_sret - DRAM + ALIAS_VA), user_va(u_ecall));
    show_s("vm", "sret at 0xC0000000 alias to U 0x400000 page");

    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");
    csr_write(medeleg, 0);
#if __riscv_xlen == 64
    /* Sv48: root48[0] points at the Sv39 root, which becomes the second level (VA < 512 GiB). */
    root48[0] = leaf((uxl_t)root, PTE_V);
    csr_write(medeleg, (1UL << CAUSE_ECALL_U) | (1UL << CAUSE_LOAD_PAGE_FAULT));
    csr_write(satp, (9UL << 60) | ((uxl_t)root48 >> 12));
    __asm__ volatile("sfence.vma" ::: "memory");
    user_data[1] = 0x48;
    run_in_mode(PRV_U, (void *)user_va(u_load), USER_VA + 0x1000 + 8);
    show_s("vm", "Sv48: U load from 0x401008");
    printf("[vm] Sv48: loaded 0x%lx\n", (unsigned long)m_rec.a0);
    run_in_mode(PRV_U, (void *)user_va(u_load), USER_VA + 0x3008);
    show_s("vm", "Sv48: U load from unmapped 0x403008");
    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");
    csr_write(medeleg, 0);
    for (uxl_t mode = 8; mode <= 10; mode++) {  /* Sv39, Sv48, Sv57: WARL, an unsupported mode is not written */
        csr_write(satp, (mode << 60) | ((uxl_t)root >> 12));
        printf("[satp] satp := mode %lu reads mode %lu\n", (unsigned long)mode, (unsigned long)(csr_read(satp) >> 60));
        csr_write(satp, 0);
    }
#else
    csr_write(satp, (1UL << 31) | ((uxl_t)root >> 12));
    printf("[satp] satp := mode 1 reads mode %lu\n", (unsigned long)(csr_read(satp) >> 31));
    csr_write(satp, 0);
#endif
}

/* -- CSRs ------------------------------------------------------------------------------------------- */
static volatile int illegal_seen;
static volatile uxl_t illegal_tval;

static void on_illegal(struct trap_frame *frame)
{
    illegal_seen = 1;
    illegal_tval = frame->mtval;
    trap_skip_insn(frame);
}

#define PROBE(tag, what, expr) do { \
        illegal_seen = 0; uxl_t v_ = (expr); \
        if (illegal_seen) printf("[%s] %s: illegal instruction (mtval=0x%lx)\n", tag, what, (unsigned long)illegal_tval); \
        else printf("[%s] %s: 0x%lx\n", tag, what, (unsigned long)v_); \
    } while (0)

/* Which causes can be delegated, and the S-mode views of M registers.  Bits of extensions QEMU 7.2
 * has and Unicorn 2.1.4 has not are masked out: with H, cause 10 and guest page faults 20-23 in
 * medeleg, VS interrupts 2, 6, 10 and SGEI 12; with Sscofpmf, the counter-overflow interrupt 13. */
#define H_EXCEPTIONS ((1UL << 10) | (0xfUL << 20))
#define H_INTERRUPTS ((1UL << 2) | (1UL << 6) | (1UL << 10) | (1UL << 12) | (1UL << 13))

static void test_deleg(void)
{
    csr_write(medeleg, (uxl_t)-1);
    csr_write(mideleg, (uxl_t)-1);
    printf("[deleg] medeleg := ~0 reads 0x%lx\n", (unsigned long)(csr_read(medeleg) & ~H_EXCEPTIONS));
    printf("[deleg] mideleg := ~0 reads 0x%lx\n", (unsigned long)(csr_read(mideleg) & ~H_INTERRUPTS));
    csr_write(mie, (uxl_t)-1);
    printf("[deleg] mie := ~0 reads 0x%lx, sie reads 0x%lx\n", (unsigned long)(csr_read(mie) & ~H_INTERRUPTS),
           (unsigned long)(csr_read(sie) & ~H_INTERRUPTS));
    csr_write(mie, 0);
    csr_write(sie, (uxl_t)-1);
    printf("[deleg] sie := ~0 reads 0x%lx, mie 0x%lx\n", (unsigned long)(csr_read(sie) & ~H_INTERRUPTS),
           (unsigned long)(csr_read(mie) & ~H_INTERRUPTS));
    csr_write(mie, 0);
    csr_write(medeleg, 0);
    csr_write(mideleg, 0);
    csr_set(mstatus, (1UL << 1) | (1UL << 5) | (1UL << 8) | (1UL << 18) | (1UL << 19));  /* SIE SPIE SPP SUM MXR */
    printf("[deleg] sstatus SIE/SPIE/SPP/SUM/MXR after setting them in mstatus: 0x%lx\n",
           (unsigned long)(csr_read(sstatus) & ((1UL << 1) | (1UL << 5) | (1UL << 8) | (1UL << 18) | (1UL << 19))));
    csr_clear(sstatus, (1UL << 1) | (1UL << 5) | (1UL << 8) | (1UL << 18) | (1UL << 19));
    printf("[deleg] mstatus after clearing them in sstatus: 0x%lx\n",
           (unsigned long)(csr_read(mstatus) & ((1UL << 1) | (1UL << 5) | (1UL << 8) | (1UL << 18) | (1UL << 19))));
}

/* F/D state: mstatus.FS Off makes FP instructions illegal; an FP write makes FS Dirty and sets SD. */
#define MSTATUS_FS (3UL << 13)
#define MSTATUS_SD (1UL << (__riscv_xlen - 1))

static void test_fpu(void)
{
    printf("[fpu] misa F=%lu D=%lu\n", (unsigned long)(csr_read(misa) >> 5 & 1), (unsigned long)(csr_read(misa) >> 3 & 1));
    csr_clear(mstatus, MSTATUS_FS);
    show_run("fpu", "fmv.w.x with FS=Off", PRV_M, body_fp, 0x3f800000);
    csr_set(mstatus, 1UL << 13);  /* FS = Initial */
    printf("[fpu] FS=Initial: mstatus.FS=%lu SD=%lu\n", (unsigned long)(csr_read(mstatus) >> 13 & 3),
           (unsigned long)!!(csr_read(mstatus) & MSTATUS_SD));
    show_run("fpu", "fmv.w.x with FS=Initial", PRV_M, body_fp, 0x3f800000);
    printf("[fpu] after an FP write: mstatus.FS=%lu SD=%lu\n", (unsigned long)(csr_read(mstatus) >> 13 & 3),
           (unsigned long)!!(csr_read(mstatus) & MSTATUS_SD));
    csr_write(0x003, 0xff);  /* fcsr */
    printf("[fpu] fcsr := 0xff reads 0x%lx, frm 0x%lx, fflags 0x%lx\n", (unsigned long)csr_read(0x003),
           (unsigned long)csr_read(0x002), (unsigned long)csr_read(0x001));
    csr_write(0x003, 0);
    csr_clear(mstatus, MSTATUS_FS);
}

static void test_uxl(void)
{
#if __riscv_xlen == 64
    printf("[uxl] mstatus UXL=%lu SXL=%lu, sstatus UXL=%lu\n", (unsigned long)(csr_read(mstatus) >> 32 & 3),
           (unsigned long)(csr_read(mstatus) >> 34 & 3), (unsigned long)(csr_read(sstatus) >> 32 & 3));
    csr_clear(mstatus, 3UL << 32);  /* WARL: stays 2 on QEMU 7.2 */
    printf("[uxl] after clearing: UXL=%lu\n", (unsigned long)(csr_read(mstatus) >> 32 & 3));
#else
    printf("[uxl] rv32: no UXL/SXL fields, mstatus=0x%lx\n", (unsigned long)(csr_read(mstatus) & ~0x1888UL));
#endif
}

/* Sdtrig as QEMU 7.2 has it (target/riscv/debug.c): two type-2 (mcontrol) triggers whose WARL
 * tdata1 keeps type, size, M/S/U and execute/store/load; action 0 raises a breakpoint exception
 * before the matching instruction or access.  The trigger CSRs and tinfo are probed, then each
 * kind of match is made to fire (or not) from U, S and M code run through run_in_mode(). */
#if __riscv_xlen == 64
#define TDATA1_TYPE(t) ((uxl_t)(t) << 60)
#else
#define TDATA1_TYPE(t) ((uxl_t)(t) << 28)
#endif
#define MCONTROL_M 0x40
#define MCONTROL_S 0x10
#define MCONTROL_U 0x08
#define MCONTROL_X 0x04
#define MCONTROL_W 0x02
#define MCONTROL_R 0x01
#define CSR_TSELECT 0x7a0
#define CSR_TDATA1  0x7a1
#define CSR_TDATA2  0x7a2
#define CSR_TDATA3  0x7a3

static void trigger_set(uxl_t tdata1, uxl_t tdata2)
{
    csr_write(CSR_TDATA1, TDATA1_TYPE(2));   /* disarm before moving the address */
    csr_write(CSR_TDATA2, tdata2);
    csr_write(CSR_TDATA1, tdata1);
}

static void test_sdtrig(void)
{
    PROBE("sdtrig", "tselect", csr_read(CSR_TSELECT));
    PROBE("sdtrig", "tselect := 0, read back", (csr_write(CSR_TSELECT, 0), csr_read(CSR_TSELECT)));
    PROBE("sdtrig", "tdata1", csr_read(CSR_TDATA1));
    PROBE("sdtrig", "tdata2", csr_read(CSR_TDATA2));
    PROBE("sdtrig", "tdata3", csr_read(CSR_TDATA3));
    PROBE("sdtrig", "tinfo", csr_read(0x7a4));
    PROBE("sdtrig", "tcontrol", csr_read(0x7a5));
    PROBE("sdtrig", "mcontext", csr_read(0x7a8));
    PROBE("sdtrig", "tdata1 := 0, read back", (csr_write(CSR_TDATA1, 0), csr_read(CSR_TDATA1)));
    PROBE("sdtrig", "tdata1 := type 2 | all ones, read back",
          (csr_write(CSR_TDATA1, TDATA1_TYPE(2) | (TDATA1_TYPE(1) - 1)), csr_read(CSR_TDATA1)));
    PROBE("sdtrig", "tdata1 := type 2 | size 4 (1 B) | M | X, read back",
          (csr_write(CSR_TDATA1, TDATA1_TYPE(2) | (1UL << 16) | MCONTROL_M | MCONTROL_X), csr_read(CSR_TDATA1)));
    PROBE("sdtrig", "tdata1 := dmode | type 2 | U | R, read back",
          (csr_write(CSR_TDATA1, TDATA1_TYPE(2) | (TDATA1_TYPE(1) >> 1) | MCONTROL_U | MCONTROL_R),
           csr_read(CSR_TDATA1)));
    PROBE("sdtrig", "tdata1 := type 6 | U | R, read back",
          (csr_write(CSR_TDATA1, TDATA1_TYPE(6) | MCONTROL_U | MCONTROL_R), csr_read(CSR_TDATA1)));
    PROBE("sdtrig", "tdata1 := type 3, read back", (csr_write(CSR_TDATA1, TDATA1_TYPE(3) | 0x400 | 0x40), csr_read(CSR_TDATA1)));
    PROBE("sdtrig", "tdata2 := 0x12345678, read back", (csr_write(CSR_TDATA2, 0x12345678), csr_read(CSR_TDATA2)));
    PROBE("sdtrig", "tdata3 := 5, read back", (csr_write(CSR_TDATA3, 5), csr_read(CSR_TDATA3)));
    PROBE("sdtrig", "tselect := 1, read back", (csr_write(CSR_TSELECT, 1), csr_read(CSR_TSELECT)));
    PROBE("sdtrig", "trigger 1 tdata1", csr_read(CSR_TDATA1));
    PROBE("sdtrig", "trigger 1 tdata2", csr_read(CSR_TDATA2));
    PROBE("sdtrig", "tselect := 2, read back", (csr_write(CSR_TSELECT, 2), csr_read(CSR_TSELECT)));
    PROBE("sdtrig", "tselect := -1, read back", (csr_write(CSR_TSELECT, (uxl_t)-1), csr_read(CSR_TSELECT)));
    csr_write(CSR_TSELECT, 0);
    trigger_set(TDATA1_TYPE(2), 0);

    /* execute: before the instruction at tdata2, when the privilege bit of the mode is set */
    uxl_t ux = MCONTROL_U | MCONTROL_X;
    trigger_set(TDATA1_TYPE(2) | ux, (uxl_t)body_load);
    show_run("sdtrig", "U exec trigger (U|X) at body_load", PRV_U, body_load, (uxl_t)&value);
    show_run("sdtrig", "S exec trigger (U|X) at body_load", PRV_S, body_load, (uxl_t)&value);
    trigger_set(TDATA1_TYPE(2) | MCONTROL_M | MCONTROL_S | MCONTROL_X, (uxl_t)body_load);
    show_run("sdtrig", "S exec trigger (M|S|X) at body_load", PRV_S, body_load, (uxl_t)&value);
    show_run("sdtrig", "M exec trigger (M|S|X) at body_load", PRV_M, body_load, (uxl_t)&value);
    show_run("sdtrig", "U exec trigger (M|S|X) at body_load", PRV_U, body_load, (uxl_t)&value);
    trigger_set(TDATA1_TYPE(2) | ux, (uxl_t)body_load + 4);   /* the ecall after the load */
    show_run("sdtrig", "U exec trigger (U|X) at body_load + 4", PRV_U, body_load, (uxl_t)&value);
    /* trigger 1 works as well; trigger 0 disabled (no mode bit) */
    trigger_set(TDATA1_TYPE(2) | MCONTROL_X, (uxl_t)body_load);
    csr_write(CSR_TSELECT, 1);
    trigger_set(TDATA1_TYPE(2) | ux, (uxl_t)body_store);
    show_run("sdtrig", "U exec trigger 1 at body_store", PRV_U, body_store, (uxl_t)&user_data[3]);
    show_run("sdtrig", "U body_load with trigger 0 lacking a mode", PRV_U, body_load, (uxl_t)&value);
    trigger_set(TDATA1_TYPE(2), 0);
    csr_write(CSR_TSELECT, 0);

    /* loads and stores: before the access, default size = XLEN / 8 bytes from tdata2 */
    trigger_set(TDATA1_TYPE(2) | MCONTROL_U | MCONTROL_R, (uxl_t)&user_data[4]);
    show_run("sdtrig", "U load of tdata2 (U|R)", PRV_U, body_load, (uxl_t)&user_data[4]);
    show_run("sdtrig", "U load of tdata2 + XLEN/8 (U|R)", PRV_U, body_load, (uxl_t)&user_data[5]);
    show_run("sdtrig", "U load of tdata2 - XLEN/8 (U|R)", PRV_U, body_load, (uxl_t)&user_data[3]);
    show_run("sdtrig", "U store to tdata2 (U|R)", PRV_U, body_store, (uxl_t)&user_data[4]);
    show_run("sdtrig", "S load of tdata2 (U|R)", PRV_S, body_load, (uxl_t)&user_data[4]);
    user_data[4] = 0x77;
    trigger_set(TDATA1_TYPE(2) | MCONTROL_S | MCONTROL_W, (uxl_t)&user_data[4]);
    show_run("sdtrig", "S store to tdata2 (S|W)", PRV_S, body_store, (uxl_t)&user_data[4]);
    printf("[sdtrig] the stopped store left 0x%lx\n", (unsigned long)user_data[4]);
    show_run("sdtrig", "S load of tdata2 (S|W)", PRV_S, body_load, (uxl_t)&user_data[4]);
    trigger_set(TDATA1_TYPE(2) | MCONTROL_M | MCONTROL_R | MCONTROL_W | (1UL << 16), (uxl_t)&user_data[4] + 1);
    show_run("sdtrig", "M load of a word holding tdata2 (M|R|W, 1 byte)", PRV_M, body_load, (uxl_t)&user_data[4]);

    /* atomics: an AMO reads and writes; lr reads, sc writes */
    trigger_set(TDATA1_TYPE(2) | MCONTROL_U | MCONTROL_R, (uxl_t)&user_data[4]);
    show_run("sdtrig", "U amoor.w on tdata2 (U|R)", PRV_U, body_amo, (uxl_t)&user_data[4]);
    show_run("sdtrig", "U lr.w/sc.w on tdata2 (U|R)", PRV_U, body_lrsc, (uxl_t)&user_data[4]);
    trigger_set(TDATA1_TYPE(2) | MCONTROL_U | MCONTROL_W, (uxl_t)&user_data[4]);
    show_run("sdtrig", "U amoor.w on tdata2 (U|W)", PRV_U, body_amo, (uxl_t)&user_data[4]);
    show_run("sdtrig", "U lr.w/sc.w on tdata2 (U|W)", PRV_U, body_lrsc, (uxl_t)&user_data[4]);

    /* floating-point accesses, compressed ones too (M-mode, FS = Initial) */
    csr_set(mstatus, 1UL << 13);
    trigger_set(TDATA1_TYPE(2) | MCONTROL_M | MCONTROL_R, (uxl_t)&user_data[4]);
    show_run("sdtrig", "M flw of tdata2 (M|R)", PRV_M, body_flw, (uxl_t)&user_data[4]);
    show_run("sdtrig", "M c.fld of tdata2 (M|R)", PRV_M, body_cfld, (uxl_t)&user_data[4]);
    show_run("sdtrig", "M c.fsd to tdata2 (M|R)", PRV_M, body_cfsd, (uxl_t)&user_data[4]);
    trigger_set(TDATA1_TYPE(2) | MCONTROL_M | MCONTROL_W, (uxl_t)&user_data[4]);
    show_run("sdtrig", "M c.fsd to tdata2 (M|W)", PRV_M, body_cfsd, (uxl_t)&user_data[4]);
    trigger_set(TDATA1_TYPE(2), 0);
    csr_clear(mstatus, MSTATUS_FS);

    /* a trigger on an access PMP denies: which exception wins */
    uxl_t page = (uxl_t)denied_page;
    pmp_off();
    csr_write(pmpaddr0, page >> 2);
    csr_write(pmpaddr1, (page + 4096) >> 2);
    csr_write(pmpaddr2, (uxl_t)-1);
    csr_write(pmpcfg0, (PMP_TOR | PMP_RWX) | (PMP_TOR << 8) | ((uxl_t)(PMP_TOR | PMP_RWX) << 16));
    trigger_set(TDATA1_TYPE(2) | MCONTROL_U | MCONTROL_R, page + 8);
    show_run("sdtrig", "U load PMP denies, load trigger on it", PRV_U, body_load, page + 8);
    trigger_set(TDATA1_TYPE(2) | MCONTROL_U | MCONTROL_X, page);
    show_run("sdtrig", "U fetch PMP denies, exec trigger on it", PRV_U, u_jump, page);
    pmp_tor_all();

    /* with paging: tdata2 is a virtual address; a trigger on an access that page-faults */
    csr_write(stvec, (uxl_t)s_trap);
    csr_write(medeleg, (1UL << CAUSE_FETCH_PAGE_FAULT) | (1UL << CAUSE_LOAD_PAGE_FAULT));
    csr_write(satp, SATP_ON(root));
    __asm__ volatile("sfence.vma" ::: "memory");
    trigger_set(TDATA1_TYPE(2) | MCONTROL_U | MCONTROL_R, USER_VA + 0x1008);
    show_run("sdtrig", "U load from VA 0x401008 (U|R at that VA)", PRV_U, (void *)user_va(u_load), USER_VA + 0x1008);
    trigger_set(TDATA1_TYPE(2) | MCONTROL_U | MCONTROL_R, USER_VA + 0x3008);
    s_rec.cause = 0;
    show_run("sdtrig", "U load from unmapped 0x403008 (U|R there)", PRV_U, (void *)user_va(u_load), USER_VA + 0x3008);
    printf("[sdtrig] S saw scause=%lu\n", (unsigned long)s_rec.cause);
    trigger_set(TDATA1_TYPE(2) | MCONTROL_U | MCONTROL_X, USER_VA + 0x3000);
    s_rec.cause = 0;
    show_run("sdtrig", "U fetch from unmapped 0x403000 (U|X there)", PRV_U, (void *)(USER_VA + 0x3000), 0);
    printf("[sdtrig] S saw scause=%lu\n", (unsigned long)s_rec.cause);
    trigger_set(TDATA1_TYPE(2), 0);
    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");
    csr_write(medeleg, 0);

    /* type 6 (mcontrol6): the WARL fields QEMU 7.2 keeps, and a match */
    PROBE("sdtrig", "tdata1 := type 6 | all ones, read back",
          (csr_write(CSR_TDATA1, TDATA1_TYPE(6) | (TDATA1_TYPE(1) - 1)), csr_read(CSR_TDATA1)));
    PROBE("sdtrig", "tdata1 := type 6 | size 5 | S | W, read back",
          (csr_write(CSR_TDATA1, TDATA1_TYPE(6) | (5UL << 16) | MCONTROL_S | MCONTROL_W), csr_read(CSR_TDATA1)));
    trigger_set(TDATA1_TYPE(6) | MCONTROL_S | MCONTROL_W | (1UL << 16), (uxl_t)&user_data[4] + 3);
    show_run("sdtrig", "S store over a type 6 trigger (S|W, 1 byte)", PRV_S, body_store, (uxl_t)&user_data[4]);
    show_run("sdtrig", "S store beside a type 6 trigger (S|W, 1 byte)", PRV_S, body_store, (uxl_t)&user_data[5]);
    csr_write(CSR_TDATA1, TDATA1_TYPE(2));
    PROBE("sdtrig", "tinfo := 0, read back", (csr_write(0x7a4, 0), csr_read(0x7a4)));

    trigger_set(TDATA1_TYPE(2), 0);
    show_run("sdtrig", "U load after disarming", PRV_U, body_load, (uxl_t)&user_data[4]);
    show_run("sdtrig", "S csrr tselect", PRV_S, body_tselect, 0);
}

static void test_counters(void)
{
    PROBE("counters", "mcountinhibit", csr_read(0x320));
    PROBE("counters", "mcountinhibit := 0, read back", (csr_write(0x320, 0), csr_read(0x320)));
    illegal_seen = 0;
    csr_write(minstret, 1000000);
    uxl_t after = csr_read(minstret);
    if (illegal_seen)
        printf("[counters] minstret := 1000000: illegal instruction\n");
    else
        printf("[counters] minstret := 1000000, next read %s\n",
               after >= 1000000 && after < 1000000 + 1000000000UL ? "continues from 1000000" : "ignores the write");
    illegal_seen = 0;
    csr_write(mcycle, 5000000);
    after = csr_read(mcycle);
    printf("[counters] mcycle := 5000000, next read %s\n", illegal_seen ? "illegal" :
           after >= 5000000 && after < 5000000 + 1000000000UL ? "continues from 5000000" : "ignores the write");
}

static void test_tvm(void)
{
    csr_set(mstatus, MSTATUS_TVM);
    printf("[tvm] mstatus.TVM reads %lu\n", (unsigned long)(csr_read(mstatus) >> 20 & 1));
    show_run("tvm", "S csrr satp", PRV_S, body_satp, 0);
    show_run("tvm", "S sfence.vma", PRV_S, body_sfence, 0);
    csr_clear(mstatus, MSTATUS_TVM);
    show_run("tvm", "S csrr satp, TVM=0", PRV_S, body_satp, 0);
}

static void test_tsr(void)
{
    csr_set(mstatus, MSTATUS_TSR);
    printf("[tsr] mstatus.TSR reads %lu\n", (unsigned long)(csr_read(mstatus) >> 22 & 1));
    csr_clear(mstatus, 1UL << 8);  /* SPP = U: a sret that does not trap goes to U at body_ecall */
    show_run("tsr", "S sret", PRV_S, body_sret, (uxl_t)body_ecall);
    csr_clear(mstatus, MSTATUS_TSR);
    show_run("tsr", "S sret, TSR=0", PRV_S, body_sret, (uxl_t)body_ecall);
}

static void test_tw(void)
{
    show_run("tw", "U wfi (S-mode present: illegal)", PRV_U, body_wfi, 0);
    csr_set(mstatus, MSTATUS_TW);
    printf("[tw] mstatus.TW reads %lu\n", (unsigned long)(csr_read(mstatus) >> 21 & 1));
    show_run("tw", "S wfi", PRV_S, body_wfi, 0);
    csr_clear(mstatus, MSTATUS_TW);
}

int main(void)
{
    printf("priv_spec: rv%d\n", __riscv_xlen);
    trap_set_exception_handler(CAUSE_ILLEGAL_INSN, on_illegal);
    pmp_tor_all();
    test_pmp_full("pmp-tor");
    test_pmp_deny();
    test_vm();
    test_deleg();
    test_fpu();
    test_uxl();
    test_sdtrig();
    test_counters();
    test_tvm();
    test_tsr();
    /* full-range NAPOT as riscv-tests write it: 0x7fffffff on rv32 (2^34 bytes), 2^53 - 1 on rv64 */
    csr_write(pmpaddr0, (1UL << (31 + (__riscv_xlen / 64) * (53 - 31))) - 1);
    csr_write(pmpcfg0, PMP_NAPOT | PMP_RWX);
    test_pmp_full("pmp-napot");
    pmp_tor_all();
    test_tw();
    printf("priv_spec: done\n");
    return 0;
}
