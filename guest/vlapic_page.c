/*
 * The xAPIC page without exits (SDM Vol. 3C 29.4). Where the CPU has
 * "virtualize APIC accesses" and "APIC-register virtualization" besides
 * the TPR shadow, and the guest runs on EPT, its EPT maps the APIC page
 * (0xfee00000) to an APIC-access page of its own, and each vCPU's
 * virtual-APIC page holds a copy of its registers:
 *
 *   guest access to 0xfee00xxx            what the CPU does
 *   32-bit read of ID, version, TPR, EOI, from the virtual-APIC page
 *   LDR, DFR, SVR, ISR, TMR, IRR, ESR,    (29.4.2): no exit
 *   ICR, LVT, initial count, DCR
 *   32-bit write of the TPR               VTPR: no exit (29.4.3.2)
 *   32-bit write of ICR high              into the page: no exit
 *   32-bit write of EOI, LDR, DFR, SVR,   into the page, then an APIC-write
 *   ESR, ICR low, LVT, initial count, DCR exit (trap-like, 29.4.3.3):
 *                                         vlapic_page_written()
 *   anything else (PPR, current count,    APIC-access exit (fault-like):
 *   other widths, fetches)                emulated as without the page
 *
 * struct vlapic stays the register file and the page a copy: IRR, ISR
 * and TMR change together with theirs (vec_or in guest/vlapic.c), the
 * other registers are copied after every write and reset. Two registers
 * the guest writes there without an exit live in the page: the VTPR,
 * which is the TPR (vlapic_tpr), and ICR high (vlapic_icr_hi).
 *
 * One EPT serves all of a guest's vCPUs, but the page is an APIC only to
 * a vCPU whose APIC is on in xAPIC mode (SDM Vol. 3A 11.4.3, 11.12.1.2).
 * So the mapping exists only while all of them are; a vCPU that leaves
 * xAPIC mode removes it, and drops its own CPU's cached translations of
 * it, and its accesses take the EPT-violation path to the emulated page
 * again. The others, still in xAPIC mode, may use a stale translation:
 * for them the page is still right. The last vCPU back restores it.
 */
#include "guest/vlapic_regs.h"
#include "guest/guest.h"
#include "arch/errno.h"
#include "arch/string.h"
#include "ept/ept.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "vmx/vmx.h"

bool vlapic_apic_virt_on = true;
bool vlapic_vid_on = true;

static void sync_reg(const struct vlapic *a, unsigned int reg, uint32_t val)
{
	WRITE_ONCE(*vlapic_page_reg(a, reg), val);
}

/* The registers whose form differs between the modes. In x2APIC mode a
 * virtualized RDMSR reads 8 bytes at the register's offset (29.5): the
 * ID and LDR in x2APIC form, and ICR with its destination in the dword
 * above (0x304), which is 0 otherwise. */
static void sync_mode_regs(struct vlapic *a)
{
	bool x2 = vlapic_x2apic_mode(a);

	sync_reg(a, APIC_REG_ID, x2 ? a->id : a->id << 24);
	sync_reg(a, APIC_REG_LDR, x2 ? vlapic_x2apic_ldr(a->id) : a->ldr);
	a->page[APIC_REG_ICR * 4 + 1] = x2 ? (uint32_t)(a->icr >> 32) : 0;
}

/* What the CPU reads from the page without an exit (29.4.2, 29.5), as
 * vlapic_reg_read answers it. The TPR and ICR high are there already,
 * and EOI stays 0. */
void vlapic_page_sync_regs(struct vlapic *a)
{
	if (!a->page)
		return;
	for (unsigned int i = LVT_TIMER; i < VLAPIC_NR_LVT; i++)
		sync_reg(a, APIC_REG_LVT_TIMER + i - LVT_TIMER, a->lvt[i]);
	sync_reg(a, APIC_REG_VERSION, APIC_VERSION);
	sync_reg(a, APIC_REG_EOI, 0);
	sync_reg(a, APIC_REG_DFR, a->dfr);
	sync_reg(a, APIC_REG_SVR, a->svr);
	sync_reg(a, APIC_REG_ESR, a->esr);
	sync_reg(a, APIC_REG_ICR, (uint32_t)a->icr);
	sync_reg(a, APIC_REG_TIMER_ICR, a->timer_icr);
	sync_reg(a, APIC_REG_TIMER_DCR, a->timer_dcr);
	sync_mode_regs(a);
}

/* The same with IRR, ISR and TMR, which otherwise change with their
 * copies (vec_or in guest/vlapic.c): a new copy, or after a reset. */
void vlapic_page_sync(struct vlapic *a)
{
	if (!a->page)
		return;
	for (unsigned int i = 0; i < 8; i++) {
		sync_reg(a, APIC_REG_ISR0 + i, READ_ONCE(a->isr[i]));
		sync_reg(a, APIC_REG_TMR0 + i, READ_ONCE(a->tmr[i]));
		sync_reg(a, APIC_REG_IRR0 + i, READ_ONCE(a->irr[i]));
	}
	a->vid_stale = a->vid;          /* RVI and SVI: recomputed */
	vlapic_page_sync_regs(a);
}

/* An APIC-write exit: the guest's value is in the page at offset. In
 * x2APIC mode that is a SELF IPI the CPU did not virtualize (a vector
 * below 16: 29.5). */
void vlapic_page_written(struct vcpu *v, unsigned int offset)
{
	struct vlapic *a = vlapic_of(v);
	unsigned int reg = (offset & 0xff0) >> 4;

	if (!a->page)
		return;
	vlapic_reg_write(v, reg, vlapic_x2apic_mode(a),
			 READ_ONCE(*vlapic_page_reg(a, reg)));
	vlapic_page_sync_regs(a);
}

/* ---- the guest's mapping -------------------------------------------------- */

static bool vlapic_page_wanted(const struct guest *g)
{
	return vlapic_apic_virt_on && vmx_caps.apic_reg_virt && !g->mmu &&
	       g->mem_size <= VLAPIC_BASE_DEFAULT;
}

/* The mapping's permissions; not the guest's RAM: dirty logging leaves
 * it alone. */
#define APIC_PAGE_EPT_PERM      (EPT_R | EPT_W | EPT_SW_SHARED)

static uint64_t vlapic_page_leaf(const struct guest *g)
{
	return make_ept_leaf(g->dev.apic_page.access_pa, APIC_PAGE_EPT_PERM,
			     EPT_MT_WB, 1);
}

int vlapic_page_init(struct guest *g)
{
	struct vlapic_page *p = &g->dev.apic_page;
	uint64_t pa;

	if (!vlapic_page_wanted(g))
		return 0;
	pa = mm_alloc_pages(0);
	if (pa == FRAME_NONE)
		return -ENOMEM;
	p->access_pa = pa;
	p->xapic_vcpus = g->cfg->cpu_count;    /* all start in xAPIC mode */
	return ept_map(&g->ept, VLAPIC_BASE_DEFAULT, pa, PAGE_SIZE,
		       APIC_PAGE_EPT_PERM, EPT_MT_WB);
}

void vlapic_page_free(struct guest *g)
{
	struct vlapic_page *p = &g->dev.apic_page;

	if (p->access_pa)
		mm_free_pages(p->access_pa, 0);
	p->access_pa = 0;
}

/* The vCPU's copy of its registers, on its virtual-APIC page. */
void vlapic_page_attach(struct vcpu *v, uint32_t *vapic)
{
	if (v->guest->dev.apic_page.access_pa) {
		v->lapic.page = vapic;
		v->lapic.vid = vlapic_vid_on && vmx_caps.vid;
		vlapic_page_sync(&v->lapic);
	}
}

/*
 * v's APIC went in or out of xAPIC mode (on and not x2APIC). The mapping
 * follows the count of vCPUs in it; one that leaves drops what its CPU
 * cached of the mapping before it enters again.
 */
void vlapic_page_mode(struct vcpu *v, bool was_xapic, bool now_xapic)
{
	struct guest *g = v->guest;
	struct vlapic_page *p = &g->dev.apic_page;
	uint64_t *e;

	if (!p->access_pa || was_xapic == now_xapic)
		return;
	spin_lock(&p->lock);
	if (now_xapic)
		p->xapic_vcpus++;
	else
		p->xapic_vcpus--;
	e = ept_leaf_entry(&g->ept, VLAPIC_BASE_DEFAULT);
	if (e)                          /* vlapic_page_init made it */
		__atomic_store_n(e, p->xapic_vcpus == g->cfg->cpu_count ?
				 vlapic_page_leaf(g) : 0, __ATOMIC_RELEASE);
	spin_unlock(&p->lock);
	if (!now_xapic)
		ept_invalidate(&g->ept);
}
