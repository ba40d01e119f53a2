/* Formatted output and the console lock. */
#include "drivers/printk.h"
#include "drivers/uart.h"
#include "arch/percpu.h"
#include "arch/spinlock.h"
#include "arch/string.h"

int log_level_max = LOG_INFO;
bool console_enabled = true;

struct fmt_out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_c(struct fmt_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

struct fmt_spec {
	bool left, zero, plus, alt;
	int width;
	int prec;
};

static void out_padded(struct fmt_out *o, const char *s, size_t n,
		       const struct fmt_spec *sp, bool numeric)
{
	size_t w = sp->width > 0 ? (size_t)sp->width : 0;
	char pad = sp->zero && numeric && !sp->left ? '0' : ' ';
	size_t i;

	/* A zero-padded negative number keeps its sign in front. */
	if (pad == '0' && n && s[0] == '-') {
		out_c(o, '-');
		s++, n--, w = w ? w - 1 : 0;
	}
	for (i = n; !sp->left && i < w; i++)
		out_c(o, pad);
	for (i = 0; i < n; i++)
		out_c(o, s[i]);
	for (i = n; sp->left && i < w; i++)
		out_c(o, ' ');
}

static void out_number(struct fmt_out *o, uint64_t v, bool neg, unsigned base,
		       bool upper, const struct fmt_spec *sp)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	size_t n = sizeof(tmp);

	do {
		tmp[--n] = digits[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[--n] = '-';
	else if (sp->plus)
		tmp[--n] = '+';
	out_padded(o, tmp + n, sizeof(tmp) - n, sp, true);
}

static const char *parse_spec(const char *f, struct fmt_spec *sp, va_list *ap)
{
	*sp = (struct fmt_spec){ .prec = -1 };
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else if (*f == '+')
			sp->plus = true;
		else if (*f == '#')
			sp->alt = true;
		else
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		f++;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == '.') {
		sp->prec = 0;
		if (*++f == '*') {
			sp->prec = va_arg(*ap, int);
			f++;
		}
		for (; *f >= '0' && *f <= '9'; f++)
			sp->prec = sp->prec * 10 + (*f - '0');
	}
	return f;
}

/* Length modifiers: h hh l ll z. Returns the argument size in bytes. */
static const char *parse_length(const char *f, int *size)
{
	*size = 4;
	if (f[0] == 'l' && f[1] == 'l')
		return *size = 8, f + 2;
	if (f[0] == 'l' || f[0] == 'z')
		return *size = 8, f + 1;
	if (f[0] == 'h' && f[1] == 'h')
		return *size = 1, f + 2;
	if (f[0] == 'h')
		return *size = 2, f + 1;
	return f;
}

static uint64_t arg_unsigned(va_list *ap, int size)
{
	uint64_t v = size == 8 ? va_arg(*ap, uint64_t) : va_arg(*ap, unsigned int);

	if (size == 2)
		v &= 0xffff;
	else if (size == 1)
		v &= 0xff;
	return v;
}

static int64_t arg_signed(va_list *ap, int size)
{
	int64_t v = size == 8 ? va_arg(*ap, int64_t) : va_arg(*ap, int);

	if (size == 2)
		v = (int16_t)v;
	else if (size == 1)
		v = (int8_t)v;
	return v;
}

static void format_one(struct fmt_out *o, char conv, int size,
		       const struct fmt_spec *sp, va_list *ap)
{
	const char *s;
	int64_t sv;
	char c;

	switch (conv) {
	case 'd':
	case 'i':
		sv = arg_signed(ap, size);
		out_number(o, sv < 0 ? -(uint64_t)sv : (uint64_t)sv, sv < 0, 10,
			   false, sp);
		break;
	case 'u':
		out_number(o, arg_unsigned(ap, size), false, 10, false, sp);
		break;
	case 'x':
	case 'X':
		if (sp->alt) {
			out_c(o, '0');
			out_c(o, 'x');
		}
		out_number(o, arg_unsigned(ap, size), false, 16, conv == 'X', sp);
		break;
	case 'p':
		out_c(o, '0');
		out_c(o, 'x');
		out_number(o, (uint64_t)va_arg(*ap, void *), false, 16, false, sp);
		break;
	case 's':
		s = va_arg(*ap, const char *);
		if (!s)
			s = "(null)";
		out_padded(o, s, sp->prec >= 0 ? strnlen(s, (size_t)sp->prec)
					      : strlen(s), sp, false);
		break;
	case 'c':
		c = (char)va_arg(*ap, int);
		out_padded(o, &c, 1, sp, false);
		break;
	default:
		out_c(o, '%');
		out_c(o, conv);
		break;
	}
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out o = { buf, size, 0 };
	struct fmt_spec sp;
	va_list args;
	int argsize;

	va_copy(args, ap);
	while (*fmt) {
		if (*fmt != '%' || fmt[1] == '%') {
			out_c(&o, *fmt);
			fmt += *fmt == '%' ? 2 : 1;
			continue;
		}
		fmt = parse_spec(fmt + 1, &sp, &args);
		fmt = parse_length(fmt, &argsize);
		if (!*fmt)
			break;
		format_one(&o, *fmt++, argsize, &sp, &args);
	}
	va_end(args);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/*
 * The console lock is recursive per CPU: a CPU that faults or panics while
 * printing must still be able to print its dump, not deadlock on itself.
 */
static struct spinlock console_lock = SPINLOCK_INIT;
static volatile int console_owner = -1;
static int console_depth;

void console_lock_take(void)
{
	int me = (int)cpu_id();

	if (console_owner == me) {
		console_depth++;
		return;
	}
	spin_lock(&console_lock);
	console_owner = me;
	console_depth = 1;
}

void console_lock_drop(void)
{
	if (--console_depth)
		return;
	console_owner = -1;
	spin_unlock(&console_lock);
}

static void console_emit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

void console_write(const char *s, size_t n)
{
	if (!console_enabled)
		return;
	console_lock_take();
	console_emit(s, n);
	console_lock_drop();
}

void printk(int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, p;

	if (level > log_level_max)
		return;
	p = snprintf(line, sizeof(line), "[cpu%u] ", cpu_id());
	va_start(ap, fmt);
	n = vsnprintf(line + p, sizeof(line) - (size_t)p, fmt, ap);
	va_end(ap);
	n += p;
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	console_write(line, (size_t)n);
}
