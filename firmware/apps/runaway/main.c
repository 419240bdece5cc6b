/* runaway: mtvec points at unmapped memory, then an illegal instruction: every trap entry faults
 * again (a trap storm). Never exits; the emulator must stay responsive (Ctrl-C, timeouts). */
#include "sdk.h"

int main(void)
{
    printf("runaway: mtvec -> 0x10000, illegal instruction\n");
    csr_write(mtvec, 0x10000);
    __asm__ volatile(".word 0xffffffff");
    for (;;)
        ;
}
