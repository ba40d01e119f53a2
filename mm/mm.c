/* Boot-time setup of host memory. */
#include "mm/mm.h"
#include "mm/layout.h"
#include "mm/paging.h"
#include "boot/mb2info.h"
#include "arch/string.h"
#include "drivers/printk.h"

#define MM_MAX_RANGES (MB2_MAX_MEM + MB2_MAX_MODULES + 8)
#define MM_META_LOW_LIMIT (64 * MiB)

struct frame_allocator host_frames;
uint64_t mm_meta_bytes;

static struct frame_range usable[MB2_MAX_MEM];
static struct frame_range reserved[MM_MAX_RANGES];

static size_t mm_collect(const struct mb2_info *mi, struct frame_map *map)
{
	size_t nu = 0, nr = 0;

	for (uint32_t i = 0; i < mi->nr_mem; i++) {
		struct frame_range r = { mi->mem[i].base, mi->mem[i].len };

		if (mi->mem[i].type == MB2_MEM_USABLE)
			usable[nu++] = r;
		else
			reserved[nr++] = r;
	}
	for (uint32_t i = 0; i < mi->nr_modules; i++)
		reserved[nr++] = (struct frame_range){
			mi->modules[i].start,
			mi->modules[i].end - mi->modules[i].start };
	reserved[nr++] = (struct frame_range){ 0, 1 * MiB };
	reserved[nr++] = (struct frame_range){
		(uint64_t)_image_start_phys,
		(uint64_t)_image_end_phys - (uint64_t)_image_start_phys };
	*map = (struct frame_map){ usable, nu, reserved, nr };
	return nr;
}

int mm_init(const struct mb2_info *mi, uint64_t info_pa, uint64_t info_size)
{
	struct frame_map map;
	uint64_t bytes, pa;
	int err;

	mm_collect(mi, &map);
	reserved[map.nr_reserved++] = (struct frame_range){ info_pa, info_size };
	err = frame_meta_size(&map, &bytes);
	/* Low if it fits, where Keel's image and modules already break up
	 * RAM: high RAM stays free for whole 1 GiB blocks of guest memory. */
	if (!err && frame_meta_place(&map, bytes, MM_META_LOW_LIMIT, &pa))
		err = frame_meta_place(&map, bytes, BOOT_MAP_LIMIT, &pa);
	if (err) {
		pr_err("keel: mm: no room for frame metadata (%lu bytes): error %d\n",
		       bytes, err);
		return err;
	}
	reserved[map.nr_reserved++] = (struct frame_range){ pa, bytes };
	mm_meta_bytes = bytes;
	err = frame_init(&host_frames, &map, phys_to_virt(pa), bytes);
	if (err) {
		pr_err("keel: mm: frame allocator init failed: error %d\n", err);
		return err;
	}
	return paging_map_ram(usable, map.nr_usable);
}

uint64_t mm_alloc_pages(unsigned int order)
{
	uint64_t pa = frame_alloc(&host_frames, order);

	if (pa != FRAME_NONE)
		memset(phys_to_virt(pa), 0, FRAME_SIZE << order);
	return pa;
}

void mm_free_pages(uint64_t pa, unsigned int order)
{
	int err = frame_free(&host_frames, pa, order);

	if (err)
		pr_err("keel: mm: bad free of %#lx order %u: error %d\n", pa,
		       order, err);
}

uint64_t mm_free_bytes(void)
{
	struct frame_stats st;

	frame_get_stats(&host_frames, &st);
	return st.free_bytes;
}

void mm_print_stats(void)
{
	struct frame_stats st;
	char line[256];
	int n = 0;

	frame_get_stats(&host_frames, &st);
	pr_info("keel: mm: %lu MiB free of %lu MiB in %u regions\n",
		st.free_bytes >> 20, st.total_bytes >> 20, st.nr_regions);
	for (int o = 0; o < FRAME_NR_ORDERS; o++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %d:%lu/%lu",
			      o, st.free_blocks[o], st.used_blocks[o]);
	pr_info("keel: mm: free/used blocks per order:%s\n", line);
}
