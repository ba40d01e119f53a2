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
 * in one mode; it stops when the last one does. Each user sees every
 * page written since its last get-and-clear: what another user took
 * meanwhile is kept for it in its own `pending` bitmap.
 *
 * Who may use the log: while Keel holds it (a migration, or a snapshot),
 * the guest's own calls are refused (-EBUSY); while a migration holds it,
 * so is a snapshot or a restore, whose copies would otherwise take the
 * migration's pages or write guest memory behind its back.
 *
 * Locking: `lock` guards `users`, `busy` and `keel_waiting`, and is held
 * only for a few lines, never while waiting for a vCPU. Starting,
 * stopping and get-and-clear post requests to the vCPUs and wait for them
 * (guest_request); they run one at a time, each holding `busy`. Only CPU 0
 * waits for `busy` (and says so in `keel_waiting`, which turns the guest's
 * and the snapshot's calls away, so it cannot be starved); a vCPU never
 * does: it gets -EAGAIN and makes its hypercall again after the next VM
 * entry, answering requests on the way.
 *
 * The bitmaps are allocated when the log first starts and freed only with
 * the guest (dirty_log_free), so the exit paths that log a write without
 * any lock (write-protect fault, shadow fill, emulated write, PML drain)
 * never write into freed memory; a bit they set after the log stopped is
 * cleared when it starts again.
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

enum dirty_user {
	DIRTY_USER_GUEST,               /* KEEL_HC_DIRTY_LOG */
	DIRTY_USER_SNAPSHOT,
	DIRTY_USER_MIGRATE,
	DIRTY_NR_USERS,
};

#define DIRTY_USER_BIT(u) (1u << (u))
#define DIRTY_USERS_KEEL \
	(DIRTY_USER_BIT(DIRTY_USER_SNAPSHOT) | DIRTY_USER_BIT(DIRTY_USER_MIGRATE))

struct dirty_log {
	struct spinlock lock;
	struct dirty_bitmap bm;
	uint64_t *taken;                /* what one get-and-clear took */
	/* Per user: pages other users took since its last get-and-clear. */
	struct dirty_bitmap pending[DIRTY_NR_USERS];
	uint64_t bitmap_pa;             /* bm's words, taken's, pending's */
	unsigned int bitmap_order;
	volatile int mode;              /* enum dirty_mode */
	unsigned int users;             /* DIRTY_USER_BIT(enum dirty_user) */
	bool busy;                      /* a start, stop or get-and-clear runs */
	bool keel_waiting;              /* CPU 0 waits for busy */
};

struct guest;
struct vcpu;

const char *dirty_mode_name(enum dirty_mode m);
/* The mode the guest's config asks for (auto: the best the CPU has), or
 * DIRTY_OFF when the CPU cannot do the one asked for. */
enum dirty_mode dirty_mode_for(const struct guest *g);
bool dirty_mode_supported(enum dirty_mode m);

/*
 * Starts logging in `mode` for `user` (or joins it). 0, -EBUSY (other
 * mode in use, or this user is turned away: see above), -EAGAIN (on a
 * vCPU: another CPU is working on the log; try again later), -ENOTSUP,
 * -ENOMEM. Callable from CPU 0 or from the guest's only vCPU; the same
 * answers for dirty_log_stop and dirty_log_get_clear.
 */
int dirty_log_start(struct guest *g, enum dirty_user user, enum dirty_mode mode);
int dirty_log_stop(struct guest *g, enum dirty_user user);
bool dirty_log_has_user(const struct guest *g, enum dirty_user user);
/*
 * Gets and clears the log of `user` for frames [first, first + count):
 * see dirty_bitmap_take for out/each. Pages it reports are armed again (D
 * cleared or W removed) and every vCPU's TLB flushed before it returns,
 * so a write after the return is logged anew. Returns the count, or the
 * errors above (-EINVAL: `user` does not hold the log).
 */
int64_t dirty_log_get_clear(struct guest *g, enum dirty_user user,
			    uint64_t first, uint64_t count, uint64_t *out,
			    void (*each)(void *, uint64_t), void *arg);
/* The guest's memory moved to a new EPT (migration): arm it for the
 * users that still log. Its vCPUs are off their CPUs. */
void dirty_log_moved(struct guest *g);
/* With the guest: ends every user and frees the bitmaps. No vCPU of the
 * guest is on its CPU any more. */
void dirty_log_free(struct guest *g);

/* EPT violation on a page write-protected for logging: log it, give W
 * back. True when that was the cause (the guest just retries). */
bool dirty_log_wp_fault(struct vcpu *v, uint64_t gpa, uint64_t qual);
/* Shadow paging: a write #PF at la on a leaf write-protected only for
 * logging is logged and W given back, without the MMU lock. True when
 * that was the cause. */
bool dirty_log_shadow_fault(struct vcpu *v, uint64_t la);
/* On the vCPU's CPU: log entries to the bitmap, index reset. */
void dirty_pml_drain(struct vcpu *v);
/* On the vCPU's CPU: PML on or off in its VMCS (nothing if it already
 * is). */
void dirty_pml_set(struct vcpu *v, bool on);

#endif
