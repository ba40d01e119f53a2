/* EPT violations and misconfigurations. A guest's EPT maps exactly its
 * RAM, so a violation is an access outside it: to one of its MMIO devices
 * (emulated), or outside its memory (the guest stops). */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "guest/guest.h"
#include "ept/dirty.h"
#include "vmx/emulate.h"

/*
 * MMIO. Where the processor faulted on the translation of a linear
 * address (SDM Vol. 3C 28.2.1, Table 28-7, bits 7 and 8), its own walk of
 * the guest's tables gave gpa for that page and this access, so the
 * emulator takes that translation instead of walking them again. With
 * paging off every linear address is its physical one, whatever the
 * access. Either way the emulator is told the page is r's, not RAM. Not
 * while an event was being delivered: vcpu_emulate() stops the guest.
 */
static int ept_mmio(struct vcpu *v, uint64_t q, uint64_t gpa,
		    const struct mmio_region *r)
{
	const uint64_t gla = EPTQ_GLA_VALID | EPTQ_GLA_XLAT;

	if (vmcs_read32(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID)
		return vcpu_emulate(v);
	if (!(vmcs_readnat(VMCS_GUEST_CR0) & X86_CR0_PG))
		return vcpu_emulate_hinted(v, gpa, gpa,
					   EMUL_ACC_WRITE | EMUL_ACC_USER, r);
	if ((q & gla) != gla)
		return vcpu_emulate(v);
	return vcpu_emulate_hinted(v, vmcs_readnat(VMCS_GUEST_LINEAR_ADDRESS),
				   gpa, q & EPTQ_WRITE ? EMUL_ACC_WRITE : 0, r);
}

int handle_ept_violation(struct vcpu *v)
{
	uint64_t q = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
	uint64_t gpa = vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS);
	const char *access = q & EPTQ_FETCH ? "fetch" : q & EPTQ_WRITE ? "write"
								     : "read";
	const struct mmio_region *r;

	vnmi_refault_iret(v, q);
	if (dirty_log_wp_fault(v, gpa, q)) {
		vlapic_vid_redeliver(v);
		return vcpu_retry_exit(v, EXIT_EPT_VIOLATION, q, gpa);
	}
	if (!(q & EPTQ_FETCH) && (r = mmio_find(v->guest, gpa)))
		return ept_mmio(v, q, gpa, r);
	return vcpu_fatal(v, "%s at guest-physical %#lx outside its memory",
			  access, gpa);
}

int handle_ept_misconfig(struct vcpu *v)
{
	uint64_t gpa = vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS);

	return vcpu_fatal(v, "EPT misconfiguration at guest-physical %#lx "
			  "(a Keel bug)", gpa);
}

/* The page-modification log filled up (SDM Vol. 3C 29.3.6): drain it. */
int handle_pml_full(struct vcpu *v)
{
	vnmi_refault_iret(v, vmcs_readnat(VMCS_EXIT_QUALIFICATION));
	vlapic_vid_redeliver(v);
	dirty_pml_drain(v);
	return EXIT_RESUME;
}
