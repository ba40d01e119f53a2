/* VMX capabilities and VMX root operation on every CPU. */
#ifndef KEEL_VMX_VMX_H
#define KEEL_VMX_VMX_H

#include "arch/compiler.h"

/* IA32_VMX_BASIC (SDM Vol. 3D A.1). */
#define VMX_BASIC_REVISION_MASK     GENMASK_ULL(30, 0)
#define VMX_BASIC_TRUE_CTLS         BIT_ULL(55)
/* Pin-based controls (SDM Vol. 3C 25.6.1). */
#define PIN_PREEMPT_TIMER           BIT_ULL(6)
/* Primary processor-based controls (25.6.2, Table 25-6). */
#define CPU_ACTIVATE_SECONDARY      BIT_ULL(31)
/* Secondary processor-based controls (25.6.2, Table 25-7). */
#define CPU2_VIRT_APIC_ACCESSES     BIT_ULL(0)
#define CPU2_ENABLE_EPT             BIT_ULL(1)
#define CPU2_ENABLE_VPID            BIT_ULL(5)
#define CPU2_UNRESTRICTED_GUEST     BIT_ULL(7)
#define CPU2_APIC_REG_VIRT          BIT_ULL(8)
#define CPU2_ENABLE_VMFUNC          BIT_ULL(13)
#define CPU2_ENABLE_PML             BIT_ULL(17)
/* IA32_VMX_EPT_VPID_CAP (SDM Vol. 3D A.10). */
#define EPT_CAP_WALK_4              BIT_ULL(6)
#define EPT_CAP_WB                  BIT_ULL(14)
#define EPT_CAP_2M                  BIT_ULL(16)
#define EPT_CAP_1G                  BIT_ULL(17)
#define EPT_CAP_INVEPT              BIT_ULL(20)
#define EPT_CAP_AD                  BIT_ULL(21)
#define EPT_CAP_INVEPT_SINGLE       BIT_ULL(25)
#define EPT_CAP_INVEPT_ALL          BIT_ULL(26)
#define VPID_CAP_INVVPID            BIT_ULL(32)
#define VPID_CAP_INVVPID_ADDR       BIT_ULL(40)
#define VPID_CAP_INVVPID_SINGLE     BIT_ULL(41)
#define VPID_CAP_INVVPID_ALL        BIT_ULL(42)

/*
 * Every VMX capability MSR, read once on the BSP. The rest of Keel asks
 * this structure and never reads the MSRs again. Control MSRs hold the
 * allowed 0-settings in bits 31:0 and allowed 1-settings in 63:32
 * (SDM Vol. 3D A.3); the TRUE variants are used where IA32_VMX_BASIC[55]
 * says they exist.
 */
struct vmx_caps {
	bool present;                   /* CPUID says VMX, MSRs were read */
	uint64_t basic;
	uint64_t pinbased, procbased, exit, entry;      /* TRUE where present */
	uint64_t procbased2;            /* 0 without secondary controls */
	uint64_t ept_vpid;              /* 0 without EPT and VPID */
	uint64_t misc;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t vmfunc;
	/* Derived, for readers. */
	bool ept, vpid, ug, ept_ad, pml, ept_2m, ept_1g, preempt_timer;
	bool vmfunc_ok;
	bool tpr_shadow;                /* and CR8 accesses need not exit */
	/* With the TPR shadow and EPT: "virtualize APIC accesses" and
	 * "APIC-register virtualization" (SDM Vol. 3C 29.4), xAPIC
	 * register reads without exits. */
	bool apic_reg_virt;
	/* And "virtual-interrupt delivery" (29.2): interrupts and EOIs
	 * without exits; and with it "virtualize x2APIC mode" (29.5): the
	 * same through the x2APIC MSRs. */
	bool vid, x2apic_virt;
	uint32_t revision;
};

extern struct vmx_caps vmx_caps;

static inline bool vmx_ctl_allows1(uint64_t ctl_msr, uint64_t bits)
{
	return ((ctl_msr >> 32) & bits) == bits;
}

/* Reads the capability MSRs (BSP, once) and prints the caps line. */
void vmx_caps_init(void);
/* Enters VMX root operation on the calling CPU, or records why not. Prints
 * `keel: cpu N: vmxon ok` or `keel: cpu N: vmx unavailable: REASON`. */
void vmx_cpu_init(void);

#endif
