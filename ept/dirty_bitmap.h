/*
 * Dirty bitmaps: one bit per 4 KiB guest frame, set by whatever logs writes
 * (the PML drain, the write-protection fault) and taken by get-and-clear.
 * Pure code, also built and tested on the host. Bits are set and taken with
 * atomic operations, so loggers on several CPUs never lose a bit.
 */
#ifndef KEEL_EPT_DIRTY_BITMAP_H
#define KEEL_EPT_DIRTY_BITMAP_H

#include "arch/compiler.h"

#define PML_ENTRIES     512
#define PML_INDEX_START (PML_ENTRIES - 1)

struct dirty_bitmap {
	uint64_t *words;
	uint64_t nr_frames;
};

static inline uint64_t dirty_bitmap_words(uint64_t nr_frames)
{
	return (nr_frames + 63) / 64;
}

/* Sets the bit of gfn; false (nothing set) when gfn is outside. */
bool dirty_bitmap_set(struct dirty_bitmap *b, uint64_t gfn);
bool dirty_bitmap_test(const struct dirty_bitmap *b, uint64_t gfn);
/*
 * Atomically takes the bits of frames [first, first + count) into `out`
 * (bit i of out = frame first + i; out holds dirty_bitmap_words(count)
 * words, or is NULL) and clears them. Calls `each(arg, gfn)` for every
 * frame taken, if given. Returns how many frames were dirty.
 */
uint64_t dirty_bitmap_take(struct dirty_bitmap *b, uint64_t first,
			   uint64_t count, uint64_t *out,
			   void (*each)(void *arg, uint64_t gfn), void *arg);

/*
 * Drains a page-modification log (SDM Vol. 3C 29.3.6): the CPU writes
 * entries from index 511 down and decrements the index, which wraps to
 * 0xffff after entry 0 (log full). Valid entries are index + 1 .. 511.
 * Sets their frames' bits (guest-physical address >> 12; entries outside
 * the bitmap are ignored) and returns how many entries there were.
 */
unsigned int pml_drain(struct dirty_bitmap *b, const uint64_t *log,
		       uint16_t index);

#endif
