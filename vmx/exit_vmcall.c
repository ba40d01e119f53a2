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

static int64_t hc_counter(struct vcpu *v)
{
	struct guest *g = v->guest;
	uint64_t id = v->regs.rbx, sum = 0, val;

	if (id >= VMX_NR_EXIT_REASONS && id != KEEL_COUNTER_EXITS_TOTAL) {
		if (id == KEEL_COUNTER_PORTS_UNCLAIMED)
			return (int64_t)g->dev.unhandled_total;
		if (id >= 0x200 && id < KEEL_COUNTER_SHADOW_END)
			return g->mmu && shadow_counter(g, (unsigned int)id, &val) ?
			       (int64_t)val : KEEL_HC_EINVAL;
		return id < 0x100 ? 0 : KEEL_HC_EINVAL;
	}
	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		const struct vcpu *o = g->vcpus[i];

		if (id != KEEL_COUNTER_EXITS_TOTAL) {
			sum += o->exit_counts[id];
			continue;
		}
		for (unsigned int r = 0; r < VMX_NR_EXIT_REASONS; r++)
			sum += o->exit_counts[r];
	}
	return (int64_t)sum;
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

/* A hypercall that found the dirty log busy on another CPU (-EAGAIN):
 * the guest runs the VMCALL again, after its exit path has answered the
 * requests of whoever holds the log. */
#define HC_RETRY INT64_MIN

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

int handle_vmcall(struct vcpu *v)
{
	int64_t ret;

	hc_narrow_args(v);
	if (vcpu_cpl()) {
		ret = KEEL_HC_EPERM;
	} else {
		switch (v->regs.rax) {
		case KEEL_HC_CONSOLE_WRITE:
			ret = hc_console_write(v);
			break;
		case KEEL_HC_EXIT:
			guest_end(v->guest, (v->regs.rbx << 1) | 1, "exit hypercall");
			return EXIT_STOP;
		case KEEL_HC_COUNTER:
			ret = hc_counter(v);
			break;
		case KEEL_HC_SNAPSHOT:
			return snapshot_take(v);
		case KEEL_HC_RESTORE:
			return snapshot_restore(v);
		case KEEL_HC_DIRTY_LOG:
			ret = hc_dirty_log(v);
			break;
		case KEEL_HC_DIRTY_GET:
			ret = hc_dirty_get(v);
			break;
		case KEEL_HC_VCPU_START:
			ret = hc_vcpu_start(v);
			break;
		default:
			ret = KEEL_HC_ENOSYS;
			break;
		}
	}
	if (ret == HC_RETRY)
		return EXIT_RESUME;
	v->regs.rax = (uint64_t)ret;
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}
