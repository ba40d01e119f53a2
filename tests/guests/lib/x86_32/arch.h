/* The 32-bit (multiboot, flat) side of the test-guest library. */
#ifndef KEEL_TEST_ARCH_H
#define KEEL_TEST_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#define GUEST_BITS      32
#define ASM_PTR         ".long"
#define ASM_PTR_ALIGN   "4"

/* What the exception stubs in x86_32/entry.S push, lowest address first:
 * PUSHA, then vector and error code, then the CPU's frame. */
struct trap_frame {
	uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t ip, cs, flags;
};

_Static_assert(sizeof(struct trap_frame) == 13 * 4, "x86_32/entry.S layout");

/* An interrupt handler's entry, fn_stub: saves the registers a C call
 * may clobber around fn() and returns with IRET (fn does the EOI). */
#define IRQ_STUB(fn) \
	__asm__(".text\n" #fn "_stub:\n\tpushal\n\tcld\n\tcall " #fn \
		"\n\tpopal\n\tiret\n")

/* The assembler macro `irq_stub VEC`, for guests that count many vectors
 * in one C function: it defines irq_stub_VEC, which saves the registers
 * a C call may clobber around irq_entry(VEC) and returns with IRET
 * (irq_entry does the EOI). Put it in a top-level __asm__ once. */
#define IRQ_ENTRY_MACRO \
	".text\n" \
	".macro irq_stub vec\n" \
	"irq_stub_\\vec:\n" \
	"	pushal\n" \
	"	cld\n" \
	"	pushl $\\vec\n" \
	"	call irq_entry\n" \
	"	addl $4, %esp\n" \
	"	popal\n" \
	"	iret\n" \
	".endm\n"

void idt_set_gate(unsigned int vector, uintptr_t handler);
/* The same gate, but INT n may reach it from ring 3 (DPL 3). */
void idt_set_user_gate(unsigned int vector, uintptr_t handler);
void idt_load(void);
void trap_dump(const struct trap_frame *f);

/* Starts vCPU n (by KEEL_HC_VCPU_START, flat protected mode) on fn with
 * this library's GDT and IDT and a stack of its own; fn must not return
 * before the guest ends (the vCPU then halts). One vCPU per guest:
 * false if one was started already or Keel refused. */
bool vcpu_start(unsigned int n, void (*fn)(void));

#endif
