/* Keel's own page tables (the ones the host runs on). */
#ifndef KEEL_MM_PAGING_H
#define KEEL_MM_PAGING_H

#include "arch/compiler.h"
#include "mm/frame.h"

/* Page-table entry bits (SDM Vol. 3A 4.5, Table 4-19 and following). */
#define PTE_P           BIT_ULL(0)
#define PTE_RW          BIT_ULL(1)
#define PTE_US          BIT_ULL(2)
#define PTE_PWT         BIT_ULL(3)
#define PTE_PCD         BIT_ULL(4)
#define PTE_A           BIT_ULL(5)
#define PTE_D           BIT_ULL(6)
#define PTE_PS          BIT_ULL(7)
#define PTE_G           BIT_ULL(8)
#define PTE_NX          BIT_ULL(63)
#define PTE_ADDR_MASK   GENMASK_ULL(51, 12)

extern uint64_t boot_pml4[512];

/* Maps every usable range above the boot map into the direct map. */
int paging_map_ram(const struct frame_range *ranges, size_t n);
/* Removes the 0-4 GiB identity map once no CPU starts through it. */
void paging_drop_identity(void);

#endif
