/* Host tests for the virtual I/O APIC (guest/ioapic.c): the register file
 * behind IOREGSEL/IOWIN, and edges on its pins delivered through the real
 * local APIC model (guest/vlapic*.c) to the vCPUs an entry names. */
#include "guest/vlapic_regs.h"
#include "guest/guest.h"
#include "guest/ioapic.h"
#include "arch/msr.h"
#include "arch/x86.h"
#include "vmx/vmx.h"
#include "tests/unit/test.h"
#include "tests/unit/fake_apic_page.h"

#define NVCPUS 2

/* What the kernel side provides. */
struct vmx_caps vmx_caps = { .preempt_timer = true };
uint64_t tsc_khz = 20000;
static struct mmio_region region;
static const struct mmio_region *registered;

void vlapic_kick(struct vcpu *t)
{
	(void)t;
}

int mmio_register(struct guest *gg, const struct mmio_region *r)
{
	(void)gg;
	region = *r;
	registered = &region;
	return 0;
}

static struct guest g;
static struct vcpu vcpus[NVCPUS];

static void setup(void)
{
	memset(&g, 0, sizeof(g));
	memset(vcpus, 0, sizeof(vcpus));
	g.nr_vcpus = NVCPUS;
	for (unsigned int i = 0; i < NVCPUS; i++) {
		vcpus[i].guest = &g;
		vcpus[i].index = i;
		g.vcpus[i] = &vcpus[i];
		vlapic_init(&vcpus[i]);
		vcpus[i].lapic.state = VLAPIC_RUNNING;
		EXPECT(vlapic_reg_write(&vcpus[i], APIC_REG_SVR, false, 0x1ff));
	}
	EXPECT(ioapic_init(&g, 2) == 0);
}

/* Guest accesses through the MMIO handlers, as the emulator makes them. */
static void wr(uint32_t reg, uint32_t val)
{
	registered->write(&g, registered->opaque, IOAPIC_OFF_SEL, &reg, 4);
	registered->write(&g, registered->opaque, IOAPIC_OFF_WIN, &val, 4);
}

static uint32_t rd(uint32_t reg)
{
	uint32_t val = 0xdeadbeef;

	registered->write(&g, registered->opaque, IOAPIC_OFF_SEL, &reg, 4);
	registered->read(&g, registered->opaque, IOAPIC_OFF_WIN, &val, 4);
	return val;
}

static int pending(unsigned int v)
{
	return vlapic_pending_vector(&vcpus[v].lapic);
}

TEST(ioapic_identity_and_reset_state)
{
	setup();
	ASSERT(registered != NULL);
	EXPECT_EQ(registered->gpa, 0xfec00000);
	EXPECT_EQ(rd(IOAPIC_REG_ID), 2u << 24);
	EXPECT_EQ(rd(IOAPIC_REG_VER), 0x170011);        /* 24 pins, v0x11 */
	for (unsigned int p = 0; p < IOAPIC_PINS; p++) {
		EXPECT_EQ(rd(IOAPIC_REG_REDIR + 2 * p), IOREDIR_MASKED);
		EXPECT_EQ(rd(IOAPIC_REG_REDIR + 2 * p + 1), 0);
	}
	EXPECT_EQ(rd(0x40), 0);                         /* past the table */
	wr(IOAPIC_REG_ID, 5u << 24);
	EXPECT_EQ(rd(IOAPIC_REG_ID), 5u << 24);
	wr(IOAPIC_REG_VER, 0);                          /* read-only */
	EXPECT_EQ(rd(IOAPIC_REG_VER), 0x170011);
}

TEST(ioapic_entry_read_only_bits)
{
	setup();
	wr(IOAPIC_REG_REDIR + 8, 0xffffffff);
	wr(IOAPIC_REG_REDIR + 9, 0xffffffff);
	EXPECT_EQ(rd(IOAPIC_REG_REDIR + 8), 0x1afff);   /* not 12, 14, 17+ */
	EXPECT_EQ(rd(IOAPIC_REG_REDIR + 9), 0xff000000);
}

TEST(ioapic_edge_to_physical_destination)
{
	setup();
	wr(IOAPIC_REG_REDIR + 9, 1u << 24);             /* pin 4 -> APIC 1 */
	wr(IOAPIC_REG_REDIR + 8, 0x24);                 /* fixed, edge, on */
	ioapic_set_irq(&g, 4, true);
	EXPECT_EQ(pending(1), 0x24);
	EXPECT_EQ(pending(0), -1);
	vlapic_ack(&vcpus[1].lapic, 0x24);
	EXPECT(vlapic_reg_write(&vcpus[1], APIC_REG_EOI, false, 0));
	ioapic_set_irq(&g, 4, true);                    /* no new edge */
	EXPECT_EQ(pending(1), -1);
	ioapic_set_irq(&g, 4, false);
	ioapic_set_irq(&g, 4, true);                    /* a new edge */
	EXPECT_EQ(pending(1), 0x24);
}

TEST(ioapic_masked_edge_lost_but_held_level_delivered_on_unmask)
{
	setup();
	wr(IOAPIC_REG_REDIR + 9, 0);
	wr(IOAPIC_REG_REDIR + 8, IOREDIR_MASKED | 0x30);
	ioapic_set_irq(&g, 4, true);
	ioapic_set_irq(&g, 4, false);
	EXPECT_EQ(pending(0), -1);                      /* lost */
	ioapic_set_irq(&g, 4, true);                    /* held high */
	EXPECT_EQ(pending(0), -1);
	wr(IOAPIC_REG_REDIR + 8, 0x30);                 /* unmask */
	EXPECT_EQ(pending(0), 0x30);
}

TEST(ioapic_logical_and_lowest_priority)
{
	setup();
	/* Flat logical model: vCPU 0 has bit 0, vCPU 1 bit 1. */
	for (unsigned int i = 0; i < NVCPUS; i++)
		EXPECT(vlapic_reg_write(&vcpus[i], APIC_REG_LDR, false,
					(1u << i) << 24));
	wr(IOAPIC_REG_REDIR + 3, 0x03u << 24);          /* pin 1: both */
	wr(IOAPIC_REG_REDIR + 2, IOREDIR_LOGICAL | 0x41);
	ioapic_set_irq(&g, 1, true);
	EXPECT_EQ(pending(0), 0x41);
	EXPECT_EQ(pending(1), 0x41);
	wr(IOAPIC_REG_REDIR + 5, 0x03u << 24);          /* pin 2: one of them */
	wr(IOAPIC_REG_REDIR + 4, IOREDIR_LOGICAL | (IOREDIR_DM_LOWEST << 8) |
	   0x52);
	ioapic_set_irq(&g, 2, true);
	EXPECT_EQ((pending(0) == 0x52) + (pending(1) == 0x52), 1);
}

TEST(ioapic_unwired_modes_and_pins_ignored)
{
	setup();
	wr(IOAPIC_REG_REDIR + 6, (4u << 8) | 0x60);     /* NMI: not wired */
	ioapic_set_irq(&g, 3, true);
	EXPECT_EQ(pending(0), -1);
	ioapic_set_irq(&g, IOAPIC_PINS, true);          /* no such pin */
	ioapic_set_irq(&g, 1000, true);
	EXPECT_EQ(g.dev.ioapic.level, 1u << 3);
}

static bool tmr_bit(unsigned int v, unsigned int vector)
{
	return vcpus[v].lapic.tmr[vector / 32] & (1u << (vector % 32));
}

/* The vCPU takes the interrupt and ends it with an EOI. */
static void take_and_eoi(unsigned int v, unsigned int vector)
{
	vlapic_ack(&vcpus[v].lapic, (uint8_t)vector);
	EXPECT(vlapic_reg_write(&vcpus[v], APIC_REG_EOI, false, 0));
}

/* A level-triggered entry (82093AA 3.2.4; SDM Vol. 3A 11.8.4-11.8.5):
 * delivery sets remote IRR and the local APIC's TMR bit; while remote
 * IRR is set the held line sends nothing more; the EOI of that vector
 * clears remote IRR and, with the line still high, delivers it again.
 * TMR keeps the trigger mode of the vector's last acceptance. */
TEST(ioapic_level_remote_irr_and_eoi)
{
	setup();
	wr(IOAPIC_REG_REDIR + 0x1d, 0);                 /* pin 14 -> APIC 0 */
	wr(IOAPIC_REG_REDIR + 0x1c, IOREDIR_LEVEL | 0x76);
	ioapic_set_irq(&g, 14, true);
	EXPECT_EQ(pending(0), 0x76);
	EXPECT(rd(IOAPIC_REG_REDIR + 0x1c) & IOREDIR_REMOTE_IRR);
	EXPECT(tmr_bit(0, 0x76));
	vlapic_ack(&vcpus[0].lapic, 0x76);
	ioapic_set_irq(&g, 14, false);
	ioapic_set_irq(&g, 14, true);                   /* remote IRR: held */
	EXPECT_EQ(pending(0), -1);
	EXPECT(vlapic_reg_write(&vcpus[0], APIC_REG_EOI, false, 0));
	EXPECT_EQ(pending(0), 0x76);                    /* still high: again */
	EXPECT(rd(IOAPIC_REG_REDIR + 0x1c) & IOREDIR_REMOTE_IRR);
	ioapic_set_irq(&g, 14, false);
	take_and_eoi(0, 0x76);
	EXPECT_EQ(pending(0), -1);                      /* low: done */
	EXPECT(tmr_bit(0, 0x76));       /* until an edge of the vector */
	EXPECT(!(rd(IOAPIC_REG_REDIR + 0x1c) & IOREDIR_REMOTE_IRR));
}

/* An edge-triggered vector leaves TMR clear, and its EOI does not touch
 * a level entry of another vector. */
TEST(ioapic_edge_eoi_leaves_level_entry_alone)
{
	setup();
	wr(IOAPIC_REG_REDIR + 0x1c, IOREDIR_LEVEL | 0x76);
	wr(IOAPIC_REG_REDIR + 8, 0x84);                 /* pin 4, edge */
	ioapic_set_irq(&g, 14, true);
	ioapic_set_irq(&g, 4, true);
	EXPECT(!tmr_bit(0, 0x84));
	EXPECT(tmr_bit(0, 0x76));
	take_and_eoi(0, 0x84);
	EXPECT(rd(IOAPIC_REG_REDIR + 0x1c) & IOREDIR_REMOTE_IRR);
	EXPECT(tmr_bit(0, 0x76));
	EXPECT_EQ(pending(0), 0x76);
}

/* The vector accepted edge-triggered after a level one: TMR clear, and
 * its EOI delivers nothing. */
TEST(ioapic_edge_acceptance_clears_tmr)
{
	setup();
	wr(IOAPIC_REG_REDIR + 0x1c, IOREDIR_LEVEL | 0x76);
	ioapic_set_irq(&g, 14, true);
	ioapic_set_irq(&g, 14, false);
	take_and_eoi(0, 0x76);
	EXPECT(tmr_bit(0, 0x76));
	wr(IOAPIC_REG_REDIR + 8, 0x76);                 /* pin 4, edge */
	ioapic_set_irq(&g, 4, true);
	EXPECT(!tmr_bit(0, 0x76));
	take_and_eoi(0, 0x76);
	EXPECT_EQ(pending(0), -1);
}

/* A held level on a masked entry is delivered when it is unmasked; a
 * level entry rewritten as edge drops its remote IRR. */
TEST(ioapic_level_masked_then_unmasked_and_made_edge)
{
	setup();
	wr(IOAPIC_REG_REDIR + 0x1c, IOREDIR_MASKED | IOREDIR_LEVEL | 0x76);
	ioapic_set_irq(&g, 14, true);
	EXPECT_EQ(pending(0), -1);
	wr(IOAPIC_REG_REDIR + 0x1c, IOREDIR_LEVEL | 0x76);
	EXPECT_EQ(pending(0), 0x76);
	EXPECT(rd(IOAPIC_REG_REDIR + 0x1c) & IOREDIR_REMOTE_IRR);
	wr(IOAPIC_REG_REDIR + 0x1c, 0x76);
	EXPECT(!(rd(IOAPIC_REG_REDIR + 0x1c) & IOREDIR_REMOTE_IRR));
}

/* vCPUs in x2APIC mode read the entry's 8-bit destination as an x2APIC
 * ID (0xff: all) or, logical, as bits of cluster 0 of their x2APIC LDR
 * (1 << APIC ID for IDs below 16). */
TEST(ioapic_destinations_in_x2apic_mode)
{
	setup();
	for (unsigned int i = 0; i < NVCPUS; i++)
		EXPECT(vlapic_wrmsr(&vcpus[i], MSR_IA32_APIC_BASE,
				    vcpus[i].lapic.apic_base | APIC_BASE_EXTD));
	wr(IOAPIC_REG_REDIR + 3, 0x02u << 24);          /* pin 1: LDR bit 1 */
	wr(IOAPIC_REG_REDIR + 2, IOREDIR_LOGICAL | 0x41);
	ioapic_set_irq(&g, 1, true);
	EXPECT_EQ(pending(0), -1);
	EXPECT_EQ(pending(1), 0x41);
	wr(IOAPIC_REG_REDIR + 5, 0xffu << 24);          /* pin 2: all */
	wr(IOAPIC_REG_REDIR + 4, 0x52);
	ioapic_set_irq(&g, 2, true);
	EXPECT_EQ(pending(0), 0x52);
	EXPECT_EQ(pending(1), 0x52);
	wr(IOAPIC_REG_REDIR + 7, 0x00u << 24);          /* pin 3: ID 0 */
	wr(IOAPIC_REG_REDIR + 6, 0x63);
	ioapic_set_irq(&g, 3, true);
	EXPECT_EQ(pending(0), 0x63);
	EXPECT_EQ(pending(1), 0x52);
}

TEST_MAIN()
