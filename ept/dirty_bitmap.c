#include "ept/dirty_bitmap.h"

bool dirty_bitmap_set(struct dirty_bitmap *b, uint64_t gfn)
{
	if (gfn >= b->nr_frames)
		return false;
	__atomic_fetch_or(&b->words[gfn / 64], 1ULL << (gfn % 64),
			  __ATOMIC_RELAXED);
	return true;
}

bool dirty_bitmap_test(const struct dirty_bitmap *b, uint64_t gfn)
{
	return gfn < b->nr_frames &&
	       (__atomic_load_n(&b->words[gfn / 64], __ATOMIC_RELAXED) >>
		(gfn % 64)) & 1;
}

/* Takes the bits of one word that fall inside [first, end). */
static uint64_t take_word(struct dirty_bitmap *b, uint64_t w, uint64_t first,
			  uint64_t end)
{
	uint64_t lo = w * 64, mask = ~0ULL;

	if (first > lo)
		mask &= ~0ULL << (first - lo);
	if (end < lo + 64)
		mask &= (1ULL << (end - lo)) - 1;
	if (mask == ~0ULL)
		return __atomic_exchange_n(&b->words[w], 0, __ATOMIC_ACQ_REL);
	return __atomic_fetch_and(&b->words[w], ~mask, __ATOMIC_ACQ_REL) & mask;
}

uint64_t dirty_bitmap_take(struct dirty_bitmap *b, uint64_t first,
			   uint64_t count, uint64_t *out,
			   void (*each)(void *arg, uint64_t gfn), void *arg)
{
	uint64_t end = first + count, n = 0;

	if (end > b->nr_frames || end < first)
		end = b->nr_frames;
	if (out)
		for (uint64_t i = 0; i < dirty_bitmap_words(count); i++)
			out[i] = 0;
	for (uint64_t w = first / 64; first < end && w * 64 < end; w++) {
		uint64_t bits = take_word(b, w, first, end);

		while (bits) {
			uint64_t gfn = w * 64 + (uint64_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			n++;
			if (out)
				out[(gfn - first) / 64] |= 1ULL << ((gfn - first) % 64);
			if (each)
				each(arg, gfn);
		}
	}
	return n;
}

unsigned int pml_drain(struct dirty_bitmap *b, const uint64_t *log,
		       uint16_t index)
{
	unsigned int first = index >= PML_ENTRIES ? 0 : index + 1u;

	for (unsigned int i = first; i < PML_ENTRIES; i++)
		dirty_bitmap_set(b, log[i] >> 12);
	return PML_ENTRIES - first;
}
