/* The virtual I/O APIC (see guest/ioapic.h). */
#include "guest/ioapic.h"
#include "guest/guest.h"
#include "guest/vlapic.h"
#include "arch/string.h"

uint32_t ioapic_reg_read(const struct vioapic *a, uint32_t reg)
{
	uint64_t e;

	if (reg == IOAPIC_REG_ID || reg == IOAPIC_REG_ARB)
		return (a->id & 0xf) << 24;
	if (reg == IOAPIC_REG_VER)
		return ((IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION;
	if (reg < IOAPIC_REG_REDIR || reg >= IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
		return 0;
	e = a->redir[(reg - IOAPIC_REG_REDIR) / 2];
	return (reg & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
}

/*
 * Whether pin's entry sends its interrupt now (called locked): an
 * unmasked edge-triggered entry on a rising `edge`; an unmasked
 * level-triggered one while its input is high and remote IRR is clear,
 * which it then sets until the local APIC's EOI for its vector
 * (82093AA datasheet 3.2.4).
 */
static bool ioapic_fire(struct vioapic *a, unsigned int pin, bool edge)
{
	uint64_t *e = &a->redir[pin];

	if (*e & IOREDIR_MASKED)
		return false;
	if (!(*e & IOREDIR_LEVEL))
		return edge;
	if (!(a->level & BIT_ULL(pin)) || (*e & IOREDIR_REMOTE_IRR))
		return false;
	*e |= IOREDIR_REMOTE_IRR;
	return true;
}

/* Unmasking an edge entry with the input still high (a level the device
 * holds) delivers it: the guest would otherwise never hear of it. An
 * entry made edge-triggered drops its remote IRR. */
int ioapic_reg_write(struct vioapic *a, uint32_t reg, uint32_t val)
{
	unsigned int pin;
	uint64_t e, old;

	if (reg == IOAPIC_REG_ID) {
		a->id = (val >> 24) & 0xf;
		return -1;
	}
	if (reg < IOAPIC_REG_REDIR || reg >= IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
		return -1;
	pin = (reg - IOAPIC_REG_REDIR) / 2;
	old = e = a->redir[pin];
	if (reg & 1)
		e = (e & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		e = (e & ~0xffffffffULL) | val;
	a->redir[pin] = (e & IOREDIR_WRITABLE) | (old & IOREDIR_RO);
	if (!(e & IOREDIR_LEVEL))
		a->redir[pin] &= ~IOREDIR_REMOTE_IRR;
	if (ioapic_fire(a, pin, (old & IOREDIR_MASKED) &&
			(a->level & BIT_ULL(pin))))
		return (int)pin;
	return -1;
}

static void ioapic_deliver(struct guest *g, uint64_t e)
{
	unsigned int dm = (e >> IOREDIR_DM_SHIFT) & 7;

	if (dm != IOREDIR_DM_FIXED && dm != IOREDIR_DM_LOWEST)
		return;                 /* SMI, NMI, INIT, ExtINT: not wired */
	vlapic_deliver_irq(g, (uint32_t)(e >> IOREDIR_DEST_SHIFT),
			   e & IOREDIR_LOGICAL, dm == IOREDIR_DM_LOWEST,
			   (uint8_t)(e & IOREDIR_VECTOR), e & IOREDIR_LEVEL);
}

void ioapic_set_irq(struct guest *g, unsigned int pin, bool level)
{
	struct vioapic *a = &g->dev.ioapic;
	uint64_t e = 0;
	bool edge, fire;

	if (!a->present || pin >= IOAPIC_PINS)
		return;
	spin_lock(&a->lock);
	edge = level && !(a->level & BIT_ULL(pin));
	if (level)
		a->level |= (uint32_t)BIT_ULL(pin);
	else
		a->level &= ~(uint32_t)BIT_ULL(pin);
	fire = ioapic_fire(a, pin, edge);
	e = a->redir[pin];
	spin_unlock(&a->lock);
	if (fire)
		ioapic_deliver(g, e);
}

/* The EOI message a local APIC sends for a level-triggered vector
 * (SDM Vol. 3A 11.8.5): entries with that vector drop remote IRR, and
 * one whose input is still high sends again. */
void ioapic_eoi(struct guest *g, uint8_t vector)
{
	struct vioapic *a = &g->dev.ioapic;
	uint64_t fire[IOAPIC_PINS];
	unsigned int n = 0;

	if (!a->present)
		return;
	spin_lock(&a->lock);
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t *e = &a->redir[pin];

		if ((*e & IOREDIR_VECTOR) != vector ||
		    !(*e & IOREDIR_REMOTE_IRR))
			continue;
		*e &= ~IOREDIR_REMOTE_IRR;
		if (ioapic_fire(a, pin, false))
			fire[n++] = *e;
	}
	spin_unlock(&a->lock);
	for (unsigned int i = 0; i < n; i++)
		ioapic_deliver(g, fire[i]);
}

static uint32_t mmio_val(const void *buf, unsigned int len)
{
	uint32_t v = 0;

	memcpy(&v, buf, MIN(len, 4u));
	return v;
}

static void ioapic_mmio_read(struct guest *g, void *opaque, uint64_t off,
			     void *buf, unsigned int len)
{
	struct vioapic *a = opaque;
	uint32_t v = 0;

	(void)g;
	spin_lock(&a->lock);
	if (off == IOAPIC_OFF_SEL)
		v = a->sel;
	else if (off == IOAPIC_OFF_WIN)
		v = ioapic_reg_read(a, a->sel);
	spin_unlock(&a->lock);
	memset(buf, 0, len);
	memcpy(buf, &v, MIN(len, 4u));
}

static void ioapic_mmio_write(struct guest *g, void *opaque, uint64_t off,
			      const void *buf, unsigned int len)
{
	struct vioapic *a = opaque;
	uint64_t e = 0;
	int pin = -1;

	spin_lock(&a->lock);
	if (off == IOAPIC_OFF_SEL)
		a->sel = mmio_val(buf, len) & 0xff;
	else if (off == IOAPIC_OFF_WIN)
		pin = ioapic_reg_write(a, a->sel, mmio_val(buf, len));
	if (pin >= 0)
		e = a->redir[pin];
	spin_unlock(&a->lock);
	if (pin >= 0)
		ioapic_deliver(g, e);
}

int ioapic_init(struct guest *g, unsigned int id)
{
	struct vioapic *a = &g->dev.ioapic;
	struct mmio_region r = { IOAPIC_GPA, 4096, ioapic_mmio_read,
				 ioapic_mmio_write, a };

	*a = (struct vioapic){ .lock = SPINLOCK_INIT, .id = id };
	for (unsigned int i = 0; i < IOAPIC_PINS; i++)
		a->redir[i] = IOREDIR_MASKED;
	a->present = true;
	return mmio_register(g, &r);
}
