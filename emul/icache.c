/* The instruction cache (struct emul_icache in emul/emul.h): a fetch and
 * decode skipped when everything they read is unchanged.
 *
 * What the fetch of one instruction read, and so what a line compares:
 *
 *   CS:RIP --fetch_window()--> la          recomputed at every step
 *   la, CR0/CR3/CR4/EFER, CPL,
 *   MAXPHYADDR, PDPTE registers --walk-->  the entries in pte_at[]: their
 *                                          values now against pte[]
 *   the leaf's gpa --read_phys()-->        the bytes at code: against
 *                                          insn.bytes
 *   bytes, mode --emul_decode()-->         insn
 *
 * The walk's accessed bits are in the values kept (they were set when the
 * line was filled), so an equal walk sets nothing, as a new one would. */
#include "arch/string.h"
#include "emul/internal.h"

/* The line holding la, or EMUL_ICACHE_LINES. */
static unsigned int line_find(const struct emul_icache *c, uint64_t la)
{
	unsigned int i = 0;

	while (i < EMUL_ICACHE_LINES &&
	       (c->line[i].la != la || !c->line[i].valid))
		i++;
	return i;
}

/* The line a miss at la refills: the one that held la, else the least
 * recently filled. */
static struct emul_icache_line *line_victim(struct emul_icache *c, uint64_t la)
{
	unsigned int i = line_find(c, la);

	if (i == EMUL_ICACHE_LINES) {
		i = c->victim;
		c->victim = (uint8_t)((i + 1) % EMUL_ICACHE_LINES);
	}
	return &c->line[i];
}

static bool line_key_matches(const struct emul_ctx *ctx,
			     const struct emul_icache_line *l,
			     unsigned int avail)
{
	return l->ram_gen == ctx->ram_gen &&
	       l->insn.mode == ctx->insn.mode && l->insn.len <= avail &&
	       l->cr3 == ctx->cr3 && l->cr0 == ctx->cr0 &&
	       l->cr4 == ctx->cr4 && l->efer == ctx->efer &&
	       l->cpl == ctx->cpl && l->maxphyaddr == ctx->maxphyaddr &&
	       l->pdpte_valid == ctx->pdpte_valid;
}

/* The PAE PDPTE register for la (SDM Vol. 3A 4.4.1): bits 31:30. */
static uint64_t pdpte_reg(const struct emul_ctx *ctx, uint64_t la)
{
	return ctx->pdpte[(la >> 30) & 3];
}

static uint64_t load_entry(const void *at, unsigned int bytes)
{
	if (bytes == 4)
		return *(const volatile uint32_t *)at;
	return *(const volatile uint64_t *)at;
}

static bool line_walk_unchanged(const struct emul_ctx *ctx,
				const struct emul_icache_line *l)
{
	for (unsigned int i = 0; i < l->levels; i++) {
		uint64_t now = l->pte_at[i] ? load_entry(l->pte_at[i],
							 l->pte_bytes)
					    : pdpte_reg(ctx, l->la);

		if (now != l->pte[i])
			return false;
	}
	return true;
}

/* Instructions are a few bytes long: a loop beats a call to memcmp(). */
static bool line_bytes_unchanged(const struct emul_icache_line *l)
{
	const volatile uint8_t *code = l->code;

	for (unsigned int i = 0; i < l->insn.len; i++)
		if (code[i] != l->insn.bytes[i])
			return false;
	return true;
}

bool emul_icache_hit(struct emul_ctx *ctx, uint64_t la, unsigned int avail)
{
	const struct emul_icache_line *l;
	unsigned int i;

	if (!ctx->icache)
		return false;
	i = line_find(ctx->icache, la);
	if (i == EMUL_ICACHE_LINES)
		return false;
	l = &ctx->icache->line[i];
	if (!line_key_matches(ctx, l, avail) ||
	    !line_walk_unchanged(ctx, l) ||
	    !line_bytes_unchanged(l))
		return false;
	ctx->insn = l->insn;
	return true;
}

/* Host pointers to the entries path went through, leaf (a large page's
 * too) first; false if one is not RAM the VMM maps. */
static bool line_map_walk(struct emul_ctx *ctx, struct emul_icache_line *l,
			  const struct emul_walk_path *path)
{
	l->levels = 0;
	l->pte_bytes = path->mode == EMUL_PAGING_32 ? 4 : 8;
	for (unsigned int level = path->leaf; level && level <= path->levels;
	     level++) {
		const void *at = NULL;

		if (path->mode != EMUL_PAGING_PAE || level != 3 ||
		    !ctx->pdpte_valid) {
			at = ctx->ops->map_phys(ctx, path->pte_gpa[level],
						l->pte_bytes);
			if (!at)
				return false;
		}
		l->pte_at[l->levels] = at;
		l->pte[l->levels++] = path->pte[level];
	}
	return true;
}

void emul_icache_fill(struct emul_ctx *ctx, uint64_t la,
		      const struct emul_walk_path *path)
{
	struct emul_icache_line *l;

	if (!ctx->icache || !ctx->ops->map_phys ||
	    path->levels > EMUL_ICACHE_LEVELS)
		return;
	l = line_victim(ctx->icache, la);
	l->valid = false;
	l->code = ctx->ops->map_phys(ctx, path->gpa, ctx->insn.len);
	if (!l->code || !line_map_walk(ctx, l, path))
		return;
	l->la = la;
	l->ram_gen = ctx->ram_gen;
	l->cr0 = ctx->cr0;
	l->cr3 = ctx->cr3;
	l->cr4 = ctx->cr4;
	l->efer = ctx->efer;
	l->cpl = ctx->cpl;
	l->maxphyaddr = ctx->maxphyaddr;
	l->pdpte_valid = ctx->pdpte_valid;
	l->insn = ctx->insn;
	l->valid = true;
}
