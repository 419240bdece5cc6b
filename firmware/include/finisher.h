/* sifive_test finisher at 0x100000: ends the simulation (QEMU and npuemu exit with the code). */
#ifndef NPUEMU_FINISHER_H
#define NPUEMU_FINISHER_H

#define FINISHER_FAIL  0x3333
#define FINISHER_PASS  0x5555
#define FINISHER_RESET 0x7777

void finisher_pass(void) __attribute__((noreturn));
void finisher_fail(unsigned code) __attribute__((noreturn));  /* exit status `code` (1..65535) */
void finisher_reset(void) __attribute__((noreturn));
void exit(int status) __attribute__((noreturn));             /* 0 -> pass, else fail(status) */

#endif
