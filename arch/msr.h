/* Model-specific register numbers Keel uses (SDM Vol. 4, Chapter 2). */
#ifndef KEEL_ARCH_MSR_H
#define KEEL_ARCH_MSR_H

#include "arch/compiler.h"

#define MSR_IA32_FEATURE_CONTROL        0x0000003a
#define  FEATURE_CONTROL_LOCKED         BIT_ULL(0)
#define  FEATURE_CONTROL_VMX_IN_SMX     BIT_ULL(1)
#define  FEATURE_CONTROL_VMX_OUTSIDE_SMX BIT_ULL(2)
#define MSR_IA32_APIC_BASE              0x0000001b
#define  APIC_BASE_BSP                  BIT_ULL(8)
#define  APIC_BASE_EXTD                 BIT_ULL(10)
#define  APIC_BASE_EN                   BIT_ULL(11)
#define  APIC_BASE_ADDR                 (~0xfffULL)     /* up to MAXPHYADDR */
#define  APIC_BASE_ADDR_MASK            GENMASK_ULL(51, 12)
#define MSR_IA32_PAT                    0x00000277
#define MSR_IA32_VMX_BASIC              0x00000480
#define MSR_IA32_VMX_PINBASED_CTLS      0x00000481
#define MSR_IA32_VMX_PROCBASED_CTLS     0x00000482
#define MSR_IA32_VMX_EXIT_CTLS          0x00000483
#define MSR_IA32_VMX_ENTRY_CTLS         0x00000484
#define MSR_IA32_VMX_MISC               0x00000485
#define MSR_IA32_VMX_CR0_FIXED0         0x00000486
#define MSR_IA32_VMX_CR0_FIXED1         0x00000487
#define MSR_IA32_VMX_CR4_FIXED0         0x00000488
#define MSR_IA32_VMX_CR4_FIXED1         0x00000489
#define MSR_IA32_VMX_VMCS_ENUM          0x0000048a
#define MSR_IA32_VMX_PROCBASED_CTLS2    0x0000048b
#define MSR_IA32_VMX_EPT_VPID_CAP       0x0000048c
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x0000048d
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x0000048e
#define MSR_IA32_VMX_TRUE_EXIT_CTLS     0x0000048f
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS    0x00000490
#define MSR_IA32_VMX_VMFUNC             0x00000491
#define MSR_IA32_SYSENTER_CS            0x00000174
#define MSR_IA32_SYSENTER_ESP           0x00000175
#define MSR_IA32_SYSENTER_EIP           0x00000176
#define MSR_IA32_EFER                   0xc0000080
#define MSR_STAR                        0xc0000081
#define MSR_LSTAR                       0xc0000082
#define MSR_CSTAR                       0xc0000083
#define MSR_SFMASK                      0xc0000084
#define MSR_TSC_AUX                     0xc0000103
#define  EFER_SCE                       BIT_ULL(0)
#define  EFER_LME                       BIT_ULL(8)
#define  EFER_LMA                       BIT_ULL(10)
#define  EFER_NXE                       BIT_ULL(11)
#define MSR_FS_BASE                     0xc0000100
#define MSR_GS_BASE                     0xc0000101
#define MSR_KERNEL_GS_BASE              0xc0000102

/* x2APIC registers are MSRs 0x800 + (xAPIC offset >> 4) (SDM Vol. 3A 11.12.1). */
#define MSR_X2APIC_BASE                 0x00000800

#endif
