/*
 * A PCI function's configuration space and MSI-X table (guest/pci.h), as
 * pure code: what the guest reads and writes, checked against the bits
 * it may change. The bus (guest/pci.c) adds locking and delivery.
 */
#include "guest/pci.h"
#include "arch/string.h"
#include "arch/bytes.h"

void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device,
		   uint32_t class, uint16_t subsys_vendor, uint16_t subsys)
{
	memset(f, 0, sizeof(*f));
	put16(f->cfg, PCI_VENDOR_ID, vendor);
	put16(f->cfg, PCI_DEVICE_ID, device);
	put32(f->cfg, PCI_REVISION, class << 8 | 1);
	put16(f->cfg, PCI_SUBSYS_VENDOR, subsys_vendor);
	put16(f->cfg, PCI_SUBSYS_ID, subsys);
	f->cfg[PCI_INTX_PIN] = 1;               /* INTA# */
	/* Memory space, bus master and INTx disable (PCI 3.0 6.2.2); the
	 * interrupt line is the guest's scratch byte. */
	put16(f->wmask, PCI_COMMAND,
	      PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_DISABLE);
	f->wmask[PCI_INTX_LINE] = 0xff;
}

/* A BAR's writable bits are its address bits: writing all ones and
 * reading back gives the size (PCI 3.0 6.2.5.1), with no code of its
 * own. The low four bits say memory, 32/64-bit and prefetchable. */
void pci_func_add_bar(struct pci_func *f, unsigned int bar, uint64_t size,
		      bool mem64)
{
	unsigned int off = PCI_BAR0 + 4 * bar;
	uint64_t mask = ~(size - 1);

	f->bars[bar] = (struct pci_bar){ .size = size, .mem64 = mem64 };
	put32(f->cfg, off, mem64 ? PCI_BAR_MEM64 | PCI_BAR_PREFETCH : 0);
	put32(f->wmask, off, (uint32_t)mask & ~0xfu);
	if (mem64)
		put32(f->wmask, off + 4, (uint32_t)(mask >> 32));
}

/* Capabilities follow the header from 0x40 on, each linked from the one
 * before it (PCI 3.0 6.7), dword-aligned. */
unsigned int pci_func_add_cap(struct pci_func *f, uint8_t id,
			      const void *body, unsigned int len)
{
	unsigned int at = f->cap_free ? f->cap_free : 0x40;

	if (len < 2 || at + len > PCI_CFG_SIZE)
		return 0;
	memcpy(&f->cfg[at], body, len);
	f->cfg[at] = id;
	f->cfg[at + 1] = 0;
	f->cfg[f->cap_link ? f->cap_link : PCI_CAP_PTR] = (uint8_t)at;
	f->cap_link = (uint8_t)(at + 1);
	f->cap_free = (uint8_t)MIN(ALIGN_UP(at + len, 4u), 0xffu);
	f->cfg[PCI_STATUS] |= PCI_STATUS_CAPS;
	return at;
}

/* The MSI-X capability (PCI 3.0 6.8.2): table size minus one in the
 * control word, enable and function mask writable; every entry starts
 * masked. */
unsigned int pci_func_add_msix(struct pci_func *f, unsigned int bar,
			       unsigned int n, uint32_t table_off,
			       uint32_t pba_off)
{
	uint8_t cap[PCI_MSIX_CAP_LEN] = { 0 };
	unsigned int at;

	if (!n || n > PCI_MSIX_MAX || bar >= PCI_BARS)
		return 0;
	put16(cap, PCI_MSIX_CTRL, (uint16_t)(n - 1));
	put32(cap, PCI_MSIX_TABLE, table_off | bar);
	put32(cap, PCI_MSIX_PBA, pba_off | bar);
	at = pci_func_add_cap(f, PCI_CAP_ID_MSIX, cap, sizeof(cap));
	if (!at)
		return 0;
	put16(f->wmask, at + PCI_MSIX_CTRL, PCI_MSIX_ENABLE | PCI_MSIX_FMASK);
	f->msix_cap = (uint8_t)at;
	f->msix_bar = (uint8_t)bar;
	f->nr_msix = (uint16_t)n;
	f->msix_table_off = table_off;
	f->msix_pba_off = pba_off;
	for (unsigned int i = 0; i < n; i++)
		f->msix[i].w[PCI_MSIX_VECTOR_CTRL] = PCI_MSIX_ENTRY_MASKED;
	return at;
}

uint32_t pci_cfg_read(const struct pci_func *f, unsigned int off,
		      unsigned int len)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		if (off + i < PCI_CFG_SIZE)
			v |= (uint32_t)f->cfg[off + i] << (8 * i);
	return v;
}

/* A BAR's address as its registers now hold it. */
static uint64_t bar_addr(const struct pci_func *f, unsigned int bar)
{
	uint64_t a = get32(f->cfg, PCI_BAR0 + 4 * bar) & ~0xfULL;

	if (f->bars[bar].mem64)
		a |= (uint64_t)get32(f->cfg, PCI_BAR0 + 4 * bar + 4) << 32;
	return a;
}

void pci_cfg_write(struct pci_func *f, unsigned int off, unsigned int len,
		   uint32_t val)
{
	for (unsigned int i = 0; i < len && off + i < PCI_CFG_SIZE; i++) {
		uint8_t m = f->wmask[off + i];
		uint8_t b = (uint8_t)(val >> (8 * i));

		f->cfg[off + i] = (uint8_t)((f->cfg[off + i] & ~m) | (b & m));
	}
	for (unsigned int b = 0; b < PCI_BARS; b++)
		if (f->bars[b].size)
			f->bars[b].addr = bar_addr(f, b);
}

uint16_t pci_cfg_command(const struct pci_func *f)
{
	return (uint16_t)pci_cfg_read(f, PCI_COMMAND, 2);
}

uint64_t pci_bar_decode(const struct pci_func *f, unsigned int bar)
{
	const struct pci_bar *b;

	if (bar >= PCI_BARS)
		return 0;
	b = &f->bars[bar];
	if (!b->size || !(pci_cfg_command(f) & PCI_CMD_MEM))
		return 0;
	if (b->addr < PCI_MMIO_GPA ||
	    b->addr + b->size > PCI_MMIO_GPA + PCI_MMIO_SIZE)
		return 0;
	return b->addr;
}

/* MSI-X control word: enabled, and the function mask. */
static uint16_t msix_ctrl(const struct pci_func *f)
{
	return f->msix_cap ? (uint16_t)pci_cfg_read(f, f->msix_cap +
						    PCI_MSIX_CTRL, 2) : 0;
}

bool pci_msix_enabled(const struct pci_func *f)
{
	return msix_ctrl(f) & PCI_MSIX_ENABLE;
}

bool pci_msix_masked(const struct pci_func *f, unsigned int n)
{
	return (msix_ctrl(f) & PCI_MSIX_FMASK) ||
	       (f->msix[n].w[PCI_MSIX_VECTOR_CTRL] & PCI_MSIX_ENTRY_MASKED);
}

/* The MSI-X table's dwords: only the mask bit of an entry's vector
 * control is writable (PCI 3.0 6.8.2.9). */
static void msix_table_access(struct pci_func *f, uint64_t off, uint8_t *buf,
			      unsigned int len, bool write)
{
	for (unsigned int i = 0; i < len; i += 4) {
		unsigned int word = (unsigned int)((off + i) % PCI_MSIX_ENTRY_SIZE) / 4;
		uint32_t *w = &f->msix[(off + i) / PCI_MSIX_ENTRY_SIZE].w[word];

		if (!write)
			put32(buf, i, *w);
		else if (word == PCI_MSIX_VECTOR_CTRL)
			*w = get32(buf, i) & PCI_MSIX_ENTRY_MASKED;
		else
			*w = get32(buf, i);
	}
}

/* The PBA is read-only: a pending bit clears when its message goes. */
static void msix_pba_read(const struct pci_func *f, uint64_t off,
			  uint8_t *buf, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++) {
		uint64_t byte = off + i;

		buf[i] = byte < 4 ? (uint8_t)(f->msix_pending >> (8 * byte)) : 0;
	}
}

/* Aligned dword and qword accesses are the only ones defined (PCI 3.0
 * 6.8.2); others read zero and write nothing. */
bool pci_msix_access(struct pci_func *f, unsigned int bar, uint64_t off,
		     void *buf, unsigned int len, bool write)
{
	uint64_t table_len = (uint64_t)f->nr_msix * PCI_MSIX_ENTRY_SIZE;
	uint64_t pba_len = 8;
	bool ok = (len == 4 || len == 8) && !(off & (len - 1));

	if (!f->msix_cap || bar != f->msix_bar)
		return false;
	if (off - f->msix_table_off < table_len) {
		if (ok)
			msix_table_access(f, off - f->msix_table_off, buf, len,
					  write);
		else if (!write)
			memset(buf, 0, len);
		return true;
	}
	if (off - f->msix_pba_off >= pba_len)
		return false;
	if (!write) {
		if (ok)
			msix_pba_read(f, off - f->msix_pba_off, buf, len);
		else
			memset(buf, 0, len);
	}
	return true;
}

/*
 * An MSI message (SDM Vol. 3A 11.11): the address names the destination
 * (bits 19:12, bit 2 logical), the data the vector and delivery mode.
 * Fixed and lowest-priority messages to 0xfeexxxxx are delivered; others
 * (not an interrupt address, vectors below 16, NMI, SMI, INIT) are not
 * taken: false.
 */
bool pci_msi_decode(uint64_t addr, uint32_t data, struct pci_msi *m)
{
	unsigned int mode = (data >> 8) & 7;

	if ((addr >> 20) != 0xfee || (data & 0xff) < 16 || mode > 1)
		return false;
	m->dest = (uint32_t)(addr >> 12) & 0xff;
	m->logical = addr & BIT_ULL(2);
	m->lowest = mode == 1;
	m->vector = (uint8_t)data;
	return true;
}
