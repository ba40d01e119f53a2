/* The 128-bit SSE moves (emul/opcodes.c: 0F 10/11 MOVUPS/MOVUPD, 0F 28/29
 * MOVAPS/MOVAPD, 0F 6F/7F MOVDQA/MOVDQU): an XMM register to or from an
 * XMM register or 16 bytes of memory, reached through ops->get_xmm and
 * ops->set_xmm; and MMX's MOVQ (0F 6F/7F without 66 or F3): an MMX
 * register to or from an MMX register or 8 bytes, through ops->get_mm
 * and ops->set_mm. */
#include "emul/internal.h"

#define SSE_ALIGN 16u

/* MOVAPS, MOVAPD and MOVDQA (66 0F 6F/7F) want an aligned m128; MOVUPS,
 * MOVUPD and MOVDQU (F3 0F 6F/7F) do not. */
static bool sse_aligned_form(const struct emul_insn *insn)
{
	if (insn->flags & EMUL_F_ALIGN16)
		return true;
	return (insn->flags & EMUL_F_66F3) && !(insn->prefixes & EMUL_PFX_REP);
}

/* SSE instructions raise #UD with CR0.EM set or CR4.OSFXSR clear, and #NM
 * with CR0.TS set (SDM Vol. 3A 13.1.3, 13.1.5; Vol. 2B MOVUPS, "Other
 * Exceptions"); an aligned form with a misaligned m128 is #GP(0). */
static int sse_check(struct emul_ctx *ctx)
{
	const struct emul_insn *insn = &ctx->insn;

	if ((ctx->cr0 & EMUL_CR0_EM) || !(ctx->cr4 & EMUL_CR4_OSFXSR))
		return emul_fault(ctx, EMUL_VEC_UD, false, 0);
	if (ctx->cr0 & EMUL_CR0_TS)
		return emul_fault(ctx, EMUL_VEC_NM, false, 0);
	if (insn->has_mem && sse_aligned_form(insn) &&
	    (emul_ea(ctx) & (SSE_ALIGN - 1)))
		return emul_gp0(ctx);
	if (!ctx->ops->get_xmm || !ctx->ops->set_xmm)
		return EMUL_UNHANDLEABLE;
	return EMUL_OK;
}

/* A register or memory operand of a move: an XMM or MMX register through
 * the ops, or size bytes of memory. */
static int move_load(struct emul_ctx *ctx, const struct emul_operand *src,
		     unsigned int size, uint8_t *buf)
{
	if (src->kind == EMUL_OPND_XMM)
		return ctx->ops->get_xmm(ctx, src->reg, buf);
	if (src->kind == EMUL_OPND_MMX)
		return ctx->ops->get_mm(ctx, src->reg, buf);
	return emul_mem_load(ctx, ctx->insn.mem.seg, emul_ea(ctx), size, buf);
}

static int move_store(struct emul_ctx *ctx, const struct emul_operand *dst,
		      unsigned int size, const uint8_t *buf)
{
	struct emul_xlat x;
	int rc;

	if (dst->kind == EMUL_OPND_XMM)
		return ctx->ops->set_xmm(ctx, dst->reg, buf);
	if (dst->kind == EMUL_OPND_MMX)
		return ctx->ops->set_mm(ctx, dst->reg, buf);
	rc = emul_mem_xlat(ctx, ctx->insn.mem.seg, emul_ea(ctx), size,
			   EMUL_ACC_WRITE, &x);
	return rc == EMUL_OK ? emul_mem_write(ctx, &x, buf) : rc;
}

/* The move, once check_rc (the form's exception checks) is EMUL_OK. */
static int exec_move(struct emul_ctx *ctx, int check_rc, unsigned int size)
{
	uint8_t buf[SSE_ALIGN];
	int rc = check_rc;

	if (rc == EMUL_OK)
		rc = move_load(ctx, &ctx->insn.src, size, buf);
	if (rc == EMUL_OK)
		rc = move_store(ctx, &ctx->insn.dst, size, buf);
	if (rc != EMUL_OK)
		return rc;
	emul_advance_rip(ctx);
	return EMUL_OK;
}

int emul_exec_movxmm(struct emul_ctx *ctx)
{
	return exec_move(ctx, sse_check(ctx), SSE_ALIGN);
}

/* ---- MMX: MOVQ mm, mm/m64 and MOVQ mm/m64, mm (0F 6F, 0F 7F) ------------ */

#define MMX_SIZE	8u
#define FSW_ES		BIT_ULL(7)	/* x87 exception summary */

/* MMX instructions raise #UD with CR0.EM set (CR4.OSFXSR does not
 * matter), #NM with CR0.TS set, and #MF for a pending unmasked x87
 * exception (SDM Vol. 3A 13.1.2; Vol. 2B MOVQ, "Exceptions", and the
 * MMX exception conditions table of Vol. 2A 3.1.1.13). With CR0.NE
 * clear the pending exception would go out through FERR#, which Keel
 * does not model. */
static int mmx_check(struct emul_ctx *ctx)
{
	uint16_t fsw = 0;
	int rc;

	if (ctx->cr0 & EMUL_CR0_EM)
		return emul_fault(ctx, EMUL_VEC_UD, false, 0);
	if (ctx->cr0 & EMUL_CR0_TS)
		return emul_fault(ctx, EMUL_VEC_NM, false, 0);
	if (!ctx->ops->get_mm || !ctx->ops->set_mm || !ctx->ops->get_fsw)
		return EMUL_UNHANDLEABLE;
	rc = ctx->ops->get_fsw(ctx, &fsw);
	if (rc != EMUL_OK || !(fsw & FSW_ES))
		return rc;
	if (ctx->cr0 & EMUL_CR0_NE)
		return emul_fault(ctx, EMUL_VEC_MF, false, 0);
	emul_fault(ctx, EMUL_VEC_UD, false, 0);
	return EMUL_UNSUPPORTED;
}

int emul_exec_movmmx(struct emul_ctx *ctx)
{
	return exec_move(ctx, mmx_check(ctx), MMX_SIZE);
}
