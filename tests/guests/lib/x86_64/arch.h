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

void idt_set_gate(unsigned int vector, uintptr_t handler);
void idt_load(void);
void trap_dump(const struct trap_frame *f);

#endif
