/* Keel's GDT and TSS. Every CPU has its own copy (in struct percpu) because
 * each has its own TSS and interrupt stacks. The selectors are also the VMCS
 * host-state selectors (SDM Vol. 3C 26.2.3: RPL and TI must be 0, TR != 0). */
#ifndef KEEL_ARCH_GDT_H
#define KEEL_ARCH_GDT_H

#include "arch/compiler.h"

#define GDT_NULL        0
#define SEL_KERNEL_CS   0x08
#define SEL_KERNEL_DS   0x10
#define SEL_TSS         0x18    /* 16-byte system descriptor: two slots */
#define GDT_ENTRIES     5

/* Interrupt stack table slots (1-based in the IDT gate, SDM 6.14.5). */
#define IST_DOUBLE_FAULT 1
#define IST_NMI          2
#define IST_MACHINE_CHECK 3
#define IST_COUNT        3

/* 64-bit TSS (SDM Vol. 3A 8.7, Figure 8-11). */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __packed;

_Static_assert(sizeof(struct tss) == 104, "64-bit TSS is 104 bytes");

struct percpu;
void gdt_load(struct percpu *cpu);

#endif
