/* Dirty logging over EPT: PML, EPT D bits, or write protection. */
#include "ept/dirty.h"
#include "ept/ept.h"
#include "guest/guest.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"
#include "arch/errno.h"
#include "arch/percpu.h"
#include "arch/string.h"
#include "mm/layout.h"
#include "mm/mm.h"

static const char *const mode_names[] = {
	[DIRTY_OFF] = "off", [DIRTY_PML] = "pml", [DIRTY_AD] = "ad",
	[DIRTY_WP] = "wp", [DIRTY_SHADOW] = "shadow-wp",
};

const char *dirty_mode_name(enum dirty_mode m)
{
	return m < ARRAY_SIZE(mode_names) ? mode_names[m] : "?";
}

bool dirty_mode_supported(enum dirty_mode m)
{
	switch (m) {
	case DIRTY_PML:
		return vmx_caps.pml;
	case DIRTY_AD:
		return vmx_caps.ept_ad;
	case DIRTY_WP:
		return vmx_caps.ept;
	case DIRTY_SHADOW:
		return true;
	default:
		return false;
	}
}

enum dirty_mode dirty_mode_for(const struct guest *g)
{
	static const enum dirty_mode from_config[] = {
		[CONFIG_DIRTY_LOG_PML] = DIRTY_PML, [CONFIG_DIRTY_LOG_AD] = DIRTY_AD,
		[CONFIG_DIRTY_LOG_WP] = DIRTY_WP,
	};
	enum dirty_mode m;

	if (g->mmu)             /* PML and EPT D bits need EPT */
		return DIRTY_SHADOW;
	if (g->cfg->dirty_log != CONFIG_DIRTY_LOG_AUTO) {
		m = from_config[g->cfg->dirty_log];
		return dirty_mode_supported(m) ? m : DIRTY_OFF;
	}
	return vmx_caps.pml ? DIRTY_PML : vmx_caps.ept_ad ? DIRTY_AD : DIRTY_WP;
}

/* Arming a page: the next write to it must be noticed again. */
static void arm_leaf(uint64_t *e, int mode)
{
	if (mode == DIRTY_WP)
		__atomic_fetch_or(e, EPT_SW_LOG_WP, __ATOMIC_RELAXED),
		__atomic_fetch_and(e, ~EPT_W, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(e, ~EPT_DIRTY, __ATOMIC_RELAXED);
}

/* Shared memory is not the guest's RAM: it has no bit in the log. */
static void arm_leaf_cb(uint64_t *e, uint64_t gpa, void *arg)
{
	(void)gpa;
	if (!(*e & EPT_SW_SHARED))
		arm_leaf(e, (int)(intptr_t)arg);
}

/* Undo write protection for logging on every leaf. */
static void disarm_leaf_cb(uint64_t *e, uint64_t gpa, void *arg)
{
	(void)gpa;
	(void)arg;
	if (*e & EPT_SW_LOG_WP)
		__atomic_fetch_or(e, EPT_W, __ATOMIC_RELAXED),
		__atomic_fetch_and(e, ~EPT_SW_LOG_WP, __ATOMIC_RELAXED);
}

/* Once per guest: the log's bitmaps stay until dirty_log_free. */
static int dirty_bitmap_alloc(struct dirty_log *d, uint64_t mem_size)
{
	uint64_t frames = mem_size / PAGE_SIZE, words = dirty_bitmap_words(frames);
	uint64_t bytes = words * 8 * (2 + DIRTY_NR_USERS);
	unsigned int order = 0;
	uint64_t *w;

	if (d->bm.words)
		return 0;
	while ((FRAME_SIZE << order) < bytes)
		order++;
	d->bitmap_pa = mm_alloc_pages(order);
	if (d->bitmap_pa == FRAME_NONE)
		return -ENOMEM;
	d->bitmap_order = order;
	w = phys_to_virt(d->bitmap_pa);
	memset(w, 0, bytes);
	d->taken = w + words;
	for (unsigned int u = 0; u < DIRTY_NR_USERS; u++)
		d->pending[u] = (struct dirty_bitmap){ w + (2 + u) * words, frames };
	/* Published last: lock-free loggers test mode, then use bm. */
	__atomic_store_n(&d->bm.words, w, __ATOMIC_RELAXED);
	__atomic_store_n(&d->bm.nr_frames, frames, __ATOMIC_RELEASE);
	return 0;
}

void dirty_log_free(struct guest *g)
{
	struct dirty_log *d = &g->dlog;

	if (d->bm.words)
		mm_free_pages(d->bitmap_pa, d->bitmap_order);
	*d = (struct dirty_log){ .lock = SPINLOCK_INIT };
	WRITE_ONCE(g->shadow_dirty_log, false);
}

/* The guest's own calls wait for nobody: Keel's users come first. */
static int dirty_log_refused(const struct dirty_log *d, enum dirty_user user)
{
	unsigned int keel = d->users & DIRTY_USERS_KEEL;

	if (d->keel_waiting)
		keel |= DIRTY_USERS_KEEL;
	if (user == DIRTY_USER_GUEST && keel)
		return -EBUSY;
	if (user == DIRTY_USER_SNAPSHOT &&
	    (keel & DIRTY_USER_BIT(DIRTY_USER_MIGRATE)))
		return -EBUSY;
	return 0;
}

/*
 * Takes `busy` for one operation on the log. A vCPU never waits for it:
 * whoever holds it may be waiting for that very vCPU to answer a request
 * (guest_request), which it does only once back in its exit path.
 */
static int dirty_log_enter(struct dirty_log *d, enum dirty_user user)
{
	bool may_wait = this_cpu()->vcpu == NULL;
	int err;

	for (;;) {
		spin_lock(&d->lock);
		err = dirty_log_refused(d, user);
		if (!err && d->busy)
			err = -EAGAIN;
		if (!err)
			d->busy = true, d->keel_waiting = false;
		else if (err == -EAGAIN && may_wait)
			d->keel_waiting = true;
		spin_unlock(&d->lock);
		if (err != -EAGAIN || !may_wait)
			return err;
		cpu_relax();
	}
}

static void dirty_log_leave(struct dirty_log *d, unsigned int users)
{
	spin_lock(&d->lock);
	d->users = users;
	d->busy = false;
	spin_unlock(&d->lock);
}

bool dirty_log_has_user(const struct guest *g, enum dirty_user user)
{
	return READ_ONCE(g->dlog.users) & DIRTY_USER_BIT(user);
}

/*
 * PML goes on before the D bits are cleared: a write in between would
 * otherwise set D unlogged, and later writes to that page would never log.
 * A write before the clearing is older than the caller's first copy, which
 * starts after we return; every later one finds D clear (the TLB flush at
 * the end drops cached D = 1 translations) or W removed, and is logged.
 * The mode is published first: a vCPU that gets its VMCS meanwhile turns
 * PML on by itself (vcpu_run) if the request misses it.
 */
static int dirty_log_arm_all(struct guest *g, enum dirty_mode mode)
{
	int err;

	if (mode == DIRTY_SHADOW) {
		/* Shadow leaves are 4 KiB already: nothing to split. */
		WRITE_ONCE(g->shadow_dirty_log, true);
		__atomic_store_n(&g->dlog.mode, (int)mode, __ATOMIC_RELEASE);
		shadow_dirty_arm(g, 0, g->mem_size >> PAGE_SHIFT);
		guest_request(g, VCPU_REQ_FLUSH_TLB);
		return 0;
	}
	err = ept_split_large(&g->ept);
	if (err)
		return err;
	__atomic_store_n(&g->dlog.mode, (int)mode, __ATOMIC_RELEASE);
	if (mode == DIRTY_PML)
		guest_request(g, VCPU_REQ_PML_ON);
	ept_for_each_leaf(&g->ept, arm_leaf_cb, (void *)(intptr_t)mode);
	guest_request(g, VCPU_REQ_FLUSH_EPT);
	return 0;
}

/* The first user: a clean bitmap, then every page armed. */
static int dirty_log_first_start(struct guest *g, enum dirty_mode mode)
{
	struct dirty_log *d = &g->dlog;
	int err = dirty_bitmap_alloc(d, g->mem_size);

	if (err)
		return err;
	memset(d->bm.words, 0, dirty_bitmap_words(d->bm.nr_frames) * 8);
	err = dirty_log_arm_all(g, mode);
	if (err)
		__atomic_store_n(&d->mode, DIRTY_OFF, __ATOMIC_RELEASE);
	return err;
}

int dirty_log_start(struct guest *g, enum dirty_user user, enum dirty_mode mode)
{
	struct dirty_log *d = &g->dlog;
	unsigned int users;
	int err;

	if (!dirty_mode_supported(mode) || (g->mmu != NULL) !=
	    (mode == DIRTY_SHADOW))
		return -ENOTSUP;
	err = dirty_log_enter(d, user);
	if (err)
		return err;
	users = d->users;
	if (users && d->mode != (int)mode)
		err = -EBUSY;
	else if (!users)
		err = dirty_log_first_start(g, mode);
	if (!err && !(users & DIRTY_USER_BIT(user))) {
		struct dirty_bitmap *p = &d->pending[user];

		memset(p->words, 0, dirty_bitmap_words(p->nr_frames) * 8);
		users |= DIRTY_USER_BIT(user);
	}
	dirty_log_leave(d, users);
	return err;
}

/* The last user: undo what arming did. WP takes W back before the mode
 * goes: a write fault on a leaf still armed must find the mode on. */
static void dirty_log_disarm_all(struct guest *g, enum dirty_mode mode)
{
	if (mode == DIRTY_WP) {
		ept_for_each_leaf(&g->ept, disarm_leaf_cb, NULL);
		guest_request(g, VCPU_REQ_FLUSH_EPT);
	}
	if (mode == DIRTY_SHADOW)
		WRITE_ONCE(g->shadow_dirty_log, false);
	__atomic_store_n(&g->dlog.mode, DIRTY_OFF, __ATOMIC_RELEASE);
	if (mode == DIRTY_PML)
		guest_request(g, VCPU_REQ_PML_OFF);
}

int dirty_log_stop(struct guest *g, enum dirty_user user)
{
	struct dirty_log *d = &g->dlog;
	int err = dirty_log_enter(d, user);
	unsigned int users;

	if (err)
		return err;
	users = d->users;
	if (users == DIRTY_USER_BIT(user))
		dirty_log_disarm_all(g, (enum dirty_mode)d->mode);
	dirty_log_leave(d, users & ~DIRTY_USER_BIT(user));
	return 0;
}
/* AD mode: the log is the D bits themselves; move them to the bitmap. */
static void collect_d_cb(uint64_t *e, uint64_t gpa, void *arg)
{
	struct dirty_bitmap *bm = arg;

	if ((*e & EPT_DIRTY) &&
	    (__atomic_fetch_and(e, ~EPT_DIRTY, __ATOMIC_RELAXED) & EPT_DIRTY))
		dirty_bitmap_set(bm, gpa >> PAGE_SHIFT);
}

struct take_ctx {
	struct guest *g;
	int mode;
	unsigned int others;            /* the other users, who keep each page */
	uint64_t first, n;
};

static void rearm_cb(void *arg, uint64_t gfn)
{
	struct take_ctx *t = arg;
	struct dirty_log *d = &t->g->dlog;
	uint64_t *e = t->mode == DIRTY_SHADOW ? NULL :
		      ept_leaf_entry(&t->g->ept, gfn << PAGE_SHIFT);

	if (t->mode == DIRTY_SHADOW)
		shadow_dirty_arm(t->g, gfn, 1);
	else if (e && t->mode != DIRTY_AD)
		arm_leaf(e, t->mode);
	for (unsigned int u = 0; u < DIRTY_NR_USERS; u++)
		if (t->others & DIRTY_USER_BIT(u))
			dirty_bitmap_set(&d->pending[u], gfn);
}

/* A page another user took since our last get-and-clear joins ours. */
static void add_pending_cb(void *arg, uint64_t gfn)
{
	struct take_ctx *t = arg;
	uint64_t i = gfn - t->first, *w = &t->g->dlog.taken[i / 64];

	if (!(*w & (1ULL << (i % 64))))
		*w |= 1ULL << (i % 64), t->n++;
}

/* Hands each page taken to the caller, and the bits to `out`. */
static void report_taken(struct dirty_log *d, uint64_t first, uint64_t count,
			 uint64_t *out, void (*each)(void *, uint64_t),
			 void *arg)
{
	uint64_t words = dirty_bitmap_words(count);

	for (uint64_t w = 0; each && w < words; w++)
		for (uint64_t bits = d->taken[w]; bits; bits &= bits - 1)
			each(arg, first + w * 64 + (uint64_t)__builtin_ctzll(bits));
	if (out)
		memcpy(out, d->taken, words * 8);
}

/* Moves what the CPU logged on its own (PML entries, EPT D bits) to bm. */
static void dirty_log_collect(struct guest *g, int mode)
{
	if (mode == DIRTY_PML)
		guest_request(g, VCPU_REQ_DRAIN_PML);
	else if (mode == DIRTY_AD)
		ept_for_each_leaf(&g->ept, collect_d_cb, &g->dlog.bm);
}

/* Takes [first, first + count) for t's user: bm's bits, re-armed and
 * kept for the other users, and the user's pending ones. */
static void dirty_log_take(struct dirty_log *d, enum dirty_user user,
			   uint64_t count, struct take_ctx *t)
{
	t->others = d->users & ~DIRTY_USER_BIT(user);
	t->n = dirty_bitmap_take(&d->bm, t->first, count, d->taken, rearm_cb, t);
	dirty_bitmap_take(&d->pending[user], t->first, count, NULL,
			  add_pending_cb, t);
}

/*
 * Why no write is lost: a write either happened before its page was armed
 * again here, and then the page is in this round's result (its bit was
 * already set, or its D bit/PML entry reached the bitmap by the drain at
 * the start, or another user took it since this user's last round and
 * kept it in this user's pending bitmap); or it happened after arming and
 * after the TLB flush, and then it is logged anew. A write between arming
 * and the flush may go through a stale TLB entry unlogged, but its page
 * is in this round's result, and `each` (the copy) runs only after the
 * flush, so it sees that write.
 */
int64_t dirty_log_get_clear(struct guest *g, enum dirty_user user,
			    uint64_t first, uint64_t count, uint64_t *out,
			    void (*each)(void *, uint64_t), void *arg)
{
	struct dirty_log *d = &g->dlog;
	struct take_ctx t = { .g = g, .first = first };
	int err = dirty_log_enter(d, user);

	if (err)
		return err;
	if (!(d->users & DIRTY_USER_BIT(user))) {
		dirty_log_leave(d, d->users);
		return -EINVAL;
	}
	t.mode = d->mode;
	dirty_log_collect(g, t.mode);
	if (count > d->bm.nr_frames - MIN(first, d->bm.nr_frames))
		count = d->bm.nr_frames - MIN(first, d->bm.nr_frames);
	dirty_log_take(d, user, count, &t);
	guest_request(g, t.mode == DIRTY_SHADOW ? VCPU_REQ_FLUSH_TLB
						: VCPU_REQ_FLUSH_EPT);
	report_taken(d, first, count, out, each, arg);
	dirty_log_leave(d, d->users);
	return (int64_t)t.n;
}

/*
 * After a migration's switch-over the guest runs on the target slot's
 * EPT, built with large pages and never armed. Every page was copied
 * while the vCPUs were paused; the users still logging (a snapshot, the
 * guest's own) keep what the migration took in their pending bitmaps, and
 * see later writes once the new leaves are armed. Shadow paging was reset
 * and builds armed leaves by itself.
 */
void dirty_log_moved(struct guest *g)
{
	struct dirty_log *d = &g->dlog;
	int mode;

	if (dirty_log_enter(d, DIRTY_USER_MIGRATE))
		return;
	mode = d->mode;
	if (d->users && mode != DIRTY_SHADOW && mode != DIRTY_OFF &&
	    !ept_split_large(&g->ept))
		ept_for_each_leaf(&g->ept, arm_leaf_cb, (void *)(intptr_t)mode);
	dirty_log_leave(d, d->users);
}

bool dirty_log_wp_fault(struct vcpu *v, uint64_t gpa, uint64_t qual)
{
	struct guest *g = v->guest;
	uint64_t *e, old;

	if (!(qual & EPTQ_WRITE) || READ_ONCE(g->dlog.mode) != DIRTY_WP)
		return false;
	e = ept_leaf_entry(&g->ept, gpa);
	if (!e)
		return false;
	old = __atomic_load_n(e, __ATOMIC_RELAXED);
	if (!(old & EPT_SW_LOG_WP))
		return (old & EPT_W) != 0;      /* another vCPU got there first */
	dirty_bitmap_set(&g->dlog.bm, gpa >> PAGE_SHIFT);
	/* Fails only if the entry changed meanwhile: the retry sorts it out. */
	__atomic_compare_exchange_n(e, &old, (old | EPT_W) & ~EPT_SW_LOG_WP,
				    false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	return true;
}

bool dirty_log_shadow_fault(struct vcpu *v, uint64_t la)
{
	struct guest *g = v->guest;
	uint64_t gfn;

	if (READ_ONCE(g->dlog.mode) != DIRTY_SHADOW ||
	    !shadow_dirty_fast_path(g, &v->sv, la, &gfn))
		return false;
	dirty_bitmap_set(&g->dlog.bm, gfn);
	return true;
}

void dirty_pml_drain(struct vcpu *v)
{
	uint16_t index;

	if (!v->pml_pa)
		return;
	index = vmcs_read16(VMCS_GUEST_PML_INDEX);
	if (index == PML_INDEX_START)
		return;
	pml_drain(&v->guest->dlog.bm, phys_to_virt(v->pml_pa), index);
	vmcs_write16(VMCS_GUEST_PML_INDEX, PML_INDEX_START);
}

void dirty_pml_set(struct vcpu *v, bool on)
{
	uint32_t p2 = vmcs_read32(VMCS_PROC_CONTROLS2);

	if (!v->pml_pa || !!(p2 & CPU2_ENABLE_PML) == on)
		return;         /* on again would drop the entries logged */
	if (on) {
		vmcs_write64(VMCS_PML_ADDRESS, v->pml_pa);
		vmcs_write16(VMCS_GUEST_PML_INDEX, PML_INDEX_START);
		p2 |= CPU2_ENABLE_PML;
	} else {
		dirty_pml_drain(v);
		p2 &= ~(uint32_t)CPU2_ENABLE_PML;
	}
	vmcs_write32(VMCS_PROC_CONTROLS2, p2);
}
