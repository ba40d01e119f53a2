/*
 * AP start-up trampoline.
 *
 * The BSP copies this blob to a free 4 KiB page below 1 MiB, fills in the
 * data block at its end (struct trampoline_data in arch/smp.h) and sends
 * INIT-SIPI-SIPI with that page as the vector (SDM Vol. 3A 9.4.4.1). The AP
 * starts in real mode at CS:IP = page:0000. The code is position independent:
 * real-mode accesses go through CS-based offsets, the far jumps use pointers
 * the BSP patched, and 64-bit code uses RIP-relative addressing.
 *
 * It goes from real mode straight to long mode by enabling PAE, LME, PE and
 * PG together, then jumping to a 64-bit code segment (SDM Vol. 3A 10.8.5).
 */
#define OFF(x) ((x) - trampoline_start)

	.section .trampoline, "a"
	.code16
	.global trampoline_start
trampoline_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds

	movl OFF(tr_cr4), %eax
	movl %eax, %cr4
	movl OFF(tr_cr3), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx          /* IA32_EFER */
	movl OFF(tr_efer), %eax
	xorl %edx, %edx
	wrmsr

	lgdtl OFF(tr_gdt_ptr)
	movl %cr0, %eax
	orl $0x80010021, %eax           /* PG | WP | NE | PE */
	movl %eax, %cr0
	ljmpl *OFF(tr_far64)

	.code64
tr_long_mode:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %eax, %eax
	mov %ax, %fs
	mov %ax, %gs
	mov tr_stack(%rip), %rsp
	mov tr_arg(%rip), %rdi
	mov tr_entry(%rip), %rax
	xor %ebp, %ebp
	call *%rax
1:	cli
	hlt
	jmp 1b

	/* Data block; the layout matches struct trampoline_data. */
	.balign 8
	.global trampoline_data
trampoline_data:
tr_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: data */
tr_gdt_ptr:
	.short 23
	.long 0                         /* linear address of tr_gdt, patched */
	.short 0
tr_far64:
	.long 0                         /* linear address of tr_long_mode, patched */
	.short 0x08
	.short 0
tr_cr3:   .long 0
tr_cr4:   .long 0
tr_efer:  .long 0
	.long 0
tr_stack: .quad 0
tr_entry: .quad 0
tr_arg:   .quad 0
	.global trampoline_long_mode_off
	.set trampoline_long_mode_off, tr_long_mode - trampoline_start
	.global trampoline_end
trampoline_end:
