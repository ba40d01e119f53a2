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

/* Takes a snapshot of the guest (memory, vCPU state, devices) and starts
 * tracking the pages it dirties. Returns 0 after taking it, and returns
 * again with 1 each time KEEL_HC_RESTORE brings the guest back to it.
 * Single-vCPU guests only, and not while a migration holds the dirty log
 * (else KEEL_HC_EINVAL). */
#define KEEL_HC_SNAPSHOT        3
/* Restores the last snapshot: copies back only the pages dirtied since it
 * (or since the previous restore) and resumes at the snapshot with RAX = 1.
 * Returns KEEL_HC_EINVAL (and does nothing) when there is no snapshot, or
 * while a migration holds the dirty log. */
#define KEEL_HC_RESTORE         4
/* RBX = mode: 0 off, 1 pml, 2 ad (EPT dirty bits), 3 wp (write protection).
 * Starts (or stops) dirty logging of the guest's own memory, for tests and
 * benchmarks. Returns 0, or KEEL_HC_EINVAL when the CPU lacks that mode,
 * the log is in use in another mode, or Keel holds it (a snapshot or a
 * migration: then stopping is refused too). */
#define KEEL_HC_DIRTY_LOG       5
/* Gets and clears the guest's dirty log; returns the number of pages that
 * were dirty, or KEEL_HC_EINVAL when the guest has no log of its own
 * (KEEL_HC_DIRTY_LOG) or Keel holds the log (a snapshot, a migration). RBX = guest-physical address of a buffer for the bitmap (one
 * bit per 4 KiB page, bit n of byte b = page b * 8 + n; 8-byte aligned),
 * or 0 for none; RCX = its size in bytes, a multiple of 8 (pages beyond
 * it are neither reported nor cleared). */
#define KEEL_HC_DIRTY_GET       6

/* Starts vCPU RBX of the calling guest, which must still be waiting for
 * its start (no SIPI or earlier call started it), in 32-bit protected mode
 * as a multiboot guest starts: paging off, flat CS/DS, EIP = ECX, EBX =
 * EDX. A guest on shadow paging cannot be started by a SIPI (real mode);
 * this is how it starts its other vCPUs. Returns 0 or KEEL_HC_EINVAL. */
#define KEEL_HC_VCPU_START      7

#define KEEL_DIRTY_OFF  0
#define KEEL_DIRTY_PML  1
#define KEEL_DIRTY_AD   2
#define KEEL_DIRTY_WP   3

/* Counter ids: 0-255 are exit counts by basic exit reason (SDM Vol. 3D
 * Appendix C), then: */
#define KEEL_COUNTER_EXITS_TOTAL    0x100
#define KEEL_COUNTER_PORTS_UNCLAIMED 0x101
/* Shadow paging (KEEL_HC_EINVAL for a guest on EPT): the numbers
 * keel.stats=1 prints at the guest's end. */
#define KEEL_COUNTER_SHADOW_PAGES       0x200   /* shadow pages alive */
#define KEEL_COUNTER_SHADOW_PAGES_PEAK  0x201
#define KEEL_COUNTER_SHADOW_RMAP        0x202   /* reverse-map entries */
#define KEEL_COUNTER_SHADOW_UNSYNC      0x203   /* unsync pages now */
#define KEEL_COUNTER_SHADOW_UNSYNC_TOTAL 0x204
#define KEEL_COUNTER_SHADOW_PT_WRITES   0x205   /* emulated table writes */
#define KEEL_COUNTER_SHADOW_CR3_LOADS   0x206
#define KEEL_COUNTER_SHADOW_ROOT_HITS   0x207   /* root cache hits */
#define KEEL_COUNTER_SHADOW_ROOT_BUILDS 0x208
#define KEEL_COUNTER_SHADOW_SYNCS       0x209
#define KEEL_COUNTER_SHADOW_INVLPG      0x20a
/* 0x210 + kind: #PF exits by kind: 0 fill, 1 the guest's own, 2 write to
 * a tracked table, 3 write that made a table unsync, 4 MMIO, 5 MMIO by
 * its cached marker, 6 spurious. */
#define KEEL_COUNTER_SHADOW_PF          0x210
/* 0x220 + cause: zaps: 0 table write, 1 write flooding, 2 pool full (LRU),
 * 3 obsolete, 4 unprotect, 5 sync, 6 INVLPG, 7 a frame or table mapped
 * from too many places. */
#define KEEL_COUNTER_SHADOW_ZAPS        0x220
#define KEEL_COUNTER_SHADOW_END         0x230

/* CPUID leaf 0x40000001 EAX: what Keel does for this guest. */
#define KEEL_FEATURE_SHADOW_PAGING  (1u << 0)   /* no EPT: shadow page tables */

#define KEEL_HC_ENOSYS  (-1000)
#define KEEL_HC_EPERM   (-1)
#define KEEL_HC_EINVAL  (-22)

#define KEEL_HC_CONSOLE_MAX 4096

#endif
