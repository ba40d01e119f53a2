/*
 * pctest: the PC platform every guest format gets, seen from a multiboot
 * guest.
 *
 *   boot data  the multiboot information lies outside the image;
 *   ACPI       the RSDP on a 16-byte boundary in 0xE0000-0xFFFFF (ACPI 6.5
 *              5.2.5.1) with both checksums, the XSDT and every table it
 *              lists (and the FADT's DSDT) summing to zero, and a MADT
 *              with one enabled local APIC per vCPU (IDs 0..n-1) and the
 *              I/O APIC at 0xfec00000 with ID n, GSI base 0, and the
 *              PC-AT flag (the 8259s are there); the FADT's
 *              PM timer running at 3.579545 MHz of the TSC's clock;
 *   I/O APIC   its ID and version registers, all 24 redirection entries
 *              masked at reset, an entry's writable bits read back and
 *              its read-only ones (delivery status, remote IRR) kept, and
 *              the 16550's THR-empty interrupt delivered through pin 4 to
 *              the local APIC as the entry says, not while masked; with
 *              `testdev` on the command line (and the device), a
 *              level-triggered pin driven by the testdev's line: sent
 *              again after an EOI while high, remote IRR meanwhile;
 *   8259s      as a BIOS leaves them (IMR 0xfb/0xff, ELCR 0), and with
 *              `testdev`: IRQ 11 pulsed with IF = 0 latched while the
 *              line is masked, silent while LINT0 is masked, then
 *              delivered at the BIOS's vector 0x73 through LINT0 as
 *              ExtINT, in service in its handler; made level-triggered
 *              in the ELCR, sent again after an EOI while high; with the
 *              local APIC off, straight to the CPU's INTR.
 */
#include "guest.h"
#include "apic.h"

#define COM1                0x3f8
#define UART_IER            1
#define UART_IIR            2
#define UART_MCR            4
#define  IER_THRE           0x02
#define  MCR_OUT2           0x08
#define UART_PIN            4
#define VEC_UART            0x70
#define TESTDEV_IRQ         0x2000          /* + pin: the line's level */
#define LEVEL_PIN           14
#define VEC_LEVEL           0x76

#define PIC_MASTER          0x20
#define PIC_SLAVE           0xa0
#define PIC_ELCR            0x4d0
#define PIC_IRQ             11              /* the slave's IR3 */
#define VEC_PIC             0x73            /* the BIOS's 0x70 + 3 */
#define OCW2_EOI            0x20
#define OCW3_READ_ISR       0x0b
#define LVT_EXTINT          0x700

#define BIOS_AREA           0xe0000u
#define BIOS_AREA_END       0x100000u
#define RSDP_V1_LEN         20
#define RSDP_LEN            36
#define SDT_HEADER_LEN      36
#define FADT_DSDT           40
#define FADT_PM_TMR_BLK     76
#define PM_TIMER_HZ         3579545ULL
#define PM_TIMER_TICKS      20000000ULL     /* TSC ticks between reads */
#define MADT_HEAD_LEN       44
#define MADT_FLAGS          40
#define MADT_PCAT_COMPAT    1u
#define MADT_LAPIC          0
#define MADT_IOAPIC         1
#define WAIT_TICKS          200000000ULL    /* a failure bound, not a time */
#define WAIT_MASKED_TICKS   2000000ULL      /* many exits' worth */

/* ---- interrupts ------------------------------------------------------------ */

static volatile uint32_t uart_irqs;

IRQ_STUB(uart_irq);
IRQ_STUB(level_irq);
IRQ_STUB(pic_irq);
extern char uart_irq_stub[], level_irq_stub[], pic_irq_stub[];

/* Each THR-empty interrupt is taken once: IER off before the EOI. */
__attribute__((used)) void uart_irq(void);
__attribute__((used)) void uart_irq(void)
{
	uart_irqs++;
	outb(COM1 + UART_IER, 0);
	apic_write(APIC_EOI, 0);
}

/* The level-triggered pin's handler: it ends the interrupt with its line
 * still high the first time (the I/O APIC must send it again after the
 * EOI) and lowers the line the second time. */
static volatile uint32_t level_irqs, level_remote_irr;

__attribute__((used)) void level_irq(void);
__attribute__((used)) void level_irq(void)
{
	level_irqs++;
	level_remote_irr += !!(ioapic_read(IOAPIC_REG_REDIR + 2 * LEVEL_PIN) &
			       REDIR_REMOTE_IRR);
	if (level_irqs == 2)
		outb(TESTDEV_IRQ + LEVEL_PIN, 0);
	apic_write(APIC_EOI, 0);
}

/* The 8259s' IRQ 11: the slave's ISR read in the handler, EOIs to both
 * chips; at the second one of a level-triggered run the line goes low. */
static volatile uint32_t pic_irqs, pic_isr, pic_level;

__attribute__((used)) void pic_irq(void);
__attribute__((used)) void pic_irq(void)
{
	pic_irqs++;
	outb(PIC_SLAVE, OCW3_READ_ISR);
	pic_isr |= inb(PIC_SLAVE);
	if (pic_level && pic_irqs == 2)
		outb(TESTDEV_IRQ + PIC_IRQ, 0);
	outb(PIC_SLAVE, OCW2_EOI);
	outb(PIC_MASTER, OCW2_EOI);
}

/* ---- ACPI ------------------------------------------------------------------ */

static uint8_t sum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *b++);
	return s;
}

static uint32_t get32(const void *p, uint32_t off)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)p + off, 4);
	return v;
}

static const uint8_t *find_rsdp(void)
{
	for (uint32_t a = BIOS_AREA; a < BIOS_AREA_END; a += 16)
		if (!memcmp((const void *)(uintptr_t)a, "RSD PTR ", 8))
			return (const uint8_t *)(uintptr_t)a;
	return NULL;
}

/* A table's checksum, checked; true when it sums to zero. */
static bool table_ok(const uint8_t *t)
{
	return EXPECT_EQ(sum(t, get32(t, 4)), 0);
}

static unsigned int madt_lapics, madt_ioapic_id = ~0u;
static uint32_t pm_timer_port;
static uint32_t madt_ioapic_addr, madt_gsi_base = ~0u;

static void read_madt(const uint8_t *t, unsigned int nr_cpus)
{
	uint32_t len = get32(t, 4);

	EXPECT(get32(t, MADT_FLAGS) & MADT_PCAT_COMPAT);        /* 8259s */
	for (uint32_t off = MADT_HEAD_LEN; off + 2 <= len; off += t[off + 1]) {
		if (t[off + 1] < 2)
			break;
		if (t[off] == MADT_LAPIC) {
			EXPECT_EQ(t[off + 3], madt_lapics);     /* APIC ID */
			EXPECT(get32(t, off + 4) & 1);          /* enabled */
			madt_lapics++;
		} else if (t[off] == MADT_IOAPIC) {
			madt_ioapic_id = t[off + 2];
			madt_ioapic_addr = get32(t, off + 4);
			madt_gsi_base = get32(t, off + 8);
		}
	}
	EXPECT_EQ(madt_lapics, nr_cpus);
	EXPECT_EQ(madt_ioapic_id, nr_cpus);
	EXPECT_EQ(madt_ioapic_addr, IOAPIC_MMIO);
	EXPECT_EQ(madt_gsi_base, 0);
}

/* Walks the XSDT: checksums everywhere, the FADT's DSDT, the MADT. */
static void read_xsdt(const uint8_t *x, unsigned int nr_cpus, char *sigs)
{
	uint32_t n = (get32(x, 4) - SDT_HEADER_LEN) / 8;

	for (uint32_t i = 0; i < n && i < 8; i++) {
		const uint8_t *t =
			(const uint8_t *)(uintptr_t)get32(x, SDT_HEADER_LEN + i * 8);

		EXPECT_EQ(get32(x, SDT_HEADER_LEN + i * 8 + 4), 0);
		memcpy(sigs + i * 5, t, 4);
		sigs[i * 5 + 4] = ' ';
		sigs[i * 5 + 5] = 0;
		if (!table_ok(t))
			continue;
		if (!memcmp(t, "FACP", 4)) {
			const uint8_t *d =
				(const uint8_t *)(uintptr_t)get32(t, FADT_DSDT);

			EXPECT(!memcmp(d, "DSDT", 4));
			table_ok(d);
			pm_timer_port = get32(t, FADT_PM_TMR_BLK);
		} else if (!memcmp(t, "APIC", 4)) {
			read_madt(t, nr_cpus);
		}
	}
}

static void test_acpi(unsigned int nr_cpus)
{
	const uint8_t *rsdp = find_rsdp(), *xsdt;
	unsigned int failed = checks_failed();
	char sigs[48] = "";

	if (!EXPECT(rsdp))
		return;
	EXPECT_EQ(sum(rsdp, RSDP_V1_LEN), 0);
	EXPECT_EQ(rsdp[15], 2);                         /* revision */
	EXPECT_EQ(get32(rsdp, 20), RSDP_LEN);
	EXPECT_EQ(sum(rsdp, RSDP_LEN), 0);
	xsdt = (const uint8_t *)(uintptr_t)get32(rsdp, 24);
	EXPECT_EQ(get32(rsdp, 28), 0);
	if (!EXPECT(!memcmp(xsdt, "XSDT", 4)) || !table_ok(xsdt))
		return;
	read_xsdt(xsdt, nr_cpus, sigs);
	printf("acpi: rsdp at %#x rev %u, xsdt: %s(checksums %s), madt: %u "
	       "local apics, ioapic id %u at %#x\n", (uint32_t)(uintptr_t)rsdp,
	       rsdp[15], sigs, checks_failed() != failed ? "BAD" : "ok", madt_lapics,
	       madt_ioapic_id, madt_ioapic_addr);
}

/* The FADT's PM timer counts at 3.579545 MHz of the guest's clock, which
 * the TSC's rate (CPUID 0x40000010) measures: within 1 %. */
static void test_pm_timer(void)
{
	uint64_t tsc_khz = cpuid(0x40000010, 0).eax, t0, t1, want, got, rem;
	uint32_t p0, p1;

	if (!EXPECT(pm_timer_port) || !EXPECT(tsc_khz))
		return;
	t0 = rdtsc_ordered();
	p0 = inl((uint16_t)pm_timer_port);
	while (rdtsc_ordered() - t0 < PM_TIMER_TICKS)
		;
	p1 = inl((uint16_t)pm_timer_port);
	t1 = rdtsc_ordered();
	got = (uint32_t)(p1 - p0);
	want = udiv64((t1 - t0) * PM_TIMER_HZ, tsc_khz * 1000, &rem);
	printf("acpi: pm timer at port %#x: %llu counts in %llu TSC ticks, "
	       "%s 1%% of %llu\n", pm_timer_port, (unsigned long long)got,
	       (unsigned long long)(t1 - t0),
	       got * 100 >= want * 99 && got * 100 <= want * 101 ?
	       "within" : "NOT within", (unsigned long long)want);
	EXPECT(got * 100 >= want * 99 && got * 100 <= want * 101);
}

/* ---- I/O APIC -------------------------------------------------------------- */

/* 82093AA datasheet 3.2: ID in bits 27:24, version 0x11 with the highest
 * entry's index in bits 23:16; entries masked after reset. */
static void test_ioapic_regs(unsigned int nr_cpus)
{
	unsigned int masked = 0;
	uint32_t ver = ioapic_read(IOAPIC_REG_VER);

	EXPECT_EQ(ioapic_read(IOAPIC_REG_ID), nr_cpus << 24);
	EXPECT_EQ(ver & 0xff, 0x11);
	EXPECT_EQ((ver >> 16) & 0xff, IOAPIC_PINS - 1);
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++)
		masked += !!(ioapic_read(IOAPIC_REG_REDIR + 2 * pin) &
			     REDIR_MASKED);
	EXPECT_EQ(masked, IOAPIC_PINS);
	/* Delivery status and remote IRR are read-only. */
	ioapic_write(IOAPIC_REG_REDIR + 2 * 7,
		     REDIR_MASKED | REDIR_STATUS | REDIR_REMOTE_IRR | 0x5a);
	ioapic_write(IOAPIC_REG_REDIR + 2 * 7 + 1, 0x03000000);
	EXPECT_EQ(ioapic_read(IOAPIC_REG_REDIR + 2 * 7), REDIR_MASKED | 0x5a);
	EXPECT_EQ(ioapic_read(IOAPIC_REG_REDIR + 2 * 7 + 1), 0x03000000);
	ioapic_write(IOAPIC_REG_REDIR + 2 * 7, REDIR_MASKED);
	ioapic_write(IOAPIC_REG_REDIR + 2 * 7 + 1, 0);
	printf("ioapic: id %u, version %#x, %u entries, %u masked at reset\n",
	       ioapic_read(IOAPIC_REG_ID) >> 24, ver & 0xff, (ver >> 16) + 1,
	       masked);
}

static bool wait_irqs(volatile uint32_t *count, uint32_t want, uint64_t ticks)
{
	uint64_t end = rdtsc_ordered() + ticks;

	while (*count < want && rdtsc_ordered() < end)
		__asm__ volatile("sti; pause; cli" ::: "memory");
	return *count >= want;
}

/* THR empty with IER bit 1 and OUT2 raises pin 4 (an edge). */
static void raise_uart_irq(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_MCR, MCR_OUT2);
	outb(COM1 + UART_IER, IER_THRE);
}

static void test_ioapic_irq(void)
{
	uint32_t while_masked;

	idt_set_gate(VEC_UART, (uintptr_t)uart_irq_stub);
	idt_load();
	apic_write(APIC_SVR, 0x1ff);
	raise_uart_irq();               /* entry still masked */
	wait_irqs(&uart_irqs, 1, WAIT_MASKED_TICKS);
	while_masked = uart_irqs;
	outb(COM1 + UART_IER, 0);
	ioapic_write(IOAPIC_REG_REDIR + 2 * UART_PIN + 1, 0);   /* APIC 0 */
	ioapic_write(IOAPIC_REG_REDIR + 2 * UART_PIN, VEC_UART); /* fixed */
	raise_uart_irq();
	EXPECT(wait_irqs(&uart_irqs, 1, WAIT_TICKS));
	printf("ioapic: uart pin %u -> vector %#x: %u interrupt(s) while "
	       "masked, %u after unmasking\n", UART_PIN, VEC_UART,
	       while_masked, uart_irqs);
	EXPECT_EQ(while_masked, 0);
	EXPECT_EQ(uart_irqs, 1);
	ioapic_write(IOAPIC_REG_REDIR + 2 * UART_PIN, REDIR_MASKED);
	outb(COM1 + UART_MCR, 0);
}

/* A level-triggered entry driven by the testdev's line for pin 14:
 * delivered, sent again after an EOI with the line high (remote IRR set
 * in the handler both times), quiet once the line is low. */
static void test_ioapic_level(void)
{
	uint32_t entry;

	idt_set_gate(VEC_LEVEL, (uintptr_t)level_irq_stub);
	idt_load();
	ioapic_write(IOAPIC_REG_REDIR + 2 * LEVEL_PIN + 1, 0);
	ioapic_write(IOAPIC_REG_REDIR + 2 * LEVEL_PIN, REDIR_LEVEL | VEC_LEVEL);
	outb(TESTDEV_IRQ + LEVEL_PIN, 1);
	EXPECT(wait_irqs(&level_irqs, 2, WAIT_TICKS));
	wait_irqs(&level_irqs, 3, WAIT_MASKED_TICKS);
	entry = ioapic_read(IOAPIC_REG_REDIR + 2 * LEVEL_PIN);
	printf("ioapic: level pin %u -> vector %#x: %u interrupts, remote IRR "
	       "set in %u handlers, then %u\n", LEVEL_PIN, VEC_LEVEL,
	       level_irqs, level_remote_irr, !!(entry & REDIR_REMOTE_IRR));
	EXPECT_EQ(level_irqs, 2);
	EXPECT_EQ(level_remote_irr, 2);
	EXPECT(!(entry & REDIR_REMOTE_IRR));
	ioapic_write(IOAPIC_REG_REDIR + 2 * LEVEL_PIN, REDIR_MASKED);
}

/* The 8259s as the BIOS left them: every line masked but the cascade,
 * all edge-triggered. */
static void test_pic_state(void)
{
	uint8_t imr_m = inb(PIC_MASTER + 1), imr_s = inb(PIC_SLAVE + 1);
	uint8_t elcr_m = inb(PIC_ELCR), elcr_s = inb(PIC_ELCR + 1);

	printf("8259: imr %#x %#x, elcr %#x %#x at start\n", imr_m, imr_s,
	       elcr_m, elcr_s);
	EXPECT_EQ(imr_m, 0xfb);
	EXPECT_EQ(imr_s, 0xff);
	EXPECT_EQ(elcr_m, 0);
	EXPECT_EQ(elcr_s, 0);
}

/* IRQ 11 through the slave, with IF = 0 while the line goes up and down
 * (kvm-unit-tests' realmode sti-inhibit check does the same): the edge
 * waits in IRR through the mask and a masked LINT0, and comes as vector
 * 0x73 once LINT0 is ExtINT. Then level-triggered: sent again after an
 * EOI while the line is high. */
static void test_pic_irq(void)
{
	uint32_t masked, edge, isr;

	idt_set_gate(VEC_PIC, (uintptr_t)pic_irq_stub);
	idt_load();
	__asm__ volatile("cli");
	outb(TESTDEV_IRQ + PIC_IRQ, 1);
	outb(TESTDEV_IRQ + PIC_IRQ, 0);
	outb(PIC_SLAVE + 1, (uint8_t)~(1u << (PIC_IRQ - 8)));
	wait_irqs(&pic_irqs, 1, WAIT_MASKED_TICKS);
	masked = pic_irqs;
	apic_write(APIC_LVT_LINT0, LVT_EXTINT);
	EXPECT(wait_irqs(&pic_irqs, 1, WAIT_TICKS));
	edge = pic_irqs;
	isr = pic_isr;
	outb(PIC_ELCR + 1, 1u << (PIC_IRQ - 8));
	pic_level = 1;
	pic_irqs = 0;
	outb(TESTDEV_IRQ + PIC_IRQ, 1);
	EXPECT(wait_irqs(&pic_irqs, 2, WAIT_TICKS));
	wait_irqs(&pic_irqs, 3, WAIT_MASKED_TICKS);
	printf("8259: irq %u -> vector %#x: %u with LINT0 masked, %u as "
	       "ExtINT (slave ISR %#x in the handler); level-triggered: %u "
	       "interrupts\n", PIC_IRQ, VEC_PIC, masked, edge, isr, pic_irqs);
	EXPECT_EQ(masked, 0);
	EXPECT_EQ(edge, 1);
	EXPECT_EQ(isr, 1u << (PIC_IRQ - 8));
	EXPECT_EQ(pic_irqs, 2);
	outb(PIC_ELCR + 1, 0);
	apic_write(APIC_LVT_LINT0, LVT_MASKED);
}

/* With its APIC off, LINT0 is the CPU's INTR pin (SDM Vol. 3A 11.4.3):
 * the 8259s' interrupt comes in whatever LINT0 said. The APIC comes back
 * in its reset state. */
static void test_pic_apic_off(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	pic_level = 0;
	pic_irqs = 0;
	wrmsr(MSR_APIC_BASE, base & ~(uint64_t)APIC_BASE_EN);
	outb(TESTDEV_IRQ + PIC_IRQ, 1);
	outb(TESTDEV_IRQ + PIC_IRQ, 0);
	EXPECT(wait_irqs(&pic_irqs, 1, WAIT_TICKS));
	wait_irqs(&pic_irqs, 2, WAIT_MASKED_TICKS);
	wrmsr(MSR_APIC_BASE, base);
	printf("8259: irq %u with the local APIC off: %u interrupt(s)\n",
	       PIC_IRQ, pic_irqs);
	EXPECT_EQ(pic_irqs, 1);
	outb(PIC_SLAVE + 1, 0xff);
}

/* ---- boot data ------------------------------------------------------------- */

static void test_boot_info(void)
{
	uint32_t mbi = (uint32_t)(uintptr_t)boot_info;
	uint32_t start = (uint32_t)(uintptr_t)__image_start;
	uint32_t end = (uint32_t)(uintptr_t)__image_end;

	printf("boot: image %#x-%#x, multiboot information at %#x\n", start,
	       end, mbi);
	EXPECT(mbi + sizeof(*boot_info) <= start || mbi >= end);
	EXPECT_EQ(mbi & 0xfff, 0);
}

void guest_main(void)
{
	unsigned int nr_cpus = (cpuid(1, 0).ebx >> 16) & 0xff;
	char arg[4];

	test_boot_info();
	test_acpi(nr_cpus);
	test_pm_timer();
	test_ioapic_regs(nr_cpus);
	test_ioapic_irq();
	test_pic_state();
	if (cmdline_get("testdev", arg, sizeof(arg))) {
		test_ioapic_level();
		test_pic_irq();
		test_pic_apic_off();
	}
}
