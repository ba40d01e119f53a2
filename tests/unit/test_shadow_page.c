/*
 * Host unit tests for shadow page descriptors and their pool
 * (ept/shadow_page.c): lookup by (gfn, role) through colliding buckets,
 * per-gfn walks, LRU order, generations, unsync-children propagation
 * through a real four-level tree of tables, and random operation
 * sequences against a model that keeps the LRU as a plain array.
 */
#include "ept/shadow_page.h"
#include "tests/unit/test.h"

#define NPAGES  64

static uint64_t tables[NPAGES][SHADOW_PT_ENTRIES] __aligned(4096);
static struct shadow_page pages[NPAGES];
static struct shadow_pool pool;
static struct rmap_desc descs[256];
static struct rmap_desc_pool desc_pool;

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

/* n pages whose tables are handed out in a shuffled order, all dirty. */
static void setup_n(uint32_t n, uint64_t seed)
{
	uint32_t order[NPAGES];

	rng_state = seed;
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = rng_below(i), t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	memset(pages, 0, sizeof(pages));
	memset(tables, 0xff, sizeof(tables));
	for (uint32_t i = 0; i < n; i++) {
		pages[i].spt = tables[order[i]];
		pages[i].spt_pa = 0x40000000ULL + order[i] * 4096ULL;
	}
	rmap_desc_pool_init(&desc_pool, descs, ARRAY_SIZE(descs));
	if (shadow_pool_init(&pool, pages, n, &desc_pool))
		abort();
}

static void setup(void)
{
	setup_n(NPAGES, 1);
}

static struct shadow_role role4(int level, unsigned int acc)
{
	return make_shadow_role(level, SHADOW_GMODE_4LEVEL, 0, acc,
				SHADOW_ROLE_CR0_WP | SHADOW_ROLE_EFER_NXE);
}

static struct shadow_page *alloc_ok(uint64_t gfn, struct shadow_role r)
{
	struct shadow_page *sp;

	if (shadow_page_alloc(&pool, gfn, r, &sp))
		return NULL;
	return sp;
}

/* ---- pool set-up -------------------------------------------------------- */

TEST(pool_init_sorts_and_maps_entries)
{
	setup();
	EXPECT_EQ(shadow_pool_nr_free(&pool), NPAGES);
	for (uint32_t i = 1; i < NPAGES; i++)
		EXPECT((uintptr_t)pages[i - 1].spt < (uintptr_t)pages[i].spt);
	for (uint32_t t = 0; t < NPAGES; t++)
		for (unsigned int e = 0; e < SHADOW_PT_ENTRIES; e += 37) {
			struct shadow_page *sp = shadow_page_of_spte(&pool, &tables[t][e]);

			ASSERT(sp && sp->spt == tables[t]);
			ASSERT(shadow_page_spte_index(sp, &tables[t][e]) == e);
			ASSERT(sp->spt_pa == 0x40000000ULL + t * 4096ULL);
		}
	EXPECT(shadow_page_of_spte(&pool, &tables[NPAGES - 1][511]) != NULL);
	EXPECT(shadow_page_of_spte(&pool, &tables[NPAGES - 1][511] + 1) == NULL);
	EXPECT(shadow_page_of_spte(&pool, (uint64_t *)((uintptr_t)tables - 8)) == NULL);
	EXPECT(shadow_page_of_spte(&pool, NULL) == NULL);
}

/* Three pages on tables 0, 1 and third (pa pa2); init sorts the array, so
 * each case starts from a fresh one. */
static int init3(uint64_t *third, uint64_t pa2, struct rmap_desc_pool *dp)
{
	static struct shadow_page p[3];
	static struct shadow_pool bad;

	memset(p, 0, sizeof(p));
	p[0].spt = tables[0];
	p[1].spt = tables[1];
	p[1].spt_pa = 0x1000;
	p[2].spt = third;
	p[2].spt_pa = pa2;
	return shadow_pool_init(&bad, p, 3, dp);
}

TEST(pool_init_rejects_bad_tables)
{
	struct shadow_pool empty;

	rmap_desc_pool_init(&desc_pool, descs, ARRAY_SIZE(descs));
	EXPECT_EQ(init3(tables[2], 0x2000, &desc_pool), 0);
	EXPECT_EQ(init3(tables[0], 0x2000, &desc_pool), SHADOW_EINVAL);  /* twice */
	EXPECT_EQ(init3(&tables[2][1], 0x2000, &desc_pool), SHADOW_EINVAL);
	EXPECT_EQ(init3(&tables[0][8], 0x2000, &desc_pool), SHADOW_EINVAL);
	EXPECT_EQ(init3(NULL, 0x2000, &desc_pool), SHADOW_EINVAL);
	EXPECT_EQ(init3(tables[2], 0x2008, &desc_pool), SHADOW_EINVAL);
	EXPECT_EQ(init3(tables[2], 0x2000, NULL), SHADOW_EINVAL);
	EXPECT_EQ(shadow_pool_init(&empty, NULL, 0, &desc_pool), 0);
	EXPECT(shadow_page_of_spte(&empty, tables[0]) == NULL);
	EXPECT_EQ(shadow_pool_nr_free(&empty), 0);
}

/* ---- allocation and lookup ---------------------------------------------- */

TEST(alloc_gives_an_empty_table_and_finds_it)
{
	struct shadow_page *sp, *dup;
	struct shadow_role r = role4(1, SHADOW_ACC_ALL);

	setup();
	ASSERT(shadow_page_alloc(&pool, 0x1234, r, &sp) == 0);
	for (unsigned int i = 0; i < SHADOW_PT_ENTRIES; i++)
		ASSERT(sp->spt[i] == 0);
	EXPECT_EQ(sp->gfn, 0x1234);
	EXPECT(shadow_role_equal(sp->role, r));
	EXPECT(sp->in_use && !sp->unsync && !sp->unsync_children);
	EXPECT(shadow_page_find(&pool, 0x1234, r) == sp);
	EXPECT(shadow_page_find(&pool, 0x1235, r) == NULL);
	EXPECT(shadow_page_find(&pool, 0x1234, role4(2, SHADOW_ACC_ALL)) == NULL);
	EXPECT_EQ(shadow_page_alloc(&pool, 0x1234, r, &dup), SHADOW_EEXIST);
	EXPECT(dup == NULL);
	EXPECT_EQ(shadow_page_alloc(&pool, 1, make_shadow_role(3, SHADOW_GMODE_32,
							       0, 7, 0), &dup),
		  SHADOW_EINVAL);
	EXPECT_EQ(shadow_pool_nr_free(&pool), NPAGES - 1);
}

/* gfns that share gfn0's bucket. */
static uint32_t colliding_gfns(uint64_t gfn0, uint64_t *out, uint32_t n)
{
	uint32_t k = 0;

	for (uint64_t g = gfn0; k < n; g++)
		if (shadow_page_hash(g) == shadow_page_hash(gfn0))
			out[k++] = g;
	return k;
}

static struct shadow_role role_variant(unsigned int v)
{
	static const struct { int level; enum shadow_gmode gm; unsigned int q;
			      uint32_t f; } t[] = {
		{ 1, SHADOW_GMODE_4LEVEL, 0, 0 },
		{ 2, SHADOW_GMODE_4LEVEL, 0, 0 },
		{ 1, SHADOW_GMODE_4LEVEL, 0, SHADOW_ROLE_DIRECT },
		{ 1, SHADOW_GMODE_32, 0, 0 },
		{ 1, SHADOW_GMODE_32, 1, 0 },
		{ 2, SHADOW_GMODE_32, 3, 0 },
		{ 2, SHADOW_GMODE_PAE, 0, SHADOW_ROLE_CR0_WP },
		{ 1, SHADOW_GMODE_4LEVEL, 0, SHADOW_ROLE_SMEP_ANDNOT_WP },
	};

	return make_shadow_role(t[v % 8].level, t[v % 8].gm, t[v % 8].q,
				(v / 8) % 8, t[v % 8].f);
}

TEST(find_many_roles_in_one_bucket)
{
	uint64_t g[6];
	struct shadow_page *got[6][10];

	setup();
	ASSERT(colliding_gfns(0x777, g, 6) == 6);
	for (int i = 0; i < 6; i++)
		for (unsigned int v = 0; v < 10; v++) {
			got[i][v] = alloc_ok(g[i], role_variant(v * 7));
			ASSERT(got[i][v]);
		}
	EXPECT_EQ(shadow_pool_nr_free(&pool), NPAGES - 60);
	for (int i = 0; i < 6; i++)
		for (unsigned int v = 0; v < 10; v++) {
			EXPECT(shadow_page_find(&pool, g[i], role_variant(v * 7)) ==
			       got[i][v]);
			EXPECT(shadow_page_find(&pool, g[i], role4(3, v % 8)) == NULL);
		}
	/* A colliding gfn with nothing allocated. */
	uint64_t more[7];
	colliding_gfns(0x777, more, 7);
	EXPECT(shadow_page_find(&pool, more[6], role_variant(0)) == NULL);
	/* Freeing one leaves the others findable. */
	EXPECT_EQ(shadow_page_free(&pool, got[2][3]), 0);
	EXPECT(shadow_page_find(&pool, g[2], role_variant(21)) == NULL);
	for (int i = 0; i < 6; i++)
		for (unsigned int v = 0; v < 10; v++)
			if (i != 2 || v != 3)
				EXPECT(shadow_page_find(&pool, g[i], role_variant(v * 7)) ==
				       got[i][v]);
}

struct visit {
	struct shadow_page *seen[NPAGES];
	int n;
	uint64_t free_gfn;              /* free pages of this gfn when visited */
	int stop_after;                 /* > 0: return 99 on that visit */
};

static int visit_fn(struct shadow_pool *p, struct shadow_page *sp, void *arg)
{
	struct visit *v = arg;

	v->seen[v->n++] = sp;
	if (sp->gfn == v->free_gfn && shadow_page_free(p, sp))
		return -1;
	return v->n == v->stop_after ? 99 : 0;
}

static bool seen_exactly(const struct visit *v, struct shadow_page **want, int n)
{
	if (v->n != n)
		return false;
	for (int i = 0; i < n; i++) {
		int hits = 0;

		for (int j = 0; j < v->n; j++)
			hits += v->seen[j] == want[i];
		if (hits != 1)
			return false;
	}
	return true;
}

TEST(for_each_gfn_visits_exactly_that_gfn)
{
	uint64_t g[3];
	struct shadow_page *a[5], *b[5];
	struct visit v = { .free_gfn = ~0ULL };

	setup();
	ASSERT(colliding_gfns(0x4242, g, 3) == 3);
	for (unsigned int i = 0; i < 5; i++) {
		a[i] = alloc_ok(g[0], role_variant(i));
		b[i] = alloc_ok(g[1], role_variant(i));
		ASSERT(a[i] && b[i]);
	}
	ASSERT(alloc_ok(0x9999, role_variant(0)));
	EXPECT_EQ(shadow_page_for_each_gfn(&pool, g[0], visit_fn, &v), 0);
	EXPECT(seen_exactly(&v, a, 5));
	v = (struct visit){ .free_gfn = ~0ULL };
	EXPECT_EQ(shadow_page_for_each_gfn(&pool, g[2], visit_fn, &v), 0);
	EXPECT_EQ(v.n, 0);

	/* Stop early with a value. */
	v = (struct visit){ .free_gfn = ~0ULL, .stop_after = 2 };
	EXPECT_EQ(shadow_page_for_each_gfn(&pool, g[1], visit_fn, &v), 99);
	EXPECT_EQ(v.n, 2);

	/* The callback frees each page it is given: all visited, all gone. */
	v = (struct visit){ .free_gfn = g[0] };
	EXPECT_EQ(shadow_page_for_each_gfn(&pool, g[0], visit_fn, &v), 0);
	EXPECT(seen_exactly(&v, a, 5));
	for (unsigned int i = 0; i < 5; i++) {
		EXPECT(shadow_page_find(&pool, g[0], role_variant(i)) == NULL);
		EXPECT(shadow_page_find(&pool, g[1], role_variant(i)) == b[i]);
	}
	EXPECT_EQ(shadow_pool_nr_free(&pool), NPAGES - 6);
}

/* ---- free --------------------------------------------------------------- */

TEST(free_refuses_busy_pages)
{
	struct shadow_page *root, *child;

	setup();
	root = alloc_ok(1, role4(2, SHADOW_ACC_ALL));
	child = alloc_ok(2, role4(1, SHADOW_ACC_ALL));
	ASSERT(root && child);

	shadow_page_get_root(root);
	EXPECT_EQ(shadow_page_free(&pool, root), SHADOW_EBUSY);
	EXPECT_EQ(shadow_page_put_root(root), 0);
	EXPECT_EQ(shadow_page_put_root(root), SHADOW_EINVAL);

	root->spt[5] = make_shadow_nonleaf(child->spt_pa);
	ASSERT(shadow_page_add_parent(&pool, child, &root->spt[5]) == 0);
	EXPECT_EQ(shadow_page_free(&pool, child), SHADOW_EBUSY);     /* linked */
	EXPECT_EQ(shadow_page_free(&pool, root), SHADOW_EBUSY);      /* entry */
	EXPECT(shadow_page_find(&pool, 1, role4(2, SHADOW_ACC_ALL)) == root);

	/* Unlink as a zap would: entry, then parent link. */
	root->spt[5] = 0;
	EXPECT_EQ(shadow_page_remove_parent(&pool, child, &root->spt[5]), 0);
	EXPECT_EQ(shadow_page_remove_parent(&pool, child, &root->spt[5]),
		  SHADOW_ENOENT);
	/* An MMIO marker links nothing: the table counts as empty. */
	root->spt[9] = make_shadow_mmio(0x100, 0, 1);
	EXPECT_EQ(shadow_page_free(&pool, root), 0);
	EXPECT_EQ(shadow_page_free(&pool, child), 0);
	EXPECT_EQ(shadow_page_free(&pool, child), SHADOW_EINVAL);   /* twice */
	EXPECT_EQ(shadow_page_free(&pool, (struct shadow_page *)
				   ((char *)&pages[1] + 8)), SHADOW_EINVAL);
	EXPECT_EQ(shadow_pool_nr_free(&pool), NPAGES);
	EXPECT_EQ(desc_pool.nr_free, desc_pool.nr_total);
}

TEST(pool_exhaustion)
{
	struct shadow_page *sp, *all[NPAGES];

	setup();
	for (int i = 0; i < NPAGES; i++) {
		all[i] = alloc_ok((uint64_t)i * 3, role4(1, SHADOW_ACC_ALL));
		ASSERT(all[i]);
	}
	EXPECT_EQ(shadow_page_alloc(&pool, 1000, role4(1, 0), &sp), SHADOW_ENOSPC);
	EXPECT(sp == NULL);
	EXPECT_EQ(shadow_pool_nr_free(&pool), 0);
	/* The cap reached: zap the oldest, then allocate. */
	sp = shadow_page_lru_oldest(&pool);
	EXPECT(sp == all[0]);
	EXPECT_EQ(shadow_page_free(&pool, sp), 0);
	EXPECT(alloc_ok(1000, role4(1, 0)) == all[0]);  /* warm table reused */
	for (int i = 1; i < NPAGES; i++)
		EXPECT(shadow_page_find(&pool, (uint64_t)i * 3,
					role4(1, SHADOW_ACC_ALL)) == all[i]);
}

/* ---- LRU and generations ------------------------------------------------ */

TEST(lru_order_and_roots)
{
	struct shadow_page *a, *b, *c;

	setup();
	a = alloc_ok(10, role4(1, 0));
	b = alloc_ok(11, role4(1, 0));
	c = alloc_ok(12, role4(1, 0));
	EXPECT(shadow_page_lru_oldest(&pool) == a);
	shadow_page_touch(&pool, a);
	EXPECT(shadow_page_lru_oldest(&pool) == b);
	shadow_page_get_root(b);
	EXPECT(shadow_page_lru_oldest(&pool) == c);
	shadow_page_get_root(c);
	EXPECT(shadow_page_lru_oldest(&pool) == a);
	shadow_page_get_root(a);
	EXPECT(shadow_page_lru_oldest(&pool) == NULL);
	shadow_page_put_root(b);
	EXPECT(shadow_page_lru_oldest(&pool) == b);
	EXPECT_EQ(shadow_page_free(&pool, b), 0);
	EXPECT(shadow_page_lru_oldest(&pool) == NULL);
}

TEST(generation_makes_pages_obsolete)
{
	struct shadow_page *a, *b, *a2, *c;
	struct visit v = { .free_gfn = ~0ULL };

	setup();
	a = alloc_ok(20, role4(1, 0));
	b = alloc_ok(21, role4(1, 0));
	EXPECT(!is_shadow_page_obsolete(&pool, a));
	EXPECT(shadow_pool_oldest_obsolete(&pool) == NULL);
	EXPECT_EQ(shadow_pool_new_generation(&pool), 1);
	EXPECT(is_shadow_page_obsolete(&pool, a) && is_shadow_page_obsolete(&pool, b));
	EXPECT(shadow_page_find(&pool, 20, role4(1, 0)) == NULL);

	a2 = alloc_ok(20, role4(1, 0));         /* no EEXIST: a is obsolete */
	ASSERT(a2 && a2 != a);
	EXPECT(shadow_page_find(&pool, 20, role4(1, 0)) == a2);
	EXPECT_EQ(shadow_page_for_each_gfn(&pool, 20, visit_fn, &v), 0);
	struct shadow_page *want[] = { a, a2 };
	EXPECT(seen_exactly(&v, want, 2));

	/* Touching obsolete pages does not move them ahead of current ones. */
	shadow_page_touch(&pool, b);
	shadow_page_touch(&pool, a);
	c = alloc_ok(22, role4(1, 0));
	shadow_page_touch(&pool, a2);
	EXPECT(shadow_page_lru_oldest(&pool) == a);
	EXPECT(shadow_pool_oldest_obsolete(&pool) == a);
	shadow_page_get_root(a);                /* a vCPU still runs on it */
	EXPECT(shadow_pool_oldest_obsolete(&pool) == b);
	EXPECT(shadow_page_lru_oldest(&pool) == b);
	EXPECT_EQ(shadow_page_free(&pool, b), 0);
	EXPECT(shadow_pool_oldest_obsolete(&pool) == NULL);
	EXPECT(shadow_page_lru_oldest(&pool) == c);
	shadow_page_put_root(a);
	EXPECT(shadow_pool_oldest_obsolete(&pool) == a);
	EXPECT_EQ(shadow_page_free(&pool, a), 0);
	EXPECT(shadow_pool_oldest_obsolete(&pool) == NULL);
	EXPECT(shadow_page_lru_oldest(&pool) == c);
}

/* ---- unsync children ---------------------------------------------------- */

/* Links child under parent entry i, as the MMU does. */
static bool link(struct shadow_page *parent, unsigned int i,
		 struct shadow_page *child)
{
	parent->spt[i] = make_shadow_nonleaf(child->spt_pa);
	return shadow_page_add_parent(&pool, child, &parent->spt[i]) == 0;
}

TEST(unsync_marks_the_path_to_the_roots)
{
	struct shadow_page *l4, *l3, *l2a, *l2b, *l1a, *l1b, *l1c;

	setup();
	l4 = alloc_ok(100, role4(4, 7));
	l3 = alloc_ok(101, role4(3, 7));
	l2a = alloc_ok(102, role4(2, 7));
	l2b = alloc_ok(103, role4(2, 7));
	l1a = alloc_ok(104, role4(1, 7));
	l1b = alloc_ok(105, role4(1, 7));
	l1c = alloc_ok(106, role4(1, 7));
	ASSERT(link(l4, 7, l3) && link(l3, 8, l2a) && link(l3, 9, l2b));
	ASSERT(link(l2a, 100, l1a) && link(l2a, 101, l1b));
	ASSERT(link(l2b, 300, l1b));            /* l1b has two parents */
	EXPECT_EQ(shadow_page_add_parent(&pool, l1c, &l3->spt[50]), SHADOW_EINVAL);
	EXPECT_EQ(shadow_page_add_parent(&pool, l3, &l1c->spt[0]), SHADOW_EINVAL);

	shadow_page_mark_unsync(&pool, l1a);
	EXPECT(l1a->unsync);
	EXPECT(is_shadow_page_unsync_child(l2a, 100));
	EXPECT(is_shadow_page_unsync_child(l3, 8));
	EXPECT(is_shadow_page_unsync_child(l4, 7));
	EXPECT_EQ(l2a->unsync_children, 1);
	EXPECT_EQ(l3->unsync_children, 1);
	EXPECT_EQ(l4->unsync_children, 1);
	EXPECT_EQ(l2b->unsync_children, 0);

	shadow_page_mark_unsync(&pool, l1b);    /* both its parents */
	EXPECT(is_shadow_page_unsync_child(l2a, 101));
	EXPECT(is_shadow_page_unsync_child(l2b, 300));
	EXPECT(is_shadow_page_unsync_child(l3, 9));
	EXPECT_EQ(l2a->unsync_children, 2);
	EXPECT_EQ(l3->unsync_children, 2);
	EXPECT_EQ(l4->unsync_children, 1);
	shadow_page_mark_unsync(&pool, l1b);    /* again: nothing changes */
	EXPECT_EQ(l2a->unsync_children, 2);

	/* Linking an unsync page marks the new entry and what is above. */
	struct shadow_page *l2c = alloc_ok(107, role4(2, 7));
	ASSERT(link(l3, 10, l2c));
	EXPECT(!is_shadow_page_unsync_child(l3, 10));
	ASSERT(link(l2c, 0, l1a));
	EXPECT(is_shadow_page_unsync_child(l2c, 0));
	EXPECT(is_shadow_page_unsync_child(l3, 10));
	EXPECT_EQ(l3->unsync_children, 3);

	/* Walking the bits. */
	EXPECT_EQ(shadow_page_next_unsync_child(l2a, 0), 100);
	EXPECT_EQ(shadow_page_next_unsync_child(l2a, 101), 101);
	EXPECT_EQ(shadow_page_next_unsync_child(l2a, 102), -1);
	EXPECT_EQ(shadow_page_next_unsync_child(l3, 9), 9);
	EXPECT_EQ(shadow_page_next_unsync_child(l3, 11), -1);

	/* Unlinking clears the entry's bit; the sync walk clears the rest. */
	l2a->spt[101] = 0;
	EXPECT_EQ(shadow_page_remove_parent(&pool, l1b, &l2a->spt[101]), 0);
	EXPECT(!is_shadow_page_unsync_child(l2a, 101));
	EXPECT_EQ(l2a->unsync_children, 1);
	shadow_page_clear_unsync(l1a);
	EXPECT(shadow_page_clear_unsync_child(l2a, 100));
	EXPECT(!shadow_page_clear_unsync_child(l3, 8));
	EXPECT(!shadow_page_clear_unsync_child(l3, 8));      /* already clear */
	EXPECT_EQ(l3->unsync_children, 2);
}

TEST(unsync_bits_across_words)
{
	struct shadow_page *p, *c[8];

	setup();
	p = alloc_ok(1, role4(2, 7));
	for (unsigned int k = 0; k < 8; k++) {
		c[k] = alloc_ok(10 + k, role4(1, 7));
		ASSERT(link(p, k * 64 + 63 - k, c[k]));
		shadow_page_mark_unsync(&pool, c[k]);
	}
	EXPECT_EQ(p->unsync_children, 8);
	int i = -1, n = 0;
	while ((i = shadow_page_next_unsync_child(p, (unsigned int)(i + 1))) >= 0) {
		EXPECT_EQ(i, n * 64 + 63 - n);
		n++;
	}
	EXPECT_EQ(n, 8);
	EXPECT_EQ(shadow_page_next_unsync_child(p, 511), -1);
}

/* ---- write flooding ----------------------------------------------------- */

TEST(write_flooding)
{
	struct shadow_page *sp;

	setup();
	sp = alloc_ok(5, role4(1, 7));
	for (int i = 1; i < SHADOW_WRITE_FLOOD_LIMIT; i++)
		EXPECT(!shadow_page_note_write(sp));
	EXPECT(shadow_page_note_write(sp));
	EXPECT(shadow_page_note_write(sp));
	shadow_page_clear_write_flood(sp);
	EXPECT(!shadow_page_note_write(sp));
}

/* ---- random sequences against a model ----------------------------------- */

struct mpage {
	bool in_use;
	bool root;
	uint64_t gfn;
	struct shadow_role role;
	uint64_t gen;
};

static struct mpage mp[NPAGES];
static int mlru[NPAGES], mlru_n;
static uint64_t mgen;

static int midx(const struct shadow_page *sp)
{
	return (int)(sp - pages);
}

static void mlru_del(int i)
{
	int k = 0;

	while (mlru[k] != i)
		k++;
	memmove(&mlru[k], &mlru[k + 1], (size_t)(mlru_n - k - 1) * sizeof(int));
	mlru_n--;
}

static int mfind(uint64_t gfn, struct shadow_role r)
{
	for (int i = 0; i < NPAGES; i++)
		if (mp[i].in_use && mp[i].gfn == gfn && mp[i].gen == mgen &&
		    shadow_role_equal(mp[i].role, r))
			return i;
	return -1;
}

static bool lru_matches(void)
{
	struct shadow_list *l = pool.lru.next;
	int want_oldest = -1;

	for (int k = 0; k < mlru_n; k++, l = l->next) {
		if (l == &pool.lru ||
		    midx(container_of(l, struct shadow_page, lru_link)) != mlru[k])
			return false;
		if (want_oldest < 0 && !mp[mlru[k]].root)
			want_oldest = mlru[k];
	}
	if (l != &pool.lru)
		return false;
	struct shadow_page *o = shadow_page_lru_oldest(&pool);
	return want_oldest < 0 ? o == NULL : o && midx(o) == want_oldest;
}

static bool op_alloc(void)
{
	uint64_t gfn = rng_below(40);
	struct shadow_role r = role_variant(rng_below(6));
	struct shadow_page *sp;
	int ret = shadow_page_alloc(&pool, gfn, r, &sp);

	if (mfind(gfn, r) >= 0)
		return ret == SHADOW_EEXIST;
	if (mlru_n == NPAGES)
		return ret == SHADOW_ENOSPC;
	if (ret)
		return false;
	mp[midx(sp)] = (struct mpage){ true, false, gfn, r, mgen };
	mlru[mlru_n++] = midx(sp);
	return sp->spt[rng_below(512)] == 0;
}

static bool op_free(int i)
{
	int ret = shadow_page_free(&pool, &pages[i]);

	if (!mp[i].in_use)
		return ret == SHADOW_EINVAL;
	if (mp[i].root)
		return ret == SHADOW_EBUSY;
	if (ret)
		return false;
	mp[i].in_use = false;
	mlru_del(i);
	return true;
}

static bool op_touch(int i)
{
	if (!mp[i].in_use)
		return true;
	shadow_page_touch(&pool, &pages[i]);
	if (mp[i].gen == mgen) {
		mlru_del(i);
		mlru[mlru_n++] = i;
	}
	return true;
}

static bool op_root(int i)
{
	if (!mp[i].in_use)
		return true;
	if (mp[i].root)
		shadow_page_put_root(&pages[i]);
	else
		shadow_page_get_root(&pages[i]);
	mp[i].root = !mp[i].root;
	return true;
}

static bool op_find_and_walk(void)
{
	uint64_t gfn = rng_below(40);
	struct shadow_role r = role_variant(rng_below(6));
	struct shadow_page *sp = shadow_page_find(&pool, gfn, r);
	int want = mfind(gfn, r);
	struct visit v = { .free_gfn = ~0ULL };
	int n = 0;

	if (want < 0 ? sp != NULL : sp != &pages[want])
		return false;
	shadow_page_for_each_gfn(&pool, gfn, visit_fn, &v);
	for (int i = 0; i < NPAGES; i++)
		n += mp[i].in_use && mp[i].gfn == gfn;
	for (int k = 0; k < v.n; k++)
		if (!mp[midx(v.seen[k])].in_use || v.seen[k]->gfn != gfn)
			return false;
	return v.n == n;
}

static bool op_obsolete_zap(void)
{
	struct shadow_page *sp = shadow_pool_oldest_obsolete(&pool);
	int want = -1;

	for (int k = 0; k < mlru_n && want < 0; k++)
		if (mp[mlru[k]].gen != mgen && !mp[mlru[k]].root)
			want = mlru[k];
	if (want < 0)
		return sp == NULL;
	return sp == &pages[want] && op_free(want);
}

static bool random_step(void)
{
	uint32_t r = rng_below(1000);
	int i = (int)rng_below(NPAGES);

	if (r < 300)
		return op_alloc();
	if (r < 600)
		return op_free(i);
	if (r < 750)
		return op_touch(i);
	if (r < 800)
		return op_root(i);
	if (r < 950)
		return op_find_and_walk();
	if (r < 990)
		return op_obsolete_zap();
	shadow_pool_new_generation(&pool);
	mgen++;
	return true;
}

TEST(random_against_model)
{
	static const uint64_t seeds[] = { 1, 0xdeadbeef, 0x5151, 77 };

	for (unsigned int s = 0; s < ARRAY_SIZE(seeds); s++) {
		setup_n(NPAGES, seeds[s]);
		memset(mp, 0, sizeof(mp));
		mlru_n = 0;
		mgen = 0;
		for (int op = 0; op < 60000; op++) {
			if (!random_step() || !lru_matches() ||
			    shadow_pool_nr_free(&pool) != (uint32_t)(NPAGES - mlru_n)) {
				printf("    seed %llu op %d\n",
				       (unsigned long long)seeds[s], op);
				test_failed_now = 1;
				return;
			}
		}
	}
}

TEST_MAIN()
