/*
 * hostile_shadow: legal paging moves that once trapped Keel, each a test
 * of its own (command line test=NAME, default all):
 *
 *   smep       CR4.SMEP and SMAP (and PKE with PKRU denying key 0) set
 *              while paging is off, where they do nothing (SDM Vol. 3A
 *              4.1.3, 4.6): code and data must run on. Then paging on
 *              with SMEP, where a supervisor fetch from a user page must
 *              fault (P|I), and off again with SMEP still set.
 *   rootwrite  stores Keel cannot emulate (x87 FISTP, an SSE MOVD, SHL and
 *              ROL on memory) into PDEs of the live 32-bit page directory,
 *              the root of the shadow: each must land, and after INVLPG
 *              the new 4 MiB mappings must reach their frame (or, for SHL,
 *              which clears P, be gone). The same in PAE
 *              paging, whose page directories are the shadow's roots too.
 *   pdpte      a PAE PDPTE with a reserved bit: MOV to CR0 that turns PAE
 *              paging on (CR0.NE toggled too, so that the write leaves the
 *              guest under EPT as well), MOV to CR4 that sets PAE while
 *              32-bit paging is on, and MOV to CR3 in PAE paging must each
 *              raise #GP(0) and leave the register as it was (SDM Vol. 3A
 *              4.4.1).
 *   dirty      CR0.WP = 0: two PDEs map one 4 MiB frame read-only; a read
 *              through the first, a write through the second, then a write
 *              through the first must set D in the first PDE (SDM Vol. 3A
 *              4.8; kvm-unit-tests' check_large_pte_dirty_for_nowp).
 *   alias      one 4 KiB frame mapped 65,536 times (64 page tables whose
 *              every PTE points to it), each alias read once, then every
 *              PTE cleared and CR3 reloaded: Keel's reverse map for that
 *              frame must not make each removal walk all the others.
 *              Prints the ticks per mapping of both phases. Then one
 *              page table under 512 PDEs: its shadow has 512 parents.
 *
 * Before Keel's fixes: smep and rootwrite made the vCPU exit forever on
 * one instruction, pdpte ended the guest with "VM entry failed" under EPT,
 * dirty left D clear under shadow paging, and alias took quadratic time
 * (each removal from the frame's reverse map searched the whole chain).
 *
 *   0x000000 - 0x1000000  identity, four 4 MiB supervisor pages
 *   0x600000              32-bit page directory
 *   0x601000              PAE PDPT (good), 0x601020 PDPT (bad)
 *   0x602000              PAE page directory: 2 MiB identity pages
 *   0x800000              frame of the remapped 4 MiB pages (tagged)
 *   0xc00000              user page for the SMEP fetch (RET at its start)
 *   0xd00000 - 0xd40000   alias page tables, all PTEs to the tag's frame
 */
#include "guest.h"

#define PD_PA           0x600000u
#define PDPT_PA         0x601000u
#define PDPT_BAD_PA     0x601020u
#define PD_PAE_PA       0x602000u
#define FRAME_PA        0x800000u
#define USER_PA         0xc00000u
#define TAG_OFF         0x1230u
#define TAG             0x7a11ab1eu

#define PTE_P           0x001u
#define PTE_RW          0x002u
#define PTE_US          0x004u
#define PTE_A           0x020u
#define PTE_D           0x040u
#define PDE_PS          0x080u

#define CR0_PE          0x00000001u
#define CR0_NE          0x00000020u
#define CR0_WP          0x00010000u
#define CR0_PG          0x80000000u
#define CR4_PSE         0x00000010u
#define CR4_PAE         0x00000020u
#define CR4_OSFXSR      0x00000200u
#define CR4_SMEP        0x00100000u
#define CR4_SMAP        0x00200000u
#define CR4_PKE         0x00400000u

#define CPUID7_EBX_SMEP (1u << 7)
#define CPUID7_EBX_SMAP (1u << 20)
#define CPUID7_ECX_PKU  (1u << 3)

/* 32-bit linear addresses of the PDEs the tests write. */
#define VA_FISTP        0x40000000u     /* PDE 256 */
#define VA_SSE          0x40400000u     /* PDE 257 */
#define VA_SHL          0x40800000u     /* PDE 258 */
#define VA_USER         0x41000000u     /* PDE 260 */
#define VA_DIRTY1       0x41400000u     /* PDE 261 */
#define VA_DIRTY2       0x41800000u     /* PDE 262 */
#define VA_ALIAS        0x80000000u     /* PDEs 512-575 */

#define ALIAS_PT_PA     0xd00000u
#define ALIAS_PTS       64u
#define ALIAS_MAPPINGS  (ALIAS_PTS * 1024u)
#define ALIAS_FRAME_PA  (FRAME_PA + (TAG_OFF & ~0xfffu))   /* holds the tag */
#define ALIAS_OFF       (TAG_OFF & 0xfffu)

/* MOV to CRn that may raise #GP: the vector it raised, or TRAP_NONE. */
#define WR_CR_SAFE(n)                                                   \
static int wr_cr##n##_safe(uint32_t v)                                  \
{                                                                       \
	trap_arm();                                                     \
	__asm__ volatile("1: mov %0, %%cr" #n "\n2:\n" EX_TABLE("1b", "2b") \
			 :: "r"(v) : "memory");                          \
	return trap_last.vector;                                        \
}
WR_CR_SAFE(0)
WR_CR_SAFE(3)
WR_CR_SAFE(4)

static inline void invlpg(uint32_t va)
{
	__asm__ volatile("invlpg (%0)" :: "r"(va) : "memory");
}

static uint32_t *pd32(void)
{
	return (uint32_t *)(uintptr_t)PD_PA;
}

static volatile uint32_t *at(uint32_t va)
{
	return (volatile uint32_t *)(uintptr_t)va;
}

/* Work that fetches, reads and writes: what a livelocked vCPU never
 * finishes. */
static volatile uint32_t work_buf[256];

__attribute__((noinline)) static uint32_t work(uint32_t seed)
{
	uint32_t sum = 0;

	for (unsigned int i = 0; i < 256; i++)
		work_buf[i] = seed + i;
	for (unsigned int i = 0; i < 4096; i++)
		sum += work_buf[(i * 7) & 255] ^ i;
	return sum;
}

/* PD: 16 MiB identity in 4 MiB supervisor pages, nothing else. */
static void build_pd32(void)
{
	uint32_t *pd = pd32();

	memset(pd, 0, 4096);
	for (uint32_t i = 0; i < 4; i++)
		pd[i] = (i << 22) | PDE_PS | PTE_RW | PTE_P;
}

static void paging32_on(void)
{
	cr4_write((uint32_t)cr4_read() | CR4_PSE);
	cr3_write(PD_PA);
	cr0_write((uint32_t)cr0_read() | CR0_PG);
}

static void paging_off(void)
{
	cr0_write((uint32_t)cr0_read() & ~CR0_PG);
}

static void tag_frame(void)
{
	*at(FRAME_PA + TAG_OFF) = TAG;
	*at(FRAME_PA + TAG_OFF + 4) = 0;
}

/* ---- smep ----------------------------------------------------------------- */

static inline void wrpkru(uint32_t v)
{
	__asm__ volatile(".byte 0x0f, 0x01, 0xef" :: "a"(v), "c"(0), "d"(0)
			 : "memory");
}

static inline uint32_t rdpkru(void)
{
	uint32_t v;

	__asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(v) : "c"(0) : "edx");
	return v;
}

/* Calls VA_USER (a RET) from ring 0: the vector that stopped it. */
static int call_user_page(void)
{
	trap_arm();
	__asm__ volatile("call *%0\n"
			 "2:\n"
			 EX_TABLE("0x41000000", "3f")
			 "jmp 4f\n"
			 "3: addl $4, %%esp\n"
			 "4:\n"
			 :: "r"(VA_USER) : "memory", "eax", "ecx", "edx");
	return trap_last.vector;
}

static void test_smep(void)
{
	struct cpuid_regs l7 = cpuid(7, 0);
	uint32_t bits = 0, cr4 = (uint32_t)cr4_read(), want = work(1);
	bool pku = l7.ecx & CPUID7_ECX_PKU;

	if (l7.ebx & CPUID7_EBX_SMEP)
		bits |= CR4_SMEP;
	if (l7.ebx & CPUID7_EBX_SMAP)
		bits |= CR4_SMAP;
	if (pku)
		bits |= CR4_PKE;
	if (!(bits & CR4_SMEP)) {
		printf("hostile: smep: no SMEP on this CPU, skipped\n");
		return;
	}
	/* Paging off: none of these bits may change anything. */
	cr4_write(cr4 | bits);
	EXPECT_EQ(work(1), want);
	if (pku) {
		wrpkru(0xfffffffcu | 3);        /* every key: no access */
		EXPECT_EQ(work(1), want);
		EXPECT_EQ(rdpkru(), 0xffffffffu);
		wrpkru(0);
	}
	EXPECT_EQ((uint32_t)cr4_read() & bits, bits);

	/* Paging on: SMEP applies again. The read makes the shadow leaf
	 * for the user page first, so only the processor's own SMEP check
	 * can stop the fetch. */
	build_pd32();
	pd32()[VA_USER >> 22] = USER_PA | PDE_PS | PTE_US | PTE_RW | PTE_P;
	*at(USER_PA) = 0xc3c3c3c3u;     /* RET */
	cr4_write((uint32_t)cr4_read() & ~CR4_SMAP);
	paging32_on();
	EXPECT_EQ(work(2), work(2));
	EXPECT_EQ(*at(VA_USER), 0xc3c3c3c3u);
	EXPECT_EQ(call_user_page(), VEC_PF);
	EXPECT_EQ(trap_last.error, 0x11);       /* P, I/D; supervisor read */
	EXPECT_EQ(trap_last.ip, VA_USER);

	/* Paging off again with SMEP (and SMAP) set. */
	cr4_write((uint32_t)cr4_read() | (bits & CR4_SMAP));
	paging_off();
	EXPECT_EQ(work(1), want);
	cr4_write(cr4);
	printf("hostile: smep: CR4 bits %#x with paging off: ran; SMEP with "
	       "paging on: #PF %#x at %#x\n", bits, trap_last.error,
	       (unsigned int)trap_last.ip);
}

/* ---- rootwrite -------------------------------------------------------------- */

static void store_fistp(volatile void *dst, uint32_t val)
{
	uint32_t src = val;

	__asm__ volatile("fninit\n\tfildl %1\n\tfistpl %0"
			 : "=m"(*(volatile uint32_t *)dst) : "m"(src) : "memory");
}

static void store_sse(volatile void *dst, uint32_t val)
{
	__asm__ volatile("movd %1, %%xmm0\n\tmovd %%xmm0, %0"
			 : "=m"(*(volatile uint32_t *)dst) : "r"(val)
			 : "memory");	/* no other code uses SSE */
}

static void store_shl(volatile void *dst)
{
	__asm__ volatile("shll $1, %0" : "+m"(*(volatile uint32_t *)dst)
			 :: "memory", "cc");
}

static void store_rol(volatile void *dst)
{
	__asm__ volatile("roll $1, %0" : "+m"(*(volatile uint32_t *)dst)
			 :: "memory", "cc");
}

/* A read that may fault: the vector, or TRAP_NONE. */
static int read_safe(uint32_t va)
{
	uint32_t v;

	trap_arm();
	__asm__ volatile("1: movl (%1), %0\n2:\n" EX_TABLE("1b", "2b")
			 : "=r"(v) : "r"(va) : "memory");
	return trap_last.vector;
}

/* The 4 MiB (32-bit) or 2 MiB (PAE) page at va must show the tag. */
static void check_mapping(const char *how, uint32_t va, uint32_t off)
{
	invlpg(va + off);
	EXPECT_EQ(*at(va + off), TAG);
	*at(va + off + 4) = 0x5eed0000u | (va >> 20);
	EXPECT_EQ(*at(FRAME_PA + TAG_OFF + 4), 0x5eed0000u | (va >> 20));
	printf("hostile: rootwrite: %s: PDE store landed, mapping works\n", how);
}

static void test_rootwrite32(void)
{
	uint32_t *pd = pd32();
	uint32_t pde = FRAME_PA | PDE_PS | PTE_RW | PTE_P;

	build_pd32();
	tag_frame();
	cr4_write((uint32_t)cr4_read() | CR4_OSFXSR);
	paging32_on();
	EXPECT_EQ(work(3), work(3));

	store_fistp(&pd[VA_FISTP >> 22], pde);
	EXPECT_EQ(pd[VA_FISTP >> 22], pde);
	check_mapping("32-bit FISTP", VA_FISTP, TAG_OFF);

	store_sse(&pd[VA_SSE >> 22], pde);
	EXPECT_EQ(pd[VA_SSE >> 22], pde);
	check_mapping("32-bit SSE MOVD", VA_SSE, TAG_OFF);

	/* SHL leaves bit 0 clear: it takes the SSE mapping away. */
	pde = pd[VA_SSE >> 22];                 /* A and D set by now */
	store_shl(&pd[VA_SSE >> 22]);
	EXPECT_EQ(pd[VA_SSE >> 22], pde << 1);
	invlpg(VA_SSE + TAG_OFF);
	EXPECT_EQ(read_safe(VA_SSE + TAG_OFF), VEC_PF);
	EXPECT_EQ(trap_last.error, 0);
	printf("hostile: rootwrite: 32-bit SHL: PDE store landed, mapping gone\n");

	/* ROL makes a read-only 4 MiB page from its value rotated right. */
	pde = FRAME_PA | PDE_PS | PTE_P;
	pd[VA_SHL >> 22] = (pde >> 1) | (pde << 31);
	store_rol(&pd[VA_SHL >> 22]);
	EXPECT_EQ(pd[VA_SHL >> 22], pde);
	invlpg(VA_SHL + TAG_OFF);
	EXPECT_EQ(read_safe(VA_SHL + TAG_OFF), TRAP_NONE);
	EXPECT_EQ(*at(VA_SHL + TAG_OFF), TAG);
	printf("hostile: rootwrite: 32-bit ROL: PDE store landed, mapping works\n");

	/* A root written again, after a CR3 reload made it tracked again. */
	cr3_write(PD_PA);
	store_fistp(&pd[VA_FISTP >> 22], 0);
	EXPECT_EQ(pd[VA_FISTP >> 22], 0);
	invlpg(VA_FISTP);
	paging_off();
}

/* PAE: PD entries are 8 bytes; the low half holds P, PS and the frame. */
static void test_rootwrite_pae(void)
{
	uint64_t *pdpt = (uint64_t *)(uintptr_t)PDPT_PA;
	uint64_t *pd = (uint64_t *)(uintptr_t)PD_PAE_PA;
	/* 0x40000000 is PDPTE 1: its PD is the next page. */
	uint64_t *pd1 = pd + 512;
	uint32_t pde = FRAME_PA | PDE_PS | PTE_RW | PTE_P;

	memset(pdpt, 0, 32);
	memset(pd, 0, 2 * 4096);
	for (uint32_t i = 0; i < 8; i++)
		pd[i] = ((uint64_t)i << 21) | PDE_PS | PTE_RW | PTE_P;
	pdpt[0] = PD_PAE_PA | PTE_P;
	pdpt[1] = (PD_PAE_PA + 4096) | PTE_P;
	tag_frame();
	cr4_write(((uint32_t)cr4_read() & ~CR4_PSE) | CR4_PAE | CR4_OSFXSR);
	cr3_write(PDPT_PA);
	cr0_write((uint32_t)cr0_read() | CR0_PG);
	EXPECT_EQ(work(4), work(4));

	/* The PD of PDPTE 0 maps this code: a root the vCPU runs on.
	 * Entry 0x100 maps 0x20000000. */
	store_fistp(&pd[0x100], pde);
	EXPECT_EQ((uint32_t)pd[0x100], pde);
	check_mapping("PAE FISTP", 0x20000000u, TAG_OFF);

	store_sse(&pd1[0], pde);
	EXPECT_EQ((uint32_t)pd1[0], pde);
	check_mapping("PAE SSE MOVD", 0x40000000u, TAG_OFF);

	paging_off();
	cr4_write((uint32_t)cr4_read() & ~CR4_PAE);
}

static void test_rootwrite(void)
{
	test_rootwrite32();
	test_rootwrite_pae();
}

/* ---- pdpte ------------------------------------------------------------------- */

static void test_pdpte(void)
{
	uint64_t *good = (uint64_t *)(uintptr_t)PDPT_PA;
	uint64_t *bad = (uint64_t *)(uintptr_t)PDPT_BAD_PA;
	uint64_t *pd = (uint64_t *)(uintptr_t)PD_PAE_PA;
	uint32_t cr0 = (uint32_t)cr0_read(), cr4 = (uint32_t)cr4_read();
	int vec;

	memset(pd, 0, 4096);
	for (uint32_t i = 0; i < 8; i++)
		pd[i] = ((uint64_t)i << 21) | PDE_PS | PTE_RW | PTE_P;
	memset(good, 0, 64);
	good[0] = PD_PAE_PA | PTE_P;
	bad[0] = PD_PAE_PA | PTE_RW | PTE_P;    /* bit 1 is reserved */

	/* MOV to CR0 turning PAE paging on. */
	cr4_write(cr4 | CR4_PAE);
	cr3_write(PDPT_BAD_PA);
	vec = wr_cr0_safe(cr0 ^ (CR0_PG | CR0_NE));
	EXPECT_EQ(vec, VEC_GP);
	EXPECT_EQ(trap_last.error, 0);
	EXPECT_EQ((uint32_t)cr0_read(), cr0);
	printf("hostile: pdpte: MOV to CR0 with a bad PDPTE: vector %d, "
	       "CR0 %#x\n", vec, (uint32_t)cr0_read());

	/* The same with good PDPTEs works; then MOV to CR3 in PAE paging. */
	cr3_write(PDPT_PA);
	EXPECT_EQ(wr_cr0_safe(cr0 | CR0_PG), TRAP_NONE);
	EXPECT_EQ(work(5), work(5));
	vec = wr_cr3_safe(PDPT_BAD_PA);
	EXPECT_EQ(vec, VEC_GP);
	EXPECT_EQ((uint32_t)cr3_read(), PDPT_PA);
	EXPECT_EQ(work(5), work(5));
	printf("hostile: pdpte: MOV to CR3 with a bad PDPTE: vector %d\n", vec);
	paging_off();
	cr4_write(cr4);

	/* MOV to CR4 setting PAE under 32-bit paging: CR3 then names a
	 * PDPT whose entries are the PD's first PDEs (PS and R/W set,
	 * reserved in a PDPTE). */
	build_pd32();
	paging32_on();
	vec = wr_cr4_safe((uint32_t)cr4_read() | CR4_PAE);
	EXPECT_EQ(vec, VEC_GP);
	EXPECT_EQ((uint32_t)cr4_read() & CR4_PAE, 0);
	EXPECT_EQ(work(6), work(6));
	printf("hostile: pdpte: MOV to CR4 with bad PDPTEs: vector %d\n", vec);
	paging_off();
	cr4_write(cr4);
}

/* ---- dirty ------------------------------------------------------------------- */

static void test_dirty(void)
{
	uint32_t *pd = pd32();
	uint32_t ro = FRAME_PA | PDE_PS | PTE_P;

	build_pd32();
	tag_frame();
	pd[VA_DIRTY1 >> 22] = ro;
	pd[VA_DIRTY2 >> 22] = ro;
	cr0_write((uint32_t)cr0_read() & ~CR0_WP);
	paging32_on();

	EXPECT_EQ(*at(VA_DIRTY1 + TAG_OFF), TAG);       /* read: A */
	*at(VA_DIRTY2 + TAG_OFF + 4) = 1;               /* write, WP = 0: A D */
	*at(VA_DIRTY1 + TAG_OFF + 4) = 2;               /* write: D */
	EXPECT_EQ(*at(FRAME_PA + TAG_OFF + 4), 2);
	EXPECT_EQ(pd[VA_DIRTY2 >> 22], ro | PTE_A | PTE_D);
	EXPECT_EQ(pd[VA_DIRTY1 >> 22], ro | PTE_A | PTE_D);
	printf("hostile: dirty: PDEs after WP=0 writes %#x %#x\n",
	       pd[VA_DIRTY1 >> 22], pd[VA_DIRTY2 >> 22]);
	paging_off();
}

/* ---- alias ---------------------------------------------------------------- */

static uint32_t alias_va(uint32_t n)
{
	return VA_ALIAS + n * 4096u;
}

static void build_alias_tables(void)
{
	uint32_t *pd = pd32();
	uint32_t *pt = (uint32_t *)(uintptr_t)ALIAS_PT_PA;

	for (uint32_t n = 0; n < ALIAS_MAPPINGS; n++)
		pt[n] = ALIAS_FRAME_PA | PTE_RW | PTE_P;
	for (uint32_t k = 0; k < ALIAS_PTS; k++)
		pd[(VA_ALIAS >> 22) + k] = (ALIAS_PT_PA + k * 4096u) | PTE_RW |
					   PTE_P;
}

/* Reads every alias: each read fills one more leaf for the frame. */
static uint64_t alias_fill(void)
{
	uint64_t t0 = rdtsc_ordered();
	uint32_t bad = 0;

	for (uint32_t n = 0; n < ALIAS_MAPPINGS; n++)
		bad += *at(alias_va(n) + ALIAS_OFF) != TAG;
	EXPECT_EQ(bad, 0);
	return rdtsc_ordered() - t0;
}

/* Clears every PTE (each store to a shadowed table) and reloads CR3. */
static uint64_t alias_unmap(void)
{
	uint32_t *pt = (uint32_t *)(uintptr_t)ALIAS_PT_PA;
	uint64_t t0 = rdtsc_ordered();

	for (uint32_t n = 0; n < ALIAS_MAPPINGS; n++)
		pt[n] = 0;
	cr3_write(PD_PA);
	return rdtsc_ordered() - t0;
}

/* All 512 PDEs from VA_ALIAS up point to one page table: its shadow is
 * linked from 512 places, one per 4 MiB read. */
static void alias_one_table(void)
{
	uint32_t *pd = pd32(), *pt = (uint32_t *)(uintptr_t)ALIAS_PT_PA;
	uint32_t bad = 0;

	pt[5] = ALIAS_FRAME_PA | PTE_RW | PTE_P;
	for (uint32_t k = 0; k < 512; k++)
		pd[(VA_ALIAS >> 22) + k] = ALIAS_PT_PA | PTE_RW | PTE_P;
	cr3_write(PD_PA);
	for (uint32_t k = 0; k < 512; k++)
		bad += *at(VA_ALIAS + (k << 22) + 5 * 4096 + ALIAS_OFF) != TAG;
	EXPECT_EQ(bad, 0);
	printf("hostile: alias: one page table under 512 PDEs: all read\n");
}

static void test_alias(void)
{
	uint64_t fill, unmap;

	build_pd32();
	tag_frame();
	build_alias_tables();
	paging32_on();
	fill = alias_fill();
	/* A store through one alias shows through another. */
	*at(alias_va(3 * 1024 + 5) + ALIAS_OFF + 4) = 0xa11a5u;
	EXPECT_EQ(*at(alias_va(11 * 1024 + 1000) + ALIAS_OFF + 4), 0xa11a5u);
	EXPECT_EQ(*at(FRAME_PA + TAG_OFF + 4), 0xa11a5u);
	unmap = alias_unmap();
	EXPECT_EQ(read_safe(alias_va(7 * 1024 + 9) + ALIAS_OFF), VEC_PF);
	EXPECT_EQ(*at(FRAME_PA + TAG_OFF), TAG);
	alias_one_table();
	printf("hostile: alias: %u mappings of one frame: fill %llu, unmap %llu"
	       " ticks per mapping\n", ALIAS_MAPPINGS,
	       (unsigned long long)(fill / ALIAS_MAPPINGS),
	       (unsigned long long)(unmap / ALIAS_MAPPINGS));
	paging_off();
}

void guest_main(void)
{
	char test[16] = "all";
	bool all;

	cmdline_get("test", test, sizeof(test));
	all = !strncmp(test, "all", 4);
	printf("hostile: test=%s shadow paging: %s\n", test,
	       keel_shadow_paging() ? "yes" : "no");
	if (all || !strncmp(test, "smep", 5))
		test_smep();
	if (all || !strncmp(test, "rootwrite", 10))
		test_rootwrite();
	if (all || !strncmp(test, "pdpte", 6))
		test_pdpte();
	if (all || !strncmp(test, "dirty", 6))
		test_dirty();
	if (all || !strncmp(test, "alias", 6))
		test_alias();
	printf("hostile: done\n");
}
