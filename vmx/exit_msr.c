/*
 * RDMSR/WRMSR exits. The MSR bitmap passes through only the MSRs listed in
 * vmx/vmcs.c; every other MSR exits here and is looked up in an allow-list.
 * MSRs not on it raise #GP, as on a CPU that lacks them, and the features
 * they belong to are hidden from CPUID (vmx/exit_misc.c): what CPUID shows
 * works, what raises #GP is hidden. The state of the emulated ones is the
 * vCPU's own (guest/vmsr.c has the rules).
 */
#include "vmx/exit.h"
#include "vmx/vmcs.h"
#include "arch/idt.h"
#include "arch/msr.h"
#include "arch/x86.h"
#include "guest/guest.h"
#include "guest/vmsr.h"
#include "vmx/vmcs_setup.h"
#include "guest/vlapic.h"


#define MSR_IA32_BIOS_SIGN_ID   0x08b
#define MSR_IA32_MTRRCAP        0x0fe
#define MSR_IA32_MCG_CAP        0x179
#define MSR_IA32_MCG_STATUS     0x17a
#define CPUID81_EDX_NX          BIT_ULL(20)

struct msr_entry {
	uint32_t msr;
	uint64_t (*read)(struct vcpu *v);       /* NULL: reads `value` */
	/* NULL: read-only (#GP); returns false for #GP. */
	bool (*write)(struct vcpu *v, uint64_t val);
	uint64_t value;
};

/* The guest's TSC, as RDTSC in the guest sees it (with the VMCS offset). */
static uint64_t msr_read_tsc(struct vcpu *v)
{
	return rdtsc() + v->tsc_offset;
}

/* A new TSC offset: the VMCS has it from the next entry, and a
 * TSC-deadline timer armed against the old TSC is armed again. */
static void tsc_offset_set(struct vcpu *v, uint64_t offset)
{
	v->tsc_offset = offset;
	vmcs_write64(VMCS_TSC_OFFSET, offset);
	vlapic_tsc_moved(v, rdtsc());
}

static bool msr_write_tsc(struct vcpu *v, uint64_t val)
{
	tsc_offset_set(v, vmsr_write_tsc(&v->msr, v->tsc_offset,
					 rdtsc() + v->tsc_offset, val));
	return true;
}

static uint64_t msr_read_tsc_adjust(struct vcpu *v)
{
	return v->msr.tsc_adjust;
}

static bool msr_write_tsc_adjust(struct vcpu *v, uint64_t val)
{
	tsc_offset_set(v, vmsr_write_tsc_adjust(&v->msr, v->tsc_offset, val));
	return true;
}

static uint64_t msr_read_misc_enable(struct vcpu *v)
{
	return v->msr.misc_enable;
}

/* XD Bit Disable exists where the CPU has NX, which Keel never hides. */
static bool msr_write_misc_enable(struct vcpu *v, uint64_t val)
{
	uint64_t cpu = (cpuid(0x80000001, 0).edx & CPUID81_EDX_NX) ?
		       VMSR_CPU_NX : 0;

	if (!vmsr_write_misc_enable(&v->msr, val, cpu))
		return false;
	vcpu_cpuid_flush(v);    /* leaves 0, 1, 0x80000001 follow it */
	return true;
}

static uint64_t msr_read_mtrr_def_type(struct vcpu *v)
{
	return v->msr.mtrr_def_type;
}

static bool msr_write_mtrr_def_type(struct vcpu *v, uint64_t val)
{
	return vmsr_write_mtrr_def_type(&v->msr, val);
}

static bool msr_write_ignore(struct vcpu *v, uint64_t val)
{
	(void)v;
	(void)val;
	return true;
}

static const struct msr_entry msr_allow[] = {
	{ MSR_IA32_TSC, msr_read_tsc, msr_write_tsc, 0 },
	/* CPUID.7:EBX.TSC_ADJUST is always shown: Keel emulates it. */
	{ MSR_IA32_TSC_ADJUST, msr_read_tsc_adjust, msr_write_tsc_adjust, 0 },
	/* Locked with VMX off: matches CPUID.1:ECX.VMX = 0. */
	{ MSR_IA32_FEATURE_CONTROL, NULL, NULL, FEATURE_CONTROL_LOCKED },
	/* No microcode update was loaded; the signature reads 0. */
	{ MSR_IA32_BIOS_SIGN_ID, NULL, msr_write_ignore, 0 },
	/* No variable or fixed ranges, no WC: only the default type. */
	{ MSR_IA32_MTRRCAP, NULL, NULL, 0 },
	{ MSR_IA32_MTRR_DEF_TYPE, msr_read_mtrr_def_type,
	  msr_write_mtrr_def_type, 0 },
	/* Machine-check architecture with no banks. */
	{ MSR_IA32_MCG_CAP, NULL, NULL, 0 },
	{ MSR_IA32_MCG_STATUS, NULL, msr_write_ignore, 0 },
	{ MSR_IA32_MISC_ENABLE, msr_read_misc_enable, msr_write_misc_enable, 0 },
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
static bool efer_write(struct vcpu *v, uint64_t val)
{
	uint64_t old = v->sv.efer;
	uint64_t ok = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

	if ((val & ~ok) || ((vcpu_guest_cr0(v) & X86_CR0_PG) &&
			    ((val ^ old) & EFER_LME)))
		return false;
	vcpu_set_guest_efer(v, (val & ~EFER_LMA) | (old & EFER_LMA));
	if ((val ^ old) & EFER_NXE)
		shadow_vcpu_reload(v);
	return true;
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

static bool pat_write(struct vcpu *v, uint64_t val)
{
	if (!pat_valid(val))
		return false;
	if (v->vmcs_efer_pat)
		vmcs_write64(VMCS_GUEST_PAT, val);
	else
		v->sv.pat = val;
	return true;
}

/*
 * The guest's RDMSR and WRMSR as Keel answers them, on an exit or for
 * emulated code (vmx/emulate.c): false is the guest's #GP(0). EFER and
 * PAT are Keel's only with shadow paging; the local APIC's MSRs are
 * vlapic's.
 */
bool vcpu_read_msr(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	const struct msr_entry *e;

	if (msr == MSR_IA32_EFER && v->shadow) {
		*val = v->sv.efer;
		return true;
	}
	if (msr == MSR_IA32_PAT && v->shadow) {
		*val = pat_read(v);
		return true;
	}
	if (vlapic_is_msr(msr))
		return vlapic_rdmsr(v, msr, val);
	e = msr_find(msr);
	if (!e)
		return false;
	*val = e->read ? e->read(v) : e->value;
	return true;
}

bool vcpu_write_msr(struct vcpu *v, uint32_t msr, uint64_t val)
{
	const struct msr_entry *e;

	if (msr == MSR_IA32_EFER && v->shadow)
		return efer_write(v, val);
	if (msr == MSR_IA32_PAT && v->shadow)
		return pat_write(v, val);
	if (vlapic_is_msr(msr))
		return vlapic_wrmsr(v, msr, val);
	e = msr_find(msr);
	return e && e->write && e->write(v, val);
}

int handle_rdmsr(struct vcpu *v)
{
	uint64_t val;

	if (!vcpu_read_msr(v, (uint32_t)v->regs.rcx, &val)) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	v->regs.rax = (uint32_t)val;
	v->regs.rdx = val >> 32;
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

int handle_wrmsr(struct vcpu *v)
{
	uint64_t val = (v->regs.rdx << 32) | (uint32_t)v->regs.rax;

	if (!vcpu_write_msr(v, (uint32_t)v->regs.rcx, val)) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}
