/*
 * Reverse maps (see rmap.h for the layout).
 *
 * Invariants of a chain (head in descriptor form):
 *   - it holds at least two entries (one entry goes back into the head);
 *   - every descriptor but the first is full;
 *   - sptes[i] for i >= count is NULL;
 *   - the first descriptor's depth is the number of descriptors after it
 *     (a descriptor's depth is set when it becomes the first and holds
 *     again when it is the first once more: only the first one changes).
 */
#include "ept/rmap.h"
#include "arch/string.h"

static bool rmap_is_desc(uintptr_t val)
{
	return val & 1;
}

static struct rmap_desc *rmap_desc_of(uintptr_t val)
{
	return (struct rmap_desc *)(val & ~(uintptr_t)1);
}

static uintptr_t rmap_desc_val(struct rmap_desc *d)
{
	return d ? (uintptr_t)d | 1 : 0;
}

/* ---- descriptor pool ---------------------------------------------------- */

void rmap_desc_pool_init(struct rmap_desc_pool *pool, struct rmap_desc *descs,
			 uint32_t n)
{
	pool->free = NULL;
	for (uint32_t i = n; i-- > 0;) {
		descs[i].more = pool->free;
		pool->free = &descs[i];
	}
	pool->nr_free = n;
	pool->nr_total = n;
}

static struct rmap_desc *rmap_desc_alloc(struct rmap_desc_pool *pool)
{
	struct rmap_desc *d = pool->free;

	if (!d)
		return NULL;
	pool->free = d->more;
	pool->nr_free--;
	memset(d, 0, sizeof(*d));
	return d;
}

static void rmap_desc_free(struct rmap_desc_pool *pool, struct rmap_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->more = pool->free;
	pool->free = d;
	pool->nr_free++;
}

/* ---- add and remove ----------------------------------------------------- */

/* The head holds one entry: move both into a new descriptor. */
static int rmap_add_second(struct rmap_head *head, uint64_t *sptep,
			   struct rmap_desc_pool *pool)
{
	struct rmap_desc *d = rmap_desc_alloc(pool);

	if (!d)
		return RMAP_ENOMEM;
	d->sptes[0] = (uint64_t *)head->val;
	d->sptes[1] = sptep;
	d->count = 2;
	head->val = rmap_desc_val(d);
	return 0;
}

static int rmap_add_desc(struct rmap_head *head, uint64_t *sptep,
			 struct rmap_desc_pool *pool)
{
	struct rmap_desc *first = rmap_desc_of(head->val);
	struct rmap_desc *d;

	if (first->count < RMAP_DESC_ENTRIES) {
		first->sptes[first->count++] = sptep;
		return 0;
	}
	d = rmap_desc_alloc(pool);
	if (!d)
		return RMAP_ENOMEM;
	d->more = first;
	d->depth = first->depth + 1;
	d->sptes[0] = sptep;
	d->count = 1;
	head->val = rmap_desc_val(d);
	return 0;
}

int rmap_add(struct rmap_head *head, uint64_t *sptep,
	     struct rmap_desc_pool *pool)
{
	if (!sptep || !IS_ALIGNED((uintptr_t)sptep, sizeof(uint64_t)))
		return RMAP_EINVAL;
	if (!head->val) {
		head->val = (uintptr_t)sptep;
		return 0;
	}
	if (!rmap_is_desc(head->val))
		return rmap_add_second(head, sptep, pool);
	return rmap_add_desc(head, sptep, pool);
}

/* A chain left with one entry goes back into the head. */
static void rmap_collapse(struct rmap_head *head, struct rmap_desc_pool *pool)
{
	struct rmap_desc *d;

	if (!rmap_is_desc(head->val))
		return;
	d = rmap_desc_of(head->val);
	if (d->more || d->count != 1)
		return;
	head->val = (uintptr_t)d->sptes[0];
	rmap_desc_free(pool, d);
}

/* Drops d->sptes[i]: the first descriptor's last entry fills the hole. */
static void rmap_desc_drop(struct rmap_head *head, struct rmap_desc *d,
			   uint32_t i, struct rmap_desc_pool *pool)
{
	struct rmap_desc *first = rmap_desc_of(head->val);

	first->count--;
	d->sptes[i] = first->sptes[first->count];
	first->sptes[first->count] = NULL;
	if (first->count == 0) {
		head->val = rmap_desc_val(first->more);
		rmap_desc_free(pool, first);
	}
	rmap_collapse(head, pool);
}

int rmap_remove(struct rmap_head *head, uint64_t *sptep,
		struct rmap_desc_pool *pool)
{
	if (!rmap_is_desc(head->val)) {
		if (!sptep || head->val != (uintptr_t)sptep)
			return RMAP_ENOENT;
		head->val = 0;
		return 0;
	}
	for (struct rmap_desc *d = rmap_desc_of(head->val); d; d = d->more) {
		for (uint32_t i = 0; i < d->count; i++) {
			if (d->sptes[i] == sptep) {
				rmap_desc_drop(head, d, i, pool);
				return 0;
			}
		}
	}
	return RMAP_ENOENT;
}

/* ---- queries ------------------------------------------------------------ */

bool rmap_contains(const struct rmap_head *head, const uint64_t *sptep)
{
	if (!rmap_is_desc(head->val))
		return sptep && head->val == (uintptr_t)sptep;
	for (struct rmap_desc *d = rmap_desc_of(head->val); d; d = d->more)
		for (uint32_t i = 0; i < d->count; i++)
			if (d->sptes[i] == sptep)
				return true;
	return false;
}

size_t rmap_count(const struct rmap_head *head)
{
	const struct rmap_desc *first;

	if (!rmap_is_desc(head->val))
		return head->val ? 1 : 0;
	first = rmap_desc_of(head->val);
	return first->count + (size_t)first->depth * RMAP_DESC_ENTRIES;
}

/* The first descriptor's last entry: rmap_remove() looks there first. */
uint64_t *rmap_first(const struct rmap_head *head)
{
	const struct rmap_desc *first;

	if (!rmap_is_desc(head->val))
		return (uint64_t *)head->val;
	first = rmap_desc_of(head->val);
	return first->sptes[first->count - 1];
}

/* ---- iteration -------------------------------------------------------------
 *
 * Descriptors are visited in chain order, each from its last entry down to
 * its first. A removal of the entry at (d, i) moves the first descriptor's
 * last entry into (d, i); in this order that entry has always been visited
 * already (it is d's own last entry, or sits in an earlier descriptor), so
 * going on at (d, i - 1) neither repeats nor skips anything. A descriptor
 * that empties is the first one and is freed; the walk has left it (or is
 * at its index 0) and goes on from the saved link. A chain that falls to
 * one entry goes back into the head; then the walk was in that chain's
 * only descriptor, and the survivor is new to the walk only if the removed
 * entry was at index 1.
 */

static uint64_t *rmap_iter_enter(struct rmap_iter *it, struct rmap_desc *d)
{
	it->desc = d;
	it->next = d->more;
	it->pos = (int)d->count - 1;
	return d->sptes[it->pos];
}

uint64_t *rmap_iter_first(struct rmap_iter *it, struct rmap_head *head)
{
	*it = (struct rmap_iter){ .head = head };
	if (!head->val)
		return NULL;
	if (!rmap_is_desc(head->val))
		return (uint64_t *)head->val;
	return rmap_iter_enter(it, rmap_desc_of(head->val));
}

static uint64_t *rmap_iter_after_collapse(struct rmap_iter *it)
{
	bool unseen = it->pos > 0 && it->head->val;

	it->desc = NULL;
	return unseen ? (uint64_t *)it->head->val : NULL;
}

uint64_t *rmap_iter_next(struct rmap_iter *it)
{
	if (!it->desc)
		return NULL;
	if (!rmap_is_desc(it->head->val))
		return rmap_iter_after_collapse(it);
	if (it->pos > 0)
		return it->desc->sptes[--it->pos];
	if (!it->next) {
		it->desc = NULL;
		return NULL;
	}
	return rmap_iter_enter(it, it->next);
}

/* ---- per-guest heads ---------------------------------------------------- */

static uint64_t rmap_level_heads(uint64_t nr_gfns, int level)
{
	unsigned int shift = 9 * (unsigned int)(level - 1);

	return (nr_gfns + (1ULL << shift) - 1) >> shift;
}

uint64_t rmap_table_heads(uint64_t nr_gfns)
{
	uint64_t n = 0;

	for (int l = 1; l <= RMAP_LEVELS; l++)
		n += rmap_level_heads(nr_gfns, l);
	return n;
}

int rmap_table_init(struct rmap_table *t, struct rmap_head *heads,
		    uint64_t nr_heads, uint64_t nr_gfns)
{
	if (nr_heads < rmap_table_heads(nr_gfns) || (nr_gfns && !heads))
		return RMAP_EINVAL;
	t->nr_gfns = nr_gfns;
	for (int l = 1; l <= RMAP_LEVELS; l++) {
		t->nr_heads[l - 1] = rmap_level_heads(nr_gfns, l);
		t->level[l - 1] = heads;
		if (t->nr_heads[l - 1]) {
			memset(heads, 0, t->nr_heads[l - 1] * sizeof(*heads));
			heads += t->nr_heads[l - 1];
		}
	}
	return 0;
}
