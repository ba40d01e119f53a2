/* Segmentation and alignment tests: limits, expand-down, segment types,
 * unusable segments, canonical addresses (#GP vs #SS), #AC, CS limit on
 * instruction fetch, and the segment cache through get_seg. */
#include "tests/unit/test.h"
#include "tests/emul/fake_machine.h"

#define CODE 0x1000ULL

static struct fake_machine *setup32(void)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	fm->ctx.rip = CODE;
	return fm;
}

static void expect_fault(struct fake_machine *fm, int rc, uint8_t vector)
{
	EXPECT_EQ(rc, EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, vector);
	EXPECT(fm->ctx.exc.has_error_code);
	EXPECT_EQ(fm->ctx.exc.error_code, 0);
	EXPECT_EQ(fm->ctx.rip, CODE);
}

TEST(limit_violation_gp_and_ss)
{
	struct fake_machine *fm = setup32();

	fm_set_seg(fm, EMUL_DS, 0x10000, 0xfff, FM_AR_DATA32);
	fm_set_seg(fm, EMUL_SS, 0x20000, 0xfff, FM_AR_DATA32);
	fm->ctx.gpr[EMUL_RBX] = 0xffc;
	EXPECT_EQ(FM_RUN(fm, 0x8b, 0x03), EMUL_OK);		/* last dword */
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RBX] = 0xffd;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x03), EMUL_VEC_GP);	/* one byte out */
	fm->ctx.gpr[EMUL_RBP] = 0xffd;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x45, 0x00), EMUL_VEC_SS); /* [ebp] */
	/* an override to SS turns a [ebx] fault into #SS too */
	expect_fault(fm, FM_RUN(fm, 0x36, 0x8b, 0x03), EMUL_VEC_SS);
	/* and DS override on [ebp] into #GP */
	expect_fault(fm, FM_RUN(fm, 0x3e, 0x8b, 0x45, 0x00), EMUL_VEC_GP);
	fm_free(fm);
}

TEST(expand_down_segment)
{
	struct fake_machine *fm = setup32();

	/* expand-down, B = 0: valid offsets 0x1000..0xffff */
	fm_set_seg(fm, EMUL_SS, 0x20000, 0xfff, FM_AR_DATA | EMUL_AR_TYPE_E);
	fm->ctx.gpr[EMUL_RBP] = 0x1000;
	EXPECT_EQ(FM_RUN(fm, 0x8b, 0x45, 0x00), EMUL_OK);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RBP] = 0xfff;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x45, 0x00), EMUL_VEC_SS);
	fm->ctx.gpr[EMUL_RBP] = 0xfffd;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x45, 0x00), EMUL_VEC_SS);
	/* with B = 1 the top is 4 GiB */
	fm_set_seg(fm, EMUL_SS, 0x20000, 0xfff,
		   FM_AR_DATA | EMUL_AR_TYPE_E | EMUL_AR_DB);
	EXPECT_EQ(FM_RUN(fm, 0x8b, 0x45, 0x00), EMUL_OK);
	fm_free(fm);
}

TEST(segment_types)
{
	struct fake_machine *fm = setup32();

	fm->ctx.gpr[EMUL_RBX] = 0x100;
	/* read-only data segment: loads fine, stores #GP */
	fm_set_seg(fm, EMUL_DS, 0, 0xffffffff, 0x91 | EMUL_AR_DB);
	EXPECT_EQ(FM_RUN(fm, 0x8b, 0x03), EMUL_OK);
	fm->ctx.rip = CODE;
	expect_fault(fm, FM_RUN(fm, 0x89, 0x03), EMUL_VEC_GP);
	/* RMW to read-only: #GP before reading */
	expect_fault(fm, FM_RUN(fm, 0x01, 0x03), EMUL_VEC_GP);
	/* code segment via CS override: readable code can be read, never
	 * written; execute-only code cannot be read */
	expect_fault(fm, FM_RUN(fm, 0x2e, 0x89, 0x03), EMUL_VEC_GP);
	EXPECT_EQ(FM_RUN(fm, 0x2e, 0x8b, 0x03), EMUL_OK);
	fm->ctx.rip = CODE;
	fm_set_seg(fm, EMUL_ES, 0, 0xffffffff, 0x99 | EMUL_AR_DB);
	expect_fault(fm, FM_RUN(fm, 0x26, 0x8b, 0x03), EMUL_VEC_GP);
	/* unusable (null) segment */
	fm_set_seg(fm, EMUL_FS, 0, 0, EMUL_AR_UNUSABLE);
	expect_fault(fm, FM_RUN(fm, 0x64, 0x8b, 0x03), EMUL_VEC_GP);
	fm_free(fm);
}

TEST(segment_base_and_32bit_wrap)
{
	struct fake_machine *fm = setup32();

	fm_set_seg(fm, EMUL_DS, 0xfffff000, 0xffffffff, FM_AR_DATA32);
	fm->ctx.gpr[EMUL_RBX] = 0x2000;		/* linear wraps to 0x1000 */
	fm->ctx.gpr[EMUL_RAX] = 0x99;
	fm->ctx.rip = 0x3000;
	EXPECT_EQ(FM_RUN(fm, 0x89, 0x03), EMUL_OK);
	EXPECT_EQ(fm_get(fm, 0x1000, 4), 0x99);
	fm_free(fm);
}

TEST(canonical_64)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RBX] = 0x0000800000000000ULL;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x03), EMUL_VEC_GP);
	fm->ctx.gpr[EMUL_RBP] = 0x0000800000000000ULL;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x45, 0x00), EMUL_VEC_SS);
	/* the last byte counts too */
	fm->ctx.gpr[EMUL_RBX] = 0x00007ffffffffffeULL;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x03), EMUL_VEC_GP);
	/* 64-bit mode ignores DS limits and bases, honours FS base */
	fm_set_seg(fm, EMUL_DS, 0x5000, 0x10, FM_AR_DATA);
	fm_set_seg(fm, EMUL_FS, 0x5000, 0x10, FM_AR_DATA);
	fm->ctx.gpr[EMUL_RBX] = 0x100;
	fm_set32(fm, 0x100, 1);
	fm_set32(fm, 0x5100, 2);
	EXPECT_EQ(FM_RUN(fm, 0x8b, 0x03), EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 1);
	EXPECT_EQ(FM_RUN(fm, 0x64, 0x8b, 0x03), EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 2);
	/* with LA57 the boundary moves to bit 56 */
	fm->ctx.rip = CODE;
	fm->ctx.cr4 |= EMUL_CR4_LA57;
	fm->ctx.gpr[EMUL_RBX] = 0x0100000000000000ULL;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x03), EMUL_VEC_GP);
	fm_free(fm);
}

TEST(real_mode_limit)
{
	struct fake_machine *fm = fm_new();

	fm_mode16(fm);
	fm->ctx.rip = CODE;
	fm_set_seg(fm, EMUL_DS, 0x10000, 0xffff, FM_AR_DATA);
	fm->ctx.gpr[EMUL_RBX] = 0xffff;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x07), EMUL_VEC_GP);	/* word at ffff */
	EXPECT_EQ(FM_RUN(fm, 0x8a, 0x07), EMUL_OK);			/* byte is fine */
	fm_free(fm);
}

TEST(alignment_check)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	fm->ctx.cpl = 3;
	fm->ctx.cr0 |= EMUL_CR0_AM;
	fm->ctx.rflags |= EMUL_RFLAGS_AC;
	fm->ctx.gpr[EMUL_RBX] = 0x8002;
	expect_fault(fm, FM_RUN(fm, 0x8b, 0x03), EMUL_VEC_AC);	/* dword at 2 */
	EXPECT_EQ(FM_RUN(fm, 0x66, 0x8b, 0x03), EMUL_OK);		/* word at 2 */
	fm->ctx.rip = CODE;
	fm->ctx.cpl = 0;
	EXPECT_EQ(FM_RUN(fm, 0x8b, 0x03), EMUL_OK);		/* CPL 0: none */
	fm->ctx.rip = CODE;
	fm->ctx.cpl = 3;
	fm->ctx.cr0 &= ~EMUL_CR0_AM;
	EXPECT_EQ(FM_RUN(fm, 0x8b, 0x03), EMUL_OK);		/* AM clear */
	fm_free(fm);
}

TEST(cs_limit_on_fetch)
{
	struct fake_machine *fm = setup32();

	/* A 6-byte instruction whose last byte is past the CS limit. */
	fm_set_seg(fm, EMUL_CS, 0, CODE + 4, FM_AR_CODE32);
	expect_fault(fm, FM_RUN(fm, 0xc7, 0x03, 1, 2, 3, 4), EMUL_VEC_GP);
	/* a 2-byte one inside the limit runs */
	fm->ctx.gpr[EMUL_RBX] = 0x8000;
	EXPECT_EQ(FM_RUN(fm, 0x89, 0x03), EMUL_OK);
	/* RIP beyond the limit */
	fm->ctx.rip = CODE + 5;
	EXPECT_EQ(emul_step(&fm->ctx), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	fm_free(fm);
}

static int get_seg_calls;

static int counting_get_seg(struct emul_ctx *ctx, enum emul_segreg seg,
			    struct emul_seg *out)
{
	(void)ctx;
	get_seg_calls++;
	*out = (struct emul_seg){ 0, 0xffffffff,
		seg == EMUL_CS ? FM_AR_CODE32 : FM_AR_DATA32, 0 };
	return EMUL_OK;
}

TEST(segment_cache_fetches_lazily)
{
	struct fake_machine *fm = setup32();
	struct emul_ops ops = fm_ops;

	ops.get_seg = counting_get_seg;
	fm->ctx.ops = &ops;
	emul_begin(&fm->ctx);
	fm->ctx.gpr[EMUL_RBX] = 0x8000;
	get_seg_calls = 0;
	EXPECT_EQ(FM_RUN(fm, 0x89, 0x03), EMUL_OK);
	EXPECT_EQ(get_seg_calls, 2);		/* CS and DS only */
	EXPECT_EQ(FM_RUN(fm, 0x89, 0x03), EMUL_OK);
	EXPECT_EQ(get_seg_calls, 2);		/* cached */
	emul_begin(&fm->ctx);
	EXPECT_EQ(FM_RUN(fm, 0x89, 0x03), EMUL_OK);
	EXPECT_EQ(get_seg_calls, 4);
	fm_free(fm);
}

TEST(mode_detection)
{
	struct fake_machine *fm = fm_new();

	EXPECT_EQ(emul_mode_bits(&fm->ctx), 64);
	fm_mode32(fm);
	EXPECT_EQ(emul_mode_bits(&fm->ctx), 32);
	fm_mode16(fm);
	EXPECT_EQ(emul_mode_bits(&fm->ctx), 16);
	fm_mode32(fm);
	fm->ctx.rflags |= EMUL_RFLAGS_VM;
	EXPECT_EQ(emul_mode_bits(&fm->ctx), 16);
	/* compatibility mode: LMA with a CS that has L = 0 */
	fm_mode64(fm);
	fm_set_seg(fm, EMUL_CS, 0, 0xffffffff, FM_AR_CODE32);
	EXPECT_EQ(emul_mode_bits(&fm->ctx), 32);
	fm_free(fm);
}

TEST_MAIN()
