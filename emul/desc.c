/*
 * Segment selectors and descriptors (SDM Vol. 3A 3.4.2, 3.4.5, 3.5.1),
 * shared by the instructions that load segment or task registers.
 *
 *   selector:  bits 15:3 index, 2 TI (0: GDT, 1: LDT), 1:0 RPL
 *   descriptor (8 bytes; a system descriptor takes 16 in IA-32e mode, the
 *   upper 8 holding base 63:32):
 *     bits 15:0 limit 15:0, 39:16 base 23:0, 43:40 type, 44 S, 46:45 DPL,
 *     47 P, 51:48 limit 19:16, 52 AVL, 53 L, 54 D/B, 55 G, 63:56 base 31:24
 */
#include "emul/internal.h"

#define DESC_G		BIT_ULL(55)
#define DESC_AR_SHIFT	40
#define DESC_AR		0xf0ffULL	/* bits 55:40, limit 19:16 left out */

_Static_assert(((DESC_AR << DESC_AR_SHIFT) & EMUL_DESC_ACCESSED) ==
	       EMUL_DESC_ACCESSED, "the accessed bit is in the rights");

/* #GP, #NP, #SS or #TS with the selector as error code: index and TI,
 * with EXT and IDT clear (SDM Vol. 3A 6.13). */
int emul_sel_fault(struct emul_ctx *ctx, uint8_t vector, uint16_t sel)
{
	return emul_fault(ctx, vector, true, sel & ~EMUL_SEL_RPL);
}

/* The table a selector indexes: the GDT, or with TI the LDT, which must
 * be usable (else #GP(selector), SDM Vol. 3A 3.5.1). */
static int desc_table(struct emul_ctx *ctx, uint16_t sel, uint64_t *base,
		      uint32_t *limit)
{
	struct emul_seg ldtr;
	int rc;

	if (!(sel & EMUL_SEL_TI))
		return ctx->ops->get_gdtr ? ctx->ops->get_gdtr(ctx, base, limit)
					  : EMUL_UNHANDLEABLE;
	if (!ctx->ops->get_ldtr)
		return EMUL_UNHANDLEABLE;
	rc = ctx->ops->get_ldtr(ctx, &ldtr);
	if (rc != EMUL_OK)
		return rc;
	if (ldtr.ar & EMUL_AR_UNUSABLE)
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	*base = ldtr.base;
	*limit = ldtr.limit;
	return EMUL_OK;
}

int emul_read_desc(struct emul_ctx *ctx, uint16_t sel, unsigned int len,
		   unsigned int acc, uint64_t desc[2], struct emul_xlat *x)
{
	uint64_t base = 0, off = sel & EMUL_SEL_INDEX;
	uint32_t limit = 0;
	int rc = desc_table(ctx, sel, &base, &limit);

	if (rc != EMUL_OK)
		return rc;
	if (off + len - 1 > limit)
		return emul_sel_fault(ctx, EMUL_VEC_GP, sel);
	rc = emul_mem_xlat_linear(ctx, base + off, len, acc, x);
	desc[1] = 0;
	return rc == EMUL_OK ? emul_mem_read(ctx, x, desc) : rc;
}

uint64_t emul_desc_base(const uint64_t desc[2], bool wide)
{
	uint64_t base = ((desc[0] >> 16) & 0xffffff) |
			((desc[0] >> 32) & 0xff000000);

	return wide ? base | (desc[1] << 32) : base;
}

/* The segment register a load makes: a byte-granular limit, and the
 * rights in the VMCS layout (bits 15:8 of the descriptor's second word
 * less limit 19:16). */
struct emul_seg emul_desc_seg(uint16_t sel, const uint64_t desc[2], bool wide)
{
	uint64_t d = desc[0];
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	if (d & DESC_G)
		limit = (limit << 12) | 0xfff;
	return (struct emul_seg){ emul_desc_base(desc, wide), limit,
				  (uint32_t)((d >> DESC_AR_SHIFT) & DESC_AR), sel };
}

/* A segment load sets the descriptor's accessed bit, with a locked write
 * (SDM Vol. 3A 3.4.5.1, 8.1.2.1); a lost race runs the instruction again. */
int emul_desc_set_accessed(struct emul_ctx *ctx, const uint64_t desc[2],
			   uint64_t la)
{
	uint64_t now = desc[0] | EMUL_DESC_ACCESSED;
	struct emul_xlat x;
	int rc;

	if (desc[0] & EMUL_DESC_ACCESSED)
		return EMUL_OK;
	rc = emul_mem_xlat_linear(ctx, la, 8, EMUL_ACC_WRITE, &x);
	if (rc == EMUL_OK)
		rc = emul_mem_cmpxchg(ctx, &x, &desc[0], &now);
	return rc == EMUL_CMPXCHG_FAILED ? EMUL_RETRY : rc;
}
