/*
 * Exits of shadow paging (ept/shadow_mmu.h): #PF, INVLPG, MOV to/from CR3,
 * and reloading the root when the guest's paging registers change.
 *
 *   #PF exit --> MMIO marker? --------------------------> emulate (hinted)
 *      |
 *      +--> walk the guest's tables (emul_walk_path)
 *             fault ------------------------------------> inject #PF
 *             ok --> shadow_fill
 *                      DONE -----------------------------> resume
 *                      TRACKED_WRITE --> emulate, zap what it wrote
 *                      MMIO -----------------------------> emulate
 *
 * An exit during event delivery (IDT-vectoring information valid, SDM
 * Vol. 3C 28.2.4) loses the event: it is injected again once the fault
 * is fixed.
 */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "vmx/emulate.h"
#include "arch/idt.h"
#include "arch/string.h"
#include "mm/layout.h"
#include "arch/msr.h"
#include "arch/x86.h"
#include "guest/guest.h"
#include "guest/mmio.h"

#define PFEC_P          EMUL_PFEC_P
#define PFEC_RSVD       EMUL_PFEC_RSVD
#define INTR_TYPE_SW_INT        4
#define INTR_TYPE_PRIV_SW_EXC   5
#define INTR_TYPE_SW_EXC        6
#define CR3_PCID_NOFLUSH        BIT_ULL(63)

static struct shadow_regs shadow_regs_of(struct vcpu *v)
{
	return (struct shadow_regs){ vcpu_guest_cr0(v), v->sv.cr3,
				     vcpu_guest_cr4(v), v->sv.efer,
				     v->sv.pdpte };
}

/* Entries lost rights: every vCPU of the guest flushes its TLB before it
 * runs on (this one at the end of the exit). */
static void shadow_flush(struct vcpu *v)
{
	if (shadow_take_flush(v->guest))
		guest_request(v->guest, VCPU_REQ_FLUSH_TLB);
}

void shadow_vcpu_reload(struct vcpu *v)
{
	struct shadow_regs r = shadow_regs_of(v);
	uint64_t hpa = shadow_load_root(v->guest, &v->sv, &r);

	if (!hpa) {
		vcpu_fatal(v, "no shadow page left for a root (keel.shadow_pages)");
		return;
	}
	vmcs_writenat(VMCS_GUEST_CR3, hpa);
	__atomic_fetch_or(&v->requests, VCPU_REQ_FLUSH_TLB, __ATOMIC_RELEASE);
	shadow_flush(v);
}

/* PAE paging outside long mode: MOV to CR3 (and to CR0/CR4 when it turns
 * PAE paging on) loads the four PDPTEs (vcpu_read_pdptes()). */
bool shadow_load_pdptes(struct vcpu *v, uint64_t cr3)
{
	uint64_t pdpte[4];

	if (!vcpu_read_pdptes(v, cr3, pdpte))
		return false;
	memcpy(v->sv.pdpte, pdpte, sizeof(pdpte));
	return true;
}

static bool guest_pae_paging(struct vcpu *v)
{
	return (vcpu_guest_cr0(v) & X86_CR0_PG) &&
	       (vcpu_guest_cr4(v) & X86_CR4_PAE) && !(v->sv.efer & EFER_LMA);
}

bool shadow_load_cr3(struct vcpu *v, uint64_t val)
{
	if (val & CR3_PCID_NOFLUSH)
		return false;
	if (guest_pae_paging(v) && !shadow_load_pdptes(v, val))
		return false;
	v->sv.cr3 = val;
	shadow_vcpu_reload(v);
	shadow_audit_root(v->guest, &v->sv, "cr3");
	return true;
}

int shadow_cr3_write(struct vcpu *v, uint64_t val)
{
	if (!shadow_load_cr3(v, val)) {
		vcpu_inject_exception(v, VEC_GP, true, 0);
		return EXIT_RESUME;
	}
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}

/* ---- events ---------------------------------------------------------------- */

static void reinject_event(uint32_t idt)
{
	uint32_t type = (idt >> INTR_INFO_TYPE_SHIFT) & 7;

	vmcs_write32(VMCS_ENTRY_INTR_INFO, idt & ~(uint32_t)INTR_INFO_NMI_UNBLOCKED);
	vcpu_fault_rf(idt);
	if (idt & INTR_INFO_DELIVER_ERROR)
		vmcs_write32(VMCS_ENTRY_EXCEPTION_ERROR,
			     vmcs_read32(VMCS_IDT_VECTORING_ERROR));
	if (type == INTR_TYPE_SW_INT || type == INTR_TYPE_PRIV_SW_EXC ||
	    type == INTR_TYPE_SW_EXC)
		vmcs_write32(VMCS_ENTRY_INSTR_LEN, vmcs_read32(VMCS_EXIT_INSTR_LEN));
}

static void reinject_pending(void)
{
	uint32_t idt = vmcs_read32(VMCS_IDT_VECTORING_INFO);

	if (idt & INTR_INFO_VALID)
		reinject_event(idt);
}

/* The guest's own #PF. Met while delivering another #PF it becomes a #DF,
 * and one met delivering a #DF shuts the guest down (SDM Vol. 3A 6.15,
 * Table 6-5); other events are dropped and happen again when the guest
 * retries (external interrupts stay pending, INT n re-executes). */
static int inject_guest_pf(struct vcpu *v, uint64_t la, uint32_t ec)
{
	uint32_t idt = vmcs_read32(VMCS_IDT_VECTORING_INFO);
	bool hw_exc = (idt & INTR_INFO_VALID) &&
		      ((idt >> INTR_INFO_TYPE_SHIFT) & 7) == INTR_TYPE_HW_EXCEPTION;
	uint32_t vec = idt & (uint32_t)INTR_INFO_VECTOR_MASK;

	if (hw_exc && vec == VEC_DOUBLE_FAULT) {
		guest_end(v->guest, 0, "triple fault");
		return EXIT_STOP;
	}
	if (hw_exc && vec == VEC_PF) {
		vcpu_inject_exception(v, VEC_DOUBLE_FAULT, true, 0);
		return EXIT_RESUME;
	}
	write_cr2(la);
	vcpu_inject_exception(v, VEC_PF, true, ec);
	return EXIT_RESUME;
}

/* ---- #PF ----------------------------------------------------------------------- */

/* The guest retries the faulting instruction (vcpu_retry_exit()). */
static int pf_retry(struct vcpu *v, uint64_t la)
{
	return vcpu_retry_exit(v, EXIT_EXCEPTION_NMI,
			       vmcs_read32(VMCS_EXIT_INTR_ERROR), la);
}

static int pf_tracked_write(struct vcpu *v, uint64_t la, uint64_t gpa)
{
	struct shadow_mmu *m = v->guest->mmu;
	int r;

	if (!(vmcs_read32(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID)) {
		m->st.pf[SHADOW_PF_TRACKED]++;
		if (vcpu_emulate_pt_write(v, &r)) {
			shadow_audit(v->guest, "pt-write");
			return r;
		}
	}
	/* Not emulated: the table's shadows go out of sync, so the store
	 * runs natively when the guest retries it (shadow_unprotect()). */
	shadow_unprotect(v->guest, gpa >> PAGE_SHIFT);
	reinject_pending();
	return pf_retry(v, la);
}

static int pf_fill(struct vcpu *v, uint64_t la, unsigned int acc,
		   const struct emul_walk_path *path)
{
	struct shadow_regs r = shadow_regs_of(v);
	struct shadow_mmu *m = v->guest->mmu;
	int ret = EXIT_RESUME;

	switch (shadow_fill(v->guest, &v->sv, &r, la, acc, path)) {
	case SHADOW_FILL_DONE:
		m->st.pf[SHADOW_PF_FILL]++;
		reinject_pending();
		ret = pf_retry(v, la);
		break;
	case SHADOW_FILL_TRACKED_WRITE:
		ret = pf_tracked_write(v, la, path->gpa);
		break;
	case SHADOW_FILL_MMIO:
		m->st.pf[SHADOW_PF_MMIO]++;
		ret = vcpu_emulate(v);
		break;
	case SHADOW_FILL_NO_MEMORY:
		ret = vcpu_fatal(v, "%s at guest-physical %#lx outside its "
				 "memory (linear %#lx)", acc & EMUL_ACC_FETCH ?
				 "fetch" : acc & EMUL_ACC_WRITE ? "write" : "read",
				 path->gpa, la);
		break;
	case SHADOW_FILL_NO_ROOM:
		ret = vcpu_fatal(v, "shadow page pool exhausted by roots "
				 "(keel.shadow_pages)");
		break;
	}
	shadow_flush(v);
	return ret;
}

int handle_page_fault(struct vcpu *v)
{
	uint64_t la = vmcs_readnat(VMCS_EXIT_QUALIFICATION), gpa;
	uint32_t ec = vmcs_read32(VMCS_EXIT_INTR_ERROR);
	unsigned int acc = ec & (EMUL_ACC_WRITE | EMUL_ACC_USER | EMUL_ACC_FETCH);
	struct emul_walk_path path;
	struct emul_exception exc;
	unsigned int macc;
	int rc;

	if (unlikely(!v->shadow))
		return vcpu_fatal(v, "#PF exit without shadow paging");
	if ((ec & (PFEC_P | EMUL_PFEC_W)) == (PFEC_P | EMUL_PFEC_W) &&
	    READ_ONCE(v->guest->shadow_dirty_log) &&
	    dirty_log_shadow_fault(v, la)) {
		reinject_pending();
		return pf_retry(v, la);
	}
	if ((ec & (PFEC_P | PFEC_RSVD)) == (PFEC_P | PFEC_RSVD) &&
	    shadow_mmio_cached(v->guest, &v->sv, la, &gpa, &macc) &&
	    !(vmcs_read32(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID)) {
		v->guest->mmu->st.pf[SHADOW_PF_MMIO_CACHED]++;
		return vcpu_emulate_hinted(v, la, gpa, macc, NULL);
	}
	rc = vcpu_walk(v, la, acc, &path, &exc);
	if (rc == EMUL_EXCEPTION) {
		v->guest->mmu->st.pf[SHADOW_PF_GUEST]++;
		return inject_guest_pf(v, la, exc.error_code);
	}
	if (rc == EMUL_RETRY) {
		v->guest->mmu->st.pf[SHADOW_PF_SPURIOUS]++;
		reinject_pending();
		return pf_retry(v, la);
	}
	if (rc != EMUL_OK)
		return vcpu_fatal(v, "its page tables for linear %#lx are "
				  "outside its memory", la);
	return pf_fill(v, la, acc, &path);
}

/* ---- INVLPG and CR3 ------------------------------------------------------------ */

int handle_invlpg(struct vcpu *v)
{
	uint64_t la = vmcs_readnat(VMCS_EXIT_QUALIFICATION);

	if (v->shadow) {
		shadow_invlpg(v->guest, &v->sv, la);
		shadow_flush(v);
		shadow_audit(v->guest, "invlpg");
	}
	vpid_invalidate_addr(v->vpid, la);
	vcpu_skip_instruction(v);
	return EXIT_RESUME;
}
