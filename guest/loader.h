/* Loading a guest's image into its memory and choosing its boot state. */
#ifndef KEEL_GUEST_LOADER_H
#define KEEL_GUEST_LOADER_H

#include "arch/compiler.h"

struct guest;
struct vcpu_boot;

/* Image bytes as found in host memory (a multiboot2 module). */
struct loader_image {
	const uint8_t *data;
	uint64_t size;
	const char *name;
};

struct loader_module {
	const uint8_t *data;
	uint64_t size;
	const char *name;
};

/*
 * Loads `img` per the guest's format, copies `mods` (a Linux guest: its
 * initrd), writes the boot information and fills *boot. Returns NULL or a reason the image cannot
 * run (the caller prints it with the guest's name).
 */
const char *loader_load(struct guest *g, const struct loader_image *img,
			const struct loader_module *mods, unsigned int nr_mods,
			struct vcpu_boot *boot);

/* The multiboot module named `name` (config_check made sure the
 * config's names exist): false if there is none. */
bool loader_find_module(const char *name, struct loader_module *out);

/* Writes the guest's ACPI tables (guest/acpi_tables.h) at
 * ACPI_TABLES_GPA. Returns the RSDP's guest-physical address, or 0 when
 * they cannot be built or written. */
uint64_t loader_write_acpi(struct guest *g);

/* `format = linux` (guest/loader_linux.c): `img` is a bzImage or a vmlinux
 * ELF, `initrd` the initial RAM disk or NULL. loader_load() calls it with the initrd as
 * the only module. */
const char *loader_load_linux(struct guest *g, const struct loader_image *img,
			      const struct loader_module *initrd,
			      struct vcpu_boot *boot);

#endif
