/*
 * A guest's memory-mapped virtual devices: guest-physical ranges that are
 * not RAM, each with its read and write handlers.
 *
 * EPT maps only a guest's RAM, so every access to a region exits as an EPT
 * violation; Keel emulates the instruction (vmx/emulate.c) and the
 * emulator's MMIO accesses arrive here.
 *
 *   0                      mem_size                 0xff000000   0xff010000
 *   | RAM (EPT-mapped)     | unmapped ...           | testdev    | ...
 *                                                   | scratch    |
 *
 * Regions are registered while the guest is created; once it runs, the
 * only ones added are the xAPIC pages its vCPUs move (IA32_APIC_BASE,
 * guest/vlapic_access.c, one at a time under that lock). None is changed
 * or removed, and an entry is written before the count that shows it, so
 * lookups need no lock.
 */
#ifndef KEEL_GUEST_MMIO_H
#define KEEL_GUEST_MMIO_H

#include "arch/compiler.h"

#define MMIO_MAX_REGIONS 16     /* a read-only shm region takes one */

struct guest;

/* off is relative to the region's start; an access never leaves the
 * region and is 1 to 16 bytes long. */
typedef void mmio_read_fn(struct guest *g, void *opaque, uint64_t off,
			  void *buf, unsigned int len);
typedef void mmio_write_fn(struct guest *g, void *opaque, uint64_t off,
			   const void *buf, unsigned int len);

struct mmio_region {
	uint64_t gpa, size;             /* page-aligned */
	mmio_read_fn *read;
	mmio_write_fn *write;
	void *opaque;
};

struct mmio_bus {
	struct mmio_region regions[MMIO_MAX_REGIONS];
	unsigned int nr;                /* release-stored, acquire-loaded */
};

/* Adds r to g's bus: 0, -EINVAL (not page-aligned or empty), -EEXIST
 * (overlaps RAM or another region) or -ENOSPC. */
int mmio_register(struct guest *g, const struct mmio_region *r);
/* The region holding gpa, or NULL. */
const struct mmio_region *mmio_find(const struct guest *g, uint64_t gpa);
/* One access of len bytes at gpa; false when no single region holds all
 * of it (nothing is read or written then). */
bool mmio_read(struct guest *g, uint64_t gpa, void *buf, unsigned int len);
bool mmio_write(struct guest *g, uint64_t gpa, const void *buf,
		unsigned int len);
/* The same, trying near (a region mmio_find() gave for this exit, or
 * NULL) before the search. */
bool mmio_read_near(struct guest *g, const struct mmio_region *near,
		    uint64_t gpa, void *buf, unsigned int len);
bool mmio_write_near(struct guest *g, const struct mmio_region *near,
		     uint64_t gpa, const void *buf, unsigned int len);

#endif
