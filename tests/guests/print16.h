/*
 * For the real-mode guests' assembly (hello16.S, pic16.S): `print`
 * writes the NUL-terminated string at DS:SI to COM1, polling LSR's
 * THR-empty bit before each byte. Clobbers AX, BX, DX, SI.
 */
#define PORT_COM1       0x3f8
#define PORT_COM1_LSR   0x3fd
#define LSR_THRE        0x20

print:
	lodsb
	testb	%al, %al
	jz	3f
	movb	%al, %bl
	movw	$PORT_COM1_LSR, %dx
2:	inb	%dx, %al
	testb	$LSR_THRE, %al
	jz	2b
	movb	%bl, %al
	movw	$PORT_COM1, %dx
	outb	%al, %dx
	jmp	print
3:	ret
