/*
 * pcitest: a guest's PCI bus (devices = [..., "pci"]) checked against the
 * specs (PCI Local Bus 3.0, PCI Express Base 4.0), not against Keel.
 *
 *   enum     bus 0 by mechanism #1 and by ECAM agree; the host bridge's
 *            IDs, class and header type; absent slots, functions 1-7 and
 *            buses 1-255 read all ones; ECAM's extended space reads 0
 *   port     mechanism #1: CONFIG_ADDRESS is a dword register (byte and
 *            word accesses are not it); enable clear reads all ones;
 *            each byte and word of 0xcfc-0xcff reaches its own byte
 *   regs     read-only registers ignore writes by both mechanisms; the
 *            command register keeps only its writable bits
 *   funcs    every other function: BARs, capabilities, MSI-X, INTx by
 *            the rules all functions keep; its BARs moved over RAM and
 *            the ECAM decode nothing there
 *   hostile  random writes over every slot's configuration space by both
 *            mechanisms (from vCPU 1 too, at the same time, where the
 *            guest has two), unaligned, dword-crossing, string and 8-byte
 *            ECAM accesses, reads and writes over the PCI memory window
 *            where nothing decodes: the host bridge reads as before,
 *            Keel lives on
 *   acpi     the MCFG table and the DSDT's PCI0, where the firmware
 *            tables have them
 *
 * mode=absent: a guest without the device, whose ports 0xcf8-0xcff
 * nothing claims (all ones) and whose tables have no MCFG.
 */
#include "guest.h"
#include "pci.h"

#define HOST_BRIDGE             PCI_BDF(0, 0, 0)
#define HB_VENDOR               0x1b36  /* a generic PCIe host bridge */
#define HB_DEVICE               0x0008
#define HB_CLASS                0x060000
#define CF8_ENABLE              0x80000000u
#define CF8_RESERVED            0x7f000000u

#define WINDOW_BASE             0xc0000000u
#define WINDOW_END              0xe0000000u     /* where ECAM starts */
#define WINDOW_STEP             0x100000u

/* Command register bits 15:11 are reserved, read as 0 (PCI 3.0 6.2.2). */
#define COMMAND_RESERVED        0xf800u

static uint32_t all_ones(unsigned int len)
{
	return len == 4 ? ~0u : (1u << (8 * len)) - 1;
}

/* xorshift32: reproducible noise for the hostile writes, one state per
 * vCPU. */
static uint32_t rng_bsp = 0x9e3779b9, rng_ap = 0x7f4a7c15;

static uint32_t rng_next(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static uint32_t rng(void)
{
	return rng_next(&rng_bsp);
}

/* ---- enumeration ----------------------------------------------------------- */

static const enum pci_mech mechs[] = { PCI_MECH_PORT, PCI_MECH_ECAM };

/* Every function of bus 0 answers alike by both mechanisms; returns how
 * many answer. Only single-function devices exist here, so functions
 * 1-7 read all ones. */
static unsigned int enum_bus0(void)
{
	unsigned int found = 0;

	for (unsigned int dev = 0; dev < PCI_SLOTS; dev++) {
		for (unsigned int fn = 0; fn < PCI_FUNCS; fn++) {
			pci_bdf bdf = PCI_BDF(0, dev, fn);
			uint32_t id = pci_port_read(bdf, PCI_CFG_VENDOR, 4);

			EXPECT_EQ(pci_ecam_read(bdf, PCI_CFG_VENDOR, 4), id);
			if (id == ~0u)
				continue;
			found++;
			EXPECT_EQ(fn, 0);
			EXPECT(!(pci_port_read(bdf, PCI_CFG_HEADER_TYPE, 1) &
				 PCI_HEADER_MULTIFN));
		}
	}
	return found;
}

/* An absent function's every read by either mechanism, of every width,
 * is all ones (a master abort, PCI 3.0 3.2.2.3.2). */
static void expect_absent(enum pci_mech m, pci_bdf bdf)
{
	static const unsigned int offs[] = { 0x00, 0x06, 0x0e, 0x10, 0x3c, 0xff };

	for (unsigned int i = 0; i < ARRAY_SIZE(offs); i++)
		for (unsigned int len = 1; len <= 4; len *= 2) {
			unsigned int off = offs[i] & ~(len - 1);

			EXPECT_EQ(pci_mech_read(m, bdf, off, len), all_ones(len));
		}
}

/* The host bridge: IDs, class 06/00/00, a single-function type 0 header
 * (PCI 3.0 6.2.1), the same 256 bytes by both mechanisms. */
static void check_host_bridge(enum pci_mech m)
{
	EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_VENDOR, 2), HB_VENDOR);
	EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_DEVICE, 2), HB_DEVICE);
	EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_REVISION, 4) >> 8,
		  HB_CLASS);
	EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_HEADER_TYPE, 1), 0);
}

static void test_enum(void)
{
	unsigned int found = enum_bus0(), ext_bad = 0;
	uint32_t id = pci_ecam_read(HOST_BRIDGE, PCI_CFG_VENDOR, 4);

	check_host_bridge(PCI_MECH_PORT);
	check_host_bridge(PCI_MECH_ECAM);
	for (unsigned int off = 0; off < PCI_CFG_LEN; off += 4)
		EXPECT_EQ(pci_port_read(HOST_BRIDGE, off, 4),
			  pci_ecam_read(HOST_BRIDGE, off, 4));
	for (unsigned int fn = 1; fn < PCI_FUNCS; fn++) {
		expect_absent(PCI_MECH_PORT, PCI_BDF(0, 0, fn));
		expect_absent(PCI_MECH_ECAM, PCI_BDF(0, 0, fn));
	}
	for (unsigned int dev = 1; dev < PCI_SLOTS; dev++) {
		if (pci_present(PCI_BDF(0, dev, 0)))
			continue;
		expect_absent(PCI_MECH_PORT, PCI_BDF(0, dev, 0));
		expect_absent(PCI_MECH_ECAM, PCI_BDF(0, dev, 0));
	}
	/* ECAM holds bus 0 only (the MCFG's range): other buses by #1. */
	for (unsigned int bus = 1; bus < 256; bus++)
		EXPECT_EQ(pci_port_read(PCI_BDF(bus, 0, 0), 0, 4), ~0u);
	expect_absent(PCI_MECH_PORT, PCI_BDF(255, 31, 7));
	/* Conventional functions have no extended space: it reads 0 and
	 * ignores writes (PCI Express 4.0 7.2.2.2). */
	for (unsigned int off = PCI_CFG_LEN; off < PCI_ECAM_FUNC_LEN; off += 4) {
		pci_ecam_write(HOST_BRIDGE, off, 4, ~0u);
		ext_bad += pci_ecam_read(HOST_BRIDGE, off, 4) != 0;
	}
	EXPECT_EQ(ext_bad, 0);
	printf("enum: bus 0: %u function(s), the same by both mechanisms; "
	       "00:00.0 %04x:%04x class %06x header %02x; functions 1-7, "
	       "absent slots, buses 1-255: all ones; extended space: %s\n",
	       found, id & 0xffff, id >> 16,
	       pci_ecam_read(HOST_BRIDGE, PCI_CFG_REVISION, 4) >> 8,
	       pci_ecam_read(HOST_BRIDGE, PCI_CFG_HEADER_TYPE, 1),
	       ext_bad ? "NOT 0" : "0");
}

/* ---- mechanism #1 ---------------------------------------------------------- */

/*
 * PCI 3.0 3.2.2.3.2: only a dword access to 0xcf8 is CONFIG_ADDRESS
 * (others are ordinary I/O, which nothing here decodes); its reserved
 * bits 30:24 and bits 1:0 are read-only and read 0.
 */
static void test_config_address(void)
{
	uint32_t a = CF8_ENABLE | PCI_CFG_REVISION, line;

	outl(PCI_CONFIG_ADDRESS, a | CF8_RESERVED | 3);
	EXPECT_EQ(inl(PCI_CONFIG_ADDRESS), a);
	EXPECT_EQ(inb(PCI_CONFIG_ADDRESS), 0xff);
	EXPECT_EQ(inb(PCI_CONFIG_ADDRESS + 3), 0xff);
	EXPECT_EQ(inw(PCI_CONFIG_ADDRESS), 0xffff);
	EXPECT_EQ(inw(PCI_CONFIG_ADDRESS + 2), 0xffff);
	outb(PCI_CONFIG_ADDRESS, 0x40);
	outw(PCI_CONFIG_ADDRESS + 2, 0);
	EXPECT_EQ(inl(PCI_CONFIG_ADDRESS), a);
	EXPECT_EQ(inl(PCI_CONFIG_DATA) >> 8, HB_CLASS);
	/* Enable clear: no configuration cycle, reads all ones, writes
	 * reach nothing. */
	outl(PCI_CONFIG_ADDRESS, PCI_CFG_VENDOR);
	EXPECT_EQ(inl(PCI_CONFIG_DATA), ~0u);
	EXPECT_EQ(inw(PCI_CONFIG_DATA + 2), 0xffff);
	EXPECT_EQ(inb(PCI_CONFIG_DATA + 1), 0xff);
	line = pci_port_read(HOST_BRIDGE, PCI_CFG_INT_LINE, 1);
	outl(PCI_CONFIG_ADDRESS, PCI_CFG_INT_LINE);
	outb(PCI_CONFIG_DATA, (uint8_t)~line);
	EXPECT_EQ(pci_port_read(HOST_BRIDGE, PCI_CFG_INT_LINE, 1), line);
}

/* The data port's bytes are the dword's bytes: port 0xcfc + i, byte i. */
static void test_data_bytes(void)
{
	uint32_t id = (uint32_t)HB_DEVICE << 16 | HB_VENDOR, d;

	outl(PCI_CONFIG_ADDRESS, CF8_ENABLE | PCI_CFG_VENDOR);
	for (unsigned int i = 0; i < 4; i++)
		EXPECT_EQ(inb((uint16_t)(PCI_CONFIG_DATA + i)),
			  (id >> (8 * i)) & 0xff);
	for (unsigned int i = 0; i < 3; i++)
		EXPECT_EQ(inw((uint16_t)(PCI_CONFIG_DATA + i)),
			  (id >> (8 * i)) & 0xffff);
	/* Interrupt line (read-write), pin, Min_Gnt, Max_Lat (read-only):
	 * a byte written at each port lands in its own byte only. */
	d = pci_port_read(HOST_BRIDGE, PCI_CFG_INT_LINE, 4);
	outl(PCI_CONFIG_ADDRESS, CF8_ENABLE | PCI_CFG_INT_LINE);
	for (unsigned int i = 0; i < 4; i++)
		outb((uint16_t)(PCI_CONFIG_DATA + i), (uint8_t)(0xa5 + i));
	EXPECT_EQ(inl(PCI_CONFIG_DATA), (d & ~0xffu) | 0xa5);
	outw(PCI_CONFIG_DATA + 1, 0x1234);
	outw(PCI_CONFIG_DATA + 2, 0x5678);
	EXPECT_EQ(inl(PCI_CONFIG_DATA), (d & ~0xffu) | 0xa5);
	outw(PCI_CONFIG_DATA, 0x9a5a);
	EXPECT_EQ(inl(PCI_CONFIG_DATA), (d & ~0xffu) | 0x5a);
	outb(PCI_CONFIG_DATA, (uint8_t)d);
	EXPECT_EQ(inl(PCI_CONFIG_DATA), d);
}

static void test_port(void)
{
	unsigned int failed = checks_failed();

	test_config_address();
	test_data_bytes();
	printf("port: CONFIG_ADDRESS dword-only, bits 30:24 and 1:0 read 0; enable "
	       "clear reads all ones; bytes 0xcfc-0xcff and words 0xcfc-0xcfe "
	       "reach their bytes: %s\n",
	       checks_failed() == failed ? "ok" : "BAD");
}

/* ---- registers ------------------------------------------------------------- */

/* Writes of ones to the read-only registers change nothing: IDs,
 * revision and class, header type (PCI 3.0 6.2.1); status has no error
 * bit set to clear (RW1C), so it stays too (6.2.3). */
static void test_read_only(enum pci_mech m)
{
	uint32_t id = pci_mech_read(m, HOST_BRIDGE, PCI_CFG_VENDOR, 4);
	uint32_t class = pci_mech_read(m, HOST_BRIDGE, PCI_CFG_REVISION, 4);
	uint32_t ht = pci_mech_read(m, HOST_BRIDGE, PCI_CFG_HEADER_TYPE, 1);
	uint32_t st = pci_mech_read(m, HOST_BRIDGE, PCI_CFG_STATUS, 2);

	EXPECT_EQ(st & PCI_STATUS_RW1C, 0);
	pci_mech_write(m, HOST_BRIDGE, PCI_CFG_VENDOR, 4, ~id);
	pci_mech_write(m, HOST_BRIDGE, PCI_CFG_DEVICE, 1, 0);
	pci_mech_write(m, HOST_BRIDGE, PCI_CFG_REVISION, 4, ~class);
	pci_mech_write(m, HOST_BRIDGE, PCI_CFG_REVISION + 2, 2, 0);
	pci_mech_write(m, HOST_BRIDGE, PCI_CFG_HEADER_TYPE, 1, 0xff);
	pci_mech_write(m, HOST_BRIDGE, PCI_CFG_STATUS, 2, 0xffff);
	EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_VENDOR, 4), id);
	EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_REVISION, 4), class);
	EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_HEADER_TYPE, 1), ht);
	EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_STATUS, 2), st);
}

/* The command register: the bits that stay after writing all ones are
 * the writable ones (none reserved); any value reads back through that
 * mask. Returns the mask. */
static uint16_t test_command(enum pci_mech m)
{
	uint16_t mask, v;

	pci_mech_write(m, HOST_BRIDGE, PCI_CFG_COMMAND, 2, 0xffff);
	mask = (uint16_t)pci_mech_read(m, HOST_BRIDGE, PCI_CFG_COMMAND, 2);
	EXPECT_EQ(mask & COMMAND_RESERVED, 0);
	for (unsigned int i = 0; i < 16; i++) {
		v = (uint16_t)rng();
		pci_mech_write(m, HOST_BRIDGE, PCI_CFG_COMMAND, 2, v);
		EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_COMMAND, 2),
			  v & mask);
	}
	pci_mech_write(m, HOST_BRIDGE, PCI_CFG_COMMAND, 2, 0);
	EXPECT_EQ(pci_mech_read(m, HOST_BRIDGE, PCI_CFG_COMMAND, 2), 0);
	return mask;
}

/* The host bridge has no BARs (hardwired 0, sizing gives 0) and no
 * capabilities. */
static void test_bars_caps(void)
{
	struct pci_bar bar;
	unsigned int n = 0;

	for (unsigned int b = 0; b < PCI_NR_BARS; b += n) {
		n = pci_bar_probe(HOST_BRIDGE, b, &bar);
		EXPECT_EQ(bar.size, 0);
		EXPECT_EQ(bar.addr, 0);
	}
	EXPECT_EQ(pci_cap_next(HOST_BRIDGE, 0), 0);
	EXPECT_EQ(pci_intx_info(HOST_BRIDGE).pin, 0);
}

static void test_regs(void)
{
	unsigned int failed = checks_failed();
	uint16_t mask[2];
	pci_bdf found = ~0u;

	for (unsigned int i = 0; i < ARRAY_SIZE(mechs); i++) {
		test_read_only(mechs[i]);
		mask[i] = test_command(mechs[i]);
	}
	EXPECT_EQ(mask[0], mask[1]);
	test_bars_caps();
	EXPECT(pci_find(HB_VENDOR, HB_DEVICE, &found));
	EXPECT_EQ(found, HOST_BRIDGE);
	printf("regs: read-only IDs, class, header type, status kept by both "
	       "mechanisms; command keeps %#x of 0xffff; no BARs, no "
	       "capabilities: %s\n", mask[0],
	       checks_failed() == failed ? "ok" : "BAD");
}

/* ---- the other functions --------------------------------------------------- */

#define MOVE_TO                 0xd0000000u     /* high in the window */
#define MSIX_TEST_VECTOR        0x50

/* A capability list by PCI 3.0 6.7: dword-aligned pointers past the
 * header, no loop (pci_cap_next masks the low bits, so look at the raw
 * pointers). Returns how many capabilities there are. */
static unsigned int check_caps(pci_bdf bdf)
{
	unsigned int n = 0, raw;

	if (!(pci_read(bdf, PCI_CFG_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	raw = pci_read(bdf, PCI_CFG_CAP_PTR, 1);
	for (; raw && n <= 48; n++) {
		EXPECT_EQ(raw & 3, 0);
		EXPECT(raw >= 0x40);
		raw = pci_read(bdf, (raw & 0xfc) + 1, 1);
	}
	EXPECT(n <= 48);
	return n;
}

/* RAM a BAR is moved over: it must stay RAM. */
#define RAM_UNDER_LEN           0x10000u
static uint8_t ram_under[RAM_UNDER_LEN] __attribute__((aligned(RAM_UNDER_LEN)));

/* A BAR the guest moves, decoding on, over its own RAM and over the
 * ECAM (a software error, PCI 3.0 6.2.5.1, whose results are Keel's to
 * choose): RAM stays RAM and the ECAM stays the ECAM. */
static void check_bar_overlaps(pci_bdf bdf, unsigned int n,
			       struct pci_bar *bar)
{
	volatile uint32_t *ram = (volatile uint32_t *)ram_under;

	pci_command_set(bdf, PCI_COMMAND_MEMORY);
	if (bar->size <= RAM_UNDER_LEN) {
		pci_bar_move(bdf, n, bar, (uintptr_t)ram_under);
		ram[0] = 0x600dcafe;
		ram[bar->size / 4 - 1] = ~0x600dcafeu;
		EXPECT_EQ(ram[0], 0x600dcafe);
		EXPECT_EQ(ram[bar->size / 4 - 1], ~0x600dcafeu);
	}
	if (bar->size <= PCI_ECAM_BUS_SIZE) {
		pci_bar_move(bdf, n, bar, PCI_ECAM_BASE);
		check_host_bridge(PCI_MECH_ECAM);
	}
	pci_command_clear(bdf, PCI_COMMAND_MEMORY);
}

/* A memory BAR (PCI 3.0 6.2.5.1): a power of two of at least 16 bytes,
 * naturally aligned; moved high in the window and back, its register
 * follows. */
static void check_bar(pci_bdf bdf, unsigned int n, struct pci_bar *bar)
{
	uint64_t home = bar->addr;
	struct pci_bar again;

	EXPECT(!bar->io);
	EXPECT(bar->size >= 16 && !(bar->size & (bar->size - 1)));
	EXPECT_EQ(bar->addr & (bar->size - 1), 0);
	pci_bar_move(bdf, n, bar, MOVE_TO + n * bar->size);
	pci_bar_probe(bdf, n, &again);
	EXPECT_EQ(again.addr, MOVE_TO + n * bar->size);
	EXPECT_EQ(again.size, bar->size);
	check_bar_overlaps(bdf, n, bar);
	pci_bar_move(bdf, n, bar, home);
}

/* MSI-X (PCI 3.0 6.8.2): table and PBA inside their BARs, every entry
 * masked after reset, an entry's address and data read back. */
static unsigned int check_msix(pci_bdf bdf)
{
	struct pci_msix m;
	volatile uint32_t *e;

	if (!pci_cap_find(bdf, PCI_CAP_ID_MSIX))
		return 0;
	pci_command_set(bdf, PCI_COMMAND_MEMORY);
	if (!EXPECT(pci_msix_init(bdf, &m)))
		return 0;
	for (unsigned int i = 0; i < m.nr; i++)
		EXPECT(m.table[i * PCI_MSIX_ENTRY_LEN / 4 + 3] &
		       PCI_MSIX_VEC_MASKED);
	pci_msix_set(&m, 0, 0, MSIX_TEST_VECTOR);
	e = m.table;
	EXPECT_EQ(e[0], PCI_MSI_ADDR_BASE);
	EXPECT_EQ(e[2], MSIX_TEST_VECTOR);
	EXPECT_EQ(e[3] & PCI_MSIX_VEC_MASKED, 0);
	pci_msix_mask(&m, 0, true);
	EXPECT(e[3] & PCI_MSIX_VEC_MASKED);
	EXPECT(!pci_msix_pending(&m, 0));
	pci_command_clear(bdf, PCI_COMMAND_MEMORY);
	return m.nr;
}

/* INTx: pin 0 (none) or INTA#-INTD#; the line is the I/O APIC input the
 * DSDT's _PRT routes it to (16 + the bridge swizzle (slot + pin - 1) % 4). */
static struct pci_intx check_intx(pci_bdf bdf)
{
	struct pci_intx x = pci_intx_info(bdf);

	EXPECT(x.pin <= 4);
	if (x.pin)
		EXPECT_EQ(x.line, 16 + (PCI_BDF_DEV(bdf) + x.pin - 1) % 4);
	return x;
}

static void check_function(pci_bdf bdf)
{
	struct pci_bar bar;
	unsigned int bars = 0, caps, msix, step;
	struct pci_intx x;

	EXPECT_EQ(pci_read(bdf, PCI_CFG_HEADER_TYPE, 1) & 0x7f, 0);
	for (unsigned int n = 0; n < PCI_NR_BARS; n += step) {
		step = pci_bar_probe(bdf, n, &bar);
		if (bar.size) {
			check_bar(bdf, n, &bar);
			bars++;
		}
	}
	caps = check_caps(bdf);
	msix = check_msix(bdf);
	x = check_intx(bdf);
	printf("function %02x:%02x.%x %04x:%04x class %06x: %u BAR(s), %u "
	       "capabilities, %u MSI-X entries, INT%c -> %u\n",
	       PCI_BDF_BUS(bdf), PCI_BDF_DEV(bdf), PCI_BDF_FN(bdf),
	       pci_read(bdf, PCI_CFG_VENDOR, 2), pci_read(bdf, PCI_CFG_DEVICE, 2),
	       pci_read(bdf, PCI_CFG_REVISION, 4) >> 8, bars, caps, msix,
	       x.pin ? 'A' + x.pin - 1 : '-', x.line);
}

/* Every function besides the host bridge, whatever it is, by the rules
 * every function keeps. */
static void test_functions(void)
{
	unsigned int n = 0;

	for (unsigned int dev = 1; dev < PCI_SLOTS; dev++) {
		if (!pci_present(PCI_BDF(0, dev, 0)))
			continue;
		check_function(PCI_BDF(0, dev, 0));
		n++;
	}
	printf("functions: %u besides the host bridge\n", n);
}

/* After the storm: decoding off everywhere, so that the window is empty. */
static void all_decoding_off(void)
{
	for (unsigned int dev = 0; dev < PCI_SLOTS; dev++)
		if (pci_present(PCI_BDF(0, dev, 0)))
			pci_write(PCI_BDF(0, dev, 0), PCI_CFG_COMMAND, 2, 0);
}

/* ---- hostile accesses ------------------------------------------------------ */

static const unsigned int lens[] = { 1, 2, 4 };

/* One random write to (bus 0, dev, random function, off) through port
 * 0xcfc + (off & 3), of any width, even one running past 0xcff; now and
 * then CONFIG_ADDRESS itself takes a random dword or a narrow write. */
static void hostile_port_write(uint32_t *rs, unsigned int dev,
			       unsigned int off)
{
	uint32_t r = rng_next(rs);
	unsigned int len = lens[r % 3];
	uint16_t port = (uint16_t)(PCI_CONFIG_DATA + (off & 3));
	uint32_t fn = (r >> 8) % 16 < 12 ? 0 : (r >> 12) & 7;

	outl(PCI_CONFIG_ADDRESS, CF8_ENABLE | PCI_BDF(0, dev, fn) << 8 |
				 (off & 0xfc));
	if ((r >> 16) % 32 == 0)
		outl(PCI_CONFIG_ADDRESS, rng_next(rs));
	else if ((r >> 16) % 32 == 1)
		outw(PCI_CONFIG_ADDRESS + ((r >> 21) & 2), (uint16_t)rng_next(rs));
	if (len == 1)
		outb(port, (uint8_t)rng_next(rs));
	else if (len == 2)
		outw(port, (uint16_t)rng_next(rs));
	else
		outl(port, rng_next(rs));
}

/* One random ECAM write at (dev, random function, off), any width, may
 * cross a dword. */
static void hostile_ecam_write(uint32_t *rs, unsigned int dev,
			       unsigned int off)
{
	uint32_t r = rng_next(rs);
	uint32_t fn = (r >> 8) % 16 < 12 ? 0 : (r >> 12) & 7;
	volatile uint8_t *p = pci_ecam_ptr(PCI_BDF(0, dev, fn), off);

	switch (lens[r % 3]) {
	case 1: *p = (uint8_t)rng_next(rs); break;
	case 2: *(volatile uint16_t *)p = (uint16_t)rng_next(rs); break;
	default: *(volatile uint32_t *)p = rng_next(rs); break;
	}
}

/* Unaligned ECAM reads: inside a dword they are the dword's bytes
 * (PCI Express 4.0 7.2.2); crossing one they are undefined but must
 * not hurt (the value is printed). */
static uint32_t ecam_unaligned(void)
{
	uint32_t id = pci_ecam_read(HOST_BRIDGE, PCI_CFG_VENDOR, 4), cross;
	volatile uint8_t *p = pci_ecam_ptr(HOST_BRIDGE, 0);

	EXPECT_EQ(*(volatile uint16_t *)(p + 1), (id >> 8) & 0xffff);
	EXPECT_EQ(p[3], id >> 24);
	cross = *(volatile uint32_t *)(p + 1);
	for (unsigned int off = 1; off < PCI_CFG_LEN; off++) {
		if (off & 3)
			(void)*(volatile uint32_t *)(p + off);
		if ((off & 3) == 3)
			(void)*(volatile uint16_t *)(p + off);
	}
	return cross;
}

/* 8-byte CMPXCHG8B at p: what it read (the compare value is never
 * what an unclaimed or undefined read gives, so nothing is written). */
static uint64_t cmpxchg8b_at(volatile void *p)
{
	uint32_t lo = 0x12345678, hi = 0x9abcdef0;

	__asm__ volatile("lock cmpxchg8b %2"
			 : "+a"(lo), "+d"(hi), "+m"(*(volatile uint64_t *)p)
			 : "b"(0), "c"(0) : "memory", "cc");
	return (uint64_t)hi << 32 | lo;
}

/* String instructions over the host bridge's ECAM header: REP MOVSD
 * reads what dword reads give; REP STOSD writes ones over all of it,
 * which the read-only registers ignore. CMPXCHG8B (8 bytes, more than
 * ECAM defines) reads and writes nothing harmful. */
static uint64_t ecam_strings(void)
{
	uint32_t copy[PCI_CFG_LEN / 4];
	volatile void *p = pci_ecam_ptr(HOST_BRIDGE, 0);
	unsigned int n = ARRAY_SIZE(copy);
	void *dst = copy, *src = (void *)(uintptr_t)p;

	__asm__ volatile("rep movsl" : "+D"(dst), "+S"(src), "+c"(n)
			 :: "memory");
	for (unsigned int off = 0; off < PCI_CFG_LEN; off += 4)
		EXPECT_EQ(copy[off / 4], pci_port_read(HOST_BRIDGE, off, 4));
	n = 16;
	dst = (void *)(uintptr_t)p;
	__asm__ volatile("rep stosl" : "+D"(dst), "+c"(n) : "a"(~0u)
			 : "memory");
	return cmpxchg8b_at(p);
}

/* The host bridge reads as before the storm: everything but the
 * command register and the interrupt line (read-write by the spec). */
static unsigned int host_bridge_changed(const uint32_t *before)
{
	unsigned int changed = 0;

	for (unsigned int off = 0; off < PCI_CFG_LEN; off += 4) {
		uint32_t keep = off == PCI_CFG_COMMAND ? 0xffff0000u :
				off == PCI_CFG_INT_LINE ? 0xffffff00u : ~0u;

		for (unsigned int i = 0; i < ARRAY_SIZE(mechs); i++)
			changed += ((pci_mech_read(mechs[i], HOST_BRIDGE, off, 4) ^
				     before[off / 4]) & keep) != 0;
	}
	return changed;
}

/* Every slot's every offset, one random write by each mechanism. */
static unsigned int hostile_storm(uint32_t *rs)
{
	unsigned int writes = 0;

	for (unsigned int dev = 0; dev < PCI_SLOTS; dev++)
		for (unsigned int off = 0; off < PCI_CFG_LEN; off++) {
			hostile_port_write(rs, dev, off);
			hostile_ecam_write(rs, dev, off);
			writes++;
		}
	return writes;
}

/*
 * vCPU 1 (with a second vCPU): the same storm at the same time, racing
 * the BSP for CONFIG_ADDRESS (one register per host bridge, as on
 * hardware) and Keel's bus lock. Started by KEEL_HC_VCPU_START in flat
 * protected mode with the segments Keel cached: it loads the BSP's GDT
 * and IDT before anything could fault.
 */
static volatile uint32_t ap_writes;

static void ap_main(void)
{
	__atomic_store_n(&ap_writes, hostile_storm(&rng_ap), __ATOMIC_RELEASE);
}

/* Starts vCPU 1's storm if the guest has a second vCPU: false if not. */
static bool ap_storm_start(void)
{
	unsigned int nr_cpus = (cpuid(1, 0).ebx >> 16) & 0xff;

	return nr_cpus > 1 && EXPECT(vcpu_start(1, ap_main));
}

static unsigned int ap_storm_wait(void)
{
	uint64_t end = rdtsc_ordered() + 20000000000ULL;   /* a failure bound */

	while (!__atomic_load_n(&ap_writes, __ATOMIC_ACQUIRE) &&
	       rdtsc_ordered() < end)
		__asm__ volatile("pause");
	EXPECT(ap_writes);
	return ap_writes;
}

static void test_hostile_cfg(void)
{
	uint32_t before[PCI_CFG_LEN / 4], cross;
	uint64_t wide;
	unsigned int writes, ap = 0, changed;
	bool smp;

	for (unsigned int off = 0; off < PCI_CFG_LEN; off += 4)
		before[off / 4] = pci_port_read(HOST_BRIDGE, off, 4);
	smp = ap_storm_start();
	writes = hostile_storm(&rng_bsp);
	if (smp)
		ap = ap_storm_wait();
	cross = ecam_unaligned();
	wide = ecam_strings();
	changed = host_bridge_changed(before);
	EXPECT_EQ(changed, 0);
	check_host_bridge(PCI_MECH_PORT);
	check_host_bridge(PCI_MECH_ECAM);
	all_decoding_off();
	pci_port_write(HOST_BRIDGE, PCI_CFG_INT_LINE, 1, before[PCI_CFG_INT_LINE / 4]);
	printf("hostile: %u + %u (vCPU 1) random writes by each mechanism, "
	       "32 slots x 256 bytes; ECAM dword at 1: %#x, REP MOVSD/STOSD, "
	       "CMPXCHG8B: %#llx; host bridge %s\n", writes, ap, cross,
	       (unsigned long long)wide, changed ? "CHANGED" : "intact");
}

/* The memory window with no BAR decoding in it: reads all ones, writes vanish
 * (a master abort); a read crossing into ECAM's first page gets each
 * side's bytes. */
static void test_window(void)
{
	unsigned int reads = 0, bad = 0;

	for (uint32_t a = WINDOW_BASE; a < WINDOW_END; a += WINDOW_STEP) {
		uint32_t r = rng();
		uintptr_t p = a + (r & (WINDOW_STEP - 1) & ~3u);

		*(volatile uint32_t *)p = rng();
		*(volatile uint8_t *)(p + 1) = (uint8_t)r;
		bad += *(volatile uint32_t *)p != ~0u;
		bad += *(volatile uint16_t *)(p + (r & 3)) != 0xffff;
		bad += *(volatile uint8_t *)(p + ((r >> 2) & 3)) != 0xff;
		bad += cmpxchg8b_at((volatile void *)(p & ~7u)) != ~0ULL;
		reads += 4;
		if (a + WINDOW_STEP == WINDOW_END)
			continue;
		bad += *(volatile uint32_t *)(a + WINDOW_STEP - 2) != ~0u;
		reads++;
	}
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(*(volatile uint32_t *)(uintptr_t)(WINDOW_END - 2),
		  (uint32_t)HB_VENDOR << 16 | 0xffff);
	check_host_bridge(PCI_MECH_ECAM);
	printf("window: %u reads and %u writes over %#x-%#x: %s\n", reads,
	       2 * ((WINDOW_END - WINDOW_BASE) / WINDOW_STEP), WINDOW_BASE,
	       WINDOW_END - 1,
	       bad ? "NOT all ones" : "all ones");
}

/* ---- ACPI ------------------------------------------------------------------ */

#define BIOS_AREA               0xe0000u
#define BIOS_AREA_END           0x100000u
#define SDT_HEADER_LEN          36
#define XSDT_PTR                24
#define MCFG_ENTRY              44      /* after the header and 8 reserved */
#define MCFG_ENTRY_LEN          16
#define FADT_DSDT               40

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool sums_to_zero(const uint8_t *t, uint32_t len)
{
	uint8_t s = 0;

	for (uint32_t i = 0; i < len; i++)
		s = (uint8_t)(s + t[i]);
	return s == 0;
}

/* The table with this signature in the XSDT (ACPI 6.5 5.2.8), or NULL. */
static const uint8_t *acpi_table(const char *sig)
{
	const uint8_t *x = NULL;

	for (uint32_t a = BIOS_AREA; a < BIOS_AREA_END && !x; a += 16)
		if (!memcmp((const void *)(uintptr_t)a, "RSD PTR ", 8))
			x = (const uint8_t *)(uintptr_t)
				le32((const uint8_t *)(uintptr_t)a + XSDT_PTR);
	if (!x || memcmp(x, "XSDT", 4))
		return NULL;
	for (uint32_t off = SDT_HEADER_LEN; off + 8 <= le32(x + 4); off += 8) {
		const uint8_t *t = (const uint8_t *)(uintptr_t)le32(x + off);

		if (!memcmp(t, sig, 4))
			return t;
	}
	return NULL;
}

/* Whether the len bytes at t hold these n bytes. */
static bool holds(const uint8_t *t, uint32_t len, const void *what,
		  uint32_t n)
{
	for (uint32_t i = 0; i + n <= len; i++)
		if (!memcmp(t + i, what, n))
			return true;
	return false;
}

/* The DSDT names the host bridge \_SB.PCI0 with the _HID of a PCI
 * Express root bridge or the _CID of a PCI one: EISA IDs PNP0A08 and
 * PNP0A03 (ACPI 6.5 6.1.5, 19.6.48 EisaId packs them as 41 d0 0a 0x). */
static void check_dsdt_pci0(void)
{
	static const uint8_t pnp0a08[] = { 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t pnp0a03[] = { 0x41, 0xd0, 0x0a, 0x03 };
	const uint8_t *fadt = acpi_table("FACP"), *d;
	uint32_t len;

	if (!EXPECT(fadt))
		return;
	d = (const uint8_t *)(uintptr_t)le32(fadt + FADT_DSDT);
	len = le32(d + 4);
	EXPECT(sums_to_zero(d, len));
	EXPECT(holds(d, len, "PCI0", 4));
	EXPECT(holds(d, len, pnp0a08, 4));
	EXPECT(holds(d, len, pnp0a03, 4));
	printf("acpi: DSDT: PCI0 %s\n", holds(d, len, "PCI0", 4) &&
	       holds(d, len, pnp0a08, 4) ? "PNP0A08" : "MISSING");
}

/* PCI Firmware 3.2 4.1.2: one allocation, segment 0, buses 0-0 at the
 * ECAM base; the DSDT describes the bridge. */
static void test_acpi(void)
{
	const uint8_t *t = acpi_table("MCFG"), *e;
	uint32_t len;

	if (!t) {
		printf("acpi: no MCFG\n");
		return;
	}
	len = le32(t + 4);
	e = t + MCFG_ENTRY;
	EXPECT(sums_to_zero(t, len));
	EXPECT_EQ(len, MCFG_ENTRY + MCFG_ENTRY_LEN);
	EXPECT_EQ(le32(e), PCI_ECAM_BASE);
	EXPECT_EQ(le32(e + 4), 0);
	EXPECT_EQ(e[8] | e[9] << 8, 0);
	EXPECT_EQ(e[10], 0);
	EXPECT_EQ(e[11], 0);
	printf("acpi: MCFG: ECAM at %#x, segment %u, buses %u-%u\n", le32(e),
	       e[8] | e[9] << 8, e[10], e[11]);
	check_dsdt_pci0();
}

/* ---- a guest without the bus ----------------------------------------------- */

static void test_absent(void)
{
	outl(PCI_CONFIG_ADDRESS, CF8_ENABLE);
	EXPECT_EQ(inl(PCI_CONFIG_ADDRESS), ~0u);
	EXPECT_EQ(inl(PCI_CONFIG_DATA), ~0u);
	EXPECT_EQ(inw(PCI_CONFIG_DATA + 2), 0xffff);
	EXPECT_EQ(inb(PCI_CONFIG_DATA + 3), 0xff);
	EXPECT(!pci_present(HOST_BRIDGE));
	printf("absent: ports 0xcf8-0xcff unclaimed: %s\n",
	       checks_failed() ? "NOT all ones" : "all ones");
	EXPECT(!acpi_table("MCFG"));
	printf("absent: %s\n", acpi_table("MCFG") ? "an MCFG" : "no MCFG");
}

void guest_main(void)
{
	char mode[8];

	if (cmdline_get("mode", mode, sizeof(mode)) && !strncmp(mode, "absent", 7)) {
		test_absent();
		return;
	}
	test_enum();
	test_port();
	test_regs();
	test_functions();
	test_hostile_cfg();
	test_window();
	test_acpi();
}
