/*
 * pgtorture: the guest's own page tables under stress, every access
 * checked against the guest's model of them. Built twice: pgtorture.elf
 * (multiboot, 32-bit: mode=32 or mode=pae, in pgtorture32.h) and
 * pgtorture64.elf (elf64: mode=4level, in pgtorture64.h). It proves
 * whatever turns guest-linear into guest-physical addresses: today the CPU
 * under EPT, later Keel's shadow MMU.
 *
 * Command line: mode=32|pae|4level  seed=N  steps=N  (torture)
 *               bench=1 bench_n=N bench_prefix=NAME   (ticks, see bench_*)
 *
 * Guest-physical layout (64 MiB guest; 0-32 MiB identity-mapped, global,
 * user-accessible, in every address space):
 *
 *   0x0000000 +------------------+ multiboot information, image at 1 MiB
 *   0x0400000 | POOL             | page-table pages: 3 shared system
 *             |                  | tables, then each address space's
 *   0x0800000 | MIRROR           | the model: one copy per pool page
 *   0x0c00000 | SMALL frames     | 64 pattern pages, then the code frame
 *   0x1000000 | LARGE frames     | 16 MiB of 4 MiB or 2 MiB pages
 *   0x2000000 +------------------+ end of the identity map
 *
 * Every address space has the same tree of private tables over a small
 * "window" of linear addresses (pg_fmt.base/fan: which indexes of each
 * level are used; the rest of each table stays zero). A step changes one
 * entry of some address space's table (leaf or directory, remap, unmap,
 * permissions, large pages, sharing a child table with another address
 * space, a reserved bit) with one of the store kinds, flushes as the SDM
 * requires when that table is live (INVLPG for a leaf, CR3 reload when a
 * directory changed, SDM Vol. 3A 4.10.4), switches CR3, toggles CR0.WP,
 * and probes: supervisor read, write and fetch, user read and write, each
 * compared with a walk of the model (value read, where a write landed,
 * #PF error code and CR2, accessed and dirty flags).
 *
 * One more PT, GLOBAL_PT, is linked into every address space at the same
 * place outside the window (global_va()) and its PTEs have G set: kernel
 * style global pages, which a CR3 switch keeps in the TLB, so a change
 * there is flushed with INVLPG or by toggling CR4.PGE (SDM Vol. 3A
 * 4.10.2.4, 4.10.4.1).
 *
 * Before the torture, a fixed phase (aliases()) maps one frame through two
 * entries at a time and checks the A/D flags of each under every R/W, U/S
 * and CR0.WP.
 *
 * Pattern frames hold pattern(pa) in each 32-bit word, so a wrong mapping
 * reads a wrong value; the code frame holds FF E3 (jmp *%ebx / *%rbx) so
 * a fetch that must succeed comes straight back.
 */
#include "guest.h"

#define PAGE            4096u
#define MAX_LEVELS      4
#define NUM_AS          64u
#define SYS_TABLES      3u      /* system PDPT and PD, the global PT */
#define GLOBAL_PT       (POOL_BASE + 2 * PAGE)
#define GLOBAL_FAN      8u
#define POOL_BASE       0x00400000u
#define POOL_PAGES      1024u
#define MIRROR_BASE     0x00800000u
#define SMALL_BASE      0x00c00000u
#define NR_SMALL        64u
#define CODE_FRAME      (SMALL_BASE + NR_SMALL * PAGE)
#define LARGE_BASE      0x01000000u
#define LARGE_BYTES     0x01000000u
#define SYS_END         0x02000000u
#define RAM_NEEDED      0x04000000u
#define CODE_WORD       0xe3ffe3ffu     /* bytes FF E3 FF E3 */

#define DEFAULT_STEPS   20000u
#define PROBES_PER_STEP 3u
#define SWEEP_EVERY     1024u
#define TABLES_EVERY    4096u
#define MAX_REPORTS     12u

/* Paging-structure entries (SDM Vol. 3A Tables 4-4 to 4-6, 4-8 to 4-11,
 * 4-14 to 4-20): the bits this guest uses are the same in all formats. */
#define PTE_P           (1ULL << 0)
#define PTE_RW          (1ULL << 1)
#define PTE_US          (1ULL << 2)
#define PTE_A           (1ULL << 5)
#define PTE_D           (1ULL << 6)
#define PTE_PS          (1ULL << 7)
#define PTE_G           (1ULL << 8)
#define PTE_XD          (1ULL << 63)
#define PTE_AD          (PTE_A | PTE_D)
#define PTE_4M_RSVD21   (1ULL << 21)    /* Table 4-4: reserved in a 4 MiB PDE */
#define PTE_LARGE_LOW   13              /* bits 20:13 of a 2 MiB entry */

/* #PF error code (SDM Vol. 3A 4.7). */
#define PF_P            0x01u
#define PF_W            0x02u
#define PF_U            0x04u
#define PF_RSVD         0x08u
#define PF_ID           0x10u

#define CR0_WP          (1u << 16)
#define CR0_PG          (1u << 31)
#define CR4_PSE         (1u << 4)
#define CR4_PAE         (1u << 5)
#define CR4_PGE         (1u << 7)
#define MSR_EFER        0xc0000080u
#define EFER_NXE        (1ULL << 11)
#define CPUID_NX        (1u << 20)      /* CPUID.80000001H:EDX */
#define CPUID_PSE36     (1u << 17)      /* CPUID.01H:EDX */

#define SEL_KCODE       0x08
#define SEL_KDATA       0x10
#define SEL_UCODE       0x18
#define SEL_UDATA       0x20
#define SEL_TSS         0x28
#define GDT_KDATA       0x00cf93000000ffffULL
#define GDT_UDATA       0x00cff3000000ffffULL

static uint64_t bits(unsigned int lo, unsigned int hi)
{
	if (lo > hi)
		return 0;
	return (~0ULL >> (63 - hi)) & (~0ULL << lo);
}

/* ---- formats ------------------------------------------------------------ */

enum fmt_kind { FMT_32, FMT_PAE, FMT_4LEVEL };

/* Each image has the formats its arch header lists in arch_fmts. */

/* One paging format and the window this guest uses in it. Level 0 is the
 * root (CR3); the last level holds 4 KiB PTEs. */
struct pg_fmt {
	const char *name;
	enum fmt_kind kind;
	unsigned int levels, entry_size;
	unsigned int shift[MAX_LEVELS];         /* linear-address bit of index */
	unsigned int idx_bits[MAX_LEVELS];
	unsigned int base[MAX_LEVELS];          /* first window index */
	unsigned int fan[MAX_LEVELS];           /* window indexes used */
	unsigned int large_level;               /* PS=1 means a large page */
	unsigned int sys_entries;               /* identity large pages */
};

/* 32-bit: PD -> PT, 4 MiB pages; window at 1 GiB (PDE 256..263). */
static const struct pg_fmt fmt_32 __attribute__((unused)) = {
	"32", FMT_32, 2, 4, { 22, 12 }, { 10, 10 }, { 256, 0 }, { 8, 8 },
	0, 8,
};
/* PAE: PDPT -> PD -> PT, 2 MiB pages; PDPTE 0 is the shared system PD. */
static const struct pg_fmt fmt_pae __attribute__((unused)) = {
	"pae", FMT_PAE, 3, 8, { 30, 21, 12 }, { 2, 9, 9 }, { 1, 0, 0 },
	{ 2, 4, 8 }, 1, 16,
};
/* 4-level: PML4 -> PDPT -> PD -> PT; PML4E 0 is the shared system PDPT. */
static const struct pg_fmt fmt_4level __attribute__((unused)) = {
	"4level", FMT_4LEVEL, 4, 8, { 39, 30, 21, 12 }, { 9, 9, 9, 9 },
	{ 1, 0, 0, 0 }, { 2, 2, 2, 8 }, 2, 16,
};

/* Ways of writing an entry; the arch side says which it has. */
enum wkind {
	WK_MOV, WK_XCHG, WK_CMPXCHG, WK_CMPXCHG8B, WK_SPLIT, WK_LOCK_OR,
	WK_LOCK_AND, WK_N
};

static const char *const wkind_names[WK_N] = {
	"mov", "xchg", "cmpxchg", "cmpxchg8b", "mov2x32", "lock_or", "lock_and",
};

static const struct pg_fmt *F;
static unsigned int maxphy, maxphy_pse;         /* MAXPHYADDR, for 4 MiB PDEs */
static bool nxe;                                /* EFER.NXE is set */
static uint64_t addr_mask, large_mask;          /* frame bits of an entry */
static unsigned int cur_as;
static bool wp_on;
static uint32_t step_no;

static struct {
	uint32_t steps, probes, accesses, faults, ad_checks, cr3_switches;
	uint32_t faults_np, faults_rsvd, faults_prot, faults_user, faults_fetch;
	uint32_t invlpg, cr3_flushes, wp_toggles, entries_checked;
	uint32_t global_changes, pge_flushes, fetches_run, user_ok;
	uint32_t writes[WK_N], mismatches;
} st;

/* Fault recovery, shared with the arch asm: pt_fault() records a #PF
 * and resumes at pf_recover when it is set. */
volatile uintptr_t pf_recover, pf_fault_ip;
volatile struct {
	bool hit;
	uint32_t err;
	uintptr_t cr2, ip;
} pf_seen;

void pt_fault(struct trap_frame *f);
uint32_t user_call(uintptr_t va, uint32_t kind, uint32_t val);
extern char pt_pf_stub[], user_fix[], user_return[];
extern char user_read_insn[], user_write_insn[];

#define DEFINE_CR(n)                                                    \
	static inline uintptr_t read_cr##n(void)                        \
	{                                                               \
		uintptr_t v;                                            \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));       \
		return v;                                               \
	}                                                               \
	static inline void write_cr##n(uintptr_t v)                     \
	{                                                               \
		__asm__ volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); \
	}
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)

static inline void invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" :: "r"(va) : "memory");
}

/* A TSS descriptor's first 8 bytes (SDM Vol. 3A 7.2.2): type 9, present. */
static uint64_t tss_descriptor(uintptr_t base, uint32_t limit)
{
	return (limit & 0xffffULL) | ((uint64_t)(base & 0xffffff) << 16) |
	       (0x89ULL << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)((base >> 24) & 0xff) << 56);
}

#if GUEST_BITS == 64
#include "pgtorture64.h"
#else
#include "pgtorture32.h"
#endif

/* ---- randomness, reports ------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

/* xorshift64* (Vigna): deterministic from the seed. */
static uint32_t rnd32(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dULL) >> 32);
}

static uint32_t rnd(uint32_t n)
{
	return rnd32() % n;
}

static bool chance(uint32_t percent)
{
	return rnd(100) < percent;
}

static bool quiet;                      /* the checker's self-test */

/* One mismatch: what differed, where, at which step. */
static __printf(2, 3) void report(uintptr_t va, const char *fmt, ...)
{
	va_list ap;

	st.mismatches++;
	if (quiet || st.mismatches > MAX_REPORTS)
		return;
	printf("FAIL mode=%s step=%u as=%u va=%#llx: ", F->name, step_no,
	       cur_as, (unsigned long long)va);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* ---- frames ------------------------------------------------------------- */

static uint32_t pattern(uint64_t pa)
{
	return (uint32_t)(pa * 0x9e3779b1u) ^ 0xa5c35a3cu;
}

static bool in_code_frame(uint64_t pa)
{
	return pa >= CODE_FRAME && pa < CODE_FRAME + PAGE;
}

/* What the 32-bit word at guest-physical pa must hold. */
static uint32_t content(uint64_t pa)
{
	return in_code_frame(pa) ? CODE_WORD : pattern(pa);
}

static void fill_frames(uint32_t start, uint32_t end)
{
	for (uint32_t pa = start; pa < end; pa += 4)
		*(volatile uint32_t *)(uintptr_t)pa = content(pa);
}

static uint32_t large_size(void)
{
	return 1u << F->shift[F->large_level];
}

static bool in_pool(uint64_t pa)
{
	return pa >= POOL_BASE && pa < POOL_BASE + POOL_PAGES * PAGE;
}

static unsigned int tables_in_use(void);

/* A 4 KiB frame for a PTE: mostly a pattern frame, sometimes the code
 * frame, now and then a page table of any address space (the window then
 * shows the table, A/D flags and all, as a kernel's self-map does). */
static uint64_t small_frame(void)
{
	uint32_t r = rnd(16);

	if (r < 2)
		return CODE_FRAME;
	if (r == 2)
		return POOL_BASE + rnd(tables_in_use()) * PAGE;
	return SMALL_BASE + rnd(NR_SMALL) * PAGE;
}

static uint64_t large_frame(void)
{
	return LARGE_BASE + rnd(LARGE_BYTES / large_size()) * large_size();
}

/* ---- tables: where they are, real and model entries --------------------- */

static unsigned int nodes_at(unsigned int l)
{
	unsigned int n = 1;

	for (unsigned int k = 0; k < l; k++)
		n *= F->fan[k];
	return n;
}

static unsigned int node_offset(unsigned int l)
{
	unsigned int n = 0;

	for (unsigned int k = 0; k < l; k++)
		n += nodes_at(k);
	return n;
}

static unsigned int tables_in_use(void)
{
	return SYS_TABLES + NUM_AS * node_offset(F->levels);
}

/* The private table of address space `as` at level l, node n (the
 * window indexes above it in mixed radix). */
static uintptr_t table_pa(unsigned int as, unsigned int l, unsigned int n)
{
	unsigned int page = SYS_TABLES + as * node_offset(F->levels) +
			    node_offset(l) + n;

	return POOL_BASE + page * PAGE;
}

static uintptr_t root_pa(unsigned int as)
{
	return table_pa(as, 0, 0);
}

static uintptr_t entry_pa(uintptr_t table, unsigned int idx)
{
	return table + idx * F->entry_size;
}

static uint64_t ent_get(uintptr_t pe)
{
	if (F->entry_size == 4)
		return *(volatile uint32_t *)pe;
	return *(volatile uint64_t *)pe;
}

static uintptr_t mirror_of(uintptr_t pe)
{
	return pe - POOL_BASE + MIRROR_BASE;
}

static uint64_t mir_get(uintptr_t pe)
{
	return F->entry_size == 4 ? *(uint32_t *)mirror_of(pe)
				  : *(uint64_t *)mirror_of(pe);
}

static void mir_set(uintptr_t pe, uint64_t v)
{
	if (F->entry_size == 4)
		*(uint32_t *)mirror_of(pe) = (uint32_t)v;
	else
		*(uint64_t *)mirror_of(pe) = v;
}

/* Set-up only: the same value in the table and in the model. */
static void ent_init(uintptr_t pe, uint64_t v)
{
	if (F->entry_size == 4)
		*(volatile uint32_t *)pe = (uint32_t)v;
	else
		*(volatile uint64_t *)pe = v;
	mir_set(pe, v);
}

/* The table and the model agree on an entry, but for A and D, which the
 * processor sets (SDM Vol. 3A 4.8). */
static bool check_entry(uintptr_t pe)
{
	uint64_t real = ent_get(pe), model = mir_get(pe);

	st.entries_checked++;
	if (!((real ^ model) & ~PTE_AD))
		return true;
	report(0, "entry at %#lx is %#llx, model %#llx\n", (unsigned long)pe,
	       (unsigned long long)real, (unsigned long long)model);
	return false;
}

/* ---- the model's page walk (SDM Vol. 3A 4.3, 4.4, 4.5, 4.6) ------------- */

enum acc_kind { ACC_READ, ACC_WRITE, ACC_FETCH };

struct acc {
	enum acc_kind kind;
	bool user;
};

struct walk {
	bool fault;
	uint32_t err;
	uint64_t pa;
	unsigned int n;                 /* entries the walk used */
	uintptr_t ent[MAX_LEVELS];
};

static bool is_large(unsigned int l, uint64_t e)
{
	return l == F->large_level && (e & PTE_PS);
}

static bool is_leaf(unsigned int l, uint64_t e)
{
	return l == F->levels - 1 || is_large(l, e);
}

/* A present entry that points to another table. */
static bool is_pointer(unsigned int l, uint64_t e)
{
	return (e & PTE_P) && !is_leaf(l, e);
}

/* PAE PDPTEs are loaded at CR3 load and have P and the address only
 * (SDM Vol. 3A 4.4.1, Table 4-8). */
static bool is_pdpte_reg(unsigned int l)
{
	return F->kind == FMT_PAE && l == 0;
}

/* Reserved bits of a present entry (SDM Vol. 3A 4.3 Table 4-4; 4.4
 * Tables 4-9 to 4-11; 4.5 Tables 4-15 to 4-20). PAE PDPTEs with reserved
 * bits make MOV to CR3 raise #GP instead: never built. */
static uint64_t rsvd_mask(unsigned int l, uint64_t e)
{
	uint64_t m;

	if (F->kind == FMT_32)
		return is_large(l, e) ? PTE_4M_RSVD21 |
			bits(PTE_LARGE_LOW + maxphy_pse - 32, 20) : 0;
	if (is_pdpte_reg(l))
		return 0;
	m = bits(maxphy, F->kind == FMT_PAE ? 62 : 51);
	if (!nxe)
		m |= PTE_XD;
	if (is_large(l, e))
		m |= bits(PTE_LARGE_LOW, 20);
	if (F->kind == FMT_4LEVEL && l == 0)
		m |= PTE_PS;
	return m;
}

/* A reserved bit to plant in an entry at level l (0: none there). */
static uint64_t rsvd_bit(unsigned int l, bool large)
{
	if (F->kind == FMT_32)
		return large ? PTE_4M_RSVD21 : 0;
	if (is_pdpte_reg(l) || maxphy >= 52)
		return 0;
	if (large && chance(50))
		return 1ULL << PTE_LARGE_LOW;
	if (F->kind == FMT_4LEVEL && l == 0 && chance(50))
		return PTE_PS;
	return 1ULL << maxphy;
}

static uint32_t access_err(const struct acc *a)
{
	uint32_t err = a->user ? PF_U : 0;

	if (a->kind == ACC_WRITE)
		err |= PF_W;
	/* I/D only where fetches can be refused: PAE/4-level with NXE. */
	if (a->kind == ACC_FETCH && nxe)
		err |= PF_ID;
	return err;
}

/* Rights combine over the levels (SDM Vol. 3A 4.6.1); no SMEP/SMAP. */
static bool allowed(const struct acc *a, bool rw, bool us, bool xd)
{
	if (a->user && !us)
		return false;
	if (a->kind == ACC_WRITE)
		return rw || (!a->user && !wp_on);
	if (a->kind == ACC_FETCH)
		return !xd;
	return true;
}

static struct walk walk_fault(struct walk w, uint32_t err)
{
	w.fault = true;
	w.err = err;
	return w;
}

static struct walk model_walk(uintptr_t va, const struct acc *a)
{
	struct walk w = { 0 };
	uintptr_t table = root_pa(cur_as);
	bool rw = true, us = true, xd = false;

	for (unsigned int l = 0; l < F->levels; l++) {
		unsigned int idx = (va >> F->shift[l]) & ((1u << F->idx_bits[l]) - 1);
		uint64_t e = mir_get(entry_pa(table, idx));

		w.ent[w.n++] = entry_pa(table, idx);
		if (!(e & PTE_P))
			return walk_fault(w, access_err(a));
		if (e & rsvd_mask(l, e))
			return walk_fault(w, access_err(a) | PF_P | PF_RSVD);
		if (!is_pdpte_reg(l)) {
			rw = rw && (e & PTE_RW);
			us = us && (e & PTE_US);
			xd = xd || (nxe && (e & PTE_XD));
		}
		if (is_leaf(l, e)) {
			uint64_t frame = e & (is_large(l, e) ? large_mask : addr_mask);

			w.pa = frame + (va & (((uintptr_t)1 << F->shift[l]) - 1));
			break;
		}
		table = (uintptr_t)(e & addr_mask);
	}
	if (!allowed(a, rw, us, xd))
		return walk_fault(w, access_err(a) | PF_P);
	return w;
}

/* ---- accesses that may fault -------------------------------------------- */

void pt_fault(struct trap_frame *f)
{
	if (!pf_recover) {
		trap_handle(f);
		return;
	}
	pf_seen.hit = true;
	pf_seen.err = (uint32_t)f->error;
	pf_seen.cr2 = read_cr2();
	pf_seen.ip = f->ip;
	f->ip = pf_recover;
	pf_recover = 0;
}

static uint32_t sup_read(uintptr_t va)
{
	uint32_t v = 0xdeadbeef;

	__asm__ volatile(ASM_ARM "movl (%1), %0\n1:"
			 : "+r"(v) : "r"(va) : "memory");
	pf_recover = 0;
	return v;
}

static void sup_write(uintptr_t va, uint32_t v)
{
	__asm__ volatile(ASM_ARM "movl %0, (%1)\n1:"
			 :: "r"(v), "r"(va) : "memory");
	pf_recover = 0;
}

/* A CPL-3 access of the given kind (0 read, 1 write, 2 fetch). */
static uint32_t user_access(uintptr_t va, enum acc_kind kind, uint32_t v)
{
	uint32_t r;

	pf_recover = (uintptr_t)user_fix;
	pf_fault_ip = kind == ACC_READ ? (uintptr_t)user_read_insn :
		      kind == ACC_WRITE ? (uintptr_t)user_write_insn : va;
	r = user_call(va, kind, v);
	pf_recover = 0;
	return r;
}

struct outcome {
	bool fault;
	uint32_t err, value;
	uintptr_t cr2, ip, want_ip;
};

static struct outcome do_access(uintptr_t va, const struct acc *a, uint32_t v)
{
	struct outcome o = { 0 };

	pf_seen.hit = false;
	if (a->user)
		o.value = user_access(va, a->kind, v);
	else if (a->kind == ACC_READ)
		o.value = sup_read(va);
	else if (a->kind == ACC_WRITE)
		sup_write(va, v);
	else
		exec_probe(va);
	o.fault = pf_seen.hit;
	o.err = pf_seen.err;
	o.cr2 = pf_seen.cr2;
	o.ip = pf_seen.ip;
	o.want_ip = pf_fault_ip;
	return o;
}

/* ---- probes: one access compared with the model ------------------------- */

static const char *acc_name(const struct acc *a)
{
	static const char *const names[2][3] = {
		{ "read", "write", "fetch" },
		{ "user-read", "user-write", "user-fetch" },
	};

	return names[a->user][a->kind];
}

static void print_walk(const struct walk *w)
{
	if (quiet)
		return;
	for (unsigned int i = 0; i < w->n; i++)
		printf("  level %u entry at %#lx: table %#llx model %#llx\n", i,
		       (unsigned long)w->ent[i],
		       (unsigned long long)ent_get(w->ent[i]),
		       (unsigned long long)mir_get(w->ent[i]));
}

/* Fault or not, error code, CR2 and the faulting instruction (the access
 * itself; for a fetch, the target) as the model says. */
static bool check_fault(uintptr_t va, const struct acc *a,
			const struct walk *w, const struct outcome *o)
{
	if (o->fault == w->fault && (!o->fault ||
	    (o->err == w->err && o->cr2 == va && o->ip == o->want_ip)))
		return true;
	report(va, "%s (wp=%d): expected %s err %#x, got %s err %#x cr2 %#lx "
	       "at ip %#lx (access at %#lx)\n", acc_name(a), wp_on,
	       w->fault ? "#PF" : "no fault", w->err,
	       o->fault ? "#PF" : "no fault", o->err, (unsigned long)o->cr2,
	       (unsigned long)o->ip, (unsigned long)o->want_ip);
	print_walk(w);
	return false;
}

/* The value read, or where the write went (then put back). */
static bool check_data(uintptr_t va, const struct acc *a,
		       const struct walk *w, const struct outcome *o,
		       uint32_t wrote)
{
	volatile uint32_t *phys = (volatile uint32_t *)(uintptr_t)w->pa;
	uint32_t want = content(w->pa), got;

	if (a->kind == ACC_FETCH)
		return true;
	if (in_pool(w->pa))
		want = *phys;   /* the table as it is now, A/D included */
	got = a->kind == ACC_READ ? o->value : *phys;
	if (a->kind == ACC_WRITE) {
		want = wrote;
		*phys = content(w->pa);
	}
	if (got == want)
		return true;
	report(va, "%s: guest-physical %#llx holds %#x, expected %#x\n",
	       acc_name(a), (unsigned long long)w->pa, got, want);
	print_walk(w);
	return false;
}

/* After a successful access every entry used has A set; the leaf has D
 * after a write and keeps D clear after a read or fetch (SDM Vol. 3A
 * 4.8). PAE PDPTEs have no A flag. A global page may be translated by a
 * TLB entry another address space's walk made, which sets A in that
 * space's directories only (SDM Vol. 3A 4.10.2.4): there, only the
 * shared PTE is sure to have A. */
static void check_ad(uintptr_t va, const struct acc *a, const struct walk *w,
		     bool d_before)
{
	uint64_t leaf = ent_get(w->ent[w->n - 1]);
	unsigned int first = is_pdpte_reg(0) ? 1 : 0;

	if (leaf & PTE_G)
		first = w->n - 1;
	st.ad_checks++;
	for (unsigned int i = first; i < w->n; i++)
		if (!(ent_get(w->ent[i]) & PTE_A))
			report(va, "%s: A clear at level %u (entry %#llx)\n",
			       acc_name(a), i,
			       (unsigned long long)ent_get(w->ent[i]));
	if (a->kind == ACC_WRITE && !(leaf & PTE_D))
		report(va, "write: D clear (entry %#llx)\n",
		       (unsigned long long)leaf);
	if (a->kind != ACC_WRITE && !d_before && (leaf & PTE_D))
		report(va, "%s: D set without a write (entry %#llx)\n",
		       acc_name(a), (unsigned long long)leaf);
}

static void count_fault(uint32_t err)
{
	st.faults++;
	if (!(err & PF_P))
		st.faults_np++;
	else if (err & PF_RSVD)
		st.faults_rsvd++;
	else
		st.faults_prot++;
	st.faults_user += !!(err & PF_U);
	st.faults_fetch += !!(err & PF_ID);
}

static void probe_access(uintptr_t va, enum acc_kind kind, bool user)
{
	struct acc a = { kind, user };
	struct walk w = model_walk(va, &a);
	struct outcome o;
	bool d_before = false;
	uint32_t wrote = 0;

	/* Only the code frame may be run; elsewhere, fetches that fault.
	 * Page tables seen through the window are only read. */
	if (kind == ACC_FETCH && !w.fault && !in_code_frame(w.pa))
		return;
	if (kind == ACC_WRITE && !w.fault && in_pool(w.pa))
		return;
	if (!w.fault) {
		d_before = ent_get(w.ent[w.n - 1]) & PTE_D;
		wrote = ~content(w.pa) ^ step_no;
	}
	o = do_access(va, &a, wrote);
	st.accesses++;
	if (!check_fault(va, &a, &w, &o))
		return;
	if (w.fault) {
		count_fault(w.err);
		return;
	}
	st.fetches_run += kind == ACC_FETCH;
	st.user_ok += user;
	if (check_data(va, &a, &w, &o, wrote))
		check_ad(va, &a, &w, d_before);
}

static void probe(uintptr_t va)
{
	st.probes++;
	probe_access(va, ACC_READ, false);
	probe_access(va, ACC_WRITE, false);
	probe_access(va, ACC_FETCH, false);
	probe_access(va, ACC_READ, true);
	probe_access(va, ACC_WRITE, true);
	probe_access(va, ACC_FETCH, true);
}

/* ---- linear addresses in the window ------------------------------------- */

/* An index at level l: mostly the window's, sometimes one past it (never
 * written: not present), now and then any (level 0: not the system's). */
static unsigned int pick_index(unsigned int l)
{
	uint32_t r = rnd(32);
	unsigned int n;

	if (r == 0 && l + 1 < F->levels)
		return F->base[l] + F->fan[l];
	if (r > 1)
		return F->base[l] + rnd(F->fan[l]);
	n = 1u << F->idx_bits[l];
	if (F->kind == FMT_4LEVEL && l == 0)
		n = 256;        /* the lower half: canonical */
	n = rnd(n);
	if (l == 0 && n < F->sys_entries)
		n = F->base[0] + F->fan[0];
	return n;
}

/* A word address below the prefix va of a level-l entry. */
static uintptr_t random_va_below(unsigned int l, uintptr_t va)
{
	for (unsigned int k = l; k < F->levels; k++)
		va += (uintptr_t)pick_index(k) << F->shift[k];
	return va + rnd(PAGE / 4) * 4;
}

/* Where table (l, node) sits: the linear address its first entry maps. */
static uintptr_t node_va(unsigned int l, unsigned int node)
{
	uintptr_t va = 0;

	for (int k = (int)l - 1; k >= 0; k--) {
		va += (uintptr_t)(F->base[k] + node % F->fan[k]) << F->shift[k];
		node /= F->fan[k];
	}
	return va;
}

/* The global PT: a directory entry outside the window, in the root (32-bit)
 * or in the shared system PD (PAE, 4-level), at 0x60000000 / 0x38000000. */
static unsigned int global_dir_index(void)
{
	return F->kind == FMT_32 ? 384 : 448;
}

static uintptr_t global_va(void)
{
	return (uintptr_t)global_dir_index() << F->shift[F->large_level];
}

static uintptr_t global_dir_table(unsigned int as)
{
	if (F->kind == FMT_32)
		return root_pa(as);
	return F->kind == FMT_PAE ? POOL_BASE : POOL_BASE + PAGE;
}

static uintptr_t random_global_va(void)
{
	return global_va() + rnd(GLOBAL_FAN + 1) * PAGE + rnd(PAGE / 4) * 4;
}

/* Every window address of the current address space, once. */
static void sweep(void)
{
	unsigned int leaf = F->levels - 1;

	for (unsigned int n = 0; n < nodes_at(leaf); n++)
		for (unsigned int i = 0; i < F->fan[leaf]; i++)
			probe(node_va(leaf, n) + ((uintptr_t)i << F->shift[leaf]) +
			      rnd(PAGE / 4) * 4);
}

/* No frame holds anything but its pattern: no write went astray. */
static void check_frames(uint32_t start, uint32_t end)
{
	for (uint32_t pa = start; pa < end; pa += 4) {
		uint32_t got = *(volatile uint32_t *)(uintptr_t)pa;

		if (got != content(pa)) {
			report(0, "guest-physical %#x holds %#x, expected %#x\n",
			       pa, got, content(pa));
			return;
		}
	}
}

/* Every table and its model agree (but for A/D). */
static void check_tables(void)
{
	unsigned int per_table = PAGE / F->entry_size;

	for (unsigned int t = 0; t < tables_in_use(); t++)
		for (unsigned int i = 0; i < per_table; i++)
			if (!check_entry(entry_pa(POOL_BASE + t * PAGE, i)))
				return;
}

/* ---- building entries --------------------------------------------------- */

static uint64_t random_perms(uint32_t percent)
{
	uint64_t e = 0;

	if (chance(percent))
		e |= PTE_RW;
	if (chance(percent))
		e |= PTE_US;
	if (nxe && chance(100 - percent))
		e |= PTE_XD;
	return e;
}

/* Not present: zero, or a valid target with P clear (P may come back). */
static uint64_t not_present(uint64_t e)
{
	return chance(50) ? 0 : e & ~PTE_P;
}

static uint64_t gen_leaf(unsigned int l, bool large)
{
	uint64_t e = large ? large_frame() | PTE_PS : small_frame();

	e |= PTE_P | random_perms(75);
	if (rnd(16) == 0)
		e |= rsvd_bit(l, large);
	return chance(10) ? not_present(e) : e;
}

/* The child of (as, l, node) at window index idx: this address space's,
 * or, to share a table, the same position of another's. */
static uintptr_t child_pa(unsigned int as, unsigned int l, unsigned int node,
			  unsigned int idx)
{
	return table_pa(as, l + 1, node * F->fan[l] + idx - F->base[l]);
}

static uint64_t gen_dir(unsigned int as, unsigned int l, unsigned int node,
			unsigned int idx)
{
	uint32_t r = rnd(100);
	uint64_t e;

	if (l == F->large_level && r < 20)
		return gen_leaf(l, true);
	if (r < 35)
		as = rnd(NUM_AS);
	e = child_pa(as, l, node, idx) | PTE_P;
	if (!is_pdpte_reg(l)) {
		e |= random_perms(90);
		if (rnd(32) == 0)
			e |= rsvd_bit(l, false);
	}
	return r >= 90 ? not_present(e) : e;
}

/* ---- changing entries, and the flushes that must follow ---------------- */

/* Where table t (level want_l) is live in the current address space: the
 * linear address its entry 0 maps. A table is reachable from one window
 * position only: children are always taken at their own position. */
static bool find_live(uintptr_t table, unsigned int l, uintptr_t t,
		      unsigned int want_l, uintptr_t va, uintptr_t *out)
{
	if (l == want_l) {
		*out = va;
		return table == t;
	}
	for (unsigned int i = F->base[l]; i < F->base[l] + F->fan[l]; i++) {
		uint64_t e = mir_get(entry_pa(table, i));

		if (is_pointer(l, e) &&
		    find_live((uintptr_t)(e & addr_mask), l + 1, t, want_l,
			      va + ((uintptr_t)i << F->shift[l]), out))
			return true;
	}
	return false;
}

static void reload_cr3(void)
{
	write_cr3(root_pa(cur_as));
	st.cr3_flushes++;
}

/* SDM Vol. 3A 4.10.4.1-2: after changing a leaf, INVLPG its address (or
 * reload CR3); after changing a directory entry, other pages' TLB entries
 * and the paging-structure caches may hold it: reload CR3. A PAE PDPTE
 * only takes effect at the next CR3 load. Tables not live in the current
 * address space need nothing: the next CR3 switch flushes (no PCIDs, no
 * global pages in the window). Then probe under the changed entry. */
static void after_change(uintptr_t t, unsigned int l, unsigned int idx,
			 uint64_t old, uint64_t now)
{
	uintptr_t va;

	if (!find_live(root_pa(cur_as), 0, t, l, 0, &va))
		return;
	va += (uintptr_t)idx << F->shift[l];
	if (is_pointer(l, old) || is_pointer(l, now) || is_pdpte_reg(l) ||
	    rnd(4) == 0)
		reload_cr3();
	else {
		invlpg(va);
		st.invlpg++;
	}
	probe(random_va_below(l + 1, va));
	if (l + 1 < F->levels)
		probe(random_va_below(l + 1, va));
}

static void change_entry(uintptr_t t, unsigned int l, unsigned int idx,
			 uint64_t v)
{
	unsigned int n;
	const enum wkind *kinds = arch_replace_kinds(&n);
	enum wkind k = kinds[rnd(n)];
	uintptr_t pe = entry_pa(t, idx);
	uint64_t old = mir_get(pe);

	if (!arch_ent_replace(pe, v, k))
		report(0, "%s of entry %#lx failed\n", wkind_names[k],
		       (unsigned long)pe);
	st.writes[k]++;
	mir_set(pe, v);
	if (check_entry(pe))
		after_change(t, l, idx, old, v);
}

static unsigned int pick_as(void)
{
	return chance(50) ? cur_as : rnd(NUM_AS);
}

/* Remap, unmap or re-permission one 4 KiB PTE. */
static void op_leaf(void)
{
	unsigned int leaf = F->levels - 1;
	unsigned int node = rnd(nodes_at(leaf));
	unsigned int idx = rnd(8) ? rnd(F->fan[leaf]) : rnd(1u << F->idx_bits[leaf]);

	change_entry(table_pa(pick_as(), leaf, node), leaf, idx,
		     gen_leaf(leaf, false));
}

/* Repoint, share, unmap or turn into a large page one directory entry. */
static void op_dir(void)
{
	unsigned int as = pick_as(), l = rnd(F->levels - 1);
	unsigned int node = rnd(nodes_at(l)), idx = F->base[l] + rnd(F->fan[l]);

	change_entry(table_pa(as, l, node), l, idx, gen_dir(as, l, node, idx));
}

/* LOCK OR / LOCK AND one flag of an entry at any level: R/W, U/S, XD, P
 * (only back on where the entry still holds a target), or clear A and D
 * (page aging). */
static void pick_flag_op(unsigned int l, uint64_t e, uint64_t *mask, bool *set)
{
	static const uint64_t flags[] = { PTE_RW, PTE_US, PTE_XD, PTE_P, PTE_AD };
	uint64_t f = flags[rnd(ARRAY_SIZE(flags))];

	if (is_pdpte_reg(l) || (f == PTE_XD && !nxe))
		f = PTE_P;
	*set = f != PTE_AD && chance(50);
	if (f == PTE_P && *set && !(e & ~(PTE_P | PTE_AD) & addr_mask))
		*set = false;
	*mask = f;
}

static void op_flags(void)
{
	unsigned int as = pick_as(), l = rnd(F->levels);
	unsigned int node = rnd(nodes_at(l)), idx = F->base[l] + rnd(F->fan[l]);
	uintptr_t t = table_pa(as, l, node), pe = entry_pa(t, idx);
	uint64_t old = mir_get(pe), mask, now;
	bool set;

	pick_flag_op(l, old, &mask, &set);
	now = set ? old | mask : old & ~mask;
	if (set)
		arch_ent_or(pe, mask);
	else
		arch_ent_and(pe, ~mask);
	st.writes[set ? WK_LOCK_OR : WK_LOCK_AND]++;
	mir_set(pe, now);
	if (check_entry(pe))
		after_change(t, l, idx, old, now);
}

static void flush_global(uintptr_t va)
{
	uintptr_t cr4 = read_cr4();

	if (chance(50)) {
		invlpg(va);
		st.invlpg++;
		return;
	}
	write_cr4(cr4 & ~CR4_PGE);
	write_cr4(cr4);
	st.pge_flushes++;
}

/* Change a global PTE: live in every address space, flushed at once. */
static void op_global(void)
{
	unsigned int leaf = F->levels - 1, idx = rnd(GLOBAL_FAN), n;
	const enum wkind *kinds = arch_replace_kinds(&n);
	enum wkind k = kinds[rnd(n)];
	uintptr_t pe = entry_pa(GLOBAL_PT, idx);
	uint64_t v = gen_leaf(leaf, false) | PTE_G;

	if (!arch_ent_replace(pe, v, k))
		report(0, "%s of entry %#lx failed\n", wkind_names[k],
		       (unsigned long)pe);
	st.writes[k]++;
	st.global_changes++;
	mir_set(pe, v);
	if (!check_entry(pe))
		return;
	flush_global(global_va() + idx * PAGE);
	probe(global_va() + idx * PAGE + rnd(PAGE / 4) * 4);
}

static void switch_as(unsigned int as)
{
	cur_as = as;
	write_cr3(root_pa(as));
	st.cr3_switches++;
}

static void toggle_wp(void)
{
	wp_on = !wp_on;
	write_cr0(wp_on ? read_cr0() | CR0_WP : read_cr0() & ~CR0_WP);
	st.wp_toggles++;
}

static void step(void)
{
	uint32_t r = rnd(100);

	if (r < 37)
		op_leaf();
	else if (r < 62)
		op_dir();
	else if (r < 85)
		op_flags();
	else if (r < 90)
		op_global();
	else if (r < 97)
		switch_as(rnd(NUM_AS));
	else
		toggle_wp();
	if (chance(40))
		switch_as(rnd(NUM_AS));
	for (unsigned int i = 0; i < PROBES_PER_STEP; i++)
		probe(rnd(8) ? random_va_below(0, 0) : random_global_va());
}

/* ---- building the address spaces ---------------------------------------- */

static uint64_t sys_large(unsigned int i)
{
	return ((uint64_t)i << F->shift[F->large_level]) | PTE_P | PTE_RW |
	       PTE_US | PTE_PS | PTE_G;
}

/* The shared tables and the root entries that reach them: identity
 * large pages over 0..SYS_END. */
static uint64_t build_system(void)
{
	uintptr_t t0 = POOL_BASE, t1 = POOL_BASE + PAGE;

	if (F->kind == FMT_32)
		return 0;
	for (unsigned int i = 0; i < F->sys_entries; i++)
		ent_init(entry_pa(F->kind == FMT_PAE ? t0 : t1, i), sys_large(i));
	if (F->kind == FMT_PAE)
		return t0 | PTE_P;
	ent_init(t0, t1 | PTE_P | PTE_RW | PTE_US);
	return t0 | PTE_P | PTE_RW | PTE_US;
}

static void build_as(unsigned int as, uint64_t sys_root_entry)
{
	unsigned int leaf = F->levels - 1;

	if (F->kind == FMT_32)
		for (unsigned int i = 0; i < F->sys_entries; i++)
			ent_init(entry_pa(root_pa(as), i), sys_large(i));
	else
		ent_init(root_pa(as), sys_root_entry);
	for (unsigned int l = 0; l < leaf; l++)
		for (unsigned int n = 0; n < nodes_at(l); n++)
			for (unsigned int i = F->base[l]; i < F->base[l] + F->fan[l]; i++)
				ent_init(entry_pa(table_pa(as, l, n), i),
					 child_pa(as, l, n, i) | PTE_P |
					 (is_pdpte_reg(l) ? 0 : PTE_RW | PTE_US));
	for (unsigned int n = 0; n < nodes_at(leaf); n++)
		for (unsigned int i = 0; i < F->fan[leaf]; i++)
			ent_init(entry_pa(table_pa(as, leaf, n), i),
				 gen_leaf(leaf, false));
}

static void link_global(unsigned int as)
{
	ent_init(entry_pa(global_dir_table(as), global_dir_index()),
		 GLOBAL_PT | PTE_P | PTE_RW | PTE_US);
}

static void build_all(void)
{
	uint64_t sys;

	memset((void *)POOL_BASE, 0, tables_in_use() * PAGE);
	memset((void *)MIRROR_BASE, 0, tables_in_use() * PAGE);
	sys = build_system();
	for (unsigned int i = 0; i < GLOBAL_FAN; i++)
		ent_init(entry_pa(GLOBAL_PT, i),
			 gen_leaf(F->levels - 1, false) | PTE_G);
	for (unsigned int as = 0; as < NUM_AS; as++) {
		build_as(as, sys);
		link_global(as);
	}
}

/* ---- CPU set-up --------------------------------------------------------- */

static uint64_t gdt[7] __attribute__((aligned(16)));
static uint8_t ring0_stack[8192] __attribute__((aligned(16)));

/* A GDT with user segments and a TSS (ring-3 accesses come back to
 * ring 0 on TSS.ESP0/RSP0), and this guest's #PF and #UD gates. */
static void cpu_init(void)
{
	struct {
		uint16_t limit;
		uintptr_t base;
	} __attribute__((packed)) d = { sizeof(gdt) - 1, (uintptr_t)gdt };

	gdt[SEL_KCODE / 8] = GDT_KCODE;
	gdt[SEL_KDATA / 8] = GDT_KDATA;
	gdt[SEL_UCODE / 8] = GDT_UCODE;
	gdt[SEL_UDATA / 8] = GDT_UDATA;
	arch_tss_init(gdt, (uintptr_t)ring0_stack + sizeof(ring0_stack));
	__asm__ volatile("lgdt %0" :: "m"(d));
	__asm__ volatile("ltr %w0" :: "r"(SEL_TSS));
	idt_set_gate(VEC_PF, (uintptr_t)pt_pf_stub);
	idt_set_gate(VEC_UD, (uintptr_t)user_return);
}

/* MAXPHYADDR (CPUID.80000008H:EAX[7:0]) and NX; EFER.NXE on where the
 * format has XD. 4 MiB PDEs reach 40 bits with PSE-36, 32 without. */
static void cpu_features(void)
{
	uint32_t ext = cpuid(0x80000000, 0).eax;
	uint64_t efer;

	maxphy = ext >= 0x80000008 ? (cpuid(0x80000008, 0).eax & 0xff) : 36;
	maxphy_pse = (cpuid(1, 0).edx & CPUID_PSE36) ?
		     (maxphy < 40 ? maxphy : 40) : 32;
	if (F->kind != FMT_32 && ext >= 0x80000001 &&
	    (cpuid(0x80000001, 0).edx & CPUID_NX) &&
	    rdmsr_safe(MSR_EFER, &efer) && wrmsr_safe(MSR_EFER, efer | EFER_NXE))
		nxe = true;
	if (F->kind == FMT_32) {
		addr_mask = 0xfffff000u;
		large_mask = 0xffc00000u;
	} else {
		addr_mask = bits(12, maxphy - 1);
		large_mask = bits(21, maxphy - 1);
	}
}

static unsigned long arg_num(const char *key, unsigned long def)
{
	char buf[24];
	uint64_t v;

	if (!cmdline_get(key, buf, sizeof(buf)) || !parse_size(buf, &v))
		return def;
	return (unsigned long)v;
}

static bool pick_format(void)
{
	char mode[16] = "";

	cmdline_get("mode", mode, sizeof(mode));
	for (unsigned int i = 0; i < ARRAY_SIZE(arch_fmts); i++)
		if (!mode[0] || !strncmp(mode, arch_fmts[i]->name, sizeof(mode)))
			F = arch_fmts[i];
	if (!F)
		printf("FAIL mode=%s: not a mode of this image\n", mode);
	return F;
}

static bool set_up(bool bench_only)
{
	if (!EXPECT(pick_format()) ||
	    !EXPECT((uintptr_t)__image_end <= POOL_BASE) ||
	    !EXPECT(tables_in_use() <= POOL_PAGES) ||
	    !EXPECT(mb_ram_end() >= RAM_NEEDED - 0x100000u))
		return false;
	cpu_features();
	cpu_init();
	fill_frames(SMALL_BASE, CODE_FRAME + PAGE);
	if (!bench_only)
		fill_frames(LARGE_BASE, LARGE_BASE + LARGE_BYTES);
	build_all();
	arch_paging_on(root_pa(0));
	wp_on = true;
	printf("pgtorture: mode=%s maxphyaddr=%u nx=%d %u address spaces, "
	       "%u tables\n", F->name, maxphy, nxe, NUM_AS, tables_in_use());
	return true;
}

/* ---- the checker's self-test -----------------------------------------------
 *
 * Before the torture, three errors are planted behind the model's back in
 * one live PTE: another frame, R/W taken away, P taken away. The probes
 * must catch each (quietly: these are the expected mismatches), or the
 * torture's silence would prove nothing.
 */
static bool planted_caught(uintptr_t pe, uintptr_t va, uint64_t wrong)
{
	uint32_t before = st.mismatches;
	bool caught;

	arch_ent_replace(pe, wrong, arch_plain_kind());
	invlpg(va);
	quiet = true;
	probe(va);
	quiet = false;
	caught = st.mismatches > before;
	st.mismatches = before;
	arch_ent_replace(pe, mir_get(pe), arch_plain_kind());
	invlpg(va);
	fill_frames(SMALL_BASE, CODE_FRAME + PAGE);     /* undo stray writes */
	return caught;
}

static void self_test(void)
{
	unsigned int leaf = F->levels - 1, caught = 0;
	uintptr_t va = node_va(leaf, 0) + 8;
	uintptr_t pe = entry_pa(table_pa(0, leaf, 0), 0);
	uint64_t good = SMALL_BASE | PTE_P | PTE_RW | PTE_US;

	ent_init(pe, good);
	invlpg(va);
	caught += planted_caught(pe, va, good + PAGE);
	caught += planted_caught(pe, va, good & ~PTE_RW);
	caught += planted_caught(pe, va, good & ~PTE_P);
	printf("pgtorture: checker self-test: 3 errors planted, %u caught\n",
	       caught);
	EXPECT_EQ(caught, 3);
}

/* ---- aliases: one frame under two leaves -----------------------------------
 *
 * Two entries of address space 0, both large pages or both 4 KiB PTEs,
 * map one frame with the same rights and with A and D clear, for every
 * R/W and U/S, under CR0.WP = 1 and 0. Then, through the first entry
 * (a) or the second (b):
 *
 *   read a (supervisor or user), write b, write a, user read a,
 *   user write b, write a, read b
 *
 * each compared with the model as the torture's probes are. A write that
 * succeeds sets D in the entry it went through (SDM Vol. 3A 4.8),
 * including the supervisor writes to read-only pages that CR0.WP = 0
 * allows (4.6.1), so whatever a shadow MMU builds for one entry must not
 * let a write through the other skip its walk (kvm-unit-tests'
 * check_large_pte_dirty_for_nowp: large, read-only, WP = 0). The user
 * accesses after a supervisor write check that such a write did not
 * leave a mapping with other rights than the guest's.
 */
#define ALIAS_WORD      0x20u   /* any word of the frame: offset */

struct alias_acc {
	unsigned int which;             /* 0: entry a, 1: entry b */
	enum acc_kind kind;
	bool user;
};

static const struct alias_acc alias_seq[] = {
	{ 1, ACC_WRITE, false }, { 0, ACC_WRITE, false },
	{ 0, ACC_READ, true }, { 1, ACC_WRITE, true },
	{ 0, ACC_WRITE, false }, { 1, ACC_READ, false },
};

static void set_wp(bool on)
{
	if (wp_on != on)
		toggle_wp();
}

static void alias_set(uintptr_t pe, uint64_t v)
{
	arch_ent_replace(pe, v, arch_plain_kind());
	mir_set(pe, v);
}

/* Entries idx and idx + 1 of address space 0's first table at level l. */
static void alias_round(unsigned int l, uint64_t e, bool user_first)
{
	uintptr_t t = table_pa(0, l, 0), pe[2], va[2];
	unsigned int idx = F->base[l];

	for (unsigned int k = 0; k < 2; k++) {
		pe[k] = entry_pa(t, idx + k);
		va[k] = node_va(l, 0) + ((uintptr_t)(idx + k) << F->shift[l]) +
			ALIAS_WORD;
		alias_set(pe[k], e);
	}
	reload_cr3();
	probe_access(va[0], ACC_READ, user_first);
	for (unsigned int i = 0; i < ARRAY_SIZE(alias_seq); i++)
		probe_access(va[alias_seq[i].which], alias_seq[i].kind,
			     alias_seq[i].user);
}

static void aliases_at(unsigned int l, uint64_t frame, unsigned int *rounds)
{
	uintptr_t t = table_pa(0, l, 0);
	uint64_t old[2];

	for (unsigned int k = 0; k < 2; k++)
		old[k] = mir_get(entry_pa(t, F->base[l] + k));
	for (unsigned int c = 0; c < 16; c++) {
		uint64_t e = frame | PTE_P | (c & 1 ? PTE_RW : 0) |
			     (c & 2 ? PTE_US : 0);

		set_wp(c & 4);
		alias_round(l, e, c & 8);
		(*rounds)++;
	}
	for (unsigned int k = 0; k < 2; k++)
		alias_set(entry_pa(t, F->base[l] + k), old[k]);
	reload_cr3();
	set_wp(true);
}

static void aliases(void)
{
	uint32_t before = st.mismatches, acc0 = st.accesses;
	unsigned int rounds = 0;

	aliases_at(F->large_level, LARGE_BASE | PTE_PS, &rounds);
	aliases_at(F->levels - 1, SMALL_BASE, &rounds);
	printf("pgtorture: mode=%s aliases: %u rounds, %u accesses, "
	       "mismatches=%u\n", F->name, rounds, st.accesses - acc0,
	       st.mismatches - before);
}

/* ---- bench: ticks per operation (bench=1) ----------------------------------
 *
 *   BENCH name=PREFIX_pf ticks=N          one PTE store into an empty
 *                                          table, then the first touch
 *   BENCH name=PREFIX_cr3_switch ticks=N  MOV to CR3 between two address
 *                                          spaces and a read in the new one
 *   BENCH name=PREFIX_pt_write ticks=N    remap in place: PTE store,
 *                                          INVLPG, read through it
 *
 * Raw ticks per operation, loop included; PREFIX is bench_prefix= (ept by
 * default). Every value read is checked, never the ticks.
 */
#define BENCH_N_DEFAULT 2000u
#define BENCH_N_MAX     8192u

static uintptr_t bench_va[BENCH_N_MAX], bench_pe[BENCH_N_MAX];

static void bench_set(uintptr_t pe, uint64_t frame)
{
	arch_ent_replace(pe, frame | PTE_P | PTE_RW, arch_plain_kind());
}

static uint64_t bench_frame(uint32_t i)
{
	return SMALL_BASE + (i % NR_SMALL) * PAGE;
}

/* Address space 0's leaf tables emptied: n fresh pages, in order. */
static uint32_t bench_pf_prepare(uint32_t n)
{
	unsigned int leaf = F->levels - 1, per = 1u << F->idx_bits[leaf];
	uint32_t want = 0;

	for (unsigned int node = 0; node < nodes_at(leaf); node++)
		memset((void *)table_pa(0, leaf, node), 0, PAGE);
	for (uint32_t i = 0; i < n; i++) {
		bench_va[i] = node_va(leaf, i / per) + (uintptr_t)(i % per) * PAGE;
		bench_pe[i] = entry_pa(table_pa(0, leaf, i / per), i % per);
		want += pattern(bench_frame(i));
	}
	reload_cr3();
	return want;
}

static uint64_t bench_pf(uint32_t n, uint32_t *bad)
{
	uint32_t want = bench_pf_prepare(n), sum = 0;
	uint64_t t0 = rdtsc_ordered();

	for (uint32_t i = 0; i < n; i++) {
		bench_set(bench_pe[i], bench_frame(i));
		sum += *(volatile uint32_t *)bench_va[i];
	}
	t0 = rdtsc_ordered() - t0;
	*bad += sum != want;
	return t0;
}

/* The same linear address in address spaces 0 and 1, two frames. */
static uint64_t bench_cr3(uint32_t n, uint32_t *bad)
{
	unsigned int leaf = F->levels - 1;
	uintptr_t va = node_va(leaf, 0), r0 = root_pa(0), r1 = root_pa(1);
	uint32_t s0 = 0, s1 = 0;
	uint64_t t0;

	bench_set(entry_pa(table_pa(0, leaf, 0), 0), bench_frame(0));
	bench_set(entry_pa(table_pa(1, leaf, 0), 0), bench_frame(1));
	write_cr3(r0);
	t0 = rdtsc_ordered();
	for (uint32_t i = 0; i < n; i++) {
		write_cr3(r1);
		s1 += *(volatile uint32_t *)va;
		write_cr3(r0);
		s0 += *(volatile uint32_t *)va;
	}
	t0 = rdtsc_ordered() - t0;
	*bad += s0 != n * pattern(bench_frame(0));
	*bad += s1 != n * pattern(bench_frame(1));
	return t0;
}

static uint64_t bench_pt_write(uint32_t n, uint32_t *bad)
{
	unsigned int leaf = F->levels - 1;
	uintptr_t va = node_va(leaf, 0) + PAGE;
	uintptr_t pe = entry_pa(table_pa(0, leaf, 0), 1);
	uint32_t sum = 0, want = 0;
	uint64_t t0 = rdtsc_ordered();

	for (uint32_t i = 0; i < n; i++) {
		bench_set(pe, bench_frame(2 + (i & 1)));
		invlpg(va);
		sum += *(volatile uint32_t *)va;
	}
	t0 = rdtsc_ordered() - t0;
	for (uint32_t i = 0; i < n; i++)
		want += pattern(bench_frame(2 + (i & 1)));
	*bad += sum != want;
	return t0;
}

static void bench_report(const char *prefix, const char *name, uint64_t ticks,
			 uint32_t ops)
{
	uint64_t rem;

	printf("BENCH name=%s_%s ticks=%llu\n", prefix, name,
	       (unsigned long long)udiv64(ticks, ops, &rem));
}

static void bench(void)
{
	unsigned int leaf = F->levels - 1;
	uint32_t room = nodes_at(leaf) << F->idx_bits[leaf];
	uint32_t n = (uint32_t)arg_num("bench_n", BENCH_N_DEFAULT), bad = 0;
	char prefix[24] = "ept";

	cmdline_get("bench_prefix", prefix, sizeof(prefix));
	n = n < room ? n : room;
	n = n < BENCH_N_MAX ? n : BENCH_N_MAX;
	if (!EXPECT(n > 0))
		return;
	printf("pgbench: mode=%s n=%u\n", F->name, n);
	bench_report(prefix, "pf", bench_pf(n, &bad), n);
	bench_report(prefix, "cr3_switch", bench_cr3(n, &bad), 2 * n);
	bench_report(prefix, "pt_write", bench_pt_write(n, &bad), n);
	EXPECT_EQ(bad, 0);
}

/* ---- the torture -------------------------------------------------------- */

static void summary(void)
{
	printf("pgtorture: mode=%s steps=%u address_spaces=%u probes=%u "
	       "accesses=%u faults=%u ad_checks=%u cr3_switches=%u "
	       "invlpg=%u cr3_flushes=%u wp_toggles=%u entries_checked=%u\n",
	       F->name, st.steps, NUM_AS, st.probes, st.accesses, st.faults,
	       st.ad_checks, st.cr3_switches, st.invlpg, st.cr3_flushes,
	       st.wp_toggles, st.entries_checked);
	printf("pgtorture: mode=%s faults: not_present=%u rsvd=%u "
	       "protection=%u user=%u fetch=%u; user accesses done=%u, "
	       "fetches run=%u; global_changes=%u pge_flushes=%u\n", F->name,
	       st.faults_np, st.faults_rsvd, st.faults_prot, st.faults_user,
	       st.faults_fetch, st.user_ok, st.fetches_run, st.global_changes,
	       st.pge_flushes);
	printf("pgtorture: mode=%s entry writes:", F->name);
	for (unsigned int k = 0; k < WK_N; k++)
		if (st.writes[k])
			printf(" %s=%u", wkind_names[k], st.writes[k]);
	printf(" mismatches=%u\n", st.mismatches);
}

static void torture(uint32_t steps)
{
	for (step_no = 1; step_no <= steps; step_no++) {
		step();
		st.steps++;
		if (step_no % SWEEP_EVERY == 0) {
			sweep();
			check_frames(SMALL_BASE, CODE_FRAME + PAGE);
		}
		if (step_no % TABLES_EVERY == 0)
			check_tables();
		if (st.mismatches > MAX_REPORTS)
			break;
	}
	sweep();
	check_tables();
	check_frames(SMALL_BASE, CODE_FRAME + PAGE);
	check_frames(LARGE_BASE, LARGE_BASE + LARGE_BYTES);
}

void guest_main(void)
{
	bool bench_only = arg_num("bench", 0);
	uint32_t steps;

	rng ^= (uint64_t)arg_num("seed", 1) * 0xbf58476d1ce4e5b9ULL;
	if (!rng)
		rng = 1;
	if (!set_up(bench_only))
		return;
	if (bench_only) {
		bench();
		return;
	}
	steps = (uint32_t)arg_num("steps", DEFAULT_STEPS);
	self_test();
	aliases();
	torture(steps);
	summary();
	EXPECT_EQ(st.mismatches, 0);
	EXPECT(st.faults > 0 && st.ad_checks > 0);
}
