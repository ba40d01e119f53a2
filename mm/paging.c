/* Extending the direct map beyond what boot/entry.S mapped. */
#include "mm/paging.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "arch/x86.h"
#include "drivers/printk.h"

#define PAGE_2M (2 * MiB)

static uint64_t *table_next(uint64_t *table, unsigned int idx)
{
	if (!(table[idx] & PTE_P)) {
		uint64_t pa = mm_alloc_pages(0);

		if (pa == FRAME_NONE)
			return NULL;
		table[idx] = pa | PTE_P | PTE_RW;
	}
	return phys_to_virt(table[idx] & PTE_ADDR_MASK);
}

/* Maps the 2 MiB page holding pa at DIRECT_MAP_BASE + pa. */
static int map_2m(uint64_t pa)
{
	uint64_t va = DIRECT_MAP_BASE + pa;
	uint64_t *pdpt = table_next(boot_pml4, (va >> 39) & 511);
	uint64_t *pd = pdpt ? table_next(pdpt, (va >> 30) & 511) : NULL;

	if (!pd)
		return FRAME_ENOMEM;
	pd[(va >> 21) & 511] = ALIGN_DOWN(pa, PAGE_2M) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

int paging_map_ram(const struct frame_range *ranges, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t pa = MAX(ranges[i].base, (uint64_t)BOOT_MAP_LIMIT);
		uint64_t end = ranges[i].base + ranges[i].len;

		if (end < ranges[i].base || end > FRAME_PA_LIMIT)
			end = FRAME_PA_LIMIT;
		for (pa = ALIGN_DOWN(pa, PAGE_2M); pa < end; pa += PAGE_2M) {
			if (map_2m(pa)) {
				pr_err("keel: mm: out of memory mapping %#lx\n", pa);
				return FRAME_ENOMEM;
			}
		}
	}
	write_cr3(read_cr3());
	return 0;
}

void paging_drop_identity(void)
{
	boot_pml4[0] = 0;
	write_cr3(read_cr3());
}
