/*
 * A vCPU's emulated MSRs that are plain state; see guest/vmsr.h. The
 * rules, MSR by MSR:
 *
 * IA32_TSC (10H) and IA32_TSC_ADJUST (3BH), SDM Vol. 3B 17.17.3: the
 * guest's TSC is the host's plus the VMCS TSC offset, so a write of the
 * TSC moves the offset by the difference X, and TSC_ADJUST by the same X;
 * a write of TSC_ADJUST that changes it by X moves the TSC (the offset)
 * by X. TSC_ADJUST changes only through these writes, never with time.
 *
 * IA32_MISC_ENABLE (1A0H), SDM Vol. 4 Table 2-2, for the CPU Keel shows:
 *   0  fast strings          R/W (a hint: the host's string engine runs)
 *   3  automatic TCC         R/W (thermal control is the host's)
 *   7  perfmon available     RO 0: CPUID leaf 0xa is hidden
 *  11  BTS unavailable       RO 1: CPUID.1:EDX.DS is hidden
 *  12  PEBS unavailable      RO 1: likewise
 *  16  EIST enable           R/W (P-states are the host's)
 *  18  MONITOR FSM enable    R/W: CPUID.1:ECX.MONITOR follows it, and
 *                            MONITOR/MWAIT work while it is set
 *  22  limit CPUID maxval    R/W: CPUID.0:EAX reads 2 while it is set
 *  23  xTPR message disable  R/W (no chipset sees xTPR messages)
 *  34  XD bit disable        R/W where NX is shown: CPUID.80000001H:
 *                            EDX.NX reads 0 while it is set
 * Writes leave the read-only bits as they are; a reserved bit set is #GP.
 * The bits marked as the host's are storage: the guest reads back what it
 * wrote, and the effect they would have on a whole machine is not the
 * guest's to have.
 *
 * IA32_MTRR_DEF_TYPE (2FFH), SDM Vol. 3A 12.11.2.1: IA32_MTRRCAP reads 0
 * (no variable or fixed ranges, no WC), so the type (bits 7:0) and E
 * (bit 11) exist; the type must be UC, WT, WP or WB. Storage only: the
 * memory type of guest RAM is Keel's (write-back).
 */
#include "guest/vmsr.h"

#define MISC_ENABLE_RO      (MISC_ENABLE_PERFMON | MISC_ENABLE_BTS_UNAVAIL | \
			     MISC_ENABLE_PEBS_UNAVAIL)
#define MISC_ENABLE_RW      (MISC_ENABLE_FAST_STRINGS | MISC_ENABLE_TCC | \
			     MISC_ENABLE_EIST | MISC_ENABLE_MONITOR | \
			     MISC_ENABLE_LIMIT_CPUID | MISC_ENABLE_XTPR_DISABLE)

#define MTRR_DEF_TYPE_TYPE  0xffULL
#define MTRR_DEF_TYPE_E     BIT_ULL(11)
#define MTRR_TYPE_UC        0
#define MTRR_TYPE_WT        4
#define MTRR_TYPE_WP        5
#define MTRR_TYPE_WB        6

void vmsr_reset(struct vmsr *m)
{
	m->tsc_adjust = 0;
	m->misc_enable = MISC_ENABLE_FAST_STRINGS | MISC_ENABLE_BTS_UNAVAIL |
			 MISC_ENABLE_PEBS_UNAVAIL;
	m->mtrr_def_type = 0;
}

uint64_t vmsr_write_tsc(struct vmsr *m, uint64_t tsc_offset, uint64_t guest_now,
			uint64_t val)
{
	uint64_t x = val - guest_now;           /* modulo 2^64, as the MSRs */

	m->tsc_adjust += x;
	return tsc_offset + x;
}

uint64_t vmsr_write_tsc_adjust(struct vmsr *m, uint64_t tsc_offset,
			       uint64_t val)
{
	uint64_t x = val - m->tsc_adjust;

	m->tsc_adjust = val;
	return tsc_offset + x;
}

bool vmsr_write_misc_enable(struct vmsr *m, uint64_t val, uint64_t cpu)
{
	uint64_t rw = MISC_ENABLE_RW |
		      ((cpu & VMSR_CPU_NX) ? MISC_ENABLE_XD_DISABLE : 0);

	if (val & ~(rw | MISC_ENABLE_RO))
		return false;
	m->misc_enable = (val & rw) | (m->misc_enable & MISC_ENABLE_RO);
	return true;
}

bool vmsr_write_mtrr_def_type(struct vmsr *m, uint64_t val)
{
	uint64_t type = val & MTRR_DEF_TYPE_TYPE;

	if (val & ~(MTRR_DEF_TYPE_TYPE | MTRR_DEF_TYPE_E))
		return false;
	if (type != MTRR_TYPE_UC && type != MTRR_TYPE_WT &&
	    type != MTRR_TYPE_WP && type != MTRR_TYPE_WB)
		return false;
	m->mtrr_def_type = val;
	return true;
}
