/* Write tracking of guest frames (see page_track.h). */
#include "ept/page_track.h"
#include "arch/string.h"

void page_track_init(struct page_track *pt, uint16_t *counts, uint64_t nr_gfns)
{
	pt->count = counts;
	pt->nr_gfns = nr_gfns;
	pt->nr_tracked = 0;
	if (nr_gfns)
		memset(counts, 0, nr_gfns * sizeof(*counts));
}

int page_track_add(struct page_track *pt, uint64_t gfn)
{
	uint16_t c;

	if (gfn >= pt->nr_gfns)
		return PAGE_TRACK_EINVAL;
	c = pt->count[gfn];
	if (c == PAGE_TRACK_MAX)
		return PAGE_TRACK_ENOSPC;
	if (c == 0)
		pt->nr_tracked++;
	WRITE_ONCE(pt->count[gfn], (uint16_t)(c + 1));
	return 0;
}

int page_track_remove(struct page_track *pt, uint64_t gfn)
{
	uint16_t c;

	if (gfn >= pt->nr_gfns)
		return PAGE_TRACK_EINVAL;
	c = pt->count[gfn];
	if (c == 0)
		return PAGE_TRACK_ENOENT;
	if (c == 1)
		pt->nr_tracked--;
	WRITE_ONCE(pt->count[gfn], (uint16_t)(c - 1));
	return 0;
}

unsigned int page_track_count(const struct page_track *pt, uint64_t gfn)
{
	if (gfn >= pt->nr_gfns)
		return 0;
	return READ_ONCE(pt->count[gfn]);
}

bool page_track_is_tracked(const struct page_track *pt, uint64_t gfn)
{
	return page_track_count(pt, gfn) != 0;
}
