/*
 * Two vCPUs on one set of page tables. The BSP turns on 32-bit paging,
 * starts vCPU 1 with KEEL_HC_VCPU_START (protected mode, so this runs on
 * shadow paging too, where a SIPI's real mode cannot), and the AP loads
 * the same CR3. Then, round after round, the BSP remaps every page of a
 * window of linear addresses to other frames with plain, XCHG and LOCK
 * CMPXCHG stores and INVLPGs them; the AP, told by a shared flag, INVLPGs
 * the window on its side (a TLB shootdown done by hand), reads every page
 * and writes one. The BSP checks that the AP read what the new mappings
 * say and that its write landed in the frame the BSP's tables name.
 *
 *   0x000000 - 0x1000000  identity, four 4 MiB pages (code, data, tables)
 *   0x40000000 + 4K * j   window page j -> frame (j + round) % NR_FRAMES
 *   0x800000 + 4K * k     frame k: word 0 holds FRAME_TAG | k
 */
#include "guest.h"

#define PAGE            4096u
#define PD_PA           0x600000u
#define PT_WIN_PA       0x601000u
#define FRAMES_PA       0x800000u
#define NR_FRAMES       64u
#define WIN_VA          0x40000000u
#define WIN_PAGES       16u
#define ROUNDS          200u
#define FRAME_TAG       0x5a000000u
#define PTE_P           0x001u
#define PTE_RW          0x002u
#define PDE_PS          0x080u
#define CR0_PG          0x80000000u
#define CR4_PSE         0x00000010u
#define WAIT_TICKS      2000000000ull

static volatile uint32_t round_go, round_done, ap_up;
static volatile uint32_t ap_seen[WIN_PAGES];
__attribute__((aligned(16), used)) uint8_t ap_stack[8192];

static uint32_t *pte(unsigned int j)
{
	return (uint32_t *)(uintptr_t)(PT_WIN_PA + 4 * j);
}

static uint32_t frame_pa(unsigned int k)
{
	return FRAMES_PA + (k % NR_FRAMES) * PAGE;
}

static volatile uint32_t *win(unsigned int j, unsigned int word)
{
	return (volatile uint32_t *)(uintptr_t)(WIN_VA + j * PAGE + 4 * word);
}

static void invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" :: "r"(va) : "memory");
}

static void paging_on(uint32_t pd)
{
	uint32_t cr0, cr4;

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | CR4_PSE));
	__asm__ volatile("mov %0, %%cr3" :: "r"(pd) : "memory");
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0 | CR0_PG) : "memory");
}

/* PD: 16 MiB identity in 4 MiB pages, and the window's page table. */
static void build_tables(void)
{
	uint32_t *pd = (uint32_t *)(uintptr_t)PD_PA;

	memset(pd, 0, 2 * PAGE);
	for (uint32_t i = 0; i < 4; i++)
		pd[i] = (i << 22) | PDE_PS | PTE_RW | PTE_P;
	pd[WIN_VA >> 22] = PT_WIN_PA | PTE_RW | PTE_P;
	for (unsigned int j = 0; j < WIN_PAGES; j++)
		*pte(j) = frame_pa(j) | PTE_RW | PTE_P;
	for (unsigned int k = 0; k < NR_FRAMES; k++) {
		memset((void *)(uintptr_t)frame_pa(k), 0, PAGE);
		*(volatile uint32_t *)(uintptr_t)frame_pa(k) = FRAME_TAG | k;
	}
}

/* vCPU 1 starts here: protected mode, paging off, EBX = the PD. */
__asm__(
	".text\n"
	".code32\n"
	"ap_entry32:\n"
	"	lgdt ap_gdt_desc\n"
	"	ljmp $0x08, $1f\n"
	"1:	movw $0x10, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movl $ap_stack + 8192, %esp\n"
	"	pushl %ebx\n"
	"	call ap_main\n"
	"2:	jmp 2b\n"
	".balign 8\n"
	"ap_gdt:\n"
	"	.quad 0\n"
	"	.quad 0x00cf9b000000ffff\n"
	"	.quad 0x00cf93000000ffff\n"
	"ap_gdt_desc:\n"
	"	.word 23\n"
	"	.long ap_gdt\n");

extern char ap_entry32[];

__attribute__((used, noreturn)) void ap_main(uint32_t pd);
__attribute__((used, noreturn)) void ap_main(uint32_t pd)
{
	uint32_t done = 0;

	paging_on(pd);
	__atomic_store_n(&ap_up, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t r = __atomic_load_n(&round_go, __ATOMIC_ACQUIRE);

		if (r == done) {
			__asm__ volatile("pause");
			continue;
		}
		for (unsigned int j = 0; j < WIN_PAGES; j++) {
			invlpg(WIN_VA + j * PAGE);
			ap_seen[j] = *win(j, 0);
		}
		*win(r % WIN_PAGES, 1) = 0xa5000000u | r;
		done = r;
		__atomic_store_n(&round_done, r, __ATOMIC_RELEASE);
	}
}

static bool wait_for(volatile uint32_t *flag, uint32_t want)
{
	uint64_t end = rdtsc_ordered() + WAIT_TICKS;

	while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != want)
		if (rdtsc_ordered() > end)
			return false;
	return true;
}

/* Entry j of the window now names frame j + r, written three ways. */
static void remap(uint32_t r)
{
	for (unsigned int j = 0; j < WIN_PAGES; j++) {
		uint32_t want = frame_pa(j + r) | PTE_RW | PTE_P, old = *pte(j);

		switch ((j + r) % 3) {
		case 0:
			*(volatile uint32_t *)pte(j) = want;
			break;
		case 1:
			__atomic_exchange_n(pte(j), want, __ATOMIC_SEQ_CST);
			break;
		default:
			__atomic_compare_exchange_n(pte(j), &old, want, false,
						    __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			break;
		}
		invlpg(WIN_VA + j * PAGE);
	}
}

/* What both vCPUs saw and wrote in round r; the AP's write is put back. */
static unsigned int check_round(uint32_t r)
{
	unsigned int bad = 0, w = r % WIN_PAGES;
	volatile uint32_t *landed =
		(volatile uint32_t *)(uintptr_t)(frame_pa(w + r) + 4);

	for (unsigned int j = 0; j < WIN_PAGES; j++) {
		uint32_t want = FRAME_TAG | ((j + r) % NR_FRAMES);

		if (*win(j, 0) != want || ap_seen[j] != want) {
			printf("round %u page %u: BSP read %#x, AP read %#x, "
			       "expected %#x\n", r, j, *win(j, 0), ap_seen[j],
			       want);
			bad++;
		}
	}
	if (*landed != (0xa5000000u | r)) {
		printf("round %u: the AP's write is not in frame %u\n", r,
		       (w + r) % NR_FRAMES);
		bad++;
	}
	*landed = 0;
	return bad;
}

/* Keel's shadow-paging counters (hypercall 2): every INVLPG of both
 * vCPUs is counted, and the window's pages were filled at #PF exits.
 * Under EPT they do not exist. */
static void check_counters(uint32_t rounds)
{
	long invlpg = hc_counter(KEEL_COUNTER_SHADOW_INVLPG);
	long fills = hc_counter(KEEL_COUNTER_SHADOW_PF + 0);

	if (!keel_shadow_paging()) {
		EXPECT_EQ(invlpg, KEEL_HC_EINVAL);
		return;
	}
	printf("smppaging: shadow counters: invlpg %ld, #PF fills %ld, "
	       "pages peak %ld\n", invlpg, fills,
	       hc_counter(KEEL_COUNTER_SHADOW_PAGES_PEAK));
	EXPECT_EQ(invlpg, (long)(2 * WIN_PAGES * rounds));
	EXPECT(fills >= (long)(WIN_PAGES * rounds));
	/* Zap causes 0-7 are counters (guest/hypercall.h); 8 is not. */
	EXPECT(hc_counter(KEEL_COUNTER_SHADOW_ZAPS + 7) >= 0);
	EXPECT_EQ(hc_counter(KEEL_COUNTER_SHADOW_ZAPS + 8), KEEL_HC_EINVAL);
}

void guest_main(void)
{
	unsigned int bad = 0, r;
	long rc;

	build_tables();
	paging_on(PD_PA);
	rc = vmcall3(KEEL_HC_VCPU_START, 1, (uintptr_t)ap_entry32, PD_PA);
	printf("smppaging: vCPU 1 start: %ld; shadow paging: %s\n", rc,
	       keel_shadow_paging() ? "yes" : "no");
	if (!EXPECT_EQ(rc, 0) || !EXPECT(wait_for(&ap_up, 1)))
		return;
	EXPECT_EQ(vmcall3(KEEL_HC_VCPU_START, 1, (uintptr_t)ap_entry32, PD_PA),
		  KEEL_HC_EINVAL);      /* started already */
	for (r = 1; r <= ROUNDS && bad < 8; r++) {
		remap(r);
		__atomic_store_n(&round_go, r, __ATOMIC_RELEASE);
		if (!EXPECT(wait_for(&round_done, r)))
			return;
		bad += check_round(r);
	}
	printf("smppaging: %u rounds x %u pages remapped and read on both "
	       "vCPUs: %u mismatches\n", r - 1, WIN_PAGES, bad);
	EXPECT_EQ(bad, 0);
	check_counters(r - 1);
}
