/* Running a vCPU on its CPU, and the helpers exit handlers share. */
#include "guest/vcpu.h"
#include "guest/guest.h"
#include "vmx/exit.h"
#include "vmx/vmcs.h"
#include "vmx/vmcs_setup.h"
#include "arch/percpu.h"
#include "arch/x86.h"
#include "drivers/printk.h"

int vmx_launch(struct guest_regs *regs);

void vcpu_skip_instruction(struct vcpu *v)
{
	uint64_t rip = vmcs_readnat(VMCS_GUEST_RIP);

	(void)v;        /* the current VMCS is v's */
	vmcs_writenat(VMCS_GUEST_RIP, rip + vmcs_read32(VMCS_EXIT_INSTR_LEN));
	/* A completed instruction ends STI/MOV SS blocking (SDM Vol. 3C 25.4.2). */
	if (unlikely(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) &
		     (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS)))
		vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, 0);
}

/* Event injection at the next VM entry (SDM Vol. 3C 27.6). */
void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error,
			   uint32_t error)
{
	uint32_t info = vector | (INTR_TYPE_HW_EXCEPTION << INTR_INFO_TYPE_SHIFT) |
			INTR_INFO_VALID;

	(void)v;
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

/* CPL is SS.DPL (SDM Vol. 3A 5.5); in real mode it is 0. */
unsigned int vcpu_cpl(void)
{
	if (!(vmcs_readnat(VMCS_CR0_READ_SHADOW) & X86_CR0_PE))
		return 0;
	return (vmcs_read32(VMCS_GUEST_SS_AR) >> 5) & 3;
}

static void vcpu_dump(struct vcpu *v)
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
	guest_log(LOG_ERR, g, "  cr0 %08lx (real %08lx) cr3 %016lx cr4 %08lx efer %lx\n",
		  vmcs_readnat(VMCS_CR0_READ_SHADOW), vmcs_readnat(VMCS_GUEST_CR0),
		  vmcs_readnat(VMCS_GUEST_CR3), vmcs_readnat(VMCS_CR4_READ_SHADOW),
		  vmcs_read64(VMCS_GUEST_EFER));
	guest_log(LOG_ERR, g, "  cs %04x base %lx ar %x, gpa %#lx, gla %#lx, "
		  "idt-vectoring %#x\n", vmcs_read16(VMCS_GUEST_CS_SEL),
		  vmcs_readnat(VMCS_GUEST_CS_BASE), vmcs_read32(VMCS_GUEST_CS_AR),
		  vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS),
		  vmcs_readnat(VMCS_GUEST_LINEAR_ADDRESS),
		  vmcs_read32(VMCS_IDT_VECTORING_INFO));
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

void vcpu_run(void *arg)
{
	struct vcpu *v = arg;
	const char *why;

	this_cpu()->vcpu = v;
	why = vmcs_create(v);
	if (why) {
		guest_log(LOG_ERR, v->guest, "vcpu %u: cannot start: %s\n",
			  v->index, why);
		guest_end(v->guest, 0, "VMCS set-up failed");
	} else {
		vmx_launch(&v->regs);
	}
	guest_vcpu_leave(v);
	this_cpu()->vcpu = NULL;
}
