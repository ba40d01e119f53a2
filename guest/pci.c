/*
 * A guest's PCI bus (guest/pci.h): configuration space through ports
 * 0xcf8/0xcfc and ECAM, memory BARs in the PCI window, MSI-X and INTx.
 * The bus lock covers configuration space, BAR registers and MSI-X
 * tables; device register files are called without it, so a device may
 * signal its interrupts from inside them. Only a guest with a bus gets
 * here: its ports and ECAM are dispatched to this file only then
 * (guest/devices.c).
 */
#include "guest/pci.h"
#include "guest/guest.h"
#include "guest/vlapic.h"
#include "guest/ioapic.h"
#include "arch/errno.h"
#include "drivers/printk.h"
#include "arch/string.h"

/* A generic PCIe host bridge (class 06/00/00). */
#define HOST_BRIDGE_VENDOR      0x1b36
#define HOST_BRIDGE_DEVICE      0x0008
#define PCI_CLASS_HOST_BRIDGE   0x060000

#define CF8_ENABLE              BIT_ULL(31)
/* Bits 30:24 (reserved) and 1:0 are read-only zeros (PCI 3.0 3.2.2.3.2). */
#define CF8_WRITABLE            0x80fffffcu
#define CF8_BUS(a)              (((a) >> 16) & 0xff)
#define CF8_SLOT(a)             (((a) >> 11) & 0x1f)
#define CF8_FUNC(a)             (((a) >> 8) & 0x7)
#define CF8_REG(a)              ((a) & 0xfc)

#define ECAM_SLOT(off)          (((off) >> 15) & 0x1f)
#define ECAM_FUNC(off)          (((off) >> 12) & 0x7)
#define ECAM_REG(off)           ((off) & 0xfff)

static struct pci_func *pci_func_at(struct guest *g, unsigned int slot,
				    unsigned int func)
{
	struct pci_bus *bus = &g->dev.pci->bus;

	if (slot >= PCI_MAX_FUNCS || func)
		return NULL;
	return bus->funcs[slot];
}

/* MSI-X messages that became deliverable: the entry or function got
 * unmasked, or MSI-X was switched on. Called with the bus lock held. */
static void msix_send(struct pci_func *f, unsigned int n)
{
	const uint32_t *w = f->msix[n].w;
	uint64_t addr = w[PCI_MSIX_ADDR_LO] |
			(uint64_t)w[PCI_MSIX_ADDR_HI] << 32;
	struct pci_msi m;

	f->msix_pending &= ~(uint32_t)BIT_ULL(n);
	if (pci_msi_decode(addr, w[PCI_MSIX_DATA], &m))
		vlapic_deliver_irq(f->g, m.dest, m.logical, m.lowest, m.vector,
				   false);
	else
		f->msix_bad++;
}

/* An MSI-X message is a memory write, which a function may only issue
 * with Bus Master Enable set (PCIe Base 4.0 7.5.1.1.3): until then it
 * stays pending. */
static void msix_flush_pending(struct pci_func *f)
{
	if (!pci_msix_enabled(f) || !(pci_cfg_command(f) & PCI_CMD_MASTER))
		return;
	for (unsigned int n = 0; n < f->nr_msix; n++)
		if ((f->msix_pending & BIT_ULL(n)) && !pci_msix_masked(f, n))
			msix_send(f, n);
}

/* INTx reaches the I/O APIC only while the function drives it and the
 * guest has not disabled it (PCI 3.0 6.2.2, 6.2.3). */
static void intx_update(struct pci_func *f)
{
	bool on = f->intx_level &&
		  !(pci_cfg_command(f) & PCI_CMD_INTX_DISABLE);
	unsigned int pin = PCI_INTX_GSI_BASE + f->slot % 4;

	if (f->intx_level)
		f->cfg[PCI_STATUS] |= PCI_STATUS_INTX;
	else
		f->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTX;
	if (f->slot && f->g->dev.ioapic.present)
		ioapic_set_irq(f->g, pin, on);
}

static uint32_t cfg_read(struct guest *g, unsigned int slot,
			 unsigned int func, unsigned int reg, unsigned int len)
{
	struct pci_func *f = pci_func_at(g, slot, func);
	uint32_t v;

	if (!f)
		return len == 4 ? ~0u : (1u << (8 * len)) - 1;
	spin_lock(&g->dev.pci->bus.lock);
	v = reg < PCI_CFG_SIZE ? pci_cfg_read(f, reg, len) : 0;
	spin_unlock(&g->dev.pci->bus.lock);
	return v;
}

static void cfg_write(struct guest *g, unsigned int slot, unsigned int func,
		      unsigned int reg, unsigned int len, uint32_t val)
{
	struct pci_func *f = pci_func_at(g, slot, func);

	if (!f || reg >= PCI_CFG_SIZE)
		return;
	spin_lock(&g->dev.pci->bus.lock);
	pci_cfg_write(f, reg, len, val);
	msix_flush_pending(f);
	intx_update(f);
	spin_unlock(&g->dev.pci->bus.lock);
}

/* Mechanism #1: the address register is only ever a dword at 0xcf8;
 * the data port's bytes 0-3 reach the same bytes of the dword the
 * address selects. Bus 0 is the only bus. */
void pci_port_io(struct guest *g, uint16_t off, unsigned int size, bool in,
		 uint32_t *val)
{
	struct pci_bus *bus = &g->dev.pci->bus;
	uint32_t a = READ_ONCE(bus->cf8);
	unsigned int reg = CF8_REG(a) + (off & 3);

	if (off < 4) {
		if (off == 0 && size == 4 && in)
			*val = a;
		else if (off == 0 && size == 4)
			WRITE_ONCE(bus->cf8, *val & CF8_WRITABLE);
		else if (in)
			*val = size == 4 ? ~0u : (1u << (8 * size)) - 1;
		return;
	}
	if (!(a & CF8_ENABLE) || CF8_BUS(a) || (off & 3) + size > 4) {
		if (in)
			*val = size == 4 ? ~0u : (1u << (8 * size)) - 1;
		return;
	}
	if (in)
		*val = cfg_read(g, CF8_SLOT(a), CF8_FUNC(a), reg, size);
	else
		cfg_write(g, CF8_SLOT(a), CF8_FUNC(a), reg, size, *val);
}

/* ECAM: 4 KiB per function; an access must not cross a dword. */
static bool ecam_ok(uint64_t off, unsigned int len)
{
	return (len == 1 || len == 2 || len == 4) &&
	       (off & 3) + len <= 4;
}

static void ecam_read(struct guest *g, void *opaque, uint64_t off, void *buf,
		      unsigned int len)
{
	uint32_t v = ~0u;

	(void)opaque;
	if (ecam_ok(off, len))
		v = cfg_read(g, ECAM_SLOT(off), ECAM_FUNC(off),
			     ECAM_REG(off), len);
	memset(buf, 0xff, len);
	memcpy(buf, &v, MIN(len, 4u));
}

static void ecam_write(struct guest *g, void *opaque, uint64_t off,
		       const void *buf, unsigned int len)
{
	uint32_t v = 0;

	(void)opaque;
	if (!ecam_ok(off, len))
		return;
	memcpy(&v, buf, len);
	cfg_write(g, ECAM_SLOT(off), ECAM_FUNC(off), ECAM_REG(off), len, v);
}

/* The function and BAR that decode gpa; the lowest slot wins where the
 * guest made BARs overlap. Called with the bus lock held. */
static struct pci_func *bar_find(struct pci_bus *bus, uint64_t gpa,
				 unsigned int *bar, uint64_t *off)
{
	for (unsigned int s = 1; s < PCI_MAX_FUNCS; s++) {
		struct pci_func *f = bus->funcs[s];

		for (unsigned int b = 0; f && b < PCI_BARS; b++) {
			uint64_t base = pci_bar_decode(f, b);

			if (base && gpa - base < f->bars[b].size) {
				*bar = b;
				*off = gpa - base;
				return f;
			}
		}
	}
	return NULL;
}

/* An access to the window: the MSI-X table and PBA are the bus's; the
 * rest goes to the function's register file, which must not be called
 * with the lock held. Nothing decodes: reads all ones. */
static void window_access(struct guest *g, uint64_t off, void *buf,
			  unsigned int len, bool write)
{
	struct pci_bus *bus = &g->dev.pci->bus;
	struct pci_func *f;
	unsigned int bar;
	uint64_t boff;
	bool done = false;

	spin_lock(&bus->lock);
	f = bar_find(bus, PCI_MMIO_GPA + off, &bar, &boff);
	/* Register files take 1, 2, 4 or 8 bytes inside one BAR. */
	if (f && (boff + len > f->bars[bar].size || len > 8 || (len & (len - 1))))
		f = NULL;
	if (f)
		done = pci_msix_access(f, bar, boff, buf, len, write);
	if (done && write)
		msix_flush_pending(f);
	spin_unlock(&bus->lock);
	if (done)
		return;
	if (!f) {
		if (!write)
			memset(buf, 0xff, len);
	} else if (write) {
		f->bar_write(f, bar, boff, buf, len);
	} else {
		f->bar_read(f, bar, boff, buf, len);
	}
}

static void window_read(struct guest *g, void *opaque, uint64_t off,
			void *buf, unsigned int len)
{
	(void)opaque;
	window_access(g, off, buf, len, false);
}

static void window_write(struct guest *g, void *opaque, uint64_t off,
			 const void *buf, unsigned int len)
{
	(void)opaque;
	window_access(g, off, (void *)buf, len, true);
}

int pci_bus_init(struct guest *g)
{
	struct pci_bus *bus = &g->dev.pci->bus;
	int err;

	if (g->mem_size > PCI_MMIO_GPA)
		return -EINVAL;
	pci_func_init(&bus->host_bridge, HOST_BRIDGE_VENDOR,
		      HOST_BRIDGE_DEVICE, PCI_CLASS_HOST_BRIDGE, 0, 0);
	bus->host_bridge.cfg[PCI_INTX_PIN] = 0;
	bus->host_bridge.g = g;
	bus->funcs[0] = &bus->host_bridge;
	bus->next_bar = PCI_MMIO_GPA;
	err = mmio_register(g, &(struct mmio_region){
		.gpa = PCI_ECAM_GPA, .size = PCI_ECAM_SIZE,
		.read = ecam_read, .write = ecam_write });
	if (!err)
		err = mmio_register(g, &(struct mmio_region){
			.gpa = PCI_MMIO_GPA, .size = PCI_MMIO_SIZE,
			.read = window_read, .write = window_write });
	return err;
}

/* BARs start packed in the window, each aligned to its size, as
 * firmware would leave them; memory decoding starts off. */
static int assign_bars(struct pci_bus *bus, struct pci_func *f)
{
	for (unsigned int b = 0; b < PCI_BARS; b++) {
		uint64_t size = f->bars[b].size, at;

		if (!size)
			continue;
		at = ALIGN_UP(bus->next_bar, size);
		if (at + size > PCI_MMIO_GPA + PCI_MMIO_SIZE)
			return -ENOSPC;
		bus->next_bar = at + size;
		pci_cfg_write(f, PCI_BAR0 + 4 * b, 4, (uint32_t)at);
		if (f->bars[b].mem64)
			pci_cfg_write(f, PCI_BAR0 + 4 * b + 4, 4,
				      (uint32_t)(at >> 32));
	}
	return 0;
}

int pci_add(struct guest *g, struct pci_func *f)
{
	struct pci_bus *bus = &g->dev.pci->bus;

	for (unsigned int s = 1; s < PCI_MAX_FUNCS; s++) {
		if (bus->funcs[s])
			continue;
		if (assign_bars(bus, f))
			return -ENOSPC;
		f->g = g;
		f->slot = (uint8_t)s;
		f->cfg[PCI_INTX_LINE] = (uint8_t)(PCI_INTX_GSI_BASE + s % 4);
		bus->funcs[s] = f;
		return 0;
	}
	return -ENOSPC;
}

bool pci_msix_notify(struct pci_func *f, unsigned int n)
{
	struct pci_bus *bus = &f->g->dev.pci->bus;
	bool on;

	if (n >= f->nr_msix)
		return false;
	spin_lock(&bus->lock);
	on = pci_msix_enabled(f);
	if (on) {
		f->msix_pending |= (uint32_t)BIT_ULL(n);
		msix_flush_pending(f);
	}
	spin_unlock(&bus->lock);
	return on;
}

void pci_intx_set(struct pci_func *f, bool level)
{
	struct pci_bus *bus = &f->g->dev.pci->bus;

	spin_lock(&bus->lock);
	f->intx_level = level;
	intx_update(f);
	spin_unlock(&bus->lock);
}

void pci_print_stats(struct guest *g)
{
	struct pci_bus *bus = &g->dev.pci->bus;

	for (unsigned int s = 1; s < PCI_MAX_FUNCS; s++)
		if (bus->funcs[s] && bus->funcs[s]->msix_bad)
			guest_log(LOG_INFO, g, "pci 00:%02x.0: %lu MSI-X messages "
				  "dropped (not a fixed or lowest-priority "
				  "interrupt)\n", s, bus->funcs[s]->msix_bad);
}
