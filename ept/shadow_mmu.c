/*
 * The shadow MMU (see ept/shadow_mmu.h for the picture). Everything here
 * runs under the guest's MMU lock; VMCS work is the caller's (vmx/).
 */
#include "ept/shadow_mmu.h"
#include "guest/hypercall.h"
#include "guest/guest.h"
#include "guest/mmio.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "arch/string.h"
#include "arch/msr.h"
#include "arch/x86.h"
#include "drivers/printk.h"

unsigned int shadow_pool_pages = SHADOW_DEFAULT_PAGES;
bool shadow_unsync_default = true;
bool shadow_root_cache_default = true;

#define GPTE_ADDR       GENMASK_ULL(51, 12)
#define GPTE32_ADDR     GENMASK_ULL(31, 12)
#define PAE_PDPTE_P     BIT_ULL(0)

/* ---- small helpers ------------------------------------------------------ */

static struct shadow_mmu *mmu_of(struct guest *g)
{
	return g->mmu;
}

static struct shadow_page *child_of(struct shadow_mmu *m, uint64_t spte)
{
	return shadow_page_of_spte(&m->pool,
				   phys_to_virt(spte & SHADOW_PTE_ADDR_MASK));
}

static enum shadow_gmode gmode_of(const struct shadow_regs *r)
{
	if (!(r->cr0 & X86_CR0_PG))
		return SHADOW_GMODE_NONE;
	if (!(r->cr4 & X86_CR4_PAE))
		return SHADOW_GMODE_32;
	if (!(r->efer & EFER_LMA))
		return SHADOW_GMODE_PAE;
	return SHADOW_GMODE_4LEVEL;
}

/* The role of a root's pages: level 4, or the level-2 pages a PAE-format
 * root points at. Without paging the pages are direct and nothing of the
 * guest's registers matters to them. */
static struct shadow_role base_role(const struct shadow_regs *r)
{
	enum shadow_gmode gm = gmode_of(r);
	bool wp = r->cr0 & X86_CR0_WP;
	uint32_t f = 0;

	if (gm == SHADOW_GMODE_NONE)
		return make_shadow_role(2, gm, 0, SHADOW_ACC_ALL,
					SHADOW_ROLE_DIRECT);
	if (wp)
		f |= SHADOW_ROLE_CR0_WP;
	if (r->efer & EFER_NXE)
		f |= SHADOW_ROLE_EFER_NXE;
	if ((r->cr4 & X86_CR4_SMEP) && !wp)
		f |= SHADOW_ROLE_SMEP_ANDNOT_WP;
	if ((r->cr4 & X86_CR4_SMAP) && !wp)
		f |= SHADOW_ROLE_SMAP_ANDNOT_WP;
	return make_shadow_role(gm == SHADOW_GMODE_4LEVEL ? 4 : 2, gm, 0,
				SHADOW_ACC_ALL, f);
}

/* U/W/X a guest entry grants (SDM Vol. 3A 4.6): XD only counts with NXE. */
static unsigned int gpte_rights(uint64_t gpte, bool nxe)
{
	unsigned int acc = 0;

	if (gpte & EMUL_PTE_RW)
		acc |= SHADOW_ACC_W;
	if (gpte & EMUL_PTE_US)
		acc |= SHADOW_ACC_U;
	if (!(nxe && (gpte & EMUL_PTE_XD)))
		acc |= SHADOW_ACC_X;
	return acc;
}

/* Rights of the guest entries at levels [level, path->levels]; the PAE
 * PDPTEs grant everything (they have no R/W, U/S or XD bits). */
static unsigned int path_rights(const struct emul_walk_path *p,
				unsigned int level, bool nxe)
{
	unsigned int acc = SHADOW_ACC_ALL;

	for (unsigned int l = level; l <= p->levels; l++) {
		if (p->mode == EMUL_PAGING_PAE && l == 3)
			continue;
		acc &= gpte_rights(p->pte[l], nxe);
	}
	return acc;
}

/* PAT:PCD:PWT of a guest leaf (PAT is bit 12 in a large page). */
static unsigned int gpte_pat_index(uint64_t gpte, bool large)
{
	uint64_t pat = large ? BIT_ULL(12) : BIT_ULL(7);

	return ((gpte & SHADOW_PTE_PWT) ? 1 : 0) |
	       ((gpte & SHADOW_PTE_PCD) ? 2 : 0) | ((gpte & pat) ? 4 : 0);
}

static void stats_pages(struct shadow_mmu *m)
{
	if (m->pool.nr_used > m->st.pages_peak)
		m->st.pages_peak = m->pool.nr_used;
}

/* ---- reverse maps and write protection ---------------------------------- */

static void drop_leaf(struct guest *g, struct shadow_mmu *m, uint64_t *sptep);

/* Drops every leaf that maps the frame of h, each found without a walk. */
static void drop_leaves_of(struct guest *g, struct shadow_mmu *m,
			   struct rmap_head *h)
{
	for (uint64_t *p; (p = rmap_first(h));) {
		drop_leaf(g, m, p);
		m->st.zaps[SHADOW_ZAP_ALIAS]++;
	}
}

static void rmap_put(struct guest *g, struct shadow_mmu *m, uint64_t *sptep,
		     uint64_t gfn)
{
	struct rmap_head *h = rmap_slot(&m->rmaps, gfn, 1);

	if (!h)
		return;
	if (rmap_count(h) >= SHADOW_RMAP_MAX)
		drop_leaves_of(g, m, h);
	if (rmap_add(h, sptep, &m->descs) == 0)
		m->st.rmap_entries++;
}

static void drop_leaf(struct guest *g, struct shadow_mmu *m, uint64_t *sptep)
{
	uint64_t old = shadow_pte_xchg(sptep, 0);
	struct rmap_head *h;

	if (!is_shadow_present(old))
		return;
	h = rmap_slot(&m->rmaps,
		      guest_hpa_to_gpa(g, shadow_pte_hpa(old, 1)) >> PAGE_SHIFT,
		      1);
	if (h && rmap_remove(h, sptep, &m->descs) == 0)
		m->st.rmap_entries--;
	m->flush = true;
}

/* Clears entry i of sp, unlinking the leaf from its rmap or the child
 * page from its parents. */
static void drop_spte(struct guest *g, struct shadow_mmu *m,
		      struct shadow_page *sp, unsigned int i)
{
	uint64_t *sptep = &sp->spt[i], spte = *sptep;

	if (!spte)
		return;
	if (is_shadow_mmio(spte)) {
		*sptep = 0;
		return;
	}
	if (shadow_role_level(sp->role) == 1) {
		drop_leaf(g, m, sptep);
		return;
	}
	*sptep = 0;
	shadow_page_remove_parent(&m->pool, child_of(m, spte), sptep);
	m->flush = true;
}

/* The frame now holds a guest table Keel shadows: no leaf may write it. */
static void write_protect_gfn(struct shadow_mmu *m, uint64_t gfn)
{
	struct rmap_head *h = rmap_slot(&m->rmaps, gfn, 1);
	struct rmap_iter it;

	if (!h)
		return;
	for (uint64_t *p = rmap_iter_first(&it, h); p; p = rmap_iter_next(&it)) {
		uint64_t old = *p, new = shadow_pte_wp_track(old);

		if (new != old) {
			shadow_pte_xchg(p, new);
			m->flush = true;
		}
	}
}

static void track_gfn(struct shadow_mmu *m, uint64_t gfn)
{
	bool was = page_track_is_tracked(&m->track, gfn);

	if (page_track_add(&m->track, gfn) == 0 && !was)
		write_protect_gfn(m, gfn);
}

/* ---- zapping ------------------------------------------------------------- */

/* sp is back in sync (or going): the counters follow. */
static void unsync_done(struct shadow_mmu *m, struct shadow_page *sp)
{
	shadow_page_clear_unsync(sp);
	m->st.unsync_now--;
	if (shadow_role_level(sp->role) > 1)
		m->unsync_nonleaf--;
}

/*
 * Empties sp and, unless a vCPU holds it as a root, unlinks it from its
 * parents, stops tracking its guest table and frees it. A root stays,
 * empty, and is refilled on use.
 */
/* Clears every entry that points to sp, each found without a walk. */
static void unlink_parents(struct shadow_mmu *m, struct shadow_page *sp)
{
	for (uint64_t *p; (p = rmap_first(&sp->parent_ptes));) {
		*p = 0;
		shadow_page_remove_parent(&m->pool, sp, p);
	}
	m->flush = true;
}

static void zap_page(struct guest *g, struct shadow_mmu *m,
		     struct shadow_page *sp, enum shadow_zap_cause why)
{
	for (unsigned int i = 0; i < SHADOW_PT_ENTRIES; i++)
		drop_spte(g, m, sp, i);
	m->st.zaps[why]++;
	if (sp->root_count)
		return;
	unlink_parents(m, sp);
	if (sp->unsync) {
		unsync_done(m, sp);
	} else if (!is_shadow_role_direct(sp->role)) {
		page_track_remove(&m->track, sp->gfn);
	}
	m->flush = true;
	shadow_page_free(&m->pool, sp);
}

/* Frees pages until n are free and descriptors are at hand: obsolete
 * pages first, then the least recently used. */
static bool make_room(struct guest *g, struct shadow_mmu *m, unsigned int n)
{
	while (shadow_pool_nr_free(&m->pool) < n ||
	       m->descs.nr_free < 2 * SHADOW_MAX_LEVEL) {
		struct shadow_page *sp = shadow_pool_oldest_obsolete(&m->pool);
		enum shadow_zap_cause why = SHADOW_ZAP_OBSOLETE;

		if (!sp) {
			sp = shadow_page_lru_oldest(&m->pool);
			why = SHADOW_ZAP_LRU;
		}
		if (!sp)
			return false;
		zap_page(g, m, sp, why);
	}
	return true;
}

/* ---- leaves -------------------------------------------------------------- */

/* A 4 KiB leaf for guest frame gfn with rights acc; 0 if gfn is not RAM. */
static uint64_t make_leaf(struct guest *g, struct shadow_mmu *m,
			  struct shadow_role role, uint64_t gfn,
			  unsigned int acc, uint64_t gpte, bool large)
{
	uint64_t hpa = guest_gpa_to_hpa(g, gfn << PAGE_SHIFT);
	unsigned int opts = SHADOW_LEAF_HOST_WRITABLE;
	uint64_t spte;

	if (hpa == GUEST_NO_HPA)
		return 0;
	if (page_track_is_tracked(&m->track, gfn))
		opts |= SHADOW_LEAF_WRITE_TRACKED;
	if (unlikely(g->shadow_dirty_log))
		opts |= SHADOW_LEAF_DIRTY_LOG;
	spte = make_shadow_leaf(hpa, 1, acc, gpte_pat_index(gpte, large), opts);
	/* Protection keys apply through the real CR4.PKE, which is the
	 * guest's (4-level paging only, SDM Vol. 3A 4.6.2). */
	if (shadow_role_gmode(role) == SHADOW_GMODE_4LEVEL)
		spte |= gpte & SHADOW_PTE_PKEY;
	return spte;
}

static void install_leaf(struct guest *g, struct shadow_mmu *m,
			 uint64_t *sptep, uint64_t spte, uint64_t gfn)
{
	uint64_t old = *sptep;

	if (is_shadow_present(old)) {
		if (shadow_pte_hpa(old, 1) == shadow_pte_hpa(spte, 1)) {
			if ((old & ~(SHADOW_PTE_A | SHADOW_PTE_D)) !=
			    (spte & ~(SHADOW_PTE_A | SHADOW_PTE_D)))
				m->flush = true;
			shadow_pte_xchg(sptep, spte);
			return;
		}
		drop_leaf(g, m, sptep);
	}
	shadow_pte_xchg(sptep, spte);
	rmap_put(g, m, sptep, gfn);
}

/* ---- pages --------------------------------------------------------------- */

static int sync_page(struct guest *g, struct shadow_mmu *m,
		     struct shadow_page *sp);
static void sync_children(struct guest *g, struct shadow_mmu *m,
			  struct shadow_page *sp);

static int sync_if_unsync(struct shadow_pool *pool, struct shadow_page *sp,
			  void *arg)
{
	(void)pool;
	if (sp->unsync)
		sync_page(arg, mmu_of(arg), sp);
	return 0;
}

/* The page for (gfn, role), found or made, and in sync. A new page that
 * shadows a guest table tracks it; unsync pages of that table are synced
 * first, so a tracked table never has unsync shadows. */
static struct shadow_page *get_page(struct guest *g, struct shadow_mmu *m,
				    uint64_t gfn, struct shadow_role role)
{
	struct shadow_page *sp = shadow_page_find(&m->pool, gfn, role);

	/* An unsync page being linked again may be stale: the guest could
	 * change its entries while no live address space reached it (no flush
	 * was due) and link it back without one either (P 0 -> 1). */
	if (sp && sp->unsync)
		sync_page(g, m, sp);
	else if (sp && sp->unsync_children)
		sync_children(g, m, sp);        /* the same, further down */
	if (sp)
		return sp;
	if (!is_shadow_role_direct(role))
		shadow_page_for_each_gfn(&m->pool, gfn, sync_if_unsync, g);
	if (shadow_page_alloc(&m->pool, gfn, role, &sp))
		return NULL;
	if (!is_shadow_role_direct(role))
		track_gfn(m, gfn);
	stats_pages(m);
	return sp;
}

/*
 * The child of shadow page sp (at level) on the way to la, as (gfn, role):
 * a shadow of the guest table the walk used one level down, or a direct
 * page when sp is direct or the guest mapped a large page at this level
 * or above (the direct page maps the part of it that the child covers,
 * with the rights leaf_acc its leaves get, shadow_leaf_access()).
 */
static void child_key(const struct shadow_page *sp, int level, uint64_t la,
		      const struct emul_walk_path *p, bool nxe,
		      unsigned int leaf_acc, uint64_t *gfn,
		      struct shadow_role *out)
{
	struct shadow_role role = shadow_role_with_level(sp->role, level - 1);
	unsigned int lv = (unsigned int)level;

	if (is_shadow_role_direct(sp->role) || !p->levels || p->leaf >= lv) {
		uint64_t cover = shadow_level_size(level);

		*gfn = (p->gpa & ~(cover - 1)) >> PAGE_SHIFT;
		role = shadow_role_with_direct(role, true);
		role = shadow_role_with_quadrant(role, 0);
		if (p->levels)
			role = shadow_role_with_access(role, leaf_acc);
	} else {
		*gfn = p->pte_gpa[lv - 1] >> PAGE_SHIFT;
		role = shadow_role_with_access(role, path_rights(p, lv, nxe));
		role = shadow_role_with_quadrant(role,
			shadow_role_has_4_byte_gpte(role) ?
			shadow_quadrant(la, level - 1) : 0);
	}
	*out = role;
}

/* ---- unsync -------------------------------------------------------------- */

static int unsync_blocker(struct shadow_pool *pool, struct shadow_page *sp,
			  void *arg)
{
	(void)pool;
	(void)arg;
	return !is_shadow_role_direct(sp->role) &&
	       shadow_role_level(sp->role) > 1;
}

static int unsync_one(struct shadow_pool *pool, struct shadow_page *sp,
		      void *arg)
{
	struct shadow_mmu *m = arg;

	if (is_shadow_role_direct(sp->role) || sp->unsync)
		return 0;
	shadow_page_mark_unsync(pool, sp);
	page_track_remove(&m->track, sp->gfn);
	m->st.unsync_now++;
	m->st.unsync_total++;
	if (shadow_role_level(sp->role) > 1)    /* shadow_unprotect() */
		m->unsync_nonleaf++;
	return 0;
}

/* Lets the guest write its page table gfn without exits, when every
 * shadow of it is a leaf table (KVM's rule: upper levels stay tracked). */
static bool try_unsync(struct shadow_mmu *m, uint64_t gfn)
{
	if (!m->unsync_on ||
	    shadow_page_for_each_gfn(&m->pool, gfn, unsync_blocker, NULL))
		return false;
	shadow_page_for_each_gfn(&m->pool, gfn, unsync_one, m);
	return !page_track_is_tracked(&m->track, gfn);
}

/* The guest entry behind entry i of sp, read from guest RAM. */
static bool read_gpte(struct guest *g, const struct shadow_page *sp,
		      unsigned int i, uint64_t *gpte)
{
	unsigned int size = shadow_role_gpte_size(sp->role);
	uint64_t gpa = (sp->gfn << PAGE_SHIFT) +
		       shadow_role_gpte_index(sp->role, i) * size;

	*gpte = 0;
	return guest_read(g, gpa, gpte, size);
}

/* What entry i of level-1 page sp should hold for guest entry gpte, or 0
 * to leave it empty (not present, not accessed, reserved bits, not RAM:
 * the next access faults and is walked). */
static uint64_t leaf_for_gpte(struct guest *g, struct shadow_mmu *m,
			      const struct shadow_page *sp, uint64_t gpte)
{
	bool four = shadow_role_has_4_byte_gpte(sp->role);
	bool nxe = shadow_role_efer_nxe(sp->role);
	unsigned int acc;
	uint64_t gfn;

	if ((gpte & (EMUL_PTE_P | EMUL_PTE_A)) != (EMUL_PTE_P | EMUL_PTE_A))
		return 0;
	if (!four && ((gpte & GENMASK_ULL(51, 40)) ||
		      (!nxe && (gpte & EMUL_PTE_XD))))
		return 0;
	gfn = (gpte & (four ? GPTE32_ADDR : GPTE_ADDR)) >> PAGE_SHIFT;
	acc = shadow_role_access(sp->role) & gpte_rights(gpte, nxe);
	if (!(gpte & EMUL_PTE_D))
		acc &= ~SHADOW_ACC_W;
	return make_leaf(g, m, sp->role, gfn, acc, gpte, false);
}

/* An upper-level table out of sync (only after a write Keel could not
 * emulate, shadow_unprotect()) loses every entry: what is used again is
 * refilled from the guest's tables, as the flush that brings the sync
 * lets the processor do. */
static void sync_upper(struct guest *g, struct shadow_mmu *m,
		       struct shadow_page *sp)
{
	for (unsigned int i = 0; i < SHADOW_PT_ENTRIES; i++) {
		if (sp->spt[i])
			m->st.zaps[SHADOW_ZAP_SYNC]++;
		drop_spte(g, m, sp, i);
	}
}

/* A leaf table: entries whose frame changed are dropped; the rest get the
 * rights the guest's entry grants now. */
static void sync_leaves(struct guest *g, struct shadow_mmu *m,
			struct shadow_page *sp)
{
	for (unsigned int i = 0; i < SHADOW_PT_ENTRIES; i++) {
		uint64_t *sptep = &sp->spt[i], spte = *sptep, gpte, want;

		if (!spte)
			continue;
		if (!is_shadow_present(spte) || !read_gpte(g, sp, i, &gpte)) {
			drop_spte(g, m, sp, i);
			continue;
		}
		want = leaf_for_gpte(g, m, sp, gpte);
		if (!want || shadow_pte_hpa(want, 1) != shadow_pte_hpa(spte, 1)) {
			drop_spte(g, m, sp, i);
			m->st.zaps[SHADOW_ZAP_SYNC]++;
		} else if ((want ^ spte) & ~(SHADOW_PTE_A | SHADOW_PTE_D)) {
			shadow_pte_xchg(sptep, want);
			m->flush = true;
		}
	}
}

/* Brings an unsync table back in line with the guest's and tracks it
 * again. */
static int sync_page(struct guest *g, struct shadow_mmu *m,
		     struct shadow_page *sp)
{
	if (shadow_role_level(sp->role) > 1)
		sync_upper(g, m, sp);
	else
		sync_leaves(g, m, sp);
	unsync_done(m, sp);
	m->st.syncs++;
	track_gfn(m, sp->gfn);
	return 0;
}

/* Syncs every unsync page below sp that its unsync-child bits lead to. */
static void sync_children(struct guest *g, struct shadow_mmu *m,
			  struct shadow_page *sp)
{
	for (int i = shadow_page_next_unsync_child(sp, 0); i >= 0;
	     i = shadow_page_next_unsync_child(sp, (unsigned int)i + 1)) {
		uint64_t spte = sp->spt[i];
		struct shadow_page *c = is_shadow_present(spte) ?
					child_of(m, spte) : NULL;

		if (c && c->unsync)
			sync_page(g, m, c);
		else if (c && c->unsync_children)
			sync_children(g, m, c);
		shadow_page_clear_unsync_child(sp, (unsigned int)i);
	}
}

static void sync_root_page(struct guest *g, struct shadow_mmu *m,
			   struct shadow_page *sp)
{
	if (sp->unsync)                 /* shadow_unprotect() */
		sync_page(g, m, sp);
	if (sp->unsync_children)
		sync_children(g, m, sp);
}

static void sync_root(struct guest *g, struct shadow_mmu *m,
		      struct shadow_root *rt)
{
	if (rt->sp) {
		sync_root_page(g, m, rt->sp);
		return;
	}
	for (int i = 0; i < 4; i++)
		if (rt->pd[i])
			sync_root_page(g, m, rt->pd[i]);
}

/* ---- roots --------------------------------------------------------------- */

static void root_put_page(struct guest *g, struct shadow_mmu *m,
			  struct shadow_page *sp)
{
	if (shadow_page_put_root(sp) == 0 &&
	    (is_shadow_page_obsolete(&m->pool, sp) || !m->root_cache_on))
		zap_page(g, m, sp, is_shadow_page_obsolete(&m->pool, sp) ?
			 SHADOW_ZAP_OBSOLETE : SHADOW_ZAP_LRU);
}

static void root_release(struct guest *g, struct shadow_mmu *m,
			 struct shadow_root *rt)
{
	if (!rt->valid)
		return;
	if (rt->sp)
		root_put_page(g, m, rt->sp);
	for (int i = 0; i < 4; i++) {
		struct shadow_page *pd = rt->pd[i];

		if (!pd)
			continue;
		shadow_page_remove_parent(&m->pool, pd, &rt->pdpt[i]);
		rt->pdpt[i] = 0;
		rt->pd[i] = NULL;
		root_put_page(g, m, pd);
	}
	rt->sp = NULL;
	rt->valid = false;
	m->flush = true;
}

static bool root_obsolete(const struct shadow_mmu *m,
			  const struct shadow_root *rt)
{
	if (rt->sp)
		return is_shadow_page_obsolete(&m->pool, rt->sp);
	for (int i = 0; i < 4; i++)
		if (rt->pd[i] && is_shadow_page_obsolete(&m->pool, rt->pd[i]))
			return true;
	return false;
}

static uint64_t root_cr3_bits(const struct shadow_regs *r,
			      enum shadow_gmode gm)
{
	switch (gm) {
	case SHADOW_GMODE_NONE:   return 0;
	case SHADOW_GMODE_32:     return r->cr3 & GPTE32_ADDR;
	case SHADOW_GMODE_PAE:    return r->cr3 & GENMASK_ULL(31, 5);
	default:                  return r->cr3 & GPTE_ADDR;
	}
}

static bool root_matches(const struct shadow_mmu *m,
			 const struct shadow_root *rt,
			 const struct shadow_regs *r, struct shadow_role role)
{
	enum shadow_gmode gm = shadow_role_gmode(role);

	if (!rt->valid || rt->role != role.word ||
	    rt->cr3 != root_cr3_bits(r, gm) || root_obsolete(m, rt))
		return false;
	return gm != SHADOW_GMODE_PAE ||
	       !memcmp(rt->pdpte, r->pdpte, sizeof(rt->pdpte));
}

/* The level-2 page PDPT entry i of a PAE-format root points at. */
static struct shadow_page *root_pd(struct guest *g, struct shadow_mmu *m,
				   const struct shadow_regs *r,
				   struct shadow_role role, int i)
{
	switch (shadow_role_gmode(role)) {
	case SHADOW_GMODE_NONE:
		return get_page(g, m, (uint64_t)i << 18, role);
	case SHADOW_GMODE_32:
		return get_page(g, m, (r->cr3 & GPTE32_ADDR) >> PAGE_SHIFT,
				shadow_role_with_quadrant(role, (unsigned int)i));
	default:
		if (!(r->pdpte[i] & PAE_PDPTE_P))
			return NULL;
		return get_page(g, m, (r->pdpte[i] & GPTE_ADDR) >> PAGE_SHIFT,
				role);
	}
}

static bool root_build(struct guest *g, struct shadow_mmu *m,
		       struct shadow_root *rt, const struct shadow_regs *r,
		       struct shadow_role role)
{
	enum shadow_gmode gm = shadow_role_gmode(role);

	rt->role = role.word;
	rt->cr3 = root_cr3_bits(r, gm);
	if (gm == SHADOW_GMODE_PAE)
		memcpy(rt->pdpte, r->pdpte, sizeof(rt->pdpte));
	rt->valid = true;
	if (gm == SHADOW_GMODE_4LEVEL) {
		rt->sp = get_page(g, m, rt->cr3 >> PAGE_SHIFT, role);
		if (!rt->sp)
			return rt->valid = false;
		shadow_page_get_root(rt->sp);
		return true;
	}
	for (int i = 0; i < 4; i++) {
		struct shadow_page *pd = root_pd(g, m, r, role, i);

		rt->pdpt[i] = 0;
		if (!pd)
			continue;
		shadow_page_get_root(pd);
		rt->pd[i] = pd;
		rt->pdpt[i] = pd->spt_pa | PAE_PDPTE_P;
		shadow_page_add_parent(&m->pool, pd, &rt->pdpt[i]);
	}
	return true;
}

/* Moves slot i to the front, the others down by one. */
static void roots_rotate(struct shadow_vcpu *sv, int i)
{
	struct shadow_root tmp = sv->roots[i];

	for (; i > 0; i--)
		sv->roots[i] = sv->roots[i - 1];
	sv->roots[0] = tmp;
}

static uint64_t root_hpa(const struct shadow_root *rt)
{
	return rt->sp ? rt->sp->spt_pa : rt->pdpt_pa;
}

uint64_t shadow_load_root(struct guest *g, struct shadow_vcpu *sv,
			  const struct shadow_regs *r)
{
	struct shadow_mmu *m = mmu_of(g);
	struct shadow_role role = base_role(r);
	int hit = -1, slots = m->root_cache_on ? SHADOW_ROOT_SLOTS : 1;
	uint64_t hpa = 0;

	spin_lock(&m->lock);
	m->st.cr3_loads++;
	for (int i = 0; i < slots && hit < 0; i++)
		if (root_matches(m, &sv->roots[i], r, role))
			hit = i;
	if (hit >= 0) {
		roots_rotate(sv, hit);
		m->st.root_hits++;
	} else {
		roots_rotate(sv, slots - 1);
		root_release(g, m, &sv->roots[0]);
		m->st.root_builds++;
		if (!make_room(g, m, 5) ||
		    !root_build(g, m, &sv->roots[0], r, role))
			goto out;
	}
	sync_root(g, m, &sv->roots[0]);
	hpa = root_hpa(&sv->roots[0]);
out:
	spin_unlock(&m->lock);
	return hpa;
}

/* ---- filling after a #PF ------------------------------------------------- */

/* acc: the leaf's rights, shadow_leaf_access(). */
static enum shadow_fill_result fill_leaf(struct guest *g,
					 struct shadow_mmu *m,
					 struct shadow_page *sp, uint64_t la,
					 unsigned int access, unsigned int acc,
					 const struct emul_walk_path *p)
{
	uint64_t *sptep = &sp->spt[shadow_index(la, 1)];
	uint64_t gfn = p->gpa >> PAGE_SHIFT, gpte = p->levels ? p->pte[p->leaf] : 0;
	uint64_t spte;

	if (guest_gpa_to_hpa(g, p->gpa & ~(uint64_t)(PAGE_SIZE - 1)) ==
	    GUEST_NO_HPA) {
		if (!mmio_find(g, p->gpa))
			return SHADOW_FILL_NO_MEMORY;
		drop_spte(g, m, sp, shadow_index(la, 1));
		if (shadow_mmio_possible(m->maxphyaddr) &&
		    gfn <= SHADOW_MMIO_MAX_GFN)
			*sptep = make_shadow_mmio(gfn, acc, m->mmio_gen);
		return SHADOW_FILL_MMIO;
	}
	spte = make_leaf(g, m, sp->role, gfn, acc, gpte, p->leaf > 1);
	if ((access & EMUL_ACC_WRITE) && is_shadow_wp_dirty_log_only(spte)) {
		dirty_bitmap_set(&g->dlog.bm, gfn);     /* this write is the first */
		spte = shadow_pte_restore_w(spte);
	}
	if ((access & EMUL_ACC_WRITE) && !(spte & SHADOW_PTE_W) &&
	    (acc & SHADOW_ACC_W) && is_shadow_wp_tracked(spte)) {
		if (!try_unsync(m, gfn)) {
			install_leaf(g, m, sptep, spte, gfn);
			return SHADOW_FILL_TRACKED_WRITE;
		}
		m->st.pf[SHADOW_PF_UNSYNC]++;
		spte = make_leaf(g, m, sp->role, gfn, acc, gpte, p->leaf > 1);
	}
	install_leaf(g, m, sptep, spte, gfn);
	return SHADOW_FILL_DONE;
}

/* Links child page c from entry i of sp. A page already linked from
 * SHADOW_RMAP_MAX entries loses them first: they relink on use. None of
 * them is on this walk's path, which reaches c through sp->spt[i] only. */
static void link_child(struct shadow_mmu *m, struct shadow_page *sp,
		       unsigned int i, struct shadow_page *c)
{
	if (rmap_count(&c->parent_ptes) >= SHADOW_RMAP_MAX) {
		unlink_parents(m, c);
		m->st.zaps[SHADOW_ZAP_ALIAS]++;
	}
	sp->spt[i] = make_shadow_nonleaf(c->spt_pa);
	shadow_page_add_parent(&m->pool, c, &sp->spt[i]);
}

static enum shadow_fill_result fill_locked(struct guest *g,
					   struct shadow_mmu *m,
					   struct shadow_root *rt, uint64_t la,
					   unsigned int access,
					   const struct emul_walk_path *p,
					   bool nxe)
{
	struct shadow_page *sp = rt->sp ? rt->sp : rt->pd[(la >> 30) & 3];
	int level = rt->sp ? 4 : 2;
	unsigned int acc;

	if (!sp)                /* PDPTE not present: the walk would fault */
		return SHADOW_FILL_DONE;
	acc = shadow_leaf_access(sp->role, p->levels ?
				 path_rights(p, p->leaf, nxe) : SHADOW_ACC_ALL,
				 access, p->levels != 0,
				 p->levels && (p->pte[p->leaf] & EMUL_PTE_D));
	for (; level >= 1; level--) {
		unsigned int i = shadow_index(la, level);
		struct shadow_role role;
		struct shadow_page *c;
		uint64_t gfn;

		shadow_page_touch(&m->pool, sp);
		shadow_page_clear_write_flood(sp);
		if (level == 1)
			break;
		/* The child linked here must be the one this walk needs: a
		 * direct page with other rights (D, CR0.WP = 0, user or not)
		 * is replaced, and so is a child an out-of-sync table left
		 * behind (shadow_unprotect()). A shadow of a guest table
		 * linked from a tracked one is always current. */
		if (is_shadow_present(sp->spt[i])) {
			c = child_of(m, sp->spt[i]);
			if (!sp->unsync && !is_shadow_role_direct(c->role)) {
				sp = c;
				continue;
			}
			child_key(sp, level, la, p, nxe, acc, &gfn, &role);
			if (c->gfn == gfn && shadow_role_equal(c->role, role)) {
				sp = c;
				continue;
			}
			drop_spte(g, m, sp, i);
		} else {
			child_key(sp, level, la, p, nxe, acc, &gfn, &role);
		}
		c = get_page(g, m, gfn, role);
		if (!c)
			return SHADOW_FILL_NO_ROOM;
		link_child(m, sp, i, c);
		sp = c;
	}
	return fill_leaf(g, m, sp, la, access, acc, p);
}

enum shadow_fill_result shadow_fill(struct guest *g, struct shadow_vcpu *sv,
				    const struct shadow_regs *r, uint64_t la,
				    unsigned int acc,
				    const struct emul_walk_path *path)
{
	struct shadow_mmu *m = mmu_of(g);
	enum shadow_fill_result res = SHADOW_FILL_NO_ROOM;

	spin_lock(&m->lock);
	if (make_room(g, m, SHADOW_MAX_LEVEL + 1) && sv->roots[0].valid &&
	    !root_obsolete(m, &sv->roots[0]))
		res = fill_locked(g, m, &sv->roots[0], la, acc, path,
				  r->efer & EFER_NXE);
	else if (sv->roots[0].valid)
		res = SHADOW_FILL_DONE;        /* reloaded at the next exit */
	spin_unlock(&m->lock);
	return res;
}

static void audit_leaf(struct guest *g, struct shadow_mmu *m,
		       struct shadow_page *sp, uint64_t *sptep, uint64_t la);

/* ---- lookups by linear address ------------------------------------------- */

/* The level-1 entry for la under rt, or NULL when the path stops above. */
static uint64_t *leaf_ptr(struct shadow_mmu *m, struct shadow_root *rt,
			  uint64_t la, struct shadow_page **out)
{
	struct shadow_page *sp = rt->sp ? rt->sp : rt->pd[(la >> 30) & 3];
	int level = rt->sp ? 4 : 2;

	if (!rt->valid || !sp)
		return NULL;
	for (; level > 1; level--) {
		uint64_t spte = sp->spt[shadow_index(la, level)];

		if (!is_shadow_present(spte))
			return NULL;
		sp = child_of(m, spte);
	}
	*out = sp;
	return &sp->spt[shadow_index(la, 1)];
}

bool shadow_mmio_cached(struct guest *g, struct shadow_vcpu *sv, uint64_t la,
			uint64_t *gpa, unsigned int *acc)
{
	struct shadow_mmu *m = mmu_of(g);
	struct shadow_page *sp;
	uint64_t *sptep;
	bool hit = false;

	spin_lock(&m->lock);
	sptep = leaf_ptr(m, &sv->roots[0], la, &sp);
	if (sptep && is_shadow_mmio_current(*sptep, m->mmio_gen)) {
		*gpa = (shadow_mmio_gfn(*sptep) << PAGE_SHIFT) | (la & 0xfff);
		*acc = shadow_mmio_access(*sptep);
		hit = true;
	} else if (sptep && is_shadow_mmio(*sptep)) {
		*sptep = 0;
	}
	spin_unlock(&m->lock);
	return hit;
}

void shadow_invlpg(struct guest *g, struct shadow_vcpu *sv, uint64_t la)
{
	struct shadow_mmu *m = mmu_of(g);
	struct shadow_page *sp;
	uint64_t *sptep;

	spin_lock(&m->lock);
	m->st.invlpg++;
	sptep = leaf_ptr(m, &sv->roots[0], la, &sp);
	if (sptep && sp->unsync && *sptep) {
		drop_spte(g, m, sp, shadow_page_spte_index(sp, sptep));
		m->st.zaps[SHADOW_ZAP_INVLPG]++;
	}
	/* INVLPG also drops every paging-structure cache entry (SDM Vol.
	 * 3A 4.10.4.1): upper-level tables out of sync are synced. */
	if (unlikely(m->unsync_nonleaf) && sv->roots[0].valid)
		sync_root(g, m, &sv->roots[0]);
	if (unlikely(shadow_audit_on) && sptep)
		audit_leaf(g, m, sp, sptep, la);
	spin_unlock(&m->lock);
}

/* ---- guest writes to tracked tables -------------------------------------- */

struct pt_write {
	struct guest *g;
	unsigned int off, len;
};

/* Entries of sp that stand for guest entry gi: [*first, *first + n). */
static unsigned int gpte_sptes(struct shadow_role role, unsigned int gi,
			       unsigned int *first)
{
	unsigned int q = shadow_role_quadrant(role);

	if (!shadow_role_has_4_byte_gpte(role) || is_shadow_role_direct(role)) {
		*first = gi;
		return 1;
	}
	if (shadow_role_level(role) == 1) {
		*first = gi - q * 512;
		return gi / 512 == q;
	}
	*first = (gi & 255) * 2;
	return gi / 256 == q ? 2 : 0;
}

static int pt_write_one(struct shadow_pool *pool, struct shadow_page *sp,
			void *arg)
{
	struct pt_write *w = arg;
	struct shadow_mmu *m = mmu_of(w->g);
	unsigned int size = shadow_role_gpte_size(sp->role);

	(void)pool;
	if (is_shadow_role_direct(sp->role) || sp->unsync)
		return 0;
	if (shadow_page_note_write(sp) && !sp->root_count) {
		zap_page(w->g, m, sp, SHADOW_ZAP_FLOOD);
		return 0;
	}
	for (unsigned int gi = w->off / size; gi <= (w->off + w->len - 1) / size;
	     gi++) {
		unsigned int first, n = gpte_sptes(sp->role, gi, &first);

		for (unsigned int k = 0; k < n; k++) {
			if (sp->spt[first + k])
				m->st.zaps[SHADOW_ZAP_PT_WRITE]++;
			drop_spte(w->g, m, sp, first + k);
		}
	}
	return 0;
}

void shadow_track_write(struct guest *g, uint64_t gpa, unsigned int len)
{
	struct shadow_mmu *m = mmu_of(g);
	uint64_t gfn = gpa >> PAGE_SHIFT;
	struct pt_write w = { g, (unsigned int)(gpa & (PAGE_SIZE - 1)), len };

	if (!len || !page_track_is_tracked(&m->track, gfn))
		return;
	if (w.off + w.len > PAGE_SIZE)
		w.len = PAGE_SIZE - w.off;
	spin_lock(&m->lock);
	m->st.pt_writes++;
	shadow_page_for_each_gfn(&m->pool, gfn, pt_write_one, &w);
	spin_unlock(&m->lock);
}

static int unprotect_one(struct shadow_pool *pool, struct shadow_page *sp,
			 void *arg)
{
	struct shadow_mmu *m = arg;

	if (!is_shadow_role_direct(sp->role) && !sp->unsync)
		m->st.zaps[SHADOW_ZAP_UNPROTECT]++;
	return unsync_one(pool, sp, arg);
}

/*
 * A write to the tracked table gfn that Keel could not emulate (an x87,
 * SSE or shift store, say) must run natively. Zapping the table's shadows
 * does not let it: a shadow that is a vCPU's root stays (and stays
 * tracked), and any shadow on the way to the written address is built
 * again, tracked, by the very fault that retries the store, forever.
 * Instead every shadow of gfn, at any level, goes out of sync: no longer
 * tracked, kept as it is, synced at the guest's next MOV to CR3, CR0 or
 * CR4 write or INVLPG, which is when the guest must expect its change to
 * take effect (SDM Vol. 3A 4.10.4.2). An upper-level table comes back
 * empty (sync_page()); until then a fill through it checks each child
 * it meets against the guest's entry (fill_locked()). The leaf mapping
 * gfn gets W at the next write fault, and the store completes.
 */
void shadow_unprotect(struct guest *g, uint64_t gfn)
{
	struct shadow_mmu *m = mmu_of(g);

	spin_lock(&m->lock);
	shadow_page_for_each_gfn(&m->pool, gfn, unprotect_one, m);
	spin_unlock(&m->lock);
}

/* ---- dirty logging -------------------------------------------------------- */

void shadow_dirty_arm(struct guest *g, uint64_t gfn, uint64_t count)
{
	struct shadow_mmu *m = mmu_of(g);
	struct rmap_iter it;

	spin_lock(&m->lock);
	for (uint64_t f = gfn; f < gfn + count; f++) {
		struct rmap_head *h = rmap_slot(&m->rmaps, f, 1);

		if (!h || rmap_is_empty(h))
			continue;
		for (uint64_t *p = rmap_iter_first(&it, h); p;
		     p = rmap_iter_next(&it)) {
			uint64_t old = *p, new = shadow_pte_wp_dirty_log(old);

			if (new != old) {
				shadow_pte_xchg(p, new);
				m->flush = true;
			}
		}
	}
	spin_unlock(&m->lock);
}

/*
 * Without the MMU lock, like KVM's fast page fault: only this vCPU changes
 * its own roots, and pool pages are never handed back to the host while
 * the guest runs, so the walk reads tables that exist. A page zapped and
 * reused meanwhile fails the compare-exchange unless it holds the very
 * same entry, and then giving W back is right for it too: the frame
 * logged is the one the entry maps, not the one la was looked up for.
 */
bool shadow_dirty_fast_path(struct guest *g, struct shadow_vcpu *sv,
			    uint64_t la, uint64_t *gfn)
{
	struct shadow_mmu *m = mmu_of(g);
	struct shadow_page *sp;
	uint64_t *sptep = leaf_ptr(m, &sv->roots[0], la, &sp), old;

	if (!sptep)
		return false;
	old = __atomic_load_n(sptep, __ATOMIC_ACQUIRE);
	if (!is_shadow_wp_dirty_log_only(old))
		return false;
	*gfn = guest_hpa_to_gpa(g, shadow_pte_hpa(old, 1)) >> PAGE_SHIFT;
	return shadow_pte_try_restore_w(sptep, old);
}

/* Drops every shadow page and every vCPU's roots: guest memory changed
 * under the MMU (snapshot restore) or moved (migration). The vCPUs are
 * stopped in Keel; each reloads its root before it runs again. */
void shadow_mmu_reset(struct guest *g)
{
	struct shadow_mmu *m = mmu_of(g);

	spin_lock(&m->lock);
	for (unsigned int v = 0; v < g->nr_vcpus; v++)
		for (int i = 0; i < SHADOW_ROOT_SLOTS; i++)
			root_release(g, m, &g->vcpus[v]->sv.roots[i]);
	for (uint32_t i = 0; i < m->nr_pages; i++)
		if (m->pages[i].in_use)
			zap_page(g, m, &m->pages[i], SHADOW_ZAP_OBSOLETE);
	m->mmio_gen++;
	m->flush = true;
	spin_unlock(&m->lock);
}

void shadow_zap_all(struct guest *g)
{
	struct shadow_mmu *m = mmu_of(g);

	spin_lock(&m->lock);
	shadow_pool_new_generation(&m->pool);
	m->mmio_gen++;
	m->flush = true;
	spin_unlock(&m->lock);
}

bool shadow_take_flush(struct guest *g)
{
	struct shadow_mmu *m = mmu_of(g);

	return __atomic_exchange_n(&m->flush, false, __ATOMIC_ACQ_REL);
}

/* ---- audit (keel.shadow_audit=1) ------------------------------------------- */

bool shadow_audit_on;

/* Guest frame a non-leaf or leaf guest entry points to. */
static uint64_t gpte_frame(const struct shadow_page *sp, uint64_t gpte)
{
	bool four = shadow_role_has_4_byte_gpte(sp->role);

	return (gpte & (four ? GPTE32_ADDR : GPTE_ADDR)) >> PAGE_SHIFT;
}

static bool audit_page(struct guest *g, struct shadow_mmu *m,
		       struct shadow_page *sp, const char *why)
{
	int level = shadow_role_level(sp->role);

	for (unsigned int i = 0; i < SHADOW_PT_ENTRIES; i++) {
		uint64_t spte = sp->spt[i], gpte, want;
		struct shadow_page *c;

		if (!is_shadow_present(spte) || !read_gpte(g, sp, i, &gpte))
			continue;
		if (level == 1) {
			want = guest_hpa_to_gpa(g, shadow_pte_hpa(spte, 1)) >>
			       PAGE_SHIFT;
			if ((gpte & EMUL_PTE_P) && gpte_frame(sp, gpte) == want)
				continue;
		} else {
			c = child_of(m, spte);
			if ((gpte & EMUL_PTE_P) && (gpte & EMUL_PTE_PS) &&
			    is_shadow_role_direct(c->role))
				continue;
			if ((gpte & EMUL_PTE_P) && !(gpte & EMUL_PTE_PS) &&
			    !is_shadow_role_direct(c->role) &&
			    c->gfn == gpte_frame(sp, gpte))
				continue;
			want = c->gfn;
		}
		(void)want;
		pr_err("keel: shadow audit (%s): gfn %#lx role %#x level %d "
		       "entry %u spte %#lx gpte %#lx unsync %d tracked %u "
		       "roots %u\n", why, sp->gfn, sp->role.word, level, i,
		       spte, gpte, sp->unsync,
		       page_track_count(&m->track, sp->gfn), sp->root_count);
		return false;
	}
	return true;
}

/* After INVLPG the leaf for la, if any, is the guest's. */
static void audit_leaf(struct guest *g, struct shadow_mmu *m,
		       struct shadow_page *sp, uint64_t *sptep, uint64_t la)
{
	unsigned int i = shadow_page_spte_index(sp, sptep);
	uint64_t gpte = 0, gfn;

	if (!is_shadow_present(*sptep) || is_shadow_role_direct(sp->role))
		return;
	read_gpte(g, sp, i, &gpte);
	gfn = guest_hpa_to_gpa(g, shadow_pte_hpa(*sptep, 1)) >> PAGE_SHIFT;
	if ((gpte & EMUL_PTE_P) && gpte_frame(sp, gpte) == gfn)
		return;
	pr_err("keel: shadow audit (invlpg %#lx): gfn %#lx role %#x entry %u "
	       "spte %#lx gpte %#lx unsync %d tracked %u\n", la, sp->gfn,
	       sp->role.word, i, *sptep, gpte, sp->unsync,
	       page_track_count(&m->track, sp->gfn));
	shadow_audit_on = false;
}

/* After a sync, no unsync page may be reachable from the root. */
static bool audit_reach(struct shadow_mmu *m, struct shadow_page *sp,
			const char *why)
{
	if (sp->unsync) {
		pr_err("keel: shadow audit (%s): unsync page gfn %#lx role %#x "
		       "reachable after sync\n", why, sp->gfn, sp->role.word);
		return false;
	}
	if (shadow_role_level(sp->role) == 1)
		return true;
	for (unsigned int i = 0; i < SHADOW_PT_ENTRIES; i++)
		if (is_shadow_present(sp->spt[i]) &&
		    !audit_reach(m, child_of(m, sp->spt[i]), why)) {
			pr_err("keel: shadow audit:   via gfn %#lx role %#x entry "
			       "%u (unsync bit %d, children %u)\n", sp->gfn,
			       sp->role.word, i,
			       is_shadow_page_unsync_child(sp, i),
			       sp->unsync_children);
			return false;
		}
	return true;
}

void shadow_audit_root(struct guest *g, struct shadow_vcpu *sv,
		       const char *why)
{
	struct shadow_mmu *m = mmu_of(g);
	struct shadow_root *rt = &sv->roots[0];
	bool ok = true;

	if (!shadow_audit_on)
		return;
	spin_lock(&m->lock);
	if (rt->sp)
		ok = audit_reach(m, rt->sp, why);
	for (int i = 0; ok && !rt->sp && i < 4; i++)
		if (rt->pd[i])
			ok = audit_reach(m, rt->pd[i], why);
	if (!ok)
		shadow_audit_on = false;
	spin_unlock(&m->lock);
}

/* Every shadow page that is in sync must say what the guest's table says
 * (KVM's mmu_audit): run at CR3 loads, INVLPG and emulated writes. */
void shadow_audit(struct guest *g, const char *why)
{
	struct shadow_mmu *m = mmu_of(g);

	if (!shadow_audit_on)
		return;
	spin_lock(&m->lock);
	for (uint32_t i = 0; i < m->nr_pages; i++) {
		struct shadow_page *sp = &m->pages[i];

		if (!sp->in_use || sp->unsync || is_shadow_role_direct(sp->role) ||
		    is_shadow_page_obsolete(&m->pool, sp))
			continue;
		if (!page_track_is_tracked(&m->track, sp->gfn) ||
		    !audit_page(g, m, sp, why)) {
			pr_err("keel: shadow audit (%s): gfn %#lx role %#x: %s\n",
			       why, sp->gfn, sp->role.word,
			       page_track_is_tracked(&m->track, sp->gfn) ?
			       "differs" : "in sync but not tracked");
			shadow_audit_on = false;
			break;
		}
	}
	spin_unlock(&m->lock);
}

/* ---- set-up -------------------------------------------------------------- */

static unsigned int order_for(uint64_t bytes)
{
	unsigned int order = 0;

	while (((uint64_t)PAGE_SIZE << order) < bytes)
		order++;
	return order;
}

int shadow_mmu_init(struct guest *g)
{
	uint64_t nr_gfns = g->mem_size >> PAGE_SHIFT;
	uint32_t n = shadow_pool_pages, nd = n * SHADOW_DESCS_PER_PAGE;
	uint64_t heads = rmap_table_heads(nr_gfns);
	uint64_t bytes = sizeof(struct shadow_mmu) + n * sizeof(struct shadow_page) +
			 nd * sizeof(struct rmap_desc) +
			 heads * sizeof(struct rmap_head) + nr_gfns * 2 + 64;
	unsigned int order = order_for(bytes);
	uint64_t pa = mm_alloc_pages(order);
	struct shadow_mmu *m;
	uint8_t *p;

	if (pa == FRAME_NONE)
		return -1;
	p = phys_to_virt(pa);
	m = (struct shadow_mmu *)p;
	p += ALIGN_UP(sizeof(*m), 64);
	*m = (struct shadow_mmu){ .lock = SPINLOCK_INIT, .meta_pa = pa,
				  .meta_order = order, .nr_pages = n,
				  .unsync_on = shadow_unsync_default,
				  .root_cache_on = shadow_root_cache_default };
	g->mmu = m;
	m->maxphyaddr = (uint8_t)cpu_maxphyaddr();
	m->pages = (struct shadow_page *)p;
	p += n * sizeof(struct shadow_page);
	rmap_desc_pool_init(&m->descs, (struct rmap_desc *)p, nd);
	p += nd * sizeof(struct rmap_desc);
	rmap_table_init(&m->rmaps, (struct rmap_head *)p, heads, nr_gfns);
	p += heads * sizeof(struct rmap_head);
	page_track_init(&m->track, (uint16_t *)p, nr_gfns);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t = mm_alloc_pages(0);

		if (t == FRAME_NONE) {
			m->nr_pages = i;
			return -1;
		}
		m->pages[i] = (struct shadow_page){ .spt = phys_to_virt(t),
						    .spt_pa = t };
	}
	return shadow_pool_init(&m->pool, m->pages, n, &m->descs) ? -1 : 0;
}

void shadow_mmu_destroy(struct guest *g)
{
	struct shadow_mmu *m = mmu_of(g);

	if (!m)
		return;
	for (uint32_t i = 0; i < m->nr_pages; i++)
		mm_free_pages(m->pages[i].spt_pa, 0);
	g->mmu = NULL;
	mm_free_pages(m->meta_pa, m->meta_order);
}

/* PAE-format roots are loaded through a 32-bit CR3 (SDM Vol. 3A 4.4.1):
 * their PDPT pages must lie below 4 GiB. */
static uint64_t alloc_low_page(void)
{
	uint64_t held[8], pa = FRAME_NONE;
	unsigned int n = 0;

	while (n < ARRAY_SIZE(held)) {
		pa = mm_alloc_pages(0);
		if (pa == FRAME_NONE || pa < BIT_ULL(32))
			break;
		held[n++] = pa;
		pa = FRAME_NONE;
	}
	while (n)
		mm_free_pages(held[--n], 0);
	return pa;
}

int shadow_vcpu_init(struct shadow_vcpu *sv)
{
	for (int i = 0; i < SHADOW_ROOT_SLOTS; i++) {
		uint64_t pa = alloc_low_page();

		if (pa == FRAME_NONE)
			return -1;
		sv->roots[i] = (struct shadow_root){ .pdpt = phys_to_virt(pa),
						     .pdpt_pa = pa };
	}
	return 0;
}

void shadow_vcpu_destroy(struct guest *g, struct shadow_vcpu *sv)
{
	struct shadow_mmu *m = mmu_of(g);

	for (int i = 0; i < SHADOW_ROOT_SLOTS; i++) {
		struct shadow_root *rt = &sv->roots[i];

		if (m) {
			spin_lock(&m->lock);
			root_release(g, m, rt);
			spin_unlock(&m->lock);
		}
		if (rt->pdpt_pa)
			mm_free_pages(rt->pdpt_pa, 0);
		rt->pdpt_pa = 0;
	}
}

/* ---- counters ------------------------------------------------------------ */

_Static_assert(SHADOW_PF_NR == 7 && SHADOW_ZAP_NR == 8,
	      "shadow_print_stats prints seven #PF kinds and eight zap causes");

static const char *const pf_names[SHADOW_PF_NR] = {
	"fill", "guest", "tracked-write", "unsync", "mmio", "mmio-cached",
	"spurious",
};
static const char *const zap_names[SHADOW_ZAP_NR] = {
	"pt-write", "flood", "lru", "obsolete", "unprotect", "sync", "invlpg",
	"alias",
};

_Static_assert(SHADOW_PF_NR <= KEEL_COUNTER_SHADOW_ZAPS - KEEL_COUNTER_SHADOW_PF,
	       "#PF kinds fit their counter ids");
_Static_assert(SHADOW_ZAP_NR <= KEEL_COUNTER_SHADOW_END - KEEL_COUNTER_SHADOW_ZAPS,
	       "zap causes fit their counter ids");

bool shadow_counter(struct guest *g, unsigned int id, uint64_t *val)
{
	struct shadow_mmu *m = mmu_of(g);
	const struct shadow_stats *s = &m->st;
	const uint64_t plain[] = {
		[KEEL_COUNTER_SHADOW_PAGES - 0x200] = m->pool.nr_used,
		[KEEL_COUNTER_SHADOW_PAGES_PEAK - 0x200] = s->pages_peak,
		[KEEL_COUNTER_SHADOW_RMAP - 0x200] = s->rmap_entries,
		[KEEL_COUNTER_SHADOW_UNSYNC - 0x200] = s->unsync_now,
		[KEEL_COUNTER_SHADOW_UNSYNC_TOTAL - 0x200] = s->unsync_total,
		[KEEL_COUNTER_SHADOW_PT_WRITES - 0x200] = s->pt_writes,
		[KEEL_COUNTER_SHADOW_CR3_LOADS - 0x200] = s->cr3_loads,
		[KEEL_COUNTER_SHADOW_ROOT_HITS - 0x200] = s->root_hits,
		[KEEL_COUNTER_SHADOW_ROOT_BUILDS - 0x200] = s->root_builds,
		[KEEL_COUNTER_SHADOW_SYNCS - 0x200] = s->syncs,
		[KEEL_COUNTER_SHADOW_INVLPG - 0x200] = s->invlpg,
	};

	if (id >= 0x200 && id - 0x200 < ARRAY_SIZE(plain))
		*val = plain[id - 0x200];
	else if (id >= KEEL_COUNTER_SHADOW_PF &&
		 id - KEEL_COUNTER_SHADOW_PF < SHADOW_PF_NR)
		*val = s->pf[id - KEEL_COUNTER_SHADOW_PF];
	else if (id >= KEEL_COUNTER_SHADOW_ZAPS &&
		 id - KEEL_COUNTER_SHADOW_ZAPS < SHADOW_ZAP_NR)
		*val = s->zaps[id - KEEL_COUNTER_SHADOW_ZAPS];
	else
		return false;
	return true;
}

void shadow_print_stats(struct guest *g)
{
	struct shadow_mmu *m = mmu_of(g);
	const struct shadow_stats *s = &m->st;

	guest_log(LOG_INFO, g, "shadow: pages %u alive, %lu peak, %u max; "
		  "rmap entries %lu; unsync %lu now, %lu total; "
		  "emulated pt writes %lu\n", m->pool.nr_used, s->pages_peak,
		  m->nr_pages, s->rmap_entries, s->unsync_now, s->unsync_total,
		  s->pt_writes);
	guest_log(LOG_INFO, g, "shadow: cr3 loads %lu (root cache hits %lu, "
		  "builds %lu), syncs %lu, invlpg %lu\n", s->cr3_loads,
		  s->root_hits, s->root_builds, s->syncs, s->invlpg);
	guest_log(LOG_INFO, g, "shadow: #PF %s %lu, %s %lu, %s %lu, %s %lu, "
		  "%s %lu, %s %lu, %s %lu\n",
		  pf_names[0], s->pf[0], pf_names[1], s->pf[1],
		  pf_names[2], s->pf[2], pf_names[3], s->pf[3],
		  pf_names[4], s->pf[4], pf_names[5], s->pf[5],
		  pf_names[6], s->pf[6]);
	guest_log(LOG_INFO, g, "shadow: zaps %s %lu, %s %lu, %s %lu, %s %lu, "
		  "%s %lu, %s %lu, %s %lu, %s %lu\n",
		  zap_names[0], s->zaps[0], zap_names[1], s->zaps[1],
		  zap_names[2], s->zaps[2], zap_names[3], s->zaps[3],
		  zap_names[4], s->zaps[4], zap_names[5], s->zaps[5],
		  zap_names[6], s->zaps[6], zap_names[7], s->zaps[7]);
}
