/*
 * Entry of 64-bit test guests (elf64). Keel enters in 64-bit mode with
 * identity-mapping page tables at the top of RAM, CS = 0x08 (64-bit) cached
 * but GDTR and IDTR empty: nothing may reload a segment or take an
 * exception before this code has installed its own GDT (and guest_start
 * its IDT). EAX = multiboot magic, EBX = multiboot information.
 */
#define SEL_CODE         0x08
#define SEL_DATA         0x10
#define STACK_SIZE       16384

	.section .text.entry, "ax"
	.code64
	.global _start
_start:
	cli
	cld
	movl	%eax, %r12d
	movl	%ebx, %r13d
	movq	$__bss_start, %rdi
	movq	$__bss_end, %rcx
	subq	%rdi, %rcx
	shrq	$3, %rcx
	xorl	%eax, %eax
	rep stosq
	lgdt	gdt_desc(%rip)
	movq	$stack_top, %rsp
	/* Reload CS with a far return (no far jump to an immediate here). */
	pushq	$SEL_CODE
	leaq	1f(%rip), %rax
	pushq	%rax
	lretq
1:	movw	$SEL_DATA, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %fs
	movw	%ax, %gs
	movw	%ax, %ss
	movl	%r12d, %edi             /* guest_start(magic, info) */
	movl	%r13d, %esi
	call	guest_start
2:	cli
	hlt
	jmp	2b

/* Exception stubs: push a zero error code where the CPU pushes none
 * (SDM Vol. 3A Table 6-1), then the vector. */
.macro isr vec
	.balign	16
isr_\vec:
	.if !((\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || \
	      (\vec == 21) || (\vec == 29) || (\vec == 30))
	pushq	$0
	.endif
	pushq	$\vec
	jmp	isr_common
.endm

	.text
	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	isr	\v
	.endr

/* The CPU aligns RSP to 16 before pushing its frame (SDM Vol. 3A 6.14.2);
 * with 22 quadwords pushed in all, RSP is still aligned at the call. */
isr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi              /* trap_handle(struct trap_frame *) */
	cld
	call	trap_handle
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp               /* vector, error code */
	iretq

	.section .rodata
	.balign	8
	.global	isr_stubs
isr_stubs:
	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	isr_\v
	.endr

	.balign	8
gdt:
	.quad	0
	.quad	0x00af9b000000ffff      /* 0x08: code, 64-bit, accessed */
	.quad	0x00cf93000000ffff      /* 0x10: data, 4 GiB, accessed */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.bss
	.balign	16
stack:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", @progbits
