/* sdk_init: called by crt0 before main. */
#include "sdk.h"

void sdk_init(void);

void sdk_init(void)
{
    uart_init();
    clint_disarm();
    clint_set_msip(0);
    plic_set_threshold(0);
}
