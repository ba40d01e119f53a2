/*
 * LTR (SDM Vol. 2A "LTR"; Vol. 3A 8.2.2, 8.2.3, 3.5.1): loads the task
 * register from a TSS descriptor in the GDT and marks that descriptor
 * busy. Reached when the selector operand sits in MMIO. The descriptor
 * layout: emul/desc.c; in IA-32e mode it takes 16 bytes, the upper 8
 * holding base 63:32 and a type field that must be 0.
 */
#include "emul/internal.h"

#define DESC_TYPE_SHIFT     40
#define DESC_TYPE           (0xfULL << DESC_TYPE_SHIFT)
#define DESC_S              BIT_ULL(44)
#define DESC_P              BIT_ULL(47)
#define DESC_TSS_BUSY_BIT   BIT_ULL(41)
#define TSS16_AVAIL         0x1
#define TSS_AVAIL           0x9             /* 32-bit, or 64-bit in IA-32e */
#define HIGH_TYPE           (0x1fULL << 40) /* upper 8 bytes: must be 0 */

static bool is_long_mode(const struct emul_ctx *ctx)
{
	return ctx->efer & EMUL_EFER_LMA;
}

/* An available TSS (16-bit or 32-bit; in IA-32e mode only the 64-bit
 * one), present, with a canonical base and a zero upper type in IA-32e
 * mode. */
static int check_tss_desc(struct emul_ctx *ctx, uint16_t sel,
			  const uint64_t desc[2])
{
	unsigned int type = (unsigned int)((desc[0] & DESC_TYPE) >> DESC_TYPE_SHIFT);
	bool lm = is_long_mode(ctx);

	if ((desc[0] & DESC_S) || (type != TSS_AVAIL && (lm || type != TSS16_AVAIL)))
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	if (lm && ((desc[1] & HIGH_TYPE) ||
		   !emul_is_canonical(ctx, emul_desc_base(desc, true))))
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	if (!(desc[0] & DESC_P))
		return emul_sel_fault(ctx, EMUL_VEC_NP, sel);
	return EMUL_OK;
}

int emul_exec_ltr(struct emul_ctx *ctx)
{
	uint64_t src = 0, desc[2], busy[2];
	struct emul_seg tr;
	struct emul_xlat x;
	unsigned int len = is_long_mode(ctx) ? 16 : 8;
	uint16_t sel;
	int rc;

	if (!(ctx->cr0 & EMUL_CR0_PE) || (ctx->rflags & EMUL_RFLAGS_VM))
		return emul_fault(ctx, EMUL_VEC_UD, false, 0);
	if (ctx->cpl)
		return emul_gp0(ctx);
	if (!ctx->ops->get_gdtr || !ctx->ops->set_tr)
		return EMUL_UNHANDLEABLE;
	if (ctx->insn.src.kind == EMUL_OPND_REG)
		src = emul_reg_get(ctx, &ctx->insn.src);
	else if ((rc = emul_mem_load(ctx, ctx->insn.mem.seg, emul_ea(ctx), 2,
				     &src)) != EMUL_OK)
		return rc;
	sel = (uint16_t)src;
	if (!(sel & EMUL_SEL_INDEX) || (sel & EMUL_SEL_TI))
		return emul_sel_fault(ctx, EMUL_VEC_GP,
				      (sel & EMUL_SEL_TI) ? sel : 0);
	rc = emul_read_desc(ctx, sel, len, EMUL_ACC_WRITE, desc, &x);
	if (rc == EMUL_OK)
		rc = check_tss_desc(ctx, sel, desc);
	if (rc != EMUL_OK)
		return rc;
	/* The busy bit is set with a locked write (SDM Vol. 3A 8.1.2.3). */
	busy[0] = desc[0] | DESC_TSS_BUSY_BIT;
	busy[1] = desc[1];
	rc = emul_mem_cmpxchg(ctx, &x, desc, busy);
	if (rc == EMUL_CMPXCHG_FAILED)
		return EMUL_RETRY;
	tr = emul_desc_seg(sel, busy, is_long_mode(ctx));
	if (rc == EMUL_OK)
		rc = ctx->ops->set_tr(ctx, &tr);
	if (rc != EMUL_OK)
		return rc;
	emul_advance_rip(ctx);
	return EMUL_OK;
}
