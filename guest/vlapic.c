/*
 * The virtual local APIC's state and registers: IRR/ISR and priorities,
 * EOI, the timer, and the register file both access forms share (see
 * guest/vlapic_regs.h for the layout, guest/vlapic_access.c for the MMIO
 * and MSR front ends, guest/vlapic_ipi.c for IPIs).
 */
#include "guest/vlapic_regs.h"
#include "guest/guest.h"
#include "arch/msr.h"
#include "arch/string.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "vmx/vmx.h"

/*
 * The shortest period Keel gives a periodic timer. Each expiry costs the
 * vCPU a preemption-timer exit, the injection, the guest's handler and
 * its EOI (an exit too); a period shorter than that would leave the guest
 * nothing but its timer handler (a count of 1 did, with 2,000 ticks).
 * Measured in Bochs, where the TSC counts instructions (apictest
 * test=storm: a handler with one CPUID exit and its EOI), one expiry
 * costs 2,607 ticks with the EOI through the xAPIC page (decoded and
 * emulated, the dearest path) and 1,226 through the x2APIC MSR. Four
 * times the dearest keeps at least three quarters of the vCPU for the
 * guest. On hardware an exit costs more TSC ticks than its instruction
 * count, so the floor is also at least VLAPIC_MIN_PERIOD_US. Expiries
 * missed meanwhile merge into one, as on hardware, where IRR holds one
 * bit per vector.
 */
#define VLAPIC_EXPIRY_TICKS     2607
#define VLAPIC_MIN_PERIOD_TICKS (4 * VLAPIC_EXPIRY_TICKS)
#define VLAPIC_MIN_PERIOD_US    50

static uint64_t vlapic_min_period(void)
{
	return MAX((uint64_t)VLAPIC_MIN_PERIOD_TICKS,
		   tsc_khz * VLAPIC_MIN_PERIOD_US / 1000);
}

struct vlapic *vlapic_of(struct vcpu *v)
{
	return &v->lapic;
}

bool vlapic_x2apic_mode(const struct vlapic *a)
{
	return a->apic_base & APIC_BASE_EXTD;
}

bool vlapic_hw_enabled(const struct vlapic *a)
{
	return a->apic_base & APIC_BASE_EN;
}

bool vlapic_xapic_mode(const struct vlapic *a)
{
	return vlapic_hw_enabled(a) && !vlapic_x2apic_mode(a);
}

static bool vlapic_sw_enabled(const struct vlapic *a)
{
	return READ_ONCE(a->svr) & APIC_SVR_ENABLE;
}

bool vlapic_takes_extint(const struct vlapic *a)
{
	uint32_t lint0 = READ_ONCE(a->lvt[LVT_LINT0]);

	if (!vlapic_hw_enabled(a))
		return true;
	return !(lint0 & LVT_MASKED) &&
	       (lint0 & LVT_DELIVERY_MODE) >> LVT_DM_SHIFT == LVT_DM_EXTINT;
}

static void vlapic_work_set(struct vlapic *a, uint32_t bits)
{
	__atomic_fetch_or(&a->work, bits, __ATOMIC_SEQ_CST);
}

/* Bits 31:8 of the TPR are reserved (SDM Vol. 3A 11.8.3.1). */
static void vlapic_store_tpr(struct vlapic *a, uint32_t tpr)
{
	if (a->vtpr)
		WRITE_ONCE(*a->vtpr, tpr & 0xff);
	else
		a->tpr = tpr & 0xff;
}

void vlapic_shadow_tpr(struct vlapic *a, uint32_t *vtpr)
{
	uint32_t tpr = vlapic_tpr(a);

	a->vtpr = vtpr;
	vlapic_store_tpr(a, tpr);
}

/* Register state after power-on or INIT (SDM Vol. 3A 11.4.7.1). */
static void vlapic_reset_regs(struct vlapic *a, uint32_t id)
{
	memset(a->irr, 0, sizeof(a->irr));
	memset(a->isr, 0, sizeof(a->isr));
	memset(a->tmr, 0, sizeof(a->tmr));
	a->vid_stale = true;
	WRITE_ONCE(a->tmr_changed, 1);
	a->id = id;
	a->ldr = 0;
	a->dfr = 0xffffffff;
	vlapic_store_tpr(a, 0);
	a->svr = 0xff;
	a->esr = a->esr_pending = 0;
	a->icr = 0;
	vlapic_set_icr_hi(a, 0);
	for (unsigned int i = 0; i < VLAPIC_NR_LVT; i++)
		a->lvt[i] = LVT_MASKED;
	a->timer_icr = a->timer_dcr = 0;
	a->timer_shift = 1;             /* DCR 0: divide by 2 */
	a->timer_deadline = a->timer_period = a->tsc_deadline = 0;
	vlapic_page_sync(a);
}

void vlapic_init(struct vcpu *v)
{
	struct vlapic *a = vlapic_of(v);

	memset(a, 0, sizeof(*a));
	vlapic_reset_regs(a, v->index);
	a->apic_base = VLAPIC_BASE_DEFAULT | APIC_BASE_EN |
		       (v->index ? 0 : APIC_BASE_BSP);
	a->state = v->index ? VLAPIC_WAIT_SIPI : VLAPIC_RUNNING;
}

/* ---- IRR, ISR and priorities (SDM Vol. 3A 11.8.3) ---------------------- */

/* IRR, ISR and TMR bits change through these two only, which make the
 * same atomic change to the copy on the virtual-APIC page (guest/
 * vlapic_page.c): with senders on other CPUs, both stay equal. reg0 is
 * the first register of the eight; the word's old value is returned.
 * Inline: they are on the path of every interrupt.
 * With virtual-interrupt delivery the CPU itself moves vectors from the
 * page's IRR to its ISR and retires them from its ISR (SDM Vol. 3C
 * 29.2): then the page holds ISR alone, and IRR is the page's and what
 * senders posted in a->irr since (irr_post), which only the vCPU's own
 * CPU moves to the page (vlapic_vid_sync). TMR is as without it. */
static __always_inline uint32_t vec_or(struct vlapic *a, uint32_t *bits,
				       unsigned int reg0, unsigned int vector)
{
	uint32_t bit = 1u << (vector % 32);

	if (a->page)
		__atomic_fetch_or(vlapic_page_reg(a, reg0 + vector / 32), bit,
				  __ATOMIC_SEQ_CST);
	return __atomic_fetch_or(&bits[vector / 32], bit, __ATOMIC_SEQ_CST);
}

static __always_inline void vec_clear(struct vlapic *a, uint32_t *bits,
				      unsigned int reg0, unsigned int vector)
{
	uint32_t bit = 1u << (vector % 32);

	if (a->page)
		__atomic_fetch_and(vlapic_page_reg(a, reg0 + vector / 32), ~bit,
				   __ATOMIC_SEQ_CST);
	__atomic_fetch_and(&bits[vector / 32], ~bit, __ATOMIC_SEQ_CST);
}

static __always_inline uint32_t irr_post(struct vlapic *a,
					 unsigned int vector)
{
	if (a->vid)
		return __atomic_fetch_or(&a->irr[vector / 32],
					 1u << (vector % 32), __ATOMIC_SEQ_CST);
	return vec_or(a, a->irr, APIC_REG_IRR0, vector);
}

static void page_vec_or(struct vlapic *a, unsigned int reg0,
			unsigned int vector)
{
	__atomic_fetch_or(vlapic_page_reg(a, reg0 + vector / 32),
			  1u << (vector % 32), __ATOMIC_SEQ_CST);
}

static void page_vec_clear(struct vlapic *a, unsigned int reg0,
			   unsigned int vector)
{
	__atomic_fetch_and(vlapic_page_reg(a, reg0 + vector / 32),
			   ~(1u << (vector % 32)), __ATOMIC_SEQ_CST);
}

static void isr_set(struct vlapic *a, unsigned int vector)
{
	a->vid_stale = a->vid;
	if (a->vid)
		page_vec_or(a, APIC_REG_ISR0, vector);
	else
		vec_or(a, a->isr, APIC_REG_ISR0, vector);
}

static void isr_clear(struct vlapic *a, unsigned int vector)
{
	a->vid_stale = a->vid;
	if (a->vid)
		page_vec_clear(a, APIC_REG_ISR0, vector);
	else
		vec_clear(a, a->isr, APIC_REG_ISR0, vector);
}

/* The word i of IRR and of ISR as the guest reads them. */
static uint32_t irr_word(const struct vlapic *a, unsigned int i)
{
	uint32_t w = READ_ONCE(a->irr[i]);

	return a->vid ? w | READ_ONCE(*vlapic_page_reg(a, APIC_REG_IRR0 + i))
		      : w;
}

static uint32_t isr_word(const struct vlapic *a, unsigned int i)
{
	return a->vid ? READ_ONCE(*vlapic_page_reg(a, APIC_REG_ISR0 + i))
		      : a->isr[i];
}

/* The highest vector set in eight 32-bit words `stride` words apart
 * (1 in struct vlapic, 4 on the page), or -1. */
static int highest_vector(const uint32_t *w0, unsigned int stride)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = READ_ONCE(w0[(unsigned int)i * stride]);

		if (w)
			return i * 32 + 31 - __builtin_clz(w);
	}
	return -1;
}

static int highest_bit(const uint32_t *bits)
{
	return highest_vector(bits, 1);
}

/* The highest vector of the eight registers from reg0 on the page. */
int vlapic_page_highest(const struct vlapic *a, unsigned int reg0)
{
	return highest_vector(vlapic_page_reg(a, reg0), 4);
}

static int irr_highest(const struct vlapic *a)
{
	int posted = highest_bit(a->irr), in_page;

	if (!a->vid)
		return posted;
	in_page = vlapic_page_highest(a, APIC_REG_IRR0);
	return in_page > posted ? in_page : posted;
}

static int isr_highest(const struct vlapic *a)
{
	return a->vid ? vlapic_page_highest(a, APIC_REG_ISR0)
		      : highest_bit(a->isr);
}

static uint32_t vlapic_ppr(const struct vlapic *a)
{
	int isrv = isr_highest(a);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	uint32_t tpr = vlapic_tpr(a);

	return (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

/* PPR's class is the higher of TPR's and the highest ISR vector's
 * (vlapic_ppr): a vector must be above both. Nothing is delivered while
 * the APIC is off (SDM Vol. 3A 11.4.3): a sender that found it on may
 * still set an IRR bit as it goes off. */
int vlapic_pending_vector_tpr(const struct vlapic *a, uint32_t *threshold)
{
	int irrv = irr_highest(a), isrv;
	uint32_t irr_class = (uint32_t)irrv >> 4;

	*threshold = 0;
	if (irrv < 0 || !vlapic_hw_enabled(a))
		return -1;
	if (irr_class <= vlapic_tpr(a) >> 4) {
		*threshold = irr_class;
		return -1;
	}
	isrv = isr_highest(a);
	return isrv >= 0 && irr_class <= (uint32_t)isrv >> 4 ? -1 : irrv;
}

int vlapic_pending_vector(const struct vlapic *a)
{
	uint32_t threshold;

	return vlapic_pending_vector_tpr(a, &threshold);
}

void vlapic_ack(struct vlapic *a, uint8_t vector)
{
	vec_clear(a, a->irr, APIC_REG_IRR0, vector);    /* and the page's */
	isr_set(a, vector);
}

void vlapic_set_tpr(struct vlapic *a, uint32_t tpr)
{
	vlapic_store_tpr(a, tpr);
	vlapic_work_set(a, VLAPIC_WORK_EVAL);   /* a lower TPR may let one in */
}

void vlapic_unack(struct vlapic *a, uint8_t vector)
{
	isr_clear(a, vector);
	irr_post(a, vector);
	vlapic_work_set(a, VLAPIC_WORK_EVAL);
}

/* EOI retires the highest-priority in-service interrupt (11.8.5); one
 * whose TMR bit is set was level-triggered, and the EOI goes on to the
 * I/O APIC (11.8.4). TMR keeps the bit until the vector is accepted
 * edge-triggered. */
static void vlapic_eoi(struct vcpu *v)
{
	struct vlapic *a = vlapic_of(v);
	int isrv = isr_highest(a);

	if (isrv < 0)
		return;
	isr_clear(a, (unsigned int)isrv);
	vlapic_eoi_done(v, (uint8_t)isrv);
}

void vlapic_eoi_done(struct vcpu *v, uint8_t vector)
{
	struct vlapic *a = vlapic_of(v);

	vlapic_work_set(a, VLAPIC_WORK_EVAL);
	if (READ_ONCE(a->tmr[vector / 32]) & (1u << (vector % 32)))
		ioapic_eoi(v->guest, vector);
}

/*
 * Before an entry with virtual-interrupt delivery: the vectors senders
 * posted go to the page's IRR, where the CPU delivers them; the highest
 * of them is returned (-1: none). TMR is read after a word is taken, so
 * a level-triggered vector is in the EOI-exit bitmap (vmx/exit_apic.c)
 * before the CPU can see it; only this CPU writes the page's IRR
 * outside guest mode.
 */
int vlapic_vid_sync(struct vlapic *a)
{
	int highest = -1;

	for (unsigned int i = 0; i < 8; i++) {
		uint32_t w;

		if (!READ_ONCE(a->irr[i]))
			continue;
		w = __atomic_exchange_n(&a->irr[i], 0, __ATOMIC_SEQ_CST);
		*vlapic_page_reg(a, APIC_REG_IRR0 + i) |= w;
		if (w)
			highest = (int)i * 32 + 31 - __builtin_clz(w);
	}
	return highest;
}

void vlapic_accept(struct vcpu *t, uint8_t vector)
{
	vlapic_accept_irq(t, vector, false);
}

/* The ESR logs the error for the next write to it, and the APIC raises
 * the interrupt its LVT Error entry names unless that is masked (SDM
 * Vol. 3A 11.5.3). An illegal vector there would be one more error, not
 * an interrupt: none is raised. */
void vlapic_error(struct vcpu *t, uint32_t bits)
{
	struct vlapic *a = vlapic_of(t);
	uint32_t lvt = READ_ONCE(a->lvt[LVT_ERROR]);

	__atomic_fetch_or(&a->esr_pending, bits, __ATOMIC_RELAXED);
	if (!(lvt & LVT_MASKED) && (lvt & LVT_VECTOR) >= 16)
		vlapic_accept(t, lvt & LVT_VECTOR);
}

/* TMR is set for a level-triggered vector as it enters IRR, cleared for
 * an edge-triggered one (11.8.4). A vector already pending merges into
 * its IRR bit (11.8.4: one request per vector is held), and whoever set
 * the bit already made t evaluate it: no second kick, so a storm of
 * interrupts to one vector costs t one exit, not one per message. */
void vlapic_accept_irq(struct vcpu *t, uint8_t vector, bool level)
{
	struct vlapic *a = vlapic_of(t);
	uint32_t bit = 1u << (vector % 32);

	if (vector < 16) {              /* reserved vectors (11.5.2) */
		vlapic_error(t, ESR_RECV_ILLEGAL);
		return;
	}
	if (!vlapic_sw_enabled(a))
		return;
	if (level) {
		if (!(vec_or(a, a->tmr, APIC_REG_TMR0, vector) & bit))
			WRITE_ONCE(a->tmr_changed, 1);
	} else if (READ_ONCE(a->tmr[vector / 32]) & bit) {
		vec_clear(a, a->tmr, APIC_REG_TMR0, vector);
		WRITE_ONCE(a->tmr_changed, 1);
	}
	if (irr_post(a, vector) & bit)
		return;
	vlapic_work_set(a, VLAPIC_WORK_EVAL);
	vlapic_kick(t);
}

void vlapic_nmi_add(struct vlapic *a)
{
	uint32_t n = __atomic_load_n(&a->nmi_pending, __ATOMIC_ACQUIRE);

	while (n < VLAPIC_NMI_LATCH &&
	       !__atomic_compare_exchange_n(&a->nmi_pending, &n, n + 1, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
		;
}

void vlapic_accept_nmi(struct vcpu *t)
{
	struct vlapic *a = vlapic_of(t);

	/* A vCPU waiting for its SIPI has not run yet: nothing to deliver
	 * an NMI to (its start is a reset, SDM Vol. 3A 9.4.4). */
	if (READ_ONCE(a->state) == VLAPIC_WAIT_SIPI)
		return;
	vlapic_nmi_add(a);
	vlapic_work_set(a, VLAPIC_WORK_EVAL);
	vlapic_kick(t);
}

/* ---- timer (SDM Vol. 3A 11.5.4) ----------------------------------------- */

static unsigned int timer_mode(const struct vlapic *a)
{
	return (a->lvt[LVT_TIMER] & LVT_TIMER_MODE) >> LVT_TIMER_MODE_SHIFT;
}

static void timer_arm(struct vlapic *a, uint64_t deadline, uint64_t period)
{
	a->timer_deadline = deadline ? deadline : 1;
	a->timer_period = period;
	vlapic_work_set(a, VLAPIC_WORK_TIMER);
}

/* The entry path sees WORK_TIMER still set and turns the preemption
 * timer off. */
static void timer_stop(struct vlapic *a)
{
	a->timer_deadline = 0;
	a->timer_period = 0;
}

static void timer_start_count(struct vlapic *a)
{
	uint64_t ticks = (uint64_t)a->timer_icr << a->timer_shift;

	if (!a->timer_icr || timer_mode(a) == TIMER_TSC_DEADLINE) {
		timer_stop(a);
		return;
	}
	if (timer_mode(a) == TIMER_PERIODIC)
		ticks = MAX(ticks, vlapic_min_period());
	timer_arm(a, rdtsc() + ticks,
		  timer_mode(a) == TIMER_PERIODIC ? ticks : 0);
}

static uint32_t timer_current_count(const struct vlapic *a)
{
	uint64_t now = rdtsc();

	if (!a->timer_deadline || timer_mode(a) == TIMER_TSC_DEADLINE ||
	    now >= a->timer_deadline)
		return 0;
	/* A period raised to the floor still counts down from the ICR. */
	return (uint32_t)MIN((a->timer_deadline - now) >> a->timer_shift,
			     (uint64_t)a->timer_icr);
}

void vlapic_timer_poll(struct vcpu *v, uint64_t now)
{
	struct vlapic *a = vlapic_of(v);

	if (!a->timer_deadline || now < a->timer_deadline)
		return;
	if (!(a->lvt[LVT_TIMER] & LVT_MASKED))
		vlapic_accept(v, a->lvt[LVT_TIMER] & LVT_VECTOR);
	if (a->timer_period) {
		a->timer_deadline += a->timer_period;
		if (a->timer_deadline <= now)   /* missed periods merge */
			a->timer_deadline = now + a->timer_period;
		return;
	}
	timer_stop(a);
	a->tsc_deadline = 0;
}

/* Arms the timer for IA32_TSC_DEADLINE, a guest TSC value, host_now
 * being the host's TSC: a deadline the guest's TSC has reached fires at
 * once (SDM Vol. 3A 11.5.4.1), whatever the offset between the two. */
static void timer_arm_tsc_deadline(struct vcpu *v, uint64_t host_now)
{
	struct vlapic *a = vlapic_of(v);
	uint64_t guest_now = host_now + v->tsc_offset;

	if ((int64_t)(a->tsc_deadline - guest_now) <= 0)
		timer_arm(a, host_now, 0);
	else
		timer_arm(a, a->tsc_deadline - v->tsc_offset, 0);
}

/* IA32_TSC_DEADLINE: a guest TSC value; only in TSC-deadline mode. */
static void timer_write_tsc_deadline(struct vcpu *v, uint64_t val)
{
	struct vlapic *a = vlapic_of(v);

	if (timer_mode(a) != TIMER_TSC_DEADLINE)
		return;
	a->tsc_deadline = val;
	if (!val)
		timer_stop(a);
	else
		timer_arm_tsc_deadline(v, rdtsc());
}

void vlapic_tsc_moved(struct vcpu *v, uint64_t host_now)
{
	struct vlapic *a = vlapic_of(v);

	if (timer_mode(a) == TIMER_TSC_DEADLINE && a->tsc_deadline)
		timer_arm_tsc_deadline(v, host_now);
}

static void timer_write_dcr(struct vlapic *a, uint32_t val)
{
	uint32_t code = (val & 3) | ((val >> 1) & 4);

	a->timer_dcr = val & 0xb;
	a->timer_shift = (code + 1) & 7;        /* 0b111: divide by 1 */
}

/* ---- register writes ------------------------------------------------------ */

static const uint32_t lvt_writable[VLAPIC_NR_LVT] = {
	[LVT_CMCI]    = LVT_VECTOR | LVT_DELIVERY_MODE | LVT_MASKED,
	[LVT_TIMER]   = LVT_VECTOR | LVT_MASKED | LVT_TIMER_MODE,
	[LVT_THERMAL] = LVT_VECTOR | LVT_DELIVERY_MODE | LVT_MASKED,
	[LVT_PERF]    = LVT_VECTOR | LVT_DELIVERY_MODE | LVT_MASKED,
	[LVT_LINT0]   = LVT_VECTOR | LVT_DELIVERY_MODE | LVT_POLARITY |
			LVT_TRIGGER_LEVEL | LVT_MASKED,
	[LVT_LINT1]   = LVT_VECTOR | LVT_DELIVERY_MODE | LVT_POLARITY |
			LVT_TRIGGER_LEVEL | LVT_MASKED,
	[LVT_ERROR]   = LVT_VECTOR | LVT_MASKED,
};

static int lvt_index(unsigned int reg)
{
	if (reg == APIC_REG_LVT_CMCI)
		return LVT_CMCI;
	if (reg >= APIC_REG_LVT_TIMER && reg <= APIC_REG_LVT_ERROR)
		return LVT_TIMER + (int)(reg - APIC_REG_LVT_TIMER);
	return -1;
}

/*
 * A new timer mode. Entering or leaving TSC-deadline mode disarms the
 * timer (SDM Vol. 3A 11.5.4.1). Between one-shot and periodic a count
 * under way goes on (the mode change does not restart it, 11.5.4), and
 * what happens when it reaches 0 follows the new mode: a reload from the
 * initial count in periodic mode, a stop in one-shot mode.
 */
static void timer_mode_changed(struct vlapic *a, unsigned int old_mode)
{
	uint64_t ticks = (uint64_t)a->timer_icr << a->timer_shift;

	if (old_mode == TIMER_TSC_DEADLINE || timer_mode(a) == TIMER_TSC_DEADLINE) {
		timer_stop(a);
		a->tsc_deadline = 0;
		return;
	}
	if (!a->timer_deadline)
		return;                 /* no count under way */
	a->timer_period = timer_mode(a) == TIMER_PERIODIC && ticks ?
			  MAX(ticks, vlapic_min_period()) : 0;
}

static bool vlapic_write_lvt(struct vcpu *v, int i, bool x2, uint32_t val)
{
	struct vlapic *a = vlapic_of(v);
	uint32_t old_mode = timer_mode(a);

	if (x2 && (val & ~lvt_writable[i]))
		return false;
	/* The timer's TSC-deadline mode needs the preemption timer. */
	if (i == LVT_TIMER && ((val & LVT_TIMER_MODE) >> LVT_TIMER_MODE_SHIFT) ==
	    TIMER_TSC_DEADLINE && !vmx_caps.preempt_timer)
		val &= ~(uint32_t)LVT_TIMER_MODE;
	val &= lvt_writable[i];
	if (!vlapic_sw_enabled(a))
		val |= LVT_MASKED;
	a->lvt[i] = val;
	if (i == LVT_TIMER && old_mode != timer_mode(a))
		timer_mode_changed(a, old_mode);
	if (i == LVT_LINT0)             /* the 8259s' INTR may now get in */
		vlapic_work_set(a, VLAPIC_WORK_EVAL);
	return true;
}

static bool vlapic_write_svr(struct vlapic *a, bool x2, uint32_t val)
{
	uint32_t writable = APIC_SVR_VECTOR | APIC_SVR_ENABLE | APIC_SVR_FOCUS;

	if (x2 && (val & ~writable))
		return false;
	a->svr = val & writable;
	if (!(a->svr & APIC_SVR_ENABLE))         /* 11.4.7.2 */
		for (unsigned int i = 0; i < VLAPIC_NR_LVT; i++)
			a->lvt[i] |= LVT_MASKED;
	return true;
}

/* Registers whose write means the same in both forms. */
static bool vlapic_write_common(struct vcpu *v, unsigned int reg, bool x2,
				uint32_t val)
{
	struct vlapic *a = vlapic_of(v);

	switch (reg) {
	case APIC_REG_TPR:
		if (x2 && (val & ~0xffu))
			return false;
		vlapic_set_tpr(a, val);
		return true;
	case APIC_REG_EOI:
		if (x2 && val)
			return false;
		vlapic_eoi(v);
		return true;
	case APIC_REG_SVR:
		return vlapic_write_svr(a, x2, val);
	case APIC_REG_ESR:              /* a write latches the errors seen */
		if (x2 && val)
			return false;
		a->esr = __atomic_exchange_n(&a->esr_pending, 0, __ATOMIC_RELAXED);
		return true;
	case APIC_REG_TIMER_ICR:
		a->timer_icr = val;
		timer_start_count(a);
		return true;
	case APIC_REG_TIMER_DCR:
		if (x2 && (val & ~0xbu))
			return false;
		timer_write_dcr(a, val);
		return true;
	}
	if (lvt_index(reg) >= 0)
		return vlapic_write_lvt(v, lvt_index(reg), x2, val);
	return false;
}

bool vlapic_reg_write(struct vcpu *v, unsigned int reg, bool x2, uint64_t val)
{
	struct vlapic *a = vlapic_of(v);

	if (x2 && reg == APIC_REG_ICR) {
		a->icr = val & (ICR_LOW_WRITABLE | GENMASK_ULL(63, 32));
		vlapic_send_icr(v, a->icr, true);
		return true;
	}
	if (x2 && reg == APIC_REG_SELF_IPI) {
		if (val & ~ICR_VECTOR)
			return false;
		vlapic_accept(v, (uint8_t)val);
		return true;
	}
	if (x2 && (val >> 32))
		return false;
	if (!x2 && reg == APIC_REG_ICR) {
		a->icr = ((uint64_t)vlapic_icr_hi(a) << 32) |
			 (val & ICR_LOW_WRITABLE);
		vlapic_send_icr(v, a->icr, false);
		return true;
	}
	if (!x2 && reg == APIC_REG_ICR_HI) {
		vlapic_set_icr_hi(a, (uint32_t)val & 0xff000000u);
		return true;
	}
	if (!x2 && reg == APIC_REG_LDR) {
		a->ldr = (uint32_t)val & 0xff000000u;
		return true;
	}
	if (!x2 && reg == APIC_REG_DFR) {
		a->dfr = (uint32_t)val | 0x0fffffffu;
		return true;
	}
	return vlapic_write_common(v, reg, x2, (uint32_t)val);
}

/* ---- register reads -------------------------------------------------------- */

/* Registers that exist only in xAPIC mode (x2APIC: #GP). */
static bool vlapic_read_xapic_only(const struct vlapic *a, unsigned int reg,
				   uint64_t *val)
{
	switch (reg) {
	case APIC_REG_APR:
	case APIC_REG_RRD:
		*val = 0;
		return true;
	case APIC_REG_DFR:
		*val = a->dfr;
		return true;
	case APIC_REG_ICR_HI:
		*val = vlapic_icr_hi(a);
		return true;
	}
	return false;
}

static bool vlapic_read_common(struct vlapic *a, unsigned int reg,
			       uint64_t *val)
{
	if (reg >= APIC_REG_ISR0 && reg < APIC_REG_ISR0 + 8)
		*val = isr_word(a, reg - APIC_REG_ISR0);
	else if (reg >= APIC_REG_TMR0 && reg < APIC_REG_TMR0 + 8)
		*val = a->tmr[reg - APIC_REG_TMR0];
	else if (reg >= APIC_REG_IRR0 && reg < APIC_REG_IRR0 + 8)
		*val = irr_word(a, reg - APIC_REG_IRR0);
	else if (lvt_index(reg) >= 0)
		*val = a->lvt[lvt_index(reg)];
	else if (reg == APIC_REG_VERSION)
		*val = APIC_VERSION;
	else if (reg == APIC_REG_TPR)
		*val = vlapic_tpr(a);
	else if (reg == APIC_REG_PPR)
		*val = vlapic_ppr(a);
	else if (reg == APIC_REG_SVR)
		*val = a->svr;
	else if (reg == APIC_REG_ESR)
		*val = a->esr;
	else if (reg == APIC_REG_TIMER_ICR)
		*val = a->timer_icr;
	else if (reg == APIC_REG_TIMER_CCR)
		*val = timer_current_count(a);
	else if (reg == APIC_REG_TIMER_DCR)
		*val = a->timer_dcr;
	else
		return false;
	return true;
}

bool vlapic_reg_read(struct vcpu *v, unsigned int reg, bool x2, uint64_t *val)
{
	struct vlapic *a = vlapic_of(v);

	*val = 0;
	switch (reg) {
	case APIC_REG_ID:
		*val = x2 ? a->id : a->id << 24;
		return true;
	case APIC_REG_LDR:
		*val = x2 ? vlapic_x2apic_ldr(a->id) : a->ldr;
		return true;
	case APIC_REG_ICR:
		*val = x2 ? a->icr : (uint32_t)a->icr;
		return true;
	case APIC_REG_EOI:              /* write-only */
	case APIC_REG_SELF_IPI:
		return !x2;
	}
	if (!x2 && vlapic_read_xapic_only(a, reg, val))
		return true;
	return vlapic_read_common(a, reg, val) || !x2;
}

/* ---- MSRs Keel answers for the APIC --------------------------------------- */

/* In xAPIC mode at 0xfee00000: where the CPU can virtualize its page
 * (guest/vlapic_page.c), which one EPT maps for all vCPUs. */
static bool vlapic_default_page(const struct vlapic *a)
{
	return vlapic_xapic_mode(a) &&
	       (a->apic_base & APIC_BASE_ADDR) == VLAPIC_BASE_DEFAULT;
}

/* IA32_APIC_BASE's reserved bits (SDM Vol. 3A 11.4.4, Figure 11-5): 0-7,
 * 9, and MAXPHYADDR up. Keel keeps BSP as it set it. */
static bool vlapic_apic_base_valid(const struct vlapic *a, uint64_t val)
{
	uint64_t rsvd = GENMASK_ULL(7, 0) | BIT_ULL(9) |
			GENMASK_ULL(63, cpu_maxphyaddr());

	return !(val & rsvd) && !((val ^ a->apic_base) & APIC_BASE_BSP);
}

/* An APIC in xAPIC mode away from 0xfee00000 needs its page on the bus;
 * NULL, or why there is none. */
static const char *vlapic_move_base(struct vcpu *v, uint64_t val)
{
	uint64_t base = val & APIC_BASE_ADDR;

	if (!(val & APIC_BASE_EN) || (val & APIC_BASE_EXTD) ||
	    base == VLAPIC_BASE_DEFAULT)
		return NULL;
	return vlapic_mmio_place(v, base);
}

/* IA32_APIC_BASE (SDM Vol. 3A 11.12.5, Figure 11-27): disabled -> xAPIC
 * -> x2APIC -> disabled; x2APIC straight back to xAPIC, disabled straight
 * to x2APIC, and EXTD without EN are invalid. The base may move (11.4.4):
 * the MMIO bus gets a page there, or the guest is stopped when Keel
 * cannot give it one. */
static bool vlapic_write_apic_base(struct vcpu *v, uint64_t val)
{
	struct vlapic *a = vlapic_of(v);
	bool was_default = vlapic_default_page(a);
	bool en = val & APIC_BASE_EN, extd = val & APIC_BASE_EXTD;
	const char *why;

	if (!vlapic_apic_base_valid(a, val))
		return false;
	if (extd && (!en || !vlapic_hw_enabled(a)))
		return false;
	if (vlapic_x2apic_mode(a) && en && !extd)
		return false;
	why = vlapic_move_base(v, val);
	if (why) {
		vcpu_fatal(v, "IA32_APIC_BASE %#lx: no xAPIC page at %#lx: %s",
			   (unsigned long)val,
			   (unsigned long)(val & APIC_BASE_ADDR), why);
		return true;
	}
	/* Off: the reset state. On again: still that, less what a sender
	 * racing with the switch-off left in IRR (vlapic_pending_vector). */
	if (!en || !vlapic_hw_enabled(a)) {
		__atomic_store_n(&a->apic_base, val & ~(uint64_t)APIC_BASE_EN,
				 __ATOMIC_SEQ_CST);
		vlapic_reset_regs(a, a->id);
		vlapic_work_set(a, VLAPIC_WORK_TIMER | VLAPIC_WORK_EVAL);
	}
	__atomic_store_n(&a->apic_base, val, __ATOMIC_SEQ_CST);
	vlapic_page_mode(v, was_default, vlapic_default_page(a));
	vlapic_page_sync_regs(a);       /* the ID and LDR in the new form */
	if (a->vid)
		vlapic_vmx_mode(v);
	return true;
}

bool vlapic_is_msr(uint32_t msr)
{
	return msr == MSR_IA32_APIC_BASE || msr == MSR_IA32_TSC_DEADLINE ||
	       (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST);
}

bool vlapic_rdmsr(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	struct vlapic *a = vlapic_of(v);

	if (msr == MSR_IA32_APIC_BASE) {
		*val = a->apic_base;
		return true;
	}
	if (msr == MSR_IA32_TSC_DEADLINE) {
		*val = timer_mode(a) == TIMER_TSC_DEADLINE ? a->tsc_deadline : 0;
		return vmx_caps.preempt_timer;
	}
	if (!vlapic_x2apic_mode(a) || msr - MSR_X2APIC_FIRST >= APIC_NR_REGS)
		return false;
	return vlapic_reg_read(v, msr - MSR_X2APIC_FIRST, true, val);
}

bool vlapic_wrmsr(struct vcpu *v, uint32_t msr, uint64_t val)
{
	struct vlapic *a = vlapic_of(v);
	bool ok;

	if (msr == MSR_IA32_APIC_BASE)
		return vlapic_write_apic_base(v, val);
	if (msr == MSR_IA32_TSC_DEADLINE) {
		timer_write_tsc_deadline(v, val);
		return vmx_caps.preempt_timer;
	}
	if (!vlapic_x2apic_mode(a) || msr - MSR_X2APIC_FIRST >= APIC_NR_REGS)
		return false;
	ok = vlapic_reg_write(v, msr - MSR_X2APIC_FIRST, true, val);
	/* Under x2APIC virtualization the guest reads the page's copy. */
	if (a->x2apic_virt_on)
		vlapic_page_sync_regs(a);
	return ok;
}
