/* Port-I/O dispatch to a guest's virtual devices. */
#include "guest/devices.h"
#include "guest/guest.h"
#include "guest/vlapic.h"
#include "guest/acpi_tables.h"
#include "guest/port92.h"
#include "drivers/printk.h"
#include "mm/mm.h"
#include "mm/frame.h"
#include "mm/layout.h"
#include "drivers/wallclock.h"
#include "arch/x86.h"
#include "arch/string.h"
#include "arch/panic.h"

#define PORT_COM1           0x3f8
#define PORT_DEBUG_EXIT     0xf4
#define PORT_FWCFG_SEL      0x510
#define PORT_FWCFG_DATA     0x511

void fwcfg_io(struct guest *g, uint16_t off, unsigned int size, bool in,
	      uint32_t *val);
void testdev_port_io(struct guest *g, uint16_t port, unsigned int size,
		     bool in, uint32_t *val);
int testdev_init(struct guest *g);
void testdev_free(struct guest *g);
void acpi_pm_io(struct guest *g, uint16_t port, bool in, uint32_t *val);

/* isa-debug-exit: a write of v ends the guest with status (v << 1) | 1. */
static void debug_exit_io(struct guest *g, uint16_t off, unsigned int size,
			  bool in, uint32_t *val)
{
	(void)off;
	if (in) {
		*val = ~0u;
		return;
	}
	if (size == 1)
		*val &= 0xff;
	else if (size == 2)
		*val &= 0xffff;
	guest_end(g, ((uint64_t)*val << 1) | 1, "debug-exit port");
}

/* The RTC runs on the guest's clock: the host's wall clock at the guest's
 * TSC (its vCPUs share one TSC offset), so it stops while the guest is
 * paused, as its TSC does. */
static void rtc_io(struct guest *g, uint16_t off, bool in, uint32_t *val)
{
	int64_t now = wallclock_at(rdtsc() + g->vcpus[0]->tsc_offset);

	spin_lock(&g->dev.rtc.lock);
	vrtc_io(&g->dev.rtc, now, off, in, val);
	spin_unlock(&g->dev.rtc.lock);
}

static void count_unhandled_search(struct guest_devices *d, uint16_t port)
{
	unsigned int i;

	for (i = 0; i < d->nr_unhandled; i++)
		if (d->unhandled[i].port == port)
			break;
	if (i == d->nr_unhandled) {
		if (i == DEV_MAX_PORT_COUNTS)
			return;
		d->unhandled[d->nr_unhandled++].port = port;
	}
	d->unhandled[i].count++;
	d->unhandled_last = i;
}

/* The entry counted last is looked at first: a guest that polls a port
 * no device claims comes back to the same one at every exit. */
static void count_unhandled(struct guest_devices *d, uint16_t port)
{
	struct port_count *last = &d->unhandled[d->unhandled_last];

	d->unhandled_total++;
	if (likely(d->nr_unhandled && last->port == port))
		last->count++;
	else
		count_unhandled_search(d, port);
}

/* The ACPI power registers (guest/acpi_pm.c): byte-wide sleep and reset
 * registers, and the 32-bit PM timer. */
static void acpi_pm_port_io(struct guest *g, uint16_t off, unsigned int size,
			    bool in, uint32_t *val)
{
	(void)size;
	acpi_pm_io(g, (uint16_t)(ACPI_PM_SLEEP_CONTROL + off), in, val);
}

static void acpi_pm_timer_io(struct guest *g, uint16_t off, unsigned int size,
			     bool in, uint32_t *val)
{
	(void)off;
	(void)size;
	acpi_pm_io(g, ACPI_PM_TIMER, in, val);
}

static void uart_port_io(struct guest *g, uint16_t off, unsigned int size,
			 bool in, uint32_t *val)
{
	(void)size;
	vuart_io(g, off, in, val);
}

static void rtc_port_io(struct guest *g, uint16_t off, unsigned int size,
			bool in, uint32_t *val)
{
	(void)size;
	rtc_io(g, off, in, val);
}

/* The testdev's two port ranges (guest/testdev.c): scratch registers and
 * interrupt lines. */
static void testdev_scratch_io(struct guest *g, uint16_t off,
			       unsigned int size, bool in, uint32_t *val)
{
	testdev_port_io(g, (uint16_t)(TESTDEV_PORT_BASE + off), size, in, val);
}

static void testdev_irq_port_io(struct guest *g, uint16_t off,
				unsigned int size, bool in, uint32_t *val)
{
	testdev_port_io(g, (uint16_t)(TESTDEV_IRQ_BASE + off), size, in, val);
}

/* System control port A (guest/port92.h): INIT_NOW's rising edge would
 * reset the processor, which Keel cannot do for a guest: it ends. */
static void port92_io(struct guest *g, uint16_t off, unsigned int size,
		      bool in, uint32_t *val)
{
	bool init;

	(void)off;
	(void)size;
	if (in) {
		*val = g->dev.port92;
		return;
	}
	g->dev.port92 = port92_write(g->dev.port92, (uint8_t)*val, &init);
	if (init)
		guest_end(g, 0, "port 0x92 reset");
}

/* The 8259s and their ELCR (guest/isa.c), byte-wide. */
static void pic_master_io(struct guest *g, uint16_t off, unsigned int size,
			  bool in, uint32_t *val)
{
	(void)size;
	vpic_port_io(g, VPIC_MASTER, off, in, val);
}

static void pic_slave_io(struct guest *g, uint16_t off, unsigned int size,
			 bool in, uint32_t *val)
{
	(void)size;
	vpic_port_io(g, VPIC_SLAVE, off, in, val);
}

static void pic_elcr_io(struct guest *g, uint16_t off, unsigned int size,
			bool in, uint32_t *val)
{
	(void)size;
	vpic_elcr_io(g, off, in, val);
}

typedef void port_io_fn(struct guest *g, uint16_t off, unsigned int size,
			bool in, uint32_t *val);

/*
 * The port bus: each virtual device's ports, the `devices` entry that
 * gives it to a guest (DEV_PLATFORM: the ACPI registers and the 8259s,
 * which every guest with the PC platform has, guest/acpi_tables.c and
 * guest/isa.c), and the access
 * sizes it answers (others are unclaimed). A device is called with the
 * offset of the port in its range. Entry 0 is no device.
 */
#define DEV_PLATFORM 0
#define PORT_SZ_1   BIT_ULL(1)
#define PORT_SZ_2   BIT_ULL(2)
#define PORT_SZ_4   BIT_ULL(4)
#define PORT_SZ_ANY (PORT_SZ_1 | PORT_SZ_2 | PORT_SZ_4)

static const struct port_dev {
	uint16_t base, count;
	uint64_t device;                /* CONFIG_DEVICE_*, or DEV_PLATFORM */
	uint8_t sizes;                  /* PORT_SZ_*: bit n, n-byte accesses */
	port_io_fn *io;
} port_devs[] = {
	{ 0, 0, 0, 0, NULL },
	{ PORT_COM1, 8, CONFIG_DEVICE_COM1, PORT_SZ_1, uart_port_io },
	{ PORT_DEBUG_EXIT, 1, CONFIG_DEVICE_DEBUG_EXIT, PORT_SZ_ANY,
	  debug_exit_io },
	{ PORT_FWCFG_SEL, 2, CONFIG_DEVICE_FW_CFG, PORT_SZ_ANY, fwcfg_io },
	{ TESTDEV_PORT_BASE, TESTDEV_PORTS, CONFIG_DEVICE_TESTDEV, PORT_SZ_ANY,
	  testdev_scratch_io },
	{ TESTDEV_IRQ_BASE, TESTDEV_IRQ_PORTS, CONFIG_DEVICE_TESTDEV,
	  PORT_SZ_ANY, testdev_irq_port_io },
	{ RTC_PORT_INDEX, 2, CONFIG_DEVICE_RTC, PORT_SZ_1, rtc_port_io },
	{ PORT92, 1, CONFIG_DEVICE_PORT92, PORT_SZ_1, port92_io },
	{ PCI_PORT_ADDR, 8, CONFIG_DEVICE_PCI, PORT_SZ_ANY, pci_port_io },
	{ ACPI_PM_SLEEP_CONTROL, ACPI_PM_RESET - ACPI_PM_SLEEP_CONTROL + 1,
	  DEV_PLATFORM, PORT_SZ_1, acpi_pm_port_io },
	{ ACPI_PM_TIMER, 1, DEV_PLATFORM, PORT_SZ_4, acpi_pm_timer_io },
	{ VPIC_PORT_MASTER, 2, DEV_PLATFORM, PORT_SZ_1, pic_master_io },
	{ VPIC_PORT_SLAVE, 2, DEV_PLATFORM, PORT_SZ_1, pic_slave_io },
	{ VPIC_PORT_ELCR, 2, DEV_PLATFORM, PORT_SZ_1, pic_elcr_io },
};

_Static_assert(PORT_FWCFG_DATA == PORT_FWCFG_SEL + 1, "fw-cfg port pair");
_Static_assert(RTC_PORT_DATA == RTC_PORT_INDEX + 1, "RTC port pair");
_Static_assert(ARRAY_SIZE(port_devs) <= 0x100, "device index fits a byte");

/*
 * Port -> entry of port_devs, in two levels so that a lookup costs two
 * loads whatever the number of devices: port_page_of[port >> 8] picks a
 * 256-entry page of indices (page 0: no device anywhere in it). Built
 * once, before any guest runs (devices_bus_init).
 */
#define PORT_PAGES 8

static uint8_t port_page_of[256];
static uint8_t port_pages[PORT_PAGES][256];

static bool port_bus_map(unsigned int port, uint8_t idx, unsigned int *used)
{
	uint8_t *pg = &port_page_of[port >> 8];

	if (!*pg) {
		if (*used == PORT_PAGES)
			return false;
		*pg = (uint8_t)(*used)++;
	}
	port_pages[*pg][port & 0xff] = idx;
	return true;
}

void devices_bus_init(void)
{
	unsigned int used = 1;

	for (unsigned int i = 1; i < ARRAY_SIZE(port_devs); i++)
		for (unsigned int k = 0; k < port_devs[i].count; k++)
			if (!port_bus_map(port_devs[i].base + k, (uint8_t)i, &used))
				panic("port bus: more than %u pages", PORT_PAGES);
}

static bool port_dev_enabled(const struct guest_devices *d,
			     const struct port_dev *p)
{
	return p->device == DEV_PLATFORM ? d->platform : (d->enabled & p->device);
}

static void port_unclaimed(struct guest_devices *d, uint16_t port,
			   unsigned int size, bool in, uint32_t *val);

void devices_port_io(struct guest *g, uint16_t port, unsigned int size,
		     bool in, uint32_t *val)
{
	struct guest_devices *d = &g->dev;
	const struct port_dev *p =
		&port_devs[port_pages[port_page_of[port >> 8]][port & 0xff]];

	if (likely((p->sizes & BIT_ULL(size)) && port_dev_enabled(d, p)))
		p->io(g, (uint16_t)(port - p->base), size, in, val);
	else
		port_unclaimed(d, port, size, in, val);
}

static void port_unclaimed(struct guest_devices *d, uint16_t port,
			   unsigned int size, bool in, uint32_t *val)
{
	count_unhandled(d, port);
	if (in)
		*val = size == 4 ? ~0u : (1u << (size * 8)) - 1;
}

void devices_print_stats(struct guest *g)
{
	struct guest_devices *d = &g->dev;

	if (d->pci) {
		pci_print_stats(g);
		virtio_net_print_stats(g);
		shm_print_stats(g);
	}
	if (!d->unhandled_total)
		return;
	guest_log(LOG_INFO, g, "%lu accesses to ports no device claims\n",
		  d->unhandled_total);
	for (unsigned int i = 0; i < d->nr_unhandled; i++)
		guest_log(LOG_INFO, g, "  port %#x: %u\n", d->unhandled[i].port,
			  d->unhandled[i].count);
}

void devices_copy_state(struct guest_devices *dst,
			struct guest_devices *src)
{
	const struct vuart *s = &src->uart;
	struct vuart *d = &dst->uart;

	d->ier = s->ier;
	d->lcr = s->lcr;
	d->mcr = s->mcr;
	d->scr = s->scr;
	d->dll = s->dll;
	d->dlm = s->dlm;
	d->fcr = s->fcr;
	d->thre_pending = s->thre_pending;
	d->irq_line = s->irq_line;
	memcpy(d->rx, s->rx, sizeof(d->rx));
	d->rx_head = s->rx_head;
	d->rx_count = s->rx_count;
	d->overrun = s->overrun;
	dst->fwcfg = src->fwcfg;
	dst->ioapic.id = src->ioapic.id;
	dst->ioapic.sel = src->ioapic.sel;
	dst->ioapic.level = src->ioapic.level;
	memcpy(dst->ioapic.redir, src->ioapic.redir, sizeof(dst->ioapic.redir));
	vpic_copy(&dst->pic, &src->pic);
	dst->port92 = src->port92;
	dst->rtc.index = src->rtc.index;
	dst->rtc.offset = src->rtc.offset;
	memcpy(dst->rtc.regs, src->rtc.regs, sizeof(dst->rtc.regs));
	memcpy(dst->testdev.scratch, src->testdev.scratch,
	       sizeof(dst->testdev.scratch));
}

int devices_init(struct guest *g)
{
	int err = vlapic_mmio_init(g);

	if (!err)
		err = vlapic_page_init(g);

	vrtc_reset(&g->dev.rtc);
	g->dev.port92 = PORT92_RESET_VALUE;

	if (!err && (g->dev.enabled & CONFIG_DEVICE_TESTDEV))
		err = testdev_init(g);
	/* Every guest's PC platform, what the ACPI tables describe: the I/O
	 * APIC (where the guest's RAM leaves room for it), the 8259s and the
	 * ACPI power-management ports. */
	if (!err && g->mem_size <= IOAPIC_GPA)
		err = ioapic_init(g, g->cfg->cpu_count);
	vpic_init(g);
	g->dev.platform = true;
	return err;
}

/* struct pci_devices in whole pages. */
#define PCI_DEVICES_ORDER 3
_Static_assert(sizeof(struct pci_devices) <= (4096UL << PCI_DEVICES_ORDER),
	       "struct pci_devices size");

const char *devices_pci_init(struct guest *g)
{
	const struct config_guest *c = g->cfg;
	const char *why = NULL;
	uint64_t pa;

	if (!config_guest_has_pci(c))
		return NULL;
	pa = mm_alloc_pages(PCI_DEVICES_ORDER);
	if (pa == FRAME_NONE)
		return "not enough host memory for its PCI devices";
	g->dev.pci = phys_to_virt(pa);
	g->dev.enabled |= CONFIG_DEVICE_PCI;
	if (pci_bus_init(g))
		return "its PCI bus could not be set up (its RAM reaches the "
		       "PCI window at 3 GiB)";
	if (c->disk[0])
		why = virtio_blk_init(g);
	if (!why && c->net[0])
		why = virtio_net_init(g);
	if (!why && (c->devices & CONFIG_DEVICE_VIRTIO_CONSOLE))
		why = virtio_console_init(g);
	if (!why)
		why = shm_guest_attach(g);
	return why;
}

void devices_detach(struct guest *g)
{
	if (!g->dev.pci)
		return;
	shm_guest_detach(g);
	virtio_net_detach(g);
}

/* A NIC stays in its network's port list (guest/virtio_net.c): another
 * guest's CPU may still be reading it, so its memory is never freed. */
static void pci_devices_free(struct guest *g)
{
	struct pci_devices *p = g->dev.pci;

	if (!p)
		return;
	virtio_blk_free(g);
	if (p->net.sw)
		return;
	mm_free_pages(virt_to_phys(p), PCI_DEVICES_ORDER);
	g->dev.pci = NULL;
}

void devices_free(struct guest *g)
{
	pci_devices_free(g);
	testdev_free(g);
	vlapic_page_free(g);
	g->dev.mmio.nr = 0;
	g->dev.ioapic.present = false;
	g->dev.pic.present = false;
	g->dev.platform = false;
}
