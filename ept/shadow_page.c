/* Shadow page descriptors, their hash table and LRU (see shadow_page.h). */
#include "ept/shadow_page.h"
#include "arch/string.h"

/* ---- intrusive circular lists ------------------------------------------- */

static void shadow_list_init(struct shadow_list *l)
{
	l->next = l;
	l->prev = l;
}

static bool shadow_list_empty(const struct shadow_list *l)
{
	return l->next == l;
}

static void shadow_list_add_tail(struct shadow_list *head,
				 struct shadow_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static void shadow_list_del(struct shadow_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	shadow_list_init(n);
}

#define sp_of_hash(l)   container_of(l, struct shadow_page, hash_link)
#define sp_of_lru(l)    container_of(l, struct shadow_page, lru_link)

/* ---- pool set-up: pages sorted by table address ------------------------- */

static void shadow_page_swap(struct shadow_page *a, struct shadow_page *b)
{
	struct shadow_page t = *a;

	*a = *b;
	*b = t;
}

static void shadow_sift_down(struct shadow_page *p, uint32_t i, uint32_t n)
{
	for (;;) {
		uint32_t big = i, l = 2 * i + 1, r = 2 * i + 2;

		if (l < n && (uintptr_t)p[l].spt > (uintptr_t)p[big].spt)
			big = l;
		if (r < n && (uintptr_t)p[r].spt > (uintptr_t)p[big].spt)
			big = r;
		if (big == i)
			return;
		shadow_page_swap(&p[i], &p[big]);
		i = big;
	}
}

/* Heap sort: no recursion and no scratch memory. */
static void shadow_sort_pages(struct shadow_page *p, uint32_t n)
{
	for (uint32_t i = n / 2; i-- > 0;)
		shadow_sift_down(p, i, n);
	for (uint32_t end = n; end > 1; end--) {
		shadow_page_swap(&p[0], &p[end - 1]);
		shadow_sift_down(p, 0, end - 1);
	}
}

/* Tables present, aligned, and not overlapping (pages already sorted). */
static bool shadow_tables_ok(const struct shadow_page *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uintptr_t va = (uintptr_t)p[i].spt;

		if (!va || !IS_ALIGNED(va, SHADOW_TABLE_SIZE) ||
		    !IS_ALIGNED(p[i].spt_pa, SHADOW_TABLE_SIZE))
			return false;
		if (i && va - (uintptr_t)p[i - 1].spt < SHADOW_TABLE_SIZE)
			return false;
	}
	return true;
}

static void shadow_page_reset(struct shadow_page *sp)
{
	uint64_t *spt = sp->spt;
	uint64_t spt_pa = sp->spt_pa;

	memset(sp, 0, sizeof(*sp));
	sp->spt = spt;
	sp->spt_pa = spt_pa;
	shadow_list_init(&sp->hash_link);
	shadow_list_init(&sp->lru_link);
}

int shadow_pool_init(struct shadow_pool *pool, struct shadow_page *pages,
		     uint32_t n, struct rmap_desc_pool *descs)
{
	if ((n && !pages) || !descs)
		return SHADOW_EINVAL;
	shadow_sort_pages(pages, n);
	if (!shadow_tables_ok(pages, n))
		return SHADOW_EINVAL;
	pool->pages = pages;
	pool->nr_pages = n;
	pool->nr_used = 0;
	pool->generation = 0;
	pool->descs = descs;
	shadow_list_init(&pool->free);
	shadow_list_init(&pool->lru);
	for (uint32_t b = 0; b < SHADOW_HASH_BUCKETS; b++)
		shadow_list_init(&pool->buckets[b]);
	for (uint32_t i = 0; i < n; i++) {
		shadow_page_reset(&pages[i]);
		shadow_list_add_tail(&pool->free, &pages[i].lru_link);
	}
	return 0;
}

uint64_t shadow_pool_new_generation(struct shadow_pool *pool)
{
	return ++pool->generation;
}

/* ---- lookup ------------------------------------------------------------- */

static struct shadow_list *shadow_bucket(struct shadow_pool *pool, uint64_t gfn)
{
	return &pool->buckets[shadow_page_hash(gfn)];
}

struct shadow_page *shadow_page_find(struct shadow_pool *pool, uint64_t gfn,
				     struct shadow_role role)
{
	struct shadow_list *b = shadow_bucket(pool, gfn);

	for (struct shadow_list *l = b->next; l != b; l = l->next) {
		struct shadow_page *sp = sp_of_hash(l);

		if (sp->gfn == gfn && shadow_role_equal(sp->role, role) &&
		    !is_shadow_page_obsolete(pool, sp))
			return sp;
	}
	return NULL;
}

int shadow_page_for_each_gfn(struct shadow_pool *pool, uint64_t gfn,
			     shadow_page_fn fn, void *arg)
{
	struct shadow_list *b = shadow_bucket(pool, gfn);
	struct shadow_list *l, *next;

	for (l = b->next; l != b; l = next) {
		struct shadow_page *sp = sp_of_hash(l);
		int ret;

		next = l->next;
		if (sp->gfn != gfn)
			continue;
		ret = fn(pool, sp, arg);
		if (ret)
			return ret;
	}
	return 0;
}

struct shadow_page *shadow_page_of_spte(const struct shadow_pool *pool,
					const uint64_t *sptep)
{
	uintptr_t p = (uintptr_t)sptep;
	uint32_t lo = 0, hi = pool->nr_pages;

	/* The last page whose table starts at or below p. */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)pool->pages[mid].spt <= p)
			lo = mid;
		else
			hi = mid;
	}
	if (!pool->nr_pages || p < (uintptr_t)pool->pages[lo].spt ||
	    p - (uintptr_t)pool->pages[lo].spt >= SHADOW_TABLE_SIZE)
		return NULL;
	return &pool->pages[lo];
}

/* ---- allocation --------------------------------------------------------- */

static bool shadow_page_owned(const struct shadow_pool *pool,
			      const struct shadow_page *sp)
{
	uintptr_t base = (uintptr_t)pool->pages, p = (uintptr_t)sp;

	return p >= base && p < base + pool->nr_pages * sizeof(*sp) &&
	       (p - base) % sizeof(*sp) == 0;
}

int shadow_page_alloc(struct shadow_pool *pool, uint64_t gfn,
		      struct shadow_role role, struct shadow_page **out)
{
	struct shadow_page *sp;

	*out = NULL;
	if (!is_shadow_role_valid(role))
		return SHADOW_EINVAL;
	if (shadow_page_find(pool, gfn, role))
		return SHADOW_EEXIST;
	if (shadow_list_empty(&pool->free))
		return SHADOW_ENOSPC;
	sp = sp_of_lru(pool->free.next);
	shadow_list_del(&sp->lru_link);
	shadow_page_reset(sp);
	memset(sp->spt, 0, SHADOW_TABLE_SIZE);
	sp->gfn = gfn;
	sp->role = role;
	sp->generation = pool->generation;
	sp->in_use = true;
	shadow_list_add_tail(shadow_bucket(pool, gfn), &sp->hash_link);
	shadow_list_add_tail(&pool->lru, &sp->lru_link);
	pool->nr_used++;
	*out = sp;
	return 0;
}

static bool shadow_table_empty(const struct shadow_page *sp)
{
	for (unsigned int i = 0; i < SHADOW_PT_ENTRIES; i++)
		if (is_shadow_present(sp->spt[i]))
			return false;
	return true;
}

int shadow_page_free(struct shadow_pool *pool, struct shadow_page *sp)
{
	if (!shadow_page_owned(pool, sp) || !sp->in_use)
		return SHADOW_EINVAL;
	if (sp->root_count || !rmap_is_empty(&sp->parent_ptes) ||
	    !shadow_table_empty(sp))
		return SHADOW_EBUSY;
	shadow_list_del(&sp->hash_link);
	shadow_list_del(&sp->lru_link);
	shadow_page_reset(sp);
	/* Head of the free list: the next allocation reuses a warm table. */
	shadow_list_add_tail(pool->free.next, &sp->lru_link);
	pool->nr_used--;
	return 0;
}

/* ---- LRU ---------------------------------------------------------------- */

void shadow_page_touch(struct shadow_pool *pool, struct shadow_page *sp)
{
	if (!sp->in_use || is_shadow_page_obsolete(pool, sp))
		return;
	shadow_list_del(&sp->lru_link);
	shadow_list_add_tail(&pool->lru, &sp->lru_link);
}

struct shadow_page *shadow_page_lru_oldest(struct shadow_pool *pool)
{
	struct shadow_list *head = &pool->lru;

	for (struct shadow_list *l = head->next; l != head; l = l->next)
		if (!sp_of_lru(l)->root_count)
			return sp_of_lru(l);
	return NULL;
}

struct shadow_page *shadow_pool_oldest_obsolete(struct shadow_pool *pool)
{
	struct shadow_list *head = &pool->lru;

	for (struct shadow_list *l = head->next; l != head; l = l->next) {
		struct shadow_page *sp = sp_of_lru(l);

		if (!is_shadow_page_obsolete(pool, sp))
			return NULL;
		if (!sp->root_count)
			return sp;
	}
	return NULL;
}

/* ---- unsync children ---------------------------------------------------- */

static bool shadow_test_and_set_unsync(struct shadow_page *sp, unsigned int i)
{
	uint64_t *w = &sp->unsync_child_bitmap[i / 64];
	bool was = *w & BIT_ULL(i % 64);

	*w |= BIT_ULL(i % 64);
	return was;
}

static void shadow_mark_parents_unsync(struct shadow_pool *pool,
				       struct shadow_page *sp);

/*
 * Sets the bit of parent entry *sptep; a parent that gains its first unsync
 * child passes it on. Parents sit one level up (shadow_page_add_parent()
 * checks), so this recursion is at most SHADOW_MAX_LEVEL deep.
 */
static void shadow_mark_parent_entry(struct shadow_pool *pool, uint64_t *sptep)
{
	struct shadow_page *parent = shadow_page_of_spte(pool, sptep);

	if (!parent || !parent->in_use)
		return;
	if (shadow_test_and_set_unsync(parent,
				       shadow_page_spte_index(parent, sptep)))
		return;
	if (parent->unsync_children++ == 0)
		shadow_mark_parents_unsync(pool, parent);
}

static void shadow_mark_parents_unsync(struct shadow_pool *pool,
				       struct shadow_page *sp)
{
	struct rmap_iter it;

	for (uint64_t *p = rmap_iter_first(&it, &sp->parent_ptes); p;
	     p = rmap_iter_next(&it))
		shadow_mark_parent_entry(pool, p);
}

void shadow_page_mark_unsync(struct shadow_pool *pool, struct shadow_page *sp)
{
	if (sp->unsync)
		return;
	sp->unsync = true;
	shadow_mark_parents_unsync(pool, sp);
}

bool shadow_page_clear_unsync_child(struct shadow_page *sp, unsigned int i)
{
	uint64_t *w = &sp->unsync_child_bitmap[i / 64];

	if (*w & BIT_ULL(i % 64)) {
		*w &= ~BIT_ULL(i % 64);
		sp->unsync_children--;
	}
	return sp->unsync_children == 0;
}

int shadow_page_next_unsync_child(const struct shadow_page *sp,
				  unsigned int from)
{
	for (unsigned int w = from / 64; w < SHADOW_UNSYNC_WORDS; w++) {
		uint64_t bits = sp->unsync_child_bitmap[w];

		if (w == from / 64)
			bits &= ~0ULL << (from % 64);
		if (bits)
			return (int)(w * 64) + __builtin_ctzll(bits);
	}
	return -1;
}

/* ---- parent entries ----------------------------------------------------- */

int shadow_page_add_parent(struct shadow_pool *pool, struct shadow_page *sp,
			   uint64_t *sptep)
{
	struct shadow_page *parent = shadow_page_of_spte(pool, sptep);
	int ret;

	if (!sp->in_use)
		return SHADOW_EINVAL;
	if (parent && (!parent->in_use || shadow_role_level(parent->role) !=
					  shadow_role_level(sp->role) + 1))
		return SHADOW_EINVAL;
	ret = rmap_add(&sp->parent_ptes, sptep, pool->descs);
	if (ret)
		return ret == RMAP_ENOMEM ? SHADOW_ENOMEM : SHADOW_EINVAL;
	if (sp->unsync || sp->unsync_children)
		shadow_mark_parent_entry(pool, sptep);
	return 0;
}

int shadow_page_remove_parent(struct shadow_pool *pool, struct shadow_page *sp,
			      uint64_t *sptep)
{
	struct shadow_page *parent;

	if (rmap_remove(&sp->parent_ptes, sptep, pool->descs))
		return SHADOW_ENOENT;
	parent = shadow_page_of_spte(pool, sptep);
	if (parent)
		shadow_page_clear_unsync_child(
			parent, shadow_page_spte_index(parent, sptep));
	return 0;
}
