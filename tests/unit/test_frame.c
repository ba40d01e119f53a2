/*
 * Host unit tests for the physical frame allocator (mm/frame.c).
 *
 * Physical addresses here are only numbers: the allocator never touches
 * the RAM it manages, so the maps below describe RAM at 4 GiB, 64 GiB and
 * 1 TiB that this machine does not have. A naive reference model
 * (ref_usable) answers "may this frame ever be handed out?" straight from
 * the raw map; most tests check the allocator against it.
 */
#include "mm/frame.h"
#include "tests/unit/test.h"

#include <pthread.h>
#include <time.h>

#define TiB             (1ULL << 40)
#define ORDER_BYTES(k)  (FRAME_SIZE << (k))
#define MAP(u, r)       { (u), ARRAY_SIZE(u), (r), ARRAY_SIZE(r) }

/* ---- Reference model ------------------------------------------------- */

/* Last byte of r, or false when r is empty; lengths past 2^64 stop at the top. */
static bool ref_last(const struct frame_range *r, uint64_t *last)
{
	if (!r->len)
		return false;
	*last = r->base + r->len - 1;
	if (*last < r->base)
		*last = UINT64_MAX;
	return true;
}

static bool ref_contains(const struct frame_range *r, uint64_t pa, uint64_t size)
{
	uint64_t last;

	return ref_last(r, &last) && r->base <= pa && pa + size - 1 <= last;
}

static bool ref_overlaps(const struct frame_range *r, uint64_t pa, uint64_t size)
{
	uint64_t last;

	return ref_last(r, &last) && r->base <= pa + size - 1 && pa <= last;
}

/* A frame is usable when one usable entry holds all of it and no reserved
 * entry touches any byte of it. */
static bool ref_usable(const struct frame_map *m, uint64_t pa)
{
	bool in = false;

	if (pa >= FRAME_PA_LIMIT)
		return false;
	for (size_t k = 0; k < m->nr_usable && !in; k++)
		in = ref_contains(&m->usable[k], pa, FRAME_SIZE);
	for (size_t k = 0; k < m->nr_reserved && in; k++)
		in = !ref_overlaps(&m->reserved[k], pa, FRAME_SIZE);
	return in;
}

static size_t ref_first_holder(const struct frame_map *m, uint64_t pa)
{
	size_t k = 0;

	while (k < m->nr_usable && !ref_contains(&m->usable[k], pa, FRAME_SIZE))
		k++;
	return k;
}

/* Usable frames in m, each counted once, by the first entry holding it. */
static uint64_t ref_count(const struct frame_map *m)
{
	uint64_t n = 0;

	for (size_t k = 0; k < m->nr_usable; k++) {
		const struct frame_range *u = &m->usable[k];
		uint64_t last;

		if (!ref_last(u, &last) || u->base >= FRAME_PA_LIMIT)
			continue;
		last = MIN(last, FRAME_PA_LIMIT - 1);
		for (uint64_t pa = ALIGN_UP(u->base, FRAME_SIZE);
		     pa + FRAME_SIZE - 1 <= last; pa += FRAME_SIZE)
			n += ref_first_holder(m, pa) == k && ref_usable(m, pa);
	}
	return n;
}

/* ---- Small own PRNG (splitmix64) -------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

/* Mostly small orders, as the kernel asks for: P(k) halves with each step. */
static unsigned int rng_order(uint64_t *s, unsigned int max)
{
	unsigned int k = (unsigned int)__builtin_ctzll(rng_next(s) | BIT_ULL(63));

	return MIN(k, max);
}

/* ---- Fixture: an allocator with a malloc'd metadata buffer ------------- */

struct fixture {
	struct frame_allocator *fa;
	void *meta;
	uint64_t meta_bytes;
	struct frame_stats fresh;
};

static int fixture_init(struct fixture *fx, const struct frame_map *map)
{
	int err;

	memset(fx, 0, sizeof(*fx));
	fx->fa = calloc(1, sizeof(*fx->fa));
	err = frame_meta_size(map, &fx->meta_bytes);
	if (err)
		return err;
	fx->meta = malloc(fx->meta_bytes);
	/* Garbage in the buffer must not matter. */
	memset(fx->meta, 0xa5, fx->meta_bytes);
	err = frame_init(fx->fa, map, fx->meta, fx->meta_bytes);
	if (!err)
		frame_get_stats(fx->fa, &fx->fresh);
	return err;
}

static void fixture_fini(struct fixture *fx)
{
	free(fx->meta);
	free(fx->fa);
}

/* Everything free again, split exactly as right after frame_init(). */
static bool is_fresh(struct fixture *fx)
{
	struct frame_stats st;
	bool ok = true;

	frame_get_stats(fx->fa, &st);
	for (int k = 0; k < FRAME_NR_ORDERS; k++) {
		ok &= st.free_blocks[k] == fx->fresh.free_blocks[k];
		ok &= st.used_blocks[k] == 0;
	}
	ok &= st.used_bytes == 0 && st.free_bytes == fx->fresh.total_bytes;
	ok &= st.total_bytes == fx->fresh.total_bytes;
	return ok;
}

/* ---- Block lists ------------------------------------------------------ */

struct block {
	uint64_t pa;
	unsigned int order;
};

struct blocks {
	size_t n, cap;
	struct block *b;
};

static void blocks_push(struct blocks *bl, uint64_t pa, unsigned int order)
{
	if (bl->n == bl->cap) {
		bl->cap = bl->cap ? 2 * bl->cap : 1024;
		bl->b = realloc(bl->b, bl->cap * sizeof(*bl->b));
	}
	bl->b[bl->n++] = (struct block){ pa, order };
}

static void blocks_release(struct blocks *bl)
{
	free(bl->b);
	memset(bl, 0, sizeof(*bl));
}

/* Allocates order-k blocks until the allocator says no; returns how many. */
static size_t drain(struct frame_allocator *fa, unsigned int order,
		    struct blocks *bl)
{
	size_t n = 0;
	uint64_t pa;

	while ((pa = frame_alloc(fa, order)) != FRAME_NONE) {
		blocks_push(bl, pa, order);
		n++;
	}
	return n;
}

/* Frees every block; returns how many frees were refused. */
static size_t free_all(struct frame_allocator *fa, struct blocks *bl)
{
	size_t refused = 0;

	for (size_t i = 0; i < bl->n; i++)
		refused += frame_free(fa, bl->b[i].pa, bl->b[i].order) != 0;
	bl->n = 0;
	return refused;
}

static int block_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct block *)a)->pa;
	uint64_t y = ((const struct block *)b)->pa;

	return x < y ? -1 : x > y;
}

/*
 * Checks that every block is naturally aligned, made only of frames the
 * reference model calls usable, and that no two blocks overlap. Returns
 * the number of frames covered, or ~0 on any violation.
 */
static uint64_t check_blocks(const struct frame_map *m, struct blocks *bl)
{
	uint64_t frames = 0, bad = 0;

	if (bl->n)
		qsort(bl->b, bl->n, sizeof(*bl->b), block_cmp);
	for (size_t i = 0; i < bl->n; i++) {
		uint64_t pa = bl->b[i].pa, size = ORDER_BYTES(bl->b[i].order);

		bad += !IS_ALIGNED(pa, size);
		if (i + 1 < bl->n)
			bad += pa + size > bl->b[i + 1].pa;
		for (uint64_t off = 0; off < size; off += FRAME_SIZE)
			bad += !ref_usable(m, pa + off);
		frames += size / FRAME_SIZE;
	}
	if (bad)
		printf("    check_blocks: %llu violations\n", (unsigned long long)bad);
	return bad ? ~0ULL : frames;
}

/* No order of block is left: every frame_alloc() must fail. */
static bool all_orders_exhausted(struct frame_allocator *fa)
{
	for (unsigned int k = 0; k <= FRAME_MAX_ORDER; k++) {
		if (frame_alloc(fa, k) != FRAME_NONE)
			return false;
	}
	return true;
}

/* ---- Basic behaviour -------------------------------------------------- */

static const struct frame_range basic_usable[] = {
	{ 0, 3 * GiB }, { 4 * GiB, 2 * GiB },
};
static const struct frame_range first_mib[] = { { 0, 1 * MiB } };

TEST(alloc_free_each_order)
{
	struct frame_map map = MAP(basic_usable, first_mib);
	struct fixture fx;

	ASSERT(fixture_init(&fx, &map) == 0);
	for (unsigned int k = 0; k <= FRAME_MAX_ORDER; k++) {
		uint64_t pa = frame_alloc(fx.fa, k);
		struct frame_stats st;

		ASSERT(pa != FRAME_NONE);
		EXPECT(IS_ALIGNED(pa, ORDER_BYTES(k)));
		EXPECT(pa >= 1 * MiB);
		EXPECT(!frame_is_free(fx.fa, pa));
		EXPECT(!frame_is_free(fx.fa, pa + ORDER_BYTES(k) - 1));
		frame_get_stats(fx.fa, &st);
		EXPECT_EQ(st.used_blocks[k], 1);
		EXPECT_EQ(st.used_bytes, ORDER_BYTES(k));
		EXPECT_EQ(st.free_bytes + st.used_bytes, st.total_bytes);
		EXPECT_EQ(frame_free(fx.fa, pa, k), 0);
		EXPECT(frame_is_free(fx.fa, pa));
		EXPECT(is_fresh(&fx));
	}
	EXPECT_EQ(frame_alloc(fx.fa, FRAME_MAX_ORDER + 1), FRAME_NONE);
	EXPECT_EQ(frame_alloc(fx.fa, ~0U), FRAME_NONE);
	EXPECT(is_fresh(&fx));
	fixture_fini(&fx);
}

TEST(fresh_stats_describe_the_map)
{
	struct frame_map map = MAP(basic_usable, first_mib);
	struct fixture fx;
	uint64_t free_bytes = 0;

	ASSERT(fixture_init(&fx, &map) == 0);
	/* 1G-2G and 2G-3G below the hole, 4G-5G and 5G-6G above it. */
	EXPECT_EQ(fx.fresh.total_bytes, 5 * GiB - 1 * MiB);
	EXPECT_EQ(fx.fresh.free_blocks[FRAME_ORDER_1G], 4);
	EXPECT_EQ(fx.fresh.nr_regions, 2);
	for (int k = 0; k < FRAME_NR_ORDERS; k++) {
		EXPECT_EQ(fx.fresh.used_blocks[k], 0);
		free_bytes += fx.fresh.free_blocks[k] * ORDER_BYTES(k);
	}
	EXPECT_EQ(free_bytes, fx.fresh.free_bytes);
	EXPECT_EQ(fx.fresh.used_bytes, 0);
	fixture_fini(&fx);
}

TEST(exhaustion_at_every_order)
{
	static const struct frame_range usable[] = { { 1 * MiB, 63 * MiB } };
	static const struct frame_range reserved[] = { { 17 * MiB, 1 } };
	struct frame_map map = MAP(usable, reserved);
	struct blocks bl = { 0 };
	struct fixture fx;

	ASSERT(fixture_init(&fx, &map) == 0);
	for (unsigned int k = 0; k <= FRAME_MAX_ORDER; k++) {
		struct frame_stats st;

		drain(fx.fa, k, &bl);
		EXPECT_EQ(frame_alloc(fx.fa, k), FRAME_NONE);
		frame_get_stats(fx.fa, &st);
		for (unsigned int j = k; j <= FRAME_MAX_ORDER; j++)
			EXPECT_EQ(st.free_blocks[j], 0);
		EXPECT_EQ(st.used_blocks[k], bl.n);
		EXPECT(check_blocks(&map, &bl) != ~0ULL);
		EXPECT_EQ(free_all(fx.fa, &bl), 0);
		EXPECT(is_fresh(&fx));
	}
	EXPECT_EQ(fx.fresh.total_bytes, 63 * MiB - FRAME_SIZE);
	blocks_release(&bl);
	fixture_fini(&fx);
}

TEST(small_region_splits_and_refills)
{
	static const struct frame_range usable[] = { { 1 * MiB, 1 * MiB } };
	struct frame_map map = { usable, 1, NULL, 0 };
	struct blocks bl = { 0 };
	struct fixture fx;

	ASSERT(fixture_init(&fx, &map) == 0);
	EXPECT_EQ(frame_alloc(fx.fa, 9), FRAME_NONE);
	EXPECT_EQ(frame_alloc(fx.fa, 8), 1 * MiB);
	EXPECT_EQ(frame_alloc(fx.fa, 0), FRAME_NONE);
	EXPECT_EQ(frame_free(fx.fa, 1 * MiB, 8), 0);
	EXPECT_EQ(drain(fx.fa, 0, &bl), 256);
	EXPECT_EQ(check_blocks(&map, &bl), 256);
	/* Lowest address first: the first order-0 block is the region's start. */
	EXPECT_EQ(bl.b[0].pa, 1 * MiB);
	EXPECT_EQ(free_all(fx.fa, &bl), 0);
	EXPECT(is_fresh(&fx));
	EXPECT_EQ(fx.fresh.free_blocks[8], 1);
	blocks_release(&bl);
	fixture_fini(&fx);
}

TEST(is_free_follows_blocks)
{
	static const struct frame_range usable[] = { { 2 * MiB, 6 * MiB } };
	struct frame_map map = { usable, 1, NULL, 0 };
	struct fixture fx;
	uint64_t pa;

	ASSERT(fixture_init(&fx, &map) == 0);
	pa = frame_alloc(fx.fa, FRAME_ORDER_2M);
	ASSERT(pa == 2 * MiB);
	for (uint64_t off = 0; off < 2 * MiB; off += FRAME_SIZE)
		EXPECT(!frame_is_free(fx.fa, pa + off));
	EXPECT(frame_is_free(fx.fa, pa + 2 * MiB));
	EXPECT(frame_is_free(fx.fa, 8 * MiB - 1));
	EXPECT(!frame_is_free(fx.fa, 8 * MiB));
	EXPECT(!frame_is_free(fx.fa, 2 * MiB - 1));
	EXPECT(!frame_is_free(fx.fa, FRAME_NONE));
	EXPECT_EQ(frame_free(fx.fa, pa, FRAME_ORDER_2M), 0);
	EXPECT(frame_is_free(fx.fa, pa));
	fixture_fini(&fx);
}

/* ---- 1 GiB blocks ----------------------------------------------------- */

static uint64_t gig_blocks(const struct frame_range *u, size_t nu,
			   const struct frame_range *r, size_t nr,
			   uint64_t *first)
{
	struct frame_map map = { u, nu, r, nr };
	struct blocks bl = { 0 };
	struct fixture fx;
	uint64_t n = ~0ULL;

	if (fixture_init(&fx, &map) == 0) {
		n = drain(fx.fa, FRAME_ORDER_1G, &bl);
		if (check_blocks(&map, &bl) == ~0ULL)
			n = ~0ULL;
		*first = bl.n ? bl.b[0].pa : FRAME_NONE;
		if (free_all(fx.fa, &bl) || !is_fresh(&fx))
			n = ~0ULL;
	}
	blocks_release(&bl);
	fixture_fini(&fx);
	return n;
}

TEST(gigabyte_block_when_aligned_region_exists)
{
	static const struct frame_range at_1g[] = { { 1 * GiB, 1 * GiB } };
	static const struct frame_range above_4g[] = { { 4 * GiB, 2 * GiB } };
	static const struct frame_range at_1t[] = {
		{ TiB - FRAME_SIZE, GiB + 2 * FRAME_SIZE },
	};
	uint64_t first;

	EXPECT_EQ(gig_blocks(at_1g, 1, NULL, 0, &first), 1);
	EXPECT_EQ(first, 1 * GiB);
	EXPECT_EQ(gig_blocks(above_4g, 1, NULL, 0, &first), 2);
	EXPECT_EQ(first, 4 * GiB);
	EXPECT_EQ(gig_blocks(at_1t, 1, NULL, 0, &first), 1);
	EXPECT_EQ(first, TiB);
}

TEST(gigabyte_block_not_otherwise)
{
	static const struct frame_range shifted[] = { { 1 * GiB + FRAME_SIZE, 1 * GiB } };
	static const struct frame_range straddling[] = { { 512 * MiB, 1 * GiB } };
	static const struct frame_range short_by_one[] = { { 1 * GiB, 1 * GiB - 1 } };
	static const struct frame_range whole[] = { { 1 * GiB, 1 * GiB } };
	static const struct frame_range one_byte[] = { { 1 * GiB + 123 * MiB, 1 } };
	uint64_t first;

	EXPECT_EQ(gig_blocks(shifted, 1, NULL, 0, &first), 0);
	EXPECT_EQ(gig_blocks(straddling, 1, NULL, 0, &first), 0);
	EXPECT_EQ(gig_blocks(short_by_one, 1, NULL, 0, &first), 0);
	EXPECT_EQ(gig_blocks(whole, 1, one_byte, 1, &first), 0);
}

/* ---- Hostile memory maps ---------------------------------------------- */

static const struct frame_range hostile_usable[] = {
	{ 4 * GiB, 1 * GiB + 16 * MiB },                /* above 4 GiB */
	{ TiB - 0x800, 1 * GiB + 0x1000 },              /* 1 TiB, unaligned */
	{ 1 * MiB, 255 * MiB },
	{ 100 * MiB + 123, 50 * MiB },                  /* overlaps the above */
	{ 0x1234, 0 },                                  /* zero length */
	{ 0, 640 * KiB },                               /* under the 1st MiB */
	{ 5 * GiB, 8 * MiB },                           /* inside the above */
	{ 0xfffffffffffff000ULL, 0x2000 },              /* wraps past 2^64 */
	{ 0xffffffff00000000ULL, 0x100000000ULL },      /* ends at 2^64 */
	{ 5 * GiB + 16 * MiB, 0x1801 },                 /* touches the above */
	{ 8 * GiB + 0x10, 0xff0 },                      /* rounds to nothing */
	{ 1 * MiB, 255 * MiB },                         /* duplicate */
	{ 7 * GiB + 0x800, 0x1000 },                    /* rounds to nothing */
	{ 7 * GiB + 0x1800, 0x1000 },                   /* ditto, adjacent */
};

static const struct frame_range hostile_reserved[] = {
	{ 5 * GiB + 4 * MiB, 1 * MiB },                 /* cuts 5G-5G+16M */
	{ 2 * MiB + 5, 10 },                            /* one frame */
	{ 0xfffffffffffff000ULL, 0x10000 },             /* wraps past 2^64 */
	{ 0, 1 * MiB },                                 /* first MiB */
	{ 200 * MiB, 100 * MiB },                       /* past usable's end */
	{ TiB + GiB, 0 },                               /* zero length */
	{ 5 * GiB + 16 * MiB - 0x10, 0x20 },            /* two frames */
	{ 40 * MiB + 1, FRAME_SIZE },                   /* two frames */
};

TEST(hostile_map_exhaustive_order0)
{
	struct frame_map map = MAP(hostile_usable, hostile_reserved);
	uint64_t want = ref_count(&map);
	struct blocks bl = { 0 };
	struct fixture fx;

	ASSERT(fixture_init(&fx, &map) == 0);
	EXPECT_EQ(fx.fresh.total_bytes, want * FRAME_SIZE);
	EXPECT_EQ(fx.fresh.free_blocks[FRAME_ORDER_1G], 2);
	EXPECT_EQ(drain(fx.fa, 0, &bl), want);
	EXPECT_EQ(check_blocks(&map, &bl), want);
	EXPECT(all_orders_exhausted(fx.fa));
	EXPECT(!frame_is_free(fx.fa, 2 * MiB));
	EXPECT_EQ(free_all(fx.fa, &bl), 0);
	EXPECT(is_fresh(&fx));
	blocks_release(&bl);
	fixture_fini(&fx);
}

TEST(hostile_map_exhaustive_high_orders)
{
	static const unsigned int orders[] = { 18, 12, 9, 5, 1, 0 };
	struct frame_map map = MAP(hostile_usable, hostile_reserved);
	uint64_t want = ref_count(&map);
	struct blocks bl = { 0 };
	struct fixture fx;

	ASSERT(fixture_init(&fx, &map) == 0);
	for (size_t i = 0; i < ARRAY_SIZE(orders); i++) {
		drain(fx.fa, orders[i], &bl);
		EXPECT_EQ(frame_alloc(fx.fa, orders[i]), FRAME_NONE);
		if (orders[i] == FRAME_ORDER_1G) {
			/* The 1 GiB blocks: 4G-5G and the one at 1 TiB. */
			ASSERT(bl.n == 2);
			EXPECT_EQ(MIN(bl.b[0].pa, bl.b[1].pa), 4 * GiB);
			EXPECT_EQ(MAX(bl.b[0].pa, bl.b[1].pa), TiB);
		}
	}
	EXPECT_EQ(check_blocks(&map, &bl), want);
	EXPECT(all_orders_exhausted(fx.fa));
	EXPECT_EQ(free_all(fx.fa, &bl), 0);
	EXPECT(is_fresh(&fx));
	blocks_release(&bl);
	fixture_fini(&fx);
}

TEST(reserved_always_wins)
{
	static const struct frame_range usable[] = { { 0, 64 * MiB } };
	static const struct frame_range reserved[] = {
		{ 32 * MiB, 1 }, { 0, 1 * MiB }, { 48 * MiB - 1, 1 },
	};
	struct frame_map map = MAP(usable, reserved);
	struct blocks bl = { 0 };
	struct fixture fx;

	ASSERT(fixture_init(&fx, &map) == 0);
	EXPECT_EQ(fx.fresh.total_bytes, 63 * MiB - 2 * FRAME_SIZE);
	EXPECT(!frame_is_free(fx.fa, 0));
	EXPECT(!frame_is_free(fx.fa, 1 * MiB - 1));
	EXPECT(frame_is_free(fx.fa, 1 * MiB));
	EXPECT(!frame_is_free(fx.fa, 32 * MiB));
	EXPECT(!frame_is_free(fx.fa, 48 * MiB - FRAME_SIZE));
	EXPECT_EQ(frame_free(fx.fa, 32 * MiB, 0), FRAME_ENOENT);
	EXPECT_EQ(frame_free(fx.fa, 0, 0), FRAME_ENOENT);
	EXPECT_EQ(drain(fx.fa, 0, &bl), ref_count(&map));
	EXPECT(check_blocks(&map, &bl) != ~0ULL);
	EXPECT(bl.b[0].pa == 1 * MiB);
	EXPECT_EQ(free_all(fx.fa, &bl), 0);
	EXPECT(is_fresh(&fx));
	blocks_release(&bl);
	fixture_fini(&fx);
}

static uint64_t total_bytes_of(const struct frame_map *map)
{
	struct fixture fx;
	uint64_t total = ~0ULL;

	if (fixture_init(&fx, map) == 0)
		total = fx.fresh.total_bytes;
	fixture_fini(&fx);
	return total;
}

TEST(wrapping_entries)
{
	static const struct frame_range low[] = { { 0, 16 * MiB } };
	static const struct frame_range top_wrap[] = {
		{ 0xfffffffffffff000ULL, 0x2000 },      /* would end at 0x1000 */
		{ 0xfffffffffffff000ULL, 0x1000 },      /* ends at 2^64 */
	};
	static const struct frame_range from_8m[] = { { 8 * MiB, ~0ULL } };
	static const struct frame_range at_limit[] = { { FRAME_PA_LIMIT - GiB, ~0ULL } };
	static const struct frame_range from_1t[] = { { TiB, ~0ULL } };
	struct frame_map a = { low, 1, top_wrap, 2 };
	struct frame_map b = { low, 1, from_8m, 1 };
	struct frame_map c = { at_limit, 1, NULL, 0 };
	struct frame_map d = { from_1t, 1, NULL, 0 };
	struct frame_map e = { top_wrap, 2, NULL, 0 };
	uint64_t bytes;
	uint64_t first;

	EXPECT_EQ(total_bytes_of(&a), 16 * MiB);
	EXPECT_EQ(total_bytes_of(&b), 8 * MiB);
	EXPECT_EQ(total_bytes_of(&c), 1 * GiB);
	EXPECT_EQ(gig_blocks(at_limit, 1, NULL, 0, &first), 1);
	EXPECT_EQ(first, FRAME_PA_LIMIT - GiB);
	EXPECT_EQ(total_bytes_of(&e), 0);
	/* 1 TiB to 2^52 is 4095 TiB: more regions than the allocator takes. */
	EXPECT_EQ(frame_meta_size(&d, &bytes), FRAME_E2BIG);
}

TEST(unsorted_overlapping_unaligned_exact)
{
	static const struct frame_range usable[] = {
		{ 8 * MiB, 8 * MiB },
		{ 4 * MiB + 1, 6 * MiB },       /* [4M+4K, 10M) */
		{ 4 * MiB + 1, 6 * MiB },
		{ 20 * MiB, 0 },
		{ 16 * MiB, 0x1fff },           /* one frame, touches [8M,16M) */
		{ 3 * MiB + 0x800, 0x1000 },    /* no whole frame */
		{ 3 * MiB + 0x1800, 0x1000 },   /* no whole frame */
		{ 30 * MiB, 2 * MiB },
		{ 31 * MiB, 2 * MiB },
	};
	static const struct frame_range reserved[] = {
		{ 31 * MiB + 0x10, 0x10 },      /* one frame */
	};
	struct frame_map map = MAP(usable, reserved);
	struct blocks bl = { 0 };
	struct fixture fx;

	ASSERT(fixture_init(&fx, &map) == 0);
	EXPECT_EQ(fx.fresh.total_bytes,
		  12 * MiB - FRAME_SIZE + FRAME_SIZE + 3 * MiB - FRAME_SIZE);
	EXPECT_EQ(fx.fresh.total_bytes, ref_count(&map) * FRAME_SIZE);
	EXPECT_EQ(fx.fresh.nr_regions, 3);
	EXPECT_EQ(drain(fx.fa, 0, &bl), ref_count(&map));
	EXPECT(check_blocks(&map, &bl) != ~0ULL);
	EXPECT_EQ(free_all(fx.fa, &bl), 0);
	EXPECT(is_fresh(&fx));
	blocks_release(&bl);
	fixture_fini(&fx);
}

TEST(region_cap)
{
	static struct frame_range usable[FRAME_MAX_REGIONS + 1];
	static const struct frame_range split[] = { { 2 * MiB + 512 * KiB, 1 } };
	struct frame_map map = { usable, FRAME_MAX_REGIONS, NULL, 0 };
	struct fixture fx;
	uint64_t bytes;

	for (size_t i = 0; i < ARRAY_SIZE(usable); i++)
		usable[i] = (struct frame_range){ (i + 1) * 2 * MiB + 0x10, 1 * MiB };
	EXPECT_EQ(fixture_init(&fx, &map), 0);
	EXPECT_EQ(fx.fresh.nr_regions, FRAME_MAX_REGIONS);
	fixture_fini(&fx);
	map.nr_usable++;
	EXPECT_EQ(frame_meta_size(&map, &bytes), FRAME_E2BIG);
	EXPECT_EQ(fixture_init(&fx, &map), FRAME_E2BIG);
	fixture_fini(&fx);
	/* A reservation that cuts one region in two tips it over as well. */
	map = (struct frame_map){ usable, FRAME_MAX_REGIONS, split, 1 };
	EXPECT_EQ(frame_meta_size(&map, &bytes), FRAME_E2BIG);
}

TEST(sparse_map_metadata_is_compact)
{
	static const struct frame_range usable[] = {
		{ 64 * GiB, 16 * MiB }, { 0, 256 * MiB },
	};
	struct frame_map map = { usable, 2, NULL, 0 };
	uint64_t frames = (256 * MiB + 16 * MiB) / FRAME_SIZE;
	struct blocks bl = { 0 };
	struct fixture fx;

	ASSERT(fixture_init(&fx, &map) == 0);
	/* 5 bytes a frame plus rounding and slack, nothing for the 63 GiB hole. */
	EXPECT(fx.meta_bytes <= 5 * frames + 2 * 16 + 64);
	EXPECT(fx.meta_bytes >= 5 * frames);
	EXPECT_EQ(fx.fresh.total_bytes, frames * FRAME_SIZE);
	EXPECT_EQ(drain(fx.fa, 0, &bl), frames);
	EXPECT_EQ(check_blocks(&map, &bl), frames);
	EXPECT_EQ(free_all(fx.fa, &bl), 0);
	EXPECT(is_fresh(&fx));
	blocks_release(&bl);
	fixture_fini(&fx);
}

TEST(regions_cut_at_8_tib)
{
	static const struct frame_range usable[] = { { 8 * TiB - GiB, 2 * GiB } };
	struct frame_map map = { usable, 1, NULL, 0 };
	struct blocks bl = { 0 };
	struct fixture fx;

	ASSERT(fixture_init(&fx, &map) == 0);
	EXPECT_EQ(fx.fresh.nr_regions, 2);
	EXPECT_EQ(drain(fx.fa, FRAME_ORDER_1G, &bl), 2);
	EXPECT_EQ(check_blocks(&map, &bl), 2 * GiB / FRAME_SIZE);
	EXPECT_EQ(free_all(fx.fa, &bl), 0);
	EXPECT(is_fresh(&fx));
	blocks_release(&bl);
	fixture_fini(&fx);
}

/* ---- Planning: size, place, reserve, init ----------------------------- */

/*
 * The kernel's boot sequence on map: returns the frame_init() result with
 * exactly frame_meta_size() bytes once the placed metadata is reserved,
 * and checks that placement against the reference model.
 */
static int plan_and_init(const struct frame_map *map, uint64_t limit,
			 struct fixture *fx, struct frame_range *res_buf,
			 struct frame_map *out_map)
{
	uint64_t bytes, pa;
	int err = frame_meta_size(map, &bytes);

	memset(fx, 0, sizeof(*fx));
	if (err)
		return err;
	err = frame_meta_place(map, bytes, limit, &pa);
	if (err)
		return err;
	if (!IS_ALIGNED(pa, FRAME_SIZE) || pa + bytes > limit)
		return -1000;
	for (uint64_t off = 0; off < bytes; off += FRAME_SIZE) {
		if (!ref_usable(map, pa + off))
			return -1001;
	}
	if (map->nr_reserved)
		memcpy(res_buf, map->reserved, map->nr_reserved * sizeof(*res_buf));
	res_buf[map->nr_reserved] = (struct frame_range){ pa, bytes };
	*out_map = (struct frame_map){ map->usable, map->nr_usable,
				       res_buf, map->nr_reserved + 1 };
	fx->fa = calloc(1, sizeof(*fx->fa));
	fx->meta = malloc(bytes);
	fx->meta_bytes = bytes;
	err = frame_init(fx->fa, out_map, fx->meta, bytes);
	if (!err)
		frame_get_stats(fx->fa, &fx->fresh);
	return err;
}

TEST(meta_plan_place_init)
{
	struct frame_map map = MAP(hostile_usable, hostile_reserved);
	struct frame_range res[ARRAY_SIZE(hostile_reserved) + 1];
	struct frame_map with_meta;
	struct blocks bl = { 0 };
	struct fixture fx;
	uint64_t pa, want;

	ASSERT(plan_and_init(&map, 4 * GiB, &fx, res, &with_meta) == 0);
	want = ref_count(&with_meta);
	/* The highest fit under 4 GiB is the top of 40M+8K..200M. */
	EXPECT_EQ(res[ARRAY_SIZE(res) - 1].base,
		  ALIGN_DOWN(200 * MiB - res[ARRAY_SIZE(res) - 1].len, FRAME_SIZE));
	EXPECT_EQ(fx.fresh.total_bytes, want * FRAME_SIZE);
	EXPECT_EQ(drain(fx.fa, 0, &bl), want);
	EXPECT_EQ(check_blocks(&with_meta, &bl), want);
	EXPECT_EQ(free_all(fx.fa, &bl), 0);
	EXPECT(is_fresh(&fx));
	fixture_fini(&fx);
	blocks_release(&bl);

	EXPECT_EQ(frame_meta_place(&map, 4 * KiB, 1 * MiB, &pa), FRAME_ENOMEM);
	EXPECT_EQ(frame_meta_place(&map, 2 * TiB, ~0ULL, &pa), FRAME_ENOMEM);
	EXPECT_EQ(frame_meta_place(&map, ~0ULL, ~0ULL, &pa), FRAME_ENOMEM);
	EXPECT_EQ(frame_meta_place(&map, 64 * KiB, ~0ULL, &pa), 0);
	EXPECT_EQ(pa, TiB + GiB - 64 * KiB);
}

/*
 * Placing the metadata below a limit inside a region cuts that region in
 * two, which can cost a frame pair and padding more than the frames it
 * takes save. frame_meta_size() must have left room for that.
 */
TEST(meta_reservation_never_outgrows_plan)
{
	int failures = 0;

	for (uint64_t n = 600; n < 1200; n += 3) {
		struct frame_range u = { 1 * MiB + FRAME_SIZE, n * FRAME_SIZE };
		struct frame_map map = { &u, 1, NULL, 0 };

		for (uint64_t cut = 8; cut < n; cut += n / 7) {
			uint64_t limit = u.base + cut * FRAME_SIZE + FRAME_SIZE / 2;
			struct frame_range res[1];
			struct frame_map with_meta;
			struct fixture fx;

			failures += plan_and_init(&map, limit, &fx, res, &with_meta) != 0;
			fixture_fini(&fx);
		}
	}
	EXPECT_EQ(failures, 0);
}

TEST(init_errors)
{
	static const struct frame_range usable[] = { { 1 * MiB, 15 * MiB } };
	struct frame_map map = { usable, 1, NULL, 0 };
	struct frame_map no_array = { NULL, 1, NULL, 0 };
	struct frame_map empty = { NULL, 0, NULL, 0 };
	struct frame_allocator *fa = calloc(1, sizeof(*fa));
	uint64_t bytes;
	uint64_t *meta;
	struct frame_stats st;

	ASSERT(frame_meta_size(&map, &bytes) == 0);
	meta = malloc(bytes + 8);
	EXPECT_EQ(frame_init(fa, &map, meta, bytes / 2), FRAME_ENOMEM);
	EXPECT_EQ(frame_init(fa, &map, NULL, bytes), FRAME_ENOMEM);
	EXPECT_EQ(frame_init(fa, &map, (char *)meta + 4, bytes), FRAME_EINVAL);
	EXPECT_EQ(frame_init(fa, NULL, meta, bytes), FRAME_EINVAL);
	EXPECT_EQ(frame_init(fa, &no_array, meta, bytes), FRAME_EINVAL);
	EXPECT_EQ(frame_meta_size(NULL, &bytes), FRAME_EINVAL);
	EXPECT_EQ(frame_init(fa, &map, meta, bytes), 0);

	EXPECT_EQ(frame_meta_size(&empty, &bytes), 0);
	EXPECT_EQ(frame_init(fa, &empty, NULL, 0), 0);
	EXPECT_EQ(frame_alloc(fa, 0), FRAME_NONE);
	EXPECT_EQ(frame_free(fa, 1 * MiB, 0), FRAME_ENOENT);
	frame_get_stats(fa, &st);
	EXPECT_EQ(st.total_bytes, 0);
	free(meta);
	free(fa);
}

/* ---- Bad frees --------------------------------------------------------- */

static bool stats_same(struct frame_allocator *fa, const struct frame_stats *want)
{
	struct frame_stats st;

	frame_get_stats(fa, &st);
	return memcmp(st.free_blocks, want->free_blocks, sizeof(st.free_blocks)) == 0 &&
	       memcmp(st.used_blocks, want->used_blocks, sizeof(st.used_blocks)) == 0 &&
	       st.free_bytes == want->free_bytes && st.used_bytes == want->used_bytes;
}

TEST(double_free_and_bad_free_rejected)
{
	static const struct frame_range usable[] = { { 1 * MiB, 15 * MiB } };
	struct frame_map map = { usable, 1, NULL, 0 };
	struct frame_stats before;
	struct fixture fx;
	uint64_t a, b, c;

	ASSERT(fixture_init(&fx, &map) == 0);
	a = frame_alloc(fx.fa, 0);
	b = frame_alloc(fx.fa, 0);
	c = frame_alloc(fx.fa, 3);
	ASSERT(a != FRAME_NONE && b == (a ^ FRAME_SIZE) && c != FRAME_NONE);
	frame_get_stats(fx.fa, &before);

	EXPECT_EQ(frame_free(fx.fa, c, 2), FRAME_EINVAL);         /* wrong order */
	EXPECT_EQ(frame_free(fx.fa, c, 4), FRAME_EINVAL);
	EXPECT_EQ(frame_free(fx.fa, c + FRAME_SIZE, 0), FRAME_EINVAL); /* interior */
	EXPECT_EQ(frame_free(fx.fa, c + 1, 0), FRAME_EINVAL);     /* unaligned */
	EXPECT_EQ(frame_free(fx.fa, a, FRAME_MAX_ORDER + 1), FRAME_EINVAL);
	EXPECT_EQ(frame_free(fx.fa, FRAME_NONE, 0), FRAME_EINVAL);
	EXPECT_EQ(frame_free(fx.fa, 64 * GiB, 0), FRAME_ENOENT);
	EXPECT_EQ(frame_free(fx.fa, 0, 0), FRAME_ENOENT);
	EXPECT_EQ(frame_free(fx.fa, 8 * MiB, 0), FRAME_EALREADY);  /* never used */
	EXPECT(stats_same(fx.fa, &before));

	EXPECT_EQ(frame_free(fx.fa, a, 0), 0);
	EXPECT_EQ(frame_free(fx.fa, a, 0), FRAME_EALREADY);
	EXPECT_EQ(frame_free(fx.fa, b, 0), 0);                    /* merges with a */
	EXPECT_EQ(frame_free(fx.fa, a, 0), FRAME_EALREADY);
	EXPECT_EQ(frame_free(fx.fa, b, 0), FRAME_EALREADY);
	EXPECT_EQ(frame_free(fx.fa, MIN(a, b), 1), FRAME_EALREADY);
	EXPECT_EQ(frame_free(fx.fa, c, 3), 0);
	EXPECT_EQ(frame_free(fx.fa, c, 3), FRAME_EALREADY);
	EXPECT(is_fresh(&fx));

	/* The allocator still works after all that. */
	a = frame_alloc(fx.fa, 0);
	EXPECT(a != FRAME_NONE);
	EXPECT_EQ(frame_free(fx.fa, a, 0), 0);
	EXPECT(is_fresh(&fx));
	fixture_fini(&fx);
}

/* ---- Randomised stress with a shadow of every frame ------------------ */

enum { SH_HOLE, SH_FREE, SH_USED };

/* One byte per frame over a few windows of physical space. */
struct shadow {
	size_t n;
	uint64_t base[4];
	uint64_t frames[4];
	uint8_t *st[4];
};

static void shadow_build(struct shadow *sh, const struct frame_map *m,
			 const uint64_t (*win)[2], size_t n)
{
	sh->n = n;
	for (size_t w = 0; w < n; w++) {
		sh->base[w] = win[w][0];
		sh->frames[w] = win[w][1] / FRAME_SIZE;
		sh->st[w] = malloc(sh->frames[w]);
		for (uint64_t f = 0; f < sh->frames[w]; f++)
			sh->st[w][f] = ref_usable(m, sh->base[w] + f * FRAME_SIZE) ?
				       SH_FREE : SH_HOLE;
	}
}

static void shadow_release(struct shadow *sh)
{
	for (size_t w = 0; w < sh->n; w++)
		free(sh->st[w]);
}

static uint8_t *shadow_at(struct shadow *sh, uint64_t pa)
{
	for (size_t w = 0; w < sh->n; w++) {
		if (pa >= sh->base[w] && (pa - sh->base[w]) / FRAME_SIZE < sh->frames[w])
			return &sh->st[w][(pa - sh->base[w]) / FRAME_SIZE];
	}
	return NULL;
}

/* Moves every frame of a block from one state to another, atomically per
 * frame so threads can share it; false if any frame was not in state from. */
static bool shadow_move(struct shadow *sh, uint64_t pa, unsigned int order,
			uint8_t from, uint8_t to)
{
	bool ok = true;

	for (uint64_t off = 0; off < ORDER_BYTES(order); off += FRAME_SIZE) {
		uint8_t *p = shadow_at(sh, pa + off);

		if (!p)
			return false;
		ok &= __atomic_exchange_n(p, to, __ATOMIC_RELAXED) == from;
	}
	return ok;
}

static const struct frame_range stress_usable[] = {
	{ 0, 640 * KiB },
	{ 1 * MiB, 127 * MiB + 0x123 },
	{ 130 * MiB + 0x800, 70 * MiB },
	{ 4 * GiB, 64 * MiB },
	{ 64 * GiB + 2 * MiB, 30 * MiB },
};
static const struct frame_range stress_reserved[] = {
	{ 0, 1 * MiB },
	{ 16 * MiB, 3 * FRAME_SIZE + 7 },
	{ 40 * MiB - 1, 2 },
	{ 4 * GiB + 8 * MiB, 1 * MiB },
};
static const uint64_t stress_windows[][2] = {
	{ 0, 256 * MiB }, { 4 * GiB, 64 * MiB }, { 64 * GiB, 64 * MiB },
};

/* Counters against the live set; a sample of frames against the shadow. */
static bool stress_consistent(struct fixture *fx, struct shadow *sh,
			      const struct blocks *live, uint64_t *rng)
{
	uint64_t per_order[FRAME_NR_ORDERS] = { 0 }, bytes = 0;
	struct frame_stats st;
	bool ok = true;

	for (size_t i = 0; i < live->n; i++) {
		per_order[live->b[i].order]++;
		bytes += ORDER_BYTES(live->b[i].order);
	}
	frame_get_stats(fx->fa, &st);
	ok &= memcmp(per_order, st.used_blocks, sizeof(per_order)) == 0;
	ok &= st.used_bytes == bytes;
	ok &= st.free_bytes + st.used_bytes == fx->fresh.total_bytes;
	for (int s = 0; s < 64; s++) {
		size_t w = rng_below(rng, sh->n);
		uint64_t f = rng_below(rng, sh->frames[w]);
		uint64_t pa = sh->base[w] + f * FRAME_SIZE;

		ok &= frame_is_free(fx->fa, pa) == (sh->st[w][f] == SH_FREE);
	}
	return ok;
}

/* One random step: returns false when the allocator misbehaved. */
static bool stress_step(struct fixture *fx, struct shadow *sh,
			struct blocks *live, uint64_t *rng, unsigned int fill)
{
	if (live->n && rng_below(rng, 100) >= fill) {
		size_t i = rng_below(rng, live->n);
		struct block b = live->b[i];

		live->b[i] = live->b[--live->n];
		return frame_free(fx->fa, b.pa, b.order) == 0 &&
		       shadow_move(sh, b.pa, b.order, SH_USED, SH_FREE);
	}
	unsigned int order = rng_below(rng, 512) ? rng_order(rng, 10) : FRAME_ORDER_1G;
	uint64_t pa = frame_alloc(fx->fa, order);
	struct frame_stats st;
	bool none_left = true;

	if (pa != FRAME_NONE) {
		blocks_push(live, pa, order);
		return IS_ALIGNED(pa, ORDER_BYTES(order)) &&
		       shadow_move(sh, pa, order, SH_FREE, SH_USED);
	}
	/* Failure is only allowed when no block of that order or above is free. */
	frame_get_stats(fx->fa, &st);
	for (unsigned int k = order; k <= FRAME_MAX_ORDER; k++)
		none_left &= st.free_blocks[k] == 0;
	return none_left;
}

static void stress_run(uint64_t seed, int ops)
{
	struct frame_map map = MAP(stress_usable, stress_reserved);
	uint64_t rng = seed;
	struct blocks live = { 0 };
	struct shadow sh;
	struct fixture fx;
	int bad_steps = 0, bad_checks = 0, drained = 0;

	ASSERT(fixture_init(&fx, &map) == 0);
	shadow_build(&sh, &map, stress_windows, ARRAY_SIZE(stress_windows));
	for (int op = 0; op < ops; op++) {
		/* Alternate filling and emptying phases to hit both extremes. */
		unsigned int fill = (op / 20000) % 2 ? 10 : 85;

		bad_steps += !stress_step(&fx, &sh, &live, &rng, fill);
		if (op % 1024 == 0)
			bad_checks += !stress_consistent(&fx, &sh, &live, &rng);
		if (live.n == 0 && op > 0) {
			drained++;
			bad_checks += !is_fresh(&fx);
		}
	}
	EXPECT_EQ(bad_steps, 0);
	EXPECT_EQ(bad_checks, 0);
	EXPECT(drained > 0);
	EXPECT_EQ(free_all(fx.fa, &live), 0);
	EXPECT(is_fresh(&fx));
	shadow_release(&sh);
	blocks_release(&live);
	fixture_fini(&fx);
}

TEST(random_stress_invariants)
{
	static const uint64_t seeds[] = { 1, 0x5eed, 0xdeadbeefcafef00dULL };

	for (size_t i = 0; i < ARRAY_SIZE(seeds); i++)
		stress_run(seeds[i], 120000);
}

/* ---- Random maps against the reference model -------------------------- */

static uint64_t random_addr(uint64_t *rng)
{
	switch (rng_below(rng, 16)) {
	case 0:
		return ~0ULL - rng_below(rng, 64 * KiB);
	case 1:
		return 4 * GiB + rng_below(rng, 8 * MiB);
	default:
		return rng_below(rng, 48 * MiB);
	}
}

static uint64_t random_len(uint64_t *rng)
{
	switch (rng_below(rng, 16)) {
	case 0:
		return 0;
	case 1:
		return ~0ULL - rng_below(rng, 64 * KiB);
	case 2:
		return rng_below(rng, 2 * FRAME_SIZE);
	default:
		return rng_below(rng, 12 * MiB);
	}
}

static void random_map(uint64_t *rng, struct frame_range *u, size_t nu,
		       struct frame_range *r, size_t nr)
{
	for (size_t i = 0; i < nu; i++) {
		u[i].base = random_addr(rng);
		u[i].len = rng_below(rng, 8) ? rng_below(rng, 12 * MiB) : random_len(rng);
		/* Usable RAM running up to 2^52 is more than a test can walk. */
		if (u[i].base < FRAME_PA_LIMIT &&
		    (u[i].base + u[i].len < u[i].base || u[i].base + u[i].len > 8 * GiB))
			u[i].len = 1 * MiB;
	}
	for (size_t i = 0; i < nr; i++) {
		r[i].base = random_addr(rng);
		r[i].len = random_len(rng);
	}
}

TEST(random_maps_match_reference)
{
	uint64_t rng = 42;
	int mismatches = 0;

	for (int round = 0; round < 60; round++) {
		struct frame_range u[10], r[6], res[7];
		struct frame_map map = MAP(u, r), with_meta;
		unsigned int order = rng_order(&rng, FRAME_MAX_ORDER);
		struct blocks bl = { 0 };
		struct fixture fx;
		uint64_t want;

		random_map(&rng, u, ARRAY_SIZE(u), r, ARRAY_SIZE(r));
		if (plan_and_init(&map, ~0ULL, &fx, res, &with_meta) != 0) {
			/* Only a map without a single usable frame may fail. */
			mismatches += ref_count(&map) != 0;
			fixture_fini(&fx);
			continue;
		}
		want = ref_count(&with_meta);
		drain(fx.fa, order, &bl);
		drain(fx.fa, 0, &bl);
		mismatches += fx.fresh.total_bytes != want * FRAME_SIZE;
		mismatches += check_blocks(&with_meta, &bl) != want;
		mismatches += free_all(fx.fa, &bl) != 0;
		mismatches += !is_fresh(&fx);
		blocks_release(&bl);
		fixture_fini(&fx);
	}
	EXPECT_EQ(mismatches, 0);
}

/* ---- Threads ---------------------------------------------------------- */

/*
 * Four threads share the allocator and the shadow. A ticket lock stalls
 * whenever the thread holding the next ticket is off its CPU, which is
 * common when the host has fewer CPUs than threads, so each thread stops
 * at THREAD_OPS operations or after THREAD_BUDGET_NS, whichever is first.
 */
#define THREADS          4
#define THREAD_OPS       50000
#define THREAD_MIN_OPS 500
#define THREAD_BUDGET_NS 500000000LL

struct thread_arg {
	struct fixture *fx;
	struct shadow *sh;
	uint64_t seed;
	long long deadline_ns;
	int ops;
	int errors;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One alloc or free; the shadow is released before the frame goes back so
 * no other thread can be handed it while it still reads "used". */
static int thread_step(struct thread_arg *a, struct blocks *live, uint64_t *rng)
{
	if (live->n && (live->n >= 64 || rng_below(rng, 2))) {
		size_t i = rng_below(rng, live->n);
		struct block b = live->b[i];

		live->b[i] = live->b[--live->n];
		return !shadow_move(a->sh, b.pa, b.order, SH_USED, SH_FREE) +
		       (frame_free(a->fx->fa, b.pa, b.order) != 0);
	}
	unsigned int order = rng_order(rng, 6);
	uint64_t pa = frame_alloc(a->fx->fa, order);

	if (pa == FRAME_NONE)
		return 0;
	blocks_push(live, pa, order);
	return !IS_ALIGNED(pa, ORDER_BYTES(order)) +
	       !shadow_move(a->sh, pa, order, SH_FREE, SH_USED);
}

static void *thread_hammer(void *p)
{
	struct thread_arg *a = p;
	struct blocks live = { 0 };
	uint64_t rng = a->seed;

	/* Every thread does THREAD_MIN_OPS whatever the machine's load (a
	 * ticket lock stalls while the next holder is preempted, so a time
	 * bound alone makes the count depend on the load); the deadline only
	 * cuts the run short after that. */
	for (a->ops = 0; a->ops < THREAD_OPS; a->ops++) {
		a->errors += thread_step(a, &live, &rng);
		if (a->ops >= THREAD_MIN_OPS && now_ns() > a->deadline_ns)
			break;
	}
	for (size_t i = 0; i < live.n; i++)
		a->errors += !shadow_move(a->sh, live.b[i].pa, live.b[i].order,
					  SH_USED, SH_FREE);
	a->errors += (int)free_all(a->fx->fa, &live);
	blocks_release(&live);
	return NULL;
}

TEST(threads_smoke)
{
	static const struct frame_range usable[] = {
		{ 1 * MiB, 63 * MiB }, { 4 * GiB, 32 * MiB },
	};
	static const uint64_t windows[][2] = { { 0, 64 * MiB }, { 4 * GiB, 32 * MiB } };
	struct frame_map map = { usable, 2, NULL, 0 };
	struct thread_arg args[THREADS];
	pthread_t tid[THREADS];
	long long deadline;
	struct shadow sh;
	struct fixture fx;
	int ops = 0;

	ASSERT(fixture_init(&fx, &map) == 0);
	shadow_build(&sh, &map, windows, ARRAY_SIZE(windows));
	deadline = now_ns() + THREAD_BUDGET_NS;
	for (int t = 0; t < THREADS; t++) {
		args[t] = (struct thread_arg){ &fx, &sh, 1000 + t, deadline, 0, 0 };
		ASSERT(pthread_create(&tid[t], NULL, thread_hammer, &args[t]) == 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(tid[t], NULL);
		EXPECT_EQ(args[t].errors, 0);
		ops += args[t].ops;
	}
	EXPECT(ops >= THREADS * THREAD_MIN_OPS);
	EXPECT(is_fresh(&fx));
	EXPECT(!spin_is_locked(&fx.fa->lock));
	shadow_release(&sh);
	fixture_fini(&fx);
}

TEST_MAIN()
