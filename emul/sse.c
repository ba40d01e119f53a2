/* The 128-bit SSE moves (emul/opcodes.c: 0F 10/11 MOVUPS/MOVUPD, 0F 28/29
 * MOVAPS/MOVAPD, 0F 6F/7F MOVDQA/MOVDQU): an XMM register to or from an
 * XMM register or 16 bytes of memory, reached through ops->get_xmm and
 * ops->set_xmm. */
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

static int sse_load(struct emul_ctx *ctx, const struct emul_operand *src,
		    uint8_t *buf)
{
	if (src->kind == EMUL_OPND_XMM)
		return ctx->ops->get_xmm(ctx, src->reg, buf);
	return emul_mem_load(ctx, ctx->insn.mem.seg, emul_ea(ctx), SSE_ALIGN, buf);
}

static int sse_store(struct emul_ctx *ctx, const struct emul_operand *dst,
		     const uint8_t *buf)
{
	struct emul_xlat x;
	int rc;

	if (dst->kind == EMUL_OPND_XMM)
		return ctx->ops->set_xmm(ctx, dst->reg, buf);
	rc = emul_mem_xlat(ctx, ctx->insn.mem.seg, emul_ea(ctx), SSE_ALIGN,
			   EMUL_ACC_WRITE, &x);
	return rc == EMUL_OK ? emul_mem_write(ctx, &x, buf) : rc;
}

int emul_exec_movxmm(struct emul_ctx *ctx)
{
	uint8_t buf[SSE_ALIGN];
	int rc = sse_check(ctx);

	if (rc == EMUL_OK)
		rc = sse_load(ctx, &ctx->insn.src, buf);
	if (rc == EMUL_OK)
		rc = sse_store(ctx, &ctx->insn.dst, buf);
	if (rc != EMUL_OK)
		return rc;
	emul_advance_rip(ctx);
	return EMUL_OK;
}
