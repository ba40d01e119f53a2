/*
 * Virtual 16550 UART (PC16550D register set): a guest's serial console.
 *
 * Transmit is instant, so THR and the FIFO are always empty, and the
 * THR-empty interrupt is pending whenever it is enabled and has not been
 * cleared since the transmitter last became empty: it is set when IER's
 * ETBEI bit goes from 0 to 1 and after every THR write, and cleared by an
 * IIR read that reports it or by a THR write.
 *
 * Receive: CPU 0 hands over what is typed on Keel's console while the
 * guest has the focus (vuart_receive, from guest/console.c). The receiver
 * holds 16 bytes; RBR reads the oldest, LSR.DR says one is waiting, and a
 * byte that finds the receiver full is lost and sets LSR.OE until the
 * next LSR read (PC16550D, LSR bit 1, FIFO mode). Keel keeps the 16 bytes
 * with the FIFOs off too (FCR bit 0 clear): it hands over at once what a
 * real line would space out, which a polling guest must not lose.
 *
 * Interrupts, highest priority first (PC16550D table IV), each enabled by
 * its IER bit and shown in IIR bits 3:0:
 *
 *   0x06  receiver line status  IER bit 2  LSR.OE; cleared by an LSR read
 *   0x04  received data         IER bit 0  at least the FIFO's trigger
 *                                          level waiting (1 without FIFOs)
 *   0x0c  character timeout     IER bit 0  fewer than that (FIFO mode):
 *                                          Keel's bursts are complete when
 *                                          they arrive, so the timeout has
 *                                          passed; both end when RBR reads
 *                                          empty the FIFO
 *   0x02  THR empty             IER bit 1  see above
 *
 * The interrupt output goes to the I/O APIC's pin 4 (where there is one)
 * when MCR's OUT2 is set, as on a PC. No modem lines, no loopback.
 */
#include "guest/devices.h"
#include "guest/guest.h"
#include "guest/console.h"
#include "drivers/printk.h"
#include "arch/string.h"

enum {
	UART_THR_RBR = 0, UART_IER = 1, UART_IIR_FCR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};
#define LCR_DLAB        0x80
#define LSR_DR          0x01    /* data ready */
#define LSR_OE          0x02    /* overrun error */
#define LSR_THRE_TEMT   0x60    /* transmitter always empty */
#define IIR_NO_INT      0x01
#define IIR_THRE        0x02
#define IIR_RDA         0x04    /* received data available */
#define IIR_RLS         0x06    /* receiver line status */
#define IIR_CTI         0x0c    /* character timeout */
#define IIR_FIFO_ON     0xc0    /* FIFOs enabled (FCR bit 0) */
#define IER_ERBFI       0x01    /* received-data interrupt enable */
#define IER_ETBEI       0x02    /* THR-empty interrupt enable */
#define IER_ELSI        0x04    /* receiver-line-status interrupt enable */
#define IER_WRITABLE    0x0f
#define FCR_FIFO_EN     0x01
#define FCR_RX_RESET    0x02
#define FCR_STORED      0xc9    /* FIFO enable, DMA mode, trigger level */
#define FCR_TRIGGER_SHIFT 6
#define MCR_OUT2        0x08    /* gates the interrupt output on a PC */
#define MCR_WRITABLE    0x1f

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
	console_out_line(g, out, (uint32_t)n);
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

static void vuart_rx_push(struct vuart *u, uint8_t c)
{
	if (u->rx_count == VUART_RX_FIFO) {
		u->overrun = true;
		u->rx_dropped++;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % VUART_RX_FIFO] = c;
	u->rx_count++;
}

static uint8_t vuart_rx_pop(struct vuart *u)
{
	uint8_t c;

	if (!u->rx_count)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % VUART_RX_FIFO;
	u->rx_count--;
	return c;
}

static unsigned int vuart_rx_trigger(const struct vuart *u)
{
	static const uint8_t levels[4] = { 1, 4, 8, 14 };

	if (!(u->fcr & FCR_FIFO_EN))
		return 1;
	return levels[u->fcr >> FCR_TRIGGER_SHIFT];
}

/* The pending interrupt of highest priority, as IIR bits 3:0. */
static uint8_t vuart_int_id(const struct vuart *u)
{
	if ((u->ier & IER_ELSI) && u->overrun)
		return IIR_RLS;
	if ((u->ier & IER_ERBFI) && u->rx_count)
		return u->rx_count < vuart_rx_trigger(u) ? IIR_CTI : IIR_RDA;
	if ((u->ier & IER_ETBEI) && u->thre_pending)
		return IIR_THRE;
	return IIR_NO_INT;
}

static uint32_t vuart_iir(struct vuart *u)
{
	uint8_t id = vuart_int_id(u);

	if (id == IIR_THRE)
		u->thre_pending = false;        /* reported: cleared */
	return ((u->fcr & FCR_FIFO_EN) ? IIR_FIFO_ON : 0) | id;
}

static uint32_t vuart_lsr(struct vuart *u)
{
	uint32_t lsr = LSR_THRE_TEMT;

	if (u->rx_count)
		lsr |= LSR_DR;
	if (u->overrun)
		lsr |= LSR_OE;
	u->overrun = false;                     /* errors clear on read */
	return lsr;
}

static uint32_t vuart_read(struct vuart *u, uint16_t off)
{
	switch (off) {
	case UART_THR_RBR:
		return u->lcr & LCR_DLAB ? u->dll : vuart_rx_pop(u);
	case UART_IER:
		return u->lcr & LCR_DLAB ? u->dlm : u->ier;
	case UART_IIR_FCR:
		return vuart_iir(u);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return vuart_lsr(u);
	case UART_SCR:
		return u->scr;
	default:
		return 0;       /* MSR: no modem lines */
	}
}

/* Turning the FIFOs on or off empties them, as does the receiver reset. */
static void vuart_fcr_write(struct vuart *u, uint8_t v)
{
	if (((v ^ u->fcr) & FCR_FIFO_EN) || (v & FCR_RX_RESET))
		u->rx_head = u->rx_count = 0;
	u->fcr = v & FCR_STORED;
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
		u->ier = v & IER_WRITABLE;
	} else if (off == UART_IIR_FCR)
		vuart_fcr_write(u, v);
	else if (off == UART_LCR)
		u->lcr = v;
	else if (off == UART_MCR)
		u->mcr = v & MCR_WRITABLE;
	else if (off == UART_SCR)
		u->scr = v;
}

/* The interrupt output; a change goes to ISA IRQ 4 (the 8259 and the I/O
 * APIC, whose edges are what they deliver). Called with the UART's lock
 * held. */
static void vuart_update_irq(struct guest *g, struct vuart *u)
{
	bool now = (u->mcr & MCR_OUT2) && vuart_int_id(u) != IIR_NO_INT;

	if (now != u->irq_line) {
		u->irq_line = now;
		isa_set_irq(g, VUART_IRQ, now);
	}
}

void vuart_io(struct guest *g, uint16_t off, bool in, uint32_t *val)
{
	struct vuart *u = &g->dev.uart;

	spin_lock(&u->lock);
	if (in)
		*val = vuart_read(u, off);
	else
		vuart_write(g, u, off, (uint8_t)*val);
	vuart_update_irq(g, u);
	spin_unlock(&u->lock);
}

void vuart_receive(struct guest *g, const uint8_t *buf, unsigned int n)
{
	struct vuart *u = &g->dev.uart;

	spin_lock(&u->lock);
	for (unsigned int i = 0; i < n; i++)
		vuart_rx_push(u, buf[i]);
	vuart_update_irq(g, u);
	spin_unlock(&u->lock);
}
