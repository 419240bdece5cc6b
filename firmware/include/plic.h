/* PLIC, context 0 = hart 0 machine mode. */
#ifndef NPUEMU_PLIC_H
#define NPUEMU_PLIC_H

#include <stdint.h>

#define PLIC_NUM_SOURCES 96
#define PLIC_PRIORITY    0x000000  /* + 4 * source */
#define PLIC_PENDING     0x001000
#define PLIC_ENABLE      0x002000  /* context 0 */
#define PLIC_THRESHOLD   0x200000
#define PLIC_CLAIM       0x200004

void plic_set_priority(unsigned source, unsigned priority);
void plic_enable(unsigned source);
void plic_disable(unsigned source);
int plic_is_pending(unsigned source);
void plic_set_threshold(unsigned threshold);
unsigned plic_claim(void);                 /* 0 when nothing is pending */
void plic_complete(unsigned source);

#endif
