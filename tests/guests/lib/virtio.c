/* A virtio 1.x driver for test guests (virtio.h). */
#include "guest.h"
#include "virtio.h"

/* Vendor capability fields (4.1.4). */
#define PCI_CAP_ID_VENDOR       0x09
#define CAP_TYPE                3
#define CAP_BAR                 4
#define CAP_OFFSET              8
#define CAP_LENGTH              12
#define CAP_NOTIFY_MULT         16
#define CAP_COMMON              1
#define CAP_NOTIFY              2
#define CAP_ISR                 3
#define CAP_DEVICE              4
#define RESET_TICKS             100000000ULL

/* x86 keeps stores in order (SDM Vol. 3A 9.2.2); the compiler must too. */
static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Where a capability's structure lies: its BAR's address plus offset,
 * or null when the BAR is not a memory BAR or the structure overruns it. */
static volatile uint8_t *cap_map(struct vio_dev *d, unsigned int cap,
				 uint32_t *len)
{
	unsigned int bar = pci_read(d->bdf, cap + CAP_BAR, 1);
	uint32_t off = pci_read(d->bdf, cap + CAP_OFFSET, 4);

	*len = pci_read(d->bdf, cap + CAP_LENGTH, 4);
	if (bar >= PCI_NR_BARS || d->bar[bar].io || !d->bar[bar].size ||
	    (uint64_t)off + *len > d->bar[bar].size)
		return NULL;
	return (volatile uint8_t *)(uintptr_t)(d->bar[bar].addr + off);
}

bool vio_map(struct vio_dev *d)
{
	uint32_t len;

	d->common = d->isr = d->devcfg = d->notify = NULL;
	for (unsigned int n = 0; n < PCI_NR_BARS;)
		n += pci_bar_probe(d->bdf, n, &d->bar[n]);
	/* 4.1.4: the driver uses the first capability of each type. */
	for (unsigned int cap = pci_cap_next(d->bdf, 0), i = 0; cap && i < 48;
	     cap = pci_cap_next(d->bdf, cap), i++) {
		volatile uint8_t *p;
		unsigned int type;

		if (pci_read(d->bdf, cap, 1) != PCI_CAP_ID_VENDOR)
			continue;
		type = pci_read(d->bdf, cap + CAP_TYPE, 1);
		p = cap_map(d, cap, &len);
		if (type == CAP_COMMON && !d->common)
			d->common = p;
		else if (type == CAP_ISR && !d->isr)
			d->isr = p;
		else if (type == CAP_DEVICE && !d->devcfg) {
			d->devcfg = p;
			d->devcfg_len = len;
		} else if (type == CAP_NOTIFY && !d->notify) {
			d->notify = p;
			d->notify_mult = pci_read(d->bdf, cap + CAP_NOTIFY_MULT, 4);
		}
	}
	d->has_msix = pci_msix_init(d->bdf, &d->msix);
	return d->common && d->isr && d->devcfg && d->notify;
}

bool vio_find(uint16_t type, struct vio_dev *d)
{
	*d = (struct vio_dev){ 0 };
	if (!pci_find(VIO_VENDOR, (uint16_t)(VIO_DEVICE_BASE + type), &d->bdf))
		return false;
	pci_command_set(d->bdf, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	return vio_map(d);
}

/* ---- common configuration ------------------------------------------------ */

uint8_t vio_cc_read8(struct vio_dev *d, unsigned int off)
{
	return *(volatile uint8_t *)(d->common + off);
}

uint16_t vio_cc_read16(struct vio_dev *d, unsigned int off)
{
	return *(volatile uint16_t *)(d->common + off);
}

uint32_t vio_cc_read32(struct vio_dev *d, unsigned int off)
{
	return *(volatile uint32_t *)(d->common + off);
}

void vio_cc_write8(struct vio_dev *d, unsigned int off, uint8_t v)
{
	*(volatile uint8_t *)(d->common + off) = v;
}

void vio_cc_write16(struct vio_dev *d, unsigned int off, uint16_t v)
{
	*(volatile uint16_t *)(d->common + off) = v;
}

void vio_cc_write32(struct vio_dev *d, unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(d->common + off) = v;
}

/* 64-bit fields as two dwords, low first: 4.1.3.1 lets a driver do so. */
void vio_cc_write64(struct vio_dev *d, unsigned int off, uint64_t v)
{
	vio_cc_write32(d, off, (uint32_t)v);
	vio_cc_write32(d, off + 4, (uint32_t)(v >> 32));
}

uint8_t vio_status(struct vio_dev *d)
{
	return vio_cc_read8(d, VIO_CC_STATUS);
}

void vio_status_set(struct vio_dev *d, uint8_t s)
{
	vio_cc_write8(d, VIO_CC_STATUS, s);
}

bool vio_reset(struct vio_dev *d)
{
	uint64_t end = rdtsc_ordered() + RESET_TICKS;

	vio_status_set(d, 0);
	while (vio_status(d))
		if (rdtsc_ordered() > end)
			return false;
	return true;
}

uint64_t vio_device_features(struct vio_dev *d)
{
	uint64_t f;

	vio_cc_write32(d, VIO_CC_DFEAT_SEL, 0);
	f = vio_cc_read32(d, VIO_CC_DFEAT);
	vio_cc_write32(d, VIO_CC_DFEAT_SEL, 1);
	return f | (uint64_t)vio_cc_read32(d, VIO_CC_DFEAT) << 32;
}

bool vio_negotiate(struct vio_dev *d, uint64_t wanted)
{
	uint64_t f = wanted | VIO_F_VERSION_1;

	if (!vio_reset(d))
		return false;
	vio_status_set(d, VIO_S_ACKNOWLEDGE);
	vio_status_set(d, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	vio_cc_write32(d, VIO_CC_GFEAT_SEL, 0);
	vio_cc_write32(d, VIO_CC_GFEAT, (uint32_t)f);
	vio_cc_write32(d, VIO_CC_GFEAT_SEL, 1);
	vio_cc_write32(d, VIO_CC_GFEAT, (uint32_t)(f >> 32));
	vio_status_set(d, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER | VIO_S_FEATURES_OK);
	return vio_status(d) & VIO_S_FEATURES_OK;
}

void vio_driver_ok(struct vio_dev *d)
{
	vio_status_set(d, (uint8_t)(vio_status(d) | VIO_S_DRIVER_OK));
}

/* ---- device configuration and ISR ---------------------------------------- */

static uint64_t cfg_read_once(struct vio_dev *d, unsigned int off,
			      unsigned int len)
{
	volatile uint8_t *p = d->devcfg + off;

	switch (len) {
	case 1:
		return *p;
	case 2:
		return *(volatile uint16_t *)p;
	case 4:
		return *(volatile uint32_t *)p;
	default:
		return *(volatile uint32_t *)p |
		       (uint64_t)*(volatile uint32_t *)(p + 4) << 32;
	}
}

/* 2.5.1: re-read until config_generation is the same before and after. */
uint64_t vio_cfg_read(struct vio_dev *d, unsigned int off, unsigned int len)
{
	uint8_t gen;
	uint64_t v;

	do {
		gen = vio_cc_read8(d, VIO_CC_GENERATION);
		v = cfg_read_once(d, off, len);
	} while (gen != vio_cc_read8(d, VIO_CC_GENERATION));
	return v;
}

uint8_t vio_isr_read(struct vio_dev *d)
{
	return *d->isr;
}

/* ---- queues -------------------------------------------------------------- */

static void queue_map(struct vio_dev *d, struct vio_queue *q, uint16_t index,
		      uint16_t size, uint64_t desc, uint64_t avail,
		      uint64_t used)
{
	uint16_t noff = vio_cc_read16(d, VIO_CC_Q_NOTIFY_OFF);

	*q = (struct vio_queue){ .dev = d, .index = index, .size = size };
	q->desc = (volatile struct vio_desc *)(uintptr_t)desc;
	q->avail = (volatile uint16_t *)(uintptr_t)avail;
	q->used = (volatile uint16_t *)(uintptr_t)used;
	q->notify_off = (uint32_t)noff * d->notify_mult;
}

static void queue_regs(struct vio_dev *d, uint16_t size, uint64_t desc,
		       uint64_t avail, uint64_t used, uint16_t vector)
{
	vio_cc_write16(d, VIO_CC_Q_SIZE, size);
	vio_cc_write64(d, VIO_CC_Q_DESC, desc);
	vio_cc_write64(d, VIO_CC_Q_DRIVER, avail);
	vio_cc_write64(d, VIO_CC_Q_DEVICE, used);
	vio_cc_write16(d, VIO_CC_Q_MSIX, vector);
}

void vio_queue_setup_raw(struct vio_dev *d, struct vio_queue *q,
			 uint16_t index, uint16_t size, uint64_t desc,
			 uint64_t avail, uint64_t used, uint16_t vector)
{
	vio_cc_write16(d, VIO_CC_Q_SELECT, index);
	queue_regs(d, size, desc, avail, used, vector);
	queue_map(d, q, index, size, desc, avail, used);
	vio_cc_write16(d, VIO_CC_Q_ENABLE, 1);
}

/* 4.1.5.1.3: select, read the maximum size, write ours, the rings and
 * the vector (read back: NO_VECTOR means refused), then enable. */
bool vio_queue_setup(struct vio_dev *d, struct vio_queue *q, uint16_t index,
		     uint16_t size, void *mem, uint16_t vector)
{
	uint16_t max;
	uintptr_t base = (uintptr_t)mem, avail, used;

	vio_cc_write16(d, VIO_CC_Q_SELECT, index);
	max = vio_cc_read16(d, VIO_CC_Q_SIZE);
	if (!max || vio_cc_read16(d, VIO_CC_Q_ENABLE))
		return false;
	if (!size || size > max)
		size = max;
	avail = base + 16u * size;
	used = (avail + 6 + 2u * size + 4095) & ~(uintptr_t)4095;
	memset(mem, 0, VIO_RING_BYTES(size));
	queue_regs(d, size, base, avail, used, vector);
	if (vio_cc_read16(d, VIO_CC_Q_MSIX) != vector)
		return false;
	queue_map(d, q, index, size, base, avail, used);
	vio_cc_write16(d, VIO_CC_Q_ENABLE, 1);
	return vio_cc_read16(d, VIO_CC_Q_ENABLE) == 1;
}

uint16_t vio_publish(struct vio_queue *q, uint16_t head)
{
	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	barrier();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	barrier();
	return q->avail_idx;
}

void vio_avail_idx_set(struct vio_queue *q, uint16_t idx)
{
	q->avail_idx = idx;
	barrier();
	q->avail[1] = idx;
	barrier();
}

/* 4.1.5.2: the queue's index, written to its notify address (where the
 * BAR is now: the guest may have moved it since the set-up). */
void vio_notify(struct vio_queue *q)
{
	*(volatile uint16_t *)(q->dev->notify + q->notify_off) = q->index;
}

uint16_t vio_submit(struct vio_queue *q, const struct vio_buf *bufs,
		    unsigned int n)
{
	uint16_t head = q->next_desc, i = head;

	for (unsigned int k = 0; k < n; k++) {
		uint16_t next = (uint16_t)((i + 1) & (q->size - 1));

		q->desc[i].addr = bufs[k].addr;
		q->desc[i].len = bufs[k].len;
		q->desc[i].flags = (uint16_t)((bufs[k].write ? VIO_DESC_F_WRITE : 0) |
					      (k + 1 < n ? VIO_DESC_F_NEXT : 0));
		q->desc[i].next = next;
		i = next;
	}
	q->next_desc = i;
	vio_publish(q, head);
	vio_notify(q);
	return head;
}

uint16_t vio_used_idx(const struct vio_queue *q)
{
	return q->used[1];
}

bool vio_wait_used(struct vio_queue *q, uint32_t *id, uint32_t *len,
		   uint64_t ticks)
{
	uint64_t end = rdtsc_ordered() + ticks;
	volatile struct vio_used_elem *e;

	while (vio_used_idx(q) == q->last_used)
		if (rdtsc_ordered() > end)
			return false;
	barrier();
	e = (volatile struct vio_used_elem *)(q->used + 2) +
	    (q->last_used & (q->size - 1));
	*id = e->id;
	*len = e->len;
	q->last_used++;
	return true;
}

bool vio_wait_irqs(volatile uint32_t *count, uint32_t want, uint64_t ticks)
{
	uint64_t end = rdtsc_ordered() + ticks;

	while (*count < want && rdtsc_ordered() < end)
		__asm__ volatile("sti; pause; cli" ::: "memory");
	return *count >= want;
}
