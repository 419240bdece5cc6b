/* sdk_selftest: the SDK's own checks: printf/snprintf formatting, CSR macros, CLINT time and
 * msip, the PLIC with nothing pending, and trap_skip_insn. Prints each result; exits 0 if all passed. */
#include <string.h>

#include "sdk.h"

static unsigned failures;

static int streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

static void check(const char *what, int ok)
{
    printf("%-40s %s\n", what, ok ? "ok" : "FAIL");
    if (!ok)
        failures++;
}

static void check_fmt(const char *want, const char *got, int n)
{
    int ok = streq(want, got) && n == (int)strlen(want);
    printf("[%s]%*s %s\n", got, (int)(38 - strlen(got)), "", ok ? "ok" : "FAIL");
    if (!ok) {
        printf("    expected [%s] (%d chars), got %d\n", want, (int)strlen(want), n);
        failures++;
    }
}

#define FMT(want, ...)                                           \
    do {                                                         \
        char buf_[64];                                           \
        int n_ = snprintf(buf_, sizeof buf_, __VA_ARGS__);       \
        check_fmt(want, buf_, n_);                               \
    } while (0)

static const char *volatile null_string;  /* volatile: GCC would reject a literal NULL for %s */
static volatile unsigned ebreaks;

static void ebreak_handler(struct trap_frame *frame)
{
    ebreaks++;
    trap_skip_insn(frame);
}

int main(void)
{
    printf("sdk_selftest: rv%d\n", XLEN);

    FMT("42", "%d", 42);
    FMT("-17", "%i", -17);
    FMT("-2147483648", "%d", (int)0x80000000u);
    FMT("4294967295", "%u", 0xffffffffu);
    FMT("deadbeef DEADBEEF", "%x %X", 0xdeadbeefu, 0xdeadbeefu);
    FMT("755", "%o", 0755u);
    FMT("[   42]", "[%5d]", 42);
    FMT("[42   ]", "[%-5d]", 42);
    FMT("[00042]", "[%05d]", 42);
    FMT("[-0042]", "[%05d]", -42);
    FMT("[  -42]", "[%*d]", 5, -42);
    FMT("0000beef", "%08x", 0xbeefu);
    FMT("123456789", "%lu", 123456789UL);
    FMT("-123456789", "%ld", -123456789L);
    FMT("fedcba98", "%lx", 0xfedcba98UL);
    FMT("1122334455667788", "%llx", 0x1122334455667788ULL);
    FMT("18446744073709551615", "%llu", ~0ULL);
    FMT("-9223372036854775808", "%lld", (long long)(1ULL << 63));
    FMT("4096", "%zu", (size_t)4096);
    FMT("hi [abc] [  abc] [abc  ]", "hi [%s] [%5s] [%-5s]", "abc", "abc", "abc");
    FMT("(null)", "%s", null_string);
    FMT("c=x [ y]", "c=%c [%2c]", 'x', 'y');
    FMT("100%", "%d%%", 100);
    FMT(XLEN == 32 ? "0x80001234" : "0x0000000080001234", "%p", (void *)0x80001234UL);

    char small[8];
    int n = snprintf(small, sizeof small, "%s", "truncated text");
    check("snprintf truncates and returns full length", streq(small, "truncat") && n == 14);

    /* string.h */
    char mem[16];
    memset(mem, 'a', sizeof mem);
    memcpy(mem, "0123456789", 10);
    memmove(mem + 2, mem, 8);
    mem[12] = '\0';
    check("memset/memcpy/memmove (overlapping)", streq(mem, "0101234567aa"));
    check("memcmp/strncmp/strchr", memcmp("abc", "abd", 3) < 0 && strncmp("abcx", "abcy", 3) == 0 &&
                                       strchr("hello", 'l') && *strchr("hello", 'l') == 'l' &&
                                       strchr("hello", 'z') == NULL);

    /* CSRs */
    csr_write(mscratch, 0x5a5a);
    check("csr_write/csr_read mscratch", csr_read(mscratch) == 0x5a5a);
    check("csr_swap returns the old value", csr_swap(mscratch, 7) == 0x5a5a && csr_read(mscratch) == 7);
    check("misa says RV32/RV64 with I, M, A, C",
          (csr_read(misa) >> (XLEN - 2)) == (XLEN == 32 ? 1u : 2u) &&
              (csr_read(misa) & 0x1105) == 0x1105);  /* I=bit 8, M=12, A=0, C=2 */
    check("mhartid is 0", csr_read(mhartid) == 0);

    /* CLINT */
    uint64_t t0 = clint_mtime();
    delay_us(100);
    uint64_t t1 = clint_mtime();
    check("mtime advances across delay_us(100)", t1 - t0 >= 1000);
    clint_set_mtimecmp(0x123456789aULL);
    check("mtimecmp reads back 64 bits", clint_mtimecmp() == 0x123456789aULL);
    clint_disarm();
    check("clint_disarm sets mtimecmp to all ones", clint_mtimecmp() == UINT64_MAX);
    clint_set_msip(1);
    int msip_seen = (csr_read(mip) & MIP_MSIP) != 0;
    clint_set_msip(0);
    check("msip raises and clears mip.MSIP", msip_seen && !(csr_read(mip) & MIP_MSIP));

    /* PLIC */
    check("plic_claim with nothing pending is 0", plic_claim() == 0);

    /* Traps */
    trap_set_exception_handler(CAUSE_BREAKPOINT, ebreak_handler);
    __asm__ volatile(".option push\n.option rvc\nc.ebreak\n.option pop");
    __asm__ volatile(".option push\n.option norvc\nebreak\n.option pop");
    trap_set_exception_handler(CAUSE_BREAKPOINT, 0);
    check("trap_skip_insn skips c.ebreak and ebreak", ebreaks == 2);
    check("trap_cause_name", streq(trap_cause_name(CAUSE_LOAD_ACCESS), "load access fault") &&
                                 streq(trap_cause_name(MCAUSE_INTERRUPT | IRQ_M_TIMER), "machine timer interrupt"));

    printf("sdk_selftest: %u failures\n", failures);
    return failures ? 1 : 0;
}
