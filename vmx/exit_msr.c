/*
 * RDMSR/WRMSR exits. The MSR bitmap passes through only the MSRs listed in
 * vmx/vmcs.c; every other MSR exits here and is looked up in an allow-list.
 * MSRs not on it raise #GP, as on a CPU that lacks them.
 */
#include "vmx/exit.h"
#include "vmx/vmcs.h"
#include "arch/idt.h"
#include "arch/msr.h"
#include "arch/x86.h"
#include "guest/guest.h"


#define MSR_IA32_TSC            0x010
#define MSR_IA32_BIOS_SIGN_ID   0x08b
#define MSR_IA32_MTRRCAP        0x0fe
#define MSR_IA32_MCG_CAP        0x179
#define MSR_IA32_MCG_STATUS     0x17a
#define MSR_IA32_MISC_ENABLE    0x1a0
#define  MISC_ENABLE_FAST_STRINGS BIT_ULL(0)
#define MSR_IA32_MTRR_DEF_TYPE  0x2ff

enum msr_write_policy {
	MSR_WRITE_GP,           /* read-only: writes raise #GP */
	MSR_WRITE_IGNORE,       /* writes are accepted and have no effect */
};

struct msr_entry {
	uint32_t msr;
	enum msr_write_policy write;
	uint64_t (*read)(struct vcpu *v);
	uint64_t value;         /* when read is NULL */
};

/* The guest's TSC, as RDTSC in the guest sees it (with the VMCS offset). */
static uint64_t msr_read_tsc(struct vcpu *v)
{
	return rdtsc() + v->tsc_offset;
}

static const struct msr_entry msr_allow[] = {
	{ MSR_IA32_TSC, MSR_WRITE_GP, msr_read_tsc, 0 },
	/* Locked with VMX off: matches CPUID.1:ECX.VMX = 0. */
	{ MSR_IA32_FEATURE_CONTROL, MSR_WRITE_GP, NULL, FEATURE_CONTROL_LOCKED },
	{ MSR_IA32_BIOS_SIGN_ID, MSR_WRITE_IGNORE, NULL, 0 },
	{ MSR_IA32_MTRRCAP, MSR_WRITE_GP, NULL, 0 },
	{ MSR_IA32_MTRR_DEF_TYPE, MSR_WRITE_IGNORE, NULL, 0 },
	{ MSR_IA32_MCG_CAP, MSR_WRITE_GP, NULL, 0 },
	{ MSR_IA32_MCG_STATUS, MSR_WRITE_IGNORE, NULL, 0 },
	{ MSR_IA32_MISC_ENABLE, MSR_WRITE_IGNORE, NULL, MISC_ENABLE_FAST_STRINGS },
};

static const struct msr_entry *msr_find(uint32_t msr)
{
	for (size_t i = 0; i < ARRAY_SIZE(msr_allow); i++)
		if (msr_allow[i].msr == msr)
			return &msr_allow[i];
	return NULL;
}

int handle_rdmsr(struct vcpu *v)
{
	const struct msr_entry *e = msr_find((uint32_t)v->regs.rcx);
	uint64_t val;

	if (!e) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	val = e->read ? e->read(v) : e->value;
	v->regs.rax = (uint32_t)val;
	v->regs.rdx = val >> 32;
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

int handle_wrmsr(struct vcpu *v)
{
	const struct msr_entry *e = msr_find((uint32_t)v->regs.rcx);

	if (!e || e->write == MSR_WRITE_GP) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}
