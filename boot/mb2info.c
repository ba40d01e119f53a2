/* Multiboot2 boot information parser: see mb2info.h for the block layout.
 *
 * Nothing in the block is trusted. Every multi-byte field is read with
 * memcpy() into a raw layout struct after a bounds check, so the code neither
 * reads past what was checked nor depends on the alignment the spec promises.
 * Walking happens once, in block order; the memory map is chosen after the
 * walk because the tags that decide it (4, 6, 17, 18) may come in any order. */
#include "boot/mb2info.h"
#include "arch/string.h"

/* Raw layouts, Multiboot2 spec, "Boot information format"; the comment on
 * each names the spec subsection. */
#define MB2_INFO_HEADER_SIZE    8
#define MB2_TAG_ALIGN           8

struct mb2_raw_tag {
	uint32_t type;
	uint32_t size;
};

struct mb2_raw_module {                 /* "Modules"; string follows */
	uint32_t type, size;
	uint32_t mod_start, mod_end;
};

struct mb2_raw_meminfo {                /* "Basic memory information", KiB */
	uint32_t type, size;
	uint32_t mem_lower, mem_upper;
};

struct mb2_raw_map_head {               /* "Memory map", "EFI memory map" */
	uint32_t type, size;
	uint32_t entry_size, entry_version;
};

struct mb2_raw_mmap_entry {             /* "Memory map" */
	uint64_t base_addr;
	uint64_t length;
	uint32_t type;
	uint32_t reserved;
};

struct mb2_raw_u64_tag {                /* EFI 64-bit system table / image */
	uint32_t type, size;
	uint64_t value;
};

/* EFI_MEMORY_DESCRIPTOR, UEFI 2.10 section 7.2.3 (GetMemoryMap). Firmware may
 * hand out larger descriptors; descriptor_size is the stride. */
struct mb2_raw_efi_desc {
	uint32_t type;
	uint32_t pad;
	uint64_t phys_start;
	uint64_t virt_start;
	uint64_t nr_pages;
	uint64_t attribute;
};

_Static_assert(sizeof(struct mb2_raw_tag) == 8, "tag header");
_Static_assert(sizeof(struct mb2_raw_module) == 16, "module tag");
_Static_assert(sizeof(struct mb2_raw_meminfo) == 16, "basic meminfo tag");
_Static_assert(sizeof(struct mb2_raw_map_head) == 16, "memory map tag head");
_Static_assert(sizeof(struct mb2_raw_mmap_entry) == 24, "mmap entry v0");
_Static_assert(offsetof(struct mb2_raw_u64_tag, value) == 8, "EFI64 tags");
_Static_assert(sizeof(struct mb2_raw_efi_desc) == 40, "EFI descriptor v1");
_Static_assert(offsetof(struct mb2_raw_efi_desc, nr_pages) == 24, "EFI desc");
_Static_assert(MB2_TAG_NR_KNOWN <= 64, "seen mask is a u64");

/* Memory map entry types (spec, "Memory map"). Anything else is reserved. */
#define MB2_MMAP_AVAILABLE      1
#define MB2_MMAP_ACPI           3
#define MB2_MMAP_NVS            4
#define MB2_MMAP_BADRAM         5

/* EFI_MEMORY_TYPE values, UEFI 2.10 section 7.2.1. */
enum mb2_efi_type {
	EFI_LOADER_CODE = 1,
	EFI_LOADER_DATA = 2,
	EFI_BOOT_SERVICES_CODE = 3,
	EFI_BOOT_SERVICES_DATA = 4,
	EFI_CONVENTIONAL_MEMORY = 7,
	EFI_UNUSABLE_MEMORY = 8,
	EFI_ACPI_RECLAIM_MEMORY = 9,
	EFI_ACPI_MEMORY_NVS = 10,
};
#define EFI_PAGE_SHIFT          12
#define EFI_MEMORY_DESCRIPTOR_VERSION 1

#define MB2_RSDP_V1_SIZE        20      /* ACPI 6.5 5.2.5.3 */
#define MB2_RSDP_V2_SIZE        36
#define MB2_LOWER_MEM_BASE      0
#define MB2_UPPER_MEM_BASE      (1 * MiB)

/* Compacting a full region list costs a sort; a hostile map could force one
 * per entry, so the number of attempts is capped. */
#define MB2_MEM_MAX_COMPACTIONS 8

#define MB2_NO_TAG              (~0U)

/* A tag that passed the walk's checks: size >= 8 and p[0..size) in bounds. */
struct mb2_tag {
	const uint8_t *p;
	uint32_t type;
	uint32_t size;
	uint32_t off;
};

struct mb2_walk {
	const uint8_t *base;
	uint32_t size;
	uint64_t seen;                          /* bit per accepted type */
	struct mb2_tag first[MB2_TAG_NR_KNOWN]; /* first accepted of each type */
	uint32_t mem_compactions;
};

static const char *const mb2_diag_msgs[MB2_DIAG_NR_CODES] = {
	[MB2_DIAG_NONE] = "no problem",
	[MB2_DIAG_NULL_INFO] = "no boot information mapped",
	[MB2_DIAG_TOTAL_SIZE_SMALL] = "total_size smaller than the header",
	[MB2_DIAG_TOTAL_SIZE_CLAMPED] = "total_size beyond the mapped size, clamped",
	[MB2_DIAG_TAG_TOO_SMALL] = "tag size below 8, stopped walking",
	[MB2_DIAG_TAG_PAST_END] = "tag runs past total_size, stopped walking",
	[MB2_DIAG_NO_END_TAG] = "no end tag",
	[MB2_DIAG_END_TAG_SIZE] = "end tag size is not 8",
	[MB2_DIAG_TAG_SHORT] = "tag too short for its fields, skipped",
	[MB2_DIAG_TAG_DUPLICATE] = "duplicate tag, first one kept",
	[MB2_DIAG_STRING_UNTERMINATED] = "string not NUL-terminated inside its tag",
	[MB2_DIAG_MODULE_RANGE] = "module ends before it starts, skipped",
	[MB2_DIAG_MODULES_TRUNCATED] = "too many modules, rest dropped",
	[MB2_DIAG_MMAP_ENTRY_SIZE] = "memory map entry_size unusable, map skipped",
	[MB2_DIAG_MMAP_PARTIAL] = "memory map ends with a partial entry",
	[MB2_DIAG_MEM_WRAPS] = "memory region wraps past 2^64, skipped",
	[MB2_DIAG_MEM_TRUNCATED] = "too many memory regions, rest dropped",
	[MB2_DIAG_EFI_DESC_SIZE] = "EFI descriptor_size too small, map skipped",
	[MB2_DIAG_EFI_DESC_VERSION] = "unexpected EFI descriptor_version",
	[MB2_DIAG_NO_MEMORY_INFO] = "no usable memory information",
};

static void mb2_diag(struct mb2_info *mi, enum mb2_diag_code code,
		     uint32_t tag, uint32_t off, uint64_t value)
{
	struct mb2_diag *d;

	if (mi->nr_diags == MB2_MAX_DIAGS) {
		mi->nr_diags_dropped++;
		return;
	}
	d = &mi->diags[mi->nr_diags++];
	d->code = code;
	d->tag = tag;
	d->offset = off;
	d->value = value;
	d->msg = mb2_diag_msgs[code];
}

static void mb2_tag_diag(struct mb2_info *mi, enum mb2_diag_code code,
			 const struct mb2_tag *t, uint64_t value)
{
	mb2_diag(mi, code, t->type, t->off, value);
}

/* The NUL-terminated string that starts at byte 'at' of the tag, or NULL if
 * no NUL lies inside the tag. */
static const char *mb2_tag_string(const struct mb2_tag *t, uint32_t at)
{
	const char *s = (const char *)t->p + at;
	size_t room = t->size - at;

	return strnlen(s, room) < room ? s : NULL;
}

/* --- memory region list ------------------------------------------------ */

static void mb2_mem_sort(struct mb2_info *mi)
{
	for (uint32_t i = 1; i < mi->nr_mem; i++) {
		struct mb2_mem_region r = mi->mem[i];
		uint32_t j = i;

		for (; j > 0 && mi->mem[j - 1].base > r.base; j--)
			mi->mem[j] = mi->mem[j - 1];
		mi->mem[j] = r;
	}
}

static uint64_t mb2_mem_end(const struct mb2_mem_region *r)
{
	return r->base + r->len;        /* never wraps: checked on entry */
}

/* Sort by base and fold each region into its predecessor when both have the
 * same type and touch or overlap. Overlaps between different types are left
 * for the allocator to resolve (reserved must win there). */
static void mb2_mem_compact(struct mb2_info *mi)
{
	uint32_t out = 0;

	mb2_mem_sort(mi);
	for (uint32_t i = 0; i < mi->nr_mem; i++) {
		struct mb2_mem_region *prev = out ? &mi->mem[out - 1] : NULL;
		const struct mb2_mem_region *r = &mi->mem[i];

		if (prev && prev->type == r->type && r->base <= mb2_mem_end(prev)) {
			prev->len = MAX(mb2_mem_end(prev), mb2_mem_end(r)) - prev->base;
			continue;
		}
		mi->mem[out++] = *r;
	}
	mi->nr_mem = out;
}

static bool mb2_mem_make_room(struct mb2_info *mi, struct mb2_walk *w)
{
	if (mi->nr_mem < MB2_MAX_MEM)
		return true;
	if (w->mem_compactions < MB2_MEM_MAX_COMPACTIONS) {
		w->mem_compactions++;
		mb2_mem_compact(mi);
	}
	return mi->nr_mem < MB2_MAX_MEM;
}

/* Append one region; firmware maps are mostly sorted, so merging with the
 * last region alone keeps typical EFI maps (hundreds of descriptors) small. */
static void mb2_mem_add(struct mb2_info *mi, struct mb2_walk *w,
			const struct mb2_tag *t, uint64_t base, uint64_t len,
			uint32_t type)
{
	struct mb2_mem_region *last = mi->nr_mem ? &mi->mem[mi->nr_mem - 1] : NULL;

	if (len == 0)
		return;
	if (len > UINT64_MAX - base) {
		mb2_tag_diag(mi, MB2_DIAG_MEM_WRAPS, t, base);
		return;
	}
	if (last && last->type == type && mb2_mem_end(last) == base) {
		last->len += len;
		return;
	}
	if (!mb2_mem_make_room(mi, w)) {
		if (mi->nr_mem_dropped++ == 0)
			mb2_tag_diag(mi, MB2_DIAG_MEM_TRUNCATED, t, base);
		return;
	}
	mi->mem[mi->nr_mem++] = (struct mb2_mem_region){ base, len, type };
}

/* --- memory map sources -------------------------------------------------- */

typedef void mb2_entry_fn(struct mb2_info *mi, struct mb2_walk *w,
			  const struct mb2_tag *t, const uint8_t *entry);

/* Call fn for each whole entry of a map tag; the stride is trusted only
 * after the caller checked it against the entry layout. */
static void mb2_map_for_each(struct mb2_info *mi, struct mb2_walk *w,
			     const struct mb2_tag *t, uint32_t stride,
			     mb2_entry_fn *fn)
{
	uint32_t off = sizeof(struct mb2_raw_map_head);

	for (; t->size - off >= stride; off += stride)
		fn(mi, w, t, t->p + off);
	if (off != t->size)
		mb2_tag_diag(mi, MB2_DIAG_MMAP_PARTIAL, t, t->size - off);
}

static uint32_t mb2_mmap_type(uint32_t raw)
{
	switch (raw) {
	case MB2_MMAP_AVAILABLE:        return MB2_MEM_USABLE;
	case MB2_MMAP_ACPI:             return MB2_MEM_ACPI;
	case MB2_MMAP_NVS:              return MB2_MEM_NVS;
	case MB2_MMAP_BADRAM:           return MB2_MEM_BAD;
	default:                        return MB2_MEM_RESERVED;
	}
}

static void mb2_mmap_entry(struct mb2_info *mi, struct mb2_walk *w,
			   const struct mb2_tag *t, const uint8_t *entry)
{
	struct mb2_raw_mmap_entry e;

	memcpy(&e, entry, sizeof(e));
	mb2_mem_add(mi, w, t, e.base_addr, e.length, mb2_mmap_type(e.type));
}

/* Tag 6. entry_size is a multiple of 8 and covers at least the version-0
 * entry (spec, "Memory map"); later versions only append fields, so any
 * entry_version is read through its first 24 bytes. */
static bool mb2_read_mmap(struct mb2_info *mi, struct mb2_walk *w,
			  const struct mb2_tag *t)
{
	struct mb2_raw_map_head h;

	memcpy(&h, t->p, sizeof(h));
	if (h.entry_size < sizeof(struct mb2_raw_mmap_entry) ||
	    !IS_ALIGNED(h.entry_size, 8)) {
		mb2_tag_diag(mi, MB2_DIAG_MMAP_ENTRY_SIZE, t, h.entry_size);
		return false;
	}
	mb2_map_for_each(mi, w, t, h.entry_size, mb2_mmap_entry);
	return true;
}

/* Loader and boot-services memory is free once ExitBootServices() has run
 * (UEFI 2.10 section 7.2.1, table "Memory Type Usage after
 * ExitBootServices()"). Tag 18 says it has not run, so then only
 * conventional memory is free. */
static uint32_t mb2_efi_type(uint32_t raw, bool bs_active)
{
	switch (raw) {
	case EFI_CONVENTIONAL_MEMORY:   return MB2_MEM_USABLE;
	case EFI_LOADER_CODE:
	case EFI_LOADER_DATA:
	case EFI_BOOT_SERVICES_CODE:
	case EFI_BOOT_SERVICES_DATA:
		return bs_active ? MB2_MEM_RESERVED : MB2_MEM_USABLE;
	case EFI_UNUSABLE_MEMORY:       return MB2_MEM_BAD;
	case EFI_ACPI_RECLAIM_MEMORY:   return MB2_MEM_ACPI;
	case EFI_ACPI_MEMORY_NVS:       return MB2_MEM_NVS;
	default:                        return MB2_MEM_RESERVED;
	}
}

static void mb2_efi_entry(struct mb2_info *mi, struct mb2_walk *w,
			  const struct mb2_tag *t, const uint8_t *entry)
{
	struct mb2_raw_efi_desc d;

	memcpy(&d, entry, sizeof(d));
	if (d.nr_pages > (UINT64_MAX >> EFI_PAGE_SHIFT)) {
		mb2_tag_diag(mi, MB2_DIAG_MEM_WRAPS, t, d.phys_start);
		return;
	}
	mb2_mem_add(mi, w, t, d.phys_start, d.nr_pages << EFI_PAGE_SHIFT,
		    mb2_efi_type(d.type, mi->efi_boot_services_active));
}

/* Tag 17: a copy of the EFI memory map, stride descriptor_size. */
static bool mb2_read_efi_mmap(struct mb2_info *mi, struct mb2_walk *w,
			      const struct mb2_tag *t)
{
	struct mb2_raw_map_head h;

	memcpy(&h, t->p, sizeof(h));
	if (h.entry_size < sizeof(struct mb2_raw_efi_desc)) {
		mb2_tag_diag(mi, MB2_DIAG_EFI_DESC_SIZE, t, h.entry_size);
		return false;
	}
	if (h.entry_version != EFI_MEMORY_DESCRIPTOR_VERSION)
		mb2_tag_diag(mi, MB2_DIAG_EFI_DESC_VERSION, t, h.entry_version);
	mb2_map_for_each(mi, w, t, h.entry_size, mb2_efi_entry);
	return true;
}

/* Tag 4: lower memory from 0 and upper memory from 1 MiB, both in KiB. */
static bool mb2_read_meminfo(struct mb2_info *mi, struct mb2_walk *w,
			     const struct mb2_tag *t)
{
	struct mb2_raw_meminfo m;

	memcpy(&m, t->p, sizeof(m));
	mb2_mem_add(mi, w, t, MB2_LOWER_MEM_BASE, m.mem_lower * KiB,
		    MB2_MEM_USABLE);
	mb2_mem_add(mi, w, t, MB2_UPPER_MEM_BASE, m.mem_upper * KiB,
		    MB2_MEM_USABLE);
	return true;
}

typedef bool mb2_map_reader(struct mb2_info *mi, struct mb2_walk *w,
			    const struct mb2_tag *t);

/* Memory sources in order of preference (see mb2_parse() in the header). */
static const struct {
	uint32_t tag;
	enum mb2_mem_source source;
	mb2_map_reader *read;
} mb2_mem_sources[] = {
	{ MB2_TAG_MMAP,          MB2_MEM_SRC_MMAP,  mb2_read_mmap },
	{ MB2_TAG_EFI_MMAP,      MB2_MEM_SRC_EFI,   mb2_read_efi_mmap },
	{ MB2_TAG_BASIC_MEMINFO, MB2_MEM_SRC_BASIC, mb2_read_meminfo },
};

static void mb2_build_memmap(struct mb2_info *mi, struct mb2_walk *w)
{
	for (size_t i = 0; i < ARRAY_SIZE(mb2_mem_sources); i++) {
		uint32_t tag = mb2_mem_sources[i].tag;

		if (!(w->seen & BIT_ULL(tag)))
			continue;
		mi->nr_mem = 0;
		mi->nr_mem_dropped = 0;
		if (mb2_mem_sources[i].read(mi, w, &w->first[tag]) && mi->nr_mem) {
			mb2_mem_compact(mi);
			mi->mem_source = mb2_mem_sources[i].source;
			return;
		}
	}
	mi->nr_mem = 0;
	mb2_diag(mi, MB2_DIAG_NO_MEMORY_INFO, MB2_NO_TAG, 0, 0);
}

/* --- single tags ------------------------------------------------------- */

/* Each decoder returns false when it rejected the tag, so that a later copy
 * of a single tag may still be used. */
typedef bool mb2_tag_fn(struct mb2_info *mi, const struct mb2_tag *t);

static const char *mb2_checked_string(struct mb2_info *mi,
				      const struct mb2_tag *t, uint32_t at)
{
	const char *s = mb2_tag_string(t, at);

	if (!s)
		mb2_tag_diag(mi, MB2_DIAG_STRING_UNTERMINATED, t, t->size);
	return s;
}

static bool mb2_take_cmdline(struct mb2_info *mi, const struct mb2_tag *t)
{
	const char *s = mb2_checked_string(mi, t, sizeof(struct mb2_raw_tag));

	if (s)
		mi->cmdline = s;
	return s != NULL;
}

static bool mb2_take_loader_name(struct mb2_info *mi, const struct mb2_tag *t)
{
	const char *s = mb2_checked_string(mi, t, sizeof(struct mb2_raw_tag));

	if (s)
		mi->loader_name = s;
	return s != NULL;
}

/* A module whose name is unterminated is kept with an empty name: its
 * address range is still valid and still has to be kept out of the
 * allocator. */
static bool mb2_take_module(struct mb2_info *mi, const struct mb2_tag *t)
{
	struct mb2_raw_module m;
	const char *name;

	memcpy(&m, t->p, sizeof(m));
	if (m.mod_end < m.mod_start) {
		mb2_tag_diag(mi, MB2_DIAG_MODULE_RANGE, t, m.mod_end);
		return false;
	}
	if (mi->nr_modules == MB2_MAX_MODULES) {
		if (mi->nr_modules_dropped++ == 0)
			mb2_tag_diag(mi, MB2_DIAG_MODULES_TRUNCATED, t, m.mod_start);
		return false;
	}
	name = mb2_checked_string(mi, t, sizeof(m));
	mi->modules[mi->nr_modules++] = (struct mb2_module){
		.start = m.mod_start, .end = m.mod_end, .name = name ? name : "",
	};
	return true;
}

/* Tag 15 (ACPI 2.0+ RSDP) is preferred over tag 14 (ACPI 1.0 RSDP) whatever
 * their order: the newer copy carries the XSDT address. */
static bool mb2_take_rsdp(struct mb2_info *mi, const struct mb2_tag *t)
{
	uint32_t len = MIN(t->size - (uint32_t)sizeof(struct mb2_raw_tag),
			   (uint32_t)MB2_RSDP_MAX);

	if (mi->rsdp_tag == MB2_TAG_ACPI_NEW)
		return true;
	memcpy(mi->rsdp, t->p + sizeof(struct mb2_raw_tag), len);
	mi->rsdp_len = len;
	mi->rsdp_tag = t->type;
	return true;
}

static uint64_t mb2_tag_u64(const struct mb2_tag *t)
{
	struct mb2_raw_u64_tag v;

	memcpy(&v, t->p, sizeof(v));
	return v.value;
}

static bool mb2_take_efi64_st(struct mb2_info *mi, const struct mb2_tag *t)
{
	mi->has_efi64_system_table = true;
	mi->efi64_system_table = mb2_tag_u64(t);
	return true;
}

static bool mb2_take_efi64_ih(struct mb2_info *mi, const struct mb2_tag *t)
{
	mi->has_efi64_image_handle = true;
	mi->efi64_image_handle = mb2_tag_u64(t);
	return true;
}

static bool mb2_take_efi_bs(struct mb2_info *mi, const struct mb2_tag *t)
{
	(void)t;
	mi->efi_boot_services_active = true;
	return true;
}

/* Memory tags are only remembered here; mb2_build_memmap() decides. */
static bool mb2_defer(struct mb2_info *mi, const struct mb2_tag *t)
{
	(void)mi;
	(void)t;
	return true;
}

/* Tags Keel reads, indexed by type. min_size covers the fixed fields; types
 * without an entry (min_size 0) are skipped, as the spec requires for tags a
 * kernel does not know. */
static const struct mb2_tag_kind {
	uint32_t min_size;
	bool repeatable;
	mb2_tag_fn *take;
} mb2_tag_kinds[MB2_TAG_NR_KNOWN] = {
	[MB2_TAG_CMDLINE]       = { 8, false, mb2_take_cmdline },
	[MB2_TAG_LOADER_NAME]   = { 8, false, mb2_take_loader_name },
	[MB2_TAG_MODULE]        = { sizeof(struct mb2_raw_module), true,
				    mb2_take_module },
	[MB2_TAG_BASIC_MEMINFO] = { sizeof(struct mb2_raw_meminfo), false,
				    mb2_defer },
	[MB2_TAG_MMAP]          = { sizeof(struct mb2_raw_map_head), false,
				    mb2_defer },
	[MB2_TAG_EFI64_ST]      = { sizeof(struct mb2_raw_u64_tag), false,
				    mb2_take_efi64_st },
	[MB2_TAG_ACPI_OLD]      = { 8 + MB2_RSDP_V1_SIZE, false, mb2_take_rsdp },
	[MB2_TAG_ACPI_NEW]      = { 8 + MB2_RSDP_V2_SIZE, false, mb2_take_rsdp },
	[MB2_TAG_EFI_MMAP]      = { sizeof(struct mb2_raw_map_head), false,
				    mb2_defer },
	[MB2_TAG_EFI_BS]        = { 8, false, mb2_take_efi_bs },
	[MB2_TAG_EFI64_IH]      = { sizeof(struct mb2_raw_u64_tag), false,
				    mb2_take_efi64_ih },
};

static void mb2_take_tag(struct mb2_info *mi, struct mb2_walk *w,
			 const struct mb2_tag *t)
{
	const struct mb2_tag_kind *k;

	if (t->type >= MB2_TAG_NR_KNOWN || !mb2_tag_kinds[t->type].min_size)
		return;
	k = &mb2_tag_kinds[t->type];
	if (t->size < k->min_size) {
		mb2_tag_diag(mi, MB2_DIAG_TAG_SHORT, t, t->size);
		return;
	}
	if (!k->repeatable && (w->seen & BIT_ULL(t->type))) {
		mb2_tag_diag(mi, MB2_DIAG_TAG_DUPLICATE, t, t->type);
		return;
	}
	if (!k->take(mi, t) || k->repeatable)
		return;
	w->seen |= BIT_ULL(t->type);
	w->first[t->type] = *t;
}

/* Walk the tags from offset 8 to the end tag. A tag whose size is below 8
 * or past the end leaves no safe way to find the next one, so the walk stops
 * there and keeps what it has. Offsets are 64-bit: ALIGN_UP of a size near
 * 4 GiB must not wrap. */
static void mb2_walk_tags(struct mb2_info *mi, struct mb2_walk *w)
{
	uint64_t off = MB2_INFO_HEADER_SIZE;
	struct mb2_raw_tag h;

	while (off + sizeof(h) <= w->size) {
		memcpy(&h, w->base + off, sizeof(h));
		if (h.size < sizeof(h)) {
			mb2_diag(mi, MB2_DIAG_TAG_TOO_SMALL, h.type, off, h.size);
			return;
		}
		if (h.size > w->size - off) {
			mb2_diag(mi, MB2_DIAG_TAG_PAST_END, h.type, off, h.size);
			return;
		}
		if (h.type == MB2_TAG_END) {
			if (h.size != sizeof(h))
				mb2_diag(mi, MB2_DIAG_END_TAG_SIZE, h.type, off, h.size);
			mi->complete = true;
			return;
		}
		mb2_take_tag(mi, w, &(struct mb2_tag){
			.p = w->base + off, .type = h.type,
			.size = h.size, .off = (uint32_t)off,
		});
		off += ALIGN_UP((uint64_t)h.size, MB2_TAG_ALIGN);
	}
	mb2_diag(mi, MB2_DIAG_NO_END_TAG, MB2_NO_TAG, (uint32_t)off, w->size);
}

/* total_size may not exceed what the caller mapped, nor 4 GiB. */
static int mb2_check_header(struct mb2_info *mi, struct mb2_walk *w,
			    const void *info, size_t max_size)
{
	uint32_t total;

	if (!info || max_size < MB2_INFO_HEADER_SIZE) {
		mb2_diag(mi, MB2_DIAG_NULL_INFO, MB2_NO_TAG, 0, max_size);
		return -1;
	}
	memcpy(&total, info, sizeof(total));
	if (total < MB2_INFO_HEADER_SIZE) {
		mb2_diag(mi, MB2_DIAG_TOTAL_SIZE_SMALL, MB2_NO_TAG, 0, total);
		return -1;
	}
	if (total > max_size) {
		mb2_diag(mi, MB2_DIAG_TOTAL_SIZE_CLAMPED, MB2_NO_TAG, 0, total);
		total = (uint32_t)max_size;
	}
	w->base = info;
	w->size = total;
	mi->size = total;
	return 0;
}

int mb2_parse(struct mb2_info *mi, const void *info, size_t max_size)
{
	struct mb2_walk w = { 0 };

	memset(mi, 0, sizeof(*mi));
	mi->cmdline = "";
	if (mb2_check_header(mi, &w, info, max_size))
		return -1;
	mb2_walk_tags(mi, &w);
	mb2_build_memmap(mi, &w);
	return 0;
}

const char *mb2_mem_type_name(uint32_t type)
{
	static const char *const names[] = {
		[MB2_MEM_USABLE] = "usable",
		[MB2_MEM_RESERVED] = "reserved",
		[MB2_MEM_ACPI] = "ACPI",
		[MB2_MEM_NVS] = "ACPI NVS",
		[MB2_MEM_BAD] = "bad",
	};

	return type < ARRAY_SIZE(names) && names[type] ? names[type] : "?";
}

/* --- command line -------------------------------------------------------- */

static bool mb2_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Value of the last "key" or "key=value" word in s; NULL when absent. */
static const char *mb2_cmdline_find(const char *s, const char *key,
				    size_t *vlen)
{
	size_t klen = strlen(key);
	const char *found = NULL;

	while (*s) {
		const char *word;
		size_t wlen;

		while (mb2_is_blank(*s))
			s++;
		for (word = s; *s && !mb2_is_blank(*s); s++)
			;
		wlen = (size_t)(s - word);
		if (klen && wlen >= klen && !memcmp(word, key, klen) &&
		    (wlen == klen || word[klen] == '=')) {
			found = word + klen + (wlen > klen);
			*vlen = (size_t)(word + wlen - found);
		}
	}
	return found;
}

int mb2_cmdline_get(const char *cmdline, const char *key, char *buf, size_t len)
{
	size_t vlen = 0;
	const char *v;

	if (!cmdline || !key)
		return -1;
	v = mb2_cmdline_find(cmdline, key, &vlen);
	if (!v)
		return -1;
	if (buf && len) {
		size_t n = MIN(vlen, len - 1);

		memcpy(buf, v, n);
		buf[n] = '\0';
	}
	return (int)MIN(vlen, (size_t)INT32_MAX);
}

static bool mb2_word_is(const char *v, size_t vlen, const char *word)
{
	return strlen(word) == vlen && !memcmp(v, word, vlen);
}

static bool mb2_word_in(const char *v, size_t vlen, const char *const *words,
			size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mb2_word_is(v, vlen, words[i]))
			return true;
	return false;
}

bool mb2_cmdline_bool(const char *cmdline, const char *key, bool def)
{
	static const char *const yes[] = { "", "1", "y", "yes", "on", "true" };
	static const char *const no[] = { "0", "n", "no", "off", "false" };
	size_t vlen = 0;
	const char *v;

	if (!cmdline || !key)
		return def;
	v = mb2_cmdline_find(cmdline, key, &vlen);
	if (!v)
		return def;
	if (mb2_word_in(v, vlen, yes, ARRAY_SIZE(yes)))
		return true;
	if (mb2_word_in(v, vlen, no, ARRAY_SIZE(no)))
		return false;
	return def;
}
