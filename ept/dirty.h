/*
 * Dirty logging: which guest pages were written since a point in time.
 *
 *   mode  how a first write is noticed                    CPU needs
 *   pml   EPT sets D and logs the GPA in the vCPU's PML   EPT A/D + PML
 *         page; a full log exits, the log drains to the
 *         bitmap
 *   ad    EPT sets D; get-and-clear scans the leaves      EPT A/D
 *   wp    W removed from the leaf; the write exits, is    EPT
 *         logged and W restored (fast path, no lock)
 *
 * Large EPT pages are split to 4 KiB when logging starts. Several users
 * (a snapshot, a migration, the guest's own hypercall) may share one log
 * in one mode; it stops when the last one does.
 */
#ifndef KEEL_EPT_DIRTY_H
#define KEEL_EPT_DIRTY_H

#include "arch/compiler.h"
#include "arch/spinlock.h"
#include "ept/dirty_bitmap.h"

enum dirty_mode {
	DIRTY_OFF = 0,
	DIRTY_PML,
	DIRTY_AD,
	DIRTY_WP,
	DIRTY_SHADOW,           /* shadow paging: write-protect through rmaps */
};

struct dirty_log {
	struct spinlock lock;
	struct dirty_bitmap bm;
	uint64_t *taken;                /* what one get-and-clear took */
	uint64_t bitmap_pa;             /* bm's words, then taken's */
	unsigned int bitmap_order;
	volatile int mode;              /* enum dirty_mode */
	int users;
};

struct guest;
struct vcpu;

const char *dirty_mode_name(enum dirty_mode m);
/* The mode the guest's config asks for (auto: the best the CPU has), or
 * DIRTY_OFF when the CPU cannot do the one asked for. */
enum dirty_mode dirty_mode_for(const struct guest *g);
bool dirty_mode_supported(enum dirty_mode m);

/* Starts logging in `mode` (or joins it). 0, -EBUSY (other mode in use),
 * -ENOTSUP, -ENOMEM. Callable from CPU 0 or from the guest's only vCPU. */
int dirty_log_start(struct guest *g, enum dirty_mode mode);
void dirty_log_stop(struct guest *g);
/*
 * Gets and clears the log for frames [first, first + count): see
 * dirty_bitmap_take for out/each. Pages it reports are armed again (D
 * cleared or W removed) and every vCPU's TLB flushed before it returns,
 * so a write after the return is logged anew. Returns the count.
 */
uint64_t dirty_log_get_clear(struct guest *g, uint64_t first, uint64_t count,
			     uint64_t *out, void (*each)(void *, uint64_t),
			     void *arg);

/* EPT violation on a page write-protected for logging: log it, give W
 * back. True when that was the cause (the guest just retries). */
bool dirty_log_wp_fault(struct vcpu *v, uint64_t gpa, uint64_t qual);
/* Shadow paging: a write #PF at la on a leaf write-protected only for
 * logging is logged and W given back, without the MMU lock. True when
 * that was the cause. */
bool dirty_log_shadow_fault(struct vcpu *v, uint64_t la);
/* On the vCPU's CPU: log entries to the bitmap, index reset. */
void dirty_pml_drain(struct vcpu *v);
/* On the vCPU's CPU: PML on or off in its VMCS. */
void dirty_pml_set(struct vcpu *v, bool on);

#endif
