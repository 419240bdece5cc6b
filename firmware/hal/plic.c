/* PLIC for context 0 (hart 0, machine mode). 32-bit accesses only. */
#include "plic.h"

#include "mmio.h"
#include "platform.h"

void plic_set_priority(unsigned source, unsigned priority)
{
    mmio_write32(PLIC_BASE + PLIC_PRIORITY + 4 * source, priority);
}

void plic_enable(unsigned source)
{
    uintptr_t reg = PLIC_BASE + PLIC_ENABLE + 4 * (source / 32);
    mmio_write32(reg, mmio_read32(reg) | (1u << (source % 32)));
}

void plic_disable(unsigned source)
{
    uintptr_t reg = PLIC_BASE + PLIC_ENABLE + 4 * (source / 32);
    mmio_write32(reg, mmio_read32(reg) & ~(1u << (source % 32)));
}

int plic_is_pending(unsigned source)
{
    return (mmio_read32(PLIC_BASE + PLIC_PENDING + 4 * (source / 32)) >> (source % 32)) & 1;
}

void plic_set_threshold(unsigned threshold) { mmio_write32(PLIC_BASE + PLIC_THRESHOLD, threshold); }
unsigned plic_claim(void) { return mmio_read32(PLIC_BASE + PLIC_CLAIM); }
void plic_complete(unsigned source) { mmio_write32(PLIC_BASE + PLIC_CLAIM, source); }
