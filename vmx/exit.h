/* VM-exit dispatch: one handler per basic exit reason. */
#ifndef KEEL_VMX_EXIT_H
#define KEEL_VMX_EXIT_H

#include "arch/compiler.h"
#include "guest/vcpu.h"
#include "arch/x86.h"

/*
 * Handler contract: a handler returns EXIT_RESUME to re-enter the guest or
 * EXIT_STOP when this vCPU must stop (the guest is ending). It decides
 * about RIP itself: vcpu_skip_instruction() only when the instruction
 * completed; an injected fault leaves RIP on the faulting instruction.
 * A handler that finds the guest misbehaving calls vcpu_fatal(), which
 * ends the guest and returns EXIT_STOP.
 */
enum exit_result {
	EXIT_STOP = 0,
	EXIT_RESUME = 1,
};

typedef int exit_handler_fn(struct vcpu *v);

/*
 * The livelock watchdog. A handler that fixes something and resumes the
 * guest on the same instruction, without retiring it or injecting an
 * event (a shadow #PF filled, a dirty-log write fault logged, a store
 * Keel could not emulate let through), calls vcpu_retry_exit() with the
 * exit's basic reason, qualification and the address it was about (the
 * linear address of a #PF, the guest-physical one of an EPT violation).
 * When more than VCPU_LIVELOCK_EXITS such exits in a row look the same
 * (RIP, reason, qualification, address, RCX) and no other exit came in
 * between, except the asynchronous ones (external interrupts, interrupt
 * and NMI windows, the preemption timer, NMI kicks; checked every 1,024
 * retries, so the count it stops at is the next multiple of 1,024), the
 * guest cannot be making progress: the vCPU stops through vcpu_fatal()
 * with a line that names the guest, the vCPU, RIP and the exit reason. Exits that retire
 * an instruction (CPUID, I/O, HLT, an emulated MMIO access: a guest
 * polling a port or a device register), inject an event, or move a REP
 * string instruction on (RCX changes) never count, and no work is added
 * to their path. Returns EXIT_RESUME, or EXIT_STOP after vcpu_fatal().
 */
#define VCPU_LIVELOCK_EXITS     100000u
int vcpu_retry_exit(struct vcpu *v, uint32_t reason, uint64_t qual,
		    uint64_t addr);

/* Called by vmx/entry.S at every VM exit, with the guest's registers
 * saved in the vCPU: vmx_exit_dispatch runs the exit's handler (reached
 * by a tail call, no stack frame) and returns its EXIT_RESUME or
 * EXIT_STOP. The stub then marks the vCPU as entering and, only when it
 * finds work pending, calls vmx_exit_attention with that answer, which
 * returns it or EXIT_STOP. */
extern int (*vmx_exit_dispatch)(struct guest_regs *regs);
int vmx_exit_attention(struct guest_regs *regs, int r);
/* Per-exit-reason tick totals besides the counts (keel.stats=1). */
void vmx_exit_count_ticks(bool on);
void vmx_entry_failed(int resume);
const char *vmx_exit_reason_name(unsigned int reason);

/* Handlers, grouped by file. */
exit_handler_fn handle_cpuid, handle_hlt, handle_invd, handle_wbinvd,
	handle_xsetbv, handle_triple_fault, handle_vmx_instruction,
	handle_rdpmc, handle_monitor_mwait, handle_external_interrupt,
	handle_exception_nmi;
exit_handler_fn handle_io;
exit_handler_fn handle_rdmsr, handle_wrmsr;
exit_handler_fn handle_cr_access;
exit_handler_fn handle_ept_violation, handle_ept_misconfig;
exit_handler_fn handle_vmcall;
exit_handler_fn handle_pml_full;
exit_handler_fn handle_page_fault, handle_invlpg;       /* shadow paging */

/* PAE PDPTEs at cr3 into pdpte[4]; false for a reserved bit in a present
 * one (the MOV to CR0/CR3/CR4 is a #GP) or a table outside guest RAM. */
bool vcpu_read_pdptes(struct vcpu *v, uint64_t cr3, uint64_t pdpte[4]);

/* Shadow paging (vmx/exit_shadow.c). */
void shadow_vcpu_reload(struct vcpu *v);
bool shadow_load_pdptes(struct vcpu *v, uint64_t cr3);
int shadow_cr3_write(struct vcpu *v, uint64_t val);
/* The guest's new CR3, checked (false: #GP) and applied: the shadow MMU
 * takes the new root. */
bool shadow_load_cr3(struct vcpu *v, uint64_t val);
exit_handler_fn handle_interrupt_window, handle_preemption_timer;
exit_handler_fn handle_tpr_below_threshold;
/* The xAPIC page the CPU virtualizes (guest/vlapic_page.c), and the
 * interrupts it delivers: an EOI that exits, and vlapic_vid_redeliver()
 * for one whose delivery an exit interrupted (from the exits that can
 * come during delivery: EPT violations Keel retries, PML full). */
exit_handler_fn handle_apic_access, handle_apic_write, handle_virtualized_eoi;
void vlapic_vid_redeliver(struct vcpu *v);
/* The TPR shadow (vmx/exit_apic.c): keel.tpr_shadow, and v's virtual-APIC
 * page where the CPU has one and it is on; false: no memory for it. */
extern bool vlapic_tpr_shadow_on;
bool vlapic_vmx_init(struct vcpu *v);
/* vmx/exit_apic.c: HLT with interrupts on, and the interrupt work before a VM entry. */
exit_handler_fn vcpu_halt;
int vlapic_before_entry(struct vcpu *v);
/* vmx/exit_nmi.c: guest NMIs. vnmi_evaluate() injects a pending NMI or
 * asks for an NMI-window exit, true when it injected; vnmi_wakes(): one
 * is pending and the guest can take it (it ends a HLT); vnmi_redeliver()
 * takes up an NMI whose delivery an exit interrupted;
 * vnmi_refault_iret() restores the NMI blocking an IRET that faulted
 * into the exit had ended (`info` bit 12). */
exit_handler_fn handle_nmi_window;
bool vnmi_evaluate(struct vcpu *v);
bool vnmi_wakes(const struct vcpu *v);
void vnmi_redeliver(struct vcpu *v);
void vnmi_refault_iret(const struct vcpu *v, uint64_t info);
/* MOV to/from CR8 (exit qualification q), from handle_cr_access. */
int handle_cr8_access(struct vcpu *v, uint64_t q);
int vlapic_vmcs_loaded(struct vcpu *v, uint64_t tsc_shift);
/* A new CR0 for the guest, with MOV to CR0's checks and effects (vmx/
 * exit_cr.c): false when the value is refused (#GP). For MOV, CLTS, LMSW
 * and the emulator's LMSW. */
bool vcpu_load_cr0(struct vcpu *v, uint64_t val);
/* The same for MOV to CR3 and CR4 (the emulator's). */
bool vcpu_load_cr3(struct vcpu *v, uint64_t val);
bool vcpu_load_cr4(struct vcpu *v, uint64_t val);
/* CPUID as the guest sees it (vmx/exit_misc.c), for the MSRs whose
 * existence it decides. */
struct cpuid_regs guest_cpuid(struct vcpu *v, uint32_t leaf, uint32_t sub);

/* The guest's RDMSR/WRMSR of msr as Keel answers them on an exit
 * (vmx/exit_msr.c), for emulated code too; false is the guest's
 * #GP(0). */
bool vcpu_read_msr(struct vcpu *v, uint32_t msr, uint64_t *val);
bool vcpu_write_msr(struct vcpu *v, uint32_t msr, uint64_t val);
/* Forgets the vCPU's cached CPUID answers (vmx/exit_misc.c): after a
 * change to state that some of them follow. */
void vcpu_cpuid_flush(struct vcpu *v);

#endif
