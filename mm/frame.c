/*
 * Buddy allocator over physical frames; see mm/frame.h for the contract and
 * the metadata layout.
 *
 * Frames are named three ways: a physical address (pa), a frame number
 * (f = pa >> 12) and, inside a region, a local index (i = f - first). Buddy
 * arithmetic uses frame numbers, so alignment is physical, not relative to
 * a region's start.
 *
 * Each frame has a state byte. The first frame of every block (its head)
 * records the block's order and whether it is free or in use; every other
 * frame reads 0. Free blocks sit on per-region, per-order doubly linked
 * lists whose links are stored per aligned pair of frames: two buddies that
 * are both free order-0 blocks always merge, so a pair never holds more than
 * one free head, and 8 bytes per pair is 4 bytes per frame.
 */
#include "mm/frame.h"
#include "arch/string.h"

#define FST_ORDER_MASK  GENMASK_ULL(4, 0)
#define FST_FREE        BIT_ULL(5)
#define FST_USED        BIT_ULL(6)

_Static_assert(FRAME_MAX_ORDER <= FST_ORDER_MASK, "order fits the state byte");
_Static_assert(!(FST_ORDER_MASK & (FST_FREE | FST_USED)), "state bits overlap");

#define LINK_NEXT       0
#define LINK_PREV       1
#define LINK_NIL        UINT32_MAX

/*
 * Regions are cut at 8 TiB boundaries so a local index fits in 31 bits and
 * never equals LINK_NIL. The cut is 1 GiB aligned, so it splits no block.
 */
#define REGION_CHUNK    BIT_ULL(43)

_Static_assert((REGION_CHUNK >> FRAME_SHIFT) < LINK_NIL, "local index width");
_Static_assert(REGION_CHUNK % (FRAME_SIZE << FRAME_MAX_ORDER) == 0,
	       "region cuts must not split a block");
_Static_assert(FRAME_MAX_REGIONS % 64 == 0, "nonempty[] is whole words");

/*
 * Reserving the metadata can cut its region in two. The halves share no
 * frame pair (the cut frames lie between them) but each pads its state
 * bytes, up to 13 bytes more than before; frame_meta_size() adds this
 * slack so the plan still holds once the metadata is reserved.
 */
#define META_SLACK      64

/* A half-open byte range [base, end), both below FRAME_PA_LIMIT. */
struct span {
	uint64_t base;
	uint64_t end;
};

/* Sorted, disjoint, non-adjacent spans: the usable RAM being worked out. */
struct span_set {
	uint32_t n;
	struct span s[FRAME_MAX_REGIONS];
};

/* ---- Memory map normalisation ---------------------------------------- */

/* Clips r to [0, FRAME_PA_LIMIT); a length past 2^64 runs to the top. */
static bool span_clip(const struct frame_range *r, struct span *out)
{
	uint64_t end = r->base + r->len;

	if (end < r->base)
		end = FRAME_PA_LIMIT;
	out->base = MIN(r->base, FRAME_PA_LIMIT);
	out->end = MIN(end, FRAME_PA_LIMIT);
	return out->base < out->end;
}

static int span_insert(struct span_set *set, uint32_t at,
		       uint64_t base, uint64_t end)
{
	if (set->n == FRAME_MAX_REGIONS)
		return FRAME_E2BIG;
	memmove(&set->s[at + 1], &set->s[at], (set->n - at) * sizeof(set->s[0]));
	set->s[at] = (struct span){ base, end };
	set->n++;
	return 0;
}

static void span_delete(struct span_set *set, uint32_t at, uint32_t count)
{
	memmove(&set->s[at], &set->s[at + count],
		(set->n - at - count) * sizeof(set->s[0]));
	set->n -= count;
}

/* Adds [base, end), merging with every span it overlaps or touches. */
static int span_add(struct span_set *set, uint64_t base, uint64_t end)
{
	uint32_t i = 0, j;

	while (i < set->n && set->s[i].end < base)
		i++;
	j = i;
	while (j < set->n && set->s[j].base <= end)
		j++;
	if (i == j)
		return span_insert(set, i, base, end);
	set->s[i].base = MIN(set->s[i].base, base);
	set->s[i].end = MAX(set->s[j - 1].end, end);
	span_delete(set, i + 1, j - i - 1);
	return 0;
}

/* Removes [base, end) from the set; may split one span in two. */
static int span_remove(struct span_set *set, uint64_t base, uint64_t end)
{
	uint32_t i = 0;

	while (i < set->n) {
		struct span *s = &set->s[i];
		uint64_t old_end = s->end;

		if (old_end <= base || s->base >= end) {
			i++;
		} else if (s->base < base) {
			s->end = base;
			i++;
			if (old_end > end)
				return span_insert(set, i, end, old_end);
		} else if (old_end > end) {
			s->base = end;
			i++;
		} else {
			span_delete(set, i, 1);
		}
	}
	return 0;
}

/* Cuts spans at REGION_CHUNK boundaries so each becomes one region. */
static int span_cut_chunks(struct span_set *set)
{
	for (uint32_t i = 0; i < set->n; i++) {
		uint64_t cut = ALIGN_DOWN(set->s[i].base, REGION_CHUNK) + REGION_CHUNK;
		int err;

		if (set->s[i].end <= cut)
			continue;
		err = span_insert(set, i + 1, cut, set->s[i].end);
		if (err)
			return err;
		set->s[i].end = cut;
	}
	return 0;
}

static int map_add_usable(const struct frame_map *map, struct span_set *set)
{
	for (size_t k = 0; k < map->nr_usable; k++) {
		struct span s;
		int err;

		if (!span_clip(&map->usable[k], &s))
			continue;
		s.base = ALIGN_UP(s.base, FRAME_SIZE);
		s.end = ALIGN_DOWN(s.end, FRAME_SIZE);
		if (s.base >= s.end)
			continue;
		err = span_add(set, s.base, s.end);
		if (err)
			return err;
	}
	return 0;
}

static int map_remove_reserved(const struct frame_map *map, struct span_set *set)
{
	for (size_t k = 0; k < map->nr_reserved; k++) {
		struct span s;
		int err;

		if (!span_clip(&map->reserved[k], &s))
			continue;
		err = span_remove(set, ALIGN_DOWN(s.base, FRAME_SIZE),
				  ALIGN_UP(s.end, FRAME_SIZE));
		if (err)
			return err;
	}
	return 0;
}

/*
 * Usable minus reserved, as sorted 4 KiB aligned spans. Reserved ranges
 * are removed only after every usable entry is in, so reserved wins
 * whatever the order of the entries.
 */
static int map_normalize(const struct frame_map *map, struct span_set *set)
{
	int err;

	set->n = 0;
	if (!map || (map->nr_usable && !map->usable) ||
	    (map->nr_reserved && !map->reserved))
		return FRAME_EINVAL;
	err = map_add_usable(map, set);
	if (!err)
		err = map_remove_reserved(map, set);
	if (!err)
		err = span_cut_chunks(set);
	return err;
}

/* ---- Metadata layout ------------------------------------------------- */

static uint64_t region_pairs(uint64_t first, uint64_t nframes)
{
	return ((first + nframes - 1) >> 1) - (first >> 1) + 1;
}

static uint64_t region_link_bytes(uint64_t first, uint64_t nframes)
{
	return region_pairs(first, nframes) * 2 * sizeof(uint32_t);
}

/* Links first, then state bytes padded so the next slice stays 8-aligned. */
static uint64_t region_meta_bytes(uint64_t first, uint64_t nframes)
{
	return region_link_bytes(first, nframes) + ALIGN_UP(nframes, 8);
}

static uint64_t spans_meta_bytes(const struct span_set *set)
{
	uint64_t bytes = 0;

	for (uint32_t i = 0; i < set->n; i++)
		bytes += region_meta_bytes(set->s[i].base >> FRAME_SHIFT,
					   (set->s[i].end - set->s[i].base) >> FRAME_SHIFT);
	return bytes;
}

int frame_meta_size(const struct frame_map *map, uint64_t *bytes)
{
	struct span_set set;
	int err = map_normalize(map, &set);

	if (err)
		return err;
	*bytes = spans_meta_bytes(&set) + META_SLACK;
	return 0;
}

/* The highest place for size bytes in s, ending at or below limit. */
static bool span_fit_top(const struct span *s, uint64_t size, uint64_t limit,
			 uint64_t *pa)
{
	uint64_t top = MIN(s->end, ALIGN_DOWN(limit, FRAME_SIZE));

	if (top < s->base || top - s->base < size)
		return false;
	*pa = top - size;
	return true;
}

int frame_meta_place(const struct frame_map *map, uint64_t bytes,
		     uint64_t limit, uint64_t *pa)
{
	struct span_set set;
	uint64_t size;
	int err = map_normalize(map, &set);

	if (err)
		return err;
	if (bytes > FRAME_PA_LIMIT)
		return FRAME_ENOMEM;
	size = ALIGN_UP(MAX(bytes, 1), FRAME_SIZE);
	for (uint32_t i = set.n; i-- > 0;) {
		if (span_fit_top(&set.s[i], size, limit, pa))
			return 0;
	}
	return FRAME_ENOMEM;
}

/* ---- Free lists ------------------------------------------------------ */

static uint32_t *link_of(const struct frame_region *r, uint32_t i)
{
	uint64_t pair = ((r->first + i) >> 1) - (r->first >> 1);

	return &r->link[2 * pair];
}

static void nonempty_set(struct frame_allocator *fa, uint32_t ri,
			 unsigned int k, bool on)
{
	uint64_t bit = BIT_ULL(ri % 64);

	if (on)
		fa->nonempty[k][ri / 64] |= bit;
	else
		fa->nonempty[k][ri / 64] &= ~bit;
}

static void free_push(struct frame_allocator *fa, uint32_t ri,
		      unsigned int k, uint32_t i)
{
	struct frame_region *r = &fa->regions[ri];
	uint32_t *l = link_of(r, i);
	uint32_t old = r->head[k];

	l[LINK_NEXT] = old;
	l[LINK_PREV] = LINK_NIL;
	if (old != LINK_NIL)
		link_of(r, old)[LINK_PREV] = i;
	else
		nonempty_set(fa, ri, k, true);
	r->head[k] = i;
	r->state[i] = FST_FREE | k;
	fa->free_blocks[k]++;
}

/* Takes free block i off its list; its head byte is left to the caller. */
static void free_unlink(struct frame_allocator *fa, uint32_t ri,
			unsigned int k, uint32_t i)
{
	struct frame_region *r = &fa->regions[ri];
	uint32_t *l = link_of(r, i);
	uint32_t next = l[LINK_NEXT];
	uint32_t prev = l[LINK_PREV];

	if (prev != LINK_NIL)
		link_of(r, prev)[LINK_NEXT] = next;
	else
		r->head[k] = next;
	if (next != LINK_NIL)
		link_of(r, next)[LINK_PREV] = prev;
	if (r->head[k] == LINK_NIL)
		nonempty_set(fa, ri, k, false);
	fa->free_blocks[k]--;
}

/* ---- Set-up ---------------------------------------------------------- */

static void region_setup(struct frame_region *r, const struct span *s,
			 uint8_t **cursor)
{
	r->first = s->base >> FRAME_SHIFT;
	r->nframes = (s->end - s->base) >> FRAME_SHIFT;
	r->link = (uint32_t *)*cursor;
	*cursor += region_link_bytes(r->first, r->nframes);
	r->state = *cursor;
	*cursor += ALIGN_UP(r->nframes, 8);
	for (unsigned int k = 0; k < FRAME_NR_ORDERS; k++)
		r->head[k] = LINK_NIL;
}

/* Largest order whose naturally aligned block at i ends inside r. */
static unsigned int carve_order(const struct frame_region *r, uint64_t i)
{
	uint64_t f = r->first + i;
	unsigned int k = FRAME_MAX_ORDER;

	while (k > 0 && (!IS_ALIGNED(f, BIT_ULL(k)) || i + BIT_ULL(k) > r->nframes))
		k--;
	return k;
}

static void region_carve(struct frame_allocator *fa, uint32_t ri)
{
	const struct frame_region *r = &fa->regions[ri];
	uint64_t i = 0;

	while (i < r->nframes) {
		unsigned int k = carve_order(r, i);

		free_push(fa, ri, k, (uint32_t)i);
		i += BIT_ULL(k);
	}
}

int frame_init(struct frame_allocator *fa, const struct frame_map *map,
	       void *meta, uint64_t meta_bytes)
{
	struct span_set set;
	uint64_t need;
	uint8_t *cursor = meta;
	int err;

	if (!fa || !IS_ALIGNED((uintptr_t)meta, 8))
		return FRAME_EINVAL;
	err = map_normalize(map, &set);
	if (err)
		return err;
	need = spans_meta_bytes(&set);
	if (need > meta_bytes || (need && !meta))
		return FRAME_ENOMEM;
	memset(fa, 0, sizeof(*fa));
	fa->lock = (struct spinlock)SPINLOCK_INIT;
	if (need)
		memset(meta, 0, need);
	fa->nr_regions = set.n;
	for (uint32_t ri = 0; ri < set.n; ri++) {
		region_setup(&fa->regions[ri], &set.s[ri], &cursor);
		fa->total_frames += fa->regions[ri].nframes;
		region_carve(fa, ri);
	}
	return 0;
}

/* ---- Allocation ------------------------------------------------------ */

/* Lowest region with a free block of exactly order k, or -1. */
static int region_with_free(const struct frame_allocator *fa, unsigned int k)
{
	for (uint32_t w = 0; w < ARRAY_SIZE(fa->nonempty[k]); w++) {
		if (fa->nonempty[k][w])
			return (int)(w * 64 + __builtin_ctzll(fa->nonempty[k][w]));
	}
	return -1;
}

/* Takes a free order-k block, keeps its low part and frees the halves above. */
static uint64_t alloc_split(struct frame_allocator *fa, uint32_t ri,
			    unsigned int k, unsigned int order)
{
	struct frame_region *r = &fa->regions[ri];
	uint32_t i = r->head[k];

	free_unlink(fa, ri, k, i);
	while (k > order) {
		k--;
		free_push(fa, ri, k, i + (uint32_t)BIT_ULL(k));
	}
	r->state[i] = FST_USED | order;
	fa->used_blocks[order]++;
	return (r->first + i) << FRAME_SHIFT;
}

uint64_t frame_alloc(struct frame_allocator *fa, unsigned int order)
{
	uint64_t pa = FRAME_NONE;

	if (order > FRAME_MAX_ORDER)
		return FRAME_NONE;
	spin_lock(&fa->lock);
	for (unsigned int k = order; k <= FRAME_MAX_ORDER; k++) {
		int ri = region_with_free(fa, k);

		if (ri >= 0) {
			pa = alloc_split(fa, (uint32_t)ri, k, order);
			break;
		}
	}
	spin_unlock(&fa->lock);
	return pa;
}

/* ---- Lookup and free ------------------------------------------------- */

/* Index of the region holding frame f, or -1; regions are sorted. */
static int region_find(const struct frame_allocator *fa, uint64_t f)
{
	uint32_t lo = 0, hi = fa->nr_regions;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct frame_region *r = &fa->regions[mid];

		if (f < r->first)
			hi = mid;
		else if (f - r->first >= r->nframes)
			lo = mid + 1;
		else
			return (int)mid;
	}
	return -1;
}

/*
 * State byte of the block holding local frame i. Blocks are naturally
 * aligned, so the head of an order-k block holding i is i's frame rounded
 * down to 2^k frames; the first such candidate whose head records order k
 * is the block.
 */
static uint8_t block_state(const struct frame_region *r, uint32_t i)
{
	for (unsigned int k = 0; k <= FRAME_MAX_ORDER; k++) {
		uint64_t f = ALIGN_DOWN(r->first + i, BIT_ULL(k));
		uint8_t st;

		if (f < r->first)
			break;
		st = r->state[f - r->first];
		if (st && (st & FST_ORDER_MASK) == k)
			return st;
	}
	return 0;
}

/* Merges block i of order k with its free buddies, then lists the result. */
static void free_coalesce(struct frame_allocator *fa, uint32_t ri,
			  unsigned int k, uint32_t i)
{
	struct frame_region *r = &fa->regions[ri];

	for (; k < FRAME_MAX_ORDER; k++) {
		uint64_t buddy = (r->first + i) ^ BIT_ULL(k);
		uint32_t bi;

		if (buddy < r->first || buddy - r->first + BIT_ULL(k) > r->nframes)
			break;
		bi = (uint32_t)(buddy - r->first);
		if (r->state[bi] != (FST_FREE | k))
			break;
		free_unlink(fa, ri, k, bi);
		r->state[bi] = 0;
		r->state[i] = 0;
		i = MIN(i, bi);
	}
	free_push(fa, ri, k, i);
}

static int free_locked(struct frame_allocator *fa, uint64_t f, unsigned int order)
{
	int ri = region_find(fa, f);
	struct frame_region *r;
	uint32_t i;

	if (ri < 0)
		return FRAME_ENOENT;
	r = &fa->regions[ri];
	i = (uint32_t)(f - r->first);
	if (r->state[i] != (FST_USED | order))
		return (block_state(r, i) & FST_FREE) ? FRAME_EALREADY : FRAME_EINVAL;
	r->state[i] = 0;
	fa->used_blocks[order]--;
	free_coalesce(fa, (uint32_t)ri, order, i);
	return 0;
}

int frame_free(struct frame_allocator *fa, uint64_t pa, unsigned int order)
{
	int err;

	if (order > FRAME_MAX_ORDER || !IS_ALIGNED(pa, FRAME_SIZE << order))
		return FRAME_EINVAL;
	spin_lock(&fa->lock);
	err = free_locked(fa, pa >> FRAME_SHIFT, order);
	spin_unlock(&fa->lock);
	return err;
}

bool frame_is_free(struct frame_allocator *fa, uint64_t pa)
{
	bool is_free = false;
	int ri;

	spin_lock(&fa->lock);
	ri = region_find(fa, pa >> FRAME_SHIFT);
	if (ri >= 0) {
		const struct frame_region *r = &fa->regions[ri];

		is_free = block_state(r, (uint32_t)((pa >> FRAME_SHIFT) - r->first)) & FST_FREE;
	}
	spin_unlock(&fa->lock);
	return is_free;
}

void frame_get_stats(struct frame_allocator *fa, struct frame_stats *st)
{
	memset(st, 0, sizeof(*st));
	spin_lock(&fa->lock);
	for (unsigned int k = 0; k < FRAME_NR_ORDERS; k++) {
		st->free_blocks[k] = fa->free_blocks[k];
		st->used_blocks[k] = fa->used_blocks[k];
		st->free_bytes += fa->free_blocks[k] << (FRAME_SHIFT + k);
		st->used_bytes += fa->used_blocks[k] << (FRAME_SHIFT + k);
	}
	st->total_bytes = fa->total_frames << FRAME_SHIFT;
	st->nr_regions = fa->nr_regions;
	spin_unlock(&fa->lock);
}
