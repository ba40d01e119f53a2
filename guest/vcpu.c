/* Running a vCPU on its CPU, and the helpers exit handlers share. */
#include "guest/vcpu.h"
#include "guest/guest.h"
#include "vmx/exit.h"
#include "vmx/vmcs.h"
#include "vmx/vmcs_setup.h"
#include "vmx/realmode.h"
#include "ept/dirty.h"
#include "arch/percpu.h"
#include "arch/x86.h"
#include "drivers/printk.h"

int vmx_launch(struct guest_regs *regs);

/*
 * A single-step trap follows an instruction that began with RFLAGS.TF = 1,
 * unless IA32_DEBUGCTL.BTF makes TF step over branches only (SDM Vol. 3A
 * 18.3.1.4, 18.4.3). An instruction that exited never completed in the
 * guest, so its trap is Keel's to raise: BS in the pending debug
 * exceptions, delivered by VM entry (SDM Vol. 3C 27.7.3) before any
 * interrupt, as the processor's own trap would be.
 */
bool vcpu_single_steps(uint64_t rflags)
{
	return unlikely(rflags & X86_RFLAGS_TF) &&
	       !(vmcs_read64(VMCS_GUEST_DEBUGCTL) & DEBUGCTL_BTF);
}

static void vcpu_single_step_trap(uint64_t rflags)
{
	if (vcpu_single_steps(rflags))
		vmcs_writenat(VMCS_GUEST_PENDING_DBG,
			      vmcs_readnat(VMCS_GUEST_PENDING_DBG) |
			      PENDING_DBG_BS);
}

/* A completed instruction ends STI/MOV SS blocking (SDM Vol. 3C 25.4.2);
 * blocking by NMI lasts until the guest's IRET. */
static void vcpu_end_shadow(uint32_t intr)
{
	if (unlikely(intr & VCPU_RETIRE_INTR_BITS))
		vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY,
			     intr & ~(uint32_t)VCPU_RETIRE_INTR_BITS);
}

/* What vcpu_retire_instruction() leaves here: the blocking it ends, RF a
 * completed instruction clears (SDM Vol. 3A 17.3.1.1; an IRET may have
 * set it to get past an instruction breakpoint on it), the single-step
 * trap. RIP is written already. */
void vcpu_retire_rest(uint64_t rflags)
{
	vcpu_end_shadow(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY));
	if (unlikely(rflags & X86_RFLAGS_RF))
		vmcs_writenat(VMCS_GUEST_RFLAGS, rflags & ~X86_RFLAGS_RF);
	vcpu_single_step_trap(rflags);
}

/*
 * Interrupts and traps are taken between iterations of a REP string
 * instruction, and one taken after an iteration other than the last
 * pushes RF = 1 (SDM Vol. 3B 17.3.1.1), so that resuming the instruction
 * does not stop again at an instruction breakpoint on it. With TF the
 * processor single-steps each iteration (17.3.1.4).
 */
void vcpu_retire_iteration(struct vcpu *v, uint64_t rflags)
{
	(void)v;
	vcpu_end_shadow(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY));
	vmcs_writenat(VMCS_GUEST_RFLAGS,
		      vmcs_readnat(VMCS_GUEST_RFLAGS) | X86_RFLAGS_RF);
	vcpu_single_step_trap(rflags);
}

bool vcpu_debug_trap_pending(void)
{
	return vmcs_readnat(VMCS_GUEST_PENDING_DBG) & PENDING_DBG_VALID;
}

/*
 * The RFLAGS image an exception handler finds on its stack: for a
 * fault-class exception (every one but the #DB of an instruction
 * breakpoint) RF is 1 (SDM Vol. 3A 17.3.1.1; the classes: Table 6-1),
 * so that the handler's IRET does not stop at an instruction
 * breakpoint on the instruction it restarts. With VM-entry event
 * injection the processor pushes the guest-state RFLAGS field (SDM Vol.
 * 3C 27.6.1), so RF is set there, as KVM does. Traps (#BP, #OF, and
 * #DB, which Keel never raises itself) and aborts (#DF, #MC) push RF as
 * it is; vector 2 is the NMI.
 */
#define EXC_NOT_FAULT (BIT_ULL(1) | BIT_ULL(2) | BIT_ULL(3) | BIT_ULL(4) | \
		       BIT_ULL(8) | BIT_ULL(18))

void vcpu_fault_rf(uint32_t intr_info)
{
	uint32_t vector = intr_info & (uint32_t)INTR_INFO_VECTOR_MASK;
	uint64_t rflags;

	if (((intr_info >> INTR_INFO_TYPE_SHIFT) & 7) != INTR_TYPE_HW_EXCEPTION ||
	    vector > 31 || (EXC_NOT_FAULT & BIT_ULL(vector)))
		return;
	rflags = vmcs_readnat(VMCS_GUEST_RFLAGS);
	if (!(rflags & X86_RFLAGS_RF))
		vmcs_writenat(VMCS_GUEST_RFLAGS, rflags | X86_RFLAGS_RF);
}

/* Event injection at the next VM entry (SDM Vol. 3C 27.6). */
void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error,
			   uint32_t error)
{
	uint32_t info = vector | (INTR_TYPE_HW_EXCEPTION << INTR_INFO_TYPE_SHIFT) |
			INTR_INFO_VALID;

	(void)v;
	vcpu_fault_rf(info);
	if (has_error) {
		info |= INTR_INFO_DELIVER_ERROR;
		vmcs_write32(VMCS_ENTRY_EXCEPTION_ERROR, error);
	}
	vmcs_write32(VMCS_ENTRY_INTR_INFO, info);
}

uint64_t vcpu_gpr(const struct vcpu *v, unsigned int n)
{
	if (n == GPR_RSP)
		return vmcs_readnat(VMCS_GUEST_RSP);
	return ((const uint64_t *)&v->regs)[n & 15];
}

void vcpu_set_gpr(struct vcpu *v, unsigned int n, uint64_t val)
{
	if (n == GPR_RSP)
		vmcs_writenat(VMCS_GUEST_RSP, val);
	else
		((uint64_t *)&v->regs)[n & 15] = val;
}

/* Owned bits from the read shadow, the rest from the real register. */
uint64_t vcpu_guest_cr0(const struct vcpu *v)
{
	return (vmcs_readnat(VMCS_GUEST_CR0) & ~v->cr0_owned) |
	       (vmcs_readnat(VMCS_CR0_READ_SHADOW) & v->cr0_owned);
}

uint64_t vcpu_guest_cr4(const struct vcpu *v)
{
	return (vmcs_readnat(VMCS_GUEST_CR4) & ~v->cr4_owned) |
	       (vmcs_readnat(VMCS_CR4_READ_SHADOW) & v->cr4_owned);
}

uint64_t vcpu_guest_cr3(const struct vcpu *v)
{
	return v->shadow ? v->sv.cr3 : vmcs_readnat(VMCS_GUEST_CR3);
}

uint64_t vcpu_guest_efer(const struct vcpu *v)
{
	return v->shadow ? v->sv.efer : vmcs_read64(VMCS_GUEST_EFER);
}

void vcpu_dump(struct vcpu *v)
{
	const struct guest_regs *r = &v->regs;
	struct guest *g = v->guest;
	uint32_t reason = vmcs_read32(VMCS_EXIT_REASON);

	guest_log(LOG_ERR, g, "vcpu %u on cpu %u: exit reason %u (%s)%s, "
		  "qualification %#lx\n", v->index, v->cpu, reason & 0xffff,
		  vmx_exit_reason_name(reason & 0xffff),
		  reason & EXIT_REASON_ENTRY_FAILURE ? " [entry failure]" : "",
		  vmcs_readnat(VMCS_EXIT_QUALIFICATION));
	guest_log(LOG_ERR, g, "  rip %016lx rsp %016lx rflags %08lx cpl %u\n",
		  vmcs_readnat(VMCS_GUEST_RIP), vmcs_readnat(VMCS_GUEST_RSP),
		  vmcs_readnat(VMCS_GUEST_RFLAGS), vcpu_cpl());
	guest_log(LOG_ERR, g, "  rax %016lx rbx %016lx rcx %016lx rdx %016lx\n",
		  r->rax, r->rbx, r->rcx, r->rdx);
	guest_log(LOG_ERR, g, "  rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n",
		  r->rsi, r->rdi, r->rbp, r->r8);
	guest_log(LOG_ERR, g, "  cr0 %08lx (real %08lx) cr3 %016lx (real %lx) "
		  "cr4 %08lx efer %lx%s\n", vcpu_guest_cr0(v),
		  vmcs_readnat(VMCS_GUEST_CR0), vcpu_guest_cr3(v),
		  vmcs_readnat(VMCS_GUEST_CR3), vcpu_guest_cr4(v),
		  vcpu_guest_efer(v), v->shadow ? " (shadow paging)" : "");
	guest_log(LOG_ERR, g, "  cs %04x base %lx ar %x, gpa %#lx, gla %#lx, "
		  "idt-vectoring %#x\n", vmcs_read16(VMCS_GUEST_CS_SEL),
		  vmcs_readnat(VMCS_GUEST_CS_BASE), vmcs_read32(VMCS_GUEST_CS_AR),
		  vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS),
		  vmcs_readnat(VMCS_GUEST_LINEAR_ADDRESS),
		  vmcs_read32(VMCS_IDT_VECTORING_INFO));
}

/*
 * A pass numbers itself before it reads the requests and publishes the
 * number when done, so that a requester knows a pass that began after
 * its request answered it (guest_request). Passes nest (a root reload
 * may request a flush of this vCPU too); only this vCPU writes them.
 */
bool vcpu_process_requests(struct vcpu *v)
{
	uint32_t pass = __atomic_add_fetch(&v->req_passes, 1, __ATOMIC_SEQ_CST);
	uint32_t req = __atomic_load_n(&v->requests, __ATOMIC_SEQ_CST);
	uint32_t done = req & ~(uint32_t)VCPU_REQ_PAUSE;

	if (req & VCPU_REQ_PML_ON)
		dirty_pml_set(v, true);
	if (req & (VCPU_REQ_DRAIN_PML | VCPU_REQ_PAUSE))
		dirty_pml_drain(v);
	if (req & VCPU_REQ_PML_OFF)
		dirty_pml_set(v, false);
	if (req & VCPU_REQ_FLUSH_EPT)
		ept_invalidate(&v->guest->ept);
	if (req & VCPU_REQ_MMU_RELOAD)
		shadow_vcpu_reload(v);
	if (req & (VCPU_REQ_FLUSH_TLB | VCPU_REQ_MMU_RELOAD))
		vpid_invalidate(v->vpid);
	__atomic_fetch_and(&v->requests, ~done, __ATOMIC_RELEASE);
	if ((int32_t)(pass - v->req_answered) > 0)
		__atomic_store_n(&v->req_answered, pass, __ATOMIC_RELEASE);
	return req & VCPU_REQ_PAUSE;
}

/*
 * Leaving the CPU for a migration: the state goes to v->saved, this CPU's
 * TLB forgets the guest (its EPT and VPID may be reused once the source
 * slot is freed), and only then is the request acknowledged.
 */
static void vcpu_pause_out(struct vcpu *v)
{
	v->tsc_guest_paused = rdtsc() + v->tsc_offset;
	vcpu_state_save(v, &v->saved);
	vmcs_release(v);
	ept_invalidate(&v->guest->ept);
	vpid_invalidate(v->vpid);
	v->on_cpu = false;
	v->paused = true;
	__atomic_fetch_and(&v->requests, ~(uint32_t)VCPU_REQ_PAUSE,
			   __ATOMIC_RELEASE);
}

int vcpu_fatal(struct vcpu *v, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	guest_log(LOG_ERR, v->guest, "vcpu %u: fatal: %s\n", v->index, why);
	vcpu_dump(v);
	guest_end(v->guest, 0, "fatal exit");
	return EXIT_STOP;
}

/* The state a start-up IPI gives (SDM Vol. 3A 9.4.4.1, 11.6.1): real
 * mode at CS = vector << 8 (base vector << 12), IP = 0. */
static void vcpu_boot_from_sipi(struct vcpu *v, uint8_t vector)
{
	v->boot = (struct vcpu_boot){ .mode = VCPU_MODE_REAL,
				      .cs = (uint16_t)(vector << 8) };
	v->regs = (struct guest_regs){ 0 };
}

/*
 * vCPUs other than the first wait here, in Keel, for INIT and a SIPI from
 * another vCPU of their guest (guest/vlapic_ipi.c), answering requests as
 * they come. They are not parked in the VMX wait-for-SIPI or HLT activity
 * states because an interrupt sent to wake them for the guest's end is not
 * always delivered as an exit there (Bochs 2.7 keeps such a vCPU halted
 * while the guest's IF is 0); they halt in Keel instead, woken by kicks.
 * Returns true when a SIPI came; false when
 * the vCPU left (guest ended, or paused out for a migration).
 */
static bool vcpu_wait_sipi(struct vcpu *v)
{
	v->paused = false;
	v->on_cpu = true;
	v->tsc_launched = rdtsc();
	while (READ_ONCE(v->guest->state) == GUEST_RUNNING) {
		uint32_t req = __atomic_load_n(&v->requests, __ATOMIC_ACQUIRE);
		uint32_t sipi = __atomic_load_n(&v->lapic.sipi, __ATOMIC_ACQUIRE);

		if (req & VCPU_REQ_PAUSE) {
			v->on_cpu = false;
			v->paused = true;
			__atomic_fetch_and(&v->requests, 0, __ATOMIC_RELEASE);
			return false;
		}
		if (req)        /* no VMCS, no PML, nothing cached to flush */
			__atomic_fetch_and(&v->requests, ~req, __ATOMIC_RELEASE);
		if (sipi & VLAPIC_SIPI_VALID) {
			if (sipi & VLAPIC_START_PROT32)
				v->regs = (struct guest_regs){ 0 };
			else
				vcpu_boot_from_sipi(v, (uint8_t)sipi);
			__atomic_store_n(&v->lapic.state, VLAPIC_RUNNING,
					 __ATOMIC_RELEASE);
			return true;
		}
		/* A SIPI, a request and the guest's end all come with a kick. */
		wait_for_interrupt();
	}
	v->on_cpu = false;
	guest_vcpu_leave(v);
	return false;
}

/*
 * A fresh VMCS has PML off, and a PML_ON request reaches only vCPUs that
 * are on their CPUs (one waiting for its SIPI drops it: it has no VMCS
 * yet). So a vCPU turns PML on by itself when the log is in PML mode.
 * The fence pairs with guest_request's: either it sees this vCPU on its
 * CPU and posts PML_ON (or PML_OFF after), or this vCPU sees the mode
 * the requester set before it looked.
 */
static void vcpu_pml_catch_up(struct vcpu *v)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (READ_ONCE(v->guest->dlog.mode) == DIRTY_PML)
		dirty_pml_set(v, true);
}

/* Runs v on this CPU from its boot state, or from `saved` after a
 * migration, until its guest ends or it is paused out. */
void vcpu_run(void *arg)
{
	struct vcpu *v = arg;
	const char *why;

	this_cpu()->vcpu = v;
	if (READ_ONCE(v->lapic.state) == VLAPIC_WAIT_SIPI && !vcpu_wait_sipi(v)) {
		this_cpu()->vcpu = NULL;
		return;
	}
	why = vmcs_create(v);
	v->paused = false;
	if (why) {
		guest_log(LOG_ERR, v->guest, "vcpu %u: cannot start: %s\n",
			  v->index, why);
		guest_end(v->guest, 0, "VMCS set-up failed");
		v->tsc_launched = rdtsc();
	} else {
		uint64_t old_offset = v->tsc_offset;

		if (v->saved.valid) {
			/* The guest's TSC goes on from where it was paused:
			 * another CPU's TSC need not agree with the old one. */
			vcpu_state_load(v, &v->saved);
			if (v->shadow)
				shadow_vcpu_reload(v);
			v->tsc_offset = v->tsc_guest_paused - rdtsc();
			vmcs_write64(VMCS_TSC_OFFSET, v->tsc_offset);
		} else {
			fpu_reset_guest();      /* XCR0 = 1, nothing inherited */
		}
		/* From here a kick must not be taken by Keel: with interrupts
		 * off it stays pending and makes the first VM entry exit at
		 * once. Requests posted before that are acted on now. */
		cli();
		v->on_cpu = true;
		v->tsc_launched = rdtsc();
		vcpu_pml_catch_up(v);
		vcpu_entering(v);
		if (READ_ONCE(v->requests) & ~(uint32_t)VCPU_REQ_PAUSE)
			vcpu_process_requests(v);
		/* Real-mode code first (no event is delivered while it is
		 * emulated), then the APIC's pending work. */
		if (vcpu_leave_real_mode(v) == EXIT_RESUME &&
		    vlapic_vmcs_loaded(v, old_offset - v->tsc_offset) == EXIT_RESUME)
			vmx_launch(&v->regs);
	}
	WRITE_ONCE(v->in_guest, false);
	if (v->requests & VCPU_REQ_PAUSE) {
		vcpu_pause_out(v);
	} else {
		v->on_cpu = false;
		guest_vcpu_leave(v);
	}
	this_cpu()->vcpu = NULL;
}
