/* Port I/O, CPUID, TSC and MSR instructions for test guests. */
#ifndef KEEL_TEST_X86_H
#define KEEL_TEST_X86_H

#include <stdint.h>

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

#define CPUID1_ECX_VMX          (1u << 5)
#define CPUID1_ECX_HYPERVISOR   (1u << 31)

#define MSR_IA32_TSC            0x10
#define MSR_IA32_FEATURE_CONTROL 0x3a
#define  FEATURE_CONTROL_LOCK   (1u << 0)
#define  FEATURE_CONTROL_VMX_SMX (1u << 1)
#define  FEATURE_CONTROL_VMX    (1u << 2)

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* RDMSR and WRMSR that must not fault (rdmsr_safe/wrmsr_safe for those
 * that may). */
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)val),
			 "d"((uint32_t)(val >> 32)) : "memory");
}

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t sub)
{
	struct cpuid_regs r;

	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(sub));
	return r;
}

/* RDTSC after every earlier instruction has completed (SDM Vol. 2B,
 * RDTSC: LFENCE before it orders it after them). */
static inline uint64_t rdtsc_ordered(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Control registers (CPL 0). */
static inline uintptr_t cr0_read(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline uintptr_t cr3_read(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline void cr3_write(uintptr_t v)
{
	__asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory");
}

static inline uintptr_t cr4_read(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void cr0_write(uintptr_t v)
{
	__asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory");
}

static inline void cr4_write(uintptr_t v)
{
	__asm__ volatile("mov %0, %%cr4" :: "r"(v) : "memory");
}

#ifdef __x86_64__
/* CR8, the TPR's priority class (SDM Vol. 3A 11.8.6.1): 64-bit mode. */
static inline uint64_t cr8_read(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr8, %0" : "=r"(v));
	return v;
}

static inline void cr8_write(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr8" :: "r"(v) : "memory");
}
#endif

static inline void cpu_halt(void)
{
	__asm__ volatile("cli; hlt" ::: "memory");
}

#endif
