/*
 * The virtual local APIC's VMX side: interrupt injection before VM entry,
 * the interrupt-window and VMX-preemption-timer exits, the APIC MSRs, and
 * HLT with interrupts on.
 *
 *   exit handler returns EXIT_RESUME
 *     `v->lapic.work` == 0  -> enter (the common case: one load)
 *     WORK_TIMER            -> fire a due timer, program the preemption
 *                              timer for the next deadline (or stop it)
 *     WORK_INJECTED         -> the exit after an injection: an exit
 *                              during its delivery (IDT-vectoring info)
 *                              injects it again
 *     WORK_EVAL             -> a pending NMI first (vmx/exit_nmi.c);
 *                              highest IRR above PPR: inject it when
 *                              RFLAGS.IF = 1, no STI/MOV-SS blocking and
 *                              no event is being injected already; else
 *                              ask for an interrupt-window exit
 *
 * The preemption timer counts down at the TSC rate >> IA32_VMX_MISC[4:0]
 * (SDM Vol. 3C 26.5.1) and only in guest mode, so it is programmed from
 * the absolute deadline at every entry while the APIC timer is armed.
 *
 * Where the CPU has a TPR shadow (and keel.tpr_shadow is not 0), each
 * vCPU has a virtual-APIC page whose VTPR is its TPR: MOV to and from
 * CR8 need no exit (SDM Vol. 3C 29.1-29.3, without "virtualize APIC
 * accesses" the CPU uses only the VTPR). Every evaluation sets the TPR
 * threshold to the class of the highest vector the TPR holds back, so a
 * MOV to CR8 that lets it in exits (TPR below threshold) and WORK_EVAL
 * injects it. Elsewhere CR8 accesses exit (handle_cr8_access).
 *
 * With virtual-interrupt delivery (struct vlapic.vid) WORK_EVAL injects
 * nothing: it moves what senders posted to the page's IRR and tells the
 * CPU the highest vectors requesting and in service; the CPU delivers
 * them and the guest's EOIs retire them without exits (vlapic_vid_eval).
 */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "vmx/vmcs_setup.h"
#include "vmx/emulate.h"
#include "vmx/vmx.h"
#include "arch/idt.h"
#include "arch/x86.h"
#include "arch/percpu.h"
#include "arch/string.h"
#include "drivers/lapic.h"
#include "guest/guest.h"
#include "guest/vlapic_regs.h"
#include "guest/isa.h"
#include "mm/layout.h"
#include "mm/mm.h"

#define VMX_MISC_PREEMPT_RATE   GENMASK_ULL(4, 0)
#define VAPIC_VTPR_OFFSET       (APIC_REG_TPR * 16)     /* 0x80 */

bool vlapic_tpr_shadow_on = true;

bool vlapic_vmx_init(struct vcpu *v)
{
	uint64_t pa;

	if (!vmx_caps.tpr_shadow || !vlapic_tpr_shadow_on)
		return true;
	pa = mm_alloc_pages(0);
	if (pa == FRAME_NONE)
		return false;
	v->vapic_pa = pa;
	vlapic_shadow_tpr(&v->lapic, (uint32_t *)((uint8_t *)phys_to_virt(pa) +
						  VAPIC_VTPR_OFFSET));
	vlapic_page_attach(v, phys_to_virt(pa));
	return true;
}

static void vlapic_window(struct vlapic *a, bool on)
{
	vmcs_proc_toggle(&a->window_on, CPU_INTR_WINDOW_EXITING, on);
}

/* A pending #DB trap goes first: the window exit comes after it. */
static bool vlapic_can_inject(void)
{
	return !(vmcs_read32(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) &&
	       (vmcs_readnat(VMCS_GUEST_RFLAGS) & X86_RFLAGS_IF) &&
	       !(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) &
		 (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS)) &&
	       !vcpu_debug_trap_pending();
}

/* An interrupt still pending waits for the interrupt window; one the
 * TPR holds back, for a MOV to CR8 below the threshold. */
static void vlapic_wait(struct vcpu *v, bool window, uint32_t threshold)
{
	struct vlapic *a = &v->lapic;

	vlapic_window(a, window);
	if (v->vapic_pa && threshold != a->tpr_threshold) {
		a->tpr_threshold = (uint8_t)threshold;
		vmcs_write32(VMCS_TPR_THRESHOLD, threshold);
	}
}

/* Every level-triggered vector (TMR) in the EOI-exit bitmap, so that its
 * EOI exits and goes on to the I/O APIC (SDM Vol. 3C 29.1.2). */
static void vlapic_eoi_exit_update(struct vlapic *a)
{
	if (!READ_ONCE(a->tmr_changed))
		return;
	__atomic_store_n(&a->tmr_changed, 0, __ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t want = READ_ONCE(a->tmr[2 * i]) |
				(uint64_t)READ_ONCE(a->tmr[2 * i + 1]) << 32;

		if (want != a->eoi_exit[i]) {
			a->eoi_exit[i] = want;
			vmcs_write_eoi_exit(i, want);
		}
	}
}

/* RVI | SVI << 8 from the page (-1: none, 0 in the field). */
static uint16_t vlapic_vid_status(const struct vlapic *a)
{
	int rvi = vlapic_page_highest(a, APIC_REG_IRR0);
	int svi = vlapic_page_highest(a, APIC_REG_ISR0);

	return (uint16_t)((rvi < 0 ? 0 : rvi) | (svi < 0 ? 0 : svi) << 8);
}

/*
 * Virtual-interrupt delivery (SDM Vol. 3C 29.2): VM entry loads RVI (the
 * highest vector of the page's IRR) and SVI (of its ISR) from the guest
 * interrupt status, and the CPU delivers RVI once it is above the VPPR
 * and RFLAGS.IF and the interruptibility state allow, with no interrupt
 * window. The CPU keeps both right as it delivers, EOIs and takes self
 * IPIs, so unless Keel changed the page itself (vid_stale) the new RVI
 * is the larger of the old and the highest vector posted since. The
 * posted vectors move to the page first, and TMR is read after them
 * (vlapic_vid_sync). An APIC that is off delivers nothing.
 */
static void vlapic_vid_eval(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;
	uint16_t status;
	int posted = -1;

	if (vlapic_hw_enabled(a))
		posted = vlapic_vid_sync(a);
	vlapic_eoi_exit_update(a);
	if (unlikely(a->vid_stale)) {
		a->vid_stale = false;
		status = vlapic_vid_status(a);
	} else {
		status = vmcs_read16(VMCS_GUEST_INTR_STATUS);
		if (posted > (status & 0xff))
			status = (uint16_t)((status & 0xff00) | posted);
	}
	if (!vlapic_hw_enabled(a))
		status &= 0xff00;
	vmcs_write16(VMCS_GUEST_INTR_STATUS, status);
}

static void vlapic_inject(struct vcpu *v, uint8_t vector)
{
	vmcs_write32(VMCS_ENTRY_INTR_INFO, vector |
		     (INTR_TYPE_EXT_INTR << INTR_INFO_TYPE_SHIFT) | INTR_INFO_VALID);
	__atomic_fetch_or(&v->lapic.work, VLAPIC_WORK_INJECTED, __ATOMIC_SEQ_CST);
}

/*
 * The 8259s' INTR on vCPU 0's LINT0 (ExtINT, guest/isa.c): the vector
 * comes from the INTA cycle, made only when the CPU takes the interrupt,
 * and never passes through IRR, ISR or the TPR (SDM Vol. 3A 11.5.1). It
 * goes before the APIC's own vectors, as the 8259's INTR would reach the
 * core first. Returns whether INTR still waits for the window.
 */
static bool vlapic_extint(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;

	if (likely(!a->extint) && !vpic_intr_for(v))
		return false;
	if (!vlapic_can_inject())
		return true;
	if (!a->extint)
		a->extint = VLAPIC_EXTINT_VALID | vpic_acknowledge(v->guest);
	vlapic_inject(v, (uint8_t)a->extint);
	a->extint_injected = a->extint;
	a->extint = 0;
	return vpic_intr_for(v);
}

/* SDM Vol. 3C 27.6 (event injection) and 26.7.5 (interrupt window). An
 * NMI injected first fills the event slot: the rest waits for the window
 * after it (vlapic_can_inject). */
static void vlapic_evaluate(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;
	uint32_t threshold;
	bool extint;
	int vector;

	__atomic_fetch_and(&a->work, ~(uint32_t)VLAPIC_WORK_EVAL,
			   __ATOMIC_SEQ_CST);
	vnmi_evaluate(v);
	extint = vlapic_extint(v);
	if (a->vid) {                   /* no window for the APIC's own */
		vlapic_window(a, extint);
		vlapic_vid_eval(v);
		return;
	}
	vector = vlapic_pending_vector_tpr(a, &threshold);
	if (vector >= 0 && vlapic_can_inject()) {
		vlapic_ack(a, (uint8_t)vector);
		vlapic_inject(v, (uint8_t)vector);
		/* A higher vector still pending waits for the handler's STI. */
		vector = vlapic_pending_vector_tpr(a, &threshold);
	}
	vlapic_wait(v, vector >= 0 || extint, threshold);
}

static uint32_t preempt_ticks(uint64_t deadline, uint64_t now)
{
	unsigned int rate = vmx_caps.misc & VMX_MISC_PREEMPT_RATE;
	uint64_t left;

	if (now >= deadline)
		return 0;
	left = (deadline - now + (1ULL << rate) - 1) >> rate;
	return left > 0xffffffffULL ? 0xffffffffU : (uint32_t)left;
}

static int vlapic_program_timer(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;
	uint64_t now = rdtsc();
	bool armed;

	vlapic_timer_poll(v, now);
	armed = a->timer_deadline != 0;
	if (armed && !vmx_caps.preempt_timer)
		return vcpu_fatal(v, "the guest armed its APIC timer, but this "
				  "CPU has no VMX-preemption timer");
	if (armed)
		vmcs_write32(VMCS_PREEMPTION_TIMER,
			     preempt_ticks(a->timer_deadline, now));
	else
		__atomic_fetch_and(&a->work, ~(uint32_t)VLAPIC_WORK_TIMER,
				   __ATOMIC_SEQ_CST);
	if (armed != a->ptimer_on) {
		vmcs_set_bits32(VMCS_PIN_CONTROLS, PIN_PREEMPT_TIMER, armed);
		a->ptimer_on = armed;
	}
	return EXIT_RESUME;
}

/* An interrupt whose delivery an exit interrupted, with its vector in
 * ISR (or an 8259 vector, extint, that had its INTA): the entry injects
 * it again, or, if the exit's handler injects an event of its own, it
 * waits its turn: back in IRR, or, the 8259's, in `extint`. */
static void vlapic_redeliver(struct vcpu *v, uint8_t vector, uint32_t extint)
{
	struct vlapic *a = &v->lapic;

	if (vmcs_read32(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) {
		if (extint) {
			a->extint = extint;
			__atomic_fetch_or(&a->work, VLAPIC_WORK_EVAL,
					  __ATOMIC_SEQ_CST);
		} else {
			vlapic_unack(a, vector);
		}
		return;
	}
	vlapic_inject(v, vector);
	a->extint_injected = extint;
}

/*
 * The exit came while the interrupt injected at the last entry was being
 * delivered (an EPT violation on the guest's stack, say: SDM Vol. 3C
 * 28.2.4): deliver it again.
 */
static void vlapic_check_delivery(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;
	uint32_t info = vmcs_read32(VMCS_IDT_VECTORING_INFO);
	uint32_t type = (info >> INTR_INFO_TYPE_SHIFT) & 7;
	uint8_t vector = info & INTR_INFO_VECTOR_MASK;
	uint32_t extint = a->extint_injected;

	a->extint_injected = 0;
	__atomic_fetch_and(&a->work, ~(uint32_t)VLAPIC_WORK_INJECTED,
			   __ATOMIC_SEQ_CST);
	if (!(info & INTR_INFO_VALID))
		return;
	if (type == INTR_TYPE_NMI) {
		vnmi_redeliver(v);
		return;
	}
	if (type == INTR_TYPE_EXT_INTR)
		vlapic_redeliver(v, vector, extint);
}

int vlapic_before_entry(struct vcpu *v)
{
	uint32_t work = READ_ONCE(v->lapic.work);

	if (work & VLAPIC_WORK_INJECTED)
		vlapic_check_delivery(v);
	if ((work & VLAPIC_WORK_TIMER) && vlapic_program_timer(v) == EXIT_STOP)
		return EXIT_STOP;
	if (READ_ONCE(v->lapic.work) & VLAPIC_WORK_EVAL)
		vlapic_evaluate(v);
	return EXIT_RESUME;
}

/*
 * A VMCS was just built for v (first start, SIPI, or after a migration):
 * the controls Keel toggles start off, so recompute them, and make the
 * pending work of the APIC happen before the first entry. `tsc_shift` is
 * what the host TSC moved against the guest's (old offset - new offset).
 */
int vlapic_vmcs_loaded(struct vcpu *v, uint64_t tsc_shift)
{
	struct vlapic *a = &v->lapic;

	a->window_on = false;
	a->nmi_window_on = false;
	a->tpr_threshold = 0;           /* as vmcs_create wrote it */
	memset(a->eoi_exit, 0, sizeof(a->eoi_exit));
	a->vid_stale = true;            /* the new VMCS has RVI = SVI = 0 */
	a->x2apic_virt_on = false;      /* and the xAPIC controls */
	if (a->vid)
		vlapic_vmx_mode(v);
	WRITE_ONCE(a->tmr_changed, 1);
	a->ptimer_on = false;
	a->extint_injected = 0;         /* as WORK_INJECTED below */
	if (a->timer_deadline) {
		a->timer_deadline += tsc_shift;
		__atomic_fetch_or(&a->work, VLAPIC_WORK_TIMER, __ATOMIC_SEQ_CST);
	}
	__atomic_fetch_and(&a->work, ~(uint32_t)VLAPIC_WORK_INJECTED,
			   __ATOMIC_SEQ_CST);
	__atomic_fetch_or(&a->work, VLAPIC_WORK_EVAL, __ATOMIC_SEQ_CST);
	return vlapic_before_entry(v);
}

/*
 * CR8 is the TPR's priority class (SDM Vol. 3A 11.8.6.1): without a TPR
 * shadow it exits, so a guest never reaches the real TPR (which would
 * hold back Keel's kicks). Bits 63:4 of a value written are reserved
 * (#GP).
 */
int handle_cr8_access(struct vcpu *v, uint64_t q)
{
	unsigned int gpr = (unsigned int)((q & CRQ_GPR_MASK) >> CRQ_GPR_SHIFT);
	unsigned int type = (unsigned int)((q & CRQ_TYPE_MASK) >> CRQ_TYPE_SHIFT);
	uint64_t val;

	if (type == CRQ_TYPE_MOV_FROM_CR) {
		vcpu_set_gpr(v, gpr, (vlapic_tpr(&v->lapic) >> 4) & 0xf);
	} else {
		val = vcpu_gpr(v, gpr);
		if (val & ~0xfULL) {
			vcpu_inject_exception(v, VEC_GP, true, 0);
			return EXIT_RESUME;
		}
		vlapic_set_tpr(&v->lapic, (uint32_t)val << 4);
	}
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

/* The kick IPI makes an external-interrupt exit; a vCPU out of guest mode
 * (in Keel, or about to enter) sees `work` before its next entry. */
void vlapic_kick(struct vcpu *t)
{
	if (t != this_cpu()->vcpu && READ_ONCE(t->on_cpu))
		lapic_send_ipi(percpu[READ_ONCE(t->cpu)].apic_id, VEC_KICK);
}

/* The guest can take an interrupt now: the entry path injects it. */
int handle_interrupt_window(struct vcpu *v)
{
	__atomic_fetch_or(&v->lapic.work, VLAPIC_WORK_EVAL, __ATOMIC_SEQ_CST);
	return EXIT_RESUME;
}

/* A MOV to CR8 lowered the VTPR below the threshold (a trap: the
 * instruction is done, SDM Vol. 3C 29.1.2): the interrupt it held back
 * may go in, and VM entry needs a threshold no higher than the VTPR. */
int handle_tpr_below_threshold(struct vcpu *v)
{
	__atomic_fetch_or(&v->lapic.work, VLAPIC_WORK_EVAL, __ATOMIC_SEQ_CST);
	return EXIT_RESUME;
}

/*
 * The xAPIC page (guest/vlapic_page.c). A write the CPU put in the
 * virtual-APIC page and left to Keel: the exit is a trap, the instruction
 * done (SDM Vol. 3C 29.4.3.3), and the qualification's bits 11:0 are the
 * offset (27.2.1).
 */
int handle_apic_write(struct vcpu *v)
{
	vlapic_page_written(v, (unsigned int)vmcs_readnat(VMCS_EXIT_QUALIFICATION));
	return EXIT_RESUME;
}

/* An access the CPU does not virtualize (PPR, the current count, other
 * widths and offsets): a fault, emulated as on the page without the
 * virtualization. Other accesses (Table 28-6: fetches, event delivery,
 * physical accesses such as a page walk through the page) stop the
 * guest, as they do on the emulated page. */
int handle_apic_access(struct vcpu *v)
{
	uint64_t q = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
	unsigned int type = (unsigned int)(q & APICQ_TYPE) >> APICQ_TYPE_SHIFT;

	if (type == APICQ_LINEAR_READ || type == APICQ_LINEAR_WRITE)
		return vcpu_emulate(v);
	return vcpu_fatal(v, "access of type %u to its APIC page at offset "
			  "%#x (not a read or write by an instruction: SDM "
			  "Vol. 3C Table 28-6)", type,
			  (unsigned int)(q & APICQ_OFFSET));
}

/*
 * x2APIC virtualization (SDM Vol. 3C 29.5), on a vCPU with virtual-
 * interrupt delivery while its APIC is in x2APIC mode: RDMSR of the
 * registers the page holds in x2APIC form reads them there, and WRMSR of
 * the TPR, EOI and SELF IPI are virtualized like their xAPIC writes,
 * with no exit. "Virtualize APIC accesses" must be off meanwhile
 * (26.2.1.1), and the MSR bitmap lets those MSRs through.
 */
void vlapic_vmx_mode(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;
	bool on = a->vid && vmx_caps.x2apic_virt && vlapic_x2apic_mode(a);
	uint32_t proc2;

	if (on == a->x2apic_virt_on)
		return;
	a->x2apic_virt_on = on;
	proc2 = vmcs_read32(VMCS_PROC_CONTROLS2) &
		~(uint32_t)(CPU2_VIRT_APIC_ACCESSES | CPU2_VIRT_X2APIC_MODE);
	vmcs_write32(VMCS_PROC_CONTROLS2, proc2 | (on ? CPU2_VIRT_X2APIC_MODE :
						   CPU2_VIRT_APIC_ACCESSES));
	vmcs_write64(VMCS_MSR_BITMAP, vmx_msr_bitmap(false, on));
}

/* The guest's EOI of a vector the EOI-exit bitmap names (SDM Vol. 3C
 * 29.1.2): the CPU has retired it from the page's ISR, and the exit is a
 * trap; the qualification's bits 7:0 are the vector (27.2.1). */
int handle_virtualized_eoi(struct vcpu *v)
{
	vlapic_eoi_done(v, (uint8_t)vmcs_readnat(VMCS_EXIT_QUALIFICATION));
	return EXIT_RESUME;
}

/*
 * An exit during the delivery of a virtual interrupt (an EPT violation
 * on the guest's stack under dirty logging, say): the CPU had moved the
 * vector from the page's IRR to its ISR already and set SVI to it
 * (29.2.2), so it goes back to IRR, and the entry's evaluation delivers
 * it again (29.2.1). Not injected by Keel: vlapic_before_entry would
 * then take this exit for one after its injection and deliver the vector
 * a second time. SVI names the vector, not the IDT-vectoring
 * information: Bochs 2.7 leaves there the vector of the last event
 * before (0 at first). After an entry that injected an event of Keel's
 * own, vlapic_check_delivery looks at the exit instead.
 */
void vlapic_vid_redeliver(struct vcpu *v)
{
	uint32_t info;

	if (!v->lapic.vid ||
	    (READ_ONCE(v->lapic.work) & VLAPIC_WORK_INJECTED))
		return;
	info = vmcs_read32(VMCS_IDT_VECTORING_INFO);
	if ((info & INTR_INFO_VALID) &&
	    ((info >> INTR_INFO_TYPE_SHIFT) & 7) == INTR_TYPE_EXT_INTR)
		vlapic_unack(&v->lapic,
			     (uint8_t)(vmcs_read16(VMCS_GUEST_INTR_STATUS) >> 8));
}

/* The deadline came (or a capped count ran out): the entry path fires
 * the timer and programs the next one. */
int handle_preemption_timer(struct vcpu *v)
{
	__atomic_fetch_or(&v->lapic.work, VLAPIC_WORK_TIMER, __ATOMIC_SEQ_CST);
	return EXIT_RESUME;
}

/*
 * HLT with RFLAGS.IF = 1 (the instruction is already skipped): wait in
 * Keel until an interrupt can be taken, answering requests, and leave at
 * once when the guest ends. The guest resumes after its HLT with the
 * interrupt injected by the entry path.
 */
/* Sleeps until a kick (IPIs from other vCPUs and devices, requests, the
 * guest's end) or the APIC timer's deadline, where the host's APIC can
 * wake this CPU then; else spins once. */
static void vcpu_halt_wait(const struct vlapic *a)
{
	uint64_t deadline = READ_ONCE(a->timer_deadline);

	if (!deadline) {
		wait_for_interrupt();
	} else if (lapic_tsc_deadline) {
		lapic_wake_at(deadline);
		wait_for_interrupt();
		lapic_wake_at(0);
	} else {
		cpu_relax();
	}
}

int vcpu_halt(struct vcpu *v)
{
	struct vlapic *a = &v->lapic;

	for (;;) {
		if (READ_ONCE(v->guest->state) != GUEST_RUNNING)
			return EXIT_STOP;
		if (READ_ONCE(v->requests) && vcpu_process_requests(v))
			return EXIT_STOP;
		if (READ_ONCE(a->work) & VLAPIC_WORK_TIMER)
			vlapic_timer_poll(v, rdtsc());
		if (vlapic_pending_vector(a) >= 0 || vnmi_wakes(v) ||
		    a->extint || vpic_intr_for(v)) {
			__atomic_fetch_or(&a->work, VLAPIC_WORK_EVAL,
					  __ATOMIC_SEQ_CST);
			return EXIT_RESUME;
		}
		vcpu_halt_wait(a);
	}
}
