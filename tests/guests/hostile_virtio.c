/*
 * hostile_virtio: a virtio-blk driver that breaks the rules of virtio 1.2
 * on purpose; Keel must answer each with DEVICE_NEEDS_RESET (2.1.2) or
 * by ignoring it, log what the driver did, touch nothing, and serve the
 * device again after a reset.
 *
 *   chain    malformed chains: a loop, next or head out of range,
 *            INDIRECT (not offered), avail idx ahead by more than the
 *            queue size, buffers outside RAM, over the PCI window and
 *            ECAM, at 4 GiB, huge lengths, more segments than seg_max,
 *            a readable descriptor after a writable one, no status byte,
 *            a one-descriptor chain, a short header
 *   setup    rings outside RAM at queue enable, a queue size that is not
 *            a power of two or above the maximum, misaligned rings
 *   notify   before DRIVER_OK and with bus mastering off: ignored, the
 *            request is served once both are right; a storm of notifies
 *   bar      BAR 0 moved over RAM (RAM reads back as RAM and writes stay
 *            RAM), over the I/O APIC, the local APIC and ECAM (they still
 *            answer), then back (the device as it was); byte by byte
 *            while decoding
 *   msix     table entries with addresses and delivery modes that are no
 *            interrupt: nothing delivered, requests still complete; the
 *            configuration vector on NEEDS_RESET, held while bus
 *            mastering is off
 *   flood    the same fault and reset many times: Keel's log stays short
 *   race     with a second vCPU: it scribbles over the rings and resets
 *            the device while the first submits requests
 *
 * storm=N: notifies in the storm (default 3000); flood=N: faults in the
 * flood (default 200); race=N: the first vCPU's requests in the race
 * (default 400).
 */
#include "guest.h"
#include "diskpattern.h"
#include "virtio.h"
#include "virtio_blk.h"

#define STATUS_UNTOUCHED        0xee
#define WAIT_TICKS              400000000ULL    /* a failure bound */
#define QUIET_TICKS             4000000ULL      /* many exits' worth */

#define APIC_MMIO               0xfee00000u
#define APIC_EOI                0x0b0
#define APIC_SVR                0x0f0
#define APIC_VERSION            0x030
#define IOAPIC_MMIO             0xfec00000u
#define IOAPIC_REG_VER          0x01
#define ECAM_BASE               PCI_ECAM_BASE
#define FAR_ADDR                0x100000000ULL
#define VEC_QUEUE               0x40
#define VEC_CONFIG              0x41
#define MAX_SEGS                70

static struct vio_dev dev;
static struct vio_queue vq;
static uint8_t ring_mem[VIO_RING_BYTES(256)] __attribute__((aligned(4096)));
static struct blk_hdr hdr;
static volatile uint8_t status;
static uint8_t data[MAX_SEGS * DISK_SECTOR] __attribute__((aligned(4096)));
/* Where BAR 0 (32 KiB, naturally aligned) is moved over RAM. */
static uint8_t ram_probe[0x8000] __attribute__((aligned(0x8000)));
static uint32_t seg_max, ram_end;

static void apic_write(uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off) = val;
}

static uint32_t apic_read(uint32_t off)
{
	return *(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off);
}

static uint32_t ioapic_read(uint32_t reg)
{
	*(volatile uint32_t *)(uintptr_t)IOAPIC_MMIO = reg;
	return *(volatile uint32_t *)(uintptr_t)(IOAPIC_MMIO + 0x10);
}

static volatile uint32_t queue_irqs, config_irqs;

#define IRQ_STUB(fn) \
	__asm__(".text\n" #fn "_stub:\n\tpushal\n\tcld\n\tcall " #fn \
		"\n\tpopal\n\tiret\n")
IRQ_STUB(queue_irq);
IRQ_STUB(config_irq);
extern char queue_irq_stub[], config_irq_stub[];

__attribute__((used)) void config_irq(void);
__attribute__((used)) void config_irq(void)
{
	config_irqs++;
	apic_write(APIC_EOI, 0);
}

__attribute__((used)) void queue_irq(void);
__attribute__((used)) void queue_irq(void)
{
	queue_irqs++;
	apic_write(APIC_EOI, 0);
}

/* ---- a well-behaved driver ----------------------------------------------- */

static bool bring_up(bool driver_ok)
{
	if (!vio_negotiate(&dev, BLK_F_SEG_MAX) ||
	    !vio_queue_setup(&dev, &vq, 0, 0, ring_mem, VIO_NO_VECTOR))
		return false;
	if (driver_ok)
		vio_driver_ok(&dev);
	return true;
}

static void put_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	vq.desc[i] = (struct vio_desc){ addr, len, flags, next };
}

/* A good read of `sector` as descriptors 0 (header), 1 (data) and 2
 * (status). */
static void good_descs(uint64_t sector)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, sector };
	status = STATUS_UNTOUCHED;
	put_desc(0, (uintptr_t)&hdr, sizeof(hdr), VIO_DESC_F_NEXT, 1);
	put_desc(1, (uintptr_t)data, DISK_SECTOR,
		 VIO_DESC_F_WRITE | VIO_DESC_F_NEXT, 2);
	put_desc(2, (uintptr_t)&status, 1, VIO_DESC_F_WRITE, 0);
}

/* The same, made available. */
static void good_chain(uint64_t sector)
{
	good_descs(sector);
	vio_publish(&vq, 0);
}

static bool used_within(uint64_t ticks)
{
	uint32_t id, len;

	return vio_wait_used(&vq, &id, &len, ticks);
}

static bool data_ok(uint32_t sector)
{
	for (uint32_t i = 0; i < DISK_SECTOR; i++)
		if (data[i] != disk_byte(sector, i))
			return false;
	return true;
}

/* One good request on the running device: served, status OK, data. */
static bool good_read(uint32_t sector)
{
	memset(data, 0, DISK_SECTOR);
	good_chain(sector);
	vio_notify(&vq);
	return used_within(WAIT_TICKS) && status == BLK_S_OK && data_ok(sector);
}

static bool wait_needs_reset(void)
{
	uint64_t end = rdtsc_ordered() + WAIT_TICKS;

	while (!(vio_status(&dev) & VIO_S_NEEDS_RESET))
		if (rdtsc_ordered() > end)
			return false;
	return true;
}

/* ---- malformed chains ---------------------------------------------------- */

/* A good chain, then one change each case makes before it makes the
 * chain available. */
static void base_chain(void)
{
	good_descs(7);
}

static void publish0(void)
{
	vio_publish(&vq, 0);
}

static void c_loop(void)
{
	base_chain();
	put_desc(2, (uintptr_t)&status, 1, VIO_DESC_F_WRITE | VIO_DESC_F_NEXT, 0);
	publish0();
}

static void c_next_range(void)
{
	base_chain();
	put_desc(1, (uintptr_t)data, DISK_SECTOR,
		 VIO_DESC_F_WRITE | VIO_DESC_F_NEXT, vq.size);
	publish0();
}

static void c_head_range(void)
{
	base_chain();
	vio_publish(&vq, 0xfff0);
}

/* A table of the three descriptors, as INDIRECT_DESC would have it. */
static void c_indirect(void)
{
	uint8_t *table = data + sizeof(data) - 3 * 16;

	base_chain();
	memcpy(table, (const void *)vq.desc, 3 * 16);
	put_desc(0, (uintptr_t)table, 3 * 16, VIO_DESC_F_INDIRECT, 0);
	publish0();
}

static void c_avail_jump(void)
{
	base_chain();
	vio_avail_idx_set(&vq, (uint16_t)(vq.size + 1));
}

static uint64_t bad_addr;

static void c_buf_at(void)
{
	base_chain();
	put_desc(1, bad_addr, DISK_SECTOR, VIO_DESC_F_WRITE | VIO_DESC_F_NEXT, 2);
	publish0();
}

static void c_huge_len(void)
{
	base_chain();
	put_desc(1, (uintptr_t)data, 0xfffff000u,
		 VIO_DESC_F_WRITE | VIO_DESC_F_NEXT, 2);
	publish0();
}

/* seg_max + 1 data segments (5.2.4: seg_max bounds a request's). */
static void c_too_many(void)
{
	uint16_t n = (uint16_t)(seg_max + 1);

	base_chain();
	for (uint16_t i = 0; i < n; i++)
		put_desc((uint16_t)(1 + i), (uintptr_t)data + 512u * (i % MAX_SEGS),
			 DISK_SECTOR, VIO_DESC_F_WRITE | VIO_DESC_F_NEXT,
			 (uint16_t)(2 + i));
	put_desc((uint16_t)(1 + n), (uintptr_t)&status, 1, VIO_DESC_F_WRITE, 0);
	publish0();
}

/* 2.7.4.2: device-writable descriptors come after readable ones. */
static void c_write_first(void)
{
	base_chain();
	put_desc(0, (uintptr_t)&status, 1, VIO_DESC_F_WRITE | VIO_DESC_F_NEXT, 1);
	put_desc(1, (uintptr_t)&hdr, sizeof(hdr), VIO_DESC_F_NEXT, 2);
	put_desc(2, (uintptr_t)data, DISK_SECTOR, VIO_DESC_F_WRITE, 0);
	publish0();
}

static void c_no_status(void)
{
	base_chain();
	put_desc(1, (uintptr_t)data, DISK_SECTOR, 0, 0);
	publish0();
}

static void c_one_desc(void)
{
	base_chain();
	put_desc(0, (uintptr_t)&hdr, sizeof(hdr), 0, 0);
	publish0();
}

static void c_short_hdr(void)
{
	base_chain();
	put_desc(0, (uintptr_t)&hdr, 8, VIO_DESC_F_NEXT, 1);
	publish0();
}

struct chain_case {
	const char *name;
	void (*make)(void);
	uint64_t addr;                  /* c_buf_at's address */
};

static void run_chain_case(const struct chain_case *c)
{
	bool reset, served, again;
	uint16_t used_before;
	uint8_t isr;

	if (!EXPECT(bring_up(true)))
		return;
	used_before = vio_used_idx(&vq);
	bad_addr = c->addr;
	c->make();
	vio_notify(&vq);
	reset = wait_needs_reset();
	/* Until reset, the device takes nothing more: a good chain made
	 * available now stays there. */
	good_descs(9);
	vio_publish(&vq, 0);
	vio_notify(&vq);
	served = vio_used_idx(&vq) != used_before;
	/* 2.1.2: NEEDS_RESET comes with a configuration change
	 * notification: without MSI-X, the ISR's configuration bit. */
	isr = vio_isr_read(&dev);
	again = EXPECT(vio_reset(&dev)) && EXPECT(bring_up(true)) &&
		good_read(42);
	printf("chain: %s: %s, isr %#x, used ring %s; after reset: %s\n",
	       c->name, reset ? "needs reset" : "NO needs reset", isr,
	       served ? "WRITTEN" : "untouched", again ? "works" : "BROKEN");
	EXPECT(reset);
	EXPECT(isr & VIO_ISR_CONFIG);
	EXPECT(!served);
	EXPECT(again);
}

static void test_chains(void)
{
	const struct chain_case cases[] = {
		{ "descriptor loop", c_loop, 0 },
		{ "next out of range", c_next_range, 0 },
		{ "head out of range", c_head_range, 0 },
		{ "indirect", c_indirect, 0 },
		{ "avail idx jump", c_avail_jump, 0 },
		{ "buffer past RAM", c_buf_at, ram_end },
		{ "buffer in the PCI window", c_buf_at, dev.bar[0].addr },
		{ "buffer on ECAM", c_buf_at, ECAM_BASE },
		{ "buffer on the I/O APIC", c_buf_at, IOAPIC_MMIO },
		{ "buffer at 4 GiB", c_buf_at, FAR_ADDR },
		{ "buffer at 2^63", c_buf_at, 1ULL << 63 },
		{ "buffer wrapping 2^64", c_buf_at, ~0ULL - 255 },
		{ "huge length", c_huge_len, 0 },
		{ "more segments than seg_max", c_too_many, 0 },
		{ "writable before readable", c_write_first, 0 },
		{ "no status byte", c_no_status, 0 },
		{ "one descriptor", c_one_desc, 0 },
		{ "short header", c_short_hdr, 0 },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++)
		run_chain_case(&cases[i]);
}

/* seg_max data segments is within the rules: served. */
static void test_seg_max(void)
{
	struct vio_buf b[MAX_SEGS + 2];
	unsigned int n = seg_max < MAX_SEGS ? seg_max : MAX_SEGS, ok = 0;
	uint32_t id, len;

	if (!EXPECT(bring_up(true)))
		return;
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 300 };
	status = STATUS_UNTOUCHED;
	b[0] = (struct vio_buf){ (uintptr_t)&hdr, sizeof(hdr), false };
	for (unsigned int i = 0; i < n; i++)
		b[1 + i] = (struct vio_buf){ (uintptr_t)data + 512 * i, 512, true };
	b[1 + n] = (struct vio_buf){ (uintptr_t)&status, 1, true };
	vio_submit(&vq, b, n + 2);
	if (EXPECT(vio_wait_used(&vq, &id, &len, WAIT_TICKS)) &&
	    EXPECT_EQ(status, BLK_S_OK))
		for (unsigned int s = 0; s < n; s++)
			ok += data[512 * s] == disk_byte(300 + s, 0) &&
			      data[512 * s + 511] == disk_byte(300 + s, 511);
	EXPECT_EQ(ok, n);
	printf("chain: %u segments (seg_max): status %u, %u sectors right\n",
	       n, status, ok);
}

/* ---- queue set-up -------------------------------------------------------- */

struct setup_case {
	const char *name;
	uint16_t size;
	uint64_t desc, avail, used;
};

static void run_setup_case(const struct setup_case *c)
{
	bool reset, enabled, again;
	uintptr_t base = (uintptr_t)ring_mem;

	if (!EXPECT(vio_negotiate(&dev, BLK_F_SEG_MAX)))
		return;
	vio_queue_setup_raw(&dev, &vq, 0, c->size, c->desc ? c->desc : base,
			    c->avail ? c->avail : base + 0x1000,
			    c->used ? c->used : base + 0x2000, VIO_NO_VECTOR);
	reset = wait_needs_reset();
	enabled = vio_cc_read16(&dev, VIO_CC_Q_ENABLE);
	again = EXPECT(vio_reset(&dev)) && EXPECT(bring_up(true)) &&
		good_read(43);
	printf("setup: %s: %s, queue_enable %u; after reset: %s\n", c->name,
	       reset ? "needs reset" : "NO needs reset", enabled,
	       again ? "works" : "BROKEN");
	EXPECT(reset);
	EXPECT(!enabled);
	EXPECT(again);
}

static void test_setup(void)
{
	uintptr_t base = (uintptr_t)ring_mem;
	const struct setup_case cases[] = {
		{ "descriptors across the end of RAM", 128, ram_end - 0x400, 0, 0 },
		{ "avail ring at 4 GiB", 128, 0, FAR_ADDR, 0 },
		{ "used ring in the PCI window", 128, 0, 0, dev.bar[0].addr },
		{ "used ring on the local APIC", 128, 0, 0, APIC_MMIO },
		{ "queue size 100", 100, 0, 0, 0 },
		{ "queue size 0", 0, 0, 0, 0 },
		{ "queue size 32768", 32768, 0, 0, 0 },
		{ "queue size 256, above the maximum", 256, 0, 0, 0 },
		{ "descriptors misaligned", 128, base + 8, 0, 0 },
		{ "used ring misaligned", 128, 0, 0, base + 0x2002 },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++)
		run_setup_case(&cases[i]);
}

/* ---- notifications ------------------------------------------------------- */

static void test_notify(void)
{
	uint32_t storm = cmdline_number("storm", 3000, 1000000);
	bool early, unmastered, later, after;
	unsigned int served = 0;

	/* 3.1.1: DRIVER_OK comes before the device is used. */
	if (!EXPECT(bring_up(false)))
		return;
	good_chain(50);
	vio_notify(&vq);
	early = used_within(QUIET_TICKS);
	vio_driver_ok(&dev);
	vio_notify(&vq);
	later = used_within(WAIT_TICKS) && status == BLK_S_OK;
	/* No bus mastering: the function may not touch memory. */
	pci_command_clear(dev.bdf, PCI_COMMAND_MASTER);
	good_chain(51);
	vio_notify(&vq);
	unmastered = used_within(QUIET_TICKS);
	pci_command_set(dev.bdf, PCI_COMMAND_MASTER);
	vio_notify(&vq);
	after = used_within(WAIT_TICKS) && status == BLK_S_OK && data_ok(51);
	printf("notify: before DRIVER_OK %s, then %s; bus master off %s, "
	       "then %s\n", early ? "SERVED" : "ignored",
	       later ? "served" : "NOT served",
	       unmastered ? "SERVED" : "ignored", after ? "served" : "NOT served");
	EXPECT(!early);
	EXPECT(later);
	EXPECT(!unmastered);
	EXPECT(after);
	/* A storm: empty notifies, notifies of queues that do not exist,
	 * and requests notified many times over. */
	for (uint32_t i = 0; i < storm; i++) {
		vio_notify(&vq);
		*(volatile uint16_t *)(dev.notify + (1 + i % 7) *
				       dev.notify_mult) = (uint16_t)i;
		if (i % 100 == 0)
			served += good_read(i % DISK_SECTORS);
	}
	EXPECT_EQ(served, (storm + 99) / 100);
	EXPECT_EQ(vio_status(&dev) & VIO_S_NEEDS_RESET, 0);
	printf("notify: storm of %u notifies: %u requests among them served, "
	       "device %s\n", 2 * storm, served,
	       vio_status(&dev) & VIO_S_NEEDS_RESET ? "BROKEN" : "fine");
}

/* ---- the BAR moved ------------------------------------------------------- */

static bool ram_probe_intact(void)
{
	for (uint32_t i = 0; i < sizeof(ram_probe); i++)
		if (ram_probe[i] != (uint8_t)(i * 13 + 1))
			return false;
	return true;
}

static void test_bar(void)
{
	struct pci_bar bar = dev.bar[0];
	uint64_t home = bar.addr;
	uint8_t st;
	bool ram_ok, ram_write, ioapic, lapic, ecam, bytewise, back;

	if (!EXPECT(bring_up(true)))
		return;
	st = vio_status(&dev);
	for (uint32_t i = 0; i < sizeof(ram_probe); i++)
		ram_probe[i] = (uint8_t)(i * 13 + 1);
	pci_bar_move(dev.bdf, 0, &bar, (uintptr_t)ram_probe);
	ram_ok = ram_probe_intact();
	/* Offset 0x14 is the device status: a reset, were it the device. */
	*(volatile uint8_t *)(ram_probe + VIO_CC_STATUS) = 0;
	ram_write = ram_probe[VIO_CC_STATUS] == 0;
	ram_probe[VIO_CC_STATUS] = (uint8_t)(VIO_CC_STATUS * 13 + 1);
	pci_bar_move(dev.bdf, 0, &bar, IOAPIC_MMIO);
	ioapic = (ioapic_read(IOAPIC_REG_VER) & 0xff) == 0x11;
	pci_bar_move(dev.bdf, 0, &bar, APIC_MMIO);
	lapic = (apic_read(APIC_VERSION) & 0xff) >= 0x10;
	pci_bar_move(dev.bdf, 0, &bar, ECAM_BASE);
	ecam = pci_ecam_read(dev.bdf, PCI_CFG_VENDOR, 2) == VIO_VENDOR &&
	       pci_ecam_read(PCI_BDF(0, 0, 0), PCI_CFG_VENDOR, 2) == 0x1b36;
	pci_bar_move(dev.bdf, 0, &bar, home + 0x100000);
	back = EXPECT(vio_map(&dev)) && EXPECT_EQ(vio_status(&dev), st) &&
	       EXPECT(good_read(60));
	/* Byte by byte with decoding on: through 0xd1000000 to 0xd1230000
	 * and, by the sizing write's all ones, to 0xffff8000. */
	pci_write(dev.bdf, PCI_CFG_BAR0 + 3, 1, 0xd1);
	pci_write(dev.bdf, PCI_CFG_BAR0 + 2, 1, 0x23);
	bytewise = EXPECT(vio_map(&dev)) &&
		   EXPECT_EQ(dev.bar[0].addr, 0xd1230000u) &&
		   EXPECT_EQ(vio_status(&dev), st) && EXPECT(good_read(62));
	pci_write(dev.bdf, PCI_CFG_BAR0, 4, ~0u);
	pci_bar_move(dev.bdf, 0, &bar, home);
	back = EXPECT(vio_map(&dev)) && EXPECT_EQ(vio_status(&dev), st) &&
	       EXPECT(good_read(61)) && back;
	printf("bar: over RAM: %s, writes %s; over the I/O APIC %s, the local "
	       "APIC %s, ECAM %s; moved within the window and back: %s; byte "
	       "by byte while decoding: %s\n",
	       ram_ok ? "RAM" : "NOT RAM", ram_write ? "RAM's" : "LOST",
	       ioapic ? "ok" : "HIDDEN", lapic ? "ok" : "HIDDEN",
	       ecam ? "ok" : "HIDDEN", back ? "works" : "BROKEN",
	       bytewise ? "works" : "BROKEN");
	EXPECT(ram_ok);
	EXPECT(ram_write);
	EXPECT(ram_probe_intact());
	EXPECT(ioapic);
	EXPECT(lapic);
	EXPECT(ecam);
	EXPECT(back);
	EXPECT(bytewise);
}

/* ---- MSI-X entries that are no interrupt --------------------------------- */

/* 2.1.2: NEEDS_RESET comes with a configuration change notification:
 * with MSI-X, a message on the config vector (msix_config). */
static void test_msix_needs_reset(void)
{
	bool reset;

	pci_msix_set(&dev.msix, 1, 0, VEC_CONFIG);
	vio_cc_write16(&dev, VIO_CC_MSIX_CONFIG, 1);
	config_irqs = queue_irqs = 0;
	c_loop();
	vio_notify(&vq);
	reset = wait_needs_reset();
	vio_wait_irqs(&config_irqs, 1, WAIT_TICKS);
	printf("msix: a broken queue: %s, %u config interrupt(s), %u queue "
	       "interrupt(s)\n", reset ? "needs reset" : "NO needs reset",
	       config_irqs, queue_irqs);
	EXPECT(reset);
	EXPECT_EQ(config_irqs, 1);
	EXPECT_EQ(queue_irqs, 0);
}

/* PCIe Base 4.0 7.5.1.1.3: with Bus Master Enable clear a function
 * sends no MSI-X message (one is a memory write). A queue enabled with
 * bad rings then breaks the device silently; Keel keeps the message
 * pending in the PBA and sends it once bus mastering is back. */
static void test_msix_no_master(void)
{
	bool reset, quiet, pending;

	EXPECT(vio_reset(&dev));
	EXPECT(vio_negotiate(&dev, BLK_F_SEG_MAX));
	vio_cc_write16(&dev, VIO_CC_MSIX_CONFIG, 1);
	config_irqs = 0;
	pci_command_clear(dev.bdf, PCI_COMMAND_MASTER);
	vio_queue_setup_raw(&dev, &vq, 0, 128, FAR_ADDR, FAR_ADDR, FAR_ADDR, 0);
	reset = wait_needs_reset();
	vio_wait_irqs(&config_irqs, 1, QUIET_TICKS);
	quiet = !config_irqs;
	pending = pci_msix_pending(&dev.msix, 1);
	pci_command_set(dev.bdf, PCI_COMMAND_MASTER);
	vio_wait_irqs(&config_irqs, 1, WAIT_TICKS);
	printf("msix: bus master off: %s, %s, pending %u; on again: %u config "
	       "interrupt(s)\n", reset ? "needs reset" : "NO needs reset",
	       quiet ? "no message" : "MESSAGE SENT", pending, config_irqs);
	EXPECT(reset);
	EXPECT(quiet);
	EXPECT(pending);
	EXPECT_EQ(config_irqs, 1);
}

struct msix_case {
	const char *name;
	uint32_t lo, hi, data;
};

static void test_msix(void)
{
	const struct msix_case cases[] = {
		{ "address 0x12345678", 0x12345678, 0, VEC_QUEUE },
		{ "address 0 (RAM)", 0, 0, VEC_QUEUE },
		{ "high address", APIC_MMIO, 0xffffffff, VEC_QUEUE },
		{ "ECAM", ECAM_BASE, 0, VEC_QUEUE },
		{ "SMI", APIC_MMIO, 0, 0x200 | VEC_QUEUE },
		{ "NMI", APIC_MMIO, 0, 0x400 | VEC_QUEUE },
		{ "INIT", APIC_MMIO, 0, 0x500 | VEC_QUEUE },
		{ "ExtINT", APIC_MMIO, 0, 0x700 | VEC_QUEUE },
		{ "APIC 7 (none)", APIC_MMIO | 7 << 12, 0, VEC_QUEUE },
	};
	unsigned int quiet = 0, done = 0;

	if (!EXPECT(dev.has_msix))
		return;
	idt_set_gate(VEC_QUEUE, (uintptr_t)queue_irq_stub);
	idt_set_gate(VEC_CONFIG, (uintptr_t)config_irq_stub);
	idt_load();
	apic_write(APIC_SVR, 0x1ff);
	if (!EXPECT(vio_negotiate(&dev, BLK_F_SEG_MAX)))
		return;
	pci_msix_enable(&dev.msix, true);
	if (!EXPECT(vio_queue_setup(&dev, &vq, 0, 0, ring_mem, 0)))
		return;
	vio_driver_ok(&dev);
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		volatile uint32_t *e = dev.msix.table;

		pci_msix_mask(&dev.msix, 0, true);
		e[0] = cases[i].lo;
		e[1] = cases[i].hi;
		e[2] = cases[i].data;
		pci_msix_mask(&dev.msix, 0, false);
		queue_irqs = 0;
		done += good_read(70 + i);
		quiet += !vio_wait_irqs(&queue_irqs, 1, QUIET_TICKS);
	}
	/* And a right entry still works. */
	pci_msix_set(&dev.msix, 0, 0, VEC_QUEUE);
	queue_irqs = 0;
	done += good_read(80);
	vio_wait_irqs(&queue_irqs, 1, WAIT_TICKS);
	printf("msix: %u garbage entries: %u delivered nothing; %u/%u requests "
	       "served; a right entry: %u interrupt(s)\n",
	       (unsigned int)ARRAY_SIZE(cases), quiet, done,
	       (unsigned int)ARRAY_SIZE(cases) + 1, queue_irqs);
	EXPECT_EQ(quiet, ARRAY_SIZE(cases));
	EXPECT_EQ(done, ARRAY_SIZE(cases) + 1);
	EXPECT_EQ(queue_irqs, 1);
	test_msix_needs_reset();
	test_msix_no_master();
	pci_msix_enable(&dev.msix, false);
}

/* A driver breaking its queue and resetting the device over and over:
 * each time a fault Keel could log. Its log must not grow with them. */
static void test_flood(void)
{
	uint32_t n = cmdline_number("flood", 200, 100000);
	unsigned int broken = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (!bring_up(true))
			break;
		c_loop();
		vio_notify(&vq);
		broken += wait_needs_reset();
		vio_reset(&dev);
	}
	printf("flood: %u of %u broken queues, each reset; then: %s\n",
	       broken, n, bring_up(true) && good_read(90) ? "works" : "BROKEN");
	EXPECT_EQ(broken, n);
}

/*
 * A race: vCPU 1 scribbles over the descriptors, the avail ring and the
 * device status (resets included) and notifies from its own CPU, while
 * the BSP submits good requests and resets the device whenever it needs
 * it. Keel reads each ring field once, under the device's lock: any mix
 * of answers is right, but afterwards the device must work.
 */
static volatile uint32_t ap_stop, ap_done, ap_moves;

static uint32_t xorshift32(uint32_t x)
{
	x ^= x << 13;
	x ^= x >> 17;
	return x ^ (x << 5);
}

static void ap_move(uint32_t x)
{
	volatile struct vio_desc *d = &vq.desc[(x >> 8) % 3];

	switch (x % 8) {
	case 0:
		d->addr = x & 0x100 ? (uintptr_t)data : FAR_ADDR;
		break;
	case 1:
		d->len = x & 0x100 ? DISK_SECTOR : 0xfffff000u;
		break;
	case 2:
		d->flags ^= (uint16_t)(1u << ((x >> 12) % 3));
		break;
	case 3:
		d->next = (uint16_t)((x >> 12) & 0xff);
		break;
	case 4:
		vq.avail[2 + ((x >> 12) & 3)] = (uint16_t)((x >> 16) & 7);
		break;
	case 5:
		vq.avail[1] = (uint16_t)(vq.avail[1] + ((x >> 12) & 1));
		break;
	case 6:
		if (!((x >> 12) & 15))
			vio_status_set(&dev, 0);
		break;
	default:
		vio_notify(&vq);
	}
}

static void ap_main(void)
{
	uint32_t x = 0x2545f491;

	while (!ap_stop) {
		x = xorshift32(x);
		ap_move(x);
		ap_moves++;
	}
	ap_done = 1;
}

static void test_race(void)
{
	unsigned int nr_cpus = (cpuid(1, 0).ebx >> 16) & 0xff, done = 0;
	unsigned int resets = 0, rounds = cmdline_number("race", 400, 100000);
	uint64_t end;
	bool after;

	if (nr_cpus < 2) {
		puts("race: one vCPU, skipped");
		return;
	}
	if (!EXPECT(bring_up(true)) ||
	    !EXPECT(vcpu_start(1, ap_main)))
		return;
	for (unsigned int i = 0; i < rounds; i++) {
		uint8_t st = vio_status(&dev);

		if ((st & VIO_S_NEEDS_RESET) || !(st & VIO_S_DRIVER_OK)) {
			resets++;
			if (!bring_up(true))
				continue;
		}
		good_descs(i % DISK_SECTORS);
		vio_publish(&vq, 0);
		vio_notify(&vq);
		done += used_within(QUIET_TICKS / 8);
	}
	ap_stop = 1;
	end = rdtsc_ordered() + WAIT_TICKS;
	while (!ap_done && rdtsc_ordered() < end)
		__asm__ volatile("pause");
	EXPECT(ap_done);
	after = EXPECT(vio_reset(&dev)) && EXPECT(bring_up(true)) &&
		good_read(91);
	printf("race: %u rounds against %u moves of vCPU 1: %u served, %u "
	       "resets; then: %s\n", rounds, ap_moves, done, resets,
	       after ? "works" : "BROKEN");
	EXPECT(after);
	EXPECT(ap_moves);
}

void guest_main(void)
{
	if (!EXPECT(vio_find(VIO_ID_BLOCK, &dev))) {
		puts("no virtio-blk device");
		return;
	}
	ram_end = (uint32_t)mb_ram_end();
	if (!EXPECT(bring_up(true)))
		return;
	seg_max = (uint32_t)vio_cfg_read(&dev, BLK_CFG_SEG_MAX, 4);
	EXPECT(seg_max >= 1 && seg_max + 2 < vq.size);
	if (seg_max + 2u >= vq.size)
		seg_max = 1;
	test_chains();
	test_seg_max();
	test_setup();
	test_notify();
	test_bar();
	test_msix();
	test_flood();
	test_race();
	vio_reset(&dev);
}
