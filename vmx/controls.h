/* VM-execution, VM-exit and VM-entry control bits (SDM Vol. 3C 25.6-25.8),
 * exit reasons (Vol. 3D Appendix C) and exit-qualification layouts (Vol. 3C
 * 28.2.1). */
#ifndef KEEL_VMX_CONTROLS_H
#define KEEL_VMX_CONTROLS_H

#include "arch/compiler.h"
#include "vmx/vmx.h"

/* Pin-based (Table 25-5). */
#define PIN_EXTINT_EXITING          BIT_ULL(0)
#define PIN_NMI_EXITING             BIT_ULL(3)
#define PIN_VIRTUAL_NMIS            BIT_ULL(5)
/* PIN_PREEMPT_TIMER is in vmx.h */

/* Primary processor-based (Table 25-6). */
#define CPU_INTR_WINDOW_EXITING     BIT_ULL(2)
#define CPU_USE_TSC_OFFSETTING      BIT_ULL(3)
#define CPU_HLT_EXITING             BIT_ULL(7)
#define CPU_INVLPG_EXITING          BIT_ULL(9)
#define CPU_MWAIT_EXITING           BIT_ULL(10)
#define CPU_RDPMC_EXITING           BIT_ULL(11)
#define CPU_RDTSC_EXITING           BIT_ULL(12)
#define CPU_CR3_LOAD_EXITING        BIT_ULL(15)
#define CPU_CR3_STORE_EXITING       BIT_ULL(16)
#define CPU_CR8_LOAD_EXITING        BIT_ULL(19)
#define CPU_CR8_STORE_EXITING       BIT_ULL(20)
#define CPU_CR8_EXITING             (CPU_CR8_LOAD_EXITING | CPU_CR8_STORE_EXITING)
#define CPU_USE_TPR_SHADOW          BIT_ULL(21)
#define CPU_NMI_WINDOW_EXITING      BIT_ULL(22)
#define CPU_MOV_DR_EXITING          BIT_ULL(23)
#define CPU_UNCOND_IO_EXITING       BIT_ULL(24)
#define CPU_USE_IO_BITMAPS          BIT_ULL(25)
#define CPU_USE_MSR_BITMAPS         BIT_ULL(28)
#define CPU_MONITOR_EXITING         BIT_ULL(29)
/* CPU_ACTIVATE_SECONDARY is in vmx.h */

/* Secondary processor-based (Table 25-7); the rest are in vmx.h. */
#define CPU2_DESC_TABLE_EXITING     BIT_ULL(2)
#define CPU2_ENABLE_RDTSCP          BIT_ULL(3)
#define CPU2_WBINVD_EXITING         BIT_ULL(6)
#define CPU2_VIRT_X2APIC_MODE       BIT_ULL(4)
#define CPU2_VIRT_INTR_DELIVERY     BIT_ULL(9)
#define CPU2_ENABLE_INVPCID         BIT_ULL(12)
#define CPU2_ENABLE_XSAVES          BIT_ULL(20)
_Static_assert((CPU2_VIRT_APIC_ACCESSES | CPU2_APIC_REG_VIRT) == 0x101,
	       "Table 25-7 bits 0 and 8");

/* VM-exit controls (Table 25-13). */
#define EXIT_SAVE_DEBUG_CONTROLS    BIT_ULL(2)
#define EXIT_HOST_ADDR_SPACE_SIZE   BIT_ULL(9)
#define EXIT_ACK_INTR_ON_EXIT       BIT_ULL(15)
#define EXIT_SAVE_PAT               BIT_ULL(18)
#define EXIT_LOAD_PAT               BIT_ULL(19)
#define EXIT_SAVE_EFER              BIT_ULL(20)
#define EXIT_LOAD_EFER              BIT_ULL(21)

/* VM-entry controls (Table 25-15). */
#define ENTRY_LOAD_DEBUG_CONTROLS   BIT_ULL(2)
#define ENTRY_IA32E_MODE_GUEST      BIT_ULL(9)
#define ENTRY_LOAD_PAT              BIT_ULL(14)
#define ENTRY_LOAD_EFER             BIT_ULL(15)

/* Basic exit reasons (Appendix C). */
enum vmx_exit_reason {
	EXIT_EXCEPTION_NMI = 0,
	EXIT_EXTERNAL_INTERRUPT = 1,
	EXIT_TRIPLE_FAULT = 2,
	EXIT_INIT = 3,
	EXIT_SIPI = 4,
	EXIT_IO_SMI = 5,
	EXIT_OTHER_SMI = 6,
	EXIT_INTERRUPT_WINDOW = 7,
	EXIT_NMI_WINDOW = 8,
	EXIT_TASK_SWITCH = 9,
	EXIT_CPUID = 10,
	EXIT_GETSEC = 11,
	EXIT_HLT = 12,
	EXIT_INVD = 13,
	EXIT_INVLPG = 14,
	EXIT_RDPMC = 15,
	EXIT_RDTSC = 16,
	EXIT_RSM = 17,
	EXIT_VMCALL = 18,
	EXIT_VMCLEAR = 19,
	EXIT_VMLAUNCH = 20,
	EXIT_VMPTRLD = 21,
	EXIT_VMPTRST = 22,
	EXIT_VMREAD = 23,
	EXIT_VMRESUME = 24,
	EXIT_VMWRITE = 25,
	EXIT_VMXOFF = 26,
	EXIT_VMXON = 27,
	EXIT_CR_ACCESS = 28,
	EXIT_DR_ACCESS = 29,
	EXIT_IO = 30,
	EXIT_RDMSR = 31,
	EXIT_WRMSR = 32,
	EXIT_ENTRY_FAIL_GUEST = 33,
	EXIT_ENTRY_FAIL_MSR = 34,
	EXIT_MWAIT = 36,
	EXIT_MTF = 37,
	EXIT_MONITOR = 39,
	EXIT_PAUSE = 40,
	EXIT_ENTRY_FAIL_MC = 41,
	EXIT_TPR_BELOW_THRESHOLD = 43,
	EXIT_APIC_ACCESS = 44,
	EXIT_VIRTUALIZED_EOI = 45,
	EXIT_GDTR_IDTR = 46,
	EXIT_LDTR_TR = 47,
	EXIT_EPT_VIOLATION = 48,
	EXIT_EPT_MISCONFIG = 49,
	EXIT_INVEPT = 50,
	EXIT_RDTSCP = 51,
	EXIT_PREEMPT_TIMER = 52,
	EXIT_INVVPID = 53,
	EXIT_WBINVD = 54,
	EXIT_XSETBV = 55,
	EXIT_APIC_WRITE = 56,
	EXIT_RDRAND = 57,
	EXIT_INVPCID = 58,
	EXIT_VMFUNC = 59,
	EXIT_ENCLS = 60,
	EXIT_RDSEED = 61,
	EXIT_PML_FULL = 62,
	EXIT_XSAVES = 63,
	EXIT_XRSTORS = 64,
	VMX_NR_EXIT_REASONS = 80,
};

#define EXIT_REASON_BASIC_MASK      GENMASK_ULL(15, 0)
#define EXIT_REASON_ENTRY_FAILURE   BIT_ULL(31)

/* I/O instruction qualification (Table 28-5). */
#define IOQ_SIZE_MASK               GENMASK_ULL(2, 0)   /* size - 1 */
#define IOQ_IN                      BIT_ULL(3)
#define IOQ_STRING                  BIT_ULL(4)
#define IOQ_REP                     BIT_ULL(5)
#define IOQ_PORT_SHIFT              16

/* Control-register access qualification (Table 28-3). */
#define CRQ_CR_MASK                 GENMASK_ULL(3, 0)
#define CRQ_TYPE_SHIFT              4
#define CRQ_TYPE_MASK               GENMASK_ULL(5, 4)
#define  CRQ_TYPE_MOV_TO_CR         0
#define  CRQ_TYPE_MOV_FROM_CR       1
#define  CRQ_TYPE_CLTS              2
#define  CRQ_TYPE_LMSW              3
#define CRQ_GPR_SHIFT               8
#define CRQ_GPR_MASK                GENMASK_ULL(11, 8)
#define CRQ_LMSW_SRC_SHIFT          16

/* EPT violation qualification (Table 28-7). */
#define EPTQ_READ                   BIT_ULL(0)
#define EPTQ_WRITE                  BIT_ULL(1)
#define EPTQ_FETCH                  BIT_ULL(2)
#define EPTQ_GLA_VALID              BIT_ULL(7)
#define EPTQ_GLA_XLAT               BIT_ULL(8)  /* to the translation of
						 * that linear address */

/* APIC-access qualification (Table 28-6); an APIC-write exit's holds
 * only the offset. */
#define APICQ_OFFSET                GENMASK_ULL(11, 0)
#define APICQ_TYPE_SHIFT            12
#define APICQ_TYPE                  GENMASK_ULL(15, 12)
#define  APICQ_LINEAR_READ          0
#define  APICQ_LINEAR_WRITE         1

/* VM-entry/exit interruption information (Tables 25-17, 25-19). */
#define INTR_INFO_VECTOR_MASK       GENMASK_ULL(7, 0)
#define INTR_INFO_TYPE_SHIFT        8
#define  INTR_TYPE_EXT_INTR         0
#define  INTR_TYPE_NMI              2
#define  INTR_TYPE_HW_EXCEPTION     3
#define  INTR_TYPE_SW_EXCEPTION     6
#define INTR_INFO_DELIVER_ERROR     BIT_ULL(11)
/* Exit interruption info of an exception exit, and the qualification of
 * EPT-violation and PML-full exits: an IRET that faulted had unblocked
 * NMIs (SDM Vol. 3C 28.2.3); undefined when IDT-vectoring info is valid. */
#define INTR_INFO_NMI_UNBLOCKED     BIT_ULL(12)
#define INTR_INFO_VALID             BIT_ULL(31)

/* Guest interruptibility state (Table 25-3) and activity states (25.4.2). */
#define INTERRUPTIBILITY_STI        BIT_ULL(0)
#define INTERRUPTIBILITY_MOV_SS     BIT_ULL(1)
#define INTERRUPTIBILITY_NMI        BIT_ULL(3)
/* Pending debug exceptions (Table 25-4). */
#define PENDING_DBG_B0_B3           GENMASK_ULL(3, 0)
#define PENDING_DBG_ENABLED_BP      BIT_ULL(12)
#define PENDING_DBG_BS              BIT_ULL(14)     /* single step */
/* Either makes VM entry deliver a #DB (SDM Vol. 3C 27.7.3). */
#define PENDING_DBG_VALID           (PENDING_DBG_ENABLED_BP | PENDING_DBG_BS)
#define ACTIVITY_ACTIVE             0
#define ACTIVITY_HLT                1
#define ACTIVITY_WAIT_SIPI          3
/* Segment access rights (SDM Vol. 3C 25.4.1, Table 25-2). */
#define AR_L_BIT                    BIT_ULL(13)     /* CS.L: 64-bit code */

/*
 * Computes a control value: `required` bits must be allowed to be 1,
 * `optional` ones are set where allowed, and bits the CPU forces to 1
 * (allowed 0-settings, low half of the capability MSR) are always set
 * (SDM Vol. 3D A.3). Returns false if a required bit is not allowed.
 */
static inline bool vmx_adjust_controls(uint64_t cap, uint32_t required,
				       uint32_t optional, uint32_t *out)
{
	uint32_t must1 = (uint32_t)cap, may1 = (uint32_t)(cap >> 32);

	*out = (must1 | required | (optional & may1)) & may1;
	return (*out & required) == required;
}

/* An entry of a VM-exit or VM-entry MSR-load area (SDM Vol. 3C 25.7.2,
 * 25.8.2, Table 25-15); the area is 16-byte aligned. */
struct vmx_msr_entry {
	uint32_t index;
	uint32_t reserved;
	uint64_t value;
} __aligned(16);

_Static_assert(sizeof(struct vmx_msr_entry) == 16, "SDM Table 25-15");

#endif
