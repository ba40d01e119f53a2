/* Snapshot and restore of a guest by its own hypercalls. */
#ifndef KEEL_GUEST_SNAPSHOT_H
#define KEEL_GUEST_SNAPSHOT_H

#include "arch/compiler.h"

struct guest;
struct vcpu;

/* KEEL_HC_SNAPSHOT / KEEL_HC_RESTORE, from the guest's (only) vCPU in its
 * VMCALL exit. Return what the handler returns (EXIT_RESUME). */
int snapshot_take(struct vcpu *v);
int snapshot_restore(struct vcpu *v);
void snapshot_free(struct guest *g);

#endif
