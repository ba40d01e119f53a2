/*
 * MOV Sreg, r/m16 (8E): loading DS, ES, FS, GS or SS (SDM Vol. 2B "MOV",
 * Operation and its exception lists; Vol. 3A 5.5-5.7 for the privilege
 * checks). Reached when the selector operand sits in MMIO.
 *
 *   real mode        selector and base (selector << 4); limit and rights stay
 *   virtual-8086     the same, with a 64 KiB limit and DPL 3 data rights
 *   protected/IA-32e a descriptor from the GDT or LDT, checked; a null
 *                    selector leaves DS/ES/FS/GS unusable (SS: see below)
 *
 * A MOV to SS blocks interrupts and debug traps until the next instruction
 * completes: ctx->blocking tells the caller.
 */
#include "emul/internal.h"

#define DESC_TYPE_W	BIT_ULL(41)	/* data: writable; code: readable */
#define DESC_TYPE_C	BIT_ULL(42)	/* code: conforming */
#define DESC_CODE	BIT_ULL(43)
#define DESC_S		BIT_ULL(44)
#define DESC_DPL_SHIFT	45
#define DESC_P		BIT_ULL(47)
#define V86_AR		0xf3u		/* P, DPL 3, S, data RW accessed */
#define AR_DPL_SHIFT	5

static unsigned int desc_dpl(const uint64_t desc[2])
{
	return (unsigned int)(desc[0] >> DESC_DPL_SHIFT) & 3;
}

/* Real and virtual-8086 mode: the base follows the selector. */
static struct emul_seg load_real(struct emul_ctx *ctx, unsigned int seg,
				 uint16_t sel)
{
	struct emul_seg s = ctx->seg[seg];

	s.sel = sel;
	s.base = (uint64_t)sel << 4;
	if (ctx->rflags & EMUL_RFLAGS_VM) {
		s.limit = 0xffff;
		s.ar = V86_AR;
	}
	return s;
}

/* A null selector: #GP(0) for SS, except in 64-bit mode at CPL < 3 with
 * RPL = CPL; the register is marked unusable (SDM Vol. 3C 24.4.1), SS
 * keeping DPL = CPL, which VMX reads as the CPL. The base is cleared, FS's
 * and GS's too, as Intel processors do (some AMD ones keep it). */
static int load_null(struct emul_ctx *ctx, unsigned int seg, uint16_t sel,
		     struct emul_seg *out)
{
	if (seg == EMUL_SS && (ctx->insn.mode != 64 || ctx->cpl == 3 ||
			       (sel & EMUL_SEL_RPL) != ctx->cpl))
		return emul_gp0(ctx);
	*out = (struct emul_seg){ 0, 0, EMUL_AR_UNUSABLE, sel };
	if (seg == EMUL_SS)
		out->ar |= (uint32_t)ctx->cpl << AR_DPL_SHIFT;
	return EMUL_OK;
}

/* SS: a writable data segment with RPL = DPL = CPL, else #GP(selector);
 * not present is #SS(selector). */
static int check_ss(struct emul_ctx *ctx, uint16_t sel, const uint64_t desc[2])
{
	if ((sel & EMUL_SEL_RPL) != ctx->cpl || !(desc[0] & DESC_S) ||
	    (desc[0] & DESC_CODE) || !(desc[0] & DESC_TYPE_W) ||
	    desc_dpl(desc) != ctx->cpl)
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	if (!(desc[0] & DESC_P))
		return emul_sel_fault(ctx, EMUL_VEC_SS, sel);
	return EMUL_OK;
}

/* DS/ES/FS/GS: data or readable code; unless conforming code, RPL and CPL
 * at most DPL; else #GP(selector); not present is #NP(selector). */
static int check_data(struct emul_ctx *ctx, uint16_t sel,
		      const uint64_t desc[2])
{
	bool code = desc[0] & DESC_CODE;
	unsigned int dpl = desc_dpl(desc);

	if (!(desc[0] & DESC_S) || (code && !(desc[0] & DESC_TYPE_W)))
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	if ((!code || !(desc[0] & DESC_TYPE_C)) &&
	    ((sel & EMUL_SEL_RPL) > dpl || ctx->cpl > dpl))
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	if (!(desc[0] & DESC_P))
		return emul_sel_fault(ctx, EMUL_VEC_NP, sel);
	return EMUL_OK;
}

/* Protected mode and IA-32e mode: the descriptor, checked, then marked
 * accessed; the register gets its rights with the accessed bit set. */
static int load_protected(struct emul_ctx *ctx, unsigned int seg,
			  uint16_t sel, struct emul_seg *out)
{
	uint64_t desc[2];
	struct emul_xlat x;
	int rc;

	if (!(sel & (EMUL_SEL_INDEX | EMUL_SEL_TI)))
		return load_null(ctx, seg, sel, out);
	rc = emul_read_desc(ctx, sel, 8, 0, desc, &x);
	if (rc == EMUL_OK)
		rc = seg == EMUL_SS ? check_ss(ctx, sel, desc)
				    : check_data(ctx, sel, desc);
	if (rc == EMUL_OK)
		rc = emul_desc_set_accessed(ctx, desc, x.la);
	if (rc != EMUL_OK)
		return rc;
	desc[0] |= EMUL_DESC_ACCESSED;
	*out = emul_desc_seg(sel, desc, false);
	return EMUL_OK;
}

static bool is_protected(const struct emul_ctx *ctx)
{
	return (ctx->cr0 & EMUL_CR0_PE) && !(ctx->rflags & EMUL_RFLAGS_VM);
}

int emul_exec_mov_to_sreg(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int seg = insn->dst.reg;
	const struct emul_seg *cur;
	struct emul_seg val;
	uint16_t sel = 0;
	int rc = emul_get_seg(ctx, seg, &cur);

	if (rc == EMUL_OK && insn->src.kind == EMUL_OPND_REG)
		sel = (uint16_t)emul_reg_get(ctx, &insn->src);
	else if (rc == EMUL_OK)
		rc = emul_mem_load(ctx, insn->mem.seg, emul_ea(ctx), 2, &sel);
	if (rc != EMUL_OK)
		return rc;
	if (is_protected(ctx))
		rc = load_protected(ctx, seg, sel, &val);
	else
		val = load_real(ctx, seg, sel);
	if (rc == EMUL_OK)
		rc = emul_set_seg(ctx, seg, &val);
	if (rc != EMUL_OK)
		return rc;
	emul_advance_rip(ctx);
	if (seg == EMUL_SS)
		ctx->blocking |= EMUL_BLOCK_MOV_SS;
	return EMUL_OK;
}
