/*
 * virtio-console (virtio 1.2 5.3): one port, no multiport, no size.
 * What the guest sends goes to Keel's console as its lines, through the
 * same line buffer as its 16550 (guest/vuart.c), so `hvc0` and `ttyS0`
 * output interleave by line; one exit moves a whole buffer instead of a
 * byte. The receive queue stays empty: typed input goes to the 16550.
 */
#include "guest/virtio_console.h"
#include "guest/guest.h"
#include "drivers/printk.h"
#include "arch/string.h"

#define CONS_RXQ        0
#define CONS_TXQ        1
#define CONS_CHUNK      256
/* What one exit moves to the console at most: the rest of a longer
 * chain is dropped (a hostile chain may name gigabytes, and the UART
 * behind the console line runs at its own pace). */
#define CONS_CHAIN_MAX  (64 * 1024)

/* No configuration fields without F_SIZE, F_MULTIPORT or F_EMERG_WRITE. */
static void cons_cfg_read(struct virtio_dev *d, unsigned int off, void *buf,
			  unsigned int len)
{
	(void)d;
	(void)off;
	memset(buf, 0, len);
}

/* One transmit chain to the console, a chunk at a time, at most
 * CONS_CHAIN_MAX bytes of it; Keel says once when it cut one short. */
static void cons_out(struct virtio_dev *d, const struct virtq_chain *c)
{
	uint64_t len = MIN(c->out_len, (uint64_t)CONS_CHAIN_MAX), off = 0;
	char buf[CONS_CHUNK];
	int64_t n;

	while (off < len) {
		n = virtq_chain_read(c, &d->mem, off, buf,
				     MIN(sizeof(buf), len - off));
		if (n <= 0)
			break;
		vuart_write_bytes(d->g, buf, (uint64_t)n);
		off += (uint64_t)n;
	}
	if (c->out_len > len && !d->cut_noted) {
		guest_log(LOG_WARN, d->g, "virtio-console: a buffer of %lu "
			  "bytes; only its first %u shown\n", c->out_len,
			  CONS_CHAIN_MAX);
		d->cut_noted = true;
	}
	virtio_queue_used(d, CONS_TXQ, c->head, 0);
}

/* At most a queue's worth of chains an exit: chains another vCPU adds
 * meanwhile wait for its own notification. */
static void cons_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtq_chain c;

	if (q != CONS_TXQ)
		return;
	for (unsigned int n = d->q[q].vq.size;
	     n && virtio_queue_pop(d, q, &c) > 0; n--)
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
