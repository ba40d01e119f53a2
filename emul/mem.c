/* Memory access layer: segmentation (base, limit, type, canonical form),
 * alignment check, paging through emul_walk(), then guest RAM or MMIO.
 * Also the instruction fetch. */
#include "arch/string.h"
#include "emul/internal.h"

int emul_fault(struct emul_ctx *ctx, uint8_t vector, bool has_ec, uint32_t ec)
{
	ctx->exc.vector = vector;
	ctx->exc.has_error_code = has_ec;
	ctx->exc.error_code = ec;
	ctx->exc.cr2 = 0;
	return EMUL_EXCEPTION;
}

int emul_get_seg(struct emul_ctx *ctx, unsigned int seg,
		 const struct emul_seg **out)
{
	if (!(ctx->seg_valid & BIT_ULL(seg))) {
		int rc;

		if (!ctx->ops->get_seg)
			return EMUL_UNHANDLEABLE;
		rc = ctx->ops->get_seg(ctx, seg, &ctx->seg[seg]);
		if (rc != EMUL_OK)
			return rc;
		ctx->seg_valid |= (uint8_t)BIT_ULL(seg);
	}
	*out = &ctx->seg[seg];
	return EMUL_OK;
}

int emul_set_seg(struct emul_ctx *ctx, unsigned int seg,
		 const struct emul_seg *val)
{
	int rc;

	if (!ctx->ops->set_seg)
		return EMUL_UNHANDLEABLE;
	rc = ctx->ops->set_seg(ctx, (enum emul_segreg)seg, val);
	if (rc != EMUL_OK)
		return rc;
	ctx->seg[seg] = *val;
	ctx->seg_valid |= (uint8_t)BIT_ULL(seg);
	return EMUL_OK;
}

/* ---- segmentation (SDM Vol. 3A 3.4.5, 5.3, 5.4; Vol. 1 3.3.7.1) --------- */

static bool is_protected(const struct emul_ctx *ctx)
{
	return (ctx->cr0 & EMUL_CR0_PE) && !(ctx->rflags & EMUL_RFLAGS_VM);
}

/* Faults on SS-relative accesses are #SS(0), all others #GP(0). */
static int seg_fault(struct emul_ctx *ctx, unsigned int seg)
{
	return emul_fault(ctx, seg == EMUL_SS ? EMUL_VEC_SS : EMUL_VEC_GP,
			  true, 0);
}

static unsigned int la_width(const struct emul_ctx *ctx)
{
	return (ctx->cr4 & EMUL_CR4_LA57) ? 57 : 48;
}

bool emul_is_canonical(const struct emul_ctx *ctx, uint64_t la)
{
	unsigned int w = la_width(ctx);

	return (uint64_t)((int64_t)(la << (64 - w)) >> (64 - w)) == la;
}

/* 64-bit mode: only FS/GS have a base and no segment has a limit; every
 * byte accessed must be canonical. */
static int seg_linear64(struct emul_ctx *ctx, unsigned int seg, uint64_t ea,
			unsigned int len, uint64_t *la)
{
	const struct emul_seg *s;
	uint64_t base = 0;

	if (seg == EMUL_FS || seg == EMUL_GS) {
		int rc = emul_get_seg(ctx, seg, &s);

		if (rc != EMUL_OK)
			return rc;
		base = s->base;
	}
	*la = base + ea;
	if (!emul_is_canonical(ctx, *la) || !emul_is_canonical(ctx, *la + len - 1))
		return seg_fault(ctx, seg);
	return EMUL_OK;
}

/* Segment type rules for data accesses (SDM Vol. 3A 5.4, Table 3-1). */
static bool seg_type_allows(const struct emul_seg *s, unsigned int acc)
{
	bool code = s->ar & EMUL_AR_TYPE_CODE;

	if (acc & EMUL_ACC_FETCH)
		return code;
	if (acc & EMUL_ACC_WRITE)
		return !code && (s->ar & EMUL_AR_TYPE_W);
	return !code || (s->ar & EMUL_AR_TYPE_R);
}

/* Offsets ea..ea+len-1 must lie inside the segment. An expand-down data
 * segment holds limit+1 .. 0xffff (or 0xffffffff with B set). */
static bool seg_limit_ok(const struct emul_seg *s, uint64_t ea,
			 unsigned int len, bool protected_mode)
{
	uint64_t last = ea + len - 1;
	bool down = protected_mode && !(s->ar & EMUL_AR_TYPE_CODE) &&
		    (s->ar & EMUL_AR_TYPE_E);

	if (down) {
		uint64_t top = (s->ar & EMUL_AR_DB) ? 0xffffffffULL : 0xffffULL;

		return ea > s->limit && last <= top;
	}
	return last <= s->limit;
}

static int seg_linear_legacy(struct emul_ctx *ctx, unsigned int seg,
			     uint64_t ea, unsigned int len, unsigned int acc,
			     uint64_t *la)
{
	const struct emul_seg *s;
	bool pm = is_protected(ctx);
	int rc = emul_get_seg(ctx, seg, &s);

	if (rc != EMUL_OK)
		return rc;
	if (pm && ((s->ar & EMUL_AR_UNUSABLE) || !seg_type_allows(s, acc)))
		return seg_fault(ctx, seg);
	if (!seg_limit_ok(s, ea, len, pm))
		return seg_fault(ctx, seg);
	*la = (s->base + ea) & 0xffffffffULL;
	return EMUL_OK;
}

static int seg_linear(struct emul_ctx *ctx, unsigned int seg, uint64_t ea,
		      unsigned int len, unsigned int acc, uint64_t *la)
{
	if (ctx->insn.mode == 64)
		return seg_linear64(ctx, seg, ea, len, la);
	return seg_linear_legacy(ctx, seg, ea, len, acc, la);
}

/* #AC(0): CR0.AM, EFLAGS.AC and CPL 3 (SDM Vol. 3A 6.15, Interrupt 17).
 * Checked after segmentation and before paging. */
static bool is_misaligned_ac(const struct emul_ctx *ctx, uint64_t la,
			     unsigned int len)
{
	unsigned int align = MIN(len, 8u);

	if (!(ctx->cr0 & EMUL_CR0_AM) || !(ctx->rflags & EMUL_RFLAGS_AC) ||
	    ctx->cpl != 3)
		return false;
	return (la & (align - 1)) != 0;
}

/* ---- paging and physical access ------------------------------------------- */

static unsigned int access_kind(const struct emul_ctx *ctx, unsigned int acc)
{
	if (ctx->cpl == 3 && !(acc & EMUL_ACC_IMPLICIT))
		acc |= EMUL_ACC_USER;
	return acc;
}

static uint64_t la_wrap(const struct emul_ctx *ctx, uint64_t la)
{
	return ctx->insn.mode == 64 ? la : la & 0xffffffffULL;
}

/* Walks both pages of an access before any byte is touched, so a fault on
 * the second page leaves memory unchanged. */
static int xlat_pages(struct emul_ctx *ctx, unsigned int acc,
		      struct emul_xlat *x)
{
	unsigned int room = EMUL_PAGE_SIZE - (unsigned int)(x->la & 0xfff);
	int rc;

	x->len0 = (uint8_t)MIN((unsigned int)x->len, room);
	acc = access_kind(ctx, acc);
	rc = emul_walk(ctx, x->la, acc, &x->gpa[0]);
	if (rc != EMUL_OK || x->len0 == x->len)
		return rc;
	return emul_walk(ctx, la_wrap(ctx, x->la + x->len0), acc, &x->gpa[1]);
}

int emul_mem_xlat(struct emul_ctx *ctx, unsigned int seg, uint64_t ea,
		  unsigned int len, unsigned int acc, struct emul_xlat *x)
{
	uint64_t la = 0;
	int rc = seg_linear(ctx, seg, ea, len, acc, &la);

	if (rc != EMUL_OK)
		return rc;
	if (is_misaligned_ac(ctx, la, len))
		return emul_fault(ctx, EMUL_VEC_AC, true, 0);
	x->la = la;
	x->len = (uint8_t)len;
	return xlat_pages(ctx, acc, x);
}

int emul_mem_xlat_linear(struct emul_ctx *ctx, uint64_t la, unsigned int len,
			 unsigned int acc, struct emul_xlat *x)
{
	x->la = la_wrap(ctx, la);
	x->len = (uint8_t)len;
	return xlat_pages(ctx, acc | EMUL_ACC_IMPLICIT, x);
}

/* In the page the caller said is not RAM (emul_ctx.hint_mmio). */
static bool is_hinted_mmio(const struct emul_ctx *ctx, uint64_t gpa)
{
	return ctx->hint_mmio && ctx->hint.valid &&
	       !((gpa ^ ctx->hint.gpa) >> 12);
}

static int phys_read(struct emul_ctx *ctx, uint64_t gpa, void *buf,
		     unsigned int len)
{
	int rc = is_hinted_mmio(ctx, gpa) ? EMUL_NOT_RAM
					  : ctx->ops->read_phys(ctx, gpa, buf, len);

	if (rc != EMUL_NOT_RAM)
		return rc;
	if (!ctx->ops->mmio_read)
		return EMUL_UNHANDLEABLE;
	return ctx->ops->mmio_read(ctx, gpa, buf, len);
}

static int phys_write(struct emul_ctx *ctx, uint64_t gpa, const void *buf,
		      unsigned int len)
{
	int rc = is_hinted_mmio(ctx, gpa) ? EMUL_NOT_RAM
					  : ctx->ops->write_phys(ctx, gpa, buf,
								 len);

	if (rc != EMUL_NOT_RAM)
		return rc;
	if (!ctx->ops->mmio_write)
		return EMUL_UNHANDLEABLE;
	return ctx->ops->mmio_write(ctx, gpa, buf, len);
}

int emul_mem_read(struct emul_ctx *ctx, const struct emul_xlat *x, void *buf)
{
	int rc = phys_read(ctx, x->gpa[0], buf, x->len0);

	if (rc != EMUL_OK || x->len0 == x->len)
		return rc;
	return phys_read(ctx, x->gpa[1], (uint8_t *)buf + x->len0,
			 x->len - x->len0);
}

int emul_mem_write(struct emul_ctx *ctx, const struct emul_xlat *x,
		   const void *buf)
{
	int rc = phys_write(ctx, x->gpa[0], buf, x->len0);

	if (rc != EMUL_OK || x->len0 == x->len)
		return rc;
	return phys_write(ctx, x->gpa[1], (const uint8_t *)buf + x->len0,
			  x->len - x->len0);
}

/* A split (page-crossing) locked access cannot be atomic here; it is
 * written plainly, as is MMIO. */
int emul_mem_cmpxchg(struct emul_ctx *ctx, const struct emul_xlat *x,
		     const void *old, const void *new_val)
{
	int rc;

	if (!ctx->ops->cmpxchg_phys || x->len0 != x->len)
		return emul_mem_write(ctx, x, new_val);
	rc = ctx->ops->cmpxchg_phys(ctx, x->gpa[0], old, new_val, x->len);
	if (rc == EMUL_NOT_RAM)
		return phys_write(ctx, x->gpa[0], new_val, x->len);
	return rc;
}

int emul_mem_load(struct emul_ctx *ctx, unsigned int seg, uint64_t ea,
		  unsigned int len, void *buf)
{
	struct emul_xlat x;
	int rc = emul_mem_xlat(ctx, seg, ea, len, 0, &x);

	if (rc != EMUL_OK)
		return rc;
	return emul_mem_read(ctx, &x, buf);
}

/* ---- instruction fetch ---------------------------------------------------- */

/* What can be fetched from CS:RIP: up to 15 bytes, fewer when the CS
 * limit, the canonical boundary or an unmapped second page comes first.
 * The fault that stops the fetch is reported only if the decoder needs a
 * byte beyond it, as the processor does. */
struct fetch {
	uint8_t buf[EMUL_MAX_INSN_LEN];
	unsigned int avail;
	int late_rc;
	struct emul_exception late_exc;
};

static void fetch_stop(struct emul_ctx *ctx, struct fetch *f, int rc)
{
	f->late_rc = rc;
	f->late_exc = ctx->exc;
}

/* Linear address of CS:RIP and how many bytes segmentation allows. */
static int fetch_window(struct emul_ctx *ctx, struct fetch *f, uint64_t *la)
{
	const struct emul_seg *cs;
	int rc;

	f->avail = EMUL_MAX_INSN_LEN;
	if (ctx->insn.mode == 64) {
		*la = ctx->rip;
		if (!emul_is_canonical(ctx, *la))
			return emul_gp0(ctx);
		while (!emul_is_canonical(ctx, *la + f->avail - 1))
			f->avail--;
	} else {
		rc = emul_get_seg(ctx, EMUL_CS, &cs);
		if (rc != EMUL_OK)
			return rc;
		if (ctx->rip > cs->limit)
			return emul_gp0(ctx);
		f->avail = (unsigned int)MIN((uint64_t)f->avail,
					    (uint64_t)cs->limit - ctx->rip + 1);
		*la = (cs->base + ctx->rip) & 0xffffffffULL;
	}
	if (f->avail < EMUL_MAX_INSN_LEN)
		fetch_stop(ctx, f, emul_gp0(ctx));
	return EMUL_OK;
}

/* The first page of a fetch: its walk's path is what the instruction
 * cache keeps. */
static int fetch_first(struct emul_ctx *ctx, uint64_t la, uint8_t *buf,
		       unsigned int len, struct emul_walk_path *path)
{
	unsigned int acc = access_kind(ctx, EMUL_ACC_FETCH);
	int rc = emul_walk_path(ctx, la, acc, path);

	if (rc != EMUL_OK)
		return rc;
	rc = ctx->ops->read_phys(ctx, path->gpa, buf, len);
	return rc == EMUL_NOT_RAM ? EMUL_UNHANDLEABLE : rc;
}

static int fetch_part(struct emul_ctx *ctx, uint64_t la, uint8_t *buf,
		      unsigned int len)
{
	unsigned int acc = access_kind(ctx, EMUL_ACC_FETCH);
	uint64_t gpa = 0;
	int rc = emul_walk(ctx, la, acc, &gpa);

	if (rc != EMUL_OK)
		return rc;
	rc = ctx->ops->read_phys(ctx, gpa, buf, len);
	return rc == EMUL_NOT_RAM ? EMUL_UNHANDLEABLE : rc;
}

/* Bytes f->avail from la on; f->avail shrinks when the second page
 * faults. */
static int fetch_bytes(struct emul_ctx *ctx, struct fetch *f, uint64_t la,
		       struct emul_walk_path *path)
{
	unsigned int n0;
	int rc;

	n0 = MIN(f->avail, EMUL_PAGE_SIZE - (unsigned int)(la & 0xfff));
	rc = fetch_first(ctx, la, f->buf, n0, path);
	if (rc != EMUL_OK || n0 == f->avail)
		return rc;
	rc = fetch_part(ctx, la_wrap(ctx, la + n0), f->buf + n0,
			f->avail - n0);
	if (rc != EMUL_OK) {
		fetch_stop(ctx, f, rc);
		f->avail = n0;
	}
	return EMUL_OK;
}

/* Whether the fetch at la stays in its first page: only such
 * instructions are cached (a fetch of the second page would walk it and
 * set its accessed bits, which a cache hit would not). */
static bool fetch_in_one_page(uint64_t la, unsigned int avail)
{
	return (la & 0xfff) + avail <= EMUL_PAGE_SIZE;
}

int emul_fetch_decode(struct emul_ctx *ctx)
{
	struct emul_walk_path path;
	struct fetch f;
	uint64_t la = 0;
	bool one_page;
	int rc;

	f.late_rc = EMUL_OK;
	rc = fetch_window(ctx, &f, &la);
	if (rc != EMUL_OK)
		return rc;
	one_page = fetch_in_one_page(la, f.avail);
	if (one_page && emul_icache_hit(ctx, la, f.avail))
		return EMUL_OK;
	rc = fetch_bytes(ctx, &f, la, &path);
	if (rc != EMUL_OK)
		return rc;
	rc = emul_decode(&ctx->insn, f.buf, f.avail, ctx->insn.mode,
			 &ctx->exc);
	if (rc == EMUL_OK && one_page)
		emul_icache_fill(ctx, la, &path);
	if (rc != EMUL_NEED_BYTES)
		return rc;
	ctx->exc = f.late_exc;
	return f.late_rc == EMUL_OK ? EMUL_UNHANDLEABLE : f.late_rc;
}
