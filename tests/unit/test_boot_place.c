/* Host tests for guest/boot_place.c: where boot data goes in the RAM an
 * image leaves free. */
#include "tests/unit/test.h"
#include "guest/boot_place.h"

#define MiB_ (1024 * 1024ULL)
#define FLOOR 0x1000ULL

static struct boot_ranges taken(void)
{
	struct boot_ranges t = { .n = 0 };

	boot_ranges_add(&t, 0xa0000, 0x100000);         /* the BIOS hole */
	return t;
}

TEST(empty_ram_gives_the_top)
{
	struct boot_ranges t = taken();
	uint64_t at = 0;

	ASSERT(boot_place_high(&t, FLOOR, 128 * MiB_, 0x3000, &at));
	EXPECT_EQ(at, 128 * MiB_ - 0x3000);
}

TEST(size_rounds_the_start_down_to_a_page)
{
	struct boot_ranges t = taken();
	uint64_t at = 0;

	ASSERT(boot_place_high(&t, FLOOR, 128 * MiB_, 0x2345, &at));
	EXPECT_EQ(at, 128 * MiB_ - 0x3000);
}

/* realmode.flat: segments at 0x8000-0xda30 in 64K of RAM. */
TEST(small_ram_goes_around_a_low_image)
{
	struct boot_ranges t = { .n = 0 };
	uint64_t at = 0;

	boot_ranges_add(&t, 0x8000, 0xb000);
	boot_ranges_add(&t, 0xb000, 0xda30);
	ASSERT(boot_place_high(&t, FLOOR, 0x10000, 0x2000, &at));
	EXPECT_EQ(at, 0xe000);
	ASSERT(boot_place_high(&t, FLOOR, 0x10000, 0x3000, &at));
	EXPECT_EQ(at, 0x5000);
}

/* An image filling the top of RAM pushes the data below it, and a second
 * taken range there pushes it further. */
TEST(image_at_the_top_pushes_it_below)
{
	struct boot_ranges t = taken();
	uint64_t at = 0;

	boot_ranges_add(&t, 100 * MiB_, 128 * MiB_);
	boot_ranges_add(&t, 99 * MiB_ + 0x800, 100 * MiB_ - 0x800);
	ASSERT(boot_place_high(&t, FLOOR, 128 * MiB_, 0x4000, &at));
	EXPECT_EQ(at, 99 * MiB_ - 0x4000);
}

/* Unsorted ranges: the answer is still the highest free fit. */
TEST(gap_between_ranges_is_used_when_it_fits)
{
	struct boot_ranges t = { .n = 0 };
	uint64_t at = 0;

	boot_ranges_add(&t, 0x30000, 0x40000);
	boot_ranges_add(&t, 0x10000, 0x2c000);
	ASSERT(boot_place_high(&t, FLOOR, 0x40000, 0x4000, &at));
	EXPECT_EQ(at, 0x2c000);
	ASSERT(boot_place_high(&t, FLOOR, 0x40000, 0x5000, &at));
	EXPECT_EQ(at, 0xb000);
}

TEST(nothing_fits_is_refused)
{
	struct boot_ranges t = { .n = 0 };
	uint64_t at = 0x1234;

	boot_ranges_add(&t, 0x2000, 0x10000);
	EXPECT(!boot_place_high(&t, FLOOR, 0x10000, 0x2000, &at));
	EXPECT(!boot_place_high(&t, FLOOR, 0x10000, 0x20000, &at));
	EXPECT(!boot_place_high(&t, FLOOR, 0x10000, 0, &at));
	EXPECT(!boot_place_high(&t, 0x20000, 0x10000, 0x1000, &at));
	EXPECT_EQ(at, 0x1234);
	ASSERT(boot_place_high(&t, FLOOR, 0x10000, 0x1000, &at));
	EXPECT_EQ(at, 0x1000);
}

/* Past BOOT_PLACE_MAX_RANGES the ranges merge: more is avoided, never
 * less, and the answer never overlaps any range that was added. */
TEST(full_list_merges_and_still_avoids_everything)
{
	struct boot_ranges t = { .n = 0 };
	uint64_t at = 0;

	for (uint64_t i = 0; i < BOOT_PLACE_MAX_RANGES + 8; i++)
		boot_ranges_add(&t, 0x100000 + i * 0x20000,
				0x100000 + i * 0x20000 + 0x1000);
	EXPECT_EQ(t.n, BOOT_PLACE_MAX_RANGES);
	ASSERT(boot_place_high(&t, FLOOR, 0x100000 + 40 * 0x20000, 0x2000,
			       &at));
	for (uint64_t i = 0; i < BOOT_PLACE_MAX_RANGES + 8; i++) {
		uint64_t s = 0x100000 + i * 0x20000;

		EXPECT(at + 0x2000 <= s || at >= s + 0x1000);
	}
}

TEST(overlap_is_reported_for_any_shared_byte)
{
	struct boot_ranges t = { .n = 0 };

	boot_ranges_add(&t, 0x8000, 0xda30);
	EXPECT(boot_ranges_overlap(&t, 0xd000, 0xe000));
	EXPECT(boot_ranges_overlap(&t, 0x7000, 0x8001));
	EXPECT(!boot_ranges_overlap(&t, 0xda30, 0xe000));
	EXPECT(!boot_ranges_overlap(&t, 0x7000, 0x8000));
	EXPECT(!boot_ranges_overlap(&t, 0x9000, 0x9000));
}

TEST(empty_range_is_ignored)
{
	struct boot_ranges t = { .n = 0 };

	boot_ranges_add(&t, 0x5000, 0x5000);
	EXPECT_EQ(t.n, 0u);
}

TEST_MAIN()
