/* A fake guest for host tests of emul/: flat RAM, one MMIO window that
 * records accesses, ports that record OUTs and answer INs, a segment array,
 * and helpers to build CPU modes and page tables. Header-only so each test
 * binary stays one .c file plus the emul/ sources. */
#ifndef KEEL_TESTS_EMUL_FAKE_MACHINE_H
#define KEEL_TESTS_EMUL_FAKE_MACHINE_H

#include <stdlib.h>
#include <string.h>

#include "emul/emul.h"
#include "emul/walk.h"

#define FM_RAM_SIZE	(4u << 20)
#define FM_MMIO_BASE	0xfee00000ULL
#define FM_MMIO_SIZE	0x1000ULL
#define FM_LOG_MAX	64

struct fm_access {
	uint64_t addr;
	unsigned int len;
	uint64_t val;
	bool write;
};

struct fake_machine {
	struct emul_ctx ctx;
	uint8_t *ram;
	uint64_t ram_size;
	uint8_t mmio[FM_MMIO_SIZE];
	struct fm_access mmio_log[FM_LOG_MAX];
	int mmio_count;
	struct fm_access pio_log[FM_LOG_MAX];
	int pio_count;
	uint32_t pio_in_value;
	int cmpxchg_fail;	/* fail this many cmpxchg_phys calls */
	int cmpxchg_calls;
	bool io_allow;		/* answer of io_allowed */
	uint64_t cr0_written;	/* last value given to write_cr0 */
	int cr0_writes;
	bool cr0_gp;		/* write_cr0 answers #GP(0) */
	uint8_t xmm[16][16];	/* get_xmm / set_xmm */
	uint64_t gdtr_base;	/* get_gdtr */
	uint32_t gdtr_limit;
	struct emul_seg tr;	/* set_tr */
	struct emul_seg ldtr;	/* get_ldtr */
	int seg_loads;		/* set_seg calls */
	uint8_t mm[8][8];	/* get_mm / set_mm */
	uint16_t fsw;		/* get_fsw */
	uint64_t cr_written[5];	/* write_cr: last value per CR (3, 4) */
	int cr_writes;
	uint64_t idtr_base;	/* set_dtr (the GDTR: gdtr_base above) */
	uint32_t idtr_limit;
	uint32_t cpuid_leaf, cpuid_sub;	/* last cpuid op */
	uint64_t msr_val;	/* FM_MSR, the one MSR rdmsr/wrmsr know */
	int msr_writes;
	int wbinvds;		/* wbinvd calls */
};

#define FM_MSR		0x1a0u

static inline struct fake_machine *fm_of(struct emul_ctx *ctx)
{
	return (struct fake_machine *)ctx->opaque;
}

static inline bool fm_is_ram(struct fake_machine *fm, uint64_t gpa,
			     unsigned int len)
{
	return gpa < fm->ram_size && len <= fm->ram_size - gpa;
}

static inline bool fm_is_mmio(uint64_t gpa, unsigned int len)
{
	return gpa >= FM_MMIO_BASE && gpa + len <= FM_MMIO_BASE + FM_MMIO_SIZE;
}

static inline void fm_log(struct fm_access *log, int *count, uint64_t addr,
			  unsigned int len, uint64_t val, bool write)
{
	if (*count < FM_LOG_MAX)
		log[*count] = (struct fm_access){ addr, len, val, write };
	(*count)++;
}

static inline int fm_read_phys(struct emul_ctx *ctx, uint64_t gpa, void *buf,
			       unsigned int len)
{
	struct fake_machine *fm = fm_of(ctx);

	if (!fm_is_ram(fm, gpa, len))
		return EMUL_NOT_RAM;
	memcpy(buf, fm->ram + gpa, len);
	return EMUL_OK;
}

static inline int fm_write_phys(struct emul_ctx *ctx, uint64_t gpa,
				const void *buf, unsigned int len)
{
	struct fake_machine *fm = fm_of(ctx);

	if (!fm_is_ram(fm, gpa, len))
		return EMUL_NOT_RAM;
	memcpy(fm->ram + gpa, buf, len);
	return EMUL_OK;
}

static inline int fm_cmpxchg_phys(struct emul_ctx *ctx, uint64_t gpa,
				  const void *old, const void *new_val,
				  unsigned int len)
{
	struct fake_machine *fm = fm_of(ctx);

	fm->cmpxchg_calls++;
	if (!fm_is_ram(fm, gpa, len))
		return EMUL_NOT_RAM;
	if (fm->cmpxchg_fail > 0) {
		fm->cmpxchg_fail--;
		return EMUL_CMPXCHG_FAILED;
	}
	if (memcmp(fm->ram + gpa, old, len))
		return EMUL_CMPXCHG_FAILED;
	memcpy(fm->ram + gpa, new_val, len);
	return EMUL_OK;
}

static inline int fm_mmio_read(struct emul_ctx *ctx, uint64_t gpa, void *buf,
			       unsigned int len)
{
	struct fake_machine *fm = fm_of(ctx);
	uint64_t v = 0;

	if (!fm_is_mmio(gpa, len))
		return EMUL_UNHANDLEABLE;
	memcpy(buf, fm->mmio + (gpa - FM_MMIO_BASE), len);
	memcpy(&v, buf, len < 8 ? len : 8);
	fm_log(fm->mmio_log, &fm->mmio_count, gpa, len, v, false);
	return EMUL_OK;
}

static inline int fm_mmio_write(struct emul_ctx *ctx, uint64_t gpa,
				const void *buf, unsigned int len)
{
	struct fake_machine *fm = fm_of(ctx);
	uint64_t v = 0;

	if (!fm_is_mmio(gpa, len))
		return EMUL_UNHANDLEABLE;
	memcpy(fm->mmio + (gpa - FM_MMIO_BASE), buf, len);
	memcpy(&v, buf, len < 8 ? len : 8);
	fm_log(fm->mmio_log, &fm->mmio_count, gpa, len, v, true);
	return EMUL_OK;
}

static inline int fm_pio_in(struct emul_ctx *ctx, uint16_t port,
			    unsigned int size, uint32_t *val)
{
	struct fake_machine *fm = fm_of(ctx);

	*val = fm->pio_in_value + (uint32_t)fm->pio_count;
	if (size < 4)
		*val &= (1u << (8 * size)) - 1;
	fm_log(fm->pio_log, &fm->pio_count, port, size, *val, false);
	return EMUL_OK;
}

static inline int fm_pio_out(struct emul_ctx *ctx, uint16_t port,
			     unsigned int size, uint32_t val)
{
	struct fake_machine *fm = fm_of(ctx);

	fm_log(fm->pio_log, &fm->pio_count, port, size, val, true);
	return EMUL_OK;
}

static inline bool fm_io_allowed(struct emul_ctx *ctx, uint16_t port,
				 unsigned int size)
{
	(void)port;
	(void)size;
	return fm_of(ctx)->io_allow;
}

static inline int fm_write_cr0(struct emul_ctx *ctx, uint64_t val)
{
	struct fake_machine *fm = fm_of(ctx);

	if (fm->cr0_gp) {
		ctx->exc = (struct emul_exception){ EMUL_VEC_GP, true, 0, 0 };
		return EMUL_EXCEPTION;
	}
	fm->cr0_written = val;
	fm->cr0_writes++;
	return EMUL_OK;
}

static inline int fm_write_cr(struct emul_ctx *ctx, unsigned int cr,
			      uint64_t val)
{
	struct fake_machine *fm = fm_of(ctx);

	if (fm->cr0_gp) {
		ctx->exc = (struct emul_exception){ EMUL_VEC_GP, true, 0, 0 };
		return EMUL_EXCEPTION;
	}
	fm->cr_written[cr % 5] = val;
	fm->cr_writes++;
	return EMUL_OK;
}

static inline int fm_set_dtr(struct emul_ctx *ctx, bool idt, uint64_t base,
			     uint32_t limit)
{
	struct fake_machine *fm = fm_of(ctx);

	if (idt) {
		fm->idtr_base = base;
		fm->idtr_limit = limit;
	} else {
		fm->gdtr_base = base;
		fm->gdtr_limit = limit;
	}
	return EMUL_OK;
}

static inline int fm_get_xmm(struct emul_ctx *ctx, unsigned int reg, void *buf)
{
	memcpy(buf, fm_of(ctx)->xmm[reg & 15], 16);
	return EMUL_OK;
}

static inline int fm_set_xmm(struct emul_ctx *ctx, unsigned int reg,
			     const void *buf)
{
	memcpy(fm_of(ctx)->xmm[reg & 15], buf, 16);
	return EMUL_OK;
}

static inline int fm_get_gdtr(struct emul_ctx *ctx, uint64_t *base,
			      uint32_t *limit)
{
	*base = fm_of(ctx)->gdtr_base;
	*limit = fm_of(ctx)->gdtr_limit;
	return EMUL_OK;
}

static inline int fm_set_tr(struct emul_ctx *ctx, const struct emul_seg *tr)
{
	fm_of(ctx)->tr = *tr;
	return EMUL_OK;
}

/* The emulator updates ctx->seg itself after set_seg. */
static inline int fm_set_seg_op(struct emul_ctx *ctx, enum emul_segreg seg,
				const struct emul_seg *val)
{
	(void)seg;
	(void)val;
	fm_of(ctx)->seg_loads++;
	return EMUL_OK;
}

static inline int fm_get_ldtr(struct emul_ctx *ctx, struct emul_seg *out)
{
	*out = fm_of(ctx)->ldtr;
	return EMUL_OK;
}

static inline int fm_get_mm(struct emul_ctx *ctx, unsigned int reg, void *buf)
{
	memcpy(buf, fm_of(ctx)->mm[reg & 7], 8);
	return EMUL_OK;
}

static inline int fm_set_mm(struct emul_ctx *ctx, unsigned int reg,
			    const void *buf)
{
	memcpy(fm_of(ctx)->mm[reg & 7], buf, 8);
	return EMUL_OK;
}

static inline int fm_get_fsw(struct emul_ctx *ctx, uint16_t *fsw)
{
	*fsw = fm_of(ctx)->fsw;
	return EMUL_OK;
}

/* Guest RAM stays where it is: ctx.ram_gen never needs to change. */
static inline const void *fm_map_phys(struct emul_ctx *ctx, uint64_t gpa,
				      unsigned int len)
{
	struct fake_machine *fm = fm_of(ctx);

	return fm_is_ram(fm, gpa, len) ? fm->ram + gpa : NULL;
}

/* CPUID: EAX = leaf, EBX = subleaf, ECX and EDX fixed patterns. */
static inline int fm_cpuid(struct emul_ctx *ctx, uint32_t leaf, uint32_t sub,
			   uint32_t out[4])
{
	struct fake_machine *fm = fm_of(ctx);

	fm->cpuid_leaf = leaf;
	fm->cpuid_sub = sub;
	out[0] = leaf;
	out[1] = sub;
	out[2] = 0x6c65746e;
	out[3] = 0x49656e69;
	return EMUL_OK;
}

static inline int fm_msr_gp(struct emul_ctx *ctx)
{
	ctx->exc = (struct emul_exception){ EMUL_VEC_GP, true, 0, 0 };
	return EMUL_EXCEPTION;
}

static inline int fm_rdmsr(struct emul_ctx *ctx, uint32_t msr, uint64_t *val)
{
	if (msr != FM_MSR)
		return fm_msr_gp(ctx);
	*val = fm_of(ctx)->msr_val;
	return EMUL_OK;
}

static inline int fm_wrmsr(struct emul_ctx *ctx, uint32_t msr, uint64_t val)
{
	struct fake_machine *fm = fm_of(ctx);

	if (msr != FM_MSR)
		return fm_msr_gp(ctx);
	fm->msr_val = val;
	fm->msr_writes++;
	return EMUL_OK;
}

static inline int fm_wbinvd(struct emul_ctx *ctx)
{
	fm_of(ctx)->wbinvds++;
	return EMUL_OK;
}

static const struct emul_ops fm_ops = {
	.read_phys = fm_read_phys,
	.write_phys = fm_write_phys,
	.cmpxchg_phys = fm_cmpxchg_phys,
	.mmio_read = fm_mmio_read,
	.mmio_write = fm_mmio_write,
	.pio_in = fm_pio_in,
	.pio_out = fm_pio_out,
	.io_allowed = fm_io_allowed,
	.write_cr0 = fm_write_cr0,
	.write_cr = fm_write_cr,
	.set_dtr = fm_set_dtr,
	.get_xmm = fm_get_xmm,
	.set_xmm = fm_set_xmm,
	.get_gdtr = fm_get_gdtr,
	.set_tr = fm_set_tr,
	.set_seg = fm_set_seg_op,
	.get_ldtr = fm_get_ldtr,
	.get_mm = fm_get_mm,
	.set_mm = fm_set_mm,
	.get_fsw = fm_get_fsw,
	.map_phys = fm_map_phys,
	.cpuid = fm_cpuid,
	.rdmsr = fm_rdmsr,
	.wrmsr = fm_wrmsr,
	.wbinvd = fm_wbinvd,
};

/* Access rights of the usual flat segments (VMX format). */
#define FM_AR_DATA	0x0093	/* P, S, data read/write accessed */
#define FM_AR_CODE	0x009b	/* P, S, code execute/read accessed */
#define FM_AR_CODE64	(FM_AR_CODE | EMUL_AR_L)
#define FM_AR_CODE32	(FM_AR_CODE | EMUL_AR_DB | EMUL_AR_G)
#define FM_AR_DATA32	(FM_AR_DATA | EMUL_AR_DB | EMUL_AR_G)

static inline void fm_set_seg(struct fake_machine *fm, unsigned int seg,
			      uint64_t base, uint32_t limit, uint32_t ar)
{
	fm->ctx.seg[seg] = (struct emul_seg){ base, limit, ar, 0 };
	fm->ctx.seg_valid |= (uint8_t)(1u << seg);
}

static inline void fm_flat(struct fake_machine *fm, uint32_t code_ar,
			   uint32_t data_ar, uint32_t limit)
{
	for (unsigned int s = 0; s < EMUL_SEG_NR; s++)
		fm_set_seg(fm, s, 0, limit, s == EMUL_CS ? code_ar : data_ar);
}

static inline void fm_reset_ctx(struct fake_machine *fm)
{
	memset(&fm->ctx, 0, sizeof(fm->ctx));
	fm->ctx.ops = &fm_ops;
	fm->ctx.opaque = fm;
	fm->ctx.rflags = EMUL_RFLAGS_FIXED;
	fm->ctx.maxphyaddr = 46;
	fm->mmio_count = 0;
	fm->pio_count = 0;
	fm->cmpxchg_fail = 0;
	fm->cmpxchg_calls = 0;
	fm->io_allow = false;
	fm->cr0_writes = 0;
	fm->cr0_gp = false;
	fm->cr_writes = 0;
	fm->seg_loads = 0;
	fm->fsw = 0;
	fm->ldtr = (struct emul_seg){ 0, 0, EMUL_AR_UNUSABLE, 0 };
}

/* 64-bit mode with paging left off: linear = physical. (Not a state real
 * hardware allows, but the emulator only asks CR0.PG whether to walk.) */
static inline void fm_mode64(struct fake_machine *fm)
{
	fm_reset_ctx(fm);
	fm->ctx.cr0 = EMUL_CR0_PE;
	fm->ctx.efer = EMUL_EFER_LME | EMUL_EFER_LMA;
	fm_flat(fm, FM_AR_CODE64, FM_AR_DATA, 0xffffffff);
}

static inline void fm_mode32(struct fake_machine *fm)
{
	fm_reset_ctx(fm);
	fm->ctx.cr0 = EMUL_CR0_PE;
	fm_flat(fm, FM_AR_CODE32, FM_AR_DATA32, 0xffffffff);
}

static inline void fm_mode16(struct fake_machine *fm)
{
	fm_reset_ctx(fm);
	fm_flat(fm, FM_AR_CODE, FM_AR_DATA, 0xffff);
}

static inline struct fake_machine *fm_new(void)
{
	struct fake_machine *fm = calloc(1, sizeof(*fm));

	fm->ram = calloc(1, FM_RAM_SIZE);
	fm->ram_size = FM_RAM_SIZE;
	fm_mode64(fm);
	return fm;
}

static inline void fm_free(struct fake_machine *fm)
{
	free(fm->ram);
	free(fm);
}

static inline void fm_put(struct fake_machine *fm, uint64_t gpa,
			  const void *src, size_t n)
{
	memcpy(fm->ram + gpa, src, n);
}

static inline uint64_t fm_get(struct fake_machine *fm, uint64_t gpa,
			      unsigned int n)
{
	uint64_t v = 0;

	memcpy(&v, fm->ram + gpa, n);
	return v;
}

static inline void fm_set64(struct fake_machine *fm, uint64_t gpa, uint64_t v)
{
	memcpy(fm->ram + gpa, &v, 8);
}

static inline void fm_set32(struct fake_machine *fm, uint64_t gpa, uint32_t v)
{
	memcpy(fm->ram + gpa, &v, 4);
}

/* Places the instruction at RIP (linear = physical, or CS base added in
 * the legacy modes) and runs one step. */
static inline int fm_run(struct fake_machine *fm, const void *code, size_t n)
{
	uint64_t at = fm->ctx.rip + fm->ctx.seg[EMUL_CS].base;

	if (!(fm->ctx.efer & EMUL_EFER_LMA))
		at &= 0xffffffff;
	fm_put(fm, at, code, n);
	return emul_step(&fm->ctx);
}

#define FM_RUN(fm, ...) ({						\
	static const uint8_t _code[] = { __VA_ARGS__ };			\
	fm_run(fm, _code, sizeof(_code));				\
})

#endif
