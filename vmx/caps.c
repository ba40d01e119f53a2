/* Reading the VMX capability MSRs (SDM Vol. 3D Appendix A). */
#include "vmx/vmx.h"
#include "vmx/controls.h"
#include "arch/msr.h"
#include "arch/x86.h"
#include "drivers/printk.h"

struct vmx_caps vmx_caps;

static void vmx_caps_read(struct vmx_caps *c)
{
	bool true_ctls;

	c->basic = rdmsr(MSR_IA32_VMX_BASIC);
	true_ctls = c->basic & VMX_BASIC_TRUE_CTLS;
	c->pinbased = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS
				      : MSR_IA32_VMX_PINBASED_CTLS);
	c->procbased = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS
				       : MSR_IA32_VMX_PROCBASED_CTLS);
	c->exit = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS
				  : MSR_IA32_VMX_EXIT_CTLS);
	c->entry = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS
				   : MSR_IA32_VMX_ENTRY_CTLS);
	c->misc = rdmsr(MSR_IA32_VMX_MISC);
	c->cr0_fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
	c->cr0_fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
	c->cr4_fixed0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0);
	c->cr4_fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
	/* The next MSRs exist only when the controls that need them can be
	 * set (SDM Vol. 3D A.3.3, A.10, A.11). */
	if (vmx_ctl_allows1(c->procbased, CPU_ACTIVATE_SECONDARY))
		c->procbased2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
	if (vmx_ctl_allows1(c->procbased2, CPU2_ENABLE_EPT) ||
	    vmx_ctl_allows1(c->procbased2, CPU2_ENABLE_VPID))
		c->ept_vpid = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
	if (vmx_ctl_allows1(c->procbased2, CPU2_ENABLE_VMFUNC))
		c->vmfunc = rdmsr(MSR_IA32_VMX_VMFUNC);
}

static void vmx_caps_derive(struct vmx_caps *c)
{
	uint64_t p2 = c->procbased2, ev = c->ept_vpid;

	c->revision = (uint32_t)(c->basic & VMX_BASIC_REVISION_MASK);
	c->ept = vmx_ctl_allows1(p2, CPU2_ENABLE_EPT) &&
		 (ev & EPT_CAP_WALK_4) && (ev & EPT_CAP_WB);
	c->vpid = vmx_ctl_allows1(p2, CPU2_ENABLE_VPID) && (ev & VPID_CAP_INVVPID);
	c->ug = c->ept && vmx_ctl_allows1(p2, CPU2_UNRESTRICTED_GUEST);
	c->ept_ad = c->ept && (ev & EPT_CAP_AD);
	c->pml = c->ept_ad && vmx_ctl_allows1(p2, CPU2_ENABLE_PML);
	c->ept_2m = c->ept && (ev & EPT_CAP_2M);
	c->ept_1g = c->ept && (ev & EPT_CAP_1G);
	c->preempt_timer = vmx_ctl_allows1(c->pinbased, PIN_PREEMPT_TIMER);
	c->vmfunc_ok = vmx_ctl_allows1(p2, CPU2_ENABLE_VMFUNC);
	/* Allowed 0-settings in the low half (SDM Vol. 3D A.3.2). */
	c->tpr_shadow = vmx_ctl_allows1(c->procbased, CPU_USE_TPR_SHADOW) &&
			!(c->procbased & CPU_CR8_EXITING);
	c->apic_reg_virt = c->tpr_shadow && c->ept &&
			   vmx_ctl_allows1(p2, CPU2_VIRT_APIC_ACCESSES |
					   CPU2_APIC_REG_VIRT);
	/* It also needs external-interrupt exiting, which Keel always sets
	 * (SDM Vol. 3C 27.2.1.1). */
	c->vid = c->apic_reg_virt &&
		 vmx_ctl_allows1(p2, CPU2_VIRT_INTR_DELIVERY);
	c->x2apic_virt = c->vid && vmx_ctl_allows1(p2, CPU2_VIRT_X2APIC_MODE);
}

void vmx_caps_init(void)
{
	struct vmx_caps *c = &vmx_caps;

	if (!(cpuid(1, 0).ecx & CPUID1_ECX_VMX))
		return;
	vmx_caps_read(c);
	vmx_caps_derive(c);
	c->present = true;
	pr_info("keel: vmx caps: ept=%d vpid=%d ug=%d ept_ad=%d pml=%d ept_2m=%d "
		"ept_1g=%d preempt_timer=%d vmfunc=%d tpr_shadow=%d "
		"apic_reg_virt=%d vid=%d x2apic_virt=%d revision=%#x\n",
		c->ept, c->vpid, c->ug, c->ept_ad, c->pml, c->ept_2m, c->ept_1g,
		c->preempt_timer, c->vmfunc_ok, c->tpr_shadow, c->apic_reg_virt,
		c->vid, c->x2apic_virt, c->revision);
}
