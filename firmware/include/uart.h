/* ns16550a UART0 console and a small printf. */
#ifndef NPUEMU_UART_H
#define NPUEMU_UART_H

#include <stdarg.h>
#include <stddef.h>

/* 16550 registers (byte offsets from UART0_BASE) and bits. */
#define UART_RBR 0  /* read: receive buffer */
#define UART_THR 0  /* write: transmit holding */
#define UART_IER 1
#define UART_IIR 2  /* read: interrupt identification */
#define UART_FCR 2  /* write: FIFO control */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_IER_RDA   0x01  /* received data available */
#define UART_IER_THRE  0x02  /* transmit holding register empty */
#define UART_IIR_NONE  0x01  /* no interrupt pending */
#define UART_IIR_ID    0x0e
#define UART_IIR_THRE  0x02
#define UART_IIR_RDA   0x04
#define UART_IIR_RLS   0x06
#define UART_IIR_CTO   0x0c  /* character timeout (FIFO mode) */
#define UART_LSR_DR    0x01
#define UART_LSR_THRE  0x20

void uart_init(void);                 /* 8N1, interrupts off, FIFO mode untouched (crt0 calls it) */
void uart_putc(char c);               /* blocking */
void uart_puts(const char *s);        /* writes s as is (no newline added) */
void uart_write(const void *buf, size_t len);
int uart_getc(void);                  /* blocking, returns 0..255 */
int uart_try_getc(void);              /* -1 when nothing was received */
void uart_set_ier(unsigned ier);      /* UART_IER_RDA | UART_IER_THRE */
unsigned uart_iir(void);
unsigned uart_lsr(void);

/* printf subset: %d %i %u %x %X %o %c %s %p %%, flags '-' '0', width (or '*'), length l ll z.
 * Output goes to UART0; returns the number of characters written. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif
