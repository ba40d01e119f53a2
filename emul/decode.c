/* Instruction decoder: legacy prefixes, REX, opcode tables, ModRM/SIB,
 * displacement and immediate, for 16-, 32- and 64-bit code.
 *
 *   [prefixes][REX][0F][opcode][ModRM][SIB][disp 0/1/2/4][imm 0/1/2/4/8]
 *    legacy    64-bit                                      or moffs 2/4/8
 *
 * SDM Vol. 2A chapter 2 ("Instruction Format") and Vol. 2D Appendix A. */
#include "arch/string.h"
#include "emul/emul.h"
#include "emul/opcodes.h"

/* A decoding cursor over the instruction bytes. */
struct dec {
	const uint8_t *bytes;
	size_t avail;		/* bytes readable, at most 15 */
	size_t pos;
	struct emul_insn *insn;
	struct emul_exception *exc;
	const struct emul_opdesc *desc;
};

static int dec_fault(struct dec *d, uint8_t vector, bool has_ec)
{
	d->exc->vector = vector;
	d->exc->has_error_code = has_ec;
	d->exc->error_code = 0;
	d->exc->cr2 = 0;
	return EMUL_EXCEPTION;
}

static int dec_unsupported(struct dec *d)
{
	dec_fault(d, EMUL_VEC_UD, false);
	return EMUL_UNSUPPORTED;
}

/* An instruction longer than 15 bytes raises #GP(0) (SDM Vol. 2A 2.3.11,
 * "remains 15 bytes"; Vol. 3A 6.15, Interrupt 13). */
static int dec_byte(struct dec *d, uint8_t *out)
{
	if (d->pos >= EMUL_MAX_INSN_LEN)
		return dec_fault(d, EMUL_VEC_GP, true);
	if (d->pos >= d->avail)
		return EMUL_NEED_BYTES;
	*out = d->bytes[d->pos++];
	return EMUL_OK;
}

/* Reads a little-endian value of n bytes, sign-extended to 64 bits. */
static int dec_signed(struct dec *d, unsigned int n, int64_t *out)
{
	uint64_t v = 0;
	uint8_t b = 0;

	for (unsigned int i = 0; i < n; i++) {
		int rc = dec_byte(d, &b);

		if (rc != EMUL_OK)
			return rc;
		v |= (uint64_t)b << (8 * i);
	}
	if (n < 8 && (v & BIT_ULL(8 * n - 1)))
		v |= ~0ULL << (8 * n);
	*out = (int64_t)v;
	return EMUL_OK;
}

/* ---- prefixes ---------------------------------------------------------- */

enum pfx_kind { PFX_NONE, PFX_LOCK, PFX_REPNE, PFX_REP, PFX_OPSZ, PFX_ADSZ,
		PFX_SEG, PFX_REX };

static enum pfx_kind prefix_kind(uint8_t b, unsigned int mode)
{
	switch (b) {
	case 0xf0: return PFX_LOCK;
	case 0xf2: return PFX_REPNE;
	case 0xf3: return PFX_REP;
	case 0x66: return PFX_OPSZ;
	case 0x67: return PFX_ADSZ;
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
		return PFX_SEG;
	default:
		return (mode == 64 && (b & 0xf0) == 0x40) ? PFX_REX : PFX_NONE;
	}
}

static uint8_t prefix_seg(uint8_t b)
{
	switch (b) {
	case 0x26: return EMUL_ES;
	case 0x2e: return EMUL_CS;
	case 0x36: return EMUL_SS;
	case 0x3e: return EMUL_DS;
	case 0x64: return EMUL_FS;
	default:   return EMUL_GS;
	}
}

/* In 64-bit mode the ES/CS/SS/DS overrides are null prefixes (SDM Vol. 1
 * 3.4.2.1): they neither select a segment nor cancel an earlier FS/GS
 * override (as the processor does). */
static void apply_seg_prefix(struct emul_insn *insn, uint8_t s, uint8_t *seg)
{
	if (insn->mode == 64 && s != EMUL_FS && s != EMUL_GS)
		return;
	insn->prefixes |= EMUL_PFX_SEG;
	*seg = s;
}

/* Records one legacy prefix. Of F2/F3 and of the segment overrides the
 * last one counts. A REX prefix only counts when the opcode follows it
 * directly (SDM Vol. 2A 2.2.1), so any legacy prefix drops it. */
static void apply_prefix(struct emul_insn *insn, enum pfx_kind k, uint8_t b,
			 uint8_t *seg)
{
	insn->rex = 0;
	switch (k) {
	case PFX_LOCK:  insn->prefixes |= EMUL_PFX_LOCK; break;
	case PFX_REPNE:
		insn->prefixes = (insn->prefixes & ~EMUL_PFX_REP) | EMUL_PFX_REPNE;
		break;
	case PFX_REP:
		insn->prefixes = (insn->prefixes & ~EMUL_PFX_REPNE) | EMUL_PFX_REP;
		break;
	case PFX_OPSZ:  insn->prefixes |= EMUL_PFX_OPSZ; break;
	case PFX_ADSZ:  insn->prefixes |= EMUL_PFX_ADSZ; break;
	case PFX_SEG:
		apply_seg_prefix(insn, prefix_seg(b), seg);
		break;
	default:
		break;
	}
}

/* Consumes prefixes; leaves the first opcode byte in *op. */
static int decode_prefixes(struct dec *d, uint8_t *seg, uint8_t *op)
{
	struct emul_insn *insn = d->insn;

	for (;;) {
		uint8_t b = 0;
		int rc = dec_byte(d, &b);
		enum pfx_kind k;

		if (rc != EMUL_OK)
			return rc;
		k = prefix_kind(b, insn->mode);
		if (k == PFX_NONE) {
			*op = b;
			return EMUL_OK;
		}
		if (k == PFX_REX)
			insn->rex = b;
		else
			apply_prefix(insn, k, b, seg);
	}
}

/* ---- sizes --------------------------------------------------------------- */

/* SDM Vol. 1 3.6, Tables 3-3 and 3-4. */
static uint8_t decode_opsize(const struct emul_insn *insn)
{
	bool p66 = insn->prefixes & EMUL_PFX_OPSZ;

	switch (insn->mode) {
	case 64:
		if (insn->rex & EMUL_REX_W || (insn->flags & EMUL_F_FORCE64))
			return 8;
		if (p66)
			return 2;
		return (insn->flags & EMUL_F_DEF64) ? 8 : 4;
	case 32:
		return p66 ? 2 : 4;
	default:
		return p66 ? 4 : 2;
	}
}

static uint8_t decode_addrsize(const struct emul_insn *insn)
{
	bool p67 = insn->prefixes & EMUL_PFX_ADSZ;

	switch (insn->mode) {
	case 64: return p67 ? 4 : 8;
	case 32: return p67 ? 2 : 4;
	default: return p67 ? 4 : 2;
	}
}

static uint8_t size_of_class(const struct emul_insn *insn, uint8_t spec)
{
	bool rexw = insn->rex & EMUL_REX_W;

	switch (spec >> EMUL_SZ_SHIFT) {
	case EMUL_SZ_B: return 1;
	case EMUL_SZ_W: return 2;
	case EMUL_SZ_Z: return insn->opsize == 2 ? 2 : 4;
	case EMUL_SZ_X: return rexw ? 16 : 8;
	case EMUL_SZ_Y: return rexw ? 8 : 4;
	case EMUL_SZ_MWRV: return (insn->modrm >> 6) == 3 ? insn->opsize : 2;
	case EMUL_SZ_DQ: return 16;
	case EMUL_SZ_Q: return 8;
	case EMUL_SZ_FARP: return insn->opsize + 2;
	case EMUL_SZ_D64: return insn->mode == 64 ? 8 : 4;
	case EMUL_SZ_DTR: return insn->mode == 64 ? 10 : 6;
	default:        return insn->opsize;
	}
}

/* ---- ModRM memory operands ------------------------------------------------ */

#define MODRM_MOD(m)	((m) >> 6)
#define MODRM_REG(m)	(((m) >> 3) & 7)
#define MODRM_RM(m)	((m) & 7)

/* 16-bit forms (SDM Vol. 2A Table 2-1): base and index by r/m. */
static const uint8_t mem16_base[8] = {
	EMUL_RBX, EMUL_RBX, EMUL_RBP, EMUL_RBP,
	EMUL_RSI, EMUL_RDI, EMUL_RBP, EMUL_RBX,
};
static const uint8_t mem16_index[8] = {
	EMUL_RSI, EMUL_RDI, EMUL_RSI, EMUL_RDI,
	EMUL_MEM_NOREG, EMUL_MEM_NOREG, EMUL_MEM_NOREG, EMUL_MEM_NOREG,
};

static int decode_mem16(struct dec *d, uint8_t mod, uint8_t rm)
{
	struct emul_mem *mem = &d->insn->mem;

	mem->base = mem16_base[rm];
	mem->index = mem16_index[rm];
	if (mod == 0 && rm == 6) {
		mem->base = EMUL_MEM_NOREG;
		return dec_signed(d, 2, &mem->disp);
	}
	if (mod == 0)
		return EMUL_OK;
	return dec_signed(d, mod == 1 ? 1 : 2, &mem->disp);
}

/* 32/64-bit forms (SDM Vol. 2A Tables 2-2, 2-3 and 2.2.1.6). */
static int decode_sib(struct dec *d, uint8_t mod)
{
	struct emul_insn *insn = d->insn;
	uint8_t sib = 0, idx, base;
	int rc = dec_byte(d, &sib);

	if (rc != EMUL_OK)
		return rc;
	idx = ((sib >> 3) & 7) | ((insn->rex & EMUL_REX_X) ? 8 : 0);
	base = (sib & 7) | ((insn->rex & EMUL_REX_B) ? 8 : 0);
	insn->mem.scale = (uint8_t)(1u << (sib >> 6));
	insn->mem.index = idx == EMUL_RSP ? EMUL_MEM_NOREG : idx;
	if (mod == 0 && (sib & 7) == 5) {
		insn->mem.base = EMUL_MEM_NOREG;
		return dec_signed(d, 4, &insn->mem.disp);
	}
	insn->mem.base = base;
	return EMUL_OK;
}

static int decode_mem32(struct dec *d, uint8_t mod, uint8_t rm)
{
	struct emul_insn *insn = d->insn;
	int rc = EMUL_OK;

	if (rm == 4) {
		rc = decode_sib(d, mod);
	} else if (mod == 0 && rm == 5) {
		insn->mem.base = insn->mode == 64 ? EMUL_MEM_RIP : EMUL_MEM_NOREG;
		return dec_signed(d, 4, &insn->mem.disp);
	} else {
		insn->mem.base = rm | ((insn->rex & EMUL_REX_B) ? 8 : 0);
	}
	if (rc != EMUL_OK || mod == 0)
		return rc;
	return dec_signed(d, mod == 1 ? 1 : 4, &insn->mem.disp);
}

/* Default segment: SS when rBP or rSP is the base, else DS (SDM Vol. 1
 * 3.7.4, Table 3-5). */
static void decode_mem_seg(struct emul_insn *insn, uint8_t override)
{
	uint8_t base = insn->mem.base;
	bool ss = base == EMUL_RSP || base == EMUL_RBP;

	insn->mem.seg = ss ? EMUL_SS : EMUL_DS;
	if (insn->prefixes & EMUL_PFX_SEG)
		insn->mem.seg = override;
}

static int decode_modrm_mem(struct dec *d)
{
	struct emul_insn *insn = d->insn;
	uint8_t mod = MODRM_MOD(insn->modrm), rm = MODRM_RM(insn->modrm);

	insn->has_mem = true;
	insn->mem.index = EMUL_MEM_NOREG;
	insn->mem.scale = 1;
	insn->mem.disp = 0;
	if (insn->addrsize == 2)
		return decode_mem16(d, mod, rm);
	return decode_mem32(d, mod, rm);
}

static int decode_moffs(struct dec *d)
{
	struct emul_insn *insn = d->insn;
	int rc;

	insn->has_mem = true;
	insn->mem.base = EMUL_MEM_NOREG;
	insn->mem.index = EMUL_MEM_NOREG;
	insn->mem.scale = 1;
	rc = dec_signed(d, insn->addrsize, &insn->mem.disp);
	if (insn->addrsize < 8)
		insn->mem.disp &= (int64_t)(BIT_ULL(8 * insn->addrsize) - 1);
	return rc;
}

/* ---- operands ------------------------------------------------------------ */

/* Without REX, byte registers 4-7 are AH, CH, DH, BH (SDM Vol. 1 3.4.1.1). */
static void set_reg(const struct emul_insn *insn, struct emul_operand *op,
		    uint8_t reg)
{
	op->kind = EMUL_OPND_REG;
	op->reg = reg;
	op->high8 = false;
	if (op->size == 1 && !insn->rex && reg >= 4 && reg < 8) {
		op->reg = reg - 4;
		op->high8 = true;
	}
}

static void decode_operand(struct emul_insn *insn, uint8_t spec,
			   struct emul_operand *op)
{
	uint8_t modrm = insn->modrm;
	uint8_t rex_r = (insn->rex & EMUL_REX_R) ? 8 : 0;
	uint8_t rex_b = (insn->rex & EMUL_REX_B) ? 8 : 0;

	op->size = size_of_class(insn, spec);
	switch (spec & EMUL_OK_MASK) {
	case EMUL_OK_E:
		if (MODRM_MOD(modrm) == 3)
			set_reg(insn, op, MODRM_RM(modrm) | rex_b);
		else
			op->kind = EMUL_OPND_MEM;
		break;
	case EMUL_OK_V:
		op->kind = EMUL_OPND_XMM;
		op->reg = MODRM_REG(modrm) | rex_r;
		break;
	case EMUL_OK_W:
		op->kind = MODRM_MOD(modrm) == 3 ? EMUL_OPND_XMM : EMUL_OPND_MEM;
		op->reg = MODRM_MOD(modrm) == 3 ? MODRM_RM(modrm) | rex_b : 0;
		break;
	case EMUL_OK_G:
		set_reg(insn, op, MODRM_REG(modrm) | rex_r);
		break;
	case EMUL_OK_R:		/* MOV CR: mod is ignored (11B assumed) */
		set_reg(insn, op, MODRM_RM(modrm) | rex_b);
		break;
	case EMUL_OK_C:		/* CR0-CR15 with REX.R */
		op->kind = EMUL_OPND_CR;
		op->reg = MODRM_REG(modrm) | rex_r;
		break;
	case EMUL_OK_SREG:		/* REX.R does not extend Sreg */
		op->kind = EMUL_OPND_SREG;
		op->reg = MODRM_REG(modrm);
		break;
	case EMUL_OK_P:		/* nor the MMX registers */
		op->kind = EMUL_OPND_MMX;
		op->reg = MODRM_REG(modrm);
		break;
	case EMUL_OK_Q:
		op->kind = MODRM_MOD(modrm) == 3 ? EMUL_OPND_MMX : EMUL_OPND_MEM;
		op->reg = MODRM_RM(modrm);
		break;
	case EMUL_OK_ACC:
		set_reg(insn, op, EMUL_RAX);
		break;
	case EMUL_OK_DX:
		set_reg(insn, op, EMUL_RDX);
		break;
	case EMUL_OK_OPREG:
		set_reg(insn, op, (insn->opcode & 7) | rex_b);
		break;
	case EMUL_OK_IMM:
		op->kind = EMUL_OPND_IMM;
		break;
	case EMUL_OK_MOFFS:
		op->kind = EMUL_OPND_MEM;
		break;
	default:
		op->kind = EMUL_OPND_NONE;
		break;
	}
}

static bool spec_is(uint8_t spec, unsigned int kind)
{
	return (spec & EMUL_OK_MASK) == kind;
}

/* Immediate bytes: Ib 1, Iw 2, Iz 2/4, Iv 2/4/8 (MOV r64, imm64). */
static int decode_imm(struct dec *d, const struct emul_operand *op)
{
	return dec_signed(d, op->size, (int64_t *)&d->insn->imm);
}

/* ---- opcode lookup ------------------------------------------------------- */

static int decode_opcode(struct dec *d, uint8_t op)
{
	struct emul_insn *insn = d->insn;
	int rc;

	if (op == 0x0f) {
		rc = dec_byte(d, &op);
		if (rc != EMUL_OK)
			return rc;
		insn->map = 1;
		d->desc = &emul_twobyte_table[op];
	} else {
		d->desc = &emul_onebyte_table[op];
	}
	insn->opcode = op;
	if (d->desc->handler == EMUL_H_NONE && !(d->desc->flags & EMUL_F_GROUP))
		return dec_unsupported(d);
	if (!(d->desc->flags & EMUL_F_MODRM))
		return EMUL_OK;
	rc = dec_byte(d, &insn->modrm);
	if (rc != EMUL_OK)
		return rc;
	insn->has_modrm = true;
	if ((d->desc->flags & EMUL_F_MMXNP) && !(insn->prefixes &
	    (EMUL_PFX_OPSZ | EMUL_PFX_REP | EMUL_PFX_REPNE)))
		d->desc = &emul_mmx_movq_table[op == 0x7f];
	if (d->desc->flags & EMUL_F_GROUP)
		d->desc = &emul_group_table[d->desc->handler][MODRM_REG(insn->modrm)];
	return EMUL_OK;
}

/* Rejects entries that do not apply to this mode, prefix set or ModRM. */
static int check_form(struct dec *d)
{
	const struct emul_insn *insn = d->insn;
	uint16_t f = d->desc->flags;
	bool is_reg = MODRM_MOD(insn->modrm) == 3;

	if (d->desc->handler == EMUL_H_NONE)
		return dec_unsupported(d);
	if (insn->mode == 64 ? (f & EMUL_F_NO64) : (f & EMUL_F_ONLY64))
		return dec_unsupported(d);
	if ((f & EMUL_F_NOSIMD) &&
	    (insn->prefixes & (EMUL_PFX_OPSZ | EMUL_PFX_REP | EMUL_PFX_REPNE)))
		return dec_unsupported(d);
	if ((f & EMUL_F_NOREP) && (insn->prefixes & (EMUL_PFX_REP | EMUL_PFX_REPNE)))
		return dec_unsupported(d);
	if ((f & EMUL_F_66F3) && ((insn->prefixes & EMUL_PFX_REPNE) ||
	    !(insn->prefixes & (EMUL_PFX_OPSZ | EMUL_PFX_REP))))
		return dec_unsupported(d);
	if (insn->has_modrm && (f & EMUL_F_MEMONLY) && is_reg)
		return dec_unsupported(d);
	return EMUL_OK;
}

/* Sreg encodings 6 and 7 are reserved, and CS cannot be loaded with MOV:
 * both #UD (SDM Vol. 2B "MOV"). */
static int check_sreg(struct dec *d)
{
	const struct emul_insn *insn = d->insn;

	if (insn->handler != EMUL_H_MOV_FROM_SREG &&
	    insn->handler != EMUL_H_MOV_TO_SREG)
		return EMUL_OK;
	if (MODRM_REG(insn->modrm) >= EMUL_SEG_NR ||
	    (insn->handler == EMUL_H_MOV_TO_SREG &&
	     MODRM_REG(insn->modrm) == EMUL_CS))
		return dec_fault(d, EMUL_VEC_UD, false);
	return EMUL_OK;
}

/* MOV to/from CRn: CR1, CR5-CR7, CR9-CR15, and CR8 outside 64-bit mode
 * do not exist: #UD (SDM Vol. 2B "MOV-Move to/from Control Registers"). */
static int check_cr(struct dec *d)
{
	const struct emul_insn *insn = d->insn;
	const struct emul_operand *cr = insn->handler == EMUL_H_MOV_TO_CR ?
					&insn->dst : &insn->src;
	unsigned int n = cr->reg;

	if (cr->kind != EMUL_OPND_CR || n == 0 || n == 2 || n == 3 || n == 4 ||
	    (n == 8 && insn->mode == 64))
		return EMUL_OK;
	return dec_fault(d, EMUL_VEC_UD, false);
}

/* LOCK is #UD unless the instruction is lockable and its destination is
 * memory (SDM Vol. 2A "LOCK"). */
static int check_lock(struct dec *d)
{
	const struct emul_insn *insn = d->insn;

	if (!(insn->prefixes & EMUL_PFX_LOCK))
		return EMUL_OK;
	if ((insn->flags & EMUL_F_LOCK) && insn->dst.kind == EMUL_OPND_MEM)
		return EMUL_OK;
	return dec_fault(d, EMUL_VEC_UD, false);
}

/* A further immediate: IMUL's and SHLD/SHRD's third operand (into
 * insn->imm), or ENTER's nesting level after its Iw (left in the
 * instruction's bytes, the last one). */
static int decode_third_imm(struct dec *d, uint16_t flags)
{
	struct emul_insn *insn = d->insn;
	int64_t level;

	if (insn->src.kind == EMUL_OPND_IMM)
		return dec_signed(d, 1, &level);
	return decode_imm(d, &(struct emul_operand){ .kind = EMUL_OPND_IMM,
		.size = (flags & EMUL_F_IMM8) ? 1 : insn->opsize == 2 ? 2 : 4 });
}

static int decode_operands(struct dec *d, uint8_t seg_override)
{
	struct emul_insn *insn = d->insn;
	const struct emul_opdesc *desc = d->desc;
	int rc = EMUL_OK;

	decode_operand(insn, desc->dst, &insn->dst);
	decode_operand(insn, desc->src, &insn->src);
	if (insn->dst.kind == EMUL_OPND_MEM || insn->src.kind == EMUL_OPND_MEM) {
		if (spec_is(desc->dst, EMUL_OK_MOFFS) ||
		    spec_is(desc->src, EMUL_OK_MOFFS))
			rc = decode_moffs(d);
		else
			rc = decode_modrm_mem(d);
		decode_mem_seg(insn, seg_override);
	} else if (desc->flags & EMUL_F_STRING) {
		/* The source segment of MOVS/CMPS/LODS/OUTS. */
		insn->mem.base = EMUL_MEM_NOREG;
		insn->mem.index = EMUL_MEM_NOREG;
		decode_mem_seg(insn, seg_override);
	}
	if (rc == EMUL_OK && insn->src.kind == EMUL_OPND_IMM)
		rc = decode_imm(d, &insn->src);
	else if (rc == EMUL_OK && insn->dst.kind == EMUL_OPND_IMM)
		rc = decode_imm(d, &insn->dst);		/* OUT imm8, AL */
	if (rc == EMUL_OK && (desc->flags & (EMUL_F_IMM8 | EMUL_F_IMMZ)))
		rc = decode_third_imm(d, desc->flags);
	return rc;
}

static void insn_reset(struct emul_insn *insn, unsigned int mode)
{
	insn->len = 0;
	insn->mode = (uint8_t)mode;
	insn->map = 0;
	insn->modrm = 0;
	insn->rex = 0;
	insn->prefixes = 0;
	insn->has_modrm = false;
	insn->has_mem = false;
	insn->imm = 0;
	insn->handler = EMUL_H_NONE;
}

int emul_decode(struct emul_insn *insn, const uint8_t *bytes, size_t avail,
		unsigned int mode, struct emul_exception *exc)
{
	struct dec d = {
		.bytes = bytes, .avail = MIN(avail, (size_t)EMUL_MAX_INSN_LEN),
		.insn = insn, .exc = exc,
	};
	uint8_t seg = EMUL_DS, op = 0;
	int rc;

	insn_reset(insn, mode);
	rc = decode_prefixes(&d, &seg, &op);
	if (rc == EMUL_OK)
		rc = decode_opcode(&d, op);
	if (rc == EMUL_OK)
		rc = check_form(&d);
	if (rc != EMUL_OK)
		return rc;
	insn->handler = d.desc->handler;
	insn->flags = d.desc->flags;
	insn->opsize = decode_opsize(insn);
	insn->addrsize = decode_addrsize(insn);
	rc = decode_operands(&d, seg);
	if (rc == EMUL_OK)
		rc = check_lock(&d);
	if (rc == EMUL_OK)
		rc = check_sreg(&d);
	if (rc == EMUL_OK)
		rc = check_cr(&d);
	if (rc != EMUL_OK)
		return rc;
	insn->len = (uint8_t)d.pos;
	memcpy(insn->bytes, bytes, d.pos);
	return EMUL_OK;
}

bool emul_is_force_prefix(const uint8_t *bytes, size_t n)
{
	static const uint8_t marker[EMUL_FORCE_PREFIX_LEN] = EMUL_FORCE_PREFIX;

	return n >= EMUL_FORCE_PREFIX_LEN &&
	       memcmp(bytes, marker, EMUL_FORCE_PREFIX_LEN) == 0;
}
