/*
 * hostile_net: the virtio-net and virtio-console drivers of
 * hostile_virtio's kind (virtio 1.2 5.1, 5.3), and the well-behaved
 * peer they share a network with.
 *
 * mode=hostile (the default; MAC 52:54:00:00:00:01, a virtio-console):
 *   console  malformed chains on the transmit queue (queue 1), then one
 *            chain of many megabytes (conmib=, default 8) of carriage
 *            returns and a line
 *   chains   the same malformed chains on the NIC's transmit queue and
 *            on its receive queue (found when the peer's answer to a
 *            PING arrives): a loop, next or head out of range, INDIRECT
 *            (not offered), avail idx ahead by more than the queue size,
 *            buffers outside RAM, over the PCI window, ECAM and both
 *            APICs, at 4 GiB and beyond, a huge length, a readable
 *            descriptor after a writable one: each DEVICE_NEEDS_RESET,
 *            nothing sent or received, a working NIC after reset
 *   size     frames of 13 and 1519 bytes, a header alone, less than a
 *            header, a frame in a device-writable buffer, a good frame
 *            with a device-writable buffer after it: refused, returned
 *   rxbuf    receive buffers too small for the header and the frame, or
 *            device-readable: returned empty, the frame lost
 *   traffic  good frames of 24 to 1518 bytes to the peer and broadcast,
 *            in batches the peer acknowledges; frames to unknown MACs
 *   flood    broadcast frames (flood=, default 1000) while the peer has
 *            no receive buffer posted
 * mode=peer (MAC 52:54:00:00:00:02): posts receive buffers, answers
 * PING, SYNC and MUTE, and checks every frame it gets: only the hostile
 * side's good frames, in order, each byte as the sender made it, and
 * their number as the END frame says.
 */
#include "guest.h"
#include "virtio.h"

#define WAIT_TICKS              400000000ULL    /* a failure bound */
#define QUIET_TICKS             4000000ULL      /* many exits' worth */
#define MUTE_TICKS              60000000ULL     /* the peer's deaf spell */

#define APIC_MMIO               0xfee00000u
#define IOAPIC_MMIO             0xfec00000u
#define FAR_ADDR                0x100000000ULL

#define NET_F_MAC               (1ULL << 5)
#define NET_HDR_LEN             12
#define FRAME_MIN               14
#define FRAME_MAX               1518
#define RX_BUF_LEN              (NET_HDR_LEN + FRAME_MAX)
#define RXQ                     0
#define TXQ                     1
#define RX_BUFS                 64
#define QSIZE                   128
#define FLOOD_BATCH             60
#define ETH_TYPE                0x88b5  /* IEEE 802 local experimental */

/* Our frames: Ethernet header, then kind, seq and count, then bytes
 * that are a function of seq and their offset. */
#define F_TYPE                  12
#define F_KIND                  14
#define F_SEQ                   16
#define F_COUNT                 20
#define F_DATA                  24

enum kind {
	K_DATA = 1, K_PING, K_PONG, K_SYNC, K_ACK, K_MUTE, K_MUTED, K_UNMUTED,
	K_END, K_DONE, K_BAD, K_FLOOD, K_STRAY,
};

static const uint8_t mac_hostile[6] = { 0x52, 0x54, 0, 0, 0, 1 };
static const uint8_t mac_peer[6] = { 0x52, 0x54, 0, 0, 0, 2 };
static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mac_unknown[6] = { 0x52, 0x54, 0, 0x99, 0x99, 0 };

static struct vio_dev net, cons;
static struct vio_queue rxq, txq, cq;
static uint8_t rx_ring[VIO_RING_BYTES(QSIZE)] __attribute__((aligned(4096)));
static uint8_t tx_ring[VIO_RING_BYTES(QSIZE)] __attribute__((aligned(4096)));
static uint8_t c_ring[VIO_RING_BYTES(QSIZE)] __attribute__((aligned(4096)));
static uint8_t rx_bufs[RX_BUFS][2048] __attribute__((aligned(4096)));
static uint8_t tx_hdr[NET_HDR_LEN];
static uint8_t tx_frame[2048];
static uint8_t big[128 * 1024] __attribute__((aligned(4096)));
static uint32_t ram_end;

static uint16_t get16be(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static uint8_t data_byte(uint32_t seq, uint32_t off)
{
	return (uint8_t)(seq * 31 + off * 7 + 3);
}

/* DATA frame seq's length: 1518 and 24 first, then spread between. */
static uint32_t data_len(uint32_t seq)
{
	if (seq < 2)
		return seq ? F_DATA : FRAME_MAX;
	return F_DATA + (seq * 97) % (FRAME_MAX - F_DATA + 1);
}

static void frame_make(uint8_t *f, const uint8_t *dst, const uint8_t *src,
		       uint8_t kind, uint32_t seq, uint32_t count, uint32_t len)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[F_TYPE] = ETH_TYPE >> 8;
	f[F_TYPE + 1] = ETH_TYPE & 0xff;
	f[F_KIND] = kind;
	f[F_KIND + 1] = 0;
	put32(f + F_SEQ, seq);
	put32(f + F_COUNT, count);
	for (uint32_t i = F_DATA; i < len; i++)
		f[i] = data_byte(seq, i);
}

static bool wait_needs_reset(struct vio_dev *d)
{
	uint64_t end = rdtsc_ordered() + WAIT_TICKS;

	while (!(vio_status(d) & VIO_S_NEEDS_RESET))
		if (rdtsc_ordered() > end)
			return false;
	return true;
}

static void put_desc(struct vio_queue *q, uint16_t i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	q->desc[i] = (struct vio_desc){ addr, len, flags, next };
}

/* ---- the NIC, driven well ------------------------------------------------ */

static void rx_post(uint16_t i)
{
	put_desc(&rxq, i, (uintptr_t)rx_bufs[i], RX_BUF_LEN, VIO_DESC_F_WRITE, 0);
	vio_publish(&rxq, i);
}

/* Reset, both queues, DRIVER_OK, and (if post) every receive buffer. */
static bool net_up(bool post)
{
	if (!vio_negotiate(&net, NET_F_MAC) ||
	    !vio_queue_setup(&net, &rxq, RXQ, QSIZE, rx_ring, VIO_NO_VECTOR) ||
	    !vio_queue_setup(&net, &txq, TXQ, QSIZE, tx_ring, VIO_NO_VECTOR))
		return false;
	vio_driver_ok(&net);
	if (post) {
		for (uint16_t i = 0; i < RX_BUFS; i++)
			rx_post(i);
		vio_notify(&rxq);
	}
	return true;
}

/* One frame out (header and frame in two descriptors), returned. */
static bool tx_send(uint32_t len)
{
	struct vio_buf b[2] = {
		{ (uintptr_t)tx_hdr, NET_HDR_LEN, false },
		{ (uintptr_t)tx_frame, len, false },
	};
	uint32_t id, used_len;

	vio_submit(&txq, b, 2);
	return vio_wait_used(&txq, &id, &used_len, WAIT_TICKS);
}

static bool send_kind(const uint8_t *dst, const uint8_t *src, uint8_t kind,
		      uint32_t seq, uint32_t count, uint32_t len)
{
	frame_make(tx_frame, dst, src, kind, seq, count, len);
	return tx_send(len);
}

/* The next received frame within ticks, its buffer posted again (the
 * frame is copied to f first): its length, or -1. */
static int rx_next(uint8_t *f, uint64_t ticks)
{
	uint32_t id, len;

	if (!vio_wait_used(&rxq, &id, &len, ticks))
		return -1;
	if (id >= RX_BUFS || len < NET_HDR_LEN || len > RX_BUF_LEN) {
		if (id < RX_BUFS)
			rx_post((uint16_t)id);
		return 0;
	}
	memcpy(f, rx_bufs[id] + NET_HDR_LEN, len - NET_HDR_LEN);
	rx_post((uint16_t)id);
	return (int)(len - NET_HDR_LEN);
}

static bool is_ours(const uint8_t *f, int len)
{
	return len >= F_DATA && get16be(f + F_TYPE) == ETH_TYPE;
}

/* Frames until one of kind k arrives (others are ignored). */
static bool rx_wait_kind(uint8_t k, uint8_t *f, uint64_t ticks)
{
	uint64_t end = rdtsc_ordered() + ticks;
	int len;

	while (rdtsc_ordered() < end) {
		len = rx_next(f, end - rdtsc_ordered());
		if (is_ours(f, len) && f[F_KIND] == k)
			return true;
	}
	return false;
}

static uint8_t rx_frame[2048];
static uint32_t ping_seq;

/* PING to the peer, its PONG back: the NIC works both ways. */
static bool ping(uint64_t ticks)
{
	uint32_t seq = ++ping_seq;

	return send_kind(mac_peer, mac_hostile, K_PING, seq, 0, 64) &&
	       rx_wait_kind(K_PONG, rx_frame, ticks) &&
	       get32(rx_frame + F_SEQ) == seq;
}

/* ---- malformed chains, on any queue -------------------------------------- */

/* A chain of three descriptors on queue q: readable ones for a transmit
 * queue (header and two halves of a frame), writable ones for a receive
 * queue. Each case changes one thing, then makes it available. */
static struct vio_queue *cq_now;
static uint16_t base_flags;
static uint64_t bad_addr;

static void base_chain(void)
{
	struct vio_queue *q = cq_now;
	uint8_t *buf = q == &rxq ? rx_bufs[0] : tx_frame;

	put_desc(q, 0, (uintptr_t)buf, NET_HDR_LEN,
		 base_flags | VIO_DESC_F_NEXT, 1);
	put_desc(q, 1, (uintptr_t)buf + NET_HDR_LEN, 32,
		 base_flags | VIO_DESC_F_NEXT, 2);
	put_desc(q, 2, (uintptr_t)buf + NET_HDR_LEN + 32, 64, base_flags, 0);
}

static void publish0(void)
{
	vio_publish(cq_now, 0);
}

static void c_loop(void)
{
	base_chain();
	cq_now->desc[2].flags |= VIO_DESC_F_NEXT;
	cq_now->desc[2].next = 0;
	publish0();
}

static void c_next_range(void)
{
	base_chain();
	cq_now->desc[1].next = cq_now->size;
	publish0();
}

static void c_head_range(void)
{
	base_chain();
	vio_publish(cq_now, 0xfff0);
}

static void c_indirect(void)
{
	static uint8_t table[3 * 16] __attribute__((aligned(16)));

	base_chain();
	memcpy(table, (const void *)cq_now->desc, sizeof(table));
	put_desc(cq_now, 0, (uintptr_t)table, sizeof(table),
		 VIO_DESC_F_INDIRECT, 0);
	publish0();
}

static void c_avail_jump(void)
{
	base_chain();
	vio_avail_idx_set(cq_now, (uint16_t)(cq_now->avail_idx +
					     cq_now->size + 1));
}

static void c_buf_at(void)
{
	base_chain();
	cq_now->desc[1].addr = bad_addr;
	publish0();
}

static void c_huge_len(void)
{
	base_chain();
	cq_now->desc[1].len = 0xfffff000u;
	publish0();
}

/* 2.7.4.2: a readable descriptor after a writable one. */
static void c_write_first(void)
{
	base_chain();
	cq_now->desc[0].flags |= VIO_DESC_F_WRITE;
	cq_now->desc[1].flags &= (uint16_t)~VIO_DESC_F_WRITE;
	cq_now->desc[2].flags &= (uint16_t)~VIO_DESC_F_WRITE;
	publish0();
}

struct chain_case {
	const char *name;
	void (*make)(void);
	uint64_t addr;                  /* c_buf_at's address */
};

static const struct chain_case *chain_cases(unsigned int *n, uint64_t window)
{
	static struct chain_case cases[] = {
		{ "descriptor loop", c_loop, 0 },
		{ "next out of range", c_next_range, 0 },
		{ "head out of range", c_head_range, 0 },
		{ "indirect", c_indirect, 0 },
		{ "avail idx jump", c_avail_jump, 0 },
		{ "buffer past RAM", c_buf_at, 0 },
		{ "buffer in the PCI window", c_buf_at, 0 },
		{ "buffer on ECAM", c_buf_at, PCI_ECAM_BASE },
		{ "buffer on the I/O APIC", c_buf_at, IOAPIC_MMIO },
		{ "buffer on the local APIC", c_buf_at, APIC_MMIO },
		{ "buffer at 4 GiB", c_buf_at, FAR_ADDR },
		{ "buffer at 2^63", c_buf_at, 1ULL << 63 },
		{ "buffer wrapping 2^64", c_buf_at, ~0ULL - 15 },
		{ "huge length", c_huge_len, 0 },
		{ "writable before readable", c_write_first, 0 },
	};

	cases[5].addr = ram_end;
	cases[6].addr = window;
	*n = ARRAY_SIZE(cases);
	return cases;
}

/* ---- the console --------------------------------------------------------- */

static const char cons_line[] = "console: a line after a reset\n";

static bool cons_up(void)
{
	if (!vio_negotiate(&cons, 0) ||
	    !vio_queue_setup(&cons, &cq, 1, QSIZE, c_ring, VIO_NO_VECTOR))
		return false;
	vio_driver_ok(&cons);
	return true;
}

static bool cons_write(const void *s, uint32_t len)
{
	struct vio_buf b = { (uintptr_t)s, len, false };
	uint32_t id, used_len;

	vio_submit(&cq, &b, 1);
	return vio_wait_used(&cq, &id, &used_len, WAIT_TICKS);
}

static void cons_chain_case(const struct chain_case *c)
{
	bool reset, served, again;
	uint16_t used_before;

	if (!EXPECT(cons_up()))
		return;
	cq_now = &cq;
	base_flags = 0;
	memset(tx_frame, '-', 12 + 32 + 64);
	used_before = vio_used_idx(&cq);
	bad_addr = c->addr;
	c->make();
	vio_notify(&cq);
	reset = wait_needs_reset(&cons);
	base_chain();
	vio_publish(&cq, 0);
	vio_notify(&cq);
	served = vio_used_idx(&cq) != used_before;
	again = EXPECT(vio_reset(&cons)) && EXPECT(cons_up()) &&
		cons_write(cons_line, sizeof(cons_line) - 1);
	printf("console: %s: %s, used ring %s; after reset: %s\n", c->name,
	       reset ? "needs reset" : "NO needs reset",
	       served ? "WRITTEN" : "untouched", again ? "works" : "BROKEN");
	EXPECT(reset);
	EXPECT(!served);
	EXPECT(again);
}

/* One chain of `mib` MiB: carriage returns (the console drops them)
 * from one buffer over and over, then a line that ends it. */
static void cons_big(uint32_t mib)
{
	static const char tail[] = "console: the end of a long chain\n";
	uint32_t n = (uint32_t)((uint64_t)mib * 1024 * 1024 / sizeof(big));
	uint32_t id, len;
	uint64_t t;
	bool done;

	if (n > 63)
		n = 63;
	if (!EXPECT(cons_up()))
		return;
	memset(big, '\r', sizeof(big));
	for (uint16_t i = 0; i < n; i++)
		put_desc(&cq, i, (uintptr_t)big, sizeof(big), VIO_DESC_F_NEXT,
			 (uint16_t)(i + 1));
	put_desc(&cq, (uint16_t)n, (uintptr_t)tail, sizeof(tail) - 1, 0, 0);
	vio_publish(&cq, 0);
	t = rdtsc_ordered();
	vio_notify(&cq);
	done = vio_wait_used(&cq, &id, &len, WAIT_TICKS);
	t = rdtsc_ordered() - t;
	printf("console: a chain of %u KiB: %s in %u Mticks, status %#x\n",
	       n * (uint32_t)sizeof(big) / 1024, done ? "returned" : "NOT returned",
	       (uint32_t)(t >> 20), vio_status(&cons));
	EXPECT(done);
	EXPECT_EQ(vio_status(&cons) & VIO_S_NEEDS_RESET, 0);
}

static void test_console(void)
{
	const struct chain_case *cases;
	unsigned int n;

	if (!EXPECT(vio_find(VIO_ID_CONSOLE, &cons))) {
		puts("console: no virtio-console device");
		return;
	}
	cases = chain_cases(&n, cons.bar[0].addr);
	for (unsigned int i = 0; i < n; i++)
		cons_chain_case(&cases[i]);
	cons_big(cmdline_number("conmib", 8, 8));
	vio_reset(&cons);
}

/* ---- the NIC's queues ---------------------------------------------------- */

/* A malformed chain on the transmit queue is found at once; one on the
 * receive queue when the next frame for us arrives: the peer's PONG. */
static void net_chain_case(const struct chain_case *c, struct vio_queue *q)
{
	bool rx = q == &rxq, reset, served, again;
	uint16_t used_before;

	if (!EXPECT(net_up(!rx)))
		return;
	cq_now = q;
	base_flags = rx ? VIO_DESC_F_WRITE : 0;
	frame_make(tx_frame + NET_HDR_LEN, mac_peer, mac_hostile, K_BAD, 0, 0,
		   96);
	used_before = vio_used_idx(q);
	bad_addr = c->addr;
	c->make();
	vio_notify(q);
	if (rx)
		send_kind(mac_peer, mac_hostile, K_PING, ++ping_seq, 0, 64);
	reset = wait_needs_reset(&net);
	/* A good chain now stays where it is (its frame is a BAD one: the
	 * peer fails should it arrive). */
	frame_make(tx_frame, mac_peer, mac_hostile, K_BAD, 0, 0, 64);
	vio_submit(&txq, (const struct vio_buf[]){
		{ (uintptr_t)tx_hdr, NET_HDR_LEN, false },
		{ (uintptr_t)tx_frame, 64, false } }, 2);
	served = vio_used_idx(q) != used_before ||
		 vio_used_idx(&txq) != (rx ? 1 : 0);
	again = EXPECT(vio_reset(&net)) && EXPECT(net_up(true)) &&
		ping(WAIT_TICKS);
	printf("net: %s queue: %s: %s, used ring %s; after reset: %s\n",
	       rx ? "receive" : "transmit", c->name,
	       reset ? "needs reset" : "NO needs reset",
	       served ? "WRITTEN" : "untouched", again ? "works" : "BROKEN");
	EXPECT(reset);
	EXPECT(!served);
	EXPECT(again);
}

static void test_net_chains(void)
{
	const struct chain_case *cases;
	unsigned int n;

	cases = chain_cases(&n, net.bar[0].addr);
	for (unsigned int i = 0; i < n; i++)
		net_chain_case(&cases[i], &txq);
	for (unsigned int i = 0; i < n; i++)
		net_chain_case(&cases[i], &rxq);
}

/* ---- frames of the wrong size, buffers of the wrong kind ----------------- */

/* A transmit chain of n buffers: returned and the device still running.
 * That nothing was sent the peer tells (it fails on any K_BAD frame),
 * and Keel's count of refused frames. */
static bool tx_refused(const struct vio_buf *b, unsigned int n)
{
	uint32_t id, len;

	vio_submit(&txq, b, n);
	return vio_wait_used(&txq, &id, &len, WAIT_TICKS) && len == 0 &&
	       !(vio_status(&net) & VIO_S_NEEDS_RESET);
}

static void test_sizes(void)
{
	uintptr_t h = (uintptr_t)tx_hdr, f = (uintptr_t)tx_frame;
	const struct { const char *name; struct vio_buf b[3]; unsigned int n; }
	cases[] = {
		{ "a 13-byte frame", { { h, NET_HDR_LEN, 0 }, { f, 13, 0 } }, 2 },
		{ "a 1519-byte frame", { { h, NET_HDR_LEN, 0 },
					 { f, FRAME_MAX + 1, 0 } }, 2 },
		{ "a header alone", { { h, NET_HDR_LEN, 0 } }, 1 },
		{ "8 bytes of header", { { h, 8, 0 } }, 1 },
		{ "a frame in a writable buffer", { { h, NET_HDR_LEN, 0 },
						    { f, 64, 1 } }, 2 },
		{ "a frame and a writable buffer", { { h, NET_HDR_LEN, 0 },
						     { f, 64, 0 },
						     { f + 64, 64, 1 } }, 3 },
	};
	unsigned int refused = 0;

	if (!EXPECT(net_up(true)))
		return;
	frame_make(tx_frame, mac_peer, mac_hostile, K_BAD, 0, 0, FRAME_MAX + 1);
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		bool r = tx_refused(cases[i].b, cases[i].n);

		printf("size: %s: %s\n", cases[i].name,
		       r ? "returned, device running" : "NOT RETURNED");
		refused += r;
	}
	EXPECT_EQ(refused, ARRAY_SIZE(cases));
	EXPECT(ping(WAIT_TICKS));
}

/* Receive buffers the PONG cannot go in: returned empty, the device
 * running. */
static void test_rx_bufs(void)
{
	const struct { const char *name; uint32_t len; uint16_t flags; }
	cases[] = {
		{ "a buffer of 40 bytes", 40, VIO_DESC_F_WRITE },
		{ "a buffer of the header alone", NET_HDR_LEN, VIO_DESC_F_WRITE },
		{ "a device-readable buffer", RX_BUF_LEN, 0 },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		uint32_t id = ~0u, len = ~0u;
		bool got;

		if (!EXPECT(net_up(false)))
			return;
		put_desc(&rxq, 5, (uintptr_t)rx_bufs[5], cases[i].len,
			 cases[i].flags, 0);
		vio_publish(&rxq, 5);
		vio_notify(&rxq);
		send_kind(mac_peer, mac_hostile, K_PING, ++ping_seq, 0, 64);
		got = vio_wait_used(&rxq, &id, &len, WAIT_TICKS);
		printf("rxbuf: %s: %s, id %u, length %u; device %s\n",
		       cases[i].name, got ? "returned" : "NOT RETURNED", id, len,
		       vio_status(&net) & VIO_S_NEEDS_RESET ? "needs reset" :
		       "running");
		EXPECT(got);
		EXPECT_EQ(id, 5);
		EXPECT_EQ(len, 0);
		EXPECT_EQ(vio_status(&net) & VIO_S_NEEDS_RESET, 0);
	}
	EXPECT(net_up(true) && ping(WAIT_TICKS));
}

/* ---- good traffic, strays and a flood ------------------------------------ */

static uint32_t data_sent;

/* count DATA frames, every third broadcast, then SYNC: the peer's ACK
 * says how many it has. */
static bool send_data(uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		uint32_t seq = data_sent;
		const uint8_t *dst = seq % 3 == 2 ? mac_bcast : mac_peer;

		if (!send_kind(dst, mac_hostile, K_DATA, seq, 0, data_len(seq)))
			return false;
		data_sent++;
	}
	return send_kind(mac_peer, mac_hostile, K_SYNC, 0, 0, 64) &&
	       rx_wait_kind(K_ACK, rx_frame, WAIT_TICKS) &&
	       get32(rx_frame + F_COUNT) == data_sent;
}

static void test_traffic(void)
{
	uint32_t batches = cmdline_number("batches", 8, 100), ok = 0;
	uint32_t strays = 0;

	for (uint32_t b = 0; b < batches; b++)
		ok += send_data(40);
	for (uint32_t i = 0; i < 50; i++) {
		uint8_t dst[6];

		memcpy(dst, mac_unknown, 6);
		dst[5] = (uint8_t)i;
		strays += send_kind(dst, mac_hostile, K_STRAY, i, 0, 60 + i);
	}
	printf("traffic: %u DATA frames (a third broadcast) in %u batches, "
	       "%u acknowledged in full; %u frames to unknown MACs\n",
	       data_sent, batches, ok, strays);
	EXPECT_EQ(ok, batches);
	EXPECT_EQ(strays, 50);
}

/* n frames made available at once, one notify for them all: the
 * number returned. */
static uint32_t flood_batch(uint32_t n)
{
	uint32_t id, len, done = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint16_t d = (uint16_t)(2 * i);

		put_desc(&txq, d, (uintptr_t)tx_hdr, NET_HDR_LEN,
			 VIO_DESC_F_NEXT, (uint16_t)(d + 1));
		put_desc(&txq, (uint16_t)(d + 1), (uintptr_t)tx_frame, 60, 0, 0);
		vio_publish(&txq, d);
	}
	vio_notify(&txq);
	while (done < n && vio_wait_used(&txq, &id, &len, WAIT_TICKS))
		done++;
	return done;
}

static void test_flood(void)
{
	uint32_t n = cmdline_number("flood", 1000, 100000), sent = 0;
	bool muted, unmuted;
	uint64_t t;

	muted = send_kind(mac_peer, mac_hostile, K_MUTE, 0, 0, 64) &&
		rx_wait_kind(K_MUTED, rx_frame, WAIT_TICKS);
	frame_make(tx_frame, mac_bcast, mac_hostile, K_FLOOD, 0, 0, 60);
	t = rdtsc_ordered();
	while (muted && sent < n)
		sent += flood_batch(n - sent < FLOOD_BATCH ? n - sent :
				    FLOOD_BATCH);
	t = rdtsc_ordered() - t;
	unmuted = rx_wait_kind(K_UNMUTED, rx_frame, WAIT_TICKS);
	/* The peer is deaf for MUTE_TICKS from before the first frame. */
	printf("flood: peer %s, %u broadcast frames in %u Mticks (of the "
	       "peer's %u), peer %s\n", muted ? "muted" : "NOT MUTED", sent,
	       (uint32_t)(t >> 20), (uint32_t)(MUTE_TICKS >> 20),
	       unmuted ? "back" : "NOT BACK");
	EXPECT(t < MUTE_TICKS);
	EXPECT(muted);
	EXPECT_EQ(sent, n);
	EXPECT(unmuted);
}

static void test_end(void)
{
	bool done = send_kind(mac_peer, mac_hostile, K_END, 0, data_sent, 64) &&
		    rx_wait_kind(K_DONE, rx_frame, WAIT_TICKS);

	printf("end: %u DATA frames sent, the peer counted %u\n", data_sent,
	       done ? get32(rx_frame + F_COUNT) : 0);
	EXPECT(done);
	EXPECT_EQ(get32(rx_frame + F_COUNT), data_sent);
}

static void hostile_main(void)
{
	bool met = false;

	test_console();
	if (!EXPECT(vio_find(VIO_ID_NET, &net))) {
		puts("no virtio-net device");
		return;
	}
	/* The peer may still be starting: PING until it answers. */
	EXPECT(net_up(true));
	for (unsigned int i = 0; i < 100 && !met; i++)
		met = ping(QUIET_TICKS);
	printf("net: the peer %s\n", met ? "answers" : "DOES NOT ANSWER");
	if (!EXPECT(met))
		return;
	test_net_chains();
	test_sizes();
	test_rx_bufs();
	test_traffic();
	test_flood();
	test_end();
	vio_reset(&net);
}

/* ---- the peer ------------------------------------------------------------ */

static uint32_t peer_good, peer_bad, peer_next;

static bool reply(uint8_t kind, uint32_t seq, uint32_t count)
{
	return send_kind(mac_hostile, mac_peer, kind, seq, count, 64);
}

static bool data_ok(const uint8_t *f, uint32_t len)
{
	uint32_t seq = get32(f + F_SEQ);

	if (seq != peer_next || len != data_len(seq))
		return false;
	for (uint32_t i = F_DATA; i < len; i++)
		if (f[i] != data_byte(seq, i))
			return false;
	return true;
}

/* No receive buffer for MUTE_TICKS: the flood comes then. */
static void peer_mute(void)
{
	uint64_t end;

	EXPECT(net_up(false));
	EXPECT(reply(K_MUTED, 0, 0));
	end = rdtsc_ordered() + MUTE_TICKS;
	while (rdtsc_ordered() < end)
		__asm__ volatile("pause");
	for (uint16_t i = 0; i < RX_BUFS; i++)
		rx_post(i);
	vio_notify(&rxq);
	EXPECT(reply(K_UNMUTED, 0, 0));
}

/* One frame: whether it was the END. */
static bool peer_frame(const uint8_t *f, int len)
{
	bool addressed = !memcmp(f, mac_peer, 6) || !memcmp(f, mac_bcast, 6);
	uint8_t kind = is_ours(f, len) ? f[F_KIND] : 0;

	if (!addressed || memcmp(f + 6, mac_hostile, 6))
		kind = 0;
	switch (kind) {
	case K_DATA:
		if (!data_ok(f, (uint32_t)len))
			break;
		peer_good++;
		peer_next++;
		return false;
	case K_PING:
		EXPECT(reply(K_PONG, get32(f + F_SEQ), 0));
		return false;
	case K_SYNC:
		EXPECT(reply(K_ACK, 0, peer_good));
		return false;
	case K_MUTE:
		peer_mute();
		return false;
	case K_END:
		printf("peer: %u DATA frames right, %u frames wrong; the "
		       "sender says %u\n", peer_good, peer_bad,
		       get32(f + F_COUNT));
		EXPECT_EQ(peer_good, get32(f + F_COUNT));
		EXPECT(reply(K_DONE, 0, peer_good));
		return true;
	}
	if (!peer_bad++)
		printf("peer: a frame that should not be here: %d bytes, kind "
		       "%u, seq %u\n", len, kind, len >= F_DATA ?
		       get32(f + F_SEQ) : 0);
	return false;
}

static void peer_main(void)
{
	int len;

	if (!EXPECT(vio_find(VIO_ID_NET, &net)) || !EXPECT(net_up(true)))
		return;
	puts("peer: receive buffers posted");
	for (;;) {
		len = rx_next(rx_frame, 4 * WAIT_TICKS);
		if (len < 0) {
			puts("peer: nothing for too long");
			EXPECT(false);
			break;
		}
		if (peer_frame(rx_frame, len))
			break;
	}
	EXPECT_EQ(peer_bad, 0);
	vio_reset(&net);
}

void guest_main(void)
{
	char mode[16];

	ram_end = (uint32_t)mb_ram_end();
	if (cmdline_get("mode", mode, sizeof(mode)) && !strncmp(mode, "peer", 5))
		peer_main();
	else
		hostile_main();
}
