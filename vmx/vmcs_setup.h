/* Creating and releasing a vCPU's VMCS (vmx/vmcs.c). */
#ifndef KEEL_VMX_VMCS_SETUP_H
#define KEEL_VMX_VMCS_SETUP_H

#include "arch/compiler.h"
#include "arch/x86.h"

struct vcpu;

/* The I/O and MSR bitmaps shared by every vCPU (read-only once built). */
int vmx_bitmaps_init(void);
/* The MSR bitmap for a vCPU on shadow paging, or on EPT with or without
 * x2APIC virtualization on (vmx/exit_apic.c). */
uint64_t vmx_msr_bitmap(bool shadow, bool x2apic_virt);
/* Builds v's VMCS on the calling CPU and makes it current. NULL or why not. */
const char *vmcs_create(struct vcpu *v);
void vmcs_release(struct vcpu *v);

/* CR0/CR4 bits Keel owns (EPT or shadow paging), and the real value for
 * a guest-visible one (the real CR4 depends on the guest's CR0.PG). */
uint64_t vcpu_cr0_owned(bool shadow);
uint64_t vcpu_cr4_owned(bool shadow);
uint64_t vcpu_cr0_real(const struct vcpu *v, uint64_t guest_cr0);
uint64_t vcpu_cr4_real(const struct vcpu *v, uint64_t guest_cr0,
		       uint64_t guest_cr4);
/* Sets the guest's EFER (and the real one, which differs with shadow
 * paging). */
void vcpu_set_guest_efer(struct vcpu *v, uint64_t efer);

#endif
