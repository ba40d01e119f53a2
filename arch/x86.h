/* x86 primitives: CPUID, MSRs, control registers, port I/O, TSC, interrupt
 * flag. Thin inline wrappers: every instruction Keel issues by hand is here,
 * so a reader finds the one place that touches each piece of hardware. */
#ifndef KEEL_ARCH_X86_H
#define KEEL_ARCH_X86_H

#include "arch/compiler.h"

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;

	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

/* MAXPHYADDR (CPUID.80000008H:EAX[7:0], SDM Vol. 3A 4.1.4); guests see
 * the host's. Read once (per file): CPUID exits when Keel runs nested. */
static inline unsigned int cpu_maxphyaddr(void)
{
	static uint8_t maxpa;

	if (__builtin_expect(!maxpa, 0))
		maxpa = (uint8_t)cpuid(0x80000008, 0).eax;
	return maxpa;
}

/* CPUID.1 feature bits Keel asks about (SDM Vol. 2A, CPUID, Table 3-10/3-11). */
#define CPUID1_ECX_VMX          BIT_ULL(5)
#define CPUID1_ECX_X2APIC       BIT_ULL(21)
#define CPUID1_ECX_TSC_DEADLINE BIT_ULL(24)
#define CPUID1_ECX_XSAVE        BIT_ULL(26)
#define CPUID1_ECX_OSXSAVE      BIT_ULL(27)
#define CPUID7_ECX_OSPKE        BIT_ULL(4)
#define CPUID1_ECX_HYPERVISOR   BIT_ULL(31)
#define CPUID1_EDX_APIC         BIT_ULL(9)
#define CPUID80000001_EDX_NX    BIT_ULL(20)
#define CPUID80000001_EDX_PDPE1GB BIT_ULL(26)
#define CPUID80000001_EDX_LM    BIT_ULL(29)

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
	__asm__ volatile("wrmsr"
			 :: "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
			 : "memory");
}

/* Extended control registers (SDM Vol. 2C, XGETBV/XSETBV); XCR0 is 0. */
static inline uint64_t xgetbv(uint32_t xcr)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void xsetbv(uint32_t xcr, uint64_t val)
{
	__asm__ volatile("xsetbv"
			 :: "c"(xcr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#define DEFINE_CR_ACCESSORS(n)                                          \
	static inline uint64_t read_cr##n(void)                         \
	{                                                               \
		uint64_t v;                                             \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));       \
		return v;                                               \
	}                                                               \
	static inline void write_cr##n(uint64_t v)                      \
	{                                                               \
		__asm__ volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); \
	}
DEFINE_CR_ACCESSORS(0)
DEFINE_CR_ACCESSORS(2)
DEFINE_CR_ACCESSORS(3)
DEFINE_CR_ACCESSORS(4)
#undef DEFINE_CR_ACCESSORS

/* Control register bits (SDM Vol. 3A 2.5). */
#define X86_CR0_PE   BIT_ULL(0)
#define X86_CR0_TS   BIT_ULL(3)
#define X86_CR0_ET   BIT_ULL(4)
#define X86_CR0_NE   BIT_ULL(5)
#define X86_CR0_WP   BIT_ULL(16)
#define X86_CR0_NW   BIT_ULL(29)
#define X86_CR0_CD   BIT_ULL(30)
#define X86_CR0_PG   BIT_ULL(31)
#define X86_CR4_PSE  BIT_ULL(4)
#define X86_CR4_PAE  BIT_ULL(5)
#define X86_CR4_PGE  BIT_ULL(7)
#define X86_CR4_OSFXSR     BIT_ULL(9)
#define X86_CR4_OSXMMEXCPT BIT_ULL(10)
#define X86_CR4_LA57 BIT_ULL(12)
#define X86_CR4_VMXE BIT_ULL(13)
#define X86_CR4_PCIDE      BIT_ULL(17)
#define X86_CR4_OSXSAVE    BIT_ULL(18)
#define X86_CR4_SMEP       BIT_ULL(20)
#define X86_CR4_SMAP       BIT_ULL(21)
#define X86_CR4_PKE        BIT_ULL(22)
/* RFLAGS (SDM Vol. 1 3.4.3). */
#define X86_RFLAGS_FIXED   BIT_ULL(1)
#define X86_RFLAGS_TF      BIT_ULL(8)
#define X86_RFLAGS_IF      BIT_ULL(9)
#define X86_RFLAGS_RF      BIT_ULL(16)
/* IA32_DEBUGCTL: single-step on branches (SDM Vol. 3A 18.4.1). */
#define DEBUGCTL_BTF       BIT_ULL(1)

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port));
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }

/*
 * Keel runs with interrupts off. Halts until an interrupt (a kick IPI)
 * arrives, one that came since the caller last looked included: STI's
 * interrupt shadow covers HLT, so a pending interrupt wakes it at once.
 * Cheaper than spinning for emulators that run all CPUs on one thread.
 */
/* An IRET to the next instruction. An NMI blocks further NMIs until the
 * next IRET (SDM Vol. 3A 6.7.1); a VM exit caused by an NMI leaves them
 * blocked as well. Keel's kernel has no red zone below RSP. */
static inline void nmi_unblock(void)
{
	__asm__ volatile("movq %%rsp, %%rdx\n\t"
			 "movl %%ss, %%eax\n\t"
			 "pushq %%rax\n\t"
			 "pushq %%rdx\n\t"
			 "pushfq\n\t"
			 "movl %%cs, %%eax\n\t"
			 "pushq %%rax\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "iretq\n"
			 "1:"
			 ::: "rax", "rdx", "memory", "cc");
}

static inline void wait_for_interrupt(void)
{
	__asm__ volatile("sti; hlt; cli" ::: "memory");
}

static inline uint64_t read_rflags(void)
{
	uint64_t f;

	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" :: "r"(va) : "memory");
}

/* Stop this CPU for good: interrupts off, then halt (NMIs return to hlt). */
static inline __noreturn void cpu_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" ::: "memory");
}

#endif
