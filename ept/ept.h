/*
 * Extended page tables (SDM Vol. 3C 29.3).
 *
 * Encoding helpers (is_* predicates, make_* constructors) sit here; the
 * builder that walks and fills the tables is ept/ept.c.
 *
 *   EPT entry           63        52 51         12 11  10  9   8  7  6 5-3 2 1 0
 *                       [ ignored  ][ address     ][  ][UX][D][A][PS][IPAT][MT][X W R]
 *   EPTP                51-12 PML4 address, 6 A/D enable, 5:3 walk length - 1,
 *                       2:0 memory type of the paging structures
 */
#ifndef KEEL_EPT_EPT_H
#define KEEL_EPT_EPT_H

#include "arch/compiler.h"
#include "arch/spinlock.h"

#define EPT_R               BIT_ULL(0)
#define EPT_W               BIT_ULL(1)
#define EPT_X               BIT_ULL(2)
#define EPT_RWX             (EPT_R | EPT_W | EPT_X)
#define EPT_MT_SHIFT        3
#define EPT_MT_MASK         GENMASK_ULL(5, 3)
#define EPT_MT_UC           0ULL
#define EPT_MT_WB           6ULL
#define EPT_IGNORE_PAT      BIT_ULL(6)
#define EPT_LARGE           BIT_ULL(7)
#define EPT_ACCESSED        BIT_ULL(8)
#define EPT_DIRTY           BIT_ULL(9)
#define EPT_ADDR_MASK       GENMASK_ULL(51, 12)
/* Software bit (bits 62:52 are ignored by the CPU, SDM Vol. 3C 29.3.2):
 * W was removed only to log the first write (dirty logging, mode wp). */
#define EPT_SW_LOG_WP       BIT_ULL(52)
/* Software bit: the leaf maps memory that is not the guest's RAM (shared
 * memory, guest/shm.h; the APIC-access page, guest/vlapic_page.c): dirty
 * logging leaves it alone. */
#define EPT_SW_SHARED       BIT_ULL(53)

#define EPTP_MT_WB          6ULL
#define EPTP_WALK_4         (3ULL << 3)
#define EPTP_AD_ENABLE      BIT_ULL(6)

#define EPT_LEVELS          4
#define EPT_ENTRIES         512

_Static_assert((EPT_RWX & EPT_MT_MASK) == 0, "EPT bit layout");
_Static_assert((EPT_ADDR_MASK & (EPT_LARGE | EPT_ACCESSED | EPT_DIRTY)) == 0,
	       "EPT bit layout");
_Static_assert((EPT_SW_LOG_WP & (EPT_ADDR_MASK | EPT_RWX | EPT_MT_MASK |
				 EPT_LARGE | EPT_ACCESSED | EPT_DIRTY |
				 BIT_ULL(63))) == 0, "EPT software bit");
_Static_assert((EPT_SW_SHARED & (EPT_SW_LOG_WP | EPT_ADDR_MASK | EPT_RWX |
				 EPT_MT_MASK | EPT_LARGE | EPT_ACCESSED |
				 EPT_DIRTY | BIT_ULL(63))) == 0,
	       "EPT software bit");

static inline bool is_ept_present(uint64_t e)
{
	return e & EPT_RWX;
}

static inline bool is_ept_large(uint64_t e, int level)
{
	return level > 1 && (e & EPT_LARGE);
}

static inline uint64_t make_ept_table(uint64_t table_pa)
{
	return table_pa | EPT_RWX;
}

static inline uint64_t make_ept_leaf(uint64_t hpa, uint64_t perm, uint64_t mt,
				     int level)
{
	return hpa | perm | (mt << EPT_MT_SHIFT) | EPT_IGNORE_PAT |
	       (level > 1 ? EPT_LARGE : 0);
}

/* Bytes mapped by one entry at `level` (1 = 4 KiB PTE ... 3 = 1 GiB). */
static inline uint64_t ept_level_size(int level)
{
	return 1ULL << (12 + 9 * (level - 1));
}

static inline unsigned int ept_index(uint64_t gpa, int level)
{
	return (gpa >> (12 + 9 * (level - 1))) & (EPT_ENTRIES - 1);
}

struct ept {
	uint64_t root_pa;               /* PML4 table */
	uint64_t eptp;
	unsigned int tables;            /* paging-structure pages in use */
	unsigned int max_level;         /* largest leaf allowed: 1, 2 or 3 */
	struct spinlock lock;
};

/* Sets up an empty EPT; leaves as large as the CPU allows. 0 or -ENOMEM. */
int ept_init(struct ept *ept);
/*
 * Maps [gpa, gpa + size) to [hpa, hpa + size) with `perm` and memory type
 * `mt`, using the largest pages that alignment and the CPU allow. Both
 * addresses and size must be 4 KiB aligned. 0 or a negative error.
 */
int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size,
	    uint64_t perm, uint64_t mt);
/* The leaf entry mapping gpa, or 0; *level gets its level. */
uint64_t ept_lookup(struct ept *ept, uint64_t gpa, int *level);
/*
 * Replaces every large leaf by a table of 4 KiB leaves with the same
 * mapping (eager splitting for dirty logging). Safe while vCPUs run: each
 * large entry is replaced by one atomic store of an equivalent table; the
 * caller flushes the vCPUs' TLBs afterwards. 0 or -ENOMEM.
 */
int ept_split_large(struct ept *ept);
/* Calls fn on every present 4 KiB leaf (after ept_split_large). */
void ept_for_each_leaf(struct ept *ept,
		       void (*fn)(uint64_t *entry, uint64_t gpa, void *arg),
		       void *arg);
/* The 4 KiB leaf entry for gpa, or NULL (no lock: tables are never freed
 * while the guest runs). */
uint64_t *ept_leaf_entry(struct ept *ept, uint64_t gpa);

/* Frees every paging-structure page (the guest's memory is not touched). */
void ept_destroy(struct ept *ept);

/* INVEPT single-context (or all-context where single is missing). */
void ept_invalidate(const struct ept *ept);
/* INVVPID single-context for vpid (all-context where single is missing);
 * nothing for vpid 0 (VPIDs not in use). */
void vpid_invalidate(uint16_t vpid);
void vpid_invalidate_addr(uint16_t vpid, uint64_t la);

#endif
