/* Starting the application processors. */
#ifndef KEEL_ARCH_SMP_H
#define KEEL_ARCH_SMP_H

#include "arch/compiler.h"

/* The data block at the end of boot/trampoline.S. */
struct trampoline_data {
	uint64_t gdt[3];
	uint16_t gdt_limit;
	uint32_t gdt_base;      /* linear address of gdt, patched */
	uint16_t pad0;
	uint32_t far64_off;     /* linear address of the 64-bit code, patched */
	uint16_t far64_sel;
	uint16_t pad1;
	uint32_t cr3;
	uint32_t cr4;
	uint32_t efer;
	uint32_t pad2;
	uint64_t stack;
	uint64_t entry;
	uint64_t arg;
} __packed;

_Static_assert(offsetof(struct trampoline_data, gdt_limit) == 24, "trampoline.S");
_Static_assert(offsetof(struct trampoline_data, far64_off) == 32, "trampoline.S");
_Static_assert(offsetof(struct trampoline_data, cr3) == 40, "trampoline.S");
_Static_assert(offsetof(struct trampoline_data, stack) == 56, "trampoline.S");
_Static_assert(offsetof(struct trampoline_data, arg) == 72, "trampoline.S");

struct smp_cpu {
	uint32_t apic_id;
	bool enabled;
};

/*
 * Starts every enabled CPU of `cpus` other than the caller, one at a time,
 * through a trampoline at trampoline_pa (a free page below 1 MiB). Each AP
 * gets the next Keel CPU index; a CPU that does not come up is reported and
 * skipped. Returns the number of CPUs online, the BSP included.
 */
unsigned int smp_start_aps(const struct smp_cpu *cpus, unsigned int n,
			   uint64_t trampoline_pa);

/* Lets the APs go on to their per-CPU VMX set-up (see ap_main). */
void smp_release_aps(void);

extern unsigned int cpus_online;

#endif
