/* Guest page walker. One walk loop serves all four paging modes through a
 * small per-mode description; reserved-bit masks, permission rules and the
 * accessed/dirty update are separate steps.
 *
 *   4-level:  47      39 38    30 29    21 20    12 11        0
 *            | PML4    | PDPT   | PD     | PT     | offset    |
 *   5-level adds PML5 at bits 56:48; PAE has a 4-entry PDPT at bits 31:30;
 *   32-bit:   31      22 21      12 11        0
 *            | PD      | PT       | offset    |
 *
 * Level numbers count from the leaf: 1 = PT, 2 = PD, 3 = PDPT, 4 = PML4,
 * 5 = PML5. */
#include "arch/string.h"
#include "emul/walk.h"

/* A/D updates race with other vCPUs; a failed compare-exchange restarts the
 * walk (as the processor would re-read the entry), a few times at most. */
#define WALK_RETRIES	4
#define WALK_MAX_LEVELS	5

#define PTE_ADDR	GENMASK_ULL(51, 12)
#define PTE32_ADDR	GENMASK_ULL(31, 12)
#define PAE_CR3_ADDR	GENMASK_ULL(31, 5)
/* PAE PDPTE reserved bits besides 63:M (SDM Vol. 3A Table 4-8). */
#define PAE_PDPTE_RSVD	(GENMASK_ULL(2, 1) | GENMASK_ULL(8, 5))

struct walk_format {
	uint8_t levels;		/* levels walked from CR3 */
	uint8_t bits;		/* linear-address bits per level */
	uint8_t pte_bytes;	/* 4 or 8 */
	uint8_t large;		/* bit n: PS maps a page at level n */
};

/* 32-bit large pages also need CR4.PSE (checked in walk_is_leaf). 1-GByte
 * pages at level 3 are taken as supported (CPUID.80000001H:EDX[26]). */
static const struct walk_format walk_formats[] = {
	[EMUL_PAGING_32]     = { 2, 10, 4, BIT_ULL(2) },
	[EMUL_PAGING_PAE]    = { 3, 9, 8, BIT_ULL(2) },
	[EMUL_PAGING_4LEVEL] = { 4, 9, 8, BIT_ULL(2) | BIT_ULL(3) },
	[EMUL_PAGING_5LEVEL] = { 5, 9, 8, BIT_ULL(2) | BIT_ULL(3) },
};

struct walker {
	struct emul_ctx *ctx;
	const struct walk_format *fmt;
	enum emul_paging mode;
	uint64_t la;
	unsigned int acc;
	unsigned int maxpa;		/* MAXPHYADDR */
	bool nxe;
	/* Filled by walk_translate(). */
	uint64_t pte_gpa[WALK_MAX_LEVELS + 1];
	uint64_t pte[WALK_MAX_LEVELS + 1];
	unsigned int leaf;		/* level of the leaf entry */
	bool user_ok, write_ok, nx;	/* accumulated over all levels */
	uint64_t gpa;
};

/* SDM Vol. 3A 4.1.1, Table 4-1. */
enum emul_paging emul_paging_mode(const struct emul_ctx *ctx)
{
	if (!(ctx->cr0 & EMUL_CR0_PG))
		return EMUL_PAGING_NONE;
	if (!(ctx->cr4 & EMUL_CR4_PAE))
		return EMUL_PAGING_32;
	if (!(ctx->efer & EMUL_EFER_LMA))
		return EMUL_PAGING_PAE;
	return (ctx->cr4 & EMUL_CR4_LA57) ? EMUL_PAGING_5LEVEL
					  : EMUL_PAGING_4LEVEL;
}

static bool walk_is_pdpte_reg(const struct walker *w, unsigned int level)
{
	return w->mode == EMUL_PAGING_PAE && level == 3;
}

static unsigned int level_shift(const struct walker *w, unsigned int level)
{
	return 12 + w->fmt->bits * (level - 1);
}

static uint64_t level_index(const struct walker *w, unsigned int level)
{
	unsigned int bits = walk_is_pdpte_reg(w, level) ? 2 : w->fmt->bits;

	return (w->la >> level_shift(w, level)) & (BIT_ULL(bits) - 1);
}

/* ---- reserved bits (SDM Vol. 3A 4.3 Table 4-4 .. 4.5 Table 4-20) ----- */

static uint64_t rsvd_mask32(const struct walker *w, unsigned int level,
			    uint64_t pte)
{
	unsigned int pa = MIN(w->maxpa, 40u);

	/* PSE-36: PDE bits 20:13 carry physical-address bits 39:32, bits
	 * past MAXPHYADDR and bit 21 are reserved. */
	if (level == 2 && (pte & EMUL_PTE_PS) &&
	    (w->ctx->cr4 & EMUL_CR4_PSE))
		return GENMASK_ULL(21, 13 + pa - 32);
	return 0;
}

static uint64_t rsvd_mask(const struct walker *w, unsigned int level,
			  uint64_t pte)
{
	uint64_t m = GENMASK_ULL(51, w->maxpa);

	if (w->maxpa >= 52)
		m = 0;
	if (w->mode == EMUL_PAGING_32)
		return rsvd_mask32(w, level, pte);
	if (walk_is_pdpte_reg(w, level))
		return m | GENMASK_ULL(63, 52) | PAE_PDPTE_RSVD;
	/* PAE PDEs and PTEs reserve 62:52 too (Tables 4-9 .. 4-11); the
	 * 4/5-level formats ignore those bits. */
	if (w->mode == EMUL_PAGING_PAE)
		m |= GENMASK_ULL(62, 52);
	if (!w->nxe)
		m |= EMUL_PTE_XD;
	if (level >= 4)
		return m | EMUL_PTE_PS;
	if (level == 3 && (pte & EMUL_PTE_PS))
		m |= GENMASK_ULL(29, 13);
	if (level == 2 && (pte & EMUL_PTE_PS))
		m |= GENMASK_ULL(20, 13);
	return m;
}

/* ---- faults ------------------------------------------------------------ */

/* SDM Vol. 3A 4.7: I/D is reported only with SMEP or with NX paging. */
static int walk_fault(struct walker *w, uint32_t bits)
{
	struct emul_ctx *ctx = w->ctx;
	uint32_t ec = bits | (w->acc & (EMUL_ACC_WRITE | EMUL_ACC_USER));
	bool nx_paging = w->mode != EMUL_PAGING_32 && w->nxe;

	if ((w->acc & EMUL_ACC_FETCH) &&
	    ((ctx->cr4 & EMUL_CR4_SMEP) || nx_paging))
		ec |= EMUL_PFEC_I;
	ctx->exc.vector = EMUL_VEC_PF;
	ctx->exc.has_error_code = true;
	ctx->exc.error_code = ec;
	ctx->exc.cr2 = w->la;
	return EMUL_EXCEPTION;
}

/* ---- the walk ---------------------------------------------------------- */

static int read_entry(struct walker *w, unsigned int level, uint64_t table,
		      uint64_t *pte)
{
	struct emul_ctx *ctx = w->ctx;
	uint64_t gpa = table + level_index(w, level) * w->fmt->pte_bytes;
	uint64_t v = 0;
	int rc;

	w->pte_gpa[level] = gpa;
	if (walk_is_pdpte_reg(w, level) && ctx->pdpte_valid) {
		*pte = ctx->pdpte[level_index(w, level)];
		return EMUL_OK;
	}
	rc = ctx->ops->read_phys(ctx, gpa, &v, w->fmt->pte_bytes);
	if (rc == EMUL_NOT_RAM)
		return EMUL_UNHANDLEABLE;
	if (rc != EMUL_OK)
		return rc;
	*pte = v;
	return EMUL_OK;
}

static bool walk_is_leaf(const struct walker *w, unsigned int level,
			 uint64_t pte)
{
	if (level == 1)
		return true;
	if (!(pte & EMUL_PTE_PS) || !(w->fmt->large & BIT_ULL(level)))
		return false;
	return w->mode != EMUL_PAGING_32 || (w->ctx->cr4 & EMUL_CR4_PSE);
}

static uint64_t leaf_frame(const struct walker *w, unsigned int level,
			   uint64_t pte)
{
	uint64_t off_mask = BIT_ULL(level_shift(w, level)) - 1;

	if (w->mode != EMUL_PAGING_32)
		return pte & PTE_ADDR & ~off_mask;
	if (level == 1)
		return pte & PTE32_ADDR;
	/* 4-MByte page: bits 31:22, plus PSE-36 bits 39:32 from 20:13. */
	return (pte & GENMASK_ULL(31, 22)) | (((pte >> 13) & 0xff) << 32);
}

static uint64_t walk_root(const struct walker *w)
{
	uint64_t cr3 = w->ctx->cr3;

	switch (w->mode) {
	case EMUL_PAGING_32:  return cr3 & PTE32_ADDR;
	case EMUL_PAGING_PAE: return cr3 & PAE_CR3_ADDR;
	default:              return cr3 & PTE_ADDR;
	}
}

static void walk_accumulate(struct walker *w, uint64_t pte)
{
	w->write_ok &= !!(pte & EMUL_PTE_RW);
	w->user_ok &= !!(pte & EMUL_PTE_US);
	if (w->nxe && (pte & EMUL_PTE_XD))
		w->nx = true;
}

static int walk_translate(struct walker *w)
{
	uint64_t table = walk_root(w);

	w->user_ok = w->write_ok = true;
	w->nx = false;
	for (unsigned int level = w->fmt->levels; level >= 1; level--) {
		uint64_t pte = 0;
		int rc = read_entry(w, level, table, &pte);

		if (rc != EMUL_OK)
			return rc;
		w->pte[level] = pte;
		if (!(pte & EMUL_PTE_P))
			return walk_fault(w, 0);
		if (pte & rsvd_mask(w, level, pte))
			return walk_fault(w, EMUL_PFEC_P | EMUL_PFEC_RSVD);
		if (!walk_is_pdpte_reg(w, level))
			walk_accumulate(w, pte);
		if (walk_is_leaf(w, level, pte)) {
			w->leaf = level;
			w->gpa = leaf_frame(w, level, pte) |
				 (w->la & (BIT_ULL(level_shift(w, level)) - 1));
			return EMUL_OK;
		}
		table = pte & (w->mode == EMUL_PAGING_32 ? PTE32_ADDR : PTE_ADDR);
	}
	return EMUL_UNHANDLEABLE;
}

/* ---- access rights (SDM Vol. 3A 4.6) --------------------------------- */

/* SMAP blocks supervisor data accesses to user pages unless EFLAGS.AC is
 * set and the access is explicit (4.6.1). */
static bool smap_blocks(const struct walker *w)
{
	const struct emul_ctx *ctx = w->ctx;

	if (!(ctx->cr4 & EMUL_CR4_SMAP))
		return false;
	return (w->acc & EMUL_ACC_IMPLICIT) || !(ctx->rflags & EMUL_RFLAGS_AC);
}

static bool access_allowed_user(const struct walker *w)
{
	if (!w->user_ok)
		return false;
	if (w->acc & EMUL_ACC_FETCH)
		return !w->nx;
	return !(w->acc & EMUL_ACC_WRITE) || w->write_ok;
}

static bool access_allowed_supervisor(const struct walker *w)
{
	bool wp = w->ctx->cr0 & EMUL_CR0_WP;

	if (w->acc & EMUL_ACC_FETCH) {
		if (w->user_ok && (w->ctx->cr4 & EMUL_CR4_SMEP))
			return false;
		return !w->nx;
	}
	if (w->user_ok && smap_blocks(w))
		return false;
	return !(w->acc & EMUL_ACC_WRITE) || !wp || w->write_ok;
}

/* Protection keys apply to data accesses to user pages under 4/5-level
 * paging with CR4.PKE (4.6.2). */
static bool pkey_blocks(const struct walker *w)
{
	const struct emul_ctx *ctx = w->ctx;
	unsigned int key;
	bool ad, wd;

	if (w->mode < EMUL_PAGING_4LEVEL || !(ctx->cr4 & EMUL_CR4_PKE) ||
	    !w->user_ok || (w->acc & EMUL_ACC_FETCH))
		return false;
	key = (unsigned int)((w->pte[w->leaf] & EMUL_PTE_PKEY) >>
			     EMUL_PTE_PKEY_SHIFT);
	ad = ctx->pkru & BIT_ULL(2 * key);
	wd = ctx->pkru & BIT_ULL(2 * key + 1);
	if (ad)
		return true;
	if (!wd || !(w->acc & EMUL_ACC_WRITE))
		return false;
	return (w->acc & EMUL_ACC_USER) || (ctx->cr0 & EMUL_CR0_WP);
}

static int walk_check_access(struct walker *w)
{
	bool ok = (w->acc & EMUL_ACC_USER) ? access_allowed_user(w)
					   : access_allowed_supervisor(w);

	if (!ok)
		return walk_fault(w, EMUL_PFEC_P);
	if (pkey_blocks(w))
		return walk_fault(w, EMUL_PFEC_P | EMUL_PFEC_PK);
	return EMUL_OK;
}

/* ---- accessed and dirty bits (SDM Vol. 3A 4.8) ------------------------- */

static int update_entry(struct walker *w, unsigned int level, uint64_t want)
{
	struct emul_ctx *ctx = w->ctx;
	uint64_t old = w->pte[level];
	unsigned int n = w->fmt->pte_bytes;
	int rc;

	if (ctx->ops->update_pte)
		rc = ctx->ops->update_pte(ctx, w->pte_gpa[level], &old,
					  &want, n);
	else if (ctx->ops->cmpxchg_phys)
		rc = ctx->ops->cmpxchg_phys(ctx, w->pte_gpa[level], &old,
					    &want, n);
	else
		rc = ctx->ops->write_phys(ctx, w->pte_gpa[level], &want, n);
	if (rc == EMUL_NOT_RAM)
		return EMUL_UNHANDLEABLE;
	if (rc == EMUL_OK)
		w->pte[level] = want;
	return rc;
}

/* Sets A in every entry used and D in the leaf for a write. Done only for
 * a translation that succeeds, like KVM's walker; the processor may also
 * set A bits on a walk that then faults, which software cannot tell from
 * this. The PAE PDPTEs have no A bit. */
static int walk_set_ad(struct walker *w)
{
	for (unsigned int level = w->fmt->levels; level >= w->leaf; level--) {
		uint64_t want = w->pte[level] | EMUL_PTE_A;
		int rc;

		if (walk_is_pdpte_reg(w, level))
			continue;
		if (level == w->leaf && (w->acc & EMUL_ACC_WRITE))
			want |= EMUL_PTE_D;
		if (want == w->pte[level])
			continue;
		rc = update_entry(w, level, want);
		if (rc != EMUL_OK)
			return rc;
	}
	return EMUL_OK;
}

static void walker_init(struct walker *w, struct emul_ctx *ctx, uint64_t la,
			unsigned int acc)
{
	w->ctx = ctx;
	w->mode = emul_paging_mode(ctx);
	w->fmt = &walk_formats[w->mode];
	w->la = la;
	w->acc = acc;
	/* MAXPHYADDR is at least 36 on any processor with PAE (SDM Vol. 3A
	 * 4.1.4); the clamp keeps the masks below well formed. */
	w->maxpa = ctx->maxphyaddr ? ctx->maxphyaddr : 52;
	w->maxpa = MIN(MAX(w->maxpa, 32u), 52u);
	w->nxe = ctx->efer & EMUL_EFER_NXE;
}

static int walk_run(struct walker *w)
{
	for (int tries = 0; tries < WALK_RETRIES; tries++) {
		int rc = walk_translate(w);

		if (rc == EMUL_OK)
			rc = walk_check_access(w);
		if (rc == EMUL_OK)
			rc = walk_set_ad(w);
		if (rc != EMUL_CMPXCHG_FAILED)
			return rc;
	}
	return EMUL_RETRY;
}

/* The caller's one-entry translation (emul_ctx.hint): a page it already
 * translated for this access kind, such as an MMIO page whose guest
 * tables a shadow MMU has walked and cached. */
static bool walk_hint_hit(const struct emul_ctx *ctx, uint64_t la,
			  unsigned int acc, uint64_t *gpa)
{
	const struct emul_xlat_hint *h = &ctx->hint;
	unsigned int need = acc & (EMUL_ACC_WRITE | EMUL_ACC_USER);

	if (!h->valid || ((la ^ h->la) >> 12) || (acc & EMUL_ACC_FETCH) ||
	    (need & ~h->acc))
		return false;
	*gpa = (h->gpa & ~0xfffULL) | (la & 0xfff);
	return true;
}

int emul_walk(struct emul_ctx *ctx, uint64_t la, unsigned int acc,
	      uint64_t *gpa)
{
	struct walker w;
	int rc;

	if (unlikely(walk_hint_hit(ctx, la, acc, gpa)))
		return EMUL_OK;
	walker_init(&w, ctx, la, acc);
	if (w.mode == EMUL_PAGING_NONE) {
		*gpa = la;
		return EMUL_OK;
	}
	rc = walk_run(&w);
	if (rc == EMUL_OK)
		*gpa = w.gpa;
	return rc;
}

int emul_walk_path(struct emul_ctx *ctx, uint64_t la, unsigned int acc,
		   struct emul_walk_path *path)
{
	struct walker w;
	int rc;

	walker_init(&w, ctx, la, acc);
	path->mode = w.mode;
	path->levels = w.mode == EMUL_PAGING_NONE ? 0 : w.fmt->levels;
	if (w.mode == EMUL_PAGING_NONE) {
		path->leaf = 0;
		path->gpa = la;
		return EMUL_OK;
	}
	rc = walk_run(&w);
	if (rc != EMUL_OK)
		return rc;
	memcpy(path->pte, w.pte, sizeof(path->pte));
	memcpy(path->pte_gpa, w.pte_gpa, sizeof(path->pte_gpa));
	path->leaf = w.leaf;
	path->gpa = w.gpa;
	return EMUL_OK;
}
