/*
 * The shadow MMU: paging without EPT. The guest runs on tables Keel builds
 * from its own (shadow pages, ept/shadow_page.h), filled on demand from
 * #PF exits and kept coherent by write-tracking the guest's tables.
 *
 *   guest CR3 --> guest tables (guest RAM, write-tracked)
 *                     | walked by emul_walk_path() at a #PF exit
 *                     v
 *   real CR3  --> shadow root --> shadow pages --> leaves: host frames
 *
 * Root formats. A 4-level guest runs on a 4-level shadow whose root is a
 * pool page. Every other guest (32-bit, PAE, paging off) runs on PAE
 * paging: the root is a 32-byte aligned PDPT page below 4 GiB owned by
 * the vCPU (one per root slot), whose four entries point at level-2 pool
 * pages: the guest's PAE page directories, the four quadrants of a 32-bit
 * guest's page directory, or direct pages mapping 1 GiB each when paging
 * is off (SDM Vol. 3C 27.3.2.4: without EPT, VM entry loads the PDPTEs
 * from the real CR3).
 *
 * Leaves are always 4 KiB: a guest large page is mapped through direct
 * pages, so write tracking and dirty logging work on single frames.
 *
 * Coherence. A guest table Keel shadows is write-tracked (page_track):
 * leaves mapping it have no W, a guest write to it faults, is emulated,
 * and the shadow entries it touched are zapped (refilled on next use). A
 * level-1 table the guest keeps rewriting may instead go out of sync
 * (unsync): it is no longer tracked, and is resynchronised when the guest
 * must expect fresh translations anyway: MOV to CR3 and INVLPG (SDM Vol.
 * 3A 4.10.4). A table of any level that a guest store Keel cannot emulate
 * writes goes out of sync the same way (shadow_unprotect()). Pages written several times in a row without being walked
 * are zapped (write flooding). When the pool is full, least recently used
 * pages are zapped; zap-all is a new pool generation.
 *
 * Locking: one spinlock per guest (shadow_mmu.lock) around every change;
 * the vCPU's exits take it. TLB flushes for other vCPUs are requested
 * after it is dropped.
 */
#ifndef KEEL_EPT_SHADOW_MMU_H
#define KEEL_EPT_SHADOW_MMU_H

#include "arch/compiler.h"
#include "arch/spinlock.h"
#include "ept/page_track.h"
#include "ept/rmap.h"
#include "ept/shadow_page.h"
#include "emul/walk.h"

#define SHADOW_PREV_ROOTS       3       /* cached roots besides the current */
#define SHADOW_ROOT_SLOTS       (1 + SHADOW_PREV_ROOTS)
#define SHADOW_DEFAULT_PAGES    1024    /* 4 MiB of tables per guest */
#define SHADOW_DESCS_PER_PAGE   8
/*
 * Most entries a reverse map holds: a guest frame's leaves, or a shadow
 * page's parents. One more drops them all (they refill on use), so that
 * no removal walks a long chain and no guest makes Keel's work on one
 * frame quadratic by mapping it from everywhere. One instruction needs a
 * handful of them at once, never this many.
 */
#define SHADOW_RMAP_MAX         256

struct guest;
struct vcpu;

enum shadow_zap_cause {
	SHADOW_ZAP_PT_WRITE,    /* entries: a guest write to a tracked table */
	SHADOW_ZAP_FLOOD,       /* pages: written again and again, not walked */
	SHADOW_ZAP_LRU,         /* pages: the pool was full */
	SHADOW_ZAP_OBSOLETE,    /* pages: of an old generation */
	SHADOW_ZAP_UNPROTECT,   /* pages: a write Keel could not emulate
				 * (now: made unsync, not zapped) */
	SHADOW_ZAP_SYNC,        /* entries: changed while unsync */
	SHADOW_ZAP_INVLPG,      /* entries: INVLPG of an unsync leaf */
	SHADOW_ZAP_ALIAS,       /* entries: a frame or a shadow page linked
				 * from SHADOW_RMAP_MAX places */
	SHADOW_ZAP_NR,
};

enum shadow_pf_kind {
	SHADOW_PF_FILL,         /* shadow entries built */
	SHADOW_PF_GUEST,        /* the guest's own fault, injected */
	SHADOW_PF_TRACKED,      /* a write to a tracked table, emulated */
	SHADOW_PF_UNSYNC,       /* a write that made a table unsync */
	SHADOW_PF_MMIO,         /* MMIO found by a walk, emulated */
	SHADOW_PF_MMIO_CACHED,  /* MMIO found by its marker, emulated */
	SHADOW_PF_SPURIOUS,     /* nothing to do (another vCPU was first) */
	SHADOW_PF_NR,
};

struct shadow_stats {
	uint64_t pf[SHADOW_PF_NR];
	uint64_t zaps[SHADOW_ZAP_NR];
	uint64_t rmap_entries;          /* leaves in the reverse maps now */
	uint64_t unsync_now, unsync_total;
	uint64_t pt_writes;             /* emulated writes to tracked tables */
	uint64_t cr3_loads, root_hits, root_builds, syncs, invlpg;
	uint64_t pages_peak;
};

struct shadow_mmu {
	struct spinlock lock;
	struct shadow_pool pool;
	struct rmap_desc_pool descs;
	struct rmap_table rmaps;
	struct page_track track;
	uint32_t mmio_gen;
	bool flush;                     /* a TLB may hold a dropped translation */
	bool unsync_on, root_cache_on;
	uint32_t unsync_nonleaf;        /* upper-level pages out of sync */
	uint8_t maxphyaddr;
	struct shadow_stats st;
	/* Host memory, for shadow_mmu_destroy(). */
	struct shadow_page *pages;
	uint32_t nr_pages;
	uint64_t meta_pa;
	unsigned int meta_order;
};

/* A root: what the real CR3 points at for one guest address space. */
struct shadow_root {
	bool valid;
	uint32_t role;                  /* role word of its level-4 or level-2 pages */
	uint64_t cr3;                   /* guest CR3, address bits */
	uint64_t pdpte[4];              /* PAE guest: the PDPTEs it was built from */
	struct shadow_page *sp;         /* 4-level: the root page */
	struct shadow_page *pd[4];      /* PAE format: the pages the PDPT holds */
	uint64_t *pdpt;                 /* PAE format: this slot's PDPT page */
	uint64_t pdpt_pa;
};

/* Per vCPU: the guest's view of the registers Keel takes over, and roots. */
struct shadow_vcpu {
	uint64_t cr3;                   /* guest CR3 */
	uint64_t efer;                  /* guest EFER (the VMCS holds the real one) */
	uint64_t pat;                   /* guest PAT, without the PAT controls */
	uint64_t pdpte[4];              /* guest PDPTEs, loaded as the CPU would */
	struct shadow_root roots[SHADOW_ROOT_SLOTS];    /* [0] is current */
};

/* Guest paging state a root depends on. */
struct shadow_regs {
	uint64_t cr0, cr3, cr4, efer;
	const uint64_t *pdpte;          /* PAE */
};

extern unsigned int shadow_pool_pages;  /* keel.shadow_pages */
extern bool shadow_unsync_default;      /* keel.shadow_unsync */
extern bool shadow_root_cache_default;  /* keel.shadow_root_cache */

int shadow_mmu_init(struct guest *g);
void shadow_mmu_destroy(struct guest *g);
int shadow_vcpu_init(struct shadow_vcpu *sv);
void shadow_vcpu_destroy(struct guest *g, struct shadow_vcpu *sv);

/*
 * Makes roots[0] the root for regs (from the cache or built), after
 * syncing what it reaches. Returns the real CR3 value, or 0 when no root
 * can be built (pool exhausted by roots). The caller flushes the TLB.
 */
uint64_t shadow_load_root(struct guest *g, struct shadow_vcpu *sv,
			  const struct shadow_regs *r);

/* Result of shadow_fill(). */
enum shadow_fill_result {
	SHADOW_FILL_DONE,               /* resume the guest */
	SHADOW_FILL_TRACKED_WRITE,      /* emulate: the target is a guest table */
	SHADOW_FILL_MMIO,               /* emulate: the target is a device */
	SHADOW_FILL_NO_MEMORY,          /* the target is outside the guest */
	SHADOW_FILL_NO_ROOM,            /* the pool is all roots */
};

/*
 * Builds the shadow path for la after a successful guest walk (path) for
 * an access of kind acc (EMUL_ACC_*). regs as for shadow_load_root().
 */
enum shadow_fill_result shadow_fill(struct guest *g, struct shadow_vcpu *sv,
				    const struct shadow_regs *r, uint64_t la,
				    unsigned int acc,
				    const struct emul_walk_path *path);

/*
 * A #PF with RSVD set: the leaf for la holds an MMIO marker. True when it
 * is current; *gpa and *acc (SHADOW_ACC_W/U the guest grants) are set.
 * Otherwise the stale marker is dropped and the fault is handled anew.
 */
bool shadow_mmio_cached(struct guest *g, struct shadow_vcpu *sv, uint64_t la,
			uint64_t *gpa, unsigned int *acc);

/* Keel wrote [gpa, gpa + len) of guest RAM for the guest (an emulated
 * store): zap the shadow entries the written guest entries stood for. */
void shadow_track_write(struct guest *g, uint64_t gpa, unsigned int len);
/* Lets the guest write gfn natively (a write to it could not be
 * emulated): its shadows, at any level, go out of sync until the next
 * flush. */
void shadow_unprotect(struct guest *g, uint64_t gfn);
/* INVLPG la: an unsync leaf for it is dropped. */
void shadow_invlpg(struct guest *g, struct shadow_vcpu *sv, uint64_t la);
/* Every shadow page obsolete: guest memory changed behind the MMU. The
 * caller has every vCPU reload its root. */
void shadow_zap_all(struct guest *g);
/* Dirty logging (ept/dirty.c): write-protects the leaves mapping
 * [gfn, gfn + count) so the next write to each faults. */
void shadow_dirty_arm(struct guest *g, uint64_t gfn, uint64_t count);
/* The lock-free write-fault fast path; *gfn is the frame to log. */
bool shadow_dirty_fast_path(struct guest *g, struct shadow_vcpu *sv,
			    uint64_t la, uint64_t *gfn);
/* Drops every page and root (see ept/shadow_mmu.c). */
void shadow_mmu_reset(struct guest *g);

/* True (once) when entries were dropped or lost rights since the last
 * call: the guest's vCPUs must flush their TLBs before running on. */
bool shadow_take_flush(struct guest *g);

/* Checks every in-sync shadow page against the guest's tables and prints
 * the first difference (keel.shadow_audit=1, slow). */
extern bool shadow_audit_on;
void shadow_audit(struct guest *g, const char *why);
void shadow_audit_root(struct guest *g, struct shadow_vcpu *sv,
		       const char *why);

/* Prints the counters (keel.stats=1). */
void shadow_print_stats(struct guest *g);
/* Counter `id` (KEEL_COUNTER_SHADOW_*, guest/hypercall.h); false for an
 * id that names none. */
bool shadow_counter(struct guest *g, unsigned int id, uint64_t *val);

static inline bool shadow_mmu_tracked(struct shadow_mmu *m, uint64_t gfn)
{
	return page_track_is_tracked(&m->track, gfn);
}

#endif
