/*
 * Fields at byte offsets of a little-endian buffer (boot headers, zero
 * pages, ACPI tables): x86 is little-endian and allows unaligned access;
 * memcpy says so to the compiler without an alignment assumption.
 */
#ifndef KEEL_ARCH_BYTES_H
#define KEEL_ARCH_BYTES_H

#include "arch/compiler.h"

static inline uint8_t get8(const uint8_t *p, size_t off)
{
	return p[off];
}

static inline uint16_t get16(const uint8_t *p, size_t off)
{
	uint16_t v;

	__builtin_memcpy(&v, p + off, sizeof(v));
	return v;
}

static inline uint32_t get32(const uint8_t *p, size_t off)
{
	uint32_t v;

	__builtin_memcpy(&v, p + off, sizeof(v));
	return v;
}

static inline uint64_t get64(const uint8_t *p, size_t off)
{
	uint64_t v;

	__builtin_memcpy(&v, p + off, sizeof(v));
	return v;
}

static inline void put8(uint8_t *p, size_t off, uint8_t v)
{
	p[off] = v;
}

static inline void put16(uint8_t *p, size_t off, uint16_t v)
{
	__builtin_memcpy(p + off, &v, sizeof(v));
}

static inline void put32(uint8_t *p, size_t off, uint32_t v)
{
	__builtin_memcpy(p + off, &v, sizeof(v));
}

static inline void put64(uint8_t *p, size_t off, uint64_t v)
{
	__builtin_memcpy(p + off, &v, sizeof(v));
}

#endif
