/* Trap dispatch: exception handlers by cause, interrupt handlers by code, PLIC sources. */
#include "trap.h"

#include "csr.h"
#include "finisher.h"
#include "plic.h"
#include "uart.h"

extern char trap_entry[];
extern char trap_vector_table[];

static trap_handler_t exception_handlers[TRAP_NUM_EXCEPTIONS];
static trap_handler_t interrupt_handlers[TRAP_NUM_INTERRUPTS];
static irq_handler_t plic_handlers[PLIC_NUM_SOURCES];

static const char *const cause_names[TRAP_NUM_EXCEPTIONS] = {
    [CAUSE_MISALIGNED_FETCH] = "instruction address misaligned",
    [CAUSE_FETCH_ACCESS] = "instruction access fault",
    [CAUSE_ILLEGAL_INSN] = "illegal instruction",
    [CAUSE_BREAKPOINT] = "breakpoint",
    [CAUSE_MISALIGNED_LOAD] = "load address misaligned",
    [CAUSE_LOAD_ACCESS] = "load access fault",
    [CAUSE_MISALIGNED_STORE] = "store address misaligned",
    [CAUSE_STORE_ACCESS] = "store access fault",
    [CAUSE_ECALL_U] = "ecall from U-mode",
    [CAUSE_ECALL_S] = "ecall from S-mode",
    [CAUSE_ECALL_M] = "ecall from M-mode",
    [CAUSE_FETCH_PAGE_FAULT] = "instruction page fault",
    [CAUSE_LOAD_PAGE_FAULT] = "load page fault",
    [CAUSE_STORE_PAGE_FAULT] = "store page fault",
};

const char *trap_cause_name(uintptr_t mcause)
{
    if (mcause & MCAUSE_INTERRUPT) {
        switch (MCAUSE_CODE(mcause)) {
        case IRQ_M_SOFT: return "machine software interrupt";
        case IRQ_M_TIMER: return "machine timer interrupt";
        case IRQ_M_EXT: return "machine external interrupt";
        default: return "?";
        }
    }
    if (mcause < TRAP_NUM_EXCEPTIONS && cause_names[mcause])
        return cause_names[mcause];
    return "?";
}

void trap_set_exception_handler(unsigned cause, trap_handler_t handler)
{
    if (cause < TRAP_NUM_EXCEPTIONS)
        exception_handlers[cause] = handler;
}

void trap_set_interrupt_handler(unsigned code, trap_handler_t handler)
{
    if (code < TRAP_NUM_INTERRUPTS)
        interrupt_handlers[code] = handler;
}

void irq_register(unsigned source, irq_handler_t handler)
{
    if (source == 0 || source >= PLIC_NUM_SOURCES)
        return;
    plic_handlers[source] = handler;
    plic_set_priority(source, 1);
    plic_enable(source);
    csr_set(mie, MIE_MEIE);
}

void irq_unregister(unsigned source)
{
    if (source == 0 || source >= PLIC_NUM_SOURCES)
        return;
    plic_disable(source);
    plic_set_priority(source, 0);
    plic_handlers[source] = 0;
}

void trap_use_vectored(int vectored)
{
    if (vectored)
        csr_write(mtvec, (uintptr_t)trap_vector_table | MTVEC_VECTORED);
    else
        csr_write(mtvec, (uintptr_t)trap_entry);
}

void trap_skip_insn(struct trap_frame *frame)
{
    uint16_t low = *(volatile uint16_t *)frame->mepc;
    frame->mepc += (low & 3) == 3 ? 4 : 2;
}

static void __attribute__((noreturn)) unhandled(struct trap_frame *frame)
{
    printf("unhandled trap: mcause=0x%lx (%s) mepc=0x%lx mtval=0x%lx\n", (unsigned long)frame->mcause,
           trap_cause_name(frame->mcause), (unsigned long)frame->mepc, (unsigned long)frame->mtval);
    finisher_fail(TRAP_UNHANDLED_EXIT);
}

static void plic_dispatch(void)
{
    unsigned source;
    while ((source = plic_claim()) != 0) {
        if (source < PLIC_NUM_SOURCES && plic_handlers[source])
            plic_handlers[source](source);
        else
            plic_disable(source);  /* nobody wants it: stop it from firing again */
        plic_complete(source);
    }
}

void trap_dispatch(struct trap_frame *frame)
{
    uintptr_t cause = frame->mcause;
    uintptr_t code = MCAUSE_CODE(cause);
    if (cause & MCAUSE_INTERRUPT) {
        if (code < TRAP_NUM_INTERRUPTS && interrupt_handlers[code])
            interrupt_handlers[code](frame);
        else if (code == IRQ_M_EXT)
            plic_dispatch();
        else
            unhandled(frame);
        return;
    }
    if (code < TRAP_NUM_EXCEPTIONS && exception_handlers[code])
        exception_handlers[code](frame);
    else
        unhandled(frame);
}
