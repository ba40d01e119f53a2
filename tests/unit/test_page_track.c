/* Host unit tests for write tracking of guest frames (ept/page_track.c). */
#include "ept/page_track.h"
#include "tests/unit/test.h"

#define NGFNS 4096

static uint16_t counts[NGFNS + 1];
static struct page_track pt;

TEST(page_track_add_remove)
{
	memset(counts, 0xaa, sizeof(counts));
	page_track_init(&pt, counts, NGFNS);
	EXPECT_EQ(counts[NGFNS], 0xaaaa);       /* past the end: untouched */
	EXPECT(!page_track_is_tracked(&pt, 7));
	EXPECT_EQ(page_track_add(&pt, 7), 0);
	EXPECT_EQ(page_track_add(&pt, 7), 0);
	EXPECT(page_track_is_tracked(&pt, 7));
	EXPECT(!page_track_is_tracked(&pt, 8));
	EXPECT_EQ(page_track_count(&pt, 7), 2);
	EXPECT_EQ(pt.nr_tracked, 1);
	EXPECT_EQ(page_track_remove(&pt, 7), 0);
	EXPECT(page_track_is_tracked(&pt, 7));
	EXPECT_EQ(page_track_remove(&pt, 7), 0);
	EXPECT(!page_track_is_tracked(&pt, 7));
	EXPECT_EQ(page_track_remove(&pt, 7), PAGE_TRACK_ENOENT);
	EXPECT_EQ(page_track_count(&pt, 7), 0);
	EXPECT_EQ(pt.nr_tracked, 0);
}

TEST(page_track_out_of_range)
{
	page_track_init(&pt, counts, NGFNS);
	EXPECT_EQ(page_track_add(&pt, NGFNS), PAGE_TRACK_EINVAL);
	EXPECT_EQ(page_track_remove(&pt, NGFNS), PAGE_TRACK_EINVAL);
	EXPECT_EQ(page_track_add(&pt, UINT64_MAX), PAGE_TRACK_EINVAL);
	EXPECT(!page_track_is_tracked(&pt, NGFNS));
	EXPECT_EQ(page_track_count(&pt, UINT64_MAX), 0);
	EXPECT_EQ(page_track_add(&pt, NGFNS - 1), 0);
	EXPECT(page_track_is_tracked(&pt, NGFNS - 1));
}

TEST(page_track_saturation)
{
	page_track_init(&pt, counts, NGFNS);
	for (unsigned int i = 0; i < PAGE_TRACK_MAX; i++)
		ASSERT(page_track_add(&pt, 3) == 0);
	EXPECT_EQ(page_track_count(&pt, 3), PAGE_TRACK_MAX);
	EXPECT_EQ(page_track_add(&pt, 3), PAGE_TRACK_ENOSPC);
	EXPECT_EQ(page_track_count(&pt, 3), PAGE_TRACK_MAX);
	EXPECT_EQ(page_track_count(&pt, 2), 0);
	EXPECT_EQ(page_track_count(&pt, 4), 0);
	for (unsigned int i = 0; i < PAGE_TRACK_MAX; i++)
		ASSERT(page_track_remove(&pt, 3) == 0);
	EXPECT(!page_track_is_tracked(&pt, 3));
	EXPECT_EQ(pt.nr_tracked, 0);
}

TEST(page_track_random_against_model)
{
	static unsigned int model[NGFNS];
	uint64_t s = 0x5eed;
	uint64_t tracked = 0;

	memset(model, 0, sizeof(model));
	page_track_init(&pt, counts, NGFNS);
	for (int op = 0; op < 200000; op++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t gfn = (s >> 33) % 64;   /* few frames: counts grow */
		bool add = (s >> 20) & 1;

		if (add) {
			ASSERT(page_track_add(&pt, gfn) == 0);
			tracked += model[gfn]++ == 0;
		} else {
			ASSERT(page_track_remove(&pt, gfn) ==
			       (model[gfn] ? 0 : PAGE_TRACK_ENOENT));
			if (model[gfn])
				tracked -= --model[gfn] == 0;
		}
		ASSERT(page_track_count(&pt, gfn) == model[gfn]);
		ASSERT(page_track_is_tracked(&pt, gfn) == (model[gfn] != 0));
		ASSERT(pt.nr_tracked == tracked);
	}
}

TEST_MAIN()
