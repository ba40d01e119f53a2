/* Host tests for the 8259A pair (guest/vpic.c): the BIOS state, the
 * initialization sequence, edge and level inputs, the cascade, priority,
 * EOI, rotation, poll and special mask mode, and hostile values. */
#include "guest/vpic.h"
#include "tests/unit/test.h"

#define M VPIC_MASTER
#define S VPIC_SLAVE
#define CMD 0
#define DATA 1

static struct vpic p;

/* A guest's own programming: ICW1 (edge, cascade, ICW4), ICW2-4. */
static void init_chips(uint8_t mbase, uint8_t sbase, uint8_t icw4)
{
	vpic_write(&p, M, CMD, 0x11);
	vpic_write(&p, M, DATA, mbase);
	vpic_write(&p, M, DATA, 0x04);
	vpic_write(&p, M, DATA, icw4);
	vpic_write(&p, S, CMD, 0x11);
	vpic_write(&p, S, DATA, sbase);
	vpic_write(&p, S, DATA, 0x02);
	vpic_write(&p, S, DATA, icw4);
}

static void unmask_all(void)
{
	vpic_write(&p, M, DATA, 0);
	vpic_write(&p, S, DATA, 0);
}

static void pulse(unsigned int irq)
{
	vpic_set_line(&p, irq, true);
	vpic_set_line(&p, irq, false);
}

TEST(vpic_bios_state)
{
	vpic_reset(&p);
	EXPECT_EQ(vpic_read(&p, M, DATA), 0xfb);
	EXPECT_EQ(vpic_read(&p, S, DATA), 0xff);
	EXPECT_EQ(vpic_elcr_read(&p, M), 0);
	EXPECT_EQ(vpic_elcr_read(&p, S), 0);
	EXPECT_EQ(vpic_read(&p, M, CMD), 0);            /* IRR */
	EXPECT(!vpic_output(&p));
	/* A masked edge is latched in IRR and delivered once unmasked. */
	pulse(11);
	EXPECT(!vpic_output(&p));
	EXPECT_EQ(vpic_read(&p, S, CMD), 0x08);
	vpic_write(&p, S, DATA, 0xf7);
	EXPECT(vpic_output(&p));
	EXPECT_EQ(vpic_read(&p, M, CMD), 0x04);         /* cascade requests */
	EXPECT_EQ(vpic_intack(&p), 0x73);
	EXPECT(!vpic_output(&p));
	vpic_write(&p, S, CMD, 0x0b);                   /* read ISR */
	vpic_write(&p, M, CMD, 0x0b);
	EXPECT_EQ(vpic_read(&p, S, CMD), 0x08);
	EXPECT_EQ(vpic_read(&p, M, CMD), 0x04);
	vpic_write(&p, S, CMD, 0x20);
	vpic_write(&p, M, CMD, 0x20);
	EXPECT_EQ(vpic_read(&p, S, CMD), 0);
	EXPECT_EQ(vpic_read(&p, M, CMD), 0);
}

TEST(vpic_init_sequence)
{
	vpic_reset(&p);
	vpic_write(&p, M, DATA, 0x00);
	vpic_write(&p, M, CMD, 0x11);
	EXPECT_EQ(vpic_read(&p, M, DATA), 0);           /* ICW1 clears IMR */
	pulse(1);
	EXPECT(!vpic_output(&p));                       /* mid-sequence */
	vpic_write(&p, M, DATA, 0x27);                  /* low bits dropped */
	vpic_write(&p, M, DATA, 0x04);
	vpic_write(&p, M, DATA, 0x01);
	pulse(1);
	EXPECT(vpic_output(&p));
	EXPECT_EQ(vpic_intack(&p), 0x21);
	/* Single mode without ICW4: ICW2 ends the sequence. */
	vpic_write(&p, S, CMD, 0x12);
	vpic_write(&p, S, DATA, 0x40);
	vpic_write(&p, S, DATA, 0xaa);                  /* OCW1 now */
	EXPECT_EQ(vpic_read(&p, S, DATA), 0xaa);
}

TEST(vpic_edge_and_level)
{
	vpic_reset(&p);
	init_chips(0x20, 0x28, 0x01);
	unmask_all();
	/* Edge: a pulse is latched; a held line does not fire again. */
	vpic_set_line(&p, 3, true);
	EXPECT_EQ(vpic_intack(&p), 0x23);
	vpic_write(&p, M, CMD, 0x20);
	EXPECT(!vpic_output(&p));
	vpic_set_line(&p, 3, false);
	/* Level: the request follows the line, and comes back after EOI. */
	vpic_elcr_write(&p, M, 0xff);
	EXPECT_EQ(vpic_elcr_read(&p, M), 0xf8);         /* IRQ 0-2 edge */
	vpic_set_line(&p, 5, true);
	EXPECT_EQ(vpic_intack(&p), 0x25);
	vpic_write(&p, M, CMD, 0x20);
	EXPECT(vpic_output(&p));
	EXPECT_EQ(vpic_intack(&p), 0x25);
	vpic_write(&p, M, CMD, 0x20);
	/* Lowered before INTA: the spurious IR7, nothing in service. */
	vpic_set_line(&p, 5, false);
	EXPECT(!vpic_output(&p));
	EXPECT_EQ(vpic_intack(&p), 0x27);
	vpic_write(&p, M, CMD, 0x0b);
	EXPECT_EQ(vpic_read(&p, M, CMD), 0);
	vpic_elcr_write(&p, S, 0xff);
	EXPECT_EQ(vpic_elcr_read(&p, S), 0xde);         /* IRQ 8, 13 edge */
}

TEST(vpic_priority_and_nesting)
{
	vpic_reset(&p);
	init_chips(0x20, 0x28, 0x01);
	unmask_all();
	pulse(4);
	pulse(1);
	EXPECT_EQ(vpic_intack(&p), 0x21);
	/* IR4 waits while IR1 is in service; IR0 preempts it. */
	EXPECT(!vpic_output(&p));
	pulse(0);
	EXPECT_EQ(vpic_intack(&p), 0x20);
	vpic_write(&p, M, CMD, 0x20);                   /* ends IR0 */
	vpic_write(&p, M, CMD, 0x0b);
	EXPECT_EQ(vpic_read(&p, M, CMD), 0x02);
	vpic_write(&p, M, CMD, 0x61);                   /* specific EOI IR1 */
	EXPECT_EQ(vpic_intack(&p), 0x24);
	vpic_write(&p, M, CMD, 0x64);
	/* A slave request is behind the master's IR0-1, ahead of IR3-7. */
	pulse(9);
	pulse(3);
	EXPECT_EQ(vpic_intack(&p), 0x29);
	EXPECT(!vpic_output(&p));                       /* IR2 in service */
	vpic_write(&p, S, CMD, 0x20);
	vpic_write(&p, M, CMD, 0x20);
	EXPECT_EQ(vpic_intack(&p), 0x23);
}

TEST(vpic_rotation)
{
	vpic_reset(&p);
	init_chips(0x20, 0x28, 0x01);
	unmask_all();
	vpic_write(&p, M, CMD, 0xc4);                   /* IR4 lowest */
	pulse(3);
	pulse(5);
	EXPECT_EQ(vpic_intack(&p), 0x25);               /* IR5 highest now */
	vpic_write(&p, M, CMD, 0xa0);                   /* rotate on EOI */
	EXPECT_EQ(vpic_intack(&p), 0x23);               /* IR5 lowest */
	vpic_write(&p, M, CMD, 0x20);
	/* Auto-EOI: nothing stays in service; rotation in AEOI mode. */
	init_chips(0x20, 0x28, 0x03);
	unmask_all();
	vpic_write(&p, M, CMD, 0x80);
	pulse(6);
	pulse(0);
	EXPECT_EQ(vpic_intack(&p), 0x20);
	EXPECT_EQ(vpic_intack(&p), 0x26);
	vpic_write(&p, M, CMD, 0x0b);
	EXPECT_EQ(vpic_read(&p, M, CMD), 0);
	pulse(0);
	pulse(7);
	EXPECT_EQ(vpic_intack(&p), 0x27);               /* IR6 was lowest */
}

TEST(vpic_poll_and_special_mask)
{
	vpic_reset(&p);
	init_chips(0x20, 0x28, 0x01);
	unmask_all();
	vpic_write(&p, M, CMD, 0x0c);                   /* poll */
	EXPECT_EQ(vpic_read(&p, M, CMD), 0);
	pulse(6);
	vpic_write(&p, M, CMD, 0x0c);
	EXPECT_EQ(vpic_read(&p, M, CMD), 0x86);
	EXPECT_EQ(vpic_read(&p, M, CMD), 0);            /* IRR again */
	/* IR6 in service: IR7 waits, unless special mask mode and IR6's
	 * mask let it through. */
	pulse(7);
	EXPECT(!vpic_output(&p));
	vpic_write(&p, M, CMD, 0x68);
	vpic_write(&p, M, DATA, 0x40);
	EXPECT(vpic_output(&p));
	EXPECT_EQ(vpic_intack(&p), 0x27);
	vpic_write(&p, M, CMD, 0x48);                   /* special mask off */
}

TEST(vpic_hostile_values)
{
	vpic_reset(&p);
	/* Every byte to every port, in any order: no state out of range. */
	for (unsigned int v = 0; v < 256; v++)
		for (unsigned int c = 0; c < 2; c++) {
			vpic_write(&p, c, CMD, (uint8_t)v);
			vpic_write(&p, c, DATA, (uint8_t)(v * 7));
			vpic_elcr_write(&p, c, (uint8_t)v);
			vpic_set_line(&p, v % 20, v & 1);
			(void)vpic_read(&p, c, v & 1);
			(void)vpic_intack(&p);
			EXPECT(p.chip[c].lowest < 8);
			EXPECT(p.chip[c].init <= VPIC_INIT_ICW4);
			EXPECT_EQ(p.chip[c].elcr & ~p.chip[c].elcr_mask, 0);
		}
	/* Out-of-range chips and lines are ignored. */
	vpic_write(&p, 2, CMD, 0x11);
	EXPECT_EQ(vpic_read(&p, 5, DATA), 0xff);
	vpic_set_line(&p, 2, true);                     /* the cascade */
	vpic_set_line(&p, 16, true);
	/* The cascade off (master ICW3 without IR2): IR2 is the master's. */
	vpic_reset(&p);
	init_chips(0x20, 0x28, 0x01);
	vpic_write(&p, M, CMD, 0x11);
	vpic_write(&p, M, DATA, 0x20);
	vpic_write(&p, M, DATA, 0x00);
	vpic_write(&p, M, DATA, 0x01);
	unmask_all();
	pulse(10);
	EXPECT(!vpic_output(&p));
}

TEST_MAIN()
