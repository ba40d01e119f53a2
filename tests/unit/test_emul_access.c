/* Exhaustive access-rights test of the guest page walker (emul/walk.c), in
 * the spirit of kvm-unit-tests' x86/access.c.
 *
 * Each check writes one translation path into the fake machine, sets the
 * control state, walks with emul_walk() and compares with ref_walk(): a
 * reference model written from the SDM (Vol. 3A 4.3-4.5 entry formats and
 * reserved bits, 4.6 access rights, 4.7 #PF error code, 4.8 accessed and
 * dirty flags) that shares no code with the walker. Compared: fault or not,
 * the error code, CR2, the physical address, and every entry on the path
 * after the walk (A and D bits).
 *
 * The dimensions:
 *   entries     R/W, U/S, XD (not in 32-bit paging) on every level; A, D
 *   controls    CR0.WP, CR4.SMEP, CR4.SMAP, EFLAGS.AC, EFER.NXE
 *   accesses    supervisor (CPL 0) and user (CPL 3) read, write, fetch;
 *               implicit supervisor read and write (at CPL 3)
 * access_*: every R/W, U/S, XD combination on every level times all 32
 *   control states times all 8 accesses, and for 32-bit and PAE paging
 *   times the leaf's A and D too. In 4-level paging the leaf's A/D take a
 *   pseudo-random value per check instead (accessed_dirty has them as a
 *   product), and 5-level paging enumerates for each access only the
 *   controls that can change its outcome (see run_permissions_5level).
 * accessed_dirty: A on every level times D on the leaf, with the leaf's
 *   rights, all controls and accesses, for every mode and page size.
 * not_present_each_level, entry_bits_*: P = 0 at each level; each single
 *   bit of each entry for MAXPHYADDR 36, 39, 46 and 52 (reserved bits,
 *   ignored bits, the leaf's address bits).
 * Bits that decide nothing about faulting (PWT, PCD, G, bits 11:9, A and
 * bit 6 of non-leaf entries, PS of a 32-bit PDE without CR4.PSE) and the
 * source of the PAE PDPTEs (memory or ctx->pdpte[]) take a pseudo-random
 * value per check rather than multiplying the product.
 *
 * Accessed and dirty flags on a fault: the SDM lets a processor set A in
 * upper-level entries before it finds a fault lower down (4.8).
 * emul_walk() sets no A or D bit on any fault, so this test holds it to
 * exactly that: after a fault every entry is as it was. */
#include "tests/unit/test.h"
#include "tests/emul/fake_machine.h"

#define P	EMUL_PTE_P
#define RW	EMUL_PTE_RW
#define US	EMUL_PTE_US
#define PWT	BIT_ULL(3)
#define PCD	BIT_ULL(4)
#define A	EMUL_PTE_A
#define D	EMUL_PTE_D
#define PS	EMUL_PTE_PS
#define G	BIT_ULL(8)
#define XD	EMUL_PTE_XD

#define MAX_LEVELS	5
#define ROOT		0x100000ULL
#define MAX_REPORTS	5

/* ---- paging modes --------------------------------------------------------- */

struct mode {
	const char *name;
	enum emul_paging paging;
	unsigned int levels;
	unsigned int pte_bytes;
	uint64_t cr4;		/* PAE, PSE, LA57 */
	uint64_t efer;		/* LME, LMA */
	uint64_t la;		/* the linear address walked */
	const char *entry_names[MAX_LEVELS + 1];
};

static const struct mode mode_32 = {
	"32-bit paging", EMUL_PAGING_32, 2, 4, 0, 0, 0xa95f1abcULL,
	{ "", "PTE", "PDE" },
};

static const struct mode mode_32pse = {
	"32-bit paging with CR4.PSE", EMUL_PAGING_32, 2, 4, EMUL_CR4_PSE, 0,
	0xa95f1abcULL, { "", "PTE", "PDE" },
};

static const struct mode mode_pae = {
	"PAE paging", EMUL_PAGING_PAE, 3, 8, EMUL_CR4_PAE, 0, 0xa95f1abcULL,
	{ "", "PTE", "PDE", "PDPTE" },
};

static const struct mode mode_4level = {
	"4-level paging", EMUL_PAGING_4LEVEL, 4, 8, EMUL_CR4_PAE,
	EMUL_EFER_LME | EMUL_EFER_LMA, 0x00005a5f3c5e1abcULL,
	{ "", "PTE", "PDE", "PDPTE", "PML4E" },
};

static const struct mode mode_5level = {
	"5-level paging", EMUL_PAGING_5LEVEL, 5, 8, EMUL_CR4_PAE | EMUL_CR4_LA57,
	EMUL_EFER_LME | EMUL_EFER_LMA, 0x007b5a5f3c5e1abcULL,
	{ "", "PTE", "PDE", "PDPTE", "PML4E", "PML5E" },
};

static bool is_pae_pdpte(const struct mode *m, unsigned int level)
{
	return m->paging == EMUL_PAGING_PAE && level == 3;
}

/* ---- control state and access kinds ---------------------------------------- */

#define CTL_WP		(1u << 0)	/* CR0.WP */
#define CTL_SMEP	(1u << 1)	/* CR4.SMEP */
#define CTL_SMAP	(1u << 2)	/* CR4.SMAP */
#define CTL_AC		(1u << 3)	/* EFLAGS.AC */
#define CTL_NXE		(1u << 4)	/* EFER.NXE */
#define CTL_COUNT	32u

struct access_kind {
	const char *name;
	bool user, write, fetch, implicit;
};

static const struct access_kind kinds[] = {
	{ "supervisor read (CPL 0)",  false, false, false, false },
	{ "supervisor write (CPL 0)", false, true,  false, false },
	{ "supervisor fetch (CPL 0)", false, false, true,  false },
	{ "user read (CPL 3)",        true,  false, false, false },
	{ "user write (CPL 3)",       true,  true,  false, false },
	{ "user fetch (CPL 3)",       true,  false, true,  false },
	{ "implicit supervisor read (CPL 3)",  false, false, false, true },
	{ "implicit supervisor write (CPL 3)", false, true,  false, true },
};

/* ---- the reference model (SDM Vol. 3A chapter 4) ----------------------------- */

struct ref_cpu {
	bool wp, smep, smap, ac, nxe, pse;
	unsigned int maxpa;
};

struct ref_result {
	bool fault;
	uint32_t ec;
	uint64_t cr2;
	uint64_t gpa;
	uint64_t after[MAX_LEVELS + 1];
};

/* Bits hi:lo; none when hi < lo. */
static uint64_t ref_bits(unsigned int hi, unsigned int lo)
{
	return hi < lo ? 0 : GENMASK_ULL(hi, lo);
}

/* Reserved bits of a present entry. M is MAXPHYADDR.
 *   32-bit (Tables 4-4 .. 4-6): only a PDE mapping a 4-MByte page has
 *     reserved bits, 21:(M'-19) with M' = MIN(M, 40) (PSE-36).
 *   PAE PDPTE (Table 4-8): 63:M, 8:5, 2:1.
 *   PAE PDE/PTE (Tables 4-9 .. 4-11): 62:M, XD unless NXE; 20:13 in a
 *     PDE mapping a 2-MByte page.
 *   4/5-level (Tables 4-14 .. 4-20): 51:M, XD unless NXE; PS in a PML5E
 *     or PML4E; 29:13 in a 1-GByte PDPTE, 20:13 in a 2-MByte PDE. */
static uint64_t ref_rsvd(const struct mode *m, const struct ref_cpu *c,
			 unsigned int level, uint64_t e)
{
	uint64_t r;

	if (m->paging == EMUL_PAGING_32) {
		if (level == 2 && (e & PS) && c->pse)
			return ref_bits(21, MIN(c->maxpa, 40u) - 19);
		return 0;
	}
	if (is_pae_pdpte(m, level))
		return ref_bits(63, c->maxpa) | ref_bits(8, 5) | ref_bits(2, 1);
	r = c->nxe ? 0 : XD;
	r |= ref_bits(m->paging == EMUL_PAGING_PAE ? 62 : 51, c->maxpa);
	if (level >= 4)
		r |= PS;
	if (level == 3 && (e & PS))
		r |= ref_bits(29, 13);
	if (level == 2 && (e & PS))
		r |= ref_bits(20, 13);
	return r;
}

/* Does the entry map a page? PS selects a page in a 32-bit PDE only with
 * CR4.PSE (4.3), in a PAE PDE (4.4), and in a 4/5-level PDE or PDPTE (4.5;
 * 1-GByte pages supported). */
static bool ref_is_leaf(const struct mode *m, const struct ref_cpu *c,
			unsigned int level, uint64_t e)
{
	if (level == 1)
		return true;
	if (!(e & PS))
		return false;
	switch (m->paging) {
	case EMUL_PAGING_32:
		return level == 2 && c->pse;
	case EMUL_PAGING_PAE:
		return level == 2;
	default:
		return level == 2 || level == 3;
	}
}

static uint64_t ref_page_size(const struct mode *m, unsigned int level)
{
	if (m->paging == EMUL_PAGING_32)
		return level == 1 ? 4 * KiB : 4 * MiB;
	return 4 * KiB << (9 * (level - 1));
}

/* The page frame of a leaf entry whose reserved bits are clear. A 32-bit
 * 4-MByte PDE holds address bits 39:32 in its bits 20:13 (Table 4-4). */
static uint64_t ref_frame(const struct mode *m, unsigned int level,
			  uint64_t e)
{
	if (m->paging == EMUL_PAGING_32 && level == 2)
		return (e & ref_bits(31, 22)) | (((e >> 13) & 0xff) << 32);
	if (m->paging == EMUL_PAGING_32)
		return e & ref_bits(31, 12);
	return e & ref_bits(51, 12) & ~(ref_page_size(m, level) - 1);
}

/* 4.6.1: may this access use a translation whose entries give user_page
 * (U/S = 1 in all of them), writable (R/W = 1 in all) and xd (XD = 1 in
 * one of them, NXE = 1)? */
static bool ref_allowed(const struct ref_cpu *c, const struct access_kind *k,
			bool user_page, bool writable, bool xd)
{
	if (k->user) {
		/* User-mode accesses reach user-mode addresses only. */
		if (!user_page)
			return false;
		if (k->fetch)
			return !xd;
		return !k->write || writable;
	}
	if (k->fetch) {
		/* Supervisor fetches: never from user-mode addresses with
		 * SMEP, never from execute-disabled ones. */
		if (user_page && c->smep)
			return false;
		return !xd;
	}
	/* Supervisor data accesses to user-mode addresses under SMAP are
	 * allowed only for explicit accesses with EFLAGS.AC = 1; implicit
	 * ones behave as if AC = 0. */
	if (user_page && c->smap && (k->implicit || !c->ac))
		return false;
	/* Writes need R/W = 1 everywhere once CR0.WP = 1. */
	return !k->write || !c->wp || writable;
}

/* 4.7: P, W/R, U/S, RSVD; I/D for a fetch when SMEP is on or when PAE or
 * 4/5-level paging runs with EFER.NXE = 1. */
static void ref_fault(const struct mode *m, const struct ref_cpu *c,
		      const struct access_kind *k, uint64_t la, uint32_t bits,
		      struct ref_result *r)
{
	bool pae_paging = m->paging != EMUL_PAGING_32;

	r->fault = true;
	r->ec = bits;
	if (k->write)
		r->ec |= EMUL_PFEC_W;
	if (k->user)
		r->ec |= EMUL_PFEC_U;
	if (k->fetch && (c->smep || (pae_paging && c->nxe)))
		r->ec |= EMUL_PFEC_I;
	r->cr2 = la;
}

/* 4.8: A in every entry used (the PAE PDPTEs have none), D in the leaf
 * for a write. */
static void ref_set_ad(const struct mode *m, const struct access_kind *k,
		       unsigned int leaf, struct ref_result *r)
{
	for (unsigned int level = m->levels; level >= leaf; level--)
		if (!is_pae_pdpte(m, level))
			r->after[level] |= A;
	if (k->write)
		r->after[leaf] |= D;
}

/* Walks the entries e[levels..1] (e[level] is the entry used at level)
 * for access k to la. */
static void ref_walk(const struct mode *m, const struct ref_cpu *c,
		     const struct access_kind *k, uint64_t la,
		     const uint64_t *e, struct ref_result *r)
{
	bool user_page = true, writable = true, xd = false;
	unsigned int level;

	memset(r, 0, sizeof(*r));
	memcpy(r->after, e, sizeof(r->after));
	for (level = m->levels;; level--) {
		if (!(e[level] & P)) {
			ref_fault(m, c, k, la, 0, r);
			return;
		}
		if (e[level] & ref_rsvd(m, c, level, e[level])) {
			ref_fault(m, c, k, la, EMUL_PFEC_P | EMUL_PFEC_RSVD, r);
			return;
		}
		/* The PAE PDPTEs carry no access rights (4.4.1). */
		if (!is_pae_pdpte(m, level)) {
			user_page = user_page && (e[level] & US);
			writable = writable && (e[level] & RW);
			xd = xd || (c->nxe && (e[level] & XD));
		}
		if (ref_is_leaf(m, c, level, e[level]))
			break;
	}
	if (!ref_allowed(c, k, user_page, writable, xd)) {
		ref_fault(m, c, k, la, EMUL_PFEC_P, r);
		return;
	}
	r->gpa = ref_frame(m, level, e[level]) |
		 (la & (ref_page_size(m, level) - 1));
	ref_set_ad(m, k, level, r);
}

/* ---- the path in the fake machine ----------------------------------------------- */

/* Table of level L: the root at ROOT (the PAE PDPT at ROOT + 0x20, CR3
 * bits 31:5), each lower one in the next 4-KiB page. */
static uint64_t table_of(const struct mode *m, unsigned int level)
{
	if (is_pae_pdpte(m, level))
		return ROOT + 0x20;
	return ROOT + (m->levels - level) * 0x1000;
}

static uint64_t entry_gpa(const struct mode *m, unsigned int level)
{
	unsigned int bits = m->pte_bytes == 4 ? 10 : 9;
	uint64_t idx = m->la >> (12 + bits * (level - 1));

	idx &= is_pae_pdpte(m, level) ? 3 : (1u << bits) - 1;
	return table_of(m, level) + idx * m->pte_bytes;
}

/* Page frames below MAXPHYADDR 36, the smallest value tested. */
static uint64_t leaf_address_bits(const struct mode *m, unsigned int leaf)
{
	if (m->paging == EMUL_PAGING_32)
		/* 0x9c0400000: bits 31:22, and 35:32 in PDE bits 16:13 */
		return leaf == 1 ? 0x87654000ULL : 0xc0400000ULL | (0x9ULL << 13);
	switch (leaf) {
	case 1:  return 0x987654000ULL;
	case 2:  return 0x987600000ULL;
	default: return 0x980000000ULL;
	}
}

/* An entry's address bits and PS: the next table, or the page frame. */
static uint64_t entry_base(const struct mode *m, unsigned int level,
			   unsigned int leaf)
{
	if (level > leaf)
		return table_of(m, level - 1);
	return leaf_address_bits(m, leaf) | (level > 1 ? PS : 0);
}

/* Bits at this position of the path that never decide whether an access
 * faults: "Ignored" bits (4.3-4.5), PWT/PCD/G (memory type, globality), A
 * and bit 6 of non-leaf entries, PS of a 32-bit PDE without CR4.PSE. */
static uint64_t neutral_bits(const struct mode *m, unsigned int level,
			     unsigned int leaf)
{
	uint64_t ign = PWT | PCD | GENMASK_ULL(11, 9);

	if (level == leaf)
		return ign | G;
	if (is_pae_pdpte(m, level))
		return ign;
	if (m->paging == EMUL_PAGING_32 && !(m->cr4 & EMUL_CR4_PSE))
		ign |= PS;
	return ign | A | BIT_ULL(6);
}

/* ---- the enumerated space ------------------------------------------------------- */

#define MAX_CHOICES	32
#define CTL_ALL		(CTL_COUNT - 1)

/* One translation path and the flag values to try at each of its levels;
 * every combination of choices is checked (space_run). Bits in vary[] take
 * a pseudo-random value in each check, and with pdpte_either the PAE
 * PDPTEs come from memory or from ctx->pdpte[] at random. Controls: all 32
 * states for each access kind (all_controls), or every combination of the
 * controls relevant to the kind (ctl_relevant) with the others random;
 * fixed_mask controls always take their value from fixed. */
struct space {
	const char *what;
	const struct mode *m;
	unsigned int leaf;		/* level that maps the page */
	unsigned int maxpa;
	bool all_controls;
	unsigned int fixed_mask, fixed;	/* CTL_* */
	bool pdpte_either;
	uint64_t at[MAX_LEVELS + 1];	/* guest-physical address of entries */
	uint64_t base[MAX_LEVELS + 1];	/* address bits and PS */
	uint64_t vary[MAX_LEVELS + 1];
	unsigned int n[MAX_LEVELS + 1];
	uint64_t choice[MAX_LEVELS + 1][MAX_CHOICES];
};

struct tally {
	unsigned long long checked, mismatches;
	uint64_t rng;
};

static uint64_t tally_random(struct tally *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

static void space_init(struct space *s, const char *what,
		       const struct mode *m, unsigned int leaf)
{
	memset(s, 0, sizeof(*s));
	s->what = what;
	s->m = m;
	s->leaf = leaf;
	s->maxpa = 46;
	s->all_controls = true;
	for (unsigned int level = m->levels; level >= leaf; level--) {
		s->at[level] = entry_gpa(m, level);
		s->base[level] = entry_base(m, level, leaf);
	}
}

static void space_add(struct space *s, unsigned int level, uint64_t v)
{
	ASSERT(s->n[level] < MAX_CHOICES);
	s->choice[level][s->n[level]++] = v;
}

/* Adds every subset of vary, each with fixed set, as choices of level. */
static void space_subsets(struct space *s, unsigned int level, uint64_t fixed,
			  uint64_t vary)
{
	uint64_t sub = 0;

	do {
		space_add(s, level, fixed | sub);
		sub = (sub - vary) & vary;
	} while (sub);
}

static uint64_t perm_bits(const struct mode *m)
{
	return RW | US | (m->pte_bytes == 8 ? XD : 0);
}

/* P = 1 everywhere, every subset of perm at every level (the PAE PDPTE has
 * no access-rights bits); the leaf's A and D in the product (ad_product)
 * or pseudo-random. */
static void space_permissions(struct space *s, const char *what,
			      const struct mode *m, unsigned int leaf,
			      uint64_t perm, bool ad_product)
{
	space_init(s, what, m, leaf);
	s->pdpte_either = true;
	for (unsigned int level = m->levels; level >= leaf; level--) {
		s->vary[level] = neutral_bits(m, level, leaf);
		if (is_pae_pdpte(m, level))
			space_add(s, level, P);
		else if (level == leaf && ad_product)
			space_subsets(s, level, P, perm | A | D);
		else
			space_subsets(s, level, P, perm);
	}
	if (!ad_product)
		s->vary[leaf] |= A | D;
}

static bool space_next(const struct space *s, unsigned int *idx)
{
	for (unsigned int level = s->leaf; level <= s->m->levels; level++) {
		if (++idx[level] < s->n[level])
			return true;
		idx[level] = 0;
	}
	return false;
}

/* ---- one check -------------------------------------------------------------------- */

struct combo {
	const struct space *s;
	const struct access_kind *k;
	unsigned int ctl;		/* CTL_* */
	bool pdpte_regs;		/* PAE: PDPTEs from ctx->pdpte[] */
	uint64_t e[MAX_LEVELS + 1];	/* entries by level, leaf..levels */
};

struct observed {
	int rc;
	struct emul_exception exc;
	uint64_t gpa;
	uint64_t after[MAX_LEVELS + 1];
};

static void setup_cpu(struct emul_ctx *ctx, const struct combo *c)
{
	const struct mode *m = c->s->m;

	ctx->cr0 = EMUL_CR0_PE | EMUL_CR0_PG |
		   ((c->ctl & CTL_WP) ? EMUL_CR0_WP : 0);
	ctx->cr4 = m->cr4 | ((c->ctl & CTL_SMEP) ? EMUL_CR4_SMEP : 0) |
		   ((c->ctl & CTL_SMAP) ? EMUL_CR4_SMAP : 0);
	ctx->efer = m->efer | ((c->ctl & CTL_NXE) ? EMUL_EFER_NXE : 0);
	ctx->rflags = EMUL_RFLAGS_FIXED |
		      ((c->ctl & CTL_AC) ? EMUL_RFLAGS_AC : 0);
	ctx->cpl = (c->k->user || c->k->implicit) ? 3 : 0;
	ctx->cr3 = table_of(m, m->levels);
	ctx->maxphyaddr = (uint8_t)c->s->maxpa;
	ctx->pdpte_valid = c->pdpte_regs;
	if (c->pdpte_regs) {
		memset(ctx->pdpte, 0, sizeof(ctx->pdpte));
		ctx->pdpte[(m->la >> 30) & 3] = c->e[3];
	}
	ctx->exc = (struct emul_exception){ 0 };
}

static unsigned int access_flags(const struct access_kind *k)
{
	return (k->write ? EMUL_ACC_WRITE : 0) | (k->user ? EMUL_ACC_USER : 0) |
	       (k->fetch ? EMUL_ACC_FETCH : 0) |
	       (k->implicit ? EMUL_ACC_IMPLICIT : 0);
}

/* Entries are naturally aligned in their tables. */
static void store_entry(uint8_t *p, unsigned int bytes, uint64_t v)
{
	if (bytes == 4)
		*(uint32_t *)p = (uint32_t)v;
	else
		*(uint64_t *)p = v;
}

static uint64_t load_entry(const uint8_t *p, unsigned int bytes)
{
	return bytes == 4 ? *(const uint32_t *)p : *(const uint64_t *)p;
}

static void observe(struct fake_machine *fm, const struct combo *c,
		    struct observed *o)
{
	const struct space *s = c->s;
	unsigned int n = s->m->pte_bytes;

	for (unsigned int level = s->m->levels; level >= s->leaf; level--)
		store_entry(fm->ram + s->at[level], n, c->e[level]);
	setup_cpu(&fm->ctx, c);
	o->gpa = ~0ULL;
	o->rc = emul_walk(&fm->ctx, s->m->la, access_flags(c->k), &o->gpa);
	o->exc = fm->ctx.exc;
	for (unsigned int level = s->m->levels; level >= s->leaf; level--)
		o->after[level] = load_entry(fm->ram + s->at[level], n);
}

static bool matches(const struct combo *c, const struct ref_result *r,
		    const struct observed *o)
{
	for (unsigned int level = c->s->m->levels; level >= c->s->leaf; level--)
		if (o->after[level] != r->after[level])
			return false;
	if (!r->fault)
		return o->rc == EMUL_OK && o->gpa == r->gpa;
	return o->rc == EMUL_EXCEPTION && o->exc.vector == EMUL_VEC_PF &&
	       o->exc.has_error_code && o->exc.error_code == r->ec &&
	       o->exc.cr2 == r->cr2;
}

/* ---- mismatch reports ------------------------------------------------------------- */

static const char *leaf_name(const struct mode *m, unsigned int leaf)
{
	static const char *const names[] = { "", "4 KiB", "2 MiB", "1 GiB" };

	if (m->paging == EMUL_PAGING_32 && leaf == 2)
		return "4 MiB";
	return names[leaf];
}

static void describe_entry(const struct mode *m, unsigned int level,
			   uint64_t e)
{
	printf("      %-5s 0x%0*" PRIx64 " [%s%s%s%s%s%s%s]\n",
	       m->entry_names[level], 2 * m->pte_bytes, e,
	       (e & P) ? "P" : "-", (e & RW) ? " W" : "", (e & US) ? " U" : "",
	       (e & XD) ? " XD" : "", (e & A) ? " A" : "", (e & D) ? " D" : "",
	       (e & PS) ? " PS" : "");
}

static void describe_outcome(const char *who, int rc, uint32_t ec,
			     uint64_t cr2, uint64_t gpa)
{
	if (rc == EMUL_EXCEPTION)
		printf("      %s #PF error code 0x%x, CR2 0x%" PRIx64 "\n",
		       who, ec, cr2);
	else if (rc == EMUL_OK)
		printf("      %s no fault, gpa 0x%" PRIx64 "\n", who, gpa);
	else
		printf("      %s status %d\n", who, rc);
}

static void report(const struct combo *c, const struct ref_result *r,
		   const struct observed *o)
{
	const struct mode *m = c->s->m;
	unsigned int level;

	printf("    mismatch (%s): %s, %s pages, MAXPHYADDR %u, %s\n",
	       c->s->what, m->name, leaf_name(m, c->s->leaf), c->s->maxpa,
	       c->k->name);
	printf("      CR0.WP=%d CR4.SMEP=%d CR4.SMAP=%d EFLAGS.AC=%d "
	       "EFER.NXE=%d%s, linear 0x%" PRIx64 "\n",
	       !!(c->ctl & CTL_WP), !!(c->ctl & CTL_SMEP),
	       !!(c->ctl & CTL_SMAP), !!(c->ctl & CTL_AC),
	       !!(c->ctl & CTL_NXE), c->pdpte_regs ? ", PDPTE registers" : "",
	       m->la);
	for (level = m->levels; level >= c->s->leaf; level--)
		describe_entry(m, level, c->e[level]);
	describe_outcome("expected", r->fault ? EMUL_EXCEPTION : EMUL_OK,
			 r->ec, r->cr2, r->gpa);
	if (o->rc == EMUL_EXCEPTION && o->exc.vector != EMUL_VEC_PF)
		printf("      got vector %u\n", o->exc.vector);
	describe_outcome("got     ", o->rc, o->exc.error_code, o->exc.cr2,
			 o->gpa);
	for (level = m->levels; level >= c->s->leaf; level--)
		if (o->after[level] != r->after[level])
			printf("      %s after the walk: expected 0x%" PRIx64
			       ", got 0x%" PRIx64 "\n", m->entry_names[level],
			       r->after[level], o->after[level]);
}

static void check(struct fake_machine *fm, const struct combo *c,
		  struct tally *t)
{
	struct ref_cpu cpu = {
		.wp = c->ctl & CTL_WP, .smep = c->ctl & CTL_SMEP,
		.smap = c->ctl & CTL_SMAP, .ac = c->ctl & CTL_AC,
		.nxe = c->ctl & CTL_NXE, .pse = c->s->m->cr4 & EMUL_CR4_PSE,
		.maxpa = c->s->maxpa,
	};
	struct ref_result r;
	struct observed o;

	ref_walk(c->s->m, &cpu, c->k, c->s->m->la, c->e, &r);
	observe(fm, c, &o);
	t->checked++;
	if (matches(c, &r, &o))
		return;
	if (t->mismatches++ < MAX_REPORTS)
		report(c, &r, &o);
}

/* The controls that can change the outcome of access kind k (4.6.1, 4.7):
 * NXE always (XD reserved or not), SMEP for fetches (the I/D bit, and
 * supervisor fetches), CR0.WP for supervisor writes, SMAP for supervisor
 * data accesses, EFLAGS.AC for explicit ones. */
static unsigned int ctl_relevant(const struct access_kind *k)
{
	unsigned int r = CTL_NXE;

	if (k->fetch)
		return r | CTL_SMEP;
	if (k->user)
		return r;
	r |= CTL_SMAP | (k->write ? CTL_WP : 0);
	return r | (k->implicit ? 0 : CTL_AC);
}

static void check_one(struct fake_machine *fm, const struct space *s,
		      const uint64_t *e, const struct access_kind *k,
		      unsigned int ctl, uint64_t rnd, struct tally *t)
{
	struct combo c = { .s = s, .k = k, .ctl = ctl };

	for (unsigned int level = s->m->levels; level >= s->leaf; level--)
		c.e[level] = e[level] | (rnd & s->vary[level]);
	c.pdpte_regs = s->pdpte_either && s->m->paging == EMUL_PAGING_PAE &&
		       (rnd >> 63);
	check(fm, &c, t);
}

/* Checks the path e[] under each access kind and its control states. */
static void check_path(struct fake_machine *fm, const struct space *s,
		       const uint64_t *e, struct tally *t)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(kinds); i++) {
		unsigned int rel = s->all_controls ? CTL_ALL
						   : ctl_relevant(&kinds[i]);
		unsigned int sub = 0;

		rel &= ~s->fixed_mask;
		do {
			uint64_t rnd = tally_random(t);
			unsigned int ctl = (unsigned int)(rnd >> 40) & CTL_ALL;

			ctl = (ctl & ~rel & ~s->fixed_mask) | sub | s->fixed;
			check_one(fm, s, e, &kinds[i], ctl, rnd, t);
			sub = (sub - rel) & rel;
		} while (sub);
	}
}

static void space_run(struct fake_machine *fm, const struct space *s,
		      struct tally *t)
{
	unsigned int idx[MAX_LEVELS + 1] = { 0 };

	do {
		uint64_t e[MAX_LEVELS + 1] = { 0 };

		for (unsigned int l = s->m->levels; l >= s->leaf; l--)
			e[l] = s->base[l] | s->choice[l][idx[l]];
		check_path(fm, s, e, t);
	} while (space_next(s, idx));
}

/* ---- drivers ----------------------------------------------------------------------- */

static struct space space;	/* large; one test runs at a time */

static struct fake_machine *machine_new(struct tally *t)
{
	memset(t, 0, sizeof(*t));
	t->rng = 0x9e3779b97f4a7c15ULL;
	return fm_new();
}

static void finish(struct fake_machine *fm, const char *what,
		   const struct tally *t)
{
	printf("    %s: %llu combinations checked, %llu mismatches\n", what,
	       t->checked, t->mismatches);
	EXPECT_EQ(t->mismatches, 0);
	fm_free(fm);
}

/* Every R/W, U/S (and XD) combination on every level, the leaf's A and D,
 * all control states, all access kinds. */
static void run_permissions(const struct mode *m, unsigned int leaf,
			    bool ad_product)
{
	char what[96];
	struct tally t;
	struct fake_machine *fm = machine_new(&t);

	snprintf(what, sizeof(what), "%s, %s pages%s", m->name,
		 leaf_name(m, leaf), ad_product ? "" : ", leaf A/D random");
	space_permissions(&space, "permissions", m, leaf, perm_bits(m),
			  ad_product);
	space_run(fm, &space, &t);
	finish(fm, what, &t);
}

/* 5-level: 2^15 R/W, U/S, XD combinations. With EFER.NXE = 1 each runs
 * under every combination of the controls relevant to each access kind;
 * with NXE = 0 (where XD is a reserved bit, see entry_bits_*) every R/W,
 * U/S combination does. */
static void run_permissions_5level(unsigned int leaf)
{
	char what[96];
	struct tally t;
	struct fake_machine *fm = machine_new(&t);
	const struct mode *m = &mode_5level;

	snprintf(what, sizeof(what), "%s, %s pages, leaf A/D random, "
		 "controls relevant to each access", m->name,
		 leaf_name(m, leaf));
	space_permissions(&space, "permissions", m, leaf, RW | US | XD, false);
	space.all_controls = false;
	space.fixed_mask = space.fixed = CTL_NXE;
	space_run(fm, &space, &t);
	space_permissions(&space, "permissions", m, leaf, RW | US, false);
	space.all_controls = false;
	space.fixed_mask = CTL_NXE;
	space_run(fm, &space, &t);
	finish(fm, what, &t);
}

/* ---- one test per paging mode --------------------------------------------------------- */

TEST(access_32bit)
{
	run_permissions(&mode_32, 1, true);
}

TEST(access_32bit_pse)
{
	run_permissions(&mode_32pse, 1, true);
}

TEST(access_32bit_4m_pages)
{
	run_permissions(&mode_32pse, 2, true);
}

TEST(access_pae)
{
	run_permissions(&mode_pae, 1, true);
}

TEST(access_pae_2m_pages)
{
	run_permissions(&mode_pae, 2, true);
}

/* The leaf's A and D vary pseudo-randomly here (they decide only what the
 * walk writes back); accessed_dirty covers them as a product. */
TEST(access_4level)
{
	run_permissions(&mode_4level, 1, false);
}

TEST(access_4level_large_pages)
{
	run_permissions(&mode_4level, 2, false);
	run_permissions(&mode_4level, 3, false);
}

TEST(access_5level)
{
	run_permissions_5level(1);
}

TEST(access_5level_large_pages)
{
	run_permissions_5level(2);
	run_permissions_5level(3);
}

/* ---- accessed and dirty flags ----------------------------------------------------------- */

/* Every combination of A on each level and D on the leaf, under every
 * R/W, U/S, XD of the leaf (upper levels allow everything), all control
 * states and access kinds: A and D set exactly on success (4.8). */
static void run_accessed_dirty(const struct mode *m, unsigned int leaf,
			       struct fake_machine *fm, struct tally *t)
{
	space_init(&space, "accessed/dirty", m, leaf);
	space.pdpte_either = true;
	for (unsigned int level = m->levels; level > leaf; level--) {
		if (is_pae_pdpte(m, level)) {
			space_add(&space, level, P);
			continue;
		}
		space.vary[level] = neutral_bits(m, level, leaf) & ~A;
		space_subsets(&space, level, P | RW | US, A);
	}
	space.vary[leaf] = neutral_bits(m, leaf, leaf);
	space_subsets(&space, leaf, P, perm_bits(m) | A | D);
	space_run(fm, &space, t);
}

TEST(accessed_dirty)
{
	static const struct { const struct mode *m; unsigned int leaf; } runs[] = {
		{ &mode_32, 1 }, { &mode_32pse, 1 }, { &mode_32pse, 2 },
		{ &mode_pae, 1 }, { &mode_pae, 2 },
		{ &mode_4level, 1 }, { &mode_4level, 2 }, { &mode_4level, 3 },
		{ &mode_5level, 1 }, { &mode_5level, 2 }, { &mode_5level, 3 },
	};
	struct tally t;
	struct fake_machine *fm = machine_new(&t);

	for (unsigned int i = 0; i < ARRAY_SIZE(runs); i++)
		run_accessed_dirty(runs[i].m, runs[i].leaf, fm, &t);
	finish(fm, "A on every level x D on the leaf, all modes and page sizes",
	       &t);
}

/* ---- not-present entries ----------------------------------------------------------------- */

/* P = 0 at level np, whatever else the entry holds; above it either full
 * rights or none with XD (a reserved bit when NXE = 0, found first). The
 * levels below are present and must not be looked at. */
static void run_not_present(const struct mode *m, unsigned int np,
			    struct fake_machine *fm, struct tally *t)
{
	uint64_t width = m->pte_bytes == 4 ? GENMASK_ULL(31, 0) : ~0ULL;

	space_init(&space, "not present", m, 1);
	for (unsigned int level = m->levels; level >= 1; level--) {
		if (level == np) {
			space_add(&space, level, 0);
			space_add(&space, level, width & ~P);
			space_add(&space, level, RW | US | A | D | PS);
		} else if (level < np || is_pae_pdpte(m, level)) {
			space_add(&space, level, P | RW | US);
		} else {
			space_add(&space, level, P | RW | US);
			space_add(&space, level, P | (m->pte_bytes == 8 ? XD : 0));
		}
	}
	space_run(fm, &space, t);
}

TEST(not_present_each_level)
{
	static const struct mode *const modes[] = {
		&mode_32, &mode_32pse, &mode_pae, &mode_4level, &mode_5level,
	};
	struct tally t;
	struct fake_machine *fm = machine_new(&t);

	for (unsigned int i = 0; i < ARRAY_SIZE(modes); i++)
		for (unsigned int np = modes[i]->levels; np >= 1; np--)
			run_not_present(modes[i], np, fm, &t);
	finish(fm, "P = 0 at each level, all modes", &t);
}

/* ---- every single bit of every entry -------------------------------------------------------- */

/* Address bits of a non-leaf entry are not flipped: they would move the
 * next table away from the one built. Nor is PS of a large leaf: clear, it
 * would make the page frame a page table. */
static bool flip_skipped(const struct space *s, unsigned int level,
			 unsigned int bit)
{
	if (level == s->leaf)
		return level > 1 && bit == 7;
	if (s->m->pte_bytes == 4)
		return bit >= 12;
	return bit >= 12 && bit < MIN(s->maxpa, 52u);
}

/* Base path: P, R/W, U/S everywhere (P alone in the PAE PDPTE); each
 * check flips one bit of one entry: reserved bits per MAXPHYADDR, NXE and
 * page size (4.3-4.5), the access-rights bits, ignored bits, and the leaf's
 * address bits. */
static void run_entry_bits(const struct mode *m, unsigned int leaf,
			   unsigned int maxpa, struct fake_machine *fm,
			   struct tally *t)
{
	space_init(&space, "entry bits", m, leaf);
	space.maxpa = maxpa;
	space.all_controls = false;
	for (unsigned int level = m->levels; level >= leaf; level--)
		space.base[level] |= is_pae_pdpte(m, level) ? P : P | RW | US;
	for (unsigned int level = m->levels; level >= leaf; level--) {
		for (unsigned int bit = 0; bit < 8 * m->pte_bytes; bit++) {
			uint64_t e[MAX_LEVELS + 1] = { 0 };

			if (flip_skipped(&space, level, bit))
				continue;
			memcpy(e, space.base, sizeof(e));
			e[level] ^= BIT_ULL(bit);
			check_path(fm, &space, e, t);
		}
	}
}

static void run_entry_bits_mode(const struct mode *m)
{
	static const unsigned int maxpas[] = { 36, 39, 46, 52 };
	char what[96];
	struct tally t;
	struct fake_machine *fm = machine_new(&t);
	unsigned int top_leaf = m->levels >= 4 ? 3 : 2;

	if (m->paging == EMUL_PAGING_32 && !(m->cr4 & EMUL_CR4_PSE))
		top_leaf = 1;
	for (unsigned int i = 0; i < ARRAY_SIZE(maxpas); i++)
		for (unsigned int leaf = 1; leaf <= top_leaf; leaf++)
			run_entry_bits(m, leaf, maxpas[i], fm, &t);
	snprintf(what, sizeof(what), "%s, each bit of each entry, every page "
		 "size, MAXPHYADDR 36/39/46/52", m->name);
	finish(fm, what, &t);
}

TEST(entry_bits_32bit)
{
	run_entry_bits_mode(&mode_32);
	run_entry_bits_mode(&mode_32pse);
}

TEST(entry_bits_pae)
{
	run_entry_bits_mode(&mode_pae);
}

TEST(entry_bits_4level)
{
	run_entry_bits_mode(&mode_4level);
}

TEST(entry_bits_5level)
{
	run_entry_bits_mode(&mode_5level);
}

TEST_MAIN()
