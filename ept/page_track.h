/*
 * Write tracking of guest frames. A frame holding a guest page table that
 * Keel shadows must not be written behind the MMU's back: while its count
 * is non-zero, shadow leaves mapping it withhold W (SHADOW_PTE_WP_TRACK)
 * and every guest write to it faults into the MMU. The count is one per
 * shadow page (of any role) shadowing the frame.
 *
 * One uint16_t per guest frame, in an array the caller provides (2 bytes
 * per 4 KiB of guest RAM). Counts change under the guest's MMU lock;
 * page_track_is_tracked() may be read without it.
 */
#ifndef KEEL_EPT_PAGE_TRACK_H
#define KEEL_EPT_PAGE_TRACK_H

#include "arch/compiler.h"

#define PAGE_TRACK_ENOENT   (-2)    /* remove: the frame is not tracked */
#define PAGE_TRACK_EINVAL   (-22)   /* gfn outside the guest */
#define PAGE_TRACK_ENOSPC   (-28)   /* add: the count is saturated */

#define PAGE_TRACK_MAX      UINT16_MAX

struct page_track {
	uint16_t *count;
	uint64_t nr_gfns;
	uint64_t nr_tracked;            /* frames with a non-zero count */
};

/* Uses counts[0..nr_gfns) (contents ignored) with nothing tracked. */
void page_track_init(struct page_track *pt, uint16_t *counts, uint64_t nr_gfns);

/* Returns 0, PAGE_TRACK_EINVAL, or PAGE_TRACK_ENOSPC when the count is at
 * PAGE_TRACK_MAX; on error nothing changed. */
int page_track_add(struct page_track *pt, uint64_t gfn);

/* Returns 0, PAGE_TRACK_EINVAL, or PAGE_TRACK_ENOENT when the count is 0;
 * on error nothing changed. */
int page_track_remove(struct page_track *pt, uint64_t gfn);

/* False for frames outside the guest. */
bool page_track_is_tracked(const struct page_track *pt, uint64_t gfn);

/* The count (0 outside the guest). */
unsigned int page_track_count(const struct page_track *pt, uint64_t gfn);

#endif
