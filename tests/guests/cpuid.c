/*
 * cpuid: what Keel shows a guest of the CPU and the platform. CPUID hides
 * VMX and sets the hypervisor bit and leaf 0x40000000; MSRs outside Keel's
 * allow-list raise #GP; hypercalls and exit counters answer; fw-cfg gives
 * the CPU count and RAM size; unclaimed ports read all ones.
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
	test_msrs();
	test_hypercalls();
	test_fwcfg();
	test_ports();
}
