/*
 * Host unit tests for the shadow PTE encoding (ept/shadow_pte.h) and the
 * shadow page role (ept/shadow_role.h): round trips through every
 * constructor and accessor, the write-protection states, the MMIO marker,
 * and quadrants checked against a brute-force 32-bit page walk.
 */
#include "ept/shadow_pte.h"
#include "ept/shadow_role.h"
#include "tests/unit/test.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* ---- layout ------------------------------------------------------------- */

TEST(pte_software_bits_layout)
{
	EXPECT_EQ(SHADOW_PTE_SW_MASK, GENMASK_ULL(11, 9));
	EXPECT_EQ(SHADOW_PTE_SW_MASK & SHADOW_PTE_HW_MASK, 0);
	EXPECT_EQ(__builtin_popcountll(SHADOW_PTE_SW_MASK), 3);
	EXPECT_EQ(SHADOW_PTE_ADDR_MASK & SHADOW_MMIO_MARK, 0);
	/* The MMIO fields tile the word exactly (bit 63 stays 0). */
	EXPECT_EQ(__builtin_popcountll(SHADOW_MMIO_GEN_LO) +
		  __builtin_popcountll(SHADOW_MMIO_GEN_HI), SHADOW_MMIO_GEN_BITS);
	EXPECT_EQ(__builtin_popcountll(SHADOW_MMIO_GFN_MASK), 39);
	EXPECT_EQ(SHADOW_MMIO_MAX_GFN, (1ULL << 39) - 1);
	EXPECT_EQ(shadow_level_size(1), 4096);
	EXPECT_EQ(shadow_level_size(2), 2 * MiB);
	EXPECT_EQ(shadow_level_size(3), GiB);
	EXPECT_EQ(shadow_index(0x0000123456789000ULL, 1), 0x189);
	EXPECT_EQ(shadow_index(0x0000123456789000ULL, 4), 0x24);
}

/* ---- leaves ------------------------------------------------------------- */

static uint64_t random_hpa(int level)
{
	return rng() & SHADOW_PTE_ADDR_MASK & ~(shadow_level_size(level) - 1);
}

static void check_leaf(uint64_t hpa, int level, unsigned int acc,
		       unsigned int pat, unsigned int opts)
{
	uint64_t s = make_shadow_leaf(hpa, level, acc, pat, opts);
	bool hw = opts & SHADOW_LEAF_HOST_WRITABLE;
	bool want_w = (acc & SHADOW_ACC_W) && hw;
	bool trk = want_w && (opts & SHADOW_LEAF_WRITE_TRACKED);
	bool dlw = want_w && !trk && (opts & SHADOW_LEAF_DIRTY_LOG);
	bool w = want_w && !trk && !dlw;

	EXPECT(is_shadow_present(s));
	EXPECT(!is_shadow_mmio(s));
	EXPECT(is_shadow_leaf(s, level));
	EXPECT_EQ(is_shadow_large(s, level), level > 1);
	EXPECT_EQ(shadow_pte_hpa(s, level), hpa);
	EXPECT_EQ(shadow_pte_pat_index(s, level), pat);
	EXPECT_EQ(is_shadow_writable(s), w);
	EXPECT_EQ(!!(s & SHADOW_PTE_D), w);
	EXPECT(s & SHADOW_PTE_A);
	EXPECT_EQ(is_shadow_host_writable(s), hw);
	EXPECT_EQ(is_shadow_wp_tracked(s), trk);
	EXPECT_EQ(!!(s & SHADOW_PTE_WP_DIRTY_LOG), dlw);
	EXPECT_EQ(is_shadow_wp_dirty_log_only(s), dlw);
	EXPECT_EQ(shadow_pte_access(s),
		  (acc & ~SHADOW_ACC_W) | (w ? SHADOW_ACC_W : 0));
	EXPECT_EQ(s & (SHADOW_PTE_G | SHADOW_PTE_PKEY), 0);
}

TEST(pte_leaf_round_trip)
{
	for (int level = 1; level <= 3; level++)
		for (unsigned int acc = 0; acc <= SHADOW_ACC_ALL; acc++)
			for (unsigned int pat = 0; pat < 8; pat++)
				for (unsigned int opts = 0; opts < 8; opts++)
					for (int k = 0; k < 8; k++)
						check_leaf(random_hpa(level), level,
							   acc, pat, opts);
}

TEST(pte_leaf_pat_bit_position)
{
	uint64_t pte = make_shadow_leaf(0x6000, 1, SHADOW_ACC_ALL, 7, 0);
	uint64_t pde = make_shadow_leaf(0x200000, 2, SHADOW_ACC_ALL, 7, 0);

	EXPECT(pte & SHADOW_PTE_PAT_4K);
	EXPECT(!(pte & SHADOW_PTE_PAT_LARGE));
	EXPECT(pde & SHADOW_PTE_PAT_LARGE);
	EXPECT(pde & SHADOW_PTE_PS);
	EXPECT_EQ(shadow_pte_hpa(pde, 2), 0x200000);
	/* In a PTE bit 7 is PAT, not PS: still a 4 KiB leaf. */
	EXPECT(!is_shadow_large(pte, 1));
	EXPECT_EQ(shadow_pte_hpa(pte, 1), 0x6000);
	EXPECT(!(make_shadow_leaf(0x5000, 1, SHADOW_ACC_ALL, 3, 0) & SHADOW_PTE_PS));
}

TEST(pte_nonleaf)
{
	for (int k = 0; k < 1000; k++) {
		uint64_t pa = random_hpa(1);
		uint64_t s = make_shadow_nonleaf(pa);

		EXPECT(is_shadow_present(s));
		EXPECT(is_shadow_writable(s));
		EXPECT(!is_shadow_large(s, 2) && !is_shadow_large(s, 3) &&
		       !is_shadow_large(s, 4));
		EXPECT(!is_shadow_leaf(s, 2));
		EXPECT_EQ(shadow_pte_hpa(s, 3), pa);
		EXPECT_EQ(shadow_pte_access(s), SHADOW_ACC_ALL);
		EXPECT_EQ(s & SHADOW_PTE_SW_MASK, 0);
	}
	EXPECT(!is_shadow_present(0));
	EXPECT(!is_shadow_mmio(0));
}

/* ---- write protection --------------------------------------------------- */

TEST(pte_dirty_log_fast_path)
{
	uint64_t w = make_shadow_leaf(0xabc000, 1, SHADOW_ACC_ALL, 0,
				      SHADOW_LEAF_HOST_WRITABLE);
	uint64_t p = shadow_pte_wp_dirty_log(w);
	uint64_t e = p;

	EXPECT(is_shadow_writable(w));
	EXPECT(!is_shadow_writable(p));
	EXPECT(is_shadow_wp_dirty_log_only(p));
	/* As built for dirty logging, plus the D bit the writable leaf had. */
	EXPECT_EQ(p, make_shadow_leaf(0xabc000, 1, SHADOW_ACC_ALL, 0,
				      SHADOW_LEAF_HOST_WRITABLE |
				      SHADOW_LEAF_DIRTY_LOG) | SHADOW_PTE_D);
	EXPECT(shadow_pte_try_restore_w(&e, p));
	EXPECT_EQ(e, w);
	/* Already writable, or a stale expected value: nothing happens. */
	EXPECT(!shadow_pte_try_restore_w(&e, e));
	e = p;
	EXPECT(!shadow_pte_try_restore_w(&e, p | SHADOW_PTE_G));
	EXPECT_EQ(e, p);
	/* A leaf the guest maps read-only is untouched. */
	uint64_t ro = make_shadow_leaf(0xabc000, 1, SHADOW_ACC_U, 0,
				       SHADOW_LEAF_HOST_WRITABLE);
	EXPECT_EQ(shadow_pte_wp_dirty_log(ro), ro);
	EXPECT(!is_shadow_wp_dirty_log_only(ro));
}

TEST(pte_tracking_wins_over_dirty_log)
{
	uint64_t w = make_shadow_leaf(0x1000, 1, SHADOW_ACC_W, 0,
				      SHADOW_LEAF_HOST_WRITABLE);
	uint64_t d = shadow_pte_wp_dirty_log(w);
	uint64_t t1 = shadow_pte_wp_track(w), t2 = shadow_pte_wp_track(d);
	uint64_t e = t2;

	EXPECT_EQ(t1, t2 | (w & SHADOW_PTE_D));
	EXPECT(is_shadow_wp_tracked(t2));
	EXPECT(!is_shadow_writable(t2));
	EXPECT(!(t2 & SHADOW_PTE_WP_DIRTY_LOG));
	EXPECT(!is_shadow_wp_dirty_log_only(t2));
	EXPECT(!shadow_pte_try_restore_w(&e, t2));
	EXPECT_EQ(e, t2);
	/* Dirty logging leaves a tracked leaf alone. */
	EXPECT_EQ(shadow_pte_wp_dirty_log(t2), t2);
	/* Not host-writable: never restorable, never W. */
	uint64_t nh = make_shadow_leaf(0x1000, 1, SHADOW_ACC_W, 0,
				       SHADOW_LEAF_DIRTY_LOG);
	EXPECT(!is_shadow_writable(nh));
	EXPECT(!is_shadow_wp_dirty_log_only(nh));
	/* An MMIO marker never looks restorable. */
	EXPECT(!is_shadow_wp_dirty_log_only(make_shadow_mmio(1, SHADOW_ACC_W, 0) |
					    SHADOW_PTE_HOST_WRITABLE |
					    SHADOW_PTE_WP_DIRTY_LOG));
}

TEST(pte_xchg_returns_hardware_bits)
{
	uint64_t e = make_shadow_leaf(0x7000, 1, SHADOW_ACC_ALL, 0,
				      SHADOW_LEAF_HOST_WRITABLE);
	uint64_t old;

	e |= SHADOW_PTE_D;              /* as if the processor had written */
	old = shadow_pte_xchg(&e, shadow_pte_wp_dirty_log(e));
	EXPECT(old & SHADOW_PTE_D);
	EXPECT(!is_shadow_writable(e));
}

/* ---- MMIO marker -------------------------------------------------------- */

TEST(pte_mmio_round_trip)
{
	for (int k = 0; k < 200000; k++) {
		uint64_t gfn = rng() & SHADOW_MMIO_MAX_GFN;
		unsigned int acc = (unsigned int)rng() & (SHADOW_ACC_W | SHADOW_ACC_U);
		uint32_t gen = (uint32_t)rng();
		uint64_t s = make_shadow_mmio(gfn, acc, gen);

		ASSERT(is_shadow_mmio(s));
		ASSERT(!is_shadow_present(s) && !is_shadow_writable(s));
		ASSERT(s & SHADOW_PTE_P);               /* so the fault is RSVD */
		ASSERT(s & BIT_ULL(51));
		ASSERT(!(s & SHADOW_PTE_XD));
		ASSERT(shadow_mmio_gfn(s) == gfn);
		ASSERT(shadow_mmio_access(s) == acc);
		ASSERT(shadow_mmio_gen(s) == (gen & SHADOW_MMIO_GEN_MASK));
		ASSERT(is_shadow_mmio_current(s, gen));
		ASSERT(is_shadow_mmio_current(s, gen + (1u << SHADOW_MMIO_GEN_BITS)));
		ASSERT(!is_shadow_mmio_current(s, gen + 1));
		ASSERT(!is_shadow_mmio_current(s, gen ^ (1u << 9)));
		ASSERT(!is_shadow_mmio_current(s, gen ^ (1u << 19)));
	}
}

TEST(pte_mmio_extremes)
{
	uint64_t s = make_shadow_mmio(SHADOW_MMIO_MAX_GFN, SHADOW_ACC_W | SHADOW_ACC_U,
				      SHADOW_MMIO_GEN_MASK);

	EXPECT_EQ(s, ~SHADOW_PTE_XD);
	EXPECT_EQ(make_shadow_mmio(0, 0, 0), SHADOW_MMIO_MATCH);
	EXPECT_EQ(shadow_mmio_gen(make_shadow_mmio(0, 0, 0x1ff)), 0x1ff);
	EXPECT_EQ(shadow_mmio_gen(make_shadow_mmio(0, 0, 0x200)), 0x200);
	EXPECT_EQ(make_shadow_mmio(0, 0, 0x200), SHADOW_MMIO_MATCH | BIT_ULL(52));
	EXPECT_EQ(make_shadow_mmio(0, SHADOW_ACC_X, 0), SHADOW_MMIO_MATCH);
	EXPECT(shadow_mmio_possible(39) && shadow_mmio_possible(46) &&
	       shadow_mmio_possible(51));
	EXPECT(!shadow_mmio_possible(52));
	/* No leaf or table entry with a host address is ever a marker. */
	for (int k = 0; k < 10000; k++) {
		EXPECT(!is_shadow_mmio(make_shadow_leaf(random_hpa(1), 1,
				(unsigned int)rng() & 7, (unsigned int)rng() & 7,
				(unsigned int)rng() & 7)));
		EXPECT(!is_shadow_mmio(make_shadow_nonleaf(random_hpa(1))));
	}
}

/* ---- roles -------------------------------------------------------------- */

static const uint32_t role_flag_bits[] = {
	SHADOW_ROLE_DIRECT, SHADOW_ROLE_CR0_WP, SHADOW_ROLE_EFER_NXE,
	SHADOW_ROLE_SMEP_ANDNOT_WP, SHADOW_ROLE_SMAP_ANDNOT_WP,
};

static uint32_t role_flags(unsigned int sel)
{
	uint32_t f = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(role_flag_bits); i++)
		if (sel & (1u << i))
			f |= role_flag_bits[i];
	return f;
}

TEST(role_round_trip_and_equality)
{
	static bool seen[1u << 15];
	unsigned int n = 0;

	for (int level = 1; level <= 4; level++)
	for (int gm = 0; gm < 4; gm++)
	for (unsigned int q = 0; q < 4; q++)
	for (unsigned int acc = 0; acc < 8; acc++)
	for (unsigned int sel = 0; sel < 32; sel++) {
		uint32_t f = role_flags(sel);
		struct shadow_role r = make_shadow_role(level, (enum shadow_gmode)gm,
							q, acc, f);

		ASSERT(shadow_role_level(r) == level);
		ASSERT(shadow_role_gmode(r) == (enum shadow_gmode)gm);
		ASSERT(shadow_role_quadrant(r) == q);
		ASSERT(shadow_role_access(r) == acc);
		ASSERT(is_shadow_role_direct(r) == !!(f & SHADOW_ROLE_DIRECT));
		ASSERT(shadow_role_cr0_wp(r) == !!(f & SHADOW_ROLE_CR0_WP));
		ASSERT(shadow_role_efer_nxe(r) == !!(f & SHADOW_ROLE_EFER_NXE));
		ASSERT(shadow_role_smep_andnot_wp(r) ==
		       !!(f & SHADOW_ROLE_SMEP_ANDNOT_WP));
		ASSERT(shadow_role_smap_andnot_wp(r) ==
		       !!(f & SHADOW_ROLE_SMAP_ANDNOT_WP));
		ASSERT(shadow_role_has_4_byte_gpte(r) == (gm == SHADOW_GMODE_32));
		ASSERT(shadow_role_cr4_pae(r) == (gm >= SHADOW_GMODE_PAE));
		ASSERT(shadow_role_gpte_size(r) == (gm == SHADOW_GMODE_32 ? 4u : 8u));
		ASSERT((r.word & ~SHADOW_ROLE_USED) == 0);
		ASSERT(!seen[r.word]);          /* distinct inputs, distinct words */
		seen[r.word] = true;
		n++;
		ASSERT(shadow_role_equal(r, make_shadow_role(level,
				(enum shadow_gmode)gm, q, acc, f)));
	}
	EXPECT_EQ(n, 4 * 4 * 4 * 8 * 32);
}

TEST(role_setters_touch_one_field)
{
	struct shadow_role r = make_shadow_role(3, SHADOW_GMODE_4LEVEL, 0,
						SHADOW_ACC_W | SHADOW_ACC_U,
						SHADOW_ROLE_CR0_WP | SHADOW_ROLE_EFER_NXE);
	struct shadow_role c = shadow_role_with_level(r, 2);

	EXPECT_EQ(shadow_role_level(c), 2);
	EXPECT_EQ(c.word & ~SHADOW_ROLE_LEVEL, r.word & ~SHADOW_ROLE_LEVEL);
	c = shadow_role_with_access(r, SHADOW_ACC_X);
	EXPECT_EQ(shadow_role_access(c), SHADOW_ACC_X);
	EXPECT_EQ(c.word & ~SHADOW_ROLE_ACCESS, r.word & ~SHADOW_ROLE_ACCESS);
	c = shadow_role_with_quadrant(r, 3);
	EXPECT_EQ(shadow_role_quadrant(c), 3);
	EXPECT_EQ(c.word & ~SHADOW_ROLE_QUADRANT, r.word & ~SHADOW_ROLE_QUADRANT);
	c = shadow_role_with_direct(r, true);
	EXPECT(is_shadow_role_direct(c));
	EXPECT_EQ(c.word & ~SHADOW_ROLE_DIRECT, r.word);
	EXPECT(!is_shadow_role_direct(shadow_role_with_direct(c, false)));
	EXPECT(!shadow_role_equal(r, c));
}

TEST(role_validity)
{
	EXPECT(is_shadow_role_valid(make_shadow_role(4, SHADOW_GMODE_4LEVEL, 0, 7, 0)));
	EXPECT(is_shadow_role_valid(make_shadow_role(2, SHADOW_GMODE_32, 3, 7, 0)));
	EXPECT(is_shadow_role_valid(make_shadow_role(1, SHADOW_GMODE_32, 1, 7, 0)));
	EXPECT(!is_shadow_role_valid(make_shadow_role(1, SHADOW_GMODE_32, 2, 7, 0)));
	EXPECT(!is_shadow_role_valid(make_shadow_role(2, SHADOW_GMODE_PAE, 1, 7, 0)));
	EXPECT(!is_shadow_role_valid(make_shadow_role(1, SHADOW_GMODE_32, 1, 7,
						      SHADOW_ROLE_DIRECT)));
	EXPECT(!is_shadow_role_valid(make_shadow_role(3, SHADOW_GMODE_32, 0, 7, 0)));
	EXPECT(!is_shadow_role_valid(make_shadow_role(3, SHADOW_GMODE_PAE, 0, 7, 0)));
	EXPECT(is_shadow_role_valid(make_shadow_role(3, SHADOW_GMODE_PAE, 0, 7,
						     SHADOW_ROLE_DIRECT)));
	EXPECT(!is_shadow_role_valid(make_shadow_role(1, SHADOW_GMODE_NONE, 0, 7, 0)));
	EXPECT(is_shadow_role_valid(make_shadow_role(4, SHADOW_GMODE_NONE, 0, 7,
						     SHADOW_ROLE_DIRECT)));
	EXPECT(!is_shadow_role_valid(make_shadow_role(0, SHADOW_GMODE_4LEVEL, 0, 7, 0)));
	EXPECT(!is_shadow_role_valid(make_shadow_role(5, SHADOW_GMODE_4LEVEL, 0, 7, 0)));
	EXPECT(!is_shadow_role_valid((struct shadow_role){ 1u << 20 | 1 | 3u << 3 }));
}

/*
 * For a 32-bit guest, the guest entry behind shadow entry shadow_index(la)
 * of the page with quadrant shadow_quadrant(la) must be the entry a 32-bit
 * walk of la uses: index la[21:12] in the page table, la[31:22] in the
 * page directory (SDM Vol. 3A 4.3).
 */
TEST(role_quadrant_matches_32bit_walk)
{
	struct shadow_role base = make_shadow_role(1, SHADOW_GMODE_32, 0, 7, 0);

	for (int k = 0; k < 200000; k++) {
		uint32_t la = (uint32_t)rng();

		for (int level = 1; level <= 2; level++) {
			unsigned int q = shadow_quadrant(la, level);
			struct shadow_role r = shadow_role_with_quadrant(
				shadow_role_with_level(base, level), q);
			unsigned int want = (la >> (12 + 10 * (level - 1))) & 1023;

			ASSERT(is_shadow_role_valid(r));
			ASSERT(shadow_role_nr_quadrants(r) == (level == 1 ? 2u : 4u));
			ASSERT(shadow_role_gpte_index(r, shadow_index(la, level)) == want);
		}
	}
	EXPECT_EQ(shadow_quadrant(0x00200000, 1), 1);
	EXPECT_EQ(shadow_quadrant(0x003ff000, 1), 1);
	EXPECT_EQ(shadow_quadrant(0x00400000, 1), 0);
	EXPECT_EQ(shadow_quadrant(0xc0000000, 2), 3);
	EXPECT_EQ(shadow_quadrant(0x7fffffff, 2), 1);
}

TEST(role_gpte_index_identity_for_8_byte_entries)
{
	struct shadow_role pae = make_shadow_role(2, SHADOW_GMODE_PAE, 0, 7, 0);
	struct shadow_role dir = make_shadow_role(1, SHADOW_GMODE_32, 0, 7,
						  SHADOW_ROLE_DIRECT);

	EXPECT_EQ(shadow_role_nr_quadrants(pae), 1);
	EXPECT_EQ(shadow_role_nr_quadrants(dir), 1);
	for (unsigned int i = 0; i < SHADOW_PT_ENTRIES; i++) {
		EXPECT_EQ(shadow_role_gpte_index(pae, i), i);
		EXPECT_EQ(shadow_role_gpte_index(dir, i), i);
	}
	/* A guest PDE stands behind two neighbouring shadow PDEs. */
	struct shadow_role pd = make_shadow_role(2, SHADOW_GMODE_32, 2, 7, 0);
	EXPECT_EQ(shadow_role_gpte_index(pd, 0), 512);
	EXPECT_EQ(shadow_role_gpte_index(pd, 1), 512);
	EXPECT_EQ(shadow_role_gpte_index(pd, 511), 767);
}

TEST_MAIN()

/* ---- leaf rights and the roles of direct pages ------------------------------ */

#define ACC_R   SHADOW_ACC_X            /* supervisor, read-only */

static struct shadow_role role_wp(bool wp, bool smep)
{
	return make_shadow_role(2, SHADOW_GMODE_4LEVEL, 0, SHADOW_ACC_ALL,
				(wp ? SHADOW_ROLE_CR0_WP : 0) |
				(smep && !wp ? SHADOW_ROLE_SMEP_ANDNOT_WP : 0));
}

/* The direct page that splits a guest large page takes the leaf's
 * rights as its access. */
static struct shadow_role direct_role(struct shadow_role base,
				      unsigned int acc)
{
	return shadow_role_with_access(
		shadow_role_with_direct(shadow_role_with_level(base, 1), true),
		acc);
}

TEST(leaf_access_wp0_write_to_read_only_page)
{
	struct shadow_role r = role_wp(false, false);

	/* A supervisor write gets W and loses U; a read keeps what the
	 * guest grants; a user write gets nothing more. */
	EXPECT_EQ(shadow_leaf_access(r, ACC_R, EMUL_ACC_WRITE, true, true),
		  SHADOW_ACC_W | SHADOW_ACC_X);
	EXPECT_EQ(shadow_leaf_access(r, ACC_R | SHADOW_ACC_U, EMUL_ACC_WRITE,
				     true, true), SHADOW_ACC_W | SHADOW_ACC_X);
	EXPECT_EQ(shadow_leaf_access(r, ACC_R, 0, true, true), ACC_R);
	EXPECT_EQ(shadow_leaf_access(r, ACC_R | SHADOW_ACC_U,
				     EMUL_ACC_WRITE | EMUL_ACC_USER, true, true),
		  ACC_R | SHADOW_ACC_U);
	/* With SMEP the writable supervisor leaf may not be fetched from. */
	EXPECT_EQ(shadow_leaf_access(role_wp(false, true), ACC_R | SHADOW_ACC_U,
				     EMUL_ACC_WRITE, true, true), SHADOW_ACC_W);
	/* CR0.WP = 1: nothing is added. */
	EXPECT_EQ(shadow_leaf_access(role_wp(true, false), ACC_R,
				     EMUL_ACC_WRITE, true, true), ACC_R);
	/* Paging off: everything, whatever the access. */
	EXPECT_EQ(shadow_leaf_access(r, SHADOW_ACC_ALL, EMUL_ACC_WRITE, false,
				     false), SHADOW_ACC_ALL);
}

TEST(leaf_access_holds_w_until_dirty)
{
	struct shadow_role wp1 = role_wp(true, false), wp0 = role_wp(false, false);
	unsigned int rw = SHADOW_ACC_W | SHADOW_ACC_X;

	EXPECT_EQ(shadow_leaf_access(wp1, rw, 0, true, false), SHADOW_ACC_X);
	EXPECT_EQ(shadow_leaf_access(wp1, rw, 0, true, true), rw);
	EXPECT_EQ(shadow_leaf_access(wp1, rw, EMUL_ACC_WRITE, true, true), rw);
	/* The writes CR0.WP = 0 allows need D as well. */
	EXPECT_EQ(shadow_leaf_access(wp0, ACC_R, EMUL_ACC_WRITE, true, false),
		  SHADOW_ACC_X);
}

/*
 * Every leaf shadow_leaf_access() builds, over all guest rights, access
 * kinds, D, and CR0.WP = 1, CR0.WP = 0, CR0.WP = 0 with SMEP: W only once
 * the guest's D is set (SDM Vol. 3A 4.8); beyond the guest's rights only
 * the W that CR0.WP = 0 gives a supervisor write, and then without U, and
 * without X under SMEP, so that no user access and no supervisor fetch
 * rides on it (4.6.1). The access that faulted is granted, or the guest
 * would fault on it forever.
 */
static void check_leaf_access(struct shadow_role r, bool wp, bool smep,
			      unsigned int guest, unsigned int kind, bool dirty)
{
	unsigned int acc = shadow_leaf_access(r, guest, kind, true, dirty);
	unsigned int extra = acc & ~guest;
	bool sup_write = (kind & EMUL_ACC_WRITE) && !(kind & EMUL_ACC_USER);

	EXPECT(!(acc & SHADOW_ACC_W) || dirty);
	EXPECT_EQ(extra & ~SHADOW_ACC_W, 0);
	if (extra) {
		EXPECT(!wp && sup_write);
		EXPECT(!(acc & SHADOW_ACC_U));
		EXPECT(!smep || !(acc & SHADOW_ACC_X));
	}
	if (sup_write && dirty && ((guest & SHADOW_ACC_W) || !wp))
		EXPECT(acc & SHADOW_ACC_W);
	if ((kind & EMUL_ACC_USER) && (guest & SHADOW_ACC_U))
		EXPECT(acc & SHADOW_ACC_U);
}

TEST(leaf_access_grants_the_guest_rights_and_wp0_writes_only)
{
	static const unsigned int kinds[] = {
		0, EMUL_ACC_WRITE, EMUL_ACC_USER, EMUL_ACC_WRITE | EMUL_ACC_USER,
	};

	for (unsigned int s = 0; s < 3; s++) {
		bool wp = s == 0, smep = s == 2;
		struct shadow_role r = role_wp(wp, smep);

		for (unsigned int g = 0; g <= SHADOW_ACC_ALL; g++)
			for (unsigned int k = 0; k < ARRAY_SIZE(kinds); k++)
				for (int d = 0; d < 2; d++)
					check_leaf_access(r, wp, smep, g,
							  kinds[k], d);
	}
}

/*
 * kvm-unit-tests' check_large_pte_dirty_for_nowp, at the level of roles:
 * two guest PDEs map one 2 MiB frame read-only, CR0.WP = 0. A read
 * through the first, a write through the second (which the walk makes
 * dirty), then a write through the first. The direct page the second
 * makes writable leaves in must not be the one the first PDE links, or
 * the first PDE's write would not fault and its D would stay clear.
 */
TEST(direct_pages_of_two_pdes_split_by_dirty_and_wp0)
{
	struct shadow_role base = role_wp(false, false);
	unsigned int read1 = shadow_leaf_access(base, ACC_R, 0, true, false);
	unsigned int write2 = shadow_leaf_access(base, ACC_R, EMUL_ACC_WRITE,
						 true, true);
	unsigned int write1 = shadow_leaf_access(base, ACC_R, EMUL_ACC_WRITE,
						 true, true);
	struct shadow_role d_read1 = direct_role(base, read1);
	struct shadow_role d_write2 = direct_role(base, write2);

	EXPECT(!(read1 & SHADOW_ACC_W));
	EXPECT(write2 & SHADOW_ACC_W);
	EXPECT(!shadow_role_equal(d_read1, d_write2));
	EXPECT(is_shadow_role_valid(d_read1));
	EXPECT(is_shadow_role_valid(d_write2));
	/* Leaves in the first PDE's page stay read-only... */
	EXPECT_EQ(make_shadow_leaf(0x200000, 1, shadow_role_access(d_read1), 0,
				   SHADOW_LEAF_HOST_WRITABLE) & SHADOW_PTE_W, 0);
	/* ...so its write faults, is walked (D set) and moves the link to
	 * the writable page, which it now may share. */
	EXPECT(shadow_role_equal(direct_role(base, write1), d_write2));
	/* A clean read-write PDE and a dirty one do not share either. */
	EXPECT(!shadow_role_equal(
		direct_role(base, shadow_leaf_access(base, SHADOW_ACC_W |
					SHADOW_ACC_X, 0, true, false)),
		direct_role(base, shadow_leaf_access(base, SHADOW_ACC_W |
					SHADOW_ACC_X, 0, true, true))));
}
