/*
 * Shadow pages: one descriptor per 512-entry shadow table, and the pool
 * that hands them out and finds them again.
 *
 * Memory comes from the caller, sized per guest: an array of descriptors,
 * each with its 4 KiB table already attached (spt, spt_pa), and a pool of
 * rmap descriptors for the parent-PTE lists. When every page is in use,
 * shadow_page_alloc() fails and the MMU zaps shadow_page_lru_oldest().
 *
 *   struct shadow_pool
 *   +------------------+     buckets[shadow_page_hash(gfn)]
 *   | buckets[1024]    | --> sp <-> sp <-> sp   (any gfns, any roles)
 *   | lru              | --> oldest <-> ... <-> newest   (pages in use)
 *   | free             | --> sp <-> sp ...                (pages not in use)
 *   | generation       |
 *   +------------------+
 *
 * A page is identified by (gfn, role): the guest frame whose table it
 * shadows (for a direct page, the first frame of the range it maps) and
 * its struct shadow_role. Several pages may share a gfn with different
 * roles; at most one current page has a given (gfn, role).
 *
 * Generations: shadow_pool_new_generation() makes every page in use
 * obsolete at once ("zap all" without touching them). Obsolete pages are
 * no longer found, are zapped first, and may be zapped lazily; roots the
 * vCPUs still hold stay until released. Touching an obsolete page does
 * not move it, so all obsolete pages stay ahead of current ones in the LRU.
 *
 * Unsync children: bit i of a page's unsync_child_bitmap says entry i may
 * lead to an unsync page (a guest page table Keel lets the guest write
 * without write protection, resynchronised later). Marking a page unsync
 * sets the bit in every parent entry and, where a parent had no unsync
 * children before, in its parents in turn. The bits are hints: the sync
 * walker clears those that no longer lead anywhere.
 *
 * Nothing here locks: the caller holds the guest's MMU lock.
 */
#ifndef KEEL_EPT_SHADOW_PAGE_H
#define KEEL_EPT_SHADOW_PAGE_H

#include "arch/compiler.h"
#include "ept/rmap.h"
#include "ept/shadow_pte.h"
#include "ept/shadow_role.h"

#define SHADOW_ENOENT       (-2)
#define SHADOW_ENOMEM       RMAP_ENOMEM     /* no parent-PTE descriptor */
#define SHADOW_EBUSY        (-16)   /* a root, linked, or table not empty */
#define SHADOW_EEXIST       (-17)   /* a current page has this gfn and role */
#define SHADOW_EINVAL       (-22)
#define SHADOW_ENOSPC       (-28)   /* every page of the pool is in use */

#define SHADOW_HASH_BITS    10
#define SHADOW_HASH_BUCKETS (1u << SHADOW_HASH_BITS)
#define SHADOW_TABLE_SIZE   (SHADOW_PT_ENTRIES * sizeof(uint64_t))
#define SHADOW_UNSYNC_WORDS (SHADOW_PT_ENTRIES / 64)
/* Guest writes to a shadowed table without the page being used by a walk
 * in between, after which the MMU should zap it instead of emulating. */
#define SHADOW_WRITE_FLOOD_LIMIT 3

_Static_assert(SHADOW_TABLE_SIZE == 4096, "a shadow table is one 4 KiB page");

struct shadow_list {
	struct shadow_list *next, *prev;
};

struct shadow_page {
	/* Set by the caller before shadow_pool_init(); never changed. */
	uint64_t *spt;                  /* the table, host-virtual */
	uint64_t spt_pa;                /* the table, host-physical */

	struct shadow_list hash_link;
	struct shadow_list lru_link;    /* LRU in use, else free list */
	uint64_t gfn;
	uint64_t generation;            /* pool generation at allocation */
	struct shadow_role role;
	uint32_t root_count;            /* vCPUs using it as their root */
	struct rmap_head parent_ptes;   /* shadow entries pointing here */
	uint64_t unsync_child_bitmap[SHADOW_UNSYNC_WORDS];
	uint16_t unsync_children;       /* bits set in unsync_child_bitmap */
	uint8_t write_flooding_count;
	bool unsync;
	bool in_use;
};

struct shadow_pool {
	struct shadow_page *pages;      /* sorted by spt */
	uint32_t nr_pages;
	uint32_t nr_used;
	uint64_t generation;
	struct rmap_desc_pool *descs;   /* parent-PTE list descriptors */
	struct shadow_list free;
	struct shadow_list lru;         /* oldest first */
	struct shadow_list buckets[SHADOW_HASH_BUCKETS];
};

/* ---- pool --------------------------------------------------------------- */

/*
 * Takes pages[0..n) (spt and spt_pa filled in, 4 KiB aligned, tables
 * distinct) with every page free, and descs for the parent-PTE lists.
 * Sorts pages[] by table address, so look pages up through the pool
 * afterwards. Returns 0 or SHADOW_EINVAL. About 16 KiB: make it static.
 */
int shadow_pool_init(struct shadow_pool *pool, struct shadow_page *pages,
		     uint32_t n, struct rmap_desc_pool *descs);

static inline uint32_t shadow_pool_nr_free(const struct shadow_pool *pool)
{
	return pool->nr_pages - pool->nr_used;
}

/* Makes every page now in use obsolete; returns the new generation. */
uint64_t shadow_pool_new_generation(struct shadow_pool *pool);

static inline bool is_shadow_page_obsolete(const struct shadow_pool *pool,
					   const struct shadow_page *sp)
{
	return sp->generation != pool->generation;
}

/* ---- allocation and lookup ---------------------------------------------- */

/*
 * Takes a free page for (gfn, role) with an empty (zeroed) table, newest in
 * the LRU, and stores it in *out. Returns 0, SHADOW_ENOSPC when none is
 * free, SHADOW_EEXIST when a current page has (gfn, role), SHADOW_EINVAL
 * for an invalid role; *out is NULL then.
 */
int shadow_page_alloc(struct shadow_pool *pool, uint64_t gfn,
		      struct shadow_role role, struct shadow_page **out);

/*
 * Returns sp to the pool. Returns 0; SHADOW_EBUSY (nothing done) while it
 * is a root, has parent entries, or its table holds a shadow-present entry
 * (its links into rmaps and child pages must be dropped first);
 * SHADOW_EINVAL when sp is not an in-use page of this pool.
 */
int shadow_page_free(struct shadow_pool *pool, struct shadow_page *sp);

/* The current page with (gfn, role), or NULL. */
struct shadow_page *shadow_page_find(struct shadow_pool *pool, uint64_t gfn,
				     struct shadow_role role);

/*
 * Calls fn for every page in use with this gfn, obsolete ones included
 * (they still map the frame until zapped). fn may free the page it is
 * given, and no other. A non-zero return from fn stops the walk and is
 * returned; otherwise 0.
 */
typedef int (*shadow_page_fn)(struct shadow_pool *pool, struct shadow_page *sp,
			      void *arg);
int shadow_page_for_each_gfn(struct shadow_pool *pool, uint64_t gfn,
			     shadow_page_fn fn, void *arg);

/* The bucket gfn hashes to (exposed for tests and statistics). */
static inline uint32_t shadow_page_hash(uint64_t gfn)
{
	uint64_t h = gfn * 0x9e3779b97f4a7c15ULL;     /* Fibonacci hashing */

	return (uint32_t)(h >> (64 - SHADOW_HASH_BITS));
}

/* The pool page whose table holds *sptep (in use or not), or NULL. */
struct shadow_page *shadow_page_of_spte(const struct shadow_pool *pool,
					const uint64_t *sptep);

static inline unsigned int shadow_page_spte_index(const struct shadow_page *sp,
						  const uint64_t *sptep)
{
	return (unsigned int)(sptep - sp->spt);
}

/* ---- LRU and roots ------------------------------------------------------ */

/* sp was used by a walk: newest in the LRU (obsolete pages do not move). */
void shadow_page_touch(struct shadow_pool *pool, struct shadow_page *sp);

/* The least recently used page that is not a root (obsolete pages come
 * first), or NULL. */
struct shadow_page *shadow_page_lru_oldest(struct shadow_pool *pool);

/* The oldest obsolete page that is not a root, or NULL when no obsolete
 * page is left to zap. */
struct shadow_page *shadow_pool_oldest_obsolete(struct shadow_pool *pool);

static inline void shadow_page_get_root(struct shadow_page *sp)
{
	sp->root_count++;
}

/* Returns the references left, or SHADOW_EINVAL when there were none. */
static inline int shadow_page_put_root(struct shadow_page *sp)
{
	if (!sp->root_count)
		return SHADOW_EINVAL;
	return (int)--sp->root_count;
}

/* ---- parent entries and unsync children --------------------------------- */

/*
 * Records that *sptep (an entry of a pool page one level up, or of a root
 * outside the pool) now points to sp, and marks that entry when sp is
 * unsync or has unsync children. Returns 0, SHADOW_ENOMEM (rmap
 * descriptors exhausted, nothing recorded) or SHADOW_EINVAL (sptep's page
 * is not in use or not one level above sp).
 */
int shadow_page_add_parent(struct shadow_pool *pool, struct shadow_page *sp,
			   uint64_t *sptep);

/* Forgets *sptep as a parent entry of sp and clears its unsync-child bit.
 * Returns 0 or SHADOW_ENOENT. */
int shadow_page_remove_parent(struct shadow_pool *pool, struct shadow_page *sp,
			      uint64_t *sptep);

/* Marks sp unsync and every entry on the way to it from the roots. */
void shadow_page_mark_unsync(struct shadow_pool *pool, struct shadow_page *sp);

/* sp is in sync again (its parents' bits are cleared by the sync walk). */
static inline void shadow_page_clear_unsync(struct shadow_page *sp)
{
	sp->unsync = false;
}

static inline bool is_shadow_page_unsync_child(const struct shadow_page *sp,
					       unsigned int i)
{
	return sp->unsync_child_bitmap[i / 64] & BIT_ULL(i % 64);
}

/* Clears bit i; true when sp has no unsync children left. */
bool shadow_page_clear_unsync_child(struct shadow_page *sp, unsigned int i);

/* The first index >= from with its bit set, or -1. */
int shadow_page_next_unsync_child(const struct shadow_page *sp,
				  unsigned int from);

/* ---- write flooding ----------------------------------------------------- */

/* A guest write hit the table sp shadows; true when sp should be zapped. */
static inline bool shadow_page_note_write(struct shadow_page *sp)
{
	if (sp->write_flooding_count < SHADOW_WRITE_FLOOD_LIMIT)
		sp->write_flooding_count++;
	return sp->write_flooding_count >= SHADOW_WRITE_FLOOD_LIMIT;
}

/* sp was used by a walk: the writes were not a flood. */
static inline void shadow_page_clear_write_flood(struct shadow_page *sp)
{
	sp->write_flooding_count = 0;
}

#endif
