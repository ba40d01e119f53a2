/*
 * A small writer of AML (ACPI 6.5 chapter 20) and of resource descriptors
 * (ACPI 6.5 6.4), enough for the DSDT Keel gives its guests: names,
 * scopes, devices, packages, integers, EISA ids and buffers.
 *
 * Objects with a PkgLength are opened and closed: *_open() returns a mark
 * and reserves one byte for the PkgLength; aml_close(mark) writes the
 * shortest encoding (20.2.4) and moves the body when it needs more bytes.
 * Writing past the buffer sets `overflow` and writes nothing more.
 */
#ifndef KEEL_GUEST_AML_H
#define KEEL_GUEST_AML_H

#include "arch/compiler.h"

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool overflow;
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);
/* An Integer in its shortest form: ZeroOp, OneOp, Byte/Word/DWord/QWord
 * prefixed constant (20.2.3). */
void aml_integer(struct aml *a, uint64_t v);
/* An EISA id ("PNP0A08"), compressed into a DWordConst (6.1.5). */
void aml_eisaid(struct aml *a, const char *id);
/* Name (seg, ...): the value follows. seg is a 4-character NameSeg. */
void aml_name(struct aml *a, const char *seg);
/* Name (seg, EisaId (id)). */
void aml_name_eisaid(struct aml *a, const char *seg, const char *id);
/* Name (seg, v). */
void aml_name_integer(struct aml *a, const char *seg, uint64_t v);

size_t aml_scope_open(struct aml *a, const char *seg);
size_t aml_device_open(struct aml *a, const char *seg);
size_t aml_package_open(struct aml *a, uint8_t nr_elements);
void aml_close(struct aml *a, size_t mark);
/* Buffer (n) { bytes }. */
void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n);

/* PkgLength's encoding of a body of `body` bytes (20.2.4): the value it
 * holds (the body plus the PkgLength itself) and how many bytes it takes. */
unsigned int aml_pkglen_bytes(size_t body);

/* Resource descriptors (6.4), written at p; each returns its length. */
#define AML_RES_PRODUCER        0       /* general flags bit 0 clear */
#define AML_RES_WORD_BUS        2       /* address space resource types */
#define AML_RES_WORD_IO         1
#define AML_IO_ENTIRE_RANGE     3       /* I/O type flags _RNG */
#define AML_MEM_READ_WRITE      1       /* memory type flags _RW */
#define AML_RES_IRQ_LEN         3
#define AML_RES_IO_LEN          8
#define AML_RES_WORD_LEN        16
#define AML_RES_DWORD_LEN       26
#define AML_RES_MEM32_FIXED_LEN 12
#define AML_RES_END_LEN         2

size_t aml_res_irq(uint8_t *p, unsigned int irq);     /* irq 0-15 */
size_t aml_res_io16(uint8_t *p, uint16_t port, uint8_t len);
size_t aml_res_word(uint8_t *p, uint8_t type, uint8_t type_flags,
		    uint16_t min, uint16_t max);
size_t aml_res_dword_mem(uint8_t *p, uint32_t min, uint32_t max);
size_t aml_res_mem32_fixed(uint8_t *p, uint32_t base, uint32_t len);
size_t aml_res_end(uint8_t *p);

#endif
