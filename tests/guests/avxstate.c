/*
 * avxstate: the AVX-512 register state across everything Keel does at an
 * exit, and across XSAVEC/XRSTOR in the compacted format (the pair Linux
 * uses when XSAVES is hidden, as Keel hides it: vmx/exit_misc.c).
 *
 * Keel does not switch the vector state or XCR0 at exits (it is built
 * with general registers only: vmx/vcpu_state.c), so every register must
 * hold what the guest put there, whichever exit came in between:
 *
 *   exits     with XCR0 = 0xe7 (x87, SSE, AVX, opmask, ZMM_Hi256,
 *             Hi16_ZMM), distinct bytes in every ZMM register (ZMM0-7,
 *             ZMM0-31 in the 64-bit build) and in k0-k7, then CPUID, OUT
 *             and IN on a testdev scratch port, MMIO writes and reads on
 *             the testdev memory (emulated by Keel), MOVDQU to and from it
 *             (the emulator reads and writes XMM registers itself), a
 *             VMCALL console write, RDMSR/WRMSR of the x2APIC TPR, timer
 *             interrupts taken in a loop, HLT woken by the timer, and HLT
 *             with a self IPI already pending; all registers checked after
 *             each, rounds with new patterns
 *   xsave     XSAVE (standard form) and XSAVEC (compacted) then XRSTOR
 *             round trips (SDM Vol. 1 13.7, 13.10, 13.8.2): for XSAVEC,
 *             XCOMP_BV = RFBM | bit 63, every component at the offset
 *             CPUID.(0xd,i) gives for the compacted form (13.4.3), the
 *             registers back after XRSTOR, with and without exits between
 *   init      the init optimization (13.6): a component put back to zero
 *             is written with its XSTATE_BV bit clear and comes back as
 *             zero, not as what an earlier XSAVEC left in the area; a
 *             single non-zero register is saved and restored
 *   made      XRSTOR of compacted images made here: components whose
 *             XSTATE_BV bit is clear come back zero; with RFBM a subset of
 *             XCOMP_BV the components come from the offsets XCOMP_BV
 *             gives, the others keep their values
 *
 * Bochs 2.7 gets XSAVEC's layout wrong (xsavec_layout_right), and with it
 * XRSTOR of a subset: those are judged only where XSAVEC lays its image
 * out right, or with the command line xsavec=judge
 * (tests/emubugs/xsavec.scn).
 *
 * The first check that fails is printed with the register and its bytes.
 */
#include "guest.h"

#define CPUID1_ECX_XSAVE    (1u << 26)
#define CPUID7_EBX_AVX512F  (1u << 16)
#define CPUID7_EBX_AVX512BW (1u << 30)
#define CPUIDD1_EAX_XSAVEC  (1u << 1)
#define CPUIDD_ECX_ALIGN64  (1u << 1)
#define CR4_OSFXSR          (1u << 9)
#define CR4_OSXMMEXCPT      (1u << 10)
#define CR4_OSXSAVE         (1u << 18)

#define XCR0_WANT           0xe7ULL   /* x87 SSE AVX opmask ZMM_Hi256 Hi16 */
#define XC_AVX              2
#define XC_OPMASK           5
#define XC_ZMM_HI256        6
#define XC_HI16_ZMM         7
#define XCOMP_COMPACT       (1ULL << 63)

/* The XSAVE area (SDM Vol. 1 13.4): legacy region, then the header. */
#define XSAVE_XMM_OFF       160
#define XSAVE_HDR_OFF       512
#define XSAVE_EXT_OFF       576
#define XSAVE_AREA          4096

#define TESTDEV_MEM         0xff000000u
#define TESTDEV_PORT        0xe0

#define MSR_APIC_BASE       0x1b
#define  APIC_BASE_EXTD     (1u << 10)
#define  APIC_BASE_EN       (1u << 11)
#define X2APIC_TPR          0x808
#define X2APIC_EOI          0x80b
#define X2APIC_SVR          0x80f
#define X2APIC_ICR          0x830
#define X2APIC_LVT_TIMER    0x832
#define X2APIC_TIMER_ICR    0x838
#define X2APIC_TIMER_DCR    0x83e
#define SVR_ENABLE          (1u << 8)
#define LVT_PERIODIC        (1u << 17)
#define DCR_DIVIDE_1        0xb
#define ICR_SELF            (1u << 18)
#define VEC_TIMER           0x50
#define VEC_SELF            0x51

#define ROUNDS              40
#define TIMER_PERIOD        20000
#define LOOP_IRQS           20
#define WAIT_TICKS          200000000ULL

#if GUEST_BITS == 64
#define NZMM                32
#else
#define NZMM                8      /* ZMM8-31 exist only in 64-bit mode */
#endif
#define NZMM_LOW            (NZMM < 16 ? NZMM : 16)  /* ZMM_Hi256's share */
#define NK                  8

/* The guest's picture of its vector registers. */
struct vregs {
	uint8_t zmm[NZMM][64];
	uint64_t k[NK];
} __attribute__((aligned(64)));

static struct vregs want, got;
static uint8_t area[XSAVE_AREA] __attribute__((aligned(64)));
static uint32_t comp_size[8], comp_align[8];   /* CPUID.(0xd,i) EAX, ECX[1] */
static bool failed_once;                        /* first failure printed */
static unsigned int failures;

/* ---- the registers -------------------------------------------------------- */

#define ZLD(n) "vmovdqu64 " #n "*64(%0), %%zmm" #n "\n\t"
#define ZST(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%0)\n\t"
#define KLD(n) "kmovq " #n "*8(%1), %%k" #n "\n\t"
#define KST(n) "kmovq %%k" #n ", " #n "*8(%1)\n\t"
#define ALL8(m) m(0) m(1) m(2) m(3) m(4) m(5) m(6) m(7)
#if GUEST_BITS == 64
#define ZHIGH(m) m(8) m(9) m(10) m(11) m(12) m(13) m(14) m(15) \
	m(16) m(17) m(18) m(19) m(20) m(21) m(22) m(23) \
	m(24) m(25) m(26) m(27) m(28) m(29) m(30) m(31)
#else
#define ZHIGH(m)
#endif

/* The C around these is built with general registers only, so nothing
 * but these statements touches the vector registers. */
static void vregs_load(const struct vregs *r)
{
	__asm__ volatile(ALL8(ZLD) ZHIGH(ZLD) ALL8(KLD)
			 :: "r"(r->zmm), "r"(r->k) : "memory");
}

static void vregs_store(struct vregs *r)
{
	__asm__ volatile(ALL8(ZST) ZHIGH(ZST) ALL8(KST)
			 :: "r"(r->zmm), "r"(r->k) : "memory");
}

/* A mixed 32-bit hash: no two registers or parts of one alike. */
static uint32_t mix(uint32_t seed, uint32_t n, uint32_t j)
{
	uint32_t x = seed * 0x9e3779b1u + n * 0x85ebca6bu + j * 0xc2b2ae35u;

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return x;
}

/* Non-zero bytes that differ from register to register and from part to
 * part (so a part found elsewhere in an XSAVE area is that part), new
 * for each seed. */
static void pattern(struct vregs *r, uint32_t seed)
{
	for (unsigned int n = 0; n < NZMM; n++)
		for (unsigned int j = 0; j < 64; j++)
			r->zmm[n][j] = (uint8_t)(mix(seed, n, j) >> 8) | 1;
	for (unsigned int n = 0; n < NK; n++)
		r->k[n] = 0x0101010101010101ULL * (uint8_t)(seed * 7 + n + 1) ^
			  ((uint64_t)(n + 1) << 56) ^ seed;
}

/* ---- judging -------------------------------------------------------------- */

static void print_bytes(const char *what, const uint8_t *b, unsigned int n)
{
	printf("  %s", what);
	for (unsigned int i = 0; i < n; i++)
		printf(" %02x", b[i]);
	printf("\n");
}

/* A register that differs: which, where, and its bytes beside the
 * expected ones; the first failure of the run is marked as such. */
static void report_where(const char *when, int round)
{
	printf("%s%s", failed_once ? "" : "FIRST FAILURE ", when);
	if (round >= 0)
		printf(" (round %d)", round);
}

static void report_zmm(const char *when, int round, unsigned int n)
{
	unsigned int first = 0;

	while (first < 64 && got.zmm[n][first] == want.zmm[n][first])
		first++;
	report_where(when, round);
	printf(": zmm%u differs from byte %u (%s)\n", n, first,
	       first < 16 ? "XMM part" : first < 32 ? "YMM upper half" :
	       "ZMM upper 256 bits");
	print_bytes("got: ", got.zmm[n], 64);
	print_bytes("want:", want.zmm[n], 64);
}

static void report_k(const char *when, int round, unsigned int n)
{
	report_where(when, round);
	printf(": k%u is %#llx, want %#llx\n", n,
	       (unsigned long long)got.k[n], (unsigned long long)want.k[n]);
}

/* Every register against `want` after `when` (in round `round`, -1:
 * none); the differences of the first few failures printed. */
static bool vregs_check(const char *when, int round)
{
	bool ok = true;

	vregs_store(&got);
	for (unsigned int n = 0; n < NZMM; n++) {
		if (!memcmp(got.zmm[n], want.zmm[n], 64))
			continue;
		if (failures < 8)
			report_zmm(when, round, n);
		failed_once = true;
		ok = false;
	}
	for (unsigned int n = 0; n < NK; n++) {
		if (got.k[n] == want.k[n])
			continue;
		if (failures < 8)
			report_k(when, round, n);
		failed_once = true;
		ok = false;
	}
	if (!ok)
		failures++;
	check_true(ok, when, __FILE__, __LINE__);
	return ok;
}

/* ---- set-up --------------------------------------------------------------- */

static void xsetbv0(uint64_t v)
{
	__asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)) : "memory");
}

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

/* What this test needs from CPUID: false (and why) if it cannot run. */
static bool cpu_has_all(void)
{
	struct cpuid_regs d0, d1;

	if (!(cpuid(1, 0).ecx & CPUID1_ECX_XSAVE) || cpuid(0, 0).eax < 0xd) {
		printf("no XSAVE\n");
		return false;
	}
	if ((cpuid(7, 0).ebx & (CPUID7_EBX_AVX512F | CPUID7_EBX_AVX512BW)) !=
	    (CPUID7_EBX_AVX512F | CPUID7_EBX_AVX512BW)) {
		printf("no AVX512F and AVX512BW\n");
		return false;
	}
	d0 = cpuid(0xd, 0);
	d1 = cpuid(0xd, 1);
	printf("cpuid 0xd: xcr0 may hold %#x, xsavec %u\n", d0.eax,
	       !!(d1.eax & CPUIDD1_EAX_XSAVEC));
	if ((d0.eax & XCR0_WANT) != XCR0_WANT) {
		printf("xcr0 %#llx not offered\n", (unsigned long long)XCR0_WANT);
		return false;
	}
	for (unsigned int i = XC_AVX; i <= XC_HI16_ZMM; i++) {
		struct cpuid_regs c = cpuid(0xd, i);

		comp_size[i] = c.eax;
		comp_align[i] = !!(c.ecx & CPUIDD_ECX_ALIGN64);
		printf("component %u: size %u, standard offset %u, align64 %u\n",
		       i, c.eax, c.ebx, comp_align[i]);
	}
	return true;
}

static void xsave_enable(void)
{
	cr4_write(cr4_read() | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_OSXSAVE);
	xsetbv0(XCR0_WANT);
	EXPECT_EQ(xgetbv0(), XCR0_WANT);
}

static void irq_handler_c(uint32_t vector);

#if GUEST_BITS == 32
__asm__(".text\n"
	"irq_timer:\n\tpushal\n\tcld\n\tpushl $0x50\n\tcall irq_handler\n"
	"\taddl $4, %esp\n\tpopal\n\tiret\n"
	"irq_self:\n\tpushal\n\tcld\n\tpushl $0x51\n\tcall irq_handler\n"
	"\taddl $4, %esp\n\tpopal\n\tiret\n");
#else
__asm__(".text\n"
	".macro avx_irq_stub name, vec\n"
	"\\name:\n"
	"	push %rax; push %rcx; push %rdx; push %rsi; push %rdi\n"
	"	push %r8; push %r9; push %r10; push %r11\n"
	"	cld\n"
	"	mov $\\vec, %edi\n"
	"	call irq_handler\n"
	"	pop %r11; pop %r10; pop %r9; pop %r8\n"
	"	pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax\n"
	"	iretq\n"
	".endm\n"
	"avx_irq_stub irq_timer, 0x50\n"
	"avx_irq_stub irq_self, 0x51\n");
#endif
extern char irq_timer[], irq_self[];

static volatile uint32_t irq_count[2];

__attribute__((used)) void irq_handler(uint32_t vector);
__attribute__((used)) void irq_handler(uint32_t vector)
{
	irq_handler_c(vector);
}

static void irq_handler_c(uint32_t vector)
{
	irq_count[vector == VEC_SELF]++;
	wrmsr(X2APIC_EOI, 0);
}

static void apic_init(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN |
			     APIC_BASE_EXTD);
	wrmsr(X2APIC_SVR, SVR_ENABLE | 0xff);
	idt_set_gate(VEC_TIMER, (uintptr_t)irq_timer);
	idt_set_gate(VEC_SELF, (uintptr_t)irq_self);
	idt_load();
}

/* ---- the exits ------------------------------------------------------------ */

static void exit_cpuid(void)
{
	(void)cpuid(0, 0);
	(void)cpuid(0xd, 1);
}

static void exit_pio(void)
{
	outl(TESTDEV_PORT, 0x5a5aa5a5u);
	EXPECT_EQ(inl(TESTDEV_PORT), 0x5a5aa5a5u);
}

static void exit_mmio(void)
{
	volatile uint32_t *m = (volatile uint32_t *)(uintptr_t)TESTDEV_MEM;

	m[4] = 0x12345678u;
	EXPECT_EQ(m[4], 0x12345678u);
}

/* MOVDQU through the emulator: Keel reads XMM1 and writes XMM2 itself.
 * A legacy-SSE write leaves bits 511:128 of the register alone (SDM
 * Vol. 1 15.5), so only zmm2's low 16 bytes change, to zmm1's. */
static void exit_mmio_sse(void)
{
	uintptr_t m = TESTDEV_MEM + 0x40;

	__asm__ volatile("movdqu %%xmm1, (%0)\n\tmovdqu (%0), %%xmm2"
			 :: "r"(m) : "memory");
	memcpy(want.zmm[2], want.zmm[1], 16);
}

static void exit_vmcall(void)
{
	static const char dot[] = "";

	EXPECT_EQ(vmcall3(KEEL_HC_CONSOLE_WRITE, (uintptr_t)dot, 0, 0), 0);
	(void)hc_counter(KEEL_COUNTER_EXITS_TOTAL);
}

static void exit_msr(void)
{
	wrmsr(X2APIC_TPR, 0x10);
	EXPECT_EQ(rdmsr(X2APIC_TPR), 0x10);
	wrmsr(X2APIC_TPR, 0);
}

/* A periodic timer firing while the loop runs with interrupts on; the
 * registers are checked between interrupts too. */
static void exit_irq_loop(void)
{
	uint32_t start = irq_count[0];
	uint64_t end = rdtsc_ordered() + WAIT_TICKS;

	wrmsr(X2APIC_TIMER_DCR, DCR_DIVIDE_1);
	wrmsr(X2APIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	wrmsr(X2APIC_TIMER_ICR, TIMER_PERIOD);
	__asm__ volatile("sti" ::: "memory");
	while (irq_count[0] - start < LOOP_IRQS && rdtsc_ordered() < end)
		if (!vregs_check("during timer interrupts", -1))
			break;
	__asm__ volatile("cli" ::: "memory");
	wrmsr(X2APIC_TIMER_ICR, 0);
	EXPECT(irq_count[0] - start >= LOOP_IRQS);
}

/* HLT until the periodic timer's next interrupt. */
static void exit_hlt_timer(void)
{
	uint32_t start = irq_count[0];

	wrmsr(X2APIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	wrmsr(X2APIC_TIMER_ICR, TIMER_PERIOD);
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	wrmsr(X2APIC_TIMER_ICR, 0);
	EXPECT(irq_count[0] != start);
}

/* HLT with a self IPI already pending (sent with IF = 0). */
static void exit_hlt_pending(void)
{
	uint32_t start = irq_count[1];

	wrmsr(X2APIC_ICR, ICR_SELF | VEC_SELF);
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	EXPECT_EQ(irq_count[1], start + 1);
}

static const struct {
	const char *name;
	void (*run)(void);
} exit_kinds[] = {
	{ "cpuid", exit_cpuid },
	{ "port i/o", exit_pio },
	{ "mmio write and read", exit_mmio },
	{ "mmio movdqu", exit_mmio_sse },
	{ "vmcall", exit_vmcall },
	{ "rdmsr/wrmsr", exit_msr },
	{ "timer interrupts in a loop", exit_irq_loop },
	{ "hlt woken by the timer", exit_hlt_timer },
	{ "hlt with an interrupt pending", exit_hlt_pending },
};

static void test_exits(void)
{
	unsigned int bad = 0;
	long before = hc_counter(KEEL_COUNTER_EXITS_TOTAL);

	for (unsigned int r = 0; r < ROUNDS; r++) {
		for (unsigned int e = 0; e < ARRAY_SIZE(exit_kinds); e++) {
			pattern(&want, r * ARRAY_SIZE(exit_kinds) + e);
			vregs_load(&want);
			exit_kinds[e].run();
			bad += !vregs_check(exit_kinds[e].name, (int)r);
		}
	}
	printf("exits: %u rounds of %u kinds, %ld exits, %u with registers "
	       "changed\n", ROUNDS, (unsigned int)ARRAY_SIZE(exit_kinds),
	       hc_counter(KEEL_COUNTER_EXITS_TOTAL) - before, bad);
}

/* ---- XSAVEC and XRSTOR ---------------------------------------------------- */

static uint32_t comp_std[8];                    /* CPUID.(0xd,i).EBX */

static void xsave_op(bool compacted, uint64_t rfbm)
{
	uint32_t lo = (uint32_t)rfbm, hi = (uint32_t)(rfbm >> 32);

	if (compacted)
		__asm__ volatile("xsavec %0" : "+m"(area) : "a"(lo), "d"(hi));
	else
		__asm__ volatile("xsave %0" : "+m"(area) : "a"(lo), "d"(hi));
}

static uint64_t area_u64(unsigned int off)
{
	uint64_t v;

	memcpy(&v, area + off, 8);
	return v;
}

/* XRSTOR, which raises #GP on a header it refuses (SDM Vol. 1 13.8):
 * false then, with the header printed. */
static bool xrstor_op(const char *name, uint64_t rfbm)
{
	trap_arm();
	__asm__ volatile("1: xrstor %0\n2:\n" EX_TABLE("1b", "2b")
			 :: "m"(area), "a"((uint32_t)rfbm),
			    "d"((uint32_t)(rfbm >> 32)) : "memory");
	if (trap_last.vector == TRAP_NONE)
		return true;
	printf("%s%s: xrstor rfbm %#llx raised vector %d; header:",
	       failed_once ? "" : "FIRST FAILURE ", name,
	       (unsigned long long)rfbm, trap_last.vector);
	for (unsigned int off = XSAVE_HDR_OFF; off < XSAVE_EXT_OFF; off += 8)
		printf(" %llx", (unsigned long long)area_u64(off));
	printf("\n");
	failed_once = true;
	return false;
}

/* Where component c starts: the standard form's fixed offset, or in the
 * compacted form the end of the previous component XCOMP_BV holds,
 * rounded up to 64 where CPUID.(0xd,c).ECX[1] asks (SDM Vol. 1 13.4.3). */
static unsigned int comp_offset(bool compacted, uint64_t xcomp, unsigned int c)
{
	unsigned int off = XSAVE_EXT_OFF;

	if (c == 1)
		return XSAVE_XMM_OFF;
	if (!compacted)
		return comp_std[c];
	for (unsigned int i = XC_AVX; i <= c; i++) {
		if (!(xcomp & (1ULL << i)))
			continue;
		if (comp_align[i])
			off = (off + 63) & ~63u;
		if (i == c)
			break;
		off += comp_size[i];
	}
	return off;
}

/* One register's share of component c, as the XSAVE area holds it: its
 * bytes in `r` and their length; false past the component's registers. */
static bool comp_part(struct vregs *r, unsigned int c, unsigned int n,
		      uint8_t **bytes, unsigned int *len)
{
	switch (c) {
	case 1:                         /* XMM0-15: bytes 15:0 */
		*bytes = r->zmm[n];
		*len = 16;
		return n < NZMM_LOW;
	case XC_AVX:                    /* YMM0-15: bytes 31:16 */
		*bytes = r->zmm[n] + 16;
		*len = 16;
		return n < NZMM_LOW;
	case XC_OPMASK:
		*bytes = (uint8_t *)&r->k[n];
		*len = 8;
		return n < NK;
	case XC_ZMM_HI256:              /* ZMM0-15: bytes 63:32 */
		*bytes = r->zmm[n] + 32;
		*len = 32;
		return n < NZMM_LOW;
	case XC_HI16_ZMM:               /* ZMM16-31, in 64-bit mode only */
		*bytes = r->zmm[16 + n];
		*len = 64;
		return NZMM > 16 && n < 16;
	}
	return false;
}

static const unsigned int checked_comps[] = {
	1, XC_AVX, XC_OPMASK, XC_ZMM_HI256, XC_HI16_ZMM,
};

static bool comp_in_use(struct vregs *r, unsigned int c)
{
	uint8_t *b;
	unsigned int len;

	for (unsigned int n = 0; comp_part(r, c, n, &b, &len); n++)
		for (unsigned int i = 0; i < len; i++)
			if (b[i])
				return true;
	return false;
}

/* Where the first 16 bytes of `b` are in the area, if anywhere: tells a
 * misplaced component from a lost one; -2 for zeros, found everywhere. */
static int area_find(const uint8_t *b, unsigned int len)
{
	bool zero = true;

	len = len < 16 ? len : 16;
	for (unsigned int i = 0; i < len; i++)
		zero &= !b[i];
	if (zero)
		return -2;
	for (unsigned int off = 0; off + len <= XSAVE_AREA; off++)
		if (!memcmp(area + off, b, len))
			return (int)off;
	return -1;
}

static void report_image(const char *name, unsigned int c, unsigned int n,
			 unsigned int off, const uint8_t *b, unsigned int len)
{
	printf("%s%s: component %u register %u at area offset %u differs "
	       "(found at %d)\n", failed_once ? "" : "FIRST FAILURE ", name,
	       c, n, off, area_find(b, len));
	print_bytes("area:", area + off, len);
	print_bytes("want:", b, len);
	failed_once = true;
}

/* Component c of the image against `want`: a component in use must have
 * its XSTATE_BV bit; one whose bit is set must hold the registers (zero
 * for one in its initial configuration, SDM Vol. 1 13.6). */
static bool image_comp_ok(const char *name, bool compacted, uint64_t xcomp,
			  unsigned int c)
{
	uint64_t xstate_bv = area_u64(XSAVE_HDR_OFF);
	unsigned int base = comp_offset(compacted, xcomp, c), len;
	uint8_t *b;

	if (!(xstate_bv & (1ULL << c))) {
		if (!comp_in_use(&want, c))
			return true;
		printf("%s%s: component %u in use, XSTATE_BV %#llx lacks it\n",
		       failed_once ? "" : "FIRST FAILURE ", name, c,
		       (unsigned long long)xstate_bv);
		failed_once = true;
		return false;
	}
	for (unsigned int n = 0; comp_part(&want, c, n, &b, &len); n++) {
		unsigned int off = base + n * len;

		if (!memcmp(area + off, b, len))
			continue;
		report_image(name, c, n, off, b, len);
		return false;
	}
	return true;
}

/* The image XSAVE or XSAVEC wrote for `want` with `rfbm`. */
static bool image_ok(const char *name, bool compacted, uint64_t rfbm)
{
	uint64_t xcomp = area_u64(XSAVE_HDR_OFF + 8);
	bool ok = true;

	if (compacted && xcomp != (rfbm | XCOMP_COMPACT)) {
		printf("%s: XCOMP_BV %#llx, want %#llx\n", name,
		       (unsigned long long)xcomp,
		       (unsigned long long)(rfbm | XCOMP_COMPACT));
		ok = false;
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(checked_comps); i++) {
		unsigned int c = checked_comps[i];

		if ((rfbm & (1ULL << c)) &&
		    !image_comp_ok(name, compacted, rfbm, c)) {
			ok = false;
			break;
		}
	}
	return check_true(ok, name, __FILE__, __LINE__);
}

/* What the registers hold after XRSTOR with rfbm of an image whose
 * XSTATE_BV is xstate_bv, over `other`: the saved components (`want`)
 * where both have them, zero where only rfbm has them (the initial
 * configuration, SDM Vol. 1 13.8.1), `other` elsewhere. */
static void merge_restored(struct vregs *other, uint64_t rfbm,
			   uint64_t xstate_bv)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(checked_comps); i++) {
		unsigned int c = checked_comps[i], len;
		uint8_t *dst, *src;

		if ((rfbm & xstate_bv) & (1ULL << c))
			continue;
		for (unsigned int n = 0; comp_part(other, c, n, &src, &len); n++) {
			comp_part(&want, c, n, &dst, &len);
			if (rfbm & (1ULL << c))
				memset(dst, 0, len);
			else
				memcpy(dst, src, len);
		}
	}
}

static void exits_between(void)
{
	exit_cpuid();
	exit_pio();
	exit_mmio();
	exit_vmcall();
	exit_msr();
	exit_hlt_pending();
}

/* Saves `want` with save_rfbm, loads other values, optionally makes
 * exits, restores with rstor_rfbm and checks image and registers. */
static bool round_trip(const char *name, bool compacted, uint64_t save_rfbm,
		       uint64_t rstor_rfbm, bool with_exits)
{
	static struct vregs other;
	bool ok;

	vregs_load(&want);
	xsave_op(compacted, save_rfbm);
	ok = image_ok(name, compacted, save_rfbm);
	pattern(&other, 0xbeef);
	vregs_load(&other);
	if (with_exits)
		exits_between();
	if (!xrstor_op(name, rstor_rfbm)) {
		check_true(false, name, __FILE__, __LINE__);
		return false;
	}
	merge_restored(&other, rstor_rfbm, ~0ULL);
	return vregs_check(name, -1) && ok;
}

static void test_round_trips(bool judge_xsavec)
{
	static const struct {
		const char *name;
		bool compacted, exits;
	} kinds[] = {
		{ "xsave/xrstor", false, false },
		{ "xsave/xrstor with exits", false, true },
		{ "xsavec/xrstor", true, false },
		{ "xsavec/xrstor with exits", true, true },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(kinds); i++) {
		unsigned int bad = 0;

		if (kinds[i].compacted && !judge_xsavec)
			continue;
		for (unsigned int r = 0; r < 4; r++) {
			memset(area, 0, sizeof(area));
			pattern(&want, 0x100 + r);
			bad += !round_trip(kinds[i].name, kinds[i].compacted,
					   XCR0_WANT, XCR0_WANT, kinds[i].exits);
		}
		printf("%s: %u of 4 round trips wrong\n", kinds[i].name, bad);
	}
}

/* Registers whose only non-zero state is in XMM (SSE): the AVX, opmask,
 * ZMM_Hi256 and Hi16_ZMM components in their initial configuration. */
static void pattern_xmm_only(struct vregs *r, uint32_t seed)
{
	pattern(r, seed);
	for (unsigned int n = 0; n < NZMM; n++)
		memset(r->zmm[n] + (n < 16 ? 16 : 0), 0, n < 16 ? 48 : 64);
	memset(r->k, 0, sizeof(r->k));
}

/* A component put back to zero after a save of non-zero values into
 * the same area, then each component alone non-zero. */
static void test_init_optimization(bool judge_xsavec)
{
	static const struct {
		unsigned int comp, reg, byte;
	} lone[] = {
		{ XC_AVX, 3, 20 }, { XC_OPMASK, 3, 0 }, { XC_ZMM_HI256, 5, 40 },
		{ XC_HI16_ZMM, 20, 7 },
	};
	unsigned int bad = 0;

	memset(area, 0, sizeof(area));
	for (unsigned int compacted = 0; compacted < 1u + judge_xsavec;
	     compacted++) {
		const char *name = compacted ? "xsavec init" : "xsave init";

		pattern(&want, 0x200);
		vregs_load(&want);
		xsave_op(compacted, XCR0_WANT);
		pattern_xmm_only(&want, 0x201);
		bad += !round_trip(name, compacted, XCR0_WANT, XCR0_WANT, false);
		for (unsigned int i = 0; i < ARRAY_SIZE(lone); i++) {
			if (lone[i].reg >= NZMM)
				continue;
			pattern_xmm_only(&want, 0x300 + i);
			if (lone[i].comp == XC_OPMASK)
				want.k[lone[i].reg] = 0x8000000000000001ULL;
			else
				want.zmm[lone[i].reg][lone[i].byte] = 0xa5;
			bad += !round_trip(compacted ? "xsavec one register" :
					   "xsave one register", compacted,
					   XCR0_WANT, XCR0_WANT, false);
		}
	}
	printf("init optimization: %u round trips wrong\n", bad);
}

/* A compacted image of `want` made here, not by XSAVEC: every component
 * of XCOMP_BV = XCR0 at its SDM offset, whatever xstate_bv says. */
static void image_build(uint64_t xstate_bv)
{
	static const uint16_t fcw_init = 0x037f;
	static const uint32_t mxcsr_init = 0x1f80;
	const uint64_t xcomp = XCR0_WANT | XCOMP_COMPACT;

	memset(area, 0, sizeof(area));
	memcpy(area, &fcw_init, sizeof(fcw_init));
	memcpy(area + 24, &mxcsr_init, sizeof(mxcsr_init));
	for (unsigned int i = 0; i < ARRAY_SIZE(checked_comps); i++) {
		unsigned int c = checked_comps[i], len;
		unsigned int base = comp_offset(true, XCR0_WANT, c);
		uint8_t *b;

		for (unsigned int n = 0; comp_part(&want, c, n, &b, &len); n++)
			memcpy(area + base + n * len, b, len);
	}
	memcpy(area + XSAVE_HDR_OFF, &xstate_bv, 8);
	memcpy(area + XSAVE_HDR_OFF + 8, &xcomp, 8);
}

/* XRSTOR of a made image with rfbm: components where XSTATE_BV has
 * them, zero where it does not (though the area holds data there), the
 * registers' own values outside rfbm; offsets follow XCOMP_BV, not RFBM
 * (SDM Vol. 1 13.8.2). */
static bool restore_made(const char *name, uint64_t xstate_bv, uint64_t rfbm)
{
	static struct vregs other;

	image_build(xstate_bv);
	pattern(&other, 0xcafe);
	vregs_load(&other);
	if (!xrstor_op(name, rfbm)) {
		check_true(false, name, __FILE__, __LINE__);
		return false;
	}
	merge_restored(&other, rfbm, xstate_bv);
	if (vregs_check(name, -1))
		return true;
	printf("  (xstate_bv %#llx, rfbm %#llx, xcomp_bv %#llx)\n",
	       (unsigned long long)xstate_bv, (unsigned long long)rfbm,
	       (unsigned long long)(XCR0_WANT | XCOMP_COMPACT));
	return false;
}

/* RFBM a subset of XCOMP_BV is judged with XSAVEC: Bochs 2.7, whose
 * XSAVEC is wrong, also takes the offsets from RFBM. */
static void test_xrstor_compacted(bool judge_subsets)
{
	static const struct {
		uint64_t xstate_bv, rfbm;
	} cases[] = {
		{ 0xe6, XCR0_WANT },            /* everything */
		{ 0x02, XCR0_WANT },            /* AVX and AVX-512 initial */
		{ 0xc2, XCR0_WANT }, { 0xa2, XCR0_WANT }, { 0x66, XCR0_WANT },
		{ 0xe6, XCR0_WANT & ~(1ULL << XC_AVX) },        /* subsets */
		{ 0xe6, 0x23 }, { 0xe6, 0x43 }, { 0xe6, 0x83 }, { 0xe6, 0x07 },
	};
	unsigned int bad = 0;

	unsigned int n = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		if (cases[i].rfbm != XCR0_WANT && !judge_subsets)
			continue;
		n++;
		pattern(&want, 0x400 + i);
		bad += !restore_made("xrstor of a made compacted image",
				     cases[i].xstate_bv, cases[i].rfbm);
	}
	printf("xrstor of made compacted images: %u of %u wrong%s\n", bad, n,
	       judge_subsets ? "" : " (rfbm = xcomp_bv only)");
}

/*
 * Where XSAVEC puts each component, found by its bytes, against where
 * the SDM puts it (13.4.3). Bochs 2.7 starts the compacted components at
 * 416, right after XMM15's slot, instead of 576 after the header: the
 * YMM halves then overwrite the header's reserved bytes and XRSTOR
 * raises #GP on the image (Linux then reloads its initial FPU state:
 * registers read as zeros), or, with those halves zero, XRSTOR loads
 * every later component from the wrong place. True when all are right.
 */
static bool xsavec_layout_right(void)
{
	static const unsigned int comps[] = {
		XC_AVX, XC_OPMASK, XC_ZMM_HI256, XC_HI16_ZMM,
	};
	bool right = true;

	pattern(&want, 0x500);
	vregs_load(&want);
	memset(area, 0, sizeof(area));
	xsave_op(true, XCR0_WANT);
	for (unsigned int i = 0; i < ARRAY_SIZE(comps); i++) {
		unsigned int c = comps[i], len;
		unsigned int sdm = comp_offset(true, XCR0_WANT, c);
		uint8_t *b;
		int found;

		if (!comp_part(&want, c, 0, &b, &len))
			continue;
		found = area_find(b, len);
		printf("xsavec layout: component %u at %d, SDM offset %u\n",
		       c, found, sdm);
		right &= found == (int)sdm;
	}
	return right;
}

#if GUEST_BITS == 64
/* The loader's page tables map only RAM; the testdev memory at
 * 0xff000000 needs the rest of the low 4 GiB (2 MiB pages). */
#define PTE_P               (1ULL << 0)
#define PTE_RW              (1ULL << 1)
#define PTE_PS              (1ULL << 7)

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));

static void map_low_4g(void)
{
	for (uint64_t i = 0; i < 4; i++) {
		pdpt[i] = (uintptr_t)pd[i] | PTE_RW | PTE_P;
		for (uint64_t j = 0; j < 512; j++)
			pd[i][j] = (i << 30 | j << 21) | PTE_PS | PTE_RW | PTE_P;
	}
	pml4[0] = (uintptr_t)pdpt | PTE_RW | PTE_P;
	cr3_write((uintptr_t)pml4);
}
#else
static void map_low_4g(void)
{
}
#endif

/* xsavec=judge: judge XSAVEC round trips even where its layout is
 * wrong (to show an emulator's bug), else only where it is right. */
static bool judge_xsavec(void)
{
	char arg[8];
	bool right;

	if (cmdline_get("xsavec", arg, sizeof(arg)) && !strncmp(arg, "judge", 6)) {
		xsavec_layout_right();
		return true;
	}
	/* Keel offers XSAVEC only where its boot probe found the layout
	 * right (vmx/vcpu_state.c): then the guest judges it too. */
	if (!(cpuid(0xd, 1).eax & CPUIDD1_EAX_XSAVEC)) {
		printf("xsavec: not offered: its round trips and XRSTOR of a "
		       "subset of XCOMP_BV not judged (xsavec=judge does)\n");
		return false;
	}
	right = xsavec_layout_right();
	if (!right)
		printf("xsavec: components not where the SDM puts them: this "
		       "CPU's XSAVEC is wrong (Bochs 2.7: from 416, not 576); "
		       "its round trips and XRSTOR of a subset of XCOMP_BV "
		       "not judged (xsavec=judge does)\n");
	return right;
}

void guest_main(void)
{
	bool xsavec_judged;

	if (!EXPECT(cpu_has_all()))
		return;
	for (unsigned int i = XC_AVX; i <= XC_HI16_ZMM; i++)
		comp_std[i] = cpuid(0xd, i).ebx;
	map_low_4g();
	xsave_enable();
	apic_init();
	test_exits();
	xsavec_judged = judge_xsavec();
	test_round_trips(xsavec_judged);
	test_init_optimization(xsavec_judged);
	test_xrstor_compacted(xsavec_judged);
}
