/* Exception reporting and panic. A CPU exception in Keel is a bug in Keel:
 * print everything that helps find it, then stop that CPU. */
#include "arch/idt.h"
#include "arch/panic.h"
#include "arch/percpu.h"
#include "arch/x86.h"
#include "drivers/lapic.h"
#include "drivers/platform.h"
#include "drivers/printk.h"
#include "mm/layout.h"

volatile bool panic_in_progress;

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
	"#OF overflow", "#BR bound range", "#UD invalid opcode",
	"#NM device not available", "#DF double fault",
	"coprocessor segment overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault",
	"#GP general protection", "#PF page fault", "reserved 15",
	"#MF x87 error", "#AC alignment check", "#MC machine check",
	"#XM SIMD error", "#VE virtualization", "#CP control protection",
	"reserved 22", "reserved 23", "reserved 24", "reserved 25",
	"reserved 26", "reserved 27", "#HV hypervisor injection",
	"#VC VMM communication", "#SX security", "reserved 31",
};

static void dump_registers(const struct irq_frame *f)
{
	pr_err("  rax %016lx rbx %016lx rcx %016lx rdx %016lx\n",
	       f->rax, f->rbx, f->rcx, f->rdx);
	pr_err("  rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n",
	       f->rsi, f->rdi, f->rbp, f->rsp);
	pr_err("  r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n",
	       f->r8, f->r9, f->r10, f->r11);
	pr_err("  r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n",
	       f->r12, f->r13, f->r14, f->r15);
	pr_err("  rip %016lx cs %04lx rflags %08lx ss %04lx\n",
	       f->rip, f->cs, f->rflags, f->ss);
	pr_err("  cr0 %016lx cr2 %016lx cr3 %016lx cr4 %016lx\n",
	       read_cr0(), read_cr2(), read_cr3(), read_cr4());
}

/* Follow the frame-pointer chain while it stays inside this CPU's stack. */
static void dump_stack_trace(uint64_t rbp)
{
	uint64_t top = this_cpu()->stack_top;
	uint64_t bottom = top - CPU_STACK_SIZE;

	pr_err("  stack trace:\n");
	for (int i = 0; i < 16; i++) {
		if (rbp < bottom || rbp + 16 > top || !IS_ALIGNED(rbp, 8))
			break;
		uint64_t *frame = (uint64_t *)rbp;

		pr_err("    [%d] %016lx\n", i, frame[1]);
		if (frame[0] <= rbp)
			break;
		rbp = frame[0];
	}
}

static __noreturn void stop_this_cpu(void)
{
	this_cpu()->state = CPU_STOPPED;
	cpu_halt_forever();
}

static void exception_fatal(struct irq_frame *f)
{
	pr_err("keel: cpu %u: exception %s (vector %lu) error %#lx at rip %016lx\n",
	       cpu_id(), exception_names[f->vector & 31], f->vector, f->error,
	       f->rip);
	dump_registers(f);
	dump_stack_trace(f->rbp);
	pr_err("keel: cpu %u: stopped\n", cpu_id());
	stop_this_cpu();
}

void irq_dispatch(struct irq_frame *f)
{
	if (f->vector == VEC_NMI && panic_in_progress)
		stop_this_cpu();
	if (f->vector == VEC_STOP_IPI)
		stop_this_cpu();
	if (f->vector == VEC_NMI)       /* a kick (guest_kick_nmi) out of */
		return;                 /* guest mode found Keel running */
	if (f->vector < VEC_FIRST_IRQ) {
		exception_fatal(f);
		return;
	}
	if (f->vector == VEC_SPURIOUS)
		return;
	if (f->vector == VEC_KICK) {    /* only meaningful in guest mode */
		lapic_eoi();
		return;
	}
	pr_warn("keel: cpu %u: unexpected interrupt vector %lu\n", cpu_id(),
		f->vector);
	lapic_eoi();
}

__noreturn void panic(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	cli();
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (__atomic_exchange_n(&panic_in_progress, true, __ATOMIC_SEQ_CST))
		stop_this_cpu();        /* another CPU panicked first */
	pr_err("keel: cpu %u: panic: %s\n", cpu_id(), msg);
	lapic_send_nmi_all_but_self();
	platform_shutdown();
	stop_this_cpu();
}
