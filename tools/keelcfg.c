/* keelcfg: check a Keel guest configuration file on the build host, with the
 * same parser Keel runs at boot (guest/config.c).
 *
 *   keelcfg check FILE [--cpus N] [--mem SIZE] [--modules a,b,c]
 *   keelcfg dump  FILE [--cpus N] [--mem SIZE] [--modules a,b,c]
 *
 * Exit status: 0 when no problem was found, 1 when any was, 2 when the tool
 * itself could not run (bad usage, unreadable file). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/config.h"

#define KEELCFG_MAX_MODULES 256
#define KEELCFG_EXIT_OK      0
#define KEELCFG_EXIT_PROBLEM 1
#define KEELCFG_EXIT_USAGE   2

struct keelcfg_opts {
	const char *command;
	const char *file;
	struct config_platform plat;
	const char *modules[KEELCFG_MAX_MODULES];
	char *module_text;              /* --modules, split in place */
};

#define KEELCFG_SYNOPSIS \
"usage: keelcfg check FILE [--cpus N] [--mem SIZE] [--modules a,b,c]\n" \
"       keelcfg dump  FILE [--cpus N] [--mem SIZE] [--modules a,b,c]\n"

static const char keelcfg_usage[] =
KEELCFG_SYNOPSIS
"\n"
"check  print every problem as FILE:LINE: guest NAME: message (or shm NAME:),\n"
"       then one summary line per valid guest and per valid shm region;\n"
"       exit 0 if there was no problem, 1 if there was any, 2 if the file\n"
"       could not be read\n"
"dump   print the problems, then every parsed guest and shm region in full\n"
"       (valid or not)\n"
"Problems go to stderr, guests and regions to stdout.\n"
"\n"
"Describe the machine Keel will boot on to get the checks that need it:\n"
"  --cpus N         physical CPUs 0..N-1 exist (1-64); CPU 0 is Keel's own\n"
"  --mem SIZE       memory free for all guests together, e.g. 512M or 4G\n"
"  --modules a,b,c  names of the multiboot2 modules that will be loaded\n"
"Without --cpus, --mem or --modules, the check that needs that fact is\n"
"skipped (CPUs that do not exist, memory that does not fit, images and\n"
"modules that are not loaded). A CPU given to two guests is always an error.\n";

static int keelcfg_usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "keelcfg: %s%s%s\n%s(keelcfg --help explains)\n", what,
		arg ? " " : "", arg ? arg : "", KEELCFG_SYNOPSIS);
	return KEELCFG_EXIT_USAGE;
}

static int keelcfg_set_cpus(struct keelcfg_opts *o, const char *arg)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || *end || end == arg || n < 1 || n > CONFIG_MAX_CPUS)
		return keelcfg_usage_error("--cpus wants 1 to 64, not", arg);
	o->plat.cpu_present = n == 64 ? ~0ULL : (1ULL << n) - 1;
	o->plat.checks |= CONFIG_CHECK_CPUS;
	return 0;
}

static int keelcfg_set_mem(struct keelcfg_opts *o, const char *arg)
{
	if (config_parse_size(arg, strlen(arg), &o->plat.free_memory))
		return keelcfg_usage_error("--mem wants a size like 512M, not",
					   arg);
	o->plat.checks |= CONFIG_CHECK_MEMORY;
	return 0;
}

/* Split "a,b,c" in place; empty names are dropped. */
static int keelcfg_set_modules(struct keelcfg_opts *o, const char *arg)
{
	size_t n = 0;

	free(o->module_text);
	o->module_text = strdup(arg);
	if (!o->module_text)
		return keelcfg_usage_error("out of memory", NULL);
	for (char *tok = strtok(o->module_text, ","); tok;
	     tok = strtok(NULL, ",")) {
		if (n == KEELCFG_MAX_MODULES)
			return keelcfg_usage_error("too many --modules", NULL);
		o->modules[n++] = tok;
	}
	o->plat.modules = o->modules;
	o->plat.module_count = n;
	o->plat.checks |= CONFIG_CHECK_MODULES;
	return 0;
}

/* "--opt VALUE" or "--opt=VALUE"; returns the value or NULL. */
static const char *keelcfg_option_value(int argc, char **argv, int *i,
					const char *name)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len))
		return NULL;
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (argv[*i][len] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int keelcfg_parse_option(struct keelcfg_opts *o, int argc, char **argv,
				int *i)
{
	const char *v;

	if ((v = keelcfg_option_value(argc, argv, i, "--cpus")))
		return keelcfg_set_cpus(o, v);
	if ((v = keelcfg_option_value(argc, argv, i, "--mem")))
		return keelcfg_set_mem(o, v);
	if ((v = keelcfg_option_value(argc, argv, i, "--modules")))
		return keelcfg_set_modules(o, v);
	return keelcfg_usage_error("unknown or incomplete option", argv[*i]);
}

static int keelcfg_parse_args(struct keelcfg_opts *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		int ret;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(keelcfg_usage, stdout);
			exit(KEELCFG_EXIT_OK);
		}
		if (argv[i][0] == '-' && argv[i][1] == '-') {
			ret = keelcfg_parse_option(o, argc, argv, &i);
			if (ret)
				return ret;
		} else if (!o->command) {
			o->command = argv[i];
		} else if (!o->file) {
			o->file = argv[i];
		} else {
			return keelcfg_usage_error("unexpected argument", argv[i]);
		}
	}
	if (!o->command || !o->file)
		return keelcfg_usage_error("missing command or FILE", NULL);
	if (strcmp(o->command, "check") && strcmp(o->command, "dump"))
		return keelcfg_usage_error("unknown command", o->command);
	return 0;
}

/* The whole file, which may hold any bytes; NULL (errno set) on failure. */
static char *keelcfg_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			char *more = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (!more) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = more;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got);
	if (ferror(f)) {
		free(buf);
		buf = NULL;
		errno = EIO;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Problems in line order; config_check() adds its own after the parser's. */
static void keelcfg_sort_errors(const struct config *cfg, uint32_t *order)
{
	for (uint32_t i = 0; i < cfg->error_count; i++) {
		uint32_t j = i;

		while (j > 0 && cfg->errors[order[j - 1]].line > cfg->errors[i].line) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

static void keelcfg_print_error(const char *file, const struct config_error *e)
{
	fputs(file, stderr);
	if (e->line)
		fprintf(stderr, ":%u", e->line);
	fputs(": ", stderr);
	if (e->guest_name[0])
		fprintf(stderr, "guest %s: ", e->guest_name);
	if (e->shm_name[0])
		fprintf(stderr, "shm %s: ", e->shm_name);
	fprintf(stderr, "%s\n", e->msg);
}

static void keelcfg_print_errors(const char *file, const struct config *cfg)
{
	uint32_t order[CONFIG_MAX_ERRORS];

	keelcfg_sort_errors(cfg, order);
	for (uint32_t i = 0; i < cfg->error_count; i++)
		keelcfg_print_error(file, &cfg->errors[order[i]]);
	if (cfg->errors_dropped)
		fprintf(stderr, "%s: %u more problems not shown\n", file,
			cfg->errors_dropped);
}

static void keelcfg_print_cpus(const struct config_guest *g)
{
	for (uint32_t i = 0; i < g->cpu_count; i++)
		printf("%s%u", i ? "," : "", g->cpus[i]);
	if (!g->cpu_count)
		fputs("none", stdout);
}

static void keelcfg_print_devices(const struct config_guest *g)
{
	const char *sep = "";

	for (unsigned int bit = 0; bit < CONFIG_DEVICE_COUNT; bit++) {
		if (g->devices & BIT_ULL(bit)) {
			printf("%s%s", sep, config_device_name(bit));
			sep = ",";
		}
	}
	if (!g->devices)
		fputs("none", stdout);
}

static void keelcfg_print_mac(const struct config_guest *g)
{
	for (unsigned int i = 0; i < CONFIG_MAC_SIZE; i++)
		printf("%s%02x", i ? ":" : "", g->mac[i]);
}

/* ", pci: disk rootfs (read-only), net lan0 52:54:00:00:00:01, shm ring" */
static void keelcfg_print_pci(const struct config *cfg,
			      const struct config_guest *g)
{
	if (!config_guest_has_pci(g))
		return;
	printf(", pci (%u functions)", config_guest_pci_funcs(g));
	if (g->disk[0])
		printf(", disk %s%s", g->disk,
		       g->disk_readonly ? " (read-only)" : "");
	if (g->net[0]) {
		printf(", net %s ", g->net);
		keelcfg_print_mac(g);
	}
	for (uint32_t i = 0; i < cfg->shm_count; i++) {
		if (g->shm_mask & (1u << i))
			printf(", shm %s", cfg->shm[i].name);
	}
}

/* guest hello: multiboot, 16M, cpus 1, devices com1,debug-exit */
static void keelcfg_print_summary(const struct config *cfg,
				  const struct config_guest *g)
{
	char size[32];

	config_format_size(g->memory, size, sizeof(size));
	printf("guest %s: %s, %s, cpus ", g->name,
	       config_format_name(g->format), size);
	keelcfg_print_cpus(g);
	fputs(", devices ", stdout);
	keelcfg_print_devices(g);
	keelcfg_print_pci(cfg, g);
	putchar('\n');
}

/* shm ring: 64K, a at 0xf0000000, b at 0xf0000000 (read-only) */
static void keelcfg_print_shm_summary(const struct config *cfg,
				      const struct config_shm *s)
{
	char size[32];

	config_format_size(s->size, size, sizeof(size));
	printf("shm %s: %s", s->name, size);
	for (uint32_t i = 0; i < s->guest_count; i++)
		printf(", %s at 0x%llx%s", cfg->guests[s->guests[i]].name,
		       (unsigned long long)s->gpa[i],
		       s->readonly & (1u << i) ? " (read-only)" : "");
	putchar('\n');
}

/* Every field as parsed, names as written (guests[] is only resolved
 * in a valid region). */
static void keelcfg_dump_shm(const struct config_shm *s)
{
	char size[32];

	config_format_size(s->size, size, sizeof(size));
	printf("[shm.%s]  # line %u, %s\n", s->name, s->line,
	       s->valid ? "valid" : "INVALID");
	printf("  size = %s (%llu bytes)\n  guests =", size,
	       (unsigned long long)s->size);
	for (uint32_t i = 0; i < s->guest_count; i++)
		printf(" \"%s\"", s->guest_names[i]);
	fputs("\n  gpa =", stdout);
	for (uint32_t i = 0; i < s->gpa_count; i++)
		printf(" 0x%llx", (unsigned long long)s->gpa[i]);
	fputs("\n  readonly =", stdout);
	for (uint32_t i = 0; i < s->readonly_count; i++)
		printf(" \"%s\"", s->readonly_names[i]);
	putchar('\n');
}

static void keelcfg_dump_guest(const struct config_guest *g)
{
	char size[32];

	config_format_size(g->memory, size, sizeof(size));
	printf("[guest.%s]  # line %u, %s\n", g->name, g->line,
	       g->valid ? "valid" : "INVALID");
	printf("  image = \"%s\"\n  format = %s\n  memory = %s (%llu bytes)\n",
	       g->image, config_format_name(g->format), size,
	       (unsigned long long)g->memory);
	fputs("  cpus = ", stdout);
	keelcfg_print_cpus(g);
	printf("\n  paging = %s\n  dirty_log = %s\n  devices = ",
	       config_paging_name(g->paging), config_dirty_log_name(g->dirty_log));
	keelcfg_print_devices(g);
	printf("\n  cmdline = \"%s\"\n  initrd = \"%s\"\n  modules =",
	       g->cmdline, g->initrd);
	for (uint32_t i = 0; i < g->module_count; i++)
		printf(" \"%s\"", g->modules[i]);
	printf("\n  force_emulation = %s\n",
	       g->force_emulation ? "true" : "false");
	if (g->has_load)
		printf("  load = 0x%llx\n", (unsigned long long)g->load);
	if (g->has_entry)
		printf("  entry = 0x%llx\n", (unsigned long long)g->entry);
	printf("  disk = \"%s\"\n  disk_readonly = %s\n  net = \"%s\"\n"
	       "  mac = ", g->disk, g->disk_readonly ? "true" : "false", g->net);
	keelcfg_print_mac(g);
	printf("\n  pci = %s (%u functions)\n",
	       config_guest_has_pci(g) ? "yes" : "no",
	       config_guest_pci_funcs(g));
}

static void keelcfg_report(const struct keelcfg_opts *o, const struct config *cfg)
{
	bool dump = !strcmp(o->command, "dump");

	keelcfg_print_errors(o->file, cfg);
	for (uint32_t i = 0; i < cfg->guest_count; i++) {
		if (dump)
			keelcfg_dump_guest(&cfg->guests[i]);
		else if (cfg->guests[i].valid)
			keelcfg_print_summary(cfg, &cfg->guests[i]);
	}
	for (uint32_t i = 0; i < cfg->shm_count; i++) {
		if (dump)
			keelcfg_dump_shm(&cfg->shm[i]);
		else if (cfg->shm[i].valid)
			keelcfg_print_shm_summary(cfg, &cfg->shm[i]);
	}
}

int main(int argc, char **argv)
{
	static struct keelcfg_opts opts;
	static struct config cfg;
	size_t len = 0;
	char *text;
	int ret = keelcfg_parse_args(&opts, argc, argv);

	if (ret)
		return ret;
	text = keelcfg_read_file(opts.file, &len);
	if (!text) {
		fprintf(stderr, "keelcfg: %s: %s\n", opts.file, strerror(errno));
		return KEELCFG_EXIT_USAGE;
	}
	config_parse(&cfg, text, len);
	config_check(&cfg, &opts.plat);
	keelcfg_report(&opts, &cfg);
	free(text);
	free(opts.module_text);
	return config_problem_count(&cfg) ? KEELCFG_EXIT_PROBLEM : KEELCFG_EXIT_OK;
}
