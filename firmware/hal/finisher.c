/* sifive_test finisher: the write ends QEMU / npuemu; the loop is for platforms without one. */
#include "finisher.h"

#include "csr.h"
#include "mmio.h"
#include "platform.h"

static void __attribute__((noreturn)) finish(uint32_t value)
{
    mmio_write32(FINISHER_BASE, value);
    for (;;)
        wfi();
}

void finisher_pass(void) { finish(FINISHER_PASS); }
void finisher_fail(unsigned code) { finish(((uint32_t)(code & 0xffff) << 16) | FINISHER_FAIL); }
void finisher_reset(void) { finish(FINISHER_RESET); }

void exit(int status)
{
    if (status == 0)
        finisher_pass();
    finisher_fail((unsigned)status);
}
