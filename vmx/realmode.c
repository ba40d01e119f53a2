/*
 * Real mode without unrestricted guest.
 *
 * Without "unrestricted guest" (which needs EPT, SDM Vol. 3C 26.2.1.1)
 * VM entry takes only protected-mode state: CR0.PE and PG set, and
 * segment registers that pass the protected-mode checks (27.3.1.2). A
 * vCPU on shadow paging that a SIPI starts in real mode (CS = vector <<
 * 8, IP = 0) therefore begins in Keel: its instructions are emulated one
 * by one (vcpu_emulate_real, emul/) until the state is one VM entry
 * takes, as KVM does for invalid guest state:
 *
 *   SIPI -> real mode (CR0.PE = 0 in the read shadow)
 *            | emulated: MOV CR0, LGDT, far JMP, MOV Sreg, ...
 *            v
 *           CR0.PE = 1 and CS, SS, DS, ES, FS, GS valid for VM entry
 *            | VM entry, as for any other vCPU
 *            v
 *           protected mode, run by the processor
 *
 * The real-mode segment caches already pass those checks, so a
 * trampoline usually enters right after its MOV to CR0 and runs its far
 * JMP into 32-bit code natively, in 16-bit protected mode, as the
 * processor itself would. It leaves real mode within a few dozen
 * instructions (Linux's trampoline and its CPU checks take about 80:
 * CPUID, RDMSR and WRMSR answered as their exits are, PUSHF/POPF,
 * WBINVD), with IF = 0 from the SIPI. No event is delivered while emulating (an interrupt
 * waits in the APIC until the first VM entry, where it is delivered as
 * usual); an exception, an instruction the emulator does not know, or
 * more than RM_MAX_STEPS instructions stop the guest with the reason.
 */
#include "vmx/realmode.h"
#include "vmx/emulate.h"
#include "vmx/controls.h"
#include "vmx/exit.h"
#include "vmx/vmcs.h"
#include "arch/x86.h"
#include "guest/guest.h"
#include "drivers/printk.h"

/* Generous for a start-up sequence (kvm-unit-tests' trampoline takes 3
 * instructions, apictest's 5, Linux's 80), short enough that a guest looping in real
 * mode stops within a second or two. */
#define RM_MAX_STEPS            20000

/* Access rights in the VMCS format (SDM Vol. 3C 25.4.1, Table 25-2). */
#define AR_TYPE                 0xfu
#define AR_TYPE_ACCESSED        BIT_ULL(0)
#define AR_TYPE_RW              BIT_ULL(1)      /* data: writable, code: readable */
#define AR_TYPE_CONFORMING      BIT_ULL(2)
#define AR_TYPE_CODE            BIT_ULL(3)
#define AR_S                    BIT_ULL(4)
#define AR_DPL_SHIFT            5
#define AR_P                    BIT_ULL(7)
#define AR_G                    BIT_ULL(15)
#define AR_UNUSABLE             BIT_ULL(16)
#define AR_RESERVED             (GENMASK_ULL(11, 8) | GENMASK_ULL(31, 17))
#define SEL_RPL                 0x3u
#define RFLAGS_VM               BIT_ULL(17)     /* virtual-8086 mode */

struct rm_seg {
	uint16_t sel;
	uint32_t limit, ar;
};

/* The segment registers real-mode code can load: CS and SS first (their
 * checks look at each other), then the data segments. */
enum { RM_CS, RM_SS, RM_DS, RM_ES, RM_FS, RM_GS, RM_NSEG };

#define RM_FIELDS(s) \
	{ VMCS_GUEST_##s##_SEL, VMCS_GUEST_##s##_LIMIT, VMCS_GUEST_##s##_AR }

static const struct {
	uint32_t sel, limit, ar;
} rm_fields[RM_NSEG] = {
	[RM_CS] = RM_FIELDS(CS), [RM_SS] = RM_FIELDS(SS),
	[RM_DS] = RM_FIELDS(DS), [RM_ES] = RM_FIELDS(ES),
	[RM_FS] = RM_FIELDS(FS), [RM_GS] = RM_FIELDS(GS),
};

static struct rm_seg rm_read_seg(unsigned int i)
{
	return (struct rm_seg){ (uint16_t)__vmread(rm_fields[i].sel),
				(uint32_t)__vmread(rm_fields[i].limit),
				(uint32_t)__vmread(rm_fields[i].ar) };
}

static unsigned int seg_dpl(const struct rm_seg *s)
{
	return (s->ar >> AR_DPL_SHIFT) & 3;
}

/* Present, S set, no reserved bit, and G as the limit needs it: clear
 * if any of bits 11:0 is 0, set if any of bits 31:20 is 1 (27.3.1.2). */
static bool seg_common_ok(const struct rm_seg *s)
{
	bool g = s->ar & AR_G;

	if (!(s->ar & AR_P) || !(s->ar & AR_S) || (s->ar & AR_RESERVED))
		return false;
	if ((s->limit & 0xfff) != 0xfff && g)
		return false;
	return !((s->limit & 0xfff00000) && !g);
}

/* CS: accessed code (type 9, 11, 13 or 15); nonconforming with DPL =
 * SS.DPL, conforming with DPL <= SS.DPL; RPL equal to SS's. */
static bool cs_ok(const struct rm_seg *cs, const struct rm_seg *ss)
{
	if (!(cs->ar & AR_TYPE_CODE) || !(cs->ar & AR_TYPE_ACCESSED) ||
	    (cs->ar & AR_UNUSABLE) || !seg_common_ok(cs))
		return false;
	if ((cs->sel & SEL_RPL) != (ss->sel & SEL_RPL))
		return false;
	if (cs->ar & AR_TYPE_CONFORMING)
		return seg_dpl(cs) <= seg_dpl(ss);
	return seg_dpl(cs) == seg_dpl(ss);
}

/* SS, when usable: read/write accessed data (type 3 or 7) with DPL =
 * RPL. */
static bool ss_ok(const struct rm_seg *ss)
{
	unsigned int type = ss->ar & AR_TYPE;

	if (ss->ar & AR_UNUSABLE)
		return true;
	return (type == 3 || type == 7) && seg_dpl(ss) == (ss->sel & SEL_RPL) &&
	       seg_common_ok(ss);
}

/* DS, ES, FS, GS, when usable: accessed; code only if readable; data
 * and nonconforming code with DPL >= RPL. */
static bool data_seg_ok(const struct rm_seg *s)
{
	bool code = s->ar & AR_TYPE_CODE;

	if (s->ar & AR_UNUSABLE)
		return true;
	if (!(s->ar & AR_TYPE_ACCESSED) || (code && !(s->ar & AR_TYPE_RW)))
		return false;
	if ((!code || !(s->ar & AR_TYPE_CONFORMING)) &&
	    seg_dpl(s) < (s->sel & SEL_RPL))
		return false;
	return seg_common_ok(s);
}

/* The segment registers real-mode code can change pass VM entry's
 * protected-mode checks (TR and LDTR it cannot load: LTR and LLDT are
 * #UD in real mode, and vmcs_create left them valid). */
static bool segments_ok(void)
{
	struct rm_seg seg[RM_NSEG];

	for (unsigned int i = 0; i < RM_NSEG; i++)
		seg[i] = rm_read_seg(i);
	if (!cs_ok(&seg[RM_CS], &seg[RM_SS]) || !ss_ok(&seg[RM_SS]))
		return false;
	for (unsigned int i = RM_DS; i < RM_NSEG; i++)
		if (!data_seg_ok(&seg[i]))
			return false;
	return true;
}

static bool unrestricted_guest(void)
{
	return vmcs_read32(VMCS_PROC_CONTROLS) & CPU_ACTIVATE_SECONDARY &&
	       vmcs_read32(VMCS_PROC_CONTROLS2) & CPU2_UNRESTRICTED_GUEST;
}

/* Protected mode as the guest sees it (the real CR0.PE is always set
 * without unrestricted guest), not virtual-8086 mode, with segments VM
 * entry takes. */
static bool vmx_can_enter(struct vcpu *v)
{
	if (!(vcpu_guest_cr0(v) & X86_CR0_PE))
		return false;
	if (vmcs_readnat(VMCS_GUEST_RFLAGS) & RFLAGS_VM)
		return false;
	return segments_ok();
}

static void rm_log_done(struct vcpu *v, unsigned int steps)
{
	guest_log(LOG_INFO, v->guest, "vcpu %u: real mode: %u instructions "
		  "emulated, protected mode from %04x:%08lx\n", v->index, steps,
		  vmcs_read16(VMCS_GUEST_CS_SEL), vmcs_readnat(VMCS_GUEST_RIP));
}

int vcpu_leave_real_mode(struct vcpu *v)
{
	if (unrestricted_guest() || (vcpu_guest_cr0(v) & X86_CR0_PE))
		return EXIT_RESUME;
	for (unsigned int n = 0; n < RM_MAX_STEPS; n++) {
		int rc;

		if (vmx_can_enter(v)) {
			rm_log_done(v, n);
			return EXIT_RESUME;
		}
		if (READ_ONCE(v->guest->state) != GUEST_RUNNING)
			return EXIT_STOP;
		rc = vcpu_emulate_real(v);
		if (rc != EXIT_RESUME)
			return rc;
	}
	return vcpu_fatal(v, "real-mode code ran %u instructions without "
			  "reaching protected mode (emulated: no unrestricted "
			  "guest)", RM_MAX_STEPS);
}
