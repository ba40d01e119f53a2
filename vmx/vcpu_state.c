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
#include "guest/vcpu.h"


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

static bool cpu_has_xsave(void)
{
	return read_cr4() & X86_CR4_OSXSAVE;
}

void fpu_init_this_cpu(void)
{
	uint64_t cr4 = read_cr4() | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;

	if (cpuid(1, 0).ecx & CPUID1_ECX_XSAVE)
		cr4 |= X86_CR4_OSXSAVE;
	write_cr4(cr4);
}

static void fpu_save(struct vcpu_state *s)
{
	memset(s->fpu, 0, 576);         /* legacy area + XSAVE header */
	if (cpu_has_xsave()) {
		s->xcr0 = xgetbv(0);
		__asm__ volatile("xsave64 %0" : "+m"(s->fpu)
				 : "a"((uint32_t)s->xcr0), "d"((uint32_t)(s->xcr0 >> 32)));
	} else {
		__asm__ volatile("fxsave64 %0" : "=m"(s->fpu));
	}
}

static void fpu_load(const struct vcpu_state *s)
{
	if (cpu_has_xsave()) {
		xsetbv(0, s->xcr0);
		__asm__ volatile("xrstor64 %0" :: "m"(s->fpu),
				 "a"((uint32_t)s->xcr0), "d"((uint32_t)(s->xcr0 >> 32)));
	} else {
		__asm__ volatile("fxrstor64 %0" :: "m"(s->fpu));
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
