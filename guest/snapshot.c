/*
 * Snapshot and restore. A snapshot copies all guest memory into host blocks
 * laid out like the guest's own and starts dirty logging; a restore copies
 * back only the pages logged dirty since the snapshot (or the last restore),
 * so its cost follows the dirty set, not the guest's size.
 */
#include "guest/snapshot.h"
#include "guest/guest.h"
#include "guest/hypercall.h"
#include "vmx/exit.h"
#include "vmx/vmcs.h"
#include "vmx/vcpu_state.h"
#include "arch/errno.h"
#include "arch/string.h"
#include "mm/layout.h"
#include "mm/mm.h"

struct snapshot {
	struct guest_chunk chunks[GUEST_MAX_CHUNKS];    /* hpa: the copy */
	unsigned int nr_chunks;
	struct vcpu_state vcpu;
	struct guest_devices dev;
	uint32_t vmcall_len;            /* to resume after the snapshot call */
	bool logging;                   /* holds a dirty-log user reference */
	unsigned int restores;
};

#define SNAPSHOT_ORDER 3        /* struct snapshot fits in 32 KiB */
_Static_assert(sizeof(struct snapshot) <= (4096UL << SNAPSHOT_ORDER),
	       "struct snapshot size");

static void *snap_page(struct snapshot *s, uint64_t gpa)
{
	for (unsigned int i = 0; i < s->nr_chunks; i++)
		if (gpa - s->chunks[i].gpa < s->chunks[i].size)
			return phys_to_virt(s->chunks[i].hpa + gpa - s->chunks[i].gpa);
	return NULL;
}

void snapshot_free(struct guest *g)
{
	struct snapshot *s = g->snap;

	if (!s)
		return;
	if (s->logging)         /* with the guest: nothing else runs on it */
		dirty_log_stop(g, DIRTY_USER_SNAPSHOT);
	for (unsigned int i = 0; i < s->nr_chunks; i++)
		mm_free_pages(s->chunks[i].hpa, s->chunks[i].order);
	mm_free_pages(virt_to_phys(s), SNAPSHOT_ORDER);
	g->snap = NULL;
}

/* Same chunk layout as the guest, so a page's copy is found the same way. */
static struct snapshot *snapshot_alloc(struct guest *g)
{
	uint64_t pa = mm_alloc_pages(SNAPSHOT_ORDER);
	struct snapshot *s;

	if (pa == FRAME_NONE)
		return NULL;
	s = phys_to_virt(pa);
	g->snap = s;
	for (unsigned int i = 0; i < g->nr_chunks; i++) {
		s->chunks[i] = g->chunks[i];
		s->chunks[i].hpa = frame_alloc(&host_frames, g->chunks[i].order);
		if (s->chunks[i].hpa == FRAME_NONE) {
			snapshot_free(g);
			return NULL;
		}
		s->nr_chunks = i + 1;
	}
	return s;
}

static int hc_return(struct vcpu *v, int64_t val)
{
	v->regs.rax = (uint64_t)val;
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

/* The log refused (a migration holds it) or is busy on CPU 0: -22, or
 * the VMCALL again after the next VM entry. */
static int hc_refused(struct vcpu *v, int64_t err)
{
	if (err == -EAGAIN)
		return EXIT_RESUME;
	return hc_return(v, KEEL_HC_EINVAL);
}

int snapshot_take(struct vcpu *v)
{
	struct guest *g = v->guest;
	struct snapshot *s = g->snap;
	int64_t err;

	/* The PCI devices' state (configuration space, queues) is not part
	 * of a snapshot: restoring RAM without it would break them. */
	if (g->nr_vcpus != 1 || (g->dev.enabled & CONFIG_DEVICE_PCI) ||
	    (!s && !(s = snapshot_alloc(g))))
		return hc_return(v, KEEL_HC_EINVAL);
	if (!s->logging) {
		err = dirty_log_start(g, DIRTY_USER_SNAPSHOT, dirty_mode_for(g));
		if (err)
			return hc_refused(v, err);
		s->logging = true;
	}
	/* The guest is stopped in this exit: nothing writes meanwhile. */
	err = dirty_log_get_clear(g, DIRTY_USER_SNAPSHOT, 0,
				  g->mem_size / PAGE_SIZE, NULL, NULL, NULL);
	if (err < 0)
		return hc_refused(v, err);
	for (unsigned int i = 0; i < g->nr_chunks; i++)
		memcpy(phys_to_virt(s->chunks[i].hpa),
		       phys_to_virt(g->chunks[i].hpa), g->chunks[i].size);
	spin_lock(&g->dev.uart.lock);   /* CPU 0 may be handing it input */
	devices_copy_state(&s->dev, &g->dev);
	spin_unlock(&g->dev.uart.lock);
	vcpu_state_save(v, &s->vcpu);
	s->vmcall_len = vmcs_read32(VMCS_EXIT_INSTR_LEN);
	/* Restores resume after the VMCALL with RAX = 1. */
	s->vcpu.gprs[GPR_RAX] = 1;
	return hc_return(v, 0);
}

static void restore_page(void *arg, uint64_t gfn)
{
	struct guest *g = arg;
	uint64_t gpa = gfn << PAGE_SHIFT;
	void *dst = guest_gpa_to_hva(g, gpa, PAGE_SIZE);
	void *src = snap_page(g->snap, gpa);

	if (dst && src)
		memcpy(dst, src, PAGE_SIZE);
}

int snapshot_restore(struct vcpu *v)
{
	struct guest *g = v->guest;
	struct snapshot *s = g->snap;
	int64_t err;

	if (!s || !s->vcpu.valid)
		return hc_return(v, KEEL_HC_EINVAL);
	err = dirty_log_get_clear(g, DIRTY_USER_SNAPSHOT, 0,
				  g->mem_size / PAGE_SIZE, NULL, restore_page, g);
	if (err < 0)
		return hc_refused(v, err);
	spin_lock(&g->dev.uart.lock);
	devices_copy_state(&g->dev, &s->dev);
	spin_unlock(&g->dev.uart.lock);
	vcpu_state_load(v, &s->vcpu);
	if (g->mmu) {           /* its page tables may have changed back */
		shadow_mmu_reset(g);
		shadow_vcpu_reload(v);
	}
	/* The saved RIP is the snapshot's VMCALL: step over it. */
	vmcs_writenat(VMCS_GUEST_RIP, vmcs_readnat(VMCS_GUEST_RIP) + s->vmcall_len);
	s->restores++;
	return EXIT_RESUME;
}
