/* Shared internals of emul/: memory access layer, register access, ALU.
 * Not part of the public API (emul/emul.h). */
#ifndef KEEL_EMUL_INTERNAL_H
#define KEEL_EMUL_INTERNAL_H

#include "emul/emul.h"
#include "emul/opcodes.h"
#include "emul/walk.h"

#define EMUL_PAGE_SIZE	4096u

/* ---- faults ------------------------------------------------------------ */

int emul_fault(struct emul_ctx *ctx, uint8_t vector, bool has_ec,
	       uint32_t ec);

static inline int emul_gp0(struct emul_ctx *ctx)
{
	return emul_fault(ctx, EMUL_VEC_GP, true, 0);
}

/* ---- segments and linear memory (emul/mem.c) ----------------------------- */

int emul_get_seg(struct emul_ctx *ctx, unsigned int seg,
		 const struct emul_seg **out);

/* A data access checked by segmentation and translated by paging. An
 * access crossing a page boundary has two physical fragments.
 *
 *   la                       page boundary           la + len
 *   |<------- len0 --------->|<---- len - len0 ----->|
 *   gpa[0]                   gpa[1]
 */
struct emul_xlat {
	uint64_t la;
	uint64_t gpa[2];
	uint8_t len;
	uint8_t len0;
};

/* acc: 0 (read) or EMUL_ACC_WRITE; the user bit follows CPL. */
int emul_mem_xlat(struct emul_ctx *ctx, unsigned int seg, uint64_t ea,
		  unsigned int len, unsigned int acc, struct emul_xlat *x);
int emul_mem_read(struct emul_ctx *ctx, const struct emul_xlat *x,
		  void *buf);
int emul_mem_write(struct emul_ctx *ctx, const struct emul_xlat *x,
		   const void *buf);
/* Writes new_val if memory still holds old: atomically on RAM when the
 * VMM provides cmpxchg_phys and the access is within one page, else as a
 * plain write. EMUL_CMPXCHG_FAILED when memory changed. */
int emul_mem_cmpxchg(struct emul_ctx *ctx, const struct emul_xlat *x,
		     const void *old, const void *new_val);

/* Translates a linear address for an implicit supervisor access (a
 * descriptor table, SDM Vol. 3A 4.6), without segmentation. */
int emul_mem_xlat_linear(struct emul_ctx *ctx, uint64_t la, unsigned int len,
			 unsigned int acc, struct emul_xlat *x);

/* Reads len bytes at seg:ea in one go (translate + read). */
int emul_mem_load(struct emul_ctx *ctx, unsigned int seg, uint64_t ea,
		  unsigned int len, void *buf);

/* Fetches and decodes the instruction at CS:RIP into ctx->insn. */
int emul_fetch_decode(struct emul_ctx *ctx);

/* ---- instruction cache (emul/icache.c) -------------------------------- */

/* True, with ctx->insn filled, when a line holds the instruction at la
 * (fetched with avail bytes allowed, all in la's page) and nothing it
 * was fetched and decoded from has changed. */
bool emul_icache_hit(struct emul_ctx *ctx, uint64_t la, unsigned int avail);
/* Keeps ctx->insn, just decoded from la's page through path. */
void emul_icache_fill(struct emul_ctx *ctx, uint64_t la,
		      const struct emul_walk_path *path);

/* ---- registers ------------------------------------------------------------ */

static inline uint64_t emul_size_mask(unsigned int size)
{
	return size >= 8 ? ~0ULL : BIT_ULL(8 * size) - 1;
}

static inline uint64_t emul_sign_bit(unsigned int size)
{
	return BIT_ULL(8 * size - 1);
}

static inline uint64_t emul_sext(uint64_t v, unsigned int size)
{
	if (size >= 8)
		return v;
	v &= emul_size_mask(size);
	return (v & emul_sign_bit(size)) ? v | ~emul_size_mask(size) : v;
}

uint64_t emul_reg_get(const struct emul_ctx *ctx, const struct emul_operand *op);
/* 32-bit writes zero-extend into the full register, 8/16-bit writes keep
 * the rest (SDM Vol. 1 3.4.1.1). */
void emul_reg_set(struct emul_ctx *ctx, const struct emul_operand *op,
		  uint64_t val);
void emul_gpr_set(struct emul_ctx *ctx, unsigned int reg, unsigned int size,
		  uint64_t val);

/* Effective address of insn->mem, truncated to the address size. */
uint64_t emul_ea(const struct emul_ctx *ctx);

/* Adds delta to register reg as an address-size wide counter/pointer. */
void emul_gpr_add(struct emul_ctx *ctx, unsigned int reg, unsigned int size,
		  int64_t delta);

/* Completes the instruction: RIP to the next one, or to a branch's
 * target (emul_jump); RF cleared. */
void emul_advance_rip(struct emul_ctx *ctx);
void emul_jump(struct emul_ctx *ctx, uint64_t target);

/* ---- ALU (emul/alu.c) ------------------------------------------------------ */

/* Computes dst OP src for ALU handlers ADD..CMP, TEST, INC, DEC, NEG on
 * operands of size bytes and updates the arithmetic flags in *rflags. */
uint64_t emul_alu(unsigned int handler, uint64_t dst, uint64_t src,
		  unsigned int size, uint64_t *rflags);
/* Condition code cc (low nibble of Jcc/SETcc/CMOVcc) against rflags. */
bool emul_cond(unsigned int cc, uint64_t rflags);
/* IMUL's truncated signed product, with CF/OF and the flags *fl gets. */
uint64_t emul_imul(uint64_t a, uint64_t b, unsigned int size, uint64_t *fl);
/* BSF (reverse false) / BSR: the bit index; *found false for a zero src. */
uint64_t emul_bitscan(bool reverse, uint64_t src, unsigned int size,
		      uint64_t *fl, bool *found);
/* SHL SHR SAR (handler) of dst by count; flags as emul_shxd. */
uint64_t emul_shift(unsigned int handler, uint64_t dst, unsigned int count,
		    unsigned int size, uint64_t *fl);
/* MUL IMUL1 DIV IDIV on rAX/rDX; false for #DE. */
bool emul_muldiv(unsigned int handler, uint64_t *ax, uint64_t *dx,
		 uint64_t src, unsigned int size, uint64_t *fl);
/* SHLD (right false) / SHRD of dst by count, bits from src. */
uint64_t emul_shxd(bool right, uint64_t dst, uint64_t src, unsigned int count,
		   unsigned int size, uint64_t *fl);

/* Canonical for the guest's linear-address width (48, or 57 with LA57). */
bool emul_is_canonical(const struct emul_ctx *ctx, uint64_t la);

/* ---- stack (emul/exec.c) ------------------------------------------------------ */

/* Stack-pointer width in bytes: 8 in 64-bit mode, else by SS.B. */
int emul_stack_width(struct emul_ctx *ctx, unsigned int *size);
/* rSP + delta at that width; the bits above it are kept. */
uint64_t emul_stack_add(uint64_t rsp, unsigned int width, int64_t delta);
/* A near branch target: canonical in 64-bit mode, else within CS. */
int emul_check_near_target(struct emul_ctx *ctx, uint64_t target);

/* ---- selectors and descriptors (emul/desc.c) ---------------------------------- */

#define EMUL_SEL_RPL		0x3u
#define EMUL_SEL_TI		0x4u
#define EMUL_SEL_INDEX		0xfff8u
#define EMUL_DESC_ACCESSED	BIT_ULL(40)

int emul_sel_fault(struct emul_ctx *ctx, uint8_t vector, uint16_t sel);
/* Reads the len-byte (8, or 16 for an IA-32e system descriptor)
 * descriptor sel names in the GDT or LDT as a supervisor access acc;
 * #GP(sel) past the table's limit. x is where it was found. */
int emul_read_desc(struct emul_ctx *ctx, uint16_t sel, unsigned int len,
		   unsigned int acc, uint64_t desc[2], struct emul_xlat *x);
/* Base 31:0, and 63:32 from the upper half when wide. */
uint64_t emul_desc_base(const uint64_t desc[2], bool wide);
struct emul_seg emul_desc_seg(uint16_t sel, const uint64_t desc[2], bool wide);
/* Sets the accessed bit of the descriptor desc[0] found at linear la. */
int emul_desc_set_accessed(struct emul_ctx *ctx, const uint64_t desc[2],
			   uint64_t la);
/* Loads segment register seg through ops->set_seg and the cache. */
int emul_set_seg(struct emul_ctx *ctx, unsigned int seg,
		 const struct emul_seg *val);

/* ---- segment loads and far branches (emul/segload.c, emul/branch.c) ---------- */

int emul_exec_mov_to_sreg(struct emul_ctx *ctx);
int emul_exec_far_branch(struct emul_ctx *ctx);

/* ---- MMX moves (emul/sse.c) --------------------------------------------------- */

int emul_exec_movmmx(struct emul_ctx *ctx);

/* ---- string instructions (emul/strops.c) ----------------------------------- */

int emul_exec_string(struct emul_ctx *ctx);
/* IN/OUT permission (SDM Vol. 1 19.5): #GP(0) unless CPL <= IOPL (or
 * real mode) or the TSS I/O bitmap allows the access. */
int emul_io_check(struct emul_ctx *ctx, uint16_t port, unsigned int size);

/* ---- SSE moves (emul/sse.c) ------------------------------------------------- */

int emul_exec_movxmm(struct emul_ctx *ctx);

/* ---- system instructions (emul/system.c) ------------------------------------- */

int emul_exec_ltr(struct emul_ctx *ctx);
int emul_exec_mov_from_cr(struct emul_ctx *ctx);
int emul_exec_mov_to_cr(struct emul_ctx *ctx);
int emul_exec_lgdt(struct emul_ctx *ctx);	/* LGDT and LIDT */
int emul_exec_cli(struct emul_ctx *ctx);
int emul_exec_in_out(struct emul_ctx *ctx);
int emul_exec_cpuid(struct emul_ctx *ctx);
int emul_exec_msr(struct emul_ctx *ctx);	/* RDMSR and WRMSR */
int emul_exec_wbinvd(struct emul_ctx *ctx);

#endif
