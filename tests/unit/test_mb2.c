/* Host tests for boot/mb2info.c: synthetic Multiboot2 information blocks,
 * well-formed (BIOS-style and UEFI-style) and hostile. Each parse works on a
 * heap copy exactly as large as the "mapped" size, so AddressSanitizer sees
 * any read past it. */
#include "tests/unit/test.h"
#include "boot/mb2info.h"

/* --- builder ------------------------------------------------------------ */

#define MB_BUF_SIZE     (64 * 1024)

struct mb {
	uint8_t buf[MB_BUF_SIZE] __attribute__((aligned(8)));
	uint32_t len;
};

static struct mb g_mb;
static uint8_t *g_copy;         /* last mapped copy; results point into it */
static struct mb2_info g_mi;

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static struct mb *mb_start(void)
{
	memset(&g_mb, 0, sizeof(g_mb));
	g_mb.len = 8;
	return &g_mb;
}

/* Append a tag with an explicit size field (may lie) and len payload bytes;
 * returns the payload so the caller can fill it in. */
static uint8_t *mb_tag_raw(struct mb *b, uint32_t type, uint32_t size,
			   uint32_t len)
{
	uint8_t *t = b->buf + b->len;

	put32(t, type);
	put32(t + 4, size);
	b->len = (b->len + 8 + len + 7) & ~7U;
	return t + 8;
}

static uint8_t *mb_tag(struct mb *b, uint32_t type, uint32_t len)
{
	return mb_tag_raw(b, type, 8 + len, len);
}

static void mb_string(struct mb *b, uint32_t type, const char *s)
{
	memcpy(mb_tag(b, type, strlen(s) + 1), s, strlen(s) + 1);
}

static void mb_module(struct mb *b, uint32_t start, uint32_t end,
		      const char *name)
{
	uint8_t *p = mb_tag(b, MB2_TAG_MODULE, 8 + strlen(name) + 1);

	put32(p, start);
	put32(p + 4, end);
	memcpy(p + 8, name, strlen(name) + 1);
}

static void mb_u64(struct mb *b, uint32_t type, uint64_t v)
{
	put64(mb_tag(b, type, 8), v);
}

static void mb_meminfo(struct mb *b, uint32_t lower, uint32_t upper)
{
	uint8_t *p = mb_tag(b, MB2_TAG_BASIC_MEMINFO, 8);

	put32(p, lower);
	put32(p + 4, upper);
}

struct ent { uint64_t base, len; uint32_t type; };

static void mb_mmap(struct mb *b, uint32_t esize, uint32_t ver,
		    const struct ent *e, int n)
{
	uint32_t stride = esize < 24 ? 24 : esize;
	uint8_t *p = mb_tag_raw(b, MB2_TAG_MMAP, 16 + n * esize, 8 + n * stride);

	put32(p, esize);
	put32(p + 4, ver);
	for (int i = 0; i < n; i++) {
		uint8_t *q = p + 8 + (size_t)i * esize;

		put64(q, e[i].base);
		put64(q + 8, e[i].len);
		put32(q + 16, e[i].type);
	}
}

/* EFI descriptors: e.len is in pages here. */
static void mb_efi_mmap(struct mb *b, uint32_t dsize, uint32_t ver,
			const struct ent *e, int n)
{
	uint32_t stride = dsize < 40 ? 40 : dsize;
	uint8_t *p = mb_tag_raw(b, MB2_TAG_EFI_MMAP, 16 + n * dsize,
				8 + n * stride);

	put32(p, dsize);
	put32(p + 4, ver);
	for (int i = 0; i < n; i++) {
		uint8_t *q = p + 8 + (size_t)i * dsize;

		put32(q, e[i].type);
		put64(q + 8, e[i].base);
		put64(q + 16, e[i].base + 0xffff800000000000ULL);
		put64(q + 24, e[i].len);
		put64(q + 32, 0xf);
	}
}

static void mb_rsdp(struct mb *b, uint32_t type, uint8_t rev, uint32_t len)
{
	uint8_t *p = mb_tag(b, type, len);

	memcpy(p, "RSD PTR ", 8);
	p[15] = rev;
	for (uint32_t i = 16; i < len; i++)
		p[i] = (uint8_t)i;
}

static void mb_end(struct mb *b)
{
	mb_tag(b, MB2_TAG_END, 0);
	put32(b->buf, b->len);
}

/* Copy the block into a heap buffer of exactly 'mapped' bytes and parse. */
static int mb_parse_mapped(struct mb *b, size_t mapped)
{
	free(g_copy);
	g_copy = malloc(mapped ? mapped : 1);
	memcpy(g_copy, b->buf, MIN(mapped, (size_t)MB_BUF_SIZE));
	return mb2_parse(&g_mi, g_copy, mapped);
}

static int mb_parse(struct mb *b)
{
	return mb_parse_mapped(b, b->len);
}

static int diag_count(enum mb2_diag_code code)
{
	int n = 0;

	for (uint32_t i = 0; i < g_mi.nr_diags; i++)
		n += g_mi.diags[i].code == code;
	return n;
}

static bool mem_is(uint32_t i, uint64_t base, uint64_t len, uint32_t type)
{
	return i < g_mi.nr_mem && g_mi.mem[i].base == base &&
	       g_mi.mem[i].len == len && g_mi.mem[i].type == type;
}

/* --- well-formed blocks ------------------------------------------------- */

static const struct ent bios_map[] = {
	{ 0x0, 0x9fc00, 1 },
	{ 0x9fc00, 0x400, 2 },
	{ 0xf0000, 0x10000, 2 },
	{ 0x100000, 0x7fee0000, 1 },
	{ 0x7ffe0000, 0x10000, 3 },
	{ 0x7fff0000, 0x10000, 4 },
	{ 0xfec00000, 0x1000, 2 },
	{ 0x100000000ULL, 0x80000000ULL, 1 },
	{ 0x180000000ULL, 0x1000, 5 },
	{ 0x180001000ULL, 0x1000, 12 },
};

TEST(bios_style_block)
{
	struct mb *b = mb_start();

	mb_string(b, MB2_TAG_CMDLINE, "loglevel=4 keel.stats");
	mb_string(b, MB2_TAG_LOADER_NAME, "GRUB 2.06");
	mb_meminfo(b, 639, 2096000);
	mb_tag(b, MB2_TAG_FRAMEBUFFER, 24);
	mb_mmap(b, 24, 0, bios_map, ARRAY_SIZE(bios_map));
	mb_module(b, 0x200000, 0x300000, "guest0 console=ttyS0");
	mb_rsdp(b, MB2_TAG_ACPI_OLD, 0, 20);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT(g_mi.complete);
	EXPECT_EQ(g_mi.nr_diags, 0);
	EXPECT(!strcmp(g_mi.cmdline, "loglevel=4 keel.stats"));
	EXPECT(g_mi.loader_name && !strcmp(g_mi.loader_name, "GRUB 2.06"));
	EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_MMAP);
	ASSERT(g_mi.nr_mem == ARRAY_SIZE(bios_map));
	EXPECT(mem_is(0, 0, 0x9fc00, MB2_MEM_USABLE));
	EXPECT(mem_is(1, 0x9fc00, 0x400, MB2_MEM_RESERVED));
	EXPECT(mem_is(4, 0x7ffe0000, 0x10000, MB2_MEM_ACPI));
	EXPECT(mem_is(5, 0x7fff0000, 0x10000, MB2_MEM_NVS));
	EXPECT(mem_is(7, 0x100000000ULL, 0x80000000ULL, MB2_MEM_USABLE));
	EXPECT(mem_is(8, 0x180000000ULL, 0x1000, MB2_MEM_BAD));
	EXPECT(mem_is(9, 0x180001000ULL, 0x1000, MB2_MEM_RESERVED));
	ASSERT(g_mi.nr_modules == 1);
	EXPECT_EQ(g_mi.modules[0].start, 0x200000);
	EXPECT_EQ(g_mi.modules[0].end, 0x300000);
	EXPECT(!strcmp(g_mi.modules[0].name, "guest0 console=ttyS0"));
	EXPECT_EQ(g_mi.rsdp_tag, MB2_TAG_ACPI_OLD);
	EXPECT_EQ(g_mi.rsdp_len, 20);
	EXPECT(!memcmp(g_mi.rsdp, "RSD PTR ", 8));
	EXPECT(!g_mi.has_efi64_system_table);
}

/* OVMF-like map: loader, boot-services and conventional memory next to
 * each other collapse into one usable region. */
static const struct ent efi_map[] = {
	{ 0x0, 0xa0, 7 },               /* conventional */
	{ 0x100000, 0x100, 7 },
	{ 0x200000, 0x10, 1 },          /* loader code */
	{ 0x210000, 0x20, 2 },          /* loader data */
	{ 0x230000, 0x30, 3 },          /* boot services code */
	{ 0x260000, 0x40, 4 },          /* boot services data */
	{ 0x2a0000, 0x60, 7 },
	{ 0x300000, 0x10, 5 },          /* runtime code */
	{ 0x310000, 0x10, 6 },          /* runtime data */
	{ 0x320000, 0x8, 9 },           /* ACPI reclaim */
	{ 0x328000, 0x8, 10 },          /* ACPI NVS */
	{ 0x330000, 0x1, 8 },           /* unusable */
	{ 0xffc00000, 0x400, 11 },      /* MMIO */
	{ 0x100000000ULL, 0x40000, 7 },
};

TEST(uefi_style_block)
{
	struct mb *b = mb_start();

	mb_string(b, MB2_TAG_CMDLINE, "");
	mb_u64(b, MB2_TAG_EFI64_ST, 0x7f9ee018);
	mb_u64(b, MB2_TAG_EFI64_IH, 0x7e0b2a98);
	mb_rsdp(b, MB2_TAG_ACPI_NEW, 2, 36);
	mb_efi_mmap(b, 48, 1, efi_map, ARRAY_SIZE(efi_map));
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT(g_mi.complete);
	EXPECT_EQ(g_mi.nr_diags, 0);
	EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_EFI);
	EXPECT(g_mi.has_efi64_system_table);
	EXPECT_EQ(g_mi.efi64_system_table, 0x7f9ee018);
	EXPECT(g_mi.has_efi64_image_handle);
	EXPECT_EQ(g_mi.efi64_image_handle, 0x7e0b2a98);
	EXPECT(!g_mi.efi_boot_services_active);
	EXPECT_EQ(g_mi.rsdp_tag, MB2_TAG_ACPI_NEW);
	EXPECT_EQ(g_mi.rsdp_len, 36);
	EXPECT(!strcmp(g_mi.cmdline, ""));
	EXPECT(g_mi.loader_name == NULL);
	ASSERT(g_mi.nr_mem == 8);
	EXPECT(mem_is(0, 0, 0xa0000, MB2_MEM_USABLE));
	EXPECT(mem_is(1, 0x100000, 0x200000, MB2_MEM_USABLE));
	EXPECT(mem_is(2, 0x300000, 0x20000, MB2_MEM_RESERVED));
	EXPECT(mem_is(3, 0x320000, 0x8000, MB2_MEM_ACPI));
	EXPECT(mem_is(4, 0x328000, 0x8000, MB2_MEM_NVS));
	EXPECT(mem_is(5, 0x330000, 0x1000, MB2_MEM_BAD));
	EXPECT(mem_is(6, 0xffc00000, 0x400000, MB2_MEM_RESERVED));
	EXPECT(mem_is(7, 0x100000000ULL, 0x40000000ULL, MB2_MEM_USABLE));
}

TEST(uefi_boot_services_active_keeps_them_reserved)
{
	struct mb *b = mb_start();

	mb_efi_mmap(b, 48, 1, efi_map, ARRAY_SIZE(efi_map));
	mb_tag(b, MB2_TAG_EFI_BS, 0);   /* after tag 17 on purpose */
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT(g_mi.efi_boot_services_active);
	EXPECT(mem_is(1, 0x100000, 0x100000, MB2_MEM_USABLE));
	EXPECT(mem_is(2, 0x200000, 0xa0000, MB2_MEM_RESERVED));
	EXPECT(mem_is(3, 0x2a0000, 0x60000, MB2_MEM_USABLE));
}

TEST(tag6_preferred_over_tag17)
{
	struct mb *b = mb_start();

	mb_efi_mmap(b, 48, 1, efi_map, ARRAY_SIZE(efi_map));
	mb_mmap(b, 24, 0, bios_map, ARRAY_SIZE(bios_map));
	mb_meminfo(b, 639, 1000);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_MMAP);
	EXPECT_EQ(g_mi.nr_mem, ARRAY_SIZE(bios_map));
}

TEST(basic_meminfo_fallback)
{
	struct mb *b = mb_start();

	mb_meminfo(b, 639, 130048);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_BASIC);
	ASSERT(g_mi.nr_mem == 2);
	EXPECT(mem_is(0, 0, 639 * 1024, MB2_MEM_USABLE));
	EXPECT(mem_is(1, 0x100000, 130048ULL * 1024, MB2_MEM_USABLE));
}

TEST(no_memory_information)
{
	struct mb *b = mb_start();

	mb_string(b, MB2_TAG_CMDLINE, "x");
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.nr_mem, 0);
	EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_NONE);
	EXPECT_EQ(diag_count(MB2_DIAG_NO_MEMORY_INFO), 1);
}

TEST(unsorted_map_sorted_and_merged)
{
	static const struct ent e[] = {
		{ 0x300000, 0x100000, 1 },
		{ 0x100000, 0x100000, 1 },
		{ 0x200000, 0x180000, 1 },      /* overlaps both */
		{ 0x0, 0x1000, 2 },
		{ 0x1000, 0x1000, 2 },
		{ 0x5000, 0, 1 },               /* empty: dropped */
	};
	struct mb *b = mb_start();

	mb_mmap(b, 24, 0, e, ARRAY_SIZE(e));
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	ASSERT(g_mi.nr_mem == 2);
	EXPECT(mem_is(0, 0, 0x2000, MB2_MEM_RESERVED));
	EXPECT(mem_is(1, 0x100000, 0x300000, MB2_MEM_USABLE));
}

TEST(mmap_larger_entry_size_and_version)
{
	struct mb *b = mb_start();

	mb_mmap(b, 32, 1, bios_map, ARRAY_SIZE(bios_map));
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.nr_diags, 0);
	EXPECT_EQ(g_mi.nr_mem, ARRAY_SIZE(bios_map));
	EXPECT(mem_is(3, 0x100000, 0x7fee0000, MB2_MEM_USABLE));
}

TEST(modules)
{
	struct mb *b = mb_start();
	uint8_t *p;

	mb_module(b, 0x1000000, 0x1800000, "bzImage root=/dev/ram0");
	mb_module(b, 0x1800000, 0x1800000, "");         /* empty is fine */
	mb_module(b, 0x3000000, 0x2000000, "backwards");
	p = mb_tag(b, MB2_TAG_MODULE, 16);               /* no NUL */
	put32(p, 0x4000000);
	put32(p + 4, 0x4001000);
	memset(p + 8, 'A', 8);
	mb_module(b, 0x5000000, 0x5001000, "initrd");
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	ASSERT(g_mi.nr_modules == 4);
	EXPECT(!strcmp(g_mi.modules[0].name, "bzImage root=/dev/ram0"));
	EXPECT_EQ(g_mi.modules[1].start, g_mi.modules[1].end);
	EXPECT(!strcmp(g_mi.modules[1].name, ""));
	EXPECT_EQ(g_mi.modules[2].start, 0x4000000);
	EXPECT(!strcmp(g_mi.modules[2].name, ""));
	EXPECT(!strcmp(g_mi.modules[3].name, "initrd"));
	EXPECT_EQ(diag_count(MB2_DIAG_MODULE_RANGE), 1);
	EXPECT_EQ(diag_count(MB2_DIAG_STRING_UNTERMINATED), 1);
}

TEST(too_many_modules)
{
	struct mb *b = mb_start();

	for (int i = 0; i < MB2_MAX_MODULES + 8; i++)
		mb_module(b, i * 0x1000, i * 0x1000 + 0x800, "m");
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.nr_modules, MB2_MAX_MODULES);
	EXPECT_EQ(g_mi.nr_modules_dropped, 8);
	EXPECT_EQ(diag_count(MB2_DIAG_MODULES_TRUNCATED), 1);
}

TEST(module_tag_too_short)
{
	struct mb *b = mb_start();

	memset(mb_tag(b, MB2_TAG_MODULE, 4), 0, 4);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.nr_modules, 0);
	EXPECT_EQ(diag_count(MB2_DIAG_TAG_SHORT), 1);
}

TEST(rsdp_new_preferred_in_either_order)
{
	struct mb *b = mb_start();

	mb_rsdp(b, MB2_TAG_ACPI_NEW, 2, 36);
	mb_rsdp(b, MB2_TAG_ACPI_OLD, 0, 20);
	mb_end(b);
	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.rsdp_tag, MB2_TAG_ACPI_NEW);
	EXPECT_EQ(g_mi.rsdp_len, 36);
	EXPECT_EQ(g_mi.rsdp[15], 2);

	b = mb_start();
	mb_rsdp(b, MB2_TAG_ACPI_OLD, 0, 20);
	mb_rsdp(b, MB2_TAG_ACPI_NEW, 2, 36);
	mb_end(b);
	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.rsdp_tag, MB2_TAG_ACPI_NEW);
	EXPECT_EQ(g_mi.rsdp_len, 36);
	EXPECT_EQ(g_mi.rsdp[15], 2);
	EXPECT_EQ(diag_count(MB2_DIAG_TAG_DUPLICATE), 0);
}

TEST(rsdp_short_tags_rejected)
{
	struct mb *b = mb_start();

	mb_rsdp(b, MB2_TAG_ACPI_OLD, 0, 19);
	mb_rsdp(b, MB2_TAG_ACPI_NEW, 2, 24);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.rsdp_len, 0);
	EXPECT_EQ(g_mi.rsdp_tag, 0);
	EXPECT_EQ(diag_count(MB2_DIAG_TAG_SHORT), 2);
}

TEST(rsdp_oversized_copy_capped)
{
	struct mb *b = mb_start();

	mb_rsdp(b, MB2_TAG_ACPI_NEW, 2, 200);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.rsdp_len, MB2_RSDP_MAX);
}

TEST(duplicate_single_tags_keep_first)
{
	struct mb *b = mb_start();

	mb_string(b, MB2_TAG_CMDLINE, "first");
	mb_string(b, MB2_TAG_CMDLINE, "second");
	mb_u64(b, MB2_TAG_EFI64_ST, 1);
	mb_u64(b, MB2_TAG_EFI64_ST, 2);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT(!strcmp(g_mi.cmdline, "first"));
	EXPECT_EQ(g_mi.efi64_system_table, 1);
	EXPECT_EQ(diag_count(MB2_DIAG_TAG_DUPLICATE), 2);
}

TEST(rejected_first_copy_lets_second_count)
{
	struct mb *b = mb_start();

	memset(mb_tag(b, MB2_TAG_CMDLINE, 5), 'x', 5);  /* unterminated */
	mb_string(b, MB2_TAG_CMDLINE, "good");
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT(!strcmp(g_mi.cmdline, "good"));
	EXPECT_EQ(diag_count(MB2_DIAG_STRING_UNTERMINATED), 1);
	EXPECT_EQ(diag_count(MB2_DIAG_TAG_DUPLICATE), 0);
}

TEST(unknown_tags_skipped)
{
	struct mb *b = mb_start();

	memset(mb_tag(b, 99, 13), 0xff, 13);
	memset(mb_tag(b, 0xffffffff, 3), 0xff, 3);
	memset(mb_tag(b, 21, 4), 0, 4);
	mb_string(b, MB2_TAG_CMDLINE, "ok");
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT(g_mi.complete);
	EXPECT(!strcmp(g_mi.cmdline, "ok"));
	EXPECT_EQ(diag_count(MB2_DIAG_NO_MEMORY_INFO), 1);
	EXPECT_EQ(g_mi.nr_diags, 1);
}

/* --- command line helpers ----------------------------------------------- */

TEST(cmdline_get)
{
	const char *cl = "  loglevel=4 keel.stats\tserial=0x3f8,115200 "
			 "loglevelx=9 log=1 empty= loglevel=7 ";
	char buf[16];

	EXPECT_EQ(mb2_cmdline_get(cl, "loglevel", buf, sizeof(buf)), 1);
	EXPECT(!strcmp(buf, "7"));
	EXPECT_EQ(mb2_cmdline_get(cl, "serial", buf, sizeof(buf)), 12);
	EXPECT(!strcmp(buf, "0x3f8,115200"));
	EXPECT_EQ(mb2_cmdline_get(cl, "keel.stats", buf, sizeof(buf)), 0);
	EXPECT(!strcmp(buf, ""));
	EXPECT_EQ(mb2_cmdline_get(cl, "empty", buf, sizeof(buf)), 0);
	EXPECT_EQ(mb2_cmdline_get(cl, "keel", buf, sizeof(buf)), -1);
	EXPECT_EQ(mb2_cmdline_get(cl, "lo", buf, sizeof(buf)), -1);
	EXPECT_EQ(mb2_cmdline_get(cl, "", buf, sizeof(buf)), -1);
	EXPECT_EQ(mb2_cmdline_get("", "a", buf, sizeof(buf)), -1);
	EXPECT_EQ(mb2_cmdline_get(NULL, "a", buf, sizeof(buf)), -1);
	EXPECT_EQ(mb2_cmdline_get("   ", "a", buf, sizeof(buf)), -1);
}

TEST(cmdline_get_truncates)
{
	char buf[4] = "zzz";

	EXPECT_EQ(mb2_cmdline_get("name=abcdefgh", "name", buf, sizeof(buf)), 8);
	EXPECT(!strcmp(buf, "abc"));
	EXPECT_EQ(mb2_cmdline_get("name=abcdefgh", "name", buf, 1), 8);
	EXPECT_EQ(buf[0], '\0');
	EXPECT_EQ(mb2_cmdline_get("name=abcdefgh", "name", NULL, 0), 8);
	EXPECT_EQ(mb2_cmdline_get("a=b=c", "a", buf, sizeof(buf)), 3);
	EXPECT(!strcmp(buf, "b=c"));
}

TEST(cmdline_bool)
{
	const char *cl = "keel.stats a=1 b=yes c=on d=true e=0 f=no g=off "
			 "h=false i=maybe j=y k=n";

	EXPECT(mb2_cmdline_bool(cl, "keel.stats", false));
	EXPECT(mb2_cmdline_bool(cl, "a", false));
	EXPECT(mb2_cmdline_bool(cl, "b", false));
	EXPECT(mb2_cmdline_bool(cl, "c", false));
	EXPECT(mb2_cmdline_bool(cl, "d", false));
	EXPECT(mb2_cmdline_bool(cl, "j", false));
	EXPECT(!mb2_cmdline_bool(cl, "e", true));
	EXPECT(!mb2_cmdline_bool(cl, "f", true));
	EXPECT(!mb2_cmdline_bool(cl, "g", true));
	EXPECT(!mb2_cmdline_bool(cl, "h", true));
	EXPECT(!mb2_cmdline_bool(cl, "k", true));
	EXPECT(mb2_cmdline_bool(cl, "i", true));
	EXPECT(!mb2_cmdline_bool(cl, "i", false));
	EXPECT(mb2_cmdline_bool(cl, "missing", true));
	EXPECT(!mb2_cmdline_bool(cl, "missing", false));
	EXPECT(!mb2_cmdline_bool("keel.stats=1 keel.stats=0", "keel.stats", true));
	EXPECT(mb2_cmdline_bool(NULL, "x", true));
}

TEST(cmdline_from_parsed_block)
{
	struct mb *b = mb_start();
	char buf[8];

	mb_string(b, MB2_TAG_CMDLINE, "keel.stats=1 loglevel=3");
	mb_end(b);
	ASSERT(mb_parse(b) == 0);
	EXPECT(mb2_cmdline_bool(g_mi.cmdline, "keel.stats", false));
	EXPECT_EQ(mb2_cmdline_get(g_mi.cmdline, "loglevel", buf, sizeof(buf)), 1);
	EXPECT(!strcmp(buf, "3"));
}

/* --- hostile headers and walks ------------------------------------------ */

TEST(null_and_tiny_mappings)
{
	EXPECT_EQ(mb2_parse(&g_mi, NULL, 4096), -1);
	EXPECT_EQ(g_mi.diags[0].code, MB2_DIAG_NULL_INFO);
	EXPECT(!strcmp(g_mi.cmdline, ""));

	struct mb *b = mb_start();
	mb_end(b);
	EXPECT_EQ(mb_parse_mapped(b, 4), -1);
	EXPECT_EQ(g_mi.diags[0].code, MB2_DIAG_NULL_INFO);
	EXPECT_EQ(mb_parse_mapped(b, 0), -1);
}

TEST(total_size_too_small)
{
	struct mb *b = mb_start();

	mb_end(b);
	for (uint32_t ts = 0; ts < 8; ts++) {
		put32(b->buf, ts);
		EXPECT_EQ(mb_parse(b), -1);
		EXPECT_EQ(g_mi.diags[0].code, MB2_DIAG_TOTAL_SIZE_SMALL);
	}
	put32(b->buf, 8);               /* header only: no end tag */
	EXPECT_EQ(mb_parse(b), 0);
	EXPECT(!g_mi.complete);
	EXPECT_EQ(diag_count(MB2_DIAG_NO_END_TAG), 1);
}

TEST(total_size_truncated_cuts_tags)
{
	struct mb *b = mb_start();

	mb_string(b, MB2_TAG_CMDLINE, "loglevel=4");
	mb_mmap(b, 24, 0, bios_map, ARRAY_SIZE(bios_map));
	mb_end(b);
	put32(b->buf, 40);              /* inside the mmap tag */

	ASSERT(mb_parse(b) == 0);
	EXPECT(!strcmp(g_mi.cmdline, "loglevel=4"));
	EXPECT_EQ(diag_count(MB2_DIAG_TAG_PAST_END), 1);
	EXPECT_EQ(g_mi.nr_mem, 0);
	EXPECT(!g_mi.complete);
}

TEST(total_size_beyond_mapping)
{
	struct mb *b = mb_start();
	uint32_t cut;

	mb_string(b, MB2_TAG_CMDLINE, "loglevel=4");
	mb_mmap(b, 24, 0, bios_map, ARRAY_SIZE(bios_map));
	cut = b->len;
	mb_module(b, 0x1000, 0x2000, "past the mapping");
	mb_end(b);

	/* The mapping ends after the mmap tag: the module and end tag are
	 * beyond it and must not be touched. */
	ASSERT(mb_parse_mapped(b, cut) == 0);
	EXPECT_EQ(diag_count(MB2_DIAG_TOTAL_SIZE_CLAMPED), 1);
	EXPECT_EQ(diag_count(MB2_DIAG_NO_END_TAG), 1);
	EXPECT_EQ(g_mi.size, cut);
	EXPECT_EQ(g_mi.nr_mem, ARRAY_SIZE(bios_map));
	EXPECT_EQ(g_mi.nr_modules, 0);

	/* Cut in the middle of the module tag. */
	ASSERT(mb_parse_mapped(b, cut + 12) == 0);
	EXPECT_EQ(diag_count(MB2_DIAG_TAG_PAST_END), 1);
	EXPECT_EQ(g_mi.nr_modules, 0);

	/* Cut so that only part of a tag header is mapped. */
	ASSERT(mb_parse_mapped(b, cut + 4) == 0);
	EXPECT_EQ(diag_count(MB2_DIAG_NO_END_TAG), 1);
}

TEST(huge_total_size)
{
	struct mb *b = mb_start();

	mb_end(b);
	put32(b->buf, 0xffffffff);
	ASSERT(mb_parse(b) == 0);
	EXPECT(g_mi.complete);
	EXPECT_EQ(g_mi.size, 16);
}

TEST(tag_size_zero_and_below_eight)
{
	for (uint32_t sz = 0; sz < 8; sz++) {
		struct mb *b = mb_start();

		mb_string(b, MB2_TAG_CMDLINE, "before");
		mb_tag_raw(b, MB2_TAG_MODULE, sz, 8);
		mb_string(b, MB2_TAG_LOADER_NAME, "after");
		mb_end(b);

		ASSERT(mb_parse(b) == 0);
		EXPECT(!strcmp(g_mi.cmdline, "before"));
		EXPECT(g_mi.loader_name == NULL);
		EXPECT_EQ(diag_count(MB2_DIAG_TAG_TOO_SMALL), 1);
		EXPECT(!g_mi.complete);
	}
}

TEST(tag_size_past_end)
{
	static const uint32_t sizes[] = { 33, 0x1000, 0x7fffffff, 0xfffffff9,
					  0xffffffff };

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct mb *b = mb_start();

		mb_tag_raw(b, MB2_TAG_CMDLINE, sizes[i], 16);
		mb_end(b);
		ASSERT(mb_parse(b) == 0);
		EXPECT_EQ(diag_count(MB2_DIAG_TAG_PAST_END), 1);
		EXPECT(!strcmp(g_mi.cmdline, ""));
	}
}

TEST(missing_end_tag)
{
	struct mb *b = mb_start();

	mb_string(b, MB2_TAG_CMDLINE, "a=b");
	mb_meminfo(b, 600, 1024);
	put32(b->buf, b->len);

	ASSERT(mb_parse(b) == 0);
	EXPECT(!g_mi.complete);
	EXPECT_EQ(diag_count(MB2_DIAG_NO_END_TAG), 1);
	EXPECT(!strcmp(g_mi.cmdline, "a=b"));
	EXPECT_EQ(g_mi.nr_mem, 2);
}

TEST(last_tag_padding_past_end)
{
	struct mb *b = mb_start();

	mb_string(b, MB2_TAG_CMDLINE, "abc");   /* size 12, padded to 16 */
	put32(b->buf, 8 + 12);

	ASSERT(mb_parse_mapped(b, 8 + 12) == 0);
	EXPECT(!strcmp(g_mi.cmdline, "abc"));
	EXPECT_EQ(diag_count(MB2_DIAG_NO_END_TAG), 1);
}

TEST(end_tag_with_wrong_size)
{
	struct mb *b = mb_start();

	mb_string(b, MB2_TAG_CMDLINE, "x");
	mb_tag(b, MB2_TAG_END, 8);
	put32(b->buf, b->len);

	ASSERT(mb_parse(b) == 0);
	EXPECT(g_mi.complete);
	EXPECT_EQ(diag_count(MB2_DIAG_END_TAG_SIZE), 1);
}

TEST(unterminated_strings)
{
	struct mb *b = mb_start();

	memset(mb_tag(b, MB2_TAG_CMDLINE, 8), 'c', 8);
	memset(mb_tag(b, MB2_TAG_LOADER_NAME, 3), 'l', 3);
	mb_tag(b, 0x55, 0);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT(!strcmp(g_mi.cmdline, ""));
	EXPECT(g_mi.loader_name == NULL);
	EXPECT_EQ(diag_count(MB2_DIAG_STRING_UNTERMINATED), 2);
}

TEST(empty_string_tag_without_nul)
{
	struct mb *b = mb_start();

	mb_tag(b, MB2_TAG_CMDLINE, 0);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT(!strcmp(g_mi.cmdline, ""));
	EXPECT_EQ(diag_count(MB2_DIAG_STRING_UNTERMINATED), 1);
}

/* --- hostile memory maps ------------------------------------------------ */

TEST(mmap_bad_entry_sizes_fall_back)
{
	static const uint32_t bad[] = { 0, 8, 16, 20, 23, 28, 44, 0xfffffffc };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct mb *b = mb_start();

		mb_mmap(b, bad[i] < 24 || bad[i] > 64 ? 24 : bad[i], 0,
			bios_map, 3);
		put32(b->buf + 8 + 8, bad[i]);
		mb_efi_mmap(b, 48, 1, efi_map, 2);
		mb_end(b);

		ASSERT(mb_parse(b) == 0);
		EXPECT_EQ(diag_count(MB2_DIAG_MMAP_ENTRY_SIZE), 1);
		EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_EFI);
		EXPECT_EQ(g_mi.nr_mem, 2);
	}
}

/* A well-formed entry_size larger than the whole map: no entry fits. */
TEST(mmap_entry_size_beyond_tag)
{
	struct mb *b = mb_start();

	mb_mmap(b, 24, 0, bios_map, 3);
	put32(b->buf + 8 + 8, 0xfffffff8);
	mb_meminfo(b, 600, 2048);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(diag_count(MB2_DIAG_MMAP_PARTIAL), 1);
	EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_BASIC);
}

TEST(mmap_partial_trailing_entry)
{
	struct mb *b = mb_start();
	uint8_t *p = mb_tag(b, MB2_TAG_MMAP, 8 + 24 + 10);

	put32(p, 24);
	put64(p + 8, 0x100000);
	put64(p + 16, 0x100000);
	put32(p + 24, 1);
	memset(p + 32, 0xee, 10);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(diag_count(MB2_DIAG_MMAP_PARTIAL), 1);
	ASSERT(g_mi.nr_mem == 1);
	EXPECT(mem_is(0, 0x100000, 0x100000, MB2_MEM_USABLE));
}

TEST(mmap_header_only_and_empty_falls_back)
{
	struct mb *b = mb_start();

	mb_mmap(b, 24, 0, NULL, 0);
	mb_meminfo(b, 640, 1024);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_BASIC);

	b = mb_start();
	mb_tag(b, MB2_TAG_MMAP, 4);     /* shorter than the map header */
	mb_end(b);
	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(diag_count(MB2_DIAG_TAG_SHORT), 1);
	EXPECT_EQ(diag_count(MB2_DIAG_NO_MEMORY_INFO), 1);
}

TEST(mem_regions_that_wrap)
{
	static const struct ent e[] = {
		{ 0xfffffffffffff000ULL, 0x2000, 1 },
		{ 0xfffffffffffff000ULL, 0x1000, 2 },   /* ends at 2^64: wraps */
		{ 0xffffffff00000000ULL, 0xfff00000ULL, 2 },
		{ 0x1000, UINT64_MAX, 1 },
	};
	static const struct ent ee[] = {
		{ 0x1000, 1ULL << 52, 7 },              /* pages << 12 overflows */
		{ 0xfffffffffff00000ULL, 0x100, 7 },    /* ends exactly at 2^64 */
		{ 0x2000, 1, 7 },
	};
	struct mb *b = mb_start();

	mb_mmap(b, 24, 0, e, ARRAY_SIZE(e));
	mb_end(b);
	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(diag_count(MB2_DIAG_MEM_WRAPS), 3);
	ASSERT(g_mi.nr_mem == 1);
	EXPECT(mem_is(0, 0xffffffff00000000ULL, 0xfff00000ULL, MB2_MEM_RESERVED));

	b = mb_start();
	mb_efi_mmap(b, 40, 1, ee, ARRAY_SIZE(ee));
	mb_end(b);
	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(diag_count(MB2_DIAG_MEM_WRAPS), 2);
	ASSERT(g_mi.nr_mem == 1);
	EXPECT(mem_is(0, 0x2000, 0x1000, MB2_MEM_USABLE));
}

TEST(efi_descriptor_size_too_small)
{
	static const uint32_t bad[] = { 0, 8, 24, 32, 39 };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct mb *b = mb_start();

		mb_efi_mmap(b, 40, 1, efi_map, 4);
		put32(b->buf + 8 + 8, bad[i]);
		mb_meminfo(b, 600, 2048);
		mb_end(b);

		ASSERT(mb_parse(b) == 0);
		EXPECT_EQ(diag_count(MB2_DIAG_EFI_DESC_SIZE), 1);
		EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_BASIC);
	}
}

TEST(efi_odd_descriptor_size_and_version)
{
	struct mb *b = mb_start();

	mb_efi_mmap(b, 41, 7, efi_map, ARRAY_SIZE(efi_map));
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(diag_count(MB2_DIAG_EFI_DESC_VERSION), 1);
	EXPECT_EQ(g_mi.mem_source, MB2_MEM_SRC_EFI);
	EXPECT_EQ(g_mi.nr_mem, 8);
}

TEST(memory_map_truncation)
{
	static struct ent e[600];
	struct mb *b = mb_start();

	/* Alternating types with gaps: nothing can merge. */
	for (int i = 0; i < 600; i++)
		e[i] = (struct ent){ (uint64_t)i * 0x2000, 0x1000, 1 + (i & 1) };
	mb_mmap(b, 24, 0, e, 600);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.nr_mem, MB2_MAX_MEM);
	EXPECT_EQ(g_mi.nr_mem_dropped, 600 - MB2_MAX_MEM);
	EXPECT_EQ(diag_count(MB2_DIAG_MEM_TRUNCATED), 1);
	EXPECT(mem_is(MB2_MAX_MEM - 1, (MB2_MAX_MEM - 1) * 0x2000ULL, 0x1000,
		      MB2_MEM_RESERVED));
}

TEST(memory_map_compaction_makes_room)
{
	static struct ent e[400];
	struct mb *b = mb_start();

	/* 400 touching usable regions given in reverse order: merging with
	 * the last entry never helps, compacting when full does. */
	for (int i = 0; i < 400; i++)
		e[i] = (struct ent){ (uint64_t)(399 - i) * 0x1000, 0x1000, 1 };
	mb_mmap(b, 24, 0, e, 400);
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.nr_mem_dropped, 0);
	ASSERT(g_mi.nr_mem == 1);
	EXPECT(mem_is(0, 0, 400 * 0x1000, MB2_MEM_USABLE));
}

TEST(diag_overflow_counted)
{
	struct mb *b = mb_start();

	for (int i = 0; i < MB2_MAX_DIAGS + 10; i++)
		mb_module(b, 0x2000, 0x1000, "bad");
	mb_end(b);

	ASSERT(mb_parse(b) == 0);
	EXPECT_EQ(g_mi.nr_diags, MB2_MAX_DIAGS);
	EXPECT_EQ(g_mi.nr_diags_dropped, 11);   /* 42 bad modules + no memory */
	for (uint32_t i = 0; i < g_mi.nr_diags; i++)
		EXPECT(g_mi.diags[i].msg != NULL);
}

TEST(mem_type_names)
{
	EXPECT(!strcmp(mb2_mem_type_name(MB2_MEM_USABLE), "usable"));
	EXPECT(!strcmp(mb2_mem_type_name(MB2_MEM_NVS), "ACPI NVS"));
	EXPECT(!strcmp(mb2_mem_type_name(0), "?"));
	EXPECT(!strcmp(mb2_mem_type_name(1000), "?"));
}

/* --- mutation ------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	return test_xorshift(&rng_state);
}

static void build_rich_block(struct mb *b)
{
	mb_start();
	mb_string(b, MB2_TAG_CMDLINE, "loglevel=4 keel.stats=1");
	mb_string(b, MB2_TAG_LOADER_NAME, "GRUB");
	mb_module(b, 0x1000000, 0x1800000, "guest");
	mb_module(b, 0x1800000, 0x1900000, "initrd");
	mb_meminfo(b, 639, 100000);
	mb_mmap(b, 24, 0, bios_map, ARRAY_SIZE(bios_map));
	mb_efi_mmap(b, 48, 1, efi_map, ARRAY_SIZE(efi_map));
	mb_rsdp(b, MB2_TAG_ACPI_OLD, 0, 20);
	mb_rsdp(b, MB2_TAG_ACPI_NEW, 2, 36);
	mb_u64(b, MB2_TAG_EFI64_ST, 0x1234);
	mb_u64(b, MB2_TAG_EFI64_IH, 0x5678);
	mb_tag(b, MB2_TAG_EFI_BS, 0);
	mb_end(b);
}

/* Everything the parser hands out must be in range and readable. */
static void check_result_sane(void)
{
	EXPECT(g_mi.nr_mem <= MB2_MAX_MEM);
	EXPECT(g_mi.nr_modules <= MB2_MAX_MODULES);
	EXPECT(g_mi.nr_diags <= MB2_MAX_DIAGS);
	EXPECT(g_mi.rsdp_len <= MB2_RSDP_MAX);
	for (uint32_t i = 0; i < g_mi.nr_mem; i++) {
		EXPECT(g_mi.mem[i].len != 0);
		EXPECT(g_mi.mem[i].base + g_mi.mem[i].len > g_mi.mem[i].base);
		EXPECT(i == 0 || g_mi.mem[i - 1].base <= g_mi.mem[i].base);
	}
	for (uint32_t i = 0; i < g_mi.nr_modules; i++) {
		EXPECT(g_mi.modules[i].start <= g_mi.modules[i].end);
		EXPECT(strlen(g_mi.modules[i].name) < 4096);
	}
	EXPECT(strlen(g_mi.cmdline) < 4096);
	if (g_mi.loader_name)
		EXPECT(strlen(g_mi.loader_name) < 4096);
	for (uint32_t i = 0; i < g_mi.nr_diags; i++)
		EXPECT(g_mi.diags[i].msg != NULL);
}

TEST(random_mutations_do_not_crash)
{
	static struct mb pristine;
	struct mb *b = &g_mb;

	build_rich_block(b);
	pristine = *b;
	for (int iter = 0; iter < 20000 && !test_failed_now; iter++) {
		int flips = 1 + (int)(rng() % 8);
		size_t mapped = pristine.len;

		memcpy(b->buf, pristine.buf, pristine.len);
		for (int f = 0; f < flips; f++)
			b->buf[rng() % pristine.len] ^= (uint8_t)(1 + rng() % 255);
		if (rng() % 4 == 0)
			mapped = rng() % (pristine.len + 1);
		mb_parse_mapped(b, mapped);
		check_result_sane();
		(void)mb2_cmdline_bool(g_mi.cmdline, "keel.stats", false);
	}
}

TEST(random_tag_headers_do_not_crash)
{
	static const uint32_t sizes[] = { 0, 1, 7, 8, 9, 15, 16, 17, 24, 28, 36,
					  44, 0x7fffffff, 0xffffffff };

	for (int iter = 0; iter < 5000 && !test_failed_now; iter++) {
		struct mb *b = mb_start();
		int n = 1 + (int)(rng() % 6);

		for (int t = 0; t < n && b->len < 4096; t++) {
			uint32_t len = (uint32_t)(rng() % 80);
			uint8_t *p = mb_tag_raw(b, (uint32_t)(rng() % 24),
						rng() % 2 ? 8 + len :
						sizes[rng() % ARRAY_SIZE(sizes)],
						len);

			for (uint32_t i = 0; i < len; i++)
				p[i] = (uint8_t)rng();
		}
		if (rng() % 2)
			mb_end(b);
		else
			put32(b->buf, b->len);
		mb_parse(b);
		check_result_sane();
	}
}

TEST_MAIN()
