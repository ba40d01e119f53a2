/* Small compiler and bit helpers shared by Keel and its host-built libraries.
 * Only <stdint.h>, <stddef.h> and <stdbool.h> are used, which a freestanding
 * compiler provides, so every pure library can include this on the host. */
#ifndef KEEL_ARCH_COMPILER_H
#define KEEL_ARCH_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BIT_ULL(n)          (1ULL << (n))
#define GENMASK_ULL(h, l)   ((~0ULL >> (63 - (h))) & ~((1ULL << (l)) - 1))
#define ARRAY_SIZE(a)       (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)      (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a)    ((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a)    (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define MIN(a, b)           ((a) < (b) ? (a) : (b))
#define MAX(a, b)           ((a) > (b) ? (a) : (b))
#define KiB                 (1ULL << 10)
#define MiB                 (1ULL << 20)
#define GiB                 (1ULL << 30)

#define likely(x)           __builtin_expect(!!(x), 1)
#define unlikely(x)         __builtin_expect(!!(x), 0)
#define __packed            __attribute__((packed))
#define __aligned(n)        __attribute__((aligned(n)))
#define __noreturn          __attribute__((noreturn))
#ifndef __always_inline             /* host builds: glibc has one */
#define __always_inline     inline __attribute__((always_inline))
#endif
#define __unused            __attribute__((unused))
#define __printf(a, b)      __attribute__((format(printf, a, b)))
#define __section(s)        __attribute__((section(s)))

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define READ_ONCE(x)        (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)    (*(volatile __typeof__(x) *)&(x) = (v))

_Static_assert(GENMASK_ULL(11, 0) == 0xfffULL, "GENMASK_ULL");
_Static_assert(GENMASK_ULL(63, 12) == 0xfffffffffffff000ULL, "GENMASK_ULL");

#endif
