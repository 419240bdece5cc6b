/* QEMU `virt` memory map and constants used by the firmware SDK (hw/riscv/virt.c). */
#ifndef NPUEMU_PLATFORM_H
#define NPUEMU_PLATFORM_H

#define FINISHER_BASE   0x00100000UL  /* sifive_test: pass / fail / reset */
#define CLINT_BASE      0x02000000UL
#define PLIC_BASE       0x0C000000UL
#define UART0_BASE      0x10000000UL  /* ns16550a */
#define NPU_BASE        0x18000000UL  /* D-IMC NPU (npuemu only; see firmware/include/npu_regs.h) */
#define DRAM_BASE       0x80000000UL
#define DRAM_SIZE       0x08000000UL  /* 128 MiB */

#define UART0_IRQ       10            /* PLIC source numbers */
#define NPU_IRQ         40

#define TIMER_FREQ_HZ   10000000UL    /* CLINT mtime ticks per second */

#endif
