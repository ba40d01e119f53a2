/* Serial output on COM1 and a small printf: %d %i %u %x %X %s %c %p %%,
 * with the l, ll and z length modifiers, a width and the 0, - and # flags. */
#include "guest.h"

#define PORT_COM1       0x3f8
#define UART_LSR        5
#define LSR_THRE        0x20    /* transmit holding register empty */

void putc(char c)
{
	while (!(inb(PORT_COM1 + UART_LSR) & LSR_THRE))
		;
	outb(PORT_COM1, (uint8_t)c);
}

void puts(const char *s)
{
	while (*s)
		putc(*s++);
	putc('\n');
}

struct spec {
	bool left, zero, alt, is_signed, upper;
	unsigned int width, base;
};

/* Writes v's digits so that they end at `end`; returns the first. */
static char *format_digits(uint64_t v, unsigned int base, bool upper,
			   char *end)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	uint64_t rem;

	do {
		v = udiv64(v, base, &rem);
		*--end = digits[rem];
	} while (v);
	return end;
}

static int emit_padded(const struct spec *sp, const char *sign,
		       const char *body, unsigned int n)
{
	unsigned int len = n + (unsigned int)strlen(sign), out = len;
	unsigned int pad = sp->width > len ? sp->width - len : 0;
	bool zero = sp->zero && !sp->left;

	out += pad;
	for (; !sp->left && !zero && pad; pad--)
		putc(' ');
	for (; *sign; sign++)
		putc(*sign);
	for (; zero && pad; pad--)
		putc('0');
	for (unsigned int i = 0; i < n; i++)
		putc(body[i]);
	for (; pad; pad--)
		putc(' ');
	return (int)out;
}

static int emit_number(const struct spec *sp, uint64_t v)
{
	char buf[24], *end = buf + sizeof(buf), *first;
	const char *sign = "";

	if (sp->is_signed && (int64_t)v < 0) {
		sign = "-";
		v = -v;
	} else if (sp->alt && sp->base == 16) {
		sign = "0x";
	}
	first = format_digits(v, sp->base, sp->upper, end);
	return emit_padded(sp, sign, first, (unsigned int)(end - first));
}

static int emit_string(const struct spec *sp, const char *s)
{
	struct spec plain = *sp;

	if (!s)
		s = "(null)";
	plain.zero = false;
	return emit_padded(&plain, "", s, (unsigned int)strlen(s));
}

/* Reads the argument of an integer conversion with `longs` l's (2: ll). */
static uint64_t int_arg(va_list *ap, unsigned int longs, bool is_signed)
{
	if (longs >= 2)
		return va_arg(*ap, unsigned long long);
	if (longs == 1)
		return is_signed ? (uint64_t)va_arg(*ap, long)
				 : va_arg(*ap, unsigned long);
	return is_signed ? (uint64_t)(int64_t)va_arg(*ap, int)
			 : va_arg(*ap, unsigned int);
}

/* One conversion starting after '%'; returns the characters written and
 * advances *fmt past it. */
static int format_one(const char **fmt, va_list *ap)
{
	struct spec sp = { .base = 10 };
	const char *f = *fmt;
	unsigned int longs = 0;
	int n;

	for (;; f++) {
		if (*f == '-')
			sp.left = true;
		else if (*f == '0')
			sp.zero = true;
		else if (*f == '#')
			sp.alt = true;
		else
			break;
	}
	for (; *f >= '0' && *f <= '9'; f++)
		sp.width = sp.width * 10 + (unsigned int)(*f - '0');
	for (; *f == 'l' || *f == 'z'; f++)
		longs++;                /* size_t is as wide as long */
	switch (*f) {
	case 'd':
	case 'i':
		sp.is_signed = true;
		n = emit_number(&sp, int_arg(ap, longs, true));
		break;
	case 'u':
		n = emit_number(&sp, int_arg(ap, longs, false));
		break;
	case 'X':
		sp.upper = true;
		/* fall through */
	case 'x':
		sp.base = 16;
		n = emit_number(&sp, int_arg(ap, longs, false));
		break;
	case 'p':
		sp.base = 16;
		sp.alt = true;
		n = emit_number(&sp, (uintptr_t)va_arg(*ap, void *));
		break;
	case 's':
		n = emit_string(&sp, va_arg(*ap, const char *));
		break;
	case 'c':
		putc((char)va_arg(*ap, int));
		n = 1;
		break;
	case '\0':
		*fmt = f;
		return 0;
	default:
		putc(*f);
		n = 1;
		break;
	}
	*fmt = f + 1;
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	va_list aq;
	int n = 0;

	va_copy(aq, ap);
	while (*fmt) {
		if (*fmt != '%') {
			putc(*fmt++);
			n++;
			continue;
		}
		fmt++;
		n += format_one(&fmt, &aq);
	}
	va_end(aq);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
