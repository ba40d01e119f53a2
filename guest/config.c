/* Keel's guest configuration parser and checker. The grammar and the error
 * model are described in guest/config.h.
 *
 * The input is treated as untrusted bytes: every read goes through a cursor
 * bounded by the current line, lines are cut before they are looked at, and
 * every string copied into the output is length-checked against its buffer.
 * Nothing here stops at the first problem: each line is handled on its own,
 * and a problem only ends the line it is on. */
#include "guest/config.h"
#include "arch/string.h"
#include "guest/ioapic.h"
#include "guest/pci.h"

#define CFG_EINVAL      (-1)
#define CFG_ERANGE      (-2)
#define CFG_ECHO_MAX    40      /* echo at most this much of a bad token */

/* ------------------------------------------------------------------ names */

static const char *const cfg_key_names[CONFIG_KEY_COUNT] = {
	[CONFIG_KEY_IMAGE]           = "image",
	[CONFIG_KEY_FORMAT]          = "format",
	[CONFIG_KEY_MEMORY]          = "memory",
	[CONFIG_KEY_CPUS]            = "cpus",
	[CONFIG_KEY_PAGING]          = "paging",
	[CONFIG_KEY_DEVICES]         = "devices",
	[CONFIG_KEY_CMDLINE]         = "cmdline",
	[CONFIG_KEY_LOAD]            = "load",
	[CONFIG_KEY_ENTRY]           = "entry",
	[CONFIG_KEY_MODULES]         = "modules",
	[CONFIG_KEY_INITRD]          = "initrd",
	[CONFIG_KEY_FORCE_EMULATION] = "force_emulation",
	[CONFIG_KEY_DIRTY_LOG]       = "dirty_log",
	[CONFIG_KEY_MIGRATE_CPUS]    = "migrate_cpus",
	[CONFIG_KEY_MIGRATE_AFTER_MS] = "migrate_after_ms",
	[CONFIG_KEY_DISK]            = "disk",
	[CONFIG_KEY_DISK_READONLY]   = "disk_readonly",
	[CONFIG_KEY_NET]             = "net",
	[CONFIG_KEY_MAC]             = "mac",
};

static const char *const cfg_shm_key_names[CONFIG_SHM_KEY_COUNT] = {
	[CONFIG_SHM_KEY_SIZE]     = "size",
	[CONFIG_SHM_KEY_GUESTS]   = "guests",
	[CONFIG_SHM_KEY_GPA]      = "gpa",
	[CONFIG_SHM_KEY_READONLY] = "readonly",
};

/* Index 0 of the format table stays NULL: "none" is not a spelling. */
static const char *const cfg_format_names[] = {
	[CONFIG_FORMAT_ELF64]     = "elf64",
	[CONFIG_FORMAT_MULTIBOOT] = "multiboot",
	[CONFIG_FORMAT_FLAT]      = "flat",
	[CONFIG_FORMAT_REALMODE]  = "realmode",
	[CONFIG_FORMAT_LINUX]     = "linux",
};

static const char *const cfg_paging_names[] = {
	[CONFIG_PAGING_AUTO]   = "auto",
	[CONFIG_PAGING_EPT]    = "ept",
	[CONFIG_PAGING_SHADOW] = "shadow",
};

static const char *const cfg_dirty_log_names[] = {
	[CONFIG_DIRTY_LOG_AUTO] = "auto",
	[CONFIG_DIRTY_LOG_PML]  = "pml",
	[CONFIG_DIRTY_LOG_AD]   = "ad",
	[CONFIG_DIRTY_LOG_WP]   = "wp",
};

/* Indexed by bit number of CONFIG_DEVICE_*. */
static const char *const cfg_device_names[CONFIG_DEVICE_COUNT] = {
	"com1", "debug-exit", "fw-cfg", "testdev", "rtc", "port92", "pci",
	"virtio-console",
};

_Static_assert(CONFIG_DEVICE_COM1 == BIT_ULL(0), "device table order");
_Static_assert(CONFIG_DEVICE_DEBUG_EXIT == BIT_ULL(1), "device table order");
_Static_assert(CONFIG_DEVICE_FW_CFG == BIT_ULL(2), "device table order");
_Static_assert(CONFIG_DEVICE_TESTDEV == BIT_ULL(3), "device table order");
_Static_assert(CONFIG_DEVICE_RTC == BIT_ULL(4), "device table order");
_Static_assert(CONFIG_DEVICE_PORT92 == BIT_ULL(5), "device table order");
_Static_assert(CONFIG_DEVICE_PCI == BIT_ULL(6), "device table order");
_Static_assert(CONFIG_DEVICE_VIRTIO_CONSOLE == BIT_ULL(7),
	       "device table order");
_Static_assert(CONFIG_KEY_COUNT <= 32, "key_ok is a 32-bit mask");
_Static_assert(CONFIG_SHM_KEY_COUNT <= 32, "key_ok is a 32-bit mask");
_Static_assert(CONFIG_MAX_SHM <= 32, "shm_mask is a 32-bit set");
_Static_assert(CONFIG_SHM_MAX_GUESTS <= 32, "readonly is a 32-bit set");
_Static_assert(CONFIG_MAX_GUESTS <= 255, "shm members are kept in uint8_t");
_Static_assert(CONFIG_PCI_MAX_FUNCS < PCI_MAX_FUNCS,
	       "the functions and the host bridge fit the bus");
_Static_assert(PCI_MMIO_GPA == 3 * GiB, "messages name the limit as 3G");
_Static_assert(CONFIG_MAX_CPUS == 64, "cpu_mask is a 64-bit set");
_Static_assert(CONFIG_MAX_GUESTS <= 127, "CPU owners are kept in int8_t");
_Static_assert(CONFIG_CMDLINE_SIZE > CONFIG_LINE_MAX,
	       "a cmdline that fits a line fits its buffer");

static const char *cfg_table_name(const char *const *names, size_t count,
				  size_t index)
{
	if (index >= count || !names[index])
		return "?";
	return names[index];
}

const char *config_format_name(enum config_format f)
{
	return cfg_table_name(cfg_format_names, ARRAY_SIZE(cfg_format_names), f);
}

const char *config_paging_name(enum config_paging p)
{
	return cfg_table_name(cfg_paging_names, ARRAY_SIZE(cfg_paging_names), p);
}

const char *config_dirty_log_name(enum config_dirty_log d)
{
	return cfg_table_name(cfg_dirty_log_names,
			      ARRAY_SIZE(cfg_dirty_log_names), d);
}

const char *config_key_name(enum config_key k)
{
	return cfg_table_name(cfg_key_names, ARRAY_SIZE(cfg_key_names), k);
}

const char *config_shm_key_name(enum config_shm_key k)
{
	return cfg_table_name(cfg_shm_key_names, ARRAY_SIZE(cfg_shm_key_names),
			      k);
}

const char *config_device_name(unsigned int bit_index)
{
	return cfg_table_name(cfg_device_names, ARRAY_SIZE(cfg_device_names),
			      bit_index);
}

/* Index of the table entry spelled exactly s[0..len), or -1. */
static int cfg_table_find(const char *const *names, size_t count,
			  const char *s, size_t len)
{
	for (size_t i = 0; i < count; i++) {
		if (names[i] && strlen(names[i]) == len &&
		    memcmp(names[i], s, len) == 0)
			return (int)i;
	}
	return -1;
}

/* ------------------------------------------------------- text buffers */

/* A bounded, always NUL-terminated output buffer. Writes past the end are
 * dropped, so callers never check for room; size 0 makes every write a
 * no-op, which is how a message for an error that did not fit is discarded. */
struct cfg_buf {
	char *p;
	size_t size;
	size_t len;
};

static struct cfg_buf buf_make(char *p, size_t size)
{
	struct cfg_buf b = { p, size, 0 };

	if (size)
		p[0] = '\0';
	return b;
}

static void buf_putn(struct cfg_buf *b, const char *s, size_t n)
{
	if (!b->size)
		return;
	n = MIN(n, b->size - 1 - b->len);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct cfg_buf *b, const char *s)
{
	buf_putn(b, s, strlen(s));
}

static void buf_putc(struct cfg_buf *b, char c)
{
	buf_putn(b, &c, 1);
}

static void buf_putu(struct cfg_buf *b, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_putn(b, digits + sizeof(digits) - n, n);
}

static void buf_puthex(struct cfg_buf *b, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char digits[16];
	size_t n = 0;

	do {
		digits[sizeof(digits) - ++n] = hex[v & 0xf];
		v >>= 4;
	} while (v);
	buf_puts(b, "0x");
	buf_putn(b, digits + sizeof(digits) - n, n);
}

static bool is_printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

/* Echo a token from the input in quotes. It may be long or hold anything a
 * string escape can produce, so it is cut short and kept on one line. */
static void buf_quote(struct cfg_buf *b, const char *s, size_t n)
{
	buf_putc(b, '\'');
	for (size_t i = 0; i < MIN(n, (size_t)CFG_ECHO_MAX); i++)
		buf_putc(b, is_printable((unsigned char)s[i]) ? s[i] : '?');
	if (n > CFG_ECHO_MAX)
		buf_puts(b, "...");
	buf_putc(b, '\'');
}

/* Name one input byte that was not expected where it stood. */
static void buf_quote_byte(struct cfg_buf *b, char c)
{
	if (is_printable((unsigned char)c)) {
		buf_quote(b, &c, 1);
		return;
	}
	buf_puts(b, "byte ");
	buf_puthex(b, (unsigned char)c);
}

/* "16M" style: the largest unit that divides bytes exactly. */
static void buf_put_size(struct cfg_buf *b, uint64_t bytes)
{
	static const struct { char suffix; unsigned int shift; } units[] = {
		{ 'G', 30 }, { 'M', 20 }, { 'K', 10 },
	};

	for (size_t i = 0; bytes && i < ARRAY_SIZE(units); i++) {
		if (IS_ALIGNED(bytes, BIT_ULL(units[i].shift))) {
			buf_putu(b, bytes >> units[i].shift);
			buf_putc(b, units[i].suffix);
			return;
		}
	}
	buf_putu(b, bytes);
}

size_t config_format_size(uint64_t bytes, char *buf, size_t size)
{
	struct cfg_buf b = buf_make(buf, size);

	buf_put_size(&b, bytes);
	return b.len;
}

/* Copy s[0..n) into dst (capacity size, n < size checked by the caller). */
static void cfg_copy(char *dst, size_t size, const char *s, size_t n)
{
	n = MIN(n, size - 1);
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* --------------------------------------------------------------- errors */

/* A new problem record about nothing in particular yet, or NULL (counted
 * as dropped) when errors[] is full. */
static struct config_error *cfg_error_record(struct config *cfg, uint32_t line)
{
	struct config_error *e;

	if (cfg->error_count >= CONFIG_MAX_ERRORS) {
		cfg->errors_dropped++;
		return NULL;
	}
	e = &cfg->errors[cfg->error_count++];
	e->line = line;
	e->guest = -1;
	e->shm = -1;
	return e;
}

static struct cfg_buf cfg_error_msg(struct config_error *e)
{
	return e ? buf_make(e->msg, sizeof(e->msg)) : buf_make(NULL, 0);
}

/* Open a new problem record and return a buffer for its message. A problem
 * about guest g marks it invalid even when the record itself no longer fits;
 * gname names a guest that has no record in cfg->guests. */
static struct cfg_buf cfg_error(struct config *cfg, uint32_t line,
				struct config_guest *g,
				const char *gname, size_t gname_len)
{
	struct config_error *e;

	if (g)
		g->valid = false;
	e = cfg_error_record(cfg, line);
	if (e && g) {
		e->guest = (int32_t)(g - cfg->guests);
		cfg_copy(e->guest_name, sizeof(e->guest_name), g->name,
			 strlen(g->name));
	} else if (e && gname) {
		cfg_copy(e->guest_name, sizeof(e->guest_name), gname, gname_len);
	}
	return cfg_error_msg(e);
}

/* The same for a problem about shm section s, which it marks invalid. */
static struct cfg_buf cfg_error_shm(struct config *cfg, uint32_t line,
				    struct config_shm *s)
{
	struct config_error *e;

	s->valid = false;
	e = cfg_error_record(cfg, line);
	if (e) {
		e->shm = (int32_t)(s - cfg->shm);
		cfg_copy(e->shm_name, sizeof(e->shm_name), s->name,
			 strlen(s->name));
	}
	return cfg_error_msg(e);
}

size_t config_format_error(const struct config_error *e, char *buf, size_t size)
{
	struct cfg_buf b = buf_make(buf, size);

	if (e->line) {
		buf_puts(&b, "line ");
		buf_putu(&b, e->line);
		buf_puts(&b, ": ");
	}
	if (e->guest_name[0]) {
		buf_puts(&b, "guest ");
		buf_putn(&b, e->guest_name,
			 strnlen(e->guest_name, sizeof(e->guest_name)));
		buf_puts(&b, ": ");
	}
	if (e->shm_name[0]) {
		buf_puts(&b, "shm ");
		buf_putn(&b, e->shm_name,
			 strnlen(e->shm_name, sizeof(e->shm_name)));
		buf_puts(&b, ": ");
	}
	buf_putn(&b, e->msg, strnlen(e->msg, sizeof(e->msg)));
	return b.len;
}

/* -------------------------------------------------------------- numbers */

static int cfg_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* Decimal or 0x hex, all of s[0..len), with overflow detection. */
static int cfg_parse_uint(const char *s, size_t len, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;
	size_t i = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		return CFG_EINVAL;
	for (; i < len; i++) {
		unsigned int d = (unsigned int)cfg_digit(s[i]);

		if (d >= base)
			return CFG_EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return CFG_ERANGE;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

int config_parse_size(const char *s, size_t len, uint64_t *out)
{
	unsigned int shift = 0;
	uint64_t v;
	int ret;

	if (len && s[len - 1] == 'K')
		shift = 10;
	else if (len && s[len - 1] == 'M')
		shift = 20;
	else if (len && s[len - 1] == 'G')
		shift = 30;
	if (shift)
		len--;
	ret = cfg_parse_uint(s, len, &v);
	if (ret)
		return ret;
	if (v > (UINT64_MAX >> shift))
		return CFG_ERANGE;
	*out = v << shift;
	return 0;
}

/* --------------------------------------------------------------- cursor */

/* Reads one line; never looks past end. */
struct cfg_cursor {
	const char *pos;
	const char *end;
};

static bool cur_done(const struct cfg_cursor *c)
{
	return c->pos >= c->end;
}

static char cur_peek(const struct cfg_cursor *c)
{
	return cur_done(c) ? '\0' : *c->pos;
}

static void cur_skip_blank(struct cfg_cursor *c)
{
	while (!cur_done(c) && (*c->pos == ' ' || *c->pos == '\t'))
		c->pos++;
}

/* Advance over the longest run of bytes accepted by in_set; return its length. */
static size_t cur_take(struct cfg_cursor *c, bool (*in_set)(char))
{
	const char *start = c->pos;

	while (!cur_done(c) && in_set(*c->pos))
		c->pos++;
	return (size_t)(c->pos - start);
}

/* Nothing but blanks and maybe a comment left on the line? */
static bool cur_at_line_end(struct cfg_cursor *c)
{
	cur_skip_blank(c);
	return cur_done(c) || *c->pos == '#';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Guest names and keys: [A-Za-z0-9_-]. */
static bool is_name_char(char c)
{
	return is_alnum(c) || c == '_' || c == '-';
}

/* Everything up to ']' belongs to the section name, so that a bad name is
 * reported as such rather than as a malformed header. */
static bool is_section_char(char c)
{
	return c != ']' && c != '#';
}

/* Guest, shm and network names: [A-Za-z0-9_-]{1,31}. */
static bool cfg_is_guest_name(const char *s, size_t len)
{
	if (len == 0 || len >= CONFIG_NAME_SIZE)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_name_char(s[i]))
			return false;
	}
	return true;
}

/* Is the stored name exactly s[0..len)? */
static bool cfg_name_is(const char *name, const char *s, size_t len)
{
	return strlen(name) == len && !memcmp(name, s, len);
}

/* Unquoted values (numbers, sizes, true/false). '.', '+' and '-' are taken
 * too so that "1.5G" or "-1" is echoed whole in the error. */
static bool is_word_char(char c)
{
	return is_name_char(c) || c == '.' || c == '+';
}

/* --------------------------------------------------------------- parser */

struct cfg_parser;
struct cfg_key_desc;

/* A kind of section: its header prefix and its keys. */
struct cfg_section {
	const char *prefix;                     /* "guest." */
	const char *what;                       /* "guest ", for messages */
	const char *const *key_names;
	const struct cfg_key_desc *keys;
	size_t key_count;
	/* Give the section a record and make it current; false if refused. */
	bool (*open)(struct cfg_parser *p, const char *name, size_t len);
};

/* At most one of guest and shm is set: the section being read. */
struct cfg_parser {
	struct config *cfg;
	struct config_guest *guest;     /* guest section being read, or NULL */
	struct config_shm *shm;         /* shm section being read, or NULL */
	const struct cfg_section *sect; /* the kind of either, or NULL */
	uint32_t *key_line;             /* that section's key_line[] */
	uint32_t *key_ok;               /* and its key_ok */
	bool skipping;                  /* inside a rejected section */
	uint32_t line;
	const char *key;                /* key whose value is being read */
	char str[CONFIG_LINE_MAX + 1];  /* last string literal, unescaped */
	size_t str_len;
};

/* A problem at line, about the current section if any. */
static struct cfg_buf cfg_error_at(struct cfg_parser *p, uint32_t line)
{
	if (p->shm)
		return cfg_error_shm(p->cfg, line, p->shm);
	return cfg_error(p->cfg, line, p->guest, NULL, 0);
}

/* A problem on the current line, about the current section if any. */
static struct cfg_buf cfg_error_here(struct cfg_parser *p)
{
	return cfg_error_at(p, p->line);
}

/* A problem on the current line that needs no more than a fixed message. */
static void cfg_fail(struct cfg_parser *p, const char *msg)
{
	struct cfg_buf m = cfg_error_here(p);

	buf_puts(&m, msg);
}

/* "key 'memory' <what>" on the current line. */
static void cfg_error_key(struct cfg_parser *p, const char *what)
{
	struct cfg_buf m = cfg_error_here(p);

	buf_puts(&m, "key ");
	buf_quote(&m, p->key, strlen(p->key));
	buf_putc(&m, ' ');
	buf_puts(&m, what);
}

/* A problem about guest g reported at the line of one of its keys. */
static struct cfg_buf cfg_error_at_key(struct config *cfg,
				       struct config_guest *g,
				       enum config_key k)
{
	return cfg_error(cfg, g->key_line[k], g, NULL, 0);
}

/* One decoded value. Strings point into parser.str. */
struct cfg_value {
	const char *s;
	size_t len;
	uint64_t num;
};

static bool cfg_unescape(struct cfg_parser *p, struct cfg_cursor *c, char *out)
{
	struct cfg_buf m;
	char e;

	if (cur_done(c)) {
		cfg_fail(p, "unterminated string");
		return false;
	}
	e = *c->pos++;
	switch (e) {
	case '"':  *out = '"';  return true;
	case '\\': *out = '\\'; return true;
	case 'n':  *out = '\n'; return true;
	case 't':  *out = '\t'; return true;
	}
	m = cfg_error_here(p);
	buf_puts(&m, "unknown escape \\");
	buf_quote_byte(&m, e);
	buf_puts(&m, " (only \\\" \\\\ \\n \\t)");
	return false;
}

/* A "..." literal at the cursor, unescaped into p->str. */
static bool cfg_lex_string(struct cfg_parser *p, struct cfg_cursor *c)
{
	size_t n = 0;

	c->pos++;
	for (;;) {
		char ch;

		if (cur_done(c)) {
			cfg_fail(p, "unterminated string");
			return false;
		}
		ch = *c->pos++;
		if (ch == '"')
			break;
		if (ch == '\\' && !cfg_unescape(p, c, &ch))
			return false;
		/* Unreachable while a literal is shorter than its line. */
		if (n + 1 >= sizeof(p->str)) {
			cfg_fail(p, "string too long");
			return false;
		}
		p->str[n++] = ch;
	}
	p->str[n] = '\0';
	p->str_len = n;
	return true;
}

static bool cfg_read_string(struct cfg_parser *p, struct cfg_cursor *c,
			    struct cfg_value *v)
{
	if (cur_peek(c) != '"') {
		cfg_error_key(p, "expects a quoted string");
		return false;
	}
	if (!cfg_lex_string(p, c))
		return false;
	v->s = p->str;
	v->len = p->str_len;
	return true;
}

/* An unquoted word at the cursor; what names the expected kind of value. */
static bool cfg_read_word(struct cfg_parser *p, struct cfg_cursor *c,
			  struct cfg_value *v, const char *what)
{
	v->s = c->pos;
	v->len = cur_take(c, is_word_char);
	if (v->len)
		return true;
	cfg_error_key(p, what);
	return false;
}

static bool cfg_report_number(struct cfg_parser *p, const struct cfg_value *v,
			      int ret, const char *kind)
{
	struct cfg_buf m;

	if (!ret)
		return true;
	m = cfg_error_here(p);
	buf_puts(&m, ret == CFG_ERANGE ? "" : "bad ");
	buf_puts(&m, kind);
	buf_putc(&m, ' ');
	buf_quote(&m, v->s, v->len);
	if (ret == CFG_ERANGE)
		buf_puts(&m, " does not fit in 64 bits");
	return false;
}

static bool cfg_read_int(struct cfg_parser *p, struct cfg_cursor *c,
			 struct cfg_value *v)
{
	if (!cfg_read_word(p, c, v, "expects an integer"))
		return false;
	return cfg_report_number(p, v, cfg_parse_uint(v->s, v->len, &v->num),
				 "integer");
}

/* A size may be quoted ("16M") or not (16M). */
static bool cfg_read_size(struct cfg_parser *p, struct cfg_cursor *c,
			  struct cfg_value *v)
{
	if (cur_peek(c) == '"') {
		if (!cfg_lex_string(p, c))
			return false;
		v->s = p->str;
		v->len = p->str_len;
	} else if (!cfg_read_word(p, c, v, "expects a size such as 16M")) {
		return false;
	}
	return cfg_report_number(p, v, config_parse_size(v->s, v->len, &v->num),
				 "size");
}

static bool cfg_read_bool(struct cfg_parser *p, struct cfg_cursor *c,
			  struct cfg_value *v)
{
	if (!cfg_read_word(p, c, v, "expects true or false"))
		return false;
	if (v->len == 4 && !memcmp(v->s, "true", 4)) {
		v->num = 1;
		return true;
	}
	if (v->len == 5 && !memcmp(v->s, "false", 5)) {
		v->num = 0;
		return true;
	}
	cfg_error_key(p, "expects true or false");
	return false;
}

/* ------------------------------------------------------- key handlers */

enum cfg_type {
	CFG_STRING,
	CFG_SIZE,
	CFG_INT,
	CFG_BOOL,
	CFG_INT_LIST,
	CFG_STRING_LIST,
};

/* A store handler gets one decoded value (one element, for a list key),
 * checks what the value means and records it in the section being read
 * (p->guest or p->shm). It reports its own problem and returns false when
 * the value is rejected. */
typedef bool (*cfg_store_fn)(struct cfg_parser *p, const struct cfg_value *v);

struct cfg_key_desc {
	enum cfg_type type;
	cfg_store_fn store;
};

/* Module names end up compared with multiboot2 module strings. */
static bool cfg_check_module_name(struct cfg_parser *p,
				  const struct cfg_value *v)
{
	const char *why = NULL;

	if (v->len == 0)
		why = " is empty";
	else if (v->len >= CONFIG_MODULE_NAME_SIZE)
		why = " is too long (max 63 characters)";
	for (size_t i = 0; !why && i < v->len; i++) {
		if (v->s[i] == ' ' || !is_printable((unsigned char)v->s[i]))
			why = " may hold only printable characters, no spaces";
	}
	if (why) {
		struct cfg_buf m = cfg_error_here(p);

		buf_puts(&m, "module name ");
		buf_quote(&m, v->s, v->len);
		buf_puts(&m, why);
	}
	return !why;
}

/* Look value v up in an enum's name table; report the spellings if absent. */
static bool cfg_store_enum(struct cfg_parser *p, const struct cfg_value *v,
			   const char *const *names, size_t count, int *out)
{
	struct cfg_buf m;
	const char *sep = "";

	*out = cfg_table_find(names, count, v->s, v->len);
	if (*out >= 0)
		return true;
	m = cfg_error_here(p);
	buf_puts(&m, "unknown ");
	buf_puts(&m, p->key);
	buf_putc(&m, ' ');
	buf_quote(&m, v->s, v->len);
	buf_puts(&m, " (expected ");
	for (size_t i = 0; i < count; i++) {
		if (!names[i])
			continue;
		buf_puts(&m, sep);
		buf_puts(&m, names[i]);
		sep = " | ";
	}
	buf_putc(&m, ')');
	return false;
}

/* A module name into dst, CONFIG_MODULE_NAME_SIZE bytes. */
static bool cfg_store_module_name(struct cfg_parser *p,
				  const struct cfg_value *v, char *dst)
{
	if (!cfg_check_module_name(p, v))
		return false;
	cfg_copy(dst, CONFIG_MODULE_NAME_SIZE, v->s, v->len);
	return true;
}

static bool store_image(struct cfg_parser *p, const struct cfg_value *v)
{
	return cfg_store_module_name(p, v, p->guest->image);
}

static bool store_initrd(struct cfg_parser *p, const struct cfg_value *v)
{
	return cfg_store_module_name(p, v, p->guest->initrd);
}

static bool store_module(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;
	struct cfg_buf m;

	if (!cfg_check_module_name(p, v))
		return false;
	for (uint32_t i = 0; i < g->module_count; i++) {
		if (cfg_name_is(g->modules[i], v->s, v->len)) {
			m = cfg_error_here(p);
			buf_puts(&m, "module ");
			buf_quote(&m, v->s, v->len);
			buf_puts(&m, " is listed twice");
			return false;
		}
	}
	if (g->module_count >= CONFIG_MAX_MODULES) {
		m = cfg_error_here(p);
		buf_puts(&m, "too many modules (max ");
		buf_putu(&m, CONFIG_MAX_MODULES);
		buf_putc(&m, ')');
		return false;
	}
	cfg_copy(g->modules[g->module_count++], CONFIG_MODULE_NAME_SIZE,
		 v->s, v->len);
	return true;
}

static bool store_cmdline(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;

	if (v->len >= sizeof(g->cmdline)) {
		cfg_error_key(p, "is too long (max 255 characters)");
		return false;
	}
	cfg_copy(g->cmdline, sizeof(g->cmdline), v->s, v->len);
	return true;
}

static bool store_format(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;
	int f;

	if (!cfg_store_enum(p, v, cfg_format_names,
			    ARRAY_SIZE(cfg_format_names), &f))
		return false;
	g->format = (enum config_format)f;
	return true;
}

static bool store_paging(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;
	int m;

	if (!cfg_store_enum(p, v, cfg_paging_names,
			    ARRAY_SIZE(cfg_paging_names), &m))
		return false;
	g->paging = (enum config_paging)m;
	return true;
}

static bool store_dirty_log(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;
	int d;

	if (!cfg_store_enum(p, v, cfg_dirty_log_names,
			    ARRAY_SIZE(cfg_dirty_log_names), &d))
		return false;
	g->dirty_log = (enum config_dirty_log)d;
	return true;
}

static bool store_device(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;
	struct cfg_buf m;
	int bit;

	if (!cfg_store_enum(p, v, cfg_device_names,
			    ARRAY_SIZE(cfg_device_names), &bit))
		return false;
	if (g->devices & BIT_ULL(bit)) {
		m = cfg_error_here(p);
		buf_puts(&m, "device ");
		buf_quote(&m, v->s, v->len);
		buf_puts(&m, " is listed twice");
		return false;
	}
	g->devices |= BIT_ULL(bit);
	return true;
}

/* The minimum depends on the format, so that check waits for the end of the
 * section (cfg_check_memory_min). */
static bool store_memory(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;
	struct cfg_buf m;

	if (v->num > CONFIG_MEMORY_MAX) {
		m = cfg_error_here(p);
		buf_puts(&m, "memory ");
		buf_quote(&m, v->s, v->len);
		buf_puts(&m, " is above the maximum of 64G");
		return false;
	}
	if (!IS_ALIGNED(v->num, CONFIG_MEMORY_ALIGN)) {
		m = cfg_error_here(p);
		buf_puts(&m, "memory ");
		buf_quote(&m, v->s, v->len);
		buf_puts(&m, " is not a multiple of 4K");
		return false;
	}
	g->memory = v->num;
	return true;
}

/* One id of a CPU list (cpus, migrate_cpus): what = "cpu " or "migrate
 * cpu " for the message. */
static bool store_cpu_id(struct cfg_parser *p, const struct cfg_value *v,
			 const char *what, uint8_t *list, uint32_t *count,
			 uint64_t *mask)
{
	struct cfg_buf m;
	const char *why = NULL;

	if (v->num >= CONFIG_MAX_CPUS)
		why = " is out of range (0-63)";
	else if (v->num == CONFIG_KEEL_CPU)
		why = " is reserved for Keel";
	else if (*mask & BIT_ULL(v->num))
		why = " is listed twice";
	else if (*count >= CONFIG_MAX_CPUS)
		why = ": too many cpus";
	if (why) {
		m = cfg_error_here(p);
		buf_puts(&m, what);
		buf_quote(&m, v->s, v->len);
		buf_puts(&m, why);
		return false;
	}
	list[(*count)++] = (uint8_t)v->num;
	*mask |= BIT_ULL(v->num);
	return true;
}

static bool store_cpu(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;

	return store_cpu_id(p, v, "cpu ", g->cpus, &g->cpu_count, &g->cpu_mask);
}

static bool store_migrate_cpu(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;

	return store_cpu_id(p, v, "migrate cpu ", g->migrate_cpus,
			    &g->migrate_cpu_count, &g->migrate_cpu_mask);
}

static bool store_migrate_after(struct cfg_parser *p, const struct cfg_value *v)
{
	p->guest->migrate_after_ms = v->num;
	return true;
}

static bool store_load(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;

	g->load = v->num;
	g->has_load = true;
	return true;
}

static bool store_entry(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;

	g->entry = v->num;
	g->has_entry = true;
	return true;
}

static bool store_force_emulation(struct cfg_parser *p,
				  const struct cfg_value *v)
{
	p->guest->force_emulation = v->num != 0;
	return true;
}

static bool store_disk(struct cfg_parser *p, const struct cfg_value *v)
{
	return cfg_store_module_name(p, v, p->guest->disk);
}

static bool store_disk_readonly(struct cfg_parser *p,
				const struct cfg_value *v)
{
	p->guest->disk_readonly = v->num != 0;
	return true;
}

/* A name with the rules of guest names; what says whose ("guest "). */
static bool cfg_check_name(struct cfg_parser *p, const char *what,
			   const char *s, size_t len)
{
	struct cfg_buf m;

	if (cfg_is_guest_name(s, len))
		return true;
	m = cfg_error_here(p);
	buf_puts(&m, "bad ");
	buf_puts(&m, what);
	buf_puts(&m, "name ");
	buf_quote(&m, s, len);
	buf_puts(&m, " (1-31 of A-Z a-z 0-9 _ -)");
	return false;
}

/* Virtual networks exist by being named: no section declares them. */
static bool store_net(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_guest *g = p->guest;

	if (!cfg_check_name(p, "network ", v->s, v->len))
		return false;
	cfg_copy(g->net, sizeof(g->net), v->s, v->len);
	return true;
}

/* "52:54:00:12:34:56": six pairs of hex digits joined by ':'. */
static bool cfg_parse_mac(const char *s, size_t len, uint8_t *mac)
{
	if (len != 3 * CONFIG_MAC_SIZE - 1)
		return false;
	for (size_t i = 0; i < CONFIG_MAC_SIZE; i++) {
		const char *pair = s + 3 * i;
		int hi = cfg_digit(pair[0]), lo = cfg_digit(pair[1]);

		if (hi > 0xf || lo > 0xf)
			return false;
		if (i + 1 < CONFIG_MAC_SIZE && pair[2] != ':')
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool cfg_mac_is_zero(const uint8_t *mac)
{
	for (size_t i = 0; i < CONFIG_MAC_SIZE; i++) {
		if (mac[i])
			return false;
	}
	return true;
}

/* The I/G bit, bit 0 of the first byte sent, marks a group address (IEEE
 * 802-2014 8.2.2): a NIC's own address must be an individual one. */
#define CFG_MAC_GROUP   0x01

static bool store_mac(struct cfg_parser *p, const struct cfg_value *v)
{
	uint8_t mac[CONFIG_MAC_SIZE];
	const char *why = NULL;
	struct cfg_buf m;

	if (!cfg_parse_mac(v->s, v->len, mac))
		why = " is not six hex pairs such as 52:54:00:12:34:56";
	else if (mac[0] & CFG_MAC_GROUP)
		why = " is a multicast address (bit 0 of its first byte is set)";
	else if (cfg_mac_is_zero(mac))
		why = " is all zero";
	if (why) {
		m = cfg_error_here(p);
		buf_puts(&m, "mac ");
		buf_quote(&m, v->s, v->len);
		buf_puts(&m, why);
		return false;
	}
	memcpy(p->guest->mac, mac, sizeof(mac));
	return true;
}

static const struct cfg_key_desc cfg_keys[CONFIG_KEY_COUNT] = {
	[CONFIG_KEY_IMAGE]           = { CFG_STRING,      store_image },
	[CONFIG_KEY_FORMAT]          = { CFG_STRING,      store_format },
	[CONFIG_KEY_MEMORY]          = { CFG_SIZE,        store_memory },
	[CONFIG_KEY_CPUS]            = { CFG_INT_LIST,    store_cpu },
	[CONFIG_KEY_PAGING]          = { CFG_STRING,      store_paging },
	[CONFIG_KEY_DEVICES]         = { CFG_STRING_LIST, store_device },
	[CONFIG_KEY_CMDLINE]         = { CFG_STRING,      store_cmdline },
	[CONFIG_KEY_LOAD]            = { CFG_INT,         store_load },
	[CONFIG_KEY_ENTRY]           = { CFG_INT,         store_entry },
	[CONFIG_KEY_MODULES]         = { CFG_STRING_LIST, store_module },
	[CONFIG_KEY_INITRD]          = { CFG_STRING,      store_initrd },
	[CONFIG_KEY_FORCE_EMULATION] = { CFG_BOOL,        store_force_emulation },
	[CONFIG_KEY_DIRTY_LOG]       = { CFG_STRING,      store_dirty_log },
	[CONFIG_KEY_MIGRATE_CPUS]    = { CFG_INT_LIST,    store_migrate_cpu },
	[CONFIG_KEY_MIGRATE_AFTER_MS] = { CFG_INT,        store_migrate_after },
	[CONFIG_KEY_DISK]            = { CFG_STRING,      store_disk },
	[CONFIG_KEY_DISK_READONLY]   = { CFG_BOOL,        store_disk_readonly },
	[CONFIG_KEY_NET]             = { CFG_STRING,      store_net },
	[CONFIG_KEY_MAC]             = { CFG_STRING,      store_mac },
};

/* --------------------------------------------------- shm key handlers */

/* One name of a list of guest names (guests, readonly): well formed, not
 * listed twice, and room for it. */
static bool store_name_in_list(struct cfg_parser *p, const struct cfg_value *v,
			       char (*names)[CONFIG_NAME_SIZE], uint32_t *count)
{
	const char *why = NULL;
	struct cfg_buf m;

	if (!cfg_check_name(p, "guest ", v->s, v->len))
		return false;
	for (uint32_t i = 0; !why && i < *count; i++) {
		if (cfg_name_is(names[i], v->s, v->len))
			why = " is listed twice";
	}
	if (!why && *count >= CONFIG_SHM_MAX_GUESTS)
		why = ": too many guests (max 8)";
	if (why) {
		m = cfg_error_here(p);
		buf_puts(&m, "guest ");
		buf_quote(&m, v->s, v->len);
		buf_puts(&m, why);
		return false;
	}
	cfg_copy(names[(*count)++], CONFIG_NAME_SIZE, v->s, v->len);
	return true;
}

static bool store_shm_size(struct cfg_parser *p, const struct cfg_value *v)
{
	const char *why = NULL;
	struct cfg_buf m;

	if (v->num < CONFIG_SHM_SIZE_MIN)
		why = " is below the minimum of 4K";
	else if (v->num > CONFIG_SHM_SIZE_MAX)
		why = " is above the maximum of 256M";
	else if (!IS_ALIGNED(v->num, CONFIG_SHM_ALIGN))
		why = " is not a multiple of 4K";
	if (why) {
		m = cfg_error_here(p);
		buf_puts(&m, "size ");
		buf_quote(&m, v->s, v->len);
		buf_puts(&m, why);
		return false;
	}
	p->shm->size = v->num;
	return true;
}

static bool store_shm_guest(struct cfg_parser *p, const struct cfg_value *v)
{
	return store_name_in_list(p, v, p->shm->guest_names,
				  &p->shm->guest_count);
}

static bool store_shm_readonly(struct cfg_parser *p, const struct cfg_value *v)
{
	return store_name_in_list(p, v, p->shm->readonly_names,
				  &p->shm->readonly_count);
}

static bool store_shm_gpa(struct cfg_parser *p, const struct cfg_value *v)
{
	struct config_shm *s = p->shm;
	struct cfg_buf m;

	if (!IS_ALIGNED(v->num, CONFIG_SHM_ALIGN)) {
		m = cfg_error_here(p);
		buf_puts(&m, "gpa ");
		buf_quote(&m, v->s, v->len);
		buf_puts(&m, " is not page-aligned (4K)");
		return false;
	}
	if (s->gpa_count >= CONFIG_SHM_MAX_GUESTS) {
		cfg_fail(p, "too many addresses in gpa (max 8)");
		return false;
	}
	s->gpa[s->gpa_count++] = v->num;
	return true;
}

static const struct cfg_key_desc cfg_shm_keys[CONFIG_SHM_KEY_COUNT] = {
	[CONFIG_SHM_KEY_SIZE]     = { CFG_SIZE,        store_shm_size },
	[CONFIG_SHM_KEY_GUESTS]   = { CFG_STRING_LIST, store_shm_guest },
	[CONFIG_SHM_KEY_GPA]      = { CFG_INT_LIST,    store_shm_gpa },
	[CONFIG_SHM_KEY_READONLY] = { CFG_STRING_LIST, store_shm_readonly },
};

static bool cfg_read_scalar(struct cfg_parser *p, struct cfg_cursor *c,
			    enum cfg_type type, struct cfg_value *v)
{
	switch (type) {
	case CFG_STRING:
		return cfg_read_string(p, c, v);
	case CFG_SIZE:
		return cfg_read_size(p, c, v);
	case CFG_INT:
		return cfg_read_int(p, c, v);
	case CFG_BOOL:
		return cfg_read_bool(p, c, v);
	default:
		return false;
	}
}

static bool cfg_list_unterminated(struct cfg_parser *p,
				  const struct cfg_cursor *c)
{
	if (!cur_done(c) && cur_peek(c) != '#')
		return false;
	cfg_fail(p, "unterminated list (a list must close on its line)");
	return true;
}

/* [elem, elem, ...] on one line, handing each element to store as it is
 * read. A trailing comma is fine; a '#' before ']' means the list was not
 * closed on its line. */
static bool cfg_read_list(struct cfg_parser *p, struct cfg_cursor *c,
			  enum cfg_type elem, cfg_store_fn store)
{
	struct cfg_value v;
	struct cfg_buf m;

	if (cur_peek(c) != '[') {
		cfg_error_key(p, "expects a list such as [1, 2] or [\"a\"]");
		return false;
	}
	c->pos++;
	for (;;) {
		cur_skip_blank(c);
		if (cur_peek(c) == ']')
			break;
		if (cfg_list_unterminated(p, c))
			return false;
		if (!cfg_read_scalar(p, c, elem, &v) || !store(p, &v))
			return false;
		cur_skip_blank(c);
		if (cur_peek(c) == ',') {
			c->pos++;
			continue;
		}
		if (cur_peek(c) == ']')
			break;
		if (cfg_list_unterminated(p, c))
			return false;
		m = cfg_error_here(p);
		buf_puts(&m, "expected ',' or ']' in list, found ");
		buf_quote_byte(&m, cur_peek(c));
		return false;
	}
	c->pos++;
	return true;
}

/* Only blanks and a comment may follow a value. */
static bool cfg_value_ends_line(struct cfg_parser *p, struct cfg_cursor *c)
{
	struct cfg_buf m;

	if (cur_at_line_end(c))
		return true;
	m = cfg_error_here(p);
	buf_puts(&m, "unexpected ");
	buf_quote_byte(&m, cur_peek(c));
	buf_puts(&m, " after value");
	return false;
}

/* Read, check and store the value of the key d describes. A scalar is
 * checked for what follows it before its meaning is, so "16 M" is blamed
 * on the stray "M"; list elements are stored as they are read. */
static bool cfg_read_value(struct cfg_parser *p, struct cfg_cursor *c,
			   const struct cfg_key_desc *d)
{
	struct cfg_value v;

	switch (d->type) {
	case CFG_INT_LIST:
		return cfg_read_list(p, c, CFG_INT, d->store) &&
		       cfg_value_ends_line(p, c);
	case CFG_STRING_LIST:
		return cfg_read_list(p, c, CFG_STRING, d->store) &&
		       cfg_value_ends_line(p, c);
	default:
		return cfg_read_scalar(p, c, d->type, &v) &&
		       cfg_value_ends_line(p, c) && d->store(p, &v);
	}
}

/* ------------------------------------------------- end-of-section checks */

static bool cfg_key_ok(const struct config_guest *g, enum config_key k)
{
	return g->key_ok & BIT_ULL(k);
}

static bool cfg_shm_key_ok(const struct config_shm *s, enum config_shm_key k)
{
	return s->key_ok & BIT_ULL(k);
}

/* Report, at the header line, each key of required[] that the section
 * being closed did not give. */
static void cfg_check_required_keys(struct cfg_parser *p, uint32_t header,
				    const uint8_t *required, size_t n)
{
	struct cfg_buf m;

	for (size_t i = 0; i < n; i++) {
		const char *name = p->sect->key_names[required[i]];

		if (p->key_line[required[i]])
			continue;
		m = cfg_error_at(p, header);
		buf_puts(&m, "missing required key ");
		buf_quote(&m, name, strlen(name));
	}
}

static void cfg_check_required(struct cfg_parser *p, struct config_guest *g)
{
	static const uint8_t required[] = {
		CONFIG_KEY_IMAGE, CONFIG_KEY_FORMAT, CONFIG_KEY_MEMORY,
		CONFIG_KEY_CPUS,
	};
	struct cfg_buf m;

	cfg_check_required_keys(p, g->line, required, ARRAY_SIZE(required));
	if (cfg_key_ok(g, CONFIG_KEY_CPUS) && g->cpu_count == 0) {
		m = cfg_error_at_key(p->cfg, g, CONFIG_KEY_CPUS);
		buf_puts(&m, "cpus must not be empty");
	}
}

/* Without a known format only the smallest minimum is certain. */
static void cfg_check_memory_min(struct cfg_parser *p, struct config_guest *g)
{
	uint64_t min = CONFIG_MEMORY_MIN;
	struct cfg_buf m;

	if (!cfg_key_ok(g, CONFIG_KEY_MEMORY))
		return;
	if (!cfg_key_ok(g, CONFIG_KEY_FORMAT) ||
	    g->format == CONFIG_FORMAT_REALMODE)
		min = CONFIG_MEMORY_MIN_REALMODE;
	if (g->memory >= min)
		return;
	m = cfg_error_at_key(p->cfg, g, CONFIG_KEY_MEMORY);
	buf_puts(&m, "memory ");
	buf_put_size(&m, g->memory);
	buf_puts(&m, " is below the minimum of ");
	buf_put_size(&m, min);
	if (g->format == CONFIG_FORMAT_REALMODE)
		buf_puts(&m, " for realmode");
}

/* Report key k, if given, when the guest's format has no use for it. */
static void cfg_check_key_applies(struct cfg_parser *p, struct config_guest *g,
				  enum config_key k, bool applies,
				  const char *formats)
{
	struct cfg_buf m;

	if (!g->key_line[k] || applies)
		return;
	m = cfg_error_at_key(p->cfg, g, k);
	buf_puts(&m, "key ");
	buf_quote(&m, cfg_key_names[k], strlen(cfg_key_names[k]));
	buf_puts(&m, " applies only to ");
	buf_puts(&m, formats);
	buf_puts(&m, " guests, not ");
	buf_puts(&m, config_format_name(g->format));
}

static void cfg_check_key_needed(struct cfg_parser *p, struct config_guest *g,
				 enum config_key k)
{
	struct cfg_buf m;

	if (g->key_line[k])
		return;
	m = cfg_error(p->cfg, g->line, g, NULL, 0);
	buf_puts(&m, config_format_name(g->format));
	buf_puts(&m, " guests need key ");
	buf_quote(&m, cfg_key_names[k], strlen(cfg_key_names[k]));
}

static void cfg_check_format_keys(struct cfg_parser *p, struct config_guest *g)
{
	bool flat = g->format == CONFIG_FORMAT_FLAT;
	bool addressed = flat || g->format == CONFIG_FORMAT_REALMODE;

	if (!cfg_key_ok(g, CONFIG_KEY_FORMAT))
		return;
	cfg_check_key_applies(p, g, CONFIG_KEY_LOAD, addressed,
			      "flat and realmode");
	cfg_check_key_applies(p, g, CONFIG_KEY_ENTRY, addressed,
			      "flat and realmode");
	cfg_check_key_applies(p, g, CONFIG_KEY_MODULES,
			      g->format == CONFIG_FORMAT_MULTIBOOT, "multiboot");
	cfg_check_key_applies(p, g, CONFIG_KEY_INITRD,
			      g->format == CONFIG_FORMAT_LINUX, "linux");
	if (flat) {
		cfg_check_key_needed(p, g, CONFIG_KEY_LOAD);
		cfg_check_key_needed(p, g, CONFIG_KEY_ENTRY);
	}
}

/* load or entry must be a guest-physical address the guest has, and a real
 * mode guest can only reach the first 1M. */
static void cfg_check_address(struct cfg_parser *p, struct config_guest *g,
			      enum config_key k, uint64_t addr)
{
	bool realmode = g->format == CONFIG_FORMAT_REALMODE;
	struct cfg_buf m;

	if (!cfg_key_ok(g, k) || !cfg_key_ok(g, CONFIG_KEY_FORMAT))
		return;
	if (realmode && addr >= CONFIG_REALMODE_LIMIT) {
		m = cfg_error_at_key(p->cfg, g, k);
		buf_puts(&m, cfg_key_names[k]);
		buf_puts(&m, " address ");
		buf_puthex(&m, addr);
		buf_puts(&m, " is not below 1M, out of reach in real mode");
	} else if (cfg_key_ok(g, CONFIG_KEY_MEMORY) && addr >= g->memory) {
		m = cfg_error_at_key(p->cfg, g, k);
		buf_puts(&m, cfg_key_names[k]);
		buf_puts(&m, " address ");
		buf_puthex(&m, addr);
		buf_puts(&m, " lies outside the guest's ");
		buf_put_size(&m, g->memory);
		buf_puts(&m, " of memory");
	}
}

/* Page-modification logging is an EPT feature (SDM Vol. 3C 28.3.6). */
static void cfg_check_dirty_log(struct cfg_parser *p, struct config_guest *g)
{
	struct cfg_buf m;

	if (!cfg_key_ok(g, CONFIG_KEY_DIRTY_LOG) ||
	    !cfg_key_ok(g, CONFIG_KEY_PAGING) ||
	    g->dirty_log != CONFIG_DIRTY_LOG_PML ||
	    g->paging != CONFIG_PAGING_SHADOW)
		return;
	m = cfg_error_at_key(p->cfg, g, CONFIG_KEY_DIRTY_LOG);
	buf_puts(&m, "dirty_log \"pml\" needs EPT, but paging is \"shadow\"");
}

/* Key k, when given, means nothing without key needed. */
static void cfg_check_key_depends(struct cfg_parser *p, struct config_guest *g,
				  enum config_key k, enum config_key needed)
{
	struct cfg_buf m;

	if (!cfg_key_ok(g, k) || g->key_line[needed])
		return;
	m = cfg_error_at_key(p->cfg, g, k);
	buf_puts(&m, cfg_key_names[k]);
	buf_puts(&m, " needs ");
	buf_puts(&m, cfg_key_names[needed]);
}

/* The target slot: as many CPUs as the guest has, none of its own. */
static void cfg_check_migrate(struct cfg_parser *p, struct config_guest *g)
{
	struct cfg_buf m;

	cfg_check_key_depends(p, g, CONFIG_KEY_MIGRATE_AFTER_MS,
			      CONFIG_KEY_MIGRATE_CPUS);
	if (!cfg_key_ok(g, CONFIG_KEY_MIGRATE_CPUS) ||
	    !cfg_key_ok(g, CONFIG_KEY_CPUS))
		return;
	if (g->migrate_cpu_count != g->cpu_count) {
		m = cfg_error_at_key(p->cfg, g, CONFIG_KEY_MIGRATE_CPUS);
		buf_puts(&m, "migrate_cpus must list as many cpus as cpus (");
		buf_putu(&m, g->cpu_count);
		buf_putc(&m, ')');
	} else if (g->migrate_cpu_mask & g->cpu_mask) {
		m = cfg_error_at_key(p->cfg, g, CONFIG_KEY_MIGRATE_CPUS);
		buf_puts(&m, "migrate_cpus must not include the guest's own cpus");
	}
}

/* The virtio devices' keys; a NIC without a mac gets one from the guest's
 * place in the file, in the 52:54:00 block QEMU uses for the same purpose. */
static void cfg_check_virtio(struct cfg_parser *p, struct config_guest *g)
{
	cfg_check_key_depends(p, g, CONFIG_KEY_DISK_READONLY, CONFIG_KEY_DISK);
	cfg_check_key_depends(p, g, CONFIG_KEY_MAC, CONFIG_KEY_NET);
	if (cfg_key_ok(g, CONFIG_KEY_NET) && !g->key_line[CONFIG_KEY_MAC]) {
		static const uint8_t base[CONFIG_MAC_SIZE] = { 0x52, 0x54 };

		memcpy(g->mac, base, sizeof(base));
		g->mac[CONFIG_MAC_SIZE - 1] = (uint8_t)(g - p->cfg->guests + 1);
	}
}

/* Checks that need the whole section, reported at the header or the key. */
static void cfg_finish_guest(struct cfg_parser *p, struct config_guest *g)
{
	cfg_check_virtio(p, g);
	cfg_check_migrate(p, g);
	cfg_check_required(p, g);
	cfg_check_memory_min(p, g);
	cfg_check_format_keys(p, g);
	cfg_check_address(p, g, CONFIG_KEY_LOAD, g->load);
	cfg_check_address(p, g, CONFIG_KEY_ENTRY, g->entry);
	cfg_check_dirty_log(p, g);
}

/* "[0xf0000000, 0xf0010000)" */
static void buf_put_range(struct cfg_buf *b, uint64_t base, uint64_t size)
{
	buf_putc(b, '[');
	buf_puthex(b, base);
	buf_puts(b, ", ");
	buf_puthex(b, base + size);
	buf_putc(b, ')');
}

static bool cfg_ranges_overlap(uint64_t a, uint64_t asize,
			       uint64_t b, uint64_t bsize)
{
	return a < b + bsize && b < a + asize;
}

/* Start a problem about member i's address in s:
 * "gpa 0xf0000000 of guest 'a': [0xf0000000, 0xf0010000) ". */
static struct cfg_buf cfg_error_shm_gpa(struct config *cfg,
					struct config_shm *s, uint32_t i)
{
	struct cfg_buf m = cfg_error_shm(cfg, s->key_line[CONFIG_SHM_KEY_GPA], s);

	buf_puts(&m, "gpa ");
	buf_puthex(&m, s->gpa[i]);
	buf_puts(&m, " of guest ");
	buf_quote(&m, s->guest_names[i], strlen(s->guest_names[i]));
	buf_puts(&m, ": ");
	buf_put_range(&m, s->gpa[i], s->size);
	buf_putc(&m, ' ');
	return m;
}

/* What every guest with a PCI bus has at fixed addresses (guest/pci.h,
 * guest/ioapic.h): the I/O APIC, the local APIC and testdev's memory
 * all lie in the last 20 MiB below 4G. */
static const struct cfg_hole {
	uint64_t base, size;
	const char *name;
} cfg_shm_holes[] = {
	{ PCI_MMIO_GPA, PCI_MMIO_SIZE, "the PCI window" },
	{ PCI_ECAM_GPA, PCI_ECAM_SIZE, "PCI ECAM" },
	{ IOAPIC_GPA, 4 * GiB - IOAPIC_GPA, "the APICs and testdev" },
};

/* Member i's region lies below 1T and misses the fixed holes. */
static void cfg_check_shm_gpa(struct config *cfg, struct config_shm *s,
			      uint32_t i)
{
	struct cfg_buf m;

	if (s->gpa[i] > CONFIG_SHM_GPA_LIMIT - s->size) {
		m = cfg_error_shm_gpa(cfg, s, i);
		buf_puts(&m, "ends above 1T");
		return;
	}
	for (size_t h = 0; h < ARRAY_SIZE(cfg_shm_holes); h++) {
		const struct cfg_hole *hole = &cfg_shm_holes[h];

		if (!cfg_ranges_overlap(s->gpa[i], s->size, hole->base,
					hole->size))
			continue;
		m = cfg_error_shm_gpa(cfg, s, i);
		buf_puts(&m, "overlaps ");
		buf_puts(&m, hole->name);
		buf_putc(&m, ' ');
		buf_put_range(&m, hole->base, hole->size);
		return;
	}
}

/* Member slot of the guest named name in s, or -1. */
static int cfg_shm_find_name(const struct config_shm *s, const char *name)
{
	for (uint32_t i = 0; i < s->guest_count; i++) {
		if (!strcmp(s->guest_names[i], name))
			return (int)i;
	}
	return -1;
}

/* readonly names members: turn the names into the member mask. */
static void cfg_check_shm_readonly(struct cfg_parser *p, struct config_shm *s)
{
	struct cfg_buf m;

	if (!cfg_shm_key_ok(s, CONFIG_SHM_KEY_READONLY) ||
	    !cfg_shm_key_ok(s, CONFIG_SHM_KEY_GUESTS))
		return;
	for (uint32_t i = 0; i < s->readonly_count; i++) {
		const char *name = s->readonly_names[i];
		int slot = cfg_shm_find_name(s, name);

		if (slot >= 0) {
			s->readonly |= (uint32_t)BIT_ULL(slot);
			continue;
		}
		m = cfg_error_at(p, s->key_line[CONFIG_SHM_KEY_READONLY]);
		buf_puts(&m, "readonly guest ");
		buf_quote(&m, name, strlen(name));
		buf_puts(&m, " is not among guests");
	}
}

/* At least two members, and one address for each. */
static void cfg_check_shm_members(struct cfg_parser *p, struct config_shm *s)
{
	struct cfg_buf m;

	if (!cfg_shm_key_ok(s, CONFIG_SHM_KEY_GUESTS))
		return;
	if (s->guest_count < CONFIG_SHM_MIN_GUESTS) {
		m = cfg_error_at(p, s->key_line[CONFIG_SHM_KEY_GUESTS]);
		buf_puts(&m, "guests must name at least 2 guests");
	}
	if (cfg_shm_key_ok(s, CONFIG_SHM_KEY_GPA) &&
	    s->gpa_count != s->guest_count) {
		m = cfg_error_at(p, s->key_line[CONFIG_SHM_KEY_GPA]);
		buf_puts(&m, "gpa must list one address per guest (");
		buf_putu(&m, s->guest_count);
		buf_putc(&m, ')');
	}
}

static void cfg_finish_shm(struct cfg_parser *p, struct config_shm *s)
{
	static const uint8_t required[] = {
		CONFIG_SHM_KEY_SIZE, CONFIG_SHM_KEY_GUESTS, CONFIG_SHM_KEY_GPA,
	};
	uint32_t n = MIN(s->gpa_count, s->guest_count);

	cfg_check_required_keys(p, s->line, required, ARRAY_SIZE(required));
	cfg_check_shm_members(p, s);
	cfg_check_shm_readonly(p, s);
	if (!cfg_shm_key_ok(s, CONFIG_SHM_KEY_SIZE) ||
	    !cfg_shm_key_ok(s, CONFIG_SHM_KEY_GUESTS) ||
	    !cfg_shm_key_ok(s, CONFIG_SHM_KEY_GPA))
		return;
	for (uint32_t i = 0; i < n; i++)
		cfg_check_shm_gpa(p->cfg, s, i);
}

/* Close the current section; what follows is skipped until a good header. */
static void cfg_end_section(struct cfg_parser *p)
{
	if (p->guest)
		cfg_finish_guest(p, p->guest);
	if (p->shm)
		cfg_finish_shm(p, p->shm);
	p->guest = NULL;
	p->shm = NULL;
	p->sect = NULL;
	p->key_line = NULL;
	p->key_ok = NULL;
	p->skipping = true;
}

/* --------------------------------------------------------------- lines */

static struct config_guest *cfg_find_guest(struct config *cfg,
					   const char *name, size_t len)
{
	for (uint32_t i = 0; i < cfg->guest_count; i++) {
		if (cfg_name_is(cfg->guests[i].name, name, len))
			return &cfg->guests[i];
	}
	return NULL;
}

static struct config_shm *cfg_find_shm(struct config *cfg,
				       const char *name, size_t len)
{
	for (uint32_t i = 0; i < cfg->shm_count; i++) {
		if (cfg_name_is(cfg->shm[i].name, name, len))
			return &cfg->shm[i];
	}
	return NULL;
}

/* A header that named a usable guest: give it a record, or say why not. */
static bool cfg_open_guest(struct cfg_parser *p, const char *name, size_t len)
{
	struct config_guest *g = cfg_find_guest(p->cfg, name, len);
	struct cfg_buf m;

	if (g) {
		m = cfg_error(p->cfg, p->line, g, NULL, 0);
		buf_puts(&m, "duplicate guest name (first at line ");
		buf_putu(&m, g->line);
		buf_putc(&m, ')');
		return false;
	}
	if (p->cfg->guest_count >= CONFIG_MAX_GUESTS) {
		m = cfg_error(p->cfg, p->line, NULL, name, len);
		buf_puts(&m, "too many guests (max ");
		buf_putu(&m, CONFIG_MAX_GUESTS);
		buf_putc(&m, ')');
		return false;
	}
	g = &p->cfg->guests[p->cfg->guest_count++];
	cfg_copy(g->name, sizeof(g->name), name, len);
	g->line = p->line;
	g->valid = true;
	p->guest = g;
	p->key_line = g->key_line;
	p->key_ok = &g->key_ok;
	return true;
}

/* The same for a shm section. One that is refused has no record to mark
 * invalid, so its problem names it in the message. */
static bool cfg_open_shm(struct cfg_parser *p, const char *name, size_t len)
{
	struct config_shm *s = cfg_find_shm(p->cfg, name, len);
	struct cfg_buf m;

	if (s) {
		m = cfg_error_shm(p->cfg, p->line, s);
		buf_puts(&m, "duplicate shm name (first at line ");
		buf_putu(&m, s->line);
		buf_putc(&m, ')');
		return false;
	}
	if (p->cfg->shm_count >= CONFIG_MAX_SHM) {
		m = cfg_error(p->cfg, p->line, NULL, NULL, 0);
		buf_puts(&m, "too many shm sections (max ");
		buf_putu(&m, CONFIG_MAX_SHM);
		buf_puts(&m, "): ");
		buf_quote(&m, name, len);
		return false;
	}
	s = &p->cfg->shm[p->cfg->shm_count++];
	cfg_copy(s->name, sizeof(s->name), name, len);
	s->line = p->line;
	s->valid = true;
	p->shm = s;
	p->key_line = s->key_line;
	p->key_ok = &s->key_ok;
	return true;
}

static const struct cfg_section cfg_sections[] = {
	{ "guest.", "guest ", cfg_key_names, cfg_keys,
	  ARRAY_SIZE(cfg_keys), cfg_open_guest },
	{ "shm.", "shm ", cfg_shm_key_names, cfg_shm_keys,
	  ARRAY_SIZE(cfg_shm_keys), cfg_open_shm },
};

#define CFG_EXPECTED_HEADERS "(expected [guest.NAME] or [shm.NAME])"

/* The kind of section whose prefix begins word[0..len), or NULL. */
static const struct cfg_section *cfg_find_section(const char *word, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_sections); i++) {
		size_t plen = strlen(cfg_sections[i].prefix);

		if (len >= plen && !memcmp(word, cfg_sections[i].prefix, plen))
			return &cfg_sections[i];
	}
	return NULL;
}

/* [ guest.NAME ] or [ shm.NAME ] with an optional comment after it. */
static void cfg_parse_header(struct cfg_parser *p, struct cfg_cursor *c)
{
	const struct cfg_section *sect;
	struct cfg_buf m;
	const char *word;
	size_t len, plen;

	cfg_end_section(p);
	c->pos++;
	cur_skip_blank(c);
	word = c->pos;
	len = cur_take(c, is_section_char);
	while (len && (word[len - 1] == ' ' || word[len - 1] == '\t'))
		len--;
	if (cur_peek(c) != ']') {
		cfg_fail(p, "malformed section header " CFG_EXPECTED_HEADERS);
		return;
	}
	c->pos++;
	sect = cfg_find_section(word, len);
	if (!sect) {
		m = cfg_error_here(p);
		buf_puts(&m, "unknown section ");
		buf_quote(&m, word, len);
		buf_puts(&m, " " CFG_EXPECTED_HEADERS);
		return;
	}
	plen = strlen(sect->prefix);
	if (!cfg_check_name(p, sect->what, word + plen, len - plen))
		return;
	if (!cur_at_line_end(c)) {
		m = cfg_error_here(p);
		buf_puts(&m, "unexpected ");
		buf_quote_byte(&m, cur_peek(c));
		buf_puts(&m, " after section header");
		return;
	}
	if (!sect->open(p, word + plen, len - plen))
		return;
	p->sect = sect;
	p->skipping = false;
}

/* The key has been read and the cursor stands after '='. */
static void cfg_parse_assignment(struct cfg_parser *p, struct cfg_cursor *c,
				 const char *key, size_t klen)
{
	const struct cfg_section *sect = p->sect;
	struct cfg_buf m;
	int k = cfg_table_find(sect->key_names, sect->key_count, key, klen);

	if (k < 0) {
		m = cfg_error_here(p);
		buf_puts(&m, "unknown key ");
		buf_quote(&m, key, klen);
		return;
	}
	p->key = sect->key_names[k];
	if (p->key_line[k]) {
		m = cfg_error_here(p);
		buf_puts(&m, "duplicate key ");
		buf_quote(&m, key, klen);
		buf_puts(&m, " (first at line ");
		buf_putu(&m, p->key_line[k]);
		buf_putc(&m, ')');
		return;
	}
	p->key_line[k] = p->line;
	if (cur_at_line_end(c)) {
		cfg_error_key(p, "has no value");
		return;
	}
	if (cfg_read_value(p, c, &sect->keys[k]))
		*p->key_ok |= (uint32_t)BIT_ULL(k);
}

/* KEY = VALUE, ignored inside a rejected section. */
static void cfg_parse_key_line(struct cfg_parser *p, struct cfg_cursor *c)
{
	struct cfg_buf m;
	const char *key = c->pos;
	size_t klen;

	if (p->skipping)
		return;
	klen = cur_take(c, is_name_char);
	if (!klen) {
		m = cfg_error_here(p);
		buf_puts(&m, "expected a key or a section header, found ");
		buf_quote_byte(&m, cur_peek(c));
		return;
	}
	cur_skip_blank(c);
	if (cur_peek(c) != '=') {
		m = cfg_error_here(p);
		buf_puts(&m, "expected '=' after ");
		buf_quote(&m, key, klen);
		return;
	}
	c->pos++;
	cur_skip_blank(c);
	if (!p->sect) {
		m = cfg_error_here(p);
		buf_puts(&m, "key ");
		buf_quote(&m, key, klen);
		buf_puts(&m, " outside any section " CFG_EXPECTED_HEADERS);
		return;
	}
	cfg_parse_assignment(p, c, key, klen);
}

/* Reject lines that are too long or hold control bytes before any parsing,
 * so the lexers only ever see printable text and tabs. */
static bool cfg_line_is_clean(struct cfg_parser *p, const char *s, size_t len)
{
	struct cfg_buf m;

	if (len > CONFIG_LINE_MAX) {
		m = cfg_error_here(p);
		buf_puts(&m, "line too long (");
		buf_putu(&m, len);
		buf_puts(&m, " characters, max 255)");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)s[i];

		if ((b < 0x20 && b != '\t') || b == 0x7f) {
			m = cfg_error_here(p);
			buf_puts(&m, "invalid byte ");
			buf_puthex(&m, b);
			buf_puts(&m, " in column ");
			buf_putu(&m, i + 1);
			return false;
		}
	}
	return true;
}

static void cfg_parse_line(struct cfg_parser *p, const char *s, size_t len)
{
	struct cfg_cursor c = { s, s + len };

	if (!cfg_line_is_clean(p, s, len))
		return;
	if (cur_at_line_end(&c))
		return;
	if (*c.pos == '[')
		cfg_parse_header(p, &c);
	else
		cfg_parse_key_line(p, &c);
}

/* Length of the line at s (at most n bytes), without its LF. */
static size_t cfg_line_length(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] != '\n')
		i++;
	return i;
}

/* ------------------------------------------------- whole-file checks */

/* Find the guests s names; report those the file does not define. Returns
 * whether every member was found. */
static bool cfg_resolve_shm_guests(struct config *cfg, struct config_shm *s)
{
	bool all = true;

	for (uint32_t i = 0; i < s->guest_count; i++) {
		const char *name = s->guest_names[i];
		struct config_guest *g = cfg_find_guest(cfg, name, strlen(name));
		struct cfg_buf m;

		if (g) {
			s->guests[i] = (uint8_t)(g - cfg->guests);
			continue;
		}
		m = cfg_error_shm(cfg, s->key_line[CONFIG_SHM_KEY_GUESTS], s);
		buf_puts(&m, "no guest named ");
		buf_quote(&m, name, strlen(name));
		buf_puts(&m, " in the file");
		all = false;
	}
	return all;
}

/* Size, members and their addresses were all understood. */
static bool cfg_shm_members_known(const struct config_shm *s)
{
	return cfg_shm_key_ok(s, CONFIG_SHM_KEY_SIZE) &&
	       cfg_shm_key_ok(s, CONFIG_SHM_KEY_GUESTS) &&
	       cfg_shm_key_ok(s, CONFIG_SHM_KEY_GPA) &&
	       s->gpa_count == s->guest_count;
}

/* Each member's region misses that guest's RAM, [0, memory). */
static void cfg_check_shm_ram(struct config *cfg, struct config_shm *s)
{
	for (uint32_t i = 0; i < s->guest_count; i++) {
		const struct config_guest *g = &cfg->guests[s->guests[i]];
		struct cfg_buf m;

		if (!cfg_key_ok(g, CONFIG_KEY_MEMORY) ||
		    !cfg_ranges_overlap(s->gpa[i], s->size, 0, g->memory))
			continue;
		m = cfg_error_shm_gpa(cfg, s, i);
		buf_puts(&m, "overlaps the guest's RAM ");
		buf_put_range(&m, 0, g->memory);
	}
}

/* Member i of t against the valid regions before t: a guest sees each
 * byte of its address space through one region at most. */
static void cfg_check_shm_overlap(struct config *cfg, struct config_shm *t,
				  uint32_t i)
{
	for (struct config_shm *s = cfg->shm; s < t; s++) {
		int j = config_shm_member(s, t->guests[i]);
		struct cfg_buf m;

		if (!s->valid || j < 0 ||
		    !cfg_ranges_overlap(t->gpa[i], t->size, s->gpa[j], s->size))
			continue;
		m = cfg_error_shm_gpa(cfg, t, i);
		buf_puts(&m, "overlaps shm ");
		buf_quote(&m, s->name, strlen(s->name));
		buf_puts(&m, " of the same guest ");
		buf_put_range(&m, s->gpa[j], s->size);
		return;
	}
}

/* The regions, in file order: each is checked against its guests and the
 * valid regions before it, and the guests of a valid one join it. */
static void cfg_finish_shm_regions(struct config *cfg)
{
	for (uint32_t si = 0; si < cfg->shm_count; si++) {
		struct config_shm *s = &cfg->shm[si];

		if (!cfg_resolve_shm_guests(cfg, s) || !cfg_shm_members_known(s))
			continue;
		cfg_check_shm_ram(cfg, s);
		for (uint32_t i = 0; s->valid && i < s->guest_count; i++)
			cfg_check_shm_overlap(cfg, s, i);
		for (uint32_t i = 0; s->valid && i < s->guest_count; i++)
			cfg->guests[s->guests[i]].shm_mask |= (uint32_t)BIT_ULL(si);
	}
}

/* A guest with a PCI bus: its RAM ends below the PCI window, it does not
 * migrate, and its functions fit the bus. */
static void cfg_check_pci(struct config *cfg, struct config_guest *g)
{
	uint32_t funcs = config_guest_pci_funcs(g);
	struct cfg_buf m;

	if (!config_guest_has_pci(g))
		return;
	if (cfg_key_ok(g, CONFIG_KEY_MEMORY) && g->memory > PCI_MMIO_GPA) {
		m = cfg_error_at_key(cfg, g, CONFIG_KEY_MEMORY);
		buf_puts(&m, "memory ");
		buf_put_size(&m, g->memory);
		buf_puts(&m, " is above the limit of 3G for a guest with PCI "
			     "devices (its PCI window starts there)");
	}
	if (cfg_key_ok(g, CONFIG_KEY_MIGRATE_CPUS)) {
		m = cfg_error_at_key(cfg, g, CONFIG_KEY_MIGRATE_CPUS);
		buf_puts(&m, "migrate_cpus cannot go with PCI devices "
			     "(their state does not migrate)");
	}
	if (funcs > CONFIG_PCI_MAX_FUNCS) {
		m = cfg_error(cfg, g->line, g, NULL, 0);
		buf_puts(&m, "needs ");
		buf_putu(&m, funcs);
		buf_puts(&m, " PCI functions, max 6 (disk, net, virtio-console "
			     "and one per shm region)");
	}
}

static void buf_put_mac(struct cfg_buf *b, const uint8_t *mac)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < CONFIG_MAC_SIZE; i++) {
		if (i)
			buf_putc(b, ':');
		buf_putc(b, hex[mac[i] >> 4]);
		buf_putc(b, hex[mac[i] & 0xf]);
	}
}

/* A NIC whose network and address are known. */
static bool cfg_guest_has_mac(const struct config_guest *g)
{
	return g->net[0] && !cfg_mac_is_zero(g->mac);
}

static uint32_t cfg_mac_line(const struct config_guest *g)
{
	return g->key_line[CONFIG_KEY_MAC] ? g->key_line[CONFIG_KEY_MAC]
					   : g->key_line[CONFIG_KEY_NET];
}

/* Of two guests with one MAC on one network, the later one is refused. */
static void cfg_check_mac_unique(struct config *cfg, struct config_guest *g)
{
	for (struct config_guest *o = cfg->guests; o < g; o++) {
		struct cfg_buf m;

		if (!cfg_guest_has_mac(o) || strcmp(o->net, g->net) ||
		    memcmp(o->mac, g->mac, CONFIG_MAC_SIZE))
			continue;
		m = cfg_error(cfg, cfg_mac_line(g), g, NULL, 0);
		buf_puts(&m, "mac ");
		buf_put_mac(&m, g->mac);
		buf_puts(&m, " is already guest ");
		buf_quote(&m, o->name, strlen(o->name));
		buf_puts(&m, "'s on network ");
		buf_quote(&m, g->net, strlen(g->net));
		buf_puts(&m, " (line ");
		buf_putu(&m, cfg_mac_line(o));
		buf_putc(&m, ')');
		return;
	}
}

/* Checks that need every section: the shm regions first, as membership
 * gives a guest its PCI bus. */
static void cfg_finish_file(struct config *cfg)
{
	cfg_finish_shm_regions(cfg);
	for (uint32_t gi = 0; gi < cfg->guest_count; gi++) {
		struct config_guest *g = &cfg->guests[gi];

		cfg_check_pci(cfg, g);
		if (cfg_guest_has_mac(g))
			cfg_check_mac_unique(cfg, g);
	}
}

uint32_t config_guest_pci_funcs(const struct config_guest *g)
{
	uint32_t n = (g->disk[0] != '\0') + (g->net[0] != '\0') +
		     !!(g->devices & CONFIG_DEVICE_VIRTIO_CONSOLE);

	for (uint32_t mask = g->shm_mask; mask; mask &= mask - 1)
		n++;
	return n;
}

int config_shm_member(const struct config_shm *s, uint32_t gi)
{
	for (uint32_t i = 0; i < s->guest_count; i++) {
		if (s->guests[i] == gi)
			return (int)i;
	}
	return -1;
}

uint32_t config_parse(struct config *cfg, const char *text, size_t len)
{
	struct cfg_parser p;
	size_t off = 0;

	memset(cfg, 0, sizeof(*cfg));
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	if (!text)
		len = 0;
	while (off < len) {
		size_t n = cfg_line_length(text + off, len - off);
		size_t body = n;

		if (body && text[off + body - 1] == '\r')
			body--;
		/* Saturate: a key_line of 0 would read as "key not given". */
		if (p.line < UINT32_MAX)
			p.line++;
		cfg_parse_line(&p, text + off, body);
		off += n + (off + n < len);
	}
	cfg_end_section(&p);
	cfg_finish_file(cfg);
	return config_problem_count(cfg);
}

/* ------------------------------------------------------ platform checks */

static bool cfg_module_present(const struct config_platform *plat,
			       const char *name)
{
	for (size_t i = 0; i < plat->module_count; i++) {
		if (plat->modules[i] && !strcmp(plat->modules[i], name))
			return true;
	}
	return false;
}

static void cfg_check_module(struct config *cfg, struct config_guest *g,
			     const struct config_platform *plat,
			     enum config_key k, const char *name)
{
	struct cfg_buf m;

	if (!cfg_key_ok(g, k) || cfg_module_present(plat, name))
		return;
	m = cfg_error_at_key(cfg, g, k);
	buf_puts(&m, k == CONFIG_KEY_MODULES ? "module" : cfg_key_names[k]);
	buf_putc(&m, ' ');
	buf_quote(&m, name, strlen(name));
	buf_puts(&m, " is not among the loaded modules");
}

static void cfg_check_modules(struct config *cfg, struct config_guest *g,
			      const struct config_platform *plat)
{
	cfg_check_module(cfg, g, plat, CONFIG_KEY_IMAGE, g->image);
	cfg_check_module(cfg, g, plat, CONFIG_KEY_INITRD, g->initrd);
	cfg_check_module(cfg, g, plat, CONFIG_KEY_DISK, g->disk);
	for (uint32_t i = 0; i < g->module_count; i++)
		cfg_check_module(cfg, g, plat, CONFIG_KEY_MODULES,
				 g->modules[i]);
}

static void cfg_check_cpus_exist(struct config *cfg, struct config_guest *g,
				 const struct config_platform *plat)
{
	struct cfg_buf m;

	for (uint32_t i = 0; i < g->cpu_count; i++) {
		if (plat->cpu_present & BIT_ULL(g->cpus[i]))
			continue;
		m = cfg_error_at_key(cfg, g, CONFIG_KEY_CPUS);
		buf_puts(&m, "cpu ");
		buf_putu(&m, g->cpus[i]);
		buf_puts(&m, " does not exist on this machine");
	}
	for (uint32_t i = 0; i < g->migrate_cpu_count; i++) {
		if (plat->cpu_present & BIT_ULL(g->migrate_cpus[i]))
			continue;
		m = cfg_error_at_key(cfg, g, CONFIG_KEY_MIGRATE_CPUS);
		buf_puts(&m, "migrate cpu ");
		buf_putu(&m, g->migrate_cpus[i]);
		buf_puts(&m, " does not exist on this machine");
	}
}

/* Give each CPU to the first valid guest that asks for it. A guest that
 * loses any of its CPUs is refused and keeps none of the others. */
static void cfg_check_cpu_conflicts(struct config *cfg)
{
	int8_t owner[CONFIG_MAX_CPUS];

	memset(owner, -1, sizeof(owner));
	for (uint32_t gi = 0; gi < cfg->guest_count; gi++) {
		struct config_guest *g = &cfg->guests[gi];
		bool lost = false;

		if (!g->valid)
			continue;
		for (uint32_t i = 0; i < g->cpu_count + g->migrate_cpu_count; i++) {
			bool mig = i >= g->cpu_count;
			uint8_t cpu = mig ? g->migrate_cpus[i - g->cpu_count]
					  : g->cpus[i];
			struct config_guest *o;
			struct cfg_buf m;

			if (owner[cpu] < 0)
				continue;
			o = &cfg->guests[owner[cpu]];
			m = cfg_error_at_key(cfg, g, mig ? CONFIG_KEY_MIGRATE_CPUS
							 : CONFIG_KEY_CPUS);
			buf_puts(&m, "cpu ");
			buf_putu(&m, cpu);
			buf_puts(&m, " is already given to guest ");
			buf_quote(&m, o->name, strlen(o->name));
			buf_puts(&m, " (line ");
			buf_putu(&m, o->key_line[CONFIG_KEY_CPUS]);
			buf_putc(&m, ')');
			lost = true;
		}
		for (uint32_t i = 0; !lost && i < g->cpu_count; i++)
			owner[g->cpus[i]] = (int8_t)gi;
		for (uint32_t i = 0; !lost && i < g->migrate_cpu_count; i++)
			owner[g->migrate_cpus[i]] = (int8_t)gi;
	}
}

/* The block shm_regions_alloc() takes for size bytes: pages, a power of
 * two of them. */
static uint64_t cfg_shm_block(uint64_t size)
{
	uint64_t block = 4096;

	while (block < size)
		block <<= 1;
	return block;
}

static bool cfg_shm_in_use(const struct config *cfg,
			   const struct config_shm *s)
{
	for (uint32_t i = 0; s->valid && i < s->guest_count; i++)
		if (cfg->guests[s->guests[i]].valid)
			return true;
	return false;
}

/* A region that does not fit takes its members with it: they cannot run
 * as configured. */
static void cfg_shm_not_fit(struct config *cfg, struct config_shm *s,
			    uint64_t left, uint64_t free)
{
	struct cfg_buf m = cfg_error_shm(cfg, s->key_line[CONFIG_SHM_KEY_SIZE],
					 s);

	buf_puts(&m, "size ");
	buf_put_size(&m, s->size);
	buf_puts(&m, " does not fit: ");
	buf_put_size(&m, left);
	buf_puts(&m, " left of ");
	buf_put_size(&m, free);
	buf_puts(&m, " free for shared memory and guests");
	for (uint32_t i = 0; i < s->guest_count; i++) {
		struct config_guest *g = &cfg->guests[s->guests[i]];

		if (!g->valid)
			continue;
		m = cfg_error(cfg, s->line, g, NULL, 0);
		buf_puts(&m, "its shared memory '");
		buf_putn(&m, s->name, strnlen(s->name, sizeof(s->name)));
		buf_puts(&m, "' does not fit");
	}
}

/* Shared memory first: shm_regions_alloc() runs before any guest loads. */
static uint64_t cfg_check_shm_fit(struct config *cfg,
				  const struct config_platform *plat)
{
	uint64_t left = plat->free_memory;

	for (uint32_t si = 0; si < cfg->shm_count; si++) {
		struct config_shm *s = &cfg->shm[si];
		uint64_t need = cfg_shm_block(s->size);

		if (!cfg_shm_in_use(cfg, s))
			continue;
		if (need <= left)
			left -= need;
		else
			cfg_shm_not_fit(cfg, s, left, plat->free_memory);
	}
	return left;
}

/* Hand out the free memory in file order, after shared memory. */
static void cfg_check_memory_fit(struct config *cfg,
				 const struct config_platform *plat)
{
	uint64_t left = cfg_check_shm_fit(cfg, plat);

	for (uint32_t gi = 0; gi < cfg->guest_count; gi++) {
		struct config_guest *g = &cfg->guests[gi];
		struct cfg_buf m;

		uint64_t need = g->memory * (g->migrate_cpu_count ? 2 : 1);

		if (!g->valid)
			continue;
		if (need <= left) {
			left -= need;
			continue;
		}
		m = cfg_error_at_key(cfg, g, CONFIG_KEY_MEMORY);
		buf_puts(&m, "memory ");
		buf_put_size(&m, g->memory);
		buf_puts(&m, " does not fit: ");
		buf_put_size(&m, left);
		buf_puts(&m, " left of ");
		buf_put_size(&m, plat->free_memory);
		buf_puts(&m, " free for guests");
		if (cfg->shm_count)
			buf_puts(&m, " and shared memory");
	}
}

uint32_t config_check(struct config *cfg, const struct config_platform *plat)
{
	uint64_t checks = plat ? plat->checks : 0;

	for (uint32_t gi = 0; gi < cfg->guest_count; gi++) {
		struct config_guest *g = &cfg->guests[gi];

		if (checks & CONFIG_CHECK_CPUS)
			cfg_check_cpus_exist(cfg, g, plat);
		if (checks & CONFIG_CHECK_MODULES)
			cfg_check_modules(cfg, g, plat);
	}
	cfg_check_cpu_conflicts(cfg);
	if (checks & CONFIG_CHECK_MEMORY)
		cfg_check_memory_fit(cfg, plat);
	return config_problem_count(cfg);
}
