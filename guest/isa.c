/*
 * The ISA interrupt lines of a guest's PC platform, as a PC wires them:
 *
 *   device (16550, testdev) --ISA IRQ n--+--> 8259 input n (n < 16)
 *                                        +--> I/O APIC pin n
 *   master 8259 INTR --> vCPU 0's LINT0 (ExtINT), or its INTR pin while
 *                        its local APIC is off
 *
 * Keel's MADT has no interrupt source overrides: ISA IRQ n is GSI n. The
 * 8259s' registers and logic are guest/vpic.c; this file locks them,
 * answers their ports and hands INTA's vector to vCPU 0's entry path
 * (vmx/exit_apic.c).
 */
#include "guest/isa.h"
#include "guest/guest.h"
#include "guest/vlapic_regs.h"
#include "arch/string.h"

/* Makes vCPU 0 look at the INTR line before its next entry. */
static void vpic_notify(struct guest *g)
{
	struct vcpu *v = g->vcpus[0];

	if (!v)
		return;
	__atomic_fetch_or(&v->lapic.work, VLAPIC_WORK_EVAL, __ATOMIC_SEQ_CST);
	vlapic_kick(v);
}

/* Under the lock, after any change: INTR high wakes vCPU 0. */
static void vpic_unlock_update(struct guest *g, struct vpic *p)
{
	bool intr = vpic_output(p);

	spin_unlock(&p->lock);
	if (intr)
		vpic_notify(g);
}

void isa_set_irq(struct guest *g, unsigned int irq, bool level)
{
	struct vpic *p = &g->dev.pic;

	if (irq >= VPIC_IRQS)
		return;
	if (p->present) {
		spin_lock(&p->lock);
		vpic_set_line(p, irq, level);
		vpic_unlock_update(g, p);
	}
	ioapic_set_irq(g, irq, level);
}

void vpic_init(struct guest *g)
{
	struct vpic *p = &g->dev.pic;

	p->lock = (struct spinlock)SPINLOCK_INIT;
	vpic_reset(p);
	p->present = true;
}

void vpic_port_io(struct guest *g, unsigned int c, uint16_t off, bool in,
		  uint32_t *val)
{
	struct vpic *p = &g->dev.pic;

	spin_lock(&p->lock);
	if (in)
		*val = vpic_read(p, c, off & 1);
	else
		vpic_write(p, c, off & 1, (uint8_t)*val);
	vpic_unlock_update(g, p);
}

void vpic_elcr_io(struct guest *g, uint16_t off, bool in, uint32_t *val)
{
	struct vpic *p = &g->dev.pic;

	spin_lock(&p->lock);
	if (in)
		*val = vpic_elcr_read(p, off & 1);
	else
		vpic_elcr_write(p, off & 1, (uint8_t)*val);
	vpic_unlock_update(g, p);
}

/* No path holds two 8259 locks but this one, so the order is free. */
void vpic_copy(struct vpic *dst, struct vpic *src)
{
	spin_lock(&dst->lock);
	spin_lock(&src->lock);
	memcpy(dst->chip, src->chip, sizeof(dst->chip));
	spin_unlock(&src->lock);
	spin_unlock(&dst->lock);
}

bool vpic_intr_for(struct vcpu *v)
{
	struct vpic *p = &v->guest->dev.pic;
	bool intr;

	if (v->index || !p->present || !vlapic_takes_extint(&v->lapic))
		return false;
	spin_lock(&p->lock);
	intr = vpic_output(p);
	spin_unlock(&p->lock);
	return intr;
}

uint8_t vpic_acknowledge(struct guest *g)
{
	struct vpic *p = &g->dev.pic;
	uint8_t vector;

	spin_lock(&p->lock);
	vector = vpic_intack(p);
	spin_unlock(&p->lock);
	return vector;
}
