/* The IDT (one table, loaded on every CPU) and the saved register frame that
 * every interrupt stub builds. */
#ifndef KEEL_ARCH_IDT_H
#define KEEL_ARCH_IDT_H

#include "arch/compiler.h"

/* Exception vectors (SDM Vol. 3A Table 6-1) Keel raises or injects. */
#define VEC_NMI         2
#define VEC_UD          6
#define VEC_GP          13
#define VEC_PF          14
#define VEC_DOUBLE_FAULT 8
#define VEC_MACHINE_CHECK 18
#define VEC_FIRST_IRQ   32
#define VEC_STOP_IPI    0xf0    /* another CPU panicked: stop */
#define VEC_KICK        0xf1    /* leave guest mode and look at the guest */
#define VEC_SPURIOUS    0xff

/* Layout built by arch/isr.S; keep the two in step. */
struct irq_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;      /* pushed by the CPU */
};

_Static_assert(offsetof(struct irq_frame, vector) == 15 * 8, "isr.S layout");
_Static_assert(sizeof(struct irq_frame) == 22 * 8, "isr.S layout");

void idt_init(void);            /* builds the table, once */
void idt_load(void);            /* loads it on the calling CPU */
void irq_dispatch(struct irq_frame *f);

#endif
