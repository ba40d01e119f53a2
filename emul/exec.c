/* Executors: one small function per instruction family, dispatched by the
 * handler id the decoder took from the opcode tables.
 *
 * Contract of every executor: on EMUL_OK all results, RFLAGS and RIP are
 * committed; on any other result nothing is (a memory write is the last
 * fallible step, register writes follow it). A memory destination is
 * translated for writing before it is read, as a read-modify-write
 * instruction is checked by the processor. */
#include "arch/string.h"
#include "emul/internal.h"

/* ---- registers and addresses ---------------------------------------------- */

uint64_t emul_reg_get(const struct emul_ctx *ctx, const struct emul_operand *op)
{
	uint64_t v = ctx->gpr[op->reg];

	if (op->high8)
		return (v >> 8) & 0xff;
	return v & emul_size_mask(op->size);
}

void emul_gpr_set(struct emul_ctx *ctx, unsigned int reg, unsigned int size,
		  uint64_t val)
{
	uint64_t *r = &ctx->gpr[reg];

	if (size == 4)
		*r = (uint32_t)val;
	else if (size >= 8)
		*r = val;
	else
		*r = (*r & ~emul_size_mask(size)) | (val & emul_size_mask(size));
}

void emul_reg_set(struct emul_ctx *ctx, const struct emul_operand *op,
		  uint64_t val)
{
	uint64_t *r = &ctx->gpr[op->reg];

	if (op->high8)
		*r = (*r & ~0xff00ULL) | ((val & 0xff) << 8);
	else
		emul_gpr_set(ctx, op->reg, op->size, val);
}

void emul_gpr_add(struct emul_ctx *ctx, unsigned int reg, unsigned int size,
		  int64_t delta)
{
	emul_gpr_set(ctx, reg, size, ctx->gpr[reg] + (uint64_t)delta);
}

/* SDM Vol. 1 3.7.5: base + index * scale + displacement, modulo the
 * address size; RIP-relative counts from the next instruction. */
uint64_t emul_ea(const struct emul_ctx *ctx)
{
	const struct emul_insn *insn = &ctx->insn;
	const struct emul_mem *mem = &insn->mem;
	uint64_t ea = (uint64_t)mem->disp;

	if (mem->base == EMUL_MEM_RIP)
		ea += ctx->rip + insn->len;
	else if (mem->base != EMUL_MEM_NOREG)
		ea += ctx->gpr[mem->base];
	if (mem->index != EMUL_MEM_NOREG)
		ea += ctx->gpr[mem->index] * mem->scale;
	return ea & emul_size_mask(insn->addrsize);
}

void emul_jump(struct emul_ctx *ctx, uint64_t target)
{
	ctx->rip = target;
	/* RF is cleared once an instruction completes (SDM Vol. 3A 18.3.1.1). */
	ctx->rflags &= ~EMUL_RFLAGS_RF;
	ctx->retired = true;
}

void emul_advance_rip(struct emul_ctx *ctx)
{
	uint64_t rip = ctx->rip + ctx->insn.len;

	if (ctx->insn.mode != 64)
		rip &= emul_size_mask(ctx->insn.mode / 8);
	emul_jump(ctx, rip);
}

/* ---- operand access ----------------------------------------------------------- */

static uint64_t le_value(const uint8_t *buf, unsigned int size)
{
	uint64_t v = 0;

	memcpy(&v, buf, MIN(size, 8u));
	return v;
}

static int load_operand(struct emul_ctx *ctx, const struct emul_operand *op,
			uint64_t *val)
{
	uint8_t buf[8];
	int rc;

	switch (op->kind) {
	case EMUL_OPND_REG:
		*val = emul_reg_get(ctx, op);
		return EMUL_OK;
	case EMUL_OPND_IMM:
		/* Sign-extended to the operand size by the decoder. */
		*val = ctx->insn.imm;
		return EMUL_OK;
	case EMUL_OPND_MEM:
		rc = emul_mem_load(ctx, ctx->insn.mem.seg, emul_ea(ctx),
				   op->size, buf);
		*val = rc == EMUL_OK ? le_value(buf, op->size) : 0;
		return rc;
	default:
		*val = 0;
		return EMUL_OK;
	}
}

/* A destination between its read and its write-back. */
struct dst_ref {
	const struct emul_operand *op;
	struct emul_xlat x;
	uint64_t old;
};

static int dst_open_at(struct emul_ctx *ctx, struct dst_ref *d,
		       const struct emul_operand *op, uint64_t ea, bool write,
		       bool read)
{
	uint8_t buf[8];
	int rc;

	d->op = op;
	d->old = 0;
	if (op->kind == EMUL_OPND_REG) {
		d->old = emul_reg_get(ctx, op);
		return EMUL_OK;
	}
	rc = emul_mem_xlat(ctx, ctx->insn.mem.seg, ea, op->size,
			   write ? EMUL_ACC_WRITE : 0, &d->x);
	if (rc != EMUL_OK || !read)
		return rc;
	rc = emul_mem_read(ctx, &d->x, buf);
	if (rc == EMUL_OK)
		d->old = le_value(buf, op->size);
	return rc;
}

static int dst_open(struct emul_ctx *ctx, struct dst_ref *d,
		    const struct emul_operand *op, bool write, bool read)
{
	uint64_t ea = op->kind == EMUL_OPND_MEM ? emul_ea(ctx) : 0;

	return dst_open_at(ctx, d, op, ea, write, read);
}

/* XCHG with memory is locked without a prefix (SDM Vol. 2D "XCHG"). */
static bool is_locked(const struct emul_insn *insn)
{
	return (insn->prefixes & EMUL_PFX_LOCK) || insn->handler == EMUL_H_XCHG;
}

/* A lost compare-exchange means another agent wrote the location between
 * read and write-back; the instruction is run again from the start. */
static int dst_commit(struct emul_ctx *ctx, struct dst_ref *d, uint64_t val)
{
	int rc;

	if (d->op->kind == EMUL_OPND_REG) {
		emul_reg_set(ctx, d->op, val);
		return EMUL_OK;
	}
	if (is_locked(&ctx->insn))
		rc = emul_mem_cmpxchg(ctx, &d->x, &d->old, &val);
	else
		rc = emul_mem_write(ctx, &d->x, &val);
	return rc == EMUL_CMPXCHG_FAILED ? EMUL_RETRY : rc;
}

/* Finishes an instruction: new flags, next RIP. */
static int retire(struct emul_ctx *ctx, uint64_t rflags)
{
	ctx->rflags = rflags;
	emul_advance_rip(ctx);
	return EMUL_OK;
}

/* ---- ALU ----------------------------------------------------------------------- */

/* ADD OR ADC SBB AND SUB XOR CMP TEST; CMP and TEST only read dst. */
static int exec_alu(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	bool writes = insn->handler != EMUL_H_CMP && insn->handler != EMUL_H_TEST;
	uint64_t src = 0, fl = ctx->rflags, r;
	struct dst_ref d;
	int rc = load_operand(ctx, &insn->src, &src);

	if (rc == EMUL_OK)
		rc = dst_open(ctx, &d, &insn->dst, writes, true);
	if (rc != EMUL_OK)
		return rc;
	r = emul_alu(insn->handler, d.old, src, insn->dst.size, &fl);
	if (writes)
		rc = dst_commit(ctx, &d, r);
	return rc == EMUL_OK ? retire(ctx, fl) : rc;
}

/* INC DEC NOT NEG. NOT changes no flags. */
static int exec_unary(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	uint64_t fl = ctx->rflags, r;
	struct dst_ref d;
	int rc = dst_open(ctx, &d, &insn->dst, true, true);

	if (rc != EMUL_OK)
		return rc;
	if (insn->handler == EMUL_H_NOT)
		r = ~d.old & emul_size_mask(insn->dst.size);
	else
		r = emul_alu(insn->handler, d.old, 0, insn->dst.size, &fl);
	rc = dst_commit(ctx, &d, r);
	return rc == EMUL_OK ? retire(ctx, fl) : rc;
}

/* ---- moves ---------------------------------------------------------------------- */

/* MOV (all forms), MOVNTI: the destination is only written. */
static int exec_mov(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	uint64_t src = 0;
	struct dst_ref d;
	int rc = load_operand(ctx, &insn->src, &src);

	if (rc == EMUL_OK)
		rc = dst_open(ctx, &d, &insn->dst, true, false);
	if (rc == EMUL_OK)
		rc = dst_commit(ctx, &d, src);
	return rc == EMUL_OK ? retire(ctx, ctx->rflags) : rc;
}

/* MOV r/m, Sreg (SDM Vol. 2B "MOV"): memory gets the 16-bit selector; a
 * register gets it zero-extended to the operand size (with 66, only bits
 * 15:0 change), as processors since the P6 family do. */
static int exec_mov_from_sreg(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	const struct emul_seg *s;
	struct dst_ref d;
	int rc = emul_get_seg(ctx, insn->src.reg, &s);

	if (rc == EMUL_OK)
		rc = dst_open(ctx, &d, &insn->dst, true, false);
	if (rc == EMUL_OK)
		rc = dst_commit(ctx, &d, s->sel);
	return rc == EMUL_OK ? retire(ctx, ctx->rflags) : rc;
}

/* MOVZX MOVSX MOVSXD: the destination is always a register. */
static int exec_movx(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	uint64_t src = 0;
	int rc = load_operand(ctx, &insn->src, &src);

	if (rc != EMUL_OK)
		return rc;
	if (insn->handler != EMUL_H_MOVZX)
		src = emul_sext(src, insn->src.size);
	emul_reg_set(ctx, &insn->dst, src);
	return retire(ctx, ctx->rflags);
}

/* CMOVcc: a memory source is read whatever the condition; a 32-bit
 * destination is zero-extended even when the condition is false (SDM
 * Vol. 2A "CMOVcc"). */
static int exec_cmov(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	uint64_t src = 0;
	int rc = load_operand(ctx, &insn->src, &src);

	if (rc != EMUL_OK)
		return rc;
	if (emul_cond(insn->opcode & 0xf, ctx->rflags))
		emul_reg_set(ctx, &insn->dst, src);
	else if (insn->dst.size == 4)
		emul_reg_set(ctx, &insn->dst, emul_reg_get(ctx, &insn->dst));
	return retire(ctx, ctx->rflags);
}

static int exec_setcc(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	struct dst_ref d;
	int rc = dst_open(ctx, &d, &insn->dst, true, false);

	if (rc == EMUL_OK)
		rc = dst_commit(ctx, &d, emul_cond(insn->opcode & 0xf,
						   ctx->rflags));
	return rc == EMUL_OK ? retire(ctx, ctx->rflags) : rc;
}

/* ---- exchanges ------------------------------------------------------------------- */

/* XCHG E, G: the register is written after the memory write-back. */
static int exec_xchg(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	uint64_t g = emul_reg_get(ctx, &insn->src);
	struct dst_ref d;
	int rc = dst_open(ctx, &d, &insn->dst, true, true);

	if (rc == EMUL_OK)
		rc = dst_commit(ctx, &d, g);
	if (rc != EMUL_OK)
		return rc;
	emul_reg_set(ctx, &insn->src, d.old);
	if (insn->dst.kind == EMUL_OPND_REG)
		emul_reg_set(ctx, &insn->dst, g);
	return retire(ctx, ctx->rflags);
}

/* XADD: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP (SDM Vol. 2D "XADD"),
 * so with one register for both the sum wins. */
static int exec_xadd(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	uint64_t g = emul_reg_get(ctx, &insn->src), fl = ctx->rflags, sum;
	struct dst_ref d;
	int rc = dst_open(ctx, &d, &insn->dst, true, true);

	if (rc != EMUL_OK)
		return rc;
	sum = emul_alu(EMUL_H_ADD, d.old, g, insn->dst.size, &fl);
	if (insn->dst.kind == EMUL_OPND_MEM) {
		rc = dst_commit(ctx, &d, sum);
		if (rc != EMUL_OK)
			return rc;
	}
	emul_reg_set(ctx, &insn->src, d.old);
	if (insn->dst.kind == EMUL_OPND_REG)
		emul_reg_set(ctx, &insn->dst, sum);
	return retire(ctx, fl);
}

/* CMPXCHG: flags of CMP accumulator, DEST. On a mismatch the accumulator
 * is loaded from DEST and a memory DEST is written back unchanged (SDM
 * Vol. 2A "CMPXCHG"); a register DEST is then left alone, so a 32-bit one
 * keeps its upper half, as the reference processor does. */
static int exec_cmpxchg(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int size = insn->dst.size;
	struct emul_operand acc = { EMUL_OPND_REG, (uint8_t)size, EMUL_RAX, false };
	uint64_t a = emul_reg_get(ctx, &acc), fl = ctx->rflags;
	struct dst_ref d;
	bool equal;
	int rc = dst_open(ctx, &d, &insn->dst, true, true);

	if (rc != EMUL_OK)
		return rc;
	emul_alu(EMUL_H_CMP, a, d.old, size, &fl);
	equal = fl & EMUL_RFLAGS_ZF;
	if (equal || insn->dst.kind == EMUL_OPND_MEM)
		rc = dst_commit(ctx, &d, equal ? emul_reg_get(ctx, &insn->src)
					       : d.old);
	if (rc != EMUL_OK)
		return rc;
	if (!equal)
		emul_reg_set(ctx, &acc, d.old);
	return retire(ctx, fl);
}

/* CMPXCHG8B / CMPXCHG16B: EDX:EAX (RDX:RAX) against memory; only ZF
 * changes. CMPXCHG16B needs a 16-byte aligned operand (#GP(0)). */
static int cmpxchg_wide_commit(struct emul_ctx *ctx, const struct emul_xlat *x,
			       const uint64_t *old, bool equal)
{
	unsigned int half = x->len / 2;
	uint64_t m = emul_size_mask(half), nv[2];

	nv[0] = equal ? ctx->gpr[EMUL_RBX] & m : old[0];
	nv[1] = equal ? ctx->gpr[EMUL_RCX] & m : old[1];
	if (half == 4)
		nv[0] |= nv[1] << 32;
	if (ctx->insn.prefixes & EMUL_PFX_LOCK)
		return emul_mem_cmpxchg(ctx, x, old, nv);
	return emul_mem_write(ctx, x, nv);
}

/* CMPXCHG16B exists only in 64-bit mode, where only FS and GS add a base
 * to the effective address; the alignment #GP comes before any #PF. */
static int check_16b_alignment(struct emul_ctx *ctx, uint64_t ea)
{
	const struct emul_seg *s;
	unsigned int seg = ctx->insn.mem.seg;
	int rc;

	if (seg == EMUL_FS || seg == EMUL_GS) {
		rc = emul_get_seg(ctx, seg, &s);
		if (rc != EMUL_OK)
			return rc;
		ea += s->base;
	}
	return IS_ALIGNED(ea, 16) ? EMUL_OK : emul_gp0(ctx);
}

static int exec_cmpxchg_wide(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int size = insn->dst.size, half = size / 2;
	uint64_t ea = emul_ea(ctx), raw[2] = { 0, 0 }, cur[2], m;
	struct emul_xlat x;
	bool equal;
	int rc = size == 16 ? check_16b_alignment(ctx, ea) : EMUL_OK;

	if (rc == EMUL_OK)
		rc = emul_mem_xlat(ctx, insn->mem.seg, ea, size, EMUL_ACC_WRITE,
				   &x);
	if (rc == EMUL_OK)
		rc = emul_mem_read(ctx, &x, raw);
	if (rc != EMUL_OK)
		return rc;
	m = emul_size_mask(half);
	cur[0] = half == 4 ? raw[0] & m : raw[0];
	cur[1] = half == 4 ? raw[0] >> 32 : raw[1];
	equal = cur[0] == (ctx->gpr[EMUL_RAX] & m) &&
		cur[1] == (ctx->gpr[EMUL_RDX] & m);
	rc = cmpxchg_wide_commit(ctx, &x, raw, equal);
	if (rc != EMUL_OK)
		return rc == EMUL_CMPXCHG_FAILED ? EMUL_RETRY : rc;
	if (!equal) {
		emul_gpr_set(ctx, EMUL_RAX, half, cur[0]);
		emul_gpr_set(ctx, EMUL_RDX, half, cur[1]);
	}
	return retire(ctx, equal ? ctx->rflags | EMUL_RFLAGS_ZF
				 : ctx->rflags & ~EMUL_RFLAGS_ZF);
}

/* ---- bit tests -------------------------------------------------------------------- */

/* BT/BTS/BTR/BTC. A register bit offset is signed and, with a memory
 * operand, selects the operand-size unit at EA + size * floor(off / bits)
 * (SDM Vol. 2A "BT", Figure 3-2); an immediate offset is taken modulo the
 * operand width. Only CF changes; the other arithmetic flags are undefined
 * and left unchanged, as the reference processor does. */
static uint64_t bt_target(struct emul_ctx *ctx, unsigned int *bit)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int size = insn->dst.size, bits = size * 8;
	int64_t off;

	if (insn->src.kind == EMUL_OPND_IMM) {
		*bit = (unsigned int)(insn->imm & (bits - 1));
		return 0;
	}
	off = (int64_t)emul_sext(emul_reg_get(ctx, &insn->src), size);
	*bit = (unsigned int)(off & (bits - 1));
	if (insn->dst.kind != EMUL_OPND_MEM)
		return 0;
	/* floor(off / bits) * size, with an arithmetic shift for negatives. */
	return (uint64_t)((off >> __builtin_ctz(bits)) * (int64_t)size);
}

static int exec_bt(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	bool writes = insn->handler != EMUL_H_BT;
	unsigned int bit = 0;
	uint64_t delta = bt_target(ctx, &bit), r, mask = BIT_ULL(bit);
	uint64_t ea = 0, fl = ctx->rflags;
	struct dst_ref d;
	int rc;

	if (insn->dst.kind == EMUL_OPND_MEM)
		ea = (emul_ea(ctx) + delta) & emul_size_mask(insn->addrsize);
	rc = dst_open_at(ctx, &d, &insn->dst, ea, writes, true);
	if (rc != EMUL_OK)
		return rc;
	fl = (d.old & mask) ? fl | EMUL_RFLAGS_CF : fl & ~EMUL_RFLAGS_CF;
	switch (insn->handler) {
	case EMUL_H_BTS: r = d.old | mask; break;
	case EMUL_H_BTR: r = d.old & ~mask; break;
	case EMUL_H_BTC: r = d.old ^ mask; break;
	default:         r = d.old; break;
	}
	if (writes)
		rc = dst_commit(ctx, &d, r);
	return rc == EMUL_OK ? retire(ctx, fl) : rc;
}

/* ---- stack ------------------------------------------------------------------------- */

/* Stack-pointer width: 64 in 64-bit mode, else SS.B (SDM Vol. 1 6.2.3). */
int emul_stack_width(struct emul_ctx *ctx, unsigned int *size)
{
	const struct emul_seg *ss;
	int rc;

	*size = 8;
	if (ctx->insn.mode == 64)
		return EMUL_OK;
	rc = emul_get_seg(ctx, EMUL_SS, &ss);
	if (rc == EMUL_OK)
		*size = (ss->ar & EMUL_AR_DB) ? 4 : 2;
	return rc;
}

uint64_t emul_stack_add(uint64_t rsp, unsigned int width, int64_t delta)
{
	uint64_t m = emul_size_mask(width);

	return (rsp & ~m) | ((rsp + (uint64_t)delta) & m);
}

/* Pushes size bytes of val onto SS:rSP at the stack width. */
static int stack_push(struct emul_ctx *ctx, uint64_t val, unsigned int size)
{
	unsigned int width = 8;
	struct emul_xlat x;
	uint64_t rsp;
	int rc = emul_stack_width(ctx, &width);

	if (rc != EMUL_OK)
		return rc;
	rsp = emul_stack_add(ctx->gpr[EMUL_RSP], width, -(int64_t)size);
	rc = emul_mem_xlat(ctx, EMUL_SS, rsp & emul_size_mask(width), size,
			   EMUL_ACC_WRITE, &x);
	if (rc == EMUL_OK)
		rc = emul_mem_write(ctx, &x, &val);
	if (rc == EMUL_OK)
		ctx->gpr[EMUL_RSP] = rsp;
	return rc;
}

/* PUSH r / PUSH r/m / PUSH imm: the source (and an RSP-based address) is
 * taken before RSP is decremented; an immediate is sign-extended to the
 * operand size. */
static int exec_push(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	uint64_t val = 0;
	int rc = load_operand(ctx, &insn->src, &val);

	if (rc == EMUL_OK)
		rc = stack_push(ctx, val, insn->opsize);
	return rc == EMUL_OK ? retire(ctx, ctx->rflags) : rc;
}

/* POP r / POP r/m: an RSP-based destination address uses the incremented
 * RSP; POP rSP loads the popped value (SDM Vol. 2B "POP"). */
static int exec_pop(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int size = insn->opsize, width = 8;
	uint64_t val = 0, old_rsp = ctx->gpr[EMUL_RSP];
	uint8_t buf[8];
	struct dst_ref d;
	int rc = emul_stack_width(ctx, &width);

	if (rc == EMUL_OK)
		rc = emul_mem_load(ctx, EMUL_SS, old_rsp & emul_size_mask(width),
				   size, buf);
	if (rc != EMUL_OK)
		return rc;
	val = le_value(buf, size);
	ctx->gpr[EMUL_RSP] = emul_stack_add(old_rsp, width, size);
	rc = dst_open(ctx, &d, &insn->dst, true, false);
	if (rc == EMUL_OK)
		rc = dst_commit(ctx, &d, val);
	if (rc != EMUL_OK) {
		ctx->gpr[EMUL_RSP] = old_rsp;
		return rc;
	}
	return retire(ctx, ctx->rflags);
}

/* A pop at the operand size from SS:rSP, RSP not yet moved. */
static int stack_peek(struct emul_ctx *ctx, uint64_t rsp, unsigned int width,
		      unsigned int size, uint64_t *val)
{
	uint8_t buf[8];
	int rc = emul_mem_load(ctx, EMUL_SS, rsp & emul_size_mask(width), size,
			       buf);

	*val = rc == EMUL_OK ? le_value(buf, size) : 0;
	return rc;
}

/* ---- PUSHF, POPF ---------------------------------------------------------------- */

#define RFLAGS_NT	BIT_ULL(14)
#define RFLAGS_ID	BIT_ULL(21)
/* What POPF may load at CPL 0: every flag but the reserved ones, RF
 * (cleared as the instruction completes), VM, VIF and VIP. */
#define POPF_WRITABLE	(EMUL_RFLAGS_ARITH | EMUL_RFLAGS_TF | EMUL_RFLAGS_IF | \
			 EMUL_RFLAGS_DF | EMUL_RFLAGS_IOPL | RFLAGS_NT | \
			 EMUL_RFLAGS_AC | RFLAGS_ID)
/* The image PUSHF stores: VM and RF read as 0 (SDM Vol. 2B "PUSHF"). */
#define PUSHF_HIDDEN	(EMUL_RFLAGS_VM | EMUL_RFLAGS_RF)

static unsigned int rflags_iopl(const struct emul_ctx *ctx)
{
	return (unsigned int)((ctx->rflags & EMUL_RFLAGS_IOPL) >>
			      EMUL_RFLAGS_IOPL_SHIFT);
}

/* In virtual-8086 mode PUSHF and POPF are IOPL-sensitive: below IOPL 3
 * they are #GP(0), or with CR4.VME work on VIF, which Keel does not
 * model (SDM Vol. 3A 20.2.7, 20.3). */
static int flags_v86_check(struct emul_ctx *ctx)
{
	if (!(ctx->rflags & EMUL_RFLAGS_VM) || rflags_iopl(ctx) == 3)
		return EMUL_OK;
	if (ctx->cr4 & EMUL_CR4_VME) {
		emul_fault(ctx, EMUL_VEC_UD, false, 0);
		return EMUL_UNSUPPORTED;
	}
	return emul_gp0(ctx);
}

/* PUSHF/PUSHFD/PUSHFQ: the flags at the operand size, VM and RF clear. */
static int exec_pushf(struct emul_ctx *ctx)
{
	int rc = flags_v86_check(ctx);

	if (rc == EMUL_OK)
		rc = stack_push(ctx, ctx->rflags & ~PUSHF_HIDDEN, ctx->insn.opsize);
	return rc == EMUL_OK ? retire(ctx, ctx->rflags) : rc;
}

/* The flags POPF may change (SDM Vol. 2B "POPF", Table 4-21): at CPL 0,
 * real mode included, all of POPF_WRITABLE; above CPL 0 (and in
 * virtual-8086 mode) not IOPL, and IF only where CPL <= IOPL; a 16-bit
 * operand only bits 15:0. */
static uint64_t popf_writable(const struct emul_ctx *ctx, unsigned int size)
{
	uint64_t w = POPF_WRITABLE & emul_size_mask(size);
	unsigned int cpl = (ctx->rflags & EMUL_RFLAGS_VM) ? 3 : ctx->cpl;

	if (cpl)
		w &= ~EMUL_RFLAGS_IOPL;
	if (cpl > rflags_iopl(ctx))
		w &= ~EMUL_RFLAGS_IF;
	return w;
}

static int exec_popf(struct emul_ctx *ctx)
{
	unsigned int size = ctx->insn.opsize, width = 8;
	uint64_t val = 0, w, rsp = ctx->gpr[EMUL_RSP];
	int rc = flags_v86_check(ctx);

	if (rc == EMUL_OK)
		rc = emul_stack_width(ctx, &width);
	if (rc == EMUL_OK)
		rc = stack_peek(ctx, rsp, width, size, &val);
	if (rc != EMUL_OK)
		return rc;
	w = popf_writable(ctx, size);
	ctx->gpr[EMUL_RSP] = emul_stack_add(rsp, width, size);
	return retire(ctx, (ctx->rflags & ~w) | (val & w));
}

/* A near branch target: canonical in 64-bit mode, else within CS's limit
 * (#GP(0), SDM Vol. 2B "RET"). */
int emul_check_near_target(struct emul_ctx *ctx, uint64_t target)
{
	const struct emul_seg *cs;
	int rc;

	if (ctx->insn.mode == 64)
		return emul_is_canonical(ctx, target) ? EMUL_OK : emul_gp0(ctx);
	rc = emul_get_seg(ctx, EMUL_CS, &cs);
	if (rc == EMUL_OK && target > cs->limit)
		rc = emul_gp0(ctx);
	return rc;
}

/* RET near, and RET imm16 which releases imm16 more bytes: RIP from the
 * stack at the operand size (64 by default in 64-bit mode). */
static int exec_ret(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int size = insn->opsize, width = 8;
	uint64_t target = 0, rsp = ctx->gpr[EMUL_RSP];
	uint16_t release = insn->src.kind == EMUL_OPND_IMM ? (uint16_t)insn->imm : 0;
	int rc = emul_stack_width(ctx, &width);

	if (rc == EMUL_OK)
		rc = stack_peek(ctx, rsp, width, size, &target);
	if (rc == EMUL_OK)
		rc = emul_check_near_target(ctx, target);
	if (rc != EMUL_OK)
		return rc;
	ctx->gpr[EMUL_RSP] = emul_stack_add(rsp, width, (int64_t)size + release);
	emul_jump(ctx, target);
	return EMUL_OK;
}

/* The next instruction's address, which a near CALL pushes: EIP wraps
 * at the operand size outside 64-bit mode. */
static uint64_t next_ip(const struct emul_ctx *ctx)
{
	return (ctx->rip + ctx->insn.len) & emul_size_mask(ctx->insn.opsize);
}

/* The target of a near branch: the operand (r/m), or the next
 * instruction's address plus the relative immediate, at the operand
 * size. */
static int near_target(struct emul_ctx *ctx, uint64_t *target)
{
	const struct emul_insn *insn = &ctx->insn;

	if (insn->src.kind != EMUL_OPND_IMM)
		return load_operand(ctx, &insn->src, target);
	*target = (ctx->rip + insn->len + insn->imm) &
		  emul_size_mask(insn->opsize);
	return EMUL_OK;
}

/* JMP and CALL near, through r/m or relative, and Jcc (SDM Vol. 2B
 * "JMP", Vol. 2A "CALL", "Jcc"): the target, at the operand size, is
 * checked before anything is pushed; a Jcc not taken only moves on. */
static int exec_near_branch(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int size = insn->opsize, width = 8;
	uint64_t target = 0, rsp = ctx->gpr[EMUL_RSP], ret = next_ip(ctx);
	struct emul_xlat x;
	int rc;

	if (insn->handler == EMUL_H_JCC &&
	    !emul_cond(insn->opcode & 0xf, ctx->rflags))
		return retire(ctx, ctx->rflags);
	rc = near_target(ctx, &target);
	if (rc == EMUL_OK)
		rc = emul_check_near_target(ctx, target);
	if (rc != EMUL_OK || insn->handler != EMUL_H_CALL)
		goto done;
	rc = emul_stack_width(ctx, &width);
	rsp = emul_stack_add(rsp, width, -(int64_t)size);
	if (rc == EMUL_OK)
		rc = emul_mem_xlat(ctx, EMUL_SS, rsp & emul_size_mask(width),
				   size, EMUL_ACC_WRITE, &x);
	if (rc == EMUL_OK)
		rc = emul_mem_write(ctx, &x, &ret);
done:
	if (rc != EMUL_OK)
		return rc;
	ctx->gpr[EMUL_RSP] = rsp;
	emul_jump(ctx, target);
	return EMUL_OK;
}

/* LEAVE (SDM Vol. 2A): rSP = rBP at the stack width, then rBP is popped
 * at the operand size. */
static int exec_leave(struct emul_ctx *ctx)
{
	unsigned int size = ctx->insn.opsize, width = 8;
	uint64_t rsp = ctx->gpr[EMUL_RSP], val = 0;
	int rc = emul_stack_width(ctx, &width);

	if (rc != EMUL_OK)
		return rc;
	rsp = (rsp & ~emul_size_mask(width)) |
	      (ctx->gpr[EMUL_RBP] & emul_size_mask(width));
	rc = stack_peek(ctx, rsp, width, size, &val);
	if (rc != EMUL_OK)
		return rc;
	ctx->gpr[EMUL_RSP] = emul_stack_add(rsp, width, size);
	emul_gpr_set(ctx, EMUL_RBP, size, val);
	return retire(ctx, ctx->rflags);
}

/*
 * ENTER Iw, 0 (SDM Vol. 2A "ENTER"): push rBP, rBP = the new rSP, rSP
 * lowered by Iw more; a write at the final rSP must be possible, or the
 * page fault it would raise is raised ("#PF ... if a write using the
 * final value of the stack pointer would cause a page fault"). Nesting
 * levels above 0 (frame pointers copied from the old frame) are not
 * Keel's.
 */
static int exec_enter(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int size = insn->opsize, width = 8;
	uint64_t rbp = ctx->gpr[EMUL_RBP], frame, rsp;
	struct emul_xlat x, probe;
	int rc;

	if (insn->bytes[insn->len - 1] & 0x1f) {
		emul_fault(ctx, EMUL_VEC_UD, false, 0);
		return EMUL_UNSUPPORTED;
	}
	rc = emul_stack_width(ctx, &width);
	if (rc != EMUL_OK)
		return rc;
	frame = emul_stack_add(ctx->gpr[EMUL_RSP], width, -(int64_t)size);
	rsp = emul_stack_add(frame, width, -(int64_t)(uint16_t)insn->imm);
	rc = emul_mem_xlat(ctx, EMUL_SS, frame & emul_size_mask(width), size,
			   EMUL_ACC_WRITE, &x);
	if (rc == EMUL_OK)
		rc = emul_mem_xlat(ctx, EMUL_SS, rsp & emul_size_mask(width), 1,
				   EMUL_ACC_WRITE, &probe);
	if (rc == EMUL_OK)
		rc = emul_mem_write(ctx, &x, &rbp);
	if (rc != EMUL_OK)
		return rc;
	emul_gpr_set(ctx, EMUL_RBP, size, frame);
	ctx->gpr[EMUL_RSP] = rsp;
	return retire(ctx, ctx->rflags);
}

/* ---- machine status word --------------------------------------------------------------- */

#define CR0_MSW_LOAD	0xfULL		/* PE, MP, EM, TS */

/* SMSW (SDM Vol. 2B "SMSW"): CR0[15:0] to a 16-bit memory operand; a
 * register gets CR0 at the operand size (zero-extended from 32 bits).
 * With CR4.UMIP, #GP(0) at CPL > 0 (SDM Vol. 3A 2.5). */
static int exec_smsw(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	struct dst_ref d;
	int rc;

	if (ctx->cpl && (ctx->cr4 & EMUL_CR4_UMIP))
		return emul_gp0(ctx);
	rc = dst_open(ctx, &d, &insn->dst, true, false);
	if (rc == EMUL_OK)
		rc = dst_commit(ctx, &d, ctx->cr0 & emul_size_mask(insn->dst.size));
	return rc == EMUL_OK ? retire(ctx, ctx->rflags) : rc;
}

/* LMSW (SDM Vol. 2B "LMSW"): CPL 0 only, else #GP(0); loads CR0.PE, MP,
 * EM and TS from the low bits of a 16-bit source, and can set PE but not
 * clear it. The VMM applies the new CR0 as a MOV to CR0 would. */
static int exec_lmsw(struct emul_ctx *ctx)
{
	uint64_t src = 0, cr0;
	int rc;

	if (ctx->cpl)
		return emul_gp0(ctx);
	rc = load_operand(ctx, &ctx->insn.src, &src);
	if (rc != EMUL_OK)
		return rc;
	if (!ctx->ops->write_cr0)
		return EMUL_UNHANDLEABLE;
	cr0 = (ctx->cr0 & ~CR0_MSW_LOAD) | (src & CR0_MSW_LOAD) |
	      (ctx->cr0 & EMUL_CR0_PE);
	rc = ctx->ops->write_cr0(ctx, cr0);
	if (rc != EMUL_OK)
		return rc;
	ctx->cr0 = cr0;
	return retire(ctx, ctx->rflags);
}

/* ---- multiply, bit scan, double shifts (flags: emul/alu.c) ----------------------------- */

/* IMUL Gv, Ev / Gv, Ev, Ib / Gv, Ev, Iz: the destination is a register. */
static int exec_imul(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	bool three = insn->flags & (EMUL_F_IMM8 | EMUL_F_IMMZ);
	uint64_t src = 0, fl = ctx->rflags, r;
	int rc = load_operand(ctx, &insn->src, &src);

	if (rc != EMUL_OK)
		return rc;
	r = emul_imul(three ? insn->imm : emul_reg_get(ctx, &insn->dst), src,
		      insn->dst.size, &fl);
	emul_reg_set(ctx, &insn->dst, r);
	return retire(ctx, fl);
}

/* BSF BSR: a zero source leaves the destination register as it is. */
static int exec_bitscan(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	uint64_t src = 0, fl = ctx->rflags, r;
	bool found;
	int rc = load_operand(ctx, &insn->src, &src);

	if (rc != EMUL_OK)
		return rc;
	r = emul_bitscan(insn->handler == EMUL_H_BSR, src, insn->src.size, &fl,
			 &found);
	if (found)
		emul_reg_set(ctx, &insn->dst, r);
	return retire(ctx, fl);
}

/* The shifts' result, by a count already masked, not zero. */
static uint64_t shift_result(struct emul_ctx *ctx, uint64_t dst,
			     unsigned int count, uint64_t *fl)
{
	const struct emul_insn *insn = &ctx->insn;

	if (insn->handler == EMUL_H_SHLD || insn->handler == EMUL_H_SHRD)
		return emul_shxd(insn->handler == EMUL_H_SHRD, dst,
				 emul_reg_get(ctx, &insn->src), count,
				 insn->dst.size, fl);
	return emul_shift(insn->handler, dst, count, insn->dst.size, fl);
}

/* SHLD SHRD Ev, Gv, Ib / CL and SHL SHR SAR Eb/Ev: a zero count writes
 * no memory, but a 32-bit register destination is still written, so
 * zero-extended, as the processor does. */
static int exec_shift_by(struct emul_ctx *ctx, unsigned int count)
{
	struct emul_insn *insn = &ctx->insn;
	uint64_t fl = ctx->rflags, r;
	struct dst_ref d;
	int rc;

	count &= insn->dst.size == 8 ? 63 : 31;
	rc = dst_open(ctx, &d, &insn->dst, count != 0, true);
	if (rc != EMUL_OK)
		return rc;
	if (!count) {
		if (insn->dst.kind == EMUL_OPND_REG)
			emul_reg_set(ctx, &insn->dst, d.old);
		return retire(ctx, fl);
	}
	r = shift_result(ctx, d.old, count, &fl);
	rc = dst_commit(ctx, &d, r);
	return rc == EMUL_OK ? retire(ctx, fl) : rc;
}

static int exec_shxd(struct emul_ctx *ctx)
{
	return exec_shift_by(ctx, (ctx->insn.flags & EMUL_F_IMM8)
				  ? (unsigned int)ctx->insn.imm
				  : (unsigned int)ctx->gpr[EMUL_RCX]);
}

/* SHL SHR SAR by Ib (C0, C1), 1 (D0, D1) or CL (D2, D3). */
static int exec_shift(struct emul_ctx *ctx)
{
	const struct emul_insn *insn = &ctx->insn;

	if (insn->src.kind == EMUL_OPND_IMM)
		return exec_shift_by(ctx, (unsigned int)insn->imm);
	return exec_shift_by(ctx, insn->opcode <= 0xd1 ? 1 :
				  (unsigned int)ctx->gpr[EMUL_RCX]);
}

/* MUL IMUL DIV IDIV r/m: AX, or rDX:rAX (SDM Vol. 2A); #DE for a zero
 * divisor or a quotient too wide. */
static int exec_muldiv(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int size = insn->src.size;
	uint64_t src = 0, fl = ctx->rflags;
	uint64_t ax = ctx->gpr[EMUL_RAX], dx = ctx->gpr[EMUL_RDX];
	int rc = load_operand(ctx, &insn->src, &src);

	if (rc != EMUL_OK)
		return rc;
	if (!emul_muldiv(insn->handler, &ax, &dx, src, size, &fl))
		return emul_fault(ctx, EMUL_VEC_DE, false, 0);
	emul_gpr_set(ctx, EMUL_RAX, size == 1 ? 2 : size, ax);
	if (size > 1)
		emul_gpr_set(ctx, EMUL_RDX, size, dx);
	return retire(ctx, fl);
}

/* ---- dispatch ------------------------------------------------------------------------ */

typedef int (*emul_exec_fn)(struct emul_ctx *ctx);

static const emul_exec_fn exec_table[EMUL_H_NR] = {
	[EMUL_H_ADD] = exec_alu, [EMUL_H_OR] = exec_alu,
	[EMUL_H_ADC] = exec_alu, [EMUL_H_SBB] = exec_alu,
	[EMUL_H_AND] = exec_alu, [EMUL_H_SUB] = exec_alu,
	[EMUL_H_XOR] = exec_alu, [EMUL_H_CMP] = exec_alu,
	[EMUL_H_TEST] = exec_alu,
	[EMUL_H_INC] = exec_unary, [EMUL_H_DEC] = exec_unary,
	[EMUL_H_NOT] = exec_unary, [EMUL_H_NEG] = exec_unary,
	[EMUL_H_MOV] = exec_mov, [EMUL_H_MOVNTI] = exec_mov,
	[EMUL_H_MOVZX] = exec_movx, [EMUL_H_MOVSX] = exec_movx,
	[EMUL_H_MOVSXD] = exec_movx,
	[EMUL_H_XCHG] = exec_xchg, [EMUL_H_XADD] = exec_xadd,
	[EMUL_H_CMPXCHG] = exec_cmpxchg,
	[EMUL_H_CMPXCHG8B] = exec_cmpxchg_wide,
	[EMUL_H_BT] = exec_bt, [EMUL_H_BTS] = exec_bt,
	[EMUL_H_BTR] = exec_bt, [EMUL_H_BTC] = exec_bt,
	[EMUL_H_SETCC] = exec_setcc, [EMUL_H_CMOVCC] = exec_cmov,
	[EMUL_H_PUSH] = exec_push, [EMUL_H_POP] = exec_pop,
	[EMUL_H_MOVS] = emul_exec_string, [EMUL_H_CMPS] = emul_exec_string,
	[EMUL_H_STOS] = emul_exec_string, [EMUL_H_LODS] = emul_exec_string,
	[EMUL_H_SCAS] = emul_exec_string, [EMUL_H_INS] = emul_exec_string,
	[EMUL_H_OUTS] = emul_exec_string,
	[EMUL_H_SMSW] = exec_smsw, [EMUL_H_LMSW] = exec_lmsw,
	[EMUL_H_IMUL] = exec_imul,
	[EMUL_H_BSF] = exec_bitscan, [EMUL_H_BSR] = exec_bitscan,
	[EMUL_H_SHLD] = exec_shxd, [EMUL_H_SHRD] = exec_shxd,
	[EMUL_H_MOVXMM] = emul_exec_movxmm,
	[EMUL_H_MUL] = exec_muldiv, [EMUL_H_IMUL1] = exec_muldiv,
	[EMUL_H_DIV] = exec_muldiv, [EMUL_H_IDIV] = exec_muldiv,
	[EMUL_H_LTR] = emul_exec_ltr,
	[EMUL_H_RET] = exec_ret, [EMUL_H_LEAVE] = exec_leave,
	[EMUL_H_ENTER] = exec_enter,
	[EMUL_H_MOV_FROM_SREG] = exec_mov_from_sreg,
	[EMUL_H_MOV_TO_SREG] = emul_exec_mov_to_sreg,
	[EMUL_H_JMP] = exec_near_branch, [EMUL_H_CALL] = exec_near_branch,
	[EMUL_H_JCC] = exec_near_branch,
	[EMUL_H_JMP_FAR] = emul_exec_far_branch,
	[EMUL_H_CALL_FAR] = emul_exec_far_branch,
	[EMUL_H_MOVMMX] = emul_exec_movmmx,
	[EMUL_H_MOV_FROM_CR] = emul_exec_mov_from_cr,
	[EMUL_H_MOV_TO_CR] = emul_exec_mov_to_cr,
	[EMUL_H_LGDT] = emul_exec_lgdt, [EMUL_H_LIDT] = emul_exec_lgdt,
	[EMUL_H_CLI] = emul_exec_cli,
	[EMUL_H_IN] = emul_exec_in_out, [EMUL_H_OUT] = emul_exec_in_out,
	[EMUL_H_SHL] = exec_shift, [EMUL_H_SHR] = exec_shift,
	[EMUL_H_SAR] = exec_shift,
	[EMUL_H_PUSHF] = exec_pushf, [EMUL_H_POPF] = exec_popf,
	[EMUL_H_CPUID] = emul_exec_cpuid, [EMUL_H_RDMSR] = emul_exec_msr,
	[EMUL_H_WRMSR] = emul_exec_msr, [EMUL_H_WBINVD] = emul_exec_wbinvd,
};

int emul_execute(struct emul_ctx *ctx)
{
	unsigned int h = ctx->insn.handler;

	ctx->blocking = 0;
	ctx->retired = false;
	if (h >= EMUL_H_NR || !exec_table[h]) {
		emul_fault(ctx, EMUL_VEC_UD, false, 0);
		return EMUL_UNSUPPORTED;
	}
	return exec_table[h](ctx);
}

/* Default operand size (SDM Vol. 3A 3.4.5, D and L flags; Vol. 1 3.6.1):
 * CS.L in IA-32e mode, else CS.D; virtual-8086 mode is 16-bit. */
static int mode_of(struct emul_ctx *ctx, unsigned int *mode)
{
	const struct emul_seg *cs;
	int rc;

	*mode = 16;
	if (ctx->rflags & EMUL_RFLAGS_VM)
		return EMUL_OK;
	rc = emul_get_seg(ctx, EMUL_CS, &cs);
	if (rc != EMUL_OK)
		return rc;
	if ((ctx->efer & EMUL_EFER_LMA) && (ctx->cr0 & EMUL_CR0_PE) &&
	    (cs->ar & EMUL_AR_L))
		*mode = 64;
	else if (cs->ar & EMUL_AR_DB)
		*mode = 32;
	return EMUL_OK;
}

unsigned int emul_mode_bits(struct emul_ctx *ctx)
{
	unsigned int mode = 0;

	return mode_of(ctx, &mode) == EMUL_OK ? mode : 0;
}

int emul_step(struct emul_ctx *ctx)
{
	unsigned int mode = 16;
	int rc;

	ctx->blocking = 0;
	ctx->retired = false;
	rc = mode_of(ctx, &mode);
	if (rc != EMUL_OK)
		return rc;
	ctx->insn.mode = (uint8_t)mode;
	rc = emul_fetch_decode(ctx);
	if (rc != EMUL_OK)
		return rc;
	return emul_execute(ctx);
}
