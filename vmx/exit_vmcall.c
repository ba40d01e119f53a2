/* VMCALL: Keel's hypercalls (ABI in guest/hypercall.h, README.md). */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"

#include "guest/guest.h"
#include "guest/vlapic.h"
#include "guest/vlapic_regs.h"
#include "guest/hypercall.h"
#include "ept/shadow_mmu.h"
#include "guest/snapshot.h"
#include "mm/layout.h"
#include "arch/errno.h"


static int64_t hc_console_write(struct vcpu *v)
{
	uint64_t gpa = v->regs.rbx, len = v->regs.rcx;
	const char *s;

	if (len > KEEL_HC_CONSOLE_MAX)
		return KEEL_HC_EINVAL;
	s = guest_gpa_to_hva(v->guest, gpa, len);
	if (!s)
		return KEEL_HC_EINVAL;
	vuart_write_bytes(v->guest, s, len);
	return (int64_t)len;
}

/* Exits of one reason, over the guest's vCPUs. */
static uint64_t exits_of(const struct guest *g, uint64_t reason)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < g->nr_vcpus; i++)
		sum += g->vcpus[i]->exit_counts[reason];
	return sum;
}

/* The counters other than one exit reason's. */
static __attribute__((noinline)) int64_t hc_counter_other(struct guest *g,
							  uint64_t id)
{
	uint64_t sum = 0, val;

	if (id == KEEL_COUNTER_EXITS_TOTAL) {
		for (unsigned int r = 0; r < VMX_NR_EXIT_REASONS; r++)
			sum += exits_of(g, r);
		return (int64_t)sum;
	}
	if (id == KEEL_COUNTER_PORTS_UNCLAIMED)
		return (int64_t)g->dev.unhandled_total;
	if (id >= 0x200 && id < KEEL_COUNTER_SHADOW_END)
		return g->mmu && shadow_counter(g, (unsigned int)id, &val) ?
		       (int64_t)val : KEEL_HC_EINVAL;
	return id < 0x100 ? 0 : KEEL_HC_EINVAL;
}

static int64_t hc_counter(struct vcpu *v)
{
	uint64_t id = v->regs.rbx;

	if (id < VMX_NR_EXIT_REASONS)
		return (int64_t)exits_of(v->guest, id);
	return hc_counter_other(v->guest, id);
}

/* Outside 64-bit mode the upper halves of the registers are undefined
 * (SDM Vol. 1 3.4.1.1): use the low 32 bits there. */
static void hc_narrow_args(struct vcpu *v)
{
	if (vmcs_read32(VMCS_GUEST_CS_AR) & AR_L_BIT)
		return;
	v->regs.rax = (uint32_t)v->regs.rax;
	v->regs.rbx = (uint32_t)v->regs.rbx;
	v->regs.rcx = (uint32_t)v->regs.rcx;
	v->regs.rdx = (uint32_t)v->regs.rdx;
}

/*
 * What a hypercall returns: the value for RAX (the VMCALL then
 * completes), or one of these, below any value for RAX:
 * HC_RETRY   the dirty log was busy on another CPU (-EAGAIN): the guest
 *            runs the VMCALL again, after its exit path has answered the
 *            requests of whoever holds the log;
 * HC_DONE    the hypercall set RAX and RIP itself (a snapshot);
 * HC_STOP    the vCPU stops (the guest ended).
 */
#define HC_RETRY        INT64_MIN
#define HC_DONE         (INT64_MIN + 1)
#define HC_STOP         (INT64_MIN + 2)
_Static_assert(HC_STOP < KEEL_HC_ENOSYS, "hypercall answers");

typedef int64_t hypercall_fn(struct vcpu *v);

static int64_t hc_dirty_answer(int64_t err)
{
	return err == -EAGAIN ? HC_RETRY : err < 0 ? KEEL_HC_EINVAL : err;
}

/* The guest's own use of the dirty log (KEEL_HC_DIRTY_LOG): one user
 * reference, refused while Keel (a migration, a snapshot) holds the log. */
static int64_t hc_dirty_log(struct vcpu *v)
{
	static const enum dirty_mode modes[] = {
		[KEEL_DIRTY_OFF] = DIRTY_OFF, [KEEL_DIRTY_PML] = DIRTY_PML,
		[KEEL_DIRTY_AD] = DIRTY_AD, [KEEL_DIRTY_WP] = DIRTY_WP,
	};
	struct guest *g = v->guest;
	uint64_t m = v->regs.rbx;
	int err;

	if (m >= ARRAY_SIZE(modes) || g->nr_vcpus != 1)
		return KEEL_HC_EINVAL;
	if (dirty_log_has_user(g, DIRTY_USER_GUEST)) {
		err = dirty_log_stop(g, DIRTY_USER_GUEST);
		if (err)
			return hc_dirty_answer(err);
	}
	if (modes[m] == DIRTY_OFF)
		return 0;
	return hc_dirty_answer(dirty_log_start(g, DIRTY_USER_GUEST, modes[m]));
}

static int64_t hc_dirty_get(struct vcpu *v)
{
	struct guest *g = v->guest;
	uint64_t frames = g->mem_size / PAGE_SIZE;
	uint64_t bytes = MIN(v->regs.rcx, dirty_bitmap_words(frames) * 8);
	uint64_t *buf = NULL;

	if (g->nr_vcpus != 1)
		return KEEL_HC_EINVAL;
	if (v->regs.rbx) {
		buf = guest_gpa_to_hva(g, v->regs.rbx, bytes);
		if (!buf || !IS_ALIGNED(v->regs.rbx, 8) || bytes % 8)
			return KEEL_HC_EINVAL;
		frames = MIN(frames, bytes * 8);
	}
	return hc_dirty_answer(dirty_log_get_clear(g, DIRTY_USER_GUEST, 0, frames,
						   buf, NULL, NULL));
}

/* KEEL_HC_VCPU_START: claim the target's start, fill its boot state, then
 * publish it; the target polls in vcpu_wait_sipi (guest/vcpu.c). */
static int64_t hc_vcpu_start(struct vcpu *v)
{
	struct guest *g = v->guest;
	uint32_t none = 0;
	struct vcpu *t;

	if (v->regs.rbx >= g->nr_vcpus || v->regs.rbx == v->index)
		return KEEL_HC_EINVAL;
	t = g->vcpus[v->regs.rbx];
	if (READ_ONCE(t->lapic.state) != VLAPIC_WAIT_SIPI ||
	    !__atomic_compare_exchange_n(&t->lapic.sipi, &none,
					 (uint32_t)VLAPIC_START_CLAIMED, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return KEEL_HC_EINVAL;
	t->boot = (struct vcpu_boot){ .mode = VCPU_MODE_PROT32,
				      .rip = (uint32_t)v->regs.rcx,
				      .rbx = (uint32_t)v->regs.rdx };
	__atomic_store_n(&t->lapic.sipi, (uint32_t)(VLAPIC_SIPI_VALID |
						    VLAPIC_START_PROT32),
			 __ATOMIC_RELEASE);
	vlapic_kick(t);         /* it waits halted (guest/vcpu.c) */
	return 0;
}

static int64_t hc_exit(struct vcpu *v)
{
	guest_end(v->guest, (v->regs.rbx << 1) | 1, "exit hypercall");
	return HC_STOP;
}

/* A snapshot and its restore answer the VMCALL themselves. */
static int64_t hc_exit_code(int r)
{
	return r == EXIT_RESUME ? HC_DONE : HC_STOP;
}

static int64_t hc_snapshot(struct vcpu *v)
{
	return hc_exit_code(snapshot_take(v));
}

static int64_t hc_restore(struct vcpu *v)
{
	return hc_exit_code(snapshot_restore(v));
}

static int64_t hc_enosys(struct vcpu *v)
{
	(void)v;
	return KEEL_HC_ENOSYS;
}

/* Indexed by RAX, the hypercall number (guest/hypercall.h). Every entry
 * is set (the range first, the hypercalls overriding it), so that the
 * call needs no test for a missing one. A new hypercall numbered past
 * HC_COUNT - 1 does not compile until HC_COUNT follows it. */
#define HC_COUNT        (KEEL_HC_VCPU_START + 1)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static hypercall_fn *const hypercalls[HC_COUNT] = {
	[0 ... HC_COUNT - 1]    = hc_enosys,
	[KEEL_HC_CONSOLE_WRITE] = hc_console_write,
	[KEEL_HC_EXIT]          = hc_exit,
	[KEEL_HC_COUNTER]       = hc_counter,
	[KEEL_HC_SNAPSHOT]      = hc_snapshot,
	[KEEL_HC_RESTORE]       = hc_restore,
	[KEEL_HC_DIRTY_LOG]     = hc_dirty_log,
	[KEEL_HC_DIRTY_GET]     = hc_dirty_get,
	[KEEL_HC_VCPU_START]    = hc_vcpu_start,
};
#pragma GCC diagnostic pop

static int64_t hc_call(struct vcpu *v)
{
	uint64_t nr = v->regs.rax;

	if (vcpu_cpl())
		return KEEL_HC_EPERM;
	if (nr >= ARRAY_SIZE(hypercalls))
		return KEEL_HC_ENOSYS;
	return hypercalls[nr](v);
}

int handle_vmcall(struct vcpu *v)
{
	int64_t ret;

	hc_narrow_args(v);
	ret = hc_call(v);
	if (unlikely(ret <= HC_STOP)) {
		if (ret == HC_STOP)
			return EXIT_STOP;
		return EXIT_RESUME;     /* HC_RETRY, HC_DONE */
	}
	v->regs.rax = (uint64_t)ret;
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}
