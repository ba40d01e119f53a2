/*
 * Far JMP and far CALL through memory (FF /5, FF /3; SDM Vol. 2B "JMP",
 * Vol. 2A "CALL"): a far pointer m16:16, m16:32 or (REX.W) m16:64, the
 * offset first, the selector after it; or the same pointer, ptr16:16 or
 * ptr16:32, in the instruction (EA, 9A; not in 64-bit mode).
 *
 *   real / virtual-8086 mode  CS = selector, base selector << 4
 *   protected / IA-32e mode   a code segment descriptor, checked as the
 *                             pseudo-code's CONFORMING- and
 *                             NONCONFORMING-CODE-SEGMENT do; call gates,
 *                             task gates and TSSs (a task switch) are not
 *                             Keel's: EMUL_UNSUPPORTED
 *
 * A far CALL pushes CS, "padded" to the operand size (written as zeros
 * here), and then the return address, at the operand size, on the
 * current stack. m16:64 is Intel's (AMD processors ignore REX.W here);
 * Keel runs on VT-x, so it is modelled.
 */
#include "arch/string.h"
#include "emul/internal.h"

#define DESC_TYPE_SHIFT	40
#define DESC_TYPE_C	BIT_ULL(42)	/* conforming code */
#define DESC_CODE	BIT_ULL(43)
#define DESC_S		BIT_ULL(44)
#define DESC_DPL_SHIFT	45
#define DESC_P		BIT_ULL(47)
#define DESC_L		BIT_ULL(53)
#define DESC_DB		BIT_ULL(54)

/* System descriptor types a far branch may name (SDM Vol. 3A Table 3-2). */
#define SYS_TSS16	0x1
#define SYS_CALLGATE16	0x4
#define SYS_TASKGATE	0x5
#define SYS_TSS32	0x9
#define SYS_CALLGATE	0xc		/* 32-bit; 64-bit in IA-32e mode */

struct far_target {
	uint16_t sel;
	uint64_t off;
	struct emul_seg cs;
	uint64_t desc[2];	/* protected mode: the descriptor ... */
	uint64_t desc_la;	/* ... and where it is, or ~0 */
};

static bool is_long_mode(const struct emul_ctx *ctx)
{
	return ctx->efer & EMUL_EFER_LMA;
}

/* A gate or TSS: a task switch or a privilege change through a gate,
 * which Keel does not emulate; any other system type is #GP(selector). */
static int system_target(struct emul_ctx *ctx, uint16_t sel,
			 const uint64_t desc[2])
{
	unsigned int type = (unsigned int)(desc[0] >> DESC_TYPE_SHIFT) & 0xf;
	bool known = type == SYS_CALLGATE ||
		     (!is_long_mode(ctx) && (type == SYS_TSS16 || type == SYS_TSS32 ||
					     type == SYS_CALLGATE16 ||
					     type == SYS_TASKGATE));

	if (!known)
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	emul_fault(ctx, EMUL_VEC_UD, false, 0);
	return EMUL_UNSUPPORTED;
}

/* The code segment checks: not both L and D in IA-32e mode; a conforming
 * segment with DPL <= CPL, a nonconforming one with RPL <= CPL and
 * DPL = CPL; present (#NP). */
static int check_code(struct emul_ctx *ctx, uint16_t sel, const uint64_t desc[2])
{
	unsigned int dpl = (unsigned int)(desc[0] >> DESC_DPL_SHIFT) & 3;
	bool bad;

	if (!(desc[0] & DESC_S))
		return system_target(ctx, sel, desc);
	if (is_long_mode(ctx) && (desc[0] & DESC_L) && (desc[0] & DESC_DB))
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	if (desc[0] & DESC_TYPE_C)
		bad = dpl > ctx->cpl;
	else
		bad = (sel & EMUL_SEL_RPL) > ctx->cpl || dpl != ctx->cpl;
	if (!(desc[0] & DESC_CODE) || bad)
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	if (!(desc[0] & DESC_P))
		return emul_sel_fault(ctx, EMUL_VEC_NP, sel);
	return EMUL_OK;
}

/* The new RIP: canonical for a 64-bit code segment, else within the new
 * segment's limit (#GP(0)). */
static int check_offset(struct emul_ctx *ctx, const struct far_target *t)
{
	if (is_long_mode(ctx) && (t->cs.ar & EMUL_AR_L))
		return emul_is_canonical(ctx, t->off) ? EMUL_OK : emul_gp0(ctx);
	return t->off > t->cs.limit ? emul_gp0(ctx) : EMUL_OK;
}

/* Protected and IA-32e mode: a null selector is #GP(0); CS.RPL becomes
 * the CPL; the descriptor is marked accessed. */
static int target_protected(struct emul_ctx *ctx, struct far_target *t)
{
	uint64_t desc[2];
	struct emul_xlat x;
	int rc;

	if (!(t->sel & (EMUL_SEL_INDEX | EMUL_SEL_TI)))
		return emul_gp0(ctx);
	rc = emul_read_desc(ctx, t->sel, 8, 0, t->desc, &x);
	if (rc == EMUL_OK)
		rc = check_code(ctx, t->sel, t->desc);
	if (rc != EMUL_OK)
		return rc;
	t->desc_la = x.la;
	desc[0] = t->desc[0] | EMUL_DESC_ACCESSED;
	desc[1] = 0;
	t->cs = emul_desc_seg((t->sel & ~EMUL_SEL_RPL) | ctx->cpl, desc, false);
	return check_offset(ctx, t);
}

/* Real and virtual-8086 mode: the offset must be within the current CS
 * limit (#GP(0)); virtual-8086 segments have DPL 3 data rights in VMX. */
static int target_real(struct emul_ctx *ctx, struct far_target *t)
{
	const struct emul_seg *cs;
	int rc = emul_get_seg(ctx, EMUL_CS, &cs);

	if (rc != EMUL_OK)
		return rc;
	if (t->off > cs->limit)
		return emul_gp0(ctx);
	t->cs = *cs;
	t->cs.sel = t->sel;
	t->cs.base = (uint64_t)t->sel << 4;
	if (ctx->rflags & EMUL_RFLAGS_VM) {
		t->cs.limit = 0xffff;
		t->cs.ar = 0xf3;
	}
	return EMUL_OK;
}

/* ptr16:16 / ptr16:32 in the instruction (EA, 9A), or m16:16/32/64. */
static int read_far_pointer(struct emul_ctx *ctx, struct far_target *t)
{
	unsigned int size = ctx->insn.opsize;
	uint8_t buf[10];
	int rc;

	if (ctx->insn.src.kind == EMUL_OPND_IMM) {
		t->off = ctx->insn.imm & emul_size_mask(size);
		t->sel = (uint16_t)(ctx->insn.imm >> (8 * size));
		return EMUL_OK;
	}
	rc = emul_mem_load(ctx, ctx->insn.mem.seg, emul_ea(ctx), size + 2, buf);
	if (rc != EMUL_OK)
		return rc;
	t->off = 0;
	memcpy(&t->off, buf, size);
	t->sel = (uint16_t)(buf[size] | (buf[size + 1] << 8));
	return EMUL_OK;
}

/* CALL far: CS, then the return address, at the operand size. Both slots
 * are translated before either is written. */
static int push_return(struct emul_ctx *ctx, uint64_t *rsp)
{
	unsigned int size = ctx->insn.opsize, width = 8;
	const struct emul_seg *cs;
	uint64_t vals[2] = { 0, ctx->rip + ctx->insn.len }, at[2];
	struct emul_xlat x[2];
	int rc = emul_stack_width(ctx, &width);

	if (rc == EMUL_OK)
		rc = emul_get_seg(ctx, EMUL_CS, &cs);
	if (rc != EMUL_OK)
		return rc;
	vals[0] = cs->sel;
	at[0] = emul_stack_add(*rsp, width, -(int64_t)size);
	at[1] = emul_stack_add(*rsp, width, -2 * (int64_t)size);
	for (unsigned int i = 0; i < 2 && rc == EMUL_OK; i++)
		rc = emul_mem_xlat(ctx, EMUL_SS, at[i] & emul_size_mask(width),
				   size, EMUL_ACC_WRITE, &x[i]);
	for (unsigned int i = 0; i < 2 && rc == EMUL_OK; i++)
		rc = emul_mem_write(ctx, &x[i], &vals[i]);
	*rsp = at[1];
	return rc;
}

int emul_exec_far_branch(struct emul_ctx *ctx)
{
	struct far_target t;
	uint64_t rsp = ctx->gpr[EMUL_RSP];
	bool prot = (ctx->cr0 & EMUL_CR0_PE) && !(ctx->rflags & EMUL_RFLAGS_VM);
	int rc = read_far_pointer(ctx, &t);

	if (rc != EMUL_OK)
		return rc;
	t.desc_la = ~0ULL;
	rc = prot ? target_protected(ctx, &t) : target_real(ctx, &t);
	if (rc == EMUL_OK && ctx->insn.handler == EMUL_H_CALL_FAR)
		rc = push_return(ctx, &rsp);
	if (rc == EMUL_OK && t.desc_la != ~0ULL)
		rc = emul_desc_set_accessed(ctx, t.desc, t.desc_la);
	if (rc == EMUL_OK)
		rc = emul_set_seg(ctx, EMUL_CS, &t.cs);
	if (rc != EMUL_OK)
		return rc;
	ctx->gpr[EMUL_RSP] = rsp;
	emul_jump(ctx, t.off);
	return EMUL_OK;
}
