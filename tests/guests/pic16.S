/*
 * pic16: the 8259s from a real-mode guest, in the sequence of
 * kvm-unit-tests' realmode sti-inhibit check (x86/realmode.c,
 * test_sti_inhibit), with what that check leaves to firmware done here:
 *
 *   the 8259s as the BIOS left them       IMR 0xfb (master), 0xff (slave)
 *   IVT entry 0x73 (IRQ 11, slave IR3)    -> irq11 below
 *   IRQ 11 unmasked in the slave
 *   local APIC off (IA32_APIC_BASE.EN)    LINT0 is the CPU's INTR pin
 *                                         (SDM Vol. 3A 11.4.3): real mode
 *                                         cannot reach the xAPIC page to
 *                                         make LINT0 ExtINT
 *   cli; IRQ 11 up, down (testdev); sti; hlt
 *
 * The edge waits in the slave's IRR until STI; the interrupt comes at the
 * HLT, after the STI shadow, as vector 0x73 with IR3 in the slave's
 * service register. Exits through the debug-exit port (0: pass).
 */
#define PORT_DEBUG_EXIT 0xf4
#define PIC_MASTER      0x20
#define PIC_SLAVE       0xa0
#define OCW2_EOI        0x20
#define OCW3_READ_ISR   0x0b
#define IMR_BIOS_MASTER 0xfb
#define IMR_BIOS_SLAVE  0xff
#define IMR_IRQ11_ONLY  0xf7
#define ISR_IR3         0x08
#define TESTDEV_IRQ11   0x200b
#define VEC_IRQ11       0x73
#define MSR_APIC_BASE   0x1b
#define APIC_BASE_EN    0x800

	.code16
	.text
	.global	_start
_start:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	$0x7c00, %sp
	movw	$msg_hello, %si
	call	print
	movw	$msg_imr, %si
	inb	$PIC_MASTER + 1, %al
	cmpb	$IMR_BIOS_MASTER, %al
	jne	fail
	inb	$PIC_SLAVE + 1, %al
	cmpb	$IMR_BIOS_SLAVE, %al
	jne	fail
	movw	$irq11, VEC_IRQ11 * 4
	movw	$0, VEC_IRQ11 * 4 + 2
	movl	$MSR_APIC_BASE, %ecx
	rdmsr
	andl	$~APIC_BASE_EN, %eax
	wrmsr
	movb	$IMR_IRQ11_ONLY, %al
	outb	%al, $PIC_SLAVE + 1
	movw	$TESTDEV_IRQ11, %dx
	movl	$1, %eax
	outl	%eax, %dx
	movl	$0, %eax
	outl	%eax, %dx
	sti
	hlt
	cli
	movw	$msg_count, %si
	cmpw	$1, irq_count
	jne	fail
	movw	$msg_isr, %si
	cmpb	$ISR_IR3, irq_isr
	jne	fail
	movw	$msg_pass, %si
	call	print
	xorb	%al, %al
	jmp	exit

fail:
	call	print
	movb	$1, %al
exit:
	movw	$PORT_DEBUG_EXIT, %dx
	outb	%al, %dx
1:	cli
	hlt
	jmp	1b

/* Vector 0x73: counts, reads the slave's ISR, ends the interrupt in both
 * chips (the slave's, then the master's cascade). */
irq11:
	pushw	%ax
	incw	irq_count
	movb	$OCW3_READ_ISR, %al
	outb	%al, $PIC_SLAVE
	inb	$PIC_SLAVE, %al
	movb	%al, irq_isr
	movb	$OCW2_EOI, %al
	outb	%al, $PIC_SLAVE
	outb	%al, $PIC_MASTER
	popw	%ax
	iret

#include "print16.h"

irq_count:
	.word	0
irq_isr:
	.byte	0

msg_hello:
	.asciz	"pic16: real mode, 8259s as the BIOS left them\n"
msg_imr:
	.asciz	"FAIL: IMR is not 0xfb/0xff at start\n"
msg_count:
	.asciz	"FAIL: not one interrupt at vector 0x73 after sti; hlt\n"
msg_isr:
	.asciz	"FAIL: IR3 not in the slave's ISR in the handler\n"
msg_pass:
	.asciz	"PASS: IRQ 11 pulsed with IF = 0 came at vector 0x73 after sti; hlt\n"

	.section .note.GNU-stack, "", @progbits
