/*
 * Interrupt and exception entry stubs. Each stub makes the frame uniform
 * (a zero error code where the CPU pushes none, SDM Vol. 3A 6.13), pushes its
 * vector, saves the general registers in struct irq_frame order and calls
 * irq_dispatch(frame).
 */
	.text


.macro STUB v
	.balign 16
isr_stub_\v:
	.if !(\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21 || \v == 29 || \v == 30)
	pushq $0
	.endif
	pushq $\v
	jmp isr_common
.endm

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	movq %rsp, %rbx
	andq $-16, %rsp                 /* SysV ABI call alignment */
	call irq_dispatch
	movq %rbx, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp                  /* vector and error code */
	iretq

.altmacro
.macro STUBS from, to
	STUB \from
	.if \to-\from
	STUBS %(\from+1), \to
	.endif
.endm
	STUBS 0, 63
	STUBS 64, 127
	STUBS 128, 191
	STUBS 192, 255

.macro STUB_ADDR v
	.quad isr_stub_\v
.endm
.macro STUB_ADDRS from, to
	STUB_ADDR \from
	.if \to-\from
	STUB_ADDRS %(\from+1), \to
	.endif
.endm
	.section .rodata
	.balign 8
	.global isr_stub_table
isr_stub_table:
	STUB_ADDRS 0, 63
	STUB_ADDRS 64, 127
	STUB_ADDRS 128, 191
	STUB_ADDRS 192, 255
