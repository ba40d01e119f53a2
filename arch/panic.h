/* Fatal host errors. panic() stops every CPU; use it only when Keel itself
 * cannot go on. A misbehaving guest is stopped by the guest's fatal path,
 * never by panic(). */
#ifndef KEEL_ARCH_PANIC_H
#define KEEL_ARCH_PANIC_H

#include "arch/compiler.h"

extern volatile bool panic_in_progress;

__noreturn void panic(const char *fmt, ...) __printf(1, 2);

#define ASSERT(c) do {                                                  \
	if (unlikely(!(c)))                                             \
		panic("assertion failed: %s at %s:%d", #c, __FILE__, __LINE__); \
} while (0)

#endif
