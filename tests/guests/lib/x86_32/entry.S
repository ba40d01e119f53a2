/*
 * Entry of 32-bit test guests (multiboot and flat). Keel enters in
 * protected mode, paging off, with flat CS = 0x08 and DS = 0x10 cached but
 * GDTR and IDTR empty: nothing may reload a segment or take an exception
 * before this code has installed its own GDT (and guest_start its IDT).
 * EAX = multiboot magic, EBX = multiboot information.
 */
#define MB1_HEADER_MAGIC 0x1badb002
#define MB1_HEADER_FLAGS 0x00000002     /* bit 1: memory information */
#define SEL_CODE         0x08
#define SEL_DATA         0x10
#define STACK_SIZE       16384

	.section .text.entry, "ax"
	.code32
	.global _start
_start:
	jmp	1f
	/* Multiboot 0.6.96, 3.1.1: 4-byte aligned in the first 8 KiB. A
	 * flat binary made from the same image is entered at _start. */
	.balign	4
mb1_header:
	.long	MB1_HEADER_MAGIC, MB1_HEADER_FLAGS
	.long	-(MB1_HEADER_MAGIC + MB1_HEADER_FLAGS)

1:	cli
	cld
	movl	%eax, %esi
	movl	%ebx, %ebp
	/* A flat binary has no .bss of its own: clear it here for every
	 * format (the stack and IDT live there). */
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	shrl	$2, %ecx
	xorl	%eax, %eax
	rep stosl
	lgdt	gdt_desc
	ljmp	$SEL_CODE, $2f
2:	movw	$SEL_DATA, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %fs
	movw	%ax, %gs
	movw	%ax, %ss
	movl	$stack_top, %esp
	pushl	%ebp                    /* guest_start(magic, info) */
	pushl	%esi
	call	guest_start
3:	cli
	hlt
	jmp	3b

/* Exception stubs: push a zero error code where the CPU pushes none
 * (SDM Vol. 3A Table 6-1), then the vector. */
.macro isr vec
	.balign	16
isr_\vec:
	.if !((\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || \
	      (\vec == 21) || (\vec == 29) || (\vec == 30))
	pushl	$0
	.endif
	pushl	$\vec
	jmp	isr_common
.endm

	.text
	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	isr	\v
	.endr

isr_common:
	pushal
	cld
	pushl	%esp                    /* trap_handle(struct trap_frame *) */
	call	trap_handle
	addl	$4, %esp
	popal
	addl	$8, %esp                /* vector, error code */
	iret

	.section .rodata
	.balign	4
	.global	isr_stubs
isr_stubs:
	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long	isr_\v
	.endr

	.balign	8
gdt:
	.quad	0
	.quad	0x00cf9b000000ffff      /* 0x08: code, 32-bit, 4 GiB, accessed */
	.quad	0x00cf93000000ffff      /* 0x10: data, 4 GiB, accessed */
gdt_end:
	.global	gdt_desc                /* for vCPUs started later */
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	.bss
	.balign	16
stack:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", @progbits
