/*
 * virtio-net (virtio 1.2 5.1) on Keel's virtual switches: `net = "lan0"`
 * puts a guest's NIC on network lan0 with the MAC of its config. A
 * network is the NICs that name it; Keel knows every MAC, so nothing is
 * learnt: a frame to a member's MAC goes to that member, a broadcast or
 * multicast frame to every other member, and one to an unknown MAC is
 * dropped and counted.
 *
 * A frame moves on the sending vCPU's CPU: taken from the sender's
 * transmit queue, copied into the receiver's next receive buffer, and
 * the receiver interrupted (which kicks its CPU). A receiver without a
 * free buffer loses the frame (counted), as a NIC without descriptors
 * would. Never two devices' locks at once: the frame is copied out of
 * the sender first.
 *
 * Offered: VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS (link always up);
 * no checksum offload, no segmentation, no mergeable buffers, so a
 * frame is at most NET_FRAME_MAX bytes and each receive buffer must
 * hold the 12-byte header and a whole frame.
 */
#ifndef KEEL_GUEST_VIRTIO_NET_H
#define KEEL_GUEST_VIRTIO_NET_H

#include "guest/virtio.h"
#include "guest/config.h"

#define NET_HDR_LEN             12      /* virtio_net_hdr, VERSION_1 */
#define NET_FRAME_MIN           14      /* an Ethernet header */
#define NET_FRAME_MAX           1518    /* 1500 bytes, header and VLAN tag */

struct vswitch;

struct virtio_net {
	struct virtio_dev dev;
	uint8_t mac[CONFIG_MAC_SIZE];
	struct vswitch *sw;
	bool attached;                  /* receives frames (dev.lock) */
	uint64_t tx_frames, tx_bad;     /* sent; refused (size) */
	uint64_t rx_frames, rx_no_buffer, rx_small;
};

struct guest;

/* The NIC of g's config, on its network: NULL or why not. */
const char *virtio_net_init(struct guest *g);
/* Stops frames reaching it (the guest ends): no other guest's CPU is
 * in its queues or interrupts it after this returns. */
void virtio_net_detach(struct guest *g);
void virtio_net_print_stats(struct guest *g);

#endif
