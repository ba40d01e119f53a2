/*
 * cpuid: what Keel shows a guest of the CPU and the platform. CPUID hides
 * VMX and sets the hypervisor bit and leaf 0x40000000; it hides the
 * features whose MSRs a guest does not get (thermal and power leaves,
 * APERF/MPERF, XSAVES) and gives the compacted XSAVE size for the
 * guest's XCR0; MSRs outside Keel's allow-list raise #GP, and for every
 * feature with an MSR, CPUID shows it exactly when its MSR answers; the
 * emulated MSRs (IA32_TSC and IA32_TSC_ADJUST, IA32_MISC_ENABLE and what
 * it changes in CPUID, IA32_MTRR_DEF_TYPE) behave as the SDM says; a
 * fault Keel injects pushes RFLAGS with RF set;
 * hypercalls and exit counters answer; fw-cfg gives the CPU count and RAM
 * size; unclaimed ports read all ones; port 0x92 reads back.
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
#define PORT_SYSCTL_A           0x92

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

enum { EAX, EBX, ECX, EDX };

static uint32_t cpuid_reg(uint32_t leaf, uint32_t sub, int reg)
{
	struct cpuid_regs r = cpuid(leaf, sub);

	return reg == EAX ? r.eax : reg == EBX ? r.ebx : reg == ECX ? r.ecx : r.edx;
}

/* One rule (vmx/exit_misc.c): a feature CPUID shows has its MSR, a
 * feature whose MSR raises #GP is hidden. One architectural MSR per
 * feature (SDM Vol. 4, Table 2-2). */
static const struct feature_msr {
	uint32_t leaf, sub;
	int reg, bit;
	uint32_t msr;
	const char *name;
} feature_msrs[] = {
	{ 1, 0, EDX, 4, 0x010, "TSC" },
	{ 1, 0, EDX, 9, 0x01b, "APIC" },
	{ 1, 0, EDX, 11, 0x174, "SEP" },
	{ 1, 0, EDX, 12, 0x0fe, "MTRR" },
	{ 1, 0, EDX, 14, 0x179, "MCA" },
	{ 1, 0, EDX, 16, 0x277, "PAT" },
	{ 1, 0, EDX, 21, 0x600, "DS" },
	{ 1, 0, EDX, 22, 0x19c, "ACPI" },
	{ 1, 0, ECX, 2, 0x600, "DTES64" },
	{ 1, 0, ECX, 7, 0x198, "EST" },
	{ 1, 0, ECX, 11, 0xc80, "SDBG" },
	{ 1, 0, ECX, 15, 0x345, "PDCM" },
	{ 1, 0, ECX, 18, 0x1f8, "DCA" },
	{ 7, 0, EBX, 1, 0x03b, "TSC_ADJUST" },
	{ 7, 0, EBX, 12, 0xc8f, "RDT-M" },
	{ 7, 0, EBX, 14, 0xd90, "MPX" },
	{ 7, 0, EBX, 15, 0xc8f, "RDT-A" },
	{ 7, 0, EBX, 25, 0x570, "PT" },
	{ 7, 0, ECX, 5, 0x0e1, "WAITPKG" },
	{ 7, 0, ECX, 7, 0x6a0, "CET_SS" },
	{ 7, 0, ECX, 13, 0x981, "TME" },
	{ 7, 0, ECX, 29, 0xd93, "ENQCMD" },
	{ 7, 0, ECX, 31, 0x6e1, "PKS" },
	{ 7, 0, EDX, 9, 0x123, "SRBDS_CTRL" },
	{ 7, 0, EDX, 19, 0x14ce, "ARCH_LBR" },
	{ 7, 0, EDX, 20, 0x6a2, "CET_IBT" },
	{ 7, 0, EDX, 26, 0x048, "IBRS" },
	{ 7, 0, EDX, 27, 0x048, "STIBP" },
	{ 7, 0, EDX, 29, 0x10a, "ARCH_CAPABILITIES" },
	{ 7, 0, EDX, 30, 0x0cf, "CORE_CAPABILITIES" },
	{ 7, 0, EDX, 31, 0x048, "SSBD" },
	{ 0xd, 1, EAX, 3, 0xda0, "XSAVES" },
	{ 0xd, 1, EAX, 4, 0x1c4, "XFD" },
	{ 0x80000001, 0, EDX, 27, 0xc0000103, "RDTSCP" },
};

static void test_feature_msrs(void)
{
	uint32_t max = cpuid(0, 0).eax, maxx = cpuid(0x80000000, 0).eax;

	for (unsigned int i = 0; i < ARRAY_SIZE(feature_msrs); i++) {
		const struct feature_msr *f = &feature_msrs[i];
		bool shown, answers;
		uint64_t v;

		if (f->leaf > (f->leaf >= 0x80000000 ? maxx : max))
			continue;
		shown = cpuid_reg(f->leaf, f->sub, f->reg) & (1u << f->bit);
		answers = rdmsr_safe(f->msr, &v);
		if (shown != answers)
			printf("FAIL feature %s: cpuid %s it, msr %#x %s\n",
			       f->name, shown ? "shows" : "hides",
			       (unsigned int)f->msr, answers ? "reads" : "#GP");
		EXPECT_EQ(shown, answers);
		if (!answers)
			EXPECT_EQ(trap_last.vector, VEC_GP);
	}
}

#define MSR_IA32_TSC_ADJUST     0x03b
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_IA32_MTRR_DEF_TYPE  0x2ff
#define MISC_BTS_PEBS_UNAVAIL   0x1800ULL
#define MISC_PERFMON            (1ULL << 7)
#define MISC_MONITOR            (1ULL << 18)
#define MISC_LIMIT_CPUID        (1ULL << 22)
#define MISC_XD_DISABLE         (1ULL << 34)
#define CPUID1_ECX_MONITOR      (1u << 3)
#define CPUID81_EDX_NX          (1u << 20)
#define TSC_FAR                 100000000000ULL

static uint64_t rdmsr64(uint32_t msr)
{
	uint64_t v = 0;

	EXPECT(rdmsr_safe(msr, &v));
	return v;
}

/* SDM Vol. 3B 17.17.3: a TSC write moves TSC_ADJUST by as much; a
 * TSC_ADJUST write moves the TSC. */
static void test_tsc_msrs(void)
{
	uint64_t t0, adj;

	EXPECT(cpuid(7, 0).ebx & 2);                    /* TSC_ADJUST shown */
	EXPECT_EQ(rdmsr64(MSR_IA32_TSC_ADJUST), 0);
	t0 = rdtsc_ordered();
	EXPECT(wrmsr_safe(MSR_IA32_TSC, TSC_FAR));
	EXPECT(rdtsc_ordered() >= TSC_FAR);
	adj = rdmsr64(MSR_IA32_TSC_ADJUST);
	EXPECT(TSC_FAR - adj >= t0);                    /* X = TSC_FAR - then */
	EXPECT(rdmsr64(MSR_IA32_TSC) >= TSC_FAR);
	/* Undo it through TSC_ADJUST: the TSC comes back by as much. */
	EXPECT(wrmsr_safe(MSR_IA32_TSC_ADJUST, 0));
	EXPECT(rdtsc_ordered() < TSC_FAR);
	EXPECT(rdtsc_ordered() >= t0);
	EXPECT_EQ(rdmsr64(MSR_IA32_TSC_ADJUST), 0);
	printf("tsc: write moved TSC_ADJUST by %llu\n", (unsigned long long)adj);
}

static bool monitor_mwait_safe(void)
{
	static volatile uint32_t line;

	trap_arm();
	__asm__ volatile("1: monitor\n2:\n" EX_TABLE("1b", "2b")
			 :: "a"(&line), "c"(0), "d"(0) : "memory");
	if (trap_last.vector != TRAP_NONE)
		return false;
	__asm__ volatile("1: mwait\n2:\n" EX_TABLE("1b", "2b")
			 :: "a"(0), "c"(0) : "memory");
	return trap_last.vector == TRAP_NONE;
}

/* IA32_MISC_ENABLE (SDM Vol. 4, Table 2-2), and what it changes in CPUID. */
static void test_misc_enable(void)
{
	uint64_t misc = rdmsr64(MSR_IA32_MISC_ENABLE);
	bool nx = cpuid(0x80000001, 0).edx & CPUID81_EDX_NX;

	printf("msr: IA32_MISC_ENABLE = %#llx\n", (unsigned long long)misc);
	EXPECT_EQ(misc & (MISC_BTS_PEBS_UNAVAIL | MISC_PERFMON),
		  MISC_BTS_PEBS_UNAVAIL);
	EXPECT_EQ(misc & MISC_MONITOR, 0);
	EXPECT_EQ(cpuid(1, 0).ecx & CPUID1_ECX_MONITOR, 0);
	EXPECT(!monitor_mwait_safe());
	EXPECT_EQ(trap_last.vector, VEC_UD);
	/* Bit 18 shows MONITOR/MWAIT, and they work. */
	EXPECT(wrmsr_safe(MSR_IA32_MISC_ENABLE, misc | MISC_MONITOR));
	EXPECT(cpuid(1, 0).ecx & CPUID1_ECX_MONITOR);
	EXPECT(monitor_mwait_safe());
	/* Bit 22 limits CPUID.0:EAX to 2. */
	EXPECT(wrmsr_safe(MSR_IA32_MISC_ENABLE, misc | MISC_LIMIT_CPUID));
	EXPECT_EQ(cpuid(0, 0).eax, 2);
	EXPECT_EQ(cpuid(1, 0).ecx & CPUID1_ECX_MONITOR, 0);
	/* Bit 34 hides NX where there is NX. */
	if (nx) {
		EXPECT(wrmsr_safe(MSR_IA32_MISC_ENABLE, misc | MISC_XD_DISABLE));
		EXPECT_EQ(cpuid(0x80000001, 0).edx & CPUID81_EDX_NX, 0);
	}
	/* Read-only bits stay, reserved ones are #GP. */
	EXPECT(wrmsr_safe(MSR_IA32_MISC_ENABLE, misc & ~MISC_BTS_PEBS_UNAVAIL));
	EXPECT_EQ(rdmsr64(MSR_IA32_MISC_ENABLE), misc);
	EXPECT(!wrmsr_safe(MSR_IA32_MISC_ENABLE, misc | (1ULL << 40)));
	EXPECT_EQ(trap_last.vector, VEC_GP);
	EXPECT_EQ(rdmsr64(MSR_IA32_MISC_ENABLE), misc);
	EXPECT(cpuid(0, 0).eax > 2);
	EXPECT_EQ(cpuid(0x80000001, 0).edx & CPUID81_EDX_NX,
		  nx ? CPUID81_EDX_NX : 0);
	/* IA32_MTRR_DEF_TYPE: E and a memory type; WC is not offered. */
	EXPECT(wrmsr_safe(MSR_IA32_MTRR_DEF_TYPE, 0x806));
	EXPECT_EQ(rdmsr64(MSR_IA32_MTRR_DEF_TYPE), 0x806);
	EXPECT(!wrmsr_safe(MSR_IA32_MTRR_DEF_TYPE, 0x801));
	EXPECT(wrmsr_safe(MSR_IA32_MTRR_DEF_TYPE, 0));
}

/* A fault Keel injects (here #GP for a reserved CR4 bit, as the CPU
 * would raise it) pushes RFLAGS with RF = 1 (SDM Vol. 3A 17.3.1.1). */
static void test_injected_fault_rf(void)
{
	uint32_t cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	trap_arm();
	__asm__ volatile("1: mov %0, %%cr4\n2:\n" EX_TABLE("1b", "2b")
			 :: "r"(cr4 | (1u << 13)) : "memory");  /* VMXE */
	EXPECT_EQ(trap_last.vector, VEC_GP);
	EXPECT(trap_last.flags & (1u << 16));
	EXPECT(!wrmsr_safe(MSR_UNKNOWN, 0));
	EXPECT(trap_last.flags & (1u << 16));
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
	/* System control port A (the port92 device): A20 on at reset, bits
	 * 0-1 read back, the others read 0; bit 0 is not set here (its
	 * rising edge resets, which ends the guest). */
	EXPECT_EQ(inb(PORT_SYSCTL_A), 0x02);
	outb(PORT_SYSCTL_A, 0x00);
	EXPECT_EQ(inb(PORT_SYSCTL_A), 0x00);
	outb(PORT_SYSCTL_A, 0xfe);
	EXPECT_EQ(inb(PORT_SYSCTL_A), 0x02);
	EXPECT_EQ(hc_counter(KEEL_COUNTER_PORTS_UNCLAIMED) - before, 1);
}

void guest_main(void)
{
	printf("cmdline: '%s'\n", mb_cmdline());
	test_cpuid_leaves();
	test_cpuid_hidden();
	test_xsave_size();
	test_msrs();
	test_feature_msrs();
	test_tsc_msrs();
	test_misc_enable();
	test_injected_fault_rf();
	test_hypercalls();
	test_fwcfg();
	test_ports();
}
