/* The boot information Keel writes into a guest's memory: a multiboot v1
 * information structure (Multiboot 0.6.96, 3.3) and, for 64-bit guests,
 * identity-mapping page tables. */
#ifndef KEEL_GUEST_BOOTINFO_H
#define KEEL_GUEST_BOOTINFO_H

#include "arch/compiler.h"

struct guest;
struct loader_module;

#define MB1_BOOTLOADER_MAGIC 0x2badb002
#define BOOTINFO_START      0x8000      /* guest-physical, see guest/guest.h */
#define BOOTINFO_END        0x10000
#define BOOTINFO_PT_SIZE    (64 * 1024) /* top of RAM, elf64 guests */

/*
 * Writes the multiboot information at BOOTINFO_START: memory info and map,
 * command line "IMAGE CMDLINE", loader name, and the modules copied into
 * guest RAM from `image_end` up. *mbi_gpa receives its address.
 */
const char *bootinfo_write(struct guest *g, const char *image_name,
			   const struct loader_module *mods, unsigned int nr_mods,
			   uint64_t image_end, uint64_t *mbi_gpa);
/* Builds page tables in the top BOOTINFO_PT_SIZE of guest RAM that map
 * all of it 1:1 with 2 MiB pages; *cr3 gets the PML4 address. */
const char *bootinfo_page_tables(struct guest *g, uint64_t *cr3);

#endif
