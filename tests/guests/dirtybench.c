/*
 * dirtybench: what dirty logging costs a guest, mode by mode, and whether
 * the log sees every page.
 *
 * For each mode (off, pml, ad, wp) this guest starts logging
 * (KEEL_HC_DIRTY_LOG), clears the log (KEEL_HC_DIRTY_GET), then writes one
 * word to each of PAGES_PER_MODE pages it has not written before, and
 * reads the log back:
 *
 *   BENCH name=dirty_write_MODE ticks=N          ticks per first write
 *   BENCH name=dirty_exits_per_1000_MODE ticks=N VM exits per 1000 pages
 *                                                (pml, ad, wp)
 *
 * and checks: the log counts at least PAGES_PER_MODE pages and has the bit
 * of every page written; pml takes at most MAX_PML_EXITS exits (one per
 * full 512-entry log), wp at least one per page. A mode the CPU lacks
 * (KEEL_HC_EINVAL) is skipped with a note. In Bochs a tick is one
 * instruction, so the figures are path lengths and repeat exactly.
 */
#include "guest.h"

#define PAGE            4096u
#define PAGE_SHIFT      12
#define PAGES_PER_MODE  1000u
#define MAX_PML_EXITS   10
#define MAX_GUEST_PAGES 65536u          /* 256 MiB: the bitmap's reach */
#define WRITE_VALUE     0xd1d1d1d1u

struct mode {
	const char *name;
	unsigned long mode;
};

static const struct mode modes[] = {
	{ "off", KEEL_DIRTY_OFF },
	{ "pml", KEEL_DIRTY_PML },
	{ "ad", KEEL_DIRTY_AD },
	{ "wp", KEEL_DIRTY_WP },
};

static uint8_t bitmap[MAX_GUEST_PAGES / 8];
static uint32_t region_start, region_pages;

static bool find_region(void)
{
	uint32_t start = ((uint32_t)(uintptr_t)__image_end + PAGE - 1) & ~(PAGE - 1);
	uint64_t end = mb_ram_end() & ~(uint64_t)(PAGE - 1);

	if (end <= start)
		return false;
	region_start = start;
	region_pages = (uint32_t)(end - start) / PAGE;
	return true;
}

/* The guest-physical address of the k-th page written under mode i: each
 * mode gets pages of its own while the region lasts. */
static uint32_t page_addr(unsigned int i, uint32_t k)
{
	uint32_t first = i * PAGES_PER_MODE % (region_pages - PAGES_PER_MODE + 1);

	return region_start + (first + k) * PAGE;
}

static long dirty_log(unsigned long mode)
{
	return vmcall3(KEEL_HC_DIRTY_LOG, mode, 0, 0);
}

static long dirty_get(void *buf, uint32_t size)
{
	return vmcall3(KEEL_HC_DIRTY_GET, (uintptr_t)buf, size, 0);
}

static bool bit_is_set(uint32_t gpa)
{
	uint32_t pfn = gpa >> PAGE_SHIFT;

	return pfn < MAX_GUEST_PAGES && (bitmap[pfn / 8] >> (pfn % 8)) & 1;
}

/* The log counts the written pages and has each one's bit. */
static void check_log(unsigned int i)
{
	uint32_t missing = 0, first_missing = 0;
	long n;

	memset(bitmap, 0, sizeof(bitmap));
	n = dirty_get(bitmap, sizeof(bitmap));
	printf("dirtybench: %s: %ld pages in the log\n", modes[i].name, n);
	EXPECT(n >= (long)PAGES_PER_MODE);
	for (uint32_t k = 0; k < PAGES_PER_MODE; k++) {
		if (bit_is_set(page_addr(i, k)))
			continue;
		if (!missing++)
			first_missing = page_addr(i, k);
	}
	if (!EXPECT_EQ(missing, 0))
		printf("dirtybench: %s: %u written pages not in the log, the "
		       "first at %#x\n", modes[i].name, missing, first_missing);
}

static void report(const char *what, const char *mode, uint64_t value)
{
	printf("BENCH name=%s_%s ticks=%llu\n", what, mode,
	       (unsigned long long)value);
}

static void check_exits(unsigned int i, long exits)
{
	const struct mode *m = &modes[i];
	uint64_t rem;

	report("dirty_exits_per_1000", m->name,
	       udiv64((uint64_t)exits * 1000, PAGES_PER_MODE, &rem));
	if (m->mode == KEEL_DIRTY_PML)
		EXPECT(exits <= MAX_PML_EXITS);
	if (m->mode == KEEL_DIRTY_WP)
		EXPECT(exits >= (long)PAGES_PER_MODE);
}

static void run_mode(unsigned int i)
{
	const struct mode *m = &modes[i];
	long r = dirty_log(m->mode), before, exits;
	uint64_t t0, ticks, rem;

	if (r == KEEL_HC_EINVAL) {
		printf("dirtybench: %s: not available on this CPU, skipped\n",
		       m->name);
		return;
	}
	if (!EXPECT_EQ(r, 0))
		return;
	if (m->mode != KEEL_DIRTY_OFF)
		dirty_get(NULL, 0);
	before = hc_counter(KEEL_COUNTER_EXITS_TOTAL);
	t0 = rdtsc_ordered();
	for (uint32_t k = 0; k < PAGES_PER_MODE; k++)
		*(volatile uint32_t *)(uintptr_t)page_addr(i, k) = WRITE_VALUE;
	ticks = rdtsc_ordered() - t0;
	/* Less one: the VMCALL that read `before` is counted after it. */
	exits = hc_counter(KEEL_COUNTER_EXITS_TOTAL) - before - 1;
	if (m->mode != KEEL_DIRTY_OFF)
		check_log(i);
	EXPECT_EQ(dirty_log(KEEL_DIRTY_OFF), 0);
	report("dirty_write", m->name, udiv64(ticks, PAGES_PER_MODE, &rem));
	if (m->mode != KEEL_DIRTY_OFF)
		check_exits(i, exits);
}

void guest_main(void)
{
	if (!EXPECT(find_region()) || !EXPECT(region_pages >= PAGES_PER_MODE))
		return;
	printf("dirtybench: %u pages per mode from %#x, region of %u pages\n",
	       PAGES_PER_MODE, region_start, region_pages);
	for (unsigned int i = 0; i < ARRAY_SIZE(modes); i++)
		run_mode(i);
}
