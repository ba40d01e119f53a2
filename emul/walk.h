/* Guest page walker: linear -> guest-physical under the guest's own paging
 * (SDM Vol. 3A chapter 4), for 32-bit, PAE, 4-level and 5-level paging. */
#ifndef KEEL_EMUL_WALK_H
#define KEEL_EMUL_WALK_H

#include "emul/emul.h"

/* Access kinds. W, U and I sit at their #PF error-code positions. */
#define EMUL_ACC_WRITE		EMUL_PFEC_W
#define EMUL_ACC_USER		EMUL_PFEC_U	/* CPL 3, not implicit */
#define EMUL_ACC_FETCH		EMUL_PFEC_I
#define EMUL_ACC_IMPLICIT	BIT_ULL(8)	/* implicit supervisor access
						 * (e.g. descriptor tables) */

/* Paging-structure entry bits (SDM Vol. 3A 4.3-4.5, Tables 4-4 .. 4-20). */
#define EMUL_PTE_P		BIT_ULL(0)
#define EMUL_PTE_RW		BIT_ULL(1)
#define EMUL_PTE_US		BIT_ULL(2)
#define EMUL_PTE_A		BIT_ULL(5)
#define EMUL_PTE_D		BIT_ULL(6)
#define EMUL_PTE_PS		BIT_ULL(7)
#define EMUL_PTE_PKEY		GENMASK_ULL(62, 59)
#define EMUL_PTE_PKEY_SHIFT	59
#define EMUL_PTE_XD		BIT_ULL(63)

_Static_assert(EMUL_ACC_WRITE == BIT_ULL(1) && EMUL_ACC_USER == BIT_ULL(2) &&
	       EMUL_ACC_FETCH == BIT_ULL(4), "access bits are #PF error bits");
_Static_assert((EMUL_ACC_IMPLICIT & GENMASK_ULL(7, 0)) == 0,
	       "implicit flag outside the error code");

/* The paging mode the guest's CR0/CR4/EFER select. */
enum emul_paging {
	EMUL_PAGING_NONE,
	EMUL_PAGING_32,
	EMUL_PAGING_PAE,
	EMUL_PAGING_4LEVEL,
	EMUL_PAGING_5LEVEL,
};

enum emul_paging emul_paging_mode(const struct emul_ctx *ctx);

/* Translates la for an access of kind acc (EMUL_ACC_*). On success stores
 * the guest-physical address, sets accessed/dirty bits like the processor
 * and returns EMUL_OK. On a translation fault fills ctx->exc with #PF
 * (error code and CR2) and returns EMUL_EXCEPTION; no A/D bit is set then.
 * A paging structure outside RAM gives EMUL_UNHANDLEABLE; A/D updates that
 * keep losing compare-exchange races give EMUL_RETRY. */
int emul_walk(struct emul_ctx *ctx, uint64_t la, unsigned int acc,
	      uint64_t *gpa);

/* What a successful walk went through, for a shadow MMU that mirrors the
 * guest's tables: the entry read at each level (with the A/D bits the walk
 * set) and its guest-physical address. Levels count from the leaf (1 = PT)
 * up to `levels`; for PAE paging level 3 holds the PDPTE register. */
struct emul_walk_path {
	enum emul_paging mode;
	unsigned int levels;		/* 0 without paging */
	unsigned int leaf;		/* level of the leaf entry */
	uint64_t pte[6];
	uint64_t pte_gpa[6];
	uint64_t gpa;
};

/* emul_walk() that also fills *path; the caller's hint is not used. */
int emul_walk_path(struct emul_ctx *ctx, uint64_t la, unsigned int acc,
		   struct emul_walk_path *path);

#endif
