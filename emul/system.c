/*
 * System instructions:
 *
 *   LTR (SDM Vol. 2A "LTR"; Vol. 3A 8.2.2, 8.2.3, 3.5.1): loads the task
 *   register from a TSS descriptor in the GDT and marks that descriptor
 *   busy. Reached when the selector operand sits in MMIO. The descriptor
 *   layout: emul/desc.c; in IA-32e mode it takes 16 bytes, the upper 8
 *   holding base 63:32 and a type field that must be 0.
 *
 *   MOV to/from CR0, CR3, CR4, LGDT, LIDT, CLI, IN, OUT, CPUID, RDMSR,
 *   WRMSR, WBINVD (and PUSHF, POPF, shifts in emul/exec.c): what a real-mode
 *   start-up sequence runs on its way to protected mode (an AP's SIPI
 *   trampoline), emulated when the processor cannot run real mode itself.
 */
#include "arch/string.h"
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

/* ---- MOV to and from control registers ------------------------------------ */

/*
 * The decoder let through CR0, CR2, CR3, CR4 and (64-bit mode) CR8; CR2
 * and CR8 the context does not hold (Keel's VMM answers them from
 * exits): EMUL_UNSUPPORTED. Then CPL > 0, virtual-8086 mode included,
 * is #GP(0) (SDM Vol. 2B "MOV-Move to/from Control Registers", Protected
 * Mode and Virtual-8086 Mode Exceptions).
 */
static int cr_check(struct emul_ctx *ctx, unsigned int cr)
{
	if (cr == 2 || cr == 8) {
		emul_fault(ctx, EMUL_VEC_UD, false, 0);
		return EMUL_UNSUPPORTED;
	}
	return ctx->cpl ? emul_gp0(ctx) : EMUL_OK;
}

static uint64_t *cr_slot(struct emul_ctx *ctx, unsigned int cr)
{
	return cr == 0 ? &ctx->cr0 : cr == 3 ? &ctx->cr3 : &ctx->cr4;
}

/* The register gets the whole CR at the operand size (32 bits outside
 * 64-bit mode); the arithmetic flags are left as they were (undefined). */
int emul_exec_mov_from_cr(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	int rc = cr_check(ctx, insn->src.reg);

	if (rc != EMUL_OK)
		return rc;
	emul_reg_set(ctx, &insn->dst, *cr_slot(ctx, insn->src.reg));
	emul_advance_rip(ctx);
	return EMUL_OK;
}

/* The VMM checks the value and applies it as the processor would (a
 * reserved bit is its #GP); RIP moves on in the current mode, so a MOV
 * that sets CR0.PE is followed by 16-bit code until a far branch. */
int emul_exec_mov_to_cr(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int cr = insn->dst.reg;
	uint64_t val = emul_reg_get(ctx, &insn->src);
	const struct emul_ops *ops = ctx->ops;
	int rc = cr_check(ctx, cr);

	if (rc != EMUL_OK)
		return rc;
	if (cr == 0)
		rc = ops->write_cr0 ? ops->write_cr0(ctx, val) : EMUL_UNHANDLEABLE;
	else
		rc = ops->write_cr ? ops->write_cr(ctx, cr, val)
				   : EMUL_UNHANDLEABLE;
	if (rc != EMUL_OK)
		return rc;
	*cr_slot(ctx, cr) = val;
	emul_advance_rip(ctx);
	return EMUL_OK;
}

/* ---- LGDT, LIDT ------------------------------------------------------------- */

#define DTR_BASE24	0xffffffULL

/*
 * LGDT and LIDT (SDM Vol. 2A "LGDT/LIDT"): CPL 0 only, real mode
 * included (#GP(0)); a 16-bit limit, then the base: 8 bytes in 64-bit
 * mode, where it must be canonical (#GP(0)), else 4 bytes of which a
 * 16-bit operand size keeps 24 bits.
 */
int emul_exec_lgdt(struct emul_ctx *ctx)
{
	struct emul_insn *insn = &ctx->insn;
	unsigned int base_len = insn->src.size - 2;
	uint8_t buf[10];
	uint64_t base = 0;
	uint16_t limit;
	int rc;

	if (ctx->cpl)
		return emul_gp0(ctx);
	rc = emul_mem_load(ctx, insn->mem.seg, emul_ea(ctx), insn->src.size, buf);
	if (rc != EMUL_OK)
		return rc;
	memcpy(&limit, buf, 2);
	memcpy(&base, buf + 2, base_len);
	if (insn->mode != 64 && insn->opsize == 2)
		base &= DTR_BASE24;
	if (insn->mode == 64 && !emul_is_canonical(ctx, base))
		return emul_gp0(ctx);
	if (!ctx->ops->set_dtr)
		return EMUL_UNHANDLEABLE;
	rc = ctx->ops->set_dtr(ctx, insn->handler == EMUL_H_LIDT, base, limit);
	if (rc != EMUL_OK)
		return rc;
	emul_advance_rip(ctx);
	return EMUL_OK;
}

/* ---- CLI ----------------------------------------------------------------------- */

/*
 * CLI (SDM Vol. 2A "CLI", Table 3-7): IF is cleared when CPL <= IOPL,
 * which always holds in real mode. Otherwise virtual-8086 mode with
 * CR4.VME, or CPL 3 with CR4.PVI, clears VIF instead: not Keel's
 * (EMUL_UNSUPPORTED); any other case is #GP(0).
 */
int emul_exec_cli(struct emul_ctx *ctx)
{
	unsigned int iopl = (unsigned int)((ctx->rflags & EMUL_RFLAGS_IOPL) >>
					   EMUL_RFLAGS_IOPL_SHIFT);
	bool v86 = ctx->rflags & EMUL_RFLAGS_VM;

	if (ctx->cpl > iopl) {
		if ((v86 && (ctx->cr4 & EMUL_CR4_VME)) ||
		    (!v86 && ctx->cpl == 3 && (ctx->cr4 & EMUL_CR4_PVI))) {
			emul_fault(ctx, EMUL_VEC_UD, false, 0);
			return EMUL_UNSUPPORTED;
		}
		return emul_gp0(ctx);
	}
	ctx->rflags &= ~EMUL_RFLAGS_IF;
	emul_advance_rip(ctx);
	return EMUL_OK;
}

/* ---- IN, OUT ----------------------------------------------------------------------- */

static uint16_t io_port(const struct emul_ctx *ctx,
			const struct emul_operand *op)
{
	return op->kind == EMUL_OPND_IMM ? (uint8_t)ctx->insn.imm
					 : (uint16_t)ctx->gpr[EMUL_RDX];
}

/*
 * IN and OUT (SDM Vol. 2A "IN", Vol. 2B "OUT"): AL, AX or EAX from or to
 * the port, after the I/O permission check; IN EAX zero-extends into RAX
 * in 64-bit mode, IN AL and AX keep the rest.
 */
int emul_exec_in_out(struct emul_ctx *ctx)
{
	const struct emul_insn *insn = &ctx->insn;
	const struct emul_ops *ops = ctx->ops;
	bool in = insn->handler == EMUL_H_IN;
	const struct emul_operand *acc = in ? &insn->dst : &insn->src;
	uint16_t port = io_port(ctx, in ? &insn->src : &insn->dst);
	uint32_t val = 0;
	int rc = emul_io_check(ctx, port, acc->size);

	if (rc != EMUL_OK)
		return rc;
	if (in)
		rc = ops->pio_in ? ops->pio_in(ctx, port, acc->size, &val)
				 : EMUL_UNHANDLEABLE;
	else
		rc = ops->pio_out ? ops->pio_out(ctx, port, acc->size,
						 (uint32_t)emul_reg_get(ctx, acc))
				  : EMUL_UNHANDLEABLE;
	if (rc != EMUL_OK)
		return rc;
	if (in)
		emul_reg_set(ctx, acc, val);
	emul_advance_rip(ctx);
	return EMUL_OK;
}

/* ---- CPUID, RDMSR, WRMSR, WBINVD ----------------------------------------------- */

/*
 * CPUID (SDM Vol. 2A "CPUID"): leaf EAX, subleaf ECX; the VMM answers as
 * it does for the guest's own CPUID. The four registers get 32 bits
 * each, their upper halves cleared in every mode.
 */
int emul_exec_cpuid(struct emul_ctx *ctx)
{
	uint32_t r[4];
	int rc;

	if (!ctx->ops->cpuid)
		return EMUL_UNHANDLEABLE;
	rc = ctx->ops->cpuid(ctx, (uint32_t)ctx->gpr[EMUL_RAX],
			     (uint32_t)ctx->gpr[EMUL_RCX], r);
	if (rc != EMUL_OK)
		return rc;
	ctx->gpr[EMUL_RAX] = r[0];
	ctx->gpr[EMUL_RBX] = r[1];
	ctx->gpr[EMUL_RCX] = r[2];
	ctx->gpr[EMUL_RDX] = r[3];
	emul_advance_rip(ctx);
	return EMUL_OK;
}

/*
 * RDMSR and WRMSR (SDM Vol. 2B): CPL 0 only, real mode included, else
 * #GP(0); the MSR is ECX, the value EDX:EAX. The VMM decides what the
 * MSR holds and whether an access is the guest's #GP(0) (the op fills
 * ctx->exc). RDMSR clears the upper halves of RAX and RDX.
 */
int emul_exec_msr(struct emul_ctx *ctx)
{
	const struct emul_ops *ops = ctx->ops;
	uint32_t msr = (uint32_t)ctx->gpr[EMUL_RCX];
	uint64_t val = (ctx->gpr[EMUL_RDX] << 32) | (uint32_t)ctx->gpr[EMUL_RAX];
	bool rd = ctx->insn.handler == EMUL_H_RDMSR;
	int rc;

	if (ctx->cpl || (ctx->rflags & EMUL_RFLAGS_VM))
		return emul_gp0(ctx);
	if (rd)
		rc = ops->rdmsr ? ops->rdmsr(ctx, msr, &val) : EMUL_UNHANDLEABLE;
	else
		rc = ops->wrmsr ? ops->wrmsr(ctx, msr, val) : EMUL_UNHANDLEABLE;
	if (rc != EMUL_OK)
		return rc;
	if (rd) {
		ctx->gpr[EMUL_RAX] = (uint32_t)val;
		ctx->gpr[EMUL_RDX] = val >> 32;
	}
	emul_advance_rip(ctx);
	return EMUL_OK;
}

/* WBINVD (SDM Vol. 2D "WBINVD"): CPL 0 only, else #GP(0); the VMM
 * writes back the caches, or has none to write back when the op is
 * NULL. */
int emul_exec_wbinvd(struct emul_ctx *ctx)
{
	int rc = EMUL_OK;

	if (ctx->cpl || (ctx->rflags & EMUL_RFLAGS_VM))
		return emul_gp0(ctx);
	if (ctx->ops->wbinvd)
		rc = ctx->ops->wbinvd(ctx);
	if (rc != EMUL_OK)
		return rc;
	emul_advance_rip(ctx);
	return EMUL_OK;
}
