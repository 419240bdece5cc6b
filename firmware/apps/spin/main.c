/* spin: increments a global forever (for Ctrl-C / interrupt tests). Never exits. */
#include "sdk.h"

volatile unsigned long spin_count;

int main(void)
{
    printf("spin: looping forever\n");
    for (;;)
        spin_count++;
}
