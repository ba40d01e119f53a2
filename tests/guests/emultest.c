/*
 * emultest: Keel's instruction emulator seen from a guest. Built twice:
 * emultest.elf (multiboot, 32-bit, cases in emultest32.h) and
 * emultest64.elf (elf64, cases in emultest64.h: REX, RIP-relative,
 * MOVSXD, CMPXCHG16B, 64-bit operands). Needs devices = [..., "testdev"]
 * and force_emulation = true.
 *
 *   1. Every instruction form in the case list runs natively on a RAM
 *      window and then on the testdev scratch memory at 0xff000000 (never
 *      mapped: every access exits and is emulated), at an offset inside
 *      one page and at one that straddles a page boundary; and with the
 *      forced-emulation marker (ud2; "keel") on RAM and on the scratch
 *      memory. Registers, flags and the window must match the native run.
 *      All of it under each paging mode the side offers.
 *   2. The scratch ports 0xe0-0xe7: IN/OUT of each size, INS/OUTS with REP
 *      (both directions, RAM and MMIO buffers, more than one batch).
 *   3. Faults through the emulator: #PF with CR2 and error code (also in
 *      the middle of a REP), #GP, #UD for a plain ud2 and for instructions
 *      Keel does not emulate behind the marker.
 *
 *   BENCH name=mmio_emul ticks=N     ticks per emulated MMIO mov (1000)
 *   BENCH name=force_emul ticks=N    ticks per forced-emulation mov (1000)
 *
 * A case is a bit of assembly run with (E/R)BP = the window's base, FS
 * based at the window too (so moffs forms reach it), (E/R)SI = base +
 * 0x40, (E/R)DI = base + 0x100, the other registers and the flags from a
 * struct frame; `E` marks each instruction the forced variant prefixes
 * with the marker.
 */
#include "guest.h"

#define TESTDEV_MEM         0xff000000u
#define TESTDEV_PORT        0xe0
#define WINDOW              0x200u          /* bytes a case may touch */
#define SI_OFF              0x40u
#define DI_OFF              0x100u
#define EXIT_REASON_EXCEPTION 0
#define EXIT_REASON_IO      30
#define EXIT_REASON_EPT_VIOLATION 48
#define BENCH_ITERATIONS    1000u
#define MAX_REPORTS         24

#define FL_CF   0x001u
#define FL_PF   0x004u
#define FL_AF   0x010u
#define FL_ZF   0x040u
#define FL_SF   0x080u
#define FL_OF   0x800u
#define FL_DF   0x400u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
/* Flags compared: all the case defines (SDM Vol. 2 "Flags Affected"). */
#define F_ALL   (FL_ARITH | FL_DF)
#define F_LOGIC (F_ALL & ~FL_AF)            /* AND OR XOR TEST: AF undefined */
#define F_BT    (FL_CF | FL_ZF | FL_DF)     /* BT*: OF SF AF PF undefined */

#define FEP     "ud2\n.ascii \"keel\"\n"

/* Page tables (either side): identity maps with two holes. */
#define PTE_P           0x001u
#define PTE_RW          0x002u
#define PTE_PS          0x080u
#define HOLE            0x00fff000u     /* a 4 KiB page not present */
#define UNMAPPED        0x40000010u     /* in a large region not present */
#define PF_WRITE        0x2u

typedef void case_fn(void *frame);

struct paging_mode {
	const char *name;
	void (*on)(void);
	void (*off)(void);
	bool has_holes;
};

static void expect_trap(int vector, uint32_t error, uintptr_t ip)
{
	EXPECT_EQ(trap_last.vector, vector);
	EXPECT_EQ(trap_last.error, error);
	EXPECT_EQ(trap_last.ip, ip);
}

#if GUEST_BITS == 64
#include "emultest64.h"
#else
#include "emultest32.h"
#endif

struct frame {
	uintptr_t gpr[NR_GPRS];
	uintptr_t flags, base;
};

#define CASE_ASM(label, body)                                                \
	__asm__(".pushsection .text\n.balign 16\n" label ":\n"               \
		CASE_PROLOGUE body CASE_EPILOGUE ".popsection\n");
#define EMIT_NATIVE(name, mask, body)   CASE_ASM("c_" #name, body)
#define EMIT_FORCED(name, mask, body)   CASE_ASM("c_" #name "_fe", body)
#define EMIT_DECL(name, mask, body) \
	case_fn c_##name __asm__("c_" #name); \
	case_fn c_##name##_fe __asm__("c_" #name "_fe");
#define EMIT_ENTRY(name, mask, body) { #name, mask, c_##name, c_##name##_fe },

CASES(EMIT_NATIVE, "")
CASES(EMIT_FORCED, FEP)
CASES(EMIT_DECL, "")

struct emul_case {
	const char *name;
	uint32_t flags_mask;
	case_fn *native, *forced;
};

static const struct emul_case cases[] = {
	CASES(EMIT_ENTRY, "")
};

/* ---- windows in RAM and in the scratch memory ----------------------------- */

static uint8_t ram_area[2 * 4096] __attribute__((aligned(4096)));
static uint8_t pattern[WINDOW];
static uint8_t mem_ref[WINDOW], mem_got[WINDOW];

/* rep movsl: emulated when either side is the scratch memory. */
static void copy_dwords(void *dst, const void *src, uintptr_t n)
{
	__asm__ volatile("rep movsl" : "+D"(dst), "+S"(src), "+c"(n)
			 :: "memory");
}

static void *ptr(uintptr_t addr)
{
	return (void *)addr;
}

static void pattern_init(void)
{
	for (uint32_t i = 0; i < WINDOW; i++)
		pattern[i] = (uint8_t)((i * 73 + 41) ^ (i >> 3));
	pattern[0x137] = 0xef;          /* repne scasb finds this */
}

enum target { T_NATIVE, T_FORCED };

struct pass {
	const char *name;
	enum target how;
	bool mmio;
	uint32_t off;                   /* window offset in its area */
};

static const struct pass passes[] = {
	{ "mmio",          T_NATIVE, true,  0x100 },
	{ "mmio-straddle", T_NATIVE, true,  0xf80 },
	{ "forced",        T_FORCED, false, 0x100 },
	{ "forced-mmio",   T_FORCED, true,  0x100 },
};

static const uint32_t flag_inputs[] = { 0, FL_ARITH, FL_CF | FL_SF | FL_PF };

static uintptr_t window_base(bool mmio, uint32_t off)
{
	return (mmio ? TESTDEV_MEM : (uintptr_t)ram_area) + off;
}

static void run_case(case_fn *fn, uintptr_t base, uint32_t flags,
		     struct frame *f, uint8_t *mem)
{
	static const uintptr_t init[NR_GPRS] = GPR_INIT;

	copy_dwords(ptr(base), pattern, WINDOW / 4);
	set_fs_base(base);
	memcpy(f->gpr, init, sizeof(f->gpr));
	f->gpr[SI_IDX] = base + SI_OFF;
	f->gpr[DI_IDX] = base + DI_OFF;
	f->flags = flags | 2;
	f->base = base;
	fn(f);
	restore_fs();
	copy_dwords(mem, ptr(base), WINDOW / 4);
	f->gpr[SI_IDX] -= base;
	f->gpr[DI_IDX] -= base;
}

static unsigned int reports;

/* at < 0: a register or the flags; else the window byte at that offset. */
static bool mismatch(const struct emul_case *c, const struct pass *p,
		     uint32_t flags, const char *what, int at, uint64_t want,
		     uint64_t got)
{
	if (reports++ >= MAX_REPORTS)
		return false;
	printf("FAIL case %s, %s, flags in %#x: %s", c->name, p->name, flags,
	       what);
	if (at >= 0)
		printf(" +%#x", (unsigned int)at);
	printf(": native %#llx, emulated %#llx\n", (unsigned long long)want,
	       (unsigned long long)got);
	return false;
}

static bool compare_frames(const struct emul_case *c, const struct pass *p,
			   uint32_t flags, const struct frame *a,
			   const struct frame *b)
{
	static const char *const names[NR_GPRS] = GPR_NAMES;
	bool ok = true;

	for (unsigned int i = 0; i < NR_GPRS; i++)
		if (a->gpr[i] != b->gpr[i])
			ok = mismatch(c, p, flags, names[i], -1, a->gpr[i],
				      b->gpr[i]);
	if ((a->flags ^ b->flags) & c->flags_mask)
		ok = mismatch(c, p, flags, "flags", -1, a->flags, b->flags);
	return ok;
}

static bool compare_windows(const struct emul_case *c, const struct pass *p,
			    uint32_t flags)
{
	for (unsigned int i = 0; i < WINDOW; i++)
		if (mem_ref[i] != mem_got[i])
			return mismatch(c, p, flags, "window byte", (int)i,
					mem_ref[i], mem_got[i]);
	return true;
}

static void run_pass(const struct emul_case *c, const struct pass *p,
		     uint32_t flags)
{
	struct frame ref, got;
	bool ok;

	run_case(c->native, window_base(false, p->off), flags, &ref, mem_ref);
	run_case(p->how == T_FORCED ? c->forced : c->native,
		 window_base(p->mmio, p->off), flags, &got, mem_got);
	ok = compare_frames(c, p, flags, &ref, &got);
	ok &= compare_windows(c, p, flags);
	check_true(ok, "emulated run matches the native one", __FILE__,
		   __LINE__);
}

/* Every pass really went through Keel: EPT violations for the scratch
 * memory (#PF exits under shadow paging, counted with the #UD exits),
 * #UD exits for the marker. */
static void test_cases(const char *paging)
{
	unsigned int before = checks_failed();
	long ept = hc_counter(EXIT_REASON_EPT_VIOLATION);
	long ud = hc_counter(EXIT_REASON_EXCEPTION);

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++)
		for (unsigned int p = 0; p < ARRAY_SIZE(passes); p++)
			for (unsigned int f = 0; f < ARRAY_SIZE(flag_inputs); f++)
				run_pass(&cases[i], &passes[p], flag_inputs[f]);
	ept = hc_counter(EXIT_REASON_EPT_VIOLATION) - ept;
	ud = hc_counter(EXIT_REASON_EXCEPTION) - ud;
	printf("%s: %u cases x %u passes x %u flag sets: %u mismatches "
	       "(%ld EPT-violation and %ld #UD exits)\n", paging,
	       (unsigned int)ARRAY_SIZE(cases), (unsigned int)ARRAY_SIZE(passes),
	       (unsigned int)ARRAY_SIZE(flag_inputs), checks_failed() - before,
	       ept, ud);
	if (keel_shadow_paging()) {
		EXPECT(ud > 2 * (long)ARRAY_SIZE(cases));
	} else {
		EXPECT(ept > (long)ARRAY_SIZE(cases));
		EXPECT(ud > (long)ARRAY_SIZE(cases));
	}
}

/* ---- the scratch memory and ports, directly --------------------------------- */

static uint32_t mmio32(uintptr_t addr)
{
	return *(volatile uint32_t *)ptr(addr);
}

static void test_scratch_memory(void)
{
	volatile uint8_t *m8 = ptr(TESTDEV_MEM);
	volatile uint16_t *m16 = ptr(TESTDEV_MEM + 0x12);
	volatile uint32_t *straddle = ptr(TESTDEV_MEM + 0xffe);

	EXPECT_EQ(mmio32(TESTDEV_MEM), 0);
	EXPECT_EQ(mmio32(TESTDEV_MEM + 0xfffc), 0);
	m8[0] = 0xa5;
	*m16 = 0xbeef;
	*straddle = 0x11223344;
	m8[0xffff] = 0x7e;
	EXPECT_EQ(m8[0], 0xa5);
	EXPECT_EQ(m8[0x12], 0xef);
	EXPECT_EQ(m8[0x13], 0xbe);
	EXPECT_EQ(*straddle, 0x11223344);
	EXPECT_EQ(m8[0xffe], 0x44);
	EXPECT_EQ(m8[0x1001], 0x11);
	EXPECT_EQ(mmio32(TESTDEV_MEM + 0xfffc), 0x7e000000);
	copy_dwords(ptr(TESTDEV_MEM + 0x2000), pattern, WINDOW / 4);
	copy_dwords(mem_got, ptr(TESTDEV_MEM + 0x2000), WINDOW / 4);
	EXPECT_EQ(memcmp(mem_got, pattern, WINDOW), 0);
}

static void outw_(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port));
}

static void outl_(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port));
}

static uint16_t inw_(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static uint32_t inl_(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void test_ports(void)
{
	for (uint16_t i = 0; i < 8; i++) {
		uint16_t port = TESTDEV_PORT + i;

		outb(port, (uint8_t)(0x5a ^ i));
		EXPECT_EQ(inb(port), 0x5a ^ i);
		outw_(port, (uint16_t)(0xc3d2 + i));
		EXPECT_EQ(inw_(port), 0xc3d2 + i);
		outl_(port, 0x89abcd00u + i);
		EXPECT_EQ(inl_(port), 0x89abcd00u + i);
	}
	for (uint16_t i = 0; i < 8; i++)
		outl_(TESTDEV_PORT + i, 0x01010101u * (i + 1));
	for (uint16_t i = 0; i < 8; i++)
		EXPECT_EQ(inl_(TESTDEV_PORT + i), 0x01010101u * (i + 1));
	outl_(TESTDEV_PORT + 3, 0x11223344);
	EXPECT_EQ(inb(TESTDEV_PORT + 3), 0x44);
	EXPECT_EQ(inw_(TESTDEV_PORT + 3), 0x3344);
	outb(TESTDEV_PORT + 5, 0xab);
	EXPECT_EQ(inl_(TESTDEV_PORT + 5), 0xab);
}

/* ---- INS and OUTS ------------------------------------------------------------ */

static uint8_t io_buf[400] __attribute__((aligned(16)));

struct string_io {
	uintptr_t si, di, cx;
};

static struct string_io rep_outsb(const void *src, uintptr_t n, uint16_t port,
				  bool down)
{
	struct string_io r = { (uintptr_t)src, 0, n };

	if (down)
		__asm__ volatile("std; rep outsb; cld"
				 : "+S"(r.si), "+c"(r.cx) : "d"(port) : "memory");
	else
		__asm__ volatile("rep outsb"
				 : "+S"(r.si), "+c"(r.cx) : "d"(port) : "memory");
	return r;
}

static struct string_io rep_insw(void *dst, uintptr_t n, uint16_t port)
{
	struct string_io r = { 0, (uintptr_t)dst, n };

	__asm__ volatile("rep insw" : "+D"(r.di), "+c"(r.cx) : "d"(port)
			 : "memory");
	return r;
}

static void test_string_io_ram(void)
{
	struct string_io r;
	long before, exits;

	for (unsigned int i = 0; i < sizeof(io_buf); i++)
		io_buf[i] = (uint8_t)(i * 7 + 3);
	r = rep_outsb(io_buf, 10, TESTDEV_PORT + 1, false);
	EXPECT_EQ(inb(TESTDEV_PORT + 1), io_buf[9]);
	EXPECT_EQ(r.cx, 0);
	EXPECT_EQ(r.si, (uintptr_t)io_buf + 10);
	r = rep_outsb(io_buf + 19, 10, TESTDEV_PORT + 1, true);
	EXPECT_EQ(inb(TESTDEV_PORT + 1), io_buf[10]);
	EXPECT_EQ(r.si, (uintptr_t)io_buf + 9);

	outw_(TESTDEV_PORT + 2, 0xbeef);
	memset(io_buf, 0, sizeof(io_buf));
	before = hc_counter(EXIT_REASON_IO);
	r = rep_insw(io_buf, 150, TESTDEV_PORT + 2);
	exits = hc_counter(EXIT_REASON_IO) - before;
	printf("rep insw x150: %ld I/O exits\n", exits);
	EXPECT(exits >= 1 && exits < 150 / 8);
	EXPECT_EQ(r.cx, 0);
	EXPECT_EQ(r.di, (uintptr_t)io_buf + 300);
	for (unsigned int i = 0; i < 150; i++)
		EXPECT_EQ(((uint16_t *)io_buf)[i], 0xbeef);
	EXPECT_EQ(io_buf[300], 0);
}

/* INS into and OUTS from the scratch memory: the emulator reaches MMIO
 * and a port in the same instruction. */
static void test_string_io_mmio(void)
{
	uintptr_t si = TESTDEV_MEM + 0x3000, di = TESTDEV_MEM + 0x3800, cx = 70;

	copy_dwords(ptr(si), pattern, 70);
	__asm__ volatile("rep outsl" : "+S"(si), "+c"(cx)
			 : "d"(TESTDEV_PORT + 4) : "memory");
	EXPECT_EQ(inl_(TESTDEV_PORT + 4), ((uint32_t *)pattern)[69]);
	EXPECT_EQ(si, TESTDEV_MEM + 0x3000 + 280);
	cx = 70;
	outl_(TESTDEV_PORT + 6, 0xcafef00d);
	__asm__ volatile("rep insl" : "+D"(di), "+c"(cx)
			 : "d"(TESTDEV_PORT + 6) : "memory");
	EXPECT_EQ(di, TESTDEV_MEM + 0x3800 + 280);
	for (unsigned int i = 0; i < 70; i++)
		EXPECT_EQ(mmio32(TESTDEV_MEM + 0x3800 + 4 * i), 0xcafef00d);
	EXPECT_EQ(mmio32(TESTDEV_MEM + 0x3800 + 280), 0);
	/* Downwards, one byte at a time, with a segment override. */
	set_fs_base(TESTDEV_MEM + 0x3000);
	si = 0x10;
	cx = 5;
	__asm__ volatile("std; rep outsb %%fs:(" ASM_SI "), %%dx; cld"
			 : "+S"(si), "+c"(cx) : "d"(TESTDEV_PORT + 7)
			 : "memory");
	EXPECT_EQ(inb(TESTDEV_PORT + 7), pattern[0x0c]);
	EXPECT_EQ(si, 0x0b);
	restore_fs();
}

/* ---- faults through the emulator ------------------------------------------------ */

static uintptr_t read_cr2(void)
{
	uintptr_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static void test_ud(void)
{
	uintptr_t ip;
	uint32_t word = 0;

	trap_arm();
	__asm__ volatile("mov $1f, %0\n1: ud2\n2:\n" EX_TABLE("1b", "2b")
			 : "=r"(ip) :: "memory");
	expect_trap(VEC_UD, 0, ip);
	/* Behind the marker: an instruction Keel does not emulate, and LOCK
	 * on MOV (architecturally #UD). Both are reported at the marker. */
	trap_arm();
	__asm__ volatile("mov $1f, %0\n1: " FEP "rdtsc\n2:\n"
			 EX_TABLE("1b", "2b")
			 : "=r"(ip) :: "eax", "edx", "memory");
	expect_trap(VEC_UD, 0, ip);
	trap_arm();
	__asm__ volatile("mov $1f, %0\n1: " FEP ".byte 0xf0\n"
			 "movl %%eax, (%1)\n2:\n" EX_TABLE("1b", "2b")
			 : "=&r"(ip) : "r"(&word), "a"(7) : "memory");
	expect_trap(VEC_UD, 0, ip);
	EXPECT_EQ(word, 0);
}

struct stos_result {
	uintptr_t cx, di, ip, cr2;
	uint32_t error;
	int vector;
	uint8_t bytes[8];
};

/* rep stosb of 16 bytes from 8 below HOLE: natively and through the
 * marker, it stores 8 bytes and faults with the count and pointer at the
 * hole. */
static struct stos_result rep_stos_into_hole(bool forced)
{
	struct stos_result r = { .cx = 16, .di = HOLE - 8 };
	volatile uint8_t *at = ptr(HOLE - 8);

	for (unsigned int i = 0; i < 8; i++)
		at[i] = 0;
	trap_arm();
	if (forced)
		__asm__ volatile("mov $1f, %0\n1: " FEP "rep stosb\n2:\n"
				 EX_TABLE("1b", "2b")
				 : "=&r"(r.ip), "+D"(r.di), "+c"(r.cx)
				 : "a"(0x77) : "memory");
	else
		__asm__ volatile("mov $1f, %0\n1: rep stosb\n2:\n"
				 EX_TABLE("1b", "2b")
				 : "=&r"(r.ip), "+D"(r.di), "+c"(r.cx)
				 : "a"(0x77) : "memory");
	r.vector = trap_last.vector;
	r.error = trap_last.error;
	r.cr2 = read_cr2();
	for (unsigned int i = 0; i < 8; i++)
		r.bytes[i] = at[i];
	return r;
}

static void test_page_faults(void)
{
	struct stos_result n, f;
	uintptr_t ip;
	uint32_t val = 0;

	trap_arm();
	__asm__ volatile("mov $1f, %0\n1: " FEP "movl (%2), %1\n2:\n"
			 EX_TABLE("1b", "2b")
			 : "=&r"(ip), "+r"(val) : "r"((uintptr_t)UNMAPPED)
			 : "memory");
	expect_trap(VEC_PF, 0, ip);
	EXPECT_EQ(read_cr2(), UNMAPPED);
	trap_arm();
	__asm__ volatile("mov $1f, %0\n1: " FEP "movw %w1, 2(%2)\n2:\n"
			 EX_TABLE("1b", "2b")
			 : "=&r"(ip) : "r"(val), "r"((uintptr_t)HOLE)
			 : "memory");
	expect_trap(VEC_PF, PF_WRITE, ip);
	EXPECT_EQ(read_cr2(), HOLE + 2);

	n = rep_stos_into_hole(false);
	f = rep_stos_into_hole(true);
	EXPECT_EQ(n.vector, VEC_PF);
	EXPECT_EQ(f.vector, VEC_PF);
	EXPECT_EQ(f.error, n.error);
	EXPECT_EQ(f.cr2, n.cr2);
	EXPECT_EQ(f.cr2, HOLE);
	EXPECT_EQ(f.cx, n.cx);
	EXPECT_EQ(f.di, n.di);
	EXPECT_EQ(memcmp(f.bytes, n.bytes, 8), 0);
	printf("rep stosb into the hole: native cx %u di %#x, forced cx %u "
	       "di %#x\n", (unsigned int)n.cx, (unsigned int)n.di,
	       (unsigned int)f.cx, (unsigned int)f.di);
}

/* ---- ticks -------------------------------------------------------------------------- */

static void bench(void)
{
	volatile uint32_t *mmio = ptr(TESTDEV_MEM + 0x800);
	volatile uint32_t ram = 0;
	uint64_t t0, rem;

	t0 = rdtsc_ordered();
	for (uint32_t i = 0; i < BENCH_ITERATIONS; i++)
		*mmio = i;
	printf("BENCH name=mmio_emul ticks=%llu\n", (unsigned long long)
	       udiv64(rdtsc_ordered() - t0, BENCH_ITERATIONS, &rem));
	EXPECT_EQ(*mmio, BENCH_ITERATIONS - 1);

	t0 = rdtsc_ordered();
	for (uint32_t i = 0; i < BENCH_ITERATIONS; i++)
		__asm__ volatile(FEP "movl %1, %0" : "=m"(ram) : "r"(i));
	printf("BENCH name=force_emul ticks=%llu\n", (unsigned long long)
	       udiv64(rdtsc_ordered() - t0, BENCH_ITERATIONS, &rem));
	EXPECT_EQ(ram, BENCH_ITERATIONS - 1);
}

/*
 * fatal=unsupported: an instruction Keel does not emulate (ROL) on the
 * scratch memory; fatal=nowhere: a MOVS from the scratch memory to a
 * guest-physical address that is neither RAM nor a device. Keel must stop
 * the guest with the instruction's address and bytes; nothing after
 * either runs.
 */
static void provoke_fatal(const char *what)
{
	if (!strncmp(what, "unsupported", 12))
		__asm__ volatile("roll $1, (%0)" :: "a"((uintptr_t)TESTDEV_MEM)
				 : "memory", "cc");
	if (!strncmp(what, "nowhere", 8)) {
		uintptr_t si = TESTDEV_MEM, di = 0xfe000000u, cx = 4;

		__asm__ volatile("rep movsb" : "+S"(si), "+D"(di), "+c"(cx)
				 :: "memory");
	}
	printf("FAIL fatal=%s: still running\n", what);
}

void guest_main(void)
{
	char fatal[16];

	if (cmdline_get("fatal", fatal, sizeof(fatal)))
		provoke_fatal(fatal);
	arch_init();
	pattern_init();
	test_scratch_memory();
	test_ports();
	test_string_io_ram();
	test_string_io_mmio();
	test_ud();
	test_gp();
	for (unsigned int i = 0; i < ARRAY_SIZE(paging_modes); i++) {
		const struct paging_mode *m = &paging_modes[i];

		if (m->on)
			m->on();
		test_cases(m->name);
		if (m->has_holes)
			test_page_faults();
		if (m->off)
			m->off();
	}
	bench();
}
