/* Entering VMX root operation (SDM Vol. 3C 24.7 "Enabling and entering VMX
 * operation", 24.8 "Restrictions on VMX operation"). */
#include "vmx/vmx.h"
#include "arch/msr.h"
#include "arch/percpu.h"
#include "arch/x86.h"
#include "drivers/printk.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "vmx/vcpu_state.h"

/* Sets IA32_FEATURE_CONTROL if firmware left it unlocked. NULL when VMX
 * outside SMX is allowed, else the reason it is not. */
static const char *vmx_feature_control(void)
{
	uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);

	if (!(fc & FEATURE_CONTROL_LOCKED)) {
		fc |= FEATURE_CONTROL_VMX_OUTSIDE_SMX | FEATURE_CONTROL_LOCKED;
		wrmsr(MSR_IA32_FEATURE_CONTROL, fc);
		fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
	}
	if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX))
		return "disabled by firmware (IA32_FEATURE_CONTROL is locked "
		       "with VMX outside SMX off)";
	return NULL;
}

/* CR0 and CR4 must respect the VMX fixed bits (SDM Vol. 3D A.7, A.8). */
static const char *vmx_fix_control_registers(void)
{
	const struct vmx_caps *c = &vmx_caps;
	uint64_t cr0 = read_cr0(), cr4 = read_cr4() | X86_CR4_VMXE;
	uint64_t new_cr0 = (cr0 | c->cr0_fixed0) & c->cr0_fixed1;
	uint64_t new_cr4 = (cr4 | c->cr4_fixed0) & c->cr4_fixed1;

	if ((new_cr0 & (X86_CR0_PE | X86_CR0_PG)) != (X86_CR0_PE | X86_CR0_PG))
		return "CR0 fixed bits forbid paging";
	if (!(new_cr4 & X86_CR4_VMXE))
		return "CR4.VMXE cannot be set";
	write_cr0(new_cr0);
	write_cr4(new_cr4);
	return NULL;
}

/* VMXON: CF = 1 is VMfailInvalid, ZF = 1 VMfailValid (SDM Vol. 3C 31.2). */
static bool vmxon(uint64_t pa)
{
	uint8_t fail;

	__asm__ volatile("vmxon %1; setbe %0"
			 : "=qm"(fail) : "m"(pa) : "cc", "memory");
	return !fail;
}

static const char *vmx_enter_root(struct percpu *cpu)
{
	const char *why;
	uint64_t pa;

	if (!(cpuid(1, 0).ecx & CPUID1_ECX_VMX) || !vmx_caps.present)
		return "CPU has no VMX (CPUID.1:ECX.VMX = 0)";
	why = vmx_feature_control();
	if (!why)
		why = vmx_fix_control_registers();
	if (why)
		return why;
	pa = mm_alloc_pages(0);
	if (pa == FRAME_NONE)
		return "no memory for the VMXON region";
	*(uint32_t *)phys_to_virt(pa) = vmx_caps.revision;
	if (!vmxon(pa)) {
		mm_free_pages(pa, 0);
		return "VMXON failed";
	}
	cpu->vmxon_pa = pa;
	return NULL;
}

void vmx_cpu_init(void)
{
	struct percpu *cpu = this_cpu();
	const char *why = vmx_enter_root(cpu);

	if (why) {
		cpu->vmx_reason = why;
		pr_info("keel: cpu %u: vmx unavailable: %s\n", cpu->id, why);
		__atomic_store_n(&cpu->state, CPU_VMX_UNAVAILABLE, __ATOMIC_RELEASE);
		return;
	}
	fpu_init_this_cpu();
	pr_info("keel: cpu %u: vmxon ok\n", cpu->id);
	__atomic_store_n(&cpu->state, CPU_VMX_ON, __ATOMIC_RELEASE);
}
