/*
 * Control-register exits (SDM Vol. 3C 26.1.3, 28.2.1 Table 28-3). Only
 * writes that change a bit Keel owns (guest/host masks: CR0.NE, CR4.VMXE
 * and the other VMX-fixed bits, and with shadow paging the paging bits)
 * exit; reads are served from the shadows. With shadow paging every MOV
 * to or from CR3 exits too.
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

/*
 * PAE paging outside long mode: MOV to CR3 under it, and MOV to CR0/CR4
 * that turns it on, load the four PDPTEs from the 32-byte table CR3
 * names; a present one with a reserved bit set is a #GP(0) and the
 * register keeps its value (SDM Vol. 3A 4.4.1, Table 4-8: bits 2:1, 8:5
 * and 63:MAXPHYADDR). False then, or when the table is outside the
 * guest's memory.
 */
bool vcpu_read_pdptes(struct vcpu *v, uint64_t cr3, uint64_t pdpte[4])
{
	uint64_t rsvd = GENMASK_ULL(63, cpu_maxphyaddr()) | GENMASK_ULL(2, 1) |
			GENMASK_ULL(8, 5);

	if (!guest_read(v->guest, cr3 & GENMASK_ULL(31, 5), pdpte,
			4 * sizeof(*pdpte)))
		return false;
	for (int i = 0; i < 4; i++)
		if ((pdpte[i] & 1) && (pdpte[i] & rsvd))
			return false;
	return true;
}

/* MOV to CR0/CR4 that leaves PAE paging on. With EPT VM entry takes the
 * PDPTEs from the VMCS (SDM Vol. 3C 27.3.2.4), which must not hold a
 * reserved bit: VM entry would fail on them instead of the guest getting
 * its #GP. With shadow paging Keel keeps them. */
static bool cr_load_pdptes(struct vcpu *v, uint64_t cr0, uint64_t cr4)
{
	uint64_t pdpte[4] = { 0 };
	bool pae = (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) &&
		   !(vcpu_guest_efer(v) & EFER_LME);

	if (v->shadow)
		return !pae || shadow_load_pdptes(v, v->sv.cr3);
	if (pae && !vcpu_read_pdptes(v, vmcs_readnat(VMCS_GUEST_CR3), pdpte))
		return false;
	vmcs_write64(VMCS_GUEST_PDPTE0, pdpte[0]);
	vmcs_write64(VMCS_GUEST_PDPTE1, pdpte[1]);
	vmcs_write64(VMCS_GUEST_PDPTE2, pdpte[2]);
	vmcs_write64(VMCS_GUEST_PDPTE3, pdpte[3]);
	return true;
}

/* Turning paging on with EFER.LME set activates long mode (SDM Vol. 3A
 * 10.8.5); VM entry takes EFER.LMA from the "IA-32e mode guest" control. */
static void cr_update_long_mode(struct vcpu *v, uint64_t cr0)
{
	uint64_t efer = vcpu_guest_efer(v);
	uint32_t entry = vmcs_read32(VMCS_ENTRY_CONTROLS);

	if ((cr0 & X86_CR0_PG) && (efer & EFER_LME)) {
		efer |= EFER_LMA;
		entry |= ENTRY_IA32E_MODE_GUEST;
	} else {
		efer &= ~EFER_LMA;
		entry &= ~(uint32_t)ENTRY_IA32E_MODE_GUEST;
	}
	vcpu_set_guest_efer(v, efer);
	vmcs_write32(VMCS_ENTRY_CONTROLS, entry);
}

/* 64-bit mode: IA-32e mode with a 64-bit code segment (SDM Vol. 3A 2.2). */
static bool cr_in_64bit_mode(struct vcpu *v)
{
	return (vcpu_guest_efer(v) & EFER_LMA) &&
	       (vmcs_read32(VMCS_GUEST_CS_AR) & AR_L_BIT);
}

/* The CPU's #GP(0) checks of a MOV to CR0 (SDM Vol. 2B, MOV CR): bits
 * 63:32, paging without protection, NW without CD, paging off in 64-bit
 * mode (only compatibility mode may leave long mode, SDM Vol. 3A
 * 10.8.5.4), long mode without PAE. */
static bool cr0_valid(struct vcpu *v, uint64_t val)
{
	if ((val >> 32) || ((val & X86_CR0_PG) && !(val & X86_CR0_PE)))
		return false;
	if ((val & X86_CR0_NW) && !(val & X86_CR0_CD))
		return false;
	if (!(val & X86_CR0_PG) && cr_in_64bit_mode(v))
		return false;
	return !((val & X86_CR0_PG) && (vcpu_guest_efer(v) & EFER_LME) &&
		 !(vcpu_guest_cr4(v) & X86_CR4_PAE));
}

bool vcpu_load_cr0(struct vcpu *v, uint64_t val)
{
	uint64_t old = vcpu_guest_cr0(v);

	if (!cr0_valid(v, val))
		return false;
	/* The guest's CR4 from the real register and the read shadow: with
	 * EPT, CR4.PAE is not Keel's and the read shadow may hold an old
	 * value of it. */
	if (!cr_load_pdptes(v, val, vcpu_guest_cr4(v)))
		return false;
	cr_update_long_mode(v, val);
	vmcs_writenat(VMCS_CR0_READ_SHADOW, val);
	vmcs_writenat(VMCS_GUEST_CR0, vcpu_cr0_real(v, val));
	if (v->shadow && ((old ^ val) & X86_CR0_PG))      /* SMEP, SMAP */
		vmcs_writenat(VMCS_GUEST_CR4,
			      vcpu_cr4_real(v, val, vcpu_guest_cr4(v)));
	if (v->shadow && ((old ^ val) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE))) {
		shadow_vcpu_reload(v);
		shadow_audit_root(v->guest, &v->sv, "cr0");
	}
	return true;
}

static int cr0_write(struct vcpu *v, uint64_t val)
{
	/* Real mode runs only as an unrestricted guest, which needs EPT (SDM
	 * Vol. 3C 26.2.1.1): a shadow-paging guest that leaves protected
	 * mode cannot go on, and saying so beats the triple fault that
	 * running on in protected mode would make. A value the CPU refuses
	 * anyway is the guest's #GP first. */
	if (unlikely(!(val & X86_CR0_PE) && v->shadow) && cr0_valid(v, val))
		return vcpu_fatal(v, "MOV to CR0 with PE = 0: real mode needs "
				  "EPT with unrestricted guest; shadow paging "
				  "cannot run it");
	if (!vcpu_load_cr0(v, val))
		return cr_gp(v);
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

bool vcpu_load_cr4(struct vcpu *v, uint64_t val)
{
	/* VMX is hidden; bits the CPU cannot run a guest with are refused,
	 * and with shadow paging PCIDs and 5-level paging (CPUID hides
	 * them). */
	if ((val & X86_CR4_VMXE) || (val & ~vmx_caps.cr4_fixed1) ||
	    (v->shadow && (val & (X86_CR4_PCIDE | X86_CR4_LA57))))
		return false;
	if ((vcpu_guest_efer(v) & EFER_LMA) && !(val & X86_CR4_PAE))
		return false;
	if (!cr_load_pdptes(v, vcpu_guest_cr0(v), val))
		return false;
	vmcs_writenat(VMCS_CR4_READ_SHADOW, val);
	vmcs_writenat(VMCS_GUEST_CR4,
		      vcpu_cr4_real(v, vcpu_guest_cr0(v), val));
	if (v->shadow) {
		shadow_vcpu_reload(v);  /* any CR4 write may flush (4.10.4.1) */
		shadow_audit_root(v->guest, &v->sv, "cr4");
	}
	return true;
}

static int cr4_write(struct vcpu *v, uint64_t val)
{
	if (!vcpu_load_cr4(v, val))
		return cr_gp(v);
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

/*
 * With EPT the guest's CR3 is in the VMCS and its own MOVs to CR3 do not
 * exit; an emulated one loads the PDPTEs under PAE paging (cr_load_pdptes
 * reads the new CR3, the old one comes back on a #GP) and flushes the
 * vCPU's translations as the processor's MOV to CR3 would (SDM Vol. 3A
 * 4.10.4.1).
 */
bool vcpu_load_cr3(struct vcpu *v, uint64_t val)
{
	uint64_t old;

	if (v->shadow)
		return shadow_load_cr3(v, val);
	old = vmcs_readnat(VMCS_GUEST_CR3);
	vmcs_writenat(VMCS_GUEST_CR3, val);
	if (!cr_load_pdptes(v, vcpu_guest_cr0(v), vcpu_guest_cr4(v))) {
		vmcs_writenat(VMCS_GUEST_CR3, old);
		return false;
	}
	vpid_invalidate(v->vpid);
	return true;
}

/* CR3 exits only with shadow paging. */
static int cr3_access(struct vcpu *v, unsigned int type, unsigned int gpr)
{
	if (!v->shadow)
		return vcpu_fatal(v, "CR3 exit without shadow paging");
	if (type == CRQ_TYPE_MOV_TO_CR)
		return shadow_cr3_write(v, vcpu_gpr(v, gpr));
	vcpu_set_gpr(v, gpr, v->sv.cr3);
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

	if (cr == 3 && (type == CRQ_TYPE_MOV_TO_CR || type == CRQ_TYPE_MOV_FROM_CR))
		return cr3_access(v, type, (unsigned int)((q & CRQ_GPR_MASK) >>
							  CRQ_GPR_SHIFT));
	if (cr == 8)            /* the virtual APIC's TPR: vmx/exit_apic.c */
		return handle_cr8_access(v, q);
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
