/*
 * LTR (SDM Vol. 2A "LTR"; Vol. 3A 8.2.2, 8.2.3, 3.5.1): loads the task
 * register from a TSS descriptor in the GDT and marks that descriptor
 * busy. Reached when the selector operand sits in MMIO.
 *
 *   GDT entry (8 bytes; 16 in IA-32e mode, the upper 8 holding base
 *   63:32 and a type field that must be 0):
 *     bits 15:0 limit 15:0, 39:16 base 23:0, 43:40 type, 44 S, 46:45 DPL,
 *     47 P, 51:48 limit 19:16, 52 AVL, 53 L, 54 D/B, 55 G, 63:56 base 31:24
 */
#include "emul/internal.h"
#include "emul/walk.h"

#define SEL_RPL             0x3u
#define SEL_RPL_TI          0x7u
#define SEL_TI              0x4u
#define DESC_TYPE_SHIFT     40
#define DESC_TYPE           (0xfULL << DESC_TYPE_SHIFT)
#define DESC_S              BIT_ULL(44)
#define DESC_P              BIT_ULL(47)
#define DESC_G              BIT_ULL(55)
#define DESC_TSS_BUSY_BIT   BIT_ULL(41)
#define TSS16_AVAIL         0x1
#define TSS_AVAIL           0x9             /* 32-bit, or 64-bit in IA-32e */
#define HIGH_TYPE           (0x1fULL << 40) /* upper 8 bytes: must be 0 */

static bool is_long_mode(const struct emul_ctx *ctx)
{
	return ctx->efer & EMUL_EFER_LMA;
}

/* #GP or #NP with the selector as error code: index and TI, EXT and IDT
 * clear (SDM Vol. 3A 6.13). */
static int sel_fault(struct emul_ctx *ctx, uint8_t vector, uint16_t sel)
{
	return emul_fault(ctx, vector, true, sel & ~SEL_RPL);
}

/* The descriptor the selector names, read as a supervisor access. */
static int read_desc(struct emul_ctx *ctx, uint16_t sel, uint64_t desc[2],
		     struct emul_xlat *x)
{
	unsigned int len = is_long_mode(ctx) ? 16 : 8;
	uint64_t base = 0;
	uint32_t limit = 0;
	int rc = ctx->ops->get_gdtr(ctx, &base, &limit);

	if (rc != EMUL_OK)
		return rc;
	if ((uint64_t)(sel & ~SEL_RPL_TI) + len - 1 > limit)
		return sel_fault(ctx, EMUL_VEC_GP, sel);
	rc = emul_mem_xlat_linear(ctx, base + (sel & ~SEL_RPL_TI), len,
				  EMUL_ACC_WRITE, x);
	desc[1] = 0;
	return rc == EMUL_OK ? emul_mem_read(ctx, x, desc) : rc;
}

static uint64_t desc_base(const uint64_t desc[2], bool lm)
{
	uint64_t base = ((desc[0] >> 16) & 0xffffff) |
			((desc[0] >> 32) & 0xff000000);

	return lm ? base | (desc[1] << 32) : base;
}

/* Canonical for the guest's linear-address width (48, or 57 with LA57). */
static bool is_canonical_la(const struct emul_ctx *ctx, uint64_t la)
{
	unsigned int shift = (ctx->cr4 & EMUL_CR4_LA57) ? 7 : 16;

	return (uint64_t)((int64_t)(la << shift) >> shift) == la;
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
		return sel_fault(ctx, EMUL_VEC_GP, sel);
	if (lm && ((desc[1] & HIGH_TYPE) ||
		   !is_canonical_la(ctx, desc_base(desc, true))))
		return sel_fault(ctx, EMUL_VEC_GP, sel);
	if (!(desc[0] & DESC_P))
		return sel_fault(ctx, EMUL_VEC_NP, sel);
	return EMUL_OK;
}

static struct emul_seg tr_of(uint16_t sel, const uint64_t desc[2], bool lm)
{
	uint64_t d = desc[0] | DESC_TSS_BUSY_BIT;
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	if (d & DESC_G)
		limit = (limit << 12) | 0xfff;
	return (struct emul_seg){ desc_base(desc, lm), limit,
				  (uint32_t)((d >> 40) & 0xf0ff), sel };
}

int emul_exec_ltr(struct emul_ctx *ctx)
{
	uint64_t src = 0, desc[2], busy[2];
	struct emul_seg tr;
	struct emul_xlat x;
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
	if (!(sel & ~SEL_RPL_TI) || (sel & SEL_TI))
		return sel_fault(ctx, EMUL_VEC_GP, (sel & SEL_TI) ? sel : 0);
	rc = read_desc(ctx, sel, desc, &x);
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
	tr = tr_of(sel, desc, is_long_mode(ctx));
	if (rc == EMUL_OK)
		rc = ctx->ops->set_tr(ctx, &tr);
	if (rc != EMUL_OK)
		return rc;
	emul_advance_rip(ctx);
	return EMUL_OK;
}
