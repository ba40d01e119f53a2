/*
 * snapshot: Keel's snapshot and restore hypercalls bring memory back
 * exactly, over and over.
 *
 *   fill      every page of the region (RAM above this image) holds
 *             (address ^ PATTERN) in all its words
 *   snapshot  KEEL_HC_SNAPSHOT returns 0 now and 1 after every restore
 *   loop      after a restore: the pages the last iteration scribbled on
 *             and a few random others must hold their pattern again (and
 *             every page, every PROGRESS_EVERY restores); then scribble
 *             random words on 1..MAX_SCRIBBLE_PAGES random pages and
 *             KEEL_HC_RESTORE
 *   bench     ticks of a restore after 16 and after 1024 dirtied pages
 *
 * Which iteration is this? A restore brings back registers and memory
 * alike, so the guest cannot carry a counter across one. Keel's count of
 * VMCALL exits is not guest state and keeps growing: read once before the
 * snapshot (so that the base is part of it), it gives the number of
 * restores so far, because each iteration makes exactly two VMCALLs (the
 * counter read and the restore) and nothing else in the loop makes any.
 * A wrong count would only change which pages are looked at first: after
 * any restore every page must hold its pattern.
 *
 * A failed check ends the loop at once: one more restore would also bring
 * back the check counters from before the failure.
 *
 * Command line: iters=N restores (default DEFAULT_ITERS).
 */
#include "guest.h"

#define PAGE                4096u
#define WORDS_PER_PAGE      (PAGE / 4)
#define PATTERN             0xc3a55a3cu
#define DEFAULT_ITERS       2000u
#define MAX_ITERS           1000000u
#define MAX_SCRIBBLE_PAGES  64u
#define MAX_SCRIBBLE_WORDS  4u
#define SAMPLE_PAGES        4u
#define PROGRESS_EVERY      500u
#define MAX_REPORTS         8
#define EXIT_REASON_VMCALL  18
/* VMCALLs per iteration of the loop: the counter read and the restore. */
#define VMCALLS_PER_ITER    2
#define BENCH_VALUE_A       0x11111111u
#define BENCH_VALUE_B       0x22222222u

struct region {
	uint32_t start, pages;
};

static struct region region;
static unsigned int nr_reports;

/* The image sits at 1 MiB and Keel puts the boot information below it:
 * the region is everything from the end of the image to the end of RAM. */
static bool find_region(void)
{
	uint32_t start = ((uint32_t)(uintptr_t)__image_end + PAGE - 1) & ~(PAGE - 1);
	uint64_t end = mb_ram_end() & ~(uint64_t)(PAGE - 1);

	if (end <= start)
		return false;
	region.start = start;
	region.pages = (uint32_t)(end - start) / PAGE;
	return true;
}

static uint32_t *page_ptr(uint32_t page)
{
	return (uint32_t *)(uintptr_t)(region.start + page * PAGE);
}

static uint32_t pattern(uint32_t page)
{
	return (region.start + page * PAGE) ^ PATTERN;
}

static void fill_region(void)
{
	for (uint32_t pg = 0; pg < region.pages; pg++) {
		uint32_t *p = page_ptr(pg), n = WORDS_PER_PAGE;

		__asm__ volatile("rep stosl"
				 : "+D"(p), "+c"(n) : "a"(pattern(pg)) : "memory");
	}
}

/* True when every word of the page holds its pattern (REPE SCASD); else
 * reports the first word that does not. */
static bool page_is_clean(uint32_t pg)
{
	uint32_t *p = page_ptr(pg), n = WORDS_PER_PAGE, want = pattern(pg);
	bool equal;

	__asm__ volatile("repe scasl"
			 : "+D"(p), "+c"(n), "=@cce"(equal)
			 : "a"(want) : "memory");
	if (!equal && nr_reports++ < MAX_REPORTS)
		printf("FAIL at %#x: read %#x, expected %#x\n",
		       (uint32_t)(uintptr_t)(p - 1), p[-1], want);
	return equal;
}

/* Returns the number of pages that do not hold their pattern. */
static uint32_t check_all(void)
{
	uint32_t bad = 0;

	for (uint32_t pg = 0; pg < region.pages; pg++)
		bad += !page_is_clean(pg);
	return bad;
}

/* xorshift32 (Marsaglia 2003); never 0 from a state that is not 0. */
static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static uint32_t iter_seed(uint32_t iter, uint32_t salt)
{
	uint32_t s = (iter + 1) * 0x9e3779b9u ^ salt;

	s ^= s >> 16;
	return s ? s : 1;
}

/* r scaled into [0, n): the high half of r * n. */
static uint32_t scale(uint32_t r, uint32_t n)
{
	return (uint32_t)(((uint64_t)r * n) >> 32);
}

/*
 * The scribble of iteration `iter`: random words with random values (never
 * the pattern) on 1..MAX_SCRIBBLE_PAGES random pages. With `check` set,
 * writes nothing and instead checks that each of those pages holds its
 * pattern; returns the number that do not.
 */
static uint32_t scribble(uint32_t iter, bool check)
{
	uint32_t s = iter_seed(iter, 0), bad = 0;
	uint32_t pages = 1 + scale(xorshift32(&s), MAX_SCRIBBLE_PAGES);

	for (uint32_t k = 0; k < pages; k++) {
		uint32_t pg = scale(xorshift32(&s), region.pages);
		uint32_t words = 1 + (xorshift32(&s) & (MAX_SCRIBBLE_WORDS - 1));

		if (check) {
			bad += !page_is_clean(pg);
			continue;
		}
		for (uint32_t w = 0; w < words; w++) {
			uint32_t off = xorshift32(&s) & (WORDS_PER_PAGE - 1);
			uint32_t val = xorshift32(&s);

			page_ptr(pg)[off] = val == pattern(pg) ? ~val : val;
		}
	}
	return bad;
}

/* After restore number `restores`: what the previous iteration wrote is
 * gone, and so is anything anywhere else. */
static bool verify_restore(uint32_t restores)
{
	uint32_t s = iter_seed(restores, 0x5a5a5a5a), bad;

	bad = scribble(restores - 1, true);
	for (uint32_t k = 0; k < SAMPLE_PAGES; k++)
		bad += !page_is_clean(scale(xorshift32(&s), region.pages));
	if (restores % PROGRESS_EVERY == 0)
		bad += check_all();
	return EXPECT_EQ(bad, 0);
}

static long hc_snapshot(void)
{
	return vmcall3(KEEL_HC_SNAPSHOT, 0, 0, 0);
}

static long hc_restore(void)
{
	return vmcall3(KEEL_HC_RESTORE, 0, 0, 0);
}

/* Restores since the snapshot, from the VMCALL exits since `base` (read
 * just before the snapshot): the snapshot, then two per iteration. */
static uint32_t restores_done(long base)
{
	long calls = hc_counter(EXIT_REASON_VMCALL) - base;

	return (uint32_t)(calls / VMCALLS_PER_ITER - 1);
}

/*
 * The random loop. Every iteration starts at the return from the snapshot
 * hypercall, with memory and registers as they were when it was taken.
 * Returns the number of restores when all went well, or 0.
 */
static uint32_t restore_loop(uint32_t iters)
{
	long base = hc_counter(EXIT_REASON_VMCALL), r = hc_snapshot();
	uint32_t restores;

	if (!EXPECT(r == 0 || r == 1)) {
		printf("snapshot: KEEL_HC_SNAPSHOT returned %ld\n", r);
		return 0;
	}
	restores = restores_done(base);
	if (!EXPECT_EQ(r, restores ? 1 : 0))
		return 0;
	if (restores && !verify_restore(restores))
		return 0;
	if (restores && restores % PROGRESS_EVERY == 0)
		printf("snapshot: %u/%u restores\n", restores, iters);
	if (restores >= iters)
		return restores;
	scribble(restores, false);
	/* Only a failed restore comes back here. */
	EXPECT_EQ(hc_restore(), 0);
	return 0;
}

/* One word written to each of the first `pages` pages of the region. */
static void dirty_pages(uint32_t pages, uint32_t val)
{
	for (uint32_t pg = 0; pg < pages; pg++)
		*page_ptr(pg) = val;
}

/* Ticks from before a snapshot to after dirtying `pages` pages. */
static uint64_t time_snapshot_dirty(uint32_t pages)
{
	uint64_t t0 = rdtsc_ordered();

	if (!EXPECT_EQ(hc_snapshot(), 0))
		return 0;
	dirty_pages(pages, BENCH_VALUE_A);
	return rdtsc_ordered() - t0;
}

/* The same followed by a restore: ticks until the snapshot returns 1. */
static uint64_t time_snapshot_dirty_restore(uint32_t pages)
{
	uint64_t t0 = rdtsc_ordered();

	if (hc_snapshot() == 0) {
		dirty_pages(pages, BENCH_VALUE_B);
		EXPECT_EQ(hc_restore(), 0);
		return 0;
	}
	return rdtsc_ordered() - t0;
}

/*
 * Ticks of a restore after `pages` pages were dirtied (plus the stack's),
 * from before the restore hypercall to the return from the snapshot. The
 * start cannot be carried across the restore, so the figure is the time
 * of snapshot + dirtying + restore less that of snapshot + dirtying alone.
 * The second of two untimed-restore runs is the one subtracted: it starts,
 * like the timed run, just after `pages` pages were dirtied.
 */
static void bench_restore(uint32_t pages)
{
	uint64_t plain, with_restore;

	if (!EXPECT(pages <= region.pages))
		return;
	time_snapshot_dirty(pages);
	plain = time_snapshot_dirty(pages);
	with_restore = time_snapshot_dirty_restore(pages);
	if (!EXPECT(with_restore > plain))
		return;
	for (uint32_t pg = 0; pg < pages; pg++)
		if (!EXPECT_EQ(*page_ptr(pg), BENCH_VALUE_A))
			return;
	printf("BENCH name=snapshot_restore_%u ticks=%llu\n", pages,
	       (unsigned long long)(with_restore - plain));
}

void guest_main(void)
{
	uint32_t iters, restores;
	uint64_t t0;

	if (!EXPECT(find_region()))
		return;
	iters = cmdline_number("iters", DEFAULT_ITERS, MAX_ITERS);
	printf("snapshot: region %#x-%#x (%u pages), %u restores\n",
	       region.start, region.start + region.pages * PAGE, region.pages,
	       iters);
	fill_region();
	t0 = rdtsc_ordered();
	restores = restore_loop(iters);
	if (!restores)
		return;
	EXPECT_EQ(check_all(), 0);
	printf("snapshot: %u restores, all pages as at the snapshot, %llu ticks\n",
	       restores, (unsigned long long)(rdtsc_ordered() - t0));
	bench_restore(16);
	bench_restore(1024);
}
