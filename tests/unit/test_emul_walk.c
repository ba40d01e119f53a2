/* Guest page walker tests: every paging mode, large pages, each fault kind
 * with its exact error code and CR2, accessed/dirty bits, and faults seen
 * through emul_step(). */
#include "tests/unit/test.h"
#include "tests/emul/fake_machine.h"

#define P	EMUL_PTE_P
#define RW	EMUL_PTE_RW
#define US	EMUL_PTE_US
#define A	EMUL_PTE_A
#define D	EMUL_PTE_D
#define PS	EMUL_PTE_PS
#define XD	EMUL_PTE_XD
#define ADDR	GENMASK_ULL(51, 12)

#define ROOT	0x100000ULL
#define W	EMUL_ACC_WRITE
#define U	EMUL_ACC_USER
#define I	EMUL_ACC_FETCH

static uint64_t next_table;

static uint64_t pt_alloc(struct fake_machine *fm)
{
	uint64_t p = next_table;

	next_table += 0x1000;
	memset(fm->ram + p, 0, 0x1000);
	return p;
}

/* Maps la -> pa with a leaf at level leaf (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB)
 * in a 4- or 5-level (or, with levels 3 and pae, the lower part of a PAE)
 * tree. Non-leaf entries get 'upper' flags. */
static void map64(struct fake_machine *fm, unsigned int levels, uint64_t la,
		  uint64_t pa, unsigned int leaf, uint64_t flags, uint64_t upper)
{
	uint64_t table = ROOT;

	for (unsigned int level = levels; level > leaf; level--) {
		uint64_t idx = (la >> (12 + 9 * (level - 1))) & 511;
		uint64_t e = fm_get(fm, table + 8 * idx, 8);

		if (!(e & P))
			e = pt_alloc(fm);
		e = (e & ADDR) | upper;
		fm_set64(fm, table + 8 * idx, e);
		table = e & ADDR;
	}
	fm_set64(fm, table + 8 * ((la >> (12 + 9 * (leaf - 1))) & 511),
		 pa | flags | (leaf > 1 ? PS : 0));
}

static uint64_t *entry64(struct fake_machine *fm, unsigned int levels,
			 uint64_t la, unsigned int level)
{
	uint64_t table = ROOT;

	for (unsigned int l = levels; l > level; l--) {
		uint64_t idx = (la >> (12 + 9 * (l - 1))) & 511;

		table = fm_get(fm, table + 8 * idx, 8) & ADDR;
	}
	return (uint64_t *)(fm->ram + table +
			    8 * ((la >> (12 + 9 * (level - 1))) & 511));
}

static struct fake_machine *paging64(unsigned int levels)
{
	struct fake_machine *fm = fm_new();

	next_table = ROOT;
	pt_alloc(fm);
	fm->ctx.cr0 = EMUL_CR0_PE | EMUL_CR0_PG | EMUL_CR0_WP;
	fm->ctx.cr4 = EMUL_CR4_PAE | (levels == 5 ? EMUL_CR4_LA57 : 0);
	fm->ctx.efer = EMUL_EFER_LME | EMUL_EFER_LMA | EMUL_EFER_NXE;
	fm->ctx.cr3 = ROOT;
	return fm;
}

static int walk(struct fake_machine *fm, uint64_t la, unsigned int acc,
		uint64_t *gpa)
{
	memset(&fm->ctx.exc, 0, sizeof(fm->ctx.exc));
	return emul_walk(&fm->ctx, la, acc, gpa);
}

#define EXPECT_PF(fm, la, acc, ec) do {					\
	uint64_t _g = 0;						\
	EXPECT_EQ(walk(fm, la, acc, &_g), EMUL_EXCEPTION);		\
	EXPECT_EQ((fm)->ctx.exc.vector, EMUL_VEC_PF);			\
	EXPECT_EQ((fm)->ctx.exc.error_code, ec);			\
	EXPECT_EQ((fm)->ctx.exc.cr2, la);				\
} while (0)

#define EXPECT_MAPS(fm, la, acc, pa) do {				\
	uint64_t _g = ~0ULL;						\
	EXPECT_EQ(walk(fm, la, acc, &_g), EMUL_OK);			\
	EXPECT_EQ(_g, pa);						\
} while (0)

/* ---- 4-level -------------------------------------------------------------- */

TEST(level4_translation_sets_accessed_then_dirty)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x00007f1234567abcULL;

	map64(fm, 4, la, 0x345000, 1, P | RW | US, P | RW | US);
	EXPECT_MAPS(fm, la, 0, 0x345abc);
	for (unsigned int l = 4; l >= 1; l--)
		EXPECT(*entry64(fm, 4, la, l) & A);
	EXPECT(!(*entry64(fm, 4, la, 1) & D));
	EXPECT_MAPS(fm, la, W | U, 0x345abc);
	EXPECT(*entry64(fm, 4, la, 1) & D);
	EXPECT(!(*entry64(fm, 4, la, 2) & D));
	fm_free(fm);
}

/* The path a shadow MMU mirrors: every entry with the A/D bits the walk
 * set and where it lives, the leaf level, and the translation. */
TEST(walk_path_reports_each_level)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x00007f1234567abcULL, la2 = 0x40200123ULL;
	struct emul_walk_path p;

	map64(fm, 4, la, 0x345000, 1, P | RW | US, P | RW | US);
	map64(fm, 4, la2, 0x800000, 2, P | RW, P | RW);
	EXPECT_EQ(emul_walk_path(&fm->ctx, la, W, &p), EMUL_OK);
	EXPECT_EQ(p.mode, EMUL_PAGING_4LEVEL);
	EXPECT_EQ(p.levels, 4);
	EXPECT_EQ(p.leaf, 1);
	EXPECT_EQ(p.gpa, 0x345abc);
	for (unsigned int l = 4; l >= 1; l--) {
		EXPECT_EQ(p.pte[l], *entry64(fm, 4, la, l));
		EXPECT_EQ((uint8_t *)fm->ram + p.pte_gpa[l],
			  (uint8_t *)entry64(fm, 4, la, l));
	}
	EXPECT(p.pte[1] & D);
	EXPECT_EQ(p.pte_gpa[4], ROOT + 8 * ((la >> 39) & 511));
	EXPECT_EQ(emul_walk_path(&fm->ctx, la2, 0, &p), EMUL_OK);
	EXPECT_EQ(p.leaf, 2);
	EXPECT_EQ(p.gpa, 0x800123);
	EXPECT(!(p.pte[2] & D));
	fm->ctx.cr0 = EMUL_CR0_PE;
	EXPECT_EQ(emul_walk_path(&fm->ctx, 0x1234, 0, &p), EMUL_OK);
	EXPECT_EQ(p.levels, 0);
	EXPECT_EQ(p.gpa, 0x1234);
	fm_free(fm);
}

/* A caller's translation hint answers data accesses its rights allow, on
 * its page only; fetches and other pages are walked. */
TEST(walk_hint)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x7000123ULL, gpa = 0;

	map64(fm, 4, la, 0x345000, 1, P | RW | US, P | RW | US);
	fm->ctx.hint = (struct emul_xlat_hint){ 0x7000000, 0xff000000,
						EMUL_ACC_USER, true };
	EXPECT_EQ(walk(fm, la, U, &gpa), EMUL_OK);
	EXPECT_EQ(gpa, 0xff000123);
	EXPECT_MAPS(fm, la, U | W, 0x345123);
	EXPECT_MAPS(fm, la, I, 0x345123);
	EXPECT_PF(fm, 0x7001123, 0, 0);         /* another page: walked */
	fm->ctx.hint.valid = false;
	EXPECT_MAPS(fm, la, U, 0x345123);
	fm_free(fm);
}

TEST(level4_not_present_at_each_level)
{
	for (unsigned int level = 4; level >= 1; level--) {
		struct fake_machine *fm = paging64(4);
		uint64_t la = 0x0000123456789000ULL;

		map64(fm, 4, la, 0x5000, 1, P | RW | US, P | RW | US);
		*entry64(fm, 4, la, level) &= ~P;
		EXPECT_PF(fm, la, 0, 0);
		EXPECT_PF(fm, la, W | U, EMUL_PFEC_W | EMUL_PFEC_U);
		EXPECT_PF(fm, la, I, EMUL_PFEC_I);	/* NXE: I/D reported */
		/* no A bit set by a failed walk */
		if (level < 4)
			EXPECT(!(*entry64(fm, 4, la, 4) & A));
		fm_free(fm);
	}
}

TEST(level4_user_supervisor)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x400000;

	/* supervisor at the PDE only: user access faults with P|U */
	map64(fm, 4, la, 0x7000, 1, P | RW | US, P | RW | US);
	*entry64(fm, 4, la, 2) &= ~US;
	EXPECT_PF(fm, la, U, EMUL_PFEC_P | EMUL_PFEC_U);
	EXPECT_PF(fm, la, U | W, EMUL_PFEC_P | EMUL_PFEC_U | EMUL_PFEC_W);
	EXPECT_MAPS(fm, la, 0, 0x7000);
	fm_free(fm);
}

TEST(level4_read_only_and_cr0_wp)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x400000;

	map64(fm, 4, la, 0x7000, 1, P | US, P | RW | US);
	EXPECT_MAPS(fm, la, U, 0x7000);
	EXPECT_PF(fm, la, U | W, EMUL_PFEC_P | EMUL_PFEC_W | EMUL_PFEC_U);
	EXPECT_PF(fm, la, W, EMUL_PFEC_P | EMUL_PFEC_W);	/* WP = 1 */
	fm->ctx.cr0 &= ~EMUL_CR0_WP;
	fm->ctx.cr4 &= ~EMUL_CR4_SMAP;
	EXPECT_MAPS(fm, la, W, 0x7000);				/* WP = 0 */
	EXPECT(*entry64(fm, 4, la, 1) & D);
	/* user write still faults with WP = 0 */
	EXPECT_PF(fm, la, U | W, EMUL_PFEC_P | EMUL_PFEC_W | EMUL_PFEC_U);
	/* read-only in an upper level counts too */
	map64(fm, 4, 0x800000, 0x8000, 1, P | RW | US, P | US);
	EXPECT_PF(fm, 0x800000, U | W, EMUL_PFEC_P | EMUL_PFEC_W | EMUL_PFEC_U);
	fm_free(fm);
}

TEST(level4_nx)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x400000;

	map64(fm, 4, la, 0x7000, 1, P | RW | US | XD, P | RW | US);
	EXPECT_PF(fm, la, I, EMUL_PFEC_P | EMUL_PFEC_I);
	EXPECT_PF(fm, la, I | U, EMUL_PFEC_P | EMUL_PFEC_I | EMUL_PFEC_U);
	EXPECT_MAPS(fm, la, 0, 0x7000);				/* reads fine */
	/* XD in the upper levels of another PML4 slot */
	map64(fm, 4, 1ULL << 40, 0x8000, 1, P | RW | US, P | RW | US | XD);
	EXPECT_PF(fm, 1ULL << 40, I, EMUL_PFEC_P | EMUL_PFEC_I);
	/* without EFER.NXE bit 63 is reserved */
	fm->ctx.efer &= ~EMUL_EFER_NXE;
	EXPECT_PF(fm, la, 0, EMUL_PFEC_P | EMUL_PFEC_RSVD);
	/* and a fetch fault no longer reports I/D (no SMEP either) */
	*entry64(fm, 4, la, 1) &= ~(XD | P);
	EXPECT_PF(fm, la, I, 0);
	fm_free(fm);
}

TEST(level4_reserved_bits)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x400000;

	fm->ctx.maxphyaddr = 40;
	map64(fm, 4, la, 0x7000, 1, P | RW, P | RW);
	*entry64(fm, 4, la, 1) |= BIT_ULL(45);		/* above MAXPHYADDR */
	EXPECT_PF(fm, la, 0, EMUL_PFEC_P | EMUL_PFEC_RSVD);
	EXPECT_PF(fm, la, W, EMUL_PFEC_P | EMUL_PFEC_RSVD | EMUL_PFEC_W);
	*entry64(fm, 4, la, 1) &= ~BIT_ULL(45);
	*entry64(fm, 4, la, 4) |= PS;			/* PS in a PML4E */
	EXPECT_PF(fm, la, 0, EMUL_PFEC_P | EMUL_PFEC_RSVD);
	*entry64(fm, 4, la, 4) &= ~PS;
	EXPECT_MAPS(fm, la, 0, 0x7000);
	/* bits 58:52 are ignored, not reserved */
	*entry64(fm, 4, la, 1) |= BIT_ULL(55);
	EXPECT_MAPS(fm, la, 0, 0x7000);
	fm_free(fm);
}

TEST(level4_large_pages)
{
	struct fake_machine *fm = paging64(4);

	map64(fm, 4, 0x40000000, 0x200000, 2, P | RW, P | RW);
	EXPECT_MAPS(fm, 0x40012345, W, 0x212345);
	EXPECT(*entry64(fm, 4, 0x40000000, 2) & D);
	map64(fm, 4, 0x8000000000ULL, 0x40000000, 3, P | RW, P | RW);
	EXPECT_MAPS(fm, 0x8000000000ULL + 0x3456789, 0, 0x43456789);
	/* 2 MiB page with a reserved bit 13 */
	*entry64(fm, 4, 0x40000000, 2) |= BIT_ULL(13);
	EXPECT_PF(fm, 0x40000000, 0, EMUL_PFEC_P | EMUL_PFEC_RSVD);
	/* 1 GiB page with reserved bit 29 */
	*entry64(fm, 4, 0x8000000000ULL, 3) |= BIT_ULL(29);
	EXPECT_PF(fm, 0x8000000000ULL, 0, EMUL_PFEC_P | EMUL_PFEC_RSVD);
	fm_free(fm);
}

/* CR0.WP = 0 lets the supervisor write a read-only page, and the write
 * sets D like any other (SDM Vol. 3A 4.8): in a 2 MiB and a 1 GiB leaf
 * too, reached through two PDEs that map the same frame, each getting
 * its own D (kvm-unit-tests' check_large_pte_dirty_for_nowp). */
TEST(cr0_wp0_write_to_read_only_large_page_sets_dirty)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la1 = 0x40000000, la2 = 0x40200000, la3 = 0x8000000000ULL;

	fm->ctx.cr0 &= ~EMUL_CR0_WP;
	map64(fm, 4, la1, 0x600000, 2, P, P | RW);
	map64(fm, 4, la2, 0x600000, 2, P, P | RW);
	map64(fm, 4, la3, 0x40000000, 3, P, P | RW);
	EXPECT_MAPS(fm, la2 + 0x123, 0, 0x600123);	/* read: A only */
	EXPECT_EQ(*entry64(fm, 4, la2, 2) & (A | D), A);
	EXPECT_MAPS(fm, la1 + 0x456, W, 0x600456);	/* write: A and D */
	EXPECT_EQ(*entry64(fm, 4, la1, 2) & (A | D), A | D);
	EXPECT_EQ(*entry64(fm, 4, la2, 2) & (A | D), A);
	EXPECT_MAPS(fm, la2 + 0x789, W, 0x600789);
	EXPECT_EQ(*entry64(fm, 4, la2, 2) & (A | D), A | D);
	EXPECT_EQ(*entry64(fm, 4, la2, 3) & D, 0);	/* D only in the leaf */
	EXPECT_MAPS(fm, la3 + 0x1000, W, 0x40001000);
	EXPECT_EQ(*entry64(fm, 4, la3, 3) & (A | D), A | D);
	/* a user write still faults, and leaves D alone */
	*entry64(fm, 4, la1, 2) = (0x600000 | P | US | PS);
	*entry64(fm, 4, la1, 3) |= US;
	*entry64(fm, 4, la1, 4) |= US;
	EXPECT_PF(fm, la1, U | W, EMUL_PFEC_P | EMUL_PFEC_W | EMUL_PFEC_U);
	EXPECT_EQ(*entry64(fm, 4, la1, 2) & D, 0);
	fm_free(fm);
}

TEST(smep_smap)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x400000;

	map64(fm, 4, la, 0x7000, 1, P | RW | US, P | RW | US);
	/* supervisor fetch from a user page */
	EXPECT_MAPS(fm, la, I, 0x7000);
	fm->ctx.cr4 |= EMUL_CR4_SMEP;
	EXPECT_PF(fm, la, I, EMUL_PFEC_P | EMUL_PFEC_I);
	/* supervisor data access to a user page */
	EXPECT_MAPS(fm, la, W, 0x7000);
	fm->ctx.cr4 |= EMUL_CR4_SMAP;
	EXPECT_PF(fm, la, 0, EMUL_PFEC_P);
	EXPECT_PF(fm, la, W, EMUL_PFEC_P | EMUL_PFEC_W);
	fm->ctx.rflags |= EMUL_RFLAGS_AC;
	EXPECT_MAPS(fm, la, 0, 0x7000);
	EXPECT_MAPS(fm, la, W, 0x7000);
	/* implicit supervisor accesses ignore EFLAGS.AC */
	EXPECT_PF(fm, la, EMUL_ACC_IMPLICIT, EMUL_PFEC_P);
	/* user accesses are not affected */
	fm->ctx.rflags &= ~EMUL_RFLAGS_AC;
	EXPECT_MAPS(fm, la, U | W, 0x7000);
	/* SMAP + AC with a read-only user page and WP: write faults */
	*entry64(fm, 4, la, 1) &= ~RW;
	fm->ctx.rflags |= EMUL_RFLAGS_AC;
	EXPECT_PF(fm, la, W, EMUL_PFEC_P | EMUL_PFEC_W);
	fm_free(fm);
}

TEST(protection_keys)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x400000, key = 5ULL << EMUL_PTE_PKEY_SHIFT;

	map64(fm, 4, la, 0x7000, 1, P | RW | US | key, P | RW | US);
	fm->ctx.pkru = 1u << (2 * 5);			/* AD for key 5 */
	EXPECT_MAPS(fm, la, U, 0x7000);			/* PKE off */
	fm->ctx.cr4 |= EMUL_CR4_PKE;
	EXPECT_PF(fm, la, U, EMUL_PFEC_P | EMUL_PFEC_U | EMUL_PFEC_PK);
	EXPECT_PF(fm, la, 0, EMUL_PFEC_P | EMUL_PFEC_PK);	/* supervisor */
	EXPECT_MAPS(fm, la, U | I, 0x7000);		/* fetches unaffected */
	fm->ctx.pkru = 2u << (2 * 5);			/* WD for key 5 */
	EXPECT_MAPS(fm, la, U, 0x7000);
	EXPECT_PF(fm, la, U | W,
		  EMUL_PFEC_P | EMUL_PFEC_U | EMUL_PFEC_W | EMUL_PFEC_PK);
	EXPECT_PF(fm, la, W, EMUL_PFEC_P | EMUL_PFEC_W | EMUL_PFEC_PK);
	fm->ctx.cr0 &= ~EMUL_CR0_WP;
	EXPECT_MAPS(fm, la, W, 0x7000);			/* supervisor, WP = 0 */
	/* supervisor pages carry no key check */
	fm->ctx.cr0 |= EMUL_CR0_WP;
	fm->ctx.pkru = 3u << (2 * 5);
	*entry64(fm, 4, la, 1) &= ~US;
	EXPECT_MAPS(fm, la, W, 0x7000);
	fm_free(fm);
}

TEST(ad_update_retries_after_lost_race)
{
	struct fake_machine *fm = paging64(4);
	uint64_t la = 0x400000;

	map64(fm, 4, la, 0x7000, 1, P | RW, P | RW);
	fm->cmpxchg_fail = 2;
	EXPECT_MAPS(fm, la, W, 0x7000);
	EXPECT(*entry64(fm, 4, la, 1) & D);
	EXPECT(fm->cmpxchg_calls >= 6);
	/* nothing to update: no cmpxchg */
	fm->cmpxchg_calls = 0;
	EXPECT_MAPS(fm, la, W, 0x7000);
	EXPECT_EQ(fm->cmpxchg_calls, 0);
	fm_free(fm);
}

TEST(paging_structure_outside_ram)
{
	struct fake_machine *fm = paging64(4);

	fm_set64(fm, ROOT, 0x80000000ULL | P | RW);	/* PDPT beyond RAM */
	EXPECT_EQ(walk(fm, 0x1000, 0, &(uint64_t){ 0 }), EMUL_UNHANDLEABLE);
	fm_free(fm);
}

/* ---- 5-level ---------------------------------------------------------------- */

TEST(level5_translation)
{
	struct fake_machine *fm = paging64(5);
	uint64_t la = 0x00ff123456789abcULL;	/* uses bits 56:48 */

	map64(fm, 5, la, 0x9000, 1, P | RW, P | RW);
	EXPECT_MAPS(fm, la, 0, 0x9abc);
	EXPECT(*entry64(fm, 5, la, 5) & A);
	*entry64(fm, 5, la, 5) |= PS;
	EXPECT_PF(fm, la, 0, EMUL_PFEC_P | EMUL_PFEC_RSVD);
	fm_free(fm);
}

/* ---- PAE ---------------------------------------------------------------------- */

static struct fake_machine *paging_pae(void)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	next_table = ROOT;
	pt_alloc(fm);
	fm->ctx.cr0 |= EMUL_CR0_PG | EMUL_CR0_WP;
	fm->ctx.cr4 = EMUL_CR4_PAE;
	fm->ctx.efer = EMUL_EFER_NXE;
	fm->ctx.cr3 = ROOT | 0x20;		/* PDPT at bits 31:5 */
	return fm;
}

static void map_pae(struct fake_machine *fm, uint64_t la, uint64_t pa,
		    bool big, uint64_t flags, uint64_t pde_flags)
{
	uint64_t pdpt = ROOT + 0x20, *pdpte = (uint64_t *)(fm->ram + pdpt + 8 * (la >> 30));
	uint64_t pd, pt;

	if (!(*pdpte & P))
		*pdpte = pt_alloc(fm) | P;
	pd = *pdpte & ADDR;
	if (big) {
		fm_set64(fm, pd + 8 * ((la >> 21) & 511), pa | flags | PS);
		return;
	}
	pt = fm_get(fm, pd + 8 * ((la >> 21) & 511), 8) & ADDR;
	if (!pt)
		pt = pt_alloc(fm);
	fm_set64(fm, pd + 8 * ((la >> 21) & 511), pt | pde_flags);
	fm_set64(fm, pt + 8 * ((la >> 12) & 511), pa | flags);
}

TEST(pae_translation_and_faults)
{
	struct fake_machine *fm = paging_pae();
	uint64_t pdpt = ROOT + 0x20;

	map_pae(fm, 0xc0001000, 0x5000, false, P | RW | US, P | RW | US);
	map_pae(fm, 0x80200000, 0x400000, true, P | RW, 0);
	EXPECT_MAPS(fm, 0xc0001234, U, 0x5234);
	EXPECT_MAPS(fm, 0x80234567, W, 0x434567);
	/* PDPTEs have no A bit */
	EXPECT_EQ(fm_get(fm, pdpt + 24, 8) & A, 0);
	EXPECT(fm_get(fm, fm_get(fm, pdpt + 24, 8) & ADDR, 8) & A);
	/* NX in a PAE PTE */
	*(uint64_t *)(fm->ram + (fm_get(fm, fm_get(fm, pdpt + 24, 8) & ADDR, 8) & ADDR) + 8) |= XD;
	EXPECT_PF(fm, 0xc0001000, I, EMUL_PFEC_P | EMUL_PFEC_I);
	/* reserved PDPTE bits (2:1) */
	fm_set64(fm, pdpt + 16, fm_get(fm, pdpt + 16, 8) | RW);
	EXPECT_PF(fm, 0x80200000, 0, EMUL_PFEC_P | EMUL_PFEC_RSVD);
	/* the PDPTE registers win over memory when provided */
	fm->ctx.pdpte_valid = true;
	fm->ctx.pdpte[2] = fm_get(fm, pdpt + 16, 8) & ~RW;
	fm->ctx.pdpte[3] = 0;
	EXPECT_MAPS(fm, 0x80200000, 0, 0x400000);
	EXPECT_PF(fm, 0xc0001000, 0, 0);
	fm_free(fm);
}

/* ---- 32-bit ---------------------------------------------------------------------- */

static struct fake_machine *paging32(void)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	next_table = ROOT;
	pt_alloc(fm);
	fm->ctx.cr0 |= EMUL_CR0_PG;
	fm->ctx.cr3 = ROOT;
	return fm;
}

TEST(paging32_4k_and_4m)
{
	struct fake_machine *fm = paging32();
	uint64_t pt = pt_alloc(fm);

	fm_set32(fm, ROOT + 4 * (0x00401000 >> 22), (uint32_t)pt | P | RW | US);
	fm_set32(fm, pt + 4 * 1, 0x6000 | P | US);
	EXPECT_MAPS(fm, 0x00401abc, U, 0x6abc);
	EXPECT(fm_get(fm, pt + 4, 4) & A);
	EXPECT_PF(fm, 0x00401abc, U | W, EMUL_PFEC_P | EMUL_PFEC_W | EMUL_PFEC_U);
	/* no NX in 32-bit paging: I/D only with SMEP */
	EXPECT_PF(fm, 0x00801000, I, 0);
	fm->ctx.cr4 |= EMUL_CR4_SMEP;
	EXPECT_PF(fm, 0x00801000, I, EMUL_PFEC_I);
	/* 4 MiB page with PSE, PSE-36 bits 39:32 from 20:13 */
	fm_set32(fm, ROOT + 4 * 3, 0x00c00000 | (0x3 << 13) | P | RW | PS);
	fm->ctx.cr4 |= EMUL_CR4_PSE;
	EXPECT_MAPS(fm, 0x00c12345, W, 0x300c12345ULL);
	EXPECT(fm_get(fm, ROOT + 12, 4) & D);
	/* bit 21 is reserved */
	fm_set32(fm, ROOT + 4 * 3, (uint32_t)fm_get(fm, ROOT + 12, 4) | (1u << 21));
	EXPECT_PF(fm, 0x00c00000, 0, EMUL_PFEC_P | EMUL_PFEC_RSVD);
	/* without CR4.PSE, PS is ignored: the entry points to a table */
	fm->ctx.cr4 &= ~EMUL_CR4_PSE;
	fm_set32(fm, ROOT + 4 * 3, (uint32_t)pt | P | RW | PS);
	EXPECT_MAPS(fm, 0x00c01000, 0, 0x6000);
	fm_free(fm);
}

/* The same with 32-bit paging's 4 MiB pages. */
TEST(paging32_cr0_wp0_write_to_read_only_4m_page_sets_dirty)
{
	struct fake_machine *fm = paging32();

	fm->ctx.cr0 |= EMUL_CR0_WP;
	fm->ctx.cr4 |= EMUL_CR4_PSE;
	fm_set32(fm, ROOT + 4 * 0x105, 0x00800000 | P | PS);
	fm_set32(fm, ROOT + 4 * 0x106, 0x00800000 | P | PS);
	EXPECT_MAPS(fm, 0x41401230, 0, 0x801230);
	EXPECT_PF(fm, 0x41801234, W, EMUL_PFEC_P | EMUL_PFEC_W);   /* WP = 1 */
	EXPECT_EQ(fm_get(fm, ROOT + 4 * 0x106, 4) & (A | D), 0);
	fm->ctx.cr0 &= ~EMUL_CR0_WP;
	EXPECT_MAPS(fm, 0x41801234, W, 0x801234);
	EXPECT_MAPS(fm, 0x41401234, W, 0x801234);
	EXPECT_EQ(fm_get(fm, ROOT + 4 * 0x105, 4), 0x00800000 | P | PS | A | D);
	EXPECT_EQ(fm_get(fm, ROOT + 4 * 0x106, 4), 0x00800000 | P | PS | A | D);
	fm_free(fm);
}

/* ---- through emul_step ------------------------------------------------------------ */

TEST(step_faults_carry_user_bit_and_cr2)
{
	struct fake_machine *fm = paging64(4);

	/* code page user-executable, data page read-only */
	map64(fm, 4, 0x400000, 0x10000, 1, P | US, P | RW | US);
	map64(fm, 4, 0x600000, 0x20000, 1, P | US, P | RW | US);
	fm_put(fm, 0x10000, "\x89\x03", 2);	/* mov [rbx], eax */
	fm->ctx.rip = 0x400000;
	fm->ctx.cpl = 3;
	fm->ctx.gpr[EMUL_RBX] = 0x600010;
	ASSERT(emul_step(&fm->ctx) == EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_PF);
	EXPECT_EQ(fm->ctx.exc.error_code, EMUL_PFEC_P | EMUL_PFEC_W | EMUL_PFEC_U);
	EXPECT_EQ(fm->ctx.exc.cr2, 0x600010);
	EXPECT_EQ(fm->ctx.rip, 0x400000);
	/* the same store at CPL 0 with WP = 0 succeeds */
	fm->ctx.cpl = 0;
	fm->ctx.cr0 &= ~EMUL_CR0_WP;
	fm->ctx.gpr[EMUL_RAX] = 0x1234;
	ASSERT(emul_step(&fm->ctx) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, 0x20010, 4), 0x1234);
	fm_free(fm);
}

TEST(step_page_crossing_write_faults_before_writing)
{
	struct fake_machine *fm = paging64(4);

	map64(fm, 4, 0x400000, 0x10000, 1, P | RW, P | RW);
	map64(fm, 4, 0x600000, 0x20000, 1, P | RW, P | RW);
	fm_put(fm, 0x10000, "\x48\x89\x03", 3);	/* mov [rbx], rax */
	fm->ctx.rip = 0x400000;
	fm->ctx.gpr[EMUL_RBX] = 0x600ffc;
	fm->ctx.gpr[EMUL_RAX] = ~0ULL;
	ASSERT(emul_step(&fm->ctx) == EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.error_code, EMUL_PFEC_W);
	EXPECT_EQ(fm->ctx.exc.cr2, 0x601000);
	EXPECT_EQ(fm_get(fm, 0x20ffc, 4), 0);
	fm_free(fm);
}

TEST(step_fetch_faults)
{
	struct fake_machine *fm = paging64(4);

	/* A 3-byte instruction whose last byte is on an unmapped page. */
	map64(fm, 4, 0x400000, 0x10000, 1, P | RW, P | RW);
	fm_put(fm, 0x10ffe, "\x48\x89", 2);
	fm->ctx.rip = 0x400ffe;
	ASSERT(emul_step(&fm->ctx) == EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_PF);
	EXPECT_EQ(fm->ctx.exc.error_code, EMUL_PFEC_I);
	EXPECT_EQ(fm->ctx.exc.cr2, 0x401000);
	/* A 2-byte instruction that ends on the page does not touch the
	 * next one. */
	fm_put(fm, 0x10ffe, "\x89\x03", 2);
	fm->ctx.gpr[EMUL_RBX] = 0x400000;
	EXPECT_EQ(emul_step(&fm->ctx), EMUL_OK);
	/* Fetch from an NX page. */
	*entry64(fm, 4, 0x400000, 1) |= XD;
	fm->ctx.rip = 0x400000;
	ASSERT(emul_step(&fm->ctx) == EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.error_code, EMUL_PFEC_P | EMUL_PFEC_I);
	fm_free(fm);
}

TEST_MAIN()
