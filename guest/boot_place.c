/* Placement of boot data in the guest RAM an image leaves free. */
#include "guest/boot_place.h"

#define PLACE_ALIGN     4096ULL

void boot_ranges_add(struct boot_ranges *t, uint64_t start, uint64_t end)
{
	if (start >= end)
		return;
	if (t->n < BOOT_PLACE_MAX_RANGES) {
		t->r[t->n].start = start;
		t->r[t->n].end = end;
		t->n++;
		return;
	}
	t->r[t->n - 1].start = MIN(t->r[t->n - 1].start, start);
	t->r[t->n - 1].end = MAX(t->r[t->n - 1].end, end);
}

/* The start of a taken range that [at, at + size) overlaps, or `at +
 * size` when none does (the candidate is free). */
static uint64_t lowest_clash(const struct boot_ranges *t, uint64_t at,
			     uint64_t size)
{
	uint64_t clash = at + size;

	for (unsigned int i = 0; i < t->n; i++)
		if (t->r[i].start < at + size && t->r[i].end > at)
			clash = MIN(clash, t->r[i].start);
	return clash;
}

bool boot_ranges_overlap(const struct boot_ranges *t, uint64_t start,
			 uint64_t end)
{
	return start < end && lowest_clash(t, start, end - start) != end;
}

/* Each step moves the candidate below the lowest range it overlaps, so
 * it only goes down and passes each taken range once. */
bool boot_place_high(const struct boot_ranges *t, uint64_t floor,
		     uint64_t limit, uint64_t size, uint64_t *at)
{
	uint64_t cand, clash;

	if (!size || limit < size || limit - size < floor)
		return false;
	cand = ALIGN_DOWN(limit - size, PLACE_ALIGN);
	for (;;) {
		if (cand < floor)
			return false;
		clash = lowest_clash(t, cand, size);
		if (clash == cand + size) {
			*at = cand;
			return true;
		}
		if (clash < size + floor)
			return false;
		cand = ALIGN_DOWN(clash - size, PLACE_ALIGN);
	}
}
