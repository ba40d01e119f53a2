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

/* Indexed by basic exit reason; see vmx/exit.h for the contract. */
static exit_handler_fn *const exit_handlers[VMX_NR_EXIT_REASONS] = {
	[EXIT_EXCEPTION_NMI]      = handle_exception_nmi,
	[EXIT_EXTERNAL_INTERRUPT] = handle_external_interrupt,
	[EXIT_TRIPLE_FAULT]       = handle_triple_fault,
	[EXIT_INTERRUPT_WINDOW]   = handle_interrupt_window,
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
};

/* Called by vmx/entry.S at every VM exit, with the guest's registers
 * saved in v->regs. Returns nonzero to resume the guest. */
int vmx_exit_handler(struct guest_regs *regs)
{
	struct vcpu *v = (struct vcpu *)regs;
	uint32_t reason = vmcs_read32(VMCS_EXIT_REASON);
	uint32_t basic = reason & EXIT_REASON_BASIC_MASK;
	exit_handler_fn *fn = NULL;
	struct exit_stat *st;
	int r;

	v->tsc_exit = rdtsc();
	if (likely(basic < VMX_NR_EXIT_REASONS))
		fn = exit_handlers[basic];
	if (unlikely(reason & EXIT_REASON_ENTRY_FAILURE))
		r = vcpu_fatal(v, "VM entry failed on guest state");
	else
		r = (fn ? fn : handle_unknown)(v);
	st = &v->stats[basic < VMX_NR_EXIT_REASONS ? basic : 0];
	st->count++;
	st->ticks += rdtsc() - v->tsc_exit;
	if (unlikely(READ_ONCE(v->requests)) && vcpu_process_requests(v))
		return EXIT_STOP;       /* paused: vcpu_run saves the state */
	if (unlikely(READ_ONCE(v->guest->state) != GUEST_RUNNING))
		return EXIT_STOP;
	if (unlikely(READ_ONCE(v->lapic.work)) && r == EXIT_RESUME)
		r = vlapic_before_entry(v);
	return r;
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
