/*
 * Where a loader puts what it hands a guest besides its image (the
 * multiboot information and modules): in guest RAM that the image's
 * segments and the platform's reserved ranges leave free, as high as
 * possible, like GRUB and QEMU, so that an image may load anywhere (a
 * real-mode test at 0x8000, say) and its heap, which usually grows up
 * from the image's end, meets the boot data last. Pure code
 * (tests/unit/test_boot_place.c).
 */
#ifndef KEEL_GUEST_BOOT_PLACE_H
#define KEEL_GUEST_BOOT_PLACE_H

#include "arch/compiler.h"

#define BOOT_PLACE_MAX_RANGES   32

/* Guest-physical ranges [start, end) that are taken. */
struct boot_ranges {
	struct {
		uint64_t start, end;
	} r[BOOT_PLACE_MAX_RANGES];
	unsigned int n;
};

/* Marks [start, end) taken. When the list is full the range is merged
 * into the last one (their hull): placement then avoids more than it
 * must, never less. */
void boot_ranges_add(struct boot_ranges *t, uint64_t start, uint64_t end);

/* Whether [start, end) overlaps a taken range. */
bool boot_ranges_overlap(const struct boot_ranges *t, uint64_t start,
			 uint64_t end);

/*
 * Finds the highest page-aligned `size` bytes inside [floor, limit) that
 * overlap no taken range; *at gets the start. Returns false when nothing
 * fits.
 */
bool boot_place_high(const struct boot_ranges *t, uint64_t floor,
		     uint64_t limit, uint64_t size, uint64_t *at);

#endif
