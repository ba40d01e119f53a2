/*
 * The test-guest library: what a Keel test guest needs to boot, talk and
 * judge itself. The same C builds 32-bit (multiboot, flat) and 64-bit
 * (elf64) guests; the include path picks lib/x86_32 or lib/x86_64 for
 * the few layouts that differ (arch.h).
 *
 * A guest defines guest_main(). The entry code (entry32.S / entry64.S)
 * zeroes .bss, installs its own GDT (Keel leaves GDTR and IDTR empty),
 * takes a stack, and calls guest_start(), which installs an IDT that
 * catches every exception, runs guest_main() and then test_finish():
 *
 *   [name] ... output of the test ...
 *   [name] FAIL cpuid.c:42: leaf1.ecx & VMX == 0: 0x20 (32) != 0x0 (0)
 *   [name] FAIL (1 checks failed)   or   [name] PASS
 *
 * and the debug-exit port gets 0 (pass) or 1 (fail).
 */
#ifndef KEEL_TEST_GUEST_H
#define KEEL_TEST_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "x86.h"
#include "multiboot.h"
#include "guest/hypercall.h"

#define __noreturn      __attribute__((noreturn))
#define __printf(a, b)  __attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a)   (sizeof(a) / sizeof((a)[0]))

/* Exit codes a guest writes to the debug-exit port. */
#define EXIT_PASS       0
#define EXIT_FAIL       1
#define EXIT_TRAP       2       /* an exception nobody expected */

/* What the loader passed in EAX and EBX. */
extern uint32_t boot_magic;
extern const struct mb1_info *boot_info;
/* Linker symbols: the image in guest-physical memory. */
extern char __image_start[], __image_end[];

/* Provided by the test. */
void guest_main(void);

/* Serial console (COM1). */
void putc(char c);
void puts(const char *s);               /* adds a newline */
int printf(const char *fmt, ...) __printf(1, 2);
int vprintf(const char *fmt, va_list ap);

/* Ending. exit_port() only writes the port (which may be absent);
 * guest_exit() falls back to the exit hypercall, then to cli; hlt. */
void exit_port(uint32_t code);
__noreturn void guest_exit(uint32_t code);

/* Checks. Each failure prints where and what differed and is counted. */
#define EXPECT(cond) \
	check_true(!!(cond), #cond, __FILE__, __LINE__)
#define EXPECT_EQ(a, b) \
	check_eq((uint64_t)(a), (uint64_t)(b), #a, #b, __FILE__, __LINE__)
#define EXPECT_NE(a, b) \
	check_ne((uint64_t)(a), (uint64_t)(b), #a, #b, __FILE__, __LINE__)
bool check_true(bool ok, const char *expr, const char *file, int line);
bool check_eq(uint64_t a, uint64_t b, const char *as, const char *bs,
	      const char *file, int line);
bool check_ne(uint64_t a, uint64_t b, const char *as, const char *bs,
	      const char *file, int line);
unsigned int checks_failed(void);
/* Prints PASS or FAIL (n checks failed) and exits 0 or 1 by the port. */
__noreturn void test_finish(void);

/*
 * Exceptions. An instruction that may fault is listed in the .ex_table
 * section with the address to continue at (EX_TABLE, inside the asm
 * statement that holds the instruction); the handler records the fault in
 * trap_last and resumes there. Any other exception prints a register dump
 * and ends the guest with EXIT_TRAP.
 */
#define EX_TABLE(fault, fixup) \
	".pushsection .ex_table, \"a\"\n\t.balign " ASM_PTR_ALIGN "\n\t" \
	ASM_PTR " " fault ", " fixup "\n\t.popsection\n"

#define TRAP_NONE       (-1)
#define VEC_UD          6
#define VEC_GP          13
#define VEC_PF          14
struct trap_record {
	int vector;                     /* TRAP_NONE: nothing since trap_arm() */
	uint32_t error;
	uintptr_t ip;
	uintptr_t flags;                /* the RFLAGS image the CPU pushed */
};
extern volatile struct trap_record trap_last;
void trap_init(void);
void trap_handle(struct trap_frame *f);
static inline void trap_arm(void)
{
	trap_last.vector = TRAP_NONE;
}

/* Instructions that may raise #GP: true when they completed. */
bool rdmsr_safe(uint32_t msr, uint64_t *val);
bool wrmsr_safe(uint32_t msr, uint64_t val);

/* Keel hypercalls (guest/hypercall.h). */
static inline long vmcall3(unsigned long nr, unsigned long a1,
			   unsigned long a2, unsigned long a3)
{
	long ret;

	__asm__ volatile("vmcall" : "=a"(ret)
			 : "a"(nr), "b"(a1), "c"(a2), "d"(a3) : "memory");
	return ret;
}

static inline long hc_counter(unsigned long id)
{
	return vmcall3(KEEL_HC_COUNTER, id, 0, 0);
}

/* Keel runs this guest on shadow page tables (no EPT): CPUID 0x40000001. */
static inline bool keel_shadow_paging(void)
{
	return cpuid(0x40000001, 0).eax & KEEL_FEATURE_SHADOW_PAGING;
}

/* Multiboot information. */
const char *mb_cmdline(void);           /* "" when none */
/* Value of `key=` in the command line, copied into buf; false if absent. */
bool cmdline_get(const char *key, char *buf, size_t size);
/* `key=` as a number from 1 to max (parse_size syntax), dflt if absent;
 * a bad value fails a check and gives dflt. */
uint32_t cmdline_number(const char *key, uint32_t dflt, uint32_t max);
/* "16M", "4096", "0x1000", "1G" -> bytes; false on bad syntax. */
bool parse_size(const char *s, uint64_t *out);
/* Bytes from 1 MiB up to the end of RAM (mem_upper), 0 if unknown. */
uint64_t mb_ram_end(void);

/* 64-bit arithmetic that 32-bit code cannot leave to libgcc. */
uint64_t udiv64(uint64_t n, uint64_t d, uint64_t *rem);

/* String and memory helpers (the compiler may also call the mem ones). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

#endif
