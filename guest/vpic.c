/* The 8259A pair's registers and logic (see guest/vpic.h). */
#include "guest/vpic.h"
#include "arch/string.h"

/* Command-port writes: bit 4 set is ICW1; else bit 3 tells OCW3 from
 * OCW2 (8259A datasheet, "Operation command words"). */
#define ICW1_SELECT             BIT_ULL(4)
#define ICW1_IC4                BIT_ULL(0)
#define ICW1_SNGL               BIT_ULL(1)
#define OCW3_SELECT             BIT_ULL(3)
#define ICW2_BASE               0xf8u
#define ICW4_AEOI               BIT_ULL(1)
#define ICW4_SFNM               BIT_ULL(4)
#define OCW2_LEVEL              0x07u
#define OCW2_CMD_SHIFT          5               /* R, SL, EOI */
#define  OCW2_ROTATE_AEOI_CLEAR 0
#define  OCW2_EOI               1
#define  OCW2_NOP               2
#define  OCW2_SPECIFIC_EOI      3
#define  OCW2_ROTATE_AEOI_SET   4
#define  OCW2_ROTATE_EOI        5
#define  OCW2_SET_PRIORITY      6
#define  OCW2_ROTATE_SPECIFIC   7
#define OCW3_RIS                BIT_ULL(0)
#define OCW3_RR                 BIT_ULL(1)
#define OCW3_POLL               BIT_ULL(2)
#define OCW3_SMM                BIT_ULL(5)
#define OCW3_ESMM               BIT_ULL(6)
#define POLL_INTERRUPT          0x80u
#define SPURIOUS_IR             7

_Static_assert(VPIC_ELCR_MASK_MASTER == 0xf8 && VPIC_ELCR_MASK_SLAVE == 0xde,
	       "IRQ 0-2, 8 and 13 have no ELCR bit");

static uint8_t ir_bit(unsigned int ir)
{
	return (uint8_t)(1u << ir);
}

/* Priority of IR `ir`, 0 the highest: the IR after `lowest` comes first
 * (fixed order IR0 > ... > IR7 while lowest is 7). */
static unsigned int prio(const struct vpic_chip *ch, unsigned int ir)
{
	return (ir - ch->lowest - 1) & 7;
}

/* The highest-priority IR among `bits`, or -1. */
static int highest(const struct vpic_chip *ch, uint8_t bits)
{
	for (unsigned int k = 0; k < 8; k++) {
		unsigned int ir = (ch->lowest + 1 + k) & 7;

		if (bits & ir_bit(ir))
			return (int)ir;
	}
	return -1;
}

/* The master's IR2 is the slave's INT while its ICW3 says so. */
static bool is_cascade(const struct vpic_chip *m)
{
	return !(m->flags & VPIC_SINGLE) && (m->icw3 & ir_bit(VPIC_CASCADE_IRQ));
}

static int chip_request(const struct vpic *p, unsigned int c);

/* IRR as the chip sees it: the master's IR2 follows the slave's INT. */
static uint8_t chip_irr(const struct vpic *p, unsigned int c)
{
	const struct vpic_chip *ch = &p->chip[c];

	if (c == VPIC_MASTER && is_cascade(ch) &&
	    chip_request(p, VPIC_SLAVE) >= 0)
		return ch->irr | ir_bit(VPIC_CASCADE_IRQ);
	return ch->irr;
}

/*
 * The IR chip c raises INT for, or -1: the highest-priority unmasked
 * request, unless something of higher or equal priority is in service.
 * In special mask mode masked IRs in service block nothing; in special
 * fully nested mode the master's IR2 in service does not block the
 * slave's further requests (8259A datasheet, "Special fully nest mode").
 */
static int chip_request(const struct vpic *p, unsigned int c)
{
	const struct vpic_chip *ch = &p->chip[c];
	uint8_t blocking = ch->isr;
	int req, svc;

	if (ch->init != VPIC_INIT_DONE)
		return -1;
	req = highest(ch, chip_irr(p, c) & ~ch->imr);
	if (req < 0)
		return -1;
	if (ch->flags & VPIC_SPECIAL_MASK)
		blocking &= (uint8_t)~ch->imr;
	if (c == VPIC_MASTER && (ch->flags & VPIC_SFNM) && is_cascade(ch) &&
	    req == VPIC_CASCADE_IRQ)
		blocking &= (uint8_t)~ir_bit(VPIC_CASCADE_IRQ);
	svc = highest(ch, blocking);
	if (svc >= 0 && prio(ch, (unsigned int)svc) <= prio(ch, (unsigned int)req))
		return -1;
	return req;
}

/* IR goes in service (not in auto-EOI mode, which may rotate instead);
 * an edge request is consumed, a level one stays while its line is high. */
static void chip_ack(struct vpic_chip *ch, unsigned int ir)
{
	if (!(ch->flags & VPIC_AUTO_EOI))
		ch->isr |= ir_bit(ir);
	else if (ch->flags & VPIC_ROTATE_AEOI)
		ch->lowest = (uint8_t)ir;
	if (!(ch->elcr & ir_bit(ir)))
		ch->irr &= (uint8_t)~ir_bit(ir);
}

static void chip_bios_state(struct vpic_chip *ch, uint8_t base, uint8_t icw3,
			    uint8_t imr, uint8_t elcr_mask)
{
	memset(ch, 0, sizeof(*ch));
	ch->base = base;
	ch->icw3 = icw3;
	ch->imr = imr;
	ch->elcr_mask = elcr_mask;
	ch->lowest = 7;
	ch->flags = VPIC_ICW4_NEEDED;   /* ICW1 0x11, ICW4 0x01 */
	ch->init = VPIC_INIT_DONE;
}

void vpic_reset(struct vpic *p)
{
	chip_bios_state(&p->chip[VPIC_MASTER], VPIC_BIOS_MASTER_BASE,
			ir_bit(VPIC_CASCADE_IRQ),
			(uint8_t)~ir_bit(VPIC_CASCADE_IRQ), VPIC_ELCR_MASK_MASTER);
	chip_bios_state(&p->chip[VPIC_SLAVE], VPIC_BIOS_SLAVE_BASE,
			VPIC_CASCADE_IRQ, 0xff, VPIC_ELCR_MASK_SLAVE);
}

/* IR2 of the master is the cascade: no ISA line drives it. */
void vpic_set_line(struct vpic *p, unsigned int irq, bool level)
{
	struct vpic_chip *ch;
	uint8_t bit;
	bool rising;

	if (irq >= VPIC_IRQS || irq == VPIC_CASCADE_IRQ)
		return;
	ch = &p->chip[irq / 8];
	bit = ir_bit(irq % 8);
	rising = level && !(ch->lines & bit);
	if (level)
		ch->lines |= bit;
	else
		ch->lines &= (uint8_t)~bit;
	if (ch->elcr & bit)
		ch->irr = level ? (ch->irr | bit) : (ch->irr & (uint8_t)~bit);
	else if (rising)
		ch->irr |= bit;
}

/* ICW1 starts the sequence (8259A datasheet, "Initialization command
 * words"): the edge latches reset, IMR and ISR cleared, IR7 lowest,
 * special mask off, IRR selected for reads; without IC4 every ICW4
 * function is 0. */
static void chip_icw1(struct vpic_chip *ch, uint8_t val)
{
	ch->flags = (uint8_t)(((val & ICW1_IC4) ? VPIC_ICW4_NEEDED : 0) |
			      ((val & ICW1_SNGL) ? VPIC_SINGLE : 0));
	ch->irr = ch->lines & ch->elcr;
	ch->isr = 0;
	ch->imr = 0;
	ch->lowest = 7;
	ch->init = VPIC_INIT_ICW2;
}

static void chip_ocw2(struct vpic_chip *ch, uint8_t val)
{
	unsigned int level = val & OCW2_LEVEL;
	int ir;

	switch (val >> OCW2_CMD_SHIFT) {
	case OCW2_ROTATE_AEOI_CLEAR:
		ch->flags &= (uint8_t)~VPIC_ROTATE_AEOI;
		break;
	case OCW2_ROTATE_AEOI_SET:
		ch->flags |= VPIC_ROTATE_AEOI;
		break;
	case OCW2_EOI:
	case OCW2_ROTATE_EOI:
		ir = highest(ch, ch->isr);
		if (ir < 0)
			break;
		ch->isr &= (uint8_t)~ir_bit((unsigned int)ir);
		if (val >> OCW2_CMD_SHIFT == OCW2_ROTATE_EOI)
			ch->lowest = (uint8_t)ir;
		break;
	case OCW2_SPECIFIC_EOI:
	case OCW2_ROTATE_SPECIFIC:
		ch->isr &= (uint8_t)~ir_bit(level);
		if (val >> OCW2_CMD_SHIFT == OCW2_ROTATE_SPECIFIC)
			ch->lowest = (uint8_t)level;
		break;
	case OCW2_SET_PRIORITY:
		ch->lowest = (uint8_t)level;
		break;
	default:                        /* OCW2_NOP */
		break;
	}
}

/* OCW3: special mask mode (with ESMM), poll, and which register the
 * command port reads (with RR). Bit 7 is reserved and ignored. */
static void chip_ocw3(struct vpic_chip *ch, uint8_t val)
{
	if (val & OCW3_ESMM) {
		if (val & OCW3_SMM)
			ch->flags |= VPIC_SPECIAL_MASK;
		else
			ch->flags &= (uint8_t)~VPIC_SPECIAL_MASK;
	}
	if (val & OCW3_POLL)
		ch->flags |= VPIC_POLL;
	if (val & OCW3_RR) {
		if (val & OCW3_RIS)
			ch->flags |= VPIC_READ_ISR;
		else
			ch->flags &= (uint8_t)~VPIC_READ_ISR;
	}
}

/* The data port: the ICWs the sequence still expects, else OCW1. ICW2's
 * low three bits are the IR number in 8086 mode, not the guest's. */
static void chip_data_write(struct vpic_chip *ch, uint8_t val)
{
	bool icw4 = ch->flags & VPIC_ICW4_NEEDED;

	switch (ch->init) {
	case VPIC_INIT_ICW2:
		ch->base = val & ICW2_BASE;
		if (!(ch->flags & VPIC_SINGLE))
			ch->init = VPIC_INIT_ICW3;
		else
			ch->init = icw4 ? VPIC_INIT_ICW4 : VPIC_INIT_DONE;
		break;
	case VPIC_INIT_ICW3:
		ch->icw3 = val;
		ch->init = icw4 ? VPIC_INIT_ICW4 : VPIC_INIT_DONE;
		break;
	case VPIC_INIT_ICW4:
		if (val & ICW4_AEOI)
			ch->flags |= VPIC_AUTO_EOI;
		if (val & ICW4_SFNM)
			ch->flags |= VPIC_SFNM;
		ch->init = VPIC_INIT_DONE;
		break;
	default:
		ch->imr = val;
		break;
	}
}

void vpic_write(struct vpic *p, unsigned int c, unsigned int port,
		uint8_t val)
{
	struct vpic_chip *ch;

	if (c > VPIC_SLAVE)
		return;
	ch = &p->chip[c];
	if (port)
		chip_data_write(ch, val);
	else if (val & ICW1_SELECT)
		chip_icw1(ch, val);
	else if (val & OCW3_SELECT)
		chip_ocw3(ch, val);
	else
		chip_ocw2(ch, val);
}

/* Poll mode: the read is the chip's INTA (8259A datasheet, "The poll
 * command"): bit 7 set with the IR in bits 2:0 when one is requesting. */
static uint8_t chip_poll(struct vpic *p, unsigned int c)
{
	int ir = chip_request(p, c);

	p->chip[c].flags &= (uint8_t)~VPIC_POLL;
	if (ir < 0)
		return 0;
	chip_ack(&p->chip[c], (unsigned int)ir);
	return (uint8_t)(POLL_INTERRUPT | (unsigned int)ir);
}

uint8_t vpic_read(struct vpic *p, unsigned int c, unsigned int port)
{
	const struct vpic_chip *ch;

	if (c > VPIC_SLAVE)
		return 0xff;
	ch = &p->chip[c];
	if (port)
		return ch->imr;
	if (ch->flags & VPIC_POLL)
		return chip_poll(p, c);
	return (ch->flags & VPIC_READ_ISR) ? ch->isr : chip_irr(p, c);
}

void vpic_elcr_write(struct vpic *p, unsigned int c, uint8_t val)
{
	struct vpic_chip *ch;

	if (c > VPIC_SLAVE)
		return;
	ch = &p->chip[c];
	ch->elcr = val & ch->elcr_mask;
	ch->irr = (uint8_t)((ch->irr & ~ch->elcr) | (ch->lines & ch->elcr));
}

uint8_t vpic_elcr_read(const struct vpic *p, unsigned int c)
{
	return c > VPIC_SLAVE ? 0xff : p->chip[c].elcr;
}

bool vpic_output(const struct vpic *p)
{
	return chip_request(p, VPIC_MASTER) >= 0;
}

/* The slave's half of an INTA for the master's IR2. */
static uint8_t slave_intack(struct vpic *p)
{
	struct vpic_chip *s = &p->chip[VPIC_SLAVE];
	int ir = chip_request(p, VPIC_SLAVE);

	if (ir < 0)
		return (uint8_t)(s->base | SPURIOUS_IR);
	chip_ack(s, (unsigned int)ir);
	return (uint8_t)(s->base | (unsigned int)ir);
}

/* A request that went away before the INTA (a level line lowered) gives
 * IR7's vector with nothing in service: the 8259A's spurious interrupt. */
uint8_t vpic_intack(struct vpic *p)
{
	struct vpic_chip *m = &p->chip[VPIC_MASTER];
	int ir = chip_request(p, VPIC_MASTER);

	if (ir < 0)
		return (uint8_t)(m->base | SPURIOUS_IR);
	if (ir == VPIC_CASCADE_IRQ && is_cascade(m)) {
		uint8_t vector = slave_intack(p);

		chip_ack(m, (unsigned int)ir);
		return vector;
	}
	chip_ack(m, (unsigned int)ir);
	return (uint8_t)(m->base | (unsigned int)ir);
}
