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
#define B(n)                ((uint32_t)BIT_ULL(n))

/* Leaf 1 ECX, EDX. */
#define CPUID1_ECX_DTES64   B(2)
#define CPUID1_ECX_MONITOR  B(3)
#define CPUID1_ECX_DS_CPL   B(4)
#define CPUID1_ECX_SMX      B(6)
#define CPUID1_ECX_EST      B(7)
#define CPUID1_ECX_TM2      B(8)
#define CPUID1_ECX_SDBG     B(11)
#define CPUID1_ECX_PDCM     B(15)
#define CPUID1_ECX_DCA      B(18)
#define CPUID1_EDX_DS       B(21)
#define CPUID1_EDX_ACPI     B(22)   /* thermal control MSRs */
#define CPUID1_EDX_TM       B(29)
#define CPUID1_EDX_PBE      B(31)
/* Leaf 7 subleaf 0. */
#define CPUID7_EBX_TSC_ADJUST B(1)
#define CPUID7_EBX_SGX      B(2)
#define CPUID7_EBX_RDT_M    B(12)
#define CPUID7_EBX_MPX      B(14)
#define CPUID7_EBX_RDT_A    B(15)
#define CPUID7_EBX_PT       B(25)
#define CPUID7_ECX_WAITPKG  B(5)
#define CPUID7_ECX_CET_SS   B(7)
#define CPUID7_ECX_TME      B(13)
#define CPUID7_ECX_KL       B(23)
#define CPUID7_ECX_BUSLOCK  B(24)
#define CPUID7_ECX_ENQCMD   B(29)
#define CPUID7_ECX_SGX_LC   B(30)
#define CPUID7_ECX_PKS      B(31)
#define CPUID7_EDX_SGX_KEYS B(1)
#define CPUID7_EDX_UINTR    B(5)
#define CPUID7_EDX_SRBDS    B(9)
#define CPUID7_EDX_TSX_FA   B(13)
#define CPUID7_EDX_PCONFIG  B(18)
#define CPUID7_EDX_ARCH_LBR B(19)
#define CPUID7_EDX_CET_IBT  B(20)
#define CPUID7_EDX_IBRS     B(26)
#define CPUID7_EDX_STIBP    B(27)
#define CPUID7_EDX_L1D_FLUSH B(28)
#define CPUID7_EDX_ARCH_CAP B(29)
#define CPUID7_EDX_CORE_CAP B(30)
#define CPUID7_EDX_SSBD     B(31)
/* Leaf 7 subleaf 1. */
#define CPUID71_EAX_PERFMON_EXT B(8)
#define CPUID71_EAX_FRED    B(17)
#define CPUID71_EAX_HRESET  B(22)
#define CPUID71_EDX_CET_SSS B(18)
/* Leaf 0xd: the MPX state components (XCR0 bits 3 and 4); subleaf 1's
 * bits are in vmx/xcr0.h. */
#define CPUIDD0_EAX_MPX     (B(3) | B(4))
/* Leaf 0x80000001 EDX. */
#define CPUID81_EDX_NX      B(20)

#define ALL4                { CPUID_ALL, CPUID_ALL, CPUID_ALL, CPUID_ALL }

/*
 * Features of the host a guest does not get, cleared from its answers
 * (SDM Vol. 2A, CPUID), under one rule: a feature whose MSRs raise #GP
 * in a guest (vmx/exit_msr.c gives only its allow-list) or whose
 * instructions do not work there is hidden; what CPUID shows works.
 *   VMX (no nested VMX) and SMX (GETSEC exits, Keel has no handler);
 *   MONITOR/MWAIT, shown only while IA32_MISC_ENABLE[18] says so;
 *   power and thermal: EST, TM, TM2, ACPI, PBE, PDCM, and all of leaf 6
 *   (digital thermal sensor, turbo, HWP, energy bias, APERF/MPERF, which
 *   Linux would read at every tick) but ARAT, which the local APIC adds
 *   back;
 *   monitoring and tracing: the debug store (DS, DTES64, DS-CPL:
 *   IA32_DS_AREA), silicon debug (IA32_DEBUG_INTERFACE), architectural
 *   performance monitoring (leaf 0xa, leaf 0x23), Intel PT (leaf 0x14,
 *   IA32_RTIT_*), architectural LBRs (leaf 0x1c), bus-lock detection
 *   (IA32_DEBUGCTL[2]), RDT monitoring and allocation (leaves 0xf, 0x10,
 *   IA32_PQR_ASSOC, IA32_QM_*), direct cache access (IA32_*_DCA_*);
 *   security and platform features with MSRs or VMX controls Keel does
 *   not provide: SGX (leaf 0x12), TME, Key Locker (leaf 0x19), PCONFIG
 *   (leaf 0x1b), MPX (IA32_BNDCFGS; its XCR0 states too), CET (IA32_U_CET,
 *   IA32_S_CET, IA32_PL*_SSP), PKS (IA32_PKRS), WAITPKG
 *   (IA32_UMWAIT_CONTROL; TPAUSE/UMWAIT are #UD without the VMX control),
 *   ENQCMD (IA32_PASID), user interrupts, FRED (IA32_FRED_*), HRESET
 *   (leaf 0x20, IA32_HRESET_ENABLE);
 *   speculation control: IBRS/IBPB, STIBP, SSBD and leaf 7 subleaf 2
 *   (IA32_SPEC_CTRL, IA32_PRED_CMD), L1D_FLUSH (IA32_FLUSH_CMD),
 *   IA32_ARCH_CAPABILITIES, IA32_CORE_CAPABILITIES, SRBDS
 *   (IA32_MCU_OPT_CTRL), TSX_FORCE_ABORT;
 *   XSAVES with the IA32_XSS states and XFD (leaf 0xd subleaf 1): Keel
 *   leaves "enable XSAVES/XRSTORS" off, so XSAVES raises #UD in a guest
 *   (SDM Vol. 3C 26.3), and Linux finding the compacted XSAVE size
 *   inconsistent would turn XSAVE off altogether.
 * tests/guests/cpuid.c checks the rule both ways, MSR by MSR.
 */
/* Sorted by leaf: a lookup stops at the first larger one. */
static const struct cpuid_hidden {
	uint32_t leaf, sub;
	uint32_t clear[4];                      /* EAX, EBX, ECX, EDX */
} cpuid_hidden[] = {
	{ 1, CPUID_ANY_SUB, { 0, 0,
		(uint32_t)CPUID1_ECX_VMX | CPUID1_ECX_DTES64 | CPUID1_ECX_MONITOR |
		CPUID1_ECX_DS_CPL | CPUID1_ECX_SMX | CPUID1_ECX_EST |
		CPUID1_ECX_TM2 | CPUID1_ECX_SDBG | CPUID1_ECX_PDCM |
		CPUID1_ECX_DCA,
		CPUID1_EDX_DS | CPUID1_EDX_ACPI | CPUID1_EDX_TM | CPUID1_EDX_PBE } },
	{ 6, CPUID_ANY_SUB, ALL4 },
	{ 7, 0, { 0,
		CPUID7_EBX_SGX | CPUID7_EBX_RDT_M | CPUID7_EBX_MPX |
		CPUID7_EBX_RDT_A | CPUID7_EBX_PT,
		CPUID7_ECX_WAITPKG | CPUID7_ECX_CET_SS | CPUID7_ECX_TME |
		CPUID7_ECX_KL | CPUID7_ECX_BUSLOCK | CPUID7_ECX_ENQCMD |
		CPUID7_ECX_SGX_LC | CPUID7_ECX_PKS,
		CPUID7_EDX_SGX_KEYS | CPUID7_EDX_UINTR | CPUID7_EDX_SRBDS |
		CPUID7_EDX_TSX_FA | CPUID7_EDX_PCONFIG | CPUID7_EDX_ARCH_LBR |
		CPUID7_EDX_CET_IBT | CPUID7_EDX_IBRS | CPUID7_EDX_STIBP |
		CPUID7_EDX_L1D_FLUSH | CPUID7_EDX_ARCH_CAP |
		CPUID7_EDX_CORE_CAP | CPUID7_EDX_SSBD } },
	{ 7, 1, { CPUID71_EAX_PERFMON_EXT | CPUID71_EAX_FRED |
		  CPUID71_EAX_HRESET, 0, 0, CPUID71_EDX_CET_SSS } },
	{ 7, 2, { 0, 0, 0, CPUID_ALL } },
	{ 0xa, CPUID_ANY_SUB, ALL4 },
	{ 0xd, 0, { CPUIDD0_EAX_MPX, 0, 0, 0 } },
	{ 0xd, 1, { CPUIDD1_EAX_XSAVES | CPUIDD1_EAX_XFD, 0, CPUID_ALL,
		    CPUID_ALL } },
	{ 0xd, 3, ALL4 },
	{ 0xd, 4, ALL4 },
	{ 0xf, CPUID_ANY_SUB, ALL4 },
	{ 0x10, CPUID_ANY_SUB, ALL4 },
	{ 0x12, CPUID_ANY_SUB, ALL4 },
	{ 0x14, CPUID_ANY_SUB, ALL4 },
	{ 0x19, CPUID_ANY_SUB, ALL4 },
	{ 0x1b, CPUID_ANY_SUB, ALL4 },
	{ 0x1c, CPUID_ANY_SUB, ALL4 },
	{ 0x20, CPUID_ANY_SUB, ALL4 },
	{ 0x23, CPUID_ANY_SUB, ALL4 },
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
 * guest's); subleaf 1 shows XSAVEC only where it passed xsave_init's
 * probe; a component the guest cannot enable has no subleaf.
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
		if (!xsavec_usable)
			r->eax &= ~(uint32_t)CPUIDD1_EAX_XSAVEC;
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

/*
 * What IA32_MISC_ENABLE changes in CPUID (SDM Vol. 4, Table 2-2): bit 18
 * shows MONITOR/MWAIT, bit 22 limits the highest basic leaf to 2, bit 34
 * hides NX. Keel emulates IA32_TSC_ADJUST whatever the host has.
 */
static void cpuid_vcpu_bits(const struct vcpu *v, uint32_t leaf, uint32_t sub,
			    struct cpuid_regs *r)
{
	uint64_t misc = v->msr.misc_enable;

	if (leaf == 0 && (misc & MISC_ENABLE_LIMIT_CPUID) && r->eax > 2)
		r->eax = 2;
	else if (leaf == 1 && (misc & MISC_ENABLE_MONITOR))
		r->ecx |= CPUID1_ECX_MONITOR;
	else if (leaf == 7 && sub == 0)
		r->ebx |= CPUID7_EBX_TSC_ADJUST;
	else if (leaf == 0x80000001 && (misc & MISC_ENABLE_XD_DISABLE))
		r->edx &= ~CPUID81_EDX_NX;
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
	cpuid_vcpu_bits(v, leaf, sub, &r);
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

struct cpuid_regs guest_cpuid(struct vcpu *v, uint32_t leaf, uint32_t sub)
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
 * to depend on guest state must be added here, or the cache emptied when
 * that state changes: IA32_MISC_ENABLE writes do (leaves 0, 1 and
 * 0x80000001, cpuid_vcpu_bits; vcpu_cpuid_flush).
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

static bool cpuid_hit(const struct cpuid_cached *c, uint32_t leaf,
		      uint32_t sub)
{
	return c->leaf1 == leaf + 1 && c->sub == sub;
}

void vcpu_cpuid_flush(struct vcpu *v)
{
	for (unsigned int i = 0; i < VCPU_CPUID_CACHE; i++)
		v->cpuid_cache[i].leaf1 = 0;
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

/* A leaf not in the cache: answered, and kept if it may be. Reads EAX
 * and ECX again, which keeps handle_cpuid from holding copies of them. */
static __attribute__((noinline)) int cpuid_miss(struct vcpu *v)
{
	uint32_t leaf = (uint32_t)v->regs.rax, sub = (uint32_t)v->regs.rcx;
	struct cpuid_regs r = guest_cpuid(v, leaf, sub);

	if (cpuid_cacheable(leaf))
		*cpuid_slot(v, leaf, sub) =
			(struct cpuid_cached){ leaf + 1, sub, r };
	return cpuid_complete(v, &r);
}

int handle_cpuid(struct vcpu *v)
{
	uint32_t leaf = (uint32_t)v->regs.rax, sub = (uint32_t)v->regs.rcx;
	const struct cpuid_cached *c = cpuid_slot(v, leaf, sub);

	if (unlikely(!cpuid_hit(c, leaf, sub)))
		return cpuid_miss(v);
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

/*
 * MONITOR/MWAIT exist while IA32_MISC_ENABLE[18] is set, which
 * CPUID.1:ECX.MONITOR follows (SDM Vol. 4, Table 2-2); otherwise they are
 * #UD, as on a CPU without them. With them (SDM Vol. 2B, MONITOR and
 * MWAIT): #UD at CPL > 0; #GP(0) for MONITOR with extensions in ECX and
 * for MWAIT with extensions other than "interrupts as break events"
 * (where CPUID.5:ECX[1] shows it). MWAIT then returns at once, which it
 * may do for any implementation-dependent event: Keel gives a guest no
 * optimized state to wait in, so it polls as if woken.
 */
#define CPUID5_ECX_INTR_BREAK   BIT_ULL(1)

int handle_monitor_mwait(struct vcpu *v)
{
	bool mwait = (vmcs_read32(VMCS_EXIT_REASON) & 0xffff) == EXIT_MWAIT;
	uint32_t ext = (uint32_t)v->regs.rcx;

	if (!(v->msr.misc_enable & MISC_ENABLE_MONITOR) || vcpu_cpl()) {
		vcpu_inject_exception(v, VEC_UD, false, 0);
		return EXIT_RESUME;
	}
	if (mwait && (cpuid(5, 0).ecx & CPUID5_ECX_INTR_BREAK))
		ext &= ~1u;
	if (ext) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	vcpu_skip_instruction(v);
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
