/*
 * cpuid: what Keel shows a guest of the CPU and the platform. CPUID hides
 * VMX and sets the hypervisor bit and leaf 0x40000000; it hides the
 * features whose MSRs a guest does not get (thermal and power leaves,
 * APERF/MPERF, XSAVES) and gives the compacted XSAVE size for the
 * guest's XCR0; MSRs outside Keel's allow-list raise #GP;
 * hypercalls and exit counters answer; fw-cfg gives the CPU count and RAM
 * size; unclaimed ports read all ones.
 *
 * Command line: mem=SIZE, the memory the configuration gives this guest.
 */
#include "guest.h"

#define KEEL_CPUID_BASE         0x40000000
#define KEEL_SIGNATURE          0x6c65654b      /* "Keel" */
#define EXIT_REASON_CPUID       10
#define EXIT_REASON_IO          30
#define MSR_UNKNOWN             0x12345678
#define MSR_AMD_RANGE           0xc0010000      /* AMD's PERF_CTL0 */
#define MSR_IA32_APERF          0x0e8
#define MSR_IA32_THERM_INTERRUPT 0x19b
#define MSR_IA32_ENERGY_PERF_BIAS 0x1b0
#define MSR_IA32_XSS            0xda0
#define CPUID1_ECX_HIDDEN       0x00008188      /* MONITOR, EST, TM2, PDCM */
#define CPUID1_EDX_HIDDEN       0x20400000      /* ACPI, TM */
#define CPUID6_EAX_ARAT         0x4
#define CPUIDD1_EAX_XSAVES      0x8
#define CPUID1_ECX_XSAVE        (1u << 26)
#define CR4_OSXSAVE             (1u << 18)
#define XCR0_AVX                0x07            /* x87, SSE, AVX */
#define XCR0_AVX512             0xe0            /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XSAVE_COMPACT_BASE      (512 + 64)      /* legacy area, header */
#define PORT_FWCFG_SEL          0x510
#define PORT_FWCFG_DATA         0x511
#define FWCFG_SIGNATURE         0x00
#define FWCFG_RAM_SIZE          0x03
#define FWCFG_NB_CPUS           0x05
#define PORT_UNCLAIMED          0x80

static void test_cpuid_leaves(void)
{
	struct cpuid_regs l0 = cpuid(0, 0), l1 = cpuid(1, 0);
	struct cpuid_regs hv = cpuid(KEEL_CPUID_BASE, 0);

	printf("cpuid: max leaf %#x, leaf 1 ecx %#x, leaf 0x40000000 eax %#x\n",
	       l0.eax, l1.ecx, hv.eax);
	EXPECT(l0.eax >= 1);
	EXPECT_EQ(l1.ecx & CPUID1_ECX_VMX, 0);
	EXPECT_EQ(l1.ecx & CPUID1_ECX_HYPERVISOR, CPUID1_ECX_HYPERVISOR);
	EXPECT(hv.eax >= KEEL_CPUID_BASE);
	EXPECT_EQ(hv.ebx, KEEL_SIGNATURE);
	EXPECT_EQ(hv.ecx, KEEL_SIGNATURE);
	EXPECT_EQ(hv.edx, KEEL_SIGNATURE);
}

/* Features whose MSRs Keel does not give are hidden, and those MSRs
 * raise #GP: no OS should read them on the strength of CPUID. */
static void test_cpuid_hidden(void)
{
	static const uint32_t msrs[] = { MSR_IA32_APERF,
		MSR_IA32_THERM_INTERRUPT, MSR_IA32_ENERGY_PERF_BIAS,
		MSR_IA32_XSS };
	uint32_t max = cpuid(0, 0).eax;
	struct cpuid_regs l1 = cpuid(1, 0), l6 = cpuid(6, 0), ld = cpuid(0xd, 1);
	uint64_t v;

	EXPECT_EQ(l1.ecx & CPUID1_ECX_HIDDEN, 0);
	EXPECT_EQ(l1.edx & CPUID1_EDX_HIDDEN, 0);
	if (max >= 6) {
		EXPECT_EQ(l6.eax, CPUID6_EAX_ARAT);
		EXPECT_EQ(l6.ebx | l6.ecx | l6.edx, 0);
	}
	if (max >= 0xd) {
		EXPECT_EQ(ld.eax & CPUIDD1_EAX_XSAVES, 0);
		EXPECT_EQ(ld.ecx | ld.edx, 0);
	}
	for (unsigned int i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
		EXPECT(!rdmsr_safe(msrs[i], &v));
		EXPECT_EQ(trap_last.vector, VEC_GP);
	}
}

static void xsave_enable(uint32_t xcr0)
{
	uint32_t cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | CR4_OSXSAVE));
	__asm__ volatile("xsetbv" :: "c"(0), "a"(xcr0), "d"(0));
}

/* CPUID.(0xd,1).EBX for the guest's XCR0 is the compacted (XSAVEC) size
 * (SDM Vol. 1 13.4.3), which differs from the standard one (leaf 0xd,
 * EBX) once the AVX-512 states are on. */
static void test_xsave_size(void)
{
	uint32_t xcr0, want = XSAVE_COMPACT_BASE;

	if (!(cpuid(1, 0).ecx & CPUID1_ECX_XSAVE))
		return;
	xcr0 = cpuid(0xd, 0).eax & (XCR0_AVX | XCR0_AVX512);
	if ((xcr0 & XCR0_AVX512) != XCR0_AVX512)
		xcr0 &= XCR0_AVX;
	xsave_enable(xcr0);
	for (uint32_t i = 2; i < 32; i++) {
		struct cpuid_regs c = cpuid(0xd, i);

		if (!(xcr0 & (1u << i)))
			continue;
		if (c.ecx & 2)
			want = (want + 63) & ~63u;
		want += c.eax;
	}
	printf("xsave: xcr0 %#x, compacted %u bytes, standard %u\n", xcr0,
	       cpuid(0xd, 1).ebx, cpuid(0xd, 0).ebx);
	EXPECT_EQ(cpuid(0xd, 1).ebx, want);
}

static void test_msrs(void)
{
	uint64_t v = 0;

	EXPECT(rdmsr_safe(MSR_IA32_FEATURE_CONTROL, &v));
	printf("msr: IA32_FEATURE_CONTROL = %#llx\n", (unsigned long long)v);
	EXPECT_EQ(v & FEATURE_CONTROL_LOCK, FEATURE_CONTROL_LOCK);
	EXPECT_EQ(v & (FEATURE_CONTROL_VMX | FEATURE_CONTROL_VMX_SMX), 0);
	EXPECT(!wrmsr_safe(MSR_IA32_FEATURE_CONTROL, v | FEATURE_CONTROL_VMX));
	EXPECT_EQ(trap_last.vector, VEC_GP);

	EXPECT(rdmsr_safe(MSR_IA32_TSC, &v));
	EXPECT(v != 0);

	EXPECT(!rdmsr_safe(MSR_UNKNOWN, &v));
	EXPECT_EQ(trap_last.vector, VEC_GP);
	EXPECT_EQ(trap_last.error, 0);
	EXPECT(!rdmsr_safe(MSR_AMD_RANGE, &v));
	EXPECT_EQ(trap_last.vector, VEC_GP);
	EXPECT(!wrmsr_safe(MSR_UNKNOWN, 0));
	EXPECT_EQ(trap_last.vector, VEC_GP);
}

static void test_hypercalls(void)
{
	long before, after, total;

	EXPECT_EQ(vmcall3(0x7fff, 0, 0, 0), KEEL_HC_ENOSYS);
	before = hc_counter(EXIT_REASON_CPUID);
	for (int i = 0; i < 5; i++)
		cpuid(0, 0);
	after = hc_counter(EXIT_REASON_CPUID);
	total = hc_counter(KEEL_COUNTER_EXITS_TOTAL);
	printf("counters: cpuid exits %ld -> %ld, all exits %ld\n", before,
	       after, total);
	EXPECT(before >= 1);            /* test_cpuid_leaves made some */
	EXPECT_EQ(after - before, 5);
	EXPECT(total > after);
}

static uint64_t fwcfg_read(uint16_t key, unsigned int len)
{
	uint64_t v = 0;

	outw(PORT_FWCFG_SEL, key);
	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)inb(PORT_FWCFG_DATA) << (8 * i);
	return v;
}

static void test_fwcfg(void)
{
	uint64_t ram = fwcfg_read(FWCFG_RAM_SIZE, 8), want = 0;
	uint64_t cpus = fwcfg_read(FWCFG_NB_CPUS, 2);
	char arg[32];

	printf("fw-cfg: %llu cpus, ram %#llx\n", (unsigned long long)cpus,
	       (unsigned long long)ram);
	EXPECT_EQ(fwcfg_read(FWCFG_SIGNATURE, 4), 0x554d4551);     /* "QEMU" */
	EXPECT_EQ(cpus, 1);
	if (!EXPECT(cmdline_get("mem", arg, sizeof(arg)) &&
		    parse_size(arg, &want)))
		return;
	EXPECT_EQ(ram, want);
	EXPECT_EQ(mb_ram_end(), want);
}

static void test_ports(void)
{
	long before = hc_counter(KEEL_COUNTER_PORTS_UNCLAIMED);

	EXPECT_EQ(inb(PORT_UNCLAIMED), 0xff);
	EXPECT_EQ(hc_counter(KEEL_COUNTER_PORTS_UNCLAIMED) - before, 1);
}

void guest_main(void)
{
	printf("cmdline: '%s'\n", mb_cmdline());
	test_cpuid_leaves();
	test_cpuid_hidden();
	test_xsave_size();
	test_msrs();
	test_hypercalls();
	test_fwcfg();
	test_ports();
}
