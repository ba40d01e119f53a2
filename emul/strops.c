/* String instructions MOVS CMPS STOS LODS SCAS INS OUTS, with REP (F3 or
 * F2) and REPE/REPNE (CMPS, SCAS), SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ".
 *
 *   source       DS:rSI (segment override allowed)
 *   destination  ES:rDI (never overridden)
 *   count        rCX
 *
 * rSI, rDI and rCX are used at the address size and step by the element
 * size, down when EFLAGS.DF is set. A repeated instruction runs at most
 * EMUL_REP_BATCH iterations per emul_step(): every iteration commits its
 * registers, and RIP moves past the instruction only when it is finished,
 * so the guest resumes it (or it is emulated again) like a REP instruction
 * interrupted between iterations. A fault in an iteration leaves the
 * earlier iterations committed and RIP on the instruction. With EFLAGS.TF
 * set the batch is one iteration: the processor takes the single-step
 * trap after each iteration, with RIP on the instruction while iterations
 * are left (SDM Vol. 3B 17.3.1.4; Vol. 2B "REP": a repeated string
 * instruction can be interrupted between iterations). */
#include "arch/string.h"
#include "emul/internal.h"

struct str_op {
	unsigned int size;	/* element size */
	unsigned int asz;	/* address size */
	int64_t step;		/* +size, or -size with DF */
};

static uint64_t str_reg(const struct emul_ctx *ctx, unsigned int reg,
			const struct str_op *s)
{
	return ctx->gpr[reg] & emul_size_mask(s->asz);
}

static int str_xlat(struct emul_ctx *ctx, const struct str_op *s,
		    unsigned int seg, unsigned int reg, unsigned int acc,
		    struct emul_xlat *x)
{
	return emul_mem_xlat(ctx, seg, str_reg(ctx, reg, s), s->size, acc, x);
}

static uint64_t buf_value(const uint8_t *buf, unsigned int size)
{
	uint64_t v = 0;

	memcpy(&v, buf, size);
	return v;
}

/* IN/OUT permission (SDM Vol. 1 19.5): protected mode with CPL > IOPL, or
 * virtual-8086 mode, consults the TSS I/O bitmap through the VMM. */
int emul_io_check(struct emul_ctx *ctx, uint16_t port, unsigned int size)
{
	unsigned int iopl = (unsigned int)((ctx->rflags & EMUL_RFLAGS_IOPL) >>
					   EMUL_RFLAGS_IOPL_SHIFT);
	bool vm86 = ctx->rflags & EMUL_RFLAGS_VM;

	if (!(ctx->cr0 & EMUL_CR0_PE) || (!vm86 && ctx->cpl <= iopl))
		return EMUL_OK;
	if (ctx->ops->io_allowed && ctx->ops->io_allowed(ctx, port, size))
		return EMUL_OK;
	return emul_gp0(ctx);
}

/* One element of each instruction. Memory is translated before any
 * access, so a fault leaves no side effect (in particular no port read). */
static int str_movs(struct emul_ctx *ctx, const struct str_op *s)
{
	struct emul_xlat src, dst;
	uint8_t buf[8];
	int rc = str_xlat(ctx, s, ctx->insn.mem.seg, EMUL_RSI, 0, &src);

	if (rc == EMUL_OK)
		rc = str_xlat(ctx, s, EMUL_ES, EMUL_RDI, EMUL_ACC_WRITE, &dst);
	if (rc == EMUL_OK)
		rc = emul_mem_read(ctx, &src, buf);
	if (rc == EMUL_OK)
		rc = emul_mem_write(ctx, &dst, buf);
	if (rc != EMUL_OK)
		return rc;
	emul_gpr_add(ctx, EMUL_RSI, s->asz, s->step);
	emul_gpr_add(ctx, EMUL_RDI, s->asz, s->step);
	return EMUL_OK;
}

static int str_stos(struct emul_ctx *ctx, const struct str_op *s)
{
	struct emul_xlat dst;
	uint64_t v = ctx->gpr[EMUL_RAX];
	int rc = str_xlat(ctx, s, EMUL_ES, EMUL_RDI, EMUL_ACC_WRITE, &dst);

	if (rc == EMUL_OK)
		rc = emul_mem_write(ctx, &dst, &v);
	if (rc != EMUL_OK)
		return rc;
	emul_gpr_add(ctx, EMUL_RDI, s->asz, s->step);
	return EMUL_OK;
}

static int str_lods(struct emul_ctx *ctx, const struct str_op *s)
{
	struct emul_xlat src;
	uint8_t buf[8];
	int rc = str_xlat(ctx, s, ctx->insn.mem.seg, EMUL_RSI, 0, &src);

	if (rc == EMUL_OK)
		rc = emul_mem_read(ctx, &src, buf);
	if (rc != EMUL_OK)
		return rc;
	emul_gpr_set(ctx, EMUL_RAX, s->size, buf_value(buf, s->size));
	emul_gpr_add(ctx, EMUL_RSI, s->asz, s->step);
	return EMUL_OK;
}

/* CMPS sets the flags of [rSI] - [rDI]. */
static int str_cmps(struct emul_ctx *ctx, const struct str_op *s)
{
	struct emul_xlat src, dst;
	uint8_t a[8], b[8];
	int rc = str_xlat(ctx, s, ctx->insn.mem.seg, EMUL_RSI, 0, &src);

	if (rc == EMUL_OK)
		rc = str_xlat(ctx, s, EMUL_ES, EMUL_RDI, 0, &dst);
	if (rc == EMUL_OK)
		rc = emul_mem_read(ctx, &src, a);
	if (rc == EMUL_OK)
		rc = emul_mem_read(ctx, &dst, b);
	if (rc != EMUL_OK)
		return rc;
	emul_alu(EMUL_H_CMP, buf_value(a, s->size), buf_value(b, s->size),
		 s->size, &ctx->rflags);
	emul_gpr_add(ctx, EMUL_RSI, s->asz, s->step);
	emul_gpr_add(ctx, EMUL_RDI, s->asz, s->step);
	return EMUL_OK;
}

/* SCAS sets the flags of accumulator - [rDI]. */
static int str_scas(struct emul_ctx *ctx, const struct str_op *s)
{
	struct emul_xlat dst;
	uint8_t b[8];
	int rc = str_xlat(ctx, s, EMUL_ES, EMUL_RDI, 0, &dst);

	if (rc == EMUL_OK)
		rc = emul_mem_read(ctx, &dst, b);
	if (rc != EMUL_OK)
		return rc;
	emul_alu(EMUL_H_CMP, ctx->gpr[EMUL_RAX], buf_value(b, s->size),
		 s->size, &ctx->rflags);
	emul_gpr_add(ctx, EMUL_RDI, s->asz, s->step);
	return EMUL_OK;
}

static int str_ins(struct emul_ctx *ctx, const struct str_op *s)
{
	uint16_t port = (uint16_t)ctx->gpr[EMUL_RDX];
	struct emul_xlat dst;
	uint32_t v = 0;
	int rc = emul_io_check(ctx, port, s->size);

	if (rc == EMUL_OK)
		rc = str_xlat(ctx, s, EMUL_ES, EMUL_RDI, EMUL_ACC_WRITE, &dst);
	if (rc == EMUL_OK)
		rc = ctx->ops->pio_in ? ctx->ops->pio_in(ctx, port, s->size, &v)
				      : EMUL_UNHANDLEABLE;
	if (rc == EMUL_OK)
		rc = emul_mem_write(ctx, &dst, &v);
	if (rc != EMUL_OK)
		return rc;
	emul_gpr_add(ctx, EMUL_RDI, s->asz, s->step);
	return EMUL_OK;
}

static int str_outs(struct emul_ctx *ctx, const struct str_op *s)
{
	uint16_t port = (uint16_t)ctx->gpr[EMUL_RDX];
	struct emul_xlat src;
	uint8_t buf[8];
	int rc = emul_io_check(ctx, port, s->size);

	if (rc == EMUL_OK)
		rc = str_xlat(ctx, s, ctx->insn.mem.seg, EMUL_RSI, 0, &src);
	if (rc == EMUL_OK)
		rc = emul_mem_read(ctx, &src, buf);
	if (rc == EMUL_OK)
		rc = ctx->ops->pio_out
			? ctx->ops->pio_out(ctx, port, s->size,
					    (uint32_t)buf_value(buf, s->size))
			: EMUL_UNHANDLEABLE;
	if (rc != EMUL_OK)
		return rc;
	emul_gpr_add(ctx, EMUL_RSI, s->asz, s->step);
	return EMUL_OK;
}

static int str_iterate(struct emul_ctx *ctx, const struct str_op *s)
{
	switch (ctx->insn.handler) {
	case EMUL_H_MOVS: return str_movs(ctx, s);
	case EMUL_H_STOS: return str_stos(ctx, s);
	case EMUL_H_LODS: return str_lods(ctx, s);
	case EMUL_H_CMPS: return str_cmps(ctx, s);
	case EMUL_H_SCAS: return str_scas(ctx, s);
	case EMUL_H_INS:  return str_ins(ctx, s);
	default:          return str_outs(ctx, s);
	}
}

/* REPE stops when ZF = 0, REPNE when ZF = 1; only CMPS and SCAS look at
 * ZF, the others repeat with either prefix. */
static bool rep_ends_on_zf(const struct emul_ctx *ctx)
{
	const struct emul_insn *insn = &ctx->insn;
	bool zf = ctx->rflags & EMUL_RFLAGS_ZF;

	if (insn->handler != EMUL_H_CMPS && insn->handler != EMUL_H_SCAS)
		return false;
	return (insn->prefixes & EMUL_PFX_REP) ? !zf : zf;
}

/* With a count of zero nothing is accessed. What a 32-bit address size
 * does to the registers' upper halves then is not architectural (SDM Vol.
 * 2B "REP/REPE/REPZ/REPNE/REPNZ" leaves it open) and differs between
 * vendors and models. Keel runs on Intel VT-x, so the emulator models the
 * behaviour of Intel processors that KVM's emulator also models: RCX is
 * cleared (ECX zero-extended), and only MOVS and STOS write their pointers
 * (RSI and RDI for MOVS, RDI for STOS, zero-extended). Other string
 * instructions leave every register as it was. */
static void rep_touch_registers(struct emul_ctx *ctx, const struct str_op *s)
{
	unsigned int h = ctx->insn.handler;

	if (s->asz != 4)
		return;
	emul_gpr_add(ctx, EMUL_RCX, 4, 0);
	if (h == EMUL_H_MOVS)
		emul_gpr_add(ctx, EMUL_RSI, 4, 0);
	if (h == EMUL_H_MOVS || h == EMUL_H_STOS)
		emul_gpr_add(ctx, EMUL_RDI, 4, 0);
}

static unsigned int rep_batch(const struct emul_ctx *ctx)
{
	return (ctx->rflags & EMUL_RFLAGS_TF) ? 1 : EMUL_REP_BATCH;
}

static int str_repeat(struct emul_ctx *ctx, const struct str_op *s)
{
	unsigned int batch = rep_batch(ctx);

	if (str_reg(ctx, EMUL_RCX, s) == 0)
		rep_touch_registers(ctx, s);
	for (unsigned int n = 0; n < batch; n++) {
		int rc;

		if (str_reg(ctx, EMUL_RCX, s) == 0)
			break;
		rc = str_iterate(ctx, s);
		if (rc != EMUL_OK)
			return rc;
		emul_gpr_add(ctx, EMUL_RCX, s->asz, -1);
		if (rep_ends_on_zf(ctx)) {
			emul_advance_rip(ctx);
			return EMUL_OK;
		}
	}
	if (str_reg(ctx, EMUL_RCX, s) == 0)
		emul_advance_rip(ctx);
	return EMUL_OK;
}

int emul_exec_string(struct emul_ctx *ctx)
{
	const struct emul_insn *insn = &ctx->insn;
	struct str_op s = {
		.size = insn->dst.size,
		.asz = insn->addrsize,
	};
	int rc;

	s.step = (ctx->rflags & EMUL_RFLAGS_DF) ? -(int64_t)s.size : s.size;
	if (insn->prefixes & (EMUL_PFX_REP | EMUL_PFX_REPNE))
		return str_repeat(ctx, &s);
	rc = str_iterate(ctx, &s);
	if (rc == EMUL_OK)
		emul_advance_rip(ctx);
	return rc;
}
