/* virtio-net and Keel's virtual switches (guest/virtio_net.h). */
#include "guest/virtio_net.h"
#include "guest/guest.h"
#include "drivers/printk.h"
#include "arch/bytes.h"
#include "arch/string.h"

/* Features and configuration (virtio 1.2 5.1.3, 5.1.4). */
#define NET_F_MAC               BIT_ULL(5)
#define NET_F_STATUS            BIT_ULL(16)
#define NET_CFG_MAC             0
#define NET_CFG_STATUS          6
#define NET_S_LINK_UP           1
#define NET_HDR_NUM_BUFFERS     10      /* le16, 1 without MRG_RXBUF */

#define NET_RXQ                 0
#define NET_TXQ                 1
#define VSWITCH_MAX_PORTS       CONFIG_MAX_GUESTS

struct vswitch {
	char name[CONFIG_NAME_SIZE];
	struct virtio_net *ports[VSWITCH_MAX_PORTS];
	unsigned int nr;                /* ports[0..nr) set; only grows */
	uint64_t unknown;               /* frames for no member's MAC */
};

/* Networks are made while guests are created (CPU 0, one at a time);
 * senders read ports[] with acquire loads against the store of nr. */
static struct vswitch switches[CONFIG_MAX_GUESTS];
static unsigned int nr_switches;

static struct vswitch *vswitch_get(const char *name)
{
	struct vswitch *sw;

	for (unsigned int i = 0; i < nr_switches; i++)
		if (!strcmp(switches[i].name, name))
			return &switches[i];
	if (nr_switches == ARRAY_SIZE(switches))
		return NULL;
	sw = &switches[nr_switches++];
	memcpy(sw->name, name, sizeof(sw->name));
	return sw;
}

static bool vswitch_attach(struct vswitch *sw, struct virtio_net *n)
{
	if (sw->nr == VSWITCH_MAX_PORTS)
		return false;
	sw->ports[sw->nr] = n;
	__atomic_store_n(&sw->nr, sw->nr + 1, __ATOMIC_RELEASE);
	return true;
}

static struct virtio_net *net_of(struct virtio_dev *d)
{
	return d->priv;
}

static void net_cfg_read(struct virtio_dev *d, unsigned int off, void *buf,
			 unsigned int len)
{
	uint8_t c[VIRTIO_DEVCFG_LEN] = { 0 };

	memcpy(c + NET_CFG_MAC, net_of(d)->mac, CONFIG_MAC_SIZE);
	put16(c, NET_CFG_STATUS, NET_S_LINK_UP);
	memcpy(buf, c + off, len);
}

/* One frame into receiver r's next buffer: the header (no offloads,
 * one buffer) and the frame. A buffer too small for them is returned
 * empty, which the driver counts as a receive error. */
static void port_rx(struct virtio_net *r, const uint8_t *frame, uint32_t len)
{
	struct virtio_dev *d = &r->dev;
	uint8_t hdr[NET_HDR_LEN] = { 0 };
	struct virtq_chain c;
	uint32_t written = 0;

	spin_lock(&d->lock);
	if (!r->attached || virtio_queue_pop(d, NET_RXQ, &c) <= 0) {
		r->rx_no_buffer++;
		spin_unlock(&d->lock);
		return;
	}
	put16(hdr, NET_HDR_NUM_BUFFERS, 1);
	if (c.in_len < NET_HDR_LEN + len) {
		r->rx_small++;
	} else if (virtq_chain_write(&c, &d->mem, 0, hdr, NET_HDR_LEN) ==
		   NET_HDR_LEN &&
		   virtq_chain_write(&c, &d->mem, NET_HDR_LEN, frame, len) == len) {
		written = NET_HDR_LEN + len;
		r->rx_frames++;
	}
	virtio_queue_used(d, NET_RXQ, c.head, written);
	spin_unlock(&d->lock);
}

/* A frame from `from` to its network: to the member with the
 * destination MAC, or to every other member for a group address (bit 0
 * of the first byte; IEEE 802 3.2.3). */
static void vswitch_send(struct vswitch *sw, struct virtio_net *from,
			 const uint8_t *frame, uint32_t len)
{
	unsigned int nr = __atomic_load_n(&sw->nr, __ATOMIC_ACQUIRE);
	bool group = frame[0] & 1, found = false;

	for (unsigned int i = 0; i < nr; i++) {
		struct virtio_net *p = sw->ports[i];

		if (p == from)
			continue;
		if (group || !memcmp(p->mac, frame, CONFIG_MAC_SIZE)) {
			port_rx(p, frame, len);
			found = true;
		}
	}
	if (!found && !group)
		__atomic_fetch_add(&sw->unknown, 1, __ATOMIC_RELAXED);
}

/* Copies one transmit chain's frame out (after the header) and returns
 * the chain: 0 when the frame is not sendable (too short or too long,
 * or the chain has device-writable buffers, which 5.1.6.2 forbids on a
 * transmit queue: what the driver meant is unknown; counted, and the
 * chain is still returned). */
static uint32_t tx_take(struct virtio_net *n, const struct virtq_chain *c,
			uint8_t *frame)
{
	uint64_t len = c->out_len > NET_HDR_LEN ? c->out_len - NET_HDR_LEN : 0;

	if (c->in_len || len < NET_FRAME_MIN || len > NET_FRAME_MAX ||
	    virtq_chain_read(c, &n->dev.mem, NET_HDR_LEN, frame, len) !=
	    (int64_t)len) {
		n->tx_bad++;
		len = 0;
	}
	virtio_queue_used(&n->dev, NET_TXQ, c->head, 0);
	return (uint32_t)len;
}

/*
 * The driver queued frames. d->lock is held on entry and exit but let go
 * around each delivery, so that no CPU ever holds two devices' locks (a
 * guest sending to one that sends back would deadlock otherwise). The
 * device may be reset meanwhile: the next pop then finds nothing.
 */
static void net_tx(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	uint8_t frame[NET_FRAME_MAX];
	struct virtq_chain c;
	uint32_t len;

	/* At most a queue's worth of frames an exit: another vCPU adding
	 * frames while the lock is let go must not keep this CPU here. */
	for (unsigned int left = d->q[NET_TXQ].vq.size;
	     left-- && virtio_queue_pop(d, NET_TXQ, &c) > 0;) {
		len = tx_take(n, &c, frame);
		if (!len)
			continue;
		n->tx_frames++;
		spin_unlock(&d->lock);
		vswitch_send(n->sw, n, frame, len);
		spin_lock(&d->lock);
	}
}

/* Receive buffers arriving need nothing: frames wait for none. */
static void net_notify(struct virtio_dev *d, unsigned int q)
{
	if (q == NET_TXQ)
		net_tx(net_of(d));
}

static const struct virtio_ops net_ops = {
	.name = "virtio-net",
	.type = VIRTIO_ID_NET,
	.class = 0x020000,              /* Ethernet controller */
	.features = NET_F_MAC | NET_F_STATUS,
	.nr_queues = 2,
	.cfg_read = net_cfg_read,      /* the MAC is read-only (5.1.4.2) */
	.notify = net_notify,
};

const char *virtio_net_init(struct guest *g)
{
	struct virtio_net *n = &g->dev.pci->net;
	struct vswitch *sw;

	memcpy(n->mac, g->cfg->mac, CONFIG_MAC_SIZE);
	sw = vswitch_get(g->cfg->net);
	if (!sw)
		return "too many virtual networks";
	if (virtio_dev_add(g, &n->dev, &net_ops, n))
		return "no room on its PCI bus for the NIC";
	n->attached = true;
	if (!vswitch_attach(sw, n)) {
		n->attached = false;
		return "its network has no free port";
	}
	n->sw = sw;                     /* on the network for good */
	return NULL;
}

void virtio_net_detach(struct guest *g)
{
	struct virtio_net *n = &g->dev.pci->net;

	if (!n->sw)
		return;
	spin_lock(&n->dev.lock);
	n->attached = false;
	spin_unlock(&n->dev.lock);
}

void virtio_net_print_stats(struct guest *g)
{
	const struct virtio_net *n = &g->dev.pci->net;

	if (!n->sw)
		return;
	guest_log(LOG_INFO, g, "virtio-net on %s: %lu frames sent, %lu "
		  "received, %lu lost (no buffer), %lu refused (size); %lu "
		  "frames on %s for unknown MACs\n", n->sw->name, n->tx_frames,
		  n->rx_frames, n->rx_no_buffer + n->rx_small, n->tx_bad,
		  __atomic_load_n(&n->sw->unknown, __ATOMIC_RELAXED),
		  n->sw->name);
}
