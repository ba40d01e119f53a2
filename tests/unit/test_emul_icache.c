/* The instruction cache (emul/icache.c): a repeated instruction is neither
 * walked for nor decoded again, and everything its fetch depended on
 * makes it miss when it changes: code bytes, paging entries (a 4 KiB or
 * a large page, accessed and permission bits), CR3, CPL, the mode, PAE
 * PDPTE registers, the VMM's RAM generation. A randomized test runs two
 * machines, one with the cache and one without, through the same
 * changes and expects the same results at every step. Also the hint
 * that marks a device's page (emul_ctx.hint_mmio). */
#include "tests/unit/test.h"
#include "tests/emul/fake_machine.h"

/*
 * 4-level tables, and the linear pages the tests use:
 *
 *   PML4 0x100000 (or PML4_ALT) -> PDPT 0x101000 -> PD 0x102000
 *     PD[1]: PT 0x103000, or with PS a 2 MiB page at 0x200000
 *       PT[0]: CODE_LA 0x200000 -> PAGE_A 0x300000 or PAGE_B 0x301000
 *       PT[1]: DATA_LA 0x201000 -> DATA_PA 0x380000
 *   PML4_ALT 0x104000 -> PDPT_ALT 0x105000 -> PD_ALT 0x106000 -> PT_ALT
 *     0x107000, mapping CODE_LA to PAGE_B and DATA_LA to DATA_PA
 */
#define PML4		0x100000ULL
#define PDPT		0x101000ULL
#define PD		0x102000ULL
#define PT		0x103000ULL
#define PML4_ALT	0x104000ULL
#define PDPT_ALT	0x105000ULL
#define PD_ALT		0x106000ULL
#define PT_ALT		0x107000ULL
#define CODE_LA		0x200000ULL
#define DATA_LA		0x201000ULL
#define PAGE_A		0x300000ULL
#define PAGE_B		0x301000ULL
#define DATA_PA		0x380000ULL
#define LARGE_PA	0x200000ULL

#define UPPER		(EMUL_PTE_P | EMUL_PTE_RW | EMUL_PTE_US)
#define LEAF		(EMUL_PTE_P | EMUL_PTE_RW | EMUL_PTE_US)

static int phys_reads, phys_writes;

static int counting_read(struct emul_ctx *ctx, uint64_t gpa, void *buf,
			 unsigned int len)
{
	phys_reads++;
	return fm_read_phys(ctx, gpa, buf, len);
}

static int counting_write(struct emul_ctx *ctx, uint64_t gpa,
			  const void *buf, unsigned int len)
{
	phys_writes++;
	return fm_write_phys(ctx, gpa, buf, len);
}

static struct emul_ops counting_ops;

static void tables(struct fake_machine *fm, uint64_t pml4, uint64_t pdpt,
		   uint64_t pd, uint64_t pt, uint64_t code_pa)
{
	fm_set64(fm, pml4, pdpt | UPPER);
	fm_set64(fm, pdpt, pd | UPPER);
	fm_set64(fm, pd + 8, pt | UPPER);
	fm_set64(fm, pt, code_pa | LEAF);
	fm_set64(fm, pt + 8, DATA_PA | LEAF);
}

/* 64-bit mode with 4-level paging, the cache on or off, RIP at CODE_LA. */
static struct fake_machine *machine(struct emul_icache *cache)
{
	struct fake_machine *fm = fm_new();

	tables(fm, PML4, PDPT, PD, PT, PAGE_A);
	tables(fm, PML4_ALT, PDPT_ALT, PD_ALT, PT_ALT, PAGE_B);
	fm->ctx.cr0 = EMUL_CR0_PE | EMUL_CR0_PG | EMUL_CR0_WP;
	fm->ctx.cr4 = EMUL_CR4_PAE;
	fm->ctx.efer = EMUL_EFER_LME | EMUL_EFER_LMA | EMUL_EFER_NXE;
	fm->ctx.cr3 = PML4;
	fm->ctx.rip = CODE_LA;
	fm->ctx.gpr[EMUL_RAX] = DATA_LA;
	fm->ctx.icache = cache;
	counting_ops = fm_ops;
	counting_ops.read_phys = counting_read;
	counting_ops.write_phys = counting_write;
	fm->ctx.ops = &counting_ops;
	return fm;
}

static const uint8_t MOV_EBX[] = { 0x89, 0x18 };	/* mov [rax], ebx */
static const uint8_t MOV_ECX[] = { 0x89, 0x08 };	/* mov [rax], ecx */

/* machine(), with PAGE_A storing EBX (0x1111) and PAGE_B storing ECX
 * (0x2222) at DATA_LA. */
static struct fake_machine *machine_ab(struct emul_icache *cache)
{
	struct fake_machine *fm = machine(cache);

	fm_put(fm, PAGE_A, MOV_EBX, sizeof(MOV_EBX));
	fm_put(fm, PAGE_B, MOV_ECX, sizeof(MOV_ECX));
	fm->ctx.gpr[EMUL_RBX] = 0x1111;
	fm->ctx.gpr[EMUL_RCX] = 0x2222;
	return fm;
}

/* One step at rip (put back first); the reads it made. */
static int step_at(struct fake_machine *fm, uint64_t rip, int *rc)
{
	phys_reads = 0;
	fm->ctx.rip = rip;
	*rc = emul_step(&fm->ctx);
	return phys_reads;
}

static int step(struct fake_machine *fm, int *rc)
{
	return step_at(fm, CODE_LA, rc);
}

static uint32_t data(struct fake_machine *fm)
{
	return (uint32_t)fm_get(fm, DATA_PA, 4);
}

TEST(repeat_is_not_fetched_again)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *fm = machine(&cache);
	int rc, first, second;

	fm_put(fm, PAGE_A, MOV_EBX, sizeof(MOV_EBX));
	fm->ctx.gpr[EMUL_RBX] = 0x11111111;
	first = step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	fm->ctx.gpr[EMUL_RBX] = 0x22222222;
	second = step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	EXPECT_EQ(data(fm), 0x22222222);
	EXPECT_EQ(fm->ctx.rip, CODE_LA + 2);
	/* The first step walked four levels and read the code; the second
	 * only the data access's walk. */
	EXPECT_EQ(first, second + 5);
	fm_free(fm);
}

/* The walk ends at a 2 MiB page: three entries are kept, not four. */
TEST(large_page_repeat_is_not_fetched_again)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *fm = machine(&cache);
	int rc, first, second;

	fm_put(fm, LARGE_PA, MOV_EBX, sizeof(MOV_EBX));
	fm_set64(fm, PD + 8, LARGE_PA | LEAF | EMUL_PTE_PS);
	/* The data write sets the dirty bit in the leaf the fetch used:
	 * the second step misses, the third hits. */
	first = step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	EXPECT_EQ(step(fm, &rc), first);
	second = step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	EXPECT_EQ(first, second + 4);
	EXPECT_EQ(cache.line[0].levels + cache.line[1].levels, 3);
	fm_free(fm);
}

TEST(self_modifying_code_misses)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *fm = machine_ab(&cache);
	int rc;

	step(fm, &rc);
	EXPECT_EQ(data(fm), 0x1111);
	fm_put(fm, PAGE_A, MOV_ECX, sizeof(MOV_ECX));
	step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	EXPECT_EQ(data(fm), 0x2222);
	fm_free(fm);
}

TEST(remapped_code_page_misses)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *fm = machine_ab(&cache);
	int rc;

	step(fm, &rc);
	fm_set64(fm, PT, PAGE_B | LEAF | EMUL_PTE_A);
	step(fm, &rc);
	EXPECT_EQ(data(fm), 0x2222);
	/* A large page in the PD instead of the page table (DATA_LA is
	 * in it too). */
	fm_put(fm, LARGE_PA, MOV_EBX, sizeof(MOV_EBX));
	fm_set64(fm, PD + 8, LARGE_PA | LEAF | EMUL_PTE_PS);
	step(fm, &rc);
	EXPECT_EQ(fm_get(fm, LARGE_PA + 0x1000, 4), 0x1111);
	fm_put(fm, LARGE_PA, MOV_ECX, sizeof(MOV_ECX));
	step(fm, &rc);
	EXPECT_EQ(fm_get(fm, LARGE_PA + 0x1000, 4), 0x2222);
	fm_free(fm);
}

/* A guest that clears an accessed bit finds it set again, as the walk
 * of an uncached fetch sets it. */
TEST(cleared_accessed_bit_is_set_again)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *fm = machine(&cache);
	int rc;

	fm_put(fm, PAGE_A, MOV_EBX, sizeof(MOV_EBX));
	step(fm, &rc);
	EXPECT(fm_get(fm, PDPT, 8) & EMUL_PTE_A);
	fm_set64(fm, PDPT, PD | UPPER);
	step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	EXPECT(fm_get(fm, PDPT, 8) & EMUL_PTE_A);
	fm_free(fm);
}

TEST(permissions_are_checked_again)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *fm = machine(&cache);
	int rc;

	fm_put(fm, PAGE_A, MOV_EBX, sizeof(MOV_EBX));
	step(fm, &rc);
	fm_set64(fm, PT, PAGE_A | LEAF | EMUL_PTE_A | EMUL_PTE_XD);
	step(fm, &rc);
	EXPECT_EQ(rc, EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, EMUL_VEC_PF);
	EXPECT_EQ(fm->ctx.exc.error_code,
		  EMUL_PFEC_P | EMUL_PFEC_I);
	fm_set64(fm, PT, PAGE_A | EMUL_PTE_P | EMUL_PTE_RW | EMUL_PTE_A);
	step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	fm->ctx.cpl = 3;
	step(fm, &rc);
	EXPECT_EQ(rc, EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.error_code,
		  EMUL_PFEC_P | EMUL_PFEC_U | EMUL_PFEC_I);
	fm_free(fm);
}

TEST(cr3_mode_and_ram_gen_miss)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *fm = machine_ab(&cache);
	static const uint8_t mov_rbx[] = { 0x48, 0x89, 0x18 };
	int rc, reads;

	step(fm, &rc);
	fm->ctx.cr3 = PML4_ALT;
	step(fm, &rc);
	EXPECT_EQ(data(fm), 0x2222);
	fm->ctx.cr3 = PML4;
	step(fm, &rc);
	EXPECT_EQ(data(fm), 0x1111);
	/* REX.W is DEC EAX outside 64-bit mode, which is not emulated. */
	fm_put(fm, PAGE_A, mov_rbx, sizeof(mov_rbx));
	step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	fm->ctx.seg[EMUL_CS].ar = FM_AR_CODE32;
	step(fm, &rc);
	EXPECT_EQ(rc, EMUL_UNSUPPORTED);
	fm->ctx.seg[EMUL_CS].ar = FM_AR_CODE64;
	step(fm, &rc);
	reads = step(fm, &rc);
	fm->ctx.ram_gen++;
	EXPECT_EQ(step(fm, &rc), reads + 5);
	fm_free(fm);
}

/* A fetch that reaches into the next page is not cached: it walks that
 * page too, every time. */
TEST(fetch_across_a_page_is_not_cached)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *fm = machine(&cache);
	uint64_t rip = CODE_LA + 0xff8;
	int rc, first;

	fm_put(fm, PAGE_A + 0xff8, MOV_EBX, sizeof(MOV_EBX));
	first = step_at(fm, rip, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	EXPECT_EQ(step_at(fm, rip, &rc), first);
	EXPECT_EQ(rc, EMUL_OK);
	fm_free(fm);
}

/* PAE paging outside long mode: the PDPTE registers stand for level 3. */
TEST(pae_pdpte_register_change_misses)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *fm = machine_ab(&cache);
	int rc;

	fm->ctx.efer = 0;
	fm->ctx.cr3 = PDPT;
	fm->ctx.pdpte_valid = true;
	fm->ctx.pdpte[0] = PD | EMUL_PTE_P;
	fm_flat(fm, FM_AR_CODE32, FM_AR_DATA32, 0xffffffff);
	step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	EXPECT_EQ(data(fm), 0x1111);
	fm->ctx.pdpte[0] = PD_ALT | EMUL_PTE_P;
	step(fm, &rc);
	EXPECT_EQ(data(fm), 0x2222);
	fm_free(fm);
}

/* A hint the caller marks as a device's page (emul_ctx.hint_mmio): the
 * store goes to mmio_write without write_phys being asked; an access to
 * another page is not affected. */
TEST(hinted_mmio_page_skips_ram)
{
	struct fake_machine *fm = machine(NULL);
	int rc;

	fm_put(fm, PAGE_A, MOV_EBX, sizeof(MOV_EBX));
	fm->ctx.gpr[EMUL_RBX] = 0x1234;
	fm->ctx.hint = (struct emul_xlat_hint){ DATA_LA, FM_MMIO_BASE,
						EMUL_ACC_WRITE, true };
	fm->ctx.hint_mmio = true;
	phys_writes = 0;
	step(fm, &rc);
	EXPECT_EQ(rc, EMUL_OK);
	EXPECT_EQ(phys_writes, 0);
	EXPECT_EQ(fm->mmio_count, 1);
	EXPECT_EQ(fm->mmio_log[0].addr, FM_MMIO_BASE);
	EXPECT_EQ(fm->mmio_log[0].val, 0x1234);
	fm->ctx.gpr[EMUL_RAX] = CODE_LA + 0x100;
	step(fm, &rc);
	EXPECT_EQ(phys_writes, 1);
	fm_free(fm);
}

/* ---- the same changes with and without the cache ----------------------- */

static const uint8_t variants[][3] = {
	{ 0x89, 0x18, 0x90 },	/* mov [rax], ebx */
	{ 0x89, 0x08, 0x90 },	/* mov [rax], ecx */
	{ 0x88, 0x18, 0x90 },	/* mov [rax], bl */
	{ 0x01, 0x18, 0x90 },	/* add [rax], ebx */
	{ 0x48, 0x89, 0x18 },	/* mov [rax], rbx */
	{ 0x8b, 0x18, 0x90 },	/* mov ebx, [rax] */
	{ 0x0f, 0x0b, 0x90 },	/* ud2: not emulated */
};

#define NR_VARIANTS (sizeof(variants) / sizeof(variants[0]))

/* Flips bits of the 8-byte entry at gpa. */
static void flip(struct fake_machine *fm, uint64_t gpa, uint64_t bits)
{
	fm_set64(fm, gpa, fm_get(fm, gpa, 8) ^ bits);
}

static const uint64_t code_pas[] = { PAGE_A, PAGE_B, LARGE_PA };

/* One random change, made to a machine (both get the same). */
static void mutate(struct fake_machine *fm, uint64_t r)
{
	unsigned int what = r % 10;
	uint64_t arg = r >> 8;

	switch (what) {
	case 0:
		fm_put(fm, code_pas[arg % 3] + (arg & 0x100 ? 0xffe : 0),
		       variants[(arg >> 2) % NR_VARIANTS], 3);
		break;
	case 1:
		fm_set64(fm, PT, code_pas[arg % 2] |
			 (fm_get(fm, PT, 8) & ~GENMASK_ULL(51, 12)));
		break;
	case 2: {
		static const uint64_t at[] = { PML4, PDPT, PD + 8, PT, PT + 8 };

		flip(fm, at[arg % 5], EMUL_PTE_A);
		break;
	}
	case 3:
		flip(fm, arg & 1 ? PT : PD + 8, arg & 2 ? EMUL_PTE_XD :
						    EMUL_PTE_US);
		break;
	case 4:
		fm->ctx.cpl = fm->ctx.cpl ? 0 : 3;
		break;
	case 5:
		fm->ctx.cr3 = fm->ctx.cr3 == PML4 ? PML4_ALT : PML4;
		break;
	case 6:
		flip(fm, PD + 8, EMUL_PTE_PS |
		     ((PT ^ LARGE_PA) & GENMASK_ULL(51, 12)));
		break;
	case 7:
		fm->ctx.seg[EMUL_CS].ar ^= EMUL_AR_L | EMUL_AR_DB;
		break;
	case 8:
		flip(fm, arg & 1 ? PT : PDPT, EMUL_PTE_P);
		break;
	default:
		fm->ctx.rip = CODE_LA + (arg & 1 ? 0xffe : 0);
		break;
	}
}

static bool same_state(struct fake_machine *a, struct fake_machine *b, int rca,
		       int rcb)
{
	static const uint64_t pages[] = {
		PML4, PDPT, PD, PT, PML4_ALT, PDPT_ALT, PD_ALT, PT_ALT,
		PAGE_A, PAGE_B, LARGE_PA, LARGE_PA + 0x1000, DATA_PA,
	};

	if (rca != rcb || a->ctx.rip != b->ctx.rip ||
	    a->ctx.rflags != b->ctx.rflags ||
	    memcmp(a->ctx.gpr, b->ctx.gpr, sizeof(a->ctx.gpr)))
		return false;
	if (rca == EMUL_EXCEPTION &&
	    memcmp(&a->ctx.exc, &b->ctx.exc, sizeof(a->ctx.exc)))
		return false;
	for (unsigned int i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (memcmp(a->ram + pages[i], b->ram + pages[i], 0x1000))
			return false;
	return true;
}

TEST(same_as_without_cache)
{
	struct emul_icache cache = { 0 };
	struct fake_machine *a = machine(&cache), *b = machine(NULL);
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	unsigned int hits = 0;

	for (unsigned int i = 0; i < 3 * NR_VARIANTS; i++) {
		fm_put(a, code_pas[i % 3], variants[i % NR_VARIANTS], 3);
		fm_put(b, code_pas[i % 3], variants[i % NR_VARIANTS], 3);
	}
	for (int i = 0; i < 20000 && !test_failed_now; i++) {
		uint64_t r = test_xorshift(&seed), rip;
		int rca, rcb, reads;

		if (r % 3) {
			mutate(a, r >> 2);
			mutate(b, r >> 2);
		}
		rip = a->ctx.rip;
		a->ctx.gpr[EMUL_RAX] = b->ctx.gpr[EMUL_RAX] = DATA_LA;
		a->ctx.gpr[EMUL_RBX] = b->ctx.gpr[EMUL_RBX] = r;
		phys_reads = 0;
		rca = emul_step(&a->ctx);
		reads = phys_reads;
		phys_reads = 0;
		rcb = emul_step(&b->ctx);
		hits += reads < phys_reads;
		if (!same_state(a, b, rca, rcb))
			printf("    step %d (change %#llx): %d vs %d\n", i,
			       (unsigned long long)(r >> 2), rca, rcb);
		EXPECT(same_state(a, b, rca, rcb));
		a->ctx.rip = b->ctx.rip = rip;
	}
	EXPECT(hits > 1000);
	fm_free(a);
	fm_free(b);
}

TEST_MAIN()
