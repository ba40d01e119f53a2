/*
 * hello16: a real-mode guest, loaded and entered at 0:0x7c00 like a boot
 * sector. Says hello on COM1 and exits through the debug-exit port (0:
 * pass, 1: it found itself in protected mode).
 */
#define PORT_DEBUG_EXIT 0xf4
#define CR0_PE          0x01

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
	smsw	%ax
	testb	$CR0_PE, %al
	jnz	fail
	xorb	%al, %al
	jmp	exit

fail:
	movw	$msg_not_real, %si
	call	print
	movb	$1, %al
exit:
	movw	$PORT_DEBUG_EXIT, %dx
	outb	%al, %dx
1:	cli
	hlt
	jmp	1b

#include "print16.h"

msg_hello:
	.asciz	"Hello from realmode\n"
msg_not_real:
	.asciz	"FAIL: CR0.PE is set in a real-mode guest\n"

	.section .note.GNU-stack, "", @progbits
