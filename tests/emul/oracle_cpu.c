/* Executor oracle: Keel's emulator against the host processor.
 *
 * Every form in Keel's opcode tables that can run in a user process (all
 * but PUSH/POP, which move the real stack, and INS/OUTS, which need I/O
 * privilege) is run natively and emulated with the same registers,
 * arithmetic flags + DF and memory. Forms are taken straight from the
 * tables: each (opcode, group digit) x operand-size variant (none, 66,
 * REX.W) x operand kind (register, memory) is one test with ITERATIONS
 * random cases: random ModRM/SIB/REX register choices, displacements,
 * immediates, 67 and LOCK prefixes where they apply, biased operand
 * values (0, 1, -1, sign boundaries) and random memory. String forms run
 * with no prefix, REP and REPNE, random DF and counts.
 *
 * Compared after each case: all general registers but RSP, CF PF AF ZF
 * SF OF and DF, RIP, and the memory window around the operand. A case
 * that faults natively (e.g. a misaligned CMPXCHG16B) must fault in the
 * emulator too. Only what the architecture defines is compared, so that
 * the oracle holds on any x86-64 host, Intel or AMD (see defined_results):
 * flags the SDM leaves undefined are not compared, nor the upper halves
 * of RCX/RSI/RDI after a REP string instruction with a 32-bit address
 * size and a zero count, which differ between vendors and models.
 *
 * Native execution: the instruction bytes plus RET go on an executable
 * page; a trampoline loads the registers and flags from oracle_in, calls
 * the page, and stores registers and flags to oracle_out. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "emul/emul.h"
#include "emul/opcodes.h"

#define ITERATIONS	400	/* per form; KEEL_ORACLE_CASES overrides */
#define DATA_BASE	0x10000000ULL
#define DATA_SIZE	0x10000ULL
#define CENTER		(DATA_BASE + DATA_SIZE / 2)
#define WINDOW		256		/* bytes compared either side of CENTER */
#define CODE_GPA	0x20000000ULL	/* where the emulator sees the code */
#define CMP_FLAGS	(EMUL_RFLAGS_ARITH | EMUL_RFLAGS_DF)

/* Cases per instruction form (make test: ITERATIONS; make oracle-long more). */
static long iterations = ITERATIONS;

struct cpu_state {
	uint64_t gpr[16];
	uint64_t rflags;
};

struct cpu_state oracle_in, oracle_out;
void *oracle_target;
uint64_t oracle_saved_rsp;
void oracle_native_run(void);

#define LOAD(i, r)  "mov oracle_in+" #i "*8(%rip), %" #r "\n"
#define STORE(i, r) "mov %" #r ", oracle_out+" #i "*8(%rip)\n"

__asm__(
	".text\n"
	".globl oracle_native_run\n"
	"oracle_native_run:\n"
	"push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"mov %rsp, oracle_saved_rsp(%rip)\n"
	"pushq oracle_in+128(%rip)\n"
	"popfq\n"
	LOAD(0, rax) LOAD(1, rcx) LOAD(2, rdx) LOAD(3, rbx)
	LOAD(5, rbp) LOAD(6, rsi) LOAD(7, rdi) LOAD(8, r8) LOAD(9, r9)
	LOAD(10, r10) LOAD(11, r11) LOAD(12, r12) LOAD(13, r13)
	LOAD(14, r14) LOAD(15, r15)
	"call *oracle_target(%rip)\n"
	STORE(0, rax) STORE(1, rcx) STORE(2, rdx) STORE(3, rbx)
	STORE(5, rbp) STORE(6, rsi) STORE(7, rdi) STORE(8, r8) STORE(9, r9)
	STORE(10, r10) STORE(11, r11) STORE(12, r12) STORE(13, r13)
	STORE(14, r14) STORE(15, r15)
	"pushfq\n"
	"popq oracle_out+128(%rip)\n"
	"cld\n"
	"mov oracle_saved_rsp(%rip), %rsp\n"
	"pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
	"ret\n");

/* ---- random numbers -------------------------------------------------------- */

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

/* Operand values that reach the interesting flag cases often. */
static uint64_t rnd_value(void)
{
	static const uint64_t special[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, 0x7fffffffffffffffULL,
		0x8000000000000000ULL, ~0ULL, 0x0f, 0x10,
	};
	uint64_t v;

	switch (rnd_below(4)) {
	case 0:
		return special[rnd_below(sizeof(special) / sizeof(special[0]))];
	case 1:
		v = special[rnd_below(sizeof(special) / sizeof(special[0]))];
		return v + rnd_below(3) - 1;
	default:
		return rnd();
	}
}

/* ---- memory: native buffer at DATA_BASE, emulator copy ---------------------- */

static uint8_t *native_data;
static uint8_t emu_data[DATA_SIZE];
static uint8_t *code_page;
static uint8_t emu_code[32];
static uint8_t initial_window[2 * WINDOW];

static int emu_read_phys(struct emul_ctx *ctx, uint64_t gpa, void *buf,
			 unsigned int len)
{
	(void)ctx;
	if (gpa >= DATA_BASE && gpa + len <= DATA_BASE + DATA_SIZE) {
		memcpy(buf, emu_data + (gpa - DATA_BASE), len);
		return EMUL_OK;
	}
	if (gpa >= CODE_GPA && gpa + len <= CODE_GPA + sizeof(emu_code)) {
		memcpy(buf, emu_code + (gpa - CODE_GPA), len);
		return EMUL_OK;
	}
	return EMUL_NOT_RAM;
}

static int emu_write_phys(struct emul_ctx *ctx, uint64_t gpa, const void *buf,
			  unsigned int len)
{
	(void)ctx;
	if (gpa >= DATA_BASE && gpa + len <= DATA_BASE + DATA_SIZE) {
		memcpy(emu_data + (gpa - DATA_BASE), buf, len);
		return EMUL_OK;
	}
	return EMUL_NOT_RAM;
}

static int emu_cmpxchg_phys(struct emul_ctx *ctx, uint64_t gpa,
			    const void *old, const void *new_val,
			    unsigned int len)
{
	uint8_t cur[16];
	int rc = emu_read_phys(ctx, gpa, cur, len);

	if (rc != EMUL_OK)
		return rc;
	if (memcmp(cur, old, len))
		return EMUL_CMPXCHG_FAILED;
	return emu_write_phys(ctx, gpa, new_val, len);
}

static int emu_get_seg(struct emul_ctx *ctx, enum emul_segreg seg,
		       struct emul_seg *out)
{
	(void)ctx;
	*out = (struct emul_seg){ 0, 0xffffffff,
		seg == EMUL_CS ? 0x209b : 0x93, 0 };
	return EMUL_OK;
}

static const struct emul_ops emu_ops = {
	.read_phys = emu_read_phys,
	.write_phys = emu_write_phys,
	.cmpxchg_phys = emu_cmpxchg_phys,
	.get_seg = emu_get_seg,
};

/* ---- building one case -------------------------------------------------------- */

struct form {
	uint8_t map, op;
	int8_t digit;		/* group ModRM.reg, or -1 */
	const struct emul_opdesc *desc;
	uint8_t size_pfx;	/* 0, 0x66 or 0x48 */
	bool mem;		/* memory operand (ModRM forms) */
	uint8_t rep;		/* string forms: 0, 0xf3 or 0xf2 */
	char name[48];
};

struct gen {
	uint8_t b[32];
	unsigned int n;
	uint8_t rex;
	bool rex_ok;		/* a REX prefix is present */
	uint64_t target;	/* address of the memory operand */
	bool used[16];		/* registers fixed by the addressing */
};

static bool is_string(const struct form *f)
{
	return f->desc->flags & EMUL_F_STRING;
}

static bool has_moffs(const struct form *f)
{
	return (f->desc->dst & EMUL_OK_MASK) == EMUL_OK_MOFFS ||
	       (f->desc->src & EMUL_OK_MASK) == EMUL_OK_MOFFS;
}

/* A register number that is neither RSP nor already used; r8-r15 only
 * when the instruction has a REX prefix. */
static unsigned int pick_reg(const struct gen *g)
{
	for (;;) {
		unsigned int r = rnd_below(g->rex_ok ? 16 : 8);

		if (r != EMUL_RSP && !g->used[r])
			return r;
	}
}

/* A register operand: never RSP (or SPL); AH is fine for a byte operand
 * without REX. */
static unsigned int pick_operand_reg(const struct gen *g, bool byte_op)
{
	unsigned int r = rnd_below(g->rex_ok ? 16 : 8);

	if (r == 4 && !(byte_op && !g->rex_ok))
		r = 3;
	return r;
}

static void put_mem_modrm(struct gen *g, unsigned int regf, bool a32,
			  struct cpu_state *st)
{
	unsigned int base = pick_reg(g), mod = 1 + rnd_below(2);
	int64_t disp = (int64_t)rnd_below(129) - 64;
	uint64_t upper = a32 ? (rnd() << 32) : 0;

	g->used[base] = true;
	if (base & 8)
		g->rex |= EMUL_REX_B;
	g->target = CENTER + rnd_below(64) - 32;
	if ((base & 7) == 4 || rnd_below(3) == 0) {
		unsigned int idx = pick_reg(g), scale = rnd_below(4);
		uint64_t iv = rnd_below(8);

		g->used[idx] = true;
		if (idx & 8)
			g->rex |= EMUL_REX_X;
		g->b[g->n++] = (uint8_t)(mod << 6 | (regf & 7) << 3 | 4);
		g->b[g->n++] = (uint8_t)(scale << 6 | (idx & 7) << 3 | (base & 7));
		st->gpr[idx] = iv | upper;
		st->gpr[base] = (g->target - (iv << scale) - (uint64_t)disp) | upper;
	} else {
		g->b[g->n++] = (uint8_t)(mod << 6 | (regf & 7) << 3 | (base & 7));
		st->gpr[base] = (g->target - (uint64_t)disp) | upper;
	}
	g->b[g->n++] = (uint8_t)disp;
	if (mod == 2) {
		for (int i = 1; i < 4; i++)
			g->b[g->n++] = disp < 0 ? 0xff : 0;
	}
}

static void put_reg_modrm(struct gen *g, unsigned int regf, bool byte_op)
{
	unsigned int rm = pick_operand_reg(g, byte_op);

	if (rm & 8)
		g->rex |= EMUL_REX_B;
	g->b[g->n++] = (uint8_t)(0xc0 | (regf & 7) << 3 | (rm & 7));
}

/* Whether the operand of the given kind (E or G) is a byte operand. */
static bool is_byte_operand(const struct emul_opdesc *d, unsigned int kind)
{
	if ((d->dst & EMUL_OK_MASK) == kind)
		return (d->dst >> EMUL_SZ_SHIFT) == EMUL_SZ_B;
	if ((d->src & EMUL_OK_MASK) == kind)
		return (d->src >> EMUL_SZ_SHIFT) == EMUL_SZ_B;
	return false;
}

static void put_modrm(const struct form *f, struct gen *g, struct cpu_state *st,
		      bool a32)
{
	unsigned int regf = (unsigned int)f->digit;

	if (f->digit < 0) {
		regf = pick_operand_reg(g, is_byte_operand(f->desc, EMUL_OK_G));
		if (regf & 8)
			g->rex |= EMUL_REX_R;
	}
	if (f->mem)
		put_mem_modrm(g, regf, a32, st);
	else
		put_reg_modrm(g, regf, is_byte_operand(f->desc, EMUL_OK_E));
}

/* The instruction for one case; registers in *st are filled where the
 * addressing needs them. Whether a REX prefix is present is decided
 * first, since it changes what byte-register numbers 4-7 mean. */
static void build_case(const struct form *f, struct gen *g,
		       struct cpu_state *st, bool *a32)
{
	const struct emul_opdesc *d = f->desc;
	unsigned int np = 0;

	memset(g, 0, sizeof(*g));
	*a32 = (f->mem || is_string(f) || has_moffs(f)) && rnd_below(8) == 0;
	if (f->size_pfx == 0x66)
		g->b[np++] = 0x66;
	if (*a32)
		g->b[np++] = 0x67;
	if (f->mem && (d->flags & EMUL_F_LOCK) && rnd_below(3) == 0)
		g->b[np++] = 0xf0;
	if (f->rep)
		g->b[np++] = f->rep;
	g->rex_ok = f->size_pfx == 0x48 || rnd_below(3) == 0;
	g->rex = f->size_pfx == 0x48 ? EMUL_REX_W : 0;
	/* An opcode-register form with low bits 100 names rSP (or SPL):
	 * use REX.B to make it r12, or AH for a byte form without REX. */
	if ((d->dst & EMUL_OK_MASK) == EMUL_OK_OPREG && (f->op & 7) == 4 &&
	    (g->rex_ok || !is_byte_operand(d, EMUL_OK_OPREG))) {
		g->rex_ok = true;
		g->rex |= EMUL_REX_B;
	}
	g->n = np + g->rex_ok;
	if (f->map)
		g->b[g->n++] = 0x0f;
	g->b[g->n++] = f->op;
	if (d->flags & EMUL_F_MODRM) {
		put_modrm(f, g, st, *a32);
	} else if (has_moffs(f)) {
		g->target = CENTER + rnd_below(64) - 32;
		for (int i = 0; i < (*a32 ? 4 : 8); i++)
			g->b[g->n++] = (uint8_t)(g->target >> (8 * i));
	} else if ((d->dst & EMUL_OK_MASK) == EMUL_OK_OPREG && g->rex_ok &&
		   rnd_below(2)) {
		g->rex |= EMUL_REX_B;
	}
	for (int i = 0; i < 8; i++)		/* immediate bytes, if any */
		g->b[g->n + i] = (uint8_t)rnd_value();
	if (g->rex_ok)
		g->b[np] = (uint8_t)(EMUL_REX_PRESENT | g->rex);
}

/* ---- per-case setup of registers and memory ------------------------------------ */

static void random_window(void)
{
	for (int i = 0; i < 2 * WINDOW; i++)
		initial_window[i] = (uint8_t)(rnd_below(4) ? rnd() : 0);
}

static uint64_t window_read(uint64_t addr, unsigned int n)
{
	uint64_t v = 0;

	memcpy(&v, initial_window + (addr - (CENTER - WINDOW)), n);
	return v;
}

/* Fixes the registers that the form uses implicitly. */
static void setup_implicit(const struct form *f, const struct emul_insn *in,
			   struct cpu_state *st, const struct gen *g)
{
	unsigned int h = in->handler, size = in->dst.size;

	if (is_string(f)) {
		st->gpr[EMUL_RSI] = CENTER - 64 + rnd_below(128);
		st->gpr[EMUL_RDI] = CENTER - 64 + rnd_below(128);
		st->gpr[EMUL_RCX] = rnd_below(9) | (in->addrsize == 4 ? rnd() << 32 : 0);
		if (rnd_below(2))	/* equal runs for CMPS/SCAS */
			memcpy(initial_window + (st->gpr[EMUL_RDI] & 0xffffffff) - (CENTER - WINDOW),
			       initial_window + (st->gpr[EMUL_RSI] & 0xffffffff) - (CENTER - WINDOW), 16);
		if (rnd_below(2))
			st->gpr[EMUL_RAX] = window_read(st->gpr[EMUL_RDI] & 0xffffffff, 8);
		return;
	}
	if (in->dst.kind == EMUL_OPND_MEM && rnd_below(2) &&
	    (h == EMUL_H_CMPXCHG || h == EMUL_H_CMPXCHG8B) && !g->used[EMUL_RAX]) {
		st->gpr[EMUL_RAX] = window_read(g->target, size >= 8 ? 8 : size);
		if (h == EMUL_H_CMPXCHG8B && !g->used[EMUL_RDX])
			st->gpr[EMUL_RDX] = size == 16 ? window_read(g->target + 8, 8)
							: window_read(g->target + 4, 4);
	}
}

/* BT with a register bit offset into memory: keep the offset small, and
 * keep the offset register apart from the address registers. */
static bool setup_bt(const struct emul_insn *in, struct cpu_state *st,
		     const struct gen *g)
{
	if (in->handler < EMUL_H_BT || in->handler > EMUL_H_BTC ||
	    in->dst.kind != EMUL_OPND_MEM || in->src.kind != EMUL_OPND_REG)
		return true;
	if (g->used[in->src.reg])
		return false;
	st->gpr[in->src.reg] = (uint64_t)((int64_t)rnd_below(1024) - 512);
	return true;
}

/* CMPXCHG16B wants a 16-byte aligned operand; mostly give it one. */
static bool align_target(const struct emul_insn *in, struct gen *g,
			 struct cpu_state *st)
{
	uint64_t delta;

	if (in->handler != EMUL_H_CMPXCHG8B || in->dst.size != 16 ||
	    rnd_below(8) == 0)
		return false;
	delta = g->target & 15;
	g->target -= delta;
	st->gpr[in->mem.base] -= delta;
	return true;
}

/* ---- running both ----------------------------------------------------------------- */

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	(void)sig;
	siglongjmp(fault_jmp, 1);
}

static bool run_native(const uint8_t *code, unsigned int len)
{
	memcpy(code_page, code, len);
	code_page[len] = 0xc3;
	oracle_target = code_page;
	if (sigsetjmp(fault_jmp, 1))
		return false;
	oracle_native_run();
	return true;
}

static int run_emulated(const uint8_t *code, unsigned int len,
			struct emul_ctx *ctx)
{
	int rc = EMUL_OK;

	memcpy(emu_code, code, len);
	memset(ctx, 0, sizeof(*ctx));
	ctx->ops = &emu_ops;
	memcpy(ctx->gpr, oracle_in.gpr, sizeof(ctx->gpr));
	ctx->gpr[EMUL_RSP] = 0x7ff0;
	ctx->rflags = oracle_in.rflags;
	ctx->rip = CODE_GPA;
	ctx->cr0 = EMUL_CR0_PE;
	ctx->efer = EMUL_EFER_LME | EMUL_EFER_LMA;
	ctx->cpl = 3;
	/* REP string instructions may take several batches. */
	for (int i = 0; i < 64 && ctx->rip == CODE_GPA && rc == EMUL_OK; i++)
		rc = emul_step(ctx);
	return rc;
}

/* What compare_states checks: per general register, the bits the
 * architecture defines after this case; the arithmetic flags it defines. */
struct defined {
	uint64_t gpr[16];
	uint64_t flags;
};

static struct defined defined_now;

static bool is_logic(unsigned int h)
{
	return h == EMUL_H_AND || h == EMUL_H_OR || h == EMUL_H_XOR ||
	       h == EMUL_H_TEST;
}

static bool is_bit_test(unsigned int h)
{
	return h == EMUL_H_BT || h == EMUL_H_BTS || h == EMUL_H_BTR ||
	       h == EMUL_H_BTC;
}

/* The results the SDM defines for this instruction and input:
 * - AND/OR/XOR/TEST leave AF undefined (SDM Vol. 2, each instruction's
 *   "Flags Affected"); BT/BTS/BTR/BTC leave OF, SF, AF and PF undefined;
 *   so do IMUL, BSF/BSR and SHLD/SHRD theirs (undefined_flags), and
 *   BSF/BSR of 0 the destination, SHLD/SHRD of 16 bits by more than 16
 *   the result (result_undefined).
 * - A REP string instruction with a 32-bit address size and ECX = 0 does
 *   nothing; whether it still writes ECX/ESI/EDI (clearing the upper
 *   halves) differs between processors: only the low halves are defined.
 *   Intel parts clear RCX, AMD Zen 4 keeps it. */
static uint64_t undefined_flags(const struct emul_insn *in);

static void defined_results(const struct emul_insn *in,
			    const struct cpu_state *st, struct defined *d)
{
	for (int i = 0; i < 16; i++)
		d->gpr[i] = ~0ULL;
	d->flags = CMP_FLAGS & ~undefined_flags(in);
	if (is_logic(in->handler))
		d->flags &= ~EMUL_RFLAGS_AF;
	if (is_bit_test(in->handler))
		d->flags &= ~(EMUL_RFLAGS_OF | EMUL_RFLAGS_SF | EMUL_RFLAGS_AF |
			      EMUL_RFLAGS_PF);
	if ((in->prefixes & (EMUL_PFX_REP | EMUL_PFX_REPNE)) &&
	    in->addrsize == 4 && (uint32_t)st->gpr[EMUL_RCX] == 0) {
		d->gpr[EMUL_RCX] = 0xffffffffULL;
		d->gpr[EMUL_RSI] = 0xffffffffULL;
		d->gpr[EMUL_RDI] = 0xffffffffULL;
	}
}

struct result {
	uint64_t cases, native_faults;
	char why[200];
	bool failed;
};

static void __attribute__((format(printf, 2, 3)))
note(struct result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	r->failed = true;
}

/* SHL/SHR/SAR: AF always, OF but for a count of 1, CF for a count at
 * or past the operand's width (SDM Vol. 2B "SAL/SAR/SHL/SHR"). */
static uint64_t shift_undefined_flags(const struct emul_insn *in)
{
	uint64_t count = in->src.kind == EMUL_OPND_IMM ? in->imm :
			 in->opcode <= 0xd1 ? 1 : oracle_in.gpr[EMUL_RCX];
	uint64_t f = EMUL_RFLAGS_AF;

	count &= in->dst.size == 8 ? 63 : 31;
	if (count != 1)
		f |= EMUL_RFLAGS_OF;
	if (count >= 8u * in->dst.size)
		f |= EMUL_RFLAGS_CF;
	return f;
}

/* Flags the SDM leaves undefined where Keel follows the Bochs CPU models
 * (emul/alu.c) rather than the processor these tests run on. */
static uint64_t undefined_flags(const struct emul_insn *in)
{
	switch (in->handler) {
	case EMUL_H_SHL: case EMUL_H_SHR: case EMUL_H_SAR:
		return shift_undefined_flags(in);
	case EMUL_H_IMUL:
		return EMUL_RFLAGS_SF | EMUL_RFLAGS_ZF | EMUL_RFLAGS_AF |
		       EMUL_RFLAGS_PF;
	case EMUL_H_BSF: case EMUL_H_BSR:
		return EMUL_RFLAGS_ARITH & ~EMUL_RFLAGS_ZF;
	case EMUL_H_SHLD: case EMUL_H_SHRD:
		return EMUL_RFLAGS_AF | EMUL_RFLAGS_OF;
	case EMUL_H_MUL: case EMUL_H_IMUL1:
		return EMUL_RFLAGS_SF | EMUL_RFLAGS_ZF | EMUL_RFLAGS_AF |
		       EMUL_RFLAGS_PF;
	case EMUL_H_DIV: case EMUL_H_IDIV:
		return EMUL_RFLAGS_ARITH;
	default:
		return 0;
	}
}

/* SHLD/SHRD of 16 bits by more than 16: result and flags undefined. */
static bool result_undefined(const struct emul_insn *in)
{
	uint64_t count = (in->flags & EMUL_F_IMM8) ? in->imm
						   : oracle_in.gpr[EMUL_RCX];

	return (in->handler == EMUL_H_SHLD || in->handler == EMUL_H_SHRD) &&
	       in->dst.size == 2 && (count & 31) > 16;
}

static void compare_states(struct result *r, const struct emul_ctx *ctx,
			   unsigned int len)
{
	if (result_undefined(&ctx->insn))
		return;
	/* BSF/BSR of 0 (ZF set): the destination is undefined. */
	if ((ctx->insn.handler == EMUL_H_BSF || ctx->insn.handler == EMUL_H_BSR) &&
	    (oracle_out.rflags & EMUL_RFLAGS_ZF))
		defined_now.gpr[ctx->insn.dst.reg] = 0;

	for (int i = 0; i < 16; i++) {
		if (i != EMUL_RSP &&
		    ((ctx->gpr[i] ^ oracle_out.gpr[i]) & defined_now.gpr[i])) {
			note(r, "gpr %d: emul %" PRIx64 " cpu %" PRIx64 " (in %" PRIx64 ")",
			     i, ctx->gpr[i], oracle_out.gpr[i], oracle_in.gpr[i]);
			return;
		}
	}
	if ((ctx->rflags ^ oracle_out.rflags) & defined_now.flags)
		note(r, "flags: emul %" PRIx64 " cpu %" PRIx64 " (in %" PRIx64 ")",
		     (uint64_t)(ctx->rflags & defined_now.flags),
		     (uint64_t)(oracle_out.rflags & defined_now.flags),
		     (uint64_t)(oracle_in.rflags & defined_now.flags));
	else if (ctx->rip != CODE_GPA + len)
		note(r, "rip: emul %" PRIx64 " want %" PRIx64, ctx->rip,
		     (uint64_t)(CODE_GPA + len));
	else if (memcmp(emu_data + (CENTER - WINDOW - DATA_BASE),
			native_data + (CENTER - WINDOW - DATA_BASE), 2 * WINDOW))
		note(r, "memory differs");
}

static void append_bytes(struct result *r, const uint8_t *b, unsigned int n)
{
	size_t k = strlen(r->why);

	for (unsigned int i = 0; i < n && k + 4 < sizeof(r->why); i++)
		k += (size_t)snprintf(r->why + k, sizeof(r->why) - k, " %02x", b[i]);
}

static void check_case(struct result *r, bool native_ok, int rc,
		       const struct emul_ctx *ctx, unsigned int len)
{
	r->cases++;
	if (!native_ok) {
		r->native_faults++;
		if (rc != EMUL_EXCEPTION)
			note(r, "cpu faulted, emulator returned %d", rc);
		return;
	}
	if (rc != EMUL_OK) {
		note(r, "emulator returned %d (vector %u)", rc, ctx->exc.vector);
		return;
	}
	compare_states(r, ctx, len);
}

static void run_case(const struct form *f, struct result *r)
{
	struct cpu_state st;
	struct emul_insn in;
	struct emul_exception exc;
	struct emul_ctx ctx;
	struct gen g;
	bool a32, native_ok;
	int rc;

	for (int i = 0; i < 16; i++)
		st.gpr[i] = rnd_value();
	st.rflags = EMUL_RFLAGS_FIXED | (rnd() & CMP_FLAGS);
	build_case(f, &g, &st, &a32);
	if (emul_decode(&in, g.b, sizeof(g.b), 64, &exc) != EMUL_OK) {
		note(r, "Keel does not decode its own form:");
		append_bytes(r, g.b, 8);
		return;
	}
	random_window();
	align_target(&in, &g, &st);
	setup_implicit(f, &in, &st, &g);
	if (!setup_bt(&in, &st, &g))
		return;			/* not a usable case; draw again */
	oracle_in = st;
	defined_results(&in, &st, &defined_now);
	memcpy(native_data + (CENTER - WINDOW - DATA_BASE), initial_window, 2 * WINDOW);
	memcpy(emu_data + (CENTER - WINDOW - DATA_BASE), initial_window, 2 * WINDOW);
	native_ok = run_native(g.b, in.len);
	rc = run_emulated(g.b, in.len, &ctx);
	check_case(r, native_ok, rc, &ctx, in.len);
	if (r->failed)
		append_bytes(r, g.b, in.len);
}

/* ---- forms from the tables ------------------------------------------------------------ */

static bool runs_in_user_mode(const struct emul_opdesc *d)
{
	switch (d->handler) {
	case EMUL_H_PUSH: case EMUL_H_POP: case EMUL_H_INS: case EMUL_H_OUTS:
	case EMUL_H_RET: case EMUL_H_LEAVE:     /* the oracle's own stack */
	case EMUL_H_ENTER:
	case EMUL_H_SMSW: case EMUL_H_LMSW:     /* CR0: UMIP, CPL 0 */
	case EMUL_H_LTR:                        /* CPL 0 */
	case EMUL_H_MOV_FROM_CR: case EMUL_H_MOV_TO_CR:
	case EMUL_H_LGDT: case EMUL_H_LIDT: case EMUL_H_CLI:
	case EMUL_H_IN: case EMUL_H_OUT:        /* I/O privilege */
	case EMUL_H_PUSHF: case EMUL_H_POPF:    /* the oracle's own stack */
	case EMUL_H_CPUID: case EMUL_H_RDMSR:   /* the VMM's answers, CPL 0 */
	case EMUL_H_WRMSR: case EMUL_H_WBINVD:
	case EMUL_H_MOVXMM:     /* XMM registers: not in the oracle's state */
	case EMUL_H_MOVMMX:     /* nor the MMX registers */
	case EMUL_H_MOV_FROM_SREG: case EMUL_H_MOV_TO_SREG:
				/* nor segment registers, GDT or LDT */
	case EMUL_H_JMP: case EMUL_H_CALL:	/* control leaves the page */
	case EMUL_H_JCC:
	case EMUL_H_JMP_FAR: case EMUL_H_CALL_FAR:
		return false;
	default:
		return !(d->flags & EMUL_F_NO64);
	}
}

static int passed, failed;
static uint64_t total_cases;
static const char *only;		/* run only forms whose name has this */

static void run_form(struct form *f)
{
	struct result r = { 0 };
	const char *kind = f->rep == 0xf3 ? "rep" : f->rep == 0xf2 ? "repne"
			   : (f->desc->flags & EMUL_F_STRING) ? "str"
			   : has_moffs(f) ? "moffs" : f->mem ? "mem" : "reg";

	if (f->digit >= 0)
		snprintf(f->name, sizeof(f->name), "%s%02x/%d_%s_%s",
			 f->map ? "0f" : "", f->op, f->digit,
			 f->size_pfx == 0x66 ? "o16" : f->size_pfx == 0x48 ? "rexw" : "def",
			 kind);
	else
		snprintf(f->name, sizeof(f->name), "%s%02x_%s_%s",
			 f->map ? "0f" : "", f->op,
			 f->size_pfx == 0x66 ? "o16" : f->size_pfx == 0x48 ? "rexw" : "def",
			 kind);
	if (only && !strstr(f->name, only))
		return;
	for (long i = 0; i < iterations && !r.failed; i++)
		run_case(f, &r);
	total_cases += r.cases;
	printf("%s %s (%" PRIu64 " cases%s)%s%s\n", r.failed ? "FAIL" : "PASS",
	       f->name, r.cases,
	       r.native_faults ? ", some faulting on both sides" : "",
	       r.failed ? ": " : "", r.failed ? r.why : "");
	r.failed ? failed++ : passed++;
}

static void run_variants(uint8_t map, uint8_t op, int8_t digit,
			 const struct emul_opdesc *d)
{
	static const uint8_t size_pfx[3] = { 0, 0x66, 0x48 };
	static const uint8_t rep_pfx[3] = { 0, 0xf3, 0xf2 };
	bool str = d->flags & EMUL_F_STRING;

	if (!runs_in_user_mode(d))
		return;
	for (int s = 0; s < 3; s++) {
		for (int m = 0; m < (str ? 3 : 2); m++) {
			struct form f = { map, op, digit, d, size_pfx[s], false, 0, "" };

			if ((d->flags & EMUL_F_NOSIMD) && size_pfx[s] == 0x66)
				continue;
			if (str) {
				f.rep = rep_pfx[m];
			} else {
				f.mem = m == 1;
				if (!(d->flags & EMUL_F_MODRM) && f.mem)
					continue;
				if ((d->flags & EMUL_F_MEMONLY) && !f.mem)
					continue;
			}
			run_form(&f);
		}
	}
}

static void run_table(void)
{
	for (unsigned int map = 0; map < 2; map++) {
		const struct emul_opdesc *t = map ? emul_twobyte_table
						  : emul_onebyte_table;

		for (unsigned int op = 0; op < 256; op++) {
			const struct emul_opdesc *d = &t[op];

			if (d->flags & EMUL_F_GROUP) {
				for (int r = 0; r < 8; r++)
					if (emul_group_table[d->handler][r].handler)
						run_variants((uint8_t)map, (uint8_t)op, (int8_t)r,
							     &emul_group_table[d->handler][r]);
			} else if (d->handler != EMUL_H_NONE) {
				run_variants((uint8_t)map, (uint8_t)op, -1, d);
			}
		}
	}
}

static void print_cpu(void)
{
	unsigned int a = 0, b = 0, c = 0, d = 0;
	char vendor[13];

	__get_cpuid(0, &a, &b, &c, &d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	vendor[12] = 0;
	__get_cpuid(1, &a, &b, &c, &d);
	printf("host processor: %s (family 0x%x model 0x%x)\n", vendor,
	       (a >> 8 & 0xf) + (a >> 20 & 0xff), (a >> 4 & 0xf) | (a >> 12 & 0xf0));
	printf("compared: architecturally defined results only (not undefined flags,\n"
	       "  nor RCX/RSI/RDI upper halves after a 32-bit-address REP with zero count)\n");
}

static void setup_memory(void)
{
	struct sigaction sa;

	native_data = mmap((void *)DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	code_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (native_data != (void *)DATA_BASE || code_page == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);           /* #DE: DIV, IDIV */
}

int main(int argc, char **argv)
{
	const char *cases = getenv("KEEL_ORACLE_CASES");

	if (cases && atol(cases) > 0)
		iterations = atol(cases);
	if (argc > 1)
		only = argv[1];
	setup_memory();
	print_cpu();
	run_table();
	printf("%" PRIu64 " cases compared\n", total_cases);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
