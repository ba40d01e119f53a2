/*
 * The virtio PCI transport (guest/virtio.h; virtio 1.2 4.1): common
 * configuration, ISR, notifications and interrupts, for every device
 * type. Devices supply their queues' work and configuration space.
 */
#include "guest/virtio.h"
#include "guest/guest.h"
#include "drivers/printk.h"
#include "arch/bytes.h"
#include "arch/errno.h"
#include "arch/string.h"

/* Common configuration fields (4.1.4.3). */
#define CC_DFEAT_SEL    0x00
#define CC_DFEAT        0x04
#define CC_GFEAT_SEL    0x08
#define CC_GFEAT        0x0c
#define CC_MSIX_CONFIG  0x10
#define CC_NUM_QUEUES   0x12
#define CC_STATUS       0x14
#define CC_GENERATION   0x15
#define CC_Q_SELECT     0x16
#define CC_Q_SIZE       0x18
#define CC_Q_MSIX       0x1a
#define CC_Q_ENABLE     0x1c
#define CC_Q_NOTIFY_OFF 0x1e
#define CC_Q_DESC       0x20
#define CC_Q_DRIVER     0x28
#define CC_Q_DEVICE     0x30

/* Vendor capability types (4.1.4). */
#define CAP_COMMON      1
#define CAP_NOTIFY      2
#define CAP_ISR         3
#define CAP_DEVICE      4
#define CAP_LEN         16
#define CAP_NOTIFY_LEN  20

#define ISR_QUEUE       BIT_ULL(0)
#define ISR_CONFIG      BIT_ULL(1)

_Static_assert(VIRTIO_MAX_QUEUES + 1 <= PCI_MSIX_MAX, "a vector per queue");
_Static_assert(VIRTIO_QUEUE_SIZE <= VIRTQ_MAX_SIZE, "queue size");

static bool guest_ram_read(void *ctx, uint64_t gpa, void *buf, uint64_t len)
{
	return guest_read(ctx, gpa, buf, len);
}

static bool guest_ram_write(void *ctx, uint64_t gpa, const void *buf,
			    uint64_t len)
{
	return guest_write(ctx, gpa, buf, len);
}

static uint64_t offered(const struct virtio_dev *d)
{
	return d->features;
}

bool virtio_running(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_S_DRIVER_OK) &&
	       !(d->status & VIRTIO_S_NEEDS_RESET);
}

/* An interrupt for MSI-X vector `vec`, or through INTx and the ISR when
 * MSI-X is off (4.1.4.5). */
static void interrupt(struct virtio_dev *d, uint16_t vec, uint8_t isr)
{
	if (pci_msix_enabled(&d->pci)) {
		if (vec != VIRTIO_NO_VECTOR)
			pci_msix_notify(&d->pci, vec);
		return;
	}
	d->isr |= isr;
	pci_intx_set(&d->pci, true);
}

void virtio_config_changed(struct virtio_dev *d)
{
	d->generation++;
	interrupt(d, d->config_vector, ISR_CONFIG);
}

void virtio_broken(struct virtio_dev *d, unsigned int q, const char *why)
{
	d->faults++;
	if (d->faults <= VIRTIO_FAULTS_LOGGED)
		guest_log(LOG_WARN, d->g, "%s: queue %u: %s; device needs "
			  "reset\n", d->ops->name, q, why);
	if (d->faults == VIRTIO_FAULTS_LOGGED)
		guest_log(LOG_WARN, d->g, "%s: further faults of this device "
			  "not logged\n", d->ops->name);
	d->status |= VIRTIO_S_NEEDS_RESET;
	virtio_config_changed(d);
}

void virtio_queue_broken(struct virtio_dev *d, unsigned int q, int err)
{
	virtio_broken(d, q, virtq_error_name(err));
}

int virtio_queue_pop(struct virtio_dev *d, unsigned int q,
		     struct virtq_chain *c)
{
	int r;

	if (!virtio_running(d) || !d->q[q].enabled)
		return 0;
	r = virtq_pop(&d->q[q].vq, &d->mem, c);
	if (r < 0) {
		virtio_queue_broken(d, q, r);
		return -1;
	}
	return r;
}

void virtio_queue_used(struct virtio_dev *d, unsigned int q, uint16_t head,
		       uint32_t written)
{
	struct virtq *vq = &d->q[q].vq;
	uint16_t old = vq->used_idx;
	int err = virtq_push(vq, &d->mem, head, written);

	if (err) {
		virtio_queue_broken(d, q, err);
		return;
	}
	if (virtq_need_interrupt(vq, &d->mem, old))
		interrupt(d, d->q[q].msix_vector, ISR_QUEUE);
}

/* Writing 0 to the status resets the device (4.1.4.3.1): queues off,
 * features and vectors forgotten, interrupts withdrawn. */
static void reset(struct virtio_dev *d)
{
	d->status = 0;
	d->guest_features = 0;
	d->dfeat_sel = d->gfeat_sel = 0;
	d->queue_sel = 0;
	d->config_vector = VIRTIO_NO_VECTOR;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->q[i] = (struct virtio_queue){
			.vq.size = VIRTIO_QUEUE_SIZE,
			.msix_vector = VIRTIO_NO_VECTOR };
	d->isr = 0;
	pci_intx_set(&d->pci, false);
	if (d->ops->reset)
		d->ops->reset(d);
}

static struct virtio_queue *selected(struct virtio_dev *d)
{
	return d->queue_sel < d->ops->nr_queues ? &d->q[d->queue_sel] : NULL;
}

/* The common configuration as the driver reads it. */
static void common_image(struct virtio_dev *d, uint8_t *c)
{
	const struct virtio_queue *q = selected(d);
	uint64_t feat = d->dfeat_sel < 2 ? offered(d) >> (32 * d->dfeat_sel) : 0;
	uint64_t gfeat = d->gfeat_sel < 2 ?
			 d->guest_features >> (32 * d->gfeat_sel) : 0;

	memset(c, 0, VIRTIO_COMMON_LEN);
	put32(c, CC_DFEAT_SEL, d->dfeat_sel);
	put32(c, CC_DFEAT, (uint32_t)feat);
	put32(c, CC_GFEAT_SEL, d->gfeat_sel);
	put32(c, CC_GFEAT, (uint32_t)gfeat);
	put16(c, CC_MSIX_CONFIG, d->config_vector);
	put16(c, CC_NUM_QUEUES, (uint16_t)d->ops->nr_queues);
	put8(c, CC_STATUS, d->status);
	put8(c, CC_GENERATION, d->generation);
	put16(c, CC_Q_SELECT, d->queue_sel);
	if (!q)
		return;                 /* queue_size 0: no such queue */
	put16(c, CC_Q_SIZE, q->vq.size);
	put16(c, CC_Q_MSIX, q->msix_vector);
	put16(c, CC_Q_ENABLE, q->enabled);
	put16(c, CC_Q_NOTIFY_OFF, d->queue_sel);
	put64(c, CC_Q_DESC, q->vq.desc);
	put64(c, CC_Q_DRIVER, q->vq.avail);
	put64(c, CC_Q_DEVICE, q->vq.used);
}

/* A vector the table has, or NO_VECTOR: what the driver reads back
 * tells it whether the mapping took (4.1.5.1.2). */
static uint16_t vector_or_none(const struct virtio_dev *d, uint16_t v)
{
	return v < d->pci.nr_msix ? v : VIRTIO_NO_VECTOR;
}

/* FEATURES_OK only for a subset of what was offered that includes
 * VERSION_1 (legacy drivers are not served; 3.1.1). */
static void status_write(struct virtio_dev *d, uint8_t val)
{
	uint64_t f = d->guest_features;

	if (!val) {
		reset(d);
		return;
	}
	if ((val & VIRTIO_S_FEATURES_OK) &&
	    ((f & ~offered(d)) || !(f & VIRTIO_F_VERSION_1)))
		val &= (uint8_t)~VIRTIO_S_FEATURES_OK;
	d->status = (uint8_t)(val | (d->status & VIRTIO_S_NEEDS_RESET));
}

/* Enabling a queue checks its rings (2.7): a bad set-up breaks it. The
 * driver may lower queue_size from the maximum the device offers, not
 * raise it (4.1.4.3). */
static void queue_enable(struct virtio_dev *d, struct virtio_queue *q)
{
	int err;

	if (q->enabled)
		return;
	if (q->vq.size > VIRTIO_QUEUE_SIZE) {
		virtio_broken(d, d->queue_sel, "queue size above the maximum");
		return;
	}
	err = virtq_check(&q->vq, &d->mem);
	if (err) {
		virtio_queue_broken(d, d->queue_sel, err);
		return;
	}
	q->vq.last_avail = q->vq.used_idx = 0;
	q->enabled = true;
}

/* The selected queue's registers; frozen once it is enabled (4.1.4.3.2). */
static void queue_write(struct virtio_dev *d, const uint8_t *c,
			unsigned int off)
{
	struct virtio_queue *q = selected(d);

	if (!q)
		return;
	if (off >= CC_Q_MSIX && off < CC_Q_ENABLE)
		q->msix_vector = vector_or_none(d, get16(c, CC_Q_MSIX));
	if (q->enabled)
		return;
	if (off >= CC_Q_SIZE && off < CC_Q_MSIX)
		q->vq.size = get16(c, CC_Q_SIZE);
	else if (off >= CC_Q_ENABLE && off < CC_Q_NOTIFY_OFF &&
		 get16(c, CC_Q_ENABLE) == 1)
		queue_enable(d, q);
	q->vq.desc = get64(c, CC_Q_DESC);
	q->vq.avail = get64(c, CC_Q_DRIVER);
	q->vq.used = get64(c, CC_Q_DEVICE);
}

/* The register at `off` took the driver's bytes (already merged into
 * the image c). */
static void common_commit(struct virtio_dev *d, const uint8_t *c,
			  unsigned int off)
{
	if (off < CC_DFEAT)
		d->dfeat_sel = get32(c, CC_DFEAT_SEL);
	else if (off >= CC_GFEAT_SEL && off < CC_GFEAT)
		d->gfeat_sel = get32(c, CC_GFEAT_SEL);
	else if (off >= CC_GFEAT && off < CC_MSIX_CONFIG && d->gfeat_sel < 2 &&
		 !(d->status & VIRTIO_S_FEATURES_OK))
		d->guest_features =
			(d->guest_features & ~(0xffffffffULL << (32 * d->gfeat_sel))) |
			(uint64_t)get32(c, CC_GFEAT) << (32 * d->gfeat_sel);
	else if (off >= CC_MSIX_CONFIG && off < CC_NUM_QUEUES)
		d->config_vector = vector_or_none(d, get16(c, CC_MSIX_CONFIG));
	else if (off == CC_STATUS)
		status_write(d, get8(c, CC_STATUS));
	else if (off >= CC_Q_SELECT && off < CC_Q_SIZE)
		d->queue_sel = get16(c, CC_Q_SELECT);
	else if (off >= CC_Q_SIZE)
		queue_write(d, c, off);
}

static void common_access(struct virtio_dev *d, uint64_t off, void *buf,
			  unsigned int len, bool write)
{
	uint8_t c[VIRTIO_COMMON_LEN + 8];

	common_image(d, c);
	if (off + len > VIRTIO_COMMON_LEN) {
		if (!write)
			memset(buf, 0, len);
		return;
	}
	if (!write) {
		memcpy(buf, c + off, len);
		return;
	}
	memcpy(c + off, buf, len);
	common_commit(d, c, (unsigned int)off);
}

/* Reading the ISR clears it and withdraws INTx (4.1.4.5). */
static uint8_t isr_read(struct virtio_dev *d)
{
	uint8_t v = d->isr;

	d->isr = 0;
	pci_intx_set(&d->pci, false);
	return v;
}

/* A driver may only have the device fetch from RAM as bus master. */
static void notify(struct virtio_dev *d, uint64_t off)
{
	unsigned int q = (unsigned int)(off / VIRTIO_NOTIFY_MULT);

	if (q >= d->ops->nr_queues || !d->q[q].enabled || !virtio_running(d) ||
	    !(pci_cfg_command(&d->pci) & PCI_CMD_MASTER)) {
		d->notifies_ignored++;
		return;
	}
	d->ops->notify(d, q);
}

static void bar_access(struct virtio_dev *d, uint64_t off, void *buf,
		       unsigned int len, bool write)
{
	if (off < VIRTIO_ISR_OFF) {
		common_access(d, off - VIRTIO_COMMON_OFF, buf, len, write);
	} else if (off < VIRTIO_DEVCFG_OFF) {
		memset(buf, 0, write ? 0 : len);
		if (!write && off == VIRTIO_ISR_OFF)
			*(uint8_t *)buf = isr_read(d);
	} else if (off < VIRTIO_NOTIFY_OFF) {
		off -= VIRTIO_DEVCFG_OFF;
		if (off + len > VIRTIO_DEVCFG_LEN)
			memset(buf, 0, write ? 0 : len);
		else if (write && d->ops->cfg_write)
			d->ops->cfg_write(d, (unsigned int)off, buf, len);
		else
			d->ops->cfg_read(d, (unsigned int)off, buf, len);
	} else if (off < VIRTIO_MSIX_OFF) {
		memset(buf, 0, write ? 0 : len);
		if (write)
			notify(d, off - VIRTIO_NOTIFY_OFF);
	} else if (!write) {
		memset(buf, 0, len);
	}
}

static void virtio_bar_read(struct pci_func *f, unsigned int bar, uint64_t off,
			    void *buf, unsigned int len)
{
	struct virtio_dev *d = container_of(f, struct virtio_dev, pci);

	(void)bar;
	spin_lock(&d->lock);
	bar_access(d, off, buf, len, false);
	spin_unlock(&d->lock);
}

static void virtio_bar_write(struct pci_func *f, unsigned int bar,
			     uint64_t off, const void *buf, unsigned int len)
{
	struct virtio_dev *d = container_of(f, struct virtio_dev, pci);

	(void)bar;
	spin_lock(&d->lock);
	bar_access(d, off, (void *)buf, len, true);
	spin_unlock(&d->lock);
}

/* One vendor capability (4.1.4): where a structure lies in the BAR. */
static bool add_cap(struct pci_func *f, uint8_t type, uint32_t off,
		    uint32_t len)
{
	uint8_t cap[CAP_NOTIFY_LEN] = { 0 };
	unsigned int n = type == CAP_NOTIFY ? CAP_NOTIFY_LEN : CAP_LEN;

	cap[2] = (uint8_t)n;
	cap[3] = type;
	cap[4] = VIRTIO_BAR;
	put32(cap, 8, off);
	put32(cap, 12, len);
	if (type == CAP_NOTIFY)
		put32(cap, 16, VIRTIO_NOTIFY_MULT);
	return pci_func_add_cap(f, PCI_CAP_ID_VENDOR, cap, n);
}

static bool add_caps(struct virtio_dev *d)
{
	struct pci_func *f = &d->pci;
	unsigned int nq = d->ops->nr_queues;

	return add_cap(f, CAP_COMMON, VIRTIO_COMMON_OFF, VIRTIO_COMMON_LEN) &&
	       add_cap(f, CAP_ISR, VIRTIO_ISR_OFF, 1) &&
	       add_cap(f, CAP_DEVICE, VIRTIO_DEVCFG_OFF, VIRTIO_DEVCFG_LEN) &&
	       add_cap(f, CAP_NOTIFY, VIRTIO_NOTIFY_OFF,
		       nq * VIRTIO_NOTIFY_MULT) &&
	       pci_func_add_msix(f, VIRTIO_BAR, nq + 1, VIRTIO_MSIX_OFF,
				 VIRTIO_PBA_OFF);
}

int virtio_dev_add(struct guest *g, struct virtio_dev *d,
		   const struct virtio_ops *ops, void *priv)
{
	uint16_t id = (uint16_t)(VIRTIO_DEVICE_BASE + ops->type);

	if (ops->nr_queues > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	d->ops = ops;
	d->features = ops->features | VIRTIO_F_VERSION_1;
	d->g = g;
	d->priv = priv;
	d->faults = 0;
	d->lock = (struct spinlock)SPINLOCK_INIT;
	d->mem = (struct virtq_mem){ g, guest_ram_read, guest_ram_write };
	pci_func_init(&d->pci, VIRTIO_VENDOR, id, ops->class, VIRTIO_VENDOR, id);
	d->pci.cfg[PCI_REVISION] = 1;           /* modern only (4.1.2.1) */
	pci_func_add_bar(&d->pci, VIRTIO_BAR, VIRTIO_BAR_SIZE, false);
	d->pci.bar_read = virtio_bar_read;
	d->pci.bar_write = virtio_bar_write;
	if (!add_caps(d))
		return -ENOSPC;
	d->pci.g = g;
	reset(d);
	return pci_add(g, &d->pci);
}
