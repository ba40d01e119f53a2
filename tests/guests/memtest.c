/*
 * memtest: all RAM above 1 MiB that the memory map calls available (less
 * this image) starts out zeroed and keeps what is written to it.
 *
 *   pass 0  every page reads as zero (Keel hands out cleared memory;
 *           skipped on other hosts)
 *   pass 1  fill every page with (address ^ A), then check every page
 *   pass 2  the same with the inverse pattern
 *
 * With ticks=N on the command line, passes 1 and 2 repeat until N TSC
 * ticks have passed: a neighbour that keeps checking for as long as a
 * long fuzz run beside it lasts.
 *
 * The image and the boot information are left alone. A page's pattern
 * holds its own address and all pages are written before any is checked,
 * so two guest pages backed by one host page are caught.
 * Fills are REP STOSD and checks REPE SCASD: one instruction per word,
 * which keeps a 32 MiB guest quick in Bochs.
 */
#include "guest.h"

#define PAGE            4096u
#define WORDS_PER_PAGE  (PAGE / 4)
#define HIGH_RAM        0x100000u
#define RAM_LIMIT       0xfffff000ULL   /* what 32-bit code can address */
#define PATTERN_A       0x5a5aa5a5u
#define MAX_RANGES      16
#define MAX_RESERVED    8
#define MAX_REPORTS     8
#define KEEL_CPUID_BASE 0x40000000
#define KEEL_SIGNATURE  0x6c65654b      /* "Keel" */

struct range {
	uint32_t start, end;            /* page-aligned, end exclusive */
};

static struct range ranges[MAX_RANGES], reserved[MAX_RESERVED];
static unsigned int nr_ranges, nr_reserved, nr_reports;

static uint32_t page_down(uint64_t a)
{
	return (uint32_t)(a & ~(uint64_t)(PAGE - 1));
}

static uint32_t page_up(uint64_t a)
{
	return page_down(a + PAGE - 1);
}

/* Memory this guest must not overwrite: its image and what the loader
 * passed (Keel puts the latter below 1 MiB; other loaders may not). */
static void reserve(uint64_t start, uint64_t len)
{
	if (len && nr_reserved < MAX_RESERVED)
		reserved[nr_reserved++] = (struct range){ page_down(start),
							  page_up(start + len) };
}

static void reserve_boot_data(void)
{
	const char *cmdline = mb_cmdline();

	reserve((uintptr_t)__image_start, __image_end - __image_start);
	reserve((uintptr_t)boot_info, sizeof(*boot_info));
	reserve((uintptr_t)cmdline, strlen(cmdline) + 1);
	reserve(boot_info->mmap_addr, boot_info->mmap_length);
}

/* Adds [s, e) less the reserved ranges from index r on. */
static void add_range(uint32_t s, uint32_t e, unsigned int r)
{
	for (; r < nr_reserved; r++) {
		if (reserved[r].end <= s || reserved[r].start >= e)
			continue;
		add_range(s, reserved[r].start, r + 1);
		add_range(reserved[r].end, e, r + 1);
		return;
	}
	if (s < e && nr_ranges < MAX_RANGES)
		ranges[nr_ranges++] = (struct range){ s, e };
}

static void find_ranges(void)
{
	uint32_t at = boot_info->mmap_addr, end = at + boot_info->mmap_length;

	while (at < end) {
		const struct mb1_mmap *m = (const void *)(uintptr_t)at;
		uint64_t s = m->base < HIGH_RAM ? HIGH_RAM : m->base;
		uint64_t e = m->base + m->len > RAM_LIMIT ? RAM_LIMIT
							  : m->base + m->len;

		if (m->type == MB1_MEM_AVAILABLE && s < e)
			add_range(page_up(s), page_down(e), 0);
		at += m->size + 4;
	}
}

/* Keel promises cleared memory; other hosts do not. */
static bool on_keel(void)
{
	struct cpuid_regs r = cpuid(KEEL_CPUID_BASE, 0);

	return (cpuid(1, 0).ecx & CPUID1_ECX_HYPERVISOR) &&
	       r.ebx == KEEL_SIGNATURE && r.ecx == KEEL_SIGNATURE &&
	       r.edx == KEEL_SIGNATURE;
}

static void fill_page(uint32_t addr, uint32_t val)
{
	void *p = (void *)(uintptr_t)addr;
	uint32_t n = WORDS_PER_PAGE;

	__asm__ volatile("rep stosl" : "+D"(p), "+c"(n) : "a"(val) : "memory");
}

/* True when every word of the page holds val; else *bad is the first
 * word that does not. */
static bool check_page(uint32_t addr, uint32_t val, uint32_t *bad)
{
	void *p = (void *)(uintptr_t)addr;
	uint32_t n = WORDS_PER_PAGE;
	bool equal;

	__asm__ volatile("repe scasl"
			 : "+D"(p), "+c"(n), "=@cce"(equal)
			 : "a"(val) : "memory");
	*bad = (uint32_t)(uintptr_t)p - 4;
	return equal;
}

static uint32_t pattern(uint32_t addr, uint32_t flip)
{
	return flip ? ~(addr ^ PATTERN_A) : addr ^ PATTERN_A;
}

static unsigned int check_all(bool zero, uint32_t flip)
{
	unsigned int bad_pages = 0;
	uint32_t bad;

	for (unsigned int r = 0; r < nr_ranges; r++)
		for (uint32_t a = ranges[r].start; a < ranges[r].end; a += PAGE) {
			uint32_t want = zero ? 0 : pattern(a, flip);

			if (check_page(a, want, &bad))
				continue;
			bad_pages++;
			if (nr_reports++ < MAX_REPORTS)
				printf("FAIL at %#x: read %#x, expected %#x\n",
				       bad, *(volatile uint32_t *)(uintptr_t)bad,
				       want);
		}
	return bad_pages;
}

static void fill_all(uint32_t flip)
{
	for (unsigned int r = 0; r < nr_ranges; r++)
		for (uint32_t a = ranges[r].start; a < ranges[r].end; a += PAGE)
			fill_page(a, pattern(a, flip));
}

/* The last range ends where the configuration says RAM ends (mem=). */
static void check_ram_end(void)
{
	uint64_t mem;
	char arg[32];

	if (!cmdline_get("mem", arg, sizeof(arg)))
		return;
	if (EXPECT(parse_size(arg, &mem)) && EXPECT(nr_ranges > 0))
		EXPECT_EQ(ranges[nr_ranges - 1].end, mem);
}

/* Passes 1 and 2, once or (ticks=N) until N ticks after T0. */
static void pattern_passes(uint64_t t0)
{
	uint64_t ticks = 0, round = 0;
	char arg[32];

	if (cmdline_get("ticks", arg, sizeof(arg)))
		EXPECT(parse_size(arg, &ticks));
	do {
		for (uint32_t flip = 0; flip < 2; flip++) {
			fill_all(flip);
			EXPECT_EQ(check_all(false, flip), 0);
			printf("memtest: pass %u (%s pattern) done\n", flip + 1,
			       flip ? "inverse" : "address");
		}
		round++;
	} while (rdtsc_ordered() - t0 < ticks && checks_failed() == 0);
	if (ticks)
		printf("memtest: %llu rounds\n", (unsigned long long)round);
}

void guest_main(void)
{
	uint64_t total = 0, t0;

	if (!EXPECT_EQ(boot_magic, MB1_BOOTLOADER_MAGIC) ||
	    !EXPECT(boot_info->flags & MB1_INFO_MMAP))
		return;
	reserve_boot_data();
	find_ranges();
	for (unsigned int r = 0; r < nr_ranges; r++) {
		printf("memtest: range %#x-%#x\n", ranges[r].start, ranges[r].end);
		total += ranges[r].end - ranges[r].start;
	}
	EXPECT(total >= PAGE);
	check_ram_end();
	printf("memtest: %llu KiB in %u ranges\n",
	       (unsigned long long)(total >> 10), nr_ranges);
	t0 = rdtsc_ordered();
	if (on_keel()) {
		EXPECT_EQ(check_all(true, 0), 0);
		printf("memtest: pass 0 (zeroed) done\n");
	} else {
		printf("memtest: pass 0 skipped: not on Keel\n");
	}
	pattern_passes(t0);
	printf("memtest: %llu ticks\n", (unsigned long long)(rdtsc_ordered() - t0));
}
