/*
 * Guest lifecycle: read the configuration, create each guest (memory,
 * image, vCPUs), hand its vCPUs to their CPUs, and account for its end.
 *
 *   keel.conf --parse/check--> refused (message names the line)
 *                         \--> load image --> refused (message names guest)
 *                                        \--> RUNNING --> ENDING --> DONE
 */
#include "guest/guest.h"
#include "guest/console.h"
#include "guest/loader.h"
#include "guest/snapshot.h"
#include "guest/migrate.h"
#include "boot/boot.h"
#include "boot/mb2info.h"
#include "arch/percpu.h"
#include "arch/smp.h"
#include "arch/string.h"
#include "arch/tsc.h"
#include "arch/idt.h"
#include "arch/x86.h"
#include "drivers/lapic.h"
#include "drivers/printk.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "vmx/exit.h"
#include "vmx/vmcs_setup.h"
#include "vmx/vmx.h"

#define CONFIG_MODULE_NAME "keel.conf"

extern const char default_config[], default_config_end[];

static struct config config;

static const struct mb2_module *module_find(const char *name)
{
	for (uint32_t i = 0; i < boot.mb2->nr_modules; i++)
		if (!strcmp(boot.mb2->modules[i].name, name))
			return &boot.mb2->modules[i];
	return NULL;
}

static void config_report(const char *source)
{
	char line[CONFIG_ERROR_MSG_SIZE + 64];

	for (uint32_t i = 0; i < config.error_count; i++) {
		config_format_error(&config.errors[i], line, sizeof(line));
		pr_err("keel: config %s: %s\n", source, line);
	}
	if (config.errors_dropped)
		pr_err("keel: config %s: %u more problems not shown\n", source,
		       config.errors_dropped);
}

static void config_load(void)
{
	static const char *names[MB2_MAX_MODULES];
	const struct mb2_module *m = module_find(CONFIG_MODULE_NAME);
	struct config_platform plat = { 0 };
	const char *source = m ? CONFIG_MODULE_NAME : "(built-in)";

	if (m)
		config_parse(&config, phys_to_virt(m->start), m->end - m->start);
	else
		config_parse(&config, default_config,
			     (size_t)(default_config_end - default_config));
	for (uint32_t i = 0; i < boot.mb2->nr_modules; i++)
		names[i] = boot.mb2->modules[i].name;
	plat.checks = CONFIG_CHECK_CPUS | CONFIG_CHECK_MEMORY | CONFIG_CHECK_MODULES;
	for (unsigned int c = 0; c < cpus_online && c < 64; c++)
		if (percpu[c].state == CPU_VMX_ON)
			plat.cpu_present |= BIT_ULL(c);
	plat.free_memory = mm_free_bytes() * 7 / 8;     /* leave Keel room */
	plat.modules = names;
	plat.module_count = boot.mb2->nr_modules;
	config_check(&config, &plat);
	pr_info("keel: config %s: %u guests, %u problems\n", source,
		config.guest_count, config_problem_count(&config));
	config_report(source);
}

static void vcpu_destroy(struct guest *g, struct vcpu *v)
{
	if (v->pml_pa)
		mm_free_pages(v->pml_pa, 0);
	if (v->vapic_pa)
		mm_free_pages(v->vapic_pa, 0);
	if (v->shadow)
		shadow_vcpu_destroy(g, &v->sv);
	mm_free_pages(virt_to_phys(v), 2);
}

static struct vcpu *vcpu_create(struct guest *g, unsigned int index)
{
	uint64_t pa = mm_alloc_pages(2);        /* struct vcpu with its stats */
	struct vcpu *v;

	_Static_assert(sizeof(struct vcpu) <= 4 * 4096, "struct vcpu size");
	if (pa == FRAME_NONE)
		return NULL;
	v = phys_to_virt(pa);
	v->guest = g;
	v->index = index;
	v->cpu = g->cfg->cpus[index];
	v->shadow = g->mmu != NULL;
	vlapic_init(v);
	vmsr_reset(&v->msr);
	if (vmx_caps.pml && (v->pml_pa = mm_alloc_pages(0)) == FRAME_NONE) {
		mm_free_pages(pa, 2);
		return NULL;
	}
	if (v->shadow && shadow_vcpu_init(&v->sv)) {
		shadow_vcpu_destroy(g, &v->sv);
		if (v->pml_pa)
			mm_free_pages(v->pml_pa, 0);
		mm_free_pages(pa, 2);
		return NULL;
	}
	if (!vlapic_vmx_init(v)) {
		vcpu_destroy(g, v);
		return NULL;
	}
	return v;
}

/*
 * EPT or shadow paging: as configured, EPT by default where the CPU has
 * it. Shadow paging runs the guest with paging always on, so without
 * unrestricted guest (which needs EPT, SDM Vol. 3C 26.2.1.1) a real-mode
 * guest cannot run at all.
 */
static const char *guest_choose_paging(struct guest *g)
{
	const struct config_guest *c = g->cfg;
	enum config_paging want = c->paging == CONFIG_PAGING_AUTO ?
				  (enum config_paging)boot.paging : c->paging;
	bool shadow = want == CONFIG_PAGING_SHADOW || !vmx_caps.ept;

	if (!shadow)
		return NULL;
	if (want == CONFIG_PAGING_EPT)
		return "paging is ept but this CPU has no EPT";
	if (c->format == CONFIG_FORMAT_REALMODE)
		return "a real-mode guest needs EPT with unrestricted guest; "
		       "shadow paging cannot run real mode";
	if (want == CONFIG_PAGING_AUTO)
		guest_log(LOG_INFO, g, "paging: shadow (this CPU has no EPT)\n");
	if (shadow_mmu_init(g))
		return "not enough host memory for its shadow page tables";
	return NULL;
}

static struct loader_module loader_module(const char *name)
{
	const struct mb2_module *m = module_find(name);

	return (struct loader_module){ phys_to_virt(m->start),
				       m->end - m->start, m->name };
}

bool loader_find_module(const char *name, struct loader_module *out)
{
	if (!module_find(name))
		return false;
	*out = loader_module(name);
	return true;
}

/* The modules the loader gets: a multiboot guest's list, or a Linux
 * guest's initrd. Returns how many. */
static unsigned int loader_modules(const struct config_guest *c,
				   struct loader_module *mods)
{
	if (c->format == CONFIG_FORMAT_LINUX) {
		if (!c->initrd[0])
			return 0;
		mods[0] = loader_module(c->initrd);
		return 1;
	}
	for (uint32_t i = 0; i < c->module_count; i++)
		mods[i] = loader_module(c->modules[i]);
	return c->module_count;
}

static const char *guest_create(struct guest *g)
{
	const struct config_guest *c = g->cfg;
	const struct mb2_module *m = module_find(c->image);
	struct loader_module mods[CONFIG_MAX_MODULES];
	struct loader_image img;
	struct vcpu_boot b = { 0 };
	unsigned int nr_mods;
	const char *why;

	if (guest_mem_init(g))
		return "not enough host memory for the guest";
	why = guest_choose_paging(g);
	if (why)
		return why;
	if (devices_init(g))
		return "its devices could not be set up (host memory, or MMIO "
		       "overlapping its RAM)";
	why = devices_pci_init(g);
	if (why)
		return why;
	img = (struct loader_image){ phys_to_virt(m->start), m->end - m->start,
				     c->image };
	nr_mods = loader_modules(c, mods);
	why = loader_load(g, &img, mods, nr_mods, &b);
	for (unsigned int i = 0; !why && i < c->cpu_count; i++) {
		g->vcpus[i] = vcpu_create(g, i);
		if (!g->vcpus[i])
			why = "not enough host memory for its vCPUs";
		else
			g->vcpus[i]->boot = b;
		g->nr_vcpus = i + 1;
	}
	return why;
}

static void guest_free(struct guest *g)
{
	devices_detach(g);      /* no other guest reaches the vCPUs freed below */
	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		if (g->vcpus[i])
			vcpu_destroy(g, g->vcpus[i]);
	}
	shadow_mmu_destroy(g);
	snapshot_free(g);
	devices_free(g);
	dirty_log_free(g);
	g->nr_vcpus = 0;
	guest_mem_free(g);
}

/* Host memory a guest costs beyond its RAM: EPT tables, per vCPU the
 * struct vcpu (with its counters) and the VMCS, and struct guest itself
 * (which holds the device state). */
static uint64_t guest_overhead_bytes(const struct guest *g)
{
	return (uint64_t)g->ept.tables * PAGE_SIZE +
	       g->nr_vcpus * (4 * PAGE_SIZE + PAGE_SIZE) + sizeof(*g);
}

/* Loads the guest; on failure it is refused with the reason. */
static bool guest_prepare(struct guest *g, const struct config_guest *c,
			  unsigned int id)
{
	const char *why;

	*g = (struct guest){ .cfg = c, .name = c->name, .id = id,
			     .mem_size = c->memory, .lock = SPINLOCK_INIT };
	g->dev.enabled = c->devices;
	why = guest_create(g);
	if (why) {
		guest_log(LOG_ERR, g, "refused: image '%s' (format %s, config "
			  "line %u): %s\n", c->image, config_format_name(c->format),
			  c->key_line[CONFIG_KEY_IMAGE], why);
		guest_free(g);
		g->state = GUEST_DONE;
		return false;
	}
	if (g->mmu)
		guest_log(LOG_INFO, g, "%s image '%s', %lu MiB, %u vcpus, shadow "
			  "paging (%u pages)\n", config_format_name(c->format),
			  c->image, g->mem_size >> 20, g->nr_vcpus,
			  g->mmu->nr_pages);
	else
		guest_log(LOG_INFO, g, "%s image '%s', %lu MiB, %u vcpus, ept "
			  "%u pages\n", config_format_name(c->format), c->image,
			  g->mem_size >> 20, g->nr_vcpus, g->ept.tables);
	if (boot.bench)
		pr_info("BENCH name=per_guest_kib kib=%lu (guest %s, %lu MiB: "
			"EPT %u pages, %u vCPUs with VMCS)\n",
			guest_overhead_bytes(g) >> 10, g->name, g->mem_size >> 20,
			g->ept.tables, g->nr_vcpus);
	return true;
}

/* Hands each vCPU to its CPU: from here on the guest runs. */
static void guest_launch(struct guest *g)
{
	g->vcpus_running = (int)g->nr_vcpus;
	g->tsc_start = rdtsc();
	__atomic_store_n(&g->state, GUEST_RUNNING, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < g->nr_vcpus; i++)
		cpu_post_work(g->vcpus[i]->cpu, vcpu_run, g->vcpus[i]);
}

/*
 * Every guest is loaded before any starts, so that guests run side by side
 * from their first instruction (and a slow load does not delay the others'
 * start relative to each other).
 */
unsigned int guests_start(unsigned int *refused)
{
	unsigned int started = 0;

	*refused = 0;
	if (vmx_bitmaps_init()) {
		pr_err("keel: no memory for the VMX bitmaps; no guest runs\n");
		return 0;
	}
	config_load();
	shm_regions_alloc(&config);
	devices_bus_init();
	for (uint32_t i = 0; i < config.guest_count; i++) {
		const struct config_guest *c = &config.guests[i];

		if (!c->valid) {
			pr_err("keel: guest %s: refused: its configuration "
			       "(line %u) has errors\n", c->name, c->line);
			(*refused)++;
			continue;
		}
		if (!guest_prepare(&guests[nr_guests], c, nr_guests))
			(*refused)++;
		nr_guests++;
	}
	for (unsigned int i = 0; i < nr_guests; i++) {
		if (guests[i].state == GUEST_DONE)
			continue;
		guest_launch(&guests[i]);
		started++;
	}
	return started;
}

/* One exit reason's count and tick total: `exits` for the guest's
 * vCPUs together (who is empty), `vcpu N: exits` for one of them. */
static void exit_stat_line(struct guest *g, const char *who, unsigned int r,
			   uint64_t count, uint64_t ticks)
{
	if (count)
		guest_log(LOG_INFO, g, "%sexits %-24s %10lu, %12lu ticks, "
			  "%lu per exit\n", who, vmx_exit_reason_name(r),
			  count, ticks, ticks / count);
}

/* With more than one vCPU, each one's lines follow the guest's: where
 * the time goes on each CPU (an idle vCPU's HLT exits hold its idle
 * time, vcpu_halt waiting in Keel). */
static void guest_print_exit_stats(struct guest *g)
{
	char who[16];

	for (unsigned int r = 0; r < VMX_NR_EXIT_REASONS; r++) {
		uint64_t count = 0, ticks = 0;

		for (unsigned int i = 0; i < g->nr_vcpus; i++) {
			count += g->vcpus[i]->exit_counts[r];
			ticks += g->vcpus[i]->exit_ticks[r];
		}
		exit_stat_line(g, "", r, count, ticks);
	}
	if (g->nr_vcpus < 2)
		return;
	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		const struct vcpu *v = g->vcpus[i];

		snprintf(who, sizeof(who), "vcpu %u: ", v->index);
		for (unsigned int r = 0; r < VMX_NR_EXIT_REASONS; r++)
			exit_stat_line(g, who, r, v->exit_counts[r],
				       v->exit_ticks[r]);
	}
}

static void guest_print_stats(struct guest *g)
{
	guest_print_exit_stats(g);
	if (console_out_waits(g))
		guest_log(LOG_INFO, g, "%lu console lines waited for COM1\n",
			  console_out_waits(g));
	devices_print_stats(g);
	if (g->mmu)
		shadow_print_stats(g);
}

/* The last vCPU out prints the verdict and frees the guest (unless a
 * migration holds it: the migration finishes it then). */
void guest_finish(struct guest *g)
{
	if (__atomic_load_n(&g->migrating, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&g->finish_pending, true, __ATOMIC_RELEASE);
		return;
	}
	vuart_flush(g);
	console_out_drain(g);
	if (boot.stats)
		guest_print_stats(g);
	guest_log(LOG_INFO, g, "exited status %lu (%s)\n", g->exit_status,
		  g->end_reason ? g->end_reason : "unknown");
	console_input_release(g);
	guest_free(g);
	__atomic_store_n(&g->state, GUEST_DONE, __ATOMIC_RELEASE);
	if (cpu_id() != 0)      /* CPU 0 may be halted in guests_wait */
		lapic_send_ipi(percpu[0].apic_id, VEC_KICK);
}

/* On the vCPU's CPU, after it left guest mode for good. */
void guest_vcpu_leave(struct vcpu *v)
{
	struct guest *g = v->guest;

	vmcs_release(v);
	/* This CPU's TLB may hold translations of the guest's EPT and VPID:
	 * drop them before the memory goes back to the allocator. */
	ept_invalidate(&g->ept);
	vpid_invalidate(v->vpid);
	if (__atomic_sub_fetch(&g->vcpus_running, 1, __ATOMIC_ACQ_REL) == 0)
		guest_finish(g);
}

/* A guest that ends kicks its vCPUs out of guest mode; those that have
 * not left yet get an NMI each retry period (guest_kick_nmi). Returns
 * whether some are still on their CPUs. */
static bool guest_kick_stragglers(struct guest *g, bool kick)
{
	bool left = false;

	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		if (!READ_ONCE(g->vcpus[i]->on_cpu))
			continue;
		left = true;
		if (kick)
			guest_kick_nmi(g->vcpus[i]);
	}
	return left;
}

/* CPU 0 between rounds of guests_wait: until a kick, and with console
 * input to read, CONSOLE_POLL_US at most (spinning where the local APIC
 * cannot wake this CPU). */
static void guests_wait_sleep(bool input)
{
	if (!input) {
		wait_for_interrupt();
	} else if (lapic_can_wake) {
		lapic_wake_at(rdtsc() + tsc_khz * CONSOLE_POLL_US / 1000);
		wait_for_interrupt();
		lapic_wake_at(0);
	} else {
		cpu_relax();
	}
}

/* CPU 0's loop while guests run: start migrations when they are due and
 * pass console input on, until every guest is done. */
unsigned int guests_wait(unsigned int started)
{
	unsigned int passed = 0, done = 0;
	uint64_t retry = 0;

	(void)started;
	console_input_start();
	while (done < nr_guests) {
		bool poll = false, kick = rdtsc() >= retry, input;

		done = 0;
		if (kick)
			retry = rdtsc() + guest_kick_retry_ticks();
		for (unsigned int i = 0; i < nr_guests; i++) {
			struct guest *g = &guests[i];
			int state = __atomic_load_n(&g->state, __ATOMIC_ACQUIRE);

			if (state == GUEST_DONE)
				done++;
			else if (state == GUEST_ENDING)
				poll |= guest_kick_stragglers(g, kick);
			else if (migrate_due(g))
				migrate_guest(g);
			else if (g->cfg->migrate_cpu_count && !g->migrated)
				poll = true;    /* its migration time will come */
		}
		input = console_input_poll();
		console_out_drain_all();
		/* The last vCPU of a guest to leave kicks this CPU. */
		if (poll)
			cpu_relax();
		else if (done < nr_guests)
			guests_wait_sleep(input);
	}
	for (unsigned int i = 0; i < nr_guests; i++)
		if ((guests[i].exit_status == 1 ||
		     guests[i].end_reason == guest_end_poweroff) &&
		    !guests[i].migration_failed)
			passed++;
	return passed;
}
