/* uart_irq: interrupt-driven UART through PLIC source 10. Received characters are echoed through a
 * transmit ring buffer drained by the THRE interrupt; 'q' prints a summary and exits 0. */
#include "sdk.h"

#define TX_SIZE 256u  /* power of two */

static char tx_buf[TX_SIZE];
static volatile unsigned tx_head, tx_tail;   /* head: next free slot (producer), tail: next to send */
static volatile unsigned rx_count, rx_irqs, tx_irqs, echoed, dropped, quit;
static volatile unsigned ier = UART_IER_RDA;

static void tx_kick(void)
{
    ier |= UART_IER_THRE;
    uart_set_ier(ier);
}

/* Queue one character (called with interrupts masked); waits while the buffer is full. */
static void tx_put(char c)
{
    while (tx_head - tx_tail >= TX_SIZE)
        irq_wait();  /* let the THRE interrupt drain it */
    tx_buf[tx_head % TX_SIZE] = c;
    tx_head = tx_head + 1;
    tx_kick();
}

static void tx_str(const char *s)
{
    while (*s)
        tx_put(*s++);
}

static void uart_handler(unsigned source)
{
    (void)source;
    for (;;) {
        unsigned iir = uart_iir();
        if (iir & UART_IIR_NONE)
            break;
        switch (iir & UART_IIR_ID) {
        case UART_IIR_RDA:
        case UART_IIR_CTO:
            rx_irqs++;
            while (!quit && (uart_lsr() & UART_LSR_DR)) {
                int c = uart_try_getc();
                rx_count++;
                if (c == 'q') {            /* stop receiving: what follows 'q' stays unread */
                    quit = 1;
                    ier &= ~UART_IER_RDA;
                    uart_set_ier(ier);
                } else if (tx_head - tx_tail < TX_SIZE) {  /* echo, dropped if the buffer is full */
                    tx_buf[tx_head % TX_SIZE] = (char)c;
                    tx_head = tx_head + 1;
                    echoed++;
                } else {
                    dropped++;
                }
            }
            if (tx_head != tx_tail)
                tx_kick();
            break;
        case UART_IIR_THRE:
            tx_irqs++;
            /* THR is empty: send one character (QEMU's 16550 THRE interrupt is per character). */
            if (tx_tail != tx_head) {
                mmio_write8(UART0_BASE + UART_THR, (uint8_t)tx_buf[tx_tail % TX_SIZE]);
                tx_tail = tx_tail + 1;
            } else {
                ier &= ~UART_IER_THRE;
                uart_set_ier(ier);
            }
            break;
        default:  /* line status: reading LSR clears it */
            (void)uart_lsr();
            break;
        }
    }
}

int main(void)
{
    printf("uart_irq: type characters, 'q' to quit\n");
    irq_register(UART0_IRQ, uart_handler);
    uart_set_ier(ier);

    /* Interrupts are taken only inside irq_wait(): no wake-up is lost between check and wfi. */
    while (!quit)
        irq_wait();
    tx_str("\n");
    /* Drain the echo before printing the summary with polled output. */
    while (tx_tail != tx_head)
        irq_wait();
    uart_set_ier(0);
    irq_unregister(UART0_IRQ);
    printf("uart_irq: received %u characters (including 'q'), echoed %u, dropped %u\n", rx_count, echoed,
           dropped);
    /* The interrupt counts depend on host timing; only their presence is deterministic. */
    int ok = rx_irqs > 0 && tx_irqs > 0;
    printf("uart_irq: rx and tx interrupts seen: %s\n", ok ? "yes" : "no");
    return ok ? 0 : 1;
}
