/* AML writer (guest/aml.h). Opcodes from ACPI 6.5 20.3 (AML byte stream
 * byte values); grammar from 20.2. */
#include "guest/aml.h"
#include "arch/bytes.h"
#include "arch/string.h"

#define AML_ZERO_OP             0x00
#define AML_ONE_OP              0x01
#define AML_NAME_OP             0x08
#define AML_BYTE_PREFIX         0x0a
#define AML_WORD_PREFIX         0x0b
#define AML_DWORD_PREFIX        0x0c
#define AML_QWORD_PREFIX        0x0e
#define AML_SCOPE_OP            0x10
#define AML_BUFFER_OP           0x11
#define AML_PACKAGE_OP          0x12
#define AML_EXT_OP_PREFIX       0x5b
#define AML_DEVICE_OP           0x82    /* after the ExtOpPrefix */
#define AML_NAMESEG_LEN         4

/* PkgLength (20.2.4): one byte holds up to 63; a longer one has a lead
 * byte with the count of following bytes in bits 7:6 and the low nibble
 * in bits 3:0, each following byte 8 more bits. */
#define PKGLEN_MAX_BYTES        4
#define PKGLEN_ONE_BYTE_MAX     63

/* Resource descriptor tags and lengths (6.4.2, 6.4.3). */
#define RES_IRQ_TAG             0x22    /* small item 0x04, 2 bytes */
#define RES_IO_TAG              0x47    /* small item 0x08, 7 bytes */
#define RES_IO_DECODE16         1
#define RES_END_TAG             0x79    /* small item 0x0f, 1 byte */
#define RES_MEM32_FIXED_TAG     0x86
#define RES_DWORD_TAG           0x87
#define RES_WORD_TAG            0x88
#define RES_LARGE_HEAD          3       /* tag and 16-bit length */
#define RES_MIN_FIXED           0x04    /* general flags bit 2, _MIF */
#define RES_MAX_FIXED           0x08    /* general flags bit 3, _MAF */
#define RES_MEMORY              0       /* address space resource type */
#define RES_MEM_RW              1       /* Memory32Fixed info bit 0 */

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = cap;
	a->overflow = false;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* A constant after its prefix: `n` little-endian bytes of v. */
static void aml_const(struct aml *a, uint8_t prefix, uint64_t v, size_t n)
{
	uint8_t le[8];

	put64(le, 0, v);
	aml_byte(a, prefix);
	aml_bytes(a, le, n);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0)
		aml_byte(a, AML_ZERO_OP);
	else if (v == 1)
		aml_byte(a, AML_ONE_OP);
	else if (v <= 0xff)
		aml_const(a, AML_BYTE_PREFIX, v, 1);
	else if (v <= 0xffff)
		aml_const(a, AML_WORD_PREFIX, v, 2);
	else if (v <= 0xffffffff)
		aml_const(a, AML_DWORD_PREFIX, v, 4);
	else
		aml_const(a, AML_QWORD_PREFIX, v, 8);
}

static uint8_t hex_digit(char c)
{
	return (uint8_t)(c <= '9' ? c - '0' : c - 'A' + 10);
}

/* "ABC1234": each letter as 5 bits (A = 1) packed big-endian into the
 * first two bytes, then the four hex digits as two bytes, the bytes in
 * that order in memory (6.1.5, the EISAID macro of ASL). */
void aml_eisaid(struct aml *a, const char *id)
{
	uint16_t letters = (uint16_t)((id[0] - '@') << 10 |
				      (id[1] - '@') << 5 | (id[2] - '@'));
	uint8_t b[5] = {
		AML_DWORD_PREFIX, (uint8_t)(letters >> 8), (uint8_t)letters,
		(uint8_t)(hex_digit(id[3]) << 4 | hex_digit(id[4])),
		(uint8_t)(hex_digit(id[5]) << 4 | hex_digit(id[6])),
	};

	aml_bytes(a, b, sizeof(b));
}

void aml_name(struct aml *a, const char *seg)
{
	aml_byte(a, AML_NAME_OP);
	aml_bytes(a, seg, AML_NAMESEG_LEN);
}

void aml_name_eisaid(struct aml *a, const char *seg, const char *id)
{
	aml_name(a, seg);
	aml_eisaid(a, id);
}

void aml_name_integer(struct aml *a, const char *seg, uint64_t v)
{
	aml_name(a, seg);
	aml_integer(a, v);
}

/* The PkgLength's placeholder byte: its offset is the mark. */
static size_t aml_open(struct aml *a)
{
	size_t mark = a->len;

	aml_byte(a, 0);
	return mark;
}

size_t aml_scope_open(struct aml *a, const char *seg)
{
	size_t mark;

	aml_byte(a, AML_SCOPE_OP);
	mark = aml_open(a);
	aml_bytes(a, seg, AML_NAMESEG_LEN);
	return mark;
}

size_t aml_device_open(struct aml *a, const char *seg)
{
	size_t mark;

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	mark = aml_open(a);
	aml_bytes(a, seg, AML_NAMESEG_LEN);
	return mark;
}

size_t aml_package_open(struct aml *a, uint8_t nr_elements)
{
	size_t mark;

	aml_byte(a, AML_PACKAGE_OP);
	mark = aml_open(a);
	aml_byte(a, nr_elements);
	return mark;
}

unsigned int aml_pkglen_bytes(size_t body)
{
	if (body + 1 <= PKGLEN_ONE_BYTE_MAX)
		return 1;
	for (unsigned int n = 2; n < PKGLEN_MAX_BYTES; n++)
		if (body + n < 1ULL << (4 + 8 * (n - 1)))
			return n;
	return PKGLEN_MAX_BYTES;
}

/* Writes the PkgLength at mark for the body after it, moving the body up
 * when the encoding takes more than the reserved byte. */
void aml_close(struct aml *a, size_t mark)
{
	size_t body = a->len - mark - 1;
	unsigned int n = aml_pkglen_bytes(body);
	size_t value = body + n;

	if (a->overflow || value >= 1ULL << 28 || n - 1 > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memmove(a->buf + mark + n, a->buf + mark + 1, body);
	a->len += n - 1;
	if (n == 1) {
		a->buf[mark] = (uint8_t)value;
		return;
	}
	a->buf[mark] = (uint8_t)((n - 1) << 6 | (value & 0xf));
	for (unsigned int i = 1; i < n; i++)
		a->buf[mark + i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
}

void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n)
{
	size_t mark;

	aml_byte(a, AML_BUFFER_OP);
	mark = aml_open(a);
	aml_integer(a, n);
	aml_bytes(a, bytes, n);
	aml_close(a, mark);
}

/* IRQ descriptor without its flags byte (6.4.2.1): edge-triggered,
 * active-high, an ISA interrupt. */
size_t aml_res_irq(uint8_t *p, unsigned int irq)
{
	put8(p, 0, RES_IRQ_TAG);
	put16(p, 1, (uint16_t)(1u << irq));     /* _INT mask, IRQ 0-15 */
	return AML_RES_IRQ_LEN;
}

/* I/O port descriptor (6.4.2.5): a fixed range, 16-bit decode. */
size_t aml_res_io16(uint8_t *p, uint16_t port, uint8_t len)
{
	put8(p, 0, RES_IO_TAG);
	put8(p, 1, RES_IO_DECODE16);
	put16(p, 2, port);                      /* _MIN */
	put16(p, 4, port);                      /* _MAX */
	put8(p, 6, 1);                          /* _ALN */
	put8(p, 7, len);                        /* _LEN */
	return AML_RES_IO_LEN;
}

/* Head of an address space descriptor (6.4.3.5): a producer's window
 * with fixed ends and positive decode. */
static void res_addr_head(uint8_t *p, uint8_t tag, size_t len, uint8_t type,
			  uint8_t type_flags)
{
	put8(p, 0, tag);
	put16(p, 1, (uint16_t)(len - RES_LARGE_HEAD));
	put8(p, 3, type);
	put8(p, 4, RES_MIN_FIXED | RES_MAX_FIXED | AML_RES_PRODUCER);
	put8(p, 5, type_flags);
}

/* Word address space descriptor (6.4.3.5.3): _GRA, _MIN, _MAX, _TRA,
 * _LEN, no resource source. */
size_t aml_res_word(uint8_t *p, uint8_t type, uint8_t type_flags,
		    uint16_t min, uint16_t max)
{
	res_addr_head(p, RES_WORD_TAG, AML_RES_WORD_LEN, type, type_flags);
	put16(p, 6, 0);
	put16(p, 8, min);
	put16(p, 10, max);
	put16(p, 12, 0);
	put16(p, 14, (uint16_t)(max - min + 1));
	return AML_RES_WORD_LEN;
}

/* DWord address space descriptor (6.4.3.5.2) for memory: read/write,
 * non-cacheable (_MEM 0), AddressRangeMemory. */
size_t aml_res_dword_mem(uint8_t *p, uint32_t min, uint32_t max)
{
	res_addr_head(p, RES_DWORD_TAG, AML_RES_DWORD_LEN, RES_MEMORY,
		      AML_MEM_READ_WRITE);
	put32(p, 6, 0);
	put32(p, 10, min);
	put32(p, 14, max);
	put32(p, 18, 0);
	put32(p, 22, max - min + 1);
	return AML_RES_DWORD_LEN;
}

/* 32-bit fixed memory range descriptor (6.4.3.4), read/write. */
size_t aml_res_mem32_fixed(uint8_t *p, uint32_t base, uint32_t len)
{
	put8(p, 0, RES_MEM32_FIXED_TAG);
	put16(p, 1, AML_RES_MEM32_FIXED_LEN - RES_LARGE_HEAD);
	put8(p, 3, RES_MEM_RW);
	put32(p, 4, base);
	put32(p, 8, len);
	return AML_RES_MEM32_FIXED_LEN;
}

/* End tag (6.4.2.9): a zero checksum means "treat as correct". */
size_t aml_res_end(uint8_t *p)
{
	put8(p, 0, RES_END_TAG);
	put8(p, 1, 0);
	return AML_RES_END_LEN;
}
