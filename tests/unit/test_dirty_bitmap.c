/* Host tests for the dirty bitmap and the PML drain (ept/dirty_bitmap.c). */
#include "tests/unit/test.h"
#include "ept/dirty_bitmap.h"

#define FRAMES 1000     /* not a multiple of 64: the last word is partial */

static uint64_t words[16];
static struct dirty_bitmap bm = { words, FRAMES };

static void reset(void)
{
	memset(words, 0, sizeof(words));
}

static uint64_t seen[FRAMES];
static unsigned int nr_seen;

static void record(void *arg, uint64_t gfn)
{
	(void)arg;
	seen[nr_seen++] = gfn;
}

TEST(set_test_bounds)
{
	reset();
	EXPECT(dirty_bitmap_set(&bm, 0));
	EXPECT(dirty_bitmap_set(&bm, 999));
	EXPECT(!dirty_bitmap_set(&bm, 1000));
	EXPECT(!dirty_bitmap_set(&bm, ~0ULL));
	EXPECT(dirty_bitmap_test(&bm, 0));
	EXPECT(dirty_bitmap_test(&bm, 999));
	EXPECT(!dirty_bitmap_test(&bm, 1));
	EXPECT(!dirty_bitmap_test(&bm, 1000));
}

TEST(take_clears_and_reports_in_order)
{
	uint64_t out[16];

	reset();
	dirty_bitmap_set(&bm, 3);
	dirty_bitmap_set(&bm, 64);
	dirty_bitmap_set(&bm, 700);
	nr_seen = 0;
	EXPECT_EQ(dirty_bitmap_take(&bm, 0, FRAMES, out, record, NULL), 3);
	EXPECT_EQ(nr_seen, 3);
	EXPECT_EQ(seen[0], 3);
	EXPECT_EQ(seen[1], 64);
	EXPECT_EQ(seen[2], 700);
	EXPECT_EQ(out[0], 1ULL << 3);
	EXPECT_EQ(out[1], 1ULL);
	EXPECT_EQ(out[700 / 64], 1ULL << (700 % 64));
	EXPECT_EQ(dirty_bitmap_take(&bm, 0, FRAMES, NULL, NULL, NULL), 0);
}

/* A sub-range takes only its own bits, reported relative to its start. */
TEST(take_subrange)
{
	uint64_t out[2] = { 0, 0 };

	reset();
	for (uint64_t g = 60; g < 140; g++)
		dirty_bitmap_set(&bm, g);
	EXPECT_EQ(dirty_bitmap_take(&bm, 70, 50, out, NULL, NULL), 50);
	EXPECT_EQ(out[0], (1ULL << 50) - 1);     /* frames 70..119 */
	EXPECT_EQ(out[1], 0);
	EXPECT(dirty_bitmap_test(&bm, 69));
	EXPECT(!dirty_bitmap_test(&bm, 70));
	EXPECT(!dirty_bitmap_test(&bm, 119));
	EXPECT(dirty_bitmap_test(&bm, 120));
	EXPECT_EQ(dirty_bitmap_take(&bm, 0, FRAMES, NULL, NULL, NULL), 10 + 20);
}

TEST(take_past_the_end_is_clipped)
{
	reset();
	dirty_bitmap_set(&bm, 999);
	EXPECT_EQ(dirty_bitmap_take(&bm, 990, 1000, NULL, NULL, NULL), 1);
	EXPECT_EQ(dirty_bitmap_take(&bm, 5000, 10, NULL, NULL, NULL), 0);
}

/* Random sets and takes against a plain array model. */
TEST(random_against_model)
{
	static bool model[FRAMES];
	uint64_t rng = 12345;

	reset();
	memset(model, 0, sizeof(model));
	for (int i = 0; i < 200000; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		uint64_t g = rng % (FRAMES + 10);

		if (rng & (1ULL << 40)) {
			EXPECT_EQ(dirty_bitmap_set(&bm, g), g < FRAMES);
			if (g < FRAMES)
				model[g] = true;
			continue;
		}
		uint64_t first = g % FRAMES, count = (rng >> 20) % 300, want = 0;

		for (uint64_t f = first; f < first + count && f < FRAMES; f++) {
			want += model[f];
			model[f] = false;
		}
		ASSERT(dirty_bitmap_take(&bm, first, count, NULL, NULL, NULL) == want);
	}
	for (uint64_t f = 0; f < FRAMES; f++)
		ASSERT(dirty_bitmap_test(&bm, f) == model[f]);
}

TEST(pml_drain_entries)
{
	static uint64_t log[PML_ENTRIES];

	reset();
	log[511] = 5ULL << 12;
	log[510] = (7ULL << 12) | 0x123;        /* low bits are ignored */
	log[509] = 4000ULL << 12;               /* outside the bitmap */
	EXPECT_EQ(pml_drain(&bm, log, PML_INDEX_START), 0);
	EXPECT(!dirty_bitmap_test(&bm, 5));
	EXPECT_EQ(pml_drain(&bm, log, 508), 3);
	EXPECT(dirty_bitmap_test(&bm, 5));
	EXPECT(dirty_bitmap_test(&bm, 7));
	EXPECT_EQ(dirty_bitmap_take(&bm, 0, FRAMES, NULL, NULL, NULL), 2);
}

/* After entry 0 the index wraps to 0xffff: the whole log is valid. */
TEST(pml_drain_full_log)
{
	static uint64_t log[PML_ENTRIES];

	reset();
	for (int i = 0; i < PML_ENTRIES; i++)
		log[i] = (uint64_t)(i % FRAMES) << 12;
	EXPECT_EQ(pml_drain(&bm, log, 0xffff), PML_ENTRIES);
	EXPECT_EQ(dirty_bitmap_take(&bm, 0, FRAMES, NULL, NULL, NULL), PML_ENTRIES);
}

TEST_MAIN()
