/* Host unit tests for the virtual local APIC's register model, priorities,
 * timer arithmetic and IPI routing (guest/vlapic.c, guest/vlapic_ipi.c). */
#include "guest/vlapic_regs.h"
#include "guest/guest.h"
#include "arch/msr.h"
#include "arch/x86.h"
#include "vmx/vmx.h"
#include "tests/unit/test.h"
#include "tests/unit/fake_apic_page.h"

#define NVCPUS 3

/* What the kernel side provides (its vlapic_kick skips the calling
 * vCPU; this one counts every call). */
struct vmx_caps vmx_caps = { .preempt_timer = true };
uint64_t tsc_khz = 20000;               /* Bochs's TSC at ips=20000000 */
static unsigned int kicks[NVCPUS];

void vlapic_kick(struct vcpu *t)
{
	kicks[t->index]++;
}

/* The I/O APIC (linked for the EOI of level-triggered vectors) is never
 * registered here. */
int mmio_register(struct guest *gg, const struct mmio_region *r)
{
	(void)gg, (void)r;
	return -1;
}

static struct guest g;
static struct vcpu vcpus[NVCPUS];

static struct vcpu *setup(void)
{
	memset(&g, 0, sizeof(g));
	memset(vcpus, 0, sizeof(vcpus));
	memset(kicks, 0, sizeof(kicks));
	g.nr_vcpus = NVCPUS;
	for (unsigned int i = 0; i < NVCPUS; i++) {
		vcpus[i].guest = &g;
		vcpus[i].index = i;
		g.vcpus[i] = &vcpus[i];
		vlapic_init(&vcpus[i]);
	}
	return &vcpus[0];
}

static uint64_t rd(struct vcpu *v, unsigned int reg, bool x2)
{
	uint64_t val = 0xdead;

	EXPECT(vlapic_reg_read(v, reg, x2, &val));
	return val;
}

static void enable(struct vcpu *v)
{
	EXPECT(vlapic_reg_write(v, APIC_REG_SVR, false, 0x1ff));
}

static void to_x2apic(struct vcpu *v)
{
	EXPECT(vlapic_wrmsr(v, MSR_IA32_APIC_BASE,
			    v->lapic.apic_base | APIC_BASE_EXTD));
}

TEST(vlapic_reset_state)
{
	struct vcpu *v = setup();

	EXPECT_EQ(v->lapic.apic_base, VLAPIC_BASE_DEFAULT | APIC_BASE_EN |
				      APIC_BASE_BSP);
	EXPECT_EQ(vcpus[1].lapic.apic_base, VLAPIC_BASE_DEFAULT | APIC_BASE_EN);
	EXPECT_EQ(v->lapic.state, VLAPIC_RUNNING);
	EXPECT_EQ(vcpus[2].lapic.state, VLAPIC_WAIT_SIPI);
	EXPECT_EQ(rd(&vcpus[2], APIC_REG_ID, false), 2u << 24);
	EXPECT_EQ(rd(v, APIC_REG_VERSION, false), 0x60014);
	EXPECT_EQ(rd(v, APIC_REG_SVR, false), 0xff);
	for (unsigned int r = APIC_REG_LVT_TIMER; r <= APIC_REG_LVT_ERROR; r++)
		EXPECT_EQ(rd(v, r, false), LVT_MASKED);
	EXPECT_EQ(rd(v, APIC_REG_DFR, false), 0xffffffff);
}

TEST(vlapic_priorities)
{
	struct vcpu *v = setup();
	struct vlapic *a = &v->lapic;

	vlapic_accept(v, 0x40);                 /* software-disabled: dropped */
	EXPECT_EQ(vlapic_pending_vector(a), -1);
	enable(v);
	vlapic_accept(v, 0x40);
	EXPECT_EQ(vlapic_pending_vector(a), 0x40);
	EXPECT(a->work & VLAPIC_WORK_EVAL);
	vlapic_reg_write(v, APIC_REG_TPR, false, 0x40);  /* same class: held */
	EXPECT_EQ(vlapic_pending_vector(a), -1);
	vlapic_reg_write(v, APIC_REG_TPR, false, 0x3f);
	EXPECT_EQ(vlapic_pending_vector(a), 0x40);
	vlapic_reg_write(v, APIC_REG_TPR, false, 0);
	vlapic_ack(a, 0x40);
	EXPECT_EQ(rd(v, APIC_REG_PPR, false), 0x40);
	EXPECT_EQ(rd(v, APIC_REG_ISR0 + 2, false), 1);
	EXPECT_EQ(rd(v, APIC_REG_IRR0 + 2, false), 0);
	vlapic_accept(v, 0x45);                 /* same class as in service */
	EXPECT_EQ(vlapic_pending_vector(a), -1);
	vlapic_accept(v, 0x81);
	EXPECT_EQ(vlapic_pending_vector(a), 0x81);
	vlapic_ack(a, 0x81);
	EXPECT_EQ(rd(v, APIC_REG_PPR, false), 0x80);
	vlapic_reg_write(v, APIC_REG_EOI, false, 0);     /* retires 0x81 */
	EXPECT_EQ(rd(v, APIC_REG_ISR0 + 4, false), 0);
	EXPECT_EQ(rd(v, APIC_REG_ISR0 + 2, false), 1);
	EXPECT_EQ(vlapic_pending_vector(a), -1);         /* 0x45 waits */
	vlapic_reg_write(v, APIC_REG_EOI, false, 0);     /* retires 0x40 */
	EXPECT_EQ(vlapic_pending_vector(a), 0x45);
}

/* A shadowed TPR (the VTPR of a virtual-APIC page) is the TPR of both
 * forms, what MOV to CR8 writes there counts for priorities, and the
 * threshold is the class of the highest vector the TPR holds back. */
TEST(vlapic_shadowed_tpr)
{
	struct vcpu *v = setup();
	struct vlapic *a = &v->lapic;
	uint32_t page[0x100 / 4] = { 0 }, threshold = 0xdead;
	uint32_t *vtpr = &page[0x80 / 4];
	uint64_t val = 0;

	enable(v);
	vlapic_reg_write(v, APIC_REG_TPR, false, 0x52);
	vlapic_shadow_tpr(a, vtpr);
	EXPECT_EQ(*vtpr, 0x52);                 /* it takes the TPR along */
	vlapic_reg_write(v, APIC_REG_TPR, false, 0x1ff);
	EXPECT_EQ(*vtpr, 0xff);                 /* bits 31:8 reserved */
	*vtpr = 0x60;                           /* MOV to CR8 with 6 */
	EXPECT_EQ(rd(v, APIC_REG_TPR, false), 0x60);
	EXPECT_EQ(rd(v, APIC_REG_PPR, false), 0x60);
	vlapic_accept(v, 0x41);
	vlapic_accept(v, 0x65);
	EXPECT_EQ(vlapic_pending_vector_tpr(a, &threshold), -1);
	EXPECT_EQ(threshold, 6);
	*vtpr = 0x50;                           /* below it: 0x65 goes in */
	EXPECT_EQ(vlapic_pending_vector_tpr(a, &threshold), 0x65);
	EXPECT_EQ(threshold, 0);
	vlapic_ack(a, 0x65);
	EXPECT_EQ(vlapic_pending_vector_tpr(a, &threshold), -1);
	EXPECT_EQ(threshold, 4);                /* 0x41, under TPR 0x50 */
	vlapic_reg_write(v, APIC_REG_EOI, false, 0);
	to_x2apic(v);
	EXPECT(vlapic_wrmsr(v, 0x808, 0x30));
	EXPECT_EQ(*vtpr, 0x30);
	EXPECT_EQ(vlapic_pending_vector_tpr(a, &threshold), 0x41);
	EXPECT_EQ(threshold, 0);
	*vtpr = 0x70;
	EXPECT(vlapic_rdmsr(v, 0x808, &val));
	EXPECT_EQ(val, 0x70);
	/* Disabling the APIC resets the TPR, in the page. */
	EXPECT(vlapic_wrmsr(v, MSR_IA32_APIC_BASE, VLAPIC_BASE_DEFAULT |
			    APIC_BASE_BSP));
	EXPECT_EQ(*vtpr, 0);
}

TEST(vlapic_illegal_vectors_and_esr)
{
	struct vcpu *v = setup();

	enable(v);
	enable(&vcpus[1]);
	vlapic_reg_write(v, APIC_REG_ICR_HI, false, 1u << 24);
	vlapic_reg_write(v, APIC_REG_ICR, false, 0x05);  /* fixed, vector 5 */
	EXPECT_EQ(vlapic_pending_vector(&vcpus[1].lapic), -1);
	EXPECT_EQ(rd(v, APIC_REG_ESR, false), 0);        /* not latched yet */
	vlapic_reg_write(v, APIC_REG_ESR, false, 0);
	EXPECT_EQ(rd(v, APIC_REG_ESR, false), ESR_SEND_ILLEGAL);
	vlapic_reg_write(&vcpus[1], APIC_REG_ESR, false, 0);
	EXPECT_EQ(rd(&vcpus[1], APIC_REG_ESR, false), ESR_RECV_ILLEGAL);
}

/* Each error raises the LVT Error interrupt where it is unmasked (SDM
 * Vol. 3A 11.5.3): on the sender and on the receiver of an illegal
 * vector; none for a masked entry or an illegal vector in it. */
TEST(vlapic_error_interrupt)
{
	struct vcpu *v = setup(), *t = &vcpus[1];

	enable(v);
	enable(t);
	vlapic_reg_write(v, APIC_REG_LVT_ERROR, false, 0xe0);
	vlapic_reg_write(t, APIC_REG_LVT_ERROR, false, 0xe1);
	vlapic_reg_write(v, APIC_REG_ICR_HI, false, 1u << 24);
	vlapic_reg_write(v, APIC_REG_ICR, false, 0x03);
	EXPECT_EQ(vlapic_pending_vector(&v->lapic), 0xe0);
	EXPECT_EQ(vlapic_pending_vector(&t->lapic), 0xe1);
	vlapic_ack(&t->lapic, 0xe1);
	vlapic_reg_write(t, APIC_REG_EOI, false, 0);
	vlapic_reg_write(t, APIC_REG_LVT_ERROR, false, LVT_MASKED | 0xe1);
	vlapic_reg_write(v, APIC_REG_ICR, false, 0x04);
	EXPECT_EQ(vlapic_pending_vector(&t->lapic), -1);
	vlapic_reg_write(t, APIC_REG_LVT_ERROR, false, 0x05);
	vlapic_reg_write(v, APIC_REG_ICR, false, 0x04);
	EXPECT_EQ(vlapic_pending_vector(&t->lapic), -1);
	vlapic_reg_write(t, APIC_REG_ESR, false, 0);
	EXPECT_EQ(rd(t, APIC_REG_ESR, false), ESR_RECV_ILLEGAL);
}

TEST(vlapic_x2apic_access_rules)
{
	struct vcpu *v = setup();
	uint64_t val;

	EXPECT(!vlapic_rdmsr(v, 0x802, &val));  /* xAPIC mode */
	to_x2apic(v);
	EXPECT(vlapic_rdmsr(v, 0x802, &val));
	EXPECT_EQ(val, 0);
	EXPECT(vlapic_rdmsr(&vcpus[0], 0x80d, &val));
	EXPECT_EQ(val, 1);
	EXPECT_EQ(vlapic_x2apic_ldr(0x23), (2u << 16) | (1u << 3));
	for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
		static const uint32_t exist[] = {
			0x802, 0x803, 0x808, 0x80a, 0x80d, 0x80f, 0x828, 0x82f,
			0x830, 0x832, 0x833, 0x834, 0x835, 0x836, 0x837, 0x838,
			0x839, 0x83e };
		bool readable = (msr >= 0x810 && msr <= 0x827);

		for (unsigned int i = 0; i < ARRAY_SIZE(exist); i++)
			readable |= exist[i] == msr;
		if (vlapic_rdmsr(v, msr, &val) != readable)
			printf("    msr %#x: readable should be %d\n", msr, readable);
		EXPECT(vlapic_rdmsr(v, msr, &val) == readable);
	}
	EXPECT(!vlapic_wrmsr(v, 0x802, 0));     /* read-only */
	EXPECT(!vlapic_wrmsr(v, 0x80a, 0));
	EXPECT(!vlapic_wrmsr(v, 0x820, 0));
	EXPECT(!vlapic_wrmsr(v, 0x839, 0));
	EXPECT(!vlapic_wrmsr(v, 0x80b, 1));     /* EOI: only 0 */
	EXPECT(vlapic_wrmsr(v, 0x80b, 0));
	EXPECT(!vlapic_wrmsr(v, 0x828, 1));     /* ESR: only 0 */
	EXPECT(!vlapic_wrmsr(v, 0x808, 0x100)); /* TPR reserved bits */
	EXPECT(!vlapic_wrmsr(v, 0x80f, 1ull << 32));
	EXPECT(!vlapic_wrmsr(v, 0x83f, 0x100)); /* SELF IPI reserved bits */
	EXPECT(vlapic_wrmsr(v, 0x830, (2ull << 32) | 0x4030));
	EXPECT(vlapic_rdmsr(v, 0x830, &val));
	EXPECT_EQ(val, (2ull << 32) | 0x4030);
}

TEST(vlapic_apic_base_transitions)
{
	struct vcpu *v = setup();
	uint64_t base = v->lapic.apic_base;

	EXPECT(!vlapic_wrmsr(v, MSR_IA32_APIC_BASE,
			     (base & ~(uint64_t)APIC_BASE_EN) | APIC_BASE_EXTD));
	to_x2apic(v);
	EXPECT(!vlapic_wrmsr(v, MSR_IA32_APIC_BASE, base));   /* x2 -> xAPIC */
	EXPECT(vlapic_wrmsr(v, MSR_IA32_APIC_BASE, base & ~(uint64_t)APIC_BASE_EN));
	EXPECT(!vlapic_hw_enabled(&v->lapic));
	EXPECT(!vlapic_wrmsr(v, MSR_IA32_APIC_BASE, base | APIC_BASE_EXTD));
	EXPECT(vlapic_wrmsr(v, MSR_IA32_APIC_BASE, base));    /* on, xAPIC */
	EXPECT(vlapic_hw_enabled(&v->lapic) && !vlapic_x2apic_mode(&v->lapic));
	EXPECT_EQ(rd(v, APIC_REG_SVR, false), 0xff);           /* reset */
}

/* The 8259s' INTR gets in through LINT0 as ExtINT (unmasked), which a
 * software-disabled APIC cannot have, or with the APIC off; a LINT0
 * write asks the entry path to look again. */
TEST(vlapic_lint0_extint)
{
	struct vcpu *v = setup();
	uint64_t base = v->lapic.apic_base;

	EXPECT(!vlapic_takes_extint(&v->lapic));                /* masked */
	EXPECT(vlapic_reg_write(v, APIC_REG_LVT_LINT0, false, 0x700));
	EXPECT(!vlapic_takes_extint(&v->lapic));                /* SVR off */
	enable(v);
	v->lapic.work = 0;
	EXPECT(vlapic_reg_write(v, APIC_REG_LVT_LINT0, false, 0x700));
	EXPECT(vlapic_takes_extint(&v->lapic));
	EXPECT(v->lapic.work & VLAPIC_WORK_EVAL);
	EXPECT(vlapic_reg_write(v, APIC_REG_LVT_LINT0, false, 0x400));
	EXPECT(!vlapic_takes_extint(&v->lapic));                /* NMI */
	EXPECT(vlapic_reg_write(v, APIC_REG_LVT_LINT0, false, 0x10700));
	EXPECT(!vlapic_takes_extint(&v->lapic));
	to_x2apic(v);
	EXPECT(vlapic_wrmsr(v, MSR_X2APIC_FIRST + APIC_REG_LVT_LINT0, 0x700));
	EXPECT(vlapic_takes_extint(&v->lapic));
	EXPECT(vlapic_wrmsr(v, MSR_IA32_APIC_BASE, base & ~(uint64_t)APIC_BASE_EN));
	EXPECT(vlapic_takes_extint(&v->lapic));                 /* APIC off */
}

/* The base moves (SDM Vol. 3A 11.4.4): the bus is asked for a page there
 * when the APIC is on in xAPIC mode away from 0xfee00000; reserved bits
 * (0-7, 9, MAXPHYADDR up) and a changed BSP flag #GP; a page Keel cannot
 * give stops the guest. */
TEST(vlapic_apic_base_moves)
{
	struct vcpu *v = setup();
	uint64_t base = v->lapic.apic_base, moved = 0xfed40000ULL;
	uint64_t flags = base & ~(uint64_t)APIC_BASE_ADDR;

	fake_apic_place_why = NULL;
	fake_apic_placed = 0;
	fake_fatals = 0;
	EXPECT(!vlapic_wrmsr(v, MSR_IA32_APIC_BASE, base | 1));
	EXPECT(!vlapic_wrmsr(v, MSR_IA32_APIC_BASE, base | BIT_ULL(9)));
	EXPECT(!vlapic_wrmsr(v, MSR_IA32_APIC_BASE,
			     base | BIT_ULL(cpu_maxphyaddr())));
	EXPECT(!vlapic_wrmsr(v, MSR_IA32_APIC_BASE, base & ~APIC_BASE_BSP));
	EXPECT_EQ(fake_apic_placed, 0);
	EXPECT(vlapic_wrmsr(v, MSR_IA32_APIC_BASE, moved | flags));
	EXPECT_EQ(fake_apic_placed, moved);
	EXPECT(vlapic_xapic_mode(&v->lapic));
	EXPECT(vlapic_rdmsr(v, MSR_IA32_APIC_BASE, &base) &&
	       base == (moved | flags));
	fake_apic_placed = 0;
	EXPECT(vlapic_wrmsr(v, MSR_IA32_APIC_BASE, VLAPIC_BASE_DEFAULT | flags));
	EXPECT_EQ(fake_apic_placed, 0);         /* registered from the start */
	fake_apic_place_why = "its RAM or another device is there";
	EXPECT(vlapic_wrmsr(v, MSR_IA32_APIC_BASE, 0x100000 | flags));
	EXPECT_EQ(fake_fatals, 1);
	EXPECT_EQ(v->lapic.apic_base, VLAPIC_BASE_DEFAULT | flags);
	fake_apic_place_why = NULL;
}

TEST(vlapic_timer_divide_and_oneshot)
{
	static const struct { uint32_t dcr; unsigned int shift; } div[] = {
		{ 0x0, 1 }, { 0x1, 2 }, { 0x2, 3 }, { 0x3, 4 }, { 0x8, 5 },
		{ 0x9, 6 }, { 0xa, 7 }, { 0xb, 0 },
	};
	struct vcpu *v = setup();
	struct vlapic *a = &v->lapic;
	uint64_t deadline;

	for (unsigned int i = 0; i < ARRAY_SIZE(div); i++) {
		vlapic_reg_write(v, APIC_REG_TIMER_DCR, false, div[i].dcr);
		EXPECT_EQ(a->timer_shift, div[i].shift);
		EXPECT_EQ(rd(v, APIC_REG_TIMER_DCR, false), div[i].dcr);
	}
	enable(v);
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, 0x50);
	vlapic_reg_write(v, APIC_REG_TIMER_ICR, false, 100000);
	deadline = a->timer_deadline;
	EXPECT(a->work & VLAPIC_WORK_TIMER);
	EXPECT(rd(v, APIC_REG_TIMER_CCR, false) <= 100000);
	vlapic_timer_poll(v, deadline - 1);
	EXPECT_EQ(vlapic_pending_vector(a), -1);
	vlapic_timer_poll(v, deadline);
	EXPECT_EQ(vlapic_pending_vector(a), 0x50);
	EXPECT_EQ(a->timer_deadline, 0);
	EXPECT_EQ(rd(v, APIC_REG_TIMER_CCR, false), 0);
}

/* A count under way goes on across a change between one-shot and
 * periodic; reaching 0 then follows the new mode (SDM Vol. 3A 11.5.4). A
 * stopped timer stays stopped. */
TEST(vlapic_timer_mode_change_keeps_the_count)
{
	struct vcpu *v = setup();
	struct vlapic *a = &v->lapic;
	uint32_t periodic = TIMER_PERIODIC << LVT_TIMER_MODE_SHIFT;
	uint64_t d0;

	enable(v);
	vlapic_reg_write(v, APIC_REG_TIMER_DCR, false, 0xb);     /* by 1 */
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, 0x50);   /* one-shot */
	vlapic_reg_write(v, APIC_REG_TIMER_ICR, false, 100000);
	d0 = a->timer_deadline;
	EXPECT_EQ(a->timer_period, 0);
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, 0x50 | periodic);
	EXPECT_EQ(a->timer_deadline, d0);               /* not restarted */
	EXPECT_EQ(a->timer_period, 100000);
	vlapic_timer_poll(v, d0);
	EXPECT_EQ(a->timer_deadline, d0 + 100000);      /* reloaded */
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, 0x50);   /* one-shot */
	EXPECT_EQ(a->timer_period, 0);
	vlapic_timer_poll(v, d0 + 100000);
	EXPECT_EQ(a->timer_deadline, 0);                /* stopped at 0 */
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, 0x50 | periodic);
	EXPECT_EQ(a->timer_deadline, 0);                /* stays at 0 */
	EXPECT_EQ(rd(v, APIC_REG_TIMER_CCR, false), 0);
}

TEST(vlapic_timer_periodic_and_masked)
{
	struct vcpu *v = setup();
	struct vlapic *a = &v->lapic;
	uint64_t d0;

	enable(v);
	vlapic_reg_write(v, APIC_REG_TIMER_DCR, false, 0x1);     /* by 4 */
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, LVT_MASKED | 0x50 |
			 (TIMER_PERIODIC << LVT_TIMER_MODE_SHIFT));
	vlapic_reg_write(v, APIC_REG_TIMER_ICR, false, 10000);
	EXPECT_EQ(a->timer_period, 40000);
	d0 = a->timer_deadline;
	vlapic_timer_poll(v, d0);
	EXPECT_EQ(a->timer_deadline, d0 + 40000);
	EXPECT_EQ(vlapic_pending_vector(a), -1);        /* masked */
	vlapic_timer_poll(v, d0 + 1000000);             /* missed periods merge */
	EXPECT_EQ(a->timer_deadline, d0 + 1040000);
	vlapic_reg_write(v, APIC_REG_TIMER_ICR, false, 0);      /* stops */
	EXPECT_EQ(a->timer_deadline, 0);
	/* Clearing SVR.EN masks every LVT; they stay masked. */
	vlapic_reg_write(v, APIC_REG_SVR, false, 0xff);
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, 0x50);
	EXPECT_EQ(rd(v, APIC_REG_LVT_TIMER, false), LVT_MASKED | 0x50);
}

/* A periodic count shorter than one expiry costs gets the floor: four
 * times the dearest expiry measured in Bochs, and at least 50 us. The
 * current count still starts from the initial count. */
TEST(vlapic_timer_period_floor)
{
	struct vcpu *v = setup();
	struct vlapic *a = &v->lapic;
	uint64_t d0;

	enable(v);
	vlapic_reg_write(v, APIC_REG_TIMER_DCR, false, 0xb);     /* by 1 */
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, 0x50 |
			 (TIMER_PERIODIC << LVT_TIMER_MODE_SHIFT));
	vlapic_reg_write(v, APIC_REG_TIMER_ICR, false, 1);
	EXPECT_EQ(a->timer_period, 4 * 2607);
	EXPECT(rd(v, APIC_REG_TIMER_CCR, false) <= 1);
	d0 = a->timer_deadline;
	/* Expiries missed while the vCPU was busy make one interrupt. */
	vlapic_timer_poll(v, d0 + 10 * a->timer_period + 5);
	EXPECT_EQ(vlapic_pending_vector(a), 0x50);
	EXPECT_EQ(a->timer_deadline, d0 + 11 * a->timer_period + 5);
	vlapic_timer_poll(v, a->timer_deadline);
	EXPECT_EQ(vlapic_pending_vector(a), 0x50);       /* still one IRR bit */
	/* A 3 GHz TSC: 50 us is the larger floor. */
	tsc_khz = 3000000;
	vlapic_reg_write(v, APIC_REG_TIMER_ICR, false, 1000);
	EXPECT_EQ(a->timer_period, 150000);
	tsc_khz = 20000;
	/* One-shot counts are not raised: each costs the guest a write. */
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, 0x50);
	vlapic_reg_write(v, APIC_REG_TIMER_ICR, false, 1);
	EXPECT_EQ(a->timer_period, 0);
	EXPECT(a->timer_deadline != 0);
}
#define DL 5000000000000ULL             /* a guest TSC deadline */

TEST(vlapic_tsc_deadline)
{
	struct vcpu *v = setup();
	struct vlapic *a = &v->lapic;
	uint64_t val;

	enable(v);
	v->tsc_offset = 1000 - rdtsc();         /* the guest's TSC near 1000 */
	EXPECT(vlapic_wrmsr(v, MSR_IA32_TSC_DEADLINE, DL)); /* one-shot: ignored */
	EXPECT_EQ(a->timer_deadline, 0);
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false,
			 0x51 | (TIMER_TSC_DEADLINE << LVT_TIMER_MODE_SHIFT));
	vlapic_reg_write(v, APIC_REG_TIMER_ICR, false, 100);  /* ignored too */
	EXPECT_EQ(a->timer_deadline, 0);
	EXPECT(vlapic_wrmsr(v, MSR_IA32_TSC_DEADLINE, DL));
	EXPECT_EQ(a->timer_deadline, DL - v->tsc_offset);     /* host TSC */
	EXPECT(vlapic_rdmsr(v, MSR_IA32_TSC_DEADLINE, &val));
	EXPECT_EQ(val, DL);
	vlapic_timer_poll(v, DL - v->tsc_offset);
	EXPECT_EQ(vlapic_pending_vector(a), 0x51);
	EXPECT(vlapic_rdmsr(v, MSR_IA32_TSC_DEADLINE, &val));
	EXPECT_EQ(val, 0);
	EXPECT(vlapic_wrmsr(v, MSR_IA32_TSC_DEADLINE, 9000));
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false, 0x51);  /* leaves mode */
	EXPECT_EQ(a->timer_deadline, 0);
}

/* A deadline the guest's TSC has passed fires at once, whatever the
 * offset; a write of the TSC (a new offset) arms the deadline again
 * against the new TSC (SDM Vol. 3A 11.5.4.1). */
TEST(vlapic_tsc_deadline_moves)
{
	struct vcpu *v = setup();
	struct vlapic *a = &v->lapic;

	enable(v);
	vlapic_reg_write(v, APIC_REG_LVT_TIMER, false,
			 0x51 | (TIMER_TSC_DEADLINE << LVT_TIMER_MODE_SHIFT));
	/* The guest's TSC far ahead of the host's: 10 is long past. */
	v->tsc_offset = 100000000000000ULL;
	EXPECT(vlapic_wrmsr(v, MSR_IA32_TSC_DEADLINE, 10));
	EXPECT(a->timer_deadline != 0 && a->timer_deadline <= rdtsc());
	/* The guest's TSC near 0: the deadline is ahead. */
	v->tsc_offset = -rdtsc();
	EXPECT(vlapic_wrmsr(v, MSR_IA32_TSC_DEADLINE, DL));
	EXPECT_EQ(a->timer_deadline, DL - v->tsc_offset);
	/* The TSC jumps forward by DL / 2: the host deadline comes closer. */
	v->tsc_offset += DL / 2;
	vlapic_tsc_moved(v, rdtsc());
	EXPECT_EQ(a->timer_deadline, DL - v->tsc_offset);
	/* Past the deadline: it fires at the next poll. */
	v->tsc_offset += DL;
	vlapic_tsc_moved(v, rdtsc());
	EXPECT(a->timer_deadline <= rdtsc());
	vlapic_timer_poll(v, rdtsc());
	EXPECT_EQ(vlapic_pending_vector(a), 0x51);
	/* Disarmed (read as 0): a TSC write arms nothing. */
	v->tsc_offset = 0;
	vlapic_tsc_moved(v, rdtsc());
	EXPECT_EQ(a->timer_deadline, 0);
}

TEST(vlapic_ipi_destinations)
{
	struct vcpu *v = setup();

	for (unsigned int i = 0; i < NVCPUS; i++) {
		enable(&vcpus[i]);
		vcpus[i].lapic.state = VLAPIC_RUNNING;
	}
	to_x2apic(v);
	vlapic_wrmsr(v, 0x830, (2ull << 32) | 0x41);            /* physical */
	EXPECT_EQ(vlapic_pending_vector(&vcpus[2].lapic), 0x41);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[1].lapic), -1);
	EXPECT_EQ(kicks[2], 1);
	vlapic_wrmsr(v, 0x830, (6ull << 32) | ICR_LOGICAL | 0x52); /* 1 and 2 */
	EXPECT_EQ(vlapic_pending_vector(&vcpus[1].lapic), 0x52);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[2].lapic), 0x52);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[0].lapic), -1);
	vlapic_wrmsr(v, 0x830, (0xffffffffull << 32) | 0x63);  /* broadcast */
	for (unsigned int i = 0; i < NVCPUS; i++)
		EXPECT_EQ(vlapic_pending_vector(&vcpus[i].lapic), 0x63);
	vlapic_wrmsr(v, 0x830, ((uint64_t)ICR_ALL_BUT_SELF << ICR_SHORTHAND_SHIFT) |
		     0x74);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[0].lapic), 0x63);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[1].lapic), 0x74);
	vlapic_wrmsr(v, 0x830, ((uint64_t)ICR_SELF << ICR_SHORTHAND_SHIFT) | 0x90);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[0].lapic), 0x90);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[2].lapic), 0x74);
	/* xAPIC flat logical mode, from vCPU 1 to vCPU 2 (LDR bit 2). */
	vlapic_reg_write(&vcpus[2], APIC_REG_LDR, false, 0x04000000);
	vlapic_reg_write(&vcpus[1], APIC_REG_ICR_HI, false, 0x04000000);
	vlapic_reg_write(&vcpus[1], APIC_REG_ICR, false, ICR_LOGICAL | 0xa0);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[2].lapic), 0xa0);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[0].lapic), 0x90);
}

/* A vector already pending in IRR merges a second request into it (SDM
 * Vol. 3A 11.8.4): the target is kicked once, and again only after it
 * took the first. */
TEST(vlapic_pending_vector_kicks_once)
{
	struct vcpu *t;

	setup();
	t = &vcpus[1];
	enable(t);
	t->lapic.state = VLAPIC_RUNNING;
	for (unsigned int i = 0; i < 1000; i++)
		vlapic_accept(t, 0x41);
	EXPECT_EQ(kicks[1], 1);
	EXPECT_EQ(vlapic_pending_vector(&t->lapic), 0x41);
	vlapic_accept(t, 0x42);                 /* another vector: a kick */
	EXPECT_EQ(kicks[1], 2);
	t->lapic.irr[0x41 / 32] &= ~(1u << (0x41 % 32));   /* taken */
	vlapic_accept(t, 0x41);
	EXPECT_EQ(kicks[1], 3);
}

TEST(vlapic_init_sipi)
{
	struct vcpu *v = setup();
	struct vlapic *ap = &vcpus[1].lapic;
	uint64_t dest = 1ull << 32;

	to_x2apic(v);
	vlapic_wrmsr(v, 0x830, dest | (ICR_DM_STARTUP << ICR_DM_SHIFT) |
		     ICR_LEVEL_ASSERT | 0x07);          /* no INIT yet */
	EXPECT_EQ(ap->sipi, 0);
	vlapic_wrmsr(v, 0x830, dest | (ICR_DM_INIT << ICR_DM_SHIFT));
	EXPECT_EQ(ap->init_seen, 0);                    /* de-assert */
	vlapic_wrmsr(v, 0x830, dest | (ICR_DM_INIT << ICR_DM_SHIFT) |
		     ICR_LEVEL_ASSERT);
	EXPECT_EQ(ap->init_seen, 1);
	vlapic_wrmsr(v, 0x830, dest | (ICR_DM_STARTUP << ICR_DM_SHIFT) |
		     ICR_LEVEL_ASSERT | 0x07);
	EXPECT_EQ(ap->sipi, VLAPIC_SIPI_VALID | 0x07);
	vlapic_wrmsr(v, 0x830, dest | (ICR_DM_STARTUP << ICR_DM_SHIFT) |
		     ICR_LEVEL_ASSERT | 0x09);          /* the first one counts */
	EXPECT_EQ(ap->sipi, VLAPIC_SIPI_VALID | 0x07);
	EXPECT_EQ(vcpus[2].lapic.sipi, 0);
}

/* Delivery mode NMI: pending and a kick for each running target, the
 * vector ignored, also with the APIC software-disabled; not for a vCPU
 * that waits for its SIPI (SDM Vol. 3A 11.4.7.2, 9.4.4). */
TEST(vlapic_nmi_ipi)
{
	struct vcpu *v = setup();
	uint64_t nmi = (uint64_t)ICR_DM_NMI << ICR_DM_SHIFT | ICR_LEVEL_ASSERT;

	vcpus[1].lapic.state = VLAPIC_RUNNING;
	to_x2apic(v);
	vlapic_wrmsr(v, 0x830, (1ull << 32) | nmi);
	EXPECT_EQ(vcpus[1].lapic.nmi_pending, 1);
	EXPECT_EQ(kicks[1], 1);
	EXPECT(vcpus[1].lapic.work & VLAPIC_WORK_EVAL);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[1].lapic), -1);
	EXPECT_EQ(vcpus[0].lapic.nmi_pending, 0);
	vlapic_wrmsr(v, 0x830, (2ull << 32) | nmi);     /* waits for SIPI */
	EXPECT_EQ(vcpus[2].lapic.nmi_pending, 0);
	EXPECT_EQ(kicks[2], 0);
	vlapic_wrmsr(v, 0x830, ((uint64_t)ICR_SELF << ICR_SHORTHAND_SHIFT) |
		     nmi | 0x33);
	EXPECT_EQ(v->lapic.nmi_pending, 1);
	EXPECT_EQ(vlapic_pending_vector(&v->lapic), -1);
	/* Two sent before either is delivered both arrive; a third does
	 * not (one delivered, one held: SDM Vol. 3A 6.7.1). */
	vlapic_wrmsr(v, 0x830, ((uint64_t)ICR_SELF << ICR_SHORTHAND_SHIFT) | nmi);
	EXPECT_EQ(v->lapic.nmi_pending, 2);
	vlapic_wrmsr(v, 0x830, ((uint64_t)ICR_SELF << ICR_SHORTHAND_SHIFT) | nmi);
	EXPECT_EQ(v->lapic.nmi_pending, VLAPIC_NMI_LATCH);
}

/* Lowest priority: one vCPU of those named, the one whose task priority
 * is lowest, the first on a tie (SDM Vol. 3A 11.6.2.4). */
TEST(vlapic_lowest_priority_ipi)
{
	struct vcpu *v = setup();
	uint64_t low = (uint64_t)ICR_DM_LOWEST << ICR_DM_SHIFT | 0x70;

	for (unsigned int i = 0; i < NVCPUS; i++) {
		vcpus[i].lapic.state = VLAPIC_RUNNING;
		enable(&vcpus[i]);
	}
	to_x2apic(v);
	vlapic_wrmsr(v, 0x830, ((uint64_t)ICR_ALL_BUT_SELF <<
				ICR_SHORTHAND_SHIFT) | low);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[1].lapic), 0x70);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[2].lapic), -1);
	vcpus[1].lapic.irr[0x70 / 32] = 0;
	vlapic_set_tpr(&vcpus[1].lapic, 0x30);
	vlapic_wrmsr(v, 0x830, (0xffffffffull << 32) | ICR_LOGICAL | low);
	EXPECT_EQ(vlapic_pending_vector(&vcpus[1].lapic), -1);
	EXPECT(v->lapic.irr[0x70 / 32] & (1u << (0x70 % 32)));
	EXPECT_EQ(vcpus[2].lapic.irr[0x70 / 32], 0);
}

/* A device's lowest-priority message too: one vCPU, the one of lowest
 * task priority among those it names. */
TEST(vlapic_lowest_priority_irq)
{
	static const uint32_t tpr[NVCPUS] = { 0x30, 0x10, 0x20 };

	setup();
	for (unsigned int i = 0; i < NVCPUS; i++) {
		vcpus[i].lapic.state = VLAPIC_RUNNING;
		enable(&vcpus[i]);
		vlapic_set_tpr(&vcpus[i].lapic, tpr[i]);
	}
	vlapic_deliver_irq(&g, 0xff, false, true, 0x71, false);
	EXPECT_EQ(vcpus[0].lapic.irr[0x71 / 32], 0);
	EXPECT(vcpus[1].lapic.irr[0x71 / 32] & (1u << (0x71 % 32)));
	EXPECT_EQ(vcpus[2].lapic.irr[0x71 / 32], 0);
	vlapic_deliver_irq(&g, 0xff, false, false, 0x72, false);
	for (unsigned int i = 0; i < NVCPUS; i++)
		EXPECT(vcpus[i].lapic.irr[0x72 / 32] & (1u << (0x72 % 32)));
}

/* IA32_APIC_BASE.EN clear: no APIC (SDM Vol. 3A 11.4.3). No IPI reaches
 * it, NMIs and device interrupts included; a vector a racing sender left
 * in IRR is neither delivered nor kept when the APIC comes back. */
TEST(vlapic_off_gets_nothing)
{
	struct vcpu *v = setup(), *t = &vcpus[1];
	uint64_t nmi = (uint64_t)ICR_DM_NMI << ICR_DM_SHIFT | ICR_LEVEL_ASSERT;
	uint64_t base = t->lapic.apic_base;

	t->lapic.state = VLAPIC_RUNNING;
	enable(t);
	to_x2apic(v);
	EXPECT(vlapic_wrmsr(t, MSR_IA32_APIC_BASE, base & ~APIC_BASE_EN));
	vlapic_wrmsr(v, 0x830, (1ull << 32) | nmi);
	vlapic_wrmsr(v, 0x830, (1ull << 32) | 0x40);
	vlapic_wrmsr(v, 0x830, ((uint64_t)ICR_ALL << ICR_SHORTHAND_SHIFT) | nmi);
	vlapic_deliver_irq(&g, 1, false, false, 0x41, false);
	EXPECT_EQ(t->lapic.nmi_pending, 0);
	EXPECT_EQ(t->lapic.irr[0x40 / 32], 0);
	EXPECT_EQ(kicks[1], 0);
	t->lapic.irr[0x50 / 32] = 1u << (0x50 % 32);    /* a racing sender */
	EXPECT_EQ(vlapic_pending_vector(&t->lapic), -1);
	EXPECT(vlapic_wrmsr(t, MSR_IA32_APIC_BASE, base));
	EXPECT_EQ(t->lapic.irr[0x50 / 32], 0);
	enable(t);
	vlapic_wrmsr(v, 0x830, (1ull << 32) | nmi);
	EXPECT_EQ(t->lapic.nmi_pending, 1);
}

/* ---- the xAPIC page the CPU virtualizes (guest/vlapic_page.c) ---------- */

static uint32_t vapic[NVCPUS][1024];    /* each vCPU's virtual-APIC page */

static struct vcpu *setup_page(void)
{
	static const struct config_guest cfg = { .cpu_count = NVCPUS };
	struct vcpu *v = setup();

	memset(vapic, 0, sizeof(vapic));
	g.cfg = &cfg;
	vmx_caps.apic_reg_virt = true;
	EXPECT_EQ(vlapic_page_init(&g), 0);
	vmx_caps.apic_reg_virt = false;
	for (unsigned int i = 0; i < NVCPUS; i++)
		vlapic_page_attach(&vcpus[i], vapic[i]);
	return v;
}

static uint32_t pg(unsigned int i, unsigned int reg)
{
	return vapic[i][reg * 4];
}

/* The guest's 32-bit write that the CPU put in the page, then the
 * APIC-write exit. */
static void page_write(unsigned int i, unsigned int reg, uint32_t val)
{
	vapic[i][reg * 4] = val;
	vlapic_page_written(&vcpus[i], reg << 4);
}

/* What the CPU reads without an exit is what the registers say, at
 * once: the copy changes with every write, delivery and EOI. */
TEST(vlapic_page_copy)
{
	struct vcpu *v = setup_page();
	struct vlapic *a = &v->lapic;

	EXPECT(a->page == vapic[0]);
	EXPECT_EQ(pg(2, APIC_REG_ID), 2u << 24);
	EXPECT_EQ(pg(2, APIC_REG_VERSION), rd(v, APIC_REG_VERSION, false));
	EXPECT_EQ(pg(2, APIC_REG_DFR), 0xffffffffu);
	EXPECT_EQ(pg(2, APIC_REG_SVR), 0xffu);
	for (unsigned int r = APIC_REG_LVT_TIMER; r <= APIC_REG_LVT_ERROR; r++)
		EXPECT_EQ(pg(2, r), LVT_MASKED);
	page_write(0, APIC_REG_SVR, 0x1ff);
	EXPECT_EQ(a->svr, 0x1ffu);
	page_write(0, APIC_REG_LVT_TIMER, 0xffffffff);  /* reserved bits */
	EXPECT_EQ(pg(0, APIC_REG_LVT_TIMER), rd(v, APIC_REG_LVT_TIMER, false));
	EXPECT(pg(0, APIC_REG_LVT_TIMER) != 0xffffffffu);
	page_write(0, APIC_REG_LDR, 0x12345678);
	EXPECT_EQ(pg(0, APIC_REG_LDR), 0x12000000u);
	vlapic_accept(v, 0x51);
	vlapic_accept(v, 0x62);
	vlapic_ack(a, 0x62);
	EXPECT_EQ(pg(0, APIC_REG_IRR0 + 2), 1u << 0x11);
	EXPECT_EQ(pg(0, APIC_REG_ISR0 + 3), 1u << 2);
	page_write(0, APIC_REG_EOI, 0);
	EXPECT_EQ(rd(v, APIC_REG_ISR0 + 3, false), 0);
	EXPECT_EQ(pg(0, APIC_REG_ISR0 + 3), 0);
	EXPECT_EQ(pg(0, APIC_REG_EOI), 0);
	vlapic_accept_irq(v, 0x93, true);
	EXPECT_EQ(pg(0, APIC_REG_TMR0 + 4), 1u << 0x13);
	EXPECT(vlapic_wrmsr(v, MSR_IA32_APIC_BASE, a->apic_base &
			    ~(uint64_t)APIC_BASE_EN));   /* off: the reset state */
	EXPECT_EQ(pg(0, APIC_REG_TMR0 + 4), 0);
	EXPECT_EQ(pg(0, APIC_REG_IRR0 + 2), 0);
	EXPECT_EQ(pg(0, APIC_REG_SVR), 0xffu);
}

/* ICR high, which the guest writes to the page without an exit, names
 * the destination of the ICR low write that follows. */
TEST(vlapic_page_icr_high)
{
	struct vcpu *v = setup_page();

	enable(v);
	enable(&vcpus[1]);
	enable(&vcpus[2]);
	vapic[0][APIC_REG_ICR_HI * 4] = 2u << 24;
	EXPECT_EQ(rd(v, APIC_REG_ICR_HI, false), 2u << 24);
	page_write(0, APIC_REG_ICR, 0x4055);    /* fixed, vector 0x55 */
	EXPECT_EQ(rd(&vcpus[2], APIC_REG_IRR0 + 2, false), 1u << 0x15);
	EXPECT_EQ(rd(&vcpus[1], APIC_REG_IRR0 + 2, false), 0);
	EXPECT(vlapic_reg_write(v, APIC_REG_ICR_HI, false, 0x01ffffff));
	EXPECT_EQ(pg(0, APIC_REG_ICR_HI), 0x01000000u);
}

/*
 * Virtual-interrupt delivery (SDM Vol. 3C 29.2): a sender posts to IRR
 * and only the vCPU's own sync moves it to the page, where the CPU
 * delivers it (page IRR to page ISR) and EOIs retire it; the guest reads
 * IRR as both, ISR and PPR from the page. Keel's own EOI (an x2APIC
 * WRMSR) retires the page's highest ISR vector.
 */
TEST(vlapic_vid_posted_then_page)
{
	struct vcpu *v;
	struct vlapic *a;
	unsigned int irr2 = (APIC_REG_IRR0 + 2) * 4, isr2 = (APIC_REG_ISR0 + 2) * 4;

	vmx_caps.vid = true;
	v = setup_page();
	vmx_caps.vid = false;
	a = &v->lapic;
	EXPECT(a->vid && vcpus[1].lapic.vid);
	EXPECT(vlapic_reg_write(v, APIC_REG_SVR, false, 0x1ff));
	vlapic_accept(v, 0x51);
	EXPECT_EQ(a->irr[2], 1u << 0x11);               /* posted */
	EXPECT_EQ(vapic[0][irr2], 0);
	EXPECT_EQ(rd(v, APIC_REG_IRR0 + 2, false), 1u << 0x11);
	EXPECT_EQ(vlapic_pending_vector(a), 0x51);
	vlapic_vid_sync(a);
	EXPECT_EQ(a->irr[2], 0);
	EXPECT_EQ(vapic[0][irr2], 1u << 0x11);
	EXPECT_EQ(vlapic_page_highest(a, APIC_REG_IRR0), 0x51);
	vapic[0][irr2] = 0;                             /* the CPU delivers */
	vapic[0][isr2] = 1u << 0x11;
	EXPECT_EQ(rd(v, APIC_REG_ISR0 + 2, false), 1u << 0x11);
	EXPECT_EQ(rd(v, APIC_REG_PPR, false), 0x50);
	vlapic_accept(v, 0x41);
	vlapic_vid_sync(a);
	EXPECT_EQ(vlapic_pending_vector(a), -1);        /* below the 0x51 */
	EXPECT(vlapic_reg_write(v, APIC_REG_EOI, false, 0));
	EXPECT_EQ(vapic[0][isr2], 0);
	EXPECT_EQ(vlapic_pending_vector(a), 0x41);
	EXPECT_EQ(vlapic_page_highest(a, APIC_REG_ISR0), -1);
}

/* In x2APIC mode the copy holds the ID and LDR in x2APIC form, and ICR's
 * destination in the dword above it, where a virtualized RDMSR reads
 * them (SDM Vol. 3C 29.5); back in xAPIC mode, the xAPIC forms. The VMCS
 * side hears of every mode change of a vCPU with virtual-interrupt
 * delivery. */
TEST(vlapic_page_x2apic_form)
{
	struct vcpu *v;
	uint64_t xapic;

	vmx_caps.vid = true;
	v = setup_page();
	vmx_caps.vid = false;
	(void)v;
	xapic = vcpus[2].lapic.apic_base;
	fake_vmx_modes = 0;
	to_x2apic(&vcpus[2]);
	EXPECT_EQ(fake_vmx_modes, 1);
	EXPECT_EQ(pg(2, APIC_REG_ID), 2u);
	EXPECT_EQ(pg(2, APIC_REG_LDR), vlapic_x2apic_ldr(2));
	vcpus[2].lapic.x2apic_virt_on = true;   /* as vlapic_vmx_mode sets it */
	EXPECT(vlapic_wrmsr(&vcpus[2], 0x830, (1ull << 32) | 0x4031));
	EXPECT_EQ(vapic[2][APIC_REG_ICR * 4], 0x4031u);
	EXPECT_EQ(vapic[2][APIC_REG_ICR * 4 + 1], 1u);
	EXPECT(vlapic_wrmsr(&vcpus[2], MSR_IA32_APIC_BASE,
			    xapic & ~(uint64_t)APIC_BASE_EN));
	EXPECT(vlapic_wrmsr(&vcpus[2], MSR_IA32_APIC_BASE, xapic));
	EXPECT_EQ(fake_vmx_modes, 3);
	EXPECT_EQ(pg(2, APIC_REG_ID), 2u << 24);
	EXPECT_EQ(vapic[2][APIC_REG_ICR * 4 + 1], 0u);
}

/* The page is mapped while every vCPU's APIC is on in xAPIC mode; each
 * one that leaves it drops its CPU's cached translations. */
TEST(vlapic_page_mapping_follows_xapic_mode)
{
	uint64_t xapic, off;

	setup_page();
	xapic = vcpus[1].lapic.apic_base;
	off = xapic & ~(uint64_t)APIC_BASE_EN;
	EXPECT(is_ept_present(fake_apic_leaf));
	EXPECT_EQ(fake_apic_leaf & EPT_ADDR_MASK, FAKE_APIC_ACCESS_PA);
	EXPECT(fake_apic_leaf & EPT_SW_SHARED);         /* not RAM */
	fake_invepts = 0;
	to_x2apic(&vcpus[1]);
	EXPECT_EQ(fake_apic_leaf, 0);
	EXPECT_EQ(fake_invepts, 1);
	EXPECT(vlapic_wrmsr(&vcpus[2], MSR_IA32_APIC_BASE,
			    vcpus[2].lapic.apic_base & ~(uint64_t)APIC_BASE_EN));
	EXPECT_EQ(fake_invepts, 2);
	EXPECT(vlapic_wrmsr(&vcpus[1], MSR_IA32_APIC_BASE, off));
	EXPECT(vlapic_wrmsr(&vcpus[1], MSR_IA32_APIC_BASE, xapic));
	EXPECT_EQ(fake_apic_leaf, 0);           /* vCPU 2 is still off */
	EXPECT(vlapic_wrmsr(&vcpus[2], MSR_IA32_APIC_BASE, xapic));
	EXPECT(is_ept_present(fake_apic_leaf));
	EXPECT_EQ(fake_invepts, 2);
	EXPECT(vlapic_wrmsr(&vcpus[2], MSR_IA32_APIC_BASE,
			    xapic - VLAPIC_BASE_DEFAULT + 0xfed40000ULL));
	EXPECT_EQ(fake_apic_leaf, 0);           /* vCPU 2 moved its page */
	EXPECT_EQ(fake_invepts, 3);
	EXPECT(vlapic_wrmsr(&vcpus[2], MSR_IA32_APIC_BASE, xapic));
	EXPECT(is_ept_present(fake_apic_leaf));
}

TEST_MAIN()
