/* Per-CPU GDT with a 64-bit TSS (SDM Vol. 3A 3.4.5, 8.2.3). */
#include "arch/gdt.h"
#include "arch/percpu.h"
#include "arch/string.h"

#define DESC_CODE64  0x00af9a000000ffffULL      /* P, DPL0, code, L */
#define DESC_DATA    0x00cf92000000ffffULL      /* P, DPL0, data, RW */
#define DESC_TSS_AVAIL 0x89ULL                  /* P, 64-bit TSS available */

struct gdt_ptr {
	uint16_t limit;
	uint64_t base;
} __packed;

static void gdt_set_tss(uint64_t *gdt, const struct tss *tss)
{
	uint64_t base = (uint64_t)tss;
	uint64_t limit = sizeof(*tss) - 1;

	gdt[SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			   (DESC_TSS_AVAIL << 40) | (((limit >> 16) & 0xf) << 48) |
			   (((base >> 24) & 0xff) << 56);
	gdt[SEL_TSS / 8 + 1] = base >> 32;
}

void gdt_load(struct percpu *cpu)
{
	struct gdt_ptr ptr = { sizeof(cpu->gdt) - 1, (uint64_t)cpu->gdt };

	memset(&cpu->tss, 0, sizeof(cpu->tss));
	for (int i = 0; i < IST_COUNT; i++)
		cpu->tss.ist[i] = cpu->ist_top[i];
	cpu->tss.iomap_base = sizeof(cpu->tss);     /* no I/O bitmap */

	cpu->gdt[0] = 0;
	cpu->gdt[SEL_KERNEL_CS / 8] = DESC_CODE64;
	cpu->gdt[SEL_KERNEL_DS / 8] = DESC_DATA;
	gdt_set_tss(cpu->gdt, &cpu->tss);

	__asm__ volatile(
		"lgdt %0\n\t"
		"pushq %1\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movl %2, %%eax\n\t"
		"movl %%eax, %%ds\n\t"
		"movl %%eax, %%es\n\t"
		"movl %%eax, %%ss\n\t"
		"ltr %w3\n\t"
		:: "m"(ptr), "i"((uint64_t)SEL_KERNEL_CS), "i"(SEL_KERNEL_DS),
		   "r"((uint16_t)SEL_TSS)
		: "rax", "memory");
}
