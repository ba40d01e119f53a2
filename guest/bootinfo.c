/* Multiboot v1 information and boot page tables for guests. */
#include "guest/bootinfo.h"
#include "guest/boot_place.h"
#include "guest/guest.h"
#include "guest/loader.h"
#include "arch/string.h"
#include "mm/paging.h"
#include "drivers/printk.h"

#define MBI_FLAG_MEM        BIT_ULL(0)
#define MBI_FLAG_CMDLINE    BIT_ULL(2)
#define MBI_FLAG_MODS       BIT_ULL(3)
#define MBI_FLAG_MMAP       BIT_ULL(6)
#define MBI_FLAG_LOADER     BIT_ULL(9)
#define MB1_MEM_AVAILABLE   1
#define MB1_MEM_RESERVED    2
#define LOW_RAM_END         0xa0000
#define HIGH_RAM_START      0x100000
#define PLACE_FLOOR         0x1000      /* page 0 stays the guest's */
#define PC_MMIO_START       0xfec00000ULL /* I/O APIC, local APIC, flash */

struct mb1_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr, config_table, boot_loader_name;
	uint32_t apm_table, vbe[4], fb[7];
} __packed;

struct mb1_mmap {
	uint32_t size;
	uint64_t base, len;
	uint32_t type;
} __packed;

struct mb1_module {
	uint32_t start, end, string, reserved;
} __packed;

_Static_assert(offsetof(struct mb1_info, mmap_length) == 44, "multiboot info");
_Static_assert(offsetof(struct mb1_info, boot_loader_name) == 64, "multiboot info");
_Static_assert(sizeof(struct mb1_mmap) == 24, "multiboot mmap entry");

/* The largest information block: header, map, command line, loader
 * name, module list and names, each 8-byte aligned. */
_Static_assert(sizeof(struct mb1_info) + 4 * sizeof(struct mb1_mmap) +
	       CONFIG_CMDLINE_SIZE + CONFIG_MODULE_NAME_SIZE + 8 +
	       CONFIG_MAX_MODULES * (sizeof(struct mb1_module) +
				     CONFIG_MODULE_NAME_SIZE + 8) + 64
	       <= BOOTINFO_SIZE, "multiboot information block");

/* A bump allocator over the boot information block. */
struct bi_space {
	struct guest *g;
	uint64_t next, end;
	bool full;
};

static uint32_t bi_put(struct bi_space *s, const void *data, uint64_t len)
{
	uint64_t at = ALIGN_UP(s->next, 8);

	if (at + len > s->end || !guest_write(s->g, at, data, len)) {
		s->full = true;
		return 0;
	}
	s->next = at + len;
	return (uint32_t)at;
}

static uint32_t bi_put_mmap(struct bi_space *s, uint64_t size, bool pt_top,
			    uint32_t *len)
{
	struct mb1_mmap m[4];
	unsigned int n = 0;
	uint64_t high_end = pt_top ? size - BOOTINFO_PT_SIZE : size;

	m[n++] = (struct mb1_mmap){ 20, 0, MIN(size, (uint64_t)LOW_RAM_END),
				    MB1_MEM_AVAILABLE };
	if (size > HIGH_RAM_START) {
		m[n++] = (struct mb1_mmap){ 20, LOW_RAM_END,
					    HIGH_RAM_START - LOW_RAM_END,
					    MB1_MEM_RESERVED };
		m[n++] = (struct mb1_mmap){ 20, HIGH_RAM_START,
					    high_end - HIGH_RAM_START,
					    MB1_MEM_AVAILABLE };
	}
	if (pt_top)
		m[n++] = (struct mb1_mmap){ 20, high_end, BOOTINFO_PT_SIZE,
					    MB1_MEM_RESERVED };
	*len = n * sizeof(m[0]);
	return bi_put(s, m, *len);
}

/* The ranges boot data must avoid: the image's segments, the BIOS hole
 * and, for elf64 guests, the page tables at the top. */
static void bi_taken(struct guest *g, const struct boot_ranges *used,
		     bool pt_top, struct boot_ranges *taken)
{
	*taken = *used;
	boot_ranges_add(taken, LOW_RAM_END, HIGH_RAM_START);
	if (pt_top)
		boot_ranges_add(taken, g->mem_size - BOOTINFO_PT_SIZE,
				g->mem_size);
}

/* Highest free `size` bytes below `limit`, else below the PC's MMIO
 * window; marked taken. 0 when nothing fits. */
static uint64_t bi_place(struct guest *g, struct boot_ranges *taken,
			 uint64_t limit, uint64_t size)
{
	uint64_t top = MIN(g->mem_size, PC_MMIO_START), at;

	if (!boot_place_high(taken, PLACE_FLOOR, MIN(limit, top), size, &at) &&
	    !boot_place_high(taken, PLACE_FLOOR, top, size, &at))
		return 0;
	boot_ranges_add(taken, at, at + size);
	return at;
}

/* Each module as high as it fits: a guest's heap, which usually grows up
 * from its image, meets them last. */
static const char *bi_put_modules(struct bi_space *s, struct mb1_info *mi,
				  const struct loader_module *mods,
				  unsigned int n, struct boot_ranges *taken)
{
	struct mb1_module list[CONFIG_MAX_MODULES];

	for (unsigned int i = 0; i < n && i < CONFIG_MAX_MODULES; i++) {
		uint64_t at = bi_place(s->g, taken, UINT64_MAX,
				       ALIGN_UP(mods[i].size, 4096ULL));

		if (!at || !guest_write(s->g, at, mods[i].data, mods[i].size))
			return "no free range of its memory outside the image "
			       "holds its modules";
		list[i] = (struct mb1_module){ (uint32_t)at,
					       (uint32_t)(at + mods[i].size),
					       bi_put(s, mods[i].name,
						      strlen(mods[i].name) + 1), 0 };
	}
	mi->mods_count = n;
	mi->mods_addr = bi_put(s, list, n * sizeof(list[0]));
	mi->flags |= MBI_FLAG_MODS;
	return NULL;
}

/* The information page goes below 640 KiB where it fits (under an image
 * loaded at 1 MiB, leaving all of high RAM to the guest), else as high
 * as it fits. */
const char *bootinfo_write(struct guest *g, const char *image_name,
			   const struct loader_module *mods, unsigned int nr_mods,
			   const struct boot_ranges *used, uint64_t *mbi_gpa)
{
	bool pt_top = g->cfg->format == CONFIG_FORMAT_ELF64;
	struct boot_ranges taken;
	uint64_t base;
	struct bi_space s;
	struct mb1_info mi = { 0 };
	char cmdline[CONFIG_CMDLINE_SIZE + CONFIG_MODULE_NAME_SIZE + 2];
	const char *why;

	bi_taken(g, used, pt_top, &taken);
	base = bi_place(g, &taken, LOW_RAM_END, BOOTINFO_SIZE);
	if (!base)
		return "no free range of its memory outside the image holds "
		       "the multiboot information";
	s = (struct bi_space){ g, base + sizeof(mi), base + BOOTINFO_SIZE, false };
	mi.flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MMAP | MBI_FLAG_LOADER;
	mi.mem_lower = (uint32_t)(MIN(g->mem_size, (uint64_t)LOW_RAM_END) >> 10);
	mi.mem_upper = g->mem_size > HIGH_RAM_START ?
		       (uint32_t)((g->mem_size - HIGH_RAM_START) >> 10) : 0;
	mi.mmap_addr = bi_put_mmap(&s, g->mem_size, pt_top, &mi.mmap_length);
	/* First word the image name, as GRUB passes it (Multiboot 3.3). */
	snprintf(cmdline, sizeof(cmdline), "%s%s%s", image_name,
		 g->cfg->cmdline[0] ? " " : "", g->cfg->cmdline);
	mi.cmdline = bi_put(&s, cmdline, strlen(cmdline) + 1);
	mi.boot_loader_name = bi_put(&s, "Keel", 5);
	why = bi_put_modules(&s, &mi, mods, nr_mods, &taken);
	if (!why && (s.full || !guest_write(g, base, &mi, sizeof(mi))))
		why = "the boot information does not fit";
	*mbi_gpa = base;
	return why;
}

/* PML4 + PDPT + one PD per GiB, all in the reserved top of RAM. */
const char *bootinfo_page_tables(struct guest *g, uint64_t *cr3)
{
	uint64_t base = g->mem_size - BOOTINFO_PT_SIZE;
	uint64_t gib = ALIGN_UP(g->mem_size, GiB) / GiB;
	uint64_t e;

	if (g->mem_size < 2 * BOOTINFO_PT_SIZE || gib > BOOTINFO_PT_SIZE / 4096 - 2)
		return "guest memory too small or too large for 64-bit boot tables";
	e = (base + 4096) | PTE_P | PTE_RW;
	guest_write(g, base, &e, 8);                            /* PML4[0] */
	for (uint64_t i = 0; i < gib; i++) {
		e = (base + 8192 + i * 4096) | PTE_P | PTE_RW;
		guest_write(g, base + 4096 + i * 8, &e, 8);     /* PDPT[i] */
	}
	for (uint64_t pa = 0; pa < g->mem_size; pa += 2 * MiB) {
		e = pa | PTE_P | PTE_RW | PTE_PS;
		guest_write(g, base + 8192 + (pa >> 21) * 8, &e, 8);
	}
	*cr3 = base;
	return NULL;
}
