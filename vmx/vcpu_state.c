/*
 * Saving and loading a vCPU's state. The VMCS holds most of it; the rest
 * lives in the CPU while the guest is not running (Keel uses no FPU/SSE and
 * never touches the passed-through MSRs), so it is read there directly.
 */
#include "vmx/vcpu_state.h"
#include "vmx/vmcs_setup.h"
#include "vmx/vmcs.h"
#include "arch/msr.h"
#include "arch/x86.h"
#include "arch/string.h"
#include "arch/bytes.h"
#include "drivers/printk.h"
#include "guest/vcpu.h"
#include "vmx/xcr0.h"


/* Guest state that VM entry loads and VM exit saves (SDM Vol. 3C 25.4),
 * plus the entry controls and pending event that belong to it. */
static const uint32_t state_fields[] = {
	VMCS_GUEST_ES_SEL, VMCS_GUEST_CS_SEL, VMCS_GUEST_SS_SEL, VMCS_GUEST_DS_SEL,
	VMCS_GUEST_FS_SEL, VMCS_GUEST_GS_SEL, VMCS_GUEST_LDTR_SEL, VMCS_GUEST_TR_SEL,
	VMCS_GUEST_ES_BASE, VMCS_GUEST_CS_BASE, VMCS_GUEST_SS_BASE, VMCS_GUEST_DS_BASE,
	VMCS_GUEST_FS_BASE, VMCS_GUEST_GS_BASE, VMCS_GUEST_LDTR_BASE, VMCS_GUEST_TR_BASE,
	VMCS_GUEST_ES_LIMIT, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_SS_LIMIT,
	VMCS_GUEST_DS_LIMIT, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_GS_LIMIT,
	VMCS_GUEST_LDTR_LIMIT, VMCS_GUEST_TR_LIMIT,
	VMCS_GUEST_ES_AR, VMCS_GUEST_CS_AR, VMCS_GUEST_SS_AR, VMCS_GUEST_DS_AR,
	VMCS_GUEST_FS_AR, VMCS_GUEST_GS_AR, VMCS_GUEST_LDTR_AR, VMCS_GUEST_TR_AR,
	VMCS_GUEST_GDTR_BASE, VMCS_GUEST_GDTR_LIMIT,
	VMCS_GUEST_IDTR_BASE, VMCS_GUEST_IDTR_LIMIT,
	VMCS_GUEST_CR0, VMCS_GUEST_CR3, VMCS_GUEST_CR4,
	VMCS_CR0_READ_SHADOW, VMCS_CR4_READ_SHADOW,
	VMCS_GUEST_DR7, VMCS_GUEST_RSP, VMCS_GUEST_RIP, VMCS_GUEST_RFLAGS,
	VMCS_GUEST_PENDING_DBG, VMCS_GUEST_SYSENTER_CS, VMCS_GUEST_SYSENTER_ESP,
	VMCS_GUEST_SYSENTER_EIP, VMCS_GUEST_EFER, VMCS_GUEST_PAT,
	VMCS_GUEST_DEBUGCTL, VMCS_GUEST_INTERRUPTIBILITY,
	VMCS_GUEST_ACTIVITY_STATE, VMCS_GUEST_PDPTE0, VMCS_GUEST_PDPTE1,
	VMCS_GUEST_PDPTE2, VMCS_GUEST_PDPTE3, VMCS_ENTRY_CONTROLS,
	VMCS_ENTRY_INTR_INFO, VMCS_ENTRY_EXCEPTION_ERROR, VMCS_ENTRY_INSTR_LEN,
};

_Static_assert(ARRAY_SIZE(state_fields) <= VCPU_STATE_FIELDS, "state fields");

/* Passed through by the MSR bitmap and not part of the VMCS. */
static const uint32_t state_msrs[VCPU_STATE_MSRS] = {
	MSR_KERNEL_GS_BASE, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK,
	MSR_TSC_AUX,
};

/*
 * The FPU/SSE/AVX state. Keel itself never touches it (it is built with
 * general registers only), so a guest's state stays in the CPU while Keel
 * handles its exits, XCR0 included: the CPU's XCR0 is the guest's, and it
 * only ever holds a value xsetbv_check() let through.
 *
 * Saving and loading go through every component Keel allows guests
 * (xcr0_guest_allowed), not only those in the guest's XCR0: SSE state
 * exists with XCR0 = 1 too (CR4.OSFXSR, not XCR0, enables it), and XRSTOR
 * with a bit of RFBM set and the same bit of XSTATE_BV clear puts that
 * component in its initial configuration (SDM Vol. 1 13.8.1), so a
 * component the guest never enabled comes back initialised, not with
 * whatever an earlier guest on the destination CPU left there. The image
 * is in the standard format (XSAVE, not XSAVEC): XCOMP_BV and the rest of
 * the header stay 0 as zeroed here, which XRSTOR's standard form requires
 * (13.8), and every component sits at CPUID.(0xd,i).EBX, below
 * xsave_guest_size <= VCPU_FPU_AREA (xsave_init).
 */
uint64_t xcr0_guest_allowed;
uint32_t xsave_guest_size;

#define FXSAVE_FCW          0       /* offsets in the legacy region */
#define FXSAVE_MXCSR        24
#define FCW_INIT            0x037f  /* FNINIT; XRSTOR's init value too */
#define MXCSR_INIT          0x1f80

_Static_assert(VCPU_FPU_AREA >= XSAVE_BASE_SIZE, "VCPU_FPU_AREA");

/* Every component in its initial configuration: XSTATE_BV = 0, and the
 * legacy fields FXRSTOR and XRSTOR still read (FCW, MXCSR) at their
 * initial values. As large as a saved image, all of which XRSTOR may
 * touch. */
static uint8_t fpu_init_image[VCPU_FPU_AREA] __aligned(64);

static void xsave_all(uint8_t *area)
{
	__asm__ volatile("xsave64 %0" : "+m"(*(uint8_t (*)[VCPU_FPU_AREA])area)
			 : "a"((uint32_t)xcr0_guest_allowed),
			   "d"((uint32_t)(xcr0_guest_allowed >> 32)));
}

static void xrstor_mask(const uint8_t *area, uint64_t rfbm)
{
	__asm__ volatile("xrstor64 %0"
			 :: "m"(*(const uint8_t (*)[VCPU_FPU_AREA])area),
			    "a"((uint32_t)rfbm), "d"((uint32_t)(rfbm >> 32)));
}

static void xrstor_all(const uint8_t *area)
{
	xrstor_mask(area, xcr0_guest_allowed);
}

bool xsavec_usable;

#define XSAVE_HDR_XSTATE_BV 512         /* the XSAVE header's fields */
#define XSAVE_HDR_XCOMP_BV  520
#define XCOMP_BV_COMPACTED  BIT_ULL(63)
#define XSAVEC_AVX_OFFSET   576         /* the first extended component */
#define XSAVEC_PROBE_MASK   (XCR0_X87 | XCR0_SSE | XCR0_AVX)
#define XSAVEC_PROBE_BYTE   0x5a

/*
 * Where XSAVEC puts the upper halves of the YMM registers when they are
 * the only extended state asked for: right after the header, at 576
 * (SDM Vol. 1 13.4.3, the compacted format). A processor, or an
 * emulator, that puts them elsewhere hands a guest that saves with
 * XSAVEC and restores with XRSTOR wrong registers back; such a guest
 * is better off without XSAVEC (it then saves in the standard format).
 * Loads a known YMM state with the standard-format XRSTOR, saves it
 * with XSAVEC and looks; then puts the registers back in their initial
 * state (fpu_reset_guest gives each guest its own start anyway).
 */
static bool xsavec_probe(void)
{
	static uint8_t in[VCPU_FPU_AREA] __aligned(64);
	static uint8_t out[VCPU_FPU_AREA] __aligned(64);
	struct cpuid_regs avx = cpuid(0xd, 2);  /* EAX size, EBX offset */
	bool ok = true;

	put64(in, XSAVE_HDR_XSTATE_BV, XCR0_AVX);
	memset(in + avx.ebx, XSAVEC_PROBE_BYTE, avx.eax);
	xsetbv(0, XSAVEC_PROBE_MASK);
	xrstor_mask(in, XSAVEC_PROBE_MASK);
	__asm__ volatile("xsavec64 %0" : "+m"(*(uint8_t (*)[VCPU_FPU_AREA])out)
			 : "a"((uint32_t)XSAVEC_PROBE_MASK), "d"(0));
	for (uint32_t i = 0; i < avx.eax; i++)
		ok &= out[XSAVEC_AVX_OFFSET + i] == XSAVEC_PROBE_BYTE;
	ok &= (get64(out, XSAVE_HDR_XCOMP_BV) & XCOMP_BV_COMPACTED) != 0;
	xrstor_mask(fpu_init_image, XSAVEC_PROBE_MASK);
	xsetbv(0, XCR0_X87);
	return ok;
}

/* XSAVEC is offered when the CPU has it and it passes the probe (which
 * needs AVX among the states guests may enable). */
static void xsavec_check(void)
{
	if (!(cpuid(0xd, 1).eax & CPUIDD1_EAX_XSAVEC) ||
	    !(xcr0_guest_allowed & XCR0_AVX))
		return;
	fpu_init_this_cpu();            /* CR4.OSXSAVE for XSETBV, once early */
	xsavec_usable = xsavec_probe();
	if (!xsavec_usable)
		pr_warn("keel: xsave: XSAVEC puts the AVX state away from "
			"offset %u: not offered to guests\n",
			XSAVEC_AVX_OFFSET);
}

void fpu_init_this_cpu(void)
{
	uint64_t cr4 = read_cr4() | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;

	if (cpuid(1, 0).ecx & CPUID1_ECX_XSAVE)
		cr4 |= X86_CR4_OSXSAVE;
	write_cr4(cr4);
}

void xsave_init(void)
{
	static struct xsave_component layout[XSAVE_COMPONENTS];
	struct cpuid_regs d;
	uint64_t host;

	put16(fpu_init_image, FXSAVE_FCW, FCW_INIT);
	put32(fpu_init_image, FXSAVE_MXCSR, MXCSR_INIT);
	if (!(cpuid(1, 0).ecx & CPUID1_ECX_XSAVE) || cpuid(0, 0).eax < 0xd) {
		pr_info("keel: xsave: not supported: FXSAVE images\n");
		return;
	}
	d = cpuid(0xd, 0);
	host = ((uint64_t)d.edx << 32) | d.eax;
	for (unsigned int i = 2; i < XSAVE_COMPONENTS; i++) {
		struct cpuid_regs c = cpuid(0xd, i);

		if (host & BIT_ULL(i))
			layout[i] = (struct xsave_component){ c.ebx, c.eax };
	}
	/* MPX is hidden from guests (IA32_BNDCFGS is not theirs, so CPUID
	 * hides the feature, vmx/exit_misc.c): its states go with it. */
	xcr0_guest_allowed = xcr0_fit(host & ~XCR0_MPX, layout, VCPU_FPU_AREA);
	xsave_guest_size = xsave_standard_size(xcr0_guest_allowed, layout);
	pr_info("keel: xsave: guest xcr0 may hold %#lx (host %#lx), "
		"%u of %u bytes\n", xcr0_guest_allowed, host, xsave_guest_size,
		VCPU_FPU_AREA);
	if (xcr0_guest_allowed != xcr0_consistent(host))
		pr_warn("keel: xsave: states %#lx do not fit %u bytes: "
			"not offered to guests\n",
			xcr0_consistent(host) & ~xcr0_guest_allowed,
			VCPU_FPU_AREA);
	xsavec_check();
}

void fpu_reset_guest(void)
{
	if (xcr0_guest_allowed) {
		xsetbv(0, xcr0_guest_allowed);
		xrstor_all(fpu_init_image);
		xsetbv(0, XCR0_X87);
	} else {
		__asm__ volatile("fxrstor64 %0"
				 :: "m"(*(const uint8_t (*)[512])fpu_init_image));
	}
}

static void fpu_save(struct vcpu_state *s)
{
	memset(s->fpu, 0, XSAVE_BASE_SIZE);     /* legacy area + header */
	if (xcr0_guest_allowed) {
		s->xcr0 = xgetbv(0);
		xsetbv(0, xcr0_guest_allowed);
		xsave_all(s->fpu);
		xsetbv(0, s->xcr0);
	} else {
		s->xcr0 = 0;
		__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t (*)[512])s->fpu));
	}
}

static void fpu_load(const struct vcpu_state *s)
{
	if (xcr0_guest_allowed) {
		uint64_t xcr0 = s->xcr0;

		/* Only a checked value reached the CPU, so only such a value
		 * was saved; an XSETBV that faulted here would stop Keel. */
		if (xsetbv_check(0, 0, xcr0, xcr0_guest_allowed) != XSETBV_OK) {
			pr_warn("keel: xsave: saved xcr0 %#lx refused (%s): "
				"xcr0 = 1\n", xcr0,
				xsetbv_fault_name(xsetbv_check(0, 0, xcr0,
							       xcr0_guest_allowed)));
			xcr0 = XCR0_X87;
		}
		xsetbv(0, xcr0_guest_allowed);
		xrstor_all(s->fpu);
		xsetbv(0, xcr0);
	} else {
		__asm__ volatile("fxrstor64 %0"
				 :: "m"(*(const uint8_t (*)[512])s->fpu));
	}
}

#define DR_GET(n, v) __asm__ volatile("mov %%db" #n ", %0" : "=r"(v))
#define DR_SET(n, v) __asm__ volatile("mov %0, %%db" #n :: "r"(v))

/* EFER and PAT are in the VMCS only with their VM-entry/exit controls. */
static bool state_field_used(const struct vcpu *v, uint32_t field)
{
	return v->vmcs_efer_pat ||
	       (field != VMCS_GUEST_EFER && field != VMCS_GUEST_PAT);
}

/* Shadow paging keeps the guest's CR3, EFER, PAT and PDPTEs in v->sv. */
static void shadow_state_save(const struct vcpu *v, struct vcpu_state *s)
{
	s->shadow[0] = v->sv.cr3;
	s->shadow[1] = v->sv.efer;
	s->shadow[2] = v->sv.pat;
	memcpy(&s->shadow[3], v->sv.pdpte, sizeof(v->sv.pdpte));
}

/* The real CR3 in the state is the old root: the caller reloads it. */
static void shadow_state_load(struct vcpu *v, const struct vcpu_state *s)
{
	v->sv.cr3 = s->shadow[0];
	v->sv.pat = s->shadow[2];
	memcpy(v->sv.pdpte, &s->shadow[3], sizeof(v->sv.pdpte));
	vcpu_set_guest_efer(v, s->shadow[1]);
}

void vcpu_state_save(struct vcpu *v, struct vcpu_state *s)
{
	memcpy(s->gprs, &v->regs, sizeof(s->gprs));
	for (size_t i = 0; i < ARRAY_SIZE(state_fields); i++)
		if (state_field_used(v, state_fields[i]))
			s->fields[i] = __vmread(state_fields[i]);
	if (v->shadow)
		shadow_state_save(v, s);
	for (size_t i = 0; i < VCPU_STATE_MSRS; i++)
		s->msrs[i] = rdmsr(state_msrs[i]);
	DR_GET(0, s->dr[0]);
	DR_GET(1, s->dr[1]);
	DR_GET(2, s->dr[2]);
	DR_GET(3, s->dr[3]);
	DR_GET(6, s->dr[4]);
	fpu_save(s);
	s->valid = true;
}

void vcpu_state_load(struct vcpu *v, const struct vcpu_state *s)
{
	memcpy(&v->regs, s->gprs, sizeof(s->gprs));
	for (size_t i = 0; i < ARRAY_SIZE(state_fields); i++)
		if (state_field_used(v, state_fields[i]))
			__vmwrite(state_fields[i], s->fields[i]);
	if (v->shadow)
		shadow_state_load(v, s);
	for (size_t i = 0; i < VCPU_STATE_MSRS; i++)
		wrmsr(state_msrs[i], s->msrs[i]);
	DR_SET(0, s->dr[0]);
	DR_SET(1, s->dr[1]);
	DR_SET(2, s->dr[2]);
	DR_SET(3, s->dr[3]);
	DR_SET(6, s->dr[4]);
	fpu_load(s);
}
