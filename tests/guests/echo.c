/*
 * echo: reads its serial port by polling, as a boot loader or a simple
 * monitor does (LSR.DR, then RBR; no interrupts, FIFOs left as they are),
 * and prints each line it receives:
 *
 *   [name] ready
 *   [name] got 'ls -l'              control bytes shown as ^A .. ^_
 *   [name] got 'bye'                ends the guest, after:
 *   [name] received 12 bytes        every byte, CR included
 *
 * A receiver overrun (LSR.OE) fails the test.
 */
#include "guest.h"

#define PORT_COM1       0x3f8
#define UART_RBR        0
#define UART_LSR        5
#define LSR_DR          0x01
#define LSR_OE          0x02
#define LINE_MAX        72

static unsigned int overruns;

static uint8_t serial_getc(void)
{
	uint8_t lsr;

	while (!((lsr = inb(PORT_COM1 + UART_LSR)) & LSR_DR)) {
		overruns += !!(lsr & LSR_OE);
		__asm__ volatile("pause");
	}
	overruns += !!(lsr & LSR_OE);
	return inb(PORT_COM1 + UART_RBR);
}

/* Appends c to line (as ^X when it is a control byte), if it fits. */
static unsigned int line_add(char *line, unsigned int len, uint8_t c)
{
	if (len + 2 >= LINE_MAX)
		return len;
	if (c < 0x20) {
		line[len++] = '^';
		c += '@';
	}
	line[len++] = (char)c;
	return len;
}

void guest_main(void)
{
	char line[LINE_MAX];
	unsigned int len = 0, total = 0;

	puts("ready");
	for (;;) {
		uint8_t c = serial_getc();

		total++;
		if (c != '\r' && c != '\n') {
			len = line_add(line, len, c);
			continue;
		}
		line[len] = '\0';
		printf("got '%s'\n", line);
		if (len == 3 && !strncmp(line, "bye", 3))
			break;
		len = 0;
	}
	printf("received %u bytes\n", total);
	EXPECT_EQ(overruns, 0);
}
