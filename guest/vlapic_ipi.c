/*
 * IPIs between the vCPUs of one guest (SDM Vol. 3A 11.6): the ICR's
 * destination (shorthands, physical and logical mode) and delivery modes
 * fixed, lowest priority (to the vCPU of lowest task priority it names),
 * NMI (the vector is ignored), INIT and start-up. Other delivery modes
 * (SMI, ExtINT) are dropped.
 *
 * INIT and SIPI start a secondary vCPU (SDM Vol. 3A 9.4.4): it waits in
 * Keel (guest/vcpu.c) in VLAPIC_WAIT_SIPI; an INIT arms it and the first
 * SIPI after that starts it in real mode at CS = vector << 8, IP = 0.
 * Later SIPIs, and INIT to a vCPU that runs, are ignored. A vCPU whose
 * APIC is off in IA32_APIC_BASE gets no message at all.
 */
#include "guest/vlapic_regs.h"
#include "guest/guest.h"

/* Logical destination match (11.6.2.2; x2APIC: 11.12.10.2). */
static bool vlapic_match_logical(const struct vlapic *t, uint32_t dest,
				 bool x2)
{
	uint32_t ldr, dfr;

	if (x2) {
		ldr = vlapic_x2apic_ldr(t->id);
		if (dest == 0xffffffff)
			return true;
		return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
	}
	ldr = READ_ONCE(t->ldr) >> 24;
	dfr = READ_ONCE(t->dfr);
	if (dest == 0xff)
		return true;
	if ((dfr >> 28) == 0xf)                 /* flat model */
		return ldr & dest;
	return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xf);  /* cluster */
}

static bool vlapic_match(const struct vcpu *src, const struct vcpu *t,
			 uint64_t icr, bool x2)
{
	unsigned int shorthand = (icr >> ICR_SHORTHAND_SHIFT) & 3;
	uint32_t dest = x2 ? (uint32_t)(icr >> 32) : (uint32_t)(icr >> 56);

	/* An APIC switched off in IA32_APIC_BASE is no APIC at all (SDM
	 * Vol. 3A 11.4.3): no message reaches it, NMI and INIT included. */
	if (!vlapic_hw_enabled(&t->lapic))
		return false;
	switch (shorthand) {
	case ICR_SELF:
		return t == src;
	case ICR_ALL:
		return true;
	case ICR_ALL_BUT_SELF:
		return t != src;
	}
	if (icr & ICR_LOGICAL)
		return vlapic_match_logical(&t->lapic, dest, x2);
	return dest == (x2 ? 0xffffffffu : 0xffu) || dest == t->lapic.id;
}

static void vlapic_init_ipi(struct vcpu *t, uint64_t icr)
{
	/* INIT level de-assert (trigger level, level 0) does nothing. */
	if (!(icr & ICR_LEVEL_ASSERT))
		return;
	if (READ_ONCE(t->lapic.state) == VLAPIC_WAIT_SIPI)
		__atomic_store_n(&t->lapic.init_seen, 1, __ATOMIC_RELEASE);
}

static void vlapic_startup_ipi(struct vcpu *t, uint8_t vector)
{
	uint32_t none = 0;

	if (READ_ONCE(t->lapic.state) != VLAPIC_WAIT_SIPI ||
	    !__atomic_load_n(&t->lapic.init_seen, __ATOMIC_ACQUIRE))
		return;
	if (__atomic_compare_exchange_n(&t->lapic.sipi, &none,
					(uint32_t)VLAPIC_SIPI_VALID | vector, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		vlapic_kick(t);         /* it waits halted (guest/vcpu.c) */
}

static void vlapic_deliver(struct vcpu *src, struct vcpu *t, uint64_t icr)
{
	uint8_t vector = icr & ICR_VECTOR;

	switch ((icr >> ICR_DM_SHIFT) & 7) {
	case ICR_DM_FIXED:
	case ICR_DM_LOWEST:
		if (vector < 16)
			vlapic_error(src, ESR_SEND_ILLEGAL);
		vlapic_accept(t, vector);
		break;
	case ICR_DM_NMI:
		vlapic_accept_nmi(t);
		break;
	case ICR_DM_INIT:
		vlapic_init_ipi(t, icr);
		break;
	case ICR_DM_STARTUP:
		vlapic_startup_ipi(t, vector);
		break;
	}
}

/* The priority lowest-priority delivery compares: the task priority's
 * class (Keel keeps no arbitration priority apart from it). */
static uint32_t vlapic_lowest_key(const struct vcpu *t)
{
	return vlapic_tpr(&t->lapic) & 0xf0;
}

/* Lowest priority goes to one of the vCPUs the destination names, the
 * one with the lowest priority (SDM Vol. 3A 11.6.2.4), the first such on
 * a tie; every other mode to each of them. */
void vlapic_send_icr(struct vcpu *v, uint64_t icr, bool x2)
{
	struct guest *g = v->guest;
	bool lowest = ((icr >> ICR_DM_SHIFT) & 7) == ICR_DM_LOWEST;
	struct vcpu *pick = NULL;

	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		struct vcpu *t = g->vcpus[i];

		if (!vlapic_match(v, t, icr, x2))
			continue;
		if (!lowest)
			vlapic_deliver(v, t, icr);
		else if (!pick || vlapic_lowest_key(t) < vlapic_lowest_key(pick))
			pick = t;
	}
	if (pick)
		vlapic_deliver(v, pick, icr);
}

/*
 * Whether a device's message with 8-bit destination `dest` reaches `t`.
 * Without interrupt remapping a vCPU in x2APIC mode reads it as an x2APIC
 * ID (0xff: all) or, logical, as the bits of cluster 0 of its x2APIC LDR
 * (11.12.10.2), as KVM models it.
 */
static bool vlapic_match_irq(const struct vlapic *t, uint32_t dest,
			     bool logical)
{
	bool x2 = vlapic_x2apic_mode(t);

	if (!vlapic_hw_enabled(t))
		return false;
	if (x2 && dest == 0xff)
		return true;
	if (logical)
		return vlapic_match_logical(t, dest, x2);
	return dest == 0xff || dest == t->id;
}

/* Lowest priority as for IPIs (vlapic_send_icr). */
void vlapic_deliver_irq(struct guest *g, uint32_t dest, bool logical,
			bool lowest, uint8_t vector, bool level)
{
	struct vcpu *pick = NULL;

	for (unsigned int i = 0; i < g->nr_vcpus; i++) {
		struct vcpu *t = g->vcpus[i];

		if (!vlapic_match_irq(&t->lapic, dest, logical))
			continue;
		if (!lowest)
			vlapic_accept_irq(t, vector, level);
		else if (!pick || vlapic_lowest_key(t) < vlapic_lowest_key(pick))
			pick = t;
	}
	if (pick)
		vlapic_accept_irq(pick, vector, level);
}
