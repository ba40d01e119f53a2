/* Port-I/O dispatch to a guest's virtual devices. */
#include "guest/devices.h"
#include "guest/guest.h"
#include "guest/vlapic.h"
#include "drivers/printk.h"
#include "drivers/wallclock.h"
#include "arch/x86.h"
#include "arch/string.h"

#define PORT_COM1           0x3f8
#define PORT_DEBUG_EXIT     0xf4
#define PORT_FWCFG_SEL      0x510
#define PORT_FWCFG_DATA     0x511

void fwcfg_io(struct guest *g, uint16_t off, unsigned int size, bool in,
	      uint32_t *val);
bool testdev_claims(uint16_t port);
void testdev_port_io(struct guest *g, uint16_t port, unsigned int size,
		     bool in, uint32_t *val);
int testdev_init(struct guest *g);
void testdev_free(struct guest *g);
bool acpi_pm_claims(uint16_t port, unsigned int size);
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

static void count_unhandled(struct guest_devices *d, uint16_t port)
{
	unsigned int i;

	d->unhandled_total++;
	for (i = 0; i < d->nr_unhandled; i++)
		if (d->unhandled[i].port == port)
			break;
	if (i == d->nr_unhandled) {
		if (i == DEV_MAX_PORT_COUNTS)
			return;
		d->unhandled[d->nr_unhandled++].port = port;
	}
	d->unhandled[i].count++;
}

static void port_unclaimed(struct guest_devices *d, uint16_t port,
			   unsigned int size, bool in, uint32_t *val);

void devices_port_io(struct guest *g, uint16_t port, unsigned int size,
		     bool in, uint32_t *val)
{
	struct guest_devices *d = &g->dev;

	if (port >= PORT_COM1 && port < PORT_COM1 + 8 &&
	    (d->enabled & CONFIG_DEVICE_COM1) && size == 1)
		vuart_io(g, port - PORT_COM1, in, val);
	else if (port == PORT_DEBUG_EXIT && (d->enabled & CONFIG_DEVICE_DEBUG_EXIT))
		debug_exit_io(g, 0, size, in, val);
	else if ((port == PORT_FWCFG_SEL || port == PORT_FWCFG_DATA) &&
		 (d->enabled & CONFIG_DEVICE_FW_CFG))
		fwcfg_io(g, port - PORT_FWCFG_SEL, size, in, val);
	else if (testdev_claims(port) && (d->enabled & CONFIG_DEVICE_TESTDEV))
		testdev_port_io(g, port, size, in, val);
	else if ((port == RTC_PORT_INDEX || port == RTC_PORT_DATA) &&
		 (d->enabled & CONFIG_DEVICE_RTC) && size == 1)
		rtc_io(g, port - RTC_PORT_INDEX, in, val);
	else if (d->acpi_pm && acpi_pm_claims(port, size))
		acpi_pm_io(g, port, in, val);
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

	if (!d->unhandled_total)
		return;
	guest_log(LOG_INFO, g, "%lu accesses to ports no device claims\n",
		  d->unhandled_total);
	for (unsigned int i = 0; i < d->nr_unhandled; i++)
		guest_log(LOG_INFO, g, "  port %#x: %u\n", d->unhandled[i].port,
			  d->unhandled[i].count);
}

void devices_copy_state(struct guest_devices *dst,
			const struct guest_devices *src)
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
	dst->rtc.index = src->rtc.index;
	dst->rtc.offset = src->rtc.offset;
	memcpy(dst->rtc.regs, src->rtc.regs, sizeof(dst->rtc.regs));
	memcpy(dst->testdev.scratch, src->testdev.scratch,
	       sizeof(dst->testdev.scratch));
}

int devices_init(struct guest *g)
{
	int err = vlapic_mmio_init(g);

	vrtc_reset(&g->dev.rtc);

	if (!err && (g->dev.enabled & CONFIG_DEVICE_TESTDEV))
		err = testdev_init(g);
	/* Every guest's PC platform, what the ACPI tables describe: the I/O
	 * APIC (where the guest's RAM leaves room for it) and the ACPI
	 * power-management ports. */
	if (!err && g->mem_size <= IOAPIC_GPA)
		err = ioapic_init(g, g->cfg->cpu_count);
	g->dev.acpi_pm = true;
	return err;
}

void devices_free(struct guest *g)
{
	testdev_free(g);
	g->dev.mmio.nr = 0;
	g->dev.ioapic.present = false;
	g->dev.acpi_pm = false;
}
