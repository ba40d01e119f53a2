/* Decoder unit tests: lengths, prefixes, REX, ModRM/SIB forms in all three
 * address sizes, immediates, groups and the #UD / #GP decode rules. */
#include "tests/unit/test.h"
#include "emul/emul.h"
#include "emul/opcodes.h"

static struct emul_insn insn;
static struct emul_exception exc;

static int dec(unsigned int mode, const uint8_t *b, size_t n)
{
	memset(&exc, 0, sizeof(exc));
	return emul_decode(&insn, b, n, mode, &exc);
}

#define DEC(mode, ...) ({						\
	static const uint8_t _b[] = { __VA_ARGS__ };			\
	dec(mode, _b, sizeof(_b));					\
})

TEST(add_reg_mem_64)
{
	/* add [rax+rbx*4+0x12], ecx */
	ASSERT(DEC(64, 0x01, 0x4c, 0x98, 0x12) == EMUL_OK);
	EXPECT_EQ(insn.len, 4);
	EXPECT_EQ(insn.handler, EMUL_H_ADD);
	EXPECT_EQ(insn.dst.kind, EMUL_OPND_MEM);
	EXPECT_EQ(insn.dst.size, 4);
	EXPECT_EQ(insn.src.kind, EMUL_OPND_REG);
	EXPECT_EQ(insn.src.reg, EMUL_RCX);
	EXPECT_EQ(insn.mem.base, EMUL_RAX);
	EXPECT_EQ(insn.mem.index, EMUL_RBX);
	EXPECT_EQ(insn.mem.scale, 4);
	EXPECT_EQ(insn.mem.disp, 0x12);
	EXPECT_EQ(insn.mem.seg, EMUL_DS);
}

TEST(rex_extends_all_fields)
{
	/* REX.WRXB: add [r8+r9*2-0x80], r10 */
	ASSERT(DEC(64, 0x4f, 0x01, 0x54, 0x48, 0x80) == EMUL_OK);
	EXPECT_EQ(insn.len, 5);
	EXPECT_EQ(insn.dst.size, 8);
	EXPECT_EQ(insn.src.reg, EMUL_R10);
	EXPECT_EQ(insn.mem.base, EMUL_R8);
	EXPECT_EQ(insn.mem.index, EMUL_R9);
	EXPECT_EQ(insn.mem.scale, 2);
	EXPECT_EQ(insn.mem.disp, (uint64_t)-0x80);
}

TEST(rex_not_last_is_ignored)
{
	/* 48 66 89 00: the REX is followed by 66, so it is dropped: 16-bit. */
	ASSERT(DEC(64, 0x48, 0x66, 0x89, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 2);
	EXPECT_EQ(insn.rex, 0);
	/* 66 48 89 00: REX.W wins over 66. */
	ASSERT(DEC(64, 0x66, 0x48, 0x89, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 8);
}

TEST(rex_is_inc_outside_64)
{
	/* 40 is INC eax in 32-bit mode: not in Keel's tables. */
	EXPECT_EQ(DEC(32, 0x40, 0x89, 0x00), EMUL_UNSUPPORTED);
	EXPECT_EQ(exc.vector, EMUL_VEC_UD);
}

TEST(byte_regs_with_and_without_rex)
{
	/* mov ah, bh / mov spl, dil */
	ASSERT(DEC(64, 0x88, 0xfc) == EMUL_OK);
	EXPECT(insn.dst.high8 && insn.dst.reg == EMUL_RAX);
	EXPECT(insn.src.high8 && insn.src.reg == EMUL_RBX);
	ASSERT(DEC(64, 0x40, 0x88, 0xfc) == EMUL_OK);
	EXPECT(!insn.dst.high8 && insn.dst.reg == EMUL_RSP);
	EXPECT(!insn.src.high8 && insn.src.reg == EMUL_RDI);
}

TEST(rip_relative)
{
	/* mov eax, [rip+0x100] */
	ASSERT(DEC(64, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.len, 6);
	EXPECT_EQ(insn.mem.base, EMUL_MEM_RIP);
	EXPECT_EQ(insn.mem.disp, 0x100);
	/* The same bytes in 32-bit mode are an absolute disp32. */
	ASSERT(DEC(32, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.mem.base, EMUL_MEM_NOREG);
}

TEST(sib_no_base_and_no_index)
{
	/* mov eax, [rbp*1 + disp32]: SIB base 101 with mod 00 */
	ASSERT(DEC(64, 0x8b, 0x04, 0x2d, 0x78, 0x56, 0x34, 0x12) == EMUL_OK);
	EXPECT_EQ(insn.mem.base, EMUL_MEM_NOREG);
	EXPECT_EQ(insn.mem.index, EMUL_RBP);
	EXPECT_EQ(insn.mem.disp, 0x12345678);
	EXPECT_EQ(insn.mem.seg, EMUL_DS);
	/* mov eax, [rsp]: index 100 = none, base rsp -> SS */
	ASSERT(DEC(64, 0x8b, 0x04, 0x24) == EMUL_OK);
	EXPECT_EQ(insn.mem.base, EMUL_RSP);
	EXPECT_EQ(insn.mem.index, EMUL_MEM_NOREG);
	EXPECT_EQ(insn.mem.seg, EMUL_SS);
	/* REX.X makes index 100 r12, a real index. */
	ASSERT(DEC(64, 0x42, 0x8b, 0x04, 0x24) == EMUL_OK);
	EXPECT_EQ(insn.mem.index, EMUL_R12);
	/* mod 01 base 101 is rbp + disp8 (SS). */
	ASSERT(DEC(64, 0x8b, 0x44, 0x25, 0x08) == EMUL_OK);
	EXPECT_EQ(insn.mem.base, EMUL_RBP);
	EXPECT_EQ(insn.mem.seg, EMUL_SS);
	EXPECT_EQ(insn.len, 4);
}

TEST(modrm16_all_forms)
{
	static const uint8_t base[8] = { EMUL_RBX, EMUL_RBX, EMUL_RBP, EMUL_RBP,
		EMUL_RSI, EMUL_RDI, EMUL_RBP, EMUL_RBX };
	static const uint8_t index[8] = { EMUL_RSI, EMUL_RDI, EMUL_RSI, EMUL_RDI,
		EMUL_MEM_NOREG, EMUL_MEM_NOREG, EMUL_MEM_NOREG, EMUL_MEM_NOREG };

	for (unsigned int mod = 0; mod < 3; mod++) {
		for (unsigned int rm = 0; rm < 8; rm++) {
			uint8_t b[5] = { 0x8b, (uint8_t)(mod << 6 | rm), 0x34, 0x12, 0 };
			bool abs16 = mod == 0 && rm == 6;
			unsigned int disp = mod == 1 ? 1 : (mod == 2 || abs16) ? 2 : 0;

			ASSERT(dec(16, b, sizeof(b)) == EMUL_OK);
			EXPECT_EQ(insn.len, 2 + disp);
			EXPECT_EQ(insn.mem.base, abs16 ? EMUL_MEM_NOREG : base[rm]);
			EXPECT_EQ(insn.mem.index, abs16 ? EMUL_MEM_NOREG : index[rm]);
			EXPECT_EQ(insn.mem.seg,
				  !abs16 && base[rm] == EMUL_RBP ? EMUL_SS : EMUL_DS);
			EXPECT_EQ(insn.mem.disp, mod == 1 ? 0x34 : disp ? 0x1234 : 0);
		}
	}
}

TEST(address_size_prefix)
{
	/* 67 in 16-bit mode selects 32-bit addressing with SIB. */
	ASSERT(DEC(16, 0x67, 0x8b, 0x04, 0x8b) == EMUL_OK);
	EXPECT_EQ(insn.addrsize, 4);
	EXPECT_EQ(insn.mem.base, EMUL_RBX);
	EXPECT_EQ(insn.mem.index, EMUL_RCX);
	EXPECT_EQ(insn.mem.scale, 4);
	/* 67 in 32-bit mode selects the 16-bit forms. */
	ASSERT(DEC(32, 0x67, 0x8b, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.addrsize, 2);
	EXPECT_EQ(insn.mem.base, EMUL_RBX);
	EXPECT_EQ(insn.mem.index, EMUL_RSI);
	EXPECT_EQ(insn.len, 3);
	/* 67 in 64-bit mode: 32-bit addressing. */
	ASSERT(DEC(64, 0x67, 0x8b, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.addrsize, 4);
}

TEST(operand_size_rules)
{
	ASSERT(DEC(16, 0x89, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 2);
	ASSERT(DEC(16, 0x66, 0x89, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 4);
	ASSERT(DEC(32, 0x66, 0x89, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 2);
	/* PUSH defaults to 64 bits in 64-bit mode; 66 gives 16. */
	ASSERT(DEC(64, 0xff, 0x30) == EMUL_OK);
	EXPECT_EQ(insn.src.size, 8);
	ASSERT(DEC(64, 0x66, 0xff, 0x30) == EMUL_OK);
	EXPECT_EQ(insn.src.size, 2);
	ASSERT(DEC(64, 0x41, 0x50) == EMUL_OK);
	EXPECT_EQ(insn.src.reg, EMUL_R8);
	EXPECT_EQ(insn.src.size, 8);
}

TEST(immediates)
{
	/* add dword [rax], 0x11223344 */
	ASSERT(DEC(64, 0x81, 0x00, 0x44, 0x33, 0x22, 0x11) == EMUL_OK);
	EXPECT_EQ(insn.len, 6);
	EXPECT_EQ(insn.imm, 0x11223344);
	/* 83 sign-extends imm8 */
	ASSERT(DEC(64, 0x48, 0x83, 0x00, 0xff) == EMUL_OK);
	EXPECT_EQ(insn.imm, ~0ULL);
	/* mov qword [rax], imm32 sign-extended */
	ASSERT(DEC(64, 0x48, 0xc7, 0x00, 0x00, 0x00, 0x00, 0x80) == EMUL_OK);
	EXPECT_EQ(insn.imm, 0xffffffff80000000ULL);
	/* 66 makes Iz 16-bit */
	ASSERT(DEC(64, 0x66, 0xc7, 0x00, 0x34, 0x12) == EMUL_OK);
	EXPECT_EQ(insn.len, 5);
	/* mov r64, imm64 */
	ASSERT(DEC(64, 0x49, 0xbb, 1, 2, 3, 4, 5, 6, 7, 8) == EMUL_OK);
	EXPECT_EQ(insn.len, 10);
	EXPECT_EQ(insn.dst.reg, EMUL_R11);
	EXPECT_EQ(insn.imm, 0x0807060504030201ULL);
	/* test byte [rbx], imm8 (F6 /0) */
	ASSERT(DEC(32, 0xf6, 0x03, 0x80) == EMUL_OK);
	EXPECT_EQ(insn.handler, EMUL_H_TEST);
	EXPECT_EQ(insn.len, 3);
	/* bt dword [rax], 3 */
	ASSERT(DEC(32, 0x0f, 0xba, 0x20, 0x03) == EMUL_OK);
	EXPECT_EQ(insn.handler, EMUL_H_BT);
	EXPECT_EQ(insn.len, 4);
}

TEST(moffs_sizes)
{
	/* mov al, [moffs64] */
	ASSERT(DEC(64, 0xa0, 1, 2, 3, 4, 5, 6, 7, 8) == EMUL_OK);
	EXPECT_EQ(insn.len, 9);
	EXPECT_EQ(insn.mem.disp, 0x0807060504030201LL);
	/* 67: moffs32, zero-extended */
	ASSERT(DEC(64, 0x67, 0xa3, 0xf0, 0xff, 0xff, 0xff) == EMUL_OK);
	EXPECT_EQ(insn.len, 6);
	EXPECT_EQ(insn.mem.disp, 0xfffffff0LL);
	EXPECT_EQ(insn.dst.kind, EMUL_OPND_MEM);
	EXPECT_EQ(insn.src.size, 4);
	/* 16-bit: moffs16 */
	ASSERT(DEC(16, 0xa1, 0x34, 0x12) == EMUL_OK);
	EXPECT_EQ(insn.len, 3);
	EXPECT_EQ(insn.mem.disp, 0x1234);
}

TEST(segment_overrides)
{
	ASSERT(DEC(32, 0x26, 0x8b, 0x45, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.mem.seg, EMUL_ES);
	/* the last override counts */
	ASSERT(DEC(32, 0x26, 0x64, 0x8b, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.mem.seg, EMUL_FS);
	/* 64-bit mode ignores ES/CS/SS/DS overrides, keeps FS/GS */
	ASSERT(DEC(64, 0x26, 0x8b, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.mem.seg, EMUL_DS);
	ASSERT(DEC(64, 0x65, 0x8b, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.mem.seg, EMUL_GS);
	/* string source override */
	ASSERT(DEC(32, 0x2e, 0xa4) == EMUL_OK);
	EXPECT_EQ(insn.mem.seg, EMUL_CS);
}

TEST(lock_rules)
{
	ASSERT(DEC(64, 0xf0, 0x01, 0x00) == EMUL_OK);
	EXPECT(insn.prefixes & EMUL_PFX_LOCK);
	/* register destination */
	EXPECT_EQ(DEC(64, 0xf0, 0x01, 0xc0), EMUL_EXCEPTION);
	EXPECT_EQ(exc.vector, EMUL_VEC_UD);
	/* not lockable: MOV, CMP, TEST, BT */
	EXPECT_EQ(DEC(64, 0xf0, 0x89, 0x00), EMUL_EXCEPTION);
	EXPECT_EQ(DEC(64, 0xf0, 0x39, 0x00), EMUL_EXCEPTION);
	EXPECT_EQ(DEC(64, 0xf0, 0x85, 0x00), EMUL_EXCEPTION);
	EXPECT_EQ(DEC(64, 0xf0, 0x0f, 0xa3, 0x00), EMUL_EXCEPTION);
	/* lockable forms */
	EXPECT_EQ(DEC(64, 0xf0, 0x0f, 0xab, 0x00), EMUL_OK);
	EXPECT_EQ(DEC(64, 0xf0, 0x87, 0x00), EMUL_OK);
	EXPECT_EQ(DEC(64, 0xf0, 0x0f, 0xc7, 0x08), EMUL_OK);
	EXPECT_EQ(DEC(64, 0xf0, 0x80, 0x38, 1), EMUL_EXCEPTION);
	EXPECT_EQ(DEC(64, 0xf0, 0x80, 0x30, 1), EMUL_OK);
}

TEST(length_limit)
{
	uint8_t b[20];

	/* 14 prefixes + 1-byte opcode = 15: fine. */
	memset(b, 0x66, 13);
	b[13] = 0x3e;
	b[14] = 0xa4;
	EXPECT_EQ(dec(32, b, 15), EMUL_OK);
	EXPECT_EQ(insn.len, 15);
	/* one more prefix: #GP(0) */
	memset(b, 0x66, 14);
	b[14] = 0x3e;
	b[15] = 0xa4;
	EXPECT_EQ(dec(32, b, 16), EMUL_EXCEPTION);
	EXPECT_EQ(exc.vector, EMUL_VEC_GP);
	EXPECT(exc.has_error_code);
	EXPECT_EQ(exc.error_code, 0);
	/* a long instruction pushed over 15 by prefixes */
	memset(b, 0x2e, 6);
	memcpy(b + 6, (uint8_t[]){ 0x48, 0xc7, 0x84, 0x80, 1, 2, 3, 4,
				   5, 6, 7, 8 }, 12);
	EXPECT_EQ(dec(64, b, 18), EMUL_EXCEPTION);
	EXPECT_EQ(exc.vector, EMUL_VEC_GP);
	EXPECT_EQ(dec(64, b + 2, 16), EMUL_EXCEPTION);
	EXPECT_EQ(dec(64, b + 3, 15), EMUL_OK);
	EXPECT_EQ(insn.len, 15);
}

TEST(need_bytes)
{
	EXPECT_EQ(DEC(64, 0x81, 0x00, 0x44), EMUL_NEED_BYTES);
	EXPECT_EQ(DEC(64, 0x66), EMUL_NEED_BYTES);
}

TEST(unsupported_is_not_guessed)
{
	EXPECT_EQ(DEC(64, 0x90), EMUL_UNSUPPORTED);		/* nop */
	EXPECT_EQ(DEC(64, 0xf7, 0x08), EMUL_UNSUPPORTED);	/* test alias F7 /1 */
	EXPECT_EQ(DEC(64, 0xff, 0x38), EMUL_UNSUPPORTED);	/* FF /7 */
	EXPECT_EQ(DEC(64, 0x8f, 0xc8), EMUL_UNSUPPORTED);	/* 8F /1 */
	EXPECT_EQ(DEC(64, 0x0f, 0xba, 0x00, 1), EMUL_UNSUPPORTED);
	EXPECT_EQ(DEC(64, 0x0f, 0xc7, 0xc8), EMUL_UNSUPPORTED);	/* mod 3 */
	EXPECT_EQ(DEC(64, 0x0f, 0xc3, 0xc0), EMUL_UNSUPPORTED);	/* movnti reg */
	EXPECT_EQ(DEC(64, 0x66, 0x0f, 0xc3, 0x00), EMUL_UNSUPPORTED);
	EXPECT_EQ(DEC(64, 0x82, 0x00, 1), EMUL_UNSUPPORTED);	/* #UD in 64 */
	EXPECT_EQ(DEC(32, 0x82, 0x00, 1), EMUL_OK);
	EXPECT_EQ(DEC(32, 0x63, 0x00), EMUL_UNSUPPORTED);	/* arpl */
	EXPECT_EQ(DEC(64, 0x63, 0x00), EMUL_OK);		/* movsxd */
	EXPECT_EQ(DEC(64, 0xff, 0xd8), EMUL_UNSUPPORTED);	/* far call reg */
	EXPECT_EQ(DEC(64, 0x0f, 0x0b), EMUL_UNSUPPORTED);	/* ud2 */
	EXPECT_EQ(exc.vector, EMUL_VEC_UD);
}

TEST(rep_prefixes)
{
	ASSERT(DEC(64, 0xf3, 0xf2, 0xa6) == EMUL_OK);
	EXPECT(insn.prefixes & EMUL_PFX_REPNE);
	EXPECT(!(insn.prefixes & EMUL_PFX_REP));
	ASSERT(DEC(64, 0xf2, 0xf3, 0xae) == EMUL_OK);
	EXPECT(insn.prefixes & EMUL_PFX_REP);
	EXPECT(!(insn.prefixes & EMUL_PFX_REPNE));
}

TEST(string_element_sizes)
{
	ASSERT(DEC(64, 0x48, 0xa5) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 8);
	ASSERT(DEC(64, 0x48, 0x6d) == EMUL_OK);	/* insd: REX.W ignored */
	EXPECT_EQ(insn.dst.size, 4);
	ASSERT(DEC(16, 0x6d) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 2);
	ASSERT(DEC(16, 0x66, 0xab) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 4);
}

TEST(cmpxchg8b_16b_and_movnti_sizes)
{
	ASSERT(DEC(64, 0x0f, 0xc7, 0x0e) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 8);
	ASSERT(DEC(64, 0x48, 0x0f, 0xc7, 0x0e) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 16);
	ASSERT(DEC(16, 0x0f, 0xc3, 0x07) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 4);
	ASSERT(DEC(64, 0x48, 0x0f, 0xc3, 0x07) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 8);
}

TEST(movzx_movsx_movsxd)
{
	ASSERT(DEC(64, 0x48, 0x0f, 0xb7, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.handler, EMUL_H_MOVZX);
	EXPECT_EQ(insn.dst.size, 8);
	EXPECT_EQ(insn.src.size, 2);
	ASSERT(DEC(64, 0x0f, 0xbe, 0xc4) == EMUL_OK);
	EXPECT(insn.src.high8);
	ASSERT(DEC(64, 0x48, 0x63, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.dst.size, 8);
	EXPECT_EQ(insn.src.size, 4);
	ASSERT(DEC(64, 0x66, 0x63, 0x00) == EMUL_OK);
	EXPECT_EQ(insn.src.size, 2);
}

TEST(force_prefix)
{
	static const uint8_t marker[] = EMUL_FORCE_PREFIX;
	static const uint8_t bad[] = { 0x0f, 0x0b, 0x6b, 0x65, 0x65, 0x6d };

	EXPECT(emul_is_force_prefix(marker, sizeof(marker)));
	EXPECT(!emul_is_force_prefix(marker, sizeof(marker) - 1));
	EXPECT(!emul_is_force_prefix(bad, sizeof(bad)));
	EXPECT_EQ(memcmp(marker, "\x0f\x0b" "keel", 6), 0);
}

TEST(every_claimed_opcode_decodes_with_memory_operand)
{
	/* Each one-byte or 0F entry with a handler decodes with ModRM 0x00
	 * and enough trailing bytes, in some mode (with the mandatory prefix
	 * it needs). */
	for (unsigned int map = 0; map < 2; map++) {
		const struct emul_opdesc *t = map ? emul_twobyte_table
						  : emul_onebyte_table;

		for (unsigned int op = 0; op < 256; op++) {
			uint8_t b[16] = { 0 };
			unsigned int n = 0;
			int ok = 0;

			if (t[op].handler == EMUL_H_NONE && !t[op].flags)
				continue;
			if (t[op].flags & EMUL_F_66F3)  /* MOVDQU */
				b[n++] = 0xf3;
			if (map)
				b[n++] = 0x0f;
			b[n++] = (uint8_t)op;
			for (unsigned int reg = 0; reg < 8; reg++) {
				b[n] = (uint8_t)(reg << 3);
				ok += dec(32, b, sizeof(b)) == EMUL_OK;
				ok += dec(64, b, sizeof(b)) == EMUL_OK;
			}
			if (!ok)
				printf("    opcode %u:%02x never decodes\n", map, op);
			EXPECT(ok);
		}
	}
}

/* MOV r/m, Sreg and MOV Sreg, r/m (SDM Vol. 2B "MOV"): 16 bits in
 * memory, the operand size in a register; REX.R does not pick a segment
 * register; Sreg 6/7 and MOV to CS are #UD. */
TEST(mov_sreg_forms)
{
	ASSERT(DEC(64, 0x66, 0x41, 0x8c, 0x08) == EMUL_OK);	/* mov [r8], cs */
	EXPECT_EQ(insn.handler, EMUL_H_MOV_FROM_SREG);
	EXPECT_EQ(insn.dst.kind, EMUL_OPND_MEM);
	EXPECT_EQ(insn.dst.size, 2);
	EXPECT_EQ(insn.src.kind, EMUL_OPND_SREG);
	EXPECT_EQ(insn.src.reg, EMUL_CS);
	EXPECT_EQ(insn.mem.base, EMUL_R8);
	ASSERT(DEC(64, 0x48, 0x8c, 0xd8) == EMUL_OK);		/* mov rax, ds */
	EXPECT_EQ(insn.dst.kind, EMUL_OPND_REG);
	EXPECT_EQ(insn.dst.size, 8);
	EXPECT_EQ(insn.src.reg, EMUL_DS);
	ASSERT(DEC(64, 0x44, 0x8c, 0x10) == EMUL_OK);		/* REX.R: still ss */
	EXPECT_EQ(insn.src.reg, EMUL_SS);
	ASSERT(DEC(32, 0x8e, 0x13) == EMUL_OK);			/* mov ss, [ebx] */
	EXPECT_EQ(insn.handler, EMUL_H_MOV_TO_SREG);
	EXPECT_EQ(insn.dst.kind, EMUL_OPND_SREG);
	EXPECT_EQ(insn.dst.reg, EMUL_SS);
	EXPECT_EQ(insn.src.size, 2);
	EXPECT_EQ(DEC(64, 0x8e, 0x08), EMUL_EXCEPTION);		/* mov cs, [rax] */
	EXPECT_EQ(exc.vector, EMUL_VEC_UD);
	EXPECT_EQ(DEC(64, 0x8c, 0x30), EMUL_EXCEPTION);		/* Sreg 6 */
	EXPECT_EQ(exc.vector, EMUL_VEC_UD);
	EXPECT_EQ(DEC(64, 0x8e, 0x38), EMUL_EXCEPTION);		/* Sreg 7 */
}

/* FF /2 /3 /4 /5: near branches are 64-bit in 64-bit mode whatever 66
 * says (Intel); far pointers are m16:16, m16:32 and m16:64 (REX.W). */
TEST(branch_forms)
{
	ASSERT(DEC(64, 0x66, 0xff, 0x20) == EMUL_OK);		/* jmp [rax] */
	EXPECT_EQ(insn.handler, EMUL_H_JMP);
	EXPECT_EQ(insn.src.size, 8);
	ASSERT(DEC(32, 0x66, 0xff, 0x10) == EMUL_OK);		/* call word [eax] */
	EXPECT_EQ(insn.handler, EMUL_H_CALL);
	EXPECT_EQ(insn.src.size, 2);
	ASSERT(DEC(64, 0x48, 0xff, 0x2b) == EMUL_OK);		/* rex64 ljmp [rbx] */
	EXPECT_EQ(insn.handler, EMUL_H_JMP_FAR);
	EXPECT_EQ(insn.opsize, 8);
	EXPECT_EQ(insn.src.size, 10);
	ASSERT(DEC(64, 0xff, 0x1b) == EMUL_OK);			/* lcall [rbx] */
	EXPECT_EQ(insn.handler, EMUL_H_CALL_FAR);
	EXPECT_EQ(insn.src.size, 6);
	ASSERT(DEC(16, 0xff, 0x2f) == EMUL_OK);			/* ljmp [bx] */
	EXPECT_EQ(insn.src.size, 4);
	EXPECT_EQ(DEC(64, 0xff, 0xe8), EMUL_UNSUPPORTED);	/* ljmp reg: #UD */
	EXPECT_EQ(exc.vector, EMUL_VEC_UD);
}

/* 0F 6F / 0F 7F: no prefix is MMX MOVQ (8 bytes, registers 0-7 whatever
 * REX says), 66 MOVDQA, F3 MOVDQU, F2 nothing. */
TEST(mmx_movq_forms)
{
	ASSERT(DEC(64, 0x0f, 0x6f, 0x03) == EMUL_OK);		/* movq mm0, [rbx] */
	EXPECT_EQ(insn.handler, EMUL_H_MOVMMX);
	EXPECT_EQ(insn.dst.kind, EMUL_OPND_MMX);
	EXPECT_EQ(insn.dst.reg, 0);
	EXPECT_EQ(insn.src.kind, EMUL_OPND_MEM);
	EXPECT_EQ(insn.src.size, 8);
	ASSERT(DEC(64, 0x4d, 0x0f, 0x7f, 0xca) == EMUL_OK);	/* movq mm2, mm1 */
	EXPECT_EQ(insn.dst.kind, EMUL_OPND_MMX);
	EXPECT_EQ(insn.dst.reg, 2);
	EXPECT_EQ(insn.src.reg, 1);
	ASSERT(DEC(64, 0x66, 0x0f, 0x7f, 0x03) == EMUL_OK);
	EXPECT_EQ(insn.handler, EMUL_H_MOVXMM);
	EXPECT_EQ(insn.dst.size, 16);
	EXPECT_EQ(DEC(64, 0xf2, 0x0f, 0x6f, 0x03), EMUL_UNSUPPORTED);
}

TEST_MAIN()
