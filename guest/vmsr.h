/*
 * A vCPU's emulated MSRs that are plain state (guest/vmsr.c): the TSC and
 * IA32_TSC_ADJUST arithmetic, IA32_MISC_ENABLE and IA32_MTRR_DEF_TYPE.
 * Pure: no VMCS, no host access, so the rules are tested on the host
 * (tests/unit/test_vmsr.c); vmx/exit_msr.c applies the results.
 */
#ifndef KEEL_GUEST_VMSR_H
#define KEEL_GUEST_VMSR_H

#include "arch/compiler.h"

#define MSR_IA32_TSC            0x010
#define MSR_IA32_TSC_ADJUST     0x03b
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_IA32_MTRR_DEF_TYPE  0x2ff

/* IA32_MISC_ENABLE bits (SDM Vol. 4, Table 2-2). */
#define MISC_ENABLE_FAST_STRINGS    BIT_ULL(0)      /* R/W */
#define MISC_ENABLE_TCC             BIT_ULL(3)      /* R/W */
#define MISC_ENABLE_PERFMON         BIT_ULL(7)      /* RO */
#define MISC_ENABLE_BTS_UNAVAIL     BIT_ULL(11)     /* RO */
#define MISC_ENABLE_PEBS_UNAVAIL    BIT_ULL(12)     /* RO */
#define MISC_ENABLE_EIST            BIT_ULL(16)     /* R/W */
#define MISC_ENABLE_MONITOR         BIT_ULL(18)     /* R/W: CPUID.1:ECX.MONITOR */
#define MISC_ENABLE_LIMIT_CPUID     BIT_ULL(22)     /* R/W: CPUID.0:EAX = 2 */
#define MISC_ENABLE_XTPR_DISABLE    BIT_ULL(23)     /* R/W */
#define MISC_ENABLE_XD_DISABLE      BIT_ULL(34)     /* R/W: CPUID.80000001H:EDX.NX = 0 */

/* What the guest's CPUID shows that decides which MISC_ENABLE bits exist. */
#define VMSR_CPU_NX                 BIT_ULL(0)      /* CPUID.80000001H:EDX[20] */

struct vmsr {
	uint64_t tsc_adjust;            /* IA32_TSC_ADJUST (two's complement) */
	uint64_t misc_enable;
	uint64_t mtrr_def_type;
};

/* Reset values: TSC_ADJUST 0 (SDM Vol. 3B 17.17.3), MISC_ENABLE with
 * fast strings on and BTS/PEBS unavailable (Keel shows no debug store),
 * MTRRs off. */
void vmsr_reset(struct vmsr *m);

/*
 * WRMSR to IA32_TSC, the guest's TSC reading guest_now just before: the
 * TSC moves by X = val - guest_now, and IA32_TSC_ADJUST by the same X
 * (SDM Vol. 3B 17.17.3, "Time-Stamp Counter Adjustment"). Returns the
 * new TSC offset (guest = host + it).
 */
uint64_t vmsr_write_tsc(struct vmsr *m, uint64_t tsc_offset, uint64_t guest_now,
			uint64_t val);

/* WRMSR to IA32_TSC_ADJUST: a change of X moves the TSC by X too.
 * Returns the new TSC offset. */
uint64_t vmsr_write_tsc_adjust(struct vmsr *m, uint64_t tsc_offset,
			       uint64_t val);

/* WRMSR to IA32_MISC_ENABLE: false (#GP) when val sets a reserved bit;
 * read-only bits keep their value. `cpu` is VMSR_CPU_*. */
bool vmsr_write_misc_enable(struct vmsr *m, uint64_t val, uint64_t cpu);

/* WRMSR to IA32_MTRR_DEF_TYPE: false (#GP) for a reserved bit or a type
 * that is not a memory type (SDM Vol. 3A 12.11.2.1, 12.11.7.2). */
bool vmsr_write_mtrr_def_type(struct vmsr *m, uint64_t val);

#endif
