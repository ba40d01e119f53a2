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
#include "vmx/vmcs_setup.h"
#include "guest/vlapic.h"


#define MSR_IA32_TSC            0x010
#define MSR_IA32_TSC_ADJUST     0x03b
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
	/* CPUID.7:EBX.TSC_ADJUST comes from the host; Linux reads it
	 * unguarded. The guest cannot move its TSC. */
	{ MSR_IA32_TSC_ADJUST, MSR_WRITE_GP, NULL, 0 },
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

/*
 * EFER exits only with shadow paging, where the VMCS holds the real value
 * (vcpu_set_guest_efer). Writes follow SDM Vol. 3A 2.2.1 and 10.8.5: LME
 * cannot change while paging is on, LMA is the processor's. A change of
 * NXE changes what the guest's entries mean: the shadow is reloaded.
 */
static int efer_write(struct vcpu *v, uint64_t val)
{
	uint64_t old = v->sv.efer;
	uint64_t ok = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

	if ((val & ~ok) || ((vcpu_guest_cr0(v) & X86_CR0_PG) &&
			    ((val ^ old) & EFER_LME))) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	vcpu_set_guest_efer(v, (val & ~EFER_LMA) | (old & EFER_LMA));
	if ((val ^ old) & EFER_NXE)
		shadow_vcpu_reload(v);
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

/* PAT exits with shadow paging: with the PAT controls the VMCS holds the
 * guest's; without them Keel keeps it (the processor uses Keel's, whose
 * power-on layout is the guest's default). Types 2, 3 and above 7 are
 * reserved (SDM Vol. 3A 12.12.2). */
static bool pat_valid(uint64_t val)
{
	for (int i = 0; i < 8; i++) {
		uint8_t t = (uint8_t)(val >> (8 * i));

		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

static uint64_t pat_read(struct vcpu *v)
{
	return v->vmcs_efer_pat ? vmcs_read64(VMCS_GUEST_PAT) : v->sv.pat;
}

static int pat_write(struct vcpu *v, uint64_t val)
{
	if (!pat_valid(val)) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	if (v->vmcs_efer_pat)
		vmcs_write64(VMCS_GUEST_PAT, val);
	else
		v->sv.pat = val;
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

static void msr_return(struct vcpu *v, uint64_t val)
{
	v->regs.rax = (uint32_t)val;
	v->regs.rdx = val >> 32;
	vcpu_skip_instruction(v);
}

int handle_rdmsr(struct vcpu *v)
{
	const struct msr_entry *e = msr_find((uint32_t)v->regs.rcx);
	uint64_t val;

	if ((uint32_t)v->regs.rcx == MSR_IA32_EFER && v->shadow) {
		msr_return(v, v->sv.efer);
		return EXIT_RESUME;
	}
	if ((uint32_t)v->regs.rcx == MSR_IA32_PAT && v->shadow) {
		msr_return(v, pat_read(v));
		return EXIT_RESUME;
	}
	if (vlapic_is_msr((uint32_t)v->regs.rcx))
		return handle_apic_rdmsr(v);

	if (!e) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	val = e->read ? e->read(v) : e->value;
	msr_return(v, val);
	return EXIT_RESUME;
}

int handle_wrmsr(struct vcpu *v)
{
	const struct msr_entry *e = msr_find((uint32_t)v->regs.rcx);

	if ((uint32_t)v->regs.rcx == MSR_IA32_EFER && v->shadow)
		return efer_write(v, (v->regs.rdx << 32) | (uint32_t)v->regs.rax);
	if ((uint32_t)v->regs.rcx == MSR_IA32_PAT && v->shadow)
		return pat_write(v, (v->regs.rdx << 32) | (uint32_t)v->regs.rax);
	if (vlapic_is_msr((uint32_t)v->regs.rcx))
		return handle_apic_wrmsr(v);

	if (!e || e->write == MSR_WRITE_GP) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}
