/* Guest memory, the end of a guest, and its log lines. */
#include "guest/guest.h"
#include "ept/dirty_bitmap.h"
#include "guest/console.h"
#include "arch/idt.h"
#include "arch/percpu.h"
#include "arch/string.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "arch/errno.h"
#include "drivers/lapic.h"
#include "drivers/printk.h"
#include "mm/layout.h"
#include "mm/mm.h"

struct guest guests[CONFIG_MAX_GUESTS];
unsigned int nr_guests;

void guest_log(int level, const struct guest *g, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	console_out_drain(g);   /* what the guest printed comes first */
	printk(level, "keel: guest %s: %s", g->name, msg);
}

/* Largest order whose block fits in `left` bytes (and at most 1 GiB). */
static unsigned int guest_chunk_order(uint64_t left)
{
	unsigned int order = FRAME_MAX_ORDER;

	while (order && (FRAME_SIZE << order) > left)
		order--;
	return order;
}

/*
 * Guest RAM [0, size) from naturally aligned host blocks, largest first, so
 * each block's guest-physical address is aligned to its size too and EPT
 * can use 1 GiB and 2 MiB pages. Blocks are zeroed unless the caller
 * overwrites all of them before the guest runs (a migration target): a
 * guest never sees what another guest or Keel left in memory.
 */
int guest_mem_alloc(struct guest *g, bool zero)
{
	uint64_t gpa = 0, left = g->mem_size;
	int err = ept_init(&g->ept);

	guest_ram_moved();
	while (!err && left) {
		unsigned int order = guest_chunk_order(left);
		uint64_t hpa = FRAME_NONE;

		while ((hpa = zero ? mm_alloc_pages(order)
				   : frame_alloc(&host_frames, order)) == FRAME_NONE &&
		       order)
			order--;
		if (hpa == FRAME_NONE || g->nr_chunks == GUEST_MAX_CHUNKS)
			return hpa == FRAME_NONE ? -ENOMEM : -E2BIG;
		g->chunks[g->nr_chunks++] = (struct guest_chunk){
			gpa, hpa, FRAME_SIZE << order, order };
		err = ept_map(&g->ept, gpa, hpa, FRAME_SIZE << order, EPT_RWX,
			      EPT_MT_WB);
		gpa += FRAME_SIZE << order;
		left -= FRAME_SIZE << order;
	}
	return err;
}

int guest_mem_init(struct guest *g)
{
	return guest_mem_alloc(g, true);
}

void guest_mem_free(struct guest *g)
{
	for (unsigned int i = 0; i < g->nr_chunks; i++)
		mm_free_pages(g->chunks[i].hpa, g->chunks[i].order);
	g->nr_chunks = 0;
	guest_ram_moved();
	ept_destroy(&g->ept);
}

uint64_t guest_ram_gen;

void guest_ram_moved(void)
{
	__atomic_add_fetch(&guest_ram_gen, 1, __ATOMIC_SEQ_CST);
}

/* The chunk holding gpa, or NULL. */
static const struct guest_chunk *chunk_of_gpa(const struct guest *g,
					      uint64_t gpa)
{
	for (unsigned int i = 0; i < g->nr_chunks; i++) {
		const struct guest_chunk *c = &g->chunks[i];

		if (gpa >= c->gpa && gpa - c->gpa < c->size)
			return c;
	}
	return NULL;
}

void *guest_gpa_to_hva(struct guest *g, uint64_t gpa, uint64_t len)
{
	const struct guest_chunk *c = chunk_of_gpa(g, gpa);

	if (!c || len > c->size - (gpa - c->gpa))
		return NULL;
	return phys_to_virt(c->hpa + (gpa - c->gpa));
}

uint64_t guest_gpa_to_hpa(const struct guest *g, uint64_t gpa)
{
	const struct guest_chunk *c = chunk_of_gpa(g, gpa);

	return c ? c->hpa + (gpa - c->gpa) : GUEST_NO_HPA;
}

uint64_t guest_hpa_to_gpa(const struct guest *g, uint64_t hpa)
{
	for (unsigned int i = 0; i < g->nr_chunks; i++) {
		const struct guest_chunk *c = &g->chunks[i];

		if (hpa >= c->hpa && hpa - c->hpa < c->size)
			return c->gpa + (hpa - c->hpa);
	}
	return GUEST_NO_HPA;
}

/* Keel's own writes into guest RAM (hypercall results, virtio devices'
 * DMA) make no EPT or PML entry: the dirty log hears of them here, as it
 * does of the emulator's (vmx/emulate.c). */
static void guest_note_write(struct guest *g, uint64_t gpa)
{
	if (unlikely(READ_ONCE(g->dlog.mode) != DIRTY_OFF))
		dirty_bitmap_set(&g->dlog.bm, gpa >> PAGE_SHIFT);
}

static bool guest_copy(struct guest *g, uint64_t gpa, void *buf, uint64_t len,
		       bool to_guest)
{
	while (len) {
		uint64_t n = MIN(len, PAGE_SIZE - (gpa & (PAGE_SIZE - 1)));
		void *hva = guest_gpa_to_hva(g, gpa, n);

		if (!hva)
			return false;
		if (to_guest) {
			memcpy(hva, buf, n);
			guest_note_write(g, gpa);
		} else
			memcpy(buf, hva, n);
		gpa += n;
		buf = (char *)buf + n;
		len -= n;
	}
	return true;
}

bool guest_write(struct guest *g, uint64_t gpa, const void *src, uint64_t len)
{
	return guest_copy(g, gpa, (void *)src, len, true);
}

bool guest_read(struct guest *g, uint64_t gpa, void *dst, uint64_t len)
{
	return guest_copy(g, gpa, dst, len, false);
}

void guest_end(struct guest *g, uint64_t status, const char *reason)
{
	bool first = false;

	spin_lock(&g->lock);
	if (g->state == GUEST_RUNNING) {
		g->exit_status = status;
		g->end_reason = reason;
		__atomic_store_n(&g->state, GUEST_ENDING, __ATOMIC_RELEASE);
		first = true;
	}
	spin_unlock(&g->lock);
	if (!first)
		return;
	/* Kick the guest's other CPUs out of guest mode: the IPI makes an
	 * external-interrupt exit, after which they see guest_ending (the
	 * exit path looks there, not at g->state). */
	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		struct vcpu *v = g->vcpus[i];

		__atomic_store_n(&v->guest_ending, 1, __ATOMIC_SEQ_CST);
		if (v->cpu != cpu_id())
			lapic_send_ipi(percpu[v->cpu].apic_id, VEC_KICK);
	}
	/* CPU 0 (guests_wait) retries those kicks until they are answered. */
	if (cpu_id() != 0)
		lapic_send_ipi(percpu[0].apic_id, VEC_KICK);
}

/*
 * The retry for kicks that were not answered: an NMI, which exits guest
 * mode whatever the guest's state. Bochs 2.7 keeps an external interrupt
 * masked in a guest entered with RFLAGS.IF = 0 (from the host's CLI) until
 * the guest sets IF, although external-interrupt exiting makes IF
 * irrelevant (SDM Vol. 3C 26.2); an NMI exit (NMI exiting is on) is not
 * held back. An NMI that finds Keel running is ignored (irq_dispatch),
 * and whoever waits sends another after KICK_RETRY_US.
 */
#define KICK_RETRY_US 100

uint64_t guest_kick_retry_ticks(void)
{
	return tsc_khz * KICK_RETRY_US / 1000 + 1;
}

void guest_kick_nmi(const struct vcpu *v)
{
	if (READ_ONCE(v->on_cpu) && v != this_cpu()->vcpu)
		lapic_send_nmi(percpu[READ_ONCE(v->cpu)].apic_id);
}

/*
 * Whether v still owes an answer to req, posted before it had begun pass
 * `since`. Any pass begun after the request acted on it: the bit alone
 * may be set again meanwhile. PAUSE is answered by leaving the CPU,
 * which clears its bit. A flush is owed only by a vCPU in the guest:
 * one in Keel does it before it enters (vcpu_entering()). Waiting for
 * its next exit instead livelocked shadow paging (hostile_smp, test
 * paging): a vCPU's store into a page table it had just been let write
 * (an unsync table) waited for the other vCPU's next exit, a MOV to CR3
 * that synced the table and write-protected it again, and faulted again
 * when it retried, for ever.
 */
static bool request_pending(const struct vcpu *v, uint32_t req,
			    uint32_t since)
{
	if (!v->on_cpu || !(__atomic_load_n(&v->requests, __ATOMIC_ACQUIRE) &
			    req))
		return false;
	if (!(req & ~(uint32_t)VCPU_REQ_FLUSH_ONLY) &&
	    !__atomic_load_n(&v->in_guest, __ATOMIC_SEQ_CST))
		return false;
	return (req & VCPU_REQ_PAUSE) ||
	       (int32_t)(__atomic_load_n(&v->req_answered, __ATOMIC_ACQUIRE) -
			 since) <= 0;
}

void guest_request(struct guest *g, uint32_t req)
{
	struct vcpu *self = this_cpu()->vcpu;
	uint32_t since[GUEST_MAX_VCPUS];
	bool posted[GUEST_MAX_VCPUS] = { false };

	/* What the caller changed before (the dirty-log mode) is visible to
	 * a vCPU that comes on its CPU after this looks at on_cpu: pairs with
	 * the fence in vcpu_run. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		struct vcpu *v = g->vcpus[i];

		if (!v->on_cpu)
			continue;
		__atomic_fetch_or(&v->requests, req, __ATOMIC_SEQ_CST);
		since[i] = __atomic_load_n(&v->req_passes, __ATOMIC_SEQ_CST);
		posted[i] = true;
		if (v == self)
			vcpu_process_requests(v);
		else
			lapic_send_ipi(percpu[v->cpu].apic_id, VEC_KICK);
	}
	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		struct vcpu *v = g->vcpus[i];
		uint64_t retry = rdtsc() + guest_kick_retry_ticks();

		/* Two vCPUs may ask each other at once: answer our own
		 * requests while waiting, or both would wait forever. */
		while (posted[i] && request_pending(v, req, since[i])) {
			if (self && (READ_ONCE(self->requests) &
				     ~(uint32_t)VCPU_REQ_PAUSE))
				vcpu_process_requests(self);
			if (rdtsc() >= retry) {
				guest_kick_nmi(v);
				retry = rdtsc() + guest_kick_retry_ticks();
			}
			cpu_relax();
		}
	}
}
