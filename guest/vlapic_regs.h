/*
 * Local APIC register layout (SDM Vol. 3A 11.4.1 Table 11-1 for the xAPIC
 * page, 11.12.1.2 Table 11-6 for x2APIC MSRs) and what the vlapic files
 * share. A register's index is its xAPIC offset >> 4; its x2APIC MSR is
 * 0x800 + index.
 *
 *   xAPIC page (0xfee00000)        index   x2APIC MSR
 *   0x020 ID                       0x02    0x802 (read-only)
 *   0x030 version                  0x03    0x803
 *   0x080 TPR                      0x08    0x808
 *   0x0a0 PPR                      0x0a    0x80a
 *   0x0b0 EOI                      0x0b    0x80b (write-only)
 *   0x0d0 LDR / 0x0e0 DFR          0x0d    0x80d (read-only; no DFR)
 *   0x0f0 SVR                      0x0f    0x80f
 *   0x100 ISR, 0x180 TMR, 0x200 IRR 8 each 0x810-0x827
 *   0x280 ESR                      0x28    0x828
 *   0x2f0 LVT CMCI                 0x2f    0x82f
 *   0x300/0x310 ICR low/high       0x30    0x830 (64 bits; no 0x831)
 *   0x320-0x370 LVT timer, thermal, perf, LINT0, LINT1, error
 *   0x380 initial count, 0x390 current count, 0x3e0 divide config
 *                                  0x3f    0x83f SELF IPI (x2APIC only)
 */
#ifndef KEEL_GUEST_VLAPIC_REGS_H
#define KEEL_GUEST_VLAPIC_REGS_H

#include "guest/vlapic.h"

#define APIC_REG_ID         0x02
#define APIC_REG_VERSION    0x03
#define APIC_REG_TPR        0x08
#define APIC_REG_APR        0x09
#define APIC_REG_PPR        0x0a
#define APIC_REG_EOI        0x0b
#define APIC_REG_RRD        0x0c
#define APIC_REG_LDR        0x0d
#define APIC_REG_DFR        0x0e
#define APIC_REG_SVR        0x0f
#define APIC_REG_ISR0       0x10
#define APIC_REG_TMR0       0x18
#define APIC_REG_IRR0       0x20
#define APIC_REG_ESR        0x28
#define APIC_REG_LVT_CMCI   0x2f
#define APIC_REG_ICR        0x30
#define APIC_REG_ICR_HI     0x31
#define APIC_REG_LVT_TIMER  0x32
#define APIC_REG_LVT_LINT0  0x35
#define APIC_REG_LVT_ERROR  0x37
#define APIC_REG_TIMER_ICR  0x38
#define APIC_REG_TIMER_CCR  0x39
#define APIC_REG_TIMER_DCR  0x3e
#define APIC_REG_SELF_IPI   0x3f
#define APIC_NR_REGS        0x40

/* Version: integrated APIC (0x14), max LVT index 6 (seven entries: CMCI
 * included), no directed-EOI support (bit 24 clear). */
#define APIC_VERSION        (0x14 | ((VLAPIC_NR_LVT - 1) << 16))

#define APIC_SVR_VECTOR     GENMASK_ULL(7, 0)
#define APIC_SVR_ENABLE     BIT_ULL(8)
#define APIC_SVR_FOCUS      BIT_ULL(9)

#define LVT_VECTOR          GENMASK_ULL(7, 0)
#define LVT_DELIVERY_MODE   GENMASK_ULL(10, 8)
#define LVT_DM_SHIFT        8
#define  LVT_DM_EXTINT      7
#define LVT_POLARITY        BIT_ULL(13)
#define LVT_TRIGGER_LEVEL   BIT_ULL(15)
#define LVT_MASKED          BIT_ULL(16)
#define LVT_TIMER_MODE_SHIFT 17
#define LVT_TIMER_MODE      GENMASK_ULL(18, 17)
#define  TIMER_ONESHOT      0
#define  TIMER_PERIODIC     1
#define  TIMER_TSC_DEADLINE 2

#define ICR_VECTOR          GENMASK_ULL(7, 0)
#define ICR_DM_SHIFT        8
#define  ICR_DM_FIXED       0
#define  ICR_DM_LOWEST      1
#define  ICR_DM_NMI         4
#define  ICR_DM_INIT        5
#define  ICR_DM_STARTUP     6
#define ICR_LOGICAL         BIT_ULL(11)
#define ICR_LEVEL_ASSERT    BIT_ULL(14)
#define ICR_SHORTHAND_SHIFT 18
#define  ICR_DEST_FIELD     0
#define  ICR_SELF           1
#define  ICR_ALL            2
#define  ICR_ALL_BUT_SELF   3
/* Writable ICR low bits: vector, delivery mode, destination mode, level,
 * trigger, shorthand (bit 12, delivery status, reads 0: delivery is
 * immediate). */
#define ICR_LOW_WRITABLE    (GENMASK_ULL(11, 0) | GENMASK_ULL(15, 14) | \
			     GENMASK_ULL(19, 18))

#define ESR_SEND_ILLEGAL    BIT_ULL(5)
#define ESR_RECV_ILLEGAL    BIT_ULL(6)

#define MSR_IA32_TSC_DEADLINE   0x6e0
#define MSR_X2APIC_FIRST        0x800
#define MSR_X2APIC_LAST         0x8ff

/* Shared between guest/vlapic*.c. */
struct vlapic *vlapic_of(struct vcpu *v);
bool vlapic_x2apic_mode(const struct vlapic *a);
bool vlapic_hw_enabled(const struct vlapic *a);
/* On and in xAPIC mode: the MMIO page is its interface. */
bool vlapic_xapic_mode(const struct vlapic *a);
/* One register access; x2 selects the x2APIC rules. false: #GP (x2APIC)
 * or an access that has no effect (xAPIC: callers ignore it). */
bool vlapic_reg_read(struct vcpu *v, unsigned int reg, bool x2,
		     uint64_t *val);
bool vlapic_reg_write(struct vcpu *v, unsigned int reg, bool x2,
		      uint64_t val);
/* Makes t (another vCPU) leave guest mode soon, so that it looks at its
 * `work` before it enters again (vmx/exit_apic.c). */
void vlapic_kick(struct vcpu *t);
/* v's APIC changed mode (IA32_APIC_BASE, on its own CPU): the VMCS
 * follows, with x2APIC virtualization in x2APIC mode where it is on
 * (vmx/exit_apic.c). */
void vlapic_vmx_mode(struct vcpu *v);
/* An error t's APIC detected (ESR_* bits): logged, and signalled through
 * its LVT Error entry (guest/vlapic.c). */
void vlapic_error(struct vcpu *t, uint32_t bits);
/* The copy of register reg on the virtual-APIC page (registers sit 16
 * bytes apart), and refreshing the copy of all but IRR, ISR and TMR
 * (which change with it: vec_or in guest/vlapic.c) after a write. */
static inline uint32_t *vlapic_page_reg(const struct vlapic *a,
					unsigned int reg)
{
	return &a->page[reg * 4];
}
void vlapic_page_sync_regs(struct vlapic *a);

/* ICR high in xAPIC mode, which the guest may have written to its page
 * without an exit (guest/vlapic_page.c); and setting it. */
static inline uint32_t vlapic_icr_hi(const struct vlapic *a)
{
	return a->page ? READ_ONCE(*vlapic_page_reg(a, APIC_REG_ICR_HI))
		       : a->icr >> 32;
}

static inline void vlapic_set_icr_hi(struct vlapic *a, uint32_t hi)
{
	a->icr = (a->icr & 0xffffffffULL) | ((uint64_t)hi << 32);
	if (a->page)
		WRITE_ONCE(*vlapic_page_reg(a, APIC_REG_ICR_HI), hi);
}
/* v's APIC went in or out of xAPIC mode (on, not x2APIC). */
void vlapic_page_mode(struct vcpu *v, bool was_xapic, bool now_xapic);
/* Sends the IPI the ICR describes (guest/vlapic_ipi.c). */
void vlapic_send_icr(struct vcpu *v, uint64_t icr, bool x2);
/* The logical destination register of an x2APIC with this ID. */
static inline uint32_t vlapic_x2apic_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 15));
}

#endif
