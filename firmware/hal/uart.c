/* ns16550a UART0 driver (polled; interrupt users drive IER/IIR themselves, see apps/uart_irq). */
#include "uart.h"

#include "mmio.h"
#include "platform.h"

static inline uint8_t reg_read(unsigned reg) { return mmio_read8(UART0_BASE + reg); }
static inline void reg_write(unsigned reg, uint8_t v) { mmio_write8(UART0_BASE + reg, v); }

void uart_init(void)
{
    reg_write(UART_IER, 0);
    reg_write(UART_LCR, 0x03);  /* 8 data bits, no parity, 1 stop bit, DLAB = 0 */
    /* FCR is left alone: enabling (or clearing) the FIFOs would drop characters the host sent
     * before start-up (QEMU clears the FIFOs when FCR.FE changes); the 16550 resets with them off. */
    reg_write(UART_MCR, 0x08);  /* OUT2: the interrupt output is connected on PC-style 16550s */
}

void uart_putc(char c)
{
    while (!(reg_read(UART_LSR) & UART_LSR_THRE))
        ;
    reg_write(UART_THR, (uint8_t)c);
}

void uart_puts(const char *s)
{
    while (*s)
        uart_putc(*s++);
}

void uart_write(const void *buf, size_t len)
{
    const char *p = buf;
    while (len--)
        uart_putc(*p++);
}

int uart_try_getc(void)
{
    if (!(reg_read(UART_LSR) & UART_LSR_DR))
        return -1;
    return reg_read(UART_RBR);
}

int uart_getc(void)
{
    int c;
    while ((c = uart_try_getc()) < 0)
        ;
    return c;
}

void uart_set_ier(unsigned ier) { reg_write(UART_IER, (uint8_t)ier); }
unsigned uart_iir(void) { return reg_read(UART_IIR); }
unsigned uart_lsr(void) { return reg_read(UART_LSR); }
