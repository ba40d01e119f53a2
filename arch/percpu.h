/* Per-CPU data. GS base points at the CPU's struct percpu; its first field is
 * a self pointer and its second the CPU index, so this_cpu() and cpu_id()
 * are one GS-relative load each. */
#ifndef KEEL_ARCH_PERCPU_H
#define KEEL_ARCH_PERCPU_H

#include "arch/compiler.h"
#include "arch/gdt.h"

#define MAX_CPUS        64
#define CPU_STACK_ORDER 2               /* 16 KiB kernel stack per CPU */
#define CPU_STACK_SIZE  (4096UL << CPU_STACK_ORDER)
/* An AP's stacks come in one block: the kernel stack, then the IST stacks. */
#define CPU_STACKS_ORDER 3
#define CPU_STACKS_SIZE  (4096UL << CPU_STACKS_ORDER)
#define IST_STACK_SIZE  4096UL

enum cpu_state {
	CPU_ABSENT = 0,         /* not started, or did not answer */
	CPU_STARTING,
	CPU_ONLINE,             /* in long mode on its own GDT/IDT/stack */
	CPU_VMX_ON,             /* in VMX root operation */
	CPU_VMX_UNAVAILABLE,    /* said why it cannot enter VMX operation */
	CPU_STOPPED,            /* halted by a fault or a panic */
};

struct vcpu;

struct percpu {
	struct percpu *self;            /* %gs:0 */
	uint32_t id;                    /* %gs:8, Keel's CPU index */
	uint32_t apic_id;
	volatile int state;             /* enum cpu_state */
	uint64_t stack_top;
	uint64_t gdt[GDT_ENTRIES];
	struct tss tss;
	uint64_t ist_top[IST_COUNT];     /* tops of the #DF, NMI, #MC stacks */
	uint64_t vmxon_pa;              /* VMXON region, 4 KiB */
	const char *vmx_reason;         /* why VMX is unavailable */
	struct vcpu *vcpu;              /* the vCPU this CPU runs, if any */
	void (*volatile work)(void *);  /* what cpu_idle() runs next */
	void *work_arg;
} __aligned(64);

_Static_assert(offsetof(struct percpu, self) == 0, "percpu self at %gs:0");
_Static_assert(offsetof(struct percpu, id) == 8, "percpu id at %gs:8");

extern struct percpu percpu[MAX_CPUS];
extern unsigned int cpus_possible;      /* CPUs listed (and enabled) by ACPI */

static inline uint32_t cpu_id(void)
{
	uint32_t id;

	__asm__ volatile("movl %%gs:8, %0" : "=r"(id));
	return id;
}

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;

	__asm__ volatile("movq %%gs:0, %0" : "=r"(p));
	return p;
}

/* Runs this CPU's work items as they are posted (cpu_post_work). */
__noreturn void cpu_idle(void);
/* Hands fn(arg) to CPU `id`, which must be idle. */
void cpu_post_work(uint32_t id, void (*fn)(void *), void *arg);

/* Loads GS base, GDT, TSS and IDT for CPU `id` on the calling CPU. */
void percpu_init_this(uint32_t id, uint32_t apic_id);

#endif
