/* Host tests for the XSETBV rules and XSAVE area sizes (vmx/xcr0.c):
 * a table with every rule of SDM Vol. 1 13.3 and Vol. 2C XSETBV and every
 * value that stopped a host CPU, then all 2^19 values of the known bits
 * against a second, independent reading of the rules. */
#include "vmx/xcr0.h"
#include "tests/unit/test.h"

/* What CPUID.(0xd,0).EDX:EAX says on some CPUs. */
#define HOST_AVX        0x7ULL                  /* Sandy Bridge */
#define HOST_SKX        0x2ffULL                /* Skylake-SP: MPX, AVX-512, PKRU */
#define HOST_SPR        0x602e7ULL              /* Sapphire Rapids: no MPX, AMX */
#define HOST_ALL        XCR0_KEEL_KNOWN         /* everything Keel knows */
#define HOST_SSE        0x3ULL                  /* XSAVE without AVX */

struct xsetbv_case {
	const char *name;
	unsigned int cpl;
	uint32_t ecx;
	uint64_t val, allowed;
	enum xsetbv_fault want;
};

static const struct xsetbv_case cases[] = {
	/* The values that made Keel take #GP in root mode (issue). */
	{ "trigger 0x23 opmask alone, no AVX", 0, 0, 0x23, HOST_SKX, XSETBV_AVX512_PARTIAL },
	{ "trigger 0x27 opmask alone", 0, 0, 0x27, HOST_SKX, XSETBV_AVX512_PARTIAL },
	{ "trigger 0xc7 ZMM without opmask", 0, 0, 0xc7, HOST_SKX, XSETBV_AVX512_PARTIAL },
	{ "trigger 0x0b BNDREGS alone", 0, 0, 0x0b, HOST_SKX, XSETBV_MPX_PAIR },
	{ "trigger 0x20003 XTILECFG alone", 0, 0, 0x20003, HOST_SPR, XSETBV_AMX_PAIR },
	{ "trigger 0x20003 on a CPU without AMX", 0, 0, 0x20003, HOST_SKX, XSETBV_RESERVED },
	{ "trigger 0x23 all-known host", 0, 0, 0x23, HOST_ALL, XSETBV_AVX512_PARTIAL },
	{ "trigger 0x27 all-known host", 0, 0, 0x27, HOST_ALL, XSETBV_AVX512_PARTIAL },
	{ "trigger 0xc7 all-known host", 0, 0, 0xc7, HOST_ALL, XSETBV_AVX512_PARTIAL },
	{ "trigger 0x0b all-known host", 0, 0, 0x0b, HOST_ALL, XSETBV_MPX_PAIR },
	{ "trigger 0x20003 all-known host", 0, 0, 0x20003, HOST_ALL, XSETBV_AMX_PAIR },
	/* Bit 0. */
	{ "zero", 0, 0, 0, HOST_SKX, XSETBV_X87 },
	{ "SSE without x87", 0, 0, 0x2, HOST_SKX, XSETBV_X87 },
	{ "AVX state without x87", 0, 0, 0x6, HOST_SKX, XSETBV_X87 },
	{ "everything but x87", 0, 0, HOST_SKX & ~1ULL, HOST_SKX, XSETBV_X87 },
	{ "x87 alone", 0, 0, 0x1, HOST_SKX, XSETBV_OK },
	/* AVX needs SSE. */
	{ "AVX without SSE", 0, 0, 0x5, HOST_SKX, XSETBV_AVX_NO_SSE },
	{ "AVX, AVX-512, no SSE", 0, 0, 0xe5, HOST_SKX, XSETBV_AVX_NO_SSE },
	{ "x87 SSE", 0, 0, 0x3, HOST_SKX, XSETBV_OK },
	{ "x87 SSE AVX", 0, 0, 0x7, HOST_SKX, XSETBV_OK },
	/* MPX: bits 3 and 4 equal. */
	{ "BNDCSR alone", 0, 0, 0x13, HOST_SKX, XSETBV_MPX_PAIR },
	{ "BNDREGS alone with AVX", 0, 0, 0x0f, HOST_SKX, XSETBV_MPX_PAIR },
	{ "MPX pair", 0, 0, 0x1b, HOST_SKX, XSETBV_OK },
	{ "MPX pair on x87 only", 0, 0, 0x19, HOST_SKX, XSETBV_OK },
	{ "MPX on a CPU without it", 0, 0, 0x1b, HOST_SPR, XSETBV_RESERVED },
	/* AVX-512: bits 7:5 all or none, and only with AVX. */
	{ "ZMM_Hi256 alone", 0, 0, 0x47, HOST_SKX, XSETBV_AVX512_PARTIAL },
	{ "Hi16_ZMM alone", 0, 0, 0x87, HOST_SKX, XSETBV_AVX512_PARTIAL },
	{ "opmask ZMM_Hi256", 0, 0, 0x67, HOST_SKX, XSETBV_AVX512_PARTIAL },
	{ "opmask Hi16_ZMM", 0, 0, 0xa7, HOST_SKX, XSETBV_AVX512_PARTIAL },
	{ "AVX-512 without AVX", 0, 0, 0xe3, HOST_SKX, XSETBV_AVX512_NO_AVX },
	{ "AVX-512 without AVX or SSE", 0, 0, 0xe1, HOST_SKX, XSETBV_AVX512_NO_AVX },
	{ "AVX-512", 0, 0, 0xe7, HOST_SKX, XSETBV_OK },
	{ "AVX-512 on an AVX-only CPU", 0, 0, 0xe7, HOST_AVX, XSETBV_RESERVED },
	/* AMX: bits 17 and 18 equal. */
	{ "XTILEDATA alone", 0, 0, 0x40003, HOST_SPR, XSETBV_AMX_PAIR },
	{ "XTILECFG alone with AVX-512", 0, 0, 0x200e7, HOST_SPR, XSETBV_AMX_PAIR },
	{ "AMX pair", 0, 0, 0x60003, HOST_SPR, XSETBV_OK },
	{ "AMX pair on x87 only", 0, 0, 0x60001, HOST_SPR, XSETBV_OK },
	{ "all of Sapphire Rapids", 0, 0, HOST_SPR, HOST_SPR, XSETBV_OK },
	/* PKRU: no rule of its own. */
	{ "PKRU with x87", 0, 0, 0x201, HOST_SKX, XSETBV_OK },
	{ "all of Skylake-SP", 0, 0, HOST_SKX, HOST_SKX, XSETBV_OK },
	{ "all Keel knows", 0, 0, HOST_ALL, HOST_ALL, XSETBV_OK },
	/* Outside what Keel exposes. */
	{ "bit 8 (PT, IA32_XSS only)", 0, 0, 0x103, HOST_ALL, XSETBV_RESERVED },
	{ "bit 19 (APX, unknown to Keel)", 0, 0, 0x80003, HOST_ALL | BIT_ULL(19), XSETBV_RESERVED },
	{ "bit 62", 0, 0, 0x3 | BIT_ULL(62), ~0ULL, XSETBV_RESERVED },
	{ "bit 63", 0, 0, 0x3 | BIT_ULL(63), ~0ULL, XSETBV_RESERVED },
	{ "EDX all ones", 0, 0, 0xffffffff00000003ULL, HOST_SKX, XSETBV_RESERVED },
	{ "all ones", 0, 0, ~0ULL, HOST_SKX, XSETBV_RESERVED },
	{ "AVX on an SSE-only CPU", 0, 0, 0x7, HOST_SSE, XSETBV_RESERVED },
	{ "x87 with no XSAVE offered", 0, 0, 0x1, 0, XSETBV_RESERVED },
	/* Reserved beats the pair rules: any order gives #GP, but the first
	 * broken rule is reported. */
	{ "reserved and partial AVX-512", 0, 0, 0x23 | BIT_ULL(40), HOST_SKX, XSETBV_RESERVED },
	/* ECX: XCR0 is the only writable XCR (XCR1 is XINUSE, read-only). */
	{ "ECX 1", 0, 1, 0x7, HOST_SKX, XSETBV_XCR },
	{ "ECX 2", 0, 2, 0x7, HOST_SKX, XSETBV_XCR },
	{ "ECX 0x80000000", 0, 0x80000000u, 0x7, HOST_SKX, XSETBV_XCR },
	{ "ECX all ones", 0, 0xffffffffu, 0x1, HOST_SKX, XSETBV_XCR },
	{ "ECX 1 with a bad value", 0, 1, 0x23, HOST_SKX, XSETBV_XCR },
	/* CPL > 0, checked before anything else (virtual-8086 mode is 3). */
	{ "CPL 3", 3, 0, 0x7, HOST_SKX, XSETBV_CPL },
	{ "CPL 1", 1, 0, 0x1, HOST_SKX, XSETBV_CPL },
	{ "CPL 2 with ECX 1", 2, 1, 0x7, HOST_SKX, XSETBV_CPL },
	{ "CPL 3 with a bad value", 3, 0, 0x23, HOST_SKX, XSETBV_CPL },
};

TEST(xsetbv_table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct xsetbv_case *c = &cases[i];
		enum xsetbv_fault got = xsetbv_check(c->cpl, c->ecx, c->val,
						     c->allowed);

		if (got != c->want) {
			printf("    %s: cpl %u ecx %#x val %#llx allowed %#llx: "
			       "got '%s', want '%s'\n", c->name, c->cpl, c->ecx,
			       (unsigned long long)c->val,
			       (unsigned long long)c->allowed,
			       xsetbv_fault_name(got), xsetbv_fault_name(c->want));
			test_failed_now = 1;
		}
	}
}

/* Each of the 64 bits alone, and with x87: only x87 itself, and x87 with
 * SSE, PKRU (no partners) pass on a host with everything. */
TEST(xsetbv_each_bit)
{
	for (unsigned int b = 0; b < 64; b++) {
		uint64_t bit = 1ULL << b;
		bool alone_ok = b == 0;
		bool with_x87_ok = b == 0 || b == 1 || b == 9;

		EXPECT_EQ(xsetbv_check(0, 0, bit, HOST_ALL) == XSETBV_OK, alone_ok);
		EXPECT_EQ(xsetbv_check(0, 0, bit | 1, HOST_ALL) == XSETBV_OK,
			  with_x87_ok);
		EXPECT_EQ(xsetbv_check(0, 0, bit | 1, ~0ULL) == XSETBV_OK,
			  with_x87_ok);
	}
}

/* The rules read a second way, feature by feature: a value is good when
 * x87 is on, every bit is offered, and each feature is wholly on or off
 * with what it needs. */
static bool oracle_ok(uint64_t v, uint64_t allowed)
{
	bool x87 = v & 1, sse = v & 2, avx = v & 4;
	unsigned int mpx = (v >> 3) & 3, avx512 = (v >> 5) & 7;
	unsigned int amx = (v >> 17) & 3;

	if (v & ~allowed)
		return false;
	if (v & ~(uint64_t)0x602ff)             /* 0-7, 9, 17, 18 */
		return false;
	return x87 && (!avx || sse) && (mpx == 0 || mpx == 3) &&
	       (avx512 == 0 || (avx512 == 7 && avx)) &&
	       (amx == 0 || amx == 3);
}

TEST(xsetbv_exhaustive)
{
	static const uint64_t hosts[] = { HOST_AVX, HOST_SKX, HOST_SPR,
					  HOST_ALL, HOST_SSE, ~0ULL };
	unsigned long bad = 0;

	for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++)
		for (uint64_t v = 0; v < (1ULL << 20); v++) {
			bool ok = xsetbv_check(0, 0, v, hosts[h]) == XSETBV_OK;

			if (ok != oracle_ok(v, hosts[h]) && bad++ < 5)
				printf("    host %#llx value %#llx: check %d\n",
				       (unsigned long long)hosts[h],
				       (unsigned long long)v, ok);
			if (xsetbv_check(3, 0, v, hosts[h]) != XSETBV_CPL ||
			    xsetbv_check(0, 1, v, hosts[h]) != XSETBV_XCR)
				bad++;
		}
	EXPECT_EQ(bad, 0);
}

TEST(fault_names)
{
	for (int f = 0; f < XSETBV_NR_FAULTS; f++)
		EXPECT(strcmp(xsetbv_fault_name((enum xsetbv_fault)f), "?") != 0);
	EXPECT(strcmp(xsetbv_fault_name(XSETBV_NR_FAULTS), "?") == 0);
	EXPECT(strcmp(xsetbv_fault_name(XSETBV_XCR), "ECX != 0") == 0);
}

TEST(consistent)
{
	EXPECT_EQ(xcr0_consistent(HOST_SKX), HOST_SKX);
	EXPECT_EQ(xcr0_consistent(HOST_SPR), HOST_SPR);
	EXPECT_EQ(xcr0_consistent(~0ULL), XCR0_KEEL_KNOWN);
	EXPECT_EQ(xcr0_consistent(0x2fe), 0);                   /* no x87 */
	EXPECT_EQ(xcr0_consistent(0xe5), 0x1);                  /* no SSE */
	EXPECT_EQ(xcr0_consistent(0xe3), 0x3);                  /* no AVX */
	EXPECT_EQ(xcr0_consistent(0x67), 0x7);                  /* partial */
	EXPECT_EQ(xcr0_consistent(0x0b), 0x3);
	EXPECT_EQ(xcr0_consistent(0x40003), 0x3);
	EXPECT_EQ(xcr0_consistent(0x103), 0x3);                 /* unknown */
	/* Whatever it keeps, XSETBV accepts, for every input. */
	for (uint64_t m = 0; m < (1ULL << 20); m++) {
		uint64_t c = xcr0_consistent(m);

		if (c && (xsetbv_check(0, 0, c, m) != XSETBV_OK || (c & ~m))) {
			printf("    mask %#llx -> %#llx\n",
			       (unsigned long long)m, (unsigned long long)c);
			test_failed_now = 1;
			break;
		}
	}
}

/* Standard-format layouts as CPUID.(0xd,i) gives them (EBX offset, EAX
 * size): identical on every Intel CPU that has the component. */
static void layout_intel(struct xsave_component comp[XSAVE_COMPONENTS])
{
	memset(comp, 0, sizeof(*comp) * XSAVE_COMPONENTS);
	comp[2] = (struct xsave_component){ 576, 256 };
	comp[3] = (struct xsave_component){ 960, 64 };
	comp[4] = (struct xsave_component){ 1024, 64 };
	comp[5] = (struct xsave_component){ 1088, 64 };
	comp[6] = (struct xsave_component){ 1152, 512 };
	comp[7] = (struct xsave_component){ 1664, 1024 };
	comp[9] = (struct xsave_component){ 2688, 8 };
	comp[17] = (struct xsave_component){ 2752, 64 };
	comp[18] = (struct xsave_component){ 2816, 8192 };
}

TEST(standard_size)
{
	struct xsave_component comp[XSAVE_COMPONENTS];

	layout_intel(comp);
	EXPECT_EQ(xsave_standard_size(0x1, comp), 576);
	EXPECT_EQ(xsave_standard_size(0x3, comp), 576);
	EXPECT_EQ(xsave_standard_size(0x7, comp), 832);
	EXPECT_EQ(xsave_standard_size(0xe7, comp), 2688);
	EXPECT_EQ(xsave_standard_size(HOST_SKX, comp), 2696);
	EXPECT_EQ(xsave_standard_size(0x60003, comp), 11008);
	EXPECT_EQ(xsave_standard_size(HOST_SPR, comp), 11008);
	/* Nothing known about a component: no size. */
	EXPECT_EQ(xsave_standard_size(0x103, comp), 0);
	EXPECT_EQ(xsave_standard_size(0x3 | BIT_ULL(19), comp), 0);
	comp[9].size = 0;
	EXPECT_EQ(xsave_standard_size(0x201, comp), 0);
	comp[9] = (struct xsave_component){ 100, 8 };   /* inside the header */
	EXPECT_EQ(xsave_standard_size(0x201, comp), 0);
	comp[9] = (struct xsave_component){ 0xfffffff0u, 0x20 };
	EXPECT_EQ(xsave_standard_size(0x201, comp), 0);
}

TEST(fit)
{
	struct xsave_component comp[XSAVE_COMPONENTS];

	layout_intel(comp);
	/* Keel's area holds all it knows, AMX tiles included. */
	EXPECT_EQ(xcr0_fit(HOST_ALL, comp, 12 * 1024), HOST_ALL);
	EXPECT_EQ(xcr0_fit(HOST_SPR, comp, 12 * 1024), HOST_SPR);
	EXPECT_EQ(xcr0_fit(~0ULL, comp, 12 * 1024), HOST_ALL);
	/* The old 4 KiB area: AMX (11 KiB) had to go. */
	EXPECT_EQ(xcr0_fit(HOST_SPR, comp, 4096), 0x2e7);
	EXPECT_EQ(xcr0_fit(HOST_SKX, comp, 4096), HOST_SKX);
	/* Tighter: PKRU ends last, then AVX-512 as a whole. */
	EXPECT_EQ(xcr0_fit(HOST_SKX, comp, 2690), 0xff);
	EXPECT_EQ(xcr0_fit(HOST_SKX, comp, 2048), 0x1f);
	EXPECT_EQ(xcr0_fit(HOST_SKX, comp, 1000), 0x7);
	EXPECT_EQ(xcr0_fit(HOST_SKX, comp, 576), 0x3);
	EXPECT_EQ(xcr0_fit(0, comp, 4096), 0);
	/* A component CPUID gives no place is dropped with its feature. */
	comp[6].size = 0;
	EXPECT_EQ(xcr0_fit(HOST_SKX, comp, 4096), 0x21f);
	comp[6].size = 512;
	comp[2].size = 0;
	EXPECT_EQ(xcr0_fit(HOST_SKX, comp, 4096), 0x21b);
	/* Whatever it returns fits and is accepted by XSETBV. */
	layout_intel(comp);
	for (uint32_t area = 576; area <= 12 * 1024; area += 8) {
		uint64_t m = xcr0_fit(HOST_ALL, comp, area);
		uint32_t size = xsave_standard_size(m, comp);

		if (!size || size > area ||
		    xsetbv_check(0, 0, m, HOST_ALL) != XSETBV_OK) {
			printf("    area %u: %#llx (%u bytes)\n", area,
			       (unsigned long long)m, size);
			test_failed_now = 1;
			break;
		}
	}
}

TEST_MAIN()
