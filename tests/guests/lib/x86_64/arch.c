/* 64-bit IDT (SDM Vol. 3A 6.14.1) and register dump. */
#include "guest.h"

#define GATE_INTERRUPT64 0x8e   /* present, DPL 0, 64-bit interrupt gate */
#define SEL_CODE         0x08   /* x86_64/entry.S's GDT */

struct idt_gate {
	uint16_t offset_low, selector;
	uint8_t ist, type;
	uint16_t offset_mid;
	uint32_t offset_high, reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate");

/* All 256 vectors: guests that take interrupts set gates above 31. */
static struct idt_gate idt[256] __attribute__((aligned(16)));

void idt_set_gate(unsigned int vector, uintptr_t handler)
{
	idt[vector] = (struct idt_gate){ (uint16_t)handler, SEL_CODE, 0,
					 GATE_INTERRUPT64,
					 (uint16_t)(handler >> 16),
					 (uint32_t)(handler >> 32), 0 };
}

/* Deliver VECTOR on the stack in the TSS's IST slot IST (1-7; 0: none). */
void idt_set_ist(unsigned int vector, unsigned int ist)
{
	idt[vector].ist = (uint8_t)ist;
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) d = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ volatile("lidt %0" :: "m"(d));
}

void trap_dump(const struct trap_frame *f)
{
	printf("  rip %016lx cs %04lx rflags %08lx error %08lx\n", f->ip,
	       f->cs, f->flags, f->error);
	printf("  rsp %016lx rax %016lx rbx %016lx\n", f->sp, f->rax, f->rbx);
	printf("  rcx %016lx rdx %016lx rsi %016lx\n", f->rcx, f->rdx, f->rsi);
	printf("  rdi %016lx rbp %016lx\n", f->rdi, f->rbp);
}
