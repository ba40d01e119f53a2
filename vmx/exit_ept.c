/* EPT violations and misconfigurations. A guest's EPT maps exactly its
 * RAM, so a violation is an access outside its memory: the guest stops. */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "guest/guest.h"

int handle_ept_violation(struct vcpu *v)
{
	uint64_t q = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
	uint64_t gpa = vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS);
	const char *access = q & EPTQ_FETCH ? "fetch" : q & EPTQ_WRITE ? "write"
								     : "read";

	return vcpu_fatal(v, "%s at guest-physical %#lx outside its memory",
			  access, gpa);
}

int handle_ept_misconfig(struct vcpu *v)
{
	uint64_t gpa = vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS);

	return vcpu_fatal(v, "EPT misconfiguration at guest-physical %#lx "
			  "(a Keel bug)", gpa);
}
