/*
 * hostile_cr: MOV to CR0 and CR4 with values the CPU refuses in 64-bit
 * mode (SDM Vol. 2B, MOV Control Registers: Protected Mode and 64-Bit
 * Mode Exceptions). Where Keel owns a bit (CR0.PG, PE and WP with shadow
 * paging, CR4.VMXE always) the write exits and Keel must make the CPU's
 * checks itself: each value here must give #GP(0) at the MOV with the
 * register unchanged, and the guest must go on in 64-bit mode. Run under
 * EPT and under shadow paging.
 *
 *   cr0  PG cleared in 64-bit mode (found by the fuzz guest, seed 4, step
 *        2073: Keel left long mode and the guest triple-faulted), PE
 *        cleared with PG set, NW without CD, bits 63:32
 *   cr4  PAE cleared in long mode, VMXE (VMX is hidden), bits 63:32
 */
#include "guest.h"

#define CR0_PE          (1ULL << 0)
#define CR0_NW          (1ULL << 29)
#define CR0_CD          (1ULL << 30)
#define CR0_PG          (1ULL << 31)
#define CR4_PAE         (1ULL << 5)
#define CR4_VMXE        (1ULL << 13)

static bool cr0_write_safe(uint64_t v)
{
	trap_arm();
	__asm__ volatile("1: mov %0, %%cr0\n2:\n" EX_TABLE("1b", "2b")
			 :: "r"(v) : "memory");
	return trap_last.vector == TRAP_NONE;
}

static bool cr4_write_safe(uint64_t v)
{
	trap_arm();
	__asm__ volatile("1: mov %0, %%cr4\n2:\n" EX_TABLE("1b", "2b")
			 :: "r"(v) : "memory");
	return trap_last.vector == TRAP_NONE;
}

struct cr {
	const char *name;
	uintptr_t (*read)(void);
	bool (*write_safe)(uint64_t v);
};

static const struct cr cr0 = { "cr0", cr0_read, cr0_write_safe };
static const struct cr cr4 = { "cr4", cr4_read, cr4_write_safe };

/* An illegal value: #GP(0) at the MOV, the register unchanged. */
static void expect_gp(const struct cr *cr, const char *what, uint64_t v)
{
	uint64_t before = cr->read();
	bool done = cr->write_safe(v);
	int vector = trap_last.vector;
	uint32_t error = trap_last.error;
	uint64_t after = cr->read();

	printf("%s %s: %#llx %s (vector %d error %#x), %s %#llx -> %#llx\n",
	       cr->name, what, (unsigned long long)v,
	       done ? "completed" : "faulted", vector, error, cr->name,
	       (unsigned long long)before, (unsigned long long)after);
	EXPECT(!done);
	EXPECT_EQ(vector, VEC_GP);
	EXPECT_EQ(error, 0);
	EXPECT_EQ(after, before);
}

void guest_main(void)
{
	uint64_t v0 = cr0_read(), v4 = cr4_read();

	printf("%s paging, cr0 %#llx cr4 %#llx\n",
	       keel_shadow_paging() ? "shadow" : "ept",
	       (unsigned long long)v0, (unsigned long long)v4);
	expect_gp(&cr0, "pg off in 64-bit mode", v0 & ~CR0_PG);
	expect_gp(&cr0, "pe off with pg", v0 & ~CR0_PE);
	expect_gp(&cr0, "nw without cd", (v0 & ~CR0_CD) | CR0_NW);
	expect_gp(&cr0, "nw without cd, pg off",
		  (v0 & ~(CR0_CD | CR0_PG)) | CR0_NW);
	expect_gp(&cr0, "bit 32", v0 | (1ULL << 32));
	expect_gp(&cr4, "pae off in long mode", v4 & ~CR4_PAE);
	expect_gp(&cr4, "vmxe", v4 | CR4_VMXE);
	expect_gp(&cr4, "bit 32", v4 | (1ULL << 32));
	EXPECT_EQ(cr0_read(), v0);
	printf("still in 64-bit mode\n");
}
