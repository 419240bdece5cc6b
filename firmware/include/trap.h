/* Trap entry and dispatch: per-cause exception handlers, per-interrupt handlers, and per-PLIC-source
 * external interrupt handlers. crt0 installs the direct-mode vector at start-up. */
#ifndef NPUEMU_TRAP_H
#define NPUEMU_TRAP_H

#include <stdint.h>

/* Saved by the trap entry on the interrupted stack. Handlers may modify regs[] and mepc: they are
 * restored on return (mret). regs[0] is unused; regs[2] is the interrupted sp. */
struct trap_frame {
    uintptr_t regs[32];
    uintptr_t mepc;
    uintptr_t mcause;
    uintptr_t mtval;
    uintptr_t mstatus;
    intptr_t vector;      /* mtvec vector taken (vectored mode), -1 in direct mode */
    uintptr_t pad[3];
};

typedef void (*trap_handler_t)(struct trap_frame *frame);
typedef void (*irq_handler_t)(unsigned source);

/* Exceptions: cause 0..15. Without a handler the trap prints one line and exits with
 * TRAP_UNHANDLED_EXIT. Return from a handler resumes at frame->mepc (advance it to skip). */
#define TRAP_UNHANDLED_EXIT 99
void trap_set_exception_handler(unsigned cause, trap_handler_t handler);

/* Local interrupts by code (IRQ_M_SOFT, IRQ_M_TIMER). IRQ_M_EXT is taken by the PLIC dispatcher
 * unless a handler is set here. Setting a handler does not touch mie. */
void trap_set_interrupt_handler(unsigned code, trap_handler_t handler);

/* External interrupts: sets the handler for a PLIC source, gives the source priority 1 and
 * enables it, and sets mie.MEIE. The dispatcher claims, calls the handler, then completes. */
void irq_register(unsigned source, irq_handler_t handler);
void irq_unregister(unsigned source);

/* Use the vectored mtvec (all vectors jump to the same dispatcher, frame->vector says which) or
 * go back to the direct one. */
void trap_use_vectored(int vectored);

/* Advance frame->mepc past the (2- or 4-byte) instruction at mepc. */
void trap_skip_insn(struct trap_frame *frame);

/* Name of an exception cause ("illegal instruction"...), or "?" */
const char *trap_cause_name(uintptr_t mcause);

/* Called from the assembly entry; exposed for tests. */
void trap_dispatch(struct trap_frame *frame);

#endif
