/* The boot information Keel writes into a guest's memory: a multiboot v1
 * information structure (Multiboot 0.6.96, 3.3) and, for 64-bit guests,
 * identity-mapping page tables. */
#ifndef KEEL_GUEST_BOOTINFO_H
#define KEEL_GUEST_BOOTINFO_H

#include "arch/compiler.h"

struct guest;
struct loader_module;
struct boot_ranges;

#define MB1_BOOTLOADER_MAGIC 0x2badb002
#define BOOTINFO_SIZE       0x1000      /* the information block */
#define BOOTINFO_PT_SIZE    (64 * 1024) /* top of RAM, elf64 guests */

/*
 * Writes the multiboot information (memory info and map, command line
 * "IMAGE CMDLINE", loader name, module list) in one page and copies the
 * modules, each page-aligned, into guest RAM that the image's segments
 * (`used`), the BIOS hole, the elf64 page tables and the PC's MMIO window
 * from 0xfec00000 leave free: the page as high below 640 KiB as it fits
 * (else as high as it fits), the modules as high as they fit. Returns a
 * reason when something fits nowhere. *mbi_gpa receives its address.
 *
 *   0 [pg 0][.. info page ..][image?] 640K [hole] 1M [image][ free ][mods] top
 */
const char *bootinfo_write(struct guest *g, const char *image_name,
			   const struct loader_module *mods, unsigned int nr_mods,
			   const struct boot_ranges *used, uint64_t *mbi_gpa);
/* Builds page tables in the top BOOTINFO_PT_SIZE of guest RAM that map
 * all of it 1:1 with 2 MiB pages; *cr3 gets the PML4 address. */
const char *bootinfo_page_tables(struct guest *g, uint64_t *cr3);

#endif
