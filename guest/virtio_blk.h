/*
 * virtio-blk (virtio 1.2 5.2) backed by a multiboot module: `disk =
 * "name"` in the guest's config. A read-write disk is Keel's own copy
 * of the module, so writes last for the run and no other guest sees
 * them; a read-only one (`disk_readonly`) reads the module in place and
 * offers VIRTIO_BLK_F_RO. One request queue; IN, OUT, FLUSH and GET_ID.
 */
#ifndef KEEL_GUEST_VIRTIO_BLK_H
#define KEEL_GUEST_VIRTIO_BLK_H

#include "guest/virtio.h"

#define VIRTIO_BLK_SECTOR       512

struct virtio_blk {
	struct virtio_dev dev;
	uint8_t *data;                  /* the disk's bytes */
	uint64_t size;                  /* bytes, a multiple of the sector */
	uint64_t copy_pa;               /* Keel's copy, 0 when read-only */
	unsigned int copy_order;
	bool readonly;
	uint64_t reads, writes, flushes, errors;
};

struct guest;

/* Sets up the disk of g's config on its PCI bus: NULL or why not. */
const char *virtio_blk_init(struct guest *g);
void virtio_blk_free(struct guest *g);

#endif
