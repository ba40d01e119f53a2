/* libFuzzer target for emul/: random CPU state, registers, instruction
 * bytes and guest memory (including page tables) through emul_decode()
 * and emul_step() with a fake memory backend. Checks that the emulator
 * never crashes, never reads or writes outside what the ops give it, and
 * keeps its own invariants (decoded length 1..15, no state change on a
 * fault of a non-string instruction).
 *
 * Build: clang -g -O1 -DKEEL_HOST -I. -fsanitize=fuzzer,address,undefined
 *        -fno-sanitize-recover=undefined tests/fuzz/fuzz_emul.c emul/[a-z]*.c
 *
 * Input layout (missing bytes read as zero):
 *   [0..3]     mode and control bits (see setup_control)
 *   [4..131]   16 general registers
 *   [132..139] RFLAGS
 *   [140..147] RIP
 *   [148..163] segment limits/attributes seeds
 *   [164..178] instruction bytes (placed at RIP's physical address;
 *              D6 <n> selects the n-th claimed opcode instead)
 *   [179..]    guest RAM from address 0 (page tables live there) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emul/emul.h"
#include "emul/opcodes.h"
#include "emul/walk.h"

#define RAM_SIZE	0x10000u
#define OFF_REGS	4
#define OFF_RFLAGS	132
#define OFF_RIP		140
#define OFF_SEGS	148
#define OFF_CODE	164
#define OFF_RAM		179

struct fuzz_input {
	const uint8_t *data;
	size_t size;
};

static uint8_t ram[RAM_SIZE];

static uint64_t in_u64(const struct fuzz_input *in, size_t off)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8; i++)
		if (off + i < in->size)
			v |= (uint64_t)in->data[off + i] << (8 * i);
	return v;
}

static uint8_t in_u8(const struct fuzz_input *in, size_t off)
{
	return off < in->size ? in->data[off] : 0;
}

/* ---- fake backend: RAM below RAM_SIZE, everything else MMIO -------------- */

static bool in_ram(uint64_t gpa, unsigned int len)
{
	return gpa < RAM_SIZE && len <= RAM_SIZE - gpa;
}

static void check_len(unsigned int len)
{
	if (len == 0 || len > 16)
		abort();
}

static int f_read_phys(struct emul_ctx *ctx, uint64_t gpa, void *buf,
		       unsigned int len)
{
	(void)ctx;
	check_len(len);
	if (!in_ram(gpa, len))
		return EMUL_NOT_RAM;
	memcpy(buf, ram + gpa, len);
	return EMUL_OK;
}

static int f_write_phys(struct emul_ctx *ctx, uint64_t gpa, const void *buf,
			unsigned int len)
{
	(void)ctx;
	check_len(len);
	if (!in_ram(gpa, len))
		return EMUL_NOT_RAM;
	memcpy(ram + gpa, buf, len);
	return EMUL_OK;
}

static int f_cmpxchg_phys(struct emul_ctx *ctx, uint64_t gpa, const void *old,
			  const void *new_val, unsigned int len)
{
	(void)ctx;
	check_len(len);
	if (!in_ram(gpa, len))
		return EMUL_NOT_RAM;
	if (memcmp(ram + gpa, old, len))
		return EMUL_CMPXCHG_FAILED;
	memcpy(ram + gpa, new_val, len);
	return EMUL_OK;
}

static int f_mmio_read(struct emul_ctx *ctx, uint64_t gpa, void *buf,
		       unsigned int len)
{
	(void)ctx;
	check_len(len);
	if ((gpa & 0xfff) + len > 0x1000)
		abort();		/* accesses never cross a page */
	for (unsigned int i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(gpa * 31 + i);
	return (gpa & 0xff000) == 0xdead000 ? EMUL_UNHANDLEABLE : EMUL_OK;
}

static int f_mmio_write(struct emul_ctx *ctx, uint64_t gpa, const void *buf,
			unsigned int len)
{
	volatile uint8_t sink = 0;

	(void)ctx;
	check_len(len);
	if ((gpa & 0xfff) + len > 0x1000)
		abort();
	for (unsigned int i = 0; i < len; i++)
		sink ^= ((const uint8_t *)buf)[i];
	(void)sink;
	return EMUL_OK;
}

static int f_pio_in(struct emul_ctx *ctx, uint16_t port, unsigned int size,
		    uint32_t *val)
{
	(void)ctx;
	if (size != 1 && size != 2 && size != 4)
		abort();
	*val = port * 0x01010101u;
	return EMUL_OK;
}

static int f_pio_out(struct emul_ctx *ctx, uint16_t port, unsigned int size,
		     uint32_t val)
{
	(void)ctx;
	(void)port;
	(void)val;
	if (size != 1 && size != 2 && size != 4)
		abort();
	return EMUL_OK;
}

static bool f_io_allowed(struct emul_ctx *ctx, uint16_t port, unsigned int size)
{
	(void)ctx;
	(void)size;
	return port & 1;
}

/* Descriptor tables in the fuzzed RAM (GDT at 0x2000, a usable LDT at
 * 0x3000, both 64 KiB: limits past RAM reach MMIO); segment loads, MMX
 * registers and an x87 status word with a pending exception now and
 * then. */
static uint8_t mm_regs[8][8];

static int f_get_gdtr(struct emul_ctx *ctx, uint64_t *base, uint32_t *limit)
{
	(void)ctx;
	*base = 0x2000;
	*limit = 0xffff;
	return EMUL_OK;
}

static int f_get_ldtr(struct emul_ctx *ctx, struct emul_seg *out)
{
	*out = (struct emul_seg){ 0x3000, 0xffff, 0x82, 0x08 };
	if (ctx->gpr[EMUL_RBP] & 1)
		out->ar = EMUL_AR_UNUSABLE;
	return EMUL_OK;
}

static int f_set_seg(struct emul_ctx *ctx, enum emul_segreg seg,
		     const struct emul_seg *val)
{
	(void)ctx;
	if ((unsigned int)seg >= EMUL_SEG_NR || !val)
		abort();
	return EMUL_OK;
}

static int f_get_mm(struct emul_ctx *ctx, unsigned int reg, void *buf)
{
	(void)ctx;
	if (reg >= 8)
		abort();
	memcpy(buf, mm_regs[reg], 8);
	return EMUL_OK;
}

static int f_set_mm(struct emul_ctx *ctx, unsigned int reg, const void *buf)
{
	(void)ctx;
	if (reg >= 8)
		abort();
	memcpy(mm_regs[reg], buf, 8);
	return EMUL_OK;
}

static int f_get_fsw(struct emul_ctx *ctx, uint16_t *fsw)
{
	*fsw = (uint16_t)ctx->gpr[EMUL_RSI];
	return EMUL_OK;
}

static const struct emul_ops fuzz_ops = {
	.read_phys = f_read_phys,
	.write_phys = f_write_phys,
	.cmpxchg_phys = f_cmpxchg_phys,
	.mmio_read = f_mmio_read,
	.mmio_write = f_mmio_write,
	.pio_in = f_pio_in,
	.pio_out = f_pio_out,
	.io_allowed = f_io_allowed,
	.get_gdtr = f_get_gdtr,
	.get_ldtr = f_get_ldtr,
	.set_seg = f_set_seg,
	.get_mm = f_get_mm,
	.set_mm = f_set_mm,
	.get_fsw = f_get_fsw,
};

/* ---- state from the input ------------------------------------------------------ */

/* Byte 0 bits: 1:0 mode (real, 32-bit, 64-bit, compatibility),
 * 2 paging, 3 PAE, 4 LA57, 5 NXE, 6 PSE, 7 CPL 3.
 * Byte 1 bits: 0 WP, 1 AM, 2 SMEP, 3 SMAP, 4 PKE, 5 PDPTE registers,
 * 6 no cmpxchg op, 7 VM86. Byte 2: MAXPHYADDR. Byte 3: bits 5:0 PKRU
 * seed, 6 registers point into RAM, 7 identity page tables. */
static void setup_control(struct emul_ctx *ctx, const struct fuzz_input *in)
{
	uint8_t b0 = in_u8(in, 0), b1 = in_u8(in, 1), mode = b0 & 3;

	ctx->cr0 = mode ? EMUL_CR0_PE : 0;
	if ((b0 & 4) && mode)
		ctx->cr0 |= EMUL_CR0_PG;
	if (b1 & 1)
		ctx->cr0 |= EMUL_CR0_WP;
	if (b1 & 2)
		ctx->cr0 |= EMUL_CR0_AM;
	ctx->cr4 = ((b0 & 8) || mode >= 2 ? EMUL_CR4_PAE : 0) |
		   (b0 & 16 ? EMUL_CR4_LA57 : 0) | (b0 & 64 ? EMUL_CR4_PSE : 0) |
		   (b1 & 4 ? EMUL_CR4_SMEP : 0) | (b1 & 8 ? EMUL_CR4_SMAP : 0) |
		   (b1 & 16 ? EMUL_CR4_PKE : 0);
	ctx->efer = (mode >= 2 ? EMUL_EFER_LME | EMUL_EFER_LMA : 0) |
		    (b0 & 32 ? EMUL_EFER_NXE : 0);
	ctx->cpl = (b0 & 128) ? 3 : 0;
	ctx->maxphyaddr = in_u8(in, 2);
	ctx->pkru = (uint32_t)(in_u8(in, 3) & 63) * 0x01010101u;
	ctx->pdpte_valid = b1 & 32;
	for (int i = 0; i < 4; i++)
		ctx->pdpte[i] = in_u64(in, OFF_REGS + 8 * i) & ~0xffeULL;
	ctx->cr3 = 0;
}

/* Byte 3 bit 7: replace the paging structures with small identity tables
 * (flags from the segment seed bytes) so that walks reach the leaves. */
static void put_entry(uint64_t at, uint64_t v, unsigned int bytes)
{
	memcpy(ram + at, &v, bytes);
}

static uint64_t entry_flags(uint64_t seed, unsigned int i, bool wide)
{
	uint64_t f = EMUL_PTE_P | EMUL_PTE_RW | EMUL_PTE_US;

	seed >>= (i * 5) % 59;
	if ((seed & 7) == 0)
		f &= ~EMUL_PTE_P;
	if ((seed & 0x18) == 0x18)
		f &= ~EMUL_PTE_RW;
	if ((seed & 0x60) == 0x60)
		f &= ~EMUL_PTE_US;
	f |= (seed & 0x180) ? 0 : EMUL_PTE_A | EMUL_PTE_D;
	if (wide && (seed & 0x600) == 0x600)
		f |= EMUL_PTE_XD;
	if (wide && (seed & 0x1800) == 0x1800)
		f |= 3ULL << EMUL_PTE_PKEY_SHIFT;
	return f;
}

static void build_tables(struct emul_ctx *ctx, uint64_t seed)
{
	enum emul_paging m = emul_paging_mode(ctx);
	bool wide = m != EMUL_PAGING_32;
	unsigned int eb = wide ? 8 : 4;

	if (m == EMUL_PAGING_NONE)
		return;
	/* PD at 0xc000 and PT at 0xd000 in every mode. */
	put_entry(0xc000, 0xd000 | entry_flags(seed, 1, wide), eb);
	for (unsigned int i = 0; i < 16; i++)
		put_entry(0xd000 + eb * i, ((uint64_t)i << 12) |
			  entry_flags(seed, 2 + i, wide), eb);
	switch (m) {
	case EMUL_PAGING_32:
		ctx->cr3 = 0xc000;
		break;
	case EMUL_PAGING_PAE:
		put_entry(0xa000, 0xc000 | EMUL_PTE_P, 8);
		ctx->pdpte[0] = 0xc000 | EMUL_PTE_P;
		ctx->cr3 = 0xa000;
		break;
	default:
		put_entry(0xb000, 0xc000 | entry_flags(seed, 20, true), 8);
		put_entry(0xa000, 0xb000 | entry_flags(seed, 21, true), 8);
		put_entry(0x9000, 0xa000 | entry_flags(seed, 22, true), 8);
		ctx->cr3 = m == EMUL_PAGING_5LEVEL ? 0x9000 : 0xa000;
		break;
	}
}

static void setup_segments(struct emul_ctx *ctx, const struct fuzz_input *in)
{
	uint8_t mode = in_u8(in, 0) & 3;

	for (int s = 0; s < EMUL_SEG_NR; s++) {
		uint8_t seed = in_u8(in, OFF_SEGS + s);
		struct emul_seg *seg = &ctx->seg[s];

		seg->base = (seed & 1) ? (uint64_t)seed << 8 : 0;
		seg->limit = (seed & 2) ? 0xffff : 0xffffffff;
		seg->ar = 0x93 | ((seed & 4) ? EMUL_AR_DB : 0) |
			  ((seed & 8) ? EMUL_AR_TYPE_E : 0) |
			  ((seed & 16) ? EMUL_AR_UNUSABLE : 0) |
			  ((seed & 32) ? 0 : EMUL_AR_TYPE_W);
		seg->sel = seed;
	}
	ctx->seg[EMUL_CS].ar = 0x9b | (mode == 1 ? EMUL_AR_DB : 0) |
			       (mode == 2 ? EMUL_AR_L : 0);
	ctx->seg_valid = (1u << EMUL_SEG_NR) - 1;
}

/* Instruction bytes starting D6 (SALC, never claimed) name a claimed
 * opcode by index instead, so most inputs reach the executors:
 * D6 <index> <b2> ... becomes <opcode> <b2> ... or 0F <opcode> ... */
static const struct emul_opdesc *claimed_desc(unsigned int code)
{
	return code < 256 ? &emul_onebyte_table[code]
			  : &emul_twobyte_table[code - 256];
}

static void pick_claimed_opcode(const struct fuzz_input *in, uint64_t at)
{
	static uint16_t codes[512];
	static unsigned int n;
	unsigned int code;

	for (unsigned int i = 0; !n && i < 512; i++) {
		const struct emul_opdesc *d = claimed_desc(i);

		if (d->handler != EMUL_H_NONE || (d->flags & EMUL_F_GROUP))
			codes[n++] = (uint16_t)i;
	}
	if (in_u8(in, OFF_CODE) != 0xd6)
		return;
	code = codes[in_u8(in, OFF_CODE + 1) % n];
	if (code >= 256) {
		ram[at & (RAM_SIZE - 1)] = 0x0f;
		ram[(at + 1) & (RAM_SIZE - 1)] = (uint8_t)code;
	} else {
		ram[at & (RAM_SIZE - 1)] = (uint8_t)code;
		ram[(at + 1) & (RAM_SIZE - 1)] = in_u8(in, OFF_CODE + 2);
	}
}

/* A fault must leave a non-string instruction's state untouched. */
static void check_unchanged(const struct emul_ctx *before,
			    const struct emul_ctx *after)
{
	if (after->insn.flags & EMUL_F_STRING)
		return;
	if (memcmp(before->gpr, after->gpr, sizeof(before->gpr)) ||
	    before->rip != after->rip || before->rflags != after->rflags)
		abort();
}

static void run_decoder_only(const struct fuzz_input *in)
{
	struct emul_insn insn;
	struct emul_exception exc;

	for (unsigned int mode = 16; mode <= 64; mode *= 2) {
		int rc = emul_decode(&insn, in->data, in->size, mode, &exc);

		if (rc == EMUL_OK && (insn.len == 0 || insn.len > 15 ||
				      insn.len > in->size))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct emul_ops ops = fuzz_ops;
	static struct emul_ctx ctx, before;
	uint64_t code_at;

	run_decoder_only(&in);
	memset(&ctx, 0, sizeof(ctx));
	memset(ram, 0, sizeof(ram));
	if (size > OFF_RAM)
		memcpy(ram, data + OFF_RAM, MIN(size - OFF_RAM, (size_t)RAM_SIZE));
	if (in_u8(&in, 1) & 64)
		ops.cmpxchg_phys = NULL;
	ctx.ops = &ops;
	setup_control(&ctx, &in);
	setup_segments(&ctx, &in);
	if (in_u8(&in, 3) & 128)
		build_tables(&ctx, in_u64(&in, OFF_SEGS));
	/* Byte 3 bit 6: registers point into RAM. */
	for (int i = 0; i < EMUL_GPR_NR; i++)
		ctx.gpr[i] = in_u64(&in, OFF_REGS + 8 * i) &
			     ((in_u8(&in, 3) & 64) ? 0xfffe : ~0ULL);
	ctx.rflags = (in_u64(&in, OFF_RFLAGS) & 0x3f0fd5) | EMUL_RFLAGS_FIXED;
	if (!(in_u8(&in, 1) & 128))
		ctx.rflags &= ~EMUL_RFLAGS_VM;
	ctx.rip = in_u64(&in, OFF_RIP) & 0xfff0;
	/* The code goes where RIP points without paging; with paging it is
	 * wherever the tables say, which may be MMIO. */
	code_at = (ctx.rip + ctx.seg[EMUL_CS].base) & (RAM_SIZE - 1);
	for (int i = 0; i < 15; i++)
		ram[(code_at + i) & (RAM_SIZE - 1)] = in_u8(&in, OFF_CODE + i);
	pick_claimed_opcode(&in, code_at);
	for (int step = 0; step < 4; step++) {
		int rc;

		before = ctx;
		rc = emul_step(&ctx);
		if (rc == EMUL_EXCEPTION || rc == EMUL_UNSUPPORTED)
			check_unchanged(&before, &ctx);
		if (rc != EMUL_OK)
			break;
	}
	return 0;
}
