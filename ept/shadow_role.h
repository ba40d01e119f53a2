/*
 * The role of a shadow page: everything besides the guest frame number that
 * decides what the page holds. Two shadow pages of one guest frame may only
 * be shared when their roles are equal, so every guest state that changes
 * how the guest's table is read or what rights reach the leaves is here.
 *
 * A role is one packed 32-bit word, read and built through masks:
 *
 *   31        15   14     13    12    11     10 8    7     6  5  4   3  2   0
 *  [  zero  ][SMAP~WP][SMEP~WP][NXE][WP][ U W X ][DIRECT][QUAD][GMODE][LEVEL]
 *
 *   LEVEL    1 (PT) .. 4 (PML4) in the shadow table format.
 *   GMODE    the guest's paging: none, 32-bit, PAE, 4-level. Entries are
 *            4 bytes for 32-bit paging (has_4_byte_gpte), 8 bytes when
 *            CR4.PAE is 1 (PAE and 4-level); PAE and 4-level still differ
 *            in their reserved bits, so they do not share pages.
 *   QUAD     quadrant: which part of a 32-bit guest table (below).
 *   DIRECT   no guest table behind the page: guest paging is off, or the
 *            page splits a guest large page into smaller shadow pages.
 *   U W X    the rights the guest grants on the path above this page.
 *   WP NXE   CR0.WP, EFER.NXE: they change what the guest's entries mean.
 *   SMEP~WP  CR4.SMEP and not CR0.WP; SMAP~WP: CR4.SMAP and not CR0.WP.
 *            With CR0.WP = 0 the supervisor may write read-only pages;
 *            the shadow grants that by clearing U in the leaf, and SMEP
 *            and SMAP decide what else such a leaf must deny, so leaves
 *            built under those combinations differ (SDM Vol. 3A 4.6).
 *
 * Quadrants. A 32-bit guest table (SDM Vol. 3A 4.3) has 1024 4-byte
 * entries; a shadow table in PAE format has 512 8-byte entries covering
 * half as much per entry at level 1 and level 2. One guest table is
 * therefore shadowed by several shadow pages of the same gfn, told apart
 * by the quadrant:
 *
 *   guest page table (level 1)                shadow page tables
 *   1024 PTEs x 4 KiB = 4 MiB                 512 PTEs x 4 KiB = 2 MiB
 *   +------------------+
 *   | PTE    0 ..  511 | ----------------->  quadrant 0  (la bit 21 = 0)
 *   | PTE  512 .. 1023 | ----------------->  quadrant 1  (la bit 21 = 1)
 *   +------------------+
 *
 *   guest page directory (level 2)            shadow page directories
 *   1024 PDEs x 4 MiB = 4 GiB                 512 PDEs x 2 MiB = 1 GiB
 *   +------------------+
 *   | PDE    0 ..  255 | ----------------->  quadrant 0  (la 31:30 = 0)
 *   | PDE  256 ..  511 | ----------------->  quadrant 1  (la 31:30 = 1)
 *   | PDE  512 ..  767 | ----------------->  quadrant 2  (la 31:30 = 2)
 *   | PDE  768 .. 1023 | ----------------->  quadrant 3  (la 31:30 = 3)
 *   +------------------+
 *
 * Each guest PDE becomes two shadow PDEs (entries 2k and 2k + 1 of its
 * quadrant), pointing at quadrants 0 and 1 of the guest page table it
 * names (or at two 2 MiB leaves for a 4 MiB page). The four shadow page
 * directories are what the four PDPTEs of the PAE shadow root point at.
 * In general a level-L shadow table covers 2^(21 + 9(L-1)) bytes and the
 * guest table 2^(22 + 10(L-1)), so L bits of the linear address pick the
 * quadrant (shadow_quadrant()). Guests with 8-byte entries and direct
 * pages always have quadrant 0.
 */
#ifndef KEEL_EPT_SHADOW_ROLE_H
#define KEEL_EPT_SHADOW_ROLE_H

#include "arch/compiler.h"
#include "ept/shadow_pte.h"
#include "emul/walk.h"

struct shadow_role {
	uint32_t word;
};

enum shadow_gmode {
	SHADOW_GMODE_NONE = 0,          /* CR0.PG = 0: only direct pages */
	SHADOW_GMODE_32 = 1,            /* 32-bit paging, 4-byte entries */
	SHADOW_GMODE_PAE = 2,           /* PAE paging */
	SHADOW_GMODE_4LEVEL = 3,        /* 4-level paging */
};

#define SHADOW_ROLE_LEVEL         ((uint32_t)GENMASK_ULL(2, 0))
#define SHADOW_ROLE_GMODE         ((uint32_t)GENMASK_ULL(4, 3))
#define SHADOW_ROLE_GMODE_SHIFT   3
#define SHADOW_ROLE_QUADRANT      ((uint32_t)GENMASK_ULL(6, 5))
#define SHADOW_ROLE_QUADRANT_SHIFT 5
#define SHADOW_ROLE_DIRECT        ((uint32_t)BIT_ULL(7))
#define SHADOW_ROLE_ACCESS        ((uint32_t)GENMASK_ULL(10, 8))
#define SHADOW_ROLE_ACCESS_SHIFT  8
#define SHADOW_ROLE_CR0_WP        ((uint32_t)BIT_ULL(11))
#define SHADOW_ROLE_EFER_NXE      ((uint32_t)BIT_ULL(12))
#define SHADOW_ROLE_SMEP_ANDNOT_WP ((uint32_t)BIT_ULL(13))
#define SHADOW_ROLE_SMAP_ANDNOT_WP ((uint32_t)BIT_ULL(14))

/* The single-bit flags make_shadow_role() takes. */
#define SHADOW_ROLE_FLAGS \
	(SHADOW_ROLE_DIRECT | SHADOW_ROLE_CR0_WP | SHADOW_ROLE_EFER_NXE | \
	 SHADOW_ROLE_SMEP_ANDNOT_WP | SHADOW_ROLE_SMAP_ANDNOT_WP)
#define SHADOW_ROLE_USED \
	(SHADOW_ROLE_LEVEL | SHADOW_ROLE_GMODE | SHADOW_ROLE_QUADRANT | \
	 SHADOW_ROLE_ACCESS | SHADOW_ROLE_FLAGS)

_Static_assert((SHADOW_ROLE_LEVEL & SHADOW_ROLE_GMODE) == 0 &&
	       ((SHADOW_ROLE_LEVEL | SHADOW_ROLE_GMODE) &
		SHADOW_ROLE_QUADRANT) == 0 &&
	       ((SHADOW_ROLE_LEVEL | SHADOW_ROLE_GMODE | SHADOW_ROLE_QUADRANT) &
		SHADOW_ROLE_ACCESS) == 0 &&
	       ((SHADOW_ROLE_LEVEL | SHADOW_ROLE_GMODE | SHADOW_ROLE_QUADRANT |
		 SHADOW_ROLE_ACCESS) & SHADOW_ROLE_FLAGS) == 0,
	       "shadow role fields overlap");
_Static_assert(SHADOW_MAX_LEVEL <= SHADOW_ROLE_LEVEL &&
	       (SHADOW_ROLE_GMODE >> SHADOW_ROLE_GMODE_SHIFT) ==
	       SHADOW_GMODE_4LEVEL &&
	       (SHADOW_ROLE_QUADRANT >> SHADOW_ROLE_QUADRANT_SHIFT) == 3 &&
	       (SHADOW_ROLE_ACCESS >> SHADOW_ROLE_ACCESS_SHIFT) ==
	       SHADOW_ACC_ALL,
	       "shadow role field widths");
_Static_assert(SHADOW_ROLE_USED == (uint32_t)GENMASK_ULL(14, 0),
	       "shadow role layout has a hole");

/* ---- constructors ------------------------------------------------------- */

/* flags: SHADOW_ROLE_DIRECT, _CR0_WP, _EFER_NXE, _SMEP_ANDNOT_WP,
 * _SMAP_ANDNOT_WP. Out-of-range fields are cut to their width; check the
 * result with is_shadow_role_valid(). */
static inline struct shadow_role make_shadow_role(int level,
						  enum shadow_gmode gmode,
						  unsigned int quadrant,
						  unsigned int access,
						  uint32_t flags)
{
	uint32_t g = (uint32_t)gmode << SHADOW_ROLE_GMODE_SHIFT;
	uint32_t q = quadrant << SHADOW_ROLE_QUADRANT_SHIFT;
	uint32_t a = access << SHADOW_ROLE_ACCESS_SHIFT;

	return (struct shadow_role){ ((uint32_t)level & SHADOW_ROLE_LEVEL) |
				     (g & SHADOW_ROLE_GMODE) |
				     (q & SHADOW_ROLE_QUADRANT) |
				     (a & SHADOW_ROLE_ACCESS) |
				     (flags & SHADOW_ROLE_FLAGS) };
}

static inline struct shadow_role shadow_role_with(struct shadow_role r,
						  uint32_t mask, uint32_t bits)
{
	return (struct shadow_role){ (r.word & ~mask) | (bits & mask) };
}

static inline struct shadow_role shadow_role_with_level(struct shadow_role r,
							int level)
{
	return shadow_role_with(r, SHADOW_ROLE_LEVEL, (uint32_t)level);
}

static inline struct shadow_role
shadow_role_with_quadrant(struct shadow_role r, unsigned int quadrant)
{
	return shadow_role_with(r, SHADOW_ROLE_QUADRANT,
				quadrant << SHADOW_ROLE_QUADRANT_SHIFT);
}

static inline struct shadow_role shadow_role_with_access(struct shadow_role r,
							 unsigned int access)
{
	return shadow_role_with(r, SHADOW_ROLE_ACCESS,
				access << SHADOW_ROLE_ACCESS_SHIFT);
}

static inline struct shadow_role shadow_role_with_direct(struct shadow_role r,
							 bool direct)
{
	return shadow_role_with(r, SHADOW_ROLE_DIRECT,
				direct ? SHADOW_ROLE_DIRECT : 0);
}

/* ---- accessors ---------------------------------------------------------- */

static inline bool shadow_role_equal(struct shadow_role a, struct shadow_role b)
{
	return a.word == b.word;
}

static inline int shadow_role_level(struct shadow_role r)
{
	return (int)(r.word & SHADOW_ROLE_LEVEL);
}

static inline enum shadow_gmode shadow_role_gmode(struct shadow_role r)
{
	return (enum shadow_gmode)((r.word & SHADOW_ROLE_GMODE) >>
				   SHADOW_ROLE_GMODE_SHIFT);
}

static inline unsigned int shadow_role_quadrant(struct shadow_role r)
{
	return (r.word & SHADOW_ROLE_QUADRANT) >> SHADOW_ROLE_QUADRANT_SHIFT;
}

static inline unsigned int shadow_role_access(struct shadow_role r)
{
	return (r.word & SHADOW_ROLE_ACCESS) >> SHADOW_ROLE_ACCESS_SHIFT;
}

static inline bool is_shadow_role_direct(struct shadow_role r)
{
	return r.word & SHADOW_ROLE_DIRECT;
}

static inline bool shadow_role_cr0_wp(struct shadow_role r)
{
	return r.word & SHADOW_ROLE_CR0_WP;
}

static inline bool shadow_role_efer_nxe(struct shadow_role r)
{
	return r.word & SHADOW_ROLE_EFER_NXE;
}

static inline bool shadow_role_smep_andnot_wp(struct shadow_role r)
{
	return r.word & SHADOW_ROLE_SMEP_ANDNOT_WP;
}

static inline bool shadow_role_smap_andnot_wp(struct shadow_role r)
{
	return r.word & SHADOW_ROLE_SMAP_ANDNOT_WP;
}

static inline bool shadow_role_has_4_byte_gpte(struct shadow_role r)
{
	return shadow_role_gmode(r) == SHADOW_GMODE_32;
}

static inline bool shadow_role_cr4_pae(struct shadow_role r)
{
	return shadow_role_gmode(r) >= SHADOW_GMODE_PAE;
}

/* Bytes per guest paging-structure entry behind the page. */
static inline unsigned int shadow_role_gpte_size(struct shadow_role r)
{
	return shadow_role_has_4_byte_gpte(r) ? 4 : 8;
}

/* ---- quadrants ---------------------------------------------------------- */

/* Highest guest table level a non-direct page of this guest mode shadows;
 * the PAE guest's 4-entry PDPT is held by the shadow root, not a page. */
static inline int shadow_gmode_max_level(enum shadow_gmode gmode)
{
	switch (gmode) {
	case SHADOW_GMODE_32:
	case SHADOW_GMODE_PAE:
		return 2;
	case SHADOW_GMODE_4LEVEL:
		return 4;
	default:
		return 0;
	}
}

/* Quadrant of the level-level shadow page covering linear address la in a
 * 32-bit guest's table (level 1 or 2). */
static inline unsigned int shadow_quadrant(uint64_t la, int level)
{
	unsigned int shift = 21 + 9 * (unsigned int)(level - 1);

	return (unsigned int)(la >> shift) & ((1u << level) - 1);
}

/* Number of quadrants a guest table at level is split into for role r. */
static inline unsigned int shadow_role_nr_quadrants(struct shadow_role r)
{
	if (!shadow_role_has_4_byte_gpte(r) || is_shadow_role_direct(r))
		return 1;
	return 1u << shadow_role_level(r);
}

/*
 * Index, in the guest table behind a page with role r, of the guest entry
 * that shadow entry i stands for: i itself for 8-byte guest entries; for a
 * 32-bit guest, i plus the quadrant's offset, and at level 2 two shadow
 * entries share one guest PDE.
 */
static inline unsigned int shadow_role_gpte_index(struct shadow_role r,
						  unsigned int i)
{
	unsigned int l = (unsigned int)shadow_role_level(r) - 1;
	uint64_t off;

	if (shadow_role_nr_quadrants(r) == 1)
		return i;
	off = ((uint64_t)shadow_role_quadrant(r) << (21 + 9 * l)) |
	      ((uint64_t)i << (12 + 9 * l));
	return (unsigned int)(off >> (12 + 10 * l)) & 1023;
}

/* ---- leaf rights ---------------------------------------------------------- */

/*
 * The rights (SHADOW_ACC_*) of the shadow leaf for one access of kind
 * access (EMUL_ACC_* bits: W, U) through a guest mapping that grants
 * guest_acc, under the paging state of role (any page of the root:
 * CR0.WP and SMEP~WP are the same in all of them); paging is false when
 * the guest's paging is off, dirty says whether the guest's leaf has D.
 *
 *  - CR0.WP = 0, as KVM handles it: a supervisor write to a read-only
 *    page gets a writable supervisor-only leaf (a user access later gets
 *    the page back as the guest wrote it, SDM Vol. 3A 4.6.1), without X
 *    when SMEP is on, so that the leaf grants no supervisor fetch the
 *    guest's entry would refuse.
 *  - W is held back until the guest's D is set, so that the first write
 *    faults and the walk sets D (SDM Vol. 3A 4.8). That includes the
 *    writes CR0.WP = 0 allows.
 *
 * Under a guest large page these rights are also the access in the role
 * of the direct shadow pages that split it: several guest entries that
 * map one frame share those pages, and a leaf made writable through one
 * (D set, or CR0.WP = 0) must not reach an entry whose D is clear or
 * that the supervisor may only read (kvm-unit-tests' access test,
 * check_large_pte_dirty_for_nowp).
 */
static inline unsigned int shadow_leaf_access(struct shadow_role role,
					      unsigned int guest_acc,
					      unsigned int access,
					      bool paging, bool dirty)
{
	unsigned int acc = guest_acc;

	if (!paging)
		return acc;
	if (!shadow_role_cr0_wp(role) && (access & EMUL_ACC_WRITE) &&
	    !(access & EMUL_ACC_USER) && !(acc & SHADOW_ACC_W)) {
		acc = (acc | SHADOW_ACC_W) & ~SHADOW_ACC_U;
		if (shadow_role_smep_andnot_wp(role))
			acc &= ~SHADOW_ACC_X;
	}
	if (!dirty)
		acc &= ~SHADOW_ACC_W;
	return acc;
}

/*
 * Checks the combinations the encoding allows but the MMU never builds:
 * level 1..4; no guest tables without guest paging; non-direct pages only
 * at levels the guest mode has; quadrants only for 32-bit guest tables.
 */
static inline bool is_shadow_role_valid(struct shadow_role r)
{
	int level = shadow_role_level(r);
	enum shadow_gmode gmode = shadow_role_gmode(r);
	bool direct = is_shadow_role_direct(r);

	if (r.word & ~SHADOW_ROLE_USED)
		return false;
	if (level < 1 || level > SHADOW_MAX_LEVEL)
		return false;
	if (!direct && level > shadow_gmode_max_level(gmode))
		return false;
	return shadow_role_quadrant(r) < shadow_role_nr_quadrants(r);
}

#endif
