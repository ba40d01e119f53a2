/*
 * Guest image loaders: ELF64, multiboot v1 (ELF32 or a.out kludge), flat
 * binaries and real-mode binaries. Every offset and address in an image is
 * checked against the image's size and the guest's RAM before use.
 */
#include "guest/loader.h"
#include "guest/bootinfo.h"
#include "guest/boot_place.h"
#include "guest/elf.h"
#include "guest/guest.h"
#include "guest/acpi_tables.h"
#include "arch/string.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "vmx/vmx.h"

/* One loadable segment, after its header has been widened to 64 bits. */
struct segment {
	uint64_t offset, paddr, filesz, memsz;
};

/* Copies a segment into guest RAM (bss zeroed), refusing anything that
 * leaves the image or the guest's RAM, and marks its range taken for the
 * boot information placed after it. */
static const char *load_segment(struct guest *g, const struct loader_image *img,
				const struct segment *s, struct boot_ranges *used)
{
	static const uint8_t zero[256];

	if (s->filesz > s->memsz || s->offset > img->size ||
	    s->filesz > img->size - s->offset)
		return "a segment lies outside the image file (truncated image?)";
	if (s->paddr > g->mem_size || s->memsz > g->mem_size - s->paddr)
		return "a segment does not fit in the guest's memory";
	if (!guest_write(g, s->paddr, img->data + s->offset, s->filesz))
		return "a segment does not fit in the guest's memory";
	for (uint64_t o = s->filesz; o < s->memsz; o += sizeof(zero))
		guest_write(g, s->paddr + o, zero, MIN(sizeof(zero), s->memsz - o));
	boot_ranges_add(used, s->paddr, s->paddr + s->memsz);
	return NULL;
}

static const char *elf_check_ident(const struct loader_image *img, int class,
				   uint64_t hdr_size)
{
	if (img->size < hdr_size)
		return "image too small for an ELF header";
	if (*(const uint32_t *)img->data != ELF_MAGIC)
		return "not an ELF file (bad magic)";
	if (img->data[4] != class)
		return class == ELFCLASS64 ? "not a 64-bit ELF file"
					   : "not a 32-bit ELF file";
	if (img->data[5] != ELFDATA2LSB)
		return "not a little-endian ELF file";
	return NULL;
}

static const char *elf_phdrs_ok(const struct loader_image *img, uint64_t phoff,
				uint64_t phnum, uint64_t phentsize, uint64_t min)
{
	if (phentsize < min || phnum == 0 || phnum > 256)
		return "bad ELF program header table";
	if (phoff > img->size || phnum * phentsize > img->size - phoff)
		return "ELF program headers lie outside the image (truncated image?)";
	return NULL;
}

static const char *load_elf32(struct guest *g, const struct loader_image *img,
			      uint64_t *entry, struct boot_ranges *used)
{
	const struct elf32_ehdr *eh = (const void *)img->data;
	const char *why = elf_check_ident(img, ELFCLASS32, sizeof(*eh));

	if (!why && eh->machine != EM_386)
		why = "ELF machine is not i386";
	if (!why)
		why = elf_phdrs_ok(img, eh->phoff, eh->phnum, eh->phentsize,
				   sizeof(struct elf32_phdr));
	for (unsigned int i = 0; !why && i < eh->phnum; i++) {
		const struct elf32_phdr *ph =
			(const void *)(img->data + eh->phoff + i * eh->phentsize);
		struct segment s = { ph->offset, ph->paddr, ph->filesz, ph->memsz };

		if (ph->type == PT_LOAD)
			why = load_segment(g, img, &s, used);
	}
	*entry = eh->entry;
	return why;
}

static const char *load_elf64(struct guest *g, const struct loader_image *img,
			      uint64_t *entry, struct boot_ranges *used)
{
	const struct elf64_ehdr *eh = (const void *)img->data;
	const char *why = elf_check_ident(img, ELFCLASS64, sizeof(*eh));

	if (!why && eh->machine != EM_X86_64)
		why = "ELF machine is not x86-64";
	if (!why)
		why = elf_phdrs_ok(img, eh->phoff, eh->phnum, eh->phentsize,
				   sizeof(struct elf64_phdr));
	for (unsigned int i = 0; !why && i < eh->phnum; i++) {
		const struct elf64_phdr *ph =
			(const void *)(img->data + eh->phoff + i * eh->phentsize);
		struct segment s = { ph->offset, ph->paddr, ph->filesz, ph->memsz };

		if (ph->type == PT_LOAD)
			why = load_segment(g, img, &s, used);
	}
	*entry = eh->entry;
	return why;
}

/* Multiboot v1 header (Multiboot 0.6.96, 3.1.1). */
#define MB1_HEADER_MAGIC    0x1badb002
#define MB1_SEARCH          8192
#define MB1_FLAG_AOUT_KLUDGE BIT_ULL(16)
#define MB1_FLAGS_REQUIRED  0x0000ffffULL   /* bits 0-15 must be understood */
#define MB1_FLAGS_KNOWN     0x7ULL          /* page-align, meminfo, video */

struct mb1_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
} __packed;

static const struct mb1_header *mb1_find(const struct loader_image *img,
					 uint64_t *off)
{
	uint64_t limit = MIN(img->size, (uint64_t)MB1_SEARCH);

	for (uint64_t o = 0; o + 12 <= limit; o += 4) {
		const struct mb1_header *h = (const void *)(img->data + o);

		if (h->magic == MB1_HEADER_MAGIC &&
		    (uint32_t)(h->magic + h->flags + h->checksum) == 0) {
			*off = o;
			return h;
		}
	}
	return NULL;
}

/* The a.out kludge: the header gives the load addresses (3.1.3). */
static const char *load_mb1_aout(struct guest *g, const struct loader_image *img,
				 const struct mb1_header *h, uint64_t off,
				 uint64_t *entry, struct boot_ranges *used)
{
	struct segment s;

	if (off + sizeof(*h) > img->size || h->header_addr < h->load_addr ||
	    off < h->header_addr - h->load_addr)
		return "bad multiboot a.out header";
	s.offset = off - (h->header_addr - h->load_addr);
	s.paddr = h->load_addr;
	s.filesz = (h->load_end_addr ? h->load_end_addr : img->size - s.offset +
		    h->load_addr) - h->load_addr;
	s.memsz = MAX(s.filesz, (uint64_t)(h->bss_end_addr > h->load_addr ?
			       h->bss_end_addr - h->load_addr : 0));
	*entry = h->entry_addr;
	return load_segment(g, img, &s, used);
}

static const char *load_multiboot(struct guest *g, const struct loader_image *img,
				  uint64_t *entry, struct boot_ranges *used)
{
	uint64_t off;
	const struct mb1_header *h = mb1_find(img, &off);

	if (!h)
		return "no multiboot header in the first 8 KiB";
	if (h->flags & MB1_FLAGS_REQUIRED & ~MB1_FLAGS_KNOWN)
		return "multiboot header asks for features Keel does not offer";
	if (h->flags & MB1_FLAG_AOUT_KLUDGE)
		return load_mb1_aout(g, img, h, off, entry, used);
	return load_elf32(g, img, entry, used);
}

static const char *load_flat(struct guest *g, const struct loader_image *img,
			     uint64_t load, struct boot_ranges *used)
{
	struct segment s = { 0, load, img->size, img->size };

	return load_segment(g, img, &s, used);
}

static const char *load_format(struct guest *g, const struct loader_image *img,
			       struct vcpu_boot *boot,
			       struct boot_ranges *used)
{
	const struct config_guest *c = g->cfg;
	uint64_t entry = 0;
	const char *why;

	switch (c->format) {
	case CONFIG_FORMAT_MULTIBOOT:
		why = load_multiboot(g, img, &entry, used);
		boot->mode = VCPU_MODE_PROT32;
		break;
	case CONFIG_FORMAT_ELF64:
		why = load_elf64(g, img, &entry, used);
		boot->mode = VCPU_MODE_LONG64;
		break;
	case CONFIG_FORMAT_FLAT:
		why = load_flat(g, img, c->load, used);
		entry = c->has_entry ? c->entry : c->load;
		boot->mode = VCPU_MODE_PROT32;
		break;
	case CONFIG_FORMAT_REALMODE:
		if (!vmx_caps.ug)
			return "real-mode guests need unrestricted guest, "
			       "which this CPU lacks";
		why = load_flat(g, img, c->has_load ? c->load : 0x7c00, used);
		entry = c->has_entry ? c->entry : c->has_load ? c->load : 0x7c00;
		boot->mode = VCPU_MODE_REAL;
		break;
	default:
		return "this image format is not supported yet";
	}
	boot->rip = entry;
	return why;
}

/* The tables are built in a scratch page; the RSDP at ACPI_TABLES_GPA
 * is where an OS without firmware finds it (ACPI 6.5 5.2.5.1: the first
 * 16-byte boundary in 0xE0000-0xFFFFF holding its signature). */
uint64_t loader_write_acpi(struct guest *g)
{
	uint64_t pa = mm_alloc_pages(0), rsdp;

	if (pa == FRAME_NONE)
		return 0;
	rsdp = acpi_tables_build(phys_to_virt(pa), ACPI_TABLES_GPA,
				 g->cfg->cpu_count,
				 (g->cfg->devices & CONFIG_DEVICE_RTC) != 0,
				 (g->dev.enabled & CONFIG_DEVICE_PCI) != 0);
	if (rsdp && !guest_write(g, ACPI_TABLES_GPA, phys_to_virt(pa),
				 ACPI_TABLES_SIZE))
		rsdp = 0;
	mm_free_pages(pa, 0);
	return rsdp;
}

/* Every guest whose RAM covers the BIOS area gets ACPI tables there,
 * unless its image loaded something there: the image's bytes stay. */
static const char *load_acpi(struct guest *g, const struct boot_ranges *used)
{
	if (g->mem_size < ACPI_TABLES_GPA + ACPI_TABLES_SIZE ||
	    boot_ranges_overlap(used, ACPI_TABLES_GPA,
				ACPI_TABLES_GPA + ACPI_TABLES_SIZE))
		return NULL;
	return loader_write_acpi(g) ? NULL : "its ACPI tables cannot be written";
}

const char *loader_load(struct guest *g, const struct loader_image *img,
			const struct loader_module *mods, unsigned int nr_mods,
			struct vcpu_boot *boot)
{
	struct boot_ranges used = { .n = 0 };
	const char *why;

	if (g->cfg->format == CONFIG_FORMAT_LINUX)
		return loader_load_linux(g, img, nr_mods ? &mods[0] : NULL, boot);
	why = load_format(g, img, boot, &used);
	if (!why)
		why = load_acpi(g, &used);

	if (why || boot->mode == VCPU_MODE_REAL) {
		if (boot->mode == VCPU_MODE_REAL && !why) {
			boot->cs = (uint16_t)((boot->rip >> 4) & 0xf000);
			boot->rip -= (uint64_t)boot->cs << 4;
		}
		return why;
	}
	if (boot->mode == VCPU_MODE_LONG64) {
		why = bootinfo_page_tables(g, &boot->cr3);
		if (why)
			return why;
	}
	why = bootinfo_write(g, img->name, mods, nr_mods, &used, &boot->rbx);
	boot->rax = MB1_BOOTLOADER_MAGIC;
	return why;
}
