/*
 * Shadow page-table entries: the encoding only.
 *
 * Without EPT the guest runs on page tables Keel builds ("shadow" tables).
 * They use the hardware format of 4-level paging (SDM Vol. 3A 4.5, Tables
 * 4-15 to 4-20), and the same 8-byte entries serve as PAE-paging PDEs and
 * PTEs when a 32-bit or PAE guest runs on a PAE-format shadow (SDM Vol. 3A
 * 4.4.2, Tables 4-9 to 4-11). This header only builds and tests entries;
 * walking the tables and deciding what to map live elsewhere.
 *
 *   bits    field                   bits  field
 *   63      XD                      8     G
 *   62:59   protection key          7     PS (PDE, PDPTE) / PAT (PTE)
 *   58:52   ignored                 6     D
 *   51:M    reserved                5     A
 *   M-1:12  address                 4     PCD
 *   11      TRK  (software)         3     PWT
 *   10      DLW  (software)         2     U
 *   9       HW   (software)         1     W
 *                                   0     P
 *
 *   A large leaf (PS = 1) has PAT in bit 12 and its address from bit 21
 *   (2 MiB) or 30 (1 GiB).
 *
 * Software bits live in 11:9 only. Bits 62:52 would be free in 4-level
 * paging, but PAE paging reserves 62:M in PDEs and PTEs, and bits 62:59 are
 * protection keys once the guest sets CR4.PKE; 11:9 are ignored by every
 * format and every level (SDM Vol. 3A 4.4.2, 4.5).
 *
 *   HW   host-writable: the host frame behind the leaf may be written.
 *   DLW  dirty-log write protection: W is clear only so that the first
 *        write is seen by dirty logging. The lock-free fast path may set W
 *        again with one cmpxchg (shadow_pte_try_restore_w).
 *   TRK  tracking write protection: W is clear because the guest frame is
 *        write-tracked (it holds a guest page table Keel shadows). Only the
 *        MMU, under its lock, may give W back.
 *
 * A leaf that the guest itself maps read-only has W, DLW and TRK clear.
 *
 * Updating a present entry: the processor sets A and D in shadow leaves on
 * its own and the fast path may set W at any time, so an MMU update of a
 * present entry that must not lose those bits uses shadow_pte_xchg().
 */
#ifndef KEEL_EPT_SHADOW_PTE_H
#define KEEL_EPT_SHADOW_PTE_H

#include "arch/compiler.h"

/* ---- hardware bits (SDM Vol. 3A 4.5, Tables 4-15 to 4-20) --------------- */

#define SHADOW_PTE_P            BIT_ULL(0)
#define SHADOW_PTE_W            BIT_ULL(1)
#define SHADOW_PTE_U            BIT_ULL(2)
#define SHADOW_PTE_PWT          BIT_ULL(3)
#define SHADOW_PTE_PCD          BIT_ULL(4)
#define SHADOW_PTE_A            BIT_ULL(5)
#define SHADOW_PTE_D            BIT_ULL(6)
#define SHADOW_PTE_PS           BIT_ULL(7)
#define SHADOW_PTE_PAT_4K       BIT_ULL(7)
#define SHADOW_PTE_G            BIT_ULL(8)
#define SHADOW_PTE_PAT_LARGE    BIT_ULL(12)
#define SHADOW_PTE_PKEY         GENMASK_ULL(62, 59)
#define SHADOW_PTE_XD           BIT_ULL(63)
/* Host frames sit below 2^51: bit 51 is kept for the MMIO marker. */
#define SHADOW_PTE_ADDR_MASK    GENMASK_ULL(50, 12)

#define SHADOW_PTE_HW_MASK \
	(SHADOW_PTE_P | SHADOW_PTE_W | SHADOW_PTE_U | SHADOW_PTE_PWT | \
	 SHADOW_PTE_PCD | SHADOW_PTE_A | SHADOW_PTE_D | SHADOW_PTE_PS | \
	 SHADOW_PTE_G | GENMASK_ULL(51, 12) | SHADOW_PTE_PKEY | SHADOW_PTE_XD)

/* Ignored by 4-level and PAE paging at every level. */
#define SHADOW_PTE_IGNORED_ALL  GENMASK_ULL(11, 9)

/* ---- software bits ------------------------------------------------------ */

#define SHADOW_PTE_HOST_WRITABLE BIT_ULL(9)
#define SHADOW_PTE_WP_DIRTY_LOG  BIT_ULL(10)
#define SHADOW_PTE_WP_TRACK      BIT_ULL(11)

#define SHADOW_PTE_SW_MASK \
	(SHADOW_PTE_HOST_WRITABLE | SHADOW_PTE_WP_DIRTY_LOG | \
	 SHADOW_PTE_WP_TRACK)

_Static_assert((SHADOW_PTE_HOST_WRITABLE & SHADOW_PTE_WP_DIRTY_LOG) == 0 &&
	       (SHADOW_PTE_HOST_WRITABLE & SHADOW_PTE_WP_TRACK) == 0 &&
	       (SHADOW_PTE_WP_DIRTY_LOG & SHADOW_PTE_WP_TRACK) == 0,
	       "shadow PTE software bits overlap each other");
_Static_assert((SHADOW_PTE_SW_MASK & SHADOW_PTE_HW_MASK) == 0,
	       "shadow PTE software bits overlap hardware bits");
_Static_assert((SHADOW_PTE_SW_MASK & ~SHADOW_PTE_IGNORED_ALL) == 0,
	       "shadow PTE software bits must be ignored in every format");

/* ---- access rights: U/W/X of a translation ------------------------------ */

/* W and U sit at their entry positions; X is the inverse of XD. */
#define SHADOW_ACC_X            1u
#define SHADOW_ACC_W            ((unsigned int)SHADOW_PTE_W)
#define SHADOW_ACC_U            ((unsigned int)SHADOW_PTE_U)
#define SHADOW_ACC_ALL          (SHADOW_ACC_X | SHADOW_ACC_W | SHADOW_ACC_U)

_Static_assert(SHADOW_ACC_W == 2 && SHADOW_ACC_U == 4 &&
	       (SHADOW_ACC_X & (SHADOW_ACC_W | SHADOW_ACC_U)) == 0,
	       "access bits");

/* ---- levels ------------------------------------------------------------- */

#define SHADOW_PT_ENTRIES       512
#define SHADOW_MAX_LEVEL        4

/* Bytes mapped by one entry at level (1 = 4 KiB PTE ... 3 = 1 GiB PDPTE). */
static inline uint64_t shadow_level_size(int level)
{
	return 1ULL << (12 + 9 * (level - 1));
}

static inline unsigned int shadow_index(uint64_t la, int level)
{
	return (la >> (12 + 9 * (level - 1))) & (SHADOW_PT_ENTRIES - 1);
}

/* ---- predicates --------------------------------------------------------- */

/* The MMIO marker (below) has P set too; bit 51 tells them apart. */
#define SHADOW_MMIO_MARK        BIT_ULL(51)
#define SHADOW_MMIO_MATCH       (SHADOW_PTE_P | SHADOW_MMIO_MARK)

static inline bool is_shadow_present(uint64_t spte)
{
	return (spte & SHADOW_MMIO_MATCH) == SHADOW_PTE_P;
}

static inline bool is_shadow_mmio(uint64_t spte)
{
	return (spte & SHADOW_MMIO_MATCH) == SHADOW_MMIO_MATCH;
}

static inline bool is_shadow_writable(uint64_t spte)
{
	return is_shadow_present(spte) && (spte & SHADOW_PTE_W);
}

static inline bool is_shadow_large(uint64_t spte, int level)
{
	return level > 1 && (spte & SHADOW_PTE_PS);
}

static inline bool is_shadow_leaf(uint64_t spte, int level)
{
	return level == 1 || is_shadow_large(spte, level);
}

static inline bool is_shadow_host_writable(uint64_t spte)
{
	return spte & SHADOW_PTE_HOST_WRITABLE;
}

static inline bool is_shadow_wp_tracked(uint64_t spte)
{
	return spte & SHADOW_PTE_WP_TRACK;
}

/*
 * True when W is clear for dirty logging alone: present, host-writable,
 * not write-tracked. Such a leaf may be made writable without the MMU lock.
 */
static inline bool is_shadow_wp_dirty_log_only(uint64_t spte)
{
	uint64_t m = SHADOW_MMIO_MATCH | SHADOW_PTE_W | SHADOW_PTE_SW_MASK;

	return (spte & m) == (SHADOW_PTE_P | SHADOW_PTE_HOST_WRITABLE |
			      SHADOW_PTE_WP_DIRTY_LOG);
}

/* ---- fields ------------------------------------------------------------- */

/* Host-physical address of the frame or table the entry points to. */
static inline uint64_t shadow_pte_hpa(uint64_t spte, int level)
{
	uint64_t mask = SHADOW_PTE_ADDR_MASK;

	if (is_shadow_large(spte, level))
		mask &= ~(shadow_level_size(level) - 1);
	return spte & mask;
}

/* The U/W/X rights a present leaf grants now (W may be withheld). */
static inline unsigned int shadow_pte_access(uint64_t spte)
{
	unsigned int acc = (unsigned int)spte & (SHADOW_ACC_W | SHADOW_ACC_U);

	return acc | ((spte & SHADOW_PTE_XD) ? 0 : SHADOW_ACC_X);
}

/*
 * PAT index (PAT:PCD:PWT, SDM Vol. 3A 12.12.3) as entry bits: PAT is bit 7
 * in a PTE and bit 12 in a large leaf.
 */
static inline uint64_t shadow_pat_bits(unsigned int pat_index, int level)
{
	uint64_t bits = 0;

	if (pat_index & 1)
		bits |= SHADOW_PTE_PWT;
	if (pat_index & 2)
		bits |= SHADOW_PTE_PCD;
	if (pat_index & 4)
		bits |= level > 1 ? SHADOW_PTE_PAT_LARGE : SHADOW_PTE_PAT_4K;
	return bits;
}

static inline unsigned int shadow_pte_pat_index(uint64_t spte, int level)
{
	uint64_t pat = level > 1 ? SHADOW_PTE_PAT_LARGE : SHADOW_PTE_PAT_4K;

	return ((spte & SHADOW_PTE_PWT) ? 1 : 0) |
	       ((spte & SHADOW_PTE_PCD) ? 2 : 0) | ((spte & pat) ? 4 : 0);
}

/* ---- constructors ------------------------------------------------------- */

/* Options for make_shadow_leaf(). */
#define SHADOW_LEAF_HOST_WRITABLE 1u  /* the host frame may be written */
#define SHADOW_LEAF_WRITE_TRACKED 2u  /* the guest frame is write-tracked */
#define SHADOW_LEAF_DIRTY_LOG     4u  /* dirty logging: catch the first write */

/* W for a leaf the guest lets write, and why it is withheld if it is. */
static inline uint64_t shadow_leaf_write_bits(unsigned int opts)
{
	if (!(opts & SHADOW_LEAF_HOST_WRITABLE))
		return 0;
	if (opts & SHADOW_LEAF_WRITE_TRACKED)
		return SHADOW_PTE_WP_TRACK;
	if (opts & SHADOW_LEAF_DIRTY_LOG)
		return SHADOW_PTE_WP_DIRTY_LOG;
	return SHADOW_PTE_W | SHADOW_PTE_D;
}

/*
 * A leaf at level (1: 4 KiB, 2: 2 MiB, 3: 1 GiB) mapping hpa (aligned to
 * the page size, below 2^51) with rights acc (SHADOW_ACC_*), memory type
 * pat_index and options opts (SHADOW_LEAF_*). A is preset so the processor
 * need not write it; D is preset whenever W is granted.
 */
static inline uint64_t make_shadow_leaf(uint64_t hpa, int level,
					unsigned int acc,
					unsigned int pat_index,
					unsigned int opts)
{
	uint64_t spte = (hpa & SHADOW_PTE_ADDR_MASK) | SHADOW_PTE_P |
			SHADOW_PTE_A | shadow_pat_bits(pat_index, level);

	if (level > 1)
		spte |= SHADOW_PTE_PS;
	if (acc & SHADOW_ACC_U)
		spte |= SHADOW_PTE_U;
	if (!(acc & SHADOW_ACC_X))
		spte |= SHADOW_PTE_XD;
	if (opts & SHADOW_LEAF_HOST_WRITABLE)
		spte |= SHADOW_PTE_HOST_WRITABLE;
	if (acc & SHADOW_ACC_W)
		spte |= shadow_leaf_write_bits(opts);
	return spte;
}

/*
 * An entry pointing to the shadow table at table_hpa. It grants
 * everything: rights are enforced in the leaves, and the path's rights are
 * part of each shadow page's role.
 */
static inline uint64_t make_shadow_nonleaf(uint64_t table_hpa)
{
	return (table_hpa & SHADOW_PTE_ADDR_MASK) | SHADOW_PTE_P |
	       SHADOW_PTE_W | SHADOW_PTE_U | SHADOW_PTE_A;
}

/* ---- write protection --------------------------------------------------- */

/* Withholds W for dirty logging; a leaf without W is returned unchanged. */
static inline uint64_t shadow_pte_wp_dirty_log(uint64_t spte)
{
	if (!(spte & SHADOW_PTE_W))
		return spte;
	return (spte & ~SHADOW_PTE_W) | SHADOW_PTE_WP_DIRTY_LOG;
}

/* Withholds W because the frame is now write-tracked. */
static inline uint64_t shadow_pte_wp_track(uint64_t spte)
{
	if (!(spte & (SHADOW_PTE_W | SHADOW_PTE_WP_DIRTY_LOG)))
		return spte;
	return (spte & ~(SHADOW_PTE_W | SHADOW_PTE_WP_DIRTY_LOG)) |
	       SHADOW_PTE_WP_TRACK;
}

/* W given back to a leaf write-protected for dirty logging only. */
static inline uint64_t shadow_pte_restore_w(uint64_t spte)
{
	return (spte & ~SHADOW_PTE_WP_DIRTY_LOG) | SHADOW_PTE_W | SHADOW_PTE_D;
}

/*
 * Dirty-log fast path, without the MMU lock: sets W in *sptep if it still
 * holds old and old is write-protected for dirty logging only. False when
 * the entry changed meanwhile (the caller retries or takes the slow path)
 * or may not be restored. The caller marks the frame dirty on success.
 */
static inline bool shadow_pte_try_restore_w(uint64_t *sptep, uint64_t old)
{
	if (!is_shadow_wp_dirty_log_only(old))
		return false;
	return __atomic_compare_exchange_n(sptep, &old,
					   shadow_pte_restore_w(old), false,
					   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* Replaces a present entry, returning the old value with the A/D bits the
 * processor set up to the exchange. */
static inline uint64_t shadow_pte_xchg(uint64_t *sptep, uint64_t spte)
{
	return __atomic_exchange_n(sptep, spte, __ATOMIC_ACQ_REL);
}

/* ---- MMIO marker -----------------------------------------------------------
 *
 * A guest-physical frame that is not RAM is cached in the shadow entry that
 * would map it, so the next access is recognised without walking the
 * guest's tables again:
 *
 *   63  62      52  51  50                      12  11     3  2   1   0
 *  +---+----------+---+--------------------------+---------+---+---+---+
 *  | 0 | gen 19:9 | 1 |       gfn 38:0           | gen 8:0 | U | W | 1 |
 *  +---+----------+---+--------------------------+---------+---+---+---+
 *
 * P is set and bit 51 is a reserved physical-address bit (bits 51:M are
 * reserved at every level, SDM Vol. 3A 4.5, Tables 4-15 to 4-20; 62:M in
 * PAE PDEs and PTEs, 4.4.2), so any access through the entry is a #PF with
 * P=1 and RSVD=1 in its error code (SDM Vol. 3A 4.7). A non-present entry
 * would not do: reserved bits are only checked when P is 1, and a fault on
 * an empty entry must still mean "not shadowed yet". Translations through
 * an entry with a reserved bit set are not cached (SDM Vol. 3A 4.10.2.2,
 * 4.10.3.1), so the marker can be replaced by a mapping without a flush.
 *
 * Requirements: MAXPHYADDR <= 51, or bit 51 is a real address bit
 * (shadow_mmio_possible()); never in a PAE PDPTE, whose reserved bits fail
 * VM entry instead of faulting (SDM Vol. 3C 27.3.1.6, 27.3.2.4).
 *
 * W and U are the rights the guest's own tables grant, so the handler can
 * raise the guest's #PF without walking again. gen is the low 20 bits of
 * the guest's MMIO generation: a marker of another generation is stale and
 * is treated as an empty entry. gfn covers guest-physical addresses below
 * 2^51. On processors affected by L1 terminal fault the gfn bits may be
 * used speculatively as a host address, as in any entry that faults; such
 * hosts flush L1D before VM entry.
 */
#define SHADOW_MMIO_ACC_MASK    (SHADOW_PTE_W | SHADOW_PTE_U)
#define SHADOW_MMIO_GEN_LO      GENMASK_ULL(11, 3)
#define SHADOW_MMIO_GEN_LO_SHIFT 3
#define SHADOW_MMIO_GEN_LO_BITS 9
#define SHADOW_MMIO_GEN_HI      GENMASK_ULL(62, 52)
#define SHADOW_MMIO_GEN_HI_SHIFT 52
#define SHADOW_MMIO_GEN_BITS    20
#define SHADOW_MMIO_GEN_MASK \
	((uint32_t)GENMASK_ULL(SHADOW_MMIO_GEN_BITS - 1, 0))
#define SHADOW_MMIO_GFN_MASK    GENMASK_ULL(50, 12)
#define SHADOW_MMIO_GFN_SHIFT   12
#define SHADOW_MMIO_MAX_GFN     (SHADOW_MMIO_GFN_MASK >> SHADOW_MMIO_GFN_SHIFT)

_Static_assert((SHADOW_MMIO_GEN_LO & SHADOW_MMIO_GEN_HI) == 0 &&
	       ((SHADOW_MMIO_GEN_LO | SHADOW_MMIO_GEN_HI) &
		(SHADOW_MMIO_GFN_MASK | SHADOW_MMIO_ACC_MASK |
		 SHADOW_MMIO_MATCH)) == 0 &&
	       (SHADOW_MMIO_GFN_MASK & (SHADOW_MMIO_ACC_MASK |
					SHADOW_MMIO_MATCH)) == 0 &&
	       (SHADOW_MMIO_ACC_MASK & SHADOW_MMIO_MATCH) == 0,
	       "MMIO marker fields overlap");
_Static_assert((SHADOW_MMIO_GEN_LO | SHADOW_MMIO_GEN_HI |
		SHADOW_MMIO_GFN_MASK | SHADOW_MMIO_ACC_MASK |
		SHADOW_MMIO_MATCH | SHADOW_PTE_XD) == ~0ULL,
	       "MMIO marker layout leaves a bit undefined");
_Static_assert(SHADOW_MMIO_GEN_BITS ==
	       SHADOW_MMIO_GEN_LO_BITS + (63 - SHADOW_MMIO_GEN_HI_SHIFT),
	       "MMIO generation width");
_Static_assert((SHADOW_MMIO_MARK & SHADOW_PTE_ADDR_MASK) == 0,
	       "a host address must never look like the MMIO marker");

/* True when the host's MAXPHYADDR leaves bit 51 reserved. */
static inline bool shadow_mmio_possible(unsigned int maxphyaddr)
{
	return maxphyaddr <= 51;
}

/* gfn at most SHADOW_MMIO_MAX_GFN; acc: SHADOW_ACC_W/U; gen: any value. */
static inline uint64_t make_shadow_mmio(uint64_t gfn, unsigned int acc,
					uint32_t gen)
{
	uint64_t g = gen & SHADOW_MMIO_GEN_MASK;

	return SHADOW_MMIO_MATCH | (acc & SHADOW_MMIO_ACC_MASK) |
	       ((gfn << SHADOW_MMIO_GFN_SHIFT) & SHADOW_MMIO_GFN_MASK) |
	       ((g << SHADOW_MMIO_GEN_LO_SHIFT) & SHADOW_MMIO_GEN_LO) |
	       ((g >> SHADOW_MMIO_GEN_LO_BITS) << SHADOW_MMIO_GEN_HI_SHIFT);
}

static inline uint64_t shadow_mmio_gfn(uint64_t spte)
{
	return (spte & SHADOW_MMIO_GFN_MASK) >> SHADOW_MMIO_GFN_SHIFT;
}

static inline unsigned int shadow_mmio_access(uint64_t spte)
{
	return (unsigned int)(spte & SHADOW_MMIO_ACC_MASK);
}

static inline uint32_t shadow_mmio_gen(uint64_t spte)
{
	uint64_t lo = (spte & SHADOW_MMIO_GEN_LO) >> SHADOW_MMIO_GEN_LO_SHIFT;
	uint64_t hi = (spte & SHADOW_MMIO_GEN_HI) >> SHADOW_MMIO_GEN_HI_SHIFT;

	return (uint32_t)(lo | (hi << SHADOW_MMIO_GEN_LO_BITS));
}

/* A marker written under the guest's current MMIO generation gen. */
static inline bool is_shadow_mmio_current(uint64_t spte, uint32_t gen)
{
	return is_shadow_mmio(spte) &&
	       shadow_mmio_gen(spte) == (gen & SHADOW_MMIO_GEN_MASK);
}

#endif
