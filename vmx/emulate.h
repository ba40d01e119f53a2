/* Emulating one guest instruction on the current vCPU with Keel's
 * instruction emulator (emul/). */
#ifndef KEEL_VMX_EMULATE_H
#define KEEL_VMX_EMULATE_H

#include "guest/vcpu.h"

/*
 * Emulates the instruction at the guest's CS:RIP (an MMIO access or a
 * string I/O instruction that exited) and commits what it did: registers,
 * RFLAGS, and RIP once it completed (a REP string instruction runs in
 * batches: RIP stays until the last one, and the guest exits again). A
 * fault the instruction raises is injected. Returns EXIT_RESUME, or
 * EXIT_STOP after vcpu_fatal() when Keel cannot emulate it.
 */
int vcpu_emulate(struct vcpu *v);

/*
 * A #UD exit of a guest with force_emulation. If the bytes at CS:RIP are
 * the marker (emul_is_force_prefix()), emulates the instruction after it;
 * otherwise, or if Keel does not emulate that instruction, the guest gets
 * its #UD. Returns like vcpu_emulate().
 */
int vcpu_emulate_forced(struct vcpu *v);

/*
 * Emulates and commits one instruction at CS:RIP while the guest is in a
 * state VM entry refuses (real mode without unrestricted guest: vmx/
 * realmode.c). Returns EXIT_RESUME, or EXIT_STOP after vcpu_fatal() for
 * an instruction Keel does not emulate or one that faults.
 */
int vcpu_emulate_real(struct vcpu *v);

/* Shadow paging (vmx/exit_shadow.c): see vmx/emulate.c. */
struct emul_walk_path;
struct emul_exception;
struct mmio_region;
bool vcpu_emulate_pt_write(struct vcpu *v, int *ret);
/* r: the device region holding gpa (regions are page-aligned and never
 * RAM), or NULL. */
int vcpu_emulate_hinted(struct vcpu *v, uint64_t la, uint64_t gpa,
			unsigned int acc, const struct mmio_region *r);
/* Walks the guest's tables for la (access kind acc, EMUL_ACC_*), setting
 * A/D bits like the processor. Returns an EMUL_* code; on EMUL_EXCEPTION
 * *exc holds the guest's #PF. */
int vcpu_walk(struct vcpu *v, uint64_t la, unsigned int acc,
	      struct emul_walk_path *path, struct emul_exception *exc);

#endif
