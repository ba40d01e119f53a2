/* Host tests for guest/linux_elf.c: a vmlinux ELF as a Linux boot image
 * (valid, truncated and hostile files), its placement by linux_plan(),
 * and the zero page with the setup header made up for it.
 * Files live in heap buffers of exactly their size, so AddressSanitizer
 * catches any read past the end. */
#include "tests/unit/test.h"
#include "guest/linux_boot.h"
#include "guest/elf.h"

/* A small vmlinux laid out like Debian's: text, data, the per-CPU
 * segment (p_vaddr 0) and init + bss + brk, then a PT_NOTE. */
#define NR_PHDRS        5
#define PHOFF           64
#define FILE_SIZE       0x6000
#define KERNEL_BASE     0x1000000ULL

struct seg_spec {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static const struct seg_spec segs[NR_PHDRS] = {
	{ PT_LOAD, 5, 0x1000, 0xffffffff81000000, 0x1000000, 0x2000, 0x2000,
	  0x200000 },
	{ PT_LOAD, 6, 0x3000, 0xffffffff81200000, 0x1200000, 0x1000, 0x1000,
	  0x200000 },
	{ PT_LOAD, 6, 0x4000, 0, 0x1400000, 0x1000, 0x1000, 0x200000 },
	{ PT_LOAD, 7, 0x5000, 0xffffffff81600000, 0x1600000, 0x1000, 0x9000,
	  0x200000 },
	{ 4 /* PT_NOTE */, 4, 0x1800, 0xffffffff81000800, 0x1000800, 0x40,
	  0x40, 4 },
};

static void put_phdr(uint8_t *p, unsigned int i, const struct seg_spec *s)
{
	struct elf64_phdr ph = { s->type, s->flags, s->offset, s->vaddr,
				 s->paddr, s->filesz, s->memsz, s->align };

	memcpy(p + PHOFF + i * sizeof(ph), &ph, sizeof(ph));
}

static uint8_t *make_elf(void)
{
	uint8_t *p = calloc(1, FILE_SIZE);
	struct elf64_ehdr eh = {
		.ident = { 0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, 1 },
		.type = ET_EXEC, .machine = EM_X86_64, .version = 1,
		.entry = KERNEL_BASE, .phoff = PHOFF, .ehsize = sizeof(eh),
		.phentsize = sizeof(struct elf64_phdr), .phnum = NR_PHDRS,
	};

	memcpy(p, &eh, sizeof(eh));
	for (unsigned int i = 0; i < NR_PHDRS; i++)
		put_phdr(p, i, &segs[i]);
	return p;
}

static const char *parse(const uint8_t *p, size_t size, struct linux_header *h,
			 struct linux_elf *e)
{
	uint8_t *copy = malloc(size ? size : 1);
	const char *why;

	memcpy(copy, p, size);
	why = linux_parse_elf(copy, size, h, e);
	free(copy);
	return why;
}

TEST(is_elf)
{
	uint8_t *p = make_elf();

	EXPECT(linux_is_elf(p, FILE_SIZE));
	EXPECT(!linux_is_elf(p, 3));
	p[1] = 'X';
	EXPECT(!linux_is_elf(p, FILE_SIZE));
	free(p);
}

TEST(valid_segments_and_header)
{
	uint8_t *p = make_elf();
	struct linux_header h;
	struct linux_elf e;

	ASSERT(parse(p, FILE_SIZE, &h, &e) == NULL);
	ASSERT(e.nr_loads == 4);                /* the PT_NOTE is not loaded */
	EXPECT_EQ(e.loads[0].paddr, 0x1000000);
	EXPECT_EQ(e.loads[0].offset, 0x1000);
	EXPECT_EQ(e.loads[2].paddr, 0x1400000); /* per-CPU: p_vaddr 0 */
	EXPECT_EQ(e.loads[3].filesz, 0x1000);
	EXPECT_EQ(e.loads[3].memsz, 0x9000);
	EXPECT_EQ(h.version, 0x020f);
	EXPECT_EQ(h.loadflags, LOADFLAGS_LOADED_HIGH);
	EXPECT_EQ(h.xloadflags, XLF_KERNEL_64);
	EXPECT(!h.relocatable);
	EXPECT_EQ(h.pref_address, KERNEL_BASE);
	EXPECT_EQ(h.init_size, 0x1609000 - KERNEL_BASE);        /* with bss */
	EXPECT_EQ(h.kernel_size, h.init_size);
	EXPECT_EQ(h.kernel_alignment, 0x200000);
	EXPECT_EQ(h.entry_offset, 0);
	EXPECT_EQ(h.cmdline_size, LINUX_CMDLINE_MAX - 1);
	EXPECT_EQ(h.initrd_addr_max, 0x7fffffff);
	EXPECT_EQ(h.header_end, 0x26c);
	free(p);
}

/* An entry point past the start, segments out of address order, and an
 * alignment that does not fit the base (then 4 KiB is stated). */
TEST(entry_offset_order_and_alignment)
{
	uint8_t *p = make_elf();
	struct seg_spec text = segs[0], data = segs[1];
	struct linux_header h;
	struct linux_elf e;
	uint64_t entry = KERNEL_BASE + 0x1234 + 0x100000;

	text.paddr += 0x100000;                 /* text above data now */
	data.paddr = 0xe00000;                  /* the lowest, */
	data.align = 0x400000;                  /* not aligned to its p_align */
	put_phdr(p, 0, &text);
	put_phdr(p, 1, &data);
	memcpy(p + 24, &entry, 8);              /* e_entry */
	ASSERT(parse(p, FILE_SIZE, &h, &e) == NULL);
	EXPECT_EQ(h.pref_address, 0xe00000);
	EXPECT_EQ(h.entry_offset, entry - 0xe00000);
	EXPECT_EQ(h.kernel_alignment, 4096);
	free(p);
}

/* Every proper prefix of the file is refused (the last segment's bytes
 * reach its end). */
TEST(every_truncation_refused)
{
	uint8_t *p = make_elf();
	struct linux_header h;
	struct linux_elf e;
	int accepted = 0;

	for (size_t n = 0; n < FILE_SIZE; n += (n < 0x200 ? 1 : 61))
		accepted += parse(p, n, &h, &e) == NULL;
	EXPECT_EQ(accepted, 0);
	EXPECT(parse(p, FILE_SIZE - 1, &h, &e) != NULL);
	free(p);
}

#define PH(i, field) (PHOFF + (i) * sizeof(struct elf64_phdr) + \
		      offsetof(struct elf64_phdr, field))

static const struct test_mutation mutations[] = {
	{ "ELF32", 4, 1, ELFCLASS32, "64-bit" },
	{ "big endian", 5, 1, 2, "little-endian" },
	{ "i386", 18, 2, EM_386, "x86-64" },
	{ "ET_DYN", 16, 2, 3, "executable" },
	{ "phentsize small", 54, 2, 32, "program header" },
	{ "phnum 0", 56, 2, 0, "program header" },
	{ "phoff past the end", 32, 8, FILE_SIZE, "outside the file" },
	{ "phoff huge", 32, 8, ~0ULL - 8, "outside the file" },
	{ "offset past the end", PH(1, offset), 8, FILE_SIZE, "outside the file" },
	{ "offset wraps", PH(1, offset), 8, ~0ULL - 0x10, "outside the file" },
	{ "filesz > memsz", PH(3, memsz), 8, 0x800, "more bytes" },
	{ "below 1 MiB", PH(1, paddr), 8, 0xe0000, "below 1 MiB" },
	{ "at 0", PH(2, paddr), 8, 0, "below 1 MiB" },
	{ "above 4 GiB", PH(3, paddr), 8, 0x100000000, "4 GiB" },
	{ "wraps", PH(3, memsz), 8, ~0ULL - 0x1000, "4 GiB" },
	{ "overlap", PH(1, paddr), 8, 0x1001000, "overlap" },
	{ "overlap by bss", PH(3, paddr), 8, 0x13f8000, "overlap" },
	{ "entry in data", 24, 8, 0x1200000, "entry point" },
	{ "entry past text", 24, 8, 0x1002000, "entry point" },
	{ "entry in bss", 24, 8, 0x1602000, "entry point" },
	{ "entry nowhere", 24, 8, 0x8000, "entry point" },
};

TEST(hostile_fields_refused_with_reason)
{
	for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
		const struct test_mutation *m = &mutations[i];
		uint8_t *p = make_elf();
		struct linux_header h;
		struct linux_elf e;

		test_mutate(p, m);
		test_expect_refusal(m, parse(p, FILE_SIZE, &h, &e));
		free(p);
	}
}

TEST(no_or_too_many_loads_refused)
{
	uint8_t *p = make_elf();
	struct linux_header h;
	struct linux_elf e;
	struct seg_spec s;
	uint16_t phnum = LINUX_ELF_MAX_LOADS + 1;
	const char *why;

	for (unsigned int i = 0; i < NR_PHDRS; i++) {
		s = segs[i];
		s.type = 4;
		put_phdr(p, i, &s);
	}
	why = parse(p, FILE_SIZE, &h, &e);
	EXPECT(why && strstr(why, "no PT_LOAD"));
	/* One page-sized executable segment per 1 MiB, one too many. */
	memcpy(p + 56, &phnum, 2);
	for (unsigned int i = 0; i < phnum; i++) {
		s = segs[0];
		s.paddr = KERNEL_BASE + i * MiB;
		s.filesz = s.memsz = 0x100;
		put_phdr(p, i, &s);
	}
	why = parse(p, FILE_SIZE, &h, &e);
	EXPECT(why && strstr(why, "more PT_LOAD"));
	phnum--;
	memcpy(p + 56, &phnum, 2);
	EXPECT(parse(p, FILE_SIZE, &h, &e) == NULL);
	free(p);
}

/* Random bytes in the ELF and program headers: never a crash or an
 * overread, and whatever is accepted keeps the promises. */
TEST(random_fields)
{
	uint32_t seed = 4242;
	int accepted = 0;

	for (int i = 0; i < 20000; i++) {
		uint8_t *p = make_elf();
		struct linux_header h;
		struct linux_elf e;

		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245 + 12345;
			p[(seed >> 8) % (PHOFF + NR_PHDRS * 56)] =
				(uint8_t)(seed >> 24);
		}
		if (parse(p, FILE_SIZE, &h, &e) != NULL) {
			free(p);
			continue;
		}
		accepted++;
		for (unsigned int j = 0; j < e.nr_loads; j++) {
			const struct linux_segment *s = &e.loads[j];

			EXPECT(s->offset + s->filesz <= FILE_SIZE);
			EXPECT(s->filesz <= s->memsz);
			EXPECT(s->paddr >= LINUX_HIGH_RAM);
			EXPECT(s->paddr >= h.pref_address);
			EXPECT(s->paddr + s->memsz <=
			       h.pref_address + h.init_size);
		}
		EXPECT(h.entry_offset < h.init_size);
		free(p);
	}
	EXPECT(accepted > 0);
}

TEST(plan_uses_segment_addresses_and_entry)
{
	uint8_t *p = make_elf();
	struct linux_header h;
	struct linux_elf e;
	struct linux_layout l;

	ASSERT(parse(p, FILE_SIZE, &h, &e) == NULL);
	ASSERT(linux_plan(&h, 256 * MiB, 2 * MiB, 60, &l) == NULL);
	EXPECT_EQ(l.kernel, KERNEL_BASE);
	EXPECT_EQ(l.entry, KERNEL_BASE);        /* e_entry, not + 0x200 */
	EXPECT(l.initrd >= 0x1609000);
	EXPECT(l.initrd + l.initrd_size <= 256 * MiB - LINUX_PT_SIZE);
	free(p);
}

TEST(plan_refuses_segments_past_ram)
{
	uint8_t *p = make_elf();
	struct seg_spec high = segs[3];
	struct linux_header h;
	struct linux_elf e;
	struct linux_layout l;

	high.paddr = 32 * MiB - 0x4000;         /* its bss reaches the tables */
	put_phdr(p, 3, &high);
	ASSERT(parse(p, FILE_SIZE, &h, &e) == NULL);
	EXPECT(linux_plan(&h, 32 * MiB, 0, 0, &l) != NULL);
	EXPECT(linux_plan(&h, 64 * MiB, 0, 0, &l) == NULL);
	/* An initrd that only fits where the kernel is. */
	EXPECT(linux_plan(&h, 64 * MiB, 32 * MiB, 0, &l) != NULL);
	free(p);
}

TEST(zero_page_header_made_up)
{
	uint8_t *p = make_elf();
	uint8_t zp[BP_SIZE];
	struct linux_header h;
	struct linux_elf e;
	struct linux_layout l;

	ASSERT(parse(p, FILE_SIZE, &h, &e) == NULL);
	ASSERT(linux_plan(&h, 256 * MiB, 3 * MiB, 10, &l) == NULL);
	memset(zp, 0xcc, sizeof(zp));
	linux_zero_page(zp, NULL, &h, &l, 256 * MiB, 0xe0000);
	EXPECT_EQ(zp[0], 0);
	EXPECT_EQ(zp[BP_SENTINEL], 0);
	EXPECT_EQ(zp[LH_SETUP_SECTS], 0);
	EXPECT_EQ(get32(zp, LH_BOOT_FLAG) & 0xffff, 0xaa55);
	EXPECT_EQ(zp[LH_JUMP + 1], 0x26c - 0x202);
	EXPECT_EQ(get32(zp, LH_HEADER), 0x53726448);
	EXPECT_EQ(get32(zp, LH_VERSION) & 0xffff, 0x020f);
	EXPECT_EQ(zp[LH_TYPE_OF_LOADER], 0xff);
	EXPECT_EQ(zp[LH_LOADFLAGS], LOADFLAGS_LOADED_HIGH);
	EXPECT_EQ(get32(zp, LH_CODE32_START), KERNEL_BASE);
	EXPECT_EQ(get32(zp, LH_INITRD_ADDR_MAX), 0x7fffffff);
	EXPECT_EQ(get32(zp, LH_KERNEL_ALIGNMENT), 0x200000);
	EXPECT_EQ(zp[LH_RELOCATABLE], 0);
	EXPECT_EQ(get32(zp, LH_XLOADFLAGS) & 0xffff, XLF_KERNEL_64);
	EXPECT_EQ(get32(zp, LH_CMDLINE_SIZE), LINUX_CMDLINE_MAX - 1);
	EXPECT_EQ(get64(zp, LH_PREF_ADDRESS), KERNEL_BASE);
	EXPECT_EQ(get32(zp, LH_INIT_SIZE), 0x609000);
	EXPECT_EQ(get32(zp, LH_CMD_LINE_PTR), LINUX_CMDLINE);
	EXPECT_EQ(get32(zp, LH_RAMDISK_IMAGE), l.initrd);
	EXPECT_EQ(get32(zp, LH_RAMDISK_SIZE), 3 * MiB);
	EXPECT_EQ(get64(zp, BP_ACPI_RSDP_ADDR), 0xe0000);
	EXPECT_EQ(zp[BP_E820_ENTRIES], 6);
	for (size_t o = 0x26c; o < BP_E820_TABLE; o++)
		if (zp[o]) {
			printf("    byte 0x%zx set past the header\n", o);
			test_failed_now = 1;
			break;
		}
	free(p);
}

TEST_MAIN()
