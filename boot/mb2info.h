/* Multiboot2 boot information parser.
 *
 * The boot loader leaves an information block in memory and its physical
 * address in EBX (Multiboot2 spec, "Boot information format"):
 *
 *   info + 0   +---------------------------+
 *              | u32 total_size            |  whole block, header included
 *              | u32 reserved              |
 *   info + 8   +---------------------------+
 *              | u32 type | u32 size       |  tag: size counts the 8-byte
 *              | payload (size - 8 bytes)  |  header, not the padding
 *              | padding to 8-byte boundary|
 *              +---------------------------+
 *              | ... more tags ...         |
 *              +---------------------------+
 *              | type = 0 | size = 8       |  end tag
 *              +---------------------------+
 *
 * mb2_parse() walks that block without trusting any length in it and fills a
 * struct mb2_info: a normalized memory map, the modules, Keel's command line,
 * a copy of the ACPI RSDP and a few EFI pointers. It is pure code (no
 * printing, no allocation); what it finds wrong goes into info->diags for the
 * caller to print.
 *
 * Lifetime: cmdline, loader_name and module names point into the information
 * block, which therefore has to stay mapped (and reserved from the page
 * allocator) for as long as those strings are used. */
#ifndef KEEL_BOOT_MB2INFO_H
#define KEEL_BOOT_MB2INFO_H

#include "arch/compiler.h"

/* EAX holds this on entry from a Multiboot2 loader; the boot code checks it. */
#define MB2_BOOTLOADER_MAGIC    0x36d76289U

/* Tag types, Multiboot2 spec "Boot information format". Only the ones Keel reads or names. */
enum mb2_tag_type {
	MB2_TAG_END             = 0,
	MB2_TAG_CMDLINE         = 1,
	MB2_TAG_LOADER_NAME     = 2,
	MB2_TAG_MODULE          = 3,
	MB2_TAG_BASIC_MEMINFO   = 4,
	MB2_TAG_MMAP            = 6,
	MB2_TAG_FRAMEBUFFER     = 8,
	MB2_TAG_EFI64_ST        = 12,
	MB2_TAG_ACPI_OLD        = 14,
	MB2_TAG_ACPI_NEW        = 15,
	MB2_TAG_EFI_MMAP        = 17,
	MB2_TAG_EFI_BS          = 18,
	MB2_TAG_EFI64_IH        = 20,
	MB2_TAG_NR_KNOWN        = 22,
};

#define MB2_MAX_MEM             256
#define MB2_MAX_MODULES         32
#define MB2_MAX_DIAGS           32
/* Room for an ACPI 2.0+ RSDP (36 bytes) and any later growth of it. */
#define MB2_RSDP_MAX            64

enum mb2_mem_type {
	MB2_MEM_USABLE          = 1,
	MB2_MEM_RESERVED        = 2,
	MB2_MEM_ACPI            = 3,    /* ACPI tables; reclaimable once read */
	MB2_MEM_NVS             = 4,    /* ACPI NVS; must be preserved */
	MB2_MEM_BAD             = 5,    /* defective RAM */
};

/* Where info->mem came from. */
enum mb2_mem_source {
	MB2_MEM_SRC_NONE        = 0,
	MB2_MEM_SRC_MMAP        = 1,    /* tag 6, E820-style */
	MB2_MEM_SRC_EFI         = 2,    /* tag 17, EFI GetMemoryMap() copy */
	MB2_MEM_SRC_BASIC       = 3,    /* tag 4, mem_lower/mem_upper only */
};

struct mb2_mem_region {
	uint64_t base;
	uint64_t len;
	uint32_t type;                  /* enum mb2_mem_type */
};

struct mb2_module {
	uint64_t start;                 /* physical, inclusive */
	uint64_t end;                   /* physical, exclusive (GRUB: start + size) */
	const char *name;               /* module command line, "" if unusable */
};

enum mb2_diag_code {
	MB2_DIAG_NONE = 0,
	MB2_DIAG_NULL_INFO,             /* fatal: no block or max_size < 8 */
	MB2_DIAG_TOTAL_SIZE_SMALL,      /* fatal: total_size < 8 */
	MB2_DIAG_TOTAL_SIZE_CLAMPED,    /* total_size > mapped size */
	MB2_DIAG_TAG_TOO_SMALL,         /* tag size < 8: walk stops */
	MB2_DIAG_TAG_PAST_END,          /* tag runs past total_size: walk stops */
	MB2_DIAG_NO_END_TAG,
	MB2_DIAG_END_TAG_SIZE,          /* end tag with size != 8 */
	MB2_DIAG_TAG_SHORT,             /* too short for its fixed fields: skipped */
	MB2_DIAG_TAG_DUPLICATE,         /* second copy of a single tag: skipped */
	MB2_DIAG_STRING_UNTERMINATED,
	MB2_DIAG_MODULE_RANGE,          /* end < start: module skipped */
	MB2_DIAG_MODULES_TRUNCATED,
	MB2_DIAG_MMAP_ENTRY_SIZE,       /* tag 6 entry_size unusable: tag skipped */
	MB2_DIAG_MMAP_PARTIAL,          /* trailing bytes shorter than an entry */
	MB2_DIAG_MEM_WRAPS,             /* base + len overflows: entry skipped */
	MB2_DIAG_MEM_TRUNCATED,
	MB2_DIAG_EFI_DESC_SIZE,         /* tag 17 descriptor_size too small */
	MB2_DIAG_EFI_DESC_VERSION,      /* descriptor_version != 1: still read */
	MB2_DIAG_NO_MEMORY_INFO,
	MB2_DIAG_NR_CODES,
};

/* One problem found in the block. tag is the tag type involved (or ~0U),
 * offset the tag's offset in the block, value the offending number. */
struct mb2_diag {
	enum mb2_diag_code code;
	uint32_t tag;
	uint32_t offset;
	uint64_t value;
	const char *msg;                /* static text, never NULL */
};

struct mb2_info {
	const char *cmdline;            /* tag 1; "" when absent */
	const char *loader_name;        /* tag 2; NULL when absent */

	/* Sorted by base; touching or overlapping regions of one type merged. */
	struct mb2_mem_region mem[MB2_MAX_MEM];
	uint32_t nr_mem;
	uint32_t nr_mem_dropped;        /* regions lost to MB2_MAX_MEM */
	enum mb2_mem_source mem_source;

	struct mb2_module modules[MB2_MAX_MODULES];
	uint32_t nr_modules;
	uint32_t nr_modules_dropped;    /* modules lost to MB2_MAX_MODULES */

	/* Copy of the RSDP from tag 15 if present, else tag 14. */
	uint8_t rsdp[MB2_RSDP_MAX];
	uint32_t rsdp_len;              /* 0 when neither tag was present */
	uint32_t rsdp_tag;              /* MB2_TAG_ACPI_NEW / _OLD / 0 */

	bool has_efi64_system_table;
	uint64_t efi64_system_table;
	bool has_efi64_image_handle;
	uint64_t efi64_image_handle;
	bool efi_boot_services_active;  /* tag 18 present */

	bool complete;                  /* the end tag was reached */
	uint32_t size;                  /* bytes of the block that were walked */

	struct mb2_diag diags[MB2_MAX_DIAGS];
	uint32_t nr_diags;
	uint32_t nr_diags_dropped;
};

/* Parse the block at info. max_size is how many bytes the caller has mapped
 * there; total_size from the block is believed only up to that. Returns 0
 * when the block could be read at all (problems in single tags become diags
 * and the rest is still used), or -1 when it could not (see diags[0]).
 *
 * Memory map choice: tag 6 wins when present and well formed, because the
 * loader builds it last, after its own allocations; tag 17 is used when tag 6
 * is absent or broken (UEFI boots), and tag 4 only when neither map exists.
 * The maps are not merged: two views of the same firmware data taken at
 * different times would only add conflicts. Every map marks the block itself,
 * the modules and Keel's image as usable RAM (spec, "Memory map"), so the caller must
 * carve those out before handing memory to an allocator. */
int mb2_parse(struct mb2_info *mi, const void *info, size_t max_size);

const char *mb2_mem_type_name(uint32_t type);

/* Command-line options are blank-separated words "key" or "key=value"; when
 * a key appears more than once, the last word wins (so a loader-appended
 * option overrides a default). */

/* Copy the value of key into buf (always NUL-terminated when len > 0; a bare
 * "key" gives ""). Returns the full value length, which is >= len when the
 * copy was truncated, or -1 when key is absent. */
int mb2_cmdline_get(const char *cmdline, const char *key, char *buf, size_t len);

/* Boolean option: bare "key", key=1/y/yes/on/true give true; key=0/n/no/off/
 * false give false; absent or anything else gives def. */
bool mb2_cmdline_bool(const char *cmdline, const char *key, bool def);

#endif
