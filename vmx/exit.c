/* VM-exit dispatch and the one fatal path for a guest's vCPU. */
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "arch/percpu.h"
#include "arch/x86.h"
#include "guest/guest.h"
#include "drivers/printk.h"

static int handle_unknown(struct vcpu *v)
{
	return vcpu_fatal(v, "unhandled exit reason");
}

/* Indexed by basic exit reason; see vmx/exit.h for the contract. Every
 * entry is set (the range first, the handlers overriding it), so that the
 * dispatch needs no test for a missing one. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static exit_handler_fn *const exit_handlers[VMX_NR_EXIT_REASONS] = {
	[0 ... VMX_NR_EXIT_REASONS - 1] = handle_unknown,
	[EXIT_EXCEPTION_NMI]      = handle_exception_nmi,
	[EXIT_EXTERNAL_INTERRUPT] = handle_external_interrupt,
	[EXIT_TRIPLE_FAULT]       = handle_triple_fault,
	[EXIT_INTERRUPT_WINDOW]   = handle_interrupt_window,
	[EXIT_NMI_WINDOW]         = handle_nmi_window,
	[EXIT_CPUID]              = handle_cpuid,
	[EXIT_HLT]                = handle_hlt,
	[EXIT_INVD]               = handle_invd,
	[EXIT_RDPMC]              = handle_rdpmc,
	[EXIT_VMCALL]             = handle_vmcall,
	[EXIT_VMCLEAR]            = handle_vmx_instruction,
	[EXIT_VMLAUNCH]           = handle_vmx_instruction,
	[EXIT_VMPTRLD]            = handle_vmx_instruction,
	[EXIT_VMPTRST]            = handle_vmx_instruction,
	[EXIT_VMREAD]             = handle_vmx_instruction,
	[EXIT_VMRESUME]           = handle_vmx_instruction,
	[EXIT_VMWRITE]            = handle_vmx_instruction,
	[EXIT_VMXOFF]             = handle_vmx_instruction,
	[EXIT_VMXON]              = handle_vmx_instruction,
	[EXIT_INVEPT]             = handle_vmx_instruction,
	[EXIT_INVVPID]            = handle_vmx_instruction,
	[EXIT_VMFUNC]             = handle_vmx_instruction,
	[EXIT_CR_ACCESS]          = handle_cr_access,
	[EXIT_IO]                 = handle_io,
	[EXIT_RDMSR]              = handle_rdmsr,
	[EXIT_WRMSR]              = handle_wrmsr,
	[EXIT_MWAIT]              = handle_monitor_mwait,
	[EXIT_MONITOR]            = handle_monitor_mwait,
	[EXIT_EPT_VIOLATION]      = handle_ept_violation,
	[EXIT_EPT_MISCONFIG]      = handle_ept_misconfig,
	[EXIT_WBINVD]             = handle_wbinvd,
	[EXIT_XSETBV]             = handle_xsetbv,
	[EXIT_PML_FULL]           = handle_pml_full,
	[EXIT_INVLPG]             = handle_invlpg,
	[EXIT_PREEMPT_TIMER]      = handle_preemption_timer,
	[EXIT_TPR_BELOW_THRESHOLD] = handle_tpr_below_threshold,
	[EXIT_APIC_ACCESS]        = handle_apic_access,
	[EXIT_APIC_WRITE]         = handle_apic_write,
	[EXIT_VIRTUALIZED_EOI]    = handle_virtualized_eoi,
};
#pragma GCC diagnostic pop

/* An exit reason with more than a basic reason in it: a failed VM entry
 * (bit 31, SDM Vol. 3C 28.2.1), or one past the table. Reads the reason
 * again, so that the dispatch need not keep a copy for here. */
static __attribute__((noinline)) int exit_unusual(struct vcpu *v)
{
	uint32_t reason = vmcs_read32(VMCS_EXIT_REASON);
	uint32_t basic = reason & EXIT_REASON_BASIC_MASK;

	v->exit_counts[basic < VMX_NR_EXIT_REASONS ? basic : 0]++;
	if (reason & EXIT_REASON_ENTRY_FAILURE)
		return vcpu_fatal(v, "VM entry failed on guest state");
	if (basic < VMX_NR_EXIT_REASONS)
		return exit_handlers[basic](v);
	return handle_unknown(v);
}

/* What may stop the vCPU or change what it is entered with: vmx/entry.S
 * checks it all with one load of v->attention and one of v->lapic.work,
 * and calls here when either is nonzero. */
int vmx_exit_attention(struct guest_regs *regs, int r)
{
	struct vcpu *v = (struct vcpu *)regs;

	if (READ_ONCE(v->requests) && vcpu_process_requests(v))
		return EXIT_STOP;       /* paused: vcpu_run saves the state */
	if (READ_ONCE(v->guest->state) != GUEST_RUNNING)
		return EXIT_STOP;
	if (READ_ONCE(v->lapic.work) && r == EXIT_RESUME)
		r = vlapic_before_entry(v);
	return r;
}

/* The handler for reason, counted (before it runs: then only v is live
 * across the call, which is a tail call). */
static inline int exit_dispatch(struct vcpu *v, uint64_t reason)
{
	if (likely(reason < VMX_NR_EXIT_REASONS)) {
		v->exit_counts[reason]++;
		return exit_handlers[reason](v);
	}
	return exit_unusual(v);
}

/* The vCPU is in Keel from here until vmx/entry.S marks it entering. */
static struct vcpu *exit_begin(struct guest_regs *regs)
{
	struct vcpu *v = (struct vcpu *)regs;

	WRITE_ONCE(v->in_guest, false);
	return v;
}

static int exit_counted(struct guest_regs *regs)
{
	return exit_dispatch(exit_begin(regs), vmcs_read32(VMCS_EXIT_REASON));
}

/* The same with the handler's ticks added to its reason's total: two
 * RDTSCs, so only keel.stats=1 asks for them. */
static int exit_ticked(struct guest_regs *regs)
{
	struct vcpu *v = exit_begin(regs);
	uint32_t reason = vmcs_read32(VMCS_EXIT_REASON);
	uint64_t t0 = rdtsc();
	int r = exit_dispatch(v, reason);
	uint32_t basic = reason & EXIT_REASON_BASIC_MASK;

	v->exit_ticks[basic < VMX_NR_EXIT_REASONS ? basic : 0] += rdtsc() - t0;
	return r;
}

int (*vmx_exit_dispatch)(struct guest_regs *regs) = exit_counted;

void vmx_exit_count_ticks(bool on)
{
	vmx_exit_dispatch = on ? exit_ticked : exit_counted;
}

/* ---- livelock watchdog (see vmx/exit.h) --------------------------------- */

/* Exits that come whether or not the guest runs: they neither count as
 * retries nor show progress. */
static bool exit_is_async(unsigned int reason)
{
	return reason == EXIT_EXTERNAL_INTERRUPT ||
	       reason == EXIT_INTERRUPT_WINDOW || reason == EXIT_NMI_WINDOW ||
	       reason == EXIT_PREEMPT_TIMER;
}

/* Exits so far that were neither retries nor asynchronous; the current
 * one is in both the counts (exit_dispatch() adds it before the
 * handler) and wd.retries (vcpu_retry_exit() first thing). Summed when a streak starts and every WD_CHECK_EVERY
 * retries of it, so that a loop that retries the same access between
 * other exits (remap, INVLPG, touch) pays for it only now and then. */
#define WD_CHECK_EVERY          1024u

static uint64_t exits_with_progress(const struct vcpu *v)
{
	uint64_t n = 0;

	for (unsigned int r = 0; r < VMX_NR_EXIT_REASONS; r++)
		if (!exit_is_async(r))
			n += v->exit_counts[r];
	return n - v->wd.retries - v->wd.async;
}

int vcpu_retry_exit(struct vcpu *v, uint32_t reason, uint64_t qual,
		    uint64_t addr)
{
	struct vcpu_watchdog *wd = &v->wd;
	uint64_t rip, progress;

	wd->retries++;
	if (likely(qual != wd->qual || addr != wd->addr ||
		   reason != wd->reason || v->regs.rcx != wd->rcx)) {
		/* A new kind of retry: RIP is read only if it repeats. */
		wd->qual = qual;
		wd->addr = addr;
		wd->reason = reason;
		wd->rcx = v->regs.rcx;
		wd->streak = 0;
		return EXIT_RESUME;
	}
	rip = vmcs_readnat(VMCS_GUEST_RIP);
	if (!wd->streak || rip != wd->rip) {
		wd->rip = rip;
		wd->streak = 1;
		wd->progress = exits_with_progress(v);
		return EXIT_RESUME;
	}
	if (likely(++wd->streak % WD_CHECK_EVERY))
		return EXIT_RESUME;
	progress = exits_with_progress(v);
	if (progress != wd->progress) {         /* the guest got on */
		wd->progress = progress;
		wd->streak = 1;
		return EXIT_RESUME;
	}
	if (wd->streak <= VCPU_LIVELOCK_EXITS)
		return EXIT_RESUME;
	return vcpu_fatal(v, "livelock: %u exits at RIP %#lx without progress "
			  "(exit %u %s, qual %#lx, addr %#lx)", wd->streak,
			  rip, reason, vmx_exit_reason_name(reason), qual,
			  addr);
}

static const char *const vm_instruction_errors[] = {
	[2] = "VMCALL in VMX root operation",
	[3] = "VMCLEAR with invalid address",
	[5] = "VMLAUNCH with non-clear VMCS",
	[6] = "VMRESUME with non-launched VMCS",
	[7] = "VM entry with invalid control fields",
	[8] = "VM entry with invalid host-state fields",
	[12] = "VMREAD/VMWRITE of an unsupported VMCS field",
	[13] = "VMWRITE to a read-only VMCS field",
	[26] = "VM entry with events blocked by MOV SS",
};

/* VMLAUNCH/VMRESUME fell through: VMfailValid (SDM Vol. 3C 31.4). */
void vmx_entry_failed(int resume)
{
	struct vcpu *v = this_cpu()->vcpu;
	uint32_t err = vmcs_read32(VMCS_INSTR_ERROR);
	const char *what = err < ARRAY_SIZE(vm_instruction_errors) &&
			   vm_instruction_errors[err] ? vm_instruction_errors[err]
						      : "see SDM Vol. 3C 31.4";

	vcpu_fatal(v, "%s failed: VM-instruction error %u (%s)",
		   resume ? "VMRESUME" : "VMLAUNCH", err, what);
}
