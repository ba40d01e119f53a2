/*
 * Live migration between two slots of the same host, on CPU 0:
 *
 *   1. allocate the target slot's memory and EPT, start dirty logging
 *   2. copy all memory while the guest runs (round 0)
 *   3. copy the pages dirtied during the previous round, again and again,
 *      until the dirty set stops shrinking or MIGRATE_MAX_ROUNDS
 *   4. pause every vCPU (each saves its state and leaves its CPU)
 *   5. copy the last dirty pages; optionally compare both slots
 *   6. swap memory and EPT, move each vCPU to its target CPU, resume;
 *      free the source slot
 */
#include "guest/migrate.h"
#include "guest/guest.h"
#include "boot/boot.h"
#include "arch/percpu.h"
#include "arch/string.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "drivers/printk.h"
#include "mm/layout.h"
#include "mm/mm.h"

#define MIGRATE_MAX_ROUNDS  16
#define MIGRATE_DONE_PAGES  16      /* few enough to copy while paused */

bool migrate_verify;

struct migration {
	struct guest *g;
	struct guest slot;              /* target memory and EPT only */
	uint64_t rounds[MIGRATE_MAX_ROUNDS + 2];
	unsigned int nr_rounds;
};

static struct migration mig;

bool migrate_due(const struct guest *g)
{
	const struct config_guest *c = g->cfg;

	return c->migrate_cpu_count && !g->migrated &&
	       g->state == GUEST_RUNNING &&
	       rdtsc() - g->tsc_start >= c->migrate_after_ms * tsc_khz;
}

static void copy_page(void *arg, uint64_t gfn)
{
	struct migration *m = arg;
	uint64_t gpa = gfn << PAGE_SHIFT;
	void *dst = guest_gpa_to_hva(&m->slot, gpa, PAGE_SIZE);
	void *src = guest_gpa_to_hva(m->g, gpa, PAGE_SIZE);

	if (dst && src)
		memcpy(dst, src, PAGE_SIZE);
}

static void copy_all(struct migration *m)
{
	for (uint64_t gpa = 0; gpa < m->g->mem_size; gpa += PAGE_SIZE)
		copy_page(m, gpa >> PAGE_SHIFT);
}

static uint64_t copy_dirty(struct migration *m)
{
	int64_t n = dirty_log_get_clear(m->g, DIRTY_USER_MIGRATE, 0,
					m->g->mem_size / PAGE_SIZE, NULL,
					copy_page, m);

	return n < 0 ? 0 : (uint64_t)n;         /* CPU 0 is never turned away */
}

/* Pre-copy rounds while the guest runs (steps 2 and 3). */
static bool migrate_precopy(struct migration *m)
{
	uint64_t prev = ~0ULL, n, t0 = rdtsc();

	copy_all(m);
	guest_log(LOG_DEBUG, m->g, "migration: round 0 copied in %lu ticks\n",
		  rdtsc() - t0);
	m->rounds[m->nr_rounds++] = m->g->mem_size / PAGE_SIZE;
	while (m->nr_rounds < MIGRATE_MAX_ROUNDS) {
		if (READ_ONCE(m->g->state) != GUEST_RUNNING)
			return false;
		t0 = rdtsc();
		n = copy_dirty(m);
		m->rounds[m->nr_rounds++] = n;
		guest_log(LOG_DEBUG, m->g, "migration: round %u: %lu pages in "
			  "%lu ticks\n", m->nr_rounds - 1, n, rdtsc() - t0);
		if (n <= MIGRATE_DONE_PAGES || n >= prev)
			break;
		prev = n;
	}
	return true;
}

static uint64_t migrate_compare(struct migration *m)
{
	for (uint64_t gpa = 0; gpa < m->g->mem_size; gpa += PAGE_SIZE)
		if (memcmp(guest_gpa_to_hva(m->g, gpa, PAGE_SIZE),
			   guest_gpa_to_hva(&m->slot, gpa, PAGE_SIZE), PAGE_SIZE))
			return gpa;
	return ~0ULL;
}

static void swap_slots(struct guest *g, struct guest *slot)
{
	struct guest_chunk tmp[GUEST_MAX_CHUNKS];
	unsigned int n = g->nr_chunks;
	struct ept e = g->ept;

	guest_ram_moved();
	memcpy(tmp, g->chunks, sizeof(tmp));
	memcpy(g->chunks, slot->chunks, sizeof(tmp));
	g->nr_chunks = slot->nr_chunks;
	memcpy(slot->chunks, tmp, sizeof(tmp));
	slot->nr_chunks = n;
	g->ept = slot->ept;
	slot->ept = e;
}

static void print_rounds(struct migration *m, uint64_t downtime, uint64_t last)
{
	const struct config_guest *c = m->g->cfg;
	char rounds[160], cpus[64];
	int n = 0, k = 0;

	for (unsigned int i = 0; i < m->nr_rounds; i++)
		n += snprintf(rounds + n, sizeof(rounds) - (size_t)n, "%s%lu",
			      i ? "," : "", m->rounds[i]);
	for (unsigned int i = 0; i < c->migrate_cpu_count; i++)
		k += snprintf(cpus + k, sizeof(cpus) - (size_t)k, "%s%u",
			      i ? "," : "", c->migrate_cpus[i]);
	guest_log(LOG_INFO, m->g, "migrated to cpus [%s]: %u rounds, pages per "
		  "round %s, %lu pages while paused, downtime %lu ticks\n", cpus,
		  m->nr_rounds, rounds, last, downtime);
	if (boot.bench) {
		pr_info("BENCH name=migrate_rounds value=%u\n", m->nr_rounds);
		pr_info("BENCH name=migrate_downtime ticks=%lu\n", downtime);
	}
}

/* The guest ended while its vCPUs were being paused: the paused ones never
 * left through guest_vcpu_leave, so account for them here. */
static void migrate_abort_paused(struct guest *g)
{
	for (unsigned int i = 0; i < g->nr_vcpus; i++)
		if (g->vcpus[i]->paused &&
		    __atomic_sub_fetch(&g->vcpus_running, 1, __ATOMIC_ACQ_REL) == 0)
			g->finish_pending = true;
	dirty_log_stop(g, DIRTY_USER_MIGRATE);
}

/* Steps 4-6: stop, copy the rest, switch over, resume. */
static void migrate_switch(struct migration *m)
{
	struct guest *g = m->g;
	uint64_t t0 = rdtsc(), last, bad, t_verify;

	guest_request(g, VCPU_REQ_PAUSE);
	if (READ_ONCE(g->state) != GUEST_RUNNING) {
		migrate_abort_paused(g);
		return;
	}
	last = copy_dirty(m);
	t_verify = rdtsc();
	if (migrate_verify && (bad = migrate_compare(m)) != ~0ULL) {
		guest_log(LOG_ERR, g, "migration: memory mismatch at "
			  "guest-physical %#lx\n", bad);
		g->migration_failed = true;
	}
	t0 += rdtsc() - t_verify;      /* a test build's check is not downtime */
	dirty_log_stop(g, DIRTY_USER_MIGRATE);
	if (g->mmu)             /* the shadow maps the source slot's frames */
		shadow_mmu_reset(g);
	swap_slots(g, &m->slot);
	dirty_log_moved(g);
	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		g->vcpus[i]->cpu = g->cfg->migrate_cpus[i];
		g->vcpus[i]->tsc_launched = 0;
		cpu_post_work(g->vcpus[i]->cpu, vcpu_run, g->vcpus[i]);
	}
	for (unsigned int i = 0; i < g->nr_vcpus; i++)
		while (!READ_ONCE(g->vcpus[i]->tsc_launched))
			cpu_relax();
	/* CPU 0's own TSC at both ends: TSCs of different CPUs need not
	 * agree (in Bochs each counts its own instructions). */
	print_rounds(m, rdtsc() - t0, last);
}

void migrate_guest(struct guest *g)
{
	struct migration *m = &mig;
	enum dirty_mode mode = dirty_mode_for(g);

	*m = (struct migration){ .g = g };
	m->slot = (struct guest){ .name = g->name, .mem_size = g->mem_size };
	g->migrated = true;
	__atomic_store_n(&g->migrating, true, __ATOMIC_RELEASE);
	if (mode == DIRTY_OFF || guest_mem_alloc(&m->slot, false) ||
	    dirty_log_start(g, DIRTY_USER_MIGRATE, mode)) {
		guest_log(LOG_ERR, g, "migration: cannot start (dirty log %s, "
			  "%lu MiB for the target slot)\n", dirty_mode_name(mode),
			  g->mem_size >> 20);
	} else {
		guest_log(LOG_INFO, g, "migration: starting, dirty log %s\n",
			  dirty_mode_name(mode));
		if (migrate_precopy(m))
			migrate_switch(m);
		else
			dirty_log_stop(g, DIRTY_USER_MIGRATE);
	}
	guest_mem_free(&m->slot);       /* the source slot, after a switch */
	__atomic_store_n(&g->migrating, false, __ATOMIC_RELEASE);
	if (__atomic_load_n(&g->finish_pending, __ATOMIC_ACQUIRE))
		guest_finish(g);
}
