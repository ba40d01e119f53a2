/*
 * Keel's hypercall ABI (also included by test guests).
 *
 * A guest at CPL 0 executes VMCALL with the number in RAX and arguments in
 * RBX, RCX, RDX; the result comes back in RAX (negative = error). Other
 * registers are preserved. An unknown number returns KEEL_HC_ENOSYS
 * (-1000, the value KVM guests expect for "no such hypercall"); VMCALL
 * from CPL > 0 returns KEEL_HC_EPERM.
 */
#ifndef KEEL_GUEST_HYPERCALL_H
#define KEEL_GUEST_HYPERCALL_H

/* RBX = guest-physical address, RCX = length (at most 4096 bytes).
 * Writes the bytes to the guest's console; returns the length. */
#define KEEL_HC_CONSOLE_WRITE   0
/* RBX = code. Ends the guest with status (code << 1) | 1, like a write of
 * code to the debug-exit port. Does not return. */
#define KEEL_HC_EXIT            1
/* RBX = counter id. Returns a counter of this guest (all its vCPUs). */
#define KEEL_HC_COUNTER         2

/* Counter ids: 0-255 are exit counts by basic exit reason (SDM Vol. 3D
 * Appendix C), then: */
#define KEEL_COUNTER_EXITS_TOTAL    0x100
#define KEEL_COUNTER_PORTS_UNCLAIMED 0x101

#define KEEL_HC_ENOSYS  (-1000)
#define KEEL_HC_EPERM   (-1)
#define KEEL_HC_EINVAL  (-22)

#define KEEL_HC_CONSOLE_MAX 4096

#endif
