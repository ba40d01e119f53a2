/*
 * Memory shared by guests ([shm.NAME] sections, guest/config.h) and the
 * doorbell device each member gets for each of its regions
 * (guest/shm_regs.h has the device's registers).
 *
 *   host memory:  one zeroed block per valid region, allocated before
 *                 any guest is created, never freed (Keel runs one set
 *                 of guests per boot)
 *   member i:     EPT maps [gpa[i], gpa[i] + size) to the block: RWX, or
 *                 R+X for a read-only member, whose writes exit as EPT
 *                 violations and reach an MMIO region over the same
 *                 range: emulated with the write dropped (as a write to
 *                 ROM is), counted and logged once
 *
 * The region is not the member's RAM: guest_read/guest_write (hypercall
 * buffers, virtio DMA) do not reach it, snapshots do not save it, and
 * dirty logging neither write-protects nor reports it (its EPT leaves
 * carry EPT_SW_SHARED). Shadow paging is not offered: a member without
 * EPT is refused ("shared memory needs EPT").
 */
#ifndef KEEL_GUEST_SHM_H
#define KEEL_GUEST_SHM_H

#include "arch/compiler.h"
#include "guest/pci.h"
#include "guest/config.h"

struct guest;
struct shm_region;

/* A receiver's doorbell budget (guest/shm.c says why): at most `burst`
 * doorbells per window of `window` TSC ticks. */
struct shm_budget {
	uint64_t start;                 /* TSC: the window's start */
	uint32_t used;                  /* doorbells taken in it */
};

/* Takes one doorbell at TSC `now`: 0, or (over the budget) the TSC at
 * which the next window opens. A `now` before the window's start (the
 * sender's CPU reads an earlier TSC) opens a new window. */
static inline uint64_t shm_budget_take(struct shm_budget *b, uint64_t now,
				       uint64_t window, uint32_t burst)
{
	if (now - b->start >= window) {
		b->start = now;
		b->used = 0;
	}
	if (b->used >= burst)
		return b->start + window;
	b->used++;
	return 0;
}

/* One member's doorbell function. The interrupt registers are kept under
 * the region's lock (a peer's doorbell sets IntrStatus). */
struct shm_dev {
	struct pci_func pci;
	struct shm_region *r;           /* NULL: not in use */
	uint32_t member;                /* IVPosition */
	uint64_t gpa;                   /* where this guest sees the region */
	bool readonly;
	uint32_t intr_mask, intr_status;
	bool ro_logged;
	struct shm_budget budget;       /* as a receiver */
	uint64_t rung;                  /* doorbells passed on */
	uint64_t throttled;             /* of which waited for a window */
	uint64_t dropped;               /* doorbells dropped */
	uint64_t ro_writes;             /* writes dropped (read-only member) */
};

/* Allocates every valid region of c (that has members) before any guest
 * is created; a region that does not fit is logged, and its members are
 * refused when they attach. */
void shm_regions_alloc(const struct config *c);
/* Maps g's regions and adds its doorbell functions (its PCI bus is up):
 * NULL or why g cannot have them. */
const char *shm_guest_attach(struct guest *g);
/* g's doorbells no longer reach it (before its vCPUs are freed). */
void shm_guest_detach(struct guest *g);
void shm_print_stats(struct guest *g);

#endif
