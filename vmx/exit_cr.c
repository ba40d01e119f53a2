/*
 * Control-register exits (SDM Vol. 3C 26.1.3, 28.2.1 Table 28-3). Only
 * writes that change a bit Keel owns (guest/host masks: CR0.NE, CR4.VMXE
 * and the other VMX-fixed bits) exit; reads are served from the shadows.
 */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "vmx/vmcs_setup.h"
#include "arch/msr.h"
#include "arch/idt.h"
#include "arch/x86.h"
#include "guest/guest.h"

#define CR0_LMSW_BITS 0xfULL

static int cr_gp(struct vcpu *v)
{
	vcpu_inject_exception(v, VEC_GP, true, 0);
	return EXIT_RESUME;
}

/* PAE paging outside long mode takes the PDPTEs from the VMCS at VM entry
 * (SDM Vol. 3C 27.3.2.4): load them as MOV to CR0/CR4 would. */
static bool cr_load_pdptes(struct vcpu *v, uint64_t cr0, uint64_t cr4)
{
	uint64_t pdpte[4] = { 0 };

	if ((cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) &&
	    !(vmcs_read64(VMCS_GUEST_EFER) & EFER_LME) &&
	    !guest_read(v->guest, vmcs_readnat(VMCS_GUEST_CR3) & ~0x1fULL,
			pdpte, sizeof(pdpte)))
		return false;
	vmcs_write64(VMCS_GUEST_PDPTE0, pdpte[0]);
	vmcs_write64(VMCS_GUEST_PDPTE1, pdpte[1]);
	vmcs_write64(VMCS_GUEST_PDPTE2, pdpte[2]);
	vmcs_write64(VMCS_GUEST_PDPTE3, pdpte[3]);
	return true;
}

/* Turning paging on with EFER.LME set activates long mode (SDM Vol. 3A
 * 10.8.5); VM entry takes EFER.LMA from the "IA-32e mode guest" control. */
static void cr_update_long_mode(uint64_t cr0)
{
	uint64_t efer = vmcs_read64(VMCS_GUEST_EFER);
	uint32_t entry = vmcs_read32(VMCS_ENTRY_CONTROLS);

	if ((cr0 & X86_CR0_PG) && (efer & EFER_LME)) {
		efer |= EFER_LMA;
		entry |= ENTRY_IA32E_MODE_GUEST;
	} else {
		efer &= ~EFER_LMA;
		entry &= ~(uint32_t)ENTRY_IA32E_MODE_GUEST;
	}
	vmcs_write64(VMCS_GUEST_EFER, efer);
	vmcs_write32(VMCS_ENTRY_CONTROLS, entry);
}

static int cr0_write(struct vcpu *v, uint64_t val)
{
	if ((val >> 32) || ((val & X86_CR0_PG) && !(val & X86_CR0_PE)))
		return cr_gp(v);
	if (!cr_load_pdptes(v, val, vmcs_readnat(VMCS_CR4_READ_SHADOW)))
		return cr_gp(v);
	cr_update_long_mode(val);
	vmcs_writenat(VMCS_CR0_READ_SHADOW, val);
	vmcs_writenat(VMCS_GUEST_CR0, vmx_cr0_real(val));
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

static int cr4_write(struct vcpu *v, uint64_t val)
{
	/* VMX is hidden; bits the CPU cannot run a guest with are refused. */
	if ((val & X86_CR4_VMXE) || (val & ~vmx_caps.cr4_fixed1))
		return cr_gp(v);
	if (!cr_load_pdptes(v, vmcs_readnat(VMCS_CR0_READ_SHADOW), val))
		return cr_gp(v);
	vmcs_writenat(VMCS_CR4_READ_SHADOW, val);
	vmcs_writenat(VMCS_GUEST_CR4, vmx_cr4_real(val));
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

int handle_cr_access(struct vcpu *v)
{
	uint64_t q = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
	unsigned int cr = (unsigned int)(q & CRQ_CR_MASK);
	unsigned int type = (unsigned int)((q & CRQ_TYPE_MASK) >> CRQ_TYPE_SHIFT);
	uint64_t shadow0 = vmcs_readnat(VMCS_CR0_READ_SHADOW);
	uint64_t val;

	switch (type) {
	case CRQ_TYPE_MOV_TO_CR:
		val = vcpu_gpr(v, (unsigned int)((q & CRQ_GPR_MASK) >> CRQ_GPR_SHIFT));
		if (cr == 0)
			return cr0_write(v, val);
		if (cr == 4)
			return cr4_write(v, val);
		break;
	case CRQ_TYPE_CLTS:
		return cr0_write(v, shadow0 & ~X86_CR0_TS);
	case CRQ_TYPE_LMSW:
		/* LMSW can set PE but not clear it (SDM Vol. 2A, LMSW). */
		val = (q >> CRQ_LMSW_SRC_SHIFT) & CR0_LMSW_BITS;
		return cr0_write(v, (shadow0 & ~(CR0_LMSW_BITS & ~X86_CR0_PE)) | val);
	default:
		break;
	}
	return vcpu_fatal(v, "unexpected control-register exit (CR%u, type %u)",
			  cr, type);
}
