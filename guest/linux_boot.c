/* The Linux boot protocol: setup header, placement, zero page (see
 * guest/linux_boot.h; field meanings from Documentation/arch/x86/boot.rst). */
#include "guest/linux_boot.h"
#include "guest/elf.h"
#include "arch/bytes.h"
#include "arch/string.h"

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* The magic numbers and the protocol version. */
static const char *linux_check_magic(const uint8_t *img, uint64_t size,
				     struct linux_header *h)
{
	if (size < LH_END_MIN)
		return "image too small for a Linux setup header (truncated?)";
	if (get16(img, LH_BOOT_FLAG) != LH_BOOT_FLAG_MAGIC)
		return "not a Linux kernel image (no 0xAA55 boot flag at 0x1fe)";
	if (get32(img, LH_HEADER) != LH_HEADER_MAGIC)
		return "not a bzImage (no \"HdrS\" setup header at 0x202)";
	h->version = get16(img, LH_VERSION);
	if (h->version < LH_VERSION_MIN)
		return "boot protocol older than 2.12 (no 64-bit entry point)";
	h->header_end = LH_JUMP + 2 + get8(img, LH_JUMP + 1);
	if (h->header_end < LH_END_MIN || h->header_end > 0x1000 ||
	    h->header_end > size)
		return "setup header length (byte at 0x201) out of range";
	return NULL;
}

/* Sizes of the real-mode setup and the protected-mode kernel. */
static const char *linux_check_sizes(const uint8_t *img, uint64_t size,
				     struct linux_header *h)
{
	uint64_t sects = get8(img, LH_SETUP_SECTS);
	uint64_t syssize = get32(img, LH_SYSSIZE);

	h->setup_size = ((sects ? sects : 4) + 1) * 512;
	if (h->setup_size < h->header_end || h->setup_size >= size)
		return "setup_sects points past the end of the image (truncated?)";
	h->kernel_size = size - h->setup_size;
	if (!syssize || syssize * 16 > h->kernel_size)
		return "syssize is zero or larger than the image (truncated?)";
	h->init_size = get32(img, LH_INIT_SIZE);
	if (h->init_size < syssize * 16)
		return "init_size is smaller than the kernel itself";
	return NULL;
}

const char *linux_parse_header(const uint8_t *img, uint64_t size,
			       struct linux_header *h)
{
	const char *why;

	*h = (struct linux_header){ 0 };
	why = linux_check_magic(img, size, h);
	if (!why)
		why = linux_check_sizes(img, size, h);
	if (why)
		return why;
	h->loadflags = get8(img, LH_LOADFLAGS);
	h->xloadflags = get16(img, LH_XLOADFLAGS);
	h->relocatable = get8(img, LH_RELOCATABLE) != 0;
	h->kernel_alignment = get32(img, LH_KERNEL_ALIGNMENT);
	h->initrd_addr_max = get32(img, LH_INITRD_ADDR_MAX);
	h->cmdline_size = get32(img, LH_CMDLINE_SIZE);
	h->pref_address = get64(img, LH_PREF_ADDRESS);
	if (!(h->loadflags & LOADFLAGS_LOADED_HIGH))
		return "a zImage (loaded low); only bzImages are supported";
	if (!(h->xloadflags & XLF_KERNEL_64))
		return "the kernel has no 64-bit entry point (xloadflags bit 0)";
	if (!is_pow2(h->kernel_alignment) || h->kernel_alignment < 4096 ||
	    h->kernel_alignment > (1u << 30))
		return "kernel_alignment is not a power of two from 4K to 1G";
	if (!h->relocatable && (h->pref_address & 0xfff))
		return "a non-relocatable kernel with an unaligned pref_address";
	h->entry_offset = LINUX_ENTRY64_OFFSET;
	return NULL;
}

/* Kernel load address: pref_address if it is usable, else the first
 * kernel_alignment boundary from 1 MiB (boot.rst: relocatable kernels may
 * go at any aligned address). */
static uint64_t linux_kernel_address(const struct linux_header *h)
{
	if (h->pref_address >= LINUX_HIGH_RAM || !h->relocatable)
		return h->pref_address;
	return ALIGN_UP(LINUX_HIGH_RAM, (uint64_t)h->kernel_alignment);
}

const char *linux_plan(const struct linux_header *h, uint64_t mem_size,
		       uint64_t initrd_size, uint64_t cmdline_len,
		       struct linux_layout *l)
{
	uint64_t ram_top = mem_size - LINUX_PT_SIZE;
	uint64_t kernel_end, initrd_top;

	*l = (struct linux_layout){ 0 };
	if (mem_size < LINUX_MIN_MEMORY || mem_size > (4ULL << 30))
		return "a Linux guest needs 32M to 4G of memory";
	if (cmdline_len >= LINUX_CMDLINE_MAX || cmdline_len > h->cmdline_size)
		return "the command line is longer than the kernel accepts";
	l->kernel = linux_kernel_address(h);
	if (l->kernel < LINUX_HIGH_RAM)
		return "pref_address lies below 1 MiB";
	kernel_end = l->kernel + MAX((uint64_t)h->init_size, h->kernel_size);
	if (kernel_end > ram_top)
		return "the kernel (init_size, or a vmlinux's segments) does not "
		       "fit in the guest's memory";
	l->entry = l->kernel + h->entry_offset;
	l->zero_page = LINUX_ZERO_PAGE;
	l->cmdline = LINUX_CMDLINE;
	l->stack = LINUX_BOOT_STACK;
	if (!initrd_size)
		return NULL;
	initrd_top = MIN(ram_top, (uint64_t)h->initrd_addr_max + 1);
	if (initrd_size > initrd_top)
		return "the initrd does not fit in the guest's memory";
	l->initrd = ALIGN_DOWN(initrd_top - initrd_size, 4096ULL);
	l->initrd_size = initrd_size;
	if (l->initrd < kernel_end)
		return "the initrd does not fit in the guest's memory above "
		       "the kernel (init_size)";
	return NULL;
}

unsigned int linux_e820(uint64_t mem_size, struct e820_entry *e,
			unsigned int max)
{
	const struct e820_entry map[] = {
		{ 0, LINUX_LOW_RAM_END, E820_RAM },
		{ LINUX_LOW_RAM_END, LINUX_ACPI_BASE - LINUX_LOW_RAM_END,
		  E820_RESERVED },
		{ LINUX_ACPI_BASE, LINUX_ACPI_SIZE, E820_ACPI },
		{ LINUX_ACPI_BASE + LINUX_ACPI_SIZE,
		  LINUX_HIGH_RAM - LINUX_ACPI_BASE - LINUX_ACPI_SIZE,
		  E820_RESERVED },
		{ LINUX_HIGH_RAM, mem_size - LINUX_PT_SIZE - LINUX_HIGH_RAM,
		  E820_RAM },
		{ mem_size - LINUX_PT_SIZE, LINUX_PT_SIZE, E820_RESERVED },
	};
	unsigned int n = MIN((unsigned int)ARRAY_SIZE(map), max);

	memcpy(e, map, n * sizeof(map[0]));
	return n;
}

/* The setup header of a vmlinux, which has none of its own: the fields
 * the kernel reads (the magic numbers, version, loadflags) and those a
 * bzImage of it would carry, from *h. */
static void linux_write_header(uint8_t *zp, const struct linux_header *h)
{
	put16(zp, LH_BOOT_FLAG, LH_BOOT_FLAG_MAGIC);
	put8(zp, LH_JUMP + 1, (uint8_t)(h->header_end - LH_JUMP - 2));
	put32(zp, LH_HEADER, LH_HEADER_MAGIC);
	put16(zp, LH_VERSION, h->version);
	put8(zp, LH_LOADFLAGS, h->loadflags);
	put32(zp, LH_INITRD_ADDR_MAX, h->initrd_addr_max);
	put32(zp, LH_KERNEL_ALIGNMENT, h->kernel_alignment);
	put8(zp, LH_RELOCATABLE, h->relocatable);
	put16(zp, LH_XLOADFLAGS, h->xloadflags);
	put32(zp, LH_CMDLINE_SIZE, h->cmdline_size);
	put64(zp, LH_PREF_ADDRESS, h->pref_address);
	put32(zp, LH_INIT_SIZE, h->init_size);
}

void linux_zero_page(uint8_t *zp, const uint8_t *img,
		     const struct linux_header *h, const struct linux_layout *l,
		     uint64_t mem_size, uint64_t rsdp)
{
	struct e820_entry e[BP_E820_MAX];
	unsigned int n = linux_e820(mem_size, e, BP_E820_MAX);

	memset(zp, 0, BP_SIZE);
	if (img)
		memcpy(zp + LH_SETUP_SECTS, img + LH_SETUP_SECTS,
		       h->header_end - LH_SETUP_SECTS);
	else
		linux_write_header(zp, h);
	put8(zp, LH_TYPE_OF_LOADER, LINUX_LOADER_TYPE);
	put8(zp, LH_LOADFLAGS, h->loadflags | LOADFLAGS_LOADED_HIGH);
	put32(zp, LH_CODE32_START, (uint32_t)l->kernel);
	put32(zp, LH_CMD_LINE_PTR, (uint32_t)l->cmdline);
	put32(zp, BP_EXT_CMD_LINE_PTR, (uint32_t)(l->cmdline >> 32));
	put32(zp, LH_RAMDISK_IMAGE, (uint32_t)l->initrd);
	put32(zp, LH_RAMDISK_SIZE, (uint32_t)l->initrd_size);
	put32(zp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(l->initrd >> 32));
	put32(zp, BP_EXT_RAMDISK_SIZE, (uint32_t)(l->initrd_size >> 32));
	if (h->version >= LH_VERSION_RSDP)
		put64(zp, BP_ACPI_RSDP_ADDR, rsdp);
	put8(zp, BP_E820_ENTRIES, (uint8_t)n);
	memcpy(zp + BP_E820_TABLE, e, n * sizeof(e[0]));
}

void linux_boot_gdt(uint64_t gdt[LINUX_GDT_ENTRIES])
{
	memset(gdt, 0, LINUX_GDT_ENTRIES * sizeof(gdt[0]));
	gdt[LINUX_BOOT_CS / 8] = LINUX_GDT_CODE64;
	gdt[LINUX_BOOT_DS / 8] = LINUX_GDT_DATA;
}
