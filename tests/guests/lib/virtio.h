/*
 * A small virtio 1.x driver for test guests: the modern PCI transport
 * (virtio 1.2 4.1) and split virtqueues (2.7), found and set up as the
 * spec tells a driver to (3.1.1), through lib/pci.c.
 *
 * The device's structures are located by its vendor capabilities
 * (4.1.4: cfg_type 1 common, 2 notify, 3 ISR, 4 device-specific), each a
 * (BAR, offset, length) triple; the BAR is used where it already lies.
 * Rings live in guest RAM the caller provides (identity-mapped: a
 * pointer is its guest-physical address). Everything is little-endian,
 * as x86 is.
 *
 * The driver keeps one chain in flight at a time in the simple path
 * (vio_submit / vio_wait_used); the raw accessors let a hostile guest
 * write descriptors and ring fields as it likes.
 */
#ifndef KEEL_TEST_VIRTIO_H
#define KEEL_TEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define VIO_VENDOR              0x1af4
#define VIO_DEVICE_BASE         0x1040  /* + device type (4.1.2.1) */
#define VIO_ID_NET              1
#define VIO_ID_BLOCK            2
#define VIO_ID_CONSOLE          3

/* Device status (2.1). */
#define VIO_S_ACKNOWLEDGE       1
#define VIO_S_DRIVER            2
#define VIO_S_DRIVER_OK         4
#define VIO_S_FEATURES_OK       8
#define VIO_S_NEEDS_RESET       64
#define VIO_S_FAILED            128

#define VIO_F_VERSION_1         (1ULL << 32)
#define VIO_F_INDIRECT_DESC     (1ULL << 28)
#define VIO_F_EVENT_IDX         (1ULL << 29)
#define VIO_NO_VECTOR           0xffff

/* Common configuration (4.1.4.3). */
#define VIO_CC_DFEAT_SEL        0x00
#define VIO_CC_DFEAT            0x04
#define VIO_CC_GFEAT_SEL        0x08
#define VIO_CC_GFEAT            0x0c
#define VIO_CC_MSIX_CONFIG      0x10
#define VIO_CC_NUM_QUEUES       0x12
#define VIO_CC_STATUS           0x14
#define VIO_CC_GENERATION       0x15
#define VIO_CC_Q_SELECT         0x16
#define VIO_CC_Q_SIZE           0x18
#define VIO_CC_Q_MSIX           0x1a
#define VIO_CC_Q_ENABLE         0x1c
#define VIO_CC_Q_NOTIFY_OFF     0x1e
#define VIO_CC_Q_DESC           0x20
#define VIO_CC_Q_DRIVER         0x28
#define VIO_CC_Q_DEVICE         0x30

/* ISR bits (4.1.4.5). */
#define VIO_ISR_QUEUE           1
#define VIO_ISR_CONFIG          2

/* Split virtqueue (2.7). */
#define VIO_DESC_F_NEXT         1
#define VIO_DESC_F_WRITE        2
#define VIO_DESC_F_INDIRECT     4
#define VIO_AVAIL_F_NO_INTERRUPT 1

struct vio_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
} __attribute__((packed));

struct vio_used_elem {
	uint32_t id, len;
} __attribute__((packed));

_Static_assert(sizeof(struct vio_desc) == 16, "2.7.5");
_Static_assert(sizeof(struct vio_used_elem) == 8, "2.7.8");

/* Bytes one queue of size n needs when vio_queue_setup lays it out:
 * descriptors, the available ring, then the used ring on the next
 * 4 KiB boundary. */
#define VIO_RING_BYTES(n)       (((16u * (n) + 6 + 2 * (n)) + 4095) / 4096 * \
				 4096 + (6 + 8u * (n) + 4095) / 4096 * 4096)

struct vio_dev {
	pci_bdf bdf;
	struct pci_bar bar[PCI_NR_BARS];
	volatile uint8_t *common, *isr, *devcfg, *notify;
	uint32_t notify_mult, devcfg_len;
	struct pci_msix msix;           /* the function's table (vio_map) */
	bool has_msix;
};

struct vio_queue {
	struct vio_dev *dev;
	uint16_t index, size;
	volatile struct vio_desc *desc;
	volatile uint16_t *avail;       /* flags, idx, ring[size], used_event */
	volatile uint16_t *used;        /* flags, idx, then elems */
	uint32_t notify_off;            /* bytes into the notify structure */
	uint16_t avail_idx;             /* what the driver last published */
	uint16_t last_used;             /* used entries consumed */
	uint16_t next_desc;             /* where the next chain starts */
};

/* One buffer of a chain: readable by the device unless `write`. */
struct vio_buf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* Finds the device of this type on bus 0, turns on memory decoding and
 * bus mastering, and maps its capabilities: false if absent or a
 * structure is missing. */
bool vio_find(uint16_t type, struct vio_dev *d);
/* Re-reads the capabilities after the guest moved a BAR. */
bool vio_map(struct vio_dev *d);

uint8_t vio_status(struct vio_dev *d);
void vio_status_set(struct vio_dev *d, uint8_t s);
/* Writes 0 and waits for the status to read 0 (4.1.4.3.2): false if it
 * never does. */
bool vio_reset(struct vio_dev *d);
uint64_t vio_device_features(struct vio_dev *d);
/* Reset, ACKNOWLEDGE, DRIVER, driver features = wanted (VERSION_1 added),
 * FEATURES_OK, and reads it back (3.1.1): true when the device kept it. */
bool vio_negotiate(struct vio_dev *d, uint64_t wanted);
void vio_driver_ok(struct vio_dev *d);

/* Common configuration registers, raw. */
uint8_t vio_cc_read8(struct vio_dev *d, unsigned int off);
uint16_t vio_cc_read16(struct vio_dev *d, unsigned int off);
uint32_t vio_cc_read32(struct vio_dev *d, unsigned int off);
void vio_cc_write8(struct vio_dev *d, unsigned int off, uint8_t v);
void vio_cc_write16(struct vio_dev *d, unsigned int off, uint16_t v);
void vio_cc_write32(struct vio_dev *d, unsigned int off, uint32_t v);
void vio_cc_write64(struct vio_dev *d, unsigned int off, uint64_t v);

/* Device configuration: a consistent read across config_generation
 * (4.1.4.3.1, 2.5.1). len 1, 2, 4 or 8. */
uint64_t vio_cfg_read(struct vio_dev *d, unsigned int off, unsigned int len);
/* Reading the ISR clears it. */
uint8_t vio_isr_read(struct vio_dev *d);

/* Queue `index` with `size` entries (0: the device's maximum) laid out
 * in mem (VIO_RING_BYTES(size), 4 KiB aligned, zeroed here), interrupts
 * to MSI-X `vector` (VIO_NO_VECTOR: none), enabled. Returns false when
 * the device has no such queue or refuses the vector. */
bool vio_queue_setup(struct vio_dev *d, struct vio_queue *q, uint16_t index,
		     uint16_t size, void *mem, uint16_t vector);
/* The same with the three rings where the caller says, no checks: the
 * queue's registers are written as given and enable is written 1. */
void vio_queue_setup_raw(struct vio_dev *d, struct vio_queue *q,
			 uint16_t index, uint16_t size, uint64_t desc,
			 uint64_t avail, uint64_t used, uint16_t vector);

/* Writes a chain of n buffers into descriptors (from q->next_desc),
 * makes it available and notifies: the head's index. */
uint16_t vio_submit(struct vio_queue *q, const struct vio_buf *bufs,
		    unsigned int n);
/* Makes descriptor `head` available (ring entry, then idx: 2.7.13) and
 * returns the new idx; vio_notify tells the device. */
uint16_t vio_publish(struct vio_queue *q, uint16_t head);
void vio_avail_idx_set(struct vio_queue *q, uint16_t idx);
void vio_notify(struct vio_queue *q);
/* Polls the used ring for the next entry for up to `ticks` TSC ticks:
 * true with its id and len. */
bool vio_wait_used(struct vio_queue *q, uint32_t *id, uint32_t *len,
		   uint64_t ticks);
uint16_t vio_used_idx(const struct vio_queue *q);

/* Takes interrupts (STI; PAUSE; CLI) until *count reaches want or
 * `ticks` TSC ticks passed: whether it did. The guest's own handler
 * counts, for the vector it set up (MSI-X entries through lib/pci.c,
 * INTx through the I/O APIC). */
bool vio_wait_irqs(volatile uint32_t *count, uint32_t want, uint64_t ticks);

#endif
