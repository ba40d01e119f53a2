/*
 * Local APIC registers and bits a test guest uses (SDM Vol. 3A 11.4.1,
 * Table 11-1 for the offsets; 11.5.1, 11.5.3, 11.6.1 and 11.12.1.2 for
 * the bits), at the default base; x2APIC MSRs are the same registers.
 */
#ifndef KEEL_TEST_APIC_REGS_H
#define KEEL_TEST_APIC_REGS_H

#define APIC_MMIO           0xfee00000u
#define MSR_APIC_BASE       0x1b
#define  APIC_BASE_BSP      (1u << 8)
#define  APIC_BASE_EXTD     (1u << 10)
#define  APIC_BASE_EN       (1u << 11)
#define MSR_TSC_DEADLINE    0x6e0
#define X2APIC_MSR(off)     (0x800u + ((off) >> 4))

#define APIC_ID             0x020
#define APIC_VERSION        0x030
#define APIC_TPR            0x080
#define APIC_PPR            0x0a0
#define APIC_EOI            0x0b0
#define APIC_LDR            0x0d0
#define APIC_DFR            0x0e0
#define APIC_SVR            0x0f0
#define APIC_ISR            0x100
#define APIC_TMR            0x180
#define APIC_IRR            0x200
#define APIC_ESR            0x280
#define APIC_ICR            0x300
#define APIC_ICR_HI         0x310
#define APIC_LVT_TIMER      0x320
#define APIC_LVT_THERMAL    0x330
#define APIC_LVT_LINT0      0x350
#define APIC_LVT_ERROR      0x370
#define APIC_TIMER_ICR      0x380
#define APIC_TIMER_CCR      0x390
#define APIC_TIMER_DCR      0x3e0
#define APIC_SELF_IPI       0x3f0       /* x2APIC only */

#define LVT_MASKED          (1u << 16)
#define LVT_PERIODIC        (1u << 17)
#define LVT_TSC_DEADLINE    (2u << 17)
#define DCR_DIVIDE_1        0xb
#define ICR_LOWEST          (1u << 8)
#define ICR_NMI             (4u << 8)
#define ICR_INIT            (5u << 8)
#define ICR_STARTUP         (6u << 8)
#define ICR_LOGICAL         (1u << 11)
#define ICR_ASSERT          (1u << 14)
#define ICR_LEVEL           (1u << 15)
#define ICR_SELF            (1u << 18)  /* destination shorthands */
#define ICR_ALL             (2u << 18)
#define ICR_ALL_BUT_SELF    (3u << 18)
#define ESR_SEND_ILLEGAL    (1u << 5)
#define ESR_RECV_ILLEGAL    (1u << 6)
#define DFR_FLAT            0xffffffffu
#define DFR_CLUSTER         0x0fffffffu

#endif
