/*
 * Physical frame allocator: a buddy allocator over host RAM.
 *
 * A block of order k is 4 KiB << k bytes (order 0 = 4 KiB, 9 = 2 MiB,
 * 18 = 1 GiB) and always starts at a physical address aligned to its size,
 * so guest RAM can be backed by whole 2 MiB and 1 GiB blocks and mapped
 * with large EPT pages.
 *
 * The allocator never reads or writes the RAM it manages; the caller may
 * describe RAM it cannot even reach yet. All state lives in a metadata
 * buffer the caller provides, one slice per region of usable RAM:
 *
 *   metadata buffer
 *   +-----------------------------+------------------------+----------
 *   | region 0 links              | region 0 state         | region 1
 *   | 2 x u32 per aligned pair of | 1 byte per frame,      | ...
 *   | frames (free-list next/prev)| padded to 8 bytes      |
 *   +-----------------------------+------------------------+----------
 *
 * That is 5 bytes per usable 4 KiB frame (0.12% of RAM), plus a few bytes
 * per region. Holes between regions cost nothing, so RAM at 0-256 MiB and
 * at 64 GiB needs no metadata for the 63 GiB in between.
 *
 * Boot sequence:
 *
 *   frame_meta_size(&map, &bytes);
 *   frame_meta_place(&map, bytes, BOOT_MAP_LIMIT, &pa);
 *   append { pa, bytes } to map.reserved;
 *   frame_init(&fa, &map, phys_to_virt(pa), bytes);
 *
 * frame_alloc(), frame_free(), frame_is_free() and frame_get_stats() may
 * be called from any CPU: one spinlock serialises them. frame_init() and
 * the planning functions run once, before other CPUs use the allocator.
 */
#ifndef KEEL_MM_FRAME_H
#define KEEL_MM_FRAME_H

#include "arch/compiler.h"
#include "arch/spinlock.h"

#define FRAME_SHIFT        12
#define FRAME_SIZE         (1ULL << FRAME_SHIFT)
#define FRAME_MAX_ORDER    18              /* 1 GiB blocks */
#define FRAME_NR_ORDERS    (FRAME_MAX_ORDER + 1)
#define FRAME_ORDER_2M     9
#define FRAME_ORDER_1G     18
#define FRAME_MAX_REGIONS  128
#define FRAME_NONE         (~0ULL)         /* frame_alloc() failed */

/* MAXPHYADDR is at most 52 (SDM Vol. 3A 4.1.4): RAM above is clipped away. */
#define FRAME_PA_LIMIT     (1ULL << 52)

/* Error codes, negated errno values so they read the same as elsewhere. */
#define FRAME_ENOENT       (-2)    /* address is not managed RAM */
#define FRAME_E2BIG        (-7)    /* more than FRAME_MAX_REGIONS regions */
#define FRAME_ENOMEM       (-12)   /* metadata buffer too small, no room */
#define FRAME_EINVAL       (-22)   /* bad argument, or not an allocated block */
#define FRAME_EALREADY     (-114)  /* block (or part of it) is already free */

/* One memory map entry. len may run past 2^64: it means "to the top". */
struct frame_range {
	uint64_t base;
	uint64_t len;
};

/*
 * The memory map as the caller found it, in any order, overlapping or not.
 * Usable entries are rounded inward to 4 KiB, each on its own; reserved
 * ones outward. Reserved wins wherever the two overlap, so pass every
 * non-usable firmware entry as reserved too, along with Keel's image,
 * boot modules, boot structures and the first MiB.
 */
struct frame_map {
	const struct frame_range *usable;
	size_t nr_usable;
	const struct frame_range *reserved;
	size_t nr_reserved;
};

struct frame_stats {
	uint64_t free_blocks[FRAME_NR_ORDERS];
	uint64_t used_blocks[FRAME_NR_ORDERS];
	uint64_t free_bytes;
	uint64_t used_bytes;
	uint64_t total_bytes;   /* free_bytes + used_bytes */
	uint32_t nr_regions;
};

/* Internal: one contiguous run of usable frames and its metadata slice. */
struct frame_region {
	uint64_t first;                   /* frame number (pa >> 12) */
	uint64_t nframes;
	uint8_t *state;                   /* one byte per frame */
	uint32_t *link;                   /* next/prev per frame pair */
	uint32_t head[FRAME_NR_ORDERS];   /* free lists, local frame index */
};

/* Internal fields; use the functions below. About 15 KiB: make it static. */
struct frame_allocator {
	struct spinlock lock;
	uint32_t nr_regions;
	uint64_t total_frames;
	uint64_t free_blocks[FRAME_NR_ORDERS];
	uint64_t used_blocks[FRAME_NR_ORDERS];
	uint64_t nonempty[FRAME_NR_ORDERS][FRAME_MAX_REGIONS / 64];
	struct frame_region regions[FRAME_MAX_REGIONS];
};

/*
 * Metadata bytes frame_init() needs for map, stored in *bytes. Includes
 * slack so that reserving the metadata itself (which may split a region in
 * two) never makes the need grow. Returns 0 or FRAME_E2BIG/FRAME_EINVAL.
 */
int frame_meta_size(const struct frame_map *map, uint64_t *bytes);

/*
 * Picks a 4 KiB aligned physical address for bytes of metadata inside
 * usable, non-reserved RAM, ending at or below limit (the part of RAM the
 * caller can already reach): the highest such place. Stored in *pa.
 * Returns 0, or FRAME_ENOMEM when nothing fits.
 */
int frame_meta_place(const struct frame_map *map, uint64_t bytes,
		     uint64_t limit, uint64_t *pa);

/*
 * Sets fa up to manage map, with all usable frames free, keeping its state
 * in meta (8-byte aligned, meta_bytes long, contents ignored). Returns 0,
 * FRAME_ENOMEM when meta_bytes is short of what the map needs, FRAME_E2BIG
 * or FRAME_EINVAL.
 */
int frame_init(struct frame_allocator *fa, const struct frame_map *map,
	       void *meta, uint64_t meta_bytes);

/*
 * Allocates a block of 4 KiB << order bytes, aligned to its size, from the
 * lowest-addressed region that has one. Returns its physical address, or
 * FRAME_NONE when no block that large is free or order is too big.
 */
uint64_t frame_alloc(struct frame_allocator *fa, unsigned int order);

/*
 * Frees the block at pa that frame_alloc(fa, order) returned. Returns 0,
 * FRAME_EALREADY on a double free, FRAME_ENOENT when pa is not managed RAM,
 * FRAME_EINVAL when pa/order do not name an allocated block. Rejected calls
 * change nothing.
 */
int frame_free(struct frame_allocator *fa, uint64_t pa, unsigned int order);

/* True when the frame holding pa is managed and free. */
bool frame_is_free(struct frame_allocator *fa, uint64_t pa);

/* A consistent snapshot of the counters. */
void frame_get_stats(struct frame_allocator *fa, struct frame_stats *st);

#endif
