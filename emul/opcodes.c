/* Opcode tables: every instruction Keel's emulator decodes. Anything not
 * listed here is EMUL_UNSUPPORTED; the decoder never guesses.
 *
 * Operand notation follows SDM Vol. 2D Appendix A (E = ModRM r/m, G = ModRM
 * reg, b/w/v/z = byte/word/operand-size/16-or-32-bit). */
#include "emul/opcodes.h"

#define D(h, d, s, f) { EMUL_H_##h, d, s, f }
#define GRP(g)        { EMUL_G_##g, 0, 0, EMUL_F_MODRM | EMUL_F_GROUP }
#define O(kind, sz)   EMUL_OPND(kind, sz)
#define N             EMUL_OPND_NONE_SPEC

#define M  EMUL_F_MODRM
#define L  EMUL_F_LOCK
#define S  EMUL_F_STRING

/* 00-3F: the eight ALU rows "op Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib /
 * rAX,Iz" (SDM Vol. 2D Table A-2). CMP's destination is only read, so it
 * does not take LOCK. */
#define ALU_ROW(base, h, lk)						\
	[(base) + 0] = D(h, O(E, B), O(G, B), M | (lk)),		\
	[(base) + 1] = D(h, O(E, V), O(G, V), M | (lk)),		\
	[(base) + 2] = D(h, O(G, B), O(E, B), M),			\
	[(base) + 3] = D(h, O(G, V), O(E, V), M),			\
	[(base) + 4] = D(h, O(ACC, B), O(IMM, B), 0),			\
	[(base) + 5] = D(h, O(ACC, V), O(IMM, Z), 0)

#define ROW8(base, ...)							\
	[(base) + 0] = __VA_ARGS__, [(base) + 1] = __VA_ARGS__,		\
	[(base) + 2] = __VA_ARGS__, [(base) + 3] = __VA_ARGS__,		\
	[(base) + 4] = __VA_ARGS__, [(base) + 5] = __VA_ARGS__,		\
	[(base) + 6] = __VA_ARGS__, [(base) + 7] = __VA_ARGS__

const struct emul_opdesc emul_onebyte_table[256] = {
	ALU_ROW(0x00, ADD, L),
	ALU_ROW(0x08, OR, L),
	ALU_ROW(0x10, ADC, L),
	ALU_ROW(0x18, SBB, L),
	ALU_ROW(0x20, AND, L),
	ALU_ROW(0x28, SUB, L),
	ALU_ROW(0x30, XOR, L),
	ALU_ROW(0x38, CMP, 0),

	ROW8(0x50, D(PUSH, N, O(OPREG, V), EMUL_F_DEF64)),
	ROW8(0x58, D(POP, O(OPREG, V), N, EMUL_F_DEF64)),

	/* 63 is ARPL outside 64-bit mode. */
	[0x63] = D(MOVSXD, O(G, V), O(E, Z), M | EMUL_F_ONLY64),

	/* String I/O: the element size sits in dst's size class. */
	[0x68] = D(PUSH, N, O(IMM, Z), EMUL_F_DEF64),
	[0x69] = D(IMUL, O(G, V), O(E, V), M | EMUL_F_IMMZ),
	[0x6a] = D(PUSH, N, O(IMM, B), EMUL_F_DEF64),
	[0x6b] = D(IMUL, O(G, V), O(E, V), M | EMUL_F_IMM8),
	[0x6c] = D(INS, O(NONE, B), N, S),
	[0x6d] = D(INS, O(NONE, Z), N, S),
	[0x6e] = D(OUTS, O(NONE, B), N, S),
	[0x6f] = D(OUTS, O(NONE, Z), N, S),
	/* Jcc rel8; JMP and CALL rel (E8, E9, EB): the target is the next
	 * instruction's address plus the signed immediate, at the operand
	 * size, 64 bits in 64-bit mode whatever 66 says, as Intel
	 * processors do (SDM Vol. 2A "Jcc", "CALL", Vol. 2B "JMP"). */
	ROW8(0x70, D(JCC, N, O(IMM, B), EMUL_F_FORCE64)),
	ROW8(0x78, D(JCC, N, O(IMM, B), EMUL_F_FORCE64)),

	[0x80] = GRP(80),
	[0x81] = GRP(81),
	[0x82] = GRP(82),
	[0x83] = GRP(83),
	[0x84] = D(TEST, O(E, B), O(G, B), M),
	[0x85] = D(TEST, O(E, V), O(G, V), M),
	[0x86] = D(XCHG, O(E, B), O(G, B), M | L),
	[0x87] = D(XCHG, O(E, V), O(G, V), M | L),
	[0x88] = D(MOV, O(E, B), O(G, B), M),
	[0x89] = D(MOV, O(E, V), O(G, V), M),
	[0x8a] = D(MOV, O(G, B), O(E, B), M),
	[0x8b] = D(MOV, O(G, V), O(E, V), M),
	/* MOV r/m, Sreg: 16 bits to memory, the operand size to a
	 * register; MOV Sreg, r/m reads 16 bits (SDM Vol. 2B "MOV"). */
	[0x8c] = D(MOV_FROM_SREG, O(E, MWRV), O(SREG, W), M),
	[0x8e] = D(MOV_TO_SREG, O(SREG, W), O(E, W), M),
	[0x8f] = GRP(8F),

	/* CALL ptr16:16 / ptr16:32: the offset, then the selector, in the
	 * instruction; #UD in 64-bit mode (SDM Vol. 2A "CALL"). So is JMP
	 * ptr (EA, Vol. 2B "JMP"). */
	/* PUSHF/POPF: the operand size, 64 bits by default in 64-bit mode
	 * (SDM Vol. 2B "PUSHF", "POPF"). */
	[0x9c] = D(PUSHF, N, N, EMUL_F_DEF64),
	[0x9d] = D(POPF, N, N, EMUL_F_DEF64),
	[0x9a] = D(CALL_FAR, N, O(IMM, FARP), EMUL_F_NO64),

	[0xa0] = D(MOV, O(ACC, B), O(MOFFS, B), 0),
	[0xa1] = D(MOV, O(ACC, V), O(MOFFS, V), 0),
	[0xa2] = D(MOV, O(MOFFS, B), O(ACC, B), 0),
	[0xa3] = D(MOV, O(MOFFS, V), O(ACC, V), 0),
	[0xa4] = D(MOVS, O(NONE, B), N, S),
	[0xa5] = D(MOVS, O(NONE, V), N, S),
	[0xa6] = D(CMPS, O(NONE, B), N, S),
	[0xa7] = D(CMPS, O(NONE, V), N, S),
	[0xa8] = D(TEST, O(ACC, B), O(IMM, B), 0),
	[0xa9] = D(TEST, O(ACC, V), O(IMM, Z), 0),
	[0xaa] = D(STOS, O(NONE, B), N, S),
	[0xab] = D(STOS, O(NONE, V), N, S),
	[0xac] = D(LODS, O(NONE, B), N, S),
	[0xad] = D(LODS, O(NONE, V), N, S),
	[0xae] = D(SCAS, O(NONE, B), N, S),
	[0xaf] = D(SCAS, O(NONE, V), N, S),

	ROW8(0xb0, D(MOV, O(OPREG, B), O(IMM, B), 0)),
	ROW8(0xb8, D(MOV, O(OPREG, V), O(IMM, V), 0)),

	[0xc2] = D(RET, N, O(IMM, W), EMUL_F_DEF64),
	[0xc3] = D(RET, N, N, EMUL_F_DEF64),
	[0xc0] = GRP(C0),
	[0xc1] = GRP(C1),
	[0xc6] = GRP(C6),
	[0xc7] = GRP(C7),
	/* ENTER Iw, Ib: the nesting level is the last byte. */
	[0xc8] = D(ENTER, N, O(IMM, W), EMUL_F_DEF64 | EMUL_F_IMM8),
	[0xc9] = D(LEAVE, N, N, EMUL_F_DEF64),
	/* IN and OUT: the port is an imm8 (a first operand for OUT) or DX;
	 * eAX is 32 bits at most (SDM Vol. 2A "IN", Vol. 2B "OUT"). */
	[0xe4] = D(IN, O(ACC, B), O(IMM, B), 0),
	[0xe5] = D(IN, O(ACC, Z), O(IMM, B), 0),
	[0xe6] = D(OUT, O(IMM, B), O(ACC, B), 0),
	[0xe7] = D(OUT, O(IMM, B), O(ACC, Z), 0),
	[0xe8] = D(CALL, N, O(IMM, Z), EMUL_F_FORCE64),
	[0xe9] = D(JMP, N, O(IMM, Z), EMUL_F_FORCE64),
	[0xea] = D(JMP_FAR, N, O(IMM, FARP), EMUL_F_NO64),
	[0xeb] = D(JMP, N, O(IMM, B), EMUL_F_FORCE64),
	[0xec] = D(IN, O(ACC, B), O(DX, W), 0),
	[0xed] = D(IN, O(ACC, Z), O(DX, W), 0),
	[0xee] = D(OUT, O(DX, W), O(ACC, B), 0),
	[0xef] = D(OUT, O(DX, W), O(ACC, Z), 0),
	[0xd0] = GRP(D0),
	[0xd1] = GRP(D1),
	[0xd2] = GRP(D2),
	[0xd3] = GRP(D3),
	[0xf6] = GRP(F6),
	[0xf7] = GRP(F7),
	[0xfa] = D(CLI, N, N, 0),
	[0xfe] = GRP(FE),
	[0xff] = GRP(FF),
};

#define CC_ROW(base, ...)						\
	ROW8(base, __VA_ARGS__), ROW8((base) + 8, __VA_ARGS__)

const struct emul_opdesc emul_twobyte_table[256] = {
	[0x00] = GRP(0F00),
	[0x01] = GRP(0F01),
	/* MOV from and to CR0-CR15: ModRM.mod is ignored, r/m is always a
	 * register, and the operand size is 32 bits, 64 in 64-bit mode,
	 * whatever 66 says (SDM Vol. 2B "MOV-Move to/from Control
	 * Registers"). */
	/* WBINVD, WRMSR, RDMSR, CPUID: operands implicit (SDM Vol. 2D
	 * Table A-3). */
	[0x09] = D(WBINVD, N, N, 0),
	[0x30] = D(WRMSR, N, N, 0),
	[0x32] = D(RDMSR, N, N, 0),
	[0xa2] = D(CPUID, N, N, 0),
	[0x20] = D(MOV_FROM_CR, O(R, D64), O(C, D64), M),
	[0x22] = D(MOV_TO_CR, O(C, D64), O(R, D64), M),
	/* The 128-bit moves (SDM Vol. 2B MOVUPS/MOVUPD, MOVAPS/MOVAPD,
	 * MOVDQU/MOVDQA): 66 picks the PD form, the same move; F2/F3 are
	 * the scalar moves and conversions; 6F/7F without 66 or F3 are MMX. */
	[0x10] = D(MOVXMM, O(V, DQ), O(W, DQ), M | EMUL_F_NOREP),
	[0x11] = D(MOVXMM, O(W, DQ), O(V, DQ), M | EMUL_F_NOREP),
	[0x28] = D(MOVXMM, O(V, DQ), O(W, DQ), M | EMUL_F_NOREP | EMUL_F_ALIGN16),
	[0x29] = D(MOVXMM, O(W, DQ), O(V, DQ), M | EMUL_F_NOREP | EMUL_F_ALIGN16),
	CC_ROW(0x40, D(CMOVCC, O(G, V), O(E, V), M)),
	[0x6f] = D(MOVXMM, O(V, DQ), O(W, DQ), M | EMUL_F_66F3 | EMUL_F_MMXNP),
	[0x7f] = D(MOVXMM, O(W, DQ), O(V, DQ), M | EMUL_F_66F3 | EMUL_F_MMXNP),
	/* Jcc rel16/rel32 (SDM Vol. 2A "Jcc"). */
	CC_ROW(0x80, D(JCC, N, O(IMM, Z), EMUL_F_FORCE64)),
	/* SETcc ignores ModRM.reg (SDM Vol. 2B "SETcc"). */
	CC_ROW(0x90, D(SETCC, O(E, B), N, M)),

	[0xa3] = D(BT, O(E, V), O(G, V), M),
	/* SHLD/SHRD: the count is Ib or CL (SDM Vol. 2B "SHLD"). */
	[0xa4] = D(SHLD, O(E, V), O(G, V), M | EMUL_F_IMM8),
	[0xa5] = D(SHLD, O(E, V), O(G, V), M),
	[0xab] = D(BTS, O(E, V), O(G, V), M | L),
	[0xac] = D(SHRD, O(E, V), O(G, V), M | EMUL_F_IMM8),
	[0xad] = D(SHRD, O(E, V), O(G, V), M),
	[0xaf] = D(IMUL, O(G, V), O(E, V), M),
	[0xb0] = D(CMPXCHG, O(E, B), O(G, B), M | L),
	[0xb1] = D(CMPXCHG, O(E, V), O(G, V), M | L),
	[0xb3] = D(BTR, O(E, V), O(G, V), M | L),
	[0xb6] = D(MOVZX, O(G, V), O(E, B), M),
	[0xb7] = D(MOVZX, O(G, V), O(E, W), M),
	[0xba] = GRP(0FBA),
	[0xbb] = D(BTC, O(E, V), O(G, V), M | L),
	/* F3 makes them TZCNT and LZCNT. */
	[0xbc] = D(BSF, O(G, V), O(E, V), M | EMUL_F_NOREP),
	[0xbd] = D(BSR, O(G, V), O(E, V), M | EMUL_F_NOREP),
	[0xbe] = D(MOVSX, O(G, V), O(E, B), M),
	[0xbf] = D(MOVSX, O(G, V), O(E, W), M),
	[0xc0] = D(XADD, O(E, B), O(G, B), M | L),
	[0xc1] = D(XADD, O(E, V), O(G, V), M | L),
	[0xc3] = D(MOVNTI, O(E, Y), O(G, Y),
		   M | EMUL_F_MEMONLY | EMUL_F_NOSIMD),
	[0xc7] = GRP(0FC7),
};

/* Group 1 (80-83): ModRM.reg picks the ALU operation. */
#define G1(d, s, f)							\
	{ D(ADD, d, s, M | L | (f)), D(OR, d, s, M | L | (f)),		\
	  D(ADC, d, s, M | L | (f)), D(SBB, d, s, M | L | (f)),		\
	  D(AND, d, s, M | L | (f)), D(SUB, d, s, M | L | (f)),		\
	  D(XOR, d, s, M | L | (f)), D(CMP, d, s, M | (f)) }

#define G2(d, s)							\
	{ [4] = D(SHL, d, s, M), [5] = D(SHR, d, s, M), [7] = D(SAR, d, s, M) }

const struct emul_opdesc emul_group_table[EMUL_G_NR][8] = {
	[EMUL_G_80] = G1(O(E, B), O(IMM, B), 0),
	[EMUL_G_81] = G1(O(E, V), O(IMM, Z), 0),
	[EMUL_G_82] = G1(O(E, B), O(IMM, B), EMUL_F_NO64),
	[EMUL_G_83] = G1(O(E, V), O(IMM, B), 0),
	[EMUL_G_8F] = {
		[0] = D(POP, O(E, V), N, M | EMUL_F_DEF64),
	},
	[EMUL_G_C6] = {
		[0] = D(MOV, O(E, B), O(IMM, B), M),
	},
	[EMUL_G_C7] = {
		[0] = D(MOV, O(E, V), O(IMM, Z), M),
	},
	/* Group 2 (C0, C1, D0-D3): SHL /4, SHR /5, SAR /7 by Ib, by 1 (D0,
	 * D1) or by CL (D2, D3); the rotates and the /6 alias are not
	 * Keel's. */
	[EMUL_G_C0] = G2(O(E, B), O(IMM, B)),
	[EMUL_G_C1] = G2(O(E, V), O(IMM, B)),
	[EMUL_G_D0] = G2(O(E, B), N),
	[EMUL_G_D1] = G2(O(E, V), N),
	[EMUL_G_D2] = G2(O(E, B), N),
	[EMUL_G_D3] = G2(O(E, V), N),
	[EMUL_G_F6] = {
		[0] = D(TEST, O(E, B), O(IMM, B), M),
		[2] = D(NOT, O(E, B), N, M | L),
		[3] = D(NEG, O(E, B), N, M | L),
		[4] = D(MUL, N, O(E, B), M),
		[5] = D(IMUL1, N, O(E, B), M),
		[6] = D(DIV, N, O(E, B), M),
		[7] = D(IDIV, N, O(E, B), M),
	},
	[EMUL_G_F7] = {
		[0] = D(TEST, O(E, V), O(IMM, Z), M),
		[2] = D(NOT, O(E, V), N, M | L),
		[3] = D(NEG, O(E, V), N, M | L),
		[4] = D(MUL, N, O(E, V), M),
		[5] = D(IMUL1, N, O(E, V), M),
		[6] = D(DIV, N, O(E, V), M),
		[7] = D(IDIV, N, O(E, V), M),
	},
	[EMUL_G_FE] = {
		[0] = D(INC, O(E, B), N, M | L),
		[1] = D(DEC, O(E, B), N, M | L),
	},
	[EMUL_G_FF] = {
		[0] = D(INC, O(E, V), N, M | L),
		[1] = D(DEC, O(E, V), N, M | L),
		/* Near JMP/CALL take 64-bit operands in 64-bit mode whatever
		 * the prefixes, as Intel processors do (SDM Vol. 2A "CALL",
		 * Vol. 2B "JMP"); the far forms take m16:16/32/64 (REX.W). */
		[2] = D(CALL, N, O(E, V), M | EMUL_F_FORCE64),
		[3] = D(CALL_FAR, N, O(E, FARP), M | EMUL_F_MEMONLY),
		[4] = D(JMP, N, O(E, V), M | EMUL_F_FORCE64),
		[5] = D(JMP_FAR, N, O(E, FARP), M | EMUL_F_MEMONLY),
		[6] = D(PUSH, N, O(E, V), M | EMUL_F_DEF64),
	},
	/* Group 6: LTR only (SDM Vol. 2D Table A-6). */
	[EMUL_G_0F00] = {
		[3] = D(LTR, N, O(E, W), M),
	},
	/* Group 7: LGDT, LIDT, and the forms that read or write CR0's
	 * machine status word; with mod = 3, /4 and /6 are SMSW and LMSW on
	 * a register, the other digits other instructions (SDM Vol. 2D
	 * Table A-6). LGDT/LIDT read m16&32, or m16&64 in 64-bit mode. */
	[EMUL_G_0F01] = {
		[2] = D(LGDT, N, O(E, DTR), M | EMUL_F_MEMONLY),
		[3] = D(LIDT, N, O(E, DTR), M | EMUL_F_MEMONLY),
		[4] = D(SMSW, O(E, MWRV), N, M),
		[6] = D(LMSW, N, O(E, W), M),
	},
	[EMUL_G_0FBA] = {
		[4] = D(BT, O(E, V), O(IMM, B), M),
		[5] = D(BTS, O(E, V), O(IMM, B), M | L),
		[6] = D(BTR, O(E, V), O(IMM, B), M | L),
		[7] = D(BTC, O(E, V), O(IMM, B), M | L),
	},
	[EMUL_G_0FC7] = {
		[1] = D(CMPXCHG8B, O(E, X), N, M | L | EMUL_F_MEMONLY),
	},
};

/* MOVQ mm, mm/m64 and MOVQ mm/m64, mm (SDM Vol. 2B "MOVQ"): 0F 6F and
 * 0F 7F without 66 or F3. REX.W does not change them. */
const struct emul_opdesc emul_mmx_movq_table[2] = {
	D(MOVMMX, O(P, Q), O(Q, Q), M),
	D(MOVMMX, O(Q, Q), O(P, Q), M),
};
