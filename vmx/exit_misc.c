/* Small exit handlers: CPUID, HLT, caches, XSETBV, VMX instructions,
 * interrupts and the guest's own end (triple fault). */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "vmx/vmcs_setup.h"
#include "arch/idt.h"
#include "arch/panic.h"
#include "arch/x86.h"
#include "drivers/lapic.h"
#include "drivers/printk.h"
#include "guest/guest.h"
#include "guest/hypercall.h"
#include "guest/vlapic.h"
#include "vmx/emulate.h"
#include "vmx/vcpu_state.h"
#include "vmx/xcr0.h"


#define KEEL_CPUID_BASE     0x40000000
#define KEEL_CPUID_FEATURES 0x40000001
#define KEEL_CPUID_MAX      0x40000010     /* timing leaf: guest/vlapic.h */

/* Shadow paging offers no PCIDs, INVPCID or 5-level paging (vmx/vmcs.c). */
static void cpuid_shadow_paging(uint32_t leaf, struct cpuid_regs *r)
{
	if (leaf == 1)
		r->ecx &= ~(uint32_t)BIT_ULL(17);       /* PCID */
	if (leaf == 7) {
		r->ebx &= ~(uint32_t)BIT_ULL(10);       /* INVPCID */
		r->ecx &= ~(uint32_t)BIT_ULL(16);       /* LA57 */
	}
}

#define CPUID_ANY_SUB       (~0u)
#define CPUID_ALL           (~0u)
#define CPUID1_ECX_MONITOR  BIT_ULL(3)
#define CPUID1_ECX_EST      BIT_ULL(7)
#define CPUID1_ECX_TM2      BIT_ULL(8)
#define CPUID1_ECX_PDCM     BIT_ULL(15)
#define CPUID1_EDX_ACPI     BIT_ULL(22)     /* thermal control MSRs */
#define CPUID1_EDX_TM       BIT_ULL(29)
#define CPUIDD1_EAX_XSAVES  BIT_ULL(3)
#define CPUIDD1_EAX_XFD     BIT_ULL(4)

/*
 * Features of the host a guest does not get, cleared from its answers
 * (SDM Vol. 2A, CPUID): VMX (no nested VMX), MONITOR/MWAIT (they exit to
 * #UD), and everything whose MSRs raise #GP in a guest (vmx/exit_msr.c):
 * PDCM, speed step, the thermal monitors, all of leaf 6 (digital thermal
 * sensor, turbo, HWP, energy bias, APERF/MPERF, which Linux would read
 * at every tick) but ARAT, which the local APIC adds back, and
 * architectural performance monitoring (leaf 0xa). Leaf 0xd subleaf 1
 * loses XSAVES and the IA32_XSS states: Keel leaves "enable
 * XSAVES/XRSTORS" off, so XSAVES raises #UD in a guest (SDM Vol. 3C
 * 26.3), and Linux finding the compacted XSAVE size inconsistent would
 * turn XSAVE off altogether; and XFD, whose MSRs (IA32_XFD,
 * IA32_XFD_ERR) are not on the allow-list. The rest of leaf 0xd follows
 * xcr0_guest_allowed (cpuid_xsave).
 */
/* Sorted by leaf: a lookup stops at the first larger one. */
static const struct cpuid_hidden {
	uint32_t leaf, sub;
	uint32_t clear[4];                      /* EAX, EBX, ECX, EDX */
} cpuid_hidden[] = {
	{ 1, CPUID_ANY_SUB, { 0, 0,
		(uint32_t)(CPUID1_ECX_VMX | CPUID1_ECX_MONITOR | CPUID1_ECX_EST |
			   CPUID1_ECX_TM2 | CPUID1_ECX_PDCM),
		(uint32_t)(CPUID1_EDX_ACPI | CPUID1_EDX_TM) } },
	{ 6, CPUID_ANY_SUB, { CPUID_ALL, CPUID_ALL, CPUID_ALL, CPUID_ALL } },
	{ 0xa, CPUID_ANY_SUB, { CPUID_ALL, CPUID_ALL, CPUID_ALL, CPUID_ALL } },
	{ 0xd, 1, { (uint32_t)(CPUIDD1_EAX_XSAVES | CPUIDD1_EAX_XFD), 0,
		    CPUID_ALL, CPUID_ALL } },
};

/*
 * CPUID.(0xd,1).EBX: the size of an XSAVEC (compacted) area for the
 * guest's XCR0, which is loaded while Keel runs: the legacy area and the
 * header, then each enabled component, 64-byte aligned where
 * CPUID.(0xd,i).ECX bit 1 says (SDM Vol. 1 13.4.3). Made here rather than
 * passed through: the guest has no IA32_XSS states, and Bochs answers
 * with the standard-format size, which Linux rejects.
 */
#define XSAVE_COMPACT_BASE  (512 + 64)
#define XSAVE_FIRST_EXT     2
#define XSAVE_LAST          62
#define CPUIDD_ECX_ALIGN64  BIT_ULL(1)

static uint32_t xsave_compacted_size(uint64_t xcr0)
{
	uint32_t size = XSAVE_COMPACT_BASE;

	for (uint32_t i = XSAVE_FIRST_EXT; i <= XSAVE_LAST; i++) {
		struct cpuid_regs c;

		if (!(xcr0 & BIT_ULL(i)))
			continue;
		c = cpuid(0xd, i);
		if (c.ecx & CPUIDD_ECX_ALIGN64)
			size = ALIGN_UP(size, 64u);
		size += c.eax;
	}
	return size;
}

/*
 * Leaf 0xd as the guest's XSETBV sees it (handle_xsetbv): subleaf 0 gives
 * the XCR0 bits Keel allows and the standard-format size for all of them
 * (EBX, the size for the current XCR0, is the CPU's: that XCR0 is the
 * guest's); a component the guest cannot enable has no subleaf.
 */
static void cpuid_xsave(const struct vcpu *v, uint32_t sub,
			struct cpuid_regs *r)
{
	if (sub == 0) {
		r->eax = (uint32_t)xcr0_guest_allowed;
		r->edx = (uint32_t)(xcr0_guest_allowed >> 32);
		r->ecx = xsave_guest_size;
		if (!xcr0_guest_allowed)
			*r = (struct cpuid_regs){ 0 };
	} else if (sub == 1) {
		if (vcpu_guest_cr4(v) & X86_CR4_OSXSAVE)
			r->ebx = xsave_compacted_size(xgetbv(0));
	} else if (sub >= 64 || !(xcr0_guest_allowed & BIT_ULL(sub))) {
		*r = (struct cpuid_regs){ 0 };
	}
}

static void cpuid_hide(uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(cpuid_hidden); i++) {
		const struct cpuid_hidden *h = &cpuid_hidden[i];

		if (h->leaf > leaf)
			break;
		if (h->leaf != leaf || (h->sub != CPUID_ANY_SUB && h->sub != sub))
			continue;
		r->eax &= ~h->clear[0];
		r->ebx &= ~h->clear[1];
		r->ecx &= ~h->clear[2];
		r->edx &= ~h->clear[3];
	}
}

/*
 * CPUID: the host's answers less what cpuid_hidden names, with the
 * hypervisor bit set, plus Keel's leaves at 0x40000000 ("KeelKeelKeel");
 * the virtual local APIC adjusts its leaves (vlapic_cpuid).
 */
/* OSXSAVE and OSPKE mirror CR4 bits (SDM Vol. 2A, CPUID): the guest's,
 * not those of Keel, which runs the instruction. */
static void cpuid_os_bit(uint32_t *reg, uint64_t bit, bool on)
{
	*reg = on ? *reg | (uint32_t)bit : *reg & ~(uint32_t)bit;
}

static struct cpuid_regs cpuid_keel(const struct vcpu *v, uint32_t leaf)
{
	struct cpuid_regs r = { 0 };

	if (leaf == KEEL_CPUID_BASE)
		r = (struct cpuid_regs){ KEEL_CPUID_MAX, 0x6c65654b,
					 0x6c65654b, 0x6c65654b };
	else if (leaf == KEEL_CPUID_FEATURES)
		r.eax = v->shadow ? KEEL_FEATURE_SHADOW_PAGING : 0;
	return r;
}

static struct cpuid_regs cpuid_host(struct vcpu *v, uint32_t leaf,
				    uint32_t sub)
{
	struct cpuid_regs r = cpuid(leaf, sub);

	cpuid_hide(leaf, sub, &r);
	if (leaf == 1) {
		r.ecx |= (uint32_t)CPUID1_ECX_HYPERVISOR;
		cpuid_os_bit(&r.ecx, CPUID1_ECX_OSXSAVE,
			     vcpu_guest_cr4(v) & X86_CR4_OSXSAVE);
	} else if (leaf == 7 && sub == 0) {
		cpuid_os_bit(&r.ecx, CPUID7_ECX_OSPKE,
			     vcpu_guest_cr4(v) & X86_CR4_PKE);
	} else if (leaf == 0xd) {
		cpuid_xsave(v, sub, &r);
	}
	if (unlikely(v->shadow))
		cpuid_shadow_paging(leaf, &r);
	return r;
}

static struct cpuid_regs cpuid_answer(struct vcpu *v, uint32_t leaf,
				      uint32_t sub)
{
	struct cpuid_regs r;

	if (leaf >= KEEL_CPUID_BASE && leaf < 0x40000100)
		r = cpuid_keel(v, leaf);
	else
		r = cpuid_host(v, leaf, sub);
	if (vlapic_cpuid_leaf(leaf))
		r = vlapic_cpuid(v, leaf, sub, r);
	return r;
}

/*
 * The per-vCPU CPUID cache. Every leaf's answer is fixed for the vCPU's
 * life except these: 1 and 7 (OSXSAVE, OSPKE follow the guest's CR4; the
 * APIC bits its local APIC), 0xd (the guest's XCR0), 0xb and 0x1f (its
 * x2APIC ID), and the unused leaf ~0 (the empty tag). A leaf that comes
 * to depend on guest state must be added here.
 */
static bool cpuid_cacheable(uint32_t leaf)
{
	return leaf != 1 && leaf != 7 && leaf != 0xb && leaf != 0xd &&
	       leaf != 0x1f && leaf != ~0u;
}

static struct cpuid_cached *cpuid_slot(struct vcpu *v, uint32_t leaf,
				       uint32_t sub)
{
	return &v->cpuid_cache[(leaf ^ (leaf >> 29) ^ sub) &
			       (VCPU_CPUID_CACHE - 1)];
}

static uint64_t cpuid_tag(uint32_t leaf, uint32_t sub)
{
	return ((uint64_t)sub << 32 | leaf) + 1;
}

static int cpuid_complete(struct vcpu *v, const struct cpuid_regs *r)
{
	v->regs.rax = r->eax;
	v->regs.rbx = r->ebx;
	v->regs.rcx = r->ecx;
	v->regs.rdx = r->edx;
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

/* A leaf not in the cache: answered, and kept if it may be. */
static __attribute__((noinline)) int cpuid_miss(struct vcpu *v,
						 uint32_t leaf, uint32_t sub)
{
	struct cpuid_regs r = cpuid_answer(v, leaf, sub);

	if (cpuid_cacheable(leaf))
		*cpuid_slot(v, leaf, sub) =
			(struct cpuid_cached){ cpuid_tag(leaf, sub), r };
	return cpuid_complete(v, &r);
}

int handle_cpuid(struct vcpu *v)
{
	uint32_t leaf = (uint32_t)v->regs.rax, sub = (uint32_t)v->regs.rcx;
	const struct cpuid_cached *c = cpuid_slot(v, leaf, sub);

	if (unlikely(c->tag != cpuid_tag(leaf, sub)))
		return cpuid_miss(v, leaf, sub);
	return cpuid_complete(v, &c->r);
}

/* Started vCPUs of g (the others still wait for their SIPI). */
static int vcpus_started(const struct guest *g)
{
	int n = 0;

	for (unsigned int i = 0; i < g->nr_vcpus; i++)
		n += READ_ONCE(g->vcpus[i]->lapic.state) == VLAPIC_RUNNING;
	return n;
}

/*
 * HLT with interrupts off wakes only for an NMI (INIT only starts vCPUs
 * that wait for a SIPI): a vCPU no NMI comes for is done, and the guest
 * is done when all its started vCPUs are. Until then the vCPU stays
 * parked here: an operating system stops its other CPUs this way before
 * the last one powers off, which must still happen. A pause request
 * (migration) takes it out as it is; it parks again when it resumes at
 * the same HLT. An NMI ends the HLT: the entry path injects it.
 */
static int hlt_unpark(struct vcpu *v, int r)
{
	__atomic_sub_fetch(&v->guest->vcpus_parked, 1, __ATOMIC_ACQ_REL);
	if (r == EXIT_RESUME)
		vcpu_skip_instruction(v);
	return r;
}

static int hlt_park(struct vcpu *v)
{
	struct guest *g = v->guest;

	if (vnmi_wakes(v)) {
		vcpu_skip_instruction(v);
		return EXIT_RESUME;
	}
	if (__atomic_add_fetch(&g->vcpus_parked, 1, __ATOMIC_ACQ_REL) >=
	    vcpus_started(g)) {
		guest_end(g, 0, "cli; hlt");
		return EXIT_STOP;
	}
	for (;;) {
		if (READ_ONCE(g->state) != GUEST_RUNNING)
			return EXIT_STOP;
		if (READ_ONCE(v->requests) && vcpu_process_requests(v))
			return hlt_unpark(v, EXIT_STOP);
		if (vnmi_wakes(v))
			return hlt_unpark(v, EXIT_RESUME);
		wait_for_interrupt();   /* the guest's end kicks every vCPU */
	}
}

/* With interrupts on, the vCPU waits in Keel for an interrupt its local
 * APIC can deliver (vcpu_halt, vmx/exit_apic.c). Single-stepped, the HLT
 * completes into its #DB trap, which wakes the processor at once: the
 * guest resumes after it with the trap pending (the 27.3.1.5 checks pair
 * HLT with BS set when TF is; STI blocking does not hold a #DB back). */
int handle_hlt(struct vcpu *v)
{
	uint64_t rflags = vmcs_readnat(VMCS_GUEST_RFLAGS);

	if (unlikely(vcpu_single_steps(rflags))) {
		vcpu_skip_instruction(v);
		return EXIT_RESUME;
	}
	if (!(rflags & X86_RFLAGS_IF))
		return hlt_park(v);
	vcpu_skip_instruction(v);
	return vcpu_halt(v);
}

int handle_invd(struct vcpu *v)
{
	/* INVD would drop other guests' and Keel's dirty lines: write back. */
	__asm__ volatile("wbinvd" ::: "memory");
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

int handle_wbinvd(struct vcpu *v)
{
	__asm__ volatile("wbinvd" ::: "memory");
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

/*
 * XSETBV (SDM Vol. 2C; Vol. 1 13.3): Keel runs the guest's value on the
 * CPU, in VMX root operation, where a value the CPU refuses would raise
 * #GP in Keel and stop this CPU. Every rule is checked first
 * (xsetbv_check, vmx/xcr0.h), against what Keel offers rather than what
 * the CPU has; a broken one is the guest's #GP(0), at the XSETBV itself.
 * XSETBV at CPL > 0 should fault before it exits (SDM Vol. 3C 26.1.1),
 * but the check costs nothing.
 */
int handle_xsetbv(struct vcpu *v)
{
	uint64_t val = (v->regs.rdx << 32) | (uint32_t)v->regs.rax;

	if (xsetbv_check(vcpu_cpl(), (uint32_t)v->regs.rcx, val,
			 xcr0_guest_allowed) != XSETBV_OK) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	xsetbv(0, val);
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

/* The guest's own end (Linux even reboots this way), but rarely meant:
 * say which vCPU and where. */
int handle_triple_fault(struct vcpu *v)
{
	guest_log(LOG_INFO, v->guest, "vcpu %u: triple fault\n", v->index);
	vcpu_dump(v);
	guest_end(v->guest, 0, "triple fault");
	return EXIT_STOP;
}

/* Keel offers no nested VMX: VMX instructions are #UD as on a CPU without
 * VMX (CPUID.1:ECX.VMX reads 0). */
int handle_vmx_instruction(struct vcpu *v)
{
	vcpu_inject_exception(v, VEC_UD, false, 0);
	return EXIT_RESUME;
}

/* The host's performance counters are not the guest's. */
int handle_rdpmc(struct vcpu *v)
{
	vcpu_inject_exception(v, VEC_GP, true, 0);
	return EXIT_RESUME;
}

/* CPUID hides MONITOR/MWAIT. */
int handle_monitor_mwait(struct vcpu *v)
{
	vcpu_inject_exception(v, VEC_UD, false, 0);
	return EXIT_RESUME;
}

/* Interrupts for the host arrive here (acknowledged on exit). The only
 * ones a guest CPU gets are kicks; the dispatcher then sees the guest
 * ending. */
int handle_external_interrupt(struct vcpu *v)
{
	(void)v;
	lapic_eoi();
	return EXIT_RESUME;
}

static void nmi_unblock_guest(void)
{
	uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY);

	if (intr & INTERRUPTIBILITY_NMI)
		vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY,
			     intr & ~(uint32_t)INTERRUPTIBILITY_NMI);
}

/* NMIs exit, #UD for guests with force_emulation and #PF with shadow
 * paging (the only bits the exception bitmap may hold). A host NMI is a
 * kick, or means another CPU panicked. */
int handle_exception_nmi(struct vcpu *v)
{
	uint32_t info = vmcs_read32(VMCS_EXIT_INTR_INFO);
	uint32_t type = (info >> INTR_INFO_TYPE_SHIFT) & 7;
	uint32_t vector = info & (uint32_t)INTR_INFO_VECTOR_MASK;

	if (type == INTR_TYPE_NMI) {
		if (panic_in_progress)
			cpu_halt_forever();
		/* A kick (guest_kick_nmi); the next one must exit too: this
		 * CPU's NMI blocking ends with an IRET. With virtual NMIs bit 3
		 * is the guest's own blocking (vmx/exit_nmi.c); without, it is
		 * the CPU's, which VM entry must find 0 (SDM Vol. 3C 26.6.1):
		 * Bochs 2.7 saves it as 1 on an NMI's VM exit. */
		nmi_unblock();
		if (!v->vnmi)
			nmi_unblock_guest();
		v->wd.async++;          /* not progress for the watchdog */
		return EXIT_RESUME;
	}
	vnmi_refault_iret(v, info);
	if (type == INTR_TYPE_HW_EXCEPTION && vector == VEC_PF)
		return handle_page_fault(v);
	if (type == INTR_TYPE_HW_EXCEPTION && vector == VEC_UD)
		return vcpu_emulate_forced(v);
	return vcpu_fatal(v, "unexpected exception exit, vector %u", vector);
}
