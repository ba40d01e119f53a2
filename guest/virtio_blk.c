/* virtio-blk (guest/virtio_blk.h; virtio 1.2 5.2). */
#include "guest/virtio_blk.h"
#include "guest/guest.h"
#include "guest/loader.h"
#include "mm/mm.h"
#include "mm/frame.h"
#include "mm/layout.h"
#include "arch/bytes.h"
#include "arch/string.h"

/* Feature bits and configuration layout (5.2.3, 5.2.4). */
#define BLK_F_SEG_MAX           BIT_ULL(2)
#define BLK_F_RO                BIT_ULL(5)
#define BLK_F_BLK_SIZE          BIT_ULL(6)
#define BLK_F_FLUSH             BIT_ULL(9)
#define BLK_CFG_CAPACITY        0
#define BLK_CFG_SEG_MAX         12
#define BLK_CFG_BLK_SIZE        20

/* Requests (5.2.6): a 16-byte header the device reads, data, and a
 * status byte the device writes last. */
#define BLK_T_IN                0
#define BLK_T_OUT               1
#define BLK_T_FLUSH             4
#define BLK_T_GET_ID            8
#define BLK_S_OK                0
#define BLK_S_IOERR             1
#define BLK_S_UNSUPP            2
#define BLK_HDR_LEN             16
#define BLK_ID_LEN              20

/* Two descriptors go to the header and the status byte. */
#define BLK_SEG_MAX             (VIRTQ_CHAIN_MAX - 2)

static struct virtio_blk *blk_of(struct virtio_dev *d)
{
	return d->priv;
}

static void blk_cfg_read(struct virtio_dev *d, unsigned int off, void *buf,
			 unsigned int len)
{
	struct virtio_blk *b = blk_of(d);
	uint8_t c[VIRTIO_DEVCFG_LEN] = { 0 };

	put64(c, BLK_CFG_CAPACITY, b->size / VIRTIO_BLK_SECTOR);
	put32(c, BLK_CFG_SEG_MAX, BLK_SEG_MAX);
	put32(c, BLK_CFG_BLK_SIZE, VIRTIO_BLK_SECTOR);
	memcpy(buf, c + off, len);
}

/* The byte range a data transfer names, or false when it is not a
 * whole number of sectors inside the disk. */
static bool blk_range(const struct virtio_blk *b, uint64_t sector,
		      uint64_t len, uint64_t *at)
{
	uint64_t sectors = b->size / VIRTIO_BLK_SECTOR;

	if (len % VIRTIO_BLK_SECTOR || sector > sectors ||
	    len / VIRTIO_BLK_SECTOR > sectors - sector)
		return false;
	*at = sector * VIRTIO_BLK_SECTOR;
	return true;
}

/* IN: disk to the writable buffers, all but the status byte. */
static uint8_t blk_in(struct virtio_blk *b, const struct virtq_chain *c,
		      uint64_t sector, uint32_t *written)
{
	uint64_t len = c->in_len - 1, at;

	if (!blk_range(b, sector, len, &at))
		return BLK_S_IOERR;
	if (virtq_chain_write(c, &b->dev.mem, 0, b->data + at, len) !=
	    (int64_t)len)
		return BLK_S_IOERR;
	*written = (uint32_t)len;
	b->reads++;
	return BLK_S_OK;
}

/* OUT: the readable buffers after the header to the disk. */
static uint8_t blk_out(struct virtio_blk *b, const struct virtq_chain *c,
		       uint64_t sector)
{
	uint64_t len = c->out_len - BLK_HDR_LEN, at;

	if (b->readonly || !blk_range(b, sector, len, &at))
		return BLK_S_IOERR;
	if (virtq_chain_read(c, &b->dev.mem, BLK_HDR_LEN, b->data + at, len) !=
	    (int64_t)len)
		return BLK_S_IOERR;
	b->writes++;
	return BLK_S_OK;
}

/* GET_ID: a serial number of up to 20 bytes, NUL-padded (5.2.6). */
static uint8_t blk_get_id(struct virtio_blk *b, const struct virtq_chain *c,
			  uint32_t *written)
{
	char id[BLK_ID_LEN] = "keel-";
	uint64_t len = MIN(c->in_len - 1, (uint64_t)BLK_ID_LEN);

	memcpy(id + 5, b->dev.g->name,
	       MIN(strlen(b->dev.g->name), (size_t)BLK_ID_LEN - 5));
	if (virtq_chain_write(c, &b->dev.mem, 0, id, len) != (int64_t)len)
		return BLK_S_IOERR;
	*written = (uint32_t)len;
	return BLK_S_OK;
}

static uint8_t blk_do(struct virtio_blk *b, const struct virtq_chain *c,
		      const uint8_t *hdr, uint32_t *written)
{
	uint64_t sector = get64(hdr, 8);

	switch (get32(hdr, 0)) {
	case BLK_T_IN:
		return blk_in(b, c, sector, written);
	case BLK_T_OUT:
		return blk_out(b, c, sector);
	case BLK_T_FLUSH:
		b->flushes++;
		return BLK_S_OK;        /* the copy is the disk: nothing to do */
	case BLK_T_GET_ID:
		return blk_get_id(b, c, written);
	default:
		return BLK_S_UNSUPP;
	}
}

/* One request. A chain without room for the header and the status byte
 * cannot be answered: the driver broke the protocol (5.2.6.1). */
static bool blk_request(struct virtio_blk *b, const struct virtq_chain *c)
{
	uint8_t hdr[BLK_HDR_LEN], status;
	uint32_t written = 0;

	if (c->out_len < BLK_HDR_LEN || c->in_len < 1 ||
	    virtq_chain_read(c, &b->dev.mem, 0, hdr, BLK_HDR_LEN) != BLK_HDR_LEN) {
		virtio_broken(&b->dev, 0, "a request without its header or "
			      "status byte");
		return false;
	}
	status = blk_do(b, c, hdr, &written);
	if (status != BLK_S_OK)
		b->errors++;
	if (virtq_chain_write(c, &b->dev.mem, c->in_len - 1, &status, 1) != 1) {
		virtio_broken(&b->dev, 0, "a status byte outside RAM");
		return false;
	}
	virtio_queue_used(&b->dev, 0, c->head, written + 1);
	return true;
}

static void blk_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtq_chain c;

	/* At most a queue's worth of requests an exit (see cons_notify). */
	for (unsigned int n = d->q[q].vq.size;
	     n && virtio_queue_pop(d, q, &c) > 0 && blk_request(blk_of(d), &c);
	     n--)
		;
}

static const struct virtio_ops blk_ops = {
	.name = "virtio-blk",
	.type = VIRTIO_ID_BLOCK,
	.class = 0x010000,              /* mass storage */
	.features = BLK_F_SEG_MAX | BLK_F_BLK_SIZE | BLK_F_FLUSH,
	.nr_queues = 1,
	.cfg_read = blk_cfg_read,      /* no writeback mode: nothing to write */
	.notify = blk_notify,
};

/* A read-write disk gets Keel's own copy of the module. */
static const char *blk_copy(struct virtio_blk *b, const struct loader_module *m)
{
	unsigned int order = 0;

	while (((uint64_t)PAGE_SIZE << order) < b->size)
		order++;
	if (order > FRAME_MAX_ORDER)
		return "its disk image is too large";
	b->copy_pa = mm_alloc_pages(order);
	if (b->copy_pa == FRAME_NONE) {
		b->copy_pa = 0;
		return "not enough host memory for its disk's copy";
	}
	b->copy_order = order;
	b->data = phys_to_virt(b->copy_pa);
	memcpy(b->data, m->data, b->size);
	return NULL;
}

const char *virtio_blk_init(struct guest *g)
{
	const struct config_guest *c = g->cfg;
	struct virtio_blk *b = &g->dev.pci->blk;
	struct loader_module m;
	const char *why = NULL;

	if (!loader_find_module(c->disk, &m))
		return "its disk module is missing";
	b->size = ALIGN_DOWN(m.size, (uint64_t)VIRTIO_BLK_SECTOR);
	b->readonly = c->disk_readonly;
	if (!b->size)
		return "its disk image is smaller than one sector";
	if (b->readonly)
		b->data = (uint8_t *)m.data;
	else
		why = blk_copy(b, &m);
	if (!why && virtio_dev_add(g, &b->dev, &blk_ops, b))
		why = "no room on its PCI bus for the disk";
	if (b->readonly)
		b->dev.features |= BLK_F_RO;
	return why;
}

void virtio_blk_free(struct guest *g)
{
	struct virtio_blk *b = &g->dev.pci->blk;

	if (b->copy_pa)
		mm_free_pages(b->copy_pa, b->copy_order);
	memset(b, 0, sizeof(*b));
}
