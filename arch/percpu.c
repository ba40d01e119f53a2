/* Per-CPU areas. */
#include "arch/percpu.h"
#include "arch/idt.h"
#include "arch/msr.h"
#include "arch/spinlock.h"
#include "arch/x86.h"

struct percpu percpu[MAX_CPUS];
unsigned int cpus_possible;

void percpu_init_this(uint32_t id, uint32_t apic_id)
{
	struct percpu *cpu = &percpu[id];

	cpu->self = cpu;
	cpu->id = id;
	cpu->apic_id = apic_id;
	wrmsr(MSR_GS_BASE, (uint64_t)cpu);
	gdt_load(cpu);
	idt_load();
}

__noreturn void cpu_idle(void)
{
	struct percpu *cpu = this_cpu();

	for (;;) {
		void (*fn)(void *) = cpu->work;

		if (!fn) {
			cpu_relax();
			continue;
		}
		fn(cpu->work_arg);
		__atomic_store_n(&cpu->work, NULL, __ATOMIC_RELEASE);
	}
}

void cpu_post_work(uint32_t id, void (*fn)(void *), void *arg)
{
	percpu[id].work_arg = arg;
	__atomic_store_n(&percpu[id].work, fn, __ATOMIC_RELEASE);
}
