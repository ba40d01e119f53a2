/*
 * VMCS field encodings (SDM Vol. 3D Appendix B) and typed accessors.
 *
 * Bits 14:13 of an encoding give the field's width (SDM Vol. 3C 25.11.2):
 * 0 = 16-bit, 1 = 64-bit, 2 = 32-bit, 3 = natural width. vmcs_read32() and
 * friends check that width at build time, so a 32-bit read of a 64-bit
 * field does not compile.
 */
#ifndef KEEL_VMX_VMCS_H
#define KEEL_VMX_VMCS_H

#include "arch/compiler.h"

enum vmcs_field {
	/* 16-bit control */
	VMCS_VPID                       = 0x0000,
	/* 16-bit guest state */
	VMCS_GUEST_ES_SEL               = 0x0800,
	VMCS_GUEST_CS_SEL               = 0x0802,
	VMCS_GUEST_SS_SEL               = 0x0804,
	VMCS_GUEST_DS_SEL               = 0x0806,
	VMCS_GUEST_FS_SEL               = 0x0808,
	VMCS_GUEST_GS_SEL               = 0x080a,
	VMCS_GUEST_LDTR_SEL             = 0x080c,
	VMCS_GUEST_TR_SEL               = 0x080e,
	VMCS_GUEST_INTR_STATUS          = 0x0810,  /* RVI | SVI << 8 */
	VMCS_GUEST_PML_INDEX            = 0x0812,
	/* 16-bit host state */
	VMCS_HOST_ES_SEL                = 0x0c00,
	VMCS_HOST_CS_SEL                = 0x0c02,
	VMCS_HOST_SS_SEL                = 0x0c04,
	VMCS_HOST_DS_SEL                = 0x0c06,
	VMCS_HOST_FS_SEL                = 0x0c08,
	VMCS_HOST_GS_SEL                = 0x0c0a,
	VMCS_HOST_TR_SEL                = 0x0c0c,
	/* 64-bit control */
	VMCS_IO_BITMAP_A                = 0x2000,
	VMCS_IO_BITMAP_B                = 0x2002,
	VMCS_MSR_BITMAP                 = 0x2004,
	VMCS_EXIT_MSR_STORE_ADDR        = 0x2006,
	VMCS_EXIT_MSR_LOAD_ADDR         = 0x2008,
	VMCS_ENTRY_MSR_LOAD_ADDR        = 0x200a,
	VMCS_PML_ADDRESS                = 0x200e,
	VMCS_TSC_OFFSET                 = 0x2010,
	VMCS_VIRTUAL_APIC_ADDR          = 0x2012,
	VMCS_APIC_ACCESS_ADDR           = 0x2014,
	VMCS_EPT_POINTER                = 0x201a,
	VMCS_EOI_EXIT_BITMAP0           = 0x201c,  /* ..3 at 0x2022, 2 apart */
	/* 64-bit read-only */
	VMCS_GUEST_PHYSICAL_ADDRESS     = 0x2400,
	/* 64-bit guest state */
	VMCS_LINK_POINTER               = 0x2800,
	VMCS_GUEST_DEBUGCTL             = 0x2802,
	VMCS_GUEST_PAT                  = 0x2804,
	VMCS_GUEST_EFER                 = 0x2806,
	VMCS_GUEST_PDPTE0               = 0x280a,
	VMCS_GUEST_PDPTE1               = 0x280c,
	VMCS_GUEST_PDPTE2               = 0x280e,
	VMCS_GUEST_PDPTE3               = 0x2810,
	/* 64-bit host state */
	VMCS_HOST_PAT                   = 0x2c00,
	VMCS_HOST_EFER                  = 0x2c02,
	/* 32-bit control */
	VMCS_PIN_CONTROLS               = 0x4000,
	VMCS_PROC_CONTROLS              = 0x4002,
	VMCS_EXCEPTION_BITMAP           = 0x4004,
	VMCS_PF_ERROR_MASK              = 0x4006,
	VMCS_PF_ERROR_MATCH             = 0x4008,
	VMCS_CR3_TARGET_COUNT           = 0x400a,
	VMCS_EXIT_CONTROLS              = 0x400c,
	VMCS_EXIT_MSR_STORE_COUNT       = 0x400e,
	VMCS_EXIT_MSR_LOAD_COUNT        = 0x4010,
	VMCS_ENTRY_CONTROLS             = 0x4012,
	VMCS_ENTRY_MSR_LOAD_COUNT       = 0x4014,
	VMCS_ENTRY_INTR_INFO            = 0x4016,
	VMCS_ENTRY_EXCEPTION_ERROR      = 0x4018,
	VMCS_ENTRY_INSTR_LEN            = 0x401a,
	VMCS_TPR_THRESHOLD              = 0x401c,
	VMCS_PROC_CONTROLS2             = 0x401e,
	/* 32-bit read-only */
	VMCS_INSTR_ERROR                = 0x4400,
	VMCS_EXIT_REASON                = 0x4402,
	VMCS_EXIT_INTR_INFO             = 0x4404,
	VMCS_EXIT_INTR_ERROR            = 0x4406,
	VMCS_IDT_VECTORING_INFO         = 0x4408,
	VMCS_IDT_VECTORING_ERROR        = 0x440a,
	VMCS_EXIT_INSTR_LEN             = 0x440c,
	VMCS_EXIT_INSTR_INFO            = 0x440e,
	/* 32-bit guest state */
	VMCS_GUEST_ES_LIMIT             = 0x4800,
	VMCS_GUEST_CS_LIMIT             = 0x4802,
	VMCS_GUEST_SS_LIMIT             = 0x4804,
	VMCS_GUEST_DS_LIMIT             = 0x4806,
	VMCS_GUEST_FS_LIMIT             = 0x4808,
	VMCS_GUEST_GS_LIMIT             = 0x480a,
	VMCS_GUEST_LDTR_LIMIT           = 0x480c,
	VMCS_GUEST_TR_LIMIT             = 0x480e,
	VMCS_GUEST_GDTR_LIMIT           = 0x4810,
	VMCS_GUEST_IDTR_LIMIT           = 0x4812,
	VMCS_GUEST_ES_AR                = 0x4814,
	VMCS_GUEST_CS_AR                = 0x4816,
	VMCS_GUEST_SS_AR                = 0x4818,
	VMCS_GUEST_DS_AR                = 0x481a,
	VMCS_GUEST_FS_AR                = 0x481c,
	VMCS_GUEST_GS_AR                = 0x481e,
	VMCS_GUEST_LDTR_AR              = 0x4820,
	VMCS_GUEST_TR_AR                = 0x4822,
	VMCS_GUEST_INTERRUPTIBILITY     = 0x4824,
	VMCS_GUEST_ACTIVITY_STATE       = 0x4826,
	VMCS_GUEST_SYSENTER_CS          = 0x482a,
	VMCS_PREEMPTION_TIMER           = 0x482e,
	/* 32-bit host state */
	VMCS_HOST_SYSENTER_CS           = 0x4c00,
	/* natural-width control */
	VMCS_CR0_GUEST_HOST_MASK        = 0x6000,
	VMCS_CR4_GUEST_HOST_MASK        = 0x6002,
	VMCS_CR0_READ_SHADOW            = 0x6004,
	VMCS_CR4_READ_SHADOW            = 0x6006,
	/* natural-width read-only */
	VMCS_EXIT_QUALIFICATION         = 0x6400,
	VMCS_GUEST_LINEAR_ADDRESS       = 0x640a,
	/* natural-width guest state */
	VMCS_GUEST_CR0                  = 0x6800,
	VMCS_GUEST_CR3                  = 0x6802,
	VMCS_GUEST_CR4                  = 0x6804,
	VMCS_GUEST_ES_BASE              = 0x6806,
	VMCS_GUEST_CS_BASE              = 0x6808,
	VMCS_GUEST_SS_BASE              = 0x680a,
	VMCS_GUEST_DS_BASE              = 0x680c,
	VMCS_GUEST_FS_BASE              = 0x680e,
	VMCS_GUEST_GS_BASE              = 0x6810,
	VMCS_GUEST_LDTR_BASE            = 0x6812,
	VMCS_GUEST_TR_BASE              = 0x6814,
	VMCS_GUEST_GDTR_BASE            = 0x6816,
	VMCS_GUEST_IDTR_BASE            = 0x6818,
	VMCS_GUEST_DR7                  = 0x681a,
	VMCS_GUEST_RSP                  = 0x681c,
	VMCS_GUEST_RIP                  = 0x681e,
	VMCS_GUEST_RFLAGS               = 0x6820,
	VMCS_GUEST_PENDING_DBG          = 0x6822,
	VMCS_GUEST_SYSENTER_ESP         = 0x6824,
	VMCS_GUEST_SYSENTER_EIP         = 0x6826,
	/* natural-width host state */
	VMCS_HOST_CR0                   = 0x6c00,
	VMCS_HOST_CR3                   = 0x6c02,
	VMCS_HOST_CR4                   = 0x6c04,
	VMCS_HOST_FS_BASE               = 0x6c06,
	VMCS_HOST_GS_BASE               = 0x6c08,
	VMCS_HOST_TR_BASE               = 0x6c0a,
	VMCS_HOST_GDTR_BASE             = 0x6c0c,
	VMCS_HOST_IDTR_BASE             = 0x6c0e,
	VMCS_HOST_SYSENTER_ESP          = 0x6c10,
	VMCS_HOST_SYSENTER_EIP          = 0x6c12,
	VMCS_HOST_RSP                   = 0x6c14,
	VMCS_HOST_RIP                   = 0x6c16,
};

#define VMCS_WIDTH(f)   (((f) >> 13) & 3)
#define VMCS_W16        0
#define VMCS_W64        1
#define VMCS_W32        2
#define VMCS_WNAT       3

static inline uint64_t __vmread(uint64_t field)
{
	uint64_t v;

	__asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
	return v;
}

/* VMfail (a bad field for this CPU, or no current VMCS) is not looked
 * at: no caller had a use for it, and reading the flags into a register
 * cost an instruction on every VMWRITE of the exit path. */
static inline void __vmwrite(uint64_t field, uint64_t v)
{
	__asm__ volatile("vmwrite %1, %0"
			 : : "r"(field), "r"(v) : "cc", "memory");
}

#define VMCS_CHECK_WIDTH(f, w) \
	_Static_assert(VMCS_WIDTH(f) == (w), #f " has another width")

/* VMREAD clears the bits of the register above a shorter field (SDM Vol.
 * 3C 31.3, VMREAD): telling the compiler saves it a zero extension. */
static inline uint64_t __vmread_narrow(uint64_t field, uint64_t max)
{
	uint64_t v = __vmread(field);

	if (v > max)
		__builtin_unreachable();
	return v;
}

#define vmcs_read16(f)  ({ VMCS_CHECK_WIDTH(f, VMCS_W16); \
			   (uint16_t)__vmread_narrow(f, UINT16_MAX); })
#define vmcs_read32(f)  ({ VMCS_CHECK_WIDTH(f, VMCS_W32); \
			   (uint32_t)__vmread_narrow(f, UINT32_MAX); })
#define vmcs_read64(f)  ({ VMCS_CHECK_WIDTH(f, VMCS_W64); (uint64_t)__vmread(f); })
#define vmcs_readnat(f) ({ VMCS_CHECK_WIDTH(f, VMCS_WNAT); (uint64_t)__vmread(f); })

#define vmcs_write16(f, v)  ({ VMCS_CHECK_WIDTH(f, VMCS_W16); __vmwrite(f, (uint16_t)(v)); })
#define vmcs_write32(f, v)  ({ VMCS_CHECK_WIDTH(f, VMCS_W32); __vmwrite(f, (uint32_t)(v)); })
#define vmcs_write64(f, v)  ({ VMCS_CHECK_WIDTH(f, VMCS_W64); __vmwrite(f, (uint64_t)(v)); })
#define vmcs_writenat(f, v) ({ VMCS_CHECK_WIDTH(f, VMCS_WNAT); __vmwrite(f, (uint64_t)(v)); })

/* EOI-exit bitmap i (0-3: vectors 64i to 64i+63), 64-bit fields two
 * encodings apart. */
static inline void vmcs_write_eoi_exit(unsigned int i, uint64_t bits)
{
	VMCS_CHECK_WIDTH(VMCS_EOI_EXIT_BITMAP0, VMCS_W64);
	__vmwrite(VMCS_EOI_EXIT_BITMAP0 + 2 * (i & 3), bits);
}

/* Sets or clears `bits` of a 32-bit control field (typed access needs a
 * constant field, hence a macro). */
#define vmcs_set_bits32(field, bits, on) ({                              \
	uint32_t val_ = vmcs_read32(field);                              \
	vmcs_write32(field, (on) ? val_ | (uint32_t)(bits)               \
				 : val_ & ~(uint32_t)(bits));             \
})

/* Turns a processor-based control Keel toggles (a window exit) on or
 * off; *state remembers it, sparing the VMCS accesses when unchanged. */
static inline void vmcs_proc_toggle(bool *state, uint32_t bit, bool on)
{
	if (*state == on)
		return;
	vmcs_set_bits32(VMCS_PROC_CONTROLS, bit, on);
	*state = on;
}

_Static_assert(VMCS_WIDTH(VMCS_GUEST_RIP) == VMCS_WNAT, "encoding width");
_Static_assert(VMCS_WIDTH(VMCS_EPT_POINTER) == VMCS_W64, "encoding width");
_Static_assert(VMCS_WIDTH(VMCS_EXIT_REASON) == VMCS_W32, "encoding width");
_Static_assert(VMCS_WIDTH(VMCS_GUEST_CS_SEL) == VMCS_W16, "encoding width");

#endif
