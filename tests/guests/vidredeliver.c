/*
 * vidredeliver: local APIC timer interrupts delivered onto pages the dirty
 * log has just cleaned.
 *
 * With virtual-interrupt delivery the CPU takes a vector from the
 * virtual-APIC page itself and moves it to the page's ISR before it pushes
 * the interrupt frame (SDM Vol. 3C 29.2.2). If that push makes an exit (an
 * EPT violation on a write-protected stack page in wp mode, a full
 * page-modification log in pml mode), the delivery is unfinished and
 * Keel must deliver the vector again; if it does not, the vector stays in
 * ISR with no handler to EOI it, and the timer, held behind it, stops
 * coming.
 *
 * Command line mode=wp|pml|ad (default wp): the guest starts logging its
 * own memory in that mode (KEEL_HC_DIRTY_LOG), runs a periodic timer
 * (xAPIC page, EOI there) that its handler stops after exactly
 * interrupts=N (default 100), and goes round: with IF = 0, it clears the
 * log (KEEL_HC_DIRTY_GET, which cleans every page again), in pml mode
 * writes to 512 pages of its own less (round % 8) so that in some rounds
 * the log is full just when the interrupt comes, then waits with IF = 1
 * for the next interrupt, writing nothing. So the first write after the
 * clear in each round is the frame of an interrupt. It prints
 *
 *   vidredeliver: MODE: N interrupts of N in R rounds, E EPT-violation
 *   exits, P PML-full exits, timer ISR clear
 *
 * and checks: every round's interrupt came (a lost one ends the round's
 * wait, a failure bound), the count is N (N + 1 if an expiry was already
 * pending when the handler stopped the timer) and stays so, the timer's
 * ISR bit is clear, and in wp mode each round took at least one
 * EPT-violation exit. With a period longer than a round, R is N: an
 * interrupt delivered twice shows as R below N.
 */
#include "guest.h"
#include "apic_regs.h"

#define PAGE                4096u
#define VEC_TIMER           0x50
#define EXIT_REASON_EPT_VIOLATION 48
#define EXIT_REASON_PML_FULL 62
#define PML_ENTRIES         512u        /* SDM Vol. 3C 29.3.6 */
#define PML_SWEEP           8u          /* rounds write 512 - 0..7 pages */
#define TIMER_COUNT         500000u     /* period: longer than a round */
#define WAIT_SPINS          50000000u   /* a failure bound, not a time */
#define MAX_INTERRUPTS      100000u
#define DEFAULT_INTERRUPTS  100u
#define SVR_ENABLED         0x1ff       /* APIC on, spurious vector 0xff */

struct mode {
	const char *name;
	unsigned long mode;
};

static const struct mode modes[] = {
	{ "pml", KEEL_DIRTY_PML },
	{ "ad", KEEL_DIRTY_AD },
	{ "wp", KEEL_DIRTY_WP },
};

static volatile uint32_t timer_count;
static uint32_t timer_stop_at;

/* ---- interrupt entry ------------------------------------------------------ */

__asm__(IRQ_ENTRY_MACRO);
__asm__(".text\n"
	"	irq_stub 0x50\n");
void irq_stub_0x50(void);

static void apic_write(uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off) = val;
}

static uint32_t apic_read(uint32_t off)
{
	return *(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off);
}

__attribute__((used)) void irq_entry(uint32_t vector);
__attribute__((used)) void irq_entry(uint32_t vector)
{
	(void)vector;
	if (++timer_count == timer_stop_at)
		apic_write(APIC_TIMER_ICR, 0);
	apic_write(APIC_EOI, 0);
}

/* ---- one round --------------------------------------------------------------- */

/*
 * Clears the log, writes one word to each of `pages` pages from `scratch`,
 * then waits with IF = 1 until timer_count is no longer `seen`, for at
 * most WAIT_SPINS spins. All in one block that writes no stack: a call's
 * return address would dirty the stack page before the interrupt does.
 * Returns the spins left, 0 when the wait ran out.
 */
static uint32_t round_wait(uintptr_t scratch, uint32_t pages, uint32_t seen)
{
	unsigned long ax = KEEL_HC_DIRTY_GET, bx = 0, cx = 0, dx = 0;
	uint32_t left = WAIT_SPINS;

	__asm__ volatile("vmcall" : "+a"(ax), "+b"(bx), "+c"(cx), "+d"(dx)
			 :: "memory");
	__asm__ volatile(
		"	test %[n], %[n]\n"
		"	jz 2f\n"
		"1:	movl %[n], (%[p])\n"
		"	add $4096, %[p]\n"
		"	dec %[n]\n"
		"	jnz 1b\n"
		"2:	sti\n"
		"3:	cmp %[seen], %[count]\n"
		"	jne 4f\n"
		"	pause\n"
		"	dec %[left]\n"
		"	jnz 3b\n"
		"4:	cli\n"
		: [p] "+r"(scratch), [n] "+r"(pages), [left] "+r"(left)
		: [seen] "r"(seen), [count] "m"(timer_count)
		: "memory", "cc");
	return left;
}

/* ---- the test ----------------------------------------------------------------- */

static const struct mode *pick_mode(void)
{
	char name[8] = "wp";

	cmdline_get("mode", name, sizeof(name));
	for (unsigned int i = 0; i < ARRAY_SIZE(modes); i++)
		if (!strncmp(name, modes[i].name, sizeof(name)))
			return &modes[i];
	printf("vidredeliver: unknown mode=%s\n", name);
	return NULL;
}

/* Page-aligned room after the image for the pml rounds' writes. */
static uintptr_t scratch_area(void)
{
	uintptr_t start = ((uintptr_t)__image_end + PAGE - 1) & ~(uintptr_t)(PAGE - 1);

	if (mb_ram_end() < start + (uint64_t)PML_ENTRIES * PAGE)
		return 0;
	return start;
}

static void start_timer(void)
{
	idt_set_gate(VEC_TIMER, (uintptr_t)irq_stub_0x50);
	idt_load();
	apic_write(APIC_SVR, SVR_ENABLED);
	apic_write(APIC_TIMER_DCR, DCR_DIVIDE_1);
	apic_write(APIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	apic_write(APIC_TIMER_ICR, TIMER_COUNT);
}

/* Rounds until the handler has stopped the timer; false if one waited in
 * vain (the count stalled). */
static bool run_rounds(const struct mode *m, uintptr_t scratch,
		       uint32_t *rounds)
{
	uint32_t seen, pages;

	for (*rounds = 0; (seen = timer_count) < timer_stop_at; ++*rounds) {
		pages = m->mode == KEEL_DIRTY_PML ?
			PML_ENTRIES - *rounds % PML_SWEEP : 0;
		if (!round_wait(scratch, pages, seen)) {
			printf("vidredeliver: %s: round %u: no interrupt after "
			       "%u (ISR of 0x50 %s)\n", m->name, *rounds, seen,
			       apic_read(APIC_ISR + 0x20) & (1u << 16) ?
			       "set" : "clear");
			return false;
		}
	}
	return true;
}

void guest_main(void)
{
	const struct mode *m = pick_mode();
	uintptr_t scratch = scratch_area();
	long ept0, pml0, ept, pml, r;
	uint32_t rounds, spins = WAIT_SPINS;
	bool done, isr_clear;

	timer_stop_at = cmdline_number("interrupts", DEFAULT_INTERRUPTS,
				       MAX_INTERRUPTS);
	if (!EXPECT(m) || !EXPECT(scratch))
		return;
	r = vmcall3(KEEL_HC_DIRTY_LOG, m->mode, 0, 0);
	if (!EXPECT_EQ(r, 0))
		return;
	ept0 = hc_counter(EXIT_REASON_EPT_VIOLATION);
	pml0 = hc_counter(EXIT_REASON_PML_FULL);
	start_timer();
	done = run_rounds(m, scratch, &rounds);
	ept = hc_counter(EXIT_REASON_EPT_VIOLATION) - ept0;
	pml = hc_counter(EXIT_REASON_PML_FULL) - pml0;
	/* A stopped timer leaves the count where it is. */
	while (done && --spins)
		__asm__ volatile("sti; pause; cli" ::: "memory");
	isr_clear = !(apic_read(APIC_ISR + 0x20) & (1u << 16));
	apic_write(APIC_LVT_TIMER, LVT_MASKED);
	EXPECT_EQ(vmcall3(KEEL_HC_DIRTY_LOG, KEEL_DIRTY_OFF, 0, 0), 0);
	printf("vidredeliver: %s: %u interrupts of %u in %u rounds, %ld "
	       "EPT-violation exits, %ld PML-full exits, timer ISR %s\n",
	       m->name, timer_count, timer_stop_at, rounds, ept, pml,
	       isr_clear ? "clear" : "set");
	EXPECT(done);
	/* An expiry already in IRR when the handler stopped the timer still
	 * comes (a write to the initial count clears no IRR bit). */
	EXPECT(timer_count == timer_stop_at || timer_count == timer_stop_at + 1);
	EXPECT(isr_clear);
	if (m->mode == KEEL_DIRTY_WP)
		EXPECT(ept >= (long)rounds);
}
