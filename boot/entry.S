/*
 * Multiboot2 header and the 32-bit entry point.
 *
 * GRUB (BIOS or UEFI) enters _start in 32-bit protected mode with paging off,
 * EAX = the multiboot2 magic and EBX = the physical address of the boot
 * information (Multiboot2 spec 3.3, "I386 machine state"). We check the
 * magic and long-mode support, build boot page tables that map 0-4 GiB three
 * times (identity, direct map, Keel's image at KERNEL_VMA), switch to long
 * mode (SDM Vol. 3A 10.8.5) and call keel_main(magic, info_pa) on the high
 * half.
 */
#include "mm/layout.h"

#define MB2_HEADER_MAGIC 0xe85250d6
#define MB2_ARCH_I386    0
#define MB2_LOADER_MAGIC 0x36d76289

#define PTE_P   0x1
#define PTE_RW  0x2
#define PTE_PS  0x80
#define PHYS(x) ((x) - KERNEL_VMA)

	.section .multiboot2, "a"
	.balign 8
mb2_header:
	.long MB2_HEADER_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	/* end tag */
	.balign 8
	.short 0
	.short 0
	.long 8
mb2_header_end:

	.section .boot.text, "ax"
	.code32
	.global _start
_start:
	cli
	cld
	mov %eax, %edi                  /* magic */
	mov %ebx, %esi                  /* boot information, physical */
	rdtsc
	mov %eax, PHYS(boot_tsc)
	mov %edx, PHYS(boot_tsc) + 4
	mov $PHYS(boot_stack_top), %esp
	mov %edi, PHYS(boot_magic)
	mov %esi, PHYS(boot_info_pa)

	cmp $MB2_LOADER_MAGIC, %edi
	jne bad_magic

	mov $0x80000000, %eax
	cpuid
	cmp $0x80000001, %eax
	jb no_long_mode
	mov $0x80000001, %eax
	cpuid
	bt $29, %edx                    /* CPUID.80000001H:EDX.LM */
	jnc no_long_mode
	mov %edx, %ebp                  /* keep NX (bit 20) for EFER below */

	call build_boot_page_tables

	mov %cr4, %eax
	or $0x20, %eax                  /* CR4.PAE */
	mov %eax, %cr4
	mov $PHYS(boot_pml4), %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx           /* IA32_EFER */
	rdmsr
	or $0x100, %eax                 /* LME */
	bt $20, %ebp
	jnc 1f
	or $0x800, %eax                 /* NXE, when the CPU has NX */
1:	wrmsr
	mov %cr0, %eax
	or $0x80010021, %eax            /* PG | WP | NE | PE */
	mov %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $0x08, $long_mode_entry

/* Zero the boot tables, then map 0-4 GiB with 2 MiB pages. */
build_boot_page_tables:
	mov $PHYS(boot_pml4), %edi
	mov $(7 * 4096 / 4), %ecx
	xor %eax, %eax
	rep stosl

	mov $PHYS(boot_pd), %edi        /* 4 PDs x 512 entries = 4 GiB */
	mov $(PTE_P | PTE_RW | PTE_PS), %eax
	mov $2048, %ecx
1:	mov %eax, (%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 1b

	mov $PHYS(boot_pdpt_low), %edi  /* PDPT entries 0-3 -> the 4 PDs */
	mov $(PHYS(boot_pd) + PTE_P + PTE_RW), %eax
	mov $4, %ecx
2:	mov %eax, (%edi)
	add $4096, %eax
	add $8, %edi
	loop 2b

	mov $(PHYS(boot_pdpt_low) + PTE_P + PTE_RW), %eax
	mov %eax, PHYS(boot_pml4)                          /* identity */
	mov %eax, PHYS(boot_pml4) + DIRECT_MAP_PML4 * 8    /* direct map */
	mov $(PHYS(boot_pdpt_high) + PTE_P + PTE_RW), %eax
	mov %eax, PHYS(boot_pml4) + 511 * 8                /* image */
	/* KERNEL_VMA is PDPT slot 510 of the last PML4 slot: first 2 GiB */
	mov $(PHYS(boot_pd) + PTE_P + PTE_RW), %eax
	mov %eax, PHYS(boot_pdpt_high) + 510 * 8
	add $4096, %eax
	mov %eax, PHYS(boot_pdpt_high) + 511 * 8
	ret

/* Print the NUL-terminated string at ESI on COM1 (115200 8N1) and halt. */
early_fail:
	mov $0x3f9, %dx; xor %al, %al; out %al, %dx      /* IER = 0 */
	mov $0x3fb, %dx; mov $0x80, %al; out %al, %dx    /* DLAB */
	mov $0x3f8, %dx; mov $1, %al; out %al, %dx       /* divisor 1 */
	mov $0x3f9, %dx; xor %al, %al; out %al, %dx
	mov $0x3fb, %dx; mov $0x03, %al; out %al, %dx    /* 8N1 */
1:	lodsb
	test %al, %al
	jz 3f
	mov %al, %bl
	mov $0x3fd, %dx
2:	in %dx, %al
	test $0x20, %al
	jz 2b
	mov $0x3f8, %dx
	mov %bl, %al
	out %al, %dx
	jmp 1b
3:	cli
	hlt
	jmp 3b

bad_magic:
	mov $msg_bad_magic, %esi
	jmp early_fail
no_long_mode:
	mov $msg_no_long_mode, %esi
	jmp early_fail

	.code64
long_mode_entry:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %eax, %eax
	mov %ax, %fs
	mov %ax, %gs
	movabs $boot_stack_top, %rsp
	xor %ebp, %ebp
	movabs $boot_magic, %rax
	mov (%rax), %edi
	movabs $boot_info_pa, %rax
	mov (%rax), %esi
	movabs $keel_main, %rax         /* keel_main(magic, info_pa) */
	call *%rax
	cli
1:	hlt
	jmp 1b

	.section .boot.data, "aw"
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code, DPL 0 */
	.quad 0x00cf92000000ffff        /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
	.short boot_gdt_end - boot_gdt - 1
	.long boot_gdt

msg_bad_magic:
	.ascii "keel: boot: bad multiboot2 magic in EAX; "
	.asciz "start Keel with GRUB's multiboot2 command\r\n"
msg_no_long_mode:
	.asciz "keel: boot: this CPU has no long mode (CPUID.80000001H:EDX.LM = 0)\r\n"

	.bss
	.balign 4096
	.global boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4 * 4096
	.balign 16
boot_stack:     .skip 16384
	.global boot_stack_top
boot_stack_top:
	.balign 8
	.global boot_tsc
boot_tsc:       .skip 8
boot_magic:     .skip 4
boot_info_pa:   .skip 4
