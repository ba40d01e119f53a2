/*
 * migrate: a guest that keeps dirtying its memory while Keel migrates it
 * to other CPUs, and then checks that not one word was lost on the way.
 *
 *   region   all available RAM above this image and the boot information
 *            (multiboot memory map), first filled page by page with
 *            (address ^ PATTERN_INIT)
 *   pass p   WRITES_PER_PASS random words get random values: 31 in 32
 *            of them in a hot window (a sixteenth of the region) that
 *            slides by a quarter of its size each pass, the rest anywhere
 *            in the region. One progress line per pass.
 *   end      every page's checksum is recomputed and compared with the one
 *            kept as it was written
 *
 * The checksums live in this image (.bss), outside the region: for each
 * page the weighted sum of its words, sum(w[i] * (1025 - i)) mod 2^32,
 * updated with (new - old) * weight on every write. The weights make a word
 * moved within a page count, and a stale page (a dirtied page that was not
 * copied again) differs in the words written since. A running total of all
 * page checksums checks the table itself.
 *
 * The initial APIC id (CPUID leaf 1, EBX[31:24]) is printed at the start,
 * with every pass and at the end: it changes when Keel moves the guest to
 * other CPUs, which, with the time it was paused, is all a migrated guest
 * is meant to notice. It is not checked. The local APIC's TPR, set before
 * the move, must read the same after it.
 *
 * hostile=MODE (pml, ad or wp: the guest's config's dirty_log) makes the
 * guest fight over the dirty log while it is migrated: every HOSTILE_EVERY
 * writes it makes a dirty-log call (see hostile_step), and it checks each
 * answer against who owns the log. While Keel's migration (or a snapshot)
 * owns it, KEEL_HC_DIRTY_LOG, KEEL_HC_DIRTY_GET and KEEL_HC_SNAPSHOT must
 * answer -22 and must neither join it nor take its bits; the memory check
 * at the end and Keel's own compare at the switch-over see stale pages.
 *
 * restore=1 takes a snapshot right after the fill, so that the snapshot
 * holds the dirty log through the migration, and restores it at the end:
 * every page must then hold its fill pattern again, which needs every
 * write to have been logged, before the move and after it (on the target
 * CPUs, with a VMCS made there).
 *
 * Command line: mem=SIZE (where RAM ends; checked), passes=N (default
 * DEFAULT_PASSES), hostile=MODE, restore=1.
 */
#include "guest.h"
#include "apic.h"

#define PAGE            4096u
#define WORDS_PER_PAGE  (PAGE / 4)
#define HIGH_RAM        0x100000u
#define RAM_LIMIT       0xfffff000ULL   /* what 32-bit code can address */
#define MAX_PAGES       65536u          /* 256 MiB of region */
#define PATTERN_INIT    0x5a5aa5a5u
#define DEFAULT_PASSES  24u
#define MAX_PASSES      100000u
#define WRITES_PER_PASS 16384u
#define COLD_SHIFT      5               /* 1 write in 32 goes anywhere */
#define HOT_DIVISOR     16u             /* the hot window: region / 16 */
#define HOT_SLIDE       4u              /* moves by window / 4 a pass */
#define MAX_REPORTS     8
/* Weight of word i is (WEIGHT_TOP - i): 1025 down to 2. */
#define WEIGHT_TOP      (WORDS_PER_PAGE + 1)
/* sum(WEIGHT_TOP - i) over a page: 1025 * 1026 / 2 - 1. */
#define WEIGHT_SUM      525824u

struct region {
	uint32_t start, end;            /* page-aligned, end exclusive */
	uint32_t pages;
};

static struct region region;
static uint32_t page_sum[MAX_PAGES];

#define HOSTILE_EVERY   512u            /* writes between dirty-log calls */
#define HC_EINVAL       (-22L)

/*
 * The hostile mode's view of the log. `own`: its KEEL_HC_DIRTY_LOG holds
 * the log, so a refusal of DIRTY_GET or of turning it off can only mean
 * Keel owns it. `migrating`: such a refusal (or of DIRTY_LOG in the
 * configured mode, on EPT) came before any snapshot: Keel's migration
 * holds the log, and a snapshot must be refused too, unless the migration
 * ended just in between (so one snapshot taken then is no failure, but
 * some must have been refused).
 */
struct hostile {
	unsigned long mode;             /* KEEL_DIRTY_*; 0: not hostile */
	bool own, migrating, snapped, shadow;
	uint32_t gets, refused, snapshot_refused;
};

static struct hostile hostile;
static uint64_t dirty_buf[MAX_PAGES / 64];

static uint32_t page_down(uint64_t a)
{
	return (uint32_t)(a & ~(uint64_t)(PAGE - 1));
}

static uint32_t page_up(uint64_t a)
{
	return page_down(a + PAGE - 1);
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* Moves *start past [base, base + len) when that lies at or above it:
 * the region begins after everything the loader put above this image. */
static void skip_past(uint32_t *start, uint32_t base, uint32_t len)
{
	if (len && base + len > *start && base >= (uint32_t)(uintptr_t)__image_start)
		*start = max_u32(*start, page_up((uint64_t)base + len));
}

static uint32_t region_start(void)
{
	const char *cmdline = mb_cmdline();
	uint32_t start = page_up((uintptr_t)__image_end);

	skip_past(&start, (uint32_t)(uintptr_t)boot_info, sizeof(*boot_info));
	skip_past(&start, (uint32_t)(uintptr_t)cmdline, strlen(cmdline) + 1);
	skip_past(&start, boot_info->mmap_addr, boot_info->mmap_length);
	return start;
}

/* The region is the rest of the available map entry that holds its start. */
static bool find_region(void)
{
	uint32_t at = boot_info->mmap_addr, end = at + boot_info->mmap_length;
	uint32_t start = region_start();

	for (; at < end; at += ((const struct mb1_mmap *)(uintptr_t)at)->size + 4) {
		const struct mb1_mmap *m = (const void *)(uintptr_t)at;
		uint64_t e = m->base + m->len;

		if (m->type != MB1_MEM_AVAILABLE || m->base > start || e <= start)
			continue;
		if (e > RAM_LIMIT)
			e = RAM_LIMIT;
		region.start = start;
		region.pages = (page_down(e) - start) / PAGE;
		if (region.pages > MAX_PAGES)
			region.pages = MAX_PAGES;
		region.end = start + region.pages * PAGE;
		return region.pages > 0;
	}
	return false;
}

static void check_ram_end(void)
{
	uint64_t mem;
	char arg[32];

	if (cmdline_get("mem", arg, sizeof(arg)) && EXPECT(parse_size(arg, &mem)))
		EXPECT_EQ(region.end, mem);
}

static uint32_t apic_id(void)
{
	return cpuid(1, 0).ebx >> 24;
}

static uint32_t *page_ptr(uint32_t page)
{
	return (uint32_t *)(uintptr_t)(region.start + page * PAGE);
}

static uint32_t init_word(uint32_t page)
{
	return (region.start + page * PAGE) ^ PATTERN_INIT;
}

/* REP STOSD: one instruction per word keeps the fill quick in Bochs. */
static void fill_page(uint32_t *p, uint32_t val)
{
	uint32_t n = WORDS_PER_PAGE;

	__asm__ volatile("rep stosl" : "+D"(p), "+c"(n) : "a"(val) : "memory");
}

/* Returns the sum of all page checksums. */
static uint32_t fill_region(void)
{
	uint32_t total = 0;

	for (uint32_t pg = 0; pg < region.pages; pg++) {
		fill_page(page_ptr(pg), init_word(pg));
		page_sum[pg] = init_word(pg) * WEIGHT_SUM;
		total += page_sum[pg];
	}
	return total;
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

/* A fixed, distinct, non-zero seed per pass. */
static uint32_t pass_seed(uint32_t pass)
{
	uint32_t s = (pass + 1) * 0x9e3779b9u;

	s ^= s >> 16;
	return s ? s : 1;
}

/* r scaled into [0, n): the high half of r * n. */
static uint32_t scale(uint32_t r, uint32_t n)
{
	return (uint32_t)(((uint64_t)r * n) >> 32);
}

static long hc_dirty_log(unsigned long mode)
{
	return vmcall3(KEEL_HC_DIRTY_LOG, mode, 0, 0);
}

static long hc_dirty_get(void)
{
	return vmcall3(KEEL_HC_DIRTY_GET, (uintptr_t)dirty_buf,
		       sizeof(dirty_buf), 0);
}

/* Without a log of its own, the guest never gets bits: not before the
 * migration, nor those of the migration or of a snapshot. */
static void hostile_get_foreign(void)
{
	long r = hc_dirty_get();

	if (!EXPECT_EQ(r, HC_EINVAL))
		printf("FAIL DIRTY_GET without a log of the guest's own "
		       "returned %ld\n", r);
}

/* A refusal while the guest held the log itself (or, on EPT, could not
 * get it in its configured mode) means Keel owns the log. */
static void hostile_refused(void)
{
	hostile.refused++;
	if (!hostile.snapped)
		hostile.migrating = true;
}

/* While the migration owns the log, a snapshot is refused too. */
static void hostile_snapshot_probe(void)
{
	long r = vmcall3(KEEL_HC_SNAPSHOT, 0, 0, 0);

	EXPECT(r == 0 || r == HC_EINVAL);
	hostile.snapshot_refused += r == HC_EINVAL;
	hostile.snapped = r == 0;
}

static void hostile_with_own_log(void)
{
	long r = hc_dirty_get();

	EXPECT(r >= 0 || r == HC_EINVAL);
	if (r == HC_EINVAL)
		hostile_refused();
	else
		hostile.gets++;
	r = hc_dirty_log(KEEL_DIRTY_OFF);
	EXPECT(r == 0 || r == HC_EINVAL);
	if (r == 0)
		hostile.own = false;
	else
		hostile_refused();
}

static void hostile_without_own_log(void)
{
	long r;

	hostile_get_foreign();
	r = hc_dirty_log(hostile.mode);
	EXPECT(r == 0 || r == HC_EINVAL);
	hostile.own = r == 0;
	if (r == HC_EINVAL && !hostile.shadow)  /* shadow paging: never */
		hostile_refused();
}

/* One round of the fight: alternately without and with a log of its own,
 * and a snapshot right after a refusal that showed the migration. */
static void hostile_step(void)
{
	uint32_t refused = hostile.refused;

	if (hostile.own)
		hostile_with_own_log();
	else
		hostile_without_own_log();
	if (hostile.refused != refused && hostile.migrating && !hostile.snapped)
		hostile_snapshot_probe();
}

/* One pass of random writes; returns the change of the total checksum. */
static uint32_t dirty_pass(uint32_t pass)
{
	uint32_t hot = max_u32(region.pages / HOT_DIVISOR, 1);
	uint32_t hot_start = pass * max_u32(hot / HOT_SLIDE, 1) % region.pages;
	uint32_t s = pass_seed(pass), delta = 0;

	for (uint32_t n = 0; n < WRITES_PER_PASS; n++) {
		uint32_t r = xorshift32(&s), val = xorshift32(&s);
		uint32_t off = r & (WORDS_PER_PAGE - 1), pg;
		uint32_t *w, d;

		if (r >> (32 - COLD_SHIFT))
			pg = (hot_start + scale(r << COLD_SHIFT, hot)) %
			     region.pages;
		else
			pg = scale(r << COLD_SHIFT, region.pages);
		w = page_ptr(pg) + off;
		d = (val - *w) * (WEIGHT_TOP - off);
		*w = val;
		page_sum[pg] += d;
		delta += d;
		if (hostile.mode && n % HOSTILE_EVERY == 0)
			hostile_step();
	}
	return delta;
}

static uint32_t page_checksum(const uint32_t *w)
{
	uint32_t s1 = 0, s2 = 0;

	/* s2 ends as sum(w[i] * (1024 - i)); s1 + s2 adds one more of each. */
#pragma GCC unroll 16
	for (uint32_t i = 0; i < WORDS_PER_PAGE; i++) {
		s1 += w[i];
		s2 += s1;
	}
	return s1 + s2;
}

/* Returns the number of pages whose content differs from their checksum. */
static uint32_t verify_region(void)
{
	uint32_t bad = 0;

	for (uint32_t pg = 0; pg < region.pages; pg++) {
		uint32_t got = page_checksum(page_ptr(pg));

		if (got == page_sum[pg])
			continue;
		if (bad++ < MAX_REPORTS)
			printf("FAIL page %#x: checksum %#x, expected %#x "
			       "(first word %#x)\n", region.start + pg * PAGE,
			       got, page_sum[pg], *page_ptr(pg));
	}
	return bad;
}

static bool hostile_init(void)
{
	static const char *const names[] = { "pml", "ad", "wp" };
	char arg[8];

	if (!cmdline_get("hostile", arg, sizeof(arg)))
		return true;
	for (unsigned int i = 0; i < 3; i++)
		if (!strncmp(arg, names[i], sizeof(arg)))
			hostile.mode = KEEL_DIRTY_PML + i;
	hostile.shadow = keel_shadow_paging();
	return EXPECT(hostile.mode != 0);
}

/*
 * Once the migration is over the log is the guest's again (it waits for
 * that), until a snapshot takes it for good. On EPT the guest
 * must have been refused during the migration (it made a call every
 * HOSTILE_EVERY writes while it lasted).
 */
static void hostile_finish(void)
{
	if (!hostile.mode)
		return;
	if (!hostile.shadow && !hostile.snapped) {
		while (hostile.own && hc_dirty_log(KEEL_DIRTY_OFF) != 0)
			;
		while (hc_dirty_log(hostile.mode) != 0)
			;
		EXPECT_EQ(hc_dirty_log(KEEL_DIRTY_OFF), 0);
		hostile.own = false;
	}
	while (!hostile.snapped)        /* shadow paging: until it is over */
		hostile_snapshot_probe();
	EXPECT_EQ(hc_dirty_log(hostile.mode), HC_EINVAL);
	EXPECT_EQ(hc_dirty_get(), HC_EINVAL);
	printf("migrate: hostile: %u gets of its own log, %u calls refused, "
	       "%u snapshots refused during the migration\n", hostile.gets,
	       hostile.refused, hostile.snapshot_refused);
	if (!hostile.shadow) {
		EXPECT(hostile.refused > 0);
		EXPECT(hostile.snapshot_refused > 0);
	}
}

/* restore=1: true once a restore came back to the snapshot. */
static bool snapshot_restored(void)
{
	long r;

	if (!cmdline_number("restore", 0, 1))
		return false;
	r = vmcall3(KEEL_HC_SNAPSHOT, 0, 0, 0);
	if (r == 1)
		return true;
	EXPECT_EQ(r, 0);
	return false;
}

static void check_restored(void)
{
	uint32_t bad = 0;

	for (uint32_t pg = 0; pg < region.pages; pg++)
		if (page_checksum(page_ptr(pg)) != init_word(pg) * WEIGHT_SUM &&
		    bad++ < MAX_REPORTS)
			printf("FAIL page %#x not restored (first word %#x)\n",
			       region.start + pg * PAGE, *page_ptr(pg));
	printf("migrate: restored: %u of %u pages differ from the fill\n",
	       bad, region.pages);
	EXPECT_EQ(bad, 0);
}

static uint32_t table_total(void)
{
	uint32_t total = 0;

	for (uint32_t pg = 0; pg < region.pages; pg++)
		total += page_sum[pg];
	return total;
}

/* A TPR value set before the move (it holds back nothing: interrupts
 * stay off) that must read the same after it. */
#define MIGRATE_TPR         0x20

void guest_main(void)
{
	uint32_t passes, total, apic_start, apic_end, tpr_end;
	uint64_t t0;

	if (!EXPECT_EQ(boot_magic, MB1_BOOTLOADER_MAGIC) ||
	    !EXPECT(boot_info->flags & MB1_INFO_MMAP) || !EXPECT(find_region()))
		return;
	check_ram_end();
	if (!hostile_init())
		return;
	passes = cmdline_number("passes", DEFAULT_PASSES, MAX_PASSES);
	apic_start = apic_id();
	apic_write(APIC_TPR, MIGRATE_TPR);
	printf("migrate: region %#x-%#x (%u pages), %u passes of %u writes, "
	       "apic id %u\n", region.start, region.end, region.pages, passes,
	       WRITES_PER_PASS, apic_start);
	t0 = rdtsc_ordered();
	total = fill_region();
	if (snapshot_restored()) {
		check_restored();
		return;
	}
	for (uint32_t p = 0; p < passes; p++) {
		total += dirty_pass(p);
		printf("migrate: pass %u/%u apic %u\n", p + 1, passes, apic_id());
	}
	apic_end = apic_id();
	tpr_end = apic_read(APIC_TPR);
	hostile_finish();
	EXPECT_EQ(verify_region(), 0);
	EXPECT_EQ(table_total(), total);
	printf("migrate: apic id %u at start, %u at end%s; tpr %#x, then %#x\n",
	       apic_start, apic_end, apic_start != apic_end ? " (moved)" : "",
	       MIGRATE_TPR, tpr_end);
	EXPECT_EQ(tpr_end, MIGRATE_TPR);
	printf("migrate: %llu ticks\n",
	       (unsigned long long)(rdtsc_ordered() - t0));
	if (cmdline_number("restore", 0, 1))    /* returns only if it fails */
		EXPECT_EQ(vmcall3(KEEL_HC_RESTORE, 0, 0, 0), 0);
}
