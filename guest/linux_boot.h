/*
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst): reading
 * a bzImage's setup header, or the program headers of a vmlinux ELF booted
 * without its decompressor, choosing where the kernel, initrd, zero page
 * and command line go in guest RAM, and building the zero page
 * (struct boot_params) with its e820 map. Pure code: no guest state, so
 * it is tested on the host (tests/unit/test_linux_boot.c).
 *
 * Guest-physical layout of a Linux guest (RAM from 0 to mem_size):
 *
 *   0x00000000 +-------------------------------+
 *              | usable low RAM                |  (AP trampoline, etc.)
 *   0x00007000 | boot stack (grows down)       |
 *   0x00008000 | zero page (boot_params)       |
 *   0x00009000 | command line                  |
 *   0x0000a000 | boot GDT                      |
 *   0x0009f000 +-------------------------------+ e820 reserved
 *   0x000e0000 | ACPI tables (RSDP first)      |
 *   0x00100000 +-------------------------------+ e820 usable
 *              | ...                           |
 *   pref_address (or aligned up from 1 MiB)    |
 *              | protected-mode kernel, then   |
 *              | room for init_size (vmlinux:  |
 *              | segments at their p_paddr)    |
 *              | ...                           |
 *              | initrd (page-aligned, high)   |
 *   size - 64K +-------------------------------+ e820 reserved
 *              | identity page tables          |
 *   size       +-------------------------------+
 */
#ifndef KEEL_GUEST_LINUX_BOOT_H
#define KEEL_GUEST_LINUX_BOOT_H

#include "arch/compiler.h"

#define LINUX_ZERO_PAGE         0x8000ULL
#define LINUX_CMDLINE           0x9000ULL
#define LINUX_CMDLINE_MAX       2048
#define LINUX_BOOT_GDT          0xa000ULL
#define LINUX_BOOT_STACK        0x7000ULL
#define LINUX_LOW_RAM_END       0x9f000ULL
#define LINUX_ACPI_BASE         0xe0000ULL
#define LINUX_ACPI_SIZE         0x10000ULL
#define LINUX_HIGH_RAM          0x100000ULL
#define LINUX_PT_SIZE           (64 * 1024ULL)  /* = BOOTINFO_PT_SIZE */
#define LINUX_MIN_MEMORY        (32 * 1024 * 1024ULL)

/* Setup header offsets in the image and the zero page (boot.rst, "The
 * real-mode kernel header"). */
#define LH_SETUP_SECTS          0x1f1
#define LH_SYSSIZE              0x1f4
#define LH_BOOT_FLAG            0x1fe
#define LH_JUMP                 0x200
#define LH_HEADER               0x202
#define LH_VERSION              0x206
#define LH_TYPE_OF_LOADER       0x210
#define LH_LOADFLAGS            0x211
#define LH_CODE32_START         0x214
#define LH_RAMDISK_IMAGE        0x218
#define LH_RAMDISK_SIZE         0x21c
#define LH_CMD_LINE_PTR         0x228
#define LH_INITRD_ADDR_MAX      0x22c
#define LH_KERNEL_ALIGNMENT     0x230
#define LH_RELOCATABLE          0x234
#define LH_XLOADFLAGS           0x236
#define LH_CMDLINE_SIZE         0x238
#define LH_PREF_ADDRESS         0x258
#define LH_INIT_SIZE            0x260
#define LH_END_MIN              0x268   /* fields Keel reads end here */

#define LH_BOOT_FLAG_MAGIC      0xaa55
#define LH_HEADER_MAGIC         0x53726448      /* "HdrS" */
#define LH_VERSION_MIN          0x020c          /* 2.12: xloadflags */
#define LH_VERSION_RSDP         0x020e          /* 2.14: acpi_rsdp_addr */
#define LOADFLAGS_LOADED_HIGH   BIT_ULL(0)
#define XLF_KERNEL_64           BIT_ULL(0)
#define LINUX_LOADER_TYPE       0xff            /* undefined boot loader */
#define LINUX_ENTRY64_OFFSET    0x200           /* startup_64 */
#define LINUX_INITRD_ADDR_MAX   0x7fffffffU     /* protocol 2.03+ default */

/* The 64-bit boot protocol's GDT: flat 4G segments at __BOOT_CS and
 * __BOOT_DS (boot.rst, "64-bit Boot Protocol"). */
#define LINUX_BOOT_CS           0x10
#define LINUX_BOOT_DS           0x18
#define LINUX_GDT_ENTRIES       4
#define LINUX_GDT_CODE64        0x00af9b000000ffffULL   /* G, L, P, S, X/R */
#define LINUX_GDT_DATA          0x00cf93000000ffffULL   /* G, D/B, P, S, R/W */

/* Zero page (struct boot_params) offsets outside the setup header. */
#define BP_ACPI_RSDP_ADDR       0x070
#define BP_EXT_RAMDISK_IMAGE    0x0c0
#define BP_EXT_RAMDISK_SIZE     0x0c4
#define BP_EXT_CMD_LINE_PTR     0x0c8
#define BP_E820_ENTRIES         0x1e8
#define BP_SENTINEL             0x1ef
#define BP_E820_TABLE           0x2d0
#define BP_E820_MAX             128
#define BP_SIZE                 4096

#define E820_RAM                1
#define E820_RESERVED           2
#define E820_ACPI               3

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __packed;
_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry");
_Static_assert(BP_E820_TABLE + BP_E820_MAX * 20 <= BP_SIZE, "zero page");

/* What Keel uses of a validated setup header. */
struct linux_header {
	uint16_t version;
	uint8_t loadflags;
	uint16_t xloadflags;
	bool relocatable;
	uint64_t setup_size;            /* (setup_sects + 1) * 512 */
	uint64_t kernel_size;           /* protected-mode part in the file */
	uint32_t kernel_alignment;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;          /* without the terminating NUL */
	uint64_t pref_address;
	uint32_t init_size;
	uint64_t header_end;            /* 0x202 + byte at 0x201 */
	uint64_t entry_offset;          /* startup_64 from the load address */
};

/* A vmlinux ELF: its loadable segments, in file order. */
#define LINUX_ELF_MAX_LOADS     8
struct linux_segment {
	uint64_t offset, paddr, filesz, memsz, align;
};

struct linux_elf {
	unsigned int nr_loads;
	struct linux_segment loads[LINUX_ELF_MAX_LOADS];
};

/* Where the pieces go in guest RAM. */
struct linux_layout {
	uint64_t kernel;                /* protected-mode kernel load address */
	uint64_t entry;                 /* startup_64 */
	uint64_t initrd, initrd_size;   /* 0, 0 without an initrd */
	uint64_t zero_page, cmdline, stack;
};

/*
 * Validates the setup header of a bzImage of `size` bytes and fills *h.
 * Returns NULL or why the image cannot be booted (truncated file, not a
 * bzImage, protocol before 2.12, no 64-bit entry point, ...).
 */
const char *linux_parse_header(const uint8_t *img, uint64_t size,
			       struct linux_header *h);

/* True when the image starts with the ELF magic (a vmlinux, not a bzImage). */
bool linux_is_elf(const uint8_t *img, uint64_t size);

/*
 * Validates a vmlinux ELF of `size` bytes and fills *e with its PT_LOAD
 * segments and *h with the setup header its bzImage would describe, for
 * linux_plan() and linux_zero_page(): protocol 2.15, a 64-bit kernel
 * loaded high, not relocatable (the segments go at their physical
 * addresses), pref_address = the lowest segment, init_size = every
 * segment with its bss and brk, the entry point as entry_offset. Refuses
 * (returns why) a file that is not an x86-64 ELF64 executable, program
 * headers or segments outside the file (truncated), no or too many
 * PT_LOAD segments, segments that overlap one another or start below
 * 1 MiB (Keel's boot data for Linux lives there) and an entry point
 * outside the executable segments.
 */
const char *linux_parse_elf(const uint8_t *img, uint64_t size,
			    struct linux_header *h, struct linux_elf *e);

/*
 * Places the kernel (at pref_address when relocatable and it fits, else
 * the lowest aligned address from 1 MiB), and the initrd as high as
 * possible below the page tables and initrd_addr_max. Checks that the
 * kernel's init_size and the initrd fit in `mem_size` bytes of RAM
 * without overlapping, and that the command line of `cmdline_len` bytes
 * is short enough. Returns NULL or the reason.
 */
const char *linux_plan(const struct linux_header *h, uint64_t mem_size,
		       uint64_t initrd_size, uint64_t cmdline_len,
		       struct linux_layout *l);

/* The e820 map of a Linux guest with mem_size bytes of RAM (layout above);
 * returns the number of entries written to e[] (at most `max`). */
unsigned int linux_e820(uint64_t mem_size, struct e820_entry *e,
			unsigned int max);

/*
 * Builds the zero page in zp[BP_SIZE]: zeroes, the image's setup header
 * copied in (img NULL, a vmlinux: the header written from *h), then
 * type_of_loader, loadflags, command line pointer, initrd address and
 * size, ACPI RSDP address (protocol 2.14+) and the e820 map.
 */
void linux_zero_page(uint8_t *zp, const uint8_t *img,
		     const struct linux_header *h, const struct linux_layout *l,
		     uint64_t mem_size, uint64_t rsdp);

/* The boot GDT (LINUX_GDT_ENTRIES descriptors) for LINUX_BOOT_GDT. */
void linux_boot_gdt(uint64_t gdt[LINUX_GDT_ENTRIES]);

#endif
