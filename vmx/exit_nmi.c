/*
 * NMIs for guests: injection through the VM-entry interruption info, the
 * guest's own NMI blocking, and the NMI-window exit.
 *
 *   vlapic_accept_nmi (an ICR with delivery mode NMI, from any vCPU)
 *     nmi_pending += 1 (at most 2), work |= EVAL, kick
 *   vlapic_before_entry -> vnmi_evaluate (ahead of external interrupts:
 *                          SDM Vol. 3A 6.9 ranks NMIs above them)
 *     can inject: the event slot is free, no virtual-NMI blocking, no
 *                 MOV-SS blocking -> inject type NMI, vector 2
 *     else        NMI-window exiting: the exit comes before the first
 *                 instruction without either blocking (SDM Vol. 3C 26.7.6)
 *
 * With "virtual NMIs" (SDM Vol. 3C 26.2) bit 3 of the interruptibility
 * state is the guest's own blocking: the injection sets it and the
 * guest's IRET clears it (26.3), while Keel's kick NMIs exit as before
 * and leave it alone. A CPU without virtual NMIs gets no guest NMIs.
 *
 * STI blocking does not hold an NMI back: only MOV-SS blocking must be 0
 * to inject one (SDM Vol. 3C 27.3.1.5), and the NMI-window exit does not
 * wait for STI blocking to end either.
 */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "arch/idt.h"
#include "guest/guest.h"

static void vnmi_window(struct vlapic *a, bool on)
{
	vmcs_proc_toggle(&a->nmi_window_on, CPU_NMI_WINDOW_EXITING, on);
}

/* A pending #DB trap goes first (SDM Vol. 3A 6.9): the NMI-window exit
 * comes after its delivery. */
static bool vnmi_can_inject(void)
{
	return !(vmcs_read32(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) &&
	       !(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) &
		 (INTERRUPTIBILITY_NMI | INTERRUPTIBILITY_MOV_SS)) &&
	       !vcpu_debug_trap_pending();
}

static void vnmi_inject(struct vcpu *v)
{
	vmcs_write32(VMCS_ENTRY_INTR_INFO, VEC_NMI |
		     (INTR_TYPE_NMI << INTR_INFO_TYPE_SHIFT) | INTR_INFO_VALID);
	__atomic_fetch_or(&v->lapic.work, VLAPIC_WORK_INJECTED, __ATOMIC_SEQ_CST);
}

/* While the guest's NMI blocking lasts, a CPU holds one NMI: more that
 * came meanwhile are lost (SDM Vol. 3A 6.7.1). */
static void vnmi_latch_one(struct vlapic *a)
{
	uint32_t n = __atomic_load_n(&a->nmi_pending, __ATOMIC_ACQUIRE);

	if (!(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) & INTERRUPTIBILITY_NMI))
		return;
	while (n > 1 &&
	       !__atomic_compare_exchange_n(&a->nmi_pending, &n, 1, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
		;
}

bool vnmi_evaluate(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;

	if (unlikely(!v->vnmi)) {
		WRITE_ONCE(a->nmi_pending, 0);
		return false;
	}
	if (!READ_ONCE(a->nmi_pending)) {
		vnmi_window(a, false);
		return false;
	}
	if (!vnmi_can_inject()) {
		vnmi_latch_one(a);
		vnmi_window(a, true);
		return false;
	}
	__atomic_fetch_sub(&a->nmi_pending, 1, __ATOMIC_SEQ_CST);
	vnmi_inject(v);
	vnmi_window(a, false);
	return true;
}

/*
 * The exit came while the NMI injected at the last entry was being
 * delivered (SDM Vol. 3C 28.2.4): deliver it again, or, when the exit's
 * handler injects an event of its own (or re-injected this one), leave
 * it pending.
 */
void vnmi_redeliver(struct vcpu *v)
{
	uint32_t entry = vmcs_read32(VMCS_ENTRY_INTR_INFO);

	if (!(entry & INTR_INFO_VALID)) {
		vnmi_inject(v);
	} else if (((entry >> INTR_INFO_TYPE_SHIFT) & 7) != INTR_TYPE_NMI) {
		vlapic_nmi_add(&v->lapic);
		__atomic_fetch_or(&v->lapic.work, VLAPIC_WORK_EVAL,
				  __ATOMIC_SEQ_CST);
	}
}

/*
 * An IRET that unblocked NMIs faulted into a VM exit (EPT violation, PML
 * full, an intercepted exception): the processor cleared the blocking
 * before the exit, and the IRET runs again after it, so the blocking must
 * be back until then (SDM Vol. 3C 28.2.3). `info` is the exit
 * qualification or the exit interruption info, whichever carries bit 12.
 */
void vnmi_refault_iret(const struct vcpu *v, uint64_t info)
{
	uint32_t intr;

	if (likely(!(info & INTR_INFO_NMI_UNBLOCKED)) || !v->vnmi ||
	    (vmcs_read32(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID))
		return;
	intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY);
	vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, intr | INTERRUPTIBILITY_NMI);
}

/* A pending NMI ends a HLT unless the guest's NMI blocking holds it back
 * (SDM Vol. 3A 6.7.1): then the HLT goes on, as on a CPU. */
bool vnmi_wakes(const struct vcpu *v)
{
	return READ_ONCE(v->lapic.nmi_pending) && v->vnmi &&
	       !(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) & INTERRUPTIBILITY_NMI);
}

/* The guest can take the NMI now: the entry path injects it. */
int handle_nmi_window(struct vcpu *v)
{
	vnmi_window(&v->lapic, false);
	__atomic_fetch_or(&v->lapic.work, VLAPIC_WORK_EVAL, __ATOMIC_SEQ_CST);
	return EXIT_RESUME;
}
