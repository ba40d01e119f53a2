/*
 * The virtual local APIC's front ends other than MSRs: the xAPIC page
 * (MMIO through the instruction emulator) and the CPUID leaves that
 * describe the APIC, its timer and the guest's topology.
 */
#include "guest/vlapic_regs.h"
#include "guest/guest.h"
#include "guest/mmio.h"
#include "arch/errno.h"
#include "arch/msr.h"
#include "arch/percpu.h"
#include "arch/string.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "vmx/vmx.h"

#define CPUID6_EAX_ARAT         BIT_ULL(2)      /* APIC timer always runs */
#define CPUID_LEAF_TOPOLOGY     0xb
#define  TOPO_LEVEL_SMT         1
#define  TOPO_LEVEL_CORE        2

/* The page answers only in xAPIC mode, and only the vCPUs whose APIC
 * is at its address: each processor's APIC is its own (SDM Vol. 3A
 * 11.4.1). Disabled in IA32_APIC_BASE the processor has no APIC (11.4.3),
 * and in x2APIC mode the page behaves as when disabled (11.12.1.2): the
 * address is then one that no device claims and reads all ones; so is
 * another vCPU's base.
 * Registers are 32 bits wide at 16-byte boundaries (11.4.1); other
 * accesses to the answering page read 0 and writes to them are dropped. */
static bool vlapic_mmio_here(const struct vlapic *a, const uint64_t *base)
{
	return vlapic_xapic_mode(a) && (a->apic_base & APIC_BASE_ADDR) == *base;
}

static bool vlapic_mmio_reg(uint64_t off, unsigned int len, unsigned int *reg)
{
	*reg = (unsigned int)(off >> 4);
	return len == 4 && (off & 15) == 0;
}

static void vlapic_mmio_read(struct guest *g, void *base, uint64_t off,
			     void *buf, unsigned int len)
{
	struct vcpu *v = this_cpu()->vcpu;
	bool here = vlapic_mmio_here(vlapic_of(v), base);
	uint64_t val = 0;
	uint32_t val32;
	unsigned int reg;

	(void)g;
	memset(buf, here ? 0 : 0xff, len);
	if (!here || !vlapic_mmio_reg(off, len, &reg))
		return;
	vlapic_reg_read(v, reg, false, &val);
	val32 = (uint32_t)val;
	memcpy(buf, &val32, 4);
}

static void vlapic_mmio_write(struct guest *g, void *base, uint64_t off,
			      const void *buf, unsigned int len)
{
	struct vcpu *v = this_cpu()->vcpu;
	uint32_t val;
	unsigned int reg;

	(void)g;
	if (!vlapic_mmio_here(vlapic_of(v), base) ||
	    !vlapic_mmio_reg(off, len, &reg))
		return;
	memcpy(&val, buf, 4);
	vlapic_reg_write(v, reg, false, val);
	vlapic_page_sync_regs(vlapic_of(v));
}

/* Under b->lock. The entry is filled before the bus shows the region. */
static int vlapic_bases_add(struct guest *g, struct vlapic_bases *b,
			    uint64_t base)
{
	int err;

	if (b->nr == VLAPIC_MAX_BASES)
		return -ENOSPC;
	b->gpa[b->nr] = base;
	err = mmio_register(g, &(struct mmio_region){
		.gpa = base, .size = VLAPIC_PAGE_SIZE, .read = vlapic_mmio_read,
		.write = vlapic_mmio_write, .opaque = &b->gpa[b->nr] });
	if (!err)
		b->nr++;
	return err;
}

/* A guest whose RAM reaches the APIC page has x2APIC only. */
int vlapic_mmio_init(struct guest *g)
{
	if (g->mem_size > VLAPIC_BASE_DEFAULT)
		return 0;
	return vlapic_bases_add(g, &g->dev.apic_bases, VLAPIC_BASE_DEFAULT);
}

static bool vlapic_bases_has(const struct vlapic_bases *b, uint64_t base)
{
	for (unsigned int i = 0; i < b->nr; i++)
		if (b->gpa[i] == base)
			return true;
	return false;
}

const char *vlapic_mmio_place(struct vcpu *v, uint64_t base)
{
	struct vlapic_bases *b = &v->guest->dev.apic_bases;
	int err = 0;

	spin_lock(&b->lock);
	if (!vlapic_bases_has(b, base))
		err = vlapic_bases_add(v->guest, b, base);
	spin_unlock(&b->lock);
	if (err == -EEXIST)
		return "its RAM or another device is there";
	return err ? "no room for another xAPIC page address on its MMIO "
		     "bus" : NULL;
}

/* Leaf 0xb: each vCPU is one core of one package (SDM Vol. 2A, CPUID). */
static struct cpuid_regs vlapic_cpuid_topology(const struct vcpu *v,
					       uint32_t sub)
{
	struct cpuid_regs r = { 0, 0, sub & 0xff, v->lapic.id };
	uint32_t n = v->guest->nr_vcpus, shift = 0;

	while ((1u << shift) < n)
		shift++;
	if (sub == 0) {
		r.ebx = 1;
		r.ecx |= TOPO_LEVEL_SMT << 8;
	} else if (sub == 1) {
		r.eax = shift;
		r.ebx = n;
		r.ecx |= TOPO_LEVEL_CORE << 8;
	}
	return r;
}

struct cpuid_regs vlapic_cpuid(const struct vcpu *v, uint32_t leaf,
			       uint32_t sub, struct cpuid_regs r)
{
	switch (leaf) {
	case 1:
		r.ebx = (r.ebx & 0xffff) | (v->lapic.id << 24) |
			((v->guest->nr_vcpus & 0xff) << 16);
		r.ecx |= (uint32_t)CPUID1_ECX_X2APIC;
		r.ecx &= ~(uint32_t)CPUID1_ECX_TSC_DEADLINE;
		if (vmx_caps.preempt_timer)
			r.ecx |= (uint32_t)CPUID1_ECX_TSC_DEADLINE;
		/* Cleared with IA32_APIC_BASE.EN (SDM Vol. 3A 11.4.3). */
		r.edx &= ~(uint32_t)CPUID1_EDX_APIC;
		if (vlapic_hw_enabled(&v->lapic))
			r.edx |= (uint32_t)CPUID1_EDX_APIC;
		break;
	case 6:
		r.eax |= (uint32_t)CPUID6_EAX_ARAT;
		break;
	case CPUID_LEAF_TOPOLOGY:
		r = vlapic_cpuid_topology(v, sub);
		break;
	case VLAPIC_CPUID_TIMING:
		r = (struct cpuid_regs){ (uint32_t)tsc_khz, (uint32_t)tsc_khz,
					 0, 0 };
		break;
	case CPUID_LEAF_TSC_CRYSTAL:
		/* TSC = crystal * EBX / EAX with the crystal at the TSC's own
		 * measured rate (Hz in ECX), so that a guest need not
		 * calibrate; the APIC timer counts at that rate too. */
		r = (struct cpuid_regs){ 1, 1, (uint32_t)(tsc_khz * 1000), 0 };
		break;
	case CPUID_LEAF_FREQUENCY:
		r = (struct cpuid_regs){ (uint32_t)(tsc_khz / 1000),
					 (uint32_t)(tsc_khz / 1000), 0, 0 };
		break;
	}
	return r;
}
