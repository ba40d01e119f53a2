/*
 * A vmlinux ELF booted directly, without the decompressor of its bzImage
 * (tools/extract-vmlinux makes one from a bzImage). An x86-64 vmlinux
 * links the kernel at its virtual address but gives every PT_LOAD
 * segment its physical load address (p_paddr; the per-CPU segment even
 * has p_vaddr 0), and e_entry is the physical address of startup_64, the
 * entry point of the 64-bit boot protocol. The segments go exactly
 * there, and the setup header a bzImage of the same kernel would carry is
 * made up from them (guest/linux_boot.h).
 */
#include "guest/linux_boot.h"
#include "guest/elf.h"
#include "arch/string.h"

#define ELF_VERSION             0x020f  /* boot protocol 2.15 (Linux 5.5+) */
#define ELF_HEADER_END          0x26c   /* end of the 2.15 setup header */
#define ELF_ADDR_LIMIT          (4ULL << 30)    /* Linux guests: RAM < 4G */
#define ELF_ALIGN_MIN           4096ULL
#define ELF_ALIGN_MAX           (1ULL << 30)

bool linux_is_elf(const uint8_t *img, uint64_t size)
{
	uint32_t magic;

	if (size < sizeof(magic))
		return false;
	memcpy(&magic, img, sizeof(magic));
	return magic == ELF_MAGIC;
}

static const char *elf_check_ehdr(const uint8_t *img, uint64_t size,
				  struct elf64_ehdr *eh)
{
	if (size < sizeof(*eh))
		return "vmlinux: too small for an ELF header (truncated?)";
	memcpy(eh, img, sizeof(*eh));
	if (eh->ident[4] != ELFCLASS64 || eh->ident[5] != ELFDATA2LSB)
		return "vmlinux: not a little-endian 64-bit ELF file";
	if (eh->machine != EM_X86_64)
		return "vmlinux: the ELF machine is not x86-64";
	if (eh->type != ET_EXEC)
		return "vmlinux: not an ELF executable";
	if (eh->phentsize < sizeof(struct elf64_phdr) || eh->phnum == 0)
		return "vmlinux: bad ELF program header table";
	if (eh->phoff > size ||
	    (uint64_t)eh->phnum * eh->phentsize > size - eh->phoff)
		return "vmlinux: the program headers lie outside the file "
		       "(truncated?)";
	return NULL;
}

/* One PT_LOAD segment on its own: inside the file, in 1 MiB to 4 GiB. */
static const char *elf_check_segment(const struct elf64_phdr *ph,
				     uint64_t size)
{
	if (ph->filesz > ph->memsz)
		return "vmlinux: a segment has more bytes in the file than in "
		       "memory";
	if (ph->offset > size || ph->filesz > size - ph->offset)
		return "vmlinux: a segment lies outside the file (truncated?)";
	if (ph->paddr < LINUX_HIGH_RAM)
		return "vmlinux: a segment starts below 1 MiB, where Keel puts "
		       "the zero page, command line and ACPI tables";
	if (ph->paddr >= ELF_ADDR_LIMIT ||
	    ph->memsz > ELF_ADDR_LIMIT - ph->paddr)
		return "vmlinux: a segment ends above 4 GiB, past any Linux "
		       "guest's memory";
	return NULL;
}

static bool segments_overlap(const struct linux_segment *a,
			     const struct linux_segment *b)
{
	return a->paddr < b->paddr + b->memsz && b->paddr < a->paddr + a->memsz;
}

/* Adds a checked segment to *e unless it overlaps one already there. */
static const char *elf_add_segment(struct linux_elf *e,
				   const struct elf64_phdr *ph)
{
	struct linux_segment s = { ph->offset, ph->paddr, ph->filesz,
				   ph->memsz, ph->align };

	if (e->nr_loads == LINUX_ELF_MAX_LOADS)
		return "vmlinux: more PT_LOAD segments than Keel loads";
	for (unsigned int i = 0; i < e->nr_loads; i++)
		if (segments_overlap(&s, &e->loads[i]))
			return "vmlinux: two segments overlap";
	e->loads[e->nr_loads++] = s;
	return NULL;
}

/* Collects the non-empty PT_LOAD segments; *entry_ok says whether e_entry
 * lies in the file bytes of an executable one. */
static const char *elf_collect(const uint8_t *img, uint64_t size,
			       const struct elf64_ehdr *eh, struct linux_elf *e,
			       bool *entry_ok)
{
	const char *why = NULL;

	*entry_ok = false;
	for (unsigned int i = 0; !why && i < eh->phnum; i++) {
		struct elf64_phdr ph;

		memcpy(&ph, img + eh->phoff + (uint64_t)i * eh->phentsize,
		       sizeof(ph));
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		why = elf_check_segment(&ph, size);
		if (!why)
			why = elf_add_segment(e, &ph);
		if (!why && (ph.flags & PF_X) && eh->entry >= ph.paddr &&
		    eh->entry - ph.paddr < ph.filesz)
			*entry_ok = true;
	}
	if (!why && e->nr_loads == 0)
		why = "vmlinux: no PT_LOAD segment";
	return why;
}

/* The alignment a bzImage would state: the lowest segment's p_align
 * (CONFIG_PHYSICAL_ALIGN for a vmlinux) when it is sane, else 4 KiB.
 * Only boot loaders read it; the kernel itself does not. */
static uint32_t elf_alignment(uint64_t align, uint64_t base)
{
	if (align < ELF_ALIGN_MIN || align > ELF_ALIGN_MAX ||
	    (align & (align - 1)) || (base & (align - 1)))
		return (uint32_t)ELF_ALIGN_MIN;
	return (uint32_t)align;
}

static void elf_fill_header(struct linux_header *h, const struct linux_elf *e,
			    uint64_t entry)
{
	uint64_t lo = ~0ULL, hi = 0, lowest_align = 0;

	for (unsigned int i = 0; i < e->nr_loads; i++) {
		if (e->loads[i].paddr < lo) {
			lo = e->loads[i].paddr;
			lowest_align = e->loads[i].align;
		}
		hi = MAX(hi, e->loads[i].paddr + e->loads[i].memsz);
	}
	*h = (struct linux_header){
		.version = ELF_VERSION,
		.loadflags = LOADFLAGS_LOADED_HIGH,
		.xloadflags = XLF_KERNEL_64,
		.relocatable = false,
		.kernel_size = hi - lo,
		.kernel_alignment = elf_alignment(lowest_align, lo),
		.initrd_addr_max = LINUX_INITRD_ADDR_MAX,
		.cmdline_size = LINUX_CMDLINE_MAX - 1,
		.pref_address = lo,
		.init_size = (uint32_t)(hi - lo),
		.header_end = ELF_HEADER_END,
		.entry_offset = entry - lo,
	};
}

const char *linux_parse_elf(const uint8_t *img, uint64_t size,
			    struct linux_header *h, struct linux_elf *e)
{
	struct elf64_ehdr eh;
	bool entry_ok;
	const char *why;

	*e = (struct linux_elf){ 0 };
	*h = (struct linux_header){ 0 };
	why = elf_check_ehdr(img, size, &eh);
	if (!why)
		why = elf_collect(img, size, &eh, e, &entry_ok);
	if (why)
		return why;
	if (!entry_ok)
		return "vmlinux: the entry point is not inside an executable "
		       "segment";
	elf_fill_header(h, e, eh.entry);
	return NULL;
}
