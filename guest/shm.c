/* Memory shared by guests and its doorbell device (guest/shm.h). */
#include "guest/shm.h"
#include "guest/shm_regs.h"
#include "guest/guest.h"
#include "arch/errno.h"
#include "arch/string.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "drivers/printk.h"
#include "mm/layout.h"
#include "mm/mm.h"

/*
 * A region: its host block and its members' doorbell functions. The lock
 * orders a doorbell against the target's teardown (shm_guest_detach) and
 * covers every member's IntrMask/IntrStatus; it is taken before a
 * function's bus lock, never after.
 */
struct shm_region {
	const struct config_shm *cfg;
	uint64_t hpa;                   /* FRAME_NONE: not allocated */
	unsigned int order;
	struct spinlock lock;
	struct shm_dev *members[CONFIG_SHM_MAX_GUESTS];
};

/*
 * What a doorbell costs its receiver: an MSI-X message sets an IRR bit
 * and kicks the receiver's CPU only when the bit was clear
 * (vlapic_accept_irq), and INTx is a level that stays up until the
 * receiver reads IntrStatus, so doorbells that come while one is pending
 * merge into it. But a receiver that services each interrupt at once
 * (one exit to read IntrStatus, one for the EOI, one for the kick) would
 * pay about as much per doorbell as the sender does, for as long as the
 * sender likes. So a receiver takes at most SHM_RING_BURST doorbells per
 * SHM_RING_WINDOW_US from the peers of a region; a sender over the budget
 * waits in its own doorbell write (on its own CPU, without the region's
 * lock) until the next window opens, and then rings whatever the budget
 * says, so that no sender waits more than one window. A receiver then
 * takes at most SHM_RING_BURST + its peers - 1 doorbells per window
 * (under 25 per ms, about 75 exits), and the sender is the one slowed.
 */
#define SHM_RING_BURST          16
#define SHM_RING_WINDOW_US      1000

static struct shm_region regions[CONFIG_MAX_SHM];
static const struct config *shm_config;

_Static_assert(SHM_VECTORS <= PCI_MSIX_MAX, "doorbell vectors");
_Static_assert(SHM_MSIX_TABLE + SHM_VECTORS * PCI_MSIX_ENTRY_SIZE <=
	       SHM_MSIX_PBA && SHM_MSIX_PBA + 8 <= SHM_BAR_SIZE,
	       "MSI-X table and PBA fit BAR0 after the registers");
_Static_assert(SHM_REG_DROPPED < SHM_MSIX_TABLE, "registers before MSI-X");
_Static_assert(CONFIG_SHM_SIZE_MAX <= ((uint64_t)PAGE_SIZE << FRAME_MAX_ORDER),
	       "a region is one block");

static unsigned int shm_order(uint64_t size)
{
	unsigned int order = 0;

	while (((uint64_t)PAGE_SIZE << order) < size)
		order++;
	return order;
}

/* A region with no valid member would only waste memory. */
static bool shm_has_valid_member(const struct config *c,
				 const struct config_shm *s)
{
	for (uint32_t i = 0; i < s->guest_count; i++)
		if (c->guests[s->guests[i]].valid)
			return true;
	return false;
}

void shm_regions_alloc(const struct config *c)
{
	shm_config = c;
	for (uint32_t i = 0; i < c->shm_count; i++) {
		const struct config_shm *s = &c->shm[i];
		struct shm_region *r = &regions[i];

		*r = (struct shm_region){ .cfg = s, .hpa = FRAME_NONE,
					  .lock = SPINLOCK_INIT };
		if (!s->valid || !shm_has_valid_member(c, s))
			continue;
		r->order = shm_order(s->size);
		r->hpa = mm_alloc_pages(r->order);      /* zeroed */
		if (r->hpa == FRAME_NONE)
			pr_err("keel: shm %s: not enough host memory for %lu "
			       "KiB\n", s->name, s->size >> 10);
	}
}

/* ---- the doorbell device ------------------------------------------------ */

static struct shm_dev *shm_dev_of(struct pci_func *f)
{
	return container_of(f, struct shm_dev, pci);
}

/* INTx follows IntrStatus & ~IntrMask. Called with the region's lock. */
static void shm_intx_update(struct shm_dev *d)
{
	bool level = (d->intr_status & ~d->intr_mask) & SHM_INTR_BIT;

	if (level != READ_ONCE(d->pci.intx_level))
		pci_intx_set(&d->pci, level);
}

/* The receiver of a doorbell from d to peer p, vector v, or NULL when
 * it is dropped. Called with the region's lock (which keeps the peer
 * from being torn down). */
static struct shm_dev *shm_ring_target(struct shm_dev *d, uint32_t p,
				       uint32_t v)
{
	struct shm_dev *peer;

	if (p >= d->r->cfg->guest_count || p == d->member || v >= SHM_VECTORS)
		return NULL;
	peer = d->r->members[p];
	if (!peer || READ_ONCE(peer->pci.g->state) != GUEST_RUNNING)
		return NULL;
	return peer;
}

static void shm_ring(struct shm_dev *peer, uint32_t v)
{
	if (!pci_msix_notify(&peer->pci, v)) {
		peer->intr_status |= SHM_INTR_BIT;
		shm_intx_update(peer);
	}
}

/* One attempt at a doorbell: passed on, dropped, or (unless force) left
 * for the receiver's next window, whose start it returns (else 0). */
static uint64_t shm_doorbell_try(struct shm_dev *d, uint32_t p, uint32_t v,
				 bool force)
{
	struct shm_region *r = d->r;
	struct shm_dev *peer;
	uint64_t wait = 0;

	spin_lock(&r->lock);
	peer = shm_ring_target(d, p, v);
	if (peer)
		wait = shm_budget_take(&peer->budget, rdtsc(), tsc_khz *
				       SHM_RING_WINDOW_US / 1000,
				       SHM_RING_BURST);
	if (!peer) {
		d->dropped++;
	} else if (!wait || force) {
		shm_ring(peer, v);
		d->rung++;
		wait = 0;
	} else {
		d->throttled++;
	}
	spin_unlock(&r->lock);
	return wait;
}

static void shm_doorbell(struct shm_dev *d, uint32_t val)
{
	uint32_t p = SHM_DOORBELL_PEER(val), v = SHM_DOORBELL_VECTOR(val);
	uint64_t wait = shm_doorbell_try(d, p, v, false);

	if (!wait)
		return;
	while (rdtsc() < wait)
		cpu_relax();
	shm_doorbell_try(d, p, v, true);
}

static uint32_t shm_reg_read(struct shm_dev *d, uint64_t off)
{
	uint32_t v = 0;

	switch (off) {
	case SHM_REG_INTR_MASK:     return d->intr_mask;
	case SHM_REG_IV_POSITION:   return d->member;
	case SHM_REG_GPA_LO:        return (uint32_t)d->gpa;
	case SHM_REG_GPA_HI:        return (uint32_t)(d->gpa >> 32);
	case SHM_REG_SIZE_LO:       return (uint32_t)d->r->cfg->size;
	case SHM_REG_SIZE_HI:       return (uint32_t)(d->r->cfg->size >> 32);
	case SHM_REG_FLAGS:         return d->readonly ? SHM_FLAG_READONLY : 0;
	case SHM_REG_PEERS:         return d->r->cfg->guest_count;
	case SHM_REG_DROPPED:       return (uint32_t)READ_ONCE(d->dropped);
	case SHM_REG_INTR_STATUS:
		spin_lock(&d->r->lock);
		v = d->intr_status;
		d->intr_status = 0;
		shm_intx_update(d);
		spin_unlock(&d->r->lock);
		return v;
	}
	return 0;
}

static void shm_bar_read(struct pci_func *f, unsigned int bar, uint64_t off,
			 void *buf, unsigned int len)
{
	uint32_t v = 0;

	(void)bar;
	if (len == 4 && !(off & 3))
		v = shm_reg_read(shm_dev_of(f), off);
	memset(buf, 0, len);
	memcpy(buf, &v, MIN(len, 4u));
}

static void shm_bar_write(struct pci_func *f, unsigned int bar, uint64_t off,
			  const void *buf, unsigned int len)
{
	struct shm_dev *d = shm_dev_of(f);
	uint32_t v;

	(void)bar;
	if (len != 4 || (off & 3))
		return;
	memcpy(&v, buf, 4);
	if (off == SHM_REG_DOORBELL) {
		shm_doorbell(d, v);
	} else if (off == SHM_REG_INTR_MASK) {
		spin_lock(&d->r->lock);
		d->intr_mask = v & SHM_INTR_BIT;
		shm_intx_update(d);
		spin_unlock(&d->r->lock);
	}
}

static int shm_dev_add(struct guest *g, struct shm_dev *d)
{
	pci_func_init(&d->pci, SHM_PCI_VENDOR, SHM_PCI_DEVICE, SHM_PCI_CLASS,
		      SHM_PCI_VENDOR, SHM_PCI_DEVICE);
	pci_func_add_bar(&d->pci, SHM_BAR, SHM_BAR_SIZE, false);
	d->pci.bar_read = shm_bar_read;
	d->pci.bar_write = shm_bar_write;
	d->pci.g = g;
	if (!pci_func_add_msix(&d->pci, SHM_BAR, SHM_VECTORS, SHM_MSIX_TABLE,
			       SHM_MSIX_PBA))
		return -ENOSPC;
	return pci_add(g, &d->pci);
}

/* ---- a read-only member's view ------------------------------------------ */

static void shm_ro_read(struct guest *g, void *opaque, uint64_t off,
			void *buf, unsigned int len)
{
	struct shm_dev *d = opaque;

	(void)g;
	memcpy(buf, (uint8_t *)phys_to_virt(d->r->hpa) + off, len);
}

static void shm_ro_write(struct guest *g, void *opaque, uint64_t off,
			 const void *buf, unsigned int len)
{
	struct shm_dev *d = opaque;

	(void)buf;
	(void)len;
	__atomic_fetch_add(&d->ro_writes, 1, __ATOMIC_RELAXED);
	if (!__atomic_exchange_n(&d->ro_logged, true, __ATOMIC_RELAXED))
		guest_log(LOG_WARN, g, "shm %s: write to a read-only region at "
			  "%#lx (dropped)\n", d->r->cfg->name, d->gpa + off);
}

/* ---- members -------------------------------------------------------------- */

static const char *shm_map(struct guest *g, struct shm_dev *d)
{
	uint64_t size = d->r->cfg->size;
	uint64_t perm = d->readonly ? EPT_R | EPT_X : EPT_RWX;

	if (ept_map(&g->ept, d->gpa, d->r->hpa, size, perm | EPT_SW_SHARED,
		    EPT_MT_WB))
		return "not enough host memory to map its shared memory";
	if (d->readonly &&
	    mmio_register(g, &(struct mmio_region){
		    .gpa = d->gpa, .size = size, .read = shm_ro_read,
		    .write = shm_ro_write, .opaque = d }))
		return "its read-only shared memory overlaps a device";
	return NULL;
}

static const char *shm_attach_one(struct guest *g, unsigned int i,
				  uint32_t gi)
{
	struct shm_region *r = &regions[i];
	struct shm_dev *d = &g->dev.pci->shm[i];
	int m = config_shm_member(r->cfg, gi);
	const char *why;

	if (m < 0 || r->hpa == FRAME_NONE)
		return "no host memory for a shared memory region it is in";
	*d = (struct shm_dev){ .r = r, .member = (uint32_t)m,
			       .gpa = r->cfg->gpa[m],
			       .readonly = r->cfg->readonly & BIT_ULL(m) };
	why = shm_map(g, d);
	if (!why && shm_dev_add(g, d))
		why = "no room on its PCI bus for a doorbell device";
	if (why) {
		d->r = NULL;
		return why;
	}
	spin_lock(&r->lock);
	r->members[m] = d;
	spin_unlock(&r->lock);
	return NULL;
}

const char *shm_guest_attach(struct guest *g)
{
	uint32_t gi = (uint32_t)(g->cfg - shm_config->guests);
	const char *why = NULL;

	if (g->cfg->shm_mask && g->mmu)
		return "shared memory needs EPT";
	for (uint32_t mask = g->cfg->shm_mask; mask && !why; mask &= mask - 1)
		why = shm_attach_one(g, (unsigned int)__builtin_ctz(mask), gi);
	return why;
}

void shm_guest_detach(struct guest *g)
{
	for (unsigned int i = 0; i < CONFIG_MAX_SHM; i++) {
		struct shm_dev *d = &g->dev.pci->shm[i];
		struct shm_region *r = d->r;

		if (!r)
			continue;
		spin_lock(&r->lock);
		if (r->members[d->member] == d)
			r->members[d->member] = NULL;
		spin_unlock(&r->lock);
	}
}

void shm_print_stats(struct guest *g)
{
	for (unsigned int i = 0; i < CONFIG_MAX_SHM; i++) {
		const struct shm_dev *d = &g->dev.pci->shm[i];

		if (d->r)
			guest_log(LOG_INFO, g, "shm %s: %lu doorbells passed on "
				  "(%lu waited for the peer's budget), %lu "
				  "dropped, %lu writes dropped\n",
				  d->r->cfg->name, d->rung, d->throttled,
				  d->dropped, d->ro_writes);
	}
}
