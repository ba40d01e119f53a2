/* The per-guest MMIO region table (see guest/mmio.h). */
#include "guest/mmio.h"
#include "guest/guest.h"
#include "arch/errno.h"
#include "mm/layout.h"

static bool mmio_overlaps(const struct mmio_region *r, uint64_t gpa,
			  uint64_t size)
{
	return gpa < r->gpa + r->size && r->gpa < gpa + size;
}

int mmio_register(struct guest *g, const struct mmio_region *r)
{
	struct mmio_bus *bus = &g->dev.mmio;

	if (!r->size || ((r->gpa | r->size) & (PAGE_SIZE - 1)) ||
	    r->gpa + r->size < r->gpa)
		return -EINVAL;
	if (r->gpa < g->mem_size)
		return -EEXIST;
	for (unsigned int i = 0; i < bus->nr; i++)
		if (mmio_overlaps(&bus->regions[i], r->gpa, r->size))
			return -EEXIST;
	if (bus->nr == MMIO_MAX_REGIONS)
		return -ENOSPC;
	bus->regions[bus->nr] = *r;
	__atomic_store_n(&bus->nr, bus->nr + 1, __ATOMIC_RELEASE);
	return 0;
}

const struct mmio_region *mmio_find(const struct guest *g, uint64_t gpa)
{
	const struct mmio_bus *bus = &g->dev.mmio;
	unsigned int nr = __atomic_load_n(&bus->nr, __ATOMIC_ACQUIRE);

	for (unsigned int i = 0; i < nr; i++)
		if (gpa - bus->regions[i].gpa < bus->regions[i].size)
			return &bus->regions[i];
	return NULL;
}

static const struct mmio_region *mmio_find_access(const struct guest *g,
						  uint64_t gpa,
						  unsigned int len)
{
	const struct mmio_region *r = mmio_find(g, gpa);

	if (!r || len > r->size - (gpa - r->gpa))
		return NULL;
	return r;
}

static bool mmio_holds(const struct mmio_region *r, uint64_t gpa,
		       unsigned int len)
{
	return r && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa);
}

/* near, when it holds the access, saves the search. */
static const struct mmio_region *mmio_route(const struct guest *g,
					    const struct mmio_region *near,
					    uint64_t gpa, unsigned int len)
{
	return mmio_holds(near, gpa, len) ? near
					  : mmio_find_access(g, gpa, len);
}

bool mmio_read_near(struct guest *g, const struct mmio_region *near,
		    uint64_t gpa, void *buf, unsigned int len)
{
	const struct mmio_region *r = mmio_route(g, near, gpa, len);

	if (!r)
		return false;
	r->read(g, r->opaque, gpa - r->gpa, buf, len);
	return true;
}

bool mmio_write_near(struct guest *g, const struct mmio_region *near,
		     uint64_t gpa, const void *buf, unsigned int len)
{
	const struct mmio_region *r = mmio_route(g, near, gpa, len);

	if (!r)
		return false;
	r->write(g, r->opaque, gpa - r->gpa, buf, len);
	return true;
}

bool mmio_read(struct guest *g, uint64_t gpa, void *buf, unsigned int len)
{
	return mmio_read_near(g, NULL, gpa, buf, len);
}

bool mmio_write(struct guest *g, uint64_t gpa, const void *buf,
		unsigned int len)
{
	return mmio_write_near(g, NULL, gpa, buf, len);
}
