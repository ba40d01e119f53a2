/*
 * Host unit tests for the reverse maps (ept/rmap.c).
 *
 * The model is the obvious one: per head, a boolean per candidate entry.
 * Random operation sequences (fixed seeds) run against both, with a
 * descriptor pool small enough that additions run out now and then; after
 * every operation the touched head is compared with the model and its
 * chain is checked against the invariants rmap.c promises.
 */
#include "ept/rmap.h"
#include "tests/unit/test.h"

#define NHEADS  64
#define NSLOTS  512

static uint64_t slots[NSLOTS];          /* the "shadow entries" */

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

/* ---- structure checks --------------------------------------------------- */

static struct rmap_desc *desc_of(const struct rmap_head *h)
{
	return (h->val & 1) ? (struct rmap_desc *)(h->val & ~(uintptr_t)1) : NULL;
}

/* Checks the chain invariants; returns the number of descriptors, or -1. */
static int chain_check(const struct rmap_head *h)
{
	struct rmap_desc *d = desc_of(h), *first = d;
	size_t total = 0;
	int n = 0;

	if (!d)
		return 0;
	for (; d; d = d->more, n++) {
		if (d->count < 1 || d->count > RMAP_DESC_ENTRIES)
			return -1;
		if (n > 0 && d->count != RMAP_DESC_ENTRIES)
			return -1;      /* only the first may be partly filled */
		for (uint32_t i = d->count; i < RMAP_DESC_ENTRIES; i++)
			if (d->sptes[i])
				return -1;
		total += d->count;
	}
	if (first->depth != (uint32_t)(n - 1))
		return -1;      /* rmap_count() reads it */
	return total >= 2 ? n : -1;
}

struct model {
	bool in[NHEADS][NSLOTS];
	uint32_t count[NHEADS];
};

static struct model model;
static struct rmap_head heads[NHEADS];
static struct rmap_desc descs[4096];
static struct rmap_desc_pool pool;

static void setup(uint32_t ndescs, uint64_t seed)
{
	memset(&model, 0, sizeof(model));
	memset(heads, 0, sizeof(heads));
	rmap_desc_pool_init(&pool, descs, ndescs);
	rng_state = seed;
}

/* Compares head h with the model through rmap_count, rmap_contains and a
 * full iteration (every entry exactly once). */
static bool head_matches(int h)
{
	static uint32_t seen[NSLOTS], stamp;
	struct rmap_iter it;
	uint32_t n = 0;

	stamp++;
	if (chain_check(&heads[h]) < 0 || rmap_count(&heads[h]) != model.count[h])
		return false;
	for (uint64_t *p = rmap_iter_first(&it, &heads[h]); p; p = rmap_iter_next(&it)) {
		long k = p - slots;

		if (k < 0 || k >= NSLOTS || !model.in[h][k] || seen[k] == stamp)
			return false;
		seen[k] = stamp;
		n++;
	}
	return n == model.count[h] && rmap_is_empty(&heads[h]) == (n == 0);
}

static bool descs_accounted(void)
{
	uint32_t used = 0;

	for (int h = 0; h < NHEADS; h++) {
		int n = chain_check(&heads[h]);

		if (n < 0)
			return false;
		used += (uint32_t)n;
	}
	return used == pool.nr_total - pool.nr_free;
}

/* ---- basic cases -------------------------------------------------------- */

TEST(rmap_single_entry_is_the_pointer)
{
	setup(4, 1);
	EXPECT(rmap_is_empty(&heads[0]));
	EXPECT_EQ(rmap_add(&heads[0], &slots[3], &pool), 0);
	EXPECT_EQ(heads[0].val, (uintptr_t)&slots[3]);
	EXPECT_EQ(pool.nr_free, 4);
	EXPECT_EQ(rmap_count(&heads[0]), 1);
	EXPECT(rmap_contains(&heads[0], &slots[3]));
	EXPECT(!rmap_contains(&heads[0], &slots[4]));
	EXPECT_EQ(rmap_remove(&heads[0], &slots[4], &pool), RMAP_ENOENT);
	EXPECT_EQ(rmap_remove(&heads[0], &slots[3], &pool), 0);
	EXPECT(rmap_is_empty(&heads[0]));
	EXPECT_EQ(rmap_remove(&heads[0], &slots[3], &pool), RMAP_ENOENT);
}

TEST(rmap_grows_into_descriptors_and_back)
{
	setup(8, 2);
	for (int i = 0; i < 20; i++) {
		ASSERT(rmap_add(&heads[0], &slots[i], &pool) == 0);
		model.in[0][i] = true;
		model.count[0]++;
		EXPECT(head_matches(0));
	}
	EXPECT_EQ(pool.nr_free, 8 - 4);         /* 20 = 2 + 3 * 6 */
	for (int i = 0; i < 20; i++) {
		ASSERT(rmap_remove(&heads[0], &slots[i], &pool) == 0);
		model.in[0][i] = false;
		model.count[0]--;
		EXPECT(head_matches(0));
		if (model.count[0] == 1)
			EXPECT_EQ(heads[0].val, (uintptr_t)&slots[19]);
	}
	EXPECT(rmap_is_empty(&heads[0]));
	EXPECT_EQ(pool.nr_free, 8);
}

TEST(rmap_rejects_bad_pointers)
{
	setup(4, 3);
	EXPECT_EQ(rmap_add(&heads[0], NULL, &pool), RMAP_EINVAL);
	EXPECT_EQ(rmap_add(&heads[0], (uint64_t *)((char *)&slots[1] + 4), &pool),
		  RMAP_EINVAL);
	EXPECT(rmap_is_empty(&heads[0]));
	EXPECT_EQ(rmap_remove(&heads[0], NULL, &pool), RMAP_ENOENT);
}

TEST(rmap_pool_exhaustion_changes_nothing)
{
	/* No descriptor at all: the second entry cannot be added. */
	setup(0, 4);
	EXPECT_EQ(rmap_add(&heads[0], &slots[0], &pool), 0);
	EXPECT_EQ(rmap_add(&heads[0], &slots[1], &pool), RMAP_ENOMEM);
	EXPECT_EQ(heads[0].val, (uintptr_t)&slots[0]);

	/* Three descriptors hold 18 entries; the 19th fails, twice. */
	setup(3, 5);
	for (int i = 0; i < 18; i++) {
		ASSERT(rmap_add(&heads[0], &slots[i], &pool) == 0);
		model.in[0][i] = true;
		model.count[0]++;
	}
	EXPECT_EQ(pool.nr_free, 0);
	EXPECT_EQ(rmap_add(&heads[0], &slots[100], &pool), RMAP_ENOMEM);
	EXPECT_EQ(rmap_add(&heads[1], &slots[101], &pool), 0);  /* single form */
	EXPECT_EQ(rmap_add(&heads[1], &slots[102], &pool), RMAP_ENOMEM);
	EXPECT(head_matches(0));
	EXPECT_EQ(rmap_count(&heads[1]), 1);
	EXPECT(!rmap_contains(&heads[0], &slots[100]));

	/* One removal leaves room in the first descriptor again. */
	EXPECT_EQ(rmap_remove(&heads[0], &slots[5], &pool), 0);
	EXPECT_EQ(rmap_add(&heads[0], &slots[100], &pool), 0);
	for (int i = 0; i < 18; i++)
		if (i != 5)
			EXPECT_EQ(rmap_remove(&heads[0], &slots[i], &pool), 0);
	EXPECT_EQ(rmap_remove(&heads[0], &slots[100], &pool), 0);
	EXPECT_EQ(rmap_remove(&heads[1], &slots[101], &pool), 0);
	EXPECT(rmap_is_empty(&heads[0]));
	EXPECT_EQ(pool.nr_free, 3);
}

TEST(rmap_same_entry_in_several_heads)
{
	setup(16, 6);
	for (int h = 0; h < 4; h++)
		for (int i = 0; i < 9; i++)
			ASSERT(rmap_add(&heads[h], &slots[i], &pool) == 0);
	EXPECT_EQ(rmap_remove(&heads[2], &slots[4], &pool), 0);
	EXPECT(rmap_contains(&heads[1], &slots[4]));
	EXPECT(rmap_contains(&heads[3], &slots[4]));
	EXPECT(!rmap_contains(&heads[2], &slots[4]));
	EXPECT_EQ(rmap_count(&heads[2]), 8);
	EXPECT_EQ(rmap_count(&heads[3]), 9);
}

/* ---- iteration with removal --------------------------------------------- */

/* Fills head 0 with n distinct random slots; returns them in order added. */
static void fill_random(uint32_t n)
{
	while (model.count[0] < n) {
		uint32_t k = rng_below(NSLOTS);

		if (model.in[0][k])
			continue;
		if (rmap_add(&heads[0], &slots[k], &pool))
			return;
		model.in[0][k] = true;
		model.count[0]++;
	}
}

/* Walks head 0 removing each entry with probability pct/100; checks that
 * every original entry is visited exactly once. */
static bool walk_and_remove(unsigned int pct)
{
	bool before[NSLOTS];
	uint32_t visits[NSLOTS] = { 0 };
	struct rmap_iter it;

	memcpy(before, model.in[0], sizeof(before));
	for (uint64_t *p = rmap_iter_first(&it, &heads[0]); p; p = rmap_iter_next(&it)) {
		long k = p - slots;

		if (k < 0 || k >= NSLOTS || !before[k] || visits[k]++)
			return false;
		if (rng_below(100) < pct) {
			if (rmap_remove(&heads[0], p, &pool))
				return false;
			model.in[0][k] = false;
			model.count[0]--;
		}
	}
	for (int k = 0; k < NSLOTS; k++)
		if (before[k] != (visits[k] == 1))
			return false;
	return head_matches(0) && descs_accounted();
}

TEST(rmap_iterate_removing_current)
{
	static const unsigned int pcts[] = { 0, 10, 30, 50, 70, 90, 100 };

	setup(256, 7);
	for (int round = 0; round < 4000; round++) {
		uint32_t n = rng_below(round < 2000 ? 16 : 120);

		fill_random(n);
		ASSERT(walk_and_remove(pcts[round % ARRAY_SIZE(pcts)]));
		if (round % 7 == 0) {
			ASSERT(walk_and_remove(100));
			ASSERT(rmap_is_empty(&heads[0]));
			ASSERT(pool.nr_free == pool.nr_total);
		}
	}
}

/* Emptying a set through rmap_first(): every entry comes out once, and
 * each is in the first descriptor, where rmap_remove() finds it at once. */
TEST(rmap_first_empties_without_walks)
{
	setup(4096, 11);
	for (int round = 0; round < 50; round++) {
		bool seen[NSLOTS] = { false };

		fill_random(rng_below(NSLOTS));
		for (uint64_t *p; (p = rmap_first(&heads[0]));) {
			struct rmap_desc *first = desc_of(&heads[0]);
			long k = p - slots;

			ASSERT(k >= 0 && k < NSLOTS && model.in[0][k] && !seen[k]);
			if (first)
				ASSERT(p == first->sptes[first->count - 1]);
			ASSERT(rmap_remove(&heads[0], p, &pool) == 0);
			seen[k] = true;
			model.in[0][k] = false;
			model.count[0]--;
			ASSERT(head_matches(0));
		}
		EXPECT_EQ(model.count[0], 0);
		ASSERT(pool.nr_free == pool.nr_total);
	}
}

/* Exact small cases around the collapse back to one entry. */
TEST(rmap_iterate_collapse_cases)
{
	for (unsigned int mask = 0; mask < (1u << 8); mask++) {
		for (uint32_t n = 1; n <= 8; n++) {
			struct rmap_iter it;
			uint32_t i = 0, visited = 0;

			setup(8, 8);
			for (uint32_t k = 0; k < n; k++) {
				ASSERT(rmap_add(&heads[0], &slots[k], &pool) == 0);
				model.in[0][k] = true;
			}
			model.count[0] = n;
			for (uint64_t *p = rmap_iter_first(&it, &heads[0]); p;
			     p = rmap_iter_next(&it), i++) {
				visited |= 1u << (p - slots);
				if (mask & (1u << i)) {
					ASSERT(rmap_remove(&heads[0], p, &pool) == 0);
					model.in[0][p - slots] = false;
					model.count[0]--;
				}
			}
			EXPECT_EQ(visited, (1u << n) - 1);
			EXPECT_EQ(i, n);
			ASSERT(head_matches(0));
		}
	}
}

/* ---- random sequences against the model --------------------------------- */

static uint32_t nomem_seen;

static bool random_op(void)
{
	int h = (int)rng_below(NHEADS);
	uint32_t k = rng_below(NSLOTS);
	uint32_t r = rng_below(100);
	int ret;

	if (r < 55 && !model.in[h][k]) {
		uint32_t free_before = pool.nr_free;

		ret = rmap_add(&heads[h], &slots[k], &pool);
		if (ret == RMAP_ENOMEM) {
			nomem_seen++;
			return free_before == 0 && head_matches(h);
		}
		if (ret)
			return false;
		model.in[h][k] = true;
		model.count[h]++;
	} else if (r < 97) {
		ret = rmap_remove(&heads[h], &slots[k], &pool);
		if (ret != (model.in[h][k] ? 0 : RMAP_ENOENT))
			return false;
		if (model.in[h][k])
			model.count[h]--;
		model.in[h][k] = false;
	} else {
		return rmap_contains(&heads[h], &slots[k]) == model.in[h][k];
	}
	return head_matches(h);
}

static void run_random(uint64_t seed, uint32_t ndescs, uint32_t ops)
{
	setup(ndescs, seed);
	nomem_seen = 0;
	for (uint32_t i = 0; i < ops; i++) {
		if (!random_op()) {
			printf("    seed %llu op %u\n", (unsigned long long)seed, i);
			test_failed_now = 1;
			return;
		}
		if (i % 4096 == 0 && !descs_accounted()) {
			printf("    seed %llu op %u: descriptors leak\n",
			       (unsigned long long)seed, i);
			test_failed_now = 1;
			return;
		}
	}
	/* Empty every head: all descriptors must come back. */
	for (int h = 0; h < NHEADS; h++)
		for (int k = 0; k < NSLOTS; k++)
			if (model.in[h][k])
				EXPECT_EQ(rmap_remove(&heads[h], &slots[k], &pool), 0);
	for (int h = 0; h < NHEADS; h++)
		EXPECT(rmap_is_empty(&heads[h]));
	EXPECT_EQ(pool.nr_free, pool.nr_total);
}

TEST(rmap_random_roomy_pool)
{
	run_random(0x1234, 4096, 150000);
	EXPECT_EQ(nomem_seen, 0);
}

TEST(rmap_random_tight_pool)
{
	/* About 64 * 256 entries at the steady state need ~2700 descriptors. */
	run_random(0xfeedface, 600, 150000);
	EXPECT(nomem_seen > 1000);
	run_random(42, 64, 100000);
	EXPECT(nomem_seen > 1000);
}

/* ---- per-guest table ---------------------------------------------------- */

TEST(rmap_table_layout)
{
	static struct rmap_head storage[2000];
	struct rmap_table t;
	uint64_t nr = 512 * 3 + 5;

	EXPECT_EQ(rmap_table_heads(0), 0);
	EXPECT_EQ(rmap_table_heads(1), 3);
	EXPECT_EQ(rmap_table_heads(512), 512 + 1 + 1);
	EXPECT_EQ(rmap_table_heads(512 * 512 + 1), 512 * 512 + 1 + 513 + 2);
	EXPECT_EQ(rmap_table_heads(nr), nr + 4 + 1);

	EXPECT_EQ(rmap_table_init(&t, storage, nr + 4, nr), RMAP_EINVAL);
	memset(storage, 0xff, sizeof(storage));
	ASSERT(rmap_table_init(&t, storage, nr + 5, nr) == 0);
	for (uint64_t i = 0; i < nr + 5; i++)
		EXPECT(rmap_is_empty(&storage[i]));
	EXPECT(storage[nr + 5].val != 0);       /* past the end: untouched */

	EXPECT(rmap_slot(&t, 0, 1) == &storage[0]);
	EXPECT(rmap_slot(&t, nr - 1, 1) == &storage[nr - 1]);
	EXPECT(rmap_slot(&t, nr, 1) == NULL);
	EXPECT(rmap_slot(&t, 0, 2) == &storage[nr]);
	EXPECT(rmap_slot(&t, 511, 2) == &storage[nr]);
	EXPECT(rmap_slot(&t, 512, 2) == &storage[nr + 1]);
	EXPECT(rmap_slot(&t, nr - 1, 2) == &storage[nr + 3]);
	EXPECT(rmap_slot(&t, nr - 1, 3) == &storage[nr + 4]);
	EXPECT(rmap_slot(&t, 5, 0) == NULL);
	EXPECT(rmap_slot(&t, 5, 4) == NULL);

	/* Every gfn's slot at every level is inside its level's slice. */
	for (uint64_t g = 0; g < nr; g++)
		for (int l = 1; l <= RMAP_LEVELS; l++) {
			struct rmap_head *s = rmap_slot(&t, g, l);

			EXPECT(s >= t.level[l - 1] &&
			       s < t.level[l - 1] + t.nr_heads[l - 1]);
		}
}

TEST_MAIN()
