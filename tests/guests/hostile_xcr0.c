/*
 * hostile_xcr0: XSETBV with every value a guest may try. Keel runs a
 * guest's XSETBV itself, in VMX root operation, so a value it lets through
 * that the CPU refuses stops a host CPU. Here every illegal value must
 * give this guest #GP(0) at the XSETBV, with XCR0 unchanged (XGETBV), and
 * every legal one must be set and read back (SDM Vol. 1 13.3, Vol. 2C
 * XSETBV):
 *
 *   before    CR4.OSXSAVE = 0: XSETBV and XGETBV raise #UD; after setting
 *             it XCR0 is 1, whatever an earlier guest on this CPU left
 *   triggers  0x23, 0x27, 0xc7, 0x0b, 0x20003 (each once stopped a host
 *             CPU), from XCR0 = 1 and from everything on
 *   ecx       ECX = 1 (XINUSE, read-only), 2, 0x80000000, ~0
 *   bits      each of the 64 bits alone, with x87, with x87 and SSE, and
 *             on top of everything supported (the reserved ones)
 *   all       every subset of what CPUID.(0xd,0) offers, legal or not
 *   use       AVX and AVX-512 instructions raise #UD exactly when XCR0
 *             says they are off
 *   ring 3    (32-bit) XSETBV at CPL 3: #GP(0)
 *   upper     (64-bit) the upper halves of RCX, RAX and RDX are ignored
 *   snapshot  XMM registers with XCR0 = 1, then the vector registers with
 *             everything on, come back from a snapshot restore
 *
 * The legality rules here are written independently of Keel's
 * (vmx/xcr0.c), from the SDM.
 */
#include "guest.h"

#define CPUID1_ECX_XSAVE    (1u << 26)
#define CPUID1_ECX_OSXSAVE  (1u << 27)
#define CPUID1_ECX_AVX      (1u << 28)
#define CPUID7_EBX_AVX512F  (1u << 16)
#define CR4_OSFXSR          (1u << 9)
#define CR4_OSXSAVE         (1u << 18)
#define XCR0_KNOWN          0x602ffULL      /* bits 0-7, 9, 17, 18 */
#define XCR0_SSE_STATE      0x3ULL
#define XCR0_AVX_STATE      0x7ULL
#define XCR0_AVX512_STATE   0xe0ULL
#define MAX_REPORTS         12
#define EXIT_REASON_XSETBV  55

static uint64_t supported;      /* CPUID.(0xd,0).EDX:EAX */
static unsigned int refused, accepted, reports;

/* XSETBV and XGETBV that may fault: true when they completed. The fixup
 * is found only at the XSETBV's own address, so a #GP reported after
 * the instruction (RIP advanced) is an unexpected exception. */
static bool xsetbv_safe(uint32_t ecx, uint64_t val)
{
	trap_arm();
	__asm__ volatile("1: xsetbv\n2:\n" EX_TABLE("1b", "2b")
			 :: "c"(ecx), "a"((uint32_t)val),
			    "d"((uint32_t)(val >> 32)) : "memory");
	return trap_last.vector == TRAP_NONE;
}

static bool xgetbv_safe(uint32_t ecx, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;

	trap_arm();
	__asm__ volatile("1: xgetbv\n2:\n" EX_TABLE("1b", "2b")
			 : "+a"(lo), "+d"(hi) : "c"(ecx) : "memory");
	*val = ((uint64_t)hi << 32) | lo;
	return trap_last.vector == TRAP_NONE;
}

static uint64_t xcr0_read(void)
{
	uint64_t v = ~0ULL;

	EXPECT(xgetbv_safe(0, &v));
	return v;
}

/* The SDM's rules, feature by feature. */
static bool xcr0_legal(uint64_t v)
{
	unsigned int mpx = (v >> 3) & 3, avx512 = (v >> 5) & 7;
	unsigned int amx = (v >> 17) & 3;

	if (v & ~supported)
		return false;
	if (!(v & 1))                           /* x87 */
		return false;
	if ((v & 4) && !(v & 2))                /* AVX needs SSE */
		return false;
	if (mpx == 1 || mpx == 2)               /* BNDREGS = BNDCSR */
		return false;
	if (avx512 && (avx512 != 7 || !(v & 4)))        /* all, with AVX */
		return false;
	if (amx == 1 || amx == 2)               /* XTILECFG = XTILEDATA */
		return false;
	return true;
}

static void report(const char *what, uint32_t ecx, uint64_t val,
		   bool done, uint64_t before, uint64_t after)
{
	if (reports++ < MAX_REPORTS)
		printf("%s: xsetbv ecx %#x value %#llx: %s (vector %d error "
		       "%#x), xcr0 %#llx -> %#llx\n", what, ecx,
		       (unsigned long long)val, done ? "completed" : "faulted",
		       trap_last.vector, trap_last.error,
		       (unsigned long long)before, (unsigned long long)after);
}

/* An illegal XSETBV: #GP(0), XCR0 as it was. */
static void expect_gp(uint32_t ecx, uint64_t val)
{
	uint64_t before = xcr0_read(), after;
	bool done = xsetbv_safe(ecx, val);
	int vector = trap_last.vector;
	uint32_t error = trap_last.error;

	after = xcr0_read();
	if (!done && vector == VEC_GP && error == 0 && after == before) {
		refused++;
		return;
	}
	report("not refused", ecx, val, done, before, after);
	check_true(false, "illegal XSETBV: #GP(0), XCR0 unchanged", __FILE__,
		   __LINE__);
	if (after != before)
		xsetbv_safe(0, before);
}

/* A legal one: it completes and XGETBV reads it back. */
static void expect_set(uint64_t val)
{
	uint64_t before = xcr0_read(), after;
	bool done = xsetbv_safe(0, val);

	after = xcr0_read();
	if (done && after == val) {
		accepted++;
		return;
	}
	report("not set", 0, val, done, before, after);
	check_true(false, "legal XSETBV sets XCR0", __FILE__, __LINE__);
}

static void try_value(uint64_t val)
{
	if (xcr0_legal(val))
		expect_set(val);
	else
		expect_gp(0, val);
}

static void set_xcr0(uint64_t val)
{
	EXPECT(xsetbv_safe(0, val));
	EXPECT_EQ(xcr0_read(), val);
}

static void test_before_osxsave(void)
{
	uint64_t v;

	EXPECT_EQ(cr4_read() & CR4_OSXSAVE, 0);
	EXPECT_EQ(cpuid(1, 0).ecx & CPUID1_ECX_OSXSAVE, 0);
	EXPECT(!xsetbv_safe(0, 1));
	EXPECT_EQ(trap_last.vector, VEC_UD);
	EXPECT(!xgetbv_safe(0, &v));
	EXPECT_EQ(trap_last.vector, VEC_UD);
	cr4_write(cr4_read() | CR4_OSXSAVE | CR4_OSFXSR);
	EXPECT_EQ(cpuid(1, 0).ecx & CPUID1_ECX_OSXSAVE, CPUID1_ECX_OSXSAVE);
	EXPECT_EQ(xcr0_read(), 1);
}

/* The values that stopped a host CPU, from XCR0 = 1 and from all on. */
static void test_triggers(void)
{
	static const uint64_t triggers[] = { 0x23, 0x27, 0xc7, 0x0b, 0x20003 };
	uint64_t bases[2] = { 1, supported };

	for (unsigned int b = 0; b < 2; b++) {
		set_xcr0(bases[b]);
		for (unsigned int i = 0; i < ARRAY_SIZE(triggers); i++) {
			EXPECT(!xcr0_legal(triggers[i]));
			expect_gp(0, triggers[i]);
		}
	}
	printf("triggers: %u refused\n", refused);
}

static void test_ecx(void)
{
	static const uint32_t ecxs[] = { 1, 2, 0x80000000u, 0xffffffffu };

	set_xcr0(XCR0_SSE_STATE);
	for (unsigned int i = 0; i < ARRAY_SIZE(ecxs); i++) {
		expect_gp(ecxs[i], 1);
		expect_gp(ecxs[i], XCR0_SSE_STATE);
		expect_gp(ecxs[i], supported);
		expect_gp(ecxs[i], 0x23);
	}
}

static void test_each_bit(void)
{
	for (unsigned int i = 0; i < 64; i++) {
		uint64_t bit = 1ULL << i;

		set_xcr0(1);
		try_value(bit);
		try_value(bit | 1);
		try_value(bit | XCR0_SSE_STATE);
		if (!(supported & bit)) {
			set_xcr0(supported);
			expect_gp(0, supported | bit);
		}
	}
}

/* Every subset of what is offered: 2^n XSETBVs, n <= 11 here. */
static void test_all_subsets(void)
{
	unsigned int legal = 0, total = 0;
	uint64_t s = supported;

	for (;;) {
		legal += xcr0_legal(s);
		total++;
		try_value(s);
		if (!s)
			break;
		s = (s - 1) & supported;
	}
	printf("subsets: %u of %u legal\n", legal, total);
}

static bool ymm_safe(void)
{
	trap_arm();
	__asm__ volatile("1: vpxor %%ymm1, %%ymm1, %%ymm1\n2:\n"
			 EX_TABLE("1b", "2b") ::: "memory");
	return trap_last.vector == TRAP_NONE;
}

static bool zmm_safe(void)
{
	trap_arm();
	__asm__ volatile("1: vpxord %%zmm1, %%zmm1, %%zmm1\n2:\n"
			 EX_TABLE("1b", "2b") ::: "memory");
	return trap_last.vector == TRAP_NONE;
}

static bool has_avx(void)
{
	return (supported & XCR0_AVX_STATE) == XCR0_AVX_STATE &&
	       (cpuid(1, 0).ecx & CPUID1_ECX_AVX);
}

static bool has_avx512(void)
{
	return has_avx() && (supported & XCR0_AVX512_STATE) == XCR0_AVX512_STATE &&
	       cpuid(0, 0).eax >= 7 && (cpuid(7, 0).ebx & CPUID7_EBX_AVX512F);
}

/* The CPU's XCR0 is the one XGETBV shows: instructions follow it. */
static void test_use(void)
{
	if (!has_avx())
		return;
	set_xcr0(XCR0_SSE_STATE);
	EXPECT(!ymm_safe());
	EXPECT_EQ(trap_last.vector, VEC_UD);
	set_xcr0(XCR0_AVX_STATE);
	EXPECT(ymm_safe());
	if (!has_avx512())
		return;
	EXPECT(!zmm_safe());
	EXPECT_EQ(trap_last.vector, VEC_UD);
	expect_gp(0, XCR0_AVX_STATE | 0x20);
	EXPECT(!zmm_safe());
	set_xcr0(XCR0_AVX_STATE | XCR0_AVX512_STATE);
	EXPECT(zmm_safe());
	printf("use: AVX and AVX-512 follow XCR0\n");
}

#if GUEST_BITS == 32
/*
 * XSETBV at CPL 3. The GDT gains ring-3 code and data and a TSS (for the
 * stack of the #GP); ring3_run enters ring 3 with IRET, runs XSETBV with
 * ring3_regs (ECX, EAX, EDX) and comes back through INT 0x81, whose gate
 * allows ring 3 and restores the caller's stack.
 */
#define SEL_KERNEL_CODE     0x08
#define SEL_KERNEL_DATA     0x10
#define SEL_TSS             0x28
#define VEC_BACK            0x81
#define TSS_SIZE            104

static uint64_t gdt[6] __attribute__((aligned(8))) = {
	0,
	0x00cf9b000000ffffULL,          /* 0x08: ring 0 code */
	0x00cf93000000ffffULL,          /* 0x10: ring 0 data */
	0x00cffb000000ffffULL,          /* 0x18: ring 3 code */
	0x00cff3000000ffffULL,          /* 0x20: ring 3 data */
	0,                              /* 0x28: the TSS */
};
static uint32_t tss[TSS_SIZE / 4] __attribute__((aligned(8)));
static uint8_t ring0_stack[8192] __attribute__((aligned(16)));
uint8_t ring3_stack[4096] __attribute__((aligned(16)));
uint32_t ring3_regs[3];
uint32_t ring3_saved_esp;
extern char ring3_xsetbv[], ring3_back[];
void ring3_run(void);

__asm__(
	"	.text\n"
	"	.globl ring3_run, ring3_xsetbv, ring3_back\n"
	"ring3_run:\n"
	"	pushal\n"
	"	movl %esp, ring3_saved_esp\n"
	"	pushl $0x23\n"                  /* SS: ring 3 data */
	"	pushl $ring3_stack + 4096\n"
	"	pushfl\n"
	"	pushl $0x1b\n"                  /* CS: ring 3 code */
	"	pushl $1f\n"
	"	iret\n"
	"1:	movl $0x23, %eax\n"
	"	movl %eax, %ds\n"
	"	movl %eax, %es\n"
	"	movl ring3_regs, %ecx\n"
	"	movl ring3_regs + 4, %eax\n"
	"	movl ring3_regs + 8, %edx\n"
	"ring3_xsetbv:\n"
	"	xsetbv\n"
	"2:	int $0x81\n"
	"ring3_back:\n"                         /* ring 0, on ring0_stack */
	"	movl $0x10, %eax\n"
	"	movl %eax, %ds\n"
	"	movl %eax, %es\n"
	"	movl %eax, %fs\n"
	"	movl %eax, %gs\n"
	"	movl ring3_saved_esp, %esp\n"
	"	popal\n"
	"	ret\n"
	"	.pushsection .ex_table, \"a\"\n"
	"	.balign 4\n"
	"	.long ring3_xsetbv, 2b\n"
	"	.popsection\n");

static void ring3_setup(void)
{
	uint32_t base = (uint32_t)(uintptr_t)tss;
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) d = { sizeof(gdt) - 1, (uint32_t)(uintptr_t)gdt };

	tss[1] = (uint32_t)(uintptr_t)(ring0_stack + sizeof(ring0_stack));
	tss[2] = SEL_KERNEL_DATA;
	tss[25] = (uint32_t)TSS_SIZE << 16;     /* no I/O bitmap */
	gdt[5] = (TSS_SIZE - 1) | ((uint64_t)(base & 0xffffff) << 16) |
		 (0x89ULL << 40) | ((uint64_t)(base >> 24) << 56);
	__asm__ volatile("lgdt %0" :: "m"(d));
	__asm__ volatile("ltr %w0" :: "r"(SEL_TSS));
	idt_set_user_gate(VEC_BACK, (uintptr_t)ring3_back);
}

static void test_ring3(void)
{
	uint64_t vals[2] = { 1, has_avx() ? XCR0_AVX_STATE : XCR0_SSE_STATE };
	long exits = 0;

	ring3_setup();
	for (unsigned int i = 0; i < 2; i++) {
		uint64_t before;

		set_xcr0(XCR0_SSE_STATE);
		before = xcr0_read();
		ring3_regs[0] = 0;
		ring3_regs[1] = (uint32_t)vals[i];
		ring3_regs[2] = (uint32_t)(vals[i] >> 32);
		exits -= hc_counter(EXIT_REASON_XSETBV);
		trap_arm();
		ring3_run();
		exits += hc_counter(EXIT_REASON_XSETBV);
		EXPECT_EQ(trap_last.vector, VEC_GP);
		EXPECT_EQ(trap_last.error, 0);
		EXPECT_EQ(trap_last.ip, (uintptr_t)ring3_xsetbv);
		EXPECT_EQ(xcr0_read(), before);
	}
	/* The CPU should fault before the exit (SDM Vol. 3C 26.1.1); where
	 * it exits, Keel's own CPL check must give the same #GP. */
	printf("ring 3: xsetbv refused (%ld of 2 reached Keel)\n", exits);
}
#else
/* 64-bit mode: XSETBV reads ECX, EAX and EDX; the upper halves of RCX,
 * RAX and RDX are ignored. */
static bool xsetbv_raw(uint64_t rcx, uint64_t rax, uint64_t rdx)
{
	trap_arm();
	__asm__ volatile("1: xsetbv\n2:\n" EX_TABLE("1b", "2b")
			 :: "c"(rcx), "a"(rax), "d"(rdx) : "memory");
	return trap_last.vector == TRAP_NONE;
}

static void test_upper_halves(void)
{
	uint64_t want = has_avx() ? XCR0_AVX_STATE : XCR0_SSE_STATE;

	set_xcr0(1);
	EXPECT(xsetbv_raw(1ULL << 32, 0xdead00000000ULL | want,
			  0xbeef00000000ULL));
	EXPECT_EQ(xcr0_read(), want);
	EXPECT(!xsetbv_raw((1ULL << 32) | 1, want, 0));
	EXPECT_EQ(trap_last.vector, VEC_GP);
	EXPECT(!xsetbv_raw(0, 0xffffffff00000023ULL, 0));
	EXPECT_EQ(trap_last.vector, VEC_GP);
	EXPECT_EQ(xcr0_read(), want);
	printf("upper halves: ignored\n");
}
#endif

/*
 * Vector registers across a snapshot restore. With XCR0 = 1 the XMM
 * registers are still the guest's (CR4.OSFXSR enables them, not XCR0):
 * a restore that saved only what XCR0 names would lose them. Then with
 * everything on, YMM or ZMM registers and the opmasks.
 */
#define VEC_BYTES   512                 /* 8 registers of 64 bytes */

static uint8_t want_regs[VEC_BYTES] __attribute__((aligned(64)));
static uint8_t junk_regs[VEC_BYTES] __attribute__((aligned(64)));
static uint8_t got_regs[VEC_BYTES] __attribute__((aligned(64)));

enum vec_kind { VEC_XMM, VEC_YMM, VEC_ZMM };

#define VEC_8(op, width, reg, p) \
	op " 0*" #width "(%0), %%" reg "0\n\t" op " 1*" #width "(%0), %%" reg "1\n\t" \
	op " 2*" #width "(%0), %%" reg "2\n\t" op " 3*" #width "(%0), %%" reg "3\n\t" \
	op " 4*" #width "(%0), %%" reg "4\n\t" op " 5*" #width "(%0), %%" reg "5\n\t" \
	op " 6*" #width "(%0), %%" reg "6\n\t" op " 7*" #width "(%0), %%" reg "7\n\t"
#define VEC_8_OUT(op, width, reg) \
	op " %%" reg "0, 0*" #width "(%0)\n\t" op " %%" reg "1, 1*" #width "(%0)\n\t" \
	op " %%" reg "2, 2*" #width "(%0)\n\t" op " %%" reg "3, 3*" #width "(%0)\n\t" \
	op " %%" reg "4, 4*" #width "(%0)\n\t" op " %%" reg "5, 5*" #width "(%0)\n\t" \
	op " %%" reg "6, 6*" #width "(%0)\n\t" op " %%" reg "7, 7*" #width "(%0)\n\t"

static void vec_load(enum vec_kind k, const uint8_t *p)
{
	if (k == VEC_XMM)
		__asm__ volatile(VEC_8("movdqu", 16, "xmm", p) :: "r"(p) : "memory");
	else if (k == VEC_YMM)
		__asm__ volatile(VEC_8("vmovdqu", 32, "ymm", p) :: "r"(p) : "memory");
	else
		__asm__ volatile(VEC_8("vmovdqu64", 64, "zmm", p)
				 "kmovw 0(%0), %%k1\n\tkmovw 2(%0), %%k2\n\t"
				 "kmovw 4(%0), %%k7\n\t" :: "r"(p) : "memory");
}

static void vec_store(enum vec_kind k, uint8_t *p)
{
	if (k == VEC_XMM) {
		__asm__ volatile(VEC_8_OUT("movdqu", 16, "xmm") :: "r"(p) : "memory");
	} else if (k == VEC_YMM) {
		__asm__ volatile(VEC_8_OUT("vmovdqu", 32, "ymm") :: "r"(p) : "memory");
	} else {
		__asm__ volatile(VEC_8_OUT("vmovdqu64", 64, "zmm") :: "r"(p) : "memory");
	}
}

static uint32_t vec_bytes(enum vec_kind k)
{
	return k == VEC_XMM ? 128 : k == VEC_YMM ? 256 : 512;
}

static void test_snapshot_regs(enum vec_kind k, uint64_t xcr0, const char *name)
{
	bool ok;
	long r;

	for (unsigned int i = 0; i < VEC_BYTES; i++) {
		want_regs[i] = (uint8_t)(i * 7 + 1);
		junk_regs[i] = (uint8_t)~want_regs[i];
	}
	memset(got_regs, 0, sizeof(got_regs));
	set_xcr0(xcr0);
	vec_load(k, want_regs);
	r = vmcall3(KEEL_HC_SNAPSHOT, 0, 0, 0);
	if (r == 0) {
		vec_load(k, junk_regs);
		vmcall3(KEEL_HC_RESTORE, 0, 0, 0);
		EXPECT(!"restore returned");
		return;
	}
	vec_store(k, got_regs);
	EXPECT_EQ(r, 1);
	EXPECT_EQ(xcr0_read(), xcr0);
	ok = EXPECT(!memcmp(got_regs, want_regs, vec_bytes(k)));
	if (!ok)
		printf("snapshot %s: first bytes %02x %02x, want %02x %02x\n",
		       name, got_regs[0], got_regs[1], want_regs[0],
		       want_regs[1]);
	if (k == VEC_ZMM) {
		uint32_t k1 = 0, k7 = 0;

		__asm__ volatile("kmovw %%k1, %0\n\tkmovw %%k7, %1"
				 : "=r"(k1), "=r"(k7));
		ok &= EXPECT_EQ(k1, want_regs[0] | want_regs[1] << 8);
		ok &= EXPECT_EQ(k7, want_regs[4] | want_regs[5] << 8);
	}
	if (ok)
		printf("snapshot %s: xcr0 %#llx, registers restored\n", name,
		       (unsigned long long)xcr0);
}

void guest_main(void)
{
	struct cpuid_regs d;

	printf("cmdline: '%s'\n", mb_cmdline());
	if (!EXPECT(cpuid(1, 0).ecx & CPUID1_ECX_XSAVE))
		return;
	test_before_osxsave();
	d = cpuid(0xd, 0);
	supported = ((uint64_t)d.edx << 32) | d.eax;
	printf("xcr0: supported %#llx, area %u bytes\n",
	       (unsigned long long)supported, d.ecx);
	EXPECT_EQ(supported & XCR0_SSE_STATE, XCR0_SSE_STATE);
	EXPECT_EQ(supported & ~XCR0_KNOWN, 0);
	EXPECT(xcr0_legal(supported));
	test_triggers();
	test_ecx();
	test_each_bit();
	test_all_subsets();
	printf("xsetbv: %u refused with #GP(0), %u set and read back\n",
	       refused, accepted);
	test_use();
#if GUEST_BITS == 32
	test_ring3();
#else
	test_upper_halves();
#endif
	test_snapshot_regs(VEC_XMM, 1, "xmm");
	if (has_avx512())
		test_snapshot_regs(VEC_ZMM, supported, "zmm");
	else if (has_avx())
		test_snapshot_regs(VEC_YMM, supported, "ymm");
	set_xcr0(1);
}
