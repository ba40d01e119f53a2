/* Host unit tests for a vCPU's emulated MSR state (guest/vmsr.c): the
 * IA32_TSC / IA32_TSC_ADJUST arithmetic of SDM Vol. 3B 17.17.3, the bits
 * of IA32_MISC_ENABLE and IA32_MTRR_DEF_TYPE. */
#include "guest/vmsr.h"
#include "tests/unit/test.h"

TEST(vmsr_reset_state)
{
	struct vmsr m;

	memset(&m, 0xa5, sizeof(m));
	vmsr_reset(&m);
	EXPECT_EQ(m.tsc_adjust, 0);
	EXPECT_EQ(m.misc_enable, MISC_ENABLE_FAST_STRINGS |
		  MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL);
	EXPECT_EQ(m.mtrr_def_type, 0);
}

/* A TSC write moves the TSC and TSC_ADJUST by the same X; TSC_ADJUST
 * does not move with time. */
TEST(vmsr_tsc_write_adjusts)
{
	struct vmsr m;
	uint64_t off = 0, guest_now = 5000;

	vmsr_reset(&m);
	off = vmsr_write_tsc(&m, off, guest_now, 100000000000ULL);
	EXPECT_EQ(off, 100000000000ULL - 5000);
	EXPECT_EQ(m.tsc_adjust, 100000000000ULL - 5000);
	/* Backwards, to 0, from a later reading: X is negative. */
	guest_now = 100000000000ULL + 700;
	off = vmsr_write_tsc(&m, off, guest_now, 0);
	EXPECT_EQ(off, (uint64_t)-5700);
	EXPECT_EQ(m.tsc_adjust, (uint64_t)-5700);
	/* host + offset is the value written at that instant */
	EXPECT_EQ((guest_now - (100000000000ULL - 5000)) + off, 0);
}

TEST(vmsr_tsc_adjust_write_moves_tsc)
{
	struct vmsr m;
	uint64_t off;

	vmsr_reset(&m);
	off = vmsr_write_tsc_adjust(&m, 1000, 100000000000ULL);
	EXPECT_EQ(m.tsc_adjust, 100000000000ULL);
	EXPECT_EQ(off, 1000 + 100000000000ULL);
	off = vmsr_write_tsc_adjust(&m, off, 0);        /* back */
	EXPECT_EQ(m.tsc_adjust, 0);
	EXPECT_EQ(off, 1000);
	off = vmsr_write_tsc_adjust(&m, off, (uint64_t)-3);
	EXPECT_EQ(off, 997);
	/* The same value again changes nothing. */
	EXPECT_EQ(vmsr_write_tsc_adjust(&m, off, (uint64_t)-3), 997);
}

/* The bits kvm-unit-tests' msr test writes (0, 3, 16, 18, 22, 23, 34)
 * are R/W; 7, 11, 12 are read-only; the rest is reserved. */
TEST(vmsr_misc_enable_bits)
{
	struct vmsr m;
	uint64_t rw = MISC_ENABLE_FAST_STRINGS | MISC_ENABLE_TCC |
		      MISC_ENABLE_EIST | MISC_ENABLE_MONITOR |
		      MISC_ENABLE_LIMIT_CPUID | MISC_ENABLE_XTPR_DISABLE |
		      MISC_ENABLE_XD_DISABLE;
	uint64_t ro = MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL;

	vmsr_reset(&m);
	EXPECT(vmsr_write_misc_enable(&m, rw | ro, VMSR_CPU_NX));
	EXPECT_EQ(m.misc_enable, rw | ro);
	EXPECT(vmsr_write_misc_enable(&m, 0, VMSR_CPU_NX));
	EXPECT_EQ(m.misc_enable, ro);                   /* RO bits stay */
	EXPECT(vmsr_write_misc_enable(&m, MISC_ENABLE_PERFMON, VMSR_CPU_NX));
	EXPECT_EQ(m.misc_enable, ro);                   /* 7 stays 0 */
	for (unsigned int b = 0; b < 64; b++) {
		uint64_t bit = 1ULL << b;
		bool ok;

		if ((rw | ro | MISC_ENABLE_PERFMON) & bit)
			continue;
		ok = vmsr_write_misc_enable(&m, bit, VMSR_CPU_NX);
		EXPECT(!ok);
		EXPECT_EQ(m.misc_enable, ro);           /* unchanged */
	}
	/* XD Bit Disable exists only where NX does. */
	EXPECT(!vmsr_write_misc_enable(&m, MISC_ENABLE_XD_DISABLE, 0));
	EXPECT(vmsr_write_misc_enable(&m, MISC_ENABLE_MONITOR, 0));
	EXPECT_EQ(m.misc_enable, ro | MISC_ENABLE_MONITOR);
}

TEST(vmsr_mtrr_def_type)
{
	struct vmsr m;
	static const uint64_t ok[] = { 0, 0x806, 0x800, 0x804, 0x805, 0x6 };
	static const uint64_t bad[] = { 0x801, 0x802, 0x803, 0x807, 0x8ff,
					0x400, 0x100, 1ULL << 12, 1ULL << 63 };

	vmsr_reset(&m);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		EXPECT(vmsr_write_mtrr_def_type(&m, ok[i]));
		EXPECT_EQ(m.mtrr_def_type, ok[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT(!vmsr_write_mtrr_def_type(&m, bad[i]));
		EXPECT_EQ(m.mtrr_def_type, 0x6);
	}
}

TEST_MAIN()
