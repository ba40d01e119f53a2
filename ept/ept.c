/* EPT builder: one table walker (ept_walk) used to map, look up and free. */
#include "ept/ept.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "vmx/vmx.h"
#include "arch/errno.h"

int ept_init(struct ept *ept)
{
	uint64_t root = mm_alloc_pages(0);

	if (root == FRAME_NONE)
		return -ENOMEM;
	*ept = (struct ept){ .root_pa = root, .tables = 1 };
	ept->max_level = vmx_caps.ept_1g ? 3 : vmx_caps.ept_2m ? 2 : 1;
	ept->eptp = root | EPTP_MT_WB | EPTP_WALK_4 |
		    (vmx_caps.ept_ad ? EPTP_AD_ENABLE : 0);
	return 0;
}

static uint64_t *ept_table(uint64_t entry)
{
	return phys_to_virt(entry & EPT_ADDR_MASK);
}

/* Returns the entry for gpa at `level`, creating tables on the way down
 * when `create`; NULL when a table is missing (or allocation failed) or a
 * large leaf sits above `level`. */
static uint64_t *ept_walk(struct ept *ept, uint64_t gpa, int level, bool create)
{
	uint64_t *table = phys_to_virt(ept->root_pa);

	for (int l = EPT_LEVELS; l > level; l--) {
		uint64_t *e = &table[ept_index(gpa, l)];

		if (!is_ept_present(*e)) {
			uint64_t pa;

			if (!create || (pa = mm_alloc_pages(0)) == FRAME_NONE)
				return NULL;
			*e = make_ept_table(pa);
			ept->tables++;
		} else if (is_ept_large(*e, l)) {
			return NULL;
		}
		table = ept_table(*e);
	}
	return &table[ept_index(gpa, level)];
}

static int ept_leaf_level(const struct ept *ept, uint64_t gpa, uint64_t hpa,
			  uint64_t left)
{
	for (int l = (int)ept->max_level; l > 1; l--) {
		uint64_t sz = ept_level_size(l);

		if (IS_ALIGNED(gpa, sz) && IS_ALIGNED(hpa, sz) && left >= sz)
			return l;
	}
	return 1;
}

int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size,
	    uint64_t perm, uint64_t mt)
{
	if (!IS_ALIGNED(gpa | hpa | size, PAGE_SIZE))
		return -EINVAL;
	spin_lock(&ept->lock);
	while (size) {
		int level = ept_leaf_level(ept, gpa, hpa, size);
		uint64_t *e = ept_walk(ept, gpa, level, true);

		if (!e) {
			spin_unlock(&ept->lock);
			return -ENOMEM;
		}
		*e = make_ept_leaf(hpa, perm, mt, level);
		gpa += ept_level_size(level);
		hpa += ept_level_size(level);
		size -= ept_level_size(level);
	}
	spin_unlock(&ept->lock);
	return 0;
}

uint64_t ept_lookup(struct ept *ept, uint64_t gpa, int *level)
{
	uint64_t *table = phys_to_virt(ept->root_pa);

	for (int l = EPT_LEVELS; l >= 1; l--) {
		uint64_t e = table[ept_index(gpa, l)];

		if (!is_ept_present(e))
			return 0;
		if (l == 1 || is_ept_large(e, l)) {
			*level = l;
			return e;
		}
		table = ept_table(e);
	}
	return 0;
}

/* A table of `level - 1` leaves covering what the large leaf e maps. */
static int ept_split_entry(struct ept *ept, uint64_t *e, int level)
{
	uint64_t pa = mm_alloc_pages(0), old = *e;
	uint64_t step = ept_level_size(level - 1);
	uint64_t *t;

	if (pa == FRAME_NONE)
		return -ENOMEM;
	t = phys_to_virt(pa);
	for (int i = 0; i < EPT_ENTRIES; i++) {
		uint64_t leaf = (old & ~EPT_ADDR_MASK) + (old & EPT_ADDR_MASK) +
				i * step;

		t[i] = level - 1 > 1 ? leaf : leaf & ~EPT_LARGE;
	}
	__atomic_store_n(e, make_ept_table(pa), __ATOMIC_RELEASE);
	ept->tables++;
	return 0;
}

static int ept_split_table(struct ept *ept, uint64_t *table, int level)
{
	int err = 0;

	for (int i = 0; !err && i < EPT_ENTRIES; i++) {
		uint64_t *e = &table[i];

		if (!is_ept_present(*e) || level == 1)
			continue;
		if (is_ept_large(*e, level))
			err = ept_split_entry(ept, e, level);
		if (!err)
			err = ept_split_table(ept, ept_table(*e), level - 1);
	}
	return err;
}

int ept_split_large(struct ept *ept)
{
	int err;

	spin_lock(&ept->lock);
	err = ept_split_table(ept, phys_to_virt(ept->root_pa), EPT_LEVELS);
	spin_unlock(&ept->lock);
	return err;
}

static void ept_walk_leaves(uint64_t *table, int level, uint64_t base,
			    void (*fn)(uint64_t *, uint64_t, void *), void *arg)
{
	for (int i = 0; i < EPT_ENTRIES; i++) {
		uint64_t gpa = base + (uint64_t)i * ept_level_size(level);

		if (!is_ept_present(table[i]))
			continue;
		if (level == 1)
			fn(&table[i], gpa, arg);
		else if (!is_ept_large(table[i], level))
			ept_walk_leaves(ept_table(table[i]), level - 1, gpa, fn, arg);
	}
}

void ept_for_each_leaf(struct ept *ept,
		       void (*fn)(uint64_t *entry, uint64_t gpa, void *arg),
		       void *arg)
{
	ept_walk_leaves(phys_to_virt(ept->root_pa), EPT_LEVELS, 0, fn, arg);
}

uint64_t *ept_leaf_entry(struct ept *ept, uint64_t gpa)
{
	uint64_t *table = phys_to_virt(ept->root_pa);

	for (int l = EPT_LEVELS; l > 1; l--) {
		uint64_t e = __atomic_load_n(&table[ept_index(gpa, l)],
					     __ATOMIC_ACQUIRE);

		if (!is_ept_present(e) || is_ept_large(e, l))
			return NULL;
		table = ept_table(e);
	}
	return &table[ept_index(gpa, 1)];
}

static void ept_free_table(uint64_t table_pa, int level)
{
	uint64_t *t = phys_to_virt(table_pa);

	for (int i = 0; level > 1 && i < EPT_ENTRIES; i++)
		if (is_ept_present(t[i]) && !is_ept_large(t[i], level))
			ept_free_table(t[i] & EPT_ADDR_MASK, level - 1);
	mm_free_pages(table_pa, 0);
}

void ept_destroy(struct ept *ept)
{
	if (ept->root_pa)
		ept_free_table(ept->root_pa, EPT_LEVELS);
	ept->root_pa = 0;
	ept->tables = 0;
}

/* INVEPT type 1 = single context, 2 = all contexts (SDM Vol. 3C 31.3). */
void ept_invalidate(const struct ept *ept)
{
	struct {
		uint64_t eptp, reserved;
	} desc = { ept->eptp, 0 };
	uint64_t type = (vmx_caps.ept_vpid & EPT_CAP_INVEPT_SINGLE) ? 1 : 2;

	if (!vmx_caps.ept)
		return;
	__asm__ volatile("invept %0, %1" :: "m"(desc), "r"(type) : "cc", "memory");
}

/* INVVPID type 1 = single context, 2 = all contexts (SDM Vol. 3C 31.3). */
void vpid_invalidate(uint16_t vpid)
{
	struct {
		uint64_t vpid, linear;
	} desc = { vpid, 0 };
	uint64_t type = (vmx_caps.ept_vpid & VPID_CAP_INVVPID_SINGLE) ? 1 : 2;

	if (!vpid || !(vmx_caps.ept_vpid & VPID_CAP_INVVPID))
		return;
	__asm__ volatile("invvpid %0, %1" :: "m"(desc), "r"(type) : "cc", "memory");
}

/* One linear address of one VPID (INVVPID type 0), or all of the VPID
 * where the processor lacks that type. */
void vpid_invalidate_addr(uint16_t vpid, uint64_t la)
{
	struct {
		uint64_t vpid, linear;
	} desc = { vpid, la };

	if (!(vmx_caps.ept_vpid & VPID_CAP_INVVPID_ADDR)) {
		vpid_invalidate(vpid);
		return;
	}
	if (!vpid)
		return;
	__asm__ volatile("invvpid %0, %1" :: "m"(desc), "r"(0ULL) : "cc", "memory");
}
