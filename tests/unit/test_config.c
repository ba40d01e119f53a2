/* Host tests for the guest configuration parser (guest/config.c). */
#include "tests/unit/test.h"
#include "guest/config.h"

/* Large; one instance shared by the tests, which run one at a time. */
static struct config cfg;

static uint32_t parse(const char *text)
{
	return config_parse(&cfg, text, strlen(text));
}

static uint32_t parse_and_check(const char *text,
				const struct config_platform *plat)
{
	config_parse(&cfg, text, strlen(text));
	return config_check(&cfg, plat);
}

static const char *format_error(uint32_t i)
{
	static char buf[256];

	config_format_error(&cfg.errors[i], buf, sizeof(buf));
	return buf;
}

static void dump_errors(void)
{
	for (uint32_t i = 0; i < cfg.error_count; i++)
		printf("      [%u] %s\n", i, format_error(i));
}

/* Is there a problem on line whose formatted text contains text? */
static bool has_error(uint32_t line, const char *text)
{
	for (uint32_t i = 0; i < cfg.error_count; i++) {
		if (cfg.errors[i].line == line && strstr(format_error(i), text))
			return true;
	}
	return false;
}

#define EXPECT_ERROR(line, text) do {                                   \
	if (!has_error(line, text)) {                                   \
		printf("    %s:%d: no error on line %d with \"%s\"\n",  \
		       __FILE__, __LINE__, line, text);                 \
		dump_errors();                                          \
		test_failed_now = 1;                                    \
	}                                                               \
} while (0)

#define EXPECT_CLEAN(n) do {                                            \
	if ((n) != 0) {                                                 \
		printf("    %s:%d: unexpected problems\n", __FILE__, __LINE__); \
		dump_errors();                                          \
		test_failed_now = 1;                                    \
	}                                                               \
} while (0)

static struct config_guest *guest(const char *name)
{
	for (uint32_t i = 0; i < cfg.guest_count; i++) {
		if (!strcmp(cfg.guests[i].name, name))
			return &cfg.guests[i];
	}
	return NULL;
}

static bool guest_valid(const char *name)
{
	struct config_guest *g = guest(name);

	return g && g->valid;
}

/* A complete, valid section for guest NAME on cpu CPU. */
#define GUEST(name, cpu)                                                \
	"[guest." name "]\n"                                            \
	"image = \"" name "\"\n"                                        \
	"format = \"multiboot\"\n"                                      \
	"memory = \"16M\"\n"                                            \
	"cpus = [" cpu "]\n"

static const char example[] =
	"# comment to end of line\n"
	"[guest.hello]              # section\n"
	"image = \"hello\"            # the module\n"
	"format = \"multiboot\"\n"
	"memory = \"16M\"\n"
	"cpus = [1]\n"
	"paging = \"ept\"\n"
	"devices = [\"com1\", \"debug-exit\"]\n"
	"cmdline = \"text\"\n"
	"modules = [\"a\", \"b\"]\n"
	"force_emulation = true\n"
	"dirty_log = \"pml\"\n";

/* ------------------------------------------------------------ good files */

TEST(example_parses)
{
	struct config_guest *g;

	EXPECT_CLEAN(parse(example));
	ASSERT(cfg.guest_count == 1);
	g = &cfg.guests[0];
	EXPECT(!strcmp(g->name, "hello"));
	EXPECT(!strcmp(g->image, "hello"));
	EXPECT_EQ(g->format, CONFIG_FORMAT_MULTIBOOT);
	EXPECT_EQ(g->memory, 16 * MiB);
	EXPECT_EQ(g->cpu_count, 1);
	EXPECT_EQ(g->cpus[0], 1);
	EXPECT_EQ(g->cpu_mask, BIT_ULL(1));
	EXPECT_EQ(g->paging, CONFIG_PAGING_EPT);
	EXPECT_EQ(g->devices, CONFIG_DEVICE_COM1 | CONFIG_DEVICE_DEBUG_EXIT);
	EXPECT(!strcmp(g->cmdline, "text"));
	EXPECT_EQ(g->module_count, 2);
	EXPECT(!strcmp(g->modules[0], "a"));
	EXPECT(!strcmp(g->modules[1], "b"));
	EXPECT(g->force_emulation);
	EXPECT_EQ(g->dirty_log, CONFIG_DIRTY_LOG_PML);
	EXPECT(g->valid);
	EXPECT_EQ(g->line, 2);
	EXPECT_EQ(g->key_line[CONFIG_KEY_CPUS], 6);
}

TEST(three_guests)
{
	EXPECT_CLEAN(parse(GUEST("a", "1") GUEST("b", "2, 3") GUEST("c", "4")));
	ASSERT(cfg.guest_count == 3);
	EXPECT(guest_valid("a") && guest_valid("b") && guest_valid("c"));
	EXPECT_EQ(guest("b")->cpu_count, 2);
	EXPECT_EQ(guest("b")->cpu_mask, BIT_ULL(2) | BIT_ULL(3));
	EXPECT_EQ(guest("c")->line, 11);
}

TEST(every_key_per_format)
{
	static const char text[] =
		"[guest.flat]\n"
		"image = \"flatimg\"\n"
		"format = \"flat\"\n"
		"memory = 2M\n"
		"cpus = [1]\n"
		"paging = \"shadow\"\n"
		"devices = [\"com1\", \"debug-exit\", \"fw-cfg\"]\n"
		"cmdline = \"x\"\n"
		"load = 0x100000\n"
		"entry = 1048592\n"
		"force_emulation = false\n"
		"dirty_log = \"wp\"\n"
		"[guest.linux]\n"
		"image = \"bzImage\"\n"
		"format = \"linux\"\n"
		"memory = \"256M\"\n"
		"cpus = [2, 3]\n"
		"initrd = \"initramfs\"\n"
		"cmdline = \"console=ttyS0 quiet\"\n"
		"dirty_log = \"ad\"\n"
		"[guest.real]\n"
		"image = \"boot\"\n"
		"format = \"realmode\"\n"
		"memory = 64K\n"
		"cpus = [4]\n"
		"load = 0x7c00\n"
		"entry = 0x7c00\n"
		"[guest.elf]\n"
		"image = \"kernel.elf\"\n"
		"format = \"elf64\"\n"
		"memory = 1G\n"
		"cpus = [5]\n";
	struct config_guest *g;

	EXPECT_CLEAN(parse(text));
	ASSERT(cfg.guest_count == 4);
	g = guest("flat");
	EXPECT_EQ(g->format, CONFIG_FORMAT_FLAT);
	EXPECT_EQ(g->paging, CONFIG_PAGING_SHADOW);
	EXPECT_EQ(g->devices, CONFIG_DEVICE_COM1 | CONFIG_DEVICE_DEBUG_EXIT |
			      CONFIG_DEVICE_FW_CFG);
	EXPECT(g->has_load && g->load == 0x100000);
	EXPECT(g->has_entry && g->entry == 0x100010);
	EXPECT(!g->force_emulation);
	EXPECT_EQ(g->dirty_log, CONFIG_DIRTY_LOG_WP);
	g = guest("linux");
	EXPECT_EQ(g->format, CONFIG_FORMAT_LINUX);
	EXPECT(!strcmp(g->initrd, "initramfs"));
	EXPECT(!strcmp(g->cmdline, "console=ttyS0 quiet"));
	EXPECT_EQ(g->dirty_log, CONFIG_DIRTY_LOG_AD);
	g = guest("real");
	EXPECT_EQ(g->memory, 64 * KiB);
	EXPECT_EQ(g->load, 0x7c00);
	EXPECT_EQ(guest("elf")->memory, GiB);
	EXPECT_EQ(guest("elf")->format, CONFIG_FORMAT_ELF64);
}

TEST(defaults)
{
	struct config_guest *g;

	EXPECT_CLEAN(parse(GUEST("d", "1")));
	ASSERT((g = guest("d")) != NULL);
	EXPECT_EQ(g->paging, CONFIG_PAGING_AUTO);
	EXPECT_EQ(g->dirty_log, CONFIG_DIRTY_LOG_AUTO);
	EXPECT_EQ(g->devices, 0);
	EXPECT(!g->force_emulation);
	EXPECT(!g->has_load && !g->has_entry);
	EXPECT_EQ(g->cmdline[0], 0);
	EXPECT_EQ(g->initrd[0], 0);
	EXPECT_EQ(g->module_count, 0);
}

TEST(empty_file)
{
	EXPECT_CLEAN(parse(""));
	EXPECT_EQ(cfg.guest_count, 0);
	EXPECT_CLEAN(config_parse(&cfg, NULL, 10));
	EXPECT_EQ(cfg.guest_count, 0);
}

TEST(only_comments_and_blanks)
{
	EXPECT_CLEAN(parse("# one\n\n   \t\n  # two\n#\n"));
	EXPECT_EQ(cfg.guest_count, 0);
}

TEST(comments_everywhere)
{
	static const char text[] =
		"#top\n"
		"[guest.c]#h\n"
		"image=\"c#not-a-comment\"#i\n"
		"format = \"elf64\"   # f\n"
		"memory = 16M# m\n"
		"cpus = [1, 2,]  # c\n"
		"devices = [] #\n"
		"force_emulation = true#\n"
		"  # indented\n";

	EXPECT_CLEAN(parse(text));
	ASSERT(guest("c") != NULL);
	EXPECT(!strcmp(guest("c")->image, "c#not-a-comment"));
	EXPECT_EQ(guest("c")->cpu_count, 2);
	EXPECT(guest("c")->force_emulation);
}

TEST(crlf_line_endings)
{
	static const char text[] =
		"# x\r\n"
		"[guest.w]\r\n"
		"image = \"w\"\r\n"
		"format = \"multiboot\"\r\n"
		"memory = 16M\r\n"
		"cpus = [1]\r\n"
		"cmdline = \"a b\"\r\n"
		"memroy = 1\r\n";

	EXPECT_EQ(parse(text), 1);
	EXPECT_ERROR(8, "unknown key 'memroy'");
	EXPECT(!strcmp(guest("w")->cmdline, "a b"));
	EXPECT_EQ(guest("w")->key_line[CONFIG_KEY_CPUS], 6);
}

TEST(no_final_newline)
{
	EXPECT_CLEAN(parse("[guest.n]\nimage = \"n\"\nformat = \"elf64\"\n"
			   "memory = 16M\ncpus = [1]"));
	EXPECT_EQ(guest("n")->cpu_count, 1);
	EXPECT_CLEAN(parse("[guest.n]\nimage = \"n\"\nformat = \"elf64\"\n"
			   "memory = 16M\ncpus = [1]\r"));
}

TEST(whitespace_around_equals_and_tabs)
{
	EXPECT_CLEAN(parse("\t[\tguest.t ]\t\n"
			   "image=\"t\"\n"
			   "format\t=\t\"elf64\"\n"
			   "memory   =16M\n"
			   "\tcpus= [ 1 ,2 ]\t\n"));
	EXPECT_EQ(guest("t")->cpu_count, 2);
}

TEST(memory_spellings)
{
	static const struct { const char *v; uint64_t bytes; } cases[] = {
		{ "\"16M\"", 16 * MiB }, { "16M", 16 * MiB },
		{ "16777216", 16 * MiB }, { "0x1000000", 16 * MiB },
		{ "\"1G\"", GiB }, { "4096K", 4 * MiB }, { "64G", 64 * GiB },
		{ "\"0x100000\"", MiB },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "[guest.m]\nimage=\"m\"\nformat=\"elf64\"\n"
			 "memory = %s\ncpus=[1]\n", cases[i].v);
		EXPECT_CLEAN(parse(text));
		EXPECT_EQ(cfg.guests[0].memory, cases[i].bytes);
	}
}

/* ------------------------------------------------------------ value errors */

#define MEM_GUEST(mem) \
	"[guest.m]\nimage=\"m\"\nformat=\"elf64\"\nmemory = " mem "\ncpus=[1]\n"

TEST(memory_not_4k_multiple)
{
	EXPECT_EQ(parse(MEM_GUEST("1048577")), 1);
	EXPECT_ERROR(4, "guest m: memory '1048577' is not a multiple of 4K");
	EXPECT(!guest_valid("m"));
}

TEST(memory_above_max)
{
	EXPECT_EQ(parse(MEM_GUEST("65G")), 1);
	EXPECT_ERROR(4, "memory '65G' is above the maximum of 64G");
}

TEST(memory_overflow)
{
	EXPECT_EQ(parse(MEM_GUEST("99999999999G")), 1);
	EXPECT_ERROR(4, "size '99999999999G' does not fit in 64 bits");
	EXPECT_EQ(parse(MEM_GUEST("99999999999999999999")), 1);
	EXPECT_ERROR(4, "does not fit in 64 bits");
	EXPECT(!guest_valid("m"));
}

TEST(memory_bad_syntax)
{
	EXPECT_EQ(parse(MEM_GUEST("16MB")), 1);
	EXPECT_ERROR(4, "bad size '16MB'");
	EXPECT_EQ(parse(MEM_GUEST("1.5G")), 1);
	EXPECT_ERROR(4, "bad size '1.5G'");
	EXPECT_EQ(parse(MEM_GUEST("\"\"")), 1);
	EXPECT_ERROR(4, "bad size ''");
	EXPECT_EQ(parse(MEM_GUEST("\"16 M\"")), 1);
	EXPECT_EQ(parse(MEM_GUEST("16 M")), 1);
	EXPECT_ERROR(4, "unexpected 'M' after value");
	EXPECT_EQ(parse(MEM_GUEST("\"16M")), 1);
	EXPECT_ERROR(4, "unterminated string");
}

TEST(memory_minimum_depends_on_format)
{
	EXPECT_EQ(parse(MEM_GUEST("512K")), 1);
	EXPECT_ERROR(4, "memory 512K is below the minimum of 1M");
	EXPECT_EQ(parse(MEM_GUEST("0")), 1);
	EXPECT_ERROR(4, "below the minimum");
	EXPECT_CLEAN(parse("[guest.r]\nimage=\"r\"\nformat=\"realmode\"\n"
			   "memory=64K\ncpus=[1]\n"));
	EXPECT_EQ(parse("[guest.r]\nimage=\"r\"\nformat=\"realmode\"\n"
			"memory=32K\ncpus=[1]\n"), 1);
	EXPECT_ERROR(4, "memory 32K is below the minimum of 64K for realmode");
}

TEST(string_escapes)
{
	EXPECT_CLEAN(parse(GUEST("s", "1")
			   "cmdline = \"q\\\"b\\\\s\\nn\\tt\"\n"));
	EXPECT(!strcmp(guest("s")->cmdline, "q\"b\\s\nn\tt"));
}

TEST(unknown_escape)
{
	EXPECT_EQ(parse(GUEST("s", "1") "cmdline = \"a\\x\"\n"), 1);
	EXPECT_ERROR(6, "guest s: unknown escape \\'x'");
}

TEST(unterminated_string)
{
	EXPECT_EQ(parse(GUEST("s", "1") "cmdline = \"abc\n"), 1);
	EXPECT_ERROR(6, "unterminated string");
	EXPECT_EQ(parse(GUEST("s", "1") "cmdline = \"abc\\\"\n"), 1);
	EXPECT_ERROR(6, "unterminated string");
	EXPECT_EQ(parse(GUEST("s", "1") "cmdline = \"abc\\"), 1);
	EXPECT_ERROR(6, "unterminated string");
}

TEST(longest_cmdline_fits)
{
	char text[512];
	char value[244];

	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = 0;
	snprintf(text, sizeof(text), GUEST("c", "1") "cmdline = \"%s\"\n", value);
	EXPECT_CLEAN(parse(text));
	EXPECT_EQ(strlen(guest("c")->cmdline), 243);
}

TEST(unknown_key_message)
{
	static const char text[] =
		"[guest.hello]\n"
		"image = \"hello\"\n"
		"format = \"multiboot\"\n"
		"memory = \"16M\"\n"
		"cpus = [1]\n"
		"\n"
		"memroy = \"16M\"\n";

	EXPECT_EQ(parse(text), 1);
	ASSERT(cfg.error_count == 1);
	EXPECT(!strcmp(format_error(0),
		       "line 7: guest hello: unknown key 'memroy'"));
	EXPECT_EQ(cfg.errors[0].guest, 0);
	EXPECT(!guest_valid("hello"));
}

TEST(duplicate_key)
{
	EXPECT_EQ(parse(GUEST("d", "1") "\nmemory = 32M\n"), 1);
	EXPECT_ERROR(7, "duplicate key 'memory' (first at line 4)");
	EXPECT_EQ(guest("d")->memory, 16 * MiB);
}

TEST(missing_required_keys)
{
	EXPECT_EQ(parse("# x\n[guest.e]\n"), 4);
	EXPECT_ERROR(2, "guest e: missing required key 'image'");
	EXPECT_ERROR(2, "missing required key 'format'");
	EXPECT_ERROR(2, "missing required key 'memory'");
	EXPECT_ERROR(2, "missing required key 'cpus'");
	EXPECT(!guest_valid("e"));
}

TEST(rejected_value_is_not_also_missing)
{
	EXPECT_EQ(parse("[guest.x]\nimage=\"x\"\nformat=\"elf64\"\n"
			"memory=bogus\ncpus=[1]\n"), 1);
	EXPECT_ERROR(4, "bad size 'bogus'");
}

TEST(wrong_value_types)
{
	EXPECT_EQ(parse(GUEST("w", "1") "paging = ept\n"), 1);
	EXPECT_ERROR(6, "key 'paging' expects a quoted string");
	EXPECT_EQ(parse(GUEST("w", "1") "force_emulation = \"true\"\n"), 1);
	EXPECT_ERROR(6, "key 'force_emulation' expects true or false");
	EXPECT_EQ(parse(GUEST("w", "1") "force_emulation = yes\n"), 1);
	EXPECT_ERROR(6, "expects true or false");
	EXPECT_EQ(parse(GUEST("w", "1") "devices = \"com1\"\n"), 1);
	EXPECT_ERROR(6, "key 'devices' expects a list");
	EXPECT_EQ(parse(GUEST("w", "1") "devices = [com1]\n"), 1);
	EXPECT_ERROR(6, "key 'devices' expects a quoted string");
	EXPECT_EQ(parse(GUEST("w", "1") "cmdline = 5\n"), 1);
	EXPECT_ERROR(6, "expects a quoted string");
	EXPECT_EQ(parse("[guest.w]\nimage=\"w\"\nformat=\"elf64\"\n"
			"memory=[1]\ncpus=1\n"), 2);
	EXPECT_ERROR(4, "key 'memory' expects a size");
	EXPECT_ERROR(5, "key 'cpus' expects a list");
}

TEST(integers)
{
	static const char base[] =
		"[guest.f]\nimage=\"f\"\nformat=\"flat\"\nmemory=16M\ncpus=[1]\n";
	char text[256];

	snprintf(text, sizeof(text), "%sload = 0xFfFf0\nentry = 4096\n", base);
	EXPECT_CLEAN(parse(text));
	EXPECT_EQ(guest("f")->load, 0xffff0);
	EXPECT_EQ(guest("f")->entry, 4096);
	snprintf(text, sizeof(text), "%sload = -1\nentry = 0x\n", base);
	EXPECT_EQ(parse(text), 2);
	EXPECT_ERROR(6, "bad integer '-1'");
	EXPECT_ERROR(7, "bad integer '0x'");
	snprintf(text, sizeof(text), "%sload = \"0x1000\"\nentry = 12abc\n", base);
	EXPECT_EQ(parse(text), 2);
	EXPECT_ERROR(6, "key 'load' expects an integer");
	EXPECT_ERROR(7, "bad integer '12abc'");
	snprintf(text, sizeof(text),
		 "%sload = 18446744073709551616\nentry=0x10000000000000000\n", base);
	EXPECT_EQ(parse(text), 2);
	EXPECT_ERROR(6, "does not fit in 64 bits");
	EXPECT_ERROR(7, "does not fit in 64 bits");
}

TEST(missing_value_and_equals)
{
	EXPECT_EQ(parse(GUEST("v", "1") "cmdline =   # nothing\nparing\n"), 2);
	EXPECT_ERROR(6, "key 'cmdline' has no value");
	EXPECT_ERROR(7, "expected '=' after 'paring'");
}

TEST(trailing_garbage)
{
	EXPECT_EQ(parse(GUEST("g", "1") "cmdline = \"a\" \"b\"\n"
			"paging = \"ept\" x\n"), 2);
	EXPECT_ERROR(6, "unexpected '\"' after value");
	EXPECT_ERROR(7, "unexpected 'x' after value");
	EXPECT_EQ(parse("[guest.a] junk\n"), 1);
	EXPECT_ERROR(1, "unexpected 'j' after section header");
}

TEST(garbage_line_in_section)
{
	EXPECT_EQ(parse(GUEST("g", "1") "@@@\n= 5\n"), 2);
	EXPECT_ERROR(6, "expected a key or a section header, found '@'");
	EXPECT_ERROR(7, "found '='");
	EXPECT(!guest_valid("g"));
}

/* ------------------------------------------------------- sections, names */

TEST(unknown_section_is_global_and_skipped)
{
	EXPECT_EQ(parse("[vm.x]\nimage = \"x\"\nbogus = 1\n" GUEST("ok", "1")), 1);
	EXPECT_ERROR(1, "unknown section 'vm.x'");
	EXPECT(!strcmp(format_error(0),
		       "line 1: unknown section 'vm.x' "
		       "(expected [guest.NAME] or [shm.NAME])"));
	EXPECT_EQ(cfg.errors[0].guest, -1);
	EXPECT(guest_valid("ok"));
	EXPECT_EQ(cfg.guest_count, 1);
}

TEST(malformed_headers)
{
	EXPECT_EQ(parse("[guest.a\n[[guest.b]]\n[]\n[guest.]\n[guest]\n"
			"[guest.a # x]\n"), 6);
	EXPECT_ERROR(1, "malformed section header");
	EXPECT_ERROR(2, "unknown section '[guest.b'");
	EXPECT_ERROR(6, "malformed section header");
	EXPECT_ERROR(3, "unknown section ''");
	EXPECT_ERROR(4, "bad guest name ''");
	EXPECT_ERROR(5, "unknown section 'guest'");
	EXPECT_EQ(cfg.guest_count, 0);
}

TEST(guest_names)
{
	EXPECT_EQ(parse("[guest.has.dot]\n[guest.bad!]\n"
			"[guest.abcdefghijabcdefghijabcdefghijab]\n"), 3);
	EXPECT_ERROR(1, "bad guest name 'has.dot'");
	EXPECT_ERROR(2, "bad guest name 'bad!'");
	EXPECT_ERROR(3, "bad guest name 'abcdefghijabcdefghijabcdefghijab'");
	EXPECT_EQ(parse("[guest.b c]\n[ guest.x\t]\n"), 5);
	EXPECT_ERROR(1, "bad guest name 'b c'");
	EXPECT_ERROR(2, "guest x: missing required key 'image'");
	EXPECT_CLEAN(parse(GUEST("Abc_-09abcdefghijabcdefghijabcd", "1")));
	EXPECT_EQ(strlen(cfg.guests[0].name), 31);
}

TEST(duplicate_guest_name)
{
	EXPECT_EQ(parse(GUEST("a", "1") GUEST("b", "2") GUEST("a", "3")), 1);
	EXPECT_ERROR(11, "guest a: duplicate guest name (first at line 1)");
	EXPECT_EQ(cfg.guest_count, 2);
	EXPECT(!guest_valid("a"));
	EXPECT(guest_valid("b"));
	EXPECT_EQ(guest("a")->cpus[0], 1);
}

TEST(key_outside_section)
{
	EXPECT_EQ(parse("memory = 16M\n" GUEST("a", "1")), 1);
	EXPECT(!strcmp(format_error(0),
		       "line 1: key 'memory' outside any section "
		       "(expected [guest.NAME] or [shm.NAME])"));
	EXPECT(guest_valid("a"));
}

TEST(rejected_section_body_is_skipped)
{
	EXPECT_EQ(parse("[guest.bad name]\nmemroy = 1\nnonsense\n"
			GUEST("good", "1")), 1);
	EXPECT_ERROR(1, "bad guest name 'bad name'");
	EXPECT(guest_valid("good"));
}

/* ------------------------------------------------------------ line errors */

TEST(line_length_limit)
{
	char text[600];
	char pad[300];

	memset(pad, ' ', sizeof(pad));
	/* "cmdline = \"x\"" is 13 characters; pad it to exactly 255. */
	snprintf(text, sizeof(text), GUEST("l", "1") "cmdline = \"x\"%.*s\n",
		 255 - 13, pad);
	EXPECT_CLEAN(parse(text));
	snprintf(text, sizeof(text), GUEST("l", "1") "cmdline = \"x\"%.*s\n",
		 256 - 13, pad);
	EXPECT_EQ(parse(text), 1);
	EXPECT_ERROR(6, "guest l: line too long (256 characters, max 255)");
	/* CR of a CRLF does not count. */
	snprintf(text, sizeof(text), GUEST("l", "1") "cmdline = \"x\"%.*s\r\n",
		 255 - 13, pad);
	EXPECT_CLEAN(parse(text));
}

TEST(nul_bytes)
{
	static const char text[] =
		"[guest.a]\nimage = \"a\"\nformat = \"elf64\"\nmemory = 16M\n"
		"cpus = [1]\ncmdline = \"x\0y\"\n" GUEST("b", "2");

	EXPECT_EQ(config_parse(&cfg, text, sizeof(text) - 1), 1);
	EXPECT_ERROR(6, "guest a: invalid byte 0x0 in column 13");
	EXPECT(!guest_valid("a"));
	EXPECT(guest_valid("b"));
}

TEST(control_bytes_and_lone_cr)
{
	EXPECT_EQ(parse(GUEST("a", "1") "paging = \"ept\"\r# x\n\x7f\n"
			"# \x1b[31m\n"), 3);
	EXPECT_ERROR(6, "invalid byte 0xd in column 15");
	EXPECT_ERROR(7, "invalid byte 0x7f in column 1");
	EXPECT_ERROR(8, "invalid byte 0x1b in column 3");
}

TEST(high_bytes_in_strings_and_comments)
{
	EXPECT_CLEAN(parse("# caf\xc3\xa9\n" GUEST("u", "1")
			   "cmdline = \"na\xc3\xafve\" # \xe2\x9c\x93\n"));
	EXPECT(!strcmp(guest("u")->cmdline, "na\xc3\xafve"));
	EXPECT_EQ(parse(GUEST("u", "1") "\xc3\xa9 = 1\n"), 1);
	EXPECT_ERROR(6, "found byte 0xc3");
}

TEST(garbage_bytes)
{
	unsigned char junk[4096];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof(junk); i++) {
		seed = (uint32_t)(((uint64_t)seed * 1103515245u + 12345u) & 0xffffffffu);
		junk[i] = (unsigned char)(seed >> 16);
	}
	EXPECT(config_parse(&cfg, (const char *)junk, sizeof(junk)) > 0);
	EXPECT_EQ(cfg.guest_count, 0);
	EXPECT(cfg.error_count <= CONFIG_MAX_ERRORS);
	for (uint32_t i = 0; i < cfg.error_count; i++)
		EXPECT(strlen(cfg.errors[i].msg) < CONFIG_ERROR_MSG_SIZE);
}

TEST(buffer_without_terminator)
{
	static const char src[] = GUEST("t", "1") "cmdline = \"end\"";
	size_t len = sizeof(src) - 1;
	char *exact = malloc(len);

	/* ASan flags any read past the last byte. */
	ASSERT(exact != NULL);
	memcpy(exact, src, len);
	EXPECT_CLEAN(config_parse(&cfg, exact, len));
	EXPECT(!strcmp(guest("t")->cmdline, "end"));
	EXPECT_EQ(config_parse(&cfg, exact, len - 1), 1);
	EXPECT_ERROR(6, "unterminated string");
	free(exact);
}

/* ---------------------------------------------------------------- lists */

TEST(cpus_order_and_trailing_comma)
{
	EXPECT_CLEAN(parse(GUEST("c", "7, 3, 0x3f,")));
	EXPECT_EQ(guest("c")->cpu_count, 3);
	EXPECT_EQ(guest("c")->cpus[0], 7);
	EXPECT_EQ(guest("c")->cpus[1], 3);
	EXPECT_EQ(guest("c")->cpus[2], 63);
	EXPECT_EQ(guest("c")->cpu_mask, BIT_ULL(3) | BIT_ULL(7) | BIT_ULL(63));
}

TEST(cpu_zero_is_reserved)
{
	EXPECT_EQ(parse(GUEST("z", "0")), 1);
	EXPECT_ERROR(5, "guest z: cpu '0' is reserved for Keel");
}

TEST(cpu_out_of_range_and_duplicate)
{
	EXPECT_EQ(parse(GUEST("r", "1, 64")), 1);
	EXPECT_ERROR(5, "cpu '64' is out of range (0-63)");
	EXPECT_EQ(parse(GUEST("r", "1, 2, 1")), 1);
	EXPECT_ERROR(5, "cpu '1' is listed twice");
}

TEST(cpus_empty)
{
	EXPECT_EQ(parse(GUEST("e", "")), 1);
	EXPECT_ERROR(5, "cpus must not be empty");
	EXPECT_EQ(parse(GUEST("e", " ,")), 1);
	EXPECT_ERROR(5, "key 'cpus' expects an integer");
}

TEST(list_syntax_errors)
{
	EXPECT_EQ(parse(GUEST("l", "1,,2")), 1);
	EXPECT_ERROR(5, "key 'cpus' expects an integer");
	EXPECT_EQ(parse(GUEST("l", "1 2")), 1);
	EXPECT_ERROR(5, "expected ',' or ']' in list, found '2'");
	EXPECT_EQ(parse("[guest.l]\nimage=\"l\"\nformat=\"elf64\"\nmemory=16M\n"
			"cpus = [1,\n2]\n"), 2);
	EXPECT_ERROR(5, "unterminated list");
	EXPECT_ERROR(6, "expected '=' after '2'");
	EXPECT_EQ(parse(GUEST("l", "1") "devices = [\"com1\" \"x\"]\n"), 1);
	EXPECT_ERROR(6, "expected ',' or ']' in list, found '\"'");
	EXPECT_EQ(parse(GUEST("l", "1 # one") "devices = [\"com1\"\n"), 2);
	EXPECT_ERROR(5, "unterminated list");
	EXPECT_ERROR(6, "unterminated list");
	EXPECT_EQ(parse(GUEST("l", "1] ]")), 1);
	EXPECT_ERROR(5, "unexpected ']' after value");
}

TEST(devices)
{
	EXPECT_EQ(parse(GUEST("d", "1") "devices = [\"com2\"]\n"), 1);
	EXPECT_ERROR(6, "unknown devices 'com2' (expected com1 | debug-exit | "
			"fw-cfg | testdev | rtc | port92 | pci | virtio-console)");
	EXPECT_EQ(parse(GUEST("d", "1") "devices = [\"com1\", \"com1\"]\n"), 1);
	EXPECT_ERROR(6, "device 'com1' is listed twice");
	EXPECT_CLEAN(parse(GUEST("d", "1") "devices = [\"fw-cfg\",]\n"));
	EXPECT_EQ(guest("d")->devices, CONFIG_DEVICE_FW_CFG);
}

TEST(device_testdev)
{
	EXPECT_CLEAN(parse(GUEST("t", "1")
			   "devices = [\"com1\", \"debug-exit\", \"testdev\"]\n"
			   "force_emulation = true\n"));
	EXPECT_EQ(guest("t")->devices, CONFIG_DEVICE_COM1 |
		  CONFIG_DEVICE_DEBUG_EXIT | CONFIG_DEVICE_TESTDEV);
	EXPECT(guest("t")->force_emulation);
	EXPECT(!strcmp(config_device_name(3), "testdev"));
	EXPECT_EQ(parse(GUEST("t", "1") "devices = [\"testdev\", \"testdev\"]\n"), 1);
	EXPECT_ERROR(6, "device 'testdev' is listed twice");
}

TEST(device_rtc)
{
	EXPECT_CLEAN(parse(GUEST("r", "1") "devices = [\"com1\", \"rtc\"]\n"));
	EXPECT_EQ(guest("r")->devices, CONFIG_DEVICE_COM1 | CONFIG_DEVICE_RTC);
	EXPECT(!strcmp(config_device_name(4), "rtc"));
}

TEST(device_port92)
{
	EXPECT_CLEAN(parse(GUEST("p", "1") "devices = [\"port92\", \"com1\"]\n"));
	EXPECT_EQ(guest("p")->devices, CONFIG_DEVICE_COM1 | CONFIG_DEVICE_PORT92);
	EXPECT(!strcmp(config_device_name(5), "port92"));
}

TEST(enum_values)
{
	EXPECT_EQ(parse("[guest.e]\nimage=\"e\"\nformat=\"pe\"\nmemory=16M\n"
			"cpus=[1]\npaging=\"npt\"\ndirty_log=\"PML\"\n"), 3);
	EXPECT_ERROR(3, "unknown format 'pe' (expected elf64 | multiboot | flat"
			" | realmode | linux)");
	EXPECT_ERROR(6, "unknown paging 'npt' (expected auto | ept | shadow)");
	EXPECT_ERROR(7, "unknown dirty_log 'PML' (expected auto | pml | ad | wp)");
}

TEST(pml_needs_ept)
{
	EXPECT_EQ(parse(GUEST("p", "1") "dirty_log = \"pml\"\n"
			"paging = \"shadow\"\n"), 1);
	EXPECT_ERROR(6, "dirty_log \"pml\" needs EPT, but paging is \"shadow\"");
	EXPECT_CLEAN(parse(GUEST("p", "1") "dirty_log = \"wp\"\n"
			   "paging = \"shadow\"\n"));
}

/* -------------------------------------------------- format-specific keys */

TEST(modules_cap)
{
	char text[1024];
	char list[600] = "";

	for (int i = 0; i < CONFIG_MAX_MODULES; i++)
		sprintf(list + strlen(list), "\"m%d\",", i);
	snprintf(text, sizeof(text), GUEST("m", "1") "modules = [%s]\n", list);
	EXPECT_CLEAN(parse(text));
	EXPECT_EQ(guest("m")->module_count, CONFIG_MAX_MODULES);
	EXPECT(!strcmp(guest("m")->modules[15], "m15"));
	snprintf(text, sizeof(text), GUEST("m", "1") "modules = [%s\"x\"]\n", list);
	EXPECT_EQ(parse(text), 1);
	EXPECT_ERROR(6, "too many modules (max 16)");
}

TEST(module_names)
{
	EXPECT_EQ(parse(GUEST("m", "1") "modules = [\"a b\"]\n"), 1);
	EXPECT_ERROR(6, "module name 'a b' may hold only printable characters");
	EXPECT_EQ(parse(GUEST("m", "1") "modules = [\"a\", \"a\"]\n"), 1);
	EXPECT_ERROR(6, "module 'a' is listed twice");
	EXPECT_EQ(parse("[guest.m]\nimage=\"\"\nformat=\"elf64\"\nmemory=16M\n"
			"cpus=[1]\n"), 1);
	EXPECT_ERROR(2, "module name '' is empty");
	EXPECT_EQ(parse("[guest.m]\nimage=\"a\\tb\"\nformat=\"elf64\"\n"
			"memory=16M\ncpus=[1]\n"), 1);
	EXPECT_ERROR(2, "module name 'a?b' may hold only");
}

TEST(initrd_name_checked)
{
	EXPECT_EQ(parse("[guest.l]\nimage=\"l\"\nformat=\"linux\"\nmemory=16M\n"
			"cpus=[1]\ninitrd = \"my initrd\"\n"), 1);
	EXPECT_ERROR(6, "guest l: module name 'my initrd' may hold only");
	EXPECT_EQ(guest("l")->initrd[0], 0);
}

TEST(module_name_length)
{
	char text[512];
	char name[80];

	memset(name, 'n', 63);
	name[63] = 0;
	snprintf(text, sizeof(text), GUEST("m", "1") "modules = [\"%s\"]\n", name);
	EXPECT_CLEAN(parse(text));
	EXPECT_EQ(strlen(guest("m")->modules[0]), 63);
	name[63] = 'n';
	name[64] = 0;
	snprintf(text, sizeof(text), GUEST("m", "1") "modules = [\"%s\"]\n", name);
	EXPECT_EQ(parse(text), 1);
	EXPECT_ERROR(6, "is too long (max 63 characters)");
	EXPECT_ERROR(6, "...'");
}

TEST(keys_that_need_a_format)
{
	EXPECT_EQ(parse("[guest.e]\nimage=\"e\"\nformat=\"elf64\"\nmemory=16M\n"
			"cpus=[1]\nload=0x1000\nentry=0x1000\nmodules=[\"x\"]\n"
			"initrd=\"i\"\n"), 4);
	EXPECT_ERROR(6, "key 'load' applies only to flat and realmode guests, not elf64");
	EXPECT_ERROR(7, "key 'entry' applies only to flat and realmode guests");
	EXPECT_ERROR(8, "key 'modules' applies only to multiboot guests");
	EXPECT_ERROR(9, "key 'initrd' applies only to linux guests");
}

TEST(flat_needs_load_and_entry)
{
	EXPECT_EQ(parse("# x\n[guest.f]\nimage=\"f\"\nformat=\"flat\"\n"
			"memory=16M\ncpus=[1]\n"), 2);
	EXPECT_ERROR(2, "flat guests need key 'load'");
	EXPECT_ERROR(2, "flat guests need key 'entry'");
}

TEST(addresses_inside_memory)
{
	EXPECT_EQ(parse("[guest.f]\nimage=\"f\"\nformat=\"flat\"\nmemory=16M\n"
			"cpus=[1]\nload=0x1000000\nentry=0xfffff\n"), 1);
	EXPECT_ERROR(6, "load address 0x1000000 lies outside the guest's 16M of memory");
	EXPECT_EQ(parse("[guest.r]\nimage=\"r\"\nformat=\"realmode\"\n"
			"memory=16M\ncpus=[1]\nload=0x7c00\nentry=0x100000\n"), 1);
	EXPECT_ERROR(7, "entry address 0x100000 is not below 1M");
	EXPECT_CLEAN(parse("[guest.r]\nimage=\"r\"\nformat=\"realmode\"\n"
			   "memory=1M\ncpus=[1]\n"));
}

/* ------------------------------------------------------------ recovery */

TEST(errors_in_one_guest_leave_others_valid)
{
	static const char text[] =
		GUEST("a", "1")
		"memroy = 1\n"          /* 6 */
		"cpus = [2]\n"          /* 7 */
		GUEST("b", "2")         /* 8..12 */
		"[guest.c]\n"           /* 13 */
		"image = \"c\"\n"
		"format = \"elf64\"\n"
		"memory = 16M\n"
		"cpus = [3]\n";

	EXPECT_EQ(parse(text), 2);
	EXPECT_ERROR(6, "guest a: unknown key 'memroy'");
	EXPECT_ERROR(7, "guest a: duplicate key 'cpus' (first at line 5)");
	EXPECT(!guest_valid("a"));
	EXPECT(guest_valid("b"));
	EXPECT(guest_valid("c"));
}

TEST(all_problems_in_one_pass)
{
	static const char text[] =
		"x = 1\n"                        /* 1: outside */
		"[guest.a]\n"                    /* 2 */
		"image = \"a\"\n"
		"format = \"bogus\"\n"           /* 4 */
		"memory = 3\n"                   /* 5 */
		"cpus = [0]\n"                   /* 6 */
		"[nope]\n"                       /* 7 */
		"[guest.b]\n"                    /* 8: missing everything */
		"devices = [\"tty\"]\n";         /* 9 */

	EXPECT_EQ(parse(text), 10);
	EXPECT_ERROR(1, "outside any");
	EXPECT_ERROR(4, "unknown format 'bogus'");
	EXPECT_ERROR(5, "not a multiple of 4K");
	EXPECT_ERROR(6, "cpu '0' is reserved");
	EXPECT_ERROR(7, "unknown section 'nope'");
	EXPECT_ERROR(8, "guest b: missing required key 'image'");
	EXPECT_ERROR(9, "unknown devices 'tty'");
}

TEST(global_errors_do_not_invalidate_guests)
{
	EXPECT_EQ(parse(GUEST("a", "1") "[foo]\nx = 1\n# \x01\n" GUEST("b", "2")), 2);
	EXPECT(guest_valid("a"));
	EXPECT(guest_valid("b"));
	EXPECT_EQ(cfg.errors[1].guest, -1);
}

TEST(guest_cap)
{
	static char text[8192];
	char name[16];

	text[0] = 0;
	for (int i = 1; i <= CONFIG_MAX_GUESTS + 1; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		sprintf(text + strlen(text),
			"[guest.%s]\nimage=\"%s\"\nformat=\"elf64\"\n"
			"memory=1M\ncpus=[%d]\n", name, name, i);
	}
	EXPECT_EQ(parse(text), 1);
	EXPECT_EQ(cfg.guest_count, CONFIG_MAX_GUESTS);
	EXPECT_ERROR(81, "guest g17: too many guests (max 16)");
	EXPECT_EQ(cfg.errors[0].guest, -1);
	for (int i = 0; i < CONFIG_MAX_GUESTS; i++)
		EXPECT(cfg.guests[i].valid);
}

TEST(error_cap)
{
	static char text[4096];

	text[0] = 0;
	for (int i = 0; i < CONFIG_MAX_ERRORS + 6; i++)
		strcat(text, "junk\n");
	EXPECT_EQ(parse(text), CONFIG_MAX_ERRORS + 6);
	EXPECT_EQ(cfg.error_count, CONFIG_MAX_ERRORS);
	EXPECT_EQ(cfg.errors_dropped, 6);
	EXPECT_EQ(cfg.errors[CONFIG_MAX_ERRORS - 1].line, CONFIG_MAX_ERRORS);
}

TEST(dropped_error_still_invalidates_guest)
{
	static char text[4096];

	text[0] = 0;
	for (int i = 0; i < CONFIG_MAX_ERRORS; i++)
		strcat(text, "junk\n");
	strcat(text, GUEST("late", "1") "memroy = 1\n");
	EXPECT_EQ(parse(text), CONFIG_MAX_ERRORS + 1);
	EXPECT_EQ(cfg.errors_dropped, 1);
	EXPECT(!guest_valid("late"));
}

/* ------------------------------------------------------ platform checks */

static const char *const present_modules[] = { "a", "b", "hello", "initrd" };

static const struct config_platform plat4 = {
	.checks = CONFIG_CHECK_CPUS | CONFIG_CHECK_MEMORY | CONFIG_CHECK_MODULES,
	.cpu_present = 0xf,
	.free_memory = 40 * MiB,
	.modules = present_modules,
	.module_count = 4,
};

TEST(check_accepts_good_config)
{
	EXPECT_CLEAN(parse_and_check(GUEST("a", "1") GUEST("b", "2, 3"), &plat4));
	EXPECT(guest_valid("a") && guest_valid("b"));
}

TEST(check_cpu_given_twice)
{
	EXPECT_EQ(parse_and_check(GUEST("a", "1, 2") "\n" GUEST("b", "3, 2"),
				  &plat4), 1);
	ASSERT(cfg.error_count == 1);
	EXPECT(!strcmp(format_error(0), "line 11: guest b: cpu 2 is already "
		       "given to guest 'a' (line 5)"));
	EXPECT(guest_valid("a"));
	EXPECT(!guest_valid("b"));
}

TEST(check_refused_guest_claims_no_cpu)
{
	/* a is refused for its typo, b has cpu 1 to itself, c loses it to b
	 * and therefore keeps none of its CPUs, so d may have cpu 2. */
	EXPECT_EQ(parse_and_check(GUEST("a", "1") "memroy = 1\n"
				  GUEST("b", "1") GUEST("c", "2, 1")
				  GUEST("d", "2"), NULL), 2);
	EXPECT(!guest_valid("a"));
	EXPECT(guest_valid("b"));
	EXPECT(!guest_valid("c"));
	EXPECT(guest_valid("d"));
	EXPECT_ERROR(16, "guest c: cpu 1 is already given to guest 'b' (line 11)");
}

TEST(check_cpu_missing)
{
	EXPECT_EQ(parse_and_check(GUEST("a", "1, 4, 9"), &plat4), 2);
	EXPECT_ERROR(5, "guest a: cpu 4 does not exist on this machine");
	EXPECT_ERROR(5, "cpu 9 does not exist");
}

TEST(check_memory_fit)
{
	static const char text[] =
		GUEST("a", "1")
		"[guest.b]\nimage=\"b\"\nformat=\"elf64\"\nmemory=32M\ncpus=[2]\n"
		"[guest.c]\nimage=\"a\"\nformat=\"elf64\"\nmemory=8M\ncpus=[3]\n";

	EXPECT_EQ(parse_and_check(text, &plat4), 1);
	EXPECT_ERROR(9, "guest b: memory 32M does not fit: 24M left of 40M "
			"free for guests");
	EXPECT(guest_valid("a"));
	EXPECT(!guest_valid("b"));
	EXPECT(guest_valid("c"));
}

TEST(check_missing_modules)
{
	static const char text[] =
		"[guest.x]\nimage=\"nothere\"\nformat=\"multiboot\"\nmemory=16M\n"
		"cpus=[1]\nmodules=[\"a\", \"zz\"]\n"
		"[guest.l]\nimage=\"hello\"\nformat=\"linux\"\nmemory=16M\n"
		"cpus=[2]\ninitrd=\"initrd2\"\n";

	EXPECT_EQ(parse_and_check(text, &plat4), 3);
	EXPECT_ERROR(2, "guest x: image 'nothere' is not among the loaded modules");
	EXPECT_ERROR(6, "module 'zz' is not among the loaded modules");
	EXPECT_ERROR(12, "guest l: initrd 'initrd2' is not among");
}

TEST(check_skips_unknown_facts)
{
	struct config_platform none = { 0 };

	EXPECT_CLEAN(parse_and_check(GUEST("x", "40") "memory = 64G\n"
				     "[guest.y]\nimage=\"y\"\nformat=\"elf64\"\n"
				     "memory = 64G\ncpus=[41]\n", &none) - 1);
	EXPECT_ERROR(6, "duplicate key 'memory'");
	EXPECT(guest_valid("y"));
}

TEST(check_counts_parse_problems)
{
	EXPECT_EQ(parse_and_check("junk\n" GUEST("a", "5"), &plat4), 2);
	EXPECT_ERROR(1, "expected '=' after 'junk'");
	EXPECT_ERROR(6, "cpu 5 does not exist");
}

/* ------------------------------------------------------------- helpers */

TEST(format_error_truncates)
{
	char small[12];

	parse("junk\n");
	ASSERT(cfg.error_count == 1);
	EXPECT_EQ(config_format_error(&cfg.errors[0], small, sizeof(small)), 11);
	EXPECT(!strcmp(small, "line 1: exp"));
	EXPECT_EQ(config_format_error(&cfg.errors[0], small, 1), 0);
	EXPECT_EQ(small[0], 0);
	EXPECT_EQ(config_format_error(&cfg.errors[0], NULL, 0), 0);
}

TEST(format_error_without_line_or_guest)
{
	struct config_error e = { .line = 0, .guest = -1 };

	strcpy(e.msg, "hello");
	char buf[64];
	config_format_error(&e, buf, sizeof(buf));
	EXPECT(!strcmp(buf, "hello"));
	strcpy(e.guest_name, "g");
	config_format_error(&e, buf, sizeof(buf));
	EXPECT(!strcmp(buf, "guest g: hello"));
}

TEST(format_size)
{
	char buf[32];

	config_format_size(16 * MiB, buf, sizeof(buf));
	EXPECT(!strcmp(buf, "16M"));
	config_format_size(2 * GiB, buf, sizeof(buf));
	EXPECT(!strcmp(buf, "2G"));
	config_format_size(1536 * MiB, buf, sizeof(buf));
	EXPECT(!strcmp(buf, "1536M"));
	config_format_size(12 * KiB, buf, sizeof(buf));
	EXPECT(!strcmp(buf, "12K"));
	config_format_size(1000, buf, sizeof(buf));
	EXPECT(!strcmp(buf, "1000"));
	config_format_size(0, buf, sizeof(buf));
	EXPECT(!strcmp(buf, "0"));
	config_format_size(UINT64_MAX, buf, sizeof(buf));
	EXPECT(!strcmp(buf, "18446744073709551615"));
}

TEST(parse_size)
{
	uint64_t v = 0;

	EXPECT_EQ(config_parse_size("16M", 3, &v), 0);
	EXPECT_EQ(v, 16 * MiB);
	EXPECT_EQ(config_parse_size("0x10K", 5, &v), 0);
	EXPECT_EQ(v, 16 * KiB);
	EXPECT_EQ(config_parse_size("16777216", 8, &v), 0);
	EXPECT_EQ(v, 16 * MiB);
	EXPECT_EQ(config_parse_size("17179869183G", 12, &v), 0);
	EXPECT_EQ(config_parse_size("17179869184G", 12, &v), -2);
	EXPECT_EQ(config_parse_size("18446744073709551615", 20, &v), 0);
	EXPECT_EQ(v, UINT64_MAX);
	EXPECT_EQ(config_parse_size("18446744073709551616", 20, &v), -2);
	EXPECT_EQ(config_parse_size("", 0, &v), -1);
	EXPECT_EQ(config_parse_size("M", 1, &v), -1);
	EXPECT_EQ(config_parse_size("16m", 3, &v), -1);
	EXPECT_EQ(config_parse_size("1 M", 3, &v), -1);
	EXPECT_EQ(config_parse_size("0x", 2, &v), -1);
	/* Only len bytes are read. */
	EXPECT_EQ(config_parse_size("12Mxyz", 3, &v), 0);
	EXPECT_EQ(v, 12 * MiB);
}

TEST(names)
{
	EXPECT(!strcmp(config_format_name(CONFIG_FORMAT_REALMODE), "realmode"));
	EXPECT(!strcmp(config_format_name(CONFIG_FORMAT_NONE), "?"));
	EXPECT(!strcmp(config_format_name((enum config_format)99), "?"));
	EXPECT(!strcmp(config_paging_name(CONFIG_PAGING_SHADOW), "shadow"));
	EXPECT(!strcmp(config_dirty_log_name(CONFIG_DIRTY_LOG_AD), "ad"));
	EXPECT(!strcmp(config_key_name(CONFIG_KEY_FORCE_EMULATION),
		       "force_emulation"));
	EXPECT(!strcmp(config_device_name(1), "debug-exit"));
	EXPECT(!strcmp(config_device_name(CONFIG_DEVICE_COUNT), "?"));
}

TEST(reparse_clears_previous_state)
{
	parse("junk\n" GUEST("a", "1"));
	EXPECT_CLEAN(parse(""));
	EXPECT_EQ(cfg.guest_count, 0);
	EXPECT_EQ(cfg.error_count, 0);
}

TEST(migrate_keys)
{
	EXPECT_CLEAN(parse(GUEST("m", "1")
			   "migrate_cpus = [2]\n"
			   "migrate_after_ms = 40\n"));
	ASSERT(guest_valid("m"));
	EXPECT_EQ(guest("m")->migrate_cpu_count, 1);
	EXPECT_EQ(guest("m")->migrate_cpus[0], 2);
	EXPECT_EQ(guest("m")->migrate_after_ms, 40);
}

TEST(migrate_cpus_checked)
{
	parse(GUEST("m", "1") "migrate_cpus = [1]\n");
	EXPECT_ERROR(6, "must not include the guest's own cpus");
	parse(GUEST("m", "1") "migrate_cpus = [2, 3]\n");
	EXPECT_ERROR(6, "as many cpus as cpus (1)");
	parse(GUEST("m", "1") "migrate_cpus = [0]\n");
	EXPECT_ERROR(6, "reserved for Keel");
	parse(GUEST("m", "1") "migrate_after_ms = 5\n");
	EXPECT_ERROR(6, "needs migrate_cpus");
	EXPECT(!guest_valid("m"));
}

TEST(migrate_cpus_conflict_and_memory)
{
	const struct config_platform plat = {
		.checks = CONFIG_CHECK_CPUS | CONFIG_CHECK_MEMORY,
		.cpu_present = 0xf, .free_memory = 40 * MiB,
	};

	parse_and_check(GUEST("m", "1") "migrate_cpus = [2]\n"
			GUEST("o", "2"), &plat);
	EXPECT(guest_valid("m"));
	EXPECT(!guest_valid("o"));
	parse_and_check(GUEST("m", "1") "migrate_cpus = [9]\n", &plat);
	EXPECT_ERROR(6, "migrate cpu 9 does not exist");
	parse_and_check(GUEST("m", "1") "memory = \"32M\"\n", &plat);
	EXPECT(!guest_valid("m"));
}

/* ------------------------------------------------ PCI and virtio devices */

TEST(pci_devices)
{
	struct config_guest *g;

	EXPECT_CLEAN(parse(GUEST("p", "1")
			   "devices = [\"pci\", \"virtio-console\"]\n"
			   GUEST("q", "2")));
	g = guest("p");
	ASSERT(g && g->valid);
	EXPECT_EQ(g->devices, CONFIG_DEVICE_PCI | CONFIG_DEVICE_VIRTIO_CONSOLE);
	EXPECT(config_guest_has_pci(g));
	EXPECT_EQ(config_guest_pci_funcs(g), 1);
	EXPECT(!config_guest_has_pci(guest("q")));
	EXPECT_EQ(config_guest_pci_funcs(guest("q")), 0);
	EXPECT_CLEAN(parse(GUEST("p", "1") "devices = [\"pci\"]\n"));
	EXPECT(config_guest_has_pci(guest("p")));
	EXPECT_EQ(config_guest_pci_funcs(guest("p")), 0);
	EXPECT_CLEAN(parse(GUEST("p", "1") "devices = [\"virtio-console\"]\n"));
	EXPECT(config_guest_has_pci(guest("p")));
}

TEST(disk_keys)
{
	struct config_guest *g;

	EXPECT_CLEAN(parse(GUEST("d", "1")
			   "disk = \"rootfs\"\n"
			   "disk_readonly = true\n"));
	g = guest("d");
	ASSERT(g && g->valid);
	EXPECT(!strcmp(g->disk, "rootfs"));
	EXPECT(g->disk_readonly);
	EXPECT_EQ(g->key_line[CONFIG_KEY_DISK], 6);
	EXPECT(config_guest_has_pci(g));
	EXPECT_EQ(config_guest_pci_funcs(g), 1);
	EXPECT_CLEAN(parse(GUEST("d", "1") "disk = \"rootfs\"\n"));
	EXPECT(!guest("d")->disk_readonly);
}

TEST(disk_errors)
{
	EXPECT_EQ(parse(GUEST("d", "1") "disk = \"two words\"\n"), 1);
	EXPECT_ERROR(6, "module name 'two words' may hold only printable "
			"characters, no spaces");
	EXPECT_EQ(parse(GUEST("d", "1") "disk = \"\"\n"), 1);
	EXPECT_ERROR(6, "module name '' is empty");
	EXPECT_EQ(parse(GUEST("d", "1") "disk = 7\n"), 1);
	EXPECT_ERROR(6, "key 'disk' expects a quoted string");
	EXPECT_EQ(parse(GUEST("d", "1") "disk_readonly = true\n"), 1);
	EXPECT_ERROR(6, "guest d: disk_readonly needs disk");
	EXPECT(!guest_valid("d"));
	EXPECT_EQ(parse(GUEST("d", "1") "disk = \"r\"\ndisk_readonly = 1\n"), 1);
	EXPECT_ERROR(7, "key 'disk_readonly' expects true or false");
	EXPECT_EQ(parse(GUEST("d", "1") "disk = \"r\"\ndisk = \"s\"\n"), 1);
	EXPECT_ERROR(7, "duplicate key 'disk' (first at line 6)");
}

TEST(check_disk_module)
{
	static const char *const loaded[] = { "d" };
	const struct config_platform plat = {
		.checks = CONFIG_CHECK_MODULES,
		.modules = loaded, .module_count = 1,
	};

	EXPECT_EQ(parse_and_check(GUEST("d", "1") "disk = \"rootfs\"\n",
				  &plat), 1);
	EXPECT_ERROR(6, "guest d: disk 'rootfs' is not among the loaded modules");
	EXPECT(!guest_valid("d"));
	EXPECT_CLEAN(parse_and_check(GUEST("d", "1") "disk = \"d\"\n", &plat));
}

TEST(net_and_default_mac)
{
	static const uint8_t mac_a[] = { 0x52, 0x54, 0, 0, 0, 1 };
	static const uint8_t mac_b[] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	static const uint8_t mac_c[] = { 0x52, 0x54, 0, 0, 0, 3 };

	EXPECT_CLEAN(parse(GUEST("a", "1") "net = \"lan0\"\n"
			   GUEST("b", "2") "net = \"lan0\"\n"
			   "mac = \"52:54:00:12:34:56\"\n"
			   GUEST("c", "3") "net = \"lan_1-x\"\n"));
	ASSERT(cfg.guest_count == 3);
	EXPECT(!strcmp(guest("a")->net, "lan0"));
	EXPECT(!memcmp(guest("a")->mac, mac_a, 6));
	EXPECT(!memcmp(guest("b")->mac, mac_b, 6));
	EXPECT(!memcmp(guest("c")->mac, mac_c, 6));
	EXPECT(config_guest_has_pci(guest("a")));
	EXPECT_EQ(config_guest_pci_funcs(guest("b")), 1);
	EXPECT_CLEAN(parse(GUEST("a", "1") "net = \"n\"\n"
			   "mac = \"52:54:00:AB:cd:EF\"\n"));
	EXPECT_EQ(guest("a")->mac[3], 0xab);
	EXPECT_EQ(guest("a")->mac[5], 0xef);
}

TEST(net_errors)
{
	EXPECT_EQ(parse(GUEST("a", "1") "net = \"lan 0\"\n"), 1);
	EXPECT_ERROR(6, "guest a: bad network name 'lan 0' (1-31 of A-Z a-z "
			"0-9 _ -)");
	EXPECT_EQ(parse(GUEST("a", "1") "net = \"\"\n"), 1);
	EXPECT_ERROR(6, "bad network name ''");
	EXPECT_EQ(parse(GUEST("a", "1")
			"net = \"abcdefghijabcdefghijabcdefghijab\"\n"), 1);
	EXPECT_ERROR(6, "bad network name");
	EXPECT_EQ(parse(GUEST("a", "1") "mac = \"52:54:00:12:34:56\"\n"), 1);
	EXPECT_ERROR(6, "guest a: mac needs net");
}

TEST(mac_syntax)
{
	static const char *const bad[] = {
		"52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56",
		"52:54:00:12:34:5g", "525400123456", "52:54:00:12:34:5",
		" 2:54:00:12:34:56", "52:54:00:12:34:56 ", "",
	};
	char text[256];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text), GUEST("a", "1")
			 "net = \"n\"\nmac = \"%s\"\n", bad[i]);
		EXPECT_EQ(parse(text), 1);
		EXPECT_ERROR(7, "is not six hex pairs such as 52:54:00:12:34:56");
	}
	parse(GUEST("a", "1") "net = \"n\"\nmac = \"53:54:00:12:34:56\"\n");
	EXPECT_ERROR(7, "mac '53:54:00:12:34:56' is a multicast address");
	parse(GUEST("a", "1") "net = \"n\"\nmac = \"ff:ff:ff:ff:ff:ff\"\n");
	EXPECT_ERROR(7, "is a multicast address (bit 0 of its first byte is set)");
	parse(GUEST("a", "1") "net = \"n\"\nmac = \"00:00:00:00:00:00\"\n");
	EXPECT_ERROR(7, "mac '00:00:00:00:00:00' is all zero");
	EXPECT(!guest_valid("a"));
	EXPECT_CLEAN(parse(GUEST("a", "1")
			   "net = \"n\"\nmac = \"02:00:00:00:00:00\"\n"));
}

TEST(mac_unique_per_network)
{
	/* b's default (index 1: ...:02) is a's explicit address. */
	EXPECT_EQ(parse(GUEST("a", "1") "net = \"lan0\"\n"
			"mac = \"52:54:00:00:00:02\"\n"
			GUEST("b", "2") "net = \"lan0\"\n"), 1);
	EXPECT_ERROR(13, "guest b: mac 52:54:00:00:00:02 is already guest 'a''s "
			 "on network 'lan0' (line 7)");
	EXPECT(guest_valid("a"));
	EXPECT(!guest_valid("b"));
	/* Two explicit ones: the error is on the later mac line. */
	EXPECT_EQ(parse(GUEST("a", "1") "net = \"lan0\"\n"
			GUEST("b", "2") "net = \"lan0\"\n"
			"mac = \"52:54:00:00:00:01\"\n"), 1);
	EXPECT_ERROR(13, "mac 52:54:00:00:00:01 is already guest 'a''s on "
			 "network 'lan0' (line 6)");
	/* The same address on two networks is fine. */
	EXPECT_CLEAN(parse(GUEST("a", "1") "net = \"lan0\"\n"
			   GUEST("b", "2") "net = \"lan1\"\n"
			   "mac = \"52:54:00:00:00:01\"\n"));
}

TEST(pci_memory_limit)
{
	static const char big[] =
		"[guest.big]\n"
		"image = \"big\"\n"
		"format = \"multiboot\"\n"
		"memory = \"%s\"\n"
		"cpus = [1]\n"
		"%s\n";
	char text[256];

	snprintf(text, sizeof(text), big, "4G", "devices = [\"pci\"]");
	EXPECT_EQ(parse(text), 1);
	EXPECT_ERROR(4, "guest big: memory 4G is above the limit of 3G for a "
			"guest with PCI devices");
	EXPECT(!guest_valid("big"));
	snprintf(text, sizeof(text), big, "3076M", "disk = \"d\"");
	EXPECT_EQ(parse(text), 1);
	EXPECT_ERROR(4, "memory 3076M is above the limit of 3G");
	snprintf(text, sizeof(text), big, "3G", "net = \"n\"");
	EXPECT_CLEAN(parse(text));
	snprintf(text, sizeof(text), big, "4G", "# no PCI");
	EXPECT_CLEAN(parse(text));
}

TEST(pci_cannot_migrate)
{
	EXPECT_EQ(parse(GUEST("m", "1") "migrate_cpus = [2]\n"
			"devices = [\"virtio-console\"]\n"), 1);
	EXPECT_ERROR(6, "guest m: migrate_cpus cannot go with PCI devices "
			"(their state does not migrate)");
	EXPECT_EQ(parse(GUEST("m", "1") "disk = \"d\"\n"
			"migrate_cpus = [2]\n"), 1);
	EXPECT_ERROR(7, "migrate_cpus cannot go with PCI devices");
	EXPECT_CLEAN(parse(GUEST("m", "1") "migrate_cpus = [2]\n"
			   "devices = [\"com1\"]\n"));
}

/* ------------------------------------------------------------- shm regions */

/* Guests a and b, lines 1-10. */
#define AB GUEST("a", "1") GUEST("b", "2")

/* A four-line [shm.NAME] section of a and b. */
#define SHM(name, size, gpa_a, gpa_b)                                   \
	"[shm." name "]\n"                                              \
	"size = \"" size "\"\n"                                         \
	"guests = [\"a\", \"b\"]\n"                                     \
	"gpa = [" gpa_a ", " gpa_b "]\n"

static struct config_shm *shm(const char *name)
{
	for (uint32_t i = 0; i < cfg.shm_count; i++) {
		if (!strcmp(cfg.shm[i].name, name))
			return &cfg.shm[i];
	}
	return NULL;
}

static bool shm_valid(const char *name)
{
	struct config_shm *s = shm(name);

	return s && s->valid;
}

TEST(shm_parses)
{
	static const char text[] =
		"[shm.ring]              # before its guests\n"
		"size = \"64K\"\n"
		"guests = [\"a\", \"b\", \"c\"]\n"
		"gpa = [0xf0000000, 0x40000000, 0x100000000]\n"
		"readonly = [\"c\"]\n"
		GUEST("a", "1") GUEST("b", "2") GUEST("c", "3");
	struct config_shm *s;

	EXPECT_CLEAN(parse(text));
	ASSERT(cfg.shm_count == 1);
	s = &cfg.shm[0];
	EXPECT(!strcmp(s->name, "ring"));
	EXPECT(s->valid);
	EXPECT_EQ(s->line, 1);
	EXPECT_EQ(s->size, 64 * KiB);
	EXPECT_EQ(s->guest_count, 3);
	EXPECT_EQ(s->guests[0], 0);
	EXPECT_EQ(s->guests[2], 2);
	EXPECT_EQ(s->gpa_count, 3);
	EXPECT_EQ(s->gpa[0], 0xf0000000);
	EXPECT_EQ(s->gpa[2], 0x100000000);
	EXPECT_EQ(s->readonly, BIT_ULL(2));
	EXPECT_EQ(s->key_line[CONFIG_SHM_KEY_GPA], 4);
	EXPECT_EQ(config_shm_member(s, 1), 1);
	EXPECT_EQ(config_shm_member(s, 3), -1);
	for (uint32_t i = 0; i < 3; i++) {
		EXPECT(cfg.guests[i].valid);
		EXPECT_EQ(cfg.guests[i].shm_mask, 1);
		EXPECT(config_guest_has_pci(&cfg.guests[i]));
		EXPECT_EQ(config_guest_pci_funcs(&cfg.guests[i]), 1);
	}
}

TEST(shm_edges_of_the_holes)
{
	/* Up to the window, between ECAM and the I/O APIC, above 4G, up to
	 * 1T: all fine. A shm section may share its name with a guest. */
	EXPECT_CLEAN(parse(AB SHM("a", "4K", "0xbffff000", "0xe0100000")
			   SHM("b", "256M", "0xeec00000", "0x100000000")
			   SHM("c", "64K", "0xffffff0000", "0x1000000")));
	EXPECT(shm_valid("a") && shm_valid("b") && shm_valid("c"));
	EXPECT_EQ(guest("a")->shm_mask, 7);
	EXPECT_EQ(config_guest_pci_funcs(guest("b")), 3);
}

/* Shared memory takes its blocks (pages, a power of two of them) from the
 * free memory before the guests do. */
TEST(shm_memory_fit)
{
	/* 12M takes a 16M block: a (16M) fits in the 24M left, b not. */
	EXPECT_EQ(parse_and_check(AB SHM("r", "12M", "0x2000000", "0x2000000"),
				  &plat4), 1);
	EXPECT_ERROR(9, "guest b: memory 16M does not fit: 8M left of 40M "
			"free for guests and shared memory");
	EXPECT(shm_valid("r") && guest_valid("a") && !guest_valid("b"));

	/* A region that does not fit names its size line, and takes its
	 * guests with it; the memory stays for the others. */
	EXPECT_EQ(parse_and_check(AB SHM("big", "64M", "0x2000000", "0x2000000")
				  "[guest.c]\nimage=\"a\"\nformat=\"multiboot\"\n"
				  "memory=32M\ncpus=[3]\n", &plat4), 3);
	EXPECT_ERROR(12, "shm big: size 64M does not fit: 40M left of 40M "
			 "free for shared memory and guests");
	EXPECT_ERROR(11, "guest a: its shared memory 'big' does not fit");
	EXPECT_ERROR(11, "guest b: its shared memory 'big' does not fit");
	EXPECT(!shm_valid("big") && !guest_valid("a") && !guest_valid("b"));
	EXPECT(guest_valid("c"));
}

TEST(shm_missing_keys)
{
	EXPECT_EQ(parse(AB "[shm.x]\n"), 3);
	EXPECT_ERROR(11, "shm x: missing required key 'size'");
	EXPECT_ERROR(11, "shm x: missing required key 'guests'");
	EXPECT_ERROR(11, "shm x: missing required key 'gpa'");
	EXPECT(!shm_valid("x"));
	EXPECT_EQ(cfg.errors[0].shm, 0);
	EXPECT_EQ(cfg.errors[0].guest, -1);
	EXPECT(!cfg.errors[0].guest_name[0]);
	/* Its guests run without it. */
	EXPECT(guest_valid("a") && guest_valid("b"));
	EXPECT_EQ(guest("a")->shm_mask, 0);
	EXPECT(!config_guest_has_pci(guest("a")));
}

TEST(shm_size)
{
	EXPECT_EQ(parse(AB SHM("x", "1K", "0xf0000000", "0xf0000000")), 1);
	EXPECT(!strcmp(format_error(0),
		       "line 12: shm x: size '1K' is below the minimum of 4K"));
	EXPECT_EQ(parse(AB SHM("x", "0", "0xf0000000", "0xf0000000")), 1);
	EXPECT_ERROR(12, "size '0' is below the minimum of 4K");
	EXPECT_EQ(parse(AB SHM("x", "257M", "0xf0000000", "0xf0000000")), 1);
	EXPECT_ERROR(12, "size '257M' is above the maximum of 256M");
	EXPECT_EQ(parse(AB SHM("x", "6K", "0xf0000000", "0xf0000000")), 1);
	EXPECT_ERROR(12, "size '6K' is not a multiple of 4K");
	EXPECT_EQ(parse(AB SHM("x", "4Q", "0xf0000000", "0xf0000000")), 1);
	EXPECT_ERROR(12, "bad size '4Q'");
	EXPECT(!shm_valid("x"));
	EXPECT(guest_valid("a") && guest_valid("b"));
}

TEST(shm_guests)
{
	EXPECT_EQ(parse(AB "[shm.x]\nsize = 4K\nguests = [\"a\"]\n"
			"gpa = [0xf0000000]\n"), 1);
	EXPECT_ERROR(13, "shm x: guests must name at least 2 guests");
	EXPECT_EQ(parse(AB "[shm.x]\nsize = 4K\nguests = []\ngpa = []\n"), 1);
	EXPECT_ERROR(13, "guests must name at least 2 guests");
	EXPECT_EQ(parse(AB "[shm.x]\nsize = 4K\nguests = [\"a\", \"a\"]\n"
			"gpa = [0xf0000000]\n"), 1);
	EXPECT_ERROR(13, "guest 'a' is listed twice");
	EXPECT_EQ(parse(AB "[shm.x]\nsize = 4K\nguests = [\"a\", \"b c\"]\n"
			"gpa = [0xf0000000]\n"), 1);
	EXPECT_ERROR(13, "shm x: bad guest name 'b c'");
	EXPECT_EQ(parse(AB "[shm.x]\nsize = 4K\n"
			"guests = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", "
			"\"g\", \"h\", \"i\"]\n"), 8);
	EXPECT_ERROR(13, "guest 'i': too many guests (max 8)");
	EXPECT_ERROR(11, "missing required key 'gpa'");
	EXPECT_ERROR(13, "no guest named 'c' in the file");
	EXPECT_ERROR(13, "no guest named 'h' in the file");
	EXPECT_EQ(parse(AB "[shm.x]\nsize = 4K\nguests = [1, 2]\n"
			"gpa = [0xf0000000, 0xf0000000]\n"), 1);
	EXPECT_ERROR(13, "key 'guests' expects a quoted string");
	EXPECT(!shm_valid("x"));
}

TEST(shm_guests_defined_anywhere)
{
	EXPECT_EQ(parse(GUEST("a", "1")
			SHM("x", "4K", "0xf0000000", "0xf0000000")), 1);
	EXPECT(!strcmp(format_error(0),
		       "line 8: shm x: no guest named 'b' in the file"));
	EXPECT(!shm_valid("x"));
	EXPECT(guest_valid("a"));
	EXPECT_EQ(guest("a")->shm_mask, 0);
	EXPECT_CLEAN(parse(GUEST("a", "1")
			   SHM("x", "4K", "0xf0000000", "0xf0000000")
			   GUEST("b", "2")));
	EXPECT_EQ(guest("b")->shm_mask, 1);
	/* An invalid guest is still a member: the others keep the region. */
	EXPECT_EQ(parse(AB "cpus = [3]\n"
			SHM("x", "4K", "0xf0000000", "0xf0000000")), 1);
	EXPECT(!guest_valid("b"));
	EXPECT(shm_valid("x"));
	EXPECT_EQ(guest("a")->shm_mask, 1);
}

TEST(shm_gpa_syntax)
{
	EXPECT_EQ(parse(AB SHM("x", "4K", "0xf0000800", "0xf0000000")), 1);
	EXPECT_ERROR(14, "shm x: gpa '0xf0000800' is not page-aligned (4K)");
	EXPECT_EQ(parse(AB "[shm.x]\nsize = 4K\nguests = [\"a\", \"b\"]\n"
			"gpa = [0xf0000000]\n"), 1);
	EXPECT_ERROR(14, "gpa must list one address per guest (2)");
	EXPECT_EQ(parse(AB "[shm.x]\nsize = 4K\nguests = [\"a\", \"b\"]\n"
			"gpa = [0, 0x1000, 0x2000, 0x3000, 0x4000, 0x5000, "
			"0x6000, 0x7000, 0x8000]\n"), 1);
	EXPECT_ERROR(14, "too many addresses in gpa (max 8)");
	EXPECT_EQ(parse(AB "[shm.x]\nsize = 4K\nguests = [\"a\", \"b\"]\n"
			"gpa = 0xf0000000\n"), 1);
	EXPECT_ERROR(14, "key 'gpa' expects a list");
	EXPECT(!shm_valid("x"));
}

TEST(shm_gpa_holes)
{
	EXPECT_EQ(parse(AB SHM("x", "4K", "0xc0000000", "0xf0000000")), 1);
	EXPECT_ERROR(14, "shm x: gpa 0xc0000000 of guest 'a': [0xc0000000, "
			 "0xc0001000) overlaps the PCI window [0xc0000000, "
			 "0xe0000000)");
	EXPECT_EQ(parse(AB SHM("x", "8K", "0xf0000000", "0xbffff000")), 1);
	EXPECT_ERROR(14, "of guest 'b': [0xbffff000, 0xc0001000) overlaps the "
			 "PCI window");
	EXPECT_EQ(parse(AB SHM("x", "8K", "0xe00ff000", "0xf0000000")), 1);
	EXPECT_ERROR(14, "overlaps PCI ECAM [0xe0000000, 0xe0100000)");
	EXPECT_EQ(parse(AB SHM("x", "8K", "0xfebff000", "0xf0000000")), 1);
	EXPECT_ERROR(14, "overlaps the APICs and testdev [0xfec00000, "
			 "0x100000000)");
	EXPECT_EQ(parse(AB SHM("x", "4K", "0xfffff000", "0xff000000")), 2);
	EXPECT_ERROR(14, "gpa 0xfffff000 of guest 'a'");
	EXPECT_ERROR(14, "gpa 0xff000000 of guest 'b'");
	EXPECT_EQ(parse(AB SHM("x", "64K", "0xffffff1000", "0xf0000000")), 1);
	EXPECT_ERROR(14, "[0xffffff1000, 0x10000001000) ends above 1T");
	EXPECT_EQ(parse(AB SHM("x", "4K", "0xfffffffffffff000",
			       "0xf0000000")), 1);
	EXPECT_ERROR(14, "ends above 1T");
	EXPECT(!shm_valid("x"));
	EXPECT(guest_valid("a") && guest_valid("b"));
}

TEST(shm_gpa_ram)
{
	EXPECT_EQ(parse(AB SHM("x", "64K", "0xf0000000", "0xff0000")), 1);
	EXPECT_ERROR(14, "shm x: gpa 0xff0000 of guest 'b': [0xff0000, "
			 "0x1000000) overlaps the guest's RAM [0x0, 0x1000000)");
	EXPECT(!shm_valid("x"));
	EXPECT(guest_valid("b"));
	EXPECT_CLEAN(parse(AB SHM("x", "64K", "0xf0000000", "0x1000000")));
}

TEST(shm_regions_of_one_guest)
{
	EXPECT_EQ(parse(AB SHM("one", "64K", "0xf0000000", "0xf0000000")
			SHM("two", "4K", "0xf000f000", "0xf1000000")), 1);
	EXPECT_ERROR(18, "shm two: gpa 0xf000f000 of guest 'a': [0xf000f000, "
			 "0xf0010000) overlaps shm 'one' of the same guest "
			 "[0xf0000000, 0xf0010000)");
	EXPECT(shm_valid("one"));
	EXPECT(!shm_valid("two"));
	EXPECT_EQ(guest("a")->shm_mask, 1);
	/* Only valid regions count: with one dropped, two is fine. */
	EXPECT_EQ(parse(AB SHM("one", "64K", "0xf0000000", "0xf0000000")
			"readonly = [\"z\"]\n"
			SHM("two", "4K", "0xf000f000", "0xf1000000")), 1);
	EXPECT_ERROR(15, "shm one: readonly guest 'z' is not among guests");
	EXPECT(!shm_valid("one"));
	EXPECT(shm_valid("two"));
	EXPECT_EQ(guest("b")->shm_mask, 2);
	/* Different guests may use the same addresses. */
	EXPECT_CLEAN(parse(AB GUEST("c", "3")
			   SHM("one", "64K", "0xf0000000", "0xf0000000")
			   "[shm.two]\nsize = 4K\nguests = [\"c\", \"b\"]\n"
			   "gpa = [0xf0000000, 0xf1000000]\n"));
}

TEST(shm_readonly)
{
	EXPECT_CLEAN(parse(AB SHM("x", "4K", "0xf0000000", "0xf0000000")
			   "readonly = [\"b\", \"a\"]\n"));
	EXPECT_EQ(shm("x")->readonly, 3);
	EXPECT_EQ(parse(AB SHM("x", "4K", "0xf0000000", "0xf0000000")
			"readonly = [\"b\", \"b\"]\n"), 1);
	EXPECT_ERROR(15, "guest 'b' is listed twice");
	EXPECT_EQ(parse(AB SHM("x", "4K", "0xf0000000", "0xf0000000")
			"readonly = [\"c\"]\n"), 1);
	EXPECT_ERROR(15, "readonly guest 'c' is not among guests");
	EXPECT(!shm_valid("x"));
	EXPECT_CLEAN(parse(AB SHM("x", "4K", "0xf0000000", "0xf0000000")
			   "readonly = []\n"));
	EXPECT_EQ(shm("x")->readonly, 0);
}

TEST(shm_keys_in_any_order)
{
	EXPECT_CLEAN(parse("[shm.x]  # comment\r\n"
			   "readonly = [\"b\"]\r\n"
			   "gpa = [0xf0000000, 0xf0000000,]\r\n"
			   "guests = [ \"a\" , \"b\" ]  # a then b\r\n"
			   "size = 0x2000\r\n" AB));
	EXPECT_EQ(shm("x")->readonly, 2);
	EXPECT_EQ(shm("x")->size, 8 * KiB);
	EXPECT_EQ(parse(AB "[shm.x]\nsize =\nguests = [\"a\", \"b\"]\n"
			"gpa = [0xf0000000, 0xf0000000]\n"), 1);
	EXPECT_ERROR(12, "shm x: key 'size' has no value");
}

TEST(shm_section_keys)
{
	EXPECT_EQ(parse(AB SHM("x", "4K", "0xf0000000", "0xf0000000")
			"sizes = 4K\nsize = 8K\nimage = \"a\"\n"), 3);
	EXPECT_ERROR(15, "shm x: unknown key 'sizes'");
	EXPECT_ERROR(16, "shm x: duplicate key 'size' (first at line 12)");
	EXPECT_ERROR(17, "shm x: unknown key 'image'");
	EXPECT(!shm_valid("x"));
	/* A guest key after a shm section is the shm section's. */
	EXPECT_EQ(parse("[shm.x]\nmemory = 16M\n" AB), 4);
	EXPECT_ERROR(2, "shm x: unknown key 'memory'");
}

TEST(shm_headers)
{
	EXPECT_EQ(parse(AB SHM("x", "4K", "0xf0000000", "0xf0000000")
			SHM("x", "4K", "0xf1000000", "0xf1000000")), 1);
	EXPECT_ERROR(15, "shm x: duplicate shm name (first at line 11)");
	EXPECT_EQ(cfg.shm_count, 1);
	EXPECT(!shm_valid("x"));
	EXPECT_EQ(parse(AB "[shm.a.b]\nsize = 1\n[shm.]\n[ shm.ok ]\n"
			"size = 4K\n"), 4);
	EXPECT_ERROR(11, "bad shm name 'a.b' (1-31 of A-Z a-z 0-9 _ -)");
	EXPECT_ERROR(13, "bad shm name ''");
	EXPECT_ERROR(14, "shm ok: missing required key 'guests'");
	EXPECT_EQ(cfg.shm_count, 1);
	EXPECT_EQ(parse("[shmx.a]\n[shm]\n"), 2);
	EXPECT_ERROR(1, "unknown section 'shmx.a' (expected [guest.NAME] or "
			"[shm.NAME])");
	EXPECT_ERROR(2, "unknown section 'shm'");
}

TEST(shm_cap)
{
	char text[4096];
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), AB);
	for (int i = 0; i < CONFIG_MAX_SHM + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "[shm.s%d]\nsize = 4K\n"
				      "guests = [\"a\", \"b\"]\n"
				      "gpa = [0x%x, 0x%x]\n", i,
				      0xf0000000 + i * 0x1000,
				      0xf0000000 + i * 0x1000);
	ASSERT(n < sizeof(text));
	EXPECT_EQ(parse(text), 3);
	EXPECT_ERROR(43, "too many shm sections (max 8): 's8'");
	EXPECT_EQ(cfg.shm_count, CONFIG_MAX_SHM);
	/* Eight regions are eight doorbells: more than a guest's 6. */
	EXPECT_ERROR(1, "guest a: needs 8 PCI functions, max 6 (disk, net, "
			"virtio-console and one per shm region)");
	EXPECT_ERROR(6, "guest b: needs 8 PCI functions");
	EXPECT(!guest_valid("a") && !guest_valid("b"));
}

TEST(pci_function_limit)
{
	static const char devs[] =
		"disk = \"d\"\nnet = \"n\"\ndevices = [\"virtio-console\"]\n";
	static const char three[] =
		SHM("s0", "4K", "0xf0000000", "0xf0000000")
		SHM("s1", "4K", "0xf0001000", "0xf0001000")
		SHM("s2", "4K", "0xf0002000", "0xf0002000");
	char text[2048];

	snprintf(text, sizeof(text), GUEST("a", "1") "%s" GUEST("b", "2")
		 "%s", devs, three);
	EXPECT_CLEAN(parse(text));
	EXPECT_EQ(config_guest_pci_funcs(guest("a")), 6);
	EXPECT_EQ(config_guest_pci_funcs(guest("b")), 3);
	snprintf(text, sizeof(text), GUEST("a", "1") "%s" GUEST("b", "2")
		 "%s%s", devs, three,
		 SHM("s3", "4K", "0xf0003000", "0xf0003000"));
	EXPECT_EQ(parse(text), 1);
	EXPECT_ERROR(1, "guest a: needs 7 PCI functions, max 6");
	EXPECT(guest_valid("b"));
}

TEST(new_names)
{
	EXPECT(!strcmp(config_key_name(CONFIG_KEY_DISK_READONLY),
		       "disk_readonly"));
	EXPECT(!strcmp(config_key_name(CONFIG_KEY_MAC), "mac"));
	EXPECT(!strcmp(config_shm_key_name(CONFIG_SHM_KEY_READONLY),
		       "readonly"));
	EXPECT(!strcmp(config_shm_key_name(CONFIG_SHM_KEY_COUNT), "?"));
	EXPECT(!strcmp(config_device_name(6), "pci"));
	EXPECT(!strcmp(config_device_name(7), "virtio-console"));
}

TEST_MAIN()
