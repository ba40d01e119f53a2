/* 16550 UART (National Semiconductor PC16550D data sheet), polled: output
 * from every CPU, input read by CPU 0 (guest/console.c). */
#include "drivers/uart.h"
#include "arch/x86.h"

#define UART_RBR 0  /* receive buffer (read) */
#define UART_THR 0  /* transmit holding (write) */
#define UART_DLL 0  /* divisor latch low (DLAB = 1) */
#define UART_IER 1
#define UART_DLM 1  /* divisor latch high (DLAB = 1) */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define  UART_LCR_8N1   0x03
#define  UART_LCR_DLAB  0x80
#define  UART_FCR_ENABLE_CLEAR 0x07
#define  UART_MCR_DTR_RTS_OUT2 0x0b
#define  UART_LSR_DR    0x01
#define  UART_LSR_THRE  0x20
#define  UART_LSR_TEMT  0x40
#define  UART_LSR_ABSENT 0xff
#define UART_CLOCK 115200

static uint16_t uart_base;

void uart_init(uint16_t base, uint32_t baud)
{
	uint16_t div = (uint16_t)(UART_CLOCK / (baud ? baud : UART_CLOCK));

	uart_base = base;
	outb(base + UART_IER, 0);
	outb(base + UART_LCR, UART_LCR_DLAB);
	outb(base + UART_DLL, div & 0xff);
	outb(base + UART_DLM, div >> 8);
	outb(base + UART_LCR, UART_LCR_8N1);
	outb(base + UART_FCR, UART_FCR_ENABLE_CLEAR);
	outb(base + UART_MCR, UART_MCR_DTR_RTS_OUT2);
}

void uart_putc(char c)
{
	if (!uart_base)
		return;
	/* Bounded wait: a missing UART reads 0xff (THRE set), a stuck one
	 * must not hang Keel. */
	for (int i = 0; i < 100000; i++)
		if (inb(uart_base + UART_LSR) & UART_LSR_THRE)
			break;
	outb(uart_base + UART_THR, (uint8_t)c);
}

int uart_getc(void)
{
	uint8_t lsr;

	if (!uart_base)
		return -1;
	lsr = inb(uart_base + UART_LSR);
	/* Where no UART answers, the bus reads all ones, DR included, for
	 * ever. A working UART shows every bit set only for a byte with
	 * break, framing and parity errors at once: no input either. */
	if (lsr == UART_LSR_ABSENT || !(lsr & UART_LSR_DR))
		return -1;
	return inb(uart_base + UART_RBR);
}

void uart_drain(void)
{
	if (!uart_base)
		return;
	for (int i = 0; i < 1000000; i++)
		if (inb(uart_base + UART_LSR) & UART_LSR_TEMT)
			break;
}
