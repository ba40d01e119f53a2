/*
 * Keel's virtual address layout (4-level paging, 48-bit addresses).
 *
 *   0x0000000000000000 +------------------------------+
 *                      | identity map of 0-4 GiB      |  boot and AP start-up
 *                      | (removed once all CPUs run)  |  only
 *   0xffff800000000000 +------------------------------+ DIRECT_MAP_BASE
 *                      | direct map of all RAM        |  phys_to_virt()
 *                      | (0-4 GiB from boot, the rest |
 *                      |  added by mm/paging.c)       |
 *   0xffffffff80000000 +------------------------------+ KERNEL_VMA
 *                      | Keel's image (.text ... .bss)|  linked here,
 *                      | mapped from physical 0       |  loaded at 2 MiB
 *   0xffffffffffffffff +------------------------------+
 *
 * Usable from assembly (only #defines without casts).
 */
#ifndef KEEL_MM_LAYOUT_H
#define KEEL_MM_LAYOUT_H

#define KERNEL_VMA        0xffffffff80000000
#define KERNEL_PHYS       0x200000
#define DIRECT_MAP_BASE   0xffff800000000000
#define DIRECT_MAP_PML4   256        /* PML4 slot of DIRECT_MAP_BASE */
#define BOOT_MAP_LIMIT    0x100000000 /* the boot tables map 0-4 GiB */
#define PAGE_SIZE         4096
#define PAGE_SHIFT        12

#ifndef __ASSEMBLER__
#include "arch/compiler.h"

static inline void *phys_to_virt(uint64_t pa)
{
	return (void *)(pa + DIRECT_MAP_BASE);
}

/* Valid for addresses in the direct map and in Keel's image. */
static inline uint64_t virt_to_phys(const void *va)
{
	uint64_t v = (uint64_t)va;

	return v >= KERNEL_VMA ? v - KERNEL_VMA : v - DIRECT_MAP_BASE;
}

extern char _image_start_phys[], _image_end_phys[];
#endif

#endif
