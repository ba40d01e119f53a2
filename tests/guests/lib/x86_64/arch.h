/* The 64-bit (elf64) side of the test-guest library. */
#ifndef KEEL_TEST_ARCH_H
#define KEEL_TEST_ARCH_H

#include <stdint.h>

#define GUEST_BITS      64
#define ASM_PTR         ".quad"
#define ASM_PTR_ALIGN   "8"

/* What the exception stubs in x86_64/entry.S push, lowest address first:
 * the general registers, then vector and error code, then the CPU's
 * frame (which always holds SS:RSP in 64-bit mode). */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t ip, cs, flags, sp, ss;
};

_Static_assert(sizeof(struct trap_frame) == 22 * 8, "x86_64/entry.S layout");

/* The 64-bit TSS (SDM Vol. 3A Figure 7-11): guests that want IST stacks
 * or a ring-0 stack for ring 3 build one. */
struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap;
} __attribute__((packed));

_Static_assert(sizeof(struct tss64) == 104, "SDM Vol. 3A Figure 7-11");

/* An interrupt handler's entry, fn_stub: saves the registers a C call
 * may clobber around fn() and returns with IRETQ (fn does the EOI). The
 * CPU leaves RSP 16-byte aligned minus 40 (SDM Vol. 3A 6.14.2); nine
 * pushes make the call's alignment right. */
#define IRQ_STUB(fn) \
	__asm__(".text\n" #fn "_stub:\n" \
		"\tpush %rax; push %rcx; push %rdx; push %rsi; push %rdi\n" \
		"\tpush %r8; push %r9; push %r10; push %r11\n" \
		"\tcld\n\tcall " #fn "\n" \
		"\tpop %r11; pop %r10; pop %r9; pop %r8\n" \
		"\tpop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax\n" \
		"\tiretq\n")

/* The assembler macro `irq_stub VEC` (see x86_32/arch.h). The CPU leaves
 * RSP 16-byte aligned minus 40 (SDM Vol. 3A 6.14.2); nine pushes make
 * the call's alignment right. */
#define IRQ_ENTRY_MACRO \
	".text\n" \
	".macro irq_stub vec\n" \
	"irq_stub_\\vec:\n" \
	"	push %rax; push %rcx; push %rdx; push %rsi; push %rdi\n" \
	"	push %r8; push %r9; push %r10; push %r11\n" \
	"	cld\n" \
	"	mov $\\vec, %edi\n" \
	"	call irq_entry\n" \
	"	pop %r11; pop %r10; pop %r9; pop %r8\n" \
	"	pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax\n" \
	"	iretq\n" \
	".endm\n"

void idt_set_gate(unsigned int vector, uintptr_t handler);
void idt_set_ist(unsigned int vector, unsigned int ist);
void idt_load(void);
void trap_dump(const struct trap_frame *f);

#endif
