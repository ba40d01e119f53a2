/* libFuzzer target for the guest configuration parser: parse any bytes,
 * check them against a fixed platform, then verify what the rest of Keel
 * relies on: a guest marked valid is complete and consistent, valid guests
 * share no CPU and fit in memory, a valid shm region lies where its guests
 * have nothing else, guests with PCI devices keep to the bus's limits, and
 * every string is terminated inside its buffer. Any violation aborts, which
 * libFuzzer reports as a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/config.h"
#include "guest/pci.h"

#define FUZZ_CHECK(c) do {                                              \
	if (!(c)) {                                                     \
		fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c,   \
			__FILE__, __LINE__);                            \
		abort();                                                \
	}                                                               \
} while (0)

static const char *const fuzz_modules[] = { "hello", "a", "b", "linux", "rd" };

static const struct config_platform fuzz_plat = {
	.checks = CONFIG_CHECK_CPUS | CONFIG_CHECK_MEMORY | CONFIG_CHECK_MODULES,
	.cpu_present = 0xff,
	.free_memory = 256 * MiB,
	.modules = fuzz_modules,
	.module_count = sizeof(fuzz_modules) / sizeof(fuzz_modules[0]),
};

static bool fuzz_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static bool fuzz_module_present(const char *name)
{
	for (size_t i = 0; i < fuzz_plat.module_count; i++) {
		if (!strcmp(fuzz_modules[i], name))
			return true;
	}
	return false;
}

static void fuzz_check_strings(const struct config_guest *g)
{
	FUZZ_CHECK(fuzz_terminated(g->name, sizeof(g->name)));
	FUZZ_CHECK(fuzz_terminated(g->image, sizeof(g->image)));
	FUZZ_CHECK(fuzz_terminated(g->initrd, sizeof(g->initrd)));
	FUZZ_CHECK(fuzz_terminated(g->cmdline, sizeof(g->cmdline)));
	FUZZ_CHECK(g->module_count <= CONFIG_MAX_MODULES);
	for (uint32_t i = 0; i < g->module_count; i++)
		FUZZ_CHECK(fuzz_terminated(g->modules[i], sizeof(g->modules[i])));
	FUZZ_CHECK(strlen(g->name) >= 1 && strlen(g->name) < CONFIG_NAME_SIZE);
	for (const char *c = g->name; *c; c++)
		FUZZ_CHECK((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			   (*c >= '0' && *c <= '9') || *c == '_' || *c == '-');
}

static void fuzz_check_cpus(const struct config_guest *g)
{
	uint64_t mask = 0;

	FUZZ_CHECK(g->cpu_count <= CONFIG_MAX_CPUS);
	for (uint32_t i = 0; i < g->cpu_count; i++) {
		FUZZ_CHECK(g->cpus[i] < CONFIG_MAX_CPUS);
		FUZZ_CHECK(g->cpus[i] != CONFIG_KEEL_CPU);
		FUZZ_CHECK(!(mask & BIT_ULL(g->cpus[i])));
		mask |= BIT_ULL(g->cpus[i]);
	}
	FUZZ_CHECK(mask == g->cpu_mask);
}

/* What Keel's loader may assume about a guest it is asked to start. */
static void fuzz_check_valid_guest(const struct config_guest *g)
{
	uint64_t min = g->format == CONFIG_FORMAT_REALMODE ?
		       CONFIG_MEMORY_MIN_REALMODE : CONFIG_MEMORY_MIN;

	FUZZ_CHECK(g->cpu_count > 0);
	FUZZ_CHECK((g->cpu_mask & ~fuzz_plat.cpu_present) == 0);
	FUZZ_CHECK(IS_ALIGNED(g->memory, CONFIG_MEMORY_ALIGN));
	FUZZ_CHECK(g->memory >= min && g->memory <= CONFIG_MEMORY_MAX);
	FUZZ_CHECK(g->format > CONFIG_FORMAT_NONE &&
		   g->format <= CONFIG_FORMAT_LINUX);
	FUZZ_CHECK(g->paging <= CONFIG_PAGING_SHADOW);
	FUZZ_CHECK(g->dirty_log <= CONFIG_DIRTY_LOG_WP);
	FUZZ_CHECK(!(g->devices & ~(BIT_ULL(CONFIG_DEVICE_COUNT) - 1)));
	FUZZ_CHECK(g->image[0] && fuzz_module_present(g->image));
	FUZZ_CHECK(!g->initrd[0] || fuzz_module_present(g->initrd));
	for (uint32_t i = 0; i < g->module_count; i++)
		FUZZ_CHECK(fuzz_module_present(g->modules[i]));
	if (g->format == CONFIG_FORMAT_FLAT)
		FUZZ_CHECK(g->has_load && g->has_entry);
	if (g->has_load)
		FUZZ_CHECK(g->load < g->memory);
	if (g->has_entry)
		FUZZ_CHECK(g->entry < g->memory);
	if (g->format == CONFIG_FORMAT_REALMODE)
		FUZZ_CHECK(g->load < CONFIG_REALMODE_LIMIT &&
			   g->entry < CONFIG_REALMODE_LIMIT);
	if (g->module_count)
		FUZZ_CHECK(g->format == CONFIG_FORMAT_MULTIBOOT);
	if (g->initrd[0])
		FUZZ_CHECK(g->format == CONFIG_FORMAT_LINUX);
	FUZZ_CHECK(!g->disk[0] || fuzz_module_present(g->disk));
	FUZZ_CHECK(!g->disk_readonly || g->disk[0]);
	if (g->net[0])
		FUZZ_CHECK(!(g->mac[0] & 1) &&
			   (g->mac[0] | g->mac[1] | g->mac[2] | g->mac[3] |
			    g->mac[4] | g->mac[5]));
	if (config_guest_has_pci(g)) {
		FUZZ_CHECK(g->memory <= PCI_MMIO_GPA);
		FUZZ_CHECK(g->migrate_cpu_count == 0);
		FUZZ_CHECK(config_guest_pci_funcs(g) <= CONFIG_PCI_MAX_FUNCS);
	}
}

static bool fuzz_overlap(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a < b + bsize && b < a + asize;
}

/* Member i of a valid region: where its guest has nothing else. */
static void fuzz_check_shm_member(const struct config *cfg,
				  const struct config_shm *s, uint32_t i)
{
	const struct config_guest *g = &cfg->guests[s->guests[i]];
	uint64_t gpa = s->gpa[i];

	FUZZ_CHECK(s->guests[i] < cfg->guest_count);
	FUZZ_CHECK(config_shm_member(s, s->guests[i]) == (int)i);
	FUZZ_CHECK(IS_ALIGNED(gpa, CONFIG_SHM_ALIGN));
	FUZZ_CHECK(gpa < CONFIG_SHM_GPA_LIMIT &&
		   s->size <= CONFIG_SHM_GPA_LIMIT - gpa);
	FUZZ_CHECK(!fuzz_overlap(gpa, s->size, PCI_MMIO_GPA, PCI_MMIO_SIZE));
	FUZZ_CHECK(!fuzz_overlap(gpa, s->size, PCI_ECAM_GPA, PCI_ECAM_SIZE));
	FUZZ_CHECK(!fuzz_overlap(gpa, s->size, 0xfec00000, 0x1400000));
	FUZZ_CHECK(g->shm_mask & BIT_ULL(s - cfg->shm));
	if (g->valid)
		FUZZ_CHECK(!fuzz_overlap(gpa, s->size, 0, g->memory));
	for (const struct config_shm *o = cfg->shm; o < s; o++) {
		int j = config_shm_member(o, s->guests[i]);

		if (o->valid && j >= 0)
			FUZZ_CHECK(!fuzz_overlap(gpa, s->size, o->gpa[j],
						 o->size));
	}
}

static void fuzz_check_shm(const struct config *cfg)
{
	FUZZ_CHECK(cfg->shm_count <= CONFIG_MAX_SHM);
	for (uint32_t si = 0; si < cfg->shm_count; si++) {
		const struct config_shm *s = &cfg->shm[si];

		FUZZ_CHECK(fuzz_terminated(s->name, sizeof(s->name)));
		FUZZ_CHECK(s->name[0] && s->line >= 1);
		FUZZ_CHECK(s->guest_count <= CONFIG_SHM_MAX_GUESTS);
		FUZZ_CHECK(s->gpa_count <= CONFIG_SHM_MAX_GUESTS);
		FUZZ_CHECK(s->readonly_count <= CONFIG_SHM_MAX_GUESTS);
		for (uint32_t i = 0; i < s->guest_count; i++)
			FUZZ_CHECK(fuzz_terminated(s->guest_names[i],
						   CONFIG_NAME_SIZE));
		for (uint32_t gi = 0; gi < cfg->guest_count; gi++)
			FUZZ_CHECK(s->valid || !(cfg->guests[gi].shm_mask &
						 BIT_ULL(si)));
		if (!s->valid)
			continue;
		FUZZ_CHECK(s->size >= CONFIG_SHM_SIZE_MIN &&
			   s->size <= CONFIG_SHM_SIZE_MAX &&
			   IS_ALIGNED(s->size, CONFIG_SHM_ALIGN));
		FUZZ_CHECK(s->guest_count >= CONFIG_SHM_MIN_GUESTS);
		FUZZ_CHECK(s->gpa_count == s->guest_count);
		FUZZ_CHECK(!(s->readonly & ~(BIT_ULL(s->guest_count) - 1)));
		for (uint32_t i = 0; i < s->guest_count; i++)
			fuzz_check_shm_member(cfg, s, i);
	}
}

/* Valid guests on one network have distinct addresses. */
static void fuzz_check_macs(const struct config *cfg)
{
	for (uint32_t i = 0; i < cfg->guest_count; i++) {
		const struct config_guest *g = &cfg->guests[i];

		FUZZ_CHECK(fuzz_terminated(g->disk, sizeof(g->disk)));
		FUZZ_CHECK(fuzz_terminated(g->net, sizeof(g->net)));
		for (uint32_t j = 0; g->valid && g->net[0] && j < i; j++) {
			const struct config_guest *o = &cfg->guests[j];

			if (o->valid && !strcmp(o->net, g->net))
				FUZZ_CHECK(memcmp(o->mac, g->mac,
						  CONFIG_MAC_SIZE));
		}
	}
}

static void fuzz_check_errors(const struct config *cfg, uint32_t lines)
{
	char buf[256];

	FUZZ_CHECK(cfg->error_count <= CONFIG_MAX_ERRORS);
	FUZZ_CHECK(cfg->errors_dropped == 0 ||
		   cfg->error_count == CONFIG_MAX_ERRORS);
	for (uint32_t i = 0; i < cfg->error_count; i++) {
		const struct config_error *e = &cfg->errors[i];
		static const size_t sizes[] = { 1, 7, sizeof(buf) };

		FUZZ_CHECK(fuzz_terminated(e->msg, sizeof(e->msg)));
		FUZZ_CHECK(e->msg[0] != '\0');
		FUZZ_CHECK(fuzz_terminated(e->guest_name, sizeof(e->guest_name)));
		FUZZ_CHECK(e->line <= lines);
		FUZZ_CHECK(e->guest >= -1 && e->guest < (int32_t)cfg->guest_count);
		if (e->guest >= 0)
			FUZZ_CHECK(!cfg->guests[e->guest].valid);
		FUZZ_CHECK(fuzz_terminated(e->shm_name, sizeof(e->shm_name)));
		FUZZ_CHECK(e->shm >= -1 && e->shm < (int32_t)cfg->shm_count);
		FUZZ_CHECK(e->shm < 0 || e->guest < 0);
		if (e->shm >= 0)
			FUZZ_CHECK(!cfg->shm[e->shm].valid);
		FUZZ_CHECK(config_format_error(e, NULL, 0) == 0);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t n = config_format_error(e, buf, sizes[s]);

			FUZZ_CHECK(n < sizes[s] && buf[n] == '\0');
		}
	}
}

/* Valid guests must not overlap in CPUs nor oversubscribe memory. */
static void fuzz_check_sharing(const struct config *cfg)
{
	uint64_t taken = 0, memory = 0;

	for (uint32_t i = 0; i < cfg->guest_count; i++) {
		const struct config_guest *g = &cfg->guests[i];

		if (!g->valid)
			continue;
		FUZZ_CHECK(!(taken & g->cpu_mask));
		taken |= g->cpu_mask;
		memory += g->memory;
	}
	FUZZ_CHECK(memory <= fuzz_plat.free_memory);
}

static uint32_t fuzz_count_lines(const uint8_t *data, size_t size)
{
	uint32_t lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg, again;
	uint32_t problems;

	problems = config_parse(&cfg, (const char *)data, size);
	FUZZ_CHECK(problems == config_problem_count(&cfg));
	FUZZ_CHECK(config_check(&cfg, &fuzz_plat) >= problems);
	FUZZ_CHECK(cfg.guest_count <= CONFIG_MAX_GUESTS);
	for (uint32_t i = 0; i < cfg.guest_count; i++) {
		fuzz_check_strings(&cfg.guests[i]);
		fuzz_check_cpus(&cfg.guests[i]);
		FUZZ_CHECK(cfg.guests[i].line >= 1);
		if (cfg.guests[i].valid)
			fuzz_check_valid_guest(&cfg.guests[i]);
	}
	if (config_problem_count(&cfg) == 0) {
		for (uint32_t i = 0; i < cfg.guest_count; i++)
			FUZZ_CHECK(cfg.guests[i].valid);
		for (uint32_t i = 0; i < cfg.shm_count; i++)
			FUZZ_CHECK(cfg.shm[i].valid);
	}
	fuzz_check_errors(&cfg, fuzz_count_lines(data, size));
	fuzz_check_sharing(&cfg);
	fuzz_check_shm(&cfg);
	fuzz_check_macs(&cfg);

	/* Same bytes, same result, down to the last byte of the struct. */
	config_parse(&again, (const char *)data, size);
	config_check(&again, &fuzz_plat);
	FUZZ_CHECK(!memcmp(&cfg, &again, sizeof(cfg)));
	return 0;
}
