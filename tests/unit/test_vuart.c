/* Host tests for the virtual 16550 (guest/vuart.c): the receive FIFO,
 * LSR, RBR, IIR priorities, IER gating and the interrupt line it drives,
 * through the same port accesses a guest makes and the same hand-over
 * CPU 0 uses for typed bytes. */
#include "guest/guest.h"
#include "tests/unit/test.h"

enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5 };

/* What the kernel side provides: the console (a guest's lines come
 * through its output ring, guest/console.c) and the I/O APIC's pin. */
static char console[1024];
static size_t console_len;
static int irq_level = -1;              /* last level set on pin 4 */
static unsigned int irq_changes;

void console_write(const char *s, size_t n)
{
	if (console_len + n < sizeof(console)) {
		memcpy(console + console_len, s, n);
		console_len += n;
		console[console_len] = '\0';
	}
}

void console_out_line(const struct guest *g, const char *line, uint32_t n)
{
	(void)g;
	console_write(line, n);
}

void isa_set_irq(struct guest *gg, unsigned int pin, bool level)
{
	(void)gg;
	if (pin == VUART_IRQ) {
		irq_level = level;
		irq_changes++;
	}
}

static struct guest g;

static void setup(void)
{
	memset(&g, 0, sizeof(g));
	g.name = "t";
	console_len = 0;
	console[0] = '\0';
	irq_level = -1;
	irq_changes = 0;
}

static uint32_t in(uint16_t off)
{
	uint32_t val = 0xdeadbeef;

	vuart_io(&g, off, true, &val);
	return val;
}

static void out(uint16_t off, uint32_t val)
{
	vuart_io(&g, off, false, &val);
}

static void type(const char *s)
{
	vuart_receive(&g, (const uint8_t *)s, (unsigned int)strlen(s));
}

TEST(vuart_idle_receiver)
{
	setup();
	EXPECT_EQ(in(LSR), 0x60);               /* THRE | TEMT, no DR */
	EXPECT_EQ(in(IIR), 0x01);
	EXPECT_EQ(in(RBR), 0);
}

TEST(vuart_polled_read_in_order)
{
	setup();
	type("ab");
	EXPECT_EQ(in(LSR), 0x61);
	EXPECT_EQ(in(RBR), 'a');
	EXPECT_EQ(in(LSR), 0x61);
	EXPECT_EQ(in(RBR), 'b');
	EXPECT_EQ(in(LSR), 0x60);
	type("c");
	EXPECT_EQ(in(RBR), 'c');
	EXPECT_EQ(irq_changes, 0);              /* no interrupt asked for */
}

TEST(vuart_fifo_wraps_around)
{
	setup();
	for (int round = 0; round < 5; round++) {
		type("0123456789");
		for (const char *p = "0123456789"; *p; p++)
			EXPECT_EQ(in(RBR), (uint32_t)*p);
	}
	EXPECT_EQ(in(LSR) & 1, 0);
}

TEST(vuart_overrun_drops_and_sets_oe_once)
{
	setup();
	type("0123456789abcdefXY");              /* 18 bytes, 16 fit */
	EXPECT_EQ(g.dev.uart.rx_dropped, 2);
	EXPECT_EQ(in(LSR), 0x63);               /* DR | OE */
	EXPECT_EQ(in(LSR), 0x61);               /* OE cleared by the read */
	for (const char *p = "0123456789abcdef"; *p; p++)
		EXPECT_EQ(in(RBR), (uint32_t)*p);
	EXPECT_EQ(in(LSR), 0x60);
}

TEST(vuart_dlab_hides_rbr)
{
	setup();
	type("x");
	out(LCR, 0x83);
	out(RBR, 0x01);                         /* divisor latch low */
	EXPECT_EQ(in(RBR), 0x01);
	out(LCR, 0x03);
	EXPECT_EQ(in(RBR), 'x');                /* still waiting */
}

TEST(vuart_received_data_outranks_thre)
{
	setup();
	out(IER, 0x03);                         /* ERBFI | ETBEI */
	type("q");
	EXPECT_EQ(in(IIR), 0x04);
	EXPECT_EQ(in(IIR), 0x04);               /* THRE waits behind it */
	EXPECT_EQ(in(RBR), 'q');
	EXPECT_EQ(in(IIR), 0x02);
	EXPECT_EQ(in(IIR), 0x01);               /* THRE cleared by that read */
}

TEST(vuart_line_status_outranks_data)
{
	setup();
	out(IER, 0x05);                         /* ERBFI | ELSI */
	type("0123456789abcdefg");
	EXPECT_EQ(in(IIR), 0x06);
	EXPECT_EQ(in(LSR), 0x63);
	EXPECT_EQ(in(IIR), 0x04);
	out(IER, 0x01);                         /* overrun without ELSI */
	type("h");
	EXPECT_EQ(in(IIR), 0x04);
	EXPECT_EQ(in(LSR), 0x63);
}

TEST(vuart_ier_gates_receive_interrupt)
{
	setup();
	type("z");
	EXPECT_EQ(in(IIR), 0x01);
	out(IER, 0x01);
	EXPECT_EQ(in(IIR), 0x04);
	out(IER, 0x00);
	EXPECT_EQ(in(IIR), 0x01);
	EXPECT_EQ(in(LSR), 0x61);               /* the data stays */
}

TEST(vuart_fifo_trigger_and_timeout)
{
	setup();
	out(FCR, 0xc1);                         /* FIFOs on, trigger 14 */
	out(IER, 0x01);
	type("abc");
	EXPECT_EQ(in(IIR), 0xcc);               /* below trigger: timeout */
	type("defghijklmn");
	EXPECT_EQ(in(IIR), 0xc4);               /* 14 waiting */
	EXPECT_EQ(in(RBR), 'a');
	EXPECT_EQ(in(IIR), 0xcc);
	out(FCR, 0x41);                         /* trigger 4 */
	EXPECT_EQ(in(IIR), 0xc4);
}

TEST(vuart_fifo_resets_empty_receiver)
{
	setup();
	type("abc");
	out(FCR, 0x01);                         /* FIFOs on: emptied */
	EXPECT_EQ(in(LSR), 0x60);
	type("def");
	out(FCR, 0x03);                         /* receiver reset */
	EXPECT_EQ(in(LSR), 0x60);
	type("g");
	out(FCR, 0x01);                         /* no change, no reset */
	EXPECT_EQ(in(RBR), 'g');
	type("h");
	out(FCR, 0x00);                         /* FIFOs off: emptied */
	EXPECT_EQ(in(LSR), 0x60);
	type("ij");                             /* 16 bytes kept without FIFOs */
	EXPECT_EQ(in(IIR), 0x01);
	EXPECT_EQ(in(RBR), 'i');
	EXPECT_EQ(in(RBR), 'j');
}

TEST(vuart_irq_line_follows_data_with_out2)
{
	setup();
	out(IER, 0x01);
	type("a");
	EXPECT_EQ(irq_changes, 0);              /* OUT2 clear: no output */
	out(MCR, 0x08);
	EXPECT_EQ(irq_level, 1);
	EXPECT_EQ(in(RBR), 'a');
	EXPECT_EQ(irq_level, 0);
	type("bc");
	EXPECT_EQ(irq_level, 1);
	EXPECT_EQ(irq_changes, 3);
	EXPECT_EQ(in(RBR), 'b');
	EXPECT_EQ(irq_level, 1);                /* still data: no new edge */
	EXPECT_EQ(in(RBR), 'c');
	EXPECT_EQ(irq_level, 0);
	out(IER, 0x00);
	type("d");
	EXPECT_EQ(irq_level, 0);
	EXPECT_EQ(irq_changes, 4);
}

TEST(vuart_thre_and_data_share_the_line)
{
	setup();
	out(MCR, 0x08);
	out(IER, 0x03);
	EXPECT_EQ(irq_level, 1);                /* THRE on enabling it */
	type("k");
	EXPECT_EQ(irq_level, 1);
	EXPECT_EQ(in(RBR), 'k');
	EXPECT_EQ(irq_level, 1);                /* THRE still pending */
	EXPECT_EQ(in(IIR), 0x02);
	EXPECT_EQ(irq_level, 0);
	type("l");
	EXPECT_EQ(irq_level, 1);                /* a new edge for the data */
}

TEST(vuart_transmit_unchanged)
{
	setup();
	type("in");
	for (const char *p = "hi\r\n"; *p; p++)
		out(RBR, (uint32_t)*p);
	EXPECT(strcmp(console, "[t] hi\n") == 0);
	EXPECT_EQ(in(RBR), 'i');                /* receive and transmit apart */
}

TEST_MAIN()
