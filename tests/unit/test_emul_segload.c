/* Segment register loads and control transfers of the emulator: MOV
 * to/from Sreg, near JMP/CALL through memory and relative, Jcc, far
 * JMP/CALL through memory, and the MMX moves,
 * run through emul_step() on the fake machine. */
#include "tests/unit/test.h"
#include "tests/emul/fake_machine.h"

#define CODE	0x1000ULL
#define DATA	0x8000ULL
#define STACK	0x9000ULL
#define GDT	0x6000ULL
#define LDT	0x7000ULL

/* Descriptor fields (SDM Vol. 3A Figure 3-8). */
#define D_A	BIT_ULL(40)
#define D_W	BIT_ULL(41)	/* data writable / code readable */
#define D_C	BIT_ULL(42)	/* conforming */
#define D_CODE	BIT_ULL(43)
#define D_S	BIT_ULL(44)
#define D_DPL3	(3ULL << 45)
#define D_P	BIT_ULL(47)
#define D_L	BIT_ULL(53)
#define D_DB	BIT_ULL(54)
#define D_G	BIT_ULL(55)

/* Base 0x00345000, limit 0xfffff. */
static uint64_t desc(uint64_t flags)
{
	return 0xffff | (0x345000ULL << 16) | (0xfULL << 48) | flags;
}

#define DATA_DESC	(D_S | D_W | D_P | D_G | D_DB)
#define CODE64_DESC	(D_S | D_CODE | D_W | D_P | D_L)
#define CODE32_DESC	(D_S | D_CODE | D_W | D_P | D_DB)

static struct fake_machine *setup64(void)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RBX] = DATA;
	fm->ctx.gpr[EMUL_RSP] = STACK;
	fm->gdtr_base = GDT;
	fm->gdtr_limit = 0x7f;
	fm->ctx.seg[EMUL_CS].sel = 0x08;
	fm_set64(fm, GDT + 0x08, desc(CODE64_DESC | D_A));
	fm_set64(fm, GDT + 0x10, desc(DATA_DESC));
	return fm;
}

static void expect_fault(struct fake_machine *fm, int rc, uint8_t vector,
			 uint32_t ec)
{
	EXPECT_EQ(rc, EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, vector);
	EXPECT_EQ(fm->ctx.exc.error_code, ec);
	EXPECT_EQ(fm->ctx.rip, CODE);
}

/* ---- MOV r/m, Sreg --------------------------------------------------------- */

/* kvm-unit-tests' "data16 mov %cs, mem" on MMIO: two bytes; a 32-bit
 * register is zero-extended, a 16-bit one keeps its upper bits. */
TEST(mov_from_sreg)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_R8] = FM_MMIO_BASE;
	ASSERT(FM_RUN(fm, 0x66, 0x41, 0x8c, 0x08) == EMUL_OK);	/* mov [r8], cs */
	EXPECT_EQ(fm->mmio_count, 1);
	EXPECT_EQ(fm->mmio_log[0].len, 2);
	EXPECT_EQ(fm->mmio_log[0].val, 0x08);
	EXPECT_EQ(fm->ctx.rip, CODE + 4);
	fm->ctx.seg[EMUL_DS].sel = 0x2b;
	fm->ctx.gpr[EMUL_RAX] = ~0ULL;
	ASSERT(FM_RUN(fm, 0x8c, 0xd8) == EMUL_OK);		/* mov eax, ds */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x2b);
	fm->ctx.gpr[EMUL_RAX] = ~0ULL;
	ASSERT(FM_RUN(fm, 0x66, 0x8c, 0xd8) == EMUL_OK);	/* mov ax, ds */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xffffffffffff002bULL);
	fm_free(fm);
}

/* ---- MOV Sreg, r/m ----------------------------------------------------------- */

/* SS from MMIO: the descriptor is checked, marked accessed, and the load
 * blocks interrupts for one instruction. */
TEST(mov_ss_loads_and_blocks)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RBX] = FM_MMIO_BASE;
	fm->mmio[0] = 0x10;
	ASSERT(FM_RUN(fm, 0x8e, 0x13) == EMUL_OK);		/* mov ss, [rbx] */
	EXPECT_EQ(fm->seg_loads, 1);
	EXPECT_EQ(fm->ctx.seg[EMUL_SS].sel, 0x10);
	EXPECT_EQ(fm->ctx.seg[EMUL_SS].base, 0x345000);
	EXPECT_EQ(fm->ctx.seg[EMUL_SS].limit, 0xffffffff);
	EXPECT_EQ(fm->ctx.seg[EMUL_SS].ar, 0xc093);
	EXPECT(fm_get(fm, GDT + 0x10, 8) & D_A);
	EXPECT_EQ(fm->ctx.blocking, EMUL_BLOCK_MOV_SS);
	EXPECT_EQ(fm->ctx.rip, CODE + 2);
	fm->ctx.gpr[EMUL_RAX] = 0x10;
	ASSERT(FM_RUN(fm, 0x8e, 0xd8) == EMUL_OK);		/* mov ds, eax */
	EXPECT_EQ(fm->ctx.blocking, 0);
	EXPECT_EQ(fm->ctx.seg[EMUL_DS].sel, 0x10);
	fm_free(fm);
}

/* kvm-unit-tests' test_sreg: a null SS in 64-bit mode at CPL 0 with
 * RPL 0 is allowed (unusable, DPL = CPL); RPL != CPL is #GP(0) for null,
 * #GP(selector) for a descriptor. */
TEST(mov_ss_null_and_rpl)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RAX] = 0;
	ASSERT(FM_RUN(fm, 0x8e, 0xd0) == EMUL_OK);		/* mov ss, eax */
	EXPECT_EQ(fm->ctx.seg[EMUL_SS].sel, 0);
	EXPECT_EQ(fm->ctx.seg[EMUL_SS].ar, EMUL_AR_UNUSABLE);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RAX] = 3;
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd0), EMUL_VEC_GP, 0);
	fm->ctx.gpr[EMUL_RAX] = 0x13;
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd0), EMUL_VEC_GP, 0x10);
	EXPECT_EQ(fm->ctx.seg[EMUL_SS].sel, 0);
	EXPECT_EQ(fm->seg_loads, 1);
	/* CPL 3: a null SS is #GP(0) even with RPL 3 */
	fm->ctx.cpl = 3;
	fm->ctx.gpr[EMUL_RAX] = 3;
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd0), EMUL_VEC_GP, 0);
	/* Outside 64-bit mode any null SS is #GP(0) */
	fm_mode32(fm);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RAX] = 0;
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd0), EMUL_VEC_GP, 0);
	fm_free(fm);
}

/* SS must be a present writable data segment with DPL = CPL. */
TEST(mov_ss_descriptor_checks)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, GDT + 0x18, desc(D_S | D_P));		/* read-only */
	fm_set64(fm, GDT + 0x20, desc(DATA_DESC & ~D_P));
	fm_set64(fm, GDT + 0x28, desc(DATA_DESC | D_DPL3));
	fm->ctx.gpr[EMUL_RAX] = 0x08;				/* code */
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd0), EMUL_VEC_GP, 0x08);
	fm->ctx.gpr[EMUL_RAX] = 0x18;
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd0), EMUL_VEC_GP, 0x18);
	fm->ctx.gpr[EMUL_RAX] = 0x20;
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd0), EMUL_VEC_SS, 0x20);
	fm->ctx.gpr[EMUL_RAX] = 0x28;
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd0), EMUL_VEC_GP, 0x28);
	fm->ctx.gpr[EMUL_RAX] = 0x80;				/* past the limit */
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd0), EMUL_VEC_GP, 0x80);
	EXPECT_EQ(fm->seg_loads, 0);
	fm_free(fm);
}

/* DS/ES/FS/GS: data or readable code; privilege unless conforming;
 * not present is #NP; null leaves the register unusable; LDT selectors
 * need a usable LDTR. */
TEST(mov_data_segment_checks)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, GDT + 0x18, desc(D_S | D_CODE | D_P));	/* execute-only */
	fm_set64(fm, GDT + 0x20, desc(DATA_DESC & ~D_P));
	fm->ctx.gpr[EMUL_RAX] = 0x18;
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd8), EMUL_VEC_GP, 0x18);
	fm->ctx.gpr[EMUL_RAX] = 0x20;
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xe0), EMUL_VEC_NP, 0x20);
	fm->ctx.gpr[EMUL_RAX] = 0x08;				/* readable code */
	ASSERT(FM_RUN(fm, 0x8e, 0xc0) == EMUL_OK);		/* mov es, eax */
	EXPECT_EQ(fm->ctx.seg[EMUL_ES].sel, 0x08);
	fm->ctx.cpl = 3;
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RAX] = 0x13;				/* DPL 0 < CPL 3 */
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd8), EMUL_VEC_GP, 0x10);
	fm->ctx.cpl = 0;
	fm->ctx.seg[EMUL_FS].base = 0x1234;
	fm->ctx.gpr[EMUL_RAX] = 0;
	ASSERT(FM_RUN(fm, 0x8e, 0xe0) == EMUL_OK);		/* mov fs, eax */
	EXPECT_EQ(fm->ctx.seg[EMUL_FS].ar, EMUL_AR_UNUSABLE);
	EXPECT_EQ(fm->ctx.seg[EMUL_FS].base, 0);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RAX] = 0x0c;				/* LDT, unusable */
	expect_fault(fm, FM_RUN(fm, 0x8e, 0xd8), EMUL_VEC_GP, 0x0c);
	fm->ldtr = (struct emul_seg){ LDT, 0xf, 0x82, 0x40 };
	fm_set64(fm, LDT + 0x08, desc(DATA_DESC | D_A));
	ASSERT(FM_RUN(fm, 0x8e, 0xd8) == EMUL_OK);
	EXPECT_EQ(fm->ctx.seg[EMUL_DS].sel, 0x0c);
	EXPECT_EQ(fm->ctx.seg[EMUL_DS].base, 0x345000);
	fm_free(fm);
}

/* Real mode: selector and base only; virtual-8086 mode: DPL 3 data. */
TEST(mov_sreg_real_and_v86)
{
	struct fake_machine *fm = setup64();

	fm_mode16(fm);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RAX] = 0x1234;
	ASSERT(FM_RUN(fm, 0x8e, 0xd8) == EMUL_OK);		/* mov ds, ax */
	EXPECT_EQ(fm->ctx.seg[EMUL_DS].sel, 0x1234);
	EXPECT_EQ(fm->ctx.seg[EMUL_DS].base, 0x12340);
	EXPECT_EQ(fm->ctx.seg[EMUL_DS].ar, FM_AR_DATA);
	fm->ctx.cr0 = EMUL_CR0_PE;
	fm->ctx.rflags |= EMUL_RFLAGS_VM;
	fm->ctx.cpl = 3;
	fm->ctx.rip = CODE;
	ASSERT(FM_RUN(fm, 0x8e, 0xd0) == EMUL_OK);		/* mov ss, ax */
	EXPECT_EQ(fm->ctx.seg[EMUL_SS].ar, 0xf3);
	EXPECT_EQ(fm->ctx.seg[EMUL_SS].limit, 0xffff);
	EXPECT_EQ(fm->ctx.blocking, EMUL_BLOCK_MOV_SS);
	fm_free(fm);
}

/* ---- near JMP / CALL ------------------------------------------------------------ */

/* kvm-unit-tests' jmp through MMIO to a non-canonical address: #GP(0)
 * and nothing changes; CALL pushes the next RIP. */
TEST(near_jmp_call_through_memory)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, DATA, 0x123456);
	ASSERT(FM_RUN(fm, 0xff, 0x23) == EMUL_OK);		/* jmp [rbx] */
	EXPECT_EQ(fm->ctx.rip, 0x123456);
	EXPECT(fm->ctx.retired);
	/* A jump to itself completes too, though RIP is where it was */
	fm->ctx.rip = CODE;
	fm_set64(fm, DATA, CODE);
	ASSERT(FM_RUN(fm, 0xff, 0x23) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, CODE);
	EXPECT(fm->ctx.retired);
	fm_set64(fm, DATA, 0x123456);
	fm->ctx.rip = CODE;
	ASSERT(FM_RUN(fm, 0x66, 0xff, 0x13) == EMUL_OK);	/* call [rbx]: 66 ignored */
	EXPECT_EQ(fm->ctx.rip, 0x123456);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK - 8);
	EXPECT_EQ(fm_get(fm, STACK - 8, 8), CODE + 3);
	fm->ctx.rip = CODE;
	fm_set64(fm, DATA, 0x8000000000000000ULL);
	expect_fault(fm, FM_RUN(fm, 0xff, 0x13), EMUL_VEC_GP, 0);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK - 8);
	fm_free(fm);
}

/* 32-bit code: 66 makes a 16-bit near CALL (IP pushed, 2 bytes); a
 * target past CS's limit is #GP(0). */
TEST(near_call_legacy)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RBX] = DATA;
	fm->ctx.gpr[EMUL_RSP] = STACK;
	fm_set32(fm, DATA, 0x2345);
	ASSERT(FM_RUN(fm, 0x66, 0xff, 0x13) == EMUL_OK);	/* call word [ebx] */
	EXPECT_EQ(fm->ctx.rip, 0x2345);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK - 2);
	EXPECT_EQ(fm_get(fm, STACK - 2, 2), CODE + 3);
	fm->ctx.seg[EMUL_CS].limit = 0xffff;
	fm->ctx.rip = CODE;
	fm_set32(fm, DATA, 0x10000);
	expect_fault(fm, FM_RUN(fm, 0xff, 0x23), EMUL_VEC_GP, 0);
	fm_free(fm);
}

/* Relative branches in real mode: JMP rel8 to itself, Jcc taken and
 * not, CALL rel16 pushing IP, 66 making rel32 with a 32-bit target; the
 * target wraps at 16 bits and must be within CS's limit. */
TEST(relative_branches_16)
{
	struct fake_machine *fm = fm_new();

	fm_mode16(fm);
	fm->ctx.rip = 0x100;
	fm->ctx.gpr[EMUL_RSP] = STACK;
	ASSERT(FM_RUN(fm, 0xeb, 0xfe) == EMUL_OK);		/* jmp . */
	EXPECT_EQ(fm->ctx.rip, 0x100);
	EXPECT(fm->ctx.retired);
	fm->ctx.rflags |= EMUL_RFLAGS_ZF;
	ASSERT(FM_RUN(fm, 0x75, 0x10) == EMUL_OK);		/* jnz: not taken */
	EXPECT_EQ(fm->ctx.rip, 0x102);
	ASSERT(FM_RUN(fm, 0x74, 0x80) == EMUL_OK);		/* jz -0x80 */
	EXPECT_EQ(fm->ctx.rip, 0x104 - 0x80);
	ASSERT(FM_RUN(fm, 0x0f, 0x84, 0x00, 0x10) == EMUL_OK);	/* jz rel16 */
	EXPECT_EQ(fm->ctx.rip, 0x84 + 4 + 0x1000);
	ASSERT(FM_RUN(fm, 0xe8, 0xfc, 0xff) == EMUL_OK);	/* call -4 */
	EXPECT_EQ(fm->ctx.rip, 0x1088 + 3 - 4);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK - 2);
	EXPECT_EQ(fm_get(fm, STACK - 2, 2), 0x108b);
	fm->ctx.rip = 0xfff0;
	ASSERT(FM_RUN(fm, 0xe9, 0x20, 0x00) == EMUL_OK);	/* wraps at 64K */
	EXPECT_EQ(fm->ctx.rip, 0x13);
	fm->ctx.rip = 0x100;
	/* Past the limit: #GP(0), RIP unchanged. */
	EXPECT_EQ(FM_RUN(fm, 0x66, 0xe9, 0x00, 0x00, 0x01, 0x00), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->ctx.rip, 0x100);
	fm->ctx.seg[EMUL_CS].limit = 0xfffff;
	ASSERT(FM_RUN(fm, 0x66, 0xe9, 0x00, 0x00, 0x01, 0x00) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, 0x10106);
	fm_free(fm);
}

/* 64-bit mode: rel32 sign-extended to 64 bits, 66 ignored (Intel). */
TEST(relative_branches_64)
{
	struct fake_machine *fm = setup64();

	fm->ctx.rip = CODE + 0x2000;
	ASSERT(FM_RUN(fm, 0x66, 0xe9, 0x00, 0xf0, 0xff, 0xff) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, CODE + 0x2006 - 0x1000);
	fm->ctx.rip = CODE;
	ASSERT(FM_RUN(fm, 0xe8, 0x10, 0x00, 0x00, 0x00) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, CODE + 5 + 0x10);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK - 8);
	EXPECT_EQ(fm_get(fm, STACK - 8, 8), CODE + 5);
	fm_free(fm);
}

/* ---- far JMP / CALL ----------------------------------------------------------- */

static void put_farptr64(struct fake_machine *fm, uint64_t off, uint16_t sel)
{
	fm_set64(fm, DATA, off);
	fm_put(fm, DATA + 8, &sel, 2);
}

/* kvm-unit-tests' "rex64 ljmp *mem": m16:64 to a 64-bit code segment;
 * CS.RPL becomes the CPL, the descriptor is marked accessed. */
TEST(far_jmp_m16_64)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, GDT + 0x18, desc(CODE64_DESC));
	put_farptr64(fm, 0x7fff12345678ULL, 0x18);
	ASSERT(FM_RUN(fm, 0x48, 0xff, 0x2b) == EMUL_OK);	/* rex64 ljmp [rbx] */
	EXPECT_EQ(fm->ctx.rip, 0x7fff12345678ULL);
	EXPECT_EQ(fm->seg_loads, 1);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].sel, 0x18);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].ar, 0x209b);
	EXPECT(fm_get(fm, GDT + 0x18, 8) & D_A);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK);
	fm_free(fm);
}

/* Checks of the code segment, each fault leaving everything as it was. */
TEST(far_jmp_checks)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, GDT + 0x18, desc(CODE32_DESC & ~D_G));	/* limit 0xfffff */
	fm_set64(fm, GDT + 0x20, desc(CODE64_DESC | D_DB));	/* L and D */
	fm_set64(fm, GDT + 0x28, desc(CODE64_DESC & ~D_P));
	fm_set64(fm, GDT + 0x30, desc(CODE64_DESC | D_DPL3));
	put_farptr64(fm, 0x100000, 0x18);			/* past the limit */
	expect_fault(fm, FM_RUN(fm, 0x48, 0xff, 0x2b), EMUL_VEC_GP, 0);
	put_farptr64(fm, 0x1000, 0x20);
	expect_fault(fm, FM_RUN(fm, 0x48, 0xff, 0x2b), EMUL_VEC_GP, 0x20);
	put_farptr64(fm, 0x1000, 0x28);
	expect_fault(fm, FM_RUN(fm, 0x48, 0xff, 0x2b), EMUL_VEC_NP, 0x28);
	put_farptr64(fm, 0x1000, 0x30);				/* DPL 3 != CPL */
	expect_fault(fm, FM_RUN(fm, 0x48, 0xff, 0x2b), EMUL_VEC_GP, 0x30);
	put_farptr64(fm, 0x1000, 0x13);				/* data, RPL 3 */
	expect_fault(fm, FM_RUN(fm, 0x48, 0xff, 0x2b), EMUL_VEC_GP, 0x10);
	put_farptr64(fm, 0x1000, 0x03);				/* null */
	expect_fault(fm, FM_RUN(fm, 0x48, 0xff, 0x2b), EMUL_VEC_GP, 0);
	put_farptr64(fm, 0x800000000000ULL, 0x08);		/* non-canonical */
	expect_fault(fm, FM_RUN(fm, 0x48, 0xff, 0x2b), EMUL_VEC_GP, 0);
	EXPECT_EQ(fm->seg_loads, 0);
	/* Into compatibility mode: m16:32 within the limit */
	fm_set32(fm, DATA, 0x5000);
	fm_set32(fm, DATA + 4, 0x18);
	ASSERT(FM_RUN(fm, 0xff, 0x2b) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, 0x5000);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].ar & EMUL_AR_L, 0);
	fm_free(fm);
}

/* A conforming segment with DPL <= CPL is entered at the CPL; gates and
 * TSSs are not Keel's (EMUL_UNSUPPORTED); other system types #GP. */
TEST(far_jmp_conforming_and_system)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, GDT + 0x18, desc(CODE64_DESC | D_C));
	fm_set64(fm, GDT + 0x20, desc(D_P | (0xcULL << 40)));	/* call gate */
	fm_set64(fm, GDT + 0x28, desc(D_P | (0x2ULL << 40)));	/* LDT */
	fm->ctx.cpl = 3;
	fm->ctx.seg[EMUL_CS].ar |= 3 << 5;
	put_farptr64(fm, 0x2000, 0x18);
	ASSERT(FM_RUN(fm, 0x48, 0xff, 0x2b) == EMUL_OK);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].sel, 0x1b);
	fm->ctx.rip = CODE;
	put_farptr64(fm, 0x2000, 0x20);
	EXPECT_EQ(FM_RUN(fm, 0x48, 0xff, 0x2b), EMUL_UNSUPPORTED);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_UD);
	put_farptr64(fm, 0x2000, 0x28);
	expect_fault(fm, FM_RUN(fm, 0x48, 0xff, 0x2b), EMUL_VEC_GP, 0x28);
	fm_free(fm);
}

/* Far CALL m16:32 in 64-bit mode: CS and EIP pushed as 4 bytes each; a
 * stack fault (#SS(0) for a non-canonical RSP) leaves CS and RSP. */
TEST(far_call)
{
	struct fake_machine *fm = setup64();

	fm_set32(fm, DATA, 0x4000);
	fm_set32(fm, DATA + 4, 0x08);
	ASSERT(FM_RUN(fm, 0xff, 0x1b) == EMUL_OK);		/* lcall [rbx] */
	EXPECT_EQ(fm->ctx.rip, 0x4000);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK - 8);
	EXPECT_EQ(fm_get(fm, STACK - 4, 4), 0x08);
	EXPECT_EQ(fm_get(fm, STACK - 8, 4), CODE + 2);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RSP] = 0x800000000004ULL;
	expect_fault(fm, FM_RUN(fm, 0xff, 0x1b), EMUL_VEC_SS, 0);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], 0x800000000004ULL);
	EXPECT_EQ(fm->seg_loads, 1);
	fm_free(fm);
}

/* Real mode: m16:16, CS base = selector << 4, CS and IP pushed. */
TEST(far_call_real_mode)
{
	struct fake_machine *fm = fm_new();
	uint32_t ptr = 0x12340100;				/* 1234:0100 */

	fm_mode16(fm);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RBX] = DATA;
	fm->ctx.gpr[EMUL_RSP] = STACK;
	fm->ctx.seg[EMUL_CS].sel = 0;
	fm_put(fm, DATA, &ptr, 4);
	ASSERT(FM_RUN(fm, 0xff, 0x1f) == EMUL_OK);		/* lcall [bx] */
	EXPECT_EQ(fm->ctx.rip, 0x100);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].sel, 0x1234);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].base, 0x12340);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK - 4);
	EXPECT_EQ(fm_get(fm, STACK - 2, 2), 0);
	EXPECT_EQ(fm_get(fm, STACK - 4, 2), CODE + 2);
	fm_free(fm);
}

/* ---- MMX MOVQ --------------------------------------------------------------------- */

/* kvm-unit-tests' test_mmx: MOVQ to and from MMIO, and between MMX
 * registers; CR4.OSFXSR does not matter. */
TEST(mmx_movq)
{
	struct fake_machine *fm = setup64();
	uint64_t v = 0x0102030405060708ULL, got = 0;

	memcpy(fm->mm[3], &v, 8);
	fm->ctx.gpr[EMUL_RBX] = FM_MMIO_BASE;
	ASSERT(FM_RUN(fm, 0x0f, 0x7f, 0x1b) == EMUL_OK);	/* movq [rbx], mm3 */
	EXPECT_EQ(fm->mmio_count, 1);
	EXPECT_EQ(fm->mmio_log[0].len, 8);
	EXPECT_EQ(fm->mmio_log[0].val, v);
	EXPECT_EQ(fm->ctx.rip, CODE + 3);
	fm->mmio[0] = 0x77;
	ASSERT(FM_RUN(fm, 0x0f, 0x6f, 0x23) == EMUL_OK);	/* movq mm4, [rbx] */
	memcpy(&got, fm->mm[4], 8);
	EXPECT_EQ(got, 0x0102030405060777ULL);
	ASSERT(FM_RUN(fm, 0x0f, 0x6f, 0xfc) == EMUL_OK);	/* movq mm7, mm4 */
	EXPECT(!memcmp(fm->mm[7], fm->mm[4], 8));
	fm_free(fm);
}

/* #UD with CR0.EM, #NM with CR0.TS, #MF for a pending x87 exception
 * (with CR0.NE; without it the FERR# path is not Keel's). */
TEST(mmx_movq_faults)
{
	struct fake_machine *fm = setup64();

	fm->ctx.cr0 |= EMUL_CR0_EM | EMUL_CR0_TS;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x7f, 0x03), EMUL_VEC_UD, 0);
	fm->ctx.cr0 &= ~EMUL_CR0_EM;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x7f, 0x03), EMUL_VEC_NM, 0);
	fm->ctx.cr0 = EMUL_CR0_PE | EMUL_CR0_NE;
	fm->fsw = 0x80;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x7f, 0x03), EMUL_VEC_MF, 0);
	fm->ctx.cr0 &= ~EMUL_CR0_NE;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x7f, 0x03), EMUL_UNSUPPORTED);
	EXPECT_EQ(fm_get(fm, DATA, 8), 0);
	fm_free(fm);
}

TEST_MAIN()
