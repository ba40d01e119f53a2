/* 32-bit IDT (SDM Vol. 3A 6.11) and register dump. */
#include "guest.h"

#define GATE_INTERRUPT32 0x8e   /* present, DPL 0, 32-bit interrupt gate */
#define GATE_DPL3        0x60   /* INT n allowed from ring 3 */
#define SEL_CODE         0x08   /* x86_32/entry.S's GDT */

struct idt_gate {
	uint16_t offset_low, selector;
	uint8_t zero, type;
	uint16_t offset_high;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 8, "32-bit IDT gate");

/* All 256 vectors: guests that take interrupts set gates above 31. */
static struct idt_gate idt[256] __attribute__((aligned(8)));

void idt_set_gate(unsigned int vector, uintptr_t handler)
{
	idt[vector] = (struct idt_gate){ (uint16_t)handler, SEL_CODE, 0,
					 GATE_INTERRUPT32,
					 (uint16_t)(handler >> 16) };
}

void idt_set_user_gate(unsigned int vector, uintptr_t handler)
{
	idt_set_gate(vector, handler);
	idt[vector].type |= GATE_DPL3;
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) d = { sizeof(idt) - 1, (uint32_t)idt };

	__asm__ volatile("lidt %0" :: "m"(d));
}

void trap_dump(const struct trap_frame *f)
{
	printf("  eip %08x cs %04x eflags %08x error %08x\n", f->ip, f->cs,
	       f->flags, f->error);
	printf("  eax %08x ebx %08x ecx %08x edx %08x\n", f->eax, f->ebx,
	       f->ecx, f->edx);
	printf("  esi %08x edi %08x ebp %08x\n", f->esi, f->edi, f->ebp);
}

/* ---- a second vCPU ------------------------------------------------------- */

__attribute__((aligned(16), used)) static uint8_t vcpu_stack[8192];
static void (*volatile vcpu_fn)(void);

/* Keel starts the vCPU with flat segments it cached but no GDT of ours:
 * load it before anything could fault. */
__asm__(".text\n"
	"vcpu_entry32:\n"
	"	lgdt gdt_desc\n"
	"	movl $vcpu_stack + 8192, %esp\n"
	"	call vcpu_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n");
extern char vcpu_entry32[];

__attribute__((used)) void vcpu_main(void);
__attribute__((used)) void vcpu_main(void)
{
	idt_load();
	vcpu_fn();
}

bool vcpu_start(unsigned int n, void (*fn)(void))
{
	if (vcpu_fn)
		return false;
	vcpu_fn = fn;
	return vmcall3(KEEL_HC_VCPU_START, n, (uintptr_t)vcpu_entry32, 0) == 0;
}
