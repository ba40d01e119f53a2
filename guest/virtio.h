/*
 * virtio 1.x devices on a guest's PCI bus (virtio 1.2 4.1, the modern
 * PCI transport; split virtqueues, guest/virtq.h).
 *
 * Each device is one PCI function with one 32 KiB memory BAR (BAR 0):
 *
 *   0x0000  common configuration (4.1.4.3)
 *   0x1000  ISR status (4.1.4.5): read clears, and lowers INTx
 *   0x2000  device-specific configuration (the device's cfg_read/write)
 *   0x3000  notifications: queue q at 0x3000 + 4 * q (multiplier 4)
 *   0x4000  MSI-X table: entry 0 .. nr_queues (one per queue, one for
 *           configuration changes); 0x5000 its PBA
 *
 * Features offered: VIRTIO_F_VERSION_1 (required of the driver) and the
 * device's own. A driver breaking the rules of a queue (guest/virtq.c)
 * gets DEVICE_NEEDS_RESET and a configuration interrupt (2.1.2), and
 * Keel logs what it did (the first VIRTIO_FAULTS_LOGGED times per
 * device: a driver breaking and resetting in a loop must not fill
 * Keel's console); the device touches nothing until it is reset.
 * A queue is served on the CPU of the vCPU that notifies it.
 */
#ifndef KEEL_GUEST_VIRTIO_H
#define KEEL_GUEST_VIRTIO_H

#include "arch/compiler.h"
#include "arch/spinlock.h"
#include "guest/pci.h"
#include "guest/virtq.h"

#define VIRTIO_VENDOR           0x1af4
#define VIRTIO_DEVICE_BASE      0x1040          /* + device type */
#define VIRTIO_ID_NET           1
#define VIRTIO_ID_BLOCK         2
#define VIRTIO_ID_CONSOLE       3
#define VIRTIO_MAX_QUEUES       8
#define VIRTIO_QUEUE_SIZE       128
#define VIRTIO_NO_VECTOR        0xffff
#define VIRTIO_FAULTS_LOGGED    64

#define VIRTIO_F_VERSION_1      BIT_ULL(32)

/* Device status bits (2.1). */
#define VIRTIO_S_ACKNOWLEDGE    1
#define VIRTIO_S_DRIVER         2
#define VIRTIO_S_DRIVER_OK      4
#define VIRTIO_S_FEATURES_OK    8
#define VIRTIO_S_NEEDS_RESET    64
#define VIRTIO_S_FAILED         128

/* The BAR's layout (above). */
#define VIRTIO_BAR              0
#define VIRTIO_BAR_SIZE         0x8000
#define VIRTIO_COMMON_OFF       0x0000
#define VIRTIO_COMMON_LEN       0x38
#define VIRTIO_ISR_OFF          0x1000
#define VIRTIO_DEVCFG_OFF       0x2000
#define VIRTIO_DEVCFG_LEN       0x100
#define VIRTIO_NOTIFY_OFF       0x3000
#define VIRTIO_NOTIFY_MULT      4
#define VIRTIO_MSIX_OFF         0x4000
#define VIRTIO_PBA_OFF          0x5000

struct virtio_dev;

struct virtio_ops {
	const char *name;               /* "virtio-blk", in Keel's log */
	uint16_t type;                  /* VIRTIO_ID_* */
	uint32_t class;                 /* PCI class code */
	uint64_t features;              /* device features besides VERSION_1
					 * (a device may add to d->features
					 * before the driver runs) */
	unsigned int nr_queues;
	/* Device configuration, off < VIRTIO_DEVCFG_LEN, len 1/2/4/8;
	 * cfg_write NULL: no field is the driver's to change. */
	void (*cfg_read)(struct virtio_dev *d, unsigned int off, void *buf,
			 unsigned int len);
	void (*cfg_write)(struct virtio_dev *d, unsigned int off,
			  const void *buf, unsigned int len);
	/* The driver notified queue q (DRIVER_OK, queue enabled). Called
	 * with d->lock held. */
	void (*notify)(struct virtio_dev *d, unsigned int q);
	/* The driver reset the device (d->lock held). */
	void (*reset)(struct virtio_dev *d);
};

struct virtio_queue {
	struct virtq vq;
	uint16_t msix_vector;
	bool enabled;
};

struct virtio_dev {
	struct pci_func pci;
	const struct virtio_ops *ops;
	struct guest *g;
	struct spinlock lock;           /* all below, and the device's state */
	struct virtq_mem mem;           /* the guest's RAM */
	uint32_t dfeat_sel, gfeat_sel;
	uint64_t features;              /* offered: ops->features, VERSION_1 */
	uint64_t guest_features;
	uint16_t config_vector, queue_sel;
	uint8_t status, generation, isr;
	struct virtio_queue q[VIRTIO_MAX_QUEUES];
	uint64_t notifies_ignored;      /* before DRIVER_OK, or bad queue */
	uint64_t faults;                /* rules the driver broke, ever */
	bool cut_noted;                 /* a device said it cut work short */
	void *priv;                     /* the device's own state */
};

/* Sets d up as a device of type ops on g's PCI bus: 0 or -ENOSPC. */
int virtio_dev_add(struct guest *g, struct virtio_dev *d,
		   const struct virtio_ops *ops, void *priv);
/* The device used a chain of queue q (head, bytes written): into the
 * used ring, then an interrupt if the driver wants one. d->lock held. */
void virtio_queue_used(struct virtio_dev *d, unsigned int q, uint16_t head,
		       uint32_t written);
/* The driver broke queue q's rules (err: VIRTQ_E_*): NEEDS_RESET, a
 * configuration interrupt and a log line. d->lock held. */
void virtio_queue_broken(struct virtio_dev *d, unsigned int q, int err);
/* The same for a rule of the device's own (why: what the driver did). */
void virtio_broken(struct virtio_dev *d, unsigned int q, const char *why);
/* Takes the next chain of queue q: 1, 0 (none), or the queue is broken
 * (handled here) and -1 returned. d->lock held. */
int virtio_queue_pop(struct virtio_dev *d, unsigned int q,
		     struct virtq_chain *c);
/* The device configuration changed: config interrupt. d->lock held. */
void virtio_config_changed(struct virtio_dev *d);
/* True while the driver has it running (DRIVER_OK, not NEEDS_RESET). */
bool virtio_running(const struct virtio_dev *d);

#endif
