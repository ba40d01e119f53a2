/*
 * Virtual 16550 UART (PC16550D register set), output only: enough for a
 * guest's serial console. Transmission is instant, so THR and the FIFO
 * are always empty, and the THR-empty interrupt (PC16550D table IV) is
 * pending whenever it is enabled and has not been cleared since the
 * transmitter last became empty: it is set when IER's ETBEI bit goes from
 * 0 to 1 and after every THR write, and cleared by an IIR read that
 * reports it or by a THR write. The interrupt output goes to the I/O
 * APIC's pin 4 (where there is one) when MCR's OUT2 is set, as on a PC.
 * No input: RBR reads 0 and LSR never shows data ready.
 */
#include "guest/devices.h"
#include "guest/guest.h"
#include "drivers/printk.h"
#include "arch/string.h"

enum {
	UART_THR_RBR = 0, UART_IER = 1, UART_IIR_FCR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};
#define LCR_DLAB        0x80
#define LSR_THRE_TEMT   0x60    /* transmitter always empty */
#define IIR_NO_INT      0x01
#define IIR_THRE        0x02
#define IIR_FIFO_ON     0xc0    /* FIFOs enabled (FCR bit 0) */
#define IER_ETBEI       0x02    /* THR-empty interrupt enable */
#define FCR_FIFO_EN     0x01
#define MCR_OUT2        0x08    /* gates the interrupt output on a PC */

void vuart_flush(struct guest *g)
{
	struct vuart *u = &g->dev.uart;
	char out[VUART_LINE_MAX + 48];
	int n;

	if (!u->len)
		return;
	n = snprintf(out, sizeof(out), "[%s] %.*s\n", g->name, (int)u->len,
		     u->line);
	if (n > (int)sizeof(out) - 1)
		n = sizeof(out) - 1;
	console_write(out, (size_t)n);
	u->len = 0;
}

static void vuart_tx(struct guest *g, char c)
{
	struct vuart *u = &g->dev.uart;

	if (c == '\n') {
		vuart_flush(g);
		return;
	}
	if (c == '\r')
		return;
	if (u->len == VUART_LINE_MAX)
		vuart_flush(g);
	u->line[u->len++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? c : '.';
}

void vuart_write_bytes(struct guest *g, const char *s, uint64_t n)
{
	spin_lock(&g->dev.uart.lock);
	for (uint64_t i = 0; i < n; i++)
		vuart_tx(g, s[i]);
	spin_unlock(&g->dev.uart.lock);
}

static uint32_t vuart_iir(struct vuart *u)
{
	uint32_t fifo = (u->fcr & FCR_FIFO_EN) ? IIR_FIFO_ON : 0;

	if ((u->ier & IER_ETBEI) && u->thre_pending) {
		u->thre_pending = false;
		return fifo | IIR_THRE;
	}
	return fifo | IIR_NO_INT;
}

static uint32_t vuart_read(struct vuart *u, uint16_t off)
{
	switch (off) {
	case UART_THR_RBR:
		return u->lcr & LCR_DLAB ? u->dll : 0;
	case UART_IER:
		return u->lcr & LCR_DLAB ? u->dlm : u->ier;
	case UART_IIR_FCR:
		return vuart_iir(u);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return LSR_THRE_TEMT;
	case UART_SCR:
		return u->scr;
	default:
		return 0;       /* MSR: no modem lines */
	}
}

static void vuart_write(struct guest *g, struct vuart *u, uint16_t off,
			uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;

	if (off == UART_THR_RBR && dlab)
		u->dll = v;
	else if (off == UART_THR_RBR) {
		vuart_tx(g, (char)v);
		u->thre_pending = true;         /* sent at once: empty again */
	} else if (off == UART_IER && dlab)
		u->dlm = v;
	else if (off == UART_IER) {
		if ((v & IER_ETBEI) && !(u->ier & IER_ETBEI))
			u->thre_pending = true;
		u->ier = v & 0x0f;
	} else if (off == UART_IIR_FCR)
		u->fcr = v & 0xc9;              /* FIFO enable, DMA mode, trigger */
	else if (off == UART_LCR)
		u->lcr = v;
	else if (off == UART_MCR)
		u->mcr = v & 0x1f;
	else if (off == UART_SCR)
		u->scr = v;
}

/* The interrupt output; a change goes to the I/O APIC's pin (edges are
 * what it delivers). */
static bool vuart_irq_level(const struct vuart *u)
{
	return (u->mcr & MCR_OUT2) && (u->ier & IER_ETBEI) && u->thre_pending;
}

void vuart_io(struct guest *g, uint16_t off, bool in, uint32_t *val)
{
	struct vuart *u = &g->dev.uart;
	bool now;

	spin_lock(&u->lock);
	if (in)
		*val = vuart_read(u, off);
	else
		vuart_write(g, u, off, (uint8_t)*val);
	now = vuart_irq_level(u);
	if (now != u->irq_line) {
		u->irq_line = now;
		ioapic_set_irq(g, VUART_IRQ, now);
	}
	spin_unlock(&u->lock);
}
