/*
 * virtio-console (virtio 1.2 5.3): one port, no multiport, no size.
 * What the guest sends goes to Keel's console as its lines, through the
 * same line buffer as its 16550 (guest/vuart.c), so `hvc0` and `ttyS0`
 * output interleave by line; one exit moves a whole buffer instead of a
 * byte. The receive queue stays empty: typed input goes to the 16550.
 */
#include "guest/virtio_console.h"
#include "guest/guest.h"
#include "arch/string.h"

#define CONS_RXQ        0
#define CONS_TXQ        1
#define CONS_CHUNK      256

/* No configuration fields without F_SIZE, F_MULTIPORT or F_EMERG_WRITE. */
static void cons_cfg_read(struct virtio_dev *d, unsigned int off, void *buf,
			  unsigned int len)
{
	(void)d;
	(void)off;
	memset(buf, 0, len);
}

/* One transmit chain to the console, a chunk at a time. */
static void cons_out(struct virtio_dev *d, const struct virtq_chain *c)
{
	char buf[CONS_CHUNK];
	uint64_t off = 0;
	int64_t n;

	while (off < c->out_len) {
		n = virtq_chain_read(c, &d->mem, off, buf, sizeof(buf));
		if (n <= 0)
			break;
		vuart_write_bytes(d->g, buf, (uint64_t)n);
		off += (uint64_t)n;
	}
	virtio_queue_used(d, CONS_TXQ, c->head, 0);
}

static void cons_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtq_chain c;

	if (q != CONS_TXQ)
		return;
	while (virtio_queue_pop(d, q, &c) > 0)
		cons_out(d, &c);
}

static const struct virtio_ops cons_ops = {
	.name = "virtio-console",
	.type = VIRTIO_ID_CONSOLE,
	.class = 0x078000,              /* simple communication controller */
	.nr_queues = 2,
	.cfg_read = cons_cfg_read,
	.notify = cons_notify,
};

const char *virtio_console_init(struct guest *g)
{
	if (virtio_dev_add(g, &g->dev.pci->console, &cons_ops, NULL))
		return "no room on its PCI bus for the virtio console";
	return NULL;
}
