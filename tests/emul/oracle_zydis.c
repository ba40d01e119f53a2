/* Decoder oracle: Keel's emul_decode() against Zydis 4, in 16-, 32- and
 * 64-bit modes.
 *
 * For every byte sequence tried:
 *   - Keel decodes it (EMUL_OK): Zydis must decode it too, with the same
 *     length, the mnemonic Keel's handler stands for, and the same visible
 *     operands (registers, memory base/index/scale/displacement/segment,
 *     sizes, immediates); for string instructions the same element size,
 *     address size, source segment and repeat prefix.
 *   - Keel raises #UD (LOCK misuse) or #GP (over 15 bytes): Zydis must
 *     reject it.
 *   - Keel says EMUL_UNSUPPORTED: fine whatever Zydis says; counted as a
 *     "gap" when Zydis decodes a mnemonic Keel handles elsewhere.
 *
 * Samples: every claimed table entry with all ModRM values, a set of
 * prefix combinations and several tails; then SAMPLES random sequences
 * per mode (fixed seeds), most built around a claimed opcode with random
 * prefixes, REX, ModRM, SIB, displacement and immediate bytes, the rest
 * uniformly random.
 *
 * Build: gcc -O2 -DKEEL_HOST -I. tests/emul/oracle_zydis.c emul/[a-z]*.c
 *        -lZydis -lZycore */
#include <Zydis/Zydis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emul/emul.h"
#include "emul/opcodes.h"

#define SAMPLES		1000000
#define BUF_LEN		16

/* ---- random numbers (xorshift64*, fixed seeds) -------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

/* ---- results --------------------------------------------------------------- */

enum check {
	CK_VALIDITY,	/* Keel OK <=> Zydis OK; Keel fault => Zydis fault */
	CK_LENGTH,
	CK_MNEMONIC,
	CK_OPERANDS,
	CK_NR
};

static const char *const check_names[CK_NR] = {
	"validity", "length", "mnemonic", "operands",
};

struct stats {
	uint64_t samples, keel_ok, keel_fault, keel_unsupported, gaps;
	uint64_t fail[CK_NR];
	uint64_t gap_by_mnemonic[ZYDIS_MNEMONIC_MAX_VALUE + 1];
};

static int reported;

static void report(const char *what, unsigned int mode, const uint8_t *b,
		   const char *detail)
{
	if (reported++ >= 40)
		return;
	printf("  MISMATCH %s mode %u:", what, mode);
	for (int i = 0; i < BUF_LEN; i++)
		printf(" %02x", b[i]);
	printf("  (%s)\n", detail);
}

/* ---- Keel -> Zydis names ---------------------------------------------------- */

static ZydisRegister zy_gpr(unsigned int reg, unsigned int size, bool high8)
{
	switch (size) {
	case 1:
		if (high8)
			return ZYDIS_REGISTER_AH + reg;
		return ZYDIS_REGISTER_AL + (reg < 4 ? reg : reg + 4);
	case 2:  return ZYDIS_REGISTER_AX + reg;
	case 4:  return ZYDIS_REGISTER_EAX + reg;
	default: return ZYDIS_REGISTER_RAX + reg;
	}
}

static const ZydisMnemonic alu_mnemonics[] = {
	[EMUL_H_ADD] = ZYDIS_MNEMONIC_ADD, [EMUL_H_OR] = ZYDIS_MNEMONIC_OR,
	[EMUL_H_ADC] = ZYDIS_MNEMONIC_ADC, [EMUL_H_SBB] = ZYDIS_MNEMONIC_SBB,
	[EMUL_H_AND] = ZYDIS_MNEMONIC_AND, [EMUL_H_SUB] = ZYDIS_MNEMONIC_SUB,
	[EMUL_H_XOR] = ZYDIS_MNEMONIC_XOR, [EMUL_H_CMP] = ZYDIS_MNEMONIC_CMP,
	[EMUL_H_TEST] = ZYDIS_MNEMONIC_TEST, [EMUL_H_INC] = ZYDIS_MNEMONIC_INC,
	[EMUL_H_DEC] = ZYDIS_MNEMONIC_DEC, [EMUL_H_NOT] = ZYDIS_MNEMONIC_NOT,
	[EMUL_H_NEG] = ZYDIS_MNEMONIC_NEG, [EMUL_H_MOV] = ZYDIS_MNEMONIC_MOV,
	[EMUL_H_MOVZX] = ZYDIS_MNEMONIC_MOVZX,
	[EMUL_H_MOVSX] = ZYDIS_MNEMONIC_MOVSX,
	[EMUL_H_MOVSXD] = ZYDIS_MNEMONIC_MOVSXD,
	[EMUL_H_MOVNTI] = ZYDIS_MNEMONIC_MOVNTI,
	[EMUL_H_XCHG] = ZYDIS_MNEMONIC_XCHG, [EMUL_H_XADD] = ZYDIS_MNEMONIC_XADD,
	[EMUL_H_CMPXCHG] = ZYDIS_MNEMONIC_CMPXCHG,
	[EMUL_H_BT] = ZYDIS_MNEMONIC_BT, [EMUL_H_BTS] = ZYDIS_MNEMONIC_BTS,
	[EMUL_H_BTR] = ZYDIS_MNEMONIC_BTR, [EMUL_H_BTC] = ZYDIS_MNEMONIC_BTC,
	[EMUL_H_PUSH] = ZYDIS_MNEMONIC_PUSH, [EMUL_H_POP] = ZYDIS_MNEMONIC_POP,
	[EMUL_H_SMSW] = ZYDIS_MNEMONIC_SMSW, [EMUL_H_LMSW] = ZYDIS_MNEMONIC_LMSW,
	[EMUL_H_IMUL] = ZYDIS_MNEMONIC_IMUL, [EMUL_H_BSF] = ZYDIS_MNEMONIC_BSF,
	[EMUL_H_BSR] = ZYDIS_MNEMONIC_BSR, [EMUL_H_SHLD] = ZYDIS_MNEMONIC_SHLD,
	[EMUL_H_SHRD] = ZYDIS_MNEMONIC_SHRD,
	[EMUL_H_MUL] = ZYDIS_MNEMONIC_MUL, [EMUL_H_IMUL1] = ZYDIS_MNEMONIC_IMUL,
	[EMUL_H_DIV] = ZYDIS_MNEMONIC_DIV, [EMUL_H_IDIV] = ZYDIS_MNEMONIC_IDIV,
	[EMUL_H_LTR] = ZYDIS_MNEMONIC_LTR, [EMUL_H_RET] = ZYDIS_MNEMONIC_RET,
	[EMUL_H_LEAVE] = ZYDIS_MNEMONIC_LEAVE, [EMUL_H_ENTER] = ZYDIS_MNEMONIC_ENTER,
	[EMUL_H_MOV_FROM_SREG] = ZYDIS_MNEMONIC_MOV,
	[EMUL_H_MOV_TO_SREG] = ZYDIS_MNEMONIC_MOV,
	[EMUL_H_JMP] = ZYDIS_MNEMONIC_JMP, [EMUL_H_CALL] = ZYDIS_MNEMONIC_CALL,
	[EMUL_H_JMP_FAR] = ZYDIS_MNEMONIC_JMP,
	[EMUL_H_CALL_FAR] = ZYDIS_MNEMONIC_CALL,
	[EMUL_H_MOVMMX] = ZYDIS_MNEMONIC_MOVQ,
	[EMUL_H_MOV_FROM_CR] = ZYDIS_MNEMONIC_MOV,
	[EMUL_H_MOV_TO_CR] = ZYDIS_MNEMONIC_MOV,
	[EMUL_H_LGDT] = ZYDIS_MNEMONIC_LGDT, [EMUL_H_LIDT] = ZYDIS_MNEMONIC_LIDT,
	[EMUL_H_CLI] = ZYDIS_MNEMONIC_CLI,
	[EMUL_H_IN] = ZYDIS_MNEMONIC_IN, [EMUL_H_OUT] = ZYDIS_MNEMONIC_OUT,
	[EMUL_H_SHL] = ZYDIS_MNEMONIC_SHL, [EMUL_H_SHR] = ZYDIS_MNEMONIC_SHR,
	[EMUL_H_SAR] = ZYDIS_MNEMONIC_SAR,
	[EMUL_H_CPUID] = ZYDIS_MNEMONIC_CPUID,
	[EMUL_H_RDMSR] = ZYDIS_MNEMONIC_RDMSR,
	[EMUL_H_WRMSR] = ZYDIS_MNEMONIC_WRMSR,
	[EMUL_H_WBINVD] = ZYDIS_MNEMONIC_WBINVD,
};

static const ZydisMnemonic setcc_mnemonics[16] = {
	ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,
	ZYDIS_MNEMONIC_SETNB, ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ,
	ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE, ZYDIS_MNEMONIC_SETS,
	ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETNP,
	ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE,
	ZYDIS_MNEMONIC_SETNLE,
};

static const ZydisMnemonic jcc_mnemonics[16] = {
	ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB,
	ZYDIS_MNEMONIC_JNB, ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ,
	ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE, ZYDIS_MNEMONIC_JS,
	ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
	ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE,
	ZYDIS_MNEMONIC_JNLE,
};

static const ZydisMnemonic cmov_mnemonics[16] = {
	ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB,
	ZYDIS_MNEMONIC_CMOVNB, ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ,
	ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE, ZYDIS_MNEMONIC_CMOVS,
	ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVNP,
	ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE,
	ZYDIS_MNEMONIC_CMOVNLE,
};

/* String mnemonics by element size 1, 2, 4, 8. */
static const ZydisMnemonic string_mnemonics[][4] = {
	[EMUL_H_MOVS] = { ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW,
			  ZYDIS_MNEMONIC_MOVSD, ZYDIS_MNEMONIC_MOVSQ },
	[EMUL_H_CMPS] = { ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW,
			  ZYDIS_MNEMONIC_CMPSD, ZYDIS_MNEMONIC_CMPSQ },
	[EMUL_H_STOS] = { ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW,
			  ZYDIS_MNEMONIC_STOSD, ZYDIS_MNEMONIC_STOSQ },
	[EMUL_H_LODS] = { ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW,
			  ZYDIS_MNEMONIC_LODSD, ZYDIS_MNEMONIC_LODSQ },
	[EMUL_H_SCAS] = { ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW,
			  ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_SCASQ },
	[EMUL_H_INS]  = { ZYDIS_MNEMONIC_INSB, ZYDIS_MNEMONIC_INSW,
			  ZYDIS_MNEMONIC_INSD, ZYDIS_MNEMONIC_INVALID },
	[EMUL_H_OUTS] = { ZYDIS_MNEMONIC_OUTSB, ZYDIS_MNEMONIC_OUTSW,
			  ZYDIS_MNEMONIC_OUTSD, ZYDIS_MNEMONIC_INVALID },
};

static unsigned int size_index(unsigned int size)
{
	return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
}

/* One handler, six mnemonics: by opcode, and 66 or F3. */
static ZydisMnemonic xmm_move_mnemonic(const struct emul_insn *in)
{
	bool p66 = in->prefixes & EMUL_PFX_OPSZ;

	switch (in->opcode) {
	case 0x10: case 0x11:
		return p66 ? ZYDIS_MNEMONIC_MOVUPD : ZYDIS_MNEMONIC_MOVUPS;
	case 0x28: case 0x29:
		return p66 ? ZYDIS_MNEMONIC_MOVAPD : ZYDIS_MNEMONIC_MOVAPS;
	default:
		return (in->prefixes & EMUL_PFX_REP) ? ZYDIS_MNEMONIC_MOVDQU
						     : ZYDIS_MNEMONIC_MOVDQA;
	}
}

/* PUSHF/POPF: Zydis names them by operand size. */
static ZydisMnemonic flags_mnemonic(const struct emul_insn *in)
{
	bool push = in->handler == EMUL_H_PUSHF;

	switch (in->opsize) {
	case 2:
		return push ? ZYDIS_MNEMONIC_PUSHF : ZYDIS_MNEMONIC_POPF;
	case 4:
		return push ? ZYDIS_MNEMONIC_PUSHFD : ZYDIS_MNEMONIC_POPFD;
	default:
		return push ? ZYDIS_MNEMONIC_PUSHFQ : ZYDIS_MNEMONIC_POPFQ;
	}
}

static ZydisMnemonic expected_mnemonic(const struct emul_insn *in)
{
	unsigned int h = in->handler;

	if (h == EMUL_H_PUSHF || h == EMUL_H_POPF)
		return flags_mnemonic(in);
	if (h == EMUL_H_SETCC)
		return setcc_mnemonics[in->opcode & 0xf];
	if (h == EMUL_H_CMOVCC)
		return cmov_mnemonics[in->opcode & 0xf];
	if (h == EMUL_H_JCC)
		return jcc_mnemonics[in->opcode & 0xf];
	if (h == EMUL_H_MOVXMM)
		return xmm_move_mnemonic(in);
	if (h == EMUL_H_CMPXCHG8B)
		return in->dst.size == 16 ? ZYDIS_MNEMONIC_CMPXCHG16B
					  : ZYDIS_MNEMONIC_CMPXCHG8B;
	if (in->flags & EMUL_F_STRING)
		return string_mnemonics[h][size_index(in->dst.size)];
	return alu_mnemonics[h];
}

/* Every mnemonic Keel decodes somewhere, to count gaps. */
static bool keel_knows_mnemonic(ZydisMnemonic m)
{
	for (unsigned int i = 0; i < sizeof(alu_mnemonics) / sizeof(alu_mnemonics[0]); i++)
		if (alu_mnemonics[i] == m && m != ZYDIS_MNEMONIC_INVALID)
			return true;
	for (unsigned int i = 0; i < 16; i++)
		if (setcc_mnemonics[i] == m || cmov_mnemonics[i] == m ||
		    jcc_mnemonics[i] == m)
			return true;
	return m == ZYDIS_MNEMONIC_CMPXCHG8B || m == ZYDIS_MNEMONIC_CMPXCHG16B ||
	       m == ZYDIS_MNEMONIC_MOVUPS || m == ZYDIS_MNEMONIC_MOVUPD ||
	       m == ZYDIS_MNEMONIC_MOVAPS || m == ZYDIS_MNEMONIC_MOVAPD ||
	       m == ZYDIS_MNEMONIC_MOVDQU || m == ZYDIS_MNEMONIC_MOVDQA;
}

/* ---- operand comparison ------------------------------------------------------ */

static uint64_t mask_bits(unsigned int bits)
{
	return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

static ZydisRegister zy_addr_reg(unsigned int reg, unsigned int asz)
{
	if (reg == EMUL_MEM_NOREG)
		return ZYDIS_REGISTER_NONE;
	if (reg == EMUL_MEM_RIP)
		return asz == 8 ? ZYDIS_REGISTER_RIP : ZYDIS_REGISTER_EIP;
	return zy_gpr(reg, asz, false);
}

/* 66 63 (MOVSXD r16, r/m16): the SDM and the host processor read 16 bits
 * (checked natively: a 2-byte operand ending at an unmapped page does not
 * fault); Zydis models a 32-bit read. Counted, not failed. */
static uint64_t known_deviations;

static bool is_zydis_movsxd16(const struct emul_insn *in,
			      const ZydisDecodedOperand *z)
{
	if (in->handler != EMUL_H_MOVSXD || in->src.size != 2 || z->size != 32)
		return false;
	known_deviations++;
	return true;
}

/* 67 + REX.B + SIB base 101 with mod 00 is "no base, disp32" (SDM Vol. 2A
 * Table 2-5; checked natively on the host); Zydis 4.0 counts the disp32
 * in the length but reports base R13D and no displacement. */
static bool is_zydis_sib_r13(const struct emul_insn *in,
			     const ZydisDecodedOperand *z)
{
	if (in->mode != 64 || in->addrsize != 4 || !(in->rex & EMUL_REX_B) ||
	    in->mem.base != EMUL_MEM_NOREG || (in->modrm & 0xc7) != 0x04)
		return false;
	if (z->mem.base != ZYDIS_REGISTER_R13D || z->mem.disp.value != 0)
		return false;
	known_deviations++;
	return true;
}

/* 3E before a near indirect JMP/CALL is also CET's NOTRACK prefix (SDM
 * Vol. 1, "Control-flow Enforcement Technology"); Keel takes it as the DS
 * override it is for every other instruction outside 64-bit mode (Vol. 2A
 * 2.1.1), Zydis 4.0 keeps the default segment. */
static bool is_zydis_notrack(const struct emul_insn *in,
			     const ZydisDecodedOperand *z)
{
	if ((in->handler != EMUL_H_JMP && in->handler != EMUL_H_CALL) ||
	    in->mem.seg != EMUL_DS || !memchr(in->bytes, 0x3e, in->len) ||
	    z->mem.segment != ZYDIS_REGISTER_SS)
		return false;
	known_deviations++;
	return true;
}

static bool same_mem(const struct emul_insn *in, const struct emul_operand *op,
		     const ZydisDecodedOperand *z, char *why)
{
	const struct emul_mem *m = &in->mem;
	uint64_t amask = mask_bits(8 * in->addrsize);
	unsigned int zscale = z->mem.index == ZYDIS_REGISTER_NONE ? 1 : z->mem.scale;

	if (z->type != ZYDIS_OPERAND_TYPE_MEMORY)
		return sprintf(why, "not memory"), false;
	if (z->mem.segment != (ZydisRegister)(ZYDIS_REGISTER_ES + m->seg) &&
	    !is_zydis_notrack(in, z))
		return sprintf(why, "segment %u", m->seg), false;
	if (z->mem.index != zy_addr_reg(m->index, in->addrsize))
		return sprintf(why, "index %u", m->index), false;
	if (is_zydis_sib_r13(in, z))
		return true;
	if (z->mem.base != zy_addr_reg(m->base, in->addrsize))
		return sprintf(why, "base %u", m->base), false;
	if (m->index != EMUL_MEM_NOREG && zscale != m->scale)
		return sprintf(why, "scale %u", m->scale), false;
	if ((((uint64_t)z->mem.disp.value ^ (uint64_t)m->disp) & amask) != 0)
		return sprintf(why, "disp %" PRIx64, (uint64_t)m->disp), false;
	if (z->size != 8 * op->size && !is_zydis_movsxd16(in, z))
		return sprintf(why, "mem size %u", op->size), false;
	return true;
}

/* JMP/CALL ptr16:16/32: Keel keeps the offset and, above it, the
 * selector in one immediate. */
static bool same_pointer(const struct emul_insn *in,
			 const struct emul_operand *op,
			 const ZydisDecodedOperand *z, char *why)
{
	unsigned int off_bits = 8 * (op->size - 2);

	if (z->ptr.offset != (in->imm & mask_bits(off_bits)) ||
	    z->ptr.segment != (uint16_t)(in->imm >> off_bits))
		return sprintf(why, "pointer %" PRIx64, in->imm), false;
	return true;
}

static bool same_operand(const struct emul_insn *in,
			 const struct emul_operand *op,
			 const ZydisDecodedOperand *z, char *why)
{
	switch (op->kind) {
	case EMUL_OPND_REG:
		if (z->type != ZYDIS_OPERAND_TYPE_REGISTER ||
		    z->reg.value != zy_gpr(op->reg, op->size, op->high8))
			return sprintf(why, "register %u/%u", op->reg, op->size), false;
		return true;
	case EMUL_OPND_MEM:
		return same_mem(in, op, z, why);
	case EMUL_OPND_XMM:
		if (z->type != ZYDIS_OPERAND_TYPE_REGISTER ||
		    z->reg.value != (ZydisRegister)(ZYDIS_REGISTER_XMM0 + op->reg))
			return sprintf(why, "xmm %u", op->reg), false;
		return true;
	case EMUL_OPND_SREG:
		if (z->type != ZYDIS_OPERAND_TYPE_REGISTER ||
		    z->reg.value != (ZydisRegister)(ZYDIS_REGISTER_ES + op->reg))
			return sprintf(why, "sreg %u", op->reg), false;
		return true;
	case EMUL_OPND_MMX:
		if (z->type != ZYDIS_OPERAND_TYPE_REGISTER ||
		    z->reg.value != (ZydisRegister)(ZYDIS_REGISTER_MM0 + op->reg))
			return sprintf(why, "mm %u", op->reg), false;
		return true;
	case EMUL_OPND_CR:
		if (z->type != ZYDIS_OPERAND_TYPE_REGISTER ||
		    z->reg.value != (ZydisRegister)(ZYDIS_REGISTER_CR0 + op->reg))
			return sprintf(why, "cr %u", op->reg), false;
		return true;
	case EMUL_OPND_IMM:
		if (z->type == ZYDIS_OPERAND_TYPE_POINTER)
			return same_pointer(in, op, z, why);
		if (z->type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		    ((z->imm.value.u ^ in->imm) & mask_bits(z->size)) != 0)
			return sprintf(why, "imm %" PRIx64, in->imm), false;
		return true;
	default:
		return sprintf(why, "kind"), false;
	}
}

static bool is_shift(const struct emul_insn *in)
{
	return in->handler == EMUL_H_SHL || in->handler == EMUL_H_SHR ||
	       in->handler == EMUL_H_SAR;
}

static bool is_shift_by_one(const struct emul_insn *in)
{
	return is_shift(in) && in->map == 0 && (in->opcode == 0xd0 || in->opcode == 0xd1);
}

static bool is_shift_by_cl(const struct emul_insn *in)
{
	return is_shift(in) && in->map == 0 && (in->opcode == 0xd2 || in->opcode == 0xd3);
}

static bool same_operands(const struct emul_insn *in,
			  const ZydisDecodedInstruction *zi,
			  const ZydisDecodedOperand *zo, char *why)
{
	const struct emul_operand *ops[3];
	/* IMUL's and SHLD/SHRD's third operand: the immediate, or CL. */
	struct emul_operand imm = { .kind = EMUL_OPND_IMM };
	struct emul_operand cl = { .kind = EMUL_OPND_REG, .size = 1,
				   .reg = EMUL_RCX };
	unsigned int n = 0;

	if (in->dst.kind != EMUL_OPND_NONE)
		ops[n++] = &in->dst;
	if (in->src.kind != EMUL_OPND_NONE)
		ops[n++] = &in->src;
	if (in->flags & (EMUL_F_IMM8 | EMUL_F_IMMZ))
		ops[n++] = &imm;
	else if (in->handler == EMUL_H_SHLD || in->handler == EMUL_H_SHRD)
		ops[n++] = &cl;
	/* SHL/SHR/SAR by CL (D2, D3) or by 1 (D0, D1: an immediate 1 in
	 * Zydis, implicit in Keel's decode). */
	if (is_shift_by_cl(in))
		ops[n++] = &cl;
	if (is_shift_by_one(in)) {
		if (zi->operand_count_visible != 2 ||
		    zo[1].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || zo[1].imm.value.u != 1)
			return sprintf(why, "shift by 1"), false;
		return same_operand(in, &in->dst, &zo[0], why);
	}
	if (zi->operand_count_visible != n)
		return sprintf(why, "%u operands", n), false;
	if (in->handler == EMUL_H_ENTER) {      /* Iw, then the level byte */
		if (zo[1].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		    (zo[1].imm.value.u & 0xff) != in->bytes[in->len - 1])
			return sprintf(why, "enter level"), false;
		n = 1;
	}
	for (unsigned int i = 0; i < n; i++)
		if (!same_operand(in, ops[i], &zo[i], why))
			return false;
	return true;
}

/* String instructions have only hidden operands in Zydis. */
static bool same_string(const struct emul_insn *in,
			const ZydisDecodedInstruction *zi,
			const ZydisDecodedOperand *zo, char *why)
{
	bool keel_rep = in->prefixes & (EMUL_PFX_REP | EMUL_PFX_REPNE);
	bool zy_rep = zi->attributes & (ZYDIS_ATTRIB_HAS_REP |
			ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);

	if (zi->address_width != 8 * in->addrsize)
		return sprintf(why, "address size %u", in->addrsize), false;
	if (keel_rep != zy_rep)
		return sprintf(why, "rep"), false;
	if ((in->handler == EMUL_H_CMPS || in->handler == EMUL_H_SCAS) && keel_rep &&
	    !(in->prefixes & EMUL_PFX_REPNE) != !(zi->attributes & ZYDIS_ATTRIB_HAS_REPNE))
		return sprintf(why, "repe/repne"), false;
	for (unsigned int i = 0; i < zi->operand_count; i++) {
		const ZydisDecodedOperand *z = &zo[i];
		ZydisRegister b = z->mem.base;

		if (z->type != ZYDIS_OPERAND_TYPE_MEMORY)
			continue;
		if (z->size != 8 * in->dst.size)
			return sprintf(why, "element size %u", in->dst.size), false;
		if ((b == ZYDIS_REGISTER_RSI || b == ZYDIS_REGISTER_ESI ||
		     b == ZYDIS_REGISTER_SI) &&
		    z->mem.segment != (ZydisRegister)(ZYDIS_REGISTER_ES + in->mem.seg))
			return sprintf(why, "source segment %u", in->mem.seg), false;
	}
	return true;
}

/* ---- one comparison ---------------------------------------------------------- */

static ZydisDecoder zy_dec[3];

static ZydisDecoder *zy_for(unsigned int mode)
{
	return &zy_dec[mode == 16 ? 0 : mode == 32 ? 1 : 2];
}

static void zy_init(void)
{
	ZydisDecoderInit(&zy_dec[0], ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
	ZydisDecoderInit(&zy_dec[1], ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
	ZydisDecoderInit(&zy_dec[2], ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

static void compare_ok(struct stats *st, unsigned int mode, const uint8_t *b,
		       const struct emul_insn *in, const ZydisDecodedInstruction *zi,
		       const ZydisDecodedOperand *zo)
{
	char why[96] = "";
	bool ok;

	if (zi->length != in->len) {
		st->fail[CK_LENGTH]++;
		sprintf(why, "keel len %u zydis %u", in->len, zi->length);
		report("length", mode, b, why);
		return;
	}
	if (zi->mnemonic != expected_mnemonic(in)) {
		st->fail[CK_MNEMONIC]++;
		sprintf(why, "zydis %s", ZydisMnemonicGetString(zi->mnemonic));
		report("mnemonic", mode, b, why);
		return;
	}
	ok = (in->flags & EMUL_F_STRING) ? same_string(in, zi, zo, why)
					 : same_operands(in, zi, zo, why);
	if (!ok) {
		st->fail[CK_OPERANDS]++;
		report("operands", mode, b, why);
	}
}

static void compare(struct stats *st, unsigned int mode, const uint8_t *b)
{
	struct emul_insn in;
	struct emul_exception exc;
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	int rc = emul_decode(&in, b, BUF_LEN, mode, &exc);
	bool zok = ZYAN_SUCCESS(ZydisDecoderDecodeFull(zy_for(mode), b, BUF_LEN,
						      &zi, zo));

	st->samples++;
	switch (rc) {
	case EMUL_OK:
		st->keel_ok++;
		if (!zok) {
			st->fail[CK_VALIDITY]++;
			report("validity (Zydis rejects)", mode, b, "keel ok");
			return;
		}
		compare_ok(st, mode, b, &in, &zi, zo);
		return;
	case EMUL_EXCEPTION:
		st->keel_fault++;
		if (zok) {
			char why[64];

			st->fail[CK_VALIDITY]++;
			sprintf(why, "keel vector %u, zydis %s", exc.vector,
				ZydisMnemonicGetString(zi.mnemonic));
			report("validity (Keel faults)", mode, b, why);
		}
		return;
	default:
		st->keel_unsupported++;
		if (zok && keel_knows_mnemonic(zi.mnemonic)) {
			st->gaps++;
			st->gap_by_mnemonic[zi.mnemonic]++;
		}
		return;
	}
}

/* ---- sample generators ---------------------------------------------------------- */

struct claimed {
	uint8_t map, op;
	int8_t reg;		/* ModRM.reg for group entries, else -1 */
	bool modrm;
};

static struct claimed claimed[600];
static unsigned int n_claimed;

static void collect_claimed(void)
{
	for (unsigned int map = 0; map < 2; map++) {
		const struct emul_opdesc *t = map ? emul_twobyte_table
						  : emul_onebyte_table;

		for (unsigned int op = 0; op < 256; op++) {
			const struct emul_opdesc *d = &t[op];

			if (d->flags & EMUL_F_GROUP) {
				for (int r = 0; r < 8; r++)
					if (emul_group_table[d->handler][r].handler)
						claimed[n_claimed++] = (struct claimed){
							(uint8_t)map, (uint8_t)op, (int8_t)r, true };
			} else if (d->handler != EMUL_H_NONE) {
				claimed[n_claimed++] = (struct claimed){
					(uint8_t)map, (uint8_t)op, -1,
					(d->flags & EMUL_F_MODRM) != 0 };
			}
		}
	}
}

static const uint8_t legacy_prefixes[] = {
	0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65,
};

static unsigned int put_prefixes(uint8_t *b, unsigned int mode)
{
	unsigned int n = 0, count;
	unsigned int r = rnd_below(100);

	count = r < 40 ? 0 : r < 65 ? 1 : r < 80 ? 2 : r < 92 ? 3 : r < 97 ? 4
		: 5 + rnd_below(10);
	for (unsigned int i = 0; i < count; i++) {
		if (mode == 64 && rnd_below(8) == 0)
			b[n++] = (uint8_t)(0x40 | rnd_below(16));	/* stale REX */
		else
			b[n++] = legacy_prefixes[rnd_below(sizeof(legacy_prefixes))];
	}
	if (mode == 64 && rnd_below(2))
		b[n++] = (uint8_t)(0x40 | rnd_below(16));
	return n;
}

static void gen_biased(uint8_t *b, unsigned int mode)
{
	const struct claimed *c = &claimed[rnd_below(n_claimed)];
	unsigned int n;

	for (int i = 0; i < 2 * BUF_LEN; i++)
		b[i] = (uint8_t)rnd();
	n = put_prefixes(b, mode);
	if (n > BUF_LEN - 2)
		n = BUF_LEN - 2;
	if (c->map)
		b[n++] = 0x0f;
	b[n++] = c->op;
	if (c->modrm && c->reg >= 0 && n < BUF_LEN && rnd_below(10))
		b[n] = (uint8_t)((b[n] & 0xc7) | (c->reg << 3));
}

static void gen_random(uint8_t *b)
{
	for (int i = 0; i < BUF_LEN; i++)
		b[i] = (uint8_t)rnd();
	if (rnd_below(4) == 0)
		b[0] = 0x0f;
}

/* Every claimed entry x every ModRM (with its group reg) x prefix sets x
 * tails. */
static const uint8_t prefix_sets[][3] = {
	{ 0 }, { 1, 0x66 }, { 1, 0x67 }, { 2, 0x66, 0x67 }, { 1, 0xf0 },
	{ 1, 0xf2 }, { 1, 0xf3 }, { 2, 0xf3, 0xf0 }, { 1, 0x2e }, { 1, 0x64 },
	{ 1, 0x36 }, { 1, 0x48 }, { 1, 0x47 }, { 1, 0x40 }, { 2, 0x66, 0x48 },
	{ 2, 0x48, 0x66 },
};

static bool has_rex(const uint8_t *set)
{
	for (unsigned int k = 0; k < set[0]; k++)
		if ((set[1 + k] & 0xf0) == 0x40)
			return true;
	return false;
}

static void run_exhaustive(struct stats *st, unsigned int mode)
{
	for (unsigned int i = 0; i < n_claimed; i++) {
		const struct claimed *c = &claimed[i];
		unsigned int nmodrm = c->modrm ? 256 : 1;

		for (unsigned int m = 0; m < nmodrm; m++) {
			if (c->reg >= 0 && ((m >> 3) & 7) != (unsigned int)c->reg)
				continue;
			for (unsigned int p = 0; p < sizeof(prefix_sets) / 3; p++) {
				for (unsigned int t = 0; t < 4; t++) {
					uint8_t b[2 * BUF_LEN];
					unsigned int n = 0;

					if (mode != 64 && has_rex(prefix_sets[p]))
						continue;
					for (unsigned int k = 0; k < prefix_sets[p][0]; k++)
						b[n++] = prefix_sets[p][1 + k];
					if (c->map)
						b[n++] = 0x0f;
					b[n++] = c->op;
					if (c->modrm)
						b[n++] = (uint8_t)m;
					for (unsigned int k = n; k < sizeof(b); k++)
						b[k] = t == 0 ? 0 : t == 1 ? 0xff : (uint8_t)rnd();
					compare(st, mode, b);
				}
			}
		}
	}
}

static void run_random(struct stats *st, unsigned int mode)
{
	uint8_t b[2 * BUF_LEN];

	for (unsigned int i = 0; i < SAMPLES; i++) {
		if (rnd_below(100) < 85)
			gen_biased(b, mode);
		else
			gen_random(b);
		compare(st, mode, b);
	}
}

/* ---- main -------------------------------------------------------------------------- */

static int passed, failed;

/* The mnemonics behind the largest gap counts, e.g. the short INC/DEC
 * forms 40-4F outside 64-bit mode or F6/F7 /1 (an alias of TEST). */
static void print_gaps(const struct stats *st)
{
	uint64_t shown = 0;

	if (!st->gaps)
		return;
	printf("      gaps:");
	for (int k = 0; k < 6; k++) {
		uint64_t best = 0;
		int bi = -1;

		for (int m = 0; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++)
			if (st->gap_by_mnemonic[m] > best &&
			    (k == 0 || st->gap_by_mnemonic[m] < shown))
				best = st->gap_by_mnemonic[m], bi = m;
		if (bi < 0)
			break;
		shown = best;
		printf(" %s %" PRIu64, ZydisMnemonicGetString(bi), best);
	}
	printf("\n");
}

static void verdict(const char *name, unsigned int mode, const struct stats *st)
{
	for (unsigned int c = 0; c < CK_NR; c++) {
		bool ok = st->fail[c] == 0;

		printf("%s %s_mode%u_%s (%" PRIu64 " failures)\n", ok ? "PASS" : "FAIL",
		       name, mode, check_names[c], st->fail[c]);
		ok ? passed++ : failed++;
	}
	printf("    %s mode %u: %" PRIu64 " samples: keel decoded %" PRIu64
	       ", keel #UD/#GP %" PRIu64 ", unsupported %" PRIu64
	       " (of which Zydis decodes a mnemonic Keel knows: %" PRIu64 ")\n",
	       name, mode, st->samples, st->keel_ok, st->keel_fault,
	       st->keel_unsupported, st->gaps);
	print_gaps(st);
}

int main(void)
{
	static const unsigned int modes[] = { 16, 32, 64 };

	zy_init();
	collect_claimed();
	printf("claimed table entries: %u\n", n_claimed);
	for (unsigned int i = 0; i < 3; i++) {
		static struct stats ex, rn;

		memset(&ex, 0, sizeof(ex));
		memset(&rn, 0, sizeof(rn));
		rng_state = 0x9e3779b97f4a7c15ULL ^ modes[i];
		run_exhaustive(&ex, modes[i]);
		verdict("claimed", modes[i], &ex);
		rng_state = 0xd1b54a32d192ed03ULL ^ modes[i];
		run_random(&rn, modes[i]);
		verdict("random", modes[i], &rn);
	}
	printf("known Zydis deviations accepted (66 63 source size, 67+REX.B SIB disp32, 3E NOTRACK segment): %" PRIu64 "\n",
	       known_deviations);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
