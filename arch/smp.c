/* AP start-up with INIT-SIPI-SIPI (SDM Vol. 3A 9.4.4.1, "Typical AP
 * initialization sequence"). */
#include "arch/smp.h"
#include "arch/msr.h"
#include "arch/percpu.h"
#include "arch/spinlock.h"
#include "arch/string.h"
#include "arch/tsc.h"
#include "arch/x86.h"
#include "drivers/lapic.h"
#include "drivers/printk.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "vmx/vmx.h"

extern const char trampoline_start[], trampoline_data[], trampoline_end[];
extern const char trampoline_long_mode_off[];

unsigned int cpus_online = 1;
static volatile bool aps_released;

static __noreturn void ap_main(uint64_t id)
{
	struct percpu *cpu = &percpu[id];

	percpu_init_this((uint32_t)id, cpu->apic_id);
	lapic_init_this_cpu();
	cpu->state = CPU_ONLINE;
	while (!READ_ONCE(aps_released))
		cpu_relax();
	write_cr3(read_cr3());          /* forget the identity map */
	vmx_cpu_init();
	cpu_idle();
}

static struct trampoline_data *trampoline_install(uint64_t pa)
{
	size_t size = (size_t)(trampoline_end - trampoline_start);
	size_t data_off = (size_t)(trampoline_data - trampoline_start);
	struct trampoline_data *td = phys_to_virt(pa + data_off);

	memcpy(phys_to_virt(pa), trampoline_start, size);
	td->gdt_base = (uint32_t)(pa + offsetof(struct trampoline_data, gdt) +
				  data_off);
	td->far64_off = (uint32_t)(pa + (uint64_t)trampoline_long_mode_off);
	td->cr3 = (uint32_t)read_cr3();
	td->cr4 = (uint32_t)read_cr4() & X86_CR4_PAE;
	td->efer = (uint32_t)(rdmsr(MSR_IA32_EFER) & (EFER_LME | EFER_NXE));
	td->entry = (uint64_t)ap_main;
	return td;
}

static bool ap_wait_online(struct percpu *cpu, uint64_t us)
{
	for (uint64_t t = 0; t < us; t += 100) {
		if (cpu->state == CPU_ONLINE)
			return true;
		udelay(100);
	}
	return cpu->state == CPU_ONLINE;
}

static bool ap_start_one(struct trampoline_data *td, uint64_t tpa, uint32_t id,
			 uint32_t apic_id)
{
	struct percpu *cpu = &percpu[id];
	uint64_t stack = mm_alloc_pages(CPU_STACKS_ORDER);

	_Static_assert(CPU_STACK_SIZE + IST_COUNT * IST_STACK_SIZE <=
		       CPU_STACKS_SIZE, "stacks block");
	if (stack == FRAME_NONE) {
		pr_err("keel: cpu %u: no memory for its stack\n", id);
		return false;
	}
	cpu->apic_id = apic_id;
	cpu->stack_top = (uint64_t)phys_to_virt(stack) + CPU_STACK_SIZE;
	for (int i = 0; i < IST_COUNT; i++)
		cpu->ist_top[i] = cpu->stack_top + (i + 1) * IST_STACK_SIZE;
	cpu->state = CPU_STARTING;
	td->stack = cpu->stack_top;
	td->arg = id;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	lapic_send_init(apic_id);
	udelay(10000);
	lapic_send_sipi(apic_id, (uint8_t)(tpa >> 12));
	udelay(200);
	if (!ap_wait_online(cpu, 1000)) {
		lapic_send_sipi(apic_id, (uint8_t)(tpa >> 12));
		ap_wait_online(cpu, 200000);
	}
	if (cpu->state == CPU_ONLINE)
		return true;
	pr_err("keel: cpu %u (apic id %u) did not start\n", id, apic_id);
	cpu->state = CPU_ABSENT;
	mm_free_pages(stack, CPU_STACKS_ORDER);
	return false;
}

unsigned int smp_start_aps(const struct smp_cpu *cpus, unsigned int n,
			   uint64_t trampoline_pa)
{
	struct trampoline_data *td = trampoline_install(trampoline_pa);
	uint32_t bsp_apic = lapic_id();

	for (unsigned int i = 0; i < n; i++) {
		if (!cpus[i].enabled || cpus[i].apic_id == bsp_apic)
			continue;
		if (cpus_online >= MAX_CPUS) {
			pr_warn("keel: smp: more than %u CPUs; the rest stay off\n",
				MAX_CPUS);
			break;
		}
		if (ap_start_one(td, trampoline_pa, cpus_online, cpus[i].apic_id))
			cpus_online++;
	}
	return cpus_online;
}

void smp_release_aps(void)
{
	__atomic_store_n(&aps_released, true, __ATOMIC_RELEASE);
}
