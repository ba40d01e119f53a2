/* String instruction tests: REP/REPE/REPNE, the direction flag, address
 * size wrap-around, batching, faults between iterations, INS/OUTS. */
#include "tests/unit/test.h"
#include "tests/emul/fake_machine.h"

#define CODE	0x1000ULL
#define SRC	0x8000ULL
#define DST	0xa000ULL

static struct fake_machine *setup64(void)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RSI] = SRC;
	fm->ctx.gpr[EMUL_RDI] = DST;
	for (unsigned int i = 0; i < 0x400; i++)
		fm->ram[SRC + i] = (uint8_t)i;
	return fm;
}

TEST(rep_movsb_forward)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RCX] = 10;
	ASSERT(FM_RUN(fm, 0xf3, 0xa4) == EMUL_OK);
	EXPECT_EQ(memcmp(fm->ram + DST, fm->ram + SRC, 10), 0);
	EXPECT_EQ(fm->ram[DST + 10], 0);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSI], SRC + 10);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST + 10);
	EXPECT_EQ(fm->ctx.rip, CODE + 2);
	fm_free(fm);
}

TEST(rep_movsd_backward)
{
	struct fake_machine *fm = setup64();

	fm->ctx.rflags |= EMUL_RFLAGS_DF;
	fm->ctx.gpr[EMUL_RSI] = SRC + 8;
	fm->ctx.gpr[EMUL_RDI] = DST + 8;
	fm->ctx.gpr[EMUL_RCX] = 3;
	ASSERT(FM_RUN(fm, 0xf3, 0xa5) == EMUL_OK);
	EXPECT_EQ(memcmp(fm->ram + DST, fm->ram + SRC, 12), 0);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSI], SRC - 4);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST - 4);
	fm_free(fm);
}

TEST(rep_zero_count_is_a_no_op)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RCX] = 0;
	ASSERT(FM_RUN(fm, 0xf3, 0x48, 0xab) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST);
	EXPECT_EQ(fm->ctx.rip, CODE + 3);
	fm_free(fm);
}

TEST(rep_zero_count_a32_zero_extends)
{
	struct fake_machine *fm = setup64();

	/* 67 rep movsb with ECX = 0: ECX/ESI/EDI are written (Intel model) */
	fm->ctx.gpr[EMUL_RCX] = 0xabcd000000000000ULL;
	fm->ctx.gpr[EMUL_RSI] = 0x1234000000000000ULL | SRC;
	fm->ctx.gpr[EMUL_RDI] = 0x5678000000000000ULL | DST;
	ASSERT(FM_RUN(fm, 0x67, 0xf3, 0xa4) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSI], SRC);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST);
	/* stos writes RDI, not RSI */
	fm->ctx.gpr[EMUL_RSI] = 0x1234000000000000ULL;
	fm->ctx.gpr[EMUL_RDI] = 0x5678000000000000ULL | DST;
	ASSERT(FM_RUN(fm, 0x67, 0xf3, 0xaa) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSI], 0x1234000000000000ULL);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST);
	fm_free(fm);
}

TEST(rep_zero_count_a32_lods_cmps_scas_keep_pointers)
{
	static const uint8_t ops[] = { 0xac, 0xa6, 0xae };
	struct fake_machine *fm = setup64();

	for (unsigned int i = 0; i < sizeof(ops); i++) {
		const uint8_t code[] = { 0x67, 0xf3, ops[i] };

		fm->ctx.gpr[EMUL_RCX] = 0xabcd000000000000ULL;
		fm->ctx.gpr[EMUL_RSI] = 0x1234000000000000ULL | SRC;
		fm->ctx.gpr[EMUL_RDI] = 0x5678000000000000ULL | DST;
		fm->ctx.rip = CODE;
		ASSERT(fm_run(fm, code, sizeof(code)) == EMUL_OK);
		EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0);
		EXPECT_EQ(fm->ctx.gpr[EMUL_RSI], 0x1234000000000000ULL | SRC);
		EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], 0x5678000000000000ULL | DST);
	}
	fm_free(fm);
}

TEST(rep_stosq_batches)
{
	struct fake_machine *fm = setup64();
	unsigned int n = EMUL_REP_BATCH + 36;

	fm->ctx.gpr[EMUL_RAX] = 0x5555aaaa5555aaaaULL;
	fm->ctx.gpr[EMUL_RCX] = n;
	ASSERT(FM_RUN(fm, 0xf3, 0x48, 0xab) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, CODE);			/* not finished */
	EXPECT(!fm->ctx.retired);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 36);
	ASSERT(emul_step(&fm->ctx) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, CODE + 3);
	EXPECT(fm->ctx.retired);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST + 8 * n);
	EXPECT_EQ(fm_get(fm, DST + 8 * (n - 1), 8), 0x5555aaaa5555aaaaULL);
	EXPECT_EQ(fm_get(fm, DST + 8 * n, 8), 0);
	fm_free(fm);
}

/* With TF the processor traps after every iteration (SDM Vol. 3B
 * 17.3.1.4): one iteration per step, retired only after the last. */
TEST(rep_movsb_single_steps_each_iteration_with_tf)
{
	struct fake_machine *fm = setup64();

	fm->ctx.rflags |= EMUL_RFLAGS_TF;
	fm->ctx.gpr[EMUL_RCX] = 3;
	ASSERT(FM_RUN(fm, 0xf3, 0xa4) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 2);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST + 1);
	EXPECT_EQ(fm->ctx.rip, CODE);
	EXPECT(!fm->ctx.retired);
	ASSERT(emul_step(&fm->ctx) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 1);
	EXPECT(!fm->ctx.retired);
	ASSERT(emul_step(&fm->ctx) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0);
	EXPECT_EQ(fm->ctx.rip, CODE + 2);
	EXPECT(fm->ctx.retired);
	EXPECT_EQ(memcmp(fm->ram + DST, fm->ram + SRC, 3), 0);
	fm_free(fm);
}

/* Not retired only while iterations are left: not after the last one, a
 * count of zero, a REPE that ended on ZF, or a plain instruction. */
TEST(rep_not_retired_only_with_iterations_left)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RCX] = EMUL_REP_BATCH + 1;
	ASSERT(FM_RUN(fm, 0xf3, 0xaa) == EMUL_OK);
	EXPECT(!fm->ctx.retired);
	ASSERT(emul_step(&fm->ctx) == EMUL_OK);
	EXPECT(fm->ctx.retired);
	fm->ctx.gpr[EMUL_RCX] = 0;
	fm->ctx.rip = CODE;
	ASSERT(FM_RUN(fm, 0xf3, 0xaa) == EMUL_OK);
	EXPECT(fm->ctx.retired);
	fm->ram[DST] = 0xee;
	fm->ctx.gpr[EMUL_RDI] = DST;
	fm->ctx.gpr[EMUL_RSI] = SRC;
	fm->ctx.gpr[EMUL_RCX] = 100;
	fm->ctx.rip = CODE;
	ASSERT(FM_RUN(fm, 0xf3, 0xa6) == EMUL_OK);      /* differs at once */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 99);
	EXPECT(fm->ctx.retired);
	fm->ctx.rip = CODE;
	ASSERT(FM_RUN(fm, 0xaa) == EMUL_OK);
	EXPECT(fm->ctx.retired);
	fm_free(fm);
}

TEST(repe_cmpsb_stops_at_difference)
{
	struct fake_machine *fm = setup64();

	memcpy(fm->ram + DST, fm->ram + SRC, 16);
	fm->ram[DST + 5] ^= 0xff;
	fm->ctx.gpr[EMUL_RCX] = 16;
	ASSERT(FM_RUN(fm, 0xf3, 0xa6) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 10);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSI], SRC + 6);
	EXPECT(!(fm->ctx.rflags & EMUL_RFLAGS_ZF));
	/* [rsi] = 5 < [rdi] = 0xfa: borrow */
	EXPECT(fm->ctx.rflags & EMUL_RFLAGS_CF);
	EXPECT_EQ(fm->ctx.rip, CODE + 2);
	fm_free(fm);
}

TEST(repne_scasb_finds_byte)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RDI] = SRC;
	fm->ctx.gpr[EMUL_RAX] = 0x20;
	fm->ctx.gpr[EMUL_RCX] = 100;
	ASSERT(FM_RUN(fm, 0xf2, 0xae) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], SRC + 0x21);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 100 - 0x21);
	EXPECT(fm->ctx.rflags & EMUL_RFLAGS_ZF);
	fm_free(fm);
}

TEST(repe_cmps_runs_out_with_equal)
{
	struct fake_machine *fm = setup64();

	memcpy(fm->ram + DST, fm->ram + SRC, 8);
	fm->ctx.gpr[EMUL_RCX] = 2;
	ASSERT(FM_RUN(fm, 0xf3, 0xa7) == EMUL_OK);	/* repe cmpsd */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0);
	EXPECT(fm->ctx.rflags & EMUL_RFLAGS_ZF);
	EXPECT_EQ(fm->ctx.rip, CODE + 2);
	fm_free(fm);
}

TEST(lods_and_stos_single)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RAX] = 0xffffffffffffffffULL;
	ASSERT(FM_RUN(fm, 0x66, 0xad) == EMUL_OK);	/* lodsw */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xffffffffffff0100ULL);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSI], SRC + 2);
	ASSERT(FM_RUN(fm, 0xad) == EMUL_OK);		/* lodsd zero-extends */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x05040302);
	ASSERT(FM_RUN(fm, 0xaa) == EMUL_OK);		/* stosb */
	EXPECT_EQ(fm->ram[DST], 0x02);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST + 1);
	fm_free(fm);
}

TEST(movs_source_override)
{
	struct fake_machine *fm = setup64();

	fm_set_seg(fm, EMUL_FS, 0x100, 0, FM_AR_DATA);
	fm->ctx.gpr[EMUL_RCX] = 4;
	ASSERT(FM_RUN(fm, 0x64, 0xf3, 0xa4) == EMUL_OK);
	EXPECT_EQ(memcmp(fm->ram + DST, fm->ram + SRC + 0x100, 4), 0);
	fm_free(fm);
}

TEST(address_size_16_wraps_si_and_keeps_upper)
{
	struct fake_machine *fm = fm_new();

	fm_mode16(fm);
	fm->ctx.rip = 0x100;
	fm_set_seg(fm, EMUL_DS, 0x10000, 0xffff, FM_AR_DATA);
	fm_set_seg(fm, EMUL_ES, 0x30000, 0xffff, FM_AR_DATA);
	fm->ram[0x1ffff] = 0x11;
	fm->ram[0x10000] = 0x22;
	fm->ctx.gpr[EMUL_RSI] = 0xabcdffff;
	fm->ctx.gpr[EMUL_RDI] = 0x12340000;
	fm->ctx.gpr[EMUL_RCX] = 0x55550002;
	ASSERT(FM_RUN(fm, 0xf3, 0xa4) == EMUL_OK);
	EXPECT_EQ(fm->ram[0x30000], 0x11);
	EXPECT_EQ(fm->ram[0x30001], 0x22);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSI], 0xabcd0001);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], 0x12340002);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0x55550000);
	EXPECT_EQ(fm->ctx.rip, 0x102);
	fm_free(fm);
}

TEST(address_size_32_in_64bit_mode)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RDI] = 0xffffffff00000000ULL | DST;
	fm->ctx.gpr[EMUL_RCX] = 0xffffffff00000001ULL;
	fm->ctx.gpr[EMUL_RAX] = 0x77;
	ASSERT(FM_RUN(fm, 0x67, 0xf3, 0xaa) == EMUL_OK);	/* rep stosb, a32 */
	EXPECT_EQ(fm->ram[DST], 0x77);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST + 1);	/* EDI written: zero-extended */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0);
	fm_free(fm);
}

TEST(outs_and_ins_with_rep)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RDX] = 0x3f8;
	fm->ctx.gpr[EMUL_RCX] = 3;
	ASSERT(FM_RUN(fm, 0xf3, 0x6e) == EMUL_OK);	/* rep outsb */
	ASSERT(fm->pio_count == 3);
	EXPECT(fm->pio_log[2].write);
	EXPECT_EQ(fm->pio_log[2].addr, 0x3f8);
	EXPECT_EQ(fm->pio_log[2].val, 2);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSI], SRC + 3);
	fm->pio_count = 0;
	fm->pio_in_value = 0x1000;
	fm->ctx.gpr[EMUL_RCX] = 2;
	ASSERT(FM_RUN(fm, 0xf3, 0x66, 0x6d) == EMUL_OK);	/* rep insw */
	EXPECT_EQ(fm_get(fm, DST, 4), 0x10011000);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST + 4);
	EXPECT_EQ(fm->pio_log[0].len, 2);
	fm_free(fm);
}

TEST(io_permission)
{
	struct fake_machine *fm = setup64();

	fm->ctx.cpl = 3;
	fm->ctx.gpr[EMUL_RDX] = 0x80;
	/* CPL 3 > IOPL 0 and the bitmap says no: #GP(0) before any I/O */
	ASSERT(FM_RUN(fm, 0x6c) == EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->pio_count, 0);
	fm->io_allow = true;
	EXPECT_EQ(emul_step(&fm->ctx), EMUL_OK);
	fm->io_allow = false;
	fm->ctx.rflags |= 3ULL << EMUL_RFLAGS_IOPL_SHIFT;
	EXPECT_EQ(FM_RUN(fm, 0x6c), EMUL_OK);
	fm_free(fm);
}

/* A 4-level identity map of the first 4 MiB except one page, so a REP
 * instruction runs into a #PF part way. */
static void build_identity_minus_page(struct fake_machine *fm, uint64_t hole)
{
	const uint64_t pml4 = 0x100000, pdpt = 0x101000, pd = 0x102000;
	const uint64_t pt = 0x103000;

	fm_set64(fm, pml4, pdpt | 7);
	fm_set64(fm, pdpt, pd | 7);
	for (unsigned int i = 0; i < 2; i++)
		fm_set64(fm, pd + 8 * i, (pt + 0x1000 * i) | 7);
	for (unsigned int i = 0; i < 1024; i++)
		fm_set64(fm, pt + 8 * i, ((uint64_t)i << 12) | 7);
	fm_set64(fm, pt + 8 * (hole >> 12), 0);
	fm->ctx.cr3 = pml4;
	fm->ctx.cr0 |= EMUL_CR0_PG;
	fm->ctx.cr4 |= EMUL_CR4_PAE;
}

TEST(page_fault_mid_rep_commits_done_iterations)
{
	struct fake_machine *fm = setup64();

	build_identity_minus_page(fm, DST + 0x1000);
	fm->ctx.gpr[EMUL_RDI] = DST + 0x1000 - 8;
	fm->ctx.gpr[EMUL_RCX] = 5;
	fm->ctx.gpr[EMUL_RAX] = 0x4141414141414141ULL;
	ASSERT(FM_RUN(fm, 0xf3, 0x48, 0xab) == EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_PF);
	EXPECT_EQ(fm->ctx.exc.error_code, EMUL_PFEC_W);
	EXPECT_EQ(fm->ctx.exc.cr2, DST + 0x1000);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 4);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDI], DST + 0x1000);
	EXPECT_EQ(fm->ctx.rip, CODE);
	EXPECT_EQ(fm_get(fm, DST + 0x1000 - 8, 8), 0x4141414141414141ULL);
	fm_free(fm);
}

TEST_MAIN()
