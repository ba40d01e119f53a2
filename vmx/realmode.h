/* Real mode on a vCPU without unrestricted guest (vmx/realmode.c). */
#ifndef KEEL_VMX_REALMODE_H
#define KEEL_VMX_REALMODE_H

#include "guest/vcpu.h"

/*
 * Before a vCPU's first VM entry, on its current VMCS: if it is in real
 * mode (a SIPI started it) and VMX cannot run that, emulates its code
 * until it has entered protected mode with state VM entry takes.
 * Returns EXIT_RESUME to enter (at once when there is nothing to
 * emulate), or EXIT_STOP: the guest ended, or was stopped with the
 * reason (vcpu_fatal).
 */
int vcpu_leave_real_mode(struct vcpu *v);

#endif
