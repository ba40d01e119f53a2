/*
 * blktest: a virtio-blk disk (disk = "...") checked against the virtio
 * 1.2 specification (2 basic facilities, 4.1 PCI transport, 5.2 block
 * device), with the disk the host tool mkdisk writes (diskpattern.h).
 *
 *   probe    the function's IDs and revision (4.1.2), feature
 *            negotiation with VERSION_1, FEATURES_OK refused for a
 *            feature not offered, capacity, blk_size and seg_max
 *   read     single sectors (first, middle, last), one request over
 *            many descriptors of odd sizes, used lengths (2.7.8)
 *   bounds   reads past the end: IOERR, the used length still 1
 *   write    sectors written, read back; FLUSH; GET_ID; an unknown type:
 *            UNSUPP
 *   msix     one MSI-X message per completion, to the queue's vector
 *   intx     MSI-X off: INTx through the I/O APIC, the ISR's queue bit
 *            read once (reading clears it and lowers the line)
 *
 * mode=ro: the same disk given read-only to a second guest: RO offered,
 * the original data even where the first guest wrote, writes IOERR.
 */
#include "guest.h"
#include "diskpattern.h"
#include "virtio.h"
#include "virtio_blk.h"

#define STATUS_UNTOUCHED        0xee

#define WRITE_SECTOR            10      /* the rw guest rewrites 10..13 */
#define WRITE_COUNT             4
#define IRQ_REQUESTS            16
#define SMALL_QUEUE_REQUESTS    21
#define WAIT_TICKS              400000000ULL    /* a failure bound */
#define QUIET_TICKS             4000000ULL      /* many exits' worth */

#define APIC_MMIO               0xfee00000u
#define APIC_EOI                0x0b0
#define APIC_SVR                0x0f0
#define IOAPIC_MMIO             0xfec00000u
#define IOAPIC_REG_REDIR        0x10
#define REDIR_MASKED            (1u << 16)
#define REDIR_LEVEL             (1u << 15)
#define REDIR_ACTIVE_LOW        (1u << 13)
#define PCI_STATUS_INTX         (1u << 3)
#define INTX_GSI_BASE           16      /* the DSDT's _PRT */
#define VEC_QUEUE               0x40
#define VEC_CONFIG              0x41
#define VEC_INTX                0x50

static struct vio_dev dev;
static struct vio_queue vq;
static uint8_t ring_mem[VIO_RING_BYTES(256)] __attribute__((aligned(4096)));
static struct blk_hdr hdr;
static volatile uint8_t status;
static uint8_t data[16 * DISK_SECTOR] __attribute__((aligned(4096)));
static uint32_t last_used_len;

/* ---- interrupts ---------------------------------------------------------- */

static volatile uint32_t queue_irqs, config_irqs, intx_irqs, intx_isr;

static void apic_write(uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off) = val;
}

static void ioapic_write(uint32_t reg, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)IOAPIC_MMIO = reg;
	*(volatile uint32_t *)(uintptr_t)(IOAPIC_MMIO + 0x10) = val;
}

#define IRQ_STUB(fn) \
	__asm__(".text\n" #fn "_stub:\n\tpushal\n\tcld\n\tcall " #fn \
		"\n\tpopal\n\tiret\n")
IRQ_STUB(queue_irq);
IRQ_STUB(config_irq);
IRQ_STUB(intx_irq);
extern char queue_irq_stub[], config_irq_stub[], intx_irq_stub[];

__attribute__((used)) void queue_irq(void);
__attribute__((used)) void queue_irq(void)
{
	queue_irqs++;
	apic_write(APIC_EOI, 0);
}

__attribute__((used)) void config_irq(void);
__attribute__((used)) void config_irq(void)
{
	config_irqs++;
	apic_write(APIC_EOI, 0);
}

/* Level-triggered: the ISR read lowers the line before the EOI, or the
 * I/O APIC would send it again (4.1.4.5). */
__attribute__((used)) void intx_irq(void);
__attribute__((used)) void intx_irq(void)
{
	intx_irqs++;
	intx_isr |= vio_isr_read(&dev);
	apic_write(APIC_EOI, 0);
}

/* ---- requests ------------------------------------------------------------ */

/* One request: the header, the data buffers, the status byte (5.2.6).
 * Returns the status the device wrote, or -1 when nothing came back. */
static int blk_request(uint32_t type, uint64_t sector,
		       const struct vio_buf *bufs, unsigned int n)
{
	struct vio_buf chain[18];
	uint32_t id;
	uint16_t head;

	hdr = (struct blk_hdr){ type, 0, sector };
	status = STATUS_UNTOUCHED;
	chain[0] = (struct vio_buf){ (uintptr_t)&hdr, sizeof(hdr), false };
	for (unsigned int i = 0; i < n; i++)
		chain[1 + i] = bufs[i];
	chain[1 + n] = (struct vio_buf){ (uintptr_t)&status, 1, true };
	head = vio_submit(&vq, chain, n + 2);
	if (!vio_wait_used(&vq, &id, &last_used_len, WAIT_TICKS))
		return -1;
	EXPECT_EQ(id, head);
	return status;
}

static int blk_rw(uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	struct vio_buf b = { (uintptr_t)buf, len,
			     type == BLK_T_IN || type == BLK_T_GET_ID };

	return blk_request(type, sector, &b, len ? 1 : 0);
}

/* Sectors [first, first + count) of buf hold the disk's pattern. */
static bool is_pattern(const uint8_t *buf, uint32_t first, uint32_t count)
{
	for (uint32_t s = 0; s < count; s++)
		for (uint32_t i = 0; i < DISK_SECTOR; i++)
			if (buf[s * DISK_SECTOR + i] != disk_byte(first + s, i))
				return false;
	return true;
}

static bool read_is_pattern(uint64_t sector, uint32_t count)
{
	memset(data, 0, sizeof(data));
	return EXPECT_EQ(blk_rw(BLK_T_IN, sector, data, count * DISK_SECTOR),
			 BLK_S_OK) &&
	       EXPECT_EQ(last_used_len, count * DISK_SECTOR + 1) &&
	       EXPECT(is_pattern(data, (uint32_t)sector, count));
}

/* ---- set-up -------------------------------------------------------------- */

static uint64_t offered;

/* 3.1.1 up to DRIVER_OK with queue 0 on MSI-X `vector`. */
static bool bring_up_size(uint16_t vector, uint16_t size)
{
	if (!EXPECT(vio_negotiate(&dev, offered & (BLK_F_SEG_MAX | BLK_F_RO |
						   BLK_F_BLK_SIZE | BLK_F_FLUSH))))
		return false;
	if (!EXPECT(vio_queue_setup(&dev, &vq, 0, size, ring_mem, vector)))
		return false;
	vio_driver_ok(&dev);
	return EXPECT_EQ(vio_status(&dev), VIO_S_ACKNOWLEDGE | VIO_S_DRIVER |
			 VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
}

static bool bring_up(uint16_t vector)
{
	return bring_up_size(vector, 0);
}

/* A driver without VERSION_1: the device may refuse it (6.1), and Keel
 * serves no legacy driver, so FEATURES_OK must not stick. */
static bool negotiate_legacy(void)
{
	vio_reset(&dev);
	vio_status_set(&dev, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	vio_cc_write32(&dev, VIO_CC_GFEAT_SEL, 0);
	vio_cc_write32(&dev, VIO_CC_GFEAT, (uint32_t)offered);
	vio_cc_write32(&dev, VIO_CC_GFEAT_SEL, 1);
	vio_cc_write32(&dev, VIO_CC_GFEAT, 0);
	vio_status_set(&dev, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER |
		       VIO_S_FEATURES_OK);
	return vio_status(&dev) & VIO_S_FEATURES_OK;
}

static void test_probe(bool ro)
{
	uint32_t class = pci_read(dev.bdf, PCI_CFG_REVISION, 4);
	uint64_t cap;

	EXPECT_EQ(class & 0xff, 1);     /* 4.1.2.1: revision >= 1 */
	offered = vio_device_features(&dev);
	EXPECT(offered & VIO_F_VERSION_1);
	EXPECT_EQ(!!(offered & BLK_F_RO), ro);
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_NUM_QUEUES), 1);
	/* 4.1.4.3.2: a queue that does not exist has size 0. */
	vio_cc_write16(&dev, VIO_CC_Q_SELECT, 1);
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_Q_SIZE), 0);
	vio_cc_write16(&dev, VIO_CC_Q_SELECT, 0);
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_Q_ENABLE), 0);
	/* Feature bits past 63 are not offered. */
	vio_cc_write32(&dev, VIO_CC_DFEAT_SEL, 2);
	EXPECT_EQ(vio_cc_read32(&dev, VIO_CC_DFEAT), 0);
	EXPECT(!negotiate_legacy());
	/* 3.1.1: a feature the device did not offer: no FEATURES_OK. */
	EXPECT(!vio_negotiate(&dev, 1ULL << 40));
	EXPECT(!vio_negotiate(&dev, ~offered & 0xffffffffULL & ~(1ULL << 31)));
	if (!bring_up(VIO_NO_VECTOR))
		return;
	cap = vio_cfg_read(&dev, BLK_CFG_CAPACITY, 8);
	EXPECT_EQ(cap, DISK_SECTORS);
	if (offered & BLK_F_BLK_SIZE)
		EXPECT_EQ(vio_cfg_read(&dev, BLK_CFG_BLK_SIZE, 4), DISK_SECTOR);
	if (offered & BLK_F_SEG_MAX)
		EXPECT(vio_cfg_read(&dev, BLK_CFG_SEG_MAX, 4) >= 16);
	printf("probe: %02x:%02x.%x rev %u, features %#llx, queue size %u, "
	       "capacity %llu sectors, blk_size %u, seg_max %u\n",
	       PCI_BDF_BUS(dev.bdf), PCI_BDF_DEV(dev.bdf), PCI_BDF_FN(dev.bdf),
	       class & 0xff, (unsigned long long)offered, vq.size,
	       (unsigned long long)cap,
	       (uint32_t)vio_cfg_read(&dev, BLK_CFG_BLK_SIZE, 4),
	       (uint32_t)vio_cfg_read(&dev, BLK_CFG_SEG_MAX, 4));
}

/* ---- data ---------------------------------------------------------------- */

/* One request whose data is split over descriptors of odd sizes, in
 * order: 4 sectors as 1 + 511 + 1000 + 512 + 24 bytes. */
static bool read_scattered(uint32_t sector)
{
	static const uint32_t sizes[] = { 1, 511, 1000, 512, 24 };
	struct vio_buf b[ARRAY_SIZE(sizes)];
	uint32_t off = 0;

	memset(data, 0, sizeof(data));
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		b[i] = (struct vio_buf){ (uintptr_t)data + off, sizes[i], true };
		off += sizes[i];
	}
	return EXPECT_EQ(blk_request(BLK_T_IN, sector, b, ARRAY_SIZE(b)),
			 BLK_S_OK) &&
	       EXPECT_EQ(last_used_len, 4 * DISK_SECTOR + 1) &&
	       EXPECT(is_pattern(data, sector, 4));
}

/* 4.1.4.3.2: a reset brings back the maximum queue size, queue_enable
 * 0 and no vectors. */
static void test_reset_defaults(void)
{
	uint16_t max;

	vio_cc_write16(&dev, VIO_CC_Q_SELECT, 0);
	max = vio_cc_read16(&dev, VIO_CC_Q_SIZE);
	if (!bring_up_size(VIO_NO_VECTOR, 4))
		return;
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_Q_SIZE), 4);
	vio_cc_write16(&dev, VIO_CC_MSIX_CONFIG, 0);
	EXPECT(vio_reset(&dev));
	vio_cc_write16(&dev, VIO_CC_Q_SELECT, 0);
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_Q_SIZE), max);
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_Q_ENABLE), 0);
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_Q_MSIX), VIO_NO_VECTOR);
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_MSIX_CONFIG), VIO_NO_VECTOR);
	EXPECT_EQ(vio_cc_read32(&dev, VIO_CC_Q_DESC), 0);
}

/* A queue of 4: chains of 3 wrap around the descriptor table and the
 * rings' slots many times (2.7.13.1: idx modulo the queue size). */
static void test_small_queue(void)
{
	unsigned int ok = 0;

	if (!bring_up_size(VIO_NO_VECTOR, 4))
		return;
	for (uint32_t i = 0; i < SMALL_QUEUE_REQUESTS; i++)
		ok += read_is_pattern(200 + i, 1 + i % 3);
	printf("queue of 4: %u/%u requests right, used idx %u\n", ok,
	       SMALL_QUEUE_REQUESTS, vio_used_idx(&vq));
	bring_up(VIO_NO_VECTOR);
}

static void test_read(void)
{
	unsigned int ok = 0;

	ok += read_is_pattern(0, 1);
	ok += read_is_pattern(1000, 1);
	ok += read_is_pattern(DISK_SECTORS - 1, 1);
	ok += read_is_pattern(100, 16);
	ok += read_scattered(777);
	printf("read: sectors 0, 1000, %u, 100-115 in one buffer, 777-780 over "
	       "5 descriptors: %u/5 match\n", DISK_SECTORS - 1, ok);
}

/* 5.2.6.2: a request beyond the capacity fails with IOERR; only the
 * status byte is written. */
static void test_bounds(void)
{
	static const uint64_t bad[] = { DISK_SECTORS - 1, DISK_SECTORS,
					0x100000000ULL, ~0ULL, ~0ULL / 512 };
	static const uint32_t count[] = { 2, 1, 1, 1, 1 };
	unsigned int ioerr = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		int s = blk_rw(BLK_T_IN, bad[i], data, count[i] * DISK_SECTOR);

		ioerr += EXPECT_EQ(s, BLK_S_IOERR);
		EXPECT_EQ(last_used_len, 1);
	}
	printf("bounds: %u/%u reads past sector %u: IOERR\n", ioerr,
	       (unsigned int)ARRAY_SIZE(bad), DISK_SECTORS);
}

static void fill_new(uint8_t *buf, uint32_t count)
{
	for (uint32_t i = 0; i < count * DISK_SECTOR; i++)
		buf[i] = (uint8_t)(0xa5 ^ i ^ (i >> 9));
}

static bool is_new(const uint8_t *buf, uint32_t count)
{
	for (uint32_t i = 0; i < count * DISK_SECTOR; i++)
		if (buf[i] != (uint8_t)(0xa5 ^ i ^ (i >> 9)))
			return false;
	return true;
}

static void test_write(void)
{
	bool back;
	int w, f;

	fill_new(data, WRITE_COUNT);
	w = blk_rw(BLK_T_OUT, WRITE_SECTOR, data, WRITE_COUNT * DISK_SECTOR);
	EXPECT_EQ(w, BLK_S_OK);
	EXPECT_EQ(last_used_len, 1);    /* only the status was written */
	memset(data, 0, sizeof(data));
	EXPECT_EQ(blk_rw(BLK_T_IN, WRITE_SECTOR, data,
			 WRITE_COUNT * DISK_SECTOR), BLK_S_OK);
	back = EXPECT(is_new(data, WRITE_COUNT));
	EXPECT(read_is_pattern(WRITE_SECTOR + WRITE_COUNT, 1));
	EXPECT(read_is_pattern(WRITE_SECTOR - 1, 1));
	f = blk_rw(BLK_T_FLUSH, 0, NULL, 0);
	EXPECT_EQ(f, BLK_S_OK);
	printf("write: sectors %u-%u: status %d, read back %s; flush: status "
	       "%d\n", WRITE_SECTOR, WRITE_SECTOR + WRITE_COUNT - 1, w,
	       back ? "ok" : "WRONG", f);
}

static void test_id_unsupp(void)
{
	char id[BLK_ID_LEN + 1] = { 0 };
	int s, u;

	memset(data, 0x77, BLK_ID_LEN);
	s = blk_rw(BLK_T_GET_ID, 0, data, BLK_ID_LEN);
	EXPECT_EQ(s, BLK_S_OK);
	EXPECT_EQ(last_used_len, BLK_ID_LEN + 1);
	memcpy(id, data, BLK_ID_LEN);
	for (unsigned int i = 0; i < BLK_ID_LEN; i++)
		EXPECT(id[i] == 0 || (id[i] >= 0x20 && id[i] < 0x7f));
	u = blk_rw(0x55, 0, data, DISK_SECTOR);
	EXPECT_EQ(u, BLK_S_UNSUPP);
	EXPECT_EQ(last_used_len, 1);
	printf("get_id: status %d, \"%s\"; type 0x55: status %d (UNSUPP %d)\n",
	       s, id, u, BLK_S_UNSUPP);
}

/* ---- interrupts ---------------------------------------------------------- */

static void irq_init(void)
{
	idt_set_gate(VEC_QUEUE, (uintptr_t)queue_irq_stub);
	idt_set_gate(VEC_CONFIG, (uintptr_t)config_irq_stub);
	idt_set_gate(VEC_INTX, (uintptr_t)intx_irq_stub);
	idt_load();
	apic_write(APIC_SVR, 0x1ff);
}

/* PCI 3.0 6.8.2.3: the function mask holds every entry's message
 * pending; clearing it sends them. */
static void test_function_mask(void)
{
	unsigned int reg = dev.msix.cap + PCI_MSIX_CONTROL;
	uint32_t ctrl = pci_read(dev.bdf, reg, 2), before = queue_irqs;
	bool quiet, pending;

	pci_write(dev.bdf, reg, 2, ctrl | PCI_MSIX_MASKALL);
	EXPECT_EQ(blk_rw(BLK_T_IN, 32, data, DISK_SECTOR), BLK_S_OK);
	quiet = !vio_wait_irqs(&queue_irqs, before + 1, QUIET_TICKS);
	pending = pci_msix_pending(&dev.msix, 0);
	pci_write(dev.bdf, reg, 2, ctrl);
	EXPECT(vio_wait_irqs(&queue_irqs, before + 1, WAIT_TICKS));
	printf("msix: function mask: %s, pending %u, sent on unmasking: %u\n",
	       quiet ? "none" : "INTERRUPTED", pending, queue_irqs - before);
	EXPECT(quiet);
	EXPECT(pending);
	EXPECT_EQ(queue_irqs, before + 1);
}

/* Queue 0 on MSI-X entry 0, configuration changes on entry 1 (4.1.5.1.2). */
static void test_msix(void)
{
	bool suppressed, masked, pending;
	unsigned int ok = 0;

	if (!EXPECT(dev.has_msix) || !EXPECT(dev.msix.nr >= 2))
		return;
	pci_msix_set(&dev.msix, 0, 0, VEC_QUEUE);
	pci_msix_set(&dev.msix, 1, 0, VEC_CONFIG);
	pci_msix_enable(&dev.msix, true);
	if (!bring_up(0))
		return;
	vio_cc_write16(&dev, VIO_CC_MSIX_CONFIG, 1);
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_MSIX_CONFIG), 1);
	/* A vector beyond the table is refused: NO_VECTOR reads back. */
	vio_cc_write16(&dev, VIO_CC_MSIX_CONFIG, (uint16_t)dev.msix.nr);
	EXPECT_EQ(vio_cc_read16(&dev, VIO_CC_MSIX_CONFIG), VIO_NO_VECTOR);
	vio_cc_write16(&dev, VIO_CC_MSIX_CONFIG, 1);
	queue_irqs = 0;
	for (unsigned int i = 0; i < IRQ_REQUESTS; i++) {
		ok += EXPECT_EQ(blk_rw(BLK_T_IN, i, data, DISK_SECTOR), BLK_S_OK);
		EXPECT(vio_wait_irqs(&queue_irqs, i + 1, WAIT_TICKS));
	}
	printf("msix: %u entries; %u requests, %u interrupts on vector %#x, "
	       "%u on the config vector\n", dev.msix.nr, ok, queue_irqs,
	       VEC_QUEUE, config_irqs);
	EXPECT_EQ(queue_irqs, IRQ_REQUESTS);
	/* 2.7.7: NO_INTERRUPT in avail->flags: the device should not
	 * interrupt (without EVENT_IDX). */
	vq.avail[0] = VIO_AVAIL_F_NO_INTERRUPT;
	EXPECT_EQ(blk_rw(BLK_T_IN, 30, data, DISK_SECTOR), BLK_S_OK);
	suppressed = !vio_wait_irqs(&queue_irqs, IRQ_REQUESTS + 1, QUIET_TICKS);
	vq.avail[0] = 0;
	/* A masked entry keeps its message pending in the PBA and sends it
	 * when unmasked (PCI 3.0 6.8.2.9). */
	pci_msix_mask(&dev.msix, 0, true);
	EXPECT_EQ(blk_rw(BLK_T_IN, 31, data, DISK_SECTOR), BLK_S_OK);
	masked = !vio_wait_irqs(&queue_irqs, IRQ_REQUESTS + 1, QUIET_TICKS);
	pending = pci_msix_pending(&dev.msix, 0);
	pci_msix_mask(&dev.msix, 0, false);
	EXPECT(vio_wait_irqs(&queue_irqs, IRQ_REQUESTS + 1, WAIT_TICKS));
	EXPECT(!pci_msix_pending(&dev.msix, 0));
	printf("msix: NO_INTERRUPT: %s; masked: %s, pending %u, sent on "
	       "unmasking: %u\n", suppressed ? "none" : "INTERRUPTED",
	       masked ? "none" : "INTERRUPTED", pending,
	       queue_irqs - IRQ_REQUESTS);
	EXPECT(suppressed);
	EXPECT(masked);
	EXPECT(pending);
	EXPECT_EQ(queue_irqs, IRQ_REQUESTS + 1);
	test_function_mask();
	/* With MSI-X on, the ISR is not used (4.1.4.5). */
	EXPECT_EQ(vio_isr_read(&dev) & VIO_ISR_QUEUE, 0);
	EXPECT_EQ(config_irqs, 0);
	pci_msix_enable(&dev.msix, false);
}

/* PCI 3.0 6.2.2-3: Interrupt Disable keeps the function from asserting
 * INTx, while the status register still shows the interrupt; clearing
 * it asserts INTx for the interrupt still pending. */
static void test_intx_disable(void)
{
	bool quiet, status_bit, later;

	intx_irqs = 0;
	pci_command_set(dev.bdf, PCI_COMMAND_INTX_OFF);
	EXPECT_EQ(blk_rw(BLK_T_IN, 40, data, DISK_SECTOR), BLK_S_OK);
	quiet = !vio_wait_irqs(&intx_irqs, 1, QUIET_TICKS);
	status_bit = pci_read(dev.bdf, PCI_CFG_STATUS, 2) & PCI_STATUS_INTX;
	pci_command_clear(dev.bdf, PCI_COMMAND_INTX_OFF);
	later = vio_wait_irqs(&intx_irqs, 1, WAIT_TICKS);
	printf("intx: disabled: %s, status bit %u; enabled again: %u "
	       "interrupt(s)\n", quiet ? "none" : "INTERRUPTED", status_bit,
	       intx_irqs);
	EXPECT(quiet);
	EXPECT(status_bit);
	EXPECT(later);
	EXPECT_EQ(intx_irqs, 1);
}

/* MSI-X off: the queue interrupt is INTx, routed as the _PRT says:
 * GSI 16 + (slot + pin - 1) % 4, level-triggered, active low. */
static void test_intx(void)
{
	struct pci_intx ix = pci_intx_info(dev.bdf);
	unsigned int gsi = INTX_GSI_BASE + (PCI_BDF_DEV(dev.bdf) + ix.pin - 1) % 4;
	unsigned int ok = 0, isr_after;

	EXPECT_EQ(ix.pin, 1);
	pci_command_clear(dev.bdf, PCI_COMMAND_INTX_OFF);
	if (!bring_up(VIO_NO_VECTOR))
		return;
	/* Polled first: the ISR's queue bit and the status's interrupt bit
	 * are set, and one read clears both. */
	EXPECT_EQ(blk_rw(BLK_T_IN, 5, data, DISK_SECTOR), BLK_S_OK);
	EXPECT(pci_read(dev.bdf, PCI_CFG_STATUS, 2) & PCI_STATUS_INTX);
	EXPECT_EQ(vio_isr_read(&dev), VIO_ISR_QUEUE);
	isr_after = vio_isr_read(&dev);
	EXPECT_EQ(isr_after, 0);
	EXPECT(!(pci_read(dev.bdf, PCI_CFG_STATUS, 2) & PCI_STATUS_INTX));
	ioapic_write(IOAPIC_REG_REDIR + 2 * gsi + 1, 0);
	ioapic_write(IOAPIC_REG_REDIR + 2 * gsi,
		     REDIR_LEVEL | REDIR_ACTIVE_LOW | VEC_INTX);
	intx_irqs = intx_isr = 0;
	for (unsigned int i = 0; i < IRQ_REQUESTS; i++) {
		ok += EXPECT_EQ(blk_rw(BLK_T_IN, 20 + i, data, DISK_SECTOR),
				BLK_S_OK);
		EXPECT(vio_wait_irqs(&intx_irqs, i + 1, WAIT_TICKS));
	}
	/* Nothing more once the handler read the ISR: a line left high
	 * would have fired again at the EOI. */
	vio_wait_irqs(&intx_irqs, IRQ_REQUESTS + 1, QUIET_TICKS);
	printf("intx: pin %u -> gsi %u; %u requests, %u interrupts, isr %#x "
	       "then %#x\n", ix.pin, gsi, ok, intx_irqs, intx_isr, isr_after);
	EXPECT_EQ(intx_irqs, IRQ_REQUESTS);
	EXPECT_EQ(intx_isr, VIO_ISR_QUEUE);
	test_intx_disable();
	ioapic_write(IOAPIC_REG_REDIR + 2 * gsi, REDIR_MASKED);
}

/* ---- read-only ----------------------------------------------------------- */

static void test_readonly(void)
{
	int w;

	fill_new(data, 1);
	w = blk_rw(BLK_T_OUT, WRITE_SECTOR, data, DISK_SECTOR);
	EXPECT_EQ(w, BLK_S_IOERR);
	EXPECT(read_is_pattern(WRITE_SECTOR, WRITE_COUNT));
	printf("readonly: write: status %d (IOERR %d); sectors %u-%u original\n",
	       w, BLK_S_IOERR, WRITE_SECTOR, WRITE_SECTOR + WRITE_COUNT - 1);
}

void guest_main(void)
{
	char mode[8] = "rw";
	bool ro;

	cmdline_get("mode", mode, sizeof(mode));
	ro = !strncmp(mode, "ro", 3);
	if (!EXPECT(vio_find(VIO_ID_BLOCK, &dev))) {
		puts("no virtio-blk device");
		return;
	}
	irq_init();
	test_probe(ro);
	test_read();
	test_reset_defaults();
	test_small_queue();
	test_bounds();
	if (ro)
		test_readonly();
	else
		test_write();
	test_id_unsupp();
	test_msix();
	test_intx();
	if (ro)
		/* Last, when the rw guest has most likely written its copy. */
		EXPECT(read_is_pattern(WRITE_SECTOR, WRITE_COUNT));
	vio_reset(&dev);
}
