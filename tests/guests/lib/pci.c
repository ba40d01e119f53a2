/* PCI configuration space, BARs, capabilities and MSI-X (see pci.h). */
#include "guest.h"
#include "pci.h"

#define CONFIG_ADDRESS_ENABLE   0x80000000u
#define CAP_PTR_MASK            0xfcu   /* the low two bits are reserved */
#define MAX_CAPS                48      /* (256 - 64) / 4 */

enum pci_mech pci_default_mech = PCI_MECH_PORT;

/* ---- mechanism #1 ---------------------------------------------------------- */

/* CONFIG_ADDRESS for bdf's dword holding off (PCI 3.0 3.2.2.3.2). */
static uint32_t config_address(pci_bdf bdf, unsigned int off)
{
	return CONFIG_ADDRESS_ENABLE | (bdf & 0xffff) << 8 | (off & 0xfc);
}

uint32_t pci_port_read(pci_bdf bdf, unsigned int off, unsigned int len)
{
	uint16_t port = (uint16_t)(PCI_CONFIG_DATA + (off & 3));

	outl(PCI_CONFIG_ADDRESS, config_address(bdf, off));
	if (len == 1)
		return inb(port);
	if (len == 2)
		return inw(port);
	return inl(port);
}

void pci_port_write(pci_bdf bdf, unsigned int off, unsigned int len,
		    uint32_t val)
{
	uint16_t port = (uint16_t)(PCI_CONFIG_DATA + (off & 3));

	outl(PCI_CONFIG_ADDRESS, config_address(bdf, off));
	if (len == 1)
		outb(port, (uint8_t)val);
	else if (len == 2)
		outw(port, (uint16_t)val);
	else
		outl(port, val);
}

/* ---- ECAM ------------------------------------------------------------------ */

volatile void *pci_ecam_ptr(pci_bdf bdf, unsigned int off)
{
	uintptr_t a = PCI_ECAM_BASE +
		      ((uintptr_t)(bdf & 0xff) << 12 | (off & 0xfff));

	return (volatile void *)a;
}

/* Each access is one instruction of its width, as a device sees it. */
uint32_t pci_ecam_read(pci_bdf bdf, unsigned int off, unsigned int len)
{
	volatile void *p = pci_ecam_ptr(bdf, off);

	if (len == 1)
		return *(volatile uint8_t *)p;
	if (len == 2)
		return *(volatile uint16_t *)p;
	return *(volatile uint32_t *)p;
}

void pci_ecam_write(pci_bdf bdf, unsigned int off, unsigned int len,
		    uint32_t val)
{
	volatile void *p = pci_ecam_ptr(bdf, off);

	if (len == 1)
		*(volatile uint8_t *)p = (uint8_t)val;
	else if (len == 2)
		*(volatile uint16_t *)p = (uint16_t)val;
	else
		*(volatile uint32_t *)p = val;
}

/* ---- either ---------------------------------------------------------------- */

uint32_t pci_mech_read(enum pci_mech m, pci_bdf bdf, unsigned int off,
		       unsigned int len)
{
	return m == PCI_MECH_ECAM ? pci_ecam_read(bdf, off, len) :
				    pci_port_read(bdf, off, len);
}

void pci_mech_write(enum pci_mech m, pci_bdf bdf, unsigned int off,
		    unsigned int len, uint32_t val)
{
	if (m == PCI_MECH_ECAM)
		pci_ecam_write(bdf, off, len, val);
	else
		pci_port_write(bdf, off, len, val);
}

uint32_t pci_read(pci_bdf bdf, unsigned int off, unsigned int len)
{
	return pci_mech_read(pci_default_mech, bdf, off, len);
}

void pci_write(pci_bdf bdf, unsigned int off, unsigned int len, uint32_t val)
{
	pci_mech_write(pci_default_mech, bdf, off, len, val);
}

/* ---- finding functions ----------------------------------------------------- */

/* An absent function's reads end as master aborts: all ones (PCI 3.0
 * 3.2.2.3.2), so vendor 0xffff is no function. */
bool pci_present(pci_bdf bdf)
{
	return pci_read(bdf, PCI_CFG_VENDOR, 2) != 0xffff;
}

/* Functions 1-7 exist only behind a multi-function function 0 (PCI 3.0
 * 6.2.1, header type bit 7). */
static unsigned int nr_funcs(pci_bdf fn0)
{
	return pci_read(fn0, PCI_CFG_HEADER_TYPE, 1) & PCI_HEADER_MULTIFN ?
	       PCI_FUNCS : 1;
}

bool pci_find(uint16_t vendor, uint16_t device, pci_bdf *out)
{
	uint32_t want = (uint32_t)device << 16 | vendor;

	for (unsigned int dev = 0; dev < PCI_SLOTS; dev++) {
		pci_bdf fn0 = PCI_BDF(0, dev, 0);

		if (!pci_present(fn0))
			continue;
		for (unsigned int fn = 0; fn < nr_funcs(fn0); fn++) {
			if (pci_read(fn0 | fn, PCI_CFG_VENDOR, 4) == want) {
				*out = fn0 | fn;
				return true;
			}
		}
	}
	return false;
}

/* ---- BARs ------------------------------------------------------------------ */

uint16_t pci_command_set(pci_bdf bdf, uint16_t bits)
{
	uint16_t cmd = (uint16_t)(pci_read(bdf, PCI_CFG_COMMAND, 2) | bits);

	pci_write(bdf, PCI_CFG_COMMAND, 2, cmd);
	return cmd;
}

uint16_t pci_command_clear(pci_bdf bdf, uint16_t bits)
{
	uint16_t cmd = (uint16_t)(pci_read(bdf, PCI_CFG_COMMAND, 2) & ~bits);

	pci_write(bdf, PCI_CFG_COMMAND, 2, cmd);
	return cmd;
}

/* One BAR register's writable bits: write all ones, read, restore. */
static uint32_t bar_ones(pci_bdf bdf, unsigned int reg)
{
	uint32_t old = pci_read(bdf, reg, 4), ones;

	pci_write(bdf, reg, 4, ~0u);
	ones = pci_read(bdf, reg, 4);
	pci_write(bdf, reg, 4, old);
	return ones;
}

/*
 * PCI 3.0 6.2.5.1: the lowest address bit that stays set after writing
 * all ones is the size (a 64-bit memory BAR's upper dword is the next
 * register; an I/O BAR's upper 16 bits may read zero). Decoding is off
 * while the BAR holds the wild address.
 */
unsigned int pci_bar_probe(pci_bdf bdf, unsigned int n, struct pci_bar *bar)
{
	unsigned int reg = PCI_CFG_BAR0 + 4 * n;
	uint16_t cmd = (uint16_t)pci_read(bdf, PCI_CFG_COMMAND, 2);
	uint32_t lo = pci_read(bdf, reg, 4);
	uint32_t flags = lo & PCI_BAR_IO ? PCI_BAR_IO_MASK : PCI_BAR_MEM_MASK;
	uint64_t mask;

	*bar = (struct pci_bar){ .io = lo & PCI_BAR_IO, .addr = lo & ~flags };
	bar->mem64 = !bar->io && (lo & PCI_BAR_TYPE_MASK) == PCI_BAR_TYPE_64 &&
		     n + 1 < PCI_NR_BARS;
	bar->prefetch = !bar->io && (lo & PCI_BAR_PREFETCH);
	pci_write(bdf, PCI_CFG_COMMAND, 2,
		  cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	mask = bar_ones(bdf, reg) & ~flags;
	if (bar->mem64) {
		mask |= (uint64_t)bar_ones(bdf, reg + 4) << 32;
		bar->addr |= (uint64_t)pci_read(bdf, reg + 4, 4) << 32;
	}
	pci_write(bdf, PCI_CFG_COMMAND, 2, cmd);
	bar->size = mask & (~mask + 1);
	return bar->mem64 ? 2 : 1;
}

void pci_bar_move(pci_bdf bdf, unsigned int n, struct pci_bar *bar,
		  uint64_t addr)
{
	unsigned int reg = PCI_CFG_BAR0 + 4 * n;
	uint16_t cmd = (uint16_t)pci_read(bdf, PCI_CFG_COMMAND, 2);
	uint32_t low_bits = pci_read(bdf, reg, 4) & PCI_BAR_MEM_MASK;

	pci_write(bdf, PCI_CFG_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	pci_write(bdf, reg, 4, (uint32_t)addr | low_bits);
	if (bar->mem64)
		pci_write(bdf, reg + 4, 4, (uint32_t)(addr >> 32));
	pci_write(bdf, PCI_CFG_COMMAND, 2, cmd);
	bar->addr = addr;
}

/* ---- capabilities ---------------------------------------------------------- */

/* The list starts at the capabilities pointer when the status register
 * says there is one (PCI 3.0 6.7); each entry is ID, next, body. A
 * pointer below the header (0x40) ends the list. */
unsigned int pci_cap_next(pci_bdf bdf, unsigned int from)
{
	unsigned int next;

	if (!from) {
		if (!(pci_read(bdf, PCI_CFG_STATUS, 2) & PCI_STATUS_CAP_LIST))
			return 0;
		next = pci_read(bdf, PCI_CFG_CAP_PTR, 1);
	} else {
		next = pci_read(bdf, from + 1, 1);
	}
	next &= CAP_PTR_MASK;
	return next < 0x40 ? 0 : next;
}

unsigned int pci_cap_find(pci_bdf bdf, uint8_t id)
{
	unsigned int cap = pci_cap_next(bdf, 0);

	for (unsigned int i = 0; cap && i < MAX_CAPS; i++) {
		if (pci_read(bdf, cap, 1) == id)
			return cap;
		cap = pci_cap_next(bdf, cap);
	}
	return 0;
}

/* ---- MSI-X ----------------------------------------------------------------- */

/* Where a table-or-PBA dword (BIR in bits 2:0, offset above) points: the
 * named BAR's address plus the offset. Null if the BAR is not memory. */
static volatile uint32_t *msix_locate(pci_bdf bdf, uint32_t bir_off)
{
	struct pci_bar bar;

	pci_bar_probe(bdf, bir_off & PCI_MSIX_BIR_MASK, &bar);
	if (bar.io || !bar.size)
		return NULL;
	return (volatile uint32_t *)(uintptr_t)
		(bar.addr + (bir_off & ~PCI_MSIX_BIR_MASK));
}

bool pci_msix_init(pci_bdf bdf, struct pci_msix *m)
{
	unsigned int cap = pci_cap_find(bdf, PCI_CAP_ID_MSIX);

	if (!cap)
		return false;
	m->bdf = bdf;
	m->cap = cap;
	m->nr = (pci_read(bdf, cap + PCI_MSIX_CONTROL, 2) &
		 PCI_MSIX_SIZE_MASK) + 1;
	m->table = msix_locate(bdf, pci_read(bdf, cap + PCI_MSIX_TABLE, 4));
	m->pba = msix_locate(bdf, pci_read(bdf, cap + PCI_MSIX_PBA, 4));
	return m->table && m->pba;
}

/* An entry's dwords: address low, address high, data, vector control
 * (PCI 3.0 6.8.2.6-9). The address and data are written while the entry
 * is masked, so no half-written message can go out. */
void pci_msix_set(struct pci_msix *m, unsigned int n, uint8_t apic_id,
		  uint8_t vector)
{
	volatile uint32_t *e = m->table + n * (PCI_MSIX_ENTRY_LEN / 4);

	pci_msix_mask(m, n, true);
	e[0] = PCI_MSI_ADDR_BASE | (uint32_t)apic_id << PCI_MSI_ADDR_DEST_SHIFT;
	e[1] = 0;
	e[2] = vector;
	pci_msix_mask(m, n, false);
}

void pci_msix_mask(struct pci_msix *m, unsigned int n, bool masked)
{
	volatile uint32_t *ctrl = m->table + n * (PCI_MSIX_ENTRY_LEN / 4) + 3;

	*ctrl = masked ? (*ctrl | PCI_MSIX_VEC_MASKED) :
			 (*ctrl & ~PCI_MSIX_VEC_MASKED);
}

void pci_msix_enable(struct pci_msix *m, bool on)
{
	unsigned int reg = m->cap + PCI_MSIX_CONTROL;
	uint16_t ctrl = (uint16_t)pci_read(m->bdf, reg, 2);

	ctrl &= (uint16_t)~(PCI_MSIX_ENABLE | PCI_MSIX_MASKALL);
	if (on)
		ctrl |= PCI_MSIX_ENABLE;
	pci_write(m->bdf, reg, 2, ctrl);
}

bool pci_msix_pending(const struct pci_msix *m, unsigned int n)
{
	return m->pba[n / 32] & (1u << (n % 32));
}

/* ---- INTx ------------------------------------------------------------------ */

struct pci_intx pci_intx_info(pci_bdf bdf)
{
	return (struct pci_intx){
		.pin = (uint8_t)pci_read(bdf, PCI_CFG_INT_PIN, 1),
		.line = (uint8_t)pci_read(bdf, PCI_CFG_INT_LINE, 1),
	};
}
