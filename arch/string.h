/* The few C string and memory functions Keel's code may use. In Keel they
 * come from arch/string.c; in host builds (KEEL_HOST defined) from libc, so
 * pure libraries include this one header either way. */
#ifndef KEEL_ARCH_STRING_H
#define KEEL_ARCH_STRING_H

#include "arch/compiler.h"

#ifdef KEEL_HOST
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
#endif

#endif
