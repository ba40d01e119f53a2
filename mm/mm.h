/* Host memory: the frame allocator over all RAM, and the direct map. */
#ifndef KEEL_MM_MM_H
#define KEEL_MM_MM_H

#include "arch/compiler.h"
#include "mm/frame.h"

struct mb2_info;

extern struct frame_allocator host_frames;
extern uint64_t mm_meta_bytes;          /* the allocator's own metadata */

/*
 * Builds the frame allocator from the boot memory map, excluding the first
 * MiB, Keel's image, the modules and the boot information block, then
 * extends the direct map to RAM above 4 GiB. Returns 0 or a negative error
 * (already reported on the console).
 */
int mm_init(const struct mb2_info *mi, uint64_t info_pa, uint64_t info_size);

/* Physical address of a zeroed block of 4 KiB << order, or FRAME_NONE. */
uint64_t mm_alloc_pages(unsigned int order);
void mm_free_pages(uint64_t pa, unsigned int order);
uint64_t mm_free_bytes(void);
void mm_print_stats(void);

#endif
