/* A vCPU's complete architectural state, taken out of (and put back into)
 * the VMCS and the CPU: what snapshots and migration move. */
#ifndef KEEL_VMX_VCPU_STATE_H
#define KEEL_VMX_VCPU_STATE_H

#include "arch/compiler.h"

#define VCPU_STATE_FIELDS   64
#define VCPU_STATE_MSRS     6
#define VCPU_FPU_AREA       4096

struct guest_regs;
struct vcpu;

struct vcpu_state {
	uint64_t gprs[16];                      /* struct guest_regs order */
	uint64_t fields[VCPU_STATE_FIELDS];     /* VMCS guest state, table order */
	uint64_t msrs[VCPU_STATE_MSRS];         /* passed-through MSRs */
	uint64_t dr[5];                         /* DR0-DR3, DR6 */
	uint64_t xcr0;
	uint8_t fpu[VCPU_FPU_AREA] __aligned(64);  /* XSAVE or FXSAVE image */
	uint64_t shadow[7];     /* shadow paging: guest CR3, EFER, PAT, PDPTEs */
	bool valid;
};

/* On the vCPU's CPU with its VMCS current, after a VM exit. */
void vcpu_state_save(struct vcpu *v, struct vcpu_state *s);
/* On the CPU that will run v (VMCS current, not yet launched or between
 * exits): makes v continue exactly where s was taken. */
void vcpu_state_load(struct vcpu *v, const struct vcpu_state *s);
/* Turns on what FXSAVE/XSAVE need in this CPU's CR4; every CPU at boot. */
void fpu_init_this_cpu(void);

#endif
