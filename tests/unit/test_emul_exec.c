/* Executor unit tests: each instruction family, its flags and its memory
 * behaviour, run through emul_step() on the fake machine. */
#include "tests/unit/test.h"
#include "tests/emul/fake_machine.h"

#define CODE	0x1000ULL
#define DATA	0x8000ULL

#define F_CF EMUL_RFLAGS_CF
#define F_PF EMUL_RFLAGS_PF
#define F_AF EMUL_RFLAGS_AF
#define F_ZF EMUL_RFLAGS_ZF
#define F_SF EMUL_RFLAGS_SF
#define F_OF EMUL_RFLAGS_OF

static struct fake_machine *setup64(void)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RBX] = DATA;
	return fm;
}

static uint64_t arith(const struct fake_machine *fm)
{
	return fm->ctx.rflags & EMUL_RFLAGS_ARITH;
}

TEST(mov_store_load_and_rip)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RAX] = 0x1122334455667788ULL;
	fm->ctx.rflags |= EMUL_RFLAGS_RF;
	/* mov [rbx+8], rax */
	ASSERT(FM_RUN(fm, 0x48, 0x89, 0x43, 0x08) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA + 8, 8), 0x1122334455667788ULL);
	EXPECT_EQ(fm->ctx.rip, CODE + 4);
	EXPECT(!(fm->ctx.rflags & EMUL_RFLAGS_RF));
	/* mov ecx, [rbx+8]: 32-bit load zero-extends */
	fm->ctx.gpr[EMUL_RCX] = ~0ULL;
	ASSERT(FM_RUN(fm, 0x8b, 0x4b, 0x08) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0x55667788);
	/* mov cx, [rbx+8]: 16-bit load keeps the rest */
	fm->ctx.gpr[EMUL_RCX] = ~0ULL;
	ASSERT(FM_RUN(fm, 0x66, 0x8b, 0x4b, 0x08) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0xffffffffffff7788ULL);
	/* mov ah, [rbx+9] */
	fm->ctx.gpr[EMUL_RAX] = 0;
	ASSERT(FM_RUN(fm, 0x8a, 0x63, 0x09) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x7700);
	fm_free(fm);
}

TEST(mov_immediates_and_moffs)
{
	struct fake_machine *fm = setup64();

	/* mov qword [rbx], -2 (imm32 sign-extended) */
	ASSERT(FM_RUN(fm, 0x48, 0xc7, 0x03, 0xfe, 0xff, 0xff, 0xff) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 8), 0xfffffffffffffffeULL);
	/* mov byte [rbx+1], 0x5a */
	ASSERT(FM_RUN(fm, 0xc6, 0x43, 0x01, 0x5a) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 2), 0x5afe);
	/* mov eax, [moffs64 DATA] */
	fm->ctx.rip = CODE;
	ASSERT(FM_RUN(fm, 0xa1, 0x00, 0x80, 0, 0, 0, 0, 0, 0) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xffff5afe);
	EXPECT_EQ(fm->ctx.rip, CODE + 9);
	/* mov [moffs32], ax with 67 66 */
	fm->ctx.gpr[EMUL_RAX] = 0xbeef;
	ASSERT(FM_RUN(fm, 0x66, 0x67, 0xa3, 0x10, 0x80, 0, 0) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA + 0x10, 4), 0xbeef);
	/* mov r9, imm64 */
	ASSERT(FM_RUN(fm, 0x49, 0xb9, 1, 2, 3, 4, 5, 6, 7, 8) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_R9], 0x0807060504030201ULL);
	fm_free(fm);
}

TEST(rip_relative_access)
{
	struct fake_machine *fm = setup64();

	fm_set32(fm, CODE + 6 + 0x100, 0xcafe);
	/* mov eax, [rip+0x100] (6 bytes) */
	ASSERT(FM_RUN(fm, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xcafe);
	fm_free(fm);
}

TEST(add_flags)
{
	struct fake_machine *fm = setup64();

	/* add byte [rbx], al: 0x7f + 1 = 0x80: OF SF AF */
	fm_put(fm, DATA, "\x7f", 1);
	fm->ctx.gpr[EMUL_RAX] = 1;
	ASSERT(FM_RUN(fm, 0x00, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 1), 0x80);
	EXPECT_EQ(arith(fm), F_OF | F_SF | F_AF);
	/* add dword [rbx], eax: 0xffffffff + 1 = 0: CF ZF PF AF */
	fm_set32(fm, DATA, 0xffffffff);
	ASSERT(FM_RUN(fm, 0x01, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 0);
	EXPECT_EQ(arith(fm), F_CF | F_ZF | F_PF | F_AF);
	fm_free(fm);
}

TEST(adc_sbb_carry_in)
{
	struct fake_machine *fm = setup64();

	/* adc qword [rbx], rax: ~0 + ~0 + 1 = ~0, carry out */
	fm_set64(fm, DATA, ~0ULL);
	fm->ctx.gpr[EMUL_RAX] = ~0ULL;
	fm->ctx.rflags |= F_CF;
	ASSERT(FM_RUN(fm, 0x48, 0x11, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 8), ~0ULL);
	EXPECT(fm->ctx.rflags & F_CF);
	/* sbb word [rbx], ax with CF: 5 - 5 - 1 = 0xffff, borrow */
	fm_set32(fm, DATA, 5);
	fm->ctx.gpr[EMUL_RAX] = 5;
	fm->ctx.rflags |= F_CF;
	ASSERT(FM_RUN(fm, 0x66, 0x19, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 2), 0xffff);
	EXPECT_EQ(arith(fm), F_CF | F_SF | F_PF | F_AF);
	fm_free(fm);
}

TEST(sub_cmp_test)
{
	struct fake_machine *fm = setup64();

	/* cmp dword [rbx], 0x80000000 with [rbx] = 0x7fffffff: OF SF CF */
	fm_set32(fm, DATA, 0x7fffffff);
	ASSERT(FM_RUN(fm, 0x81, 0x3b, 0x00, 0x00, 0x00, 0x80) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 0x7fffffff);
	EXPECT_EQ(arith(fm), F_OF | F_SF | F_CF | F_PF);
	/* sub qword [rbx], -1 (83 /5 ib sign-extended) */
	fm_set64(fm, DATA, 1);
	ASSERT(FM_RUN(fm, 0x48, 0x83, 0x2b, 0xff) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 8), 2);
	EXPECT_EQ(arith(fm), F_CF | F_AF);
	/* test byte [rbx], 0x80 clears CF/OF, AF too */
	fm->ctx.rflags |= F_CF | F_OF | F_AF;
	fm_put(fm, DATA, "\x81", 1);
	ASSERT(FM_RUN(fm, 0xf6, 0x03, 0x80) == EMUL_OK);
	EXPECT_EQ(arith(fm), F_SF);
	/* sub eax, [rbx]: register destination */
	fm_set32(fm, DATA, 3);
	fm->ctx.gpr[EMUL_RAX] = 0xffffffff00000001ULL;
	ASSERT(FM_RUN(fm, 0x2b, 0x03) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xfffffffe);
	fm_free(fm);
}

TEST(logic_ops)
{
	struct fake_machine *fm = setup64();

	fm_set32(fm, DATA, 0xf0f0);
	fm->ctx.gpr[EMUL_RCX] = 0x0ff0;
	ASSERT(FM_RUN(fm, 0x21, 0x0b) == EMUL_OK);	/* and [rbx], ecx */
	EXPECT_EQ(fm_get(fm, DATA, 4), 0x00f0);
	ASSERT(FM_RUN(fm, 0x09, 0x0b) == EMUL_OK);	/* or */
	EXPECT_EQ(fm_get(fm, DATA, 4), 0x0ff0);
	ASSERT(FM_RUN(fm, 0x31, 0x0b) == EMUL_OK);	/* xor */
	EXPECT_EQ(fm_get(fm, DATA, 4), 0);
	EXPECT_EQ(arith(fm), F_ZF | F_PF);
	fm_free(fm);
}

TEST(inc_dec_not_neg)
{
	struct fake_machine *fm = setup64();

	/* inc dword [rbx] keeps CF */
	fm_set32(fm, DATA, 0x7fffffff);
	fm->ctx.rflags |= F_CF;
	ASSERT(FM_RUN(fm, 0xff, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 0x80000000);
	EXPECT_EQ(arith(fm), F_CF | F_OF | F_SF | F_AF | F_PF);
	/* dec byte [rbx] from 0: 0xff, CF still set from before */
	fm_put(fm, DATA, "\x00", 1);
	ASSERT(FM_RUN(fm, 0xfe, 0x0b) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 1), 0xff);
	EXPECT_EQ(arith(fm), F_CF | F_SF | F_AF | F_PF);
	/* not word [rbx]: no flags */
	fm_set32(fm, DATA, 0x00ff);
	ASSERT(FM_RUN(fm, 0x66, 0xf7, 0x13) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 0xff00);
	EXPECT_EQ(arith(fm), F_CF | F_SF | F_AF | F_PF);
	/* neg: 0 -> CF clear; 0x80 -> OF */
	fm_put(fm, DATA, "\x00", 1);
	ASSERT(FM_RUN(fm, 0xf6, 0x1b) == EMUL_OK);
	EXPECT_EQ(arith(fm), F_ZF | F_PF);
	fm_put(fm, DATA, "\x80", 1);
	ASSERT(FM_RUN(fm, 0xf6, 0x1b) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 1), 0x80);
	EXPECT_EQ(arith(fm), F_CF | F_OF | F_SF);
	fm_free(fm);
}

TEST(xchg_xadd)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, DATA, 10);
	fm->ctx.gpr[EMUL_RDX] = 32;
	ASSERT(FM_RUN(fm, 0x48, 0x87, 0x13) == EMUL_OK);	/* xchg [rbx], rdx */
	EXPECT_EQ(fm_get(fm, DATA, 8), 32);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 10);
	EXPECT(fm->cmpxchg_calls > 0);		/* implicitly locked */
	ASSERT(FM_RUN(fm, 0xf0, 0x48, 0x0f, 0xc1, 0x13) == EMUL_OK); /* lock xadd */
	EXPECT_EQ(fm_get(fm, DATA, 8), 42);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 32);
	/* xadd with the same register: the sum wins */
	fm->ctx.gpr[EMUL_RAX] = 5;
	ASSERT(FM_RUN(fm, 0x0f, 0xc1, 0xc0) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 10);
	fm_free(fm);
}

TEST(cmpxchg)
{
	struct fake_machine *fm = setup64();

	fm_set32(fm, DATA, 7);
	fm->ctx.gpr[EMUL_RAX] = 7;
	fm->ctx.gpr[EMUL_RCX] = 99;
	ASSERT(FM_RUN(fm, 0xf0, 0x0f, 0xb1, 0x0b) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 99);
	EXPECT(fm->ctx.rflags & F_ZF);
	/* mismatch: accumulator loaded, memory unchanged */
	fm->ctx.gpr[EMUL_RAX] = 0xffffffff00000001ULL;
	ASSERT(FM_RUN(fm, 0x0f, 0xb1, 0x0b) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 99);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 99);
	EXPECT(!(fm->ctx.rflags & F_ZF));
	EXPECT(fm->ctx.rflags & F_CF);		/* 1 - 99 borrows */
	fm_free(fm);
}

TEST(cmpxchg8b_16b)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, DATA, 0x1111111122222222ULL);
	fm->ctx.gpr[EMUL_RDX] = 0x11111111;
	fm->ctx.gpr[EMUL_RAX] = 0x22222222;
	fm->ctx.gpr[EMUL_RCX] = 0xaaaaaaaa;
	fm->ctx.gpr[EMUL_RBX] = DATA;
	fm->ctx.gpr[EMUL_RSI] = DATA;
	ASSERT(FM_RUN(fm, 0xf0, 0x0f, 0xc7, 0x0e) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 8), 0xaaaaaaaa00000000ULL | DATA);
	EXPECT(fm->ctx.rflags & F_ZF);
	/* mismatch loads EDX:EAX */
	ASSERT(FM_RUN(fm, 0x0f, 0xc7, 0x0e) == EMUL_OK);
	EXPECT(!(fm->ctx.rflags & F_ZF));
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], DATA);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 0xaaaaaaaa);
	/* cmpxchg16b */
	fm_set64(fm, DATA + 0x10, 1);
	fm_set64(fm, DATA + 0x18, 2);
	fm->ctx.gpr[EMUL_RAX] = 1;
	fm->ctx.gpr[EMUL_RDX] = 2;
	fm->ctx.gpr[EMUL_RBX] = 3;
	fm->ctx.gpr[EMUL_RCX] = 4;
	fm->ctx.gpr[EMUL_RSI] = DATA + 0x10;
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xc7, 0x0e) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA + 0x10, 8), 3);
	EXPECT_EQ(fm_get(fm, DATA + 0x18, 8), 4);
	EXPECT(fm->ctx.rflags & F_ZF);
	/* misaligned 16-byte operand: #GP(0), nothing written */
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RSI] = DATA + 0x18;
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xc7, 0x0e) == EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->ctx.exc.error_code, 0);
	EXPECT_EQ(fm->ctx.rip, CODE);
	/* alignment is of the linear address: GS base 8 + 8 is aligned */
	fm_set_seg(fm, EMUL_GS, 8, 0, FM_AR_DATA);
	fm->ctx.gpr[EMUL_RAX] = 3;
	fm->ctx.gpr[EMUL_RDX] = 4;
	fm->ctx.gpr[EMUL_RSI] = DATA + 0x08;
	EXPECT_EQ(FM_RUN(fm, 0x65, 0x48, 0x0f, 0xc7, 0x0e), EMUL_OK);
	EXPECT(fm->ctx.rflags & F_ZF);
	fm_free(fm);
}

TEST(cmpxchg_register_destination_mismatch_keeps_it)
{
	struct fake_machine *fm = setup64();

	/* cmpxchg ebp, edx with eax != ebp: EAX loaded, RBP untouched */
	fm->ctx.gpr[EMUL_RBP] = 0x1234567800000005ULL;
	fm->ctx.gpr[EMUL_RAX] = 7;
	ASSERT(FM_RUN(fm, 0x0f, 0xb1, 0xd5) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RBP], 0x1234567800000005ULL);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 5);
	fm_free(fm);
}

TEST(bt_register_offset_in_memory)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RBX] = DATA + 0x100;
	fm_set32(fm, DATA + 0x100, 0x20);	/* bit 5 */
	fm_set32(fm, DATA + 0x104, 0x20);	/* bit 37 */
	fm_set32(fm, DATA + 0xfc, 0x80000000);	/* bit -1 */
	/* bt [rbx], eax with eax = 5, 37, -1, -33 */
	fm->ctx.gpr[EMUL_RAX] = 5;
	ASSERT(FM_RUN(fm, 0x0f, 0xa3, 0x03) == EMUL_OK);
	EXPECT(fm->ctx.rflags & F_CF);
	fm->ctx.gpr[EMUL_RAX] = 37;
	ASSERT(FM_RUN(fm, 0x0f, 0xa3, 0x03) == EMUL_OK);
	EXPECT(fm->ctx.rflags & F_CF);
	fm->ctx.gpr[EMUL_RAX] = 0xffffffff;	/* -1: bit 31 of dword -1 */
	ASSERT(FM_RUN(fm, 0x0f, 0xa3, 0x03) == EMUL_OK);
	EXPECT(fm->ctx.rflags & F_CF);
	fm->ctx.gpr[EMUL_RAX] = (uint32_t)-33;	/* bit 31 of dword -2 */
	ASSERT(FM_RUN(fm, 0x0f, 0xa3, 0x03) == EMUL_OK);
	EXPECT(!(fm->ctx.rflags & F_CF));
	/* bts [rbx], rax with rax = 64*3+1: qword at +24 */
	fm->ctx.gpr[EMUL_RAX] = 64 * 3 + 1;
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xab, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA + 0x100 + 24, 8), 2);
	EXPECT(!(fm->ctx.rflags & F_CF));
	/* btr [rbx], ax with ax = -16+5: word at -2, bit 5 */
	fm_set32(fm, DATA + 0xfc, 0xffffffff);
	fm->ctx.gpr[EMUL_RAX] = (uint16_t)-11;
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0xb3, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA + 0xfc, 4), 0xffdfffff);
	EXPECT(fm->ctx.rflags & F_CF);
	fm_free(fm);
}

TEST(bt_immediate_and_register_forms)
{
	struct fake_machine *fm = setup64();
	uint64_t other = F_ZF | F_SF | F_OF | F_PF | F_AF;

	/* btc dword [rbx], 33: the immediate is taken modulo 32 */
	fm_set32(fm, DATA, 0);
	fm->ctx.rflags |= other;
	ASSERT(FM_RUN(fm, 0x0f, 0xba, 0x3b, 33) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 8), 2);
	EXPECT_EQ(arith(fm), other);		/* only CF is written */
	/* bt ecx, eax with eax = 35: bit 3 of ecx */
	fm->ctx.gpr[EMUL_RCX] = 8;
	fm->ctx.gpr[EMUL_RAX] = 35;
	ASSERT(FM_RUN(fm, 0x0f, 0xa3, 0xc1) == EMUL_OK);
	EXPECT(fm->ctx.rflags & F_CF);
	fm_free(fm);
}

TEST(setcc_cmovcc)
{
	struct fake_machine *fm = setup64();

	fm->ctx.rflags |= F_ZF;
	ASSERT(FM_RUN(fm, 0x0f, 0x94, 0x03) == EMUL_OK);	/* sete [rbx] */
	EXPECT_EQ(fm_get(fm, DATA, 1), 1);
	ASSERT(FM_RUN(fm, 0x0f, 0x9c, 0x03) == EMUL_OK);	/* setl [rbx] */
	EXPECT_EQ(fm_get(fm, DATA, 1), 0);
	/* cmovne eax, [rbx] with ZF: false, but eax is zero-extended */
	fm->ctx.gpr[EMUL_RAX] = 0xffffffff00000005ULL;
	fm_set32(fm, DATA, 9);
	ASSERT(FM_RUN(fm, 0x0f, 0x45, 0x03) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 5);
	/* cmove rax, [rbx]: true */
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0x44, 0x03) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 9);
	/* a false cmov still reads memory: a bad address faults */
	fm->ctx.gpr[EMUL_RBX] = 0x8000000000000000ULL;
	ASSERT(FM_RUN(fm, 0x0f, 0x45, 0x03) == EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	fm_free(fm);
}

TEST(movzx_movsx_movsxd)
{
	struct fake_machine *fm = setup64();

	fm_set32(fm, DATA, 0x8180);
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xbe, 0x03) == EMUL_OK);	/* movsx rax, byte */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xffffffffffffff80ULL);
	ASSERT(FM_RUN(fm, 0x0f, 0xb7, 0x03) == EMUL_OK);	/* movzx eax, word */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x8180);
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0xbe, 0x03) == EMUL_OK);	/* movsx ax, byte */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xff80);
	fm_set32(fm, DATA, 0x80000000);
	ASSERT(FM_RUN(fm, 0x48, 0x63, 0x03) == EMUL_OK);	/* movsxd */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xffffffff80000000ULL);
	fm_free(fm);
}

TEST(movnti)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RAX] = 0x123456789ULL;
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xc3, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 8), 0x123456789ULL);
	fm_free(fm);
}

TEST(push_pop)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RSP] = 0x9000;
	fm_set64(fm, DATA, 0xabcdef);
	ASSERT(FM_RUN(fm, 0xff, 0x33) == EMUL_OK);		/* push [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], 0x8ff8);
	EXPECT_EQ(fm_get(fm, 0x8ff8, 8), 0xabcdef);
	ASSERT(FM_RUN(fm, 0x6a, 0xfe) == EMUL_OK);		/* push -2 */
	EXPECT_EQ(fm_get(fm, 0x8ff0, 8), (uint64_t)-2);
	ASSERT(FM_RUN(fm, 0x66, 0x68, 0x34, 0x12) == EMUL_OK);	/* push word */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], 0x8fee);
	EXPECT_EQ(fm_get(fm, 0x8fee, 2), 0x1234);
	ASSERT(FM_RUN(fm, 0x66, 0x8f, 0x03) == EMUL_OK);	/* pop word [rbx] */
	EXPECT_EQ(fm_get(fm, DATA, 8), 0xab1234);
	/* pop [rsp+8]: the address uses the incremented RSP */
	ASSERT(FM_RUN(fm, 0x8f, 0x44, 0x24, 0x08) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], 0x8ff8);
	EXPECT_EQ(fm_get(fm, 0x9000, 8), (uint64_t)-2);
	ASSERT(FM_RUN(fm, 0x41, 0x50) == EMUL_OK);		/* push r8 */
	ASSERT(FM_RUN(fm, 0x5c) == EMUL_OK);			/* pop rsp */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], 0);
	fm_free(fm);
}

TEST(push_pop_16bit_stack)
{
	struct fake_machine *fm = fm_new();

	fm_mode16(fm);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RSP] = 0xdead0000;	/* SP = 0: wraps to 0xfffe */
	fm->ctx.gpr[EMUL_RAX] = 0x4242;
	fm_set_seg(fm, EMUL_SS, 0x20000, 0xffff, FM_AR_DATA);
	ASSERT(FM_RUN(fm, 0x50) == EMUL_OK);			/* push ax */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], 0xdeadfffe);
	EXPECT_EQ(fm_get(fm, 0x2fffe, 2), 0x4242);
	ASSERT(FM_RUN(fm, 0x5b) == EMUL_OK);			/* pop bx */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], 0xdead0000);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RBX] & 0xffff, 0x4242);
	fm_free(fm);
}

TEST(mmio_routing)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RBX] = FM_MMIO_BASE;
	fm->ctx.gpr[EMUL_RAX] = 0xfeedf00d;
	ASSERT(FM_RUN(fm, 0x89, 0x43, 0x10) == EMUL_OK);	/* mov [rbx+16], eax */
	ASSERT(fm->mmio_count == 1);
	EXPECT(fm->mmio_log[0].write);
	EXPECT_EQ(fm->mmio_log[0].addr, FM_MMIO_BASE + 16);
	EXPECT_EQ(fm->mmio_log[0].len, 4);
	EXPECT_EQ(fm->mmio_log[0].val, 0xfeedf00d);
	/* or dword [rbx+16], 1: one read then one write */
	ASSERT(FM_RUN(fm, 0x83, 0x4b, 0x10, 0x01) == EMUL_OK);
	ASSERT(fm->mmio_count == 3);
	EXPECT(!fm->mmio_log[1].write);
	EXPECT_EQ(fm->mmio_log[2].val, 0xfeedf00d);
	/* a locked access to MMIO is written plainly */
	ASSERT(FM_RUN(fm, 0xf0, 0x83, 0x63, 0x10, 0x0f) == EMUL_OK);
	EXPECT_EQ(fm->mmio_log[4].val, 0xd);
	fm_free(fm);
}

TEST(locked_write_back_lost_race_retries)
{
	struct fake_machine *fm = setup64();

	fm_set32(fm, DATA, 1);
	fm->cmpxchg_fail = 1;
	ASSERT(FM_RUN(fm, 0xf0, 0xff, 0x03) == EMUL_RETRY);	/* lock inc */
	EXPECT_EQ(fm_get(fm, DATA, 4), 1);
	EXPECT_EQ(fm->ctx.rip, CODE);
	ASSERT(emul_step(&fm->ctx) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 2);
	fm_free(fm);
}

TEST(page_crossing_ram_access)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RBX] = 0x9ffd;
	fm->ctx.gpr[EMUL_RAX] = 0x0807060504030201ULL;
	ASSERT(FM_RUN(fm, 0x48, 0x89, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, 0x9ffd, 8), 0x0807060504030201ULL);
	fm_free(fm);
}

TEST(mode32_and_mode16_addressing)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RBX] = 0x100000000ULL + DATA;	/* upper half ignored */
	fm->ctx.gpr[EMUL_RAX] = 77;
	ASSERT(FM_RUN(fm, 0x89, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 77);
	fm_mode16(fm);
	fm->ctx.rip = 0x100;
	fm_set_seg(fm, EMUL_CS, 0x1000, 0xffff, FM_AR_CODE);
	fm_set_seg(fm, EMUL_DS, 0x7000, 0xffff, FM_AR_DATA);
	fm->ctx.gpr[EMUL_RBX] = 0x0ff0;
	fm->ctx.gpr[EMUL_RSI] = 0x0010;
	fm->ctx.gpr[EMUL_RAX] = 0x5151;
	ASSERT(FM_RUN(fm, 0x89, 0x00) == EMUL_OK);	/* mov [bx+si], ax */
	EXPECT_EQ(fm_get(fm, 0x7000 + 0x1000, 2), 0x5151);
	EXPECT_EQ(fm->ctx.rip, 0x102);
	fm_free(fm);
}

/* SMSW (SDM Vol. 2B): CR0's low word to memory whatever the operand
 * size; a register gets CR0 at its size (kvm-unit-tests' emulator test
 * stores it to MMIO). */
TEST(smsw_memory_and_registers)
{
	struct fake_machine *fm = setup64();

	fm->ctx.cr0 = 0x60050033ULL;
	fm_set64(fm, DATA, ~0ULL);
	fm->ctx.rflags |= EMUL_RFLAGS_RF;
	/* smsw [rbx] */
	ASSERT(FM_RUN(fm, 0x0f, 0x01, 0x23) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 8), 0xffffffffffff0033ULL);
	EXPECT_EQ(fm->ctx.rip, CODE + 3);
	EXPECT(!(fm->ctx.rflags & EMUL_RFLAGS_RF));
	/* rex.w smsw [rbx+8]: still a word */
	fm_set64(fm, DATA + 8, ~0ULL);
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0x01, 0x63, 0x08) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA + 8, 8), 0xffffffffffff0033ULL);
	/* smsw ax / eax / rax */
	fm->ctx.gpr[EMUL_RAX] = 0x1234567890abcdefULL;
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0x01, 0xe0) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x1234567890ab0033ULL);
	ASSERT(FM_RUN(fm, 0x0f, 0x01, 0xe0) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x60050033ULL);
	fm->ctx.gpr[EMUL_R9] = ~0ULL;
	ASSERT(FM_RUN(fm, 0x49, 0x0f, 0x01, 0xe1) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_R9], 0x60050033ULL);
	/* MMIO destination */
	fm->ctx.gpr[EMUL_RBX] = FM_MMIO_BASE;
	ASSERT(FM_RUN(fm, 0x0f, 0x01, 0x23) == EMUL_OK);
	EXPECT_EQ(fm->mmio_count, 1);
	EXPECT_EQ(fm->mmio_log[0].len, 2);
	EXPECT_EQ(fm->mmio_log[0].val, 0x33);
	fm_free(fm);
}

/* UMIP makes SMSW #GP(0) outside CPL 0 (SDM Vol. 3A 2.5). */
TEST(smsw_umip)
{
	struct fake_machine *fm = setup64();

	fm->ctx.cr4 = EMUL_CR4_UMIP;
	fm->ctx.cpl = 3;
	fm_set64(fm, DATA, 0);
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x01, 0x23), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->ctx.exc.error_code, 0);
	EXPECT_EQ(fm->ctx.rip, CODE);
	fm->ctx.cpl = 0;
	ASSERT(FM_RUN(fm, 0x0f, 0x01, 0x23) == EMUL_OK);
	fm->ctx.cr4 = 0;
	fm->ctx.cpl = 3;
	ASSERT(FM_RUN(fm, 0x0f, 0x01, 0x23) == EMUL_OK);
	fm_free(fm);
}

/* LMSW (SDM Vol. 2B): PE MP EM TS from the source; PE cannot be cleared;
 * CPL 0 only; the VMM's write_cr0 decides (#GP passes through). */
TEST(lmsw_loads_msw)
{
	struct fake_machine *fm = setup64();

	fm->ctx.cr0 = 0x60050033ULL;            /* CD NW AM WP NE ET MP PE */
	/* lmsw [rbx] with 0xfffc: TS and EM set, MP cleared, PE kept */
	fm_set64(fm, DATA, 0xfffc);
	ASSERT(FM_RUN(fm, 0x0f, 0x01, 0x33) == EMUL_OK);
	EXPECT_EQ(fm->cr0_writes, 1);
	EXPECT_EQ(fm->cr0_written, 0x6005003dULL);      /* PE kept, MP clear */
	EXPECT_EQ(fm->ctx.cr0, 0x6005003dULL);
	EXPECT_EQ(fm->ctx.rip, CODE + 3);
	/* lmsw ax: only the low 4 bits count */
	fm->ctx.gpr[EMUL_RAX] = 0xfff2;
	ASSERT(FM_RUN(fm, 0x0f, 0x01, 0xf0) == EMUL_OK);
	EXPECT_EQ(fm->cr0_written, 0x60050033ULL);
	/* MMIO source, word sized */
	fm->ctx.gpr[EMUL_RBX] = FM_MMIO_BASE;
	ASSERT(FM_RUN(fm, 0x0f, 0x01, 0x33) == EMUL_OK);
	EXPECT_EQ(fm->mmio_log[0].len, 2);
	/* CPL 3: #GP(0) before anything */
	fm->ctx.cpl = 3;
	fm->cr0_writes = 0;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x01, 0xf0), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->cr0_writes, 0);
	/* The VMM refuses the value: #GP, nothing committed */
	fm->ctx.cpl = 0;
	fm->cr0_gp = true;
	fm->ctx.rip = CODE;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x01, 0xf0), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->ctx.rip, CODE);
	/* The rest of group 7 (SGDT, VMCALL, SWAPGS...) is not Keel's. */
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x01, 0x03), EMUL_UNSUPPORTED);
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x01, 0xc1), EMUL_UNSUPPORTED);
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x01, 0xf8), EMUL_UNSUPPORTED);
	fm_free(fm);
}

/* IMUL, two and three operands (SDM Vol. 2A): the values of
 * kvm-unit-tests' emulator test, which runs them on MMIO. */
TEST(imul_forms)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, DATA, 51);
	fm->ctx.gpr[EMUL_RAX] = 0x1234567812345678ULL;
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0xaf, 0x03) == EMUL_OK);   /* imul ax, [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x12345678123439e8ULL);
	EXPECT_EQ(fm->ctx.rflags & (F_CF | F_OF), F_CF | F_OF);
	fm->ctx.gpr[EMUL_RAX] = 0x1234567812345678ULL;
	ASSERT(FM_RUN(fm, 0x0f, 0xaf, 0x03) == EMUL_OK);         /* imul eax, [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xa06d39e8ULL);
	fm->ctx.gpr[EMUL_RAX] = 0x1234567812345678ULL;
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xaf, 0x03) == EMUL_OK);   /* imul rax, [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xa06d39eba06d39e8ULL);
	EXPECT_EQ(fm->ctx.rflags & (F_CF | F_OF), F_CF | F_OF);
	fm_set64(fm, DATA, 0x1234567812345678ULL);
	fm->ctx.gpr[EMUL_RAX] = 0x8765432187654321ULL;
	ASSERT(FM_RUN(fm, 0x66, 0x6b, 0x03, 0x33) == EMUL_OK);   /* imul ax, [rbx], 51 */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x87654321876539e8ULL);
	ASSERT(FM_RUN(fm, 0x69, 0x03, 0x37, 0x01, 0, 0) == EMUL_OK); /* imul eax, [rbx], 311 */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x1d950bc8ULL);
	EXPECT_EQ(fm->ctx.rip, CODE + 4 + 3 + 4 + 4 + 6);
	ASSERT(FM_RUN(fm, 0x48, 0x69, 0x03, 0x37, 0x01, 0, 0) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x1d950bde1d950bc8ULL);
	/* A product that fits: CF = OF = 0; -3 * 7 = -21 */
	fm_set64(fm, DATA, (uint64_t)-3);
	ASSERT(FM_RUN(fm, 0x6b, 0x03, 0x07) == EMUL_OK);         /* imul eax, [rbx], 7 */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], (uint32_t)-21);
	EXPECT_EQ(fm->ctx.rflags & (F_CF | F_OF), 0);
	EXPECT(fm->ctx.rflags & F_SF);
	fm_free(fm);
}

/* BSF/BSR (SDM Vol. 2A): the index and ZF = 0; a zero source sets ZF and
 * leaves the destination; F3 makes them TZCNT/LZCNT, not Keel's. */
TEST(bsf_bsr)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, DATA, 0xc00000000000ULL);
	fm->ctx.rflags |= F_ZF;
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xbd, 0x03) == EMUL_OK);   /* bsr rax, [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 47);
	EXPECT(!(fm->ctx.rflags & F_ZF));
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xbc, 0x03) == EMUL_OK);   /* bsf rax, [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 46);
	fm_set64(fm, DATA, 0x0001000000008000ULL);
	fm->ctx.gpr[EMUL_RCX] = ~0ULL;
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0xbc, 0x0b) == EMUL_OK);   /* bsf cx, [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0xffffffffffff000fULL);
	ASSERT(FM_RUN(fm, 0x0f, 0xbd, 0x0b) == EMUL_OK);         /* bsr ecx, [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 15);
	fm_set64(fm, DATA, 0);
	fm->ctx.gpr[EMUL_RAX] = 0x1234;
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xbd, 0x03) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x1234);
	EXPECT(fm->ctx.rflags & F_ZF);
	EXPECT_EQ(FM_RUN(fm, 0xf3, 0x0f, 0xbc, 0x03), EMUL_UNSUPPORTED);
	/* MMIO source */
	fm->ctx.gpr[EMUL_RBX] = FM_MMIO_BASE;
	fm->mmio[0] = 0x20;
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0xbc, 0x03) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX] & 0xffff, 5);
	EXPECT_EQ(fm->mmio_log[0].len, 2);
	fm_free(fm);
}

/* SHLD/SHRD (SDM Vol. 2B), by CL and by Ib; the values of kvm-unit-tests'
 * emulator test. */
TEST(shld_shrd)
{
	struct fake_machine *fm = setup64();

	fm_set32(fm, DATA, 0x12345678);
	fm->ctx.gpr[EMUL_RAX] = 0xaaaaaaaa;
	fm->ctx.gpr[EMUL_RCX] = 3;
	ASSERT(FM_RUN(fm, 0x0f, 0xa5, 0x03) == EMUL_OK);         /* shld [rbx], eax, cl */
	EXPECT_EQ(fm_get(fm, DATA, 4), (0x12345678u << 3) | 5);
	EXPECT_EQ(arith(fm) & F_CF, 0);                 /* bit 29 of dst */
	fm_set32(fm, DATA, 0x12345678);
	fm->ctx.gpr[EMUL_RAX] = 0x55555555;
	ASSERT(FM_RUN(fm, 0x0f, 0xad, 0x03) == EMUL_OK);         /* shrd [rbx], eax, cl */
	EXPECT_EQ(fm_get(fm, DATA, 4), (0x12345678u >> 3) | (5u << 29));
	EXPECT_EQ(arith(fm) & F_CF, 0);                 /* bit 2 of dst */
	/* shrd [rbx], eax, 4: CF = bit 3 of 0x0f */
	fm_set32(fm, DATA, 0x0000000f);
	ASSERT(FM_RUN(fm, 0x0f, 0xac, 0x03, 0x04) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 0x50000000);
	EXPECT(fm->ctx.rflags & F_CF);
	/* A 1-bit shld that changes the sign sets OF */
	fm_set32(fm, DATA, 0x40000000);
	fm->ctx.gpr[EMUL_RAX] = 0;
	ASSERT(FM_RUN(fm, 0x0f, 0xa4, 0x03, 0x01) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 0x80000000);
	EXPECT_EQ(arith(fm) & (F_OF | F_SF | F_CF), F_OF | F_SF);
	/* 64-bit, count 36 */
	fm_set64(fm, DATA, 0x0123456789abcdefULL);
	fm->ctx.gpr[EMUL_RAX] = 0xfedcba9876543210ULL;
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xa4, 0x03, 36) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 8), 0x9abcdeffedcba987ULL);
	/* A zero count (CL = 64 & 63) changes nothing, flags included */
	fm->ctx.gpr[EMUL_RCX] = 64;
	fm->ctx.rflags |= F_ZF;
	ASSERT(FM_RUN(fm, 0x48, 0x0f, 0xad, 0x03) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 8), 0x9abcdeffedcba987ULL);
	EXPECT(fm->ctx.rflags & F_ZF);
	/* 16-bit by 4 */
	fm_set32(fm, DATA, 0x1234);
	fm->ctx.gpr[EMUL_RAX] = 0xabcd;
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0xa4, 0x03, 0x04) == EMUL_OK);
	EXPECT_EQ(fm_get(fm, DATA, 4), 0x234a);
	fm_free(fm);
}

static void xmm_fill(struct fake_machine *fm, unsigned int reg, uint8_t first)
{
	for (unsigned int i = 0; i < 16; i++)
		fm->xmm[reg][i] = (uint8_t)(first + i);
}

/* The 128-bit moves (SDM Vol. 2B): MOVUPS/MOVUPD/MOVDQU any address,
 * MOVAPS/MOVAPD/MOVDQA #GP(0) on a misaligned one; as kvm-unit-tests'
 * emulator test runs them on MMIO. */
TEST(sse_moves)
{
	struct fake_machine *fm = setup64();
	uint8_t want[16];

	fm->ctx.cr4 = EMUL_CR4_OSFXSR;
	xmm_fill(fm, 1, 0x10);
	memcpy(want, fm->xmm[1], 16);
	ASSERT(FM_RUN(fm, 0xf3, 0x0f, 0x7f, 0x0b) == EMUL_OK);   /* movdqu [rbx], xmm1 */
	EXPECT(!memcmp(fm->ram + DATA, want, 16));
	EXPECT_EQ(fm->ctx.rip, CODE + 4);
	ASSERT(FM_RUN(fm, 0x44, 0x0f, 0x28, 0x1b) == EMUL_OK);   /* movaps xmm11, [rbx] */
	EXPECT(!memcmp(fm->xmm[11], want, 16));
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0x29, 0xcf) == EMUL_OK);   /* movapd xmm7, xmm1 */
	EXPECT(!memcmp(fm->xmm[7], want, 16));
	/* Misaligned: movups fine, movaps / movdqa #GP(0), nothing moved */
	xmm_fill(fm, 2, 0x80);
	ASSERT(FM_RUN(fm, 0x0f, 0x11, 0x53, 0x08) == EMUL_OK);   /* movups [rbx+8], xmm2 */
	EXPECT_EQ(fm_get(fm, DATA + 8, 1), 0x80);
	EXPECT_EQ(fm_get(fm, DATA + 23, 1), 0x8f);
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x29, 0x53, 0x08), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(FM_RUN(fm, 0x66, 0x0f, 0x6f, 0x43, 0x08), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	ASSERT(FM_RUN(fm, 0xf3, 0x0f, 0x6f, 0x43, 0x08) == EMUL_OK); /* movdqu xmm0, [rbx+8] */
	EXPECT(!memcmp(fm->xmm[0], fm->xmm[2], 16));
	/* MMIO: one 16-byte access */
	fm->ctx.gpr[EMUL_RBX] = FM_MMIO_BASE;
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0x11, 0x0b) == EMUL_OK);   /* movupd [rbx], xmm1 */
	EXPECT_EQ(fm->mmio_count, 1);
	EXPECT_EQ(fm->mmio_log[0].len, 16);
	EXPECT(!memcmp(fm->mmio, want, 16));
	/* The scalar (F3/F2) forms are not Keel's (the MMX ones:
	 * test_emul_segload.c) */
	EXPECT_EQ(FM_RUN(fm, 0xf3, 0x0f, 0x10, 0x03), EMUL_UNSUPPORTED);
	EXPECT_EQ(FM_RUN(fm, 0xf2, 0x0f, 0x7f, 0x03), EMUL_UNSUPPORTED);
	fm_free(fm);
}

/* #UD without CR4.OSFXSR or with CR0.EM, #NM with CR0.TS (SDM Vol. 3A
 * 13.1.3 and 13.1.5). */
TEST(sse_move_faults)
{
	struct fake_machine *fm = setup64();

	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x10, 0x03), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_UD);
	fm->ctx.cr4 = EMUL_CR4_OSFXSR;
	fm->ctx.cr0 |= EMUL_CR0_EM;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x10, 0x03), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_UD);
	fm->ctx.cr0 = (fm->ctx.cr0 & ~EMUL_CR0_EM) | EMUL_CR0_TS;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x10, 0x03), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_NM);
	EXPECT(!fm->ctx.exc.has_error_code);
	EXPECT_EQ(fm->ctx.rip, CODE);
	fm_free(fm);
}

/* MUL on memory with the values of kvm-unit-tests' emulator test
 * (test_muldiv), and IMUL's one-operand form (SDM Vol. 2A). */
TEST(mul_imul_one_operand)
{
	struct fake_machine *fm = setup64();
	const uint64_t aa = 0x1111111111111111ULL, dd = 0x2222222222222222ULL;

	fm_set64(fm, DATA, 0x3333333333333333ULL);
	fm->ctx.gpr[EMUL_RAX] = aa;
	fm->ctx.gpr[EMUL_RDX] = dd;
	ASSERT(FM_RUN(fm, 0xf6, 0x23) == EMUL_OK);               /* mulb [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x1111111111110363ULL);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], dd);
	EXPECT(fm->ctx.rflags & F_CF);
	fm->ctx.gpr[EMUL_RAX] = aa;
	ASSERT(FM_RUN(fm, 0x66, 0xf7, 0x23) == EMUL_OK);         /* mulw [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x111111111111c963ULL);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 0x2222222222220369ULL);
	fm->ctx.gpr[EMUL_RAX] = aa;
	fm->ctx.gpr[EMUL_RDX] = dd;
	ASSERT(FM_RUN(fm, 0xf7, 0x23) == EMUL_OK);               /* mull [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x962fc963ULL);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 0x369d036ULL);
	fm->ctx.gpr[EMUL_RAX] = aa;
	ASSERT(FM_RUN(fm, 0x48, 0xf7, 0x23) == EMUL_OK);         /* mulq [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x2fc962fc962fc963ULL);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 0x369d0369d0369d0ULL);
	/* imul: -2 * 3 = -6 fits: CF = OF = 0, rDX the sign */
	fm_set64(fm, DATA, 3);
	fm->ctx.gpr[EMUL_RAX] = (uint64_t)-2;
	ASSERT(FM_RUN(fm, 0x48, 0xf7, 0x2b) == EMUL_OK);         /* imulq [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], (uint64_t)-6);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], ~0ULL);
	EXPECT_EQ(fm->ctx.rflags & (F_CF | F_OF), 0);
	fm_free(fm);
}

/* DIV/IDIV: quotient and remainder, #DE for a zero divisor or a quotient
 * that does not fit (kvm-unit-tests' divq cases), nothing changed. */
TEST(div_idiv)
{
	struct fake_machine *fm = setup64();

	fm_set64(fm, DATA, 0);
	fm->ctx.gpr[EMUL_RAX] = 1;
	fm->ctx.gpr[EMUL_RDX] = 2;
	EXPECT_EQ(FM_RUN(fm, 0x48, 0xf7, 0x33), EMUL_EXCEPTION); /* divq [rbx] */
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_DE);
	EXPECT(!fm->ctx.exc.has_error_code);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 1);
	EXPECT_EQ(fm->ctx.rip, CODE);
	fm_set64(fm, DATA, 987654321098765ULL);
	fm->ctx.gpr[EMUL_RAX] = 123456789012345ULL;
	fm->ctx.gpr[EMUL_RDX] = 123456789012345ULL;
	ASSERT(FM_RUN(fm, 0x48, 0xf7, 0x33) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x1ffffffb1b963b33ULL);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 0x273ba4384ede2ULL);
	/* Quotient too wide: rdx >= divisor */
	fm->ctx.gpr[EMUL_RDX] = 987654321098765ULL;
	EXPECT_EQ(FM_RUN(fm, 0x48, 0xf7, 0x33), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_DE);
	/* divb: AX / 7 -> AL quotient, AH remainder */
	fm_set64(fm, DATA, 7);
	fm->ctx.gpr[EMUL_RAX] = 0xffff0000000007d0ULL;          /* AX = 2000 */
	EXPECT_EQ(FM_RUN(fm, 0xf6, 0x33), EMUL_EXCEPTION);       /* 285 > AL */
	fm->ctx.gpr[EMUL_RAX] = 0xffff0000000001f4ULL;          /* AX = 500 */
	ASSERT(FM_RUN(fm, 0xf6, 0x33) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xffff000000000347ULL); /* AH 3, AL 71 */
	/* idivl: -7 / 2 = -3 rem -1; INT_MIN / -1 is #DE */
	fm_set64(fm, DATA, 2);
	fm->ctx.gpr[EMUL_RAX] = (uint32_t)-7;
	fm->ctx.gpr[EMUL_RDX] = 0xffffffff;
	ASSERT(FM_RUN(fm, 0xf7, 0x3b) == EMUL_OK);               /* idivl [rbx] */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], (uint32_t)-3);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], (uint32_t)-1);
	fm_set64(fm, DATA, ~0ULL);
	fm->ctx.gpr[EMUL_RAX] = 0x8000000000000000ULL;
	fm->ctx.gpr[EMUL_RDX] = ~0ULL;
	EXPECT_EQ(FM_RUN(fm, 0x48, 0xf7, 0x3b), EMUL_EXCEPTION); /* idivq: -2^63 / -1 */
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_DE);
	/* idivq: -2^64 / 2 = -2^63 fits */
	fm_set64(fm, DATA, 2);
	fm->ctx.gpr[EMUL_RAX] = 0;
	fm->ctx.gpr[EMUL_RDX] = ~0ULL;
	ASSERT(FM_RUN(fm, 0x48, 0xf7, 0x3b) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x8000000000000000ULL);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 0);
	fm_free(fm);
}

#define GDT 0x6000ULL

/* A 64-bit TSS descriptor at GDT + sel: base 0x12345678abcd0000,
 * limit 0x67, type 9 (available), present. */
static void put_tss64(struct fake_machine *fm, unsigned int sel, uint64_t lo_flags)
{
	uint64_t lo = 0x67 | (0xcd0000ULL << 16) /* base 23:0 = 0xcd0000 */ |
		      (0xabULL << 56) | (9ULL << 40) | lo_flags;

	fm_set64(fm, GDT + sel, lo);
	fm_set64(fm, GDT + sel + 8, 0x7654);
}

/* LTR (SDM Vol. 2A): TR from an available TSS in the GDT, which becomes
 * busy; kvm-unit-tests' emulator test takes the selector from MMIO. */
TEST(ltr_loads_tr_and_sets_busy)
{
	struct fake_machine *fm = setup64();

	fm->gdtr_base = GDT;
	fm->gdtr_limit = 0x3f;
	put_tss64(fm, 0x20, BIT_ULL(47));
	fm->ctx.gpr[EMUL_RBX] = FM_MMIO_BASE;
	fm->mmio[0] = 0x20;
	ASSERT(FM_RUN(fm, 0x0f, 0x00, 0x1b) == EMUL_OK);         /* ltr [rbx] */
	EXPECT_EQ(fm->tr.sel, 0x20);
	EXPECT_EQ(fm->tr.base, 0x00007654abcd0000ULL);
	EXPECT_EQ(fm->tr.limit, 0x67);
	EXPECT_EQ(fm->tr.ar, 0x8b);                     /* busy 64-bit TSS, P */
	EXPECT_EQ((fm_get(fm, GDT + 0x20, 8) >> 40) & 0xf, 0xb);
	EXPECT_EQ(fm->ctx.rip, CODE + 3);
	/* Busy now: #GP(selector) */
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x00, 0x1b), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->ctx.exc.error_code, 0x20);
	/* Not present: #NP(selector); register operand */
	put_tss64(fm, 0x30, 0);
	fm->ctx.gpr[EMUL_RAX] = 0x33;                   /* RPL 3 is ignored */
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x00, 0xd8), EMUL_EXCEPTION); /* ltr ax */
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_NP);
	EXPECT_EQ(fm->ctx.exc.error_code, 0x30);
	/* Null, LDT, past the limit */
	fm->ctx.gpr[EMUL_RAX] = 0;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x00, 0xd8), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.error_code, 0);
	fm->ctx.gpr[EMUL_RAX] = 0x24;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x00, 0xd8), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.error_code, 0x24);
	fm->ctx.gpr[EMUL_RAX] = 0x38;                   /* 16 bytes past 0x3f */
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x00, 0xd8), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->ctx.exc.error_code, 0x38);
	/* A non-canonical base: #GP(selector) */
	put_tss64(fm, 0x30, BIT_ULL(47));
	fm_set64(fm, GDT + 0x38, 0x12345678);
	fm->ctx.gpr[EMUL_RAX] = 0x30;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x00, 0xd8), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->ctx.exc.error_code, 0x30);
	/* CPL 3: #GP(0) */
	fm->ctx.cpl = 3;
	fm->ctx.gpr[EMUL_RAX] = 0x20;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x00, 0xd8), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.error_code, 0);
	EXPECT_EQ(fm->tr.sel, 0x20);
	fm_free(fm);
}

/* Outside IA-32e mode: 8-byte descriptors, 16-bit TSS too; not a TSS is
 * #GP(selector); real mode is #UD. */
TEST(ltr_legacy)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	fm->ctx.rip = CODE;
	fm->gdtr_base = GDT;
	fm->gdtr_limit = 0x1f;
	/* 16-bit available TSS, G: limit 0x1 -> 0x1fff */
	fm_set64(fm, GDT + 0x08, 0x1 | (0x5000ULL << 16) | (1ULL << 40) |
		 BIT_ULL(47) | BIT_ULL(55));
	fm_set64(fm, GDT + 0x10, 0xffff | (0x93ULL << 40));      /* data */
	fm->ctx.gpr[EMUL_RAX] = 0x08;
	ASSERT(FM_RUN(fm, 0x0f, 0x00, 0xd8) == EMUL_OK);
	EXPECT_EQ(fm->tr.base, 0x5000);
	EXPECT_EQ(fm->tr.limit, 0x1fff);
	EXPECT_EQ(fm->tr.ar & 0xf, 0x3);                /* busy 16-bit TSS */
	fm->ctx.gpr[EMUL_RAX] = 0x10;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x00, 0xd8), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->ctx.exc.error_code, 0x10);
	fm_mode16(fm);
	fm->ctx.rip = CODE;
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x00, 0xd8), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_UD);
	fm_free(fm);
}

/* RET near with its stack in MMIO (kvm-unit-tests' emulator test), RET
 * imm16, a non-canonical target (#GP(0), nothing changed), LEAVE. */
TEST(ret_leave)
{
	struct fake_machine *fm = setup64();

	fm->ctx.gpr[EMUL_RSP] = FM_MMIO_BASE + 0x100;
	memcpy(fm->mmio + 0x100, "\x00\x20\x00\x00\x00\x00\x00\x00", 8);
	fm->ctx.rflags |= EMUL_RFLAGS_RF;
	ASSERT(FM_RUN(fm, 0xc3) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, 0x2000);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], FM_MMIO_BASE + 0x108);
	EXPECT(!(fm->ctx.rflags & EMUL_RFLAGS_RF));
	/* ret 0x10 from RAM */
	fm->ctx.gpr[EMUL_RSP] = DATA;
	fm_set64(fm, DATA, CODE);
	ASSERT(FM_RUN(fm, 0xc2, 0x10, 0x00) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, CODE);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], DATA + 0x18);
	/* Non-canonical */
	fm->ctx.gpr[EMUL_RSP] = DATA;
	fm_set64(fm, DATA, 0x0000800000000000ULL);
	EXPECT_EQ(FM_RUN(fm, 0xc3), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(fm->ctx.rip, CODE);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], DATA);
	/* leave: rsp = rbp + 8, rbp = [rbp] */
	fm->ctx.gpr[EMUL_RBP] = DATA + 0x40;
	fm_set64(fm, DATA + 0x40, 0x778899);
	ASSERT(FM_RUN(fm, 0xc9) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], DATA + 0x48);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RBP], 0x778899);
	EXPECT_EQ(fm->ctx.rip, CODE + 1);
	fm_free(fm);
}

/* ENTER Iw, 0 (SDM Vol. 2A) with the stack in MMIO, as kvm-unit-tests'
 * emulator test runs it; nesting levels are not Keel's. */
TEST(enter_level0)
{
	struct fake_machine *fm = setup64();
	uint64_t top = FM_MMIO_BASE + 0x1000;

	fm->ctx.gpr[EMUL_RSP] = top;
	fm->ctx.gpr[EMUL_RBP] = 0xaa55aa55bb66bb66ULL;
	ASSERT(FM_RUN(fm, 0xc8, 0x38, 0x02, 0x00) == EMUL_OK);   /* enter $0x238, $0 */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], top - 8 - 0x238);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RBP], top - 8);
	EXPECT(!memcmp(fm->mmio + 0x1000 - 8, "\x66\xbb\x66\xbb\x55\xaa\x55\xaa", 8));
	EXPECT_EQ(fm->ctx.rip, CODE + 4);
	/* 66: a 16-bit push of BP, BP = SP's new value */
	fm->ctx.gpr[EMUL_RSP] = DATA + 0x100;
	fm->ctx.gpr[EMUL_RBP] = 0x1234;
	ASSERT(FM_RUN(fm, 0x66, 0xc8, 0x10, 0x00, 0x00) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], DATA + 0x100 - 2 - 0x10);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RBP] & 0xffff, (DATA + 0x100 - 2) & 0xffff);
	EXPECT_EQ(fm_get(fm, DATA + 0xfe, 2), 0x1234);
	/* Nesting level 1: unsupported */
	EXPECT_EQ(FM_RUN(fm, 0xc8, 0x10, 0x00, 0x01), EMUL_UNSUPPORTED);
	fm_free(fm);
}

/* In 32-bit code RET pops 4 bytes and checks CS's limit. */
TEST(ret_legacy_limit)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	fm_set_seg(fm, EMUL_CS, 0, 0x7fff, FM_AR_CODE32);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RSP] = DATA;
	fm_set64(fm, DATA, 0x9000);
	EXPECT_EQ(FM_RUN(fm, 0xc3), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_GP);
	fm_set64(fm, DATA, 0x7000);
	ASSERT(FM_RUN(fm, 0xc3) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, 0x7000);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], DATA + 4);
	fm_free(fm);
}

TEST(unsupported_and_lock_ud_through_step)
{
	struct fake_machine *fm = setup64();

	EXPECT_EQ(FM_RUN(fm, 0x90), EMUL_UNSUPPORTED);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_UD);
	EXPECT_EQ(FM_RUN(fm, 0xf0, 0x89, 0x03), EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_UD);
	EXPECT(!fm->ctx.exc.has_error_code);
	EXPECT_EQ(fm->ctx.rip, CODE);
	fm_free(fm);
}

TEST_MAIN()
