/*
 * Reverse maps: for a guest frame, the shadow entries that map it; for a
 * shadow page, the shadow entries that point to it (its parent PTEs). Both
 * are sets of entry pointers (uint64_t *) held in one word, struct
 * rmap_head:
 *
 *   val == 0              empty
 *   val bit 0 == 0        one entry: val is the uint64_t * itself
 *   val bit 0 == 1        val & ~1 is a struct rmap_desc *
 *
 *     head --> [desc: n <= 6 ] --more--> [desc: 6] --more--> [desc: 6] -|
 *
 * Entry pointers are 8-byte aligned, so bit 0 is free for the tag. Only
 * the first descriptor of a chain may be partly filled: additions go
 * there, and a removal fills its hole with the first descriptor's last
 * entry, so both are O(1) after the lookup. The lookup walks the chain:
 * callers that empty a set take rmap_first() each time, which the lookup
 * finds at once, and callers keep chains short (the shadow MMU caps
 * them), so that no removal is a long walk. The first descriptor also
 * knows how many follow it, so the size is O(1). Descriptors come from a
 * caller-provided pool (struct rmap_desc_pool); running out is reported,
 * never fatal, and leaves the set as it was.
 *
 * None of this locks: the caller holds the guest's MMU lock.
 */
#ifndef KEEL_EPT_RMAP_H
#define KEEL_EPT_RMAP_H

#include "arch/compiler.h"

#define RMAP_ENOENT     (-2)    /* entry not in the set, gfn out of range */
#define RMAP_ENOMEM     (-12)   /* descriptor pool empty */
#define RMAP_EINVAL     (-22)   /* bad argument */

#define RMAP_DESC_ENTRIES 6
#define RMAP_LEVELS       3     /* 4 KiB, 2 MiB, 1 GiB shadow leaves */

struct rmap_head {
	uintptr_t val;
};

struct rmap_desc {
	struct rmap_desc *more;
	uint32_t count;                 /* entries used in sptes[] */
	uint32_t depth;                 /* full descriptors after this one
					 * (kept right in the first) */
	uint64_t *sptes[RMAP_DESC_ENTRIES];
};

_Static_assert(sizeof(struct rmap_desc) == 64, "one descriptor per cache line");

struct rmap_desc_pool {
	struct rmap_desc *free;
	uint32_t nr_free;
	uint32_t nr_total;
};

/* Puts descs[0..n) on the pool's free list. */
void rmap_desc_pool_init(struct rmap_desc_pool *pool, struct rmap_desc *descs,
			 uint32_t n);

static inline bool rmap_is_empty(const struct rmap_head *head)
{
	return head->val == 0;
}

/*
 * Adds sptep (8-byte aligned, not already in the set). Returns 0,
 * RMAP_ENOMEM when a descriptor was needed and the pool is empty, or
 * RMAP_EINVAL for a misaligned pointer; on error nothing changed.
 */
int rmap_add(struct rmap_head *head, uint64_t *sptep,
	     struct rmap_desc_pool *pool);

/* Removes sptep. Returns 0, or RMAP_ENOENT (nothing changed) when absent. */
int rmap_remove(struct rmap_head *head, uint64_t *sptep,
		struct rmap_desc_pool *pool);

bool rmap_contains(const struct rmap_head *head, const uint64_t *sptep);
/* Entries in the set, in O(1). */
size_t rmap_count(const struct rmap_head *head);
/* An entry of the set (NULL if empty) that rmap_remove() finds without a
 * walk: emptying a set this way is linear in its size. */
uint64_t *rmap_first(const struct rmap_head *head);

/*
 * Iteration. The entry just returned may be removed with rmap_remove()
 * before asking for the next one (zapping does that); every other entry is
 * still returned exactly once. Nothing may be added during the walk.
 *
 *   struct rmap_iter it;
 *   for (uint64_t *p = rmap_iter_first(&it, head); p; p = rmap_iter_next(&it))
 */
struct rmap_iter {
	struct rmap_head *head;
	struct rmap_desc *desc;         /* NULL: one entry, or finished */
	struct rmap_desc *next;         /* desc->more, read on entering desc */
	int pos;                        /* index in desc of the last entry */
};

uint64_t *rmap_iter_first(struct rmap_iter *it, struct rmap_head *head);
uint64_t *rmap_iter_next(struct rmap_iter *it);

/* ---- per-guest rmap heads --------------------------------------------------
 *
 * One head per guest frame and per shadow leaf size. Level 2 heads stand
 * for 2 MiB-aligned guest ranges (a 32-bit guest's 4 MiB page is mapped by
 * two 2 MiB shadow leaves, each in the head of its own half):
 *
 *   heads  [ level 1: nr_gfns       ][ level 2: nr_gfns / 512 ][ level 3 ]
 *            rmap_slot(t, gfn, 1)      rmap_slot(t, gfn, 2)
 *                                      = index gfn >> 9
 */
struct rmap_table {
	struct rmap_head *level[RMAP_LEVELS];
	uint64_t nr_gfns;
	uint64_t nr_heads[RMAP_LEVELS];
};

/* Heads needed for a guest of nr_gfns frames (all levels). */
uint64_t rmap_table_heads(uint64_t nr_gfns);

/* Lays the table out over heads[0..nr_heads) and empties every head.
 * Returns 0, or RMAP_EINVAL when nr_heads < rmap_table_heads(nr_gfns). */
int rmap_table_init(struct rmap_table *t, struct rmap_head *heads,
		    uint64_t nr_heads, uint64_t nr_gfns);

/* The head for the level-level leaf holding gfn, or NULL out of range. */
static inline struct rmap_head *rmap_slot(const struct rmap_table *t,
					  uint64_t gfn, int level)
{
	uint64_t i;

	if (level < 1 || level > RMAP_LEVELS || gfn >= t->nr_gfns)
		return NULL;
	i = gfn >> (9 * (level - 1));
	return &t->level[level - 1][i];
}

#endif
