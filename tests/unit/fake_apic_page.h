/*
 * What guest/vlapic_page.c needs of the kernel, for host tests that link
 * it: one EPT leaf for the APIC page, a count of INVEPTs, and a fake
 * frame allocator (the page is never touched through its address). And
 * what guest/vlapic.c needs besides: the MMIO bus's answer to a moved
 * xAPIC page (fake_apic_place_why; the last base asked in
 * fake_apic_placed) and the fatal path (counted).
 */
#ifndef KEEL_TESTS_UNIT_FAKE_APIC_PAGE_H
#define KEEL_TESTS_UNIT_FAKE_APIC_PAGE_H

#include "ept/ept.h"
#include "guest/vlapic.h"

#define FAKE_APIC_ACCESS_PA     0x5000ULL

static uint64_t fake_apic_leaf;
static unsigned int fake_invepts;

uint64_t mm_alloc_pages(unsigned int order)
{
	(void)order;
	return FAKE_APIC_ACCESS_PA;
}

void mm_free_pages(uint64_t pa, unsigned int order)
{
	(void)pa, (void)order;
}

int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size,
	    uint64_t perm, uint64_t mt)
{
	(void)ept;
	if (gpa != VLAPIC_BASE_DEFAULT || size != 4096)
		return -1;
	fake_apic_leaf = make_ept_leaf(hpa, perm, mt, 1);
	return 0;
}

uint64_t *ept_leaf_entry(struct ept *ept, uint64_t gpa)
{
	(void)ept;
	return gpa == VLAPIC_BASE_DEFAULT ? &fake_apic_leaf : NULL;
}

void ept_invalidate(const struct ept *ept)
{
	(void)ept;
	fake_invepts++;
}

static const char *fake_apic_place_why;
static uint64_t fake_apic_placed;
static unsigned int fake_fatals;

const char *vlapic_mmio_place(struct vcpu *v, uint64_t base)
{
	(void)v;
	fake_apic_placed = base;
	return fake_apic_place_why;
}

/* The VMCS side of a mode change (vmx/exit_apic.c): counted. */
static unsigned int fake_vmx_modes;

void vlapic_vmx_mode(struct vcpu *v)
{
	(void)v;
	fake_vmx_modes++;
}

int vcpu_fatal(struct vcpu *v, const char *fmt, ...)
{
	(void)v, (void)fmt;
	fake_fatals++;
	return 0;
}

#endif
