/* A vCPU's complete architectural state, taken out of (and put back into)
 * the VMCS and the CPU: what snapshots and migration move. */
#ifndef KEEL_VMX_VCPU_STATE_H
#define KEEL_VMX_VCPU_STATE_H

#include "arch/compiler.h"

#define VCPU_STATE_FIELDS   64
#define VCPU_STATE_MSRS     6
/*
 * The XSAVE area: standard format, for every state component Keel lets
 * guests enable (xcr0_guest_allowed), whatever the guest's XCR0 holds.
 * 12 KiB holds everything in XCR0_KEEL_KNOWN as CPUs lay it out (AMX
 * tiles end at 11008 bytes); xsave_init() checks the host's own layout
 * against it at boot and allows guests only what fits.
 */
#define VCPU_FPU_AREA       (12 * 1024)

struct guest_regs;
struct vcpu;

struct vcpu_state {
	uint64_t gprs[16];                      /* struct guest_regs order */
	uint64_t fields[VCPU_STATE_FIELDS];     /* VMCS guest state, table order */
	uint64_t msrs[VCPU_STATE_MSRS];         /* passed-through MSRs */
	uint64_t dr[5];                         /* DR0-DR3, DR6 */
	uint64_t xcr0;                          /* the guest's */
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
/* Once, on the boot CPU before any guest runs: xcr0_guest_allowed and
 * xsave_guest_size from CPUID leaf 0xd; prints them. */
void xsave_init(void);
/* A vCPU that starts afresh: XCR0 = 1 and every state component Keel
 * allows in its initial configuration, nothing left by an earlier guest
 * on this CPU. On the vCPU's CPU, before its first VM entry. */
void fpu_reset_guest(void);

/* The XCR0 bits guests may set (CPUID.(0xd,0).EDX:EAX as they see it),
 * consistent (vmx/xcr0.h) and fitting VCPU_FPU_AREA; 0 without XSAVE. */
extern uint64_t xcr0_guest_allowed;
/* Standard-format XSAVE size for xcr0_guest_allowed (CPUID.(0xd,0).ECX). */
extern uint32_t xsave_guest_size;
/* XSAVEC lays out the compacted format as the SDM says (xsave_init
 * checks it); guests are not offered XSAVEC otherwise. */
extern bool xsavec_usable;

#endif
