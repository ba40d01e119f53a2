/*
 * shmtest: memory shared by three guests ([shm.ring] in
 * tests/scenarios/conf/shm.conf) and their doorbell devices
 * (guest/shm_regs.h), one role per guest (role= on the command line):
 *
 *   a  member 0, read-write, doorbells by MSI-X (vectors 0-3)
 *   b  member 1, read-write, doorbells by INTx and IntrStatus
 *   c  member 2, read-only
 *   peer  member 1 of a region shared with Linux ([shm.lx] in
 *         tests/linux/linux-shm.conf, keel.shmtest=doorbell in
 *         tests/linux/init), doorbells by MSI-X
 *
 *   regs      the function's IDs and class, IVPosition, Peers, where the
 *             region is (gpa= on the command line) and its size, Flags
 *   ping      a and b exchange PING_ROUNDS messages through the region,
 *             each announced by a doorbell and waited for by interrupt
 *             (b's first one arrives while IntrMask holds INTx low)
 *   bad       doorbells to a peer out of range, to itself and with a
 *             vector >= 4 are dropped and counted in Dropped
 *   storm     a sends b, then b sends a, STORM doorbells; the receiver
 *             takes at most RING_BURST doorbell interrupts per ms (Keel's
 *             budget, guest/shm.c) and still answers a message
 *   readonly  c reads the pattern a wrote, its writes (mov, rep stos,
 *             locked add, xchg) leave the region unchanged, and its
 *             doorbell reaches a
 *   keel      the region is not the guest's RAM: a hypercall buffer in
 *             it is refused (a), and with dirty logging on (b, mode wp)
 *             writes to it cost no exit and are not logged
 *
 * The region's layout (struct box) is this test's own; the peer's
 * (struct lx_box) and its read-only region's follow tests/linux/init.
 */
#include "guest.h"
#include "pci.h"
#include "apic.h"
#include "guest/shm_regs.h"

#define REGION_SIZE         0x4000u
#define PEERS               3
#define VEC_MSIX            0x40            /* + doorbell vector, guest a */
#define VEC_INTX            0x50            /* guest b */
#define PING_ROUNDS         20
#define STORM               20000u
#define READY_MAGIC         0x5348d000u     /* + member */
#define PATTERN_WORDS       (REGION_SIZE / 8) /* the second half */
#define WAIT_TICKS          4000000000ULL   /* a failure bound, not a time */
#define QUIET_TICKS         2000000ULL
#define RING_BURST          16              /* per ms, guest/shm.c */
#define MAX_EXITS_PER_MS    (4 * RING_BURST)

enum { MEMBER_A, MEMBER_B, MEMBER_C };
enum { VEC_PING, VEC_PONG, VEC_C_DONE, VEC_SPARE };

struct box {
	uint32_t ready[PEERS];
	uint32_t a2b, b2a;              /* the last message sent each way */
	uint32_t a_storm_start, a_storm_done, b_storm_start, b_storm_done;
	uint32_t pattern_ready;
	uint32_t pad[REGION_SIZE / 8 - 10];     /* to the second half */
	uint32_t pattern[PATTERN_WORDS];
};

_Static_assert(sizeof(struct box) == REGION_SIZE, "the box fills the region");

static volatile struct box *box;
static volatile uint32_t *regs;
static pci_bdf dev;
static volatile uint32_t irqs[SHM_VECTORS];     /* a: by vector */
static volatile uint32_t intx_irqs, intx_status_seen;

static uint32_t reg(unsigned int off)
{
	return regs[off / 4];
}

static void reg_write(unsigned int off, uint32_t v)
{
	regs[off / 4] = v;
}

static void ring(unsigned int peer, unsigned int vector)
{
	reg_write(SHM_REG_DOORBELL, SHM_DOORBELL(peer, vector));
}

/* ---- interrupt handlers ----------------------------------------------- */

IRQ_STUB(msix_irq0);
IRQ_STUB(msix_irq1);
IRQ_STUB(msix_irq2);
IRQ_STUB(msix_irq3);
IRQ_STUB(intx_irq);
extern char msix_irq0_stub[], msix_irq1_stub[], msix_irq2_stub[],
	msix_irq3_stub[], intx_irq_stub[];

#define MSIX_HANDLER(n) \
	__attribute__((used)) void msix_irq##n(void); \
	__attribute__((used)) void msix_irq##n(void) \
	{ \
		irqs[n]++; \
		apic_write(APIC_EOI, 0); \
	}
MSIX_HANDLER(0)
MSIX_HANDLER(1)
MSIX_HANDLER(2)
MSIX_HANDLER(3)

/* Level-triggered: IntrStatus is read (which lowers INTx) before the
 * EOI, or the I/O APIC would send it again at once. */
__attribute__((used)) void intx_irq(void);
__attribute__((used)) void intx_irq(void)
{
	intx_status_seen |= reg(SHM_REG_INTR_STATUS);
	intx_irqs++;
	apic_write(APIC_EOI, 0);
}

/* Interrupts on while waiting; false after WAIT_TICKS. */
static bool wait_for(volatile uint32_t *p, uint32_t want, uint64_t ticks)
{
	uint64_t end = rdtsc_ordered() + ticks;

	while (*p < want && rdtsc_ordered() < end)
		__asm__ volatile("sti; pause; cli" ::: "memory");
	return *p >= want;
}

/* ---- the device ----------------------------------------------------------- */

static uint64_t cmdline_hex(const char *key)
{
	char buf[32];
	uint64_t v = 0;

	if (cmdline_get(key, buf, sizeof(buf)) && !parse_size(buf, &v))
		v = 0;
	return v;
}

static void device_open(void)
{
	struct pci_bar bar;

	EXPECT(pci_find(SHM_PCI_VENDOR, SHM_PCI_DEVICE, &dev));
	EXPECT_EQ(pci_read(dev, PCI_CFG_REVISION, 4) >> 8, SHM_PCI_CLASS);
	pci_bar_probe(dev, SHM_BAR, &bar);
	EXPECT_EQ(bar.size, SHM_BAR_SIZE);
	EXPECT(!bar.io);
	pci_command_set(dev, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	regs = (volatile uint32_t *)(uintptr_t)bar.addr;
}

static void check_regs(unsigned int member, bool readonly)
{
	uint64_t gpa = cmdline_hex("gpa");

	EXPECT_EQ(reg(SHM_REG_IV_POSITION), member);
	EXPECT_EQ(reg(SHM_REG_PEERS), PEERS);
	EXPECT_EQ(reg(SHM_REG_GPA_LO), (uint32_t)gpa);
	EXPECT_EQ(reg(SHM_REG_GPA_HI), (uint32_t)(gpa >> 32));
	EXPECT_EQ(reg(SHM_REG_SIZE_LO), REGION_SIZE);
	EXPECT_EQ(reg(SHM_REG_SIZE_HI), 0);
	EXPECT_EQ(reg(SHM_REG_FLAGS), readonly ? SHM_FLAG_READONLY : 0);
	EXPECT_EQ(reg(SHM_REG_DROPPED), 0);
	/* Read-only registers ignore writes. */
	reg_write(SHM_REG_IV_POSITION, 7);
	reg_write(SHM_REG_PEERS, 7);
	EXPECT_EQ(reg(SHM_REG_IV_POSITION), member);
	EXPECT_EQ(reg(SHM_REG_PEERS), PEERS);
	box = (volatile struct box *)(uintptr_t)gpa;
	printf("regs: member %u of %u, region %#llx, %u bytes, flags %u\n",
	       reg(SHM_REG_IV_POSITION), reg(SHM_REG_PEERS),
	       (unsigned long long)gpa, reg(SHM_REG_SIZE_LO),
	       reg(SHM_REG_FLAGS));
}

/* Doorbells Keel must drop: each counted once in Dropped. */
static void check_bad_doorbells(unsigned int self)
{
	uint32_t before = reg(SHM_REG_DROPPED);

	ring(PEERS, VEC_PING);                  /* out of range */
	ring(0xffff, 0xffff);
	ring(self, VEC_PING);                   /* itself */
	ring((self + 1) % PEERS, SHM_VECTORS);  /* no such vector */
	EXPECT_EQ(reg(SHM_REG_DROPPED) - before, 4);
	printf("bad: %u doorbells dropped (peer %u, peer 0xffff, itself, "
	       "vector %u)\n", reg(SHM_REG_DROPPED) - before, PEERS,
	       SHM_VECTORS);
}

/* The receiver's side of a storm between the sender's start and done
 * flags: its interrupts and its exits meanwhile. */
struct storm_cost {
	uint32_t irqs;
	uint64_t exits, ms;
};

static uint64_t tsc_khz(void)
{
	return cpuid(0x40000010, 0).eax;
}

static struct storm_cost storm_watch(volatile uint32_t *start,
				     volatile uint32_t *done,
				     volatile uint32_t *irq_count)
{
	struct storm_cost c;
	uint64_t exits, t0;
	uint32_t n;

	EXPECT(wait_for(start, 1, WAIT_TICKS));
	exits = (uint64_t)hc_counter(KEEL_COUNTER_EXITS_TOTAL);
	n = *irq_count;
	t0 = rdtsc_ordered();
	EXPECT(wait_for(done, 1, WAIT_TICKS));
	c.irqs = *irq_count - n;
	c.exits = (uint64_t)hc_counter(KEEL_COUNTER_EXITS_TOTAL) - exits;
	c.ms = udiv64(rdtsc_ordered() - t0, tsc_khz(), NULL) + 1;
	EXPECT(c.irqs <= RING_BURST * (c.ms + 1));
	EXPECT(c.exits <= MAX_EXITS_PER_MS * (c.ms + 1));
	return c;
}

/* Keel's own accesses to guest RAM (hypercall buffers) do not reach
 * the region. */
static void check_hypercall_buffer(void)
{
	long r = vmcall3(KEEL_HC_CONSOLE_WRITE, (uintptr_t)box, 8, 0);

	EXPECT_EQ(r, KEEL_HC_EINVAL);
	printf("keel: a console-write buffer in the region: %ld\n", r);
}

/* Dirty logging write-protects RAM, not the region: writes to each of
 * its first two pages (the rest is a's pattern) take no exit. The
 * counter's own exit is measured with nothing between two reads; the
 * stack they land in is written first, so that its fault comes before. */
static uint8_t dirty_bits[4096];
static volatile uint32_t dirty_probe;

static void check_dirty_log(void)
{
	uint32_t page = (uint32_t)((uintptr_t)&dirty_probe >> 12);
	volatile uint64_t c[3] = { 0, 0, 0 };
	uint64_t base, e;
	long n;

	EXPECT_EQ(vmcall3(KEEL_HC_DIRTY_LOG, KEEL_DIRTY_WP, 0, 0), 0);
	vmcall3(KEEL_HC_DIRTY_GET, 0, 0, 0);
	c[0] = c[1] = c[2] = 1;
	c[0] = (uint64_t)hc_counter(KEEL_COUNTER_EXITS_TOTAL);
	c[1] = (uint64_t)hc_counter(KEEL_COUNTER_EXITS_TOTAL);
	box->pad[0] = 1;
	box->pad[1024] = 1;
	c[2] = (uint64_t)hc_counter(KEEL_COUNTER_EXITS_TOTAL);
	base = c[1] - c[0];
	e = c[2] - c[1] - base;
	dirty_probe = 1;
	n = vmcall3(KEEL_HC_DIRTY_GET, (uintptr_t)dirty_bits,
		    sizeof(dirty_bits), 0);
	EXPECT_EQ(vmcall3(KEEL_HC_DIRTY_LOG, KEEL_DIRTY_OFF, 0, 0), 0);
	EXPECT_EQ(e, 0);
	EXPECT(dirty_bits[page / 8] & (1u << (page % 8)));
	EXPECT(n >= 1);
	printf("keel: dirty log (wp): 2 region pages written with %llu exits "
	       "between, RAM page logged: %s\n", (unsigned long long)e,
	       dirty_bits[page / 8] & (1u << (page % 8)) ? "yes" : "no");
}

/* ---- guest a: MSI-X ------------------------------------------------------- */

/* Doorbell vector n arrives as VEC_MSIX + n, counted in irqs[n]. */
static void msix_setup(void)
{
	struct pci_msix m;
	char *stubs[] = { msix_irq0_stub, msix_irq1_stub, msix_irq2_stub,
			  msix_irq3_stub };

	for (unsigned int n = 0; n < SHM_VECTORS; n++)
		idt_set_gate(VEC_MSIX + n, (uintptr_t)stubs[n]);
	idt_load();
	apic_write(APIC_SVR, 0x1ff);
	EXPECT(pci_msix_init(dev, &m));
	EXPECT_EQ(m.nr, SHM_VECTORS);
	for (unsigned int n = 0; n < SHM_VECTORS && n < m.nr; n++)
		pci_msix_set(&m, n, 0, (uint8_t)(VEC_MSIX + n));
	pci_msix_enable(&m, true);
}

static void a_setup(void)
{
	msix_setup();
	for (unsigned int i = 0; i < PATTERN_WORDS; i++)
		box->pattern[i] = i * 0x9e3779b9u;
	box->pattern_ready = READY_MAGIC;
	box->ready[MEMBER_A] = READY_MAGIC + MEMBER_A;
}

static void a_ping(void)
{
	unsigned int ok = 0;

	EXPECT(wait_for(&box->ready[MEMBER_B], READY_MAGIC + MEMBER_B,
			WAIT_TICKS));
	for (uint32_t i = 1; i <= PING_ROUNDS; i++) {
		uint32_t want = irqs[VEC_PONG] + 1;

		box->a2b = i;
		ring(MEMBER_B, VEC_PING);
		ok += wait_for(&irqs[VEC_PONG], want, WAIT_TICKS) &&
		      box->b2a == i;
	}
	EXPECT_EQ(ok, PING_ROUNDS);
	printf("ping: %u of %u answers from b, each by MSI-X vector %u\n", ok,
	       PING_ROUNDS, VEC_PONG);
}

static void a_storm(void)
{
	struct storm_cost c;

	box->a_storm_start = 1;
	for (uint32_t i = 0; i < STORM; i++)
		ring(MEMBER_B, VEC_PING);
	box->a2b = PING_ROUNDS + 1;
	box->a_storm_done = 1;
	EXPECT(wait_for(&box->b2a, PING_ROUNDS + 1, WAIT_TICKS));
	/* b's storm on vector 0, then its answer on vector 1. */
	c = storm_watch(&box->b_storm_start, &box->b_storm_done,
			&irqs[VEC_PING]);
	EXPECT(wait_for(&box->b2a, PING_ROUNDS + 2, WAIT_TICKS));
	EXPECT(wait_for(&irqs[VEC_PONG], PING_ROUNDS + 1, WAIT_TICKS));
	EXPECT_EQ(reg(SHM_REG_DROPPED), 4);
	printf("storm: sent %u doorbells to b, b answered; b's %u on MSI-X "
	       "vector %u: %u interrupts, %llu exits here in %llu ms\n", STORM,
	       STORM, VEC_PING, c.irqs, (unsigned long long)c.exits,
	       (unsigned long long)c.ms);
}

static void role_a(void)
{
	check_regs(MEMBER_A, false);
	check_hypercall_buffer();
	a_setup();
	a_ping();
	check_bad_doorbells(MEMBER_A);
	a_storm();
	EXPECT(wait_for(&irqs[VEC_C_DONE], 1, WAIT_TICKS));
	printf("readonly: c's doorbell arrived on vector %u\n", VEC_C_DONE);
}

/* ---- guest b: INTx -------------------------------------------------------- */

static void b_setup(void)
{
	struct pci_intx intx = pci_intx_info(dev);

	EXPECT_EQ(intx.pin, 1);
	idt_set_gate(VEC_INTX, (uintptr_t)intx_irq_stub);
	idt_load();
	apic_write(APIC_SVR, 0x1ff);
	ioapic_write(IOAPIC_REG_REDIR + 2 * intx.line + 1, 0);
	ioapic_write(IOAPIC_REG_REDIR + 2 * intx.line, REDIR_LEVEL | VEC_INTX);
	reg_write(SHM_REG_INTR_MASK, SHM_INTR_BIT);
	EXPECT_EQ(reg(SHM_REG_INTR_MASK), SHM_INTR_BIT);
	box->ready[MEMBER_B] = READY_MAGIC + MEMBER_B;
}

/* The first message comes with INTx masked: no interrupt until b
 * unmasks, then one (IntrStatus kept the doorbell). */
static void b_first_masked(void)
{
	uint32_t while_masked;

	EXPECT(wait_for(&box->a2b, 1, WAIT_TICKS));
	wait_for(&intx_irqs, 1, QUIET_TICKS);
	while_masked = intx_irqs;
	reg_write(SHM_REG_INTR_MASK, 0);
	EXPECT(wait_for(&intx_irqs, 1, WAIT_TICKS));
	EXPECT_EQ(while_masked, 0);
	EXPECT_EQ(intx_status_seen, SHM_INTR_BIT);
	printf("mask: %u interrupts while IntrMask was set, %u after "
	       "clearing it\n", while_masked, intx_irqs);
	box->b2a = 1;
	ring(MEMBER_A, VEC_PONG);
}

static void b_ping(void)
{
	unsigned int ok = 1;

	b_first_masked();
	for (uint32_t i = 2; i <= PING_ROUNDS; i++) {
		uint32_t want = intx_irqs + 1;

		ok += wait_for(&intx_irqs, want, WAIT_TICKS) && box->a2b == i;
		box->b2a = i;
		ring(MEMBER_A, VEC_PONG);
	}
	EXPECT_EQ(ok, PING_ROUNDS);
	printf("ping: %u of %u messages from a, each by INTx\n", ok,
	       PING_ROUNDS);
}

static void b_storm(void)
{
	struct storm_cost c = storm_watch(&box->a_storm_start,
					  &box->a_storm_done, &intx_irqs);

	EXPECT_EQ(box->a2b, PING_ROUNDS + 1);
	box->b2a = PING_ROUNDS + 1;
	printf("storm: a's %u doorbells: %u INTx interrupts, %llu exits here in "
	       "%llu ms; answered\n", STORM, c.irqs,
	       (unsigned long long)c.exits, (unsigned long long)c.ms);
	box->b_storm_start = 1;
	for (uint32_t i = 0; i < STORM; i++)
		ring(MEMBER_A, VEC_PING);
	box->b_storm_done = 1;
	box->b2a = PING_ROUNDS + 2;
	ring(MEMBER_A, VEC_PONG);
	EXPECT_EQ(reg(SHM_REG_DROPPED), 4);
}

static void role_b(void)
{
	check_regs(MEMBER_B, false);
	check_dirty_log();
	b_setup();
	b_ping();
	check_bad_doorbells(MEMBER_B);
	b_storm();
}

/* ---- guest c: read-only ----------------------------------------------------- */

static unsigned int pattern_mismatches(void)
{
	unsigned int bad = 0;

	for (unsigned int i = 0; i < PATTERN_WORDS; i++)
		bad += box->pattern[i] != i * 0x9e3779b9u;
	return bad;
}

/* Writes of several kinds; none may change what the region holds. */
static void c_writes(void)
{
	volatile uint32_t *p = &box->pattern[0];
	uint32_t x = 0x12345678u, n = 16;

	box->pattern[1] = 0xdeadbeefu;
	*(volatile uint8_t *)&box->pattern[2] = 0xaa;
	__asm__ volatile("lock addl $1, %0" : "+m"(*p) :: "memory");
	__asm__ volatile("xchg %0, %1" : "+r"(x), "+m"(box->pattern[3])
			 :: "memory");
	EXPECT_EQ(x, 3 * 0x9e3779b9u);          /* xchg read the old value */
	__asm__ volatile("cld; rep stosl"
			 : "+D"(p), "+c"(n)
			 : "a"(0) : "memory");
}

static void role_c(void)
{
	check_regs(MEMBER_C, true);
	EXPECT(wait_for(&box->ready[MEMBER_A], READY_MAGIC + MEMBER_A,
			WAIT_TICKS));
	EXPECT_EQ(box->pattern_ready, READY_MAGIC);
	EXPECT_EQ(pattern_mismatches(), 0);
	c_writes();
	EXPECT_EQ(pattern_mismatches(), 0);
	printf("readonly: a's %u words read back, writes (mov, byte, lock add, "
	       "xchg, rep stos) left them unchanged\n", PATTERN_WORDS);
	check_bad_doorbells(MEMBER_C);
	ring(MEMBER_A, VEC_C_DONE);
}

/* ---- peer: Linux's partner -------------------------------------------------- */

/* The layout keel.shmtest=doorbell in tests/linux/init uses: Linux
 * (member 0) writes round i as LX_MSG + i and rings vector 0; the peer
 * answers PEER_MSG + i and rings Linux's vector 0. Linux's shell takes
 * seconds a round in Bochs, and its boot minutes: the bounds are in
 * guest time. */
#define LX_MEMBER           0
#define LX_PEER             1
#define LX_PEERS            2
#define LX_ROUNDS           10
#define LX_READY            0x52454459u     /* "REDY" */
#define LX_MSG              0x4c580000u     /* "LX" + round */
#define PEER_MSG            0x4d420000u     /* "MB" + round */
#define LX_BOOT_MS          1800000ULL
#define LX_ROUND_MS         120000ULL

struct lx_box {
	uint32_t ready, lx2peer, peer2lx;
};

/* The read-only region's layout, that of keel.shmtest=writer: a magic
 * dword once the pattern is in place, the reader's answer, and at
 * 0x100 LX_RO_WORDS dwords, word i = (i + 1) * 0x9e3779b1. */
#define LX_RO_MAGIC         0x4b45454cu
#define LX_RO_PATTERN       0x100
#define LX_RO_WORDS         64

static void lx_fill_readonly(void)
{
	uint64_t gpa = cmdline_hex("ro");
	volatile uint32_t *ro = (volatile uint32_t *)(uintptr_t)gpa;

	EXPECT(gpa != 0);
	if (!gpa)
		return;
	for (uint32_t i = 0; i < LX_RO_WORDS; i++)
		ro[LX_RO_PATTERN / 4 + i] = (i + 1) * 0x9e3779b1u;
	ro[0] = LX_RO_MAGIC;
}

static bool wait_ms(volatile uint32_t *p, uint32_t want, uint64_t ms)
{
	return wait_for(p, want, ms * tsc_khz());
}

static void role_peer(void)
{
	volatile struct lx_box *lx;
	unsigned int ok = 0;
	uint32_t i;

	EXPECT_EQ(reg(SHM_REG_IV_POSITION), LX_PEER);
	EXPECT_EQ(reg(SHM_REG_PEERS), LX_PEERS);
	EXPECT_EQ(reg(SHM_REG_FLAGS), 0);
	lx = (volatile struct lx_box *)(uintptr_t)
		(reg(SHM_REG_GPA_LO) | (uint64_t)reg(SHM_REG_GPA_HI) << 32);
	lx_fill_readonly();
	msix_setup();
	lx->ready = LX_READY;
	for (i = 1; i <= LX_ROUNDS; i++) {
		if (!wait_ms(&irqs[VEC_PING], i,
			     i == 1 ? LX_BOOT_MS : LX_ROUND_MS))
			break;
		ok += lx->lx2peer == LX_MSG + i;
		lx->peer2lx = PEER_MSG + i;
		ring(LX_MEMBER, VEC_PING);
	}
	EXPECT_EQ(ok, LX_ROUNDS);
	EXPECT_EQ(reg(SHM_REG_DROPPED), 0);
	printf("peer: %u of %u messages from linux, each by MSI-X vector %u "
	       "(%u interrupts), answered by doorbell\n", ok, LX_ROUNDS,
	       VEC_PING, irqs[VEC_PING]);
}

static bool streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

void guest_main(void)
{
	char role[8] = "";

	cmdline_get("role", role, sizeof(role));
	device_open();
	if (!regs)
		return;
	if (streq(role, "a"))
		role_a();
	else if (streq(role, "b"))
		role_b();
	else if (streq(role, "c"))
		role_c();
	else if (streq(role, "peer"))
		role_peer();
	else
		EXPECT(!"role=a, b, c or peer");
}
