/*
 * A virtual local APIC per vCPU (SDM Vol. 3A Chapter 11): registers in
 * xAPIC (MMIO page at 0xfee00000) and x2APIC (MSRs 0x800-0x8ff) form, the
 * timer (one-shot, periodic, TSC-deadline), IPIs between the vCPUs of one
 * guest, and INIT/SIPI start-up of secondary vCPUs.
 *
 *   sender (any vCPU of the guest)          target vCPU (its own CPU)
 *   ICR write / timer / self IPI
 *     vlapic_accept: IRR bit (atomic),  -->  exit (the kick IPI forces one)
 *     (NMI: nmi_pending instead)
 *     work |= EVAL (atomic), kick CPU         vmx_exit_finish tests `work` 
 *                                             vlapic_before_entry:
 *                                               IRR -> ISR, VM-entry
 *                                               interruption info, or an
 *                                               interrupt-window exit
 *
 * Only the owning vCPU writes its registers; other vCPUs touch IRR, `work`,
 * `init_seen` and `sipi` with atomic operations only.
 *
 * Timer frequency: the APIC timer counts guest TSC ticks divided by the
 * divide configuration (divide by 1 counts at the TSC rate). A guest
 * should assume that the timer's input clock is the TSC frequency, which
 * Keel gives in CPUID leaf 0x40000010 (EAX = TSC kHz, EBX = APIC timer
 * input kHz, the same value).
 */
#ifndef KEEL_GUEST_VLAPIC_H
#define KEEL_GUEST_VLAPIC_H

#include "arch/compiler.h"
#include "arch/spinlock.h"
#include "arch/tsc_calc.h"

#define VLAPIC_BASE_DEFAULT     0xfee00000ULL
#define VLAPIC_PAGE_SIZE        4096

/* Local vector table entries, in an order of Keel's own. */
enum vlapic_lvt {
	LVT_CMCI, LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1,
	LVT_ERROR, VLAPIC_NR_LVT,
};

/* Bits of struct vlapic.work: what the entry path must do. */
#define VLAPIC_WORK_EVAL    BIT_ULL(0)  /* IRR, PPR or IF window changed */
#define VLAPIC_WORK_TIMER   BIT_ULL(1)  /* timer armed (or being disarmed) */
#define VLAPIC_WORK_INJECTED BIT_ULL(2) /* an interrupt was injected: check
					   that its delivery completed */

/* struct vlapic.state */
#define VLAPIC_RUNNING      0
#define VLAPIC_WAIT_SIPI    1           /* secondary vCPU before its SIPI */

#define VLAPIC_SIPI_VALID   BIT_ULL(8)  /* in struct vlapic.sipi */
#define VLAPIC_START_PROT32 BIT_ULL(9)  /* KEEL_HC_VCPU_START: v->boot holds
					 * a protected-mode start */
#define VLAPIC_START_CLAIMED BIT_ULL(10) /* KEEL_HC_VCPU_START is filling
					  * v->boot */

struct vcpu;
struct guest;
struct cpuid_regs;

struct vlapic {
	uint32_t work;                  /* VLAPIC_WORK_*, atomic */
	uint32_t irr[8];                /* atomic: other vCPUs set bits */
	uint32_t isr[8], tmr[8];
	uint64_t apic_base;             /* IA32_APIC_BASE as the guest sees it */
	uint32_t id, ldr, dfr, svr, esr, esr_pending;
	/* The TPR: *vtpr where the CPU shadows it (the VTPR of the vCPU's
	 * virtual-APIC page, which MOV to and from CR8 reach without an
	 * exit: SDM Vol. 3C 29.1.1), else `tpr`. vlapic_tpr() reads it. */
	uint32_t tpr;
	uint32_t *vtpr;
	uint64_t icr;
	uint32_t lvt[VLAPIC_NR_LVT];
	uint32_t timer_icr, timer_dcr;
	unsigned int timer_shift;       /* log2 of the divide value */
	uint64_t timer_deadline;        /* host TSC when it fires; 0: not armed */
	uint64_t timer_period;          /* host TSC ticks (periodic mode) */
	uint64_t tsc_deadline;          /* IA32_TSC_DEADLINE, guest TSC */
	bool window_on;                 /* interrupt-window exiting is set */
	bool ptimer_on;                 /* the VMX-preemption timer is active */
	bool nmi_window_on;             /* NMI-window exiting is set */
	uint8_t tpr_threshold;          /* in the VMCS, with a shadowed TPR */
	uint32_t nmi_pending;           /* atomic: NMIs waiting, at most
					 * VLAPIC_NMI_LATCH (vlapic_nmi_add) */
	uint32_t state;                 /* VLAPIC_RUNNING / _WAIT_SIPI */
	uint32_t init_seen;             /* atomic: INIT received while waiting */
	uint32_t sipi;                  /* atomic: VLAPIC_SIPI_VALID | vector */
	/* The virtual-APIC page where the guest reads the xAPIC registers
	 * without exits (guest/vlapic_page.c), else NULL. */
	uint32_t *page;
	/* The CPU delivers and retires interrupts on that page itself
	 * (virtual-interrupt delivery, vmx/exit_apic.c); then the EOI-exit
	 * bitmap as last written to the VMCS, `tmr_changed` (atomic) when
	 * TMR differs from it, and `vid_stale` when Keel changed the page's
	 * IRR or ISR itself (RVI and SVI in the VMCS may be stale). */
	bool vid;
	bool vid_stale;
	bool x2apic_virt_on;            /* x2APIC virtualization in the VMCS */
	uint32_t tmr_changed;
	uint64_t eoi_exit[4];
	/* An 8259 vector (VLAPIC_EXTINT_VALID | vector) that INTA gave and
	 * that waits for its delivery; and the one injected at the last
	 * entry (vmx/exit_apic.c). Owning vCPU only. */
	uint32_t extint, extint_injected;
};

#define VLAPIC_EXTINT_VALID BIT_ULL(8)

/* A guest's xAPIC page as the CPU virtualizes it (guest/vlapic_page.c). */
struct vlapic_page {
	uint64_t access_pa;             /* APIC-access page; 0: not in use */
	unsigned int xapic_vcpus;       /* vCPUs with their APIC in xAPIC mode */
	struct spinlock lock;           /* over the count and the mapping */
};

/*
 * Where a guest's xAPIC pages are on its MMIO bus: 0xfee00000 from the
 * start (if it is above its RAM), and each other base a vCPU moves its
 * APIC to through IA32_APIC_BASE, at most VLAPIC_MAX_BASES in all. Each
 * answers only the vCPUs whose APIC is there (guest/vlapic_access.c).
 */
#define VLAPIC_MAX_BASES        4
struct vlapic_bases {
	uint64_t gpa[VLAPIC_MAX_BASES]; /* each region's opaque points here */
	unsigned int nr;
	struct spinlock lock;           /* over adding one */
};

/* Power-on state (vCPU 0 runs, the others wait for a SIPI). */
void vlapic_init(struct vcpu *v);
/* Registers the xAPIC page of guest g (if it is above its RAM). */
int vlapic_mmio_init(struct guest *g);
/* v's APIC moves to the page at base: NULL, or why Keel cannot give a
 * page there (RAM or another device is there, or too many bases). */
const char *vlapic_mmio_place(struct vcpu *v, uint64_t base);

/*
 * The xAPIC page without exits (guest/vlapic_page.c), where the CPU and
 * keel.apic_virt allow: vlapic_page_init maps g's APIC-access page (0 or
 * -ENOMEM), vlapic_page_free releases it, vlapic_page_attach gives a vCPU
 * its register copy on its virtual-APIC page, vlapic_page_sync refreshes
 * all of the copy, vlapic_page_written takes an APIC-write exit's value at
 * that page offset.
 */
extern bool vlapic_apic_virt_on;
extern bool vlapic_vid_on;              /* keel.vid */
int vlapic_page_init(struct guest *g);
void vlapic_page_free(struct guest *g);
void vlapic_page_attach(struct vcpu *v, uint32_t *vapic);
void vlapic_page_sync(struct vlapic *a);
void vlapic_page_written(struct vcpu *v, unsigned int offset);

/* Makes `vector` pending in t's IRR and has t look at it (from any vCPU
 * of the same guest); edge-triggered. */
void vlapic_accept(struct vcpu *t, uint8_t vector);
/* The same with its trigger mode: TMR records it, and the EOI of a
 * level-triggered vector goes to the I/O APIC (SDM Vol. 3A 11.8.4). */
void vlapic_accept_irq(struct vcpu *t, uint8_t vector, bool level);
/* Makes an NMI pending for t (from any vCPU of the same guest). Accepted
 * also while t's APIC is software-disabled (SDM Vol. 3A 11.4.7.2), not
 * while t waits for its SIPI. */
void vlapic_accept_nmi(struct vcpu *t);
/*
 * NMIs that wait: a CPU delivers one and holds one more while NMIs are
 * blocked (SDM Vol. 3A 6.7.1), so two sent at once both arrive, and a
 * third is lost. vlapic_nmi_add() counts one up to that; the entry path
 * takes one per injection and keeps at most one while the guest's NMI
 * blocking lasts (vmx/exit_nmi.c).
 */
#define VLAPIC_NMI_LATCH 2u
void vlapic_nmi_add(struct vlapic *a);
/* An interrupt message from a device (the I/O APIC), fixed or lowest
 * priority, to the vCPUs that xAPIC destination `dest` names (physical:
 * the APIC ID, 0xff all; logical: as for IPIs). Lowest priority goes to
 * the first vCPU named. From any CPU. */
void vlapic_deliver_irq(struct guest *g, uint32_t dest, bool logical,
			bool lowest, uint8_t vector, bool level);
/* Whether the 8259s' INTR reaches this APIC's CPU: LINT0 unmasked with
 * delivery mode ExtINT, or the APIC off (SDM Vol. 3A 11.5.1; with the APIC
 * off the CPU's LINT0 is its INTR pin, 11.4.3). */
bool vlapic_takes_extint(const struct vlapic *a);
/* Highest IRR vector above the processor priority, or -1. */
int vlapic_pending_vector(const struct vlapic *a);
/* The same, and in *threshold the TPR threshold for a shadowed TPR (SDM
 * Vol. 3C 29.1.2): the priority class of the highest IRR vector when the
 * TPR holds it back, so that lowering the TPR below it exits; else 0.
 * Never above TPR[7:4], as VM entry requires (26.2.1.1). */
int vlapic_pending_vector_tpr(const struct vlapic *a, uint32_t *threshold);
/* Moves `vector` from IRR to ISR (the interrupt is being delivered),
 * and back (its delivery has to wait). */
void vlapic_ack(struct vlapic *a, uint8_t vector);
void vlapic_unack(struct vlapic *a, uint8_t vector);
/* With virtual-interrupt delivery (struct vlapic.vid): moves what
 * senders posted to the page's IRR, on the vCPU's own CPU before entry
 * (the highest of them, -1 for none);
 * the highest vector of the page's eight registers from reg0 (IRR0,
 * ISR0), -1 for none; and the rest of an EOI the CPU has done, of a
 * vector the EOI-exit bitmap names (its TMR bit: to the I/O APIC). */
int vlapic_vid_sync(struct vlapic *a);
int vlapic_page_highest(const struct vlapic *a, unsigned int reg0);
void vlapic_eoi_done(struct vcpu *v, uint8_t vector);
/* The task priority, and setting it (CR8 writes). */
static inline uint32_t vlapic_tpr(const struct vlapic *a)
{
	return a->vtpr ? READ_ONCE(*a->vtpr) : a->tpr;
}
void vlapic_set_tpr(struct vlapic *a, uint32_t tpr);
/* From now on the TPR lives in *vtpr (the virtual-APIC page's VTPR),
 * which takes its value. */
void vlapic_shadow_tpr(struct vlapic *a, uint32_t *vtpr);
/* Fires the timer if its deadline (host TSC) has passed. */
void vlapic_timer_poll(struct vcpu *v, uint64_t now);
/* The vCPU's TSC offset changed (a write of IA32_TSC or IA32_TSC_ADJUST),
 * host_now being the host's TSC: an armed TSC deadline, a guest TSC
 * value, is armed again against the new TSC. */
void vlapic_tsc_moved(struct vcpu *v, uint64_t host_now);

/* x2APIC MSRs, IA32_APIC_BASE and IA32_TSC_DEADLINE: is it one of them,
 * and the access (false: the guest gets #GP). */
bool vlapic_is_msr(uint32_t msr);
bool vlapic_rdmsr(struct vcpu *v, uint32_t msr, uint64_t *val);
bool vlapic_wrmsr(struct vcpu *v, uint32_t msr, uint64_t val);

/* CPUID answers that describe the APIC, the timer and the topology: r
 * adjusted for the leaves vlapic_cpuid_leaf() names (the others never
 * need the call: CPUID is a hot exit). */
#define VLAPIC_CPUID_TIMING     0x40000010
static inline bool vlapic_cpuid_leaf(uint32_t leaf)
{
	return leaf == 1 || leaf == 6 || leaf == 0xb ||
	       leaf == CPUID_LEAF_TSC_CRYSTAL || leaf == CPUID_LEAF_FREQUENCY ||
	       leaf == VLAPIC_CPUID_TIMING;
}
struct cpuid_regs vlapic_cpuid(const struct vcpu *v, uint32_t leaf,
			       uint32_t sub, struct cpuid_regs r);

#endif
