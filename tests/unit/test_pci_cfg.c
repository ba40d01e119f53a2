/* Host unit tests for a PCI function's configuration space and MSI-X
 * table (guest/pci_cfg.c), against PCI Local Bus 3.0. */
#include "guest/pci.h"
#include "tests/unit/test.h"

static struct pci_func f;

static void func_with_bars(void)
{
	pci_func_init(&f, 0x1af4, 0x1042, 0x010000, 0x1af4, 0x0002);
	pci_func_add_bar(&f, 0, 0x8000, false);
	pci_func_add_bar(&f, 2, 0x100000, true);
}

TEST(header_ids_and_read_only_registers)
{
	func_with_bars();
	EXPECT_EQ(pci_cfg_read(&f, PCI_VENDOR_ID, 4), 0x10421af4u);
	EXPECT_EQ(pci_cfg_read(&f, PCI_REVISION, 4), 0x01000001u);
	EXPECT_EQ(pci_cfg_read(&f, PCI_INTX_PIN, 1), 1u);
	pci_cfg_write(&f, PCI_VENDOR_ID, 4, 0);
	pci_cfg_write(&f, PCI_REVISION, 4, 0);
	pci_cfg_write(&f, PCI_INTX_PIN, 1, 3);
	EXPECT_EQ(pci_cfg_read(&f, PCI_VENDOR_ID, 4), 0x10421af4u);
	EXPECT_EQ(pci_cfg_read(&f, PCI_REVISION, 4), 0x01000001u);
	EXPECT_EQ(pci_cfg_read(&f, PCI_INTX_PIN, 1), 1u);
	EXPECT_EQ(pci_cfg_read(&f, 0x100, 4), 0u);      /* beyond 256 bytes */
}

TEST(command_keeps_only_writable_bits)
{
	func_with_bars();
	pci_cfg_write(&f, PCI_COMMAND, 2, 0xffff);
	EXPECT_EQ(pci_cfg_command(&f),
		  PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_DISABLE);
	pci_cfg_write(&f, PCI_INTX_LINE, 1, 0x5a);
	EXPECT_EQ(pci_cfg_read(&f, PCI_INTX_LINE, 1), 0x5au);
}

/* Writing all ones and reading back gives the size (6.2.5.1). */
TEST(bar_sizing_32_and_64_bit)
{
	func_with_bars();
	pci_cfg_write(&f, PCI_BAR0, 4, 0xffffffff);
	EXPECT_EQ(pci_cfg_read(&f, PCI_BAR0, 4), 0xffff8000u);
	pci_cfg_write(&f, PCI_BAR0 + 8, 4, 0xffffffff);
	pci_cfg_write(&f, PCI_BAR0 + 12, 4, 0xffffffff);
	EXPECT_EQ(pci_cfg_read(&f, PCI_BAR0 + 8, 4),
		  0xfff00000u | PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
	EXPECT_EQ(pci_cfg_read(&f, PCI_BAR0 + 12, 4), 0xffffffffu);
	EXPECT_EQ(pci_cfg_read(&f, PCI_BAR0 + 4, 4), 0u);   /* no BAR 1 */
}

TEST(bar_decodes_only_with_memory_space_inside_the_window)
{
	func_with_bars();
	pci_cfg_write(&f, PCI_BAR0, 4, 0xc0010000);
	EXPECT_EQ(f.bars[0].addr, 0xc0010000ULL);
	EXPECT_EQ(pci_bar_decode(&f, 0), 0ULL);         /* memory space off */
	pci_cfg_write(&f, PCI_COMMAND, 2, PCI_CMD_MEM);
	EXPECT_EQ(pci_bar_decode(&f, 0), 0xc0010000ULL);
	pci_cfg_write(&f, PCI_BAR0, 4, 0x00100000);     /* over RAM */
	EXPECT_EQ(pci_bar_decode(&f, 0), 0ULL);
	pci_cfg_write(&f, PCI_BAR0, 4, 0xdfffc000);     /* aligned down: last */
	EXPECT_EQ(pci_bar_decode(&f, 0), 0xdfff8000ULL);
	pci_cfg_write(&f, PCI_BAR0, 4, (uint32_t)PCI_ECAM_GPA);
	EXPECT_EQ(pci_bar_decode(&f, 0), 0ULL);
	pci_cfg_write(&f, PCI_BAR0 + 8, 4, 0xd0000000);
	pci_cfg_write(&f, PCI_BAR0 + 12, 4, 1);         /* above 4 GiB */
	EXPECT_EQ(f.bars[2].addr, 0x1d0000000ULL);
	EXPECT_EQ(pci_bar_decode(&f, 2), 0ULL);
	pci_cfg_write(&f, PCI_BAR0 + 12, 4, 0);
	EXPECT_EQ(pci_bar_decode(&f, 2), 0xd0000000ULL);
	EXPECT_EQ(pci_bar_decode(&f, 6), 0ULL);
}

TEST(capability_list_links_in_order)
{
	uint8_t body[16] = { 0 };
	unsigned int a, b;

	func_with_bars();
	a = pci_func_add_cap(&f, PCI_CAP_ID_VENDOR, body, 16);
	b = pci_func_add_cap(&f, PCI_CAP_ID_VENDOR, body, 14);
	EXPECT_EQ(a, 0x40u);
	EXPECT_EQ(b, 0x50u);
	EXPECT(pci_cfg_read(&f, PCI_STATUS, 2) & PCI_STATUS_CAPS);
	EXPECT_EQ(pci_cfg_read(&f, PCI_CAP_PTR, 1), 0x40u);
	EXPECT_EQ(pci_cfg_read(&f, a + 1, 1), 0x50u);
	EXPECT_EQ(pci_cfg_read(&f, b + 1, 1), 0u);
	EXPECT_EQ(pci_func_add_cap(&f, PCI_CAP_ID_VENDOR, body, 1), 0u);
	for (int i = 0; i < 20; i++)
		pci_func_add_cap(&f, PCI_CAP_ID_VENDOR, body, 16);
	EXPECT(f.cap_free <= PCI_CFG_SIZE - 1);        /* stopped at the end */
}

TEST(msix_capability_table_and_pba)
{
	uint8_t buf[8];
	unsigned int at;

	func_with_bars();
	at = pci_func_add_msix(&f, 0, 3, 0x4000, 0x5000);
	EXPECT(at);
	EXPECT_EQ(pci_cfg_read(&f, at + PCI_MSIX_CTRL, 2), 2u);  /* size - 1 */
	EXPECT_EQ(pci_cfg_read(&f, at + PCI_MSIX_TABLE, 4), 0x4000u);
	EXPECT(pci_msix_masked(&f, 0));                 /* masked at reset */
	EXPECT(!pci_msix_enabled(&f));
	pci_cfg_write(&f, at + PCI_MSIX_CTRL, 2, 0xffff);
	EXPECT_EQ(pci_cfg_read(&f, at + PCI_MSIX_CTRL, 2),
		  PCI_MSIX_ENABLE | PCI_MSIX_FMASK | 2u);
	pci_cfg_write(&f, at + PCI_MSIX_CTRL, 2, PCI_MSIX_ENABLE);
	EXPECT(pci_msix_enabled(&f));
	/* Entry 1: address, data, then unmask; only bit 0 of control sticks. */
	uint32_t v = 0xfee01000;
	EXPECT(pci_msix_access(&f, 0, 0x4010, &v, 4, true));
	v = 0x41;
	EXPECT(pci_msix_access(&f, 0, 0x4018, &v, 4, true));
	v = 0xfffffffe;
	EXPECT(pci_msix_access(&f, 0, 0x401c, &v, 4, true));
	EXPECT(!pci_msix_masked(&f, 1));
	EXPECT(pci_msix_access(&f, 0, 0x4018, buf, 8, false));
	EXPECT_EQ(buf[0], 0x41);
	EXPECT_EQ(buf[4], 0);
	/* Unaligned: answered, nothing written; outside: not the table's. */
	v = 0x99;
	EXPECT(pci_msix_access(&f, 0, 0x4019, &v, 4, true));
	EXPECT_EQ(f.msix[1].w[PCI_MSIX_DATA], 0x41u);
	EXPECT(!pci_msix_access(&f, 0, 0x4030, buf, 4, false));
	EXPECT(!pci_msix_access(&f, 1, 0x4010, buf, 4, false));
	f.msix_pending = 0x5;
	EXPECT(pci_msix_access(&f, 0, 0x5000, buf, 8, false));
	EXPECT_EQ(buf[0], 0x5);
	v = 0;
	EXPECT(pci_msix_access(&f, 0, 0x5000, &v, 4, true));  /* read-only */
	EXPECT_EQ(f.msix_pending, 0x5u);
}

TEST(msi_messages_decoded_per_sdm)
{
	struct pci_msi m;

	EXPECT(pci_msi_decode(0xfee03000, 0x41, &m));
	EXPECT_EQ(m.dest, 3u);
	EXPECT(!m.logical);
	EXPECT(!m.lowest);
	EXPECT_EQ(m.vector, 0x41);
	EXPECT(pci_msi_decode(0xfee0f004, 0x150, &m)); /* logical, lowest */
	EXPECT_EQ(m.dest, 0xfu);
	EXPECT(m.logical);
	EXPECT(m.lowest);
	EXPECT(!pci_msi_decode(0xfed00000, 0x41, &m)); /* not the APIC's */
	EXPECT(!pci_msi_decode(0xfee00000, 0x0f, &m)); /* reserved vector */
	EXPECT(!pci_msi_decode(0xfee00000, 0x441, &m)); /* NMI */
	EXPECT(!pci_msi_decode(0x1fee00000ULL, 0x41, &m));
}

TEST_MAIN()
