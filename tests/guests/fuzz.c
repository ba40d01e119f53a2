/*
 * fuzz: a guest that attacks Keel with random but reproducible input and
 * survives its own faults (the HyperCube approach). Keel's promise is that
 * a guest cannot crash, hang or starve Keel or another guest; this guest
 * tries, one step at a time, each step an action drawn from a weighted
 * table with values from an xorshift64* generator seeded from the command
 * line:
 *
 *   seed=N     the generator's seed (default 1)
 *   steps=N    steps to run (default 2000; 0: no bound)
 *   ticks=N    stop once N TSC ticks have passed (default: no bound)
 *   every=N    a progress line every N steps (default 500)
 *   trace=N    from step N on, print each step and its action before it
 *              runs: a finding at step S of seed X is bisected with
 *              seed=X steps=S+1 trace=S-K
 *
 * It ends with "fuzz: N steps, seed S, M exits" (M read from Keel's exit
 * counter) and PASS through the debug-exit port.
 *
 * Recovery: the guest owns its IDT, GDT, TSS and page tables. Every
 * exception vector 0-31 runs on an IST stack, switches back to the normal
 * address space and resumes at the current step's recovery point
 * (fuzz_setjmp) with the selectors, stack and callee-saved registers it
 * had there; after every step CR0, CR4, CR8 and XCR0 go back to their
 * baseline. A fault is counted per action, never a failure: the verdict
 * is Keel's (no exception or panic line, the neighbour guest's PASS).
 *
 * Memory (guest-physical = virtual, identity mapped):
 *
 *   0x000000 - 0x1fffff   boot information and this image: read-only
 *                         (CR0.WP = 1) while raw instructions run
 *   0x200000 - RAM end    writable playground; raw instructions may store
 *                         anywhere in it
 *     0x400000            raw code page (0xcc around the instruction)
 *     0x401000            raw entry context (registers, IRET frame)
 *     0x402000 - 0x404000 IST stack of every exception
 *     0x404000 - 0x406000 stack the raw instruction runs on
 *     0x410000 - 0x420000 data area most random pointers point into
 *   0xfee00000            xAPIC page (normal address space only)
 *   0xff000000 - +64 KiB  testdev MMIO (normal address space only)
 *
 * Nothing else is mapped: an access beyond RAM is this guest's #PF, never
 * an access Keel must stop the guest for.
 */
#include "guest.h"

#define PAGE            0x1000ULL
#define LARGE           0x200000ULL
#define PTE_P           (1ULL << 0)
#define PTE_RW          (1ULL << 1)
#define PTE_PS          (1ULL << 7)

#define IMAGE_END       0x200000ULL
#define RAW_CODE        0x400000ULL
#define RAW_CODE_AT     (RAW_CODE + 0x800)
#define RAW_CTX         0x401000ULL
#define IST_TOP         0x404000ULL
#define RAW_STACK       0x404000ULL
#define RAW_STACK_TOP   0x406000ULL
#define DATA            0x410000ULL
#define DATA_SIZE       0x10000ULL
#define XAPIC_BASE      0xfee00000ULL
#define TESTDEV_MEM     0xff000000ULL
#define TESTDEV_SIZE    0x10000ULL

#define SEL_CODE        0x08
#define SEL_DATA        0x10
#define SEL_TSS         0x18

#define RFLAGS_FIXED    0x2ULL
#define RFLAGS_TF       0x100ULL
#define RFLAGS_ARITH    0x8d5ULL        /* CF PF AF ZF SF OF */
#define RFLAGS_DF       0x400ULL
#define CR0_WP          (1ULL << 16)
#define CR0_MP          (1ULL << 1)
#define CR0_EM          (1ULL << 2)
#define CR4_OSFXSR      (1ULL << 9)
#define CR4_OSXMMEXCPT  (1ULL << 10)
#define CR4_OSXSAVE     (1ULL << 18)
#define XCR0_X87_SSE_AVX 0x7u
#define CPUID1_ECX_XSAVE (1u << 26)

#define MSR_PAT         0x277
#define MSR_APIC_BASE   0x1b
#define MSR_TSC         0x10
#define MSR_DEBUGCTL    0x1d9
#define MSR_EFER        0xc0000080

#define COUNTER_EXITS   KEEL_COUNTER_EXITS_TOTAL

/* ---- the generator ----------------------------------------------------------- */

static uint64_t rng_state;

/* xorshift64* (Vigna): a full-period 64-bit generator, cheap in Bochs. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int percent)
{
	return rnd_below(100) < percent;
}

static uint64_t pick(const uint64_t *v, size_t n)
{
	return v[rnd_below(n)];
}
#define PICK(a) pick(a, ARRAY_SIZE(a))

/* Values that sit on boundaries: zero, all ones, sign bits, one bit. */
static uint64_t rnd_interesting(void)
{
	static const uint64_t v[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL,
		~0ULL - 1, 0x0000800000000000ULL, 0xffff800000000000ULL,
	};

	return chance(30) ? 1ULL << rnd_below(64) : PICK(v);
}

static uint64_t rnd_value(void)
{
	switch (rnd_below(4)) {
	case 0:
		return rnd_interesting();
	case 1:
		return rnd() & 0xff;
	case 2:
		return rnd() & 0xffffffff;
	default:
		return rnd();
	}
}

/* ---- descriptor tables and recovery ----------------------------------------------
 *
 * Selectors as the library's GDT has them (0x08 code, 0x10 data), plus a
 * TSS whose IST1 every gate uses: a raw instruction may leave RSP anywhere.
 */
static struct tss64 tss __attribute__((aligned(16)));
static uint64_t gdt[5] __attribute__((aligned(16)));

/* What fuzz_setjmp keeps: RBX, RBP, R12-R15, RSP, RIP. */
struct jmpbuf {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

/* The last exception: vector, error code, RIP, CR2. */
struct fault {
	uint64_t vector, error, rip, cr2;
};

struct jmpbuf fuzz_jb;
volatile struct fault fuzz_fault;
uint64_t fuzz_cr3_normal;

int fuzz_setjmp(struct jmpbuf *jb) __attribute__((returns_twice));
__noreturn void fuzz_raw_enter(void);
extern const uint64_t fuzz_isr_stubs[32];

__asm__(
	".text\n"
	".global fuzz_setjmp\n"
	"fuzz_setjmp:\n\t"
	"movq %rbx, 0(%rdi)\n\t"
	"movq %rbp, 8(%rdi)\n\t"
	"movq %r12, 16(%rdi)\n\t"
	"movq %r13, 24(%rdi)\n\t"
	"movq %r14, 32(%rdi)\n\t"
	"movq %r15, 40(%rdi)\n\t"
	"leaq 8(%rsp), %rax\n\t"
	"movq %rax, 48(%rdi)\n\t"
	"movq (%rsp), %rax\n\t"
	"movq %rax, 56(%rdi)\n\t"
	"xorl %eax, %eax\n\t"
	"ret\n"
	/* Every vector: back to the normal address space, note the fault,
	 * reload the data selectors and resume at fuzz_jb with 1. */
	"fuzz_recover:\n\t"
	"movq fuzz_cr3_normal(%rip), %rax\n\t"
	"movq %rax, %cr3\n\t"
	"popq %rax\n\t"
	"movq %rax, fuzz_fault+0(%rip)\n\t"
	"popq %rax\n\t"
	"movq %rax, fuzz_fault+8(%rip)\n\t"
	"movq (%rsp), %rax\n\t"
	"movq %rax, fuzz_fault+16(%rip)\n\t"
	"movq %cr2, %rax\n\t"
	"movq %rax, fuzz_fault+24(%rip)\n\t"
	"movw $0x10, %ax\n\t"
	"movw %ax, %ds\n\t"
	"movw %ax, %es\n\t"
	"movw %ax, %fs\n\t"
	"movw %ax, %gs\n\t"
	"movw %ax, %ss\n\t"
	"leaq fuzz_jb(%rip), %rdi\n\t"
	"movq 0(%rdi), %rbx\n\t"
	"movq 8(%rdi), %rbp\n\t"
	"movq 16(%rdi), %r12\n\t"
	"movq 24(%rdi), %r13\n\t"
	"movq 32(%rdi), %r14\n\t"
	"movq 40(%rdi), %r15\n\t"
	"movq 48(%rdi), %rsp\n\t"
	"pushq $2\n\t"
	"popfq\n\t"
	"cld\n\t"
	"movl $1, %eax\n\t"
	"jmpq *56(%rdi)\n"
	/* Raw entry: RAW_CTX holds the sandbox CR3, 15 registers and an IRET
	 * frame whose RFLAGS has TF set, so that exactly one instruction runs
	 * before the #DB that brings the guest back. */
	".global fuzz_raw_enter\n"
	"fuzz_raw_enter:\n\t"
	"movq $0x401000, %rsp\n\t"
	"popq %rax\n\t"
	"movq %rax, %cr3\n\t"
	"popq %rax\n\t"
	"popq %rbx\n\t"
	"popq %rcx\n\t"
	"popq %rdx\n\t"
	"popq %rsi\n\t"
	"popq %rdi\n\t"
	"popq %rbp\n\t"
	"popq %r8\n\t"
	"popq %r9\n\t"
	"popq %r10\n\t"
	"popq %r11\n\t"
	"popq %r12\n\t"
	"popq %r13\n\t"
	"popq %r14\n\t"
	"popq %r15\n\t"
	"iretq\n");

/* The stubs: a zero error code where the CPU pushes none (SDM Vol. 3A
 * Table 6-1), then the vector. */
__asm__(
	".macro fuzz_isr vec\n"
	".balign 16\n"
	"fuzz_isr_\\vec:\n\t"
	".if !((\\vec == 8) || (\\vec >= 10 && \\vec <= 14) || (\\vec == 17) || "
	"(\\vec == 21) || (\\vec == 29) || (\\vec == 30))\n\t"
	"pushq $0\n\t"
	".endif\n\t"
	"pushq $\\vec\n\t"
	"jmp fuzz_recover\n"
	".endm\n"
	".text\n"
	".irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,"
	"22,23,24,25,26,27,28,29,30,31\n"
	"fuzz_isr \\v\n"
	".endr\n"
	".section .rodata\n"
	".balign 8\n"
	"fuzz_isr_stubs:\n"
	".irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,"
	"22,23,24,25,26,27,28,29,30,31\n"
	".quad fuzz_isr_\\v\n"
	".endr\n"
	".text\n");

static void tables_init(void)
{
	uint64_t t = (uint64_t)&tss;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gd = { sizeof(gdt) - 1, (uint64_t)gdt };

	gdt[1] = 0x00af9b000000ffffULL;         /* code, 64-bit, accessed */
	gdt[2] = 0x00cf93000000ffffULL;         /* data, accessed */
	gdt[3] = (sizeof(tss) - 1) | (t & 0xffffff) << 16 |
		 0x89ULL << 40 | ((t >> 24) & 0xff) << 56;
	gdt[4] = t >> 32;
	tss.ist[0] = IST_TOP;
	tss.iomap = sizeof(tss);
	for (unsigned int v = 0; v < 32; v++) {
		idt_set_gate(v, fuzz_isr_stubs[v]);
		idt_set_ist(v, 1);
	}
	__asm__ volatile("lgdt %0; ltr %w1" :: "m"(gd), "r"(SEL_TSS)
			 : "memory");
}

/* ---- page tables ------------------------------------------------------------------
 *
 * Two address spaces over the first 4 GiB: normal (everything RAM
 * writable, the xAPIC page and the testdev mapped in 4 KiB pages) and
 * sandbox (the first 2 MiB read-only, no MMIO).
 */
static uint64_t pml4_n[512] __attribute__((aligned(4096)));
static uint64_t pdpt_n[512] __attribute__((aligned(4096)));
static uint64_t pd_n[4][512] __attribute__((aligned(4096)));
static uint64_t pml4_s[512] __attribute__((aligned(4096)));
static uint64_t pdpt_s[512] __attribute__((aligned(4096)));
static uint64_t pd_s[4][512] __attribute__((aligned(4096)));
static uint64_t pt_apic[512] __attribute__((aligned(4096)));
static uint64_t pt_testdev[512] __attribute__((aligned(4096)));
static uint64_t ram_end, cr3_sandbox;

static void map_space(uint64_t *pml4, uint64_t *pdpt, uint64_t (*pd)[512],
		      bool sandbox)
{
	for (uint64_t a = 0; a < ram_end && a < (4ULL << 30); a += LARGE) {
		uint64_t rw = sandbox && a < IMAGE_END ? 0 : PTE_RW;

		pd[a >> 30][(a >> 21) & 511] = a | PTE_PS | rw | PTE_P;
	}
	for (unsigned int i = 0; i < 4; i++)
		pdpt[i] = (uint64_t)pd[i] | PTE_RW | PTE_P;
	pml4[0] = (uint64_t)pdpt | PTE_RW | PTE_P;
}

static void paging_init(void)
{
	map_space(pml4_n, pdpt_n, pd_n, false);
	map_space(pml4_s, pdpt_s, pd_s, true);
	pt_apic[(XAPIC_BASE >> 12) & 511] = XAPIC_BASE | PTE_RW | PTE_P;
	for (uint64_t off = 0; off < TESTDEV_SIZE; off += PAGE)
		pt_testdev[((TESTDEV_MEM + off) >> 12) & 511] =
			(TESTDEV_MEM + off) | PTE_RW | PTE_P;
	pd_n[3][(XAPIC_BASE >> 21) & 511] = (uint64_t)pt_apic | PTE_RW | PTE_P;
	pd_n[3][(TESTDEV_MEM >> 21) & 511] =
		(uint64_t)pt_testdev | PTE_RW | PTE_P;
	fuzz_cr3_normal = (uint64_t)pml4_n;
	cr3_sandbox = (uint64_t)pml4_s;
	__asm__ volatile("mov %0, %%cr3" :: "r"(fuzz_cr3_normal) : "memory");
}

/* ---- control state and its baseline ------------------------------------------------ */

static uint64_t base_cr0, base_cr4, base_xcr0;
static bool have_xsave;

static void xsetbv(uint32_t ecx, uint64_t v)
{
	__asm__ volatile("xsetbv" :: "c"(ecx), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)) : "memory");
}

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

/* CR0.WP keeps the sandbox off this image; SSE and, where offered, AVX
 * on, so that raw vector instructions run rather than #UD. */
static void control_init(void)
{
	have_xsave = cpuid(1, 0).ecx & CPUID1_ECX_XSAVE;
	cr0_write((cr0_read() | CR0_WP | CR0_MP) & ~CR0_EM);
	cr4_write(cr4_read() | CR4_OSFXSR | CR4_OSXMMEXCPT |
		  (have_xsave ? CR4_OSXSAVE : 0));
	if (have_xsave)
		xsetbv(0, cpuid(0xd, 0).eax & XCR0_X87_SSE_AVX);
	base_cr0 = cr0_read();
	base_cr4 = cr4_read();
	base_xcr0 = have_xsave ? xgetbv0() : 0;
}

/* After every step, whatever it changed (an action that faulted half way
 * may have left anything). */
static void control_restore(void)
{
	if (cr0_read() != base_cr0)
		cr0_write(base_cr0);
	if (cr4_read() != base_cr4)
		cr4_write(base_cr4);
	__asm__ volatile("mov %0, %%cr8" :: "r"(0ULL));
	if (have_xsave && xgetbv0() != base_xcr0)
		xsetbv(0, base_xcr0);
}

/* ---- actions: CPUID ------------------------------------------------------------------ */

static void act_cpuid(void)
{
	static const uint64_t leaves[] = {
		0, 1, 2, 4, 6, 7, 0xa, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x15,
		0x16, 0x18, 0x1f, 0x40000000, 0x40000001, 0x40000010,
		0x40000011, 0x4fffffff, 0x80000000, 0x80000001, 0x80000007,
		0x80000008, 0x8fffffff, 0xffffffff,
	};
	uint32_t leaf = chance(70) ? (uint32_t)PICK(leaves) : (uint32_t)rnd();
	uint32_t sub = chance(60) ? (uint32_t)rnd_below(70) : (uint32_t)rnd();

	(void)cpuid(leaf, sub);
}

/* ---- actions: MSRs ------------------------------------------------------------------ */

/* Ranges of MSRs worth hitting, first and last. Not written: EFER (LME,
 * LMA and NXE are this guest's own execution), DEBUGCTL (BTF would turn
 * the single step that ends a raw instruction into a branch step) and the
 * TSC (the ticks= bound reads it). */
static const uint32_t msr_ranges[][2] = {
	{ 0x0, 0x1 }, { 0x10, 0x10 }, { 0x17, 0x17 }, { 0x1b, 0x1b },
	{ 0x3a, 0x3b }, { 0x48, 0x49 }, { 0x8b, 0x8b }, { 0xce, 0xce },
	{ 0xe7, 0xe8 }, { 0xfe, 0xfe }, { 0x10a, 0x10b }, { 0x174, 0x17b },
	{ 0x186, 0x189 }, { 0x198, 0x19c }, { 0x1a0, 0x1a2 },
	{ 0x1d9, 0x1d9 }, { 0x200, 0x21f }, { 0x250, 0x250 },
	{ 0x258, 0x259 }, { 0x268, 0x26f }, { 0x277, 0x277 },
	{ 0x2ff, 0x2ff }, { 0x400, 0x41f }, { 0x480, 0x493 },
	{ 0x4d0, 0x4d0 }, { 0x6e0, 0x6e0 }, { 0x800, 0x8ff },
	{ 0xd90, 0xd90 }, { 0xda0, 0xda0 }, { 0x40000000, 0x40000105 },
	{ 0xc0000080, 0xc0000084 }, { 0xc0000100, 0xc0000104 },
	{ 0xc0010000, 0xc0010020 },
};

static bool msr_forbidden(uint32_t msr)
{
	return msr == MSR_EFER || msr == MSR_DEBUGCTL || msr == MSR_TSC;
}

static uint32_t rnd_msr(void)
{
	if (chance(10))
		return (uint32_t)rnd();
	const uint32_t *r = msr_ranges[rnd_below(ARRAY_SIZE(msr_ranges))];

	return r[0] + (uint32_t)rnd_below(r[1] - r[0] + 1);
}

static uint64_t base_pat;

/* A value for an MSR: its own with a bit flipped, or any. APIC_BASE
 * also gets the values that switch the APIC's modes. */
static uint64_t rnd_msr_value(uint32_t msr, uint64_t cur)
{
	static const uint64_t apic_bases[] = {
		0xfee00900, 0xfee00d00, 0xfee00100, 0xfee00500, 0,
		0xfee01900, 0xfec00900,
	};

	if (msr == MSR_APIC_BASE && chance(60))
		return PICK(apic_bases);
	if (chance(40))
		return cur ^ (1ULL << rnd_below(64));
	if (chance(20))
		return cur;
	return rnd_value();
}

static void act_msr(void)
{
	uint32_t msr = rnd_msr();
	uint64_t cur = rdmsr(msr);

	if (chance(50) || msr_forbidden(msr))
		return;
	wrmsr(msr, rnd_msr_value(msr, cur));
	if (msr == MSR_PAT)
		wrmsr(MSR_PAT, base_pat);
}

/* ---- actions: port I/O ------------------------------------------------------------------
 *
 * Not touched: the debug-exit port 0xf4-0xf7 (ends this guest by design),
 * 0x92 and 0xcf9 (reset), ACPI PM1 control and reset at 0x600-0x602, the
 * UART's transmitter (0x3f8: random bytes on the console) and its line
 * control (0x3fb) but for a restored DLAB flip.
 */
static bool port_forbidden(uint16_t port, unsigned int size)
{
	static const uint16_t bad[][2] = {
		{ 0xf4, 0xf7 }, { 0x92, 0x92 }, { 0xcf9, 0xcf9 },
		{ 0x600, 0x602 }, { 0x3f8, 0x3f8 }, { 0x3fb, 0x3fb },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (port <= bad[i][1] && port + size - 1 >= bad[i][0])
			return true;
	return false;
}

static uint16_t rnd_port(void)
{
	static const uint64_t ports[] = {
		0x20, 0x21, 0x40, 0x43, 0x60, 0x61, 0x64, 0x70, 0x71, 0x80,
		0xa0, 0xa1, 0xe0, 0xe3, 0xe6, 0xe7, 0xe9, 0x2f8, 0x3f9, 0x3fa,
		0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x402, 0x510, 0x511, 0x514, 0xcf8,
		0xcfc, 0x8900, 0xffff, 0xfffe,
	};

	return (uint16_t)(chance(70) ? PICK(ports) + rnd_below(2) : rnd());
}

static void port_out(uint16_t port, unsigned int size, uint32_t v)
{
	if (size == 1)
		outb(port, (uint8_t)v);
	else if (size == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
}

static uint32_t port_in(uint16_t port, unsigned int size)
{
	uint32_t v = 0;

	if (size == 1)
		__asm__ volatile("inb %w1, %b0" : "+a"(v) : "Nd"(port));
	else if (size == 2)
		__asm__ volatile("inw %w1, %w0" : "+a"(v) : "Nd"(port));
	else
		__asm__ volatile("inl %w1, %0" : "+a"(v) : "Nd"(port));
	return v;
}

/* REP INS/OUTS of a few units between a port and the data area: the
 * emulator's string I/O. */
static void port_string(uint16_t port, unsigned int size, bool in)
{
	uint64_t count = rnd_below(chance(90) ? 17 : 4096);
	uint64_t buf = DATA + rnd_below(DATA_SIZE - 4096 * 4);

	if (in && size == 1)
		__asm__ volatile("rep insb" : "+D"(buf), "+c"(count)
				 : "d"(port) : "memory");
	else if (in)
		__asm__ volatile("rep insl" : "+D"(buf), "+c"(count)
				 : "d"(port) : "memory");
	else if (size == 1)
		__asm__ volatile("rep outsb" : "+S"(buf), "+c"(count)
				 : "d"(port) : "memory");
	else
		__asm__ volatile("rep outsw" : "+S"(buf), "+c"(count)
				 : "d"(port) : "memory");
}

static void act_port(void)
{
	static const uint64_t sizes[] = { 1, 2, 4 };
	unsigned int size = (unsigned int)PICK(sizes);
	uint16_t port = rnd_port();

	if (port_forbidden(port, size))
		return;
	if (chance(15)) {
		port_string(port, size, chance(50));
		return;
	}
	if (chance(50))
		port_out(port, size, (uint32_t)rnd_value());
	else
		(void)port_in(port, size);
}

/* The UART's divisor latch: set DLAB, poke the divisor, put LCR back. */
static void act_uart_dlab(void)
{
	outb(0x3fb, 0x83);
	outb(0x3f8, (uint8_t)rnd());
	outb(0x3f9, (uint8_t)rnd());
	(void)inb(0x3f8);
	outb(0x3fb, 0x03);
}

/* ---- actions: control registers, CR8, XCR0 ------------------------------------------------ */

/* Bits a flip of which leaves this guest running (PG, PE and the
 * long-mode bits are left alone: CR4.PAE and LA57 are flipped, which
 * must #GP in long mode). */
#define CR0_FLIPS       0x6005002eULL   /* CD NW AM WP NE TS EM MP */
/* VME to SMXE (VMXE included: VMX is hidden, so setting it must #GP),
 * FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE, CET. */
#define CR4_FLIPS       0xf77fffULL

static void act_cr0(void)
{
	uint64_t flip = chance(90) ? CR0_FLIPS & rnd() : 1ULL << rnd_below(64);

	cr0_write(base_cr0 ^ flip);
	(void)cr0_read();
}

static void act_cr4(void)
{
	uint64_t flip = chance(90) ? CR4_FLIPS & rnd() & rnd()
				   : 1ULL << rnd_below(64);

	cr4_write(base_cr4 ^ flip);
	(void)cr4_read();
}

/* CR3 reloads with PWT/PCD and, rarely, reserved or no-flush bits. */
static void act_cr3(void)
{
	uint64_t v = fuzz_cr3_normal | (rnd() & 0x18);

	if (chance(10))
		v |= 1ULL << (52 + rnd_below(12));
	__asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory");
}

static void act_cr8(void)
{
	uint64_t v = chance(90) ? rnd_below(16) : rnd_value();

	__asm__ volatile("mov %0, %%cr8" :: "r"(v));
	__asm__ volatile("mov %%cr8, %0" : "=r"(v));
}

static void act_xsetbv(void)
{
	uint32_t ecx = chance(80) ? 0 : (uint32_t)rnd_value();
	uint64_t v;

	if (!have_xsave)
		return;
	if (chance(40))                 /* what CPUID offers: often legal */
		v = (cpuid(0xd, 0).eax & rnd()) | 1;
	else if (chance(50))
		v = (rnd() & 0x602ffULL) | (chance(80) ? 1 : 0);
	else
		v = rnd_value();
	xsetbv(ecx, v);
	(void)xgetbv0();
}

/* ---- actions: hypercalls ------------------------------------------------------------------ */

static const char console_text[] = "fuzz: console write\n";

/* Pointer-like values: the data area, near the top of RAM, past it,
 * across the 64-bit wrap, unaligned, non-canonical. */
static uint64_t rnd_pointer(void)
{
	switch (rnd_below(7)) {
	case 0:
	case 1:
		return DATA + rnd_below(DATA_SIZE);
	case 2:
		return ram_end - rnd_below(0x10000);
	case 3:
		return ram_end + rnd_below(0x10000);
	case 4:
		return ~0ULL - rnd_below(0x1000);
	case 5:
		return (DATA + rnd_below(DATA_SIZE)) | 1;
	default:
		return rnd_value();
	}
}

static uint64_t rnd_length(void)
{
	static const uint64_t v[] = {
		0, 1, 7, 8, 4095, 4096, 4097, 0x10000, 0x7fffffff,
		0x80000000, 0xffffffff, ~0ULL, ~0ULL - 7, 0x8000000000000000ULL,
	};

	return chance(50) ? PICK(v) : rnd_below(0x2000);
}

/* A pointer a hypercall may write to or print from. Never this image
 * (the dirty bitmap would land on it); the console prints only a line of
 * its own from RAM (this image's strings, printed, could read as Keel's
 * lines), and anything from the last 64 bytes of RAM on. */
static uint64_t hc_pointer(unsigned long nr, uint64_t p, uint64_t *len)
{
	if (nr == KEEL_HC_CONSOLE_WRITE) {
		if (p >= ram_end - 64 && (p < ram_end + 0x10000 || chance(50)))
			return p;
		*len = sizeof(console_text) - 1;
		return (uint64_t)console_text;
	}
	if (p >= IMAGE_END || p + 0x2000 < p)
		return p;
	return DATA + (p & 0xfff);
}

/* Every number but EXIT (ends the guest) and RESTORE (would return to
 * an earlier step, over and over). */
static void act_hypercall(void)
{
	static const uint64_t nrs[] = {
		KEEL_HC_CONSOLE_WRITE, KEEL_HC_COUNTER, KEEL_HC_COUNTER,
		KEEL_HC_SNAPSHOT, KEEL_HC_DIRTY_LOG, KEEL_HC_DIRTY_GET,
		KEEL_HC_DIRTY_GET, KEEL_HC_VCPU_START, 8, 0xff,
		0x100000000ULL, ~0ULL,
	};
	unsigned long nr = chance(90) ? PICK(nrs) : rnd_value();
	uint64_t a1 = rnd_pointer(), a2 = rnd_length(), a3 = rnd_value();

	if (nr == KEEL_HC_EXIT || nr == KEEL_HC_RESTORE)
		return;
	if (nr == KEEL_HC_SNAPSHOT && !chance(5))
		return;
	if (nr == KEEL_HC_COUNTER)
		a1 = chance(70) ? rnd_below(0x230) : rnd_value();
	if (nr == KEEL_HC_DIRTY_LOG || nr == KEEL_HC_VCPU_START)
		a1 = chance(80) ? rnd_below(5) : rnd_value();
	a1 = hc_pointer(nr, a1, &a2);
	(void)vmcall3(nr, a1, a2, a3);
}

/* ---- actions: local APIC --------------------------------------------------------------- */

#define APIC_BASE_OFF    0xfee00100ULL  /* BSP, disabled */
#define APIC_BASE_XAPIC  0xfee00900ULL  /* BSP, enabled */
#define APIC_BASE_X2APIC 0xfee00d00ULL  /* BSP, enabled, x2APIC */

/* x2APIC to xAPIC goes through disabled (SDM Vol. 3A 11.12.5). */
static void apic_mode(uint64_t base)
{
	if (base == APIC_BASE_XAPIC)
		wrmsr(MSR_APIC_BASE, APIC_BASE_OFF);
	wrmsr(MSR_APIC_BASE, base);
}

/* The xAPIC page: registers at 16-byte steps, or any offset; IF stays 0,
 * so an interrupt it raises only pends. */
static void act_xapic(void)
{
	static const uint64_t values[] = {
		0x1ff, 0xff, 0x10, 0x20030, 0x40030, 0x000c4500, 0x000c4600,
		0x00004030, 0x00084030, 0x000c0030, 0xf, 0xb,
	};
	uint64_t off = chance(80) ? rnd_below(0x40) << 4 : rnd_below(0x1000);

	if (chance(10))                 /* back to xAPIC mode, through off */
		apic_mode(APIC_BASE_XAPIC);
	volatile uint8_t *p = (volatile uint8_t *)(XAPIC_BASE + off);
	uint32_t v = chance(40) ? (uint32_t)PICK(values) : (uint32_t)rnd_value();

	switch (rnd_below(6)) {
	case 0:
		*(volatile uint32_t *)p = v;
		break;
	case 1:
		*(volatile uint8_t *)p = (uint8_t)v;
		break;
	case 2:
		*(volatile uint64_t *)p = rnd_value();
		break;
	case 3:
		(void)*(volatile uint16_t *)p;
		break;
	default:
		(void)*(volatile uint32_t *)p;
	}
}

/* x2APIC registers by MSR, with values that arm the timer and send IPIs. */
static void act_x2apic(void)
{
	static const uint64_t values[] = {
		0x1ff, 0x10, 0x20030, 0x40030, 0x44030, 0x84030, 0xc4030, 0x1,
		0x0, 0xb, 0x30, 0x100000030ULL,
	};
	uint32_t msr = 0x800 + (uint32_t)(chance(80) ? rnd_below(0x40)
						     : rnd_below(0x100));
	uint64_t v = chance(50) ? PICK(values) : rnd_value();

	if (chance(10))
		apic_mode(APIC_BASE_X2APIC);
	if (chance(40))
		(void)rdmsr(msr);
	else
		wrmsr(msr, v);
}

/* ---- actions: the testdev's MMIO, through Keel's instruction emulator -------------------- */

typedef void mmio_fn(uint64_t p, uint64_t v);

#define MMIO_FORM(name, body)						\
	static void mm_##name(uint64_t p, uint64_t v)			\
	{								\
		__asm__ volatile(body : "+r"(p), "+r"(v) :: "memory", "cc"); \
	}

MMIO_FORM(ld8, "movb (%0), %b1")
MMIO_FORM(ld16, "movw (%0), %w1")
MMIO_FORM(ld32, "movl (%0), %k1")
MMIO_FORM(ld64, "movq (%0), %1")
MMIO_FORM(st8, "movb %b1, (%0)")
MMIO_FORM(st16, "movw %w1, (%0)")
MMIO_FORM(st32, "movl %k1, (%0)")
MMIO_FORM(st64, "movq %1, (%0)")
MMIO_FORM(add, "addq %1, (%0)")
MMIO_FORM(sub, "subl (%0), %k1")
MMIO_FORM(and, "andw %w1, (%0)")
MMIO_FORM(or, "orb $0x81, (%0)")
MMIO_FORM(xor, "xorq (%0), %1")
MMIO_FORM(cmp, "cmpl %k1, (%0)")
MMIO_FORM(test, "testq %1, (%0)")
MMIO_FORM(adc, "adcl %k1, (%0)")
MMIO_FORM(inc, "incq (%0)")
MMIO_FORM(neg, "lock negl (%0)")
MMIO_FORM(not, "notw (%0)")
MMIO_FORM(xchg, "xchgq %1, (%0)")
MMIO_FORM(xadd, "lock xaddl %k1, (%0)")
MMIO_FORM(movzx, "movzbq (%0), %1")
MMIO_FORM(movsx, "movswq (%0), %1")
MMIO_FORM(movsxd, "movslq (%0), %1")
MMIO_FORM(imm, "movl $0x89abcdef, 4(%0)")
MMIO_FORM(bt, "andq $63, %1; btsq %1, (%0)")

static void mm_cmpxchg(uint64_t p, uint64_t v)
{
	uint64_t a = v;

	__asm__ volatile("lock cmpxchgq %2, (%1)" : "+a"(a) : "r"(p), "r"(~v)
			 : "memory", "cc");
}

/* MOVS between the testdev and the data area, a few units, either way. */
static void mm_movs(uint64_t p, uint64_t v)
{
	uint64_t src = v & 1 ? p : DATA, dst = v & 1 ? DATA : p;
	uint64_t n = (v >> 8) & 15;

	__asm__ volatile("rep movsb" : "+S"(src), "+D"(dst), "+c"(n)
			 :: "memory");
}

static void mm_stos(uint64_t p, uint64_t v)
{
	uint64_t n = (v >> 8) & 7;

	__asm__ volatile("rep stosl" : "+D"(p), "+c"(n) : "a"(v) : "memory");
}

static mmio_fn *const mmio_forms[] = {
	mm_ld8, mm_ld16, mm_ld32, mm_ld64, mm_st8, mm_st16, mm_st32, mm_st64,
	mm_add, mm_sub, mm_and, mm_or, mm_xor, mm_cmp, mm_test, mm_adc,
	mm_inc, mm_neg, mm_not, mm_xchg, mm_xadd, mm_movzx, mm_movsx,
	mm_movsxd, mm_imm, mm_bt, mm_cmpxchg, mm_movs, mm_stos,
};

/* An offset in the window, most near its ends and page boundaries (an
 * access that runs past the window's end is this guest's #PF). */
static uint64_t rnd_testdev_offset(void)
{
	switch (rnd_below(4)) {
	case 0:
		return TESTDEV_SIZE - 1 - rnd_below(16);
	case 1:
		return (rnd_below(16) << 12) + 0xff8 + rnd_below(8);
	default:
		return rnd_below(TESTDEV_SIZE);
	}
}

static void act_testdev(void)
{
	uint64_t p = TESTDEV_MEM + rnd_testdev_offset();

	mmio_forms[rnd_below(ARRAY_SIZE(mmio_forms))](p, rnd_value());
}

/* ---- actions: raw instruction bytes ---------------------------------------------------
 *
 * One random instruction at CPL 0 on the raw code page, with random
 * registers (mostly pointers into the data area and the raw stack) and
 * TF set: the #DB after it, or its fault, brings the guest back. Some
 * (action "forced") follow Keel's forced-emulation marker (ud2; "keel"), so that
 * Keel's instruction emulator runs them instead of the CPU (the guest's
 * configuration has force_emulation; what it does not emulate is #UD). By
 * first opcode (after prefixes) these are not run, as they would take
 * apart this guest's own environment rather than test Keel: HLT, LGDT,
 * LIDT, LLDT, LTR, LMSW, MOV to CR or DR, far jumps, calls and returns,
 * IRET, SYSCALL, SYSRET, SYSENTER, SYSEXIT, WRMSR and XSETBV (their
 * actions cover them), VMCALL (the hypercall action), POPF (could clear
 * TF), MOV SS and POP SS (hold the #DB back for one more instruction)
 * and IN, OUT, INS and OUTS (the port action, which avoids the ports
 * that end a guest).
 */
_Static_assert(RAW_CTX == 0x401000, "fuzz_raw_enter's stack");

struct raw_ctx {
	uint64_t cr3;
	uint64_t gpr[15];       /* RAX RBX RCX RDX RSI RDI RBP R8-R15 */
	uint64_t rip, cs, rflags, rsp, ss;
};

static bool is_prefix(uint8_t b)
{
	return b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 ||
	       b == 0xf3 || b == 0x2e || b == 0x36 || b == 0x3e ||
	       b == 0x26 || b == 0x64 || b == 0x65 || (b & 0xf0) == 0x40;
}

static bool raw_forbidden_1(uint8_t op, uint8_t modrm)
{
	unsigned int reg = (modrm >> 3) & 7;

	switch (op) {
	case 0xf4: case 0xcf: case 0xca: case 0xcb: case 0xea: case 0x9a:
	case 0x9d: case 0x17:
	case 0xe4: case 0xe5: case 0xe6: case 0xe7:
	case 0xec: case 0xed: case 0xee: case 0xef:
	case 0x6c: case 0x6d: case 0x6e: case 0x6f:
		return true;
	case 0x8e:
		return reg == 2;                        /* MOV SS */
	case 0xff:
		return reg == 3 || reg == 5;            /* far CALL, JMP */
	default:
		return false;
	}
}

static bool raw_forbidden_0f(uint8_t op, uint8_t modrm)
{
	unsigned int reg = (modrm >> 3) & 7;

	switch (op) {
	case 0x00:
		return reg == 2 || reg == 3;            /* LLDT, LTR */
	case 0x01:
		return modrm == 0xc1 || modrm == 0xd1 ||        /* VMCALL, XSETBV */
		       ((modrm >> 6) != 3 && (reg == 2 || reg == 3)) ||
		       reg == 6;                        /* LGDT, LIDT, LMSW */
	case 0x22: case 0x23:                           /* MOV to CR, DR */
	case 0x05: case 0x07: case 0x34: case 0x35:     /* SYS* */
	case 0x30:                                      /* WRMSR */
		return true;
	default:
		return false;
	}
}

static bool raw_forbidden(const uint8_t *b, unsigned int len)
{
	unsigned int i = 0;

	while (i < len - 3 && is_prefix(b[i]))
		i++;
	if (b[i] != 0x0f)
		return raw_forbidden_1(b[i], b[i + 1]);
	return raw_forbidden_0f(b[i + 1], b[i + 2]);
}

static uint64_t rnd_gpr(void)
{
	switch (rnd_below(10)) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		return DATA + rnd_below(DATA_SIZE);
	case 6:
		return RAW_STACK + rnd_below(RAW_STACK_TOP - RAW_STACK);
	case 7:
		return rnd_interesting();
	case 8:
		return rnd_below(0x100);
	default:
		return rnd();
	}
}

/* Bytes from prefixes, a 0x0f escape and anything, biased to forms with
 * a memory operand through a register. */
static void raw_bytes(uint8_t *b, unsigned int len)
{
	static const uint64_t prefixes[] = {
		0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x64, 0x65, 0x48, 0x41,
		0x4c,
	};
	unsigned int i = 0;

	for (uint64_t r = 0; i < len; i += 8) {
		r = rnd();
		for (unsigned int k = 0; k < 8 && i + k < len; k++)
			b[i + k] = (uint8_t)(r >> (8 * k));
	}
	i = 0;
	while (chance(25) && i < 3)
		b[i++] = (uint8_t)PICK(prefixes);
	if (chance(30))
		b[i++] = 0x0f;
	if (chance(50))
		b[i + 1] &= 0x3f;               /* mod 0: [reg] */
}

static const uint8_t force_marker[] = { 0x0f, 0x0b, 'k', 'e', 'e', 'l' };

static void raw_run(bool forced)
{
	volatile struct raw_ctx *c = (volatile struct raw_ctx *)RAW_CTX;
	uint8_t *code = (uint8_t *)RAW_CODE;
	uint8_t b[16];

	do
		raw_bytes(b, sizeof(b));
	while (raw_forbidden(b, sizeof(b)));
	memset(code, 0xcc, PAGE);
	if (forced) {
		memcpy(code + (RAW_CODE_AT - RAW_CODE), force_marker,
		       sizeof(force_marker));
		code += sizeof(force_marker);
	}
	memcpy(code + (RAW_CODE_AT - RAW_CODE), b, sizeof(b));
	c->cr3 = cr3_sandbox;
	for (unsigned int i = 0; i < 15; i++)
		c->gpr[i] = rnd_gpr();
	/* Small counts too: a REP string instruction then finishes (and
	 * RCX = 0 has its own rules); with TF, Keel and the CPU alike stop
	 * after one iteration of a larger one. */
	if (chance(40))
		c->gpr[2] = rnd_below(4);
	c->rip = RAW_CODE_AT;
	c->cs = SEL_CODE;
	c->rflags = RFLAGS_FIXED | RFLAGS_TF | (rnd() & RFLAGS_ARITH) |
		    (chance(10) ? RFLAGS_DF : 0);
	c->rsp = RAW_STACK_TOP - 0x800 + (rnd_below(0x100) << 3) -
		 (chance(10) ? rnd_below(8) : 0);
	c->ss = SEL_DATA;
	fuzz_raw_enter();
}

static void act_raw(void)
{
	raw_run(false);
}

static void act_forced(void)
{
	raw_run(true);
}

/* ---- the step loop ------------------------------------------------------------------------ */

struct action {
	const char *name;
	void (*fn)(void);
	unsigned int weight;
	uint64_t runs, faults;
};

static struct action actions[] = {
	{ "cpuid", act_cpuid, 8, 0, 0 },
	{ "msr", act_msr, 14, 0, 0 },
	{ "port", act_port, 10, 0, 0 },
	{ "uart-dlab", act_uart_dlab, 1, 0, 0 },
	{ "cr0", act_cr0, 3, 0, 0 },
	{ "cr4", act_cr4, 3, 0, 0 },
	{ "cr3", act_cr3, 2, 0, 0 },
	{ "cr8", act_cr8, 2, 0, 0 },
	{ "xsetbv", act_xsetbv, 3, 0, 0 },
	{ "hypercall", act_hypercall, 8, 0, 0 },
	{ "xapic", act_xapic, 6, 0, 0 },
	{ "x2apic", act_x2apic, 4, 0, 0 },
	{ "testdev", act_testdev, 10, 0, 0 },
	{ "raw", act_raw, 22, 0, 0 },
	{ "forced", act_forced, 12, 0, 0 },
};

static struct action *pick_action(void)
{
	unsigned int total = 0, r;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		total += actions[i].weight;
	r = (unsigned int)rnd_below(total);
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		if (r < actions[i].weight)
			return &actions[i];
		r -= actions[i].weight;
	}
	return &actions[0];
}

static uint64_t arg_u64(const char *key, uint64_t dflt)
{
	char buf[24];
	uint64_t v = 0;

	if (!cmdline_get(key, buf, sizeof(buf)) || !parse_size(buf, &v))
		return dflt;
	return v;
}

static uint64_t faults_total;

/* The action under a fresh recovery point: true when it faulted. */
static bool __attribute__((noinline)) run_recoverable(void (*fn)(void))
{
	if (fuzz_setjmp(&fuzz_jb) == 0) {
		fn();
		return false;
	}
	return true;
}

/* A raw instruction's normal end is the single-step #DB past it. */
static bool is_raw_done(const struct action *a)
{
	return (a->fn == act_raw || a->fn == act_forced) &&
	       fuzz_fault.vector == 1 && fuzz_fault.rip != RAW_CODE_AT;
}

/* One step: the action under a fresh recovery point, then the baseline. */
static void run_step(uint64_t step, uint64_t trace_from)
{
	struct action *a = pick_action();
	uint64_t state = rng_state;

	if (step >= trace_from)
		printf("fuzz: step %llu %s (rng %#llx)\n",
		       (unsigned long long)step, a->name,
		       (unsigned long long)state);
	a->runs++;
	if (run_recoverable(a->fn) && !is_raw_done(a)) {
		a->faults++;
		faults_total++;
		if (step >= trace_from)
			printf("fuzz: step %llu: vector %llu error %#llx rip "
			       "%#llx\n", (unsigned long long)step,
			       (unsigned long long)fuzz_fault.vector,
			       (unsigned long long)fuzz_fault.error,
			       (unsigned long long)fuzz_fault.rip);
	}
	control_restore();
}

static void report(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		printf("fuzz: %-10s %llu runs, %llu faulted\n", actions[i].name,
		       (unsigned long long)actions[i].runs,
		       (unsigned long long)actions[i].faults);
}

/*
 * The clock of the ticks= bound: the TSC less IA32_TSC_ADJUST. A step may
 * write IA32_TSC_ADJUST and so move the TSC by any amount either way (SDM
 * Vol. 3B 17.17.3); the difference only counts time. The TSC itself is
 * never written (MSR_TSC is not fuzzed, raw WRMSR is refused), so
 * without IA32_TSC_ADJUST the TSC is the clock.
 */
#define MSR_TSC_ADJUST  0x3b

static bool has_tsc_adjust;

static uint64_t run_clock(void)
{
	uint64_t t = rdtsc_ordered();

	return has_tsc_adjust ? t - rdmsr(MSR_TSC_ADJUST) : t;
}

void guest_main(void)
{
	uint64_t seed = arg_u64("seed", 1), steps = arg_u64("steps", 2000);
	uint64_t ticks = arg_u64("ticks", 0), every = arg_u64("every", 500);
	uint64_t trace_from = arg_u64("trace", ~0ULL), start, step;

	rng_state = seed ? seed : 1;
	ram_end = (mb_ram_end() + LARGE - 1) & ~(LARGE - 1);
	printf("fuzz: seed %llu, steps %llu, ticks %llu, RAM %llu MiB\n",
	       (unsigned long long)seed, (unsigned long long)steps,
	       (unsigned long long)ticks, (unsigned long long)(ram_end >> 20));
	tables_init();
	paging_init();
	control_init();
	base_pat = rdmsr(MSR_PAT);
	has_tsc_adjust = cpuid(7, 0).ebx & (1u << 1);
	start = run_clock();
	for (step = 0; !steps || step < steps; step++) {
		if (ticks && run_clock() - start > ticks)
			break;
		if (every && step && step % every == 0)
			printf("fuzz: step %llu, %llu faults, %ld exits\n",
			       (unsigned long long)step,
			       (unsigned long long)faults_total,
			       hc_counter(COUNTER_EXITS));
		run_step(step, trace_from);
	}
	report();
	printf("fuzz: %llu ticks\n",
	       (unsigned long long)(run_clock() - start));
	printf("fuzz: %llu steps, seed %llu, %ld exits\n",
	       (unsigned long long)step, (unsigned long long)seed,
	       hc_counter(COUNTER_EXITS));
}
