/* emultest, 64-bit side: the case list (64-bit operands, REX registers,
 * RIP-relative, MOVSXD, CMPXCHG16B, and the legacy sizes in 64-bit mode),
 * the frame the cases load and store, FS at the window through
 * IA32_FS_BASE, and 4-level paging with holes. Included by emultest.c
 * only. */

#define NR_GPRS     10
#define SI_IDX      4
#define DI_IDX      5
#define GPR_NAMES   { "rax", "rbx", "rcx", "rdx", "rsi-base", "rdi-base", \
		      "r8", "r9", "r10", "r11" }
#define GPR_INIT    { 0x0123456789abcdefULL, 0xfedcba9876543210ULL, 5,   \
		      0x8000000000000001ULL, 0, 0, 0x1111222233334444ULL, \
		      (uintptr_t)-3, 0x7fffffffffffffffULL, 2 }
#define ASM_SI      "%%rsi"

/* Read by the RIP-relative cases. */
const uint64_t rip_const __attribute__((used)) = 0x8877665544332211ULL;
uint32_t rip_var __attribute__((used));

#define CASES(X, E)                                                          \
	/* MOV: 64-bit, REX byte registers, R8-R15, moffs64, RIP-relative */ \
	X(mov_st64,    F_ALL, E "movq %rax, 8(%rbp)\n")                      \
	X(mov_ld64,    F_ALL, E "movq 0x11(%rbp), %rbx\n")                   \
	X(mov_ld32_zx, F_ALL, E "movl 4(%rbp), %ecx\n" E "movl 9(%rbp), %r8d\n") \
	X(mov_ld16_8,  F_ALL, E "movw 6(%rbp), %r9w\n" E "movb 7(%rbp), %bh\n") \
	X(mov_rex8,    F_ALL, E "movb %sil, 3(%rbp)\n" E "movb %r9b, 5(%rbp)\n" \
			      E "movb 0x17(%rbp), %r10b\n"                   \
			      E "movb 0x19(%rbp), %dl\n")                    \
	X(mov_r8_r15,  F_ALL, E "movq %r8, 0x18(%rbp)\n"                     \
			      E "movl 0x1c(%rbp), %r9d\n"                    \
			      E "movw %r10w, 0x22(%rbp)\n"                   \
			      E "movq 0x28(%rbp,%r11,8), %rcx\n")            \
	X(mov_imm,     F_ALL, E "movq $-5, 0x30(%rbp)\n"                     \
			      E "movl $0x89abcdef, 0x38(%rbp)\n"             \
			      E "movb $0x80, 0x3f(%rbp)\n")                  \
	X(mov_moffs,   F_ALL, E "movabs %fs:0x10, %rax\n"                    \
			      E "movabs %eax, %fs:0x44\n"                    \
			      E "movabs %fs:0x21, %al\n")                    \
	X(mov_fs_rm,   F_ALL, E "movq %fs:0x31(%rcx), %rdx\n")               \
	X(mov_rip_rel, F_ALL, E "movl rip_const(%rip), %ecx\n"               \
			      E "movq rip_const(%rip), %rdx\n"               \
			      "movl $7, rip_var(%rip)\n"                     \
			      E "addl %eax, rip_var(%rip)\n"                 \
			      E "movl rip_var(%rip), %r8d\n")                \
	X(mov_reg_imm, F_ALL, E "movabsq $0x1122334455667788, %r9\n"         \
			      E "movl $0x11223344, %ecx\n")                  \
	/* MOVSXD, MOVZX, MOVSX to 64 bits */                                \
	X(movsxd,      F_ALL, E "movslq 4(%rbp), %rcx\n"                     \
			      E "movslq 0x13(%rbp), %rdx\n")                 \
	X(movsxd_rr,   F_ALL, E "movslq %eax, %r8\n" E "movslq %edx, %rbx\n") \
	X(movx64,      F_ALL, E "movzbq 3(%rbp), %rcx\n"                     \
			      E "movswq 0x16(%rbp), %rdx\n"                  \
			      E "movsbq 0x17(%rbp), %r8\n"                   \
			      E "movzwl 0x2a(%rbp), %r9d\n")                 \
	X(movnti64,    F_ALL, E "movnti %rax, 0x14(%rbp)\n")                 \
	/* ALU */                                                            \
	X(add64,       F_ALL, E "addq %rax, 8(%rbp)\n"                       \
			      E "addq 0x10(%rbp), %rcx\n")                   \
	X(sub_sbb64,   F_ALL, E "subq $-3, 0x18(%rbp)\n"                     \
			      E "sbbq $0x7fffffff, 0x20(%rbp)\n")            \
	X(logic64,     F_LOGIC, E "andq %rdx, 0x28(%rbp)\n"                  \
			      E "orq $0x100, 0x30(%rbp)\n"                   \
			      E "xorq 0x38(%rbp), %r9\n"                     \
			      E "testq %rax, 0x40(%rbp)\n")                  \
	X(cmp64,       F_ALL, E "cmpq %rax, 0x48(%rbp)\n")                   \
	X(adc_rex,     F_ALL, E "adcl %r10d, 4(%rbp)\n"                      \
			      E "adcb 3(%rbp), %r11b\n")                     \
	X(alu32_zx,    F_ALL, E "addl 8(%rbp), %ebx\n" E "subw 6(%rbp), %dx\n") \
	X(lock_add64,  F_ALL, E "lock addq %rax, 0x50(%rbp)\n")              \
	X(unary64,     F_ALL, E "incq 8(%rbp)\n" E "decq 0x10(%rbp)\n"       \
			      E "notq 0x18(%rbp)\n" E "negq 0x20(%rbp)\n")   \
	X(lock_unary,  F_ALL, E "lock incl 0x28(%rbp)\n"                     \
			      E "lock negq 0x30(%rbp)\n")                    \
	/* XCHG, XADD, CMPXCHG, CMPXCHG8B, CMPXCHG16B */                     \
	X(xchg64,      F_ALL, E "xchgq %rax, 8(%rbp)\n"                      \
			      E "xchgq 0x10(%rbp), %r8\n")                   \
	X(xadd64,      F_ALL, E "xaddq %rcx, 8(%rbp)\n"                      \
			      E "lock xaddq %r9, 0x18(%rbp)\n")              \
	X(cmpxchg64_eq, F_ALL, "movq 8(%rbp), %rax\n"                        \
			      E "cmpxchgq %rcx, 8(%rbp)\n")                  \
	X(cmpxchg64_ne, F_ALL, E "lock cmpxchgq %rdx, 0x10(%rbp)\n")         \
	X(cmpxchg32_ne, F_ALL, E "cmpxchgl %edx, 0x14(%rbp)\n")              \
	X(cmpxchg8b_eq, F_ALL, "movl 0x20(%rbp), %eax\n"                     \
			      "movl 0x24(%rbp), %edx\n"                      \
			      E "cmpxchg8b 0x20(%rbp)\n")                    \
	X(cmpxchg8b_ne, F_ALL, E "cmpxchg8b 0x28(%rbp)\n")                   \
	X(cmpxchg16b_eq, F_ALL, "movq 0x40(%rbp), %rax\n"                    \
			      "movq 0x48(%rbp), %rdx\n"                      \
			      E "cmpxchg16b 0x40(%rbp)\n")                   \
	X(cmpxchg16b_ne, F_ALL, E "cmpxchg16b 0x50(%rbp)\n")                 \
	X(lock_cmpxchg16b, F_ALL, "movq 0x60(%rbp), %rax\n"                  \
			      "movq 0x68(%rbp), %rdx\n"                      \
			      E "lock cmpxchg16b 0x60(%rbp)\n")              \
	/* BT family: 64-bit register offsets far away and negative */       \
	X(bts64_far,   F_BT, "movq $1000, %rcx\n" E "btsq %rcx, (%rbp)\n")   \
	X(btr64_neg,   F_BT, "movq $-70, %rcx\n" E "btrq %rcx, 0x40(%rbp)\n") \
	X(btc64_imm,   F_BT, E "btcq $63, 8(%rbp)\n" E "btq $40, 0x10(%rbp)\n") \
	X(bts32_neg,   F_BT, "movl $-33, %ecx\n" E "btsl %ecx, 0x40(%rbp)\n") \
	X(lock_btc64,  F_BT, "movq $130, %rdx\n"                             \
			     E "lock btcq %rdx, 0x20(%rbp)\n")               \
	/* SETcc, CMOVcc (a 32-bit CMOV writes its register even when false) */ \
	X(setcc64,     F_ALL, E "setz %r11b\n" E "setb 3(%rbp)\n"            \
			      E "setle 4(%rbp)\n" E "seta %sil\n")           \
	X(cmov64,      F_ALL, E "cmovzq 8(%rbp), %rax\n"                     \
			      E "cmovnzq 0x10(%rbp), %r8\n")                 \
	X(cmov32_zx,   F_ALL, "movabsq $0x1122334455667788, %rcx\n"          \
			      E "cmovzl 8(%rbp), %ecx\n"                     \
			      E "cmovnzl 0x10(%rbp), %r10d\n"                \
			      E "cmovsl %eax, %edx\n")                       \
	/* PUSH, POP */                                                      \
	X(push_pop64,  F_ALL, E "pushq 8(%rbp)\n" E "popq %rcx\n"            \
			      E "pushq %r9\n" E "popq 0x10(%rbp)\n"          \
			      E "pushw 6(%rbp)\n" E "popw %dx\n"             \
			      E "pushq $-2\n" E "popq %r10\n")               \
	X(push_pop_window, F_ALL, "movq %rsp, %rdx\n"                        \
			      "leaq 0x60(%rbp), %rsp\n"                      \
			      E "pushq %rax\n" E "pushq $0x12345678\n"       \
			      E "popq %rbx\n" E "popq 0x70(%rbp)\n"          \
			      "movq %rdx, %rsp\n" "xorl %edx, %edx\n")       \
	/* Strings: 64-bit elements, 32-bit addressing, more than a batch */ \
	X(rep_movsq,   F_ALL, "movl $5, %ecx\n" E "rep movsq\n")             \
	X(rep_stosq_df, F_ALL, "std\n" "movl $4, %ecx\n" E "rep stosq\n")    \
	X(lodsq1,      F_ALL, E "lodsq\n")                                   \
	X(repe_cmpsq,  F_ALL, "movl $3, %ecx\n" E "repe cmpsq\n")            \
	X(repne_scasq, F_ALL, "movq 0x118(%rbp), %rax\n"                     \
			      "movl $8, %ecx\n" E "repne scasq\n")           \
	X(addr32_movsb, F_ALL, "movl $6, %ecx\n" E "addr32 rep movsb\n")     \
	X(rep_movsb_big, F_ALL, "movl $130, %ecx\n" E "rep movsb\n")         \
	X(rep_stosl,   F_ALL, "movl $5, %ecx\n" E "rep stosl\n")             \
	/* Segment registers: stored, and reloaded with their own value */  \
	X(mov_from_sreg, F_ALL, E "movw %cs, 8(%rbp)\n"                     \
			      E "data16 movw %ss, 0xa(%rbp)\n"              \
			      E "movl %ds, %ecx\n" E "movw %es, %dx\n")     \
	X(mov_to_sreg, F_ALL, "movw %ds, 0x10(%rbp)\n"                      \
			      "movw %ss, 0x12(%rbp)\n"                      \
			      E "movw 0x10(%rbp), %ds\n"                    \
			      E "movw 0x12(%rbp), %ss\n"                    \
			      "movw %es, %cx\n" E "movw %cx, %es\n")         \
	/* Branches through memory; the code addresses differ between the   \
	 * native and the forced copy, so only their differences are kept */ \
	X(jmp_near_mem, F_ALL, "leaq 1f(%rip), %rcx\n"                      \
			      "movq %rcx, 0x20(%rbp)\n"                     \
			      E "jmp *0x20(%rbp)\n" "ud2\n"                 \
			      "1: movq $0, 0x20(%rbp)\n" "xorl %ecx, %ecx\n") \
	X(call_near_mem, F_ALL, "leaq 1f(%rip), %rcx\n"                     \
			      "movq %rcx, 0x28(%rbp)\n"                     \
			      E "call *0x28(%rbp)\n"                        \
			      "1: popq %rdx\n" "subq %rcx, %rdx\n"         \
			      "movq $0, 0x28(%rbp)\n" "xorl %ecx, %ecx\n")  \
	X(ljmp_m16_64, F_ALL, "leaq 1f(%rip), %rcx\n"                       \
			      "movq %rcx, 0x30(%rbp)\n"                     \
			      "movw %cs, 0x38(%rbp)\n"                      \
			      E "rex64 ljmp *0x30(%rbp)\n" "ud2\n"          \
			      "1: movq $0, 0x30(%rbp)\n" "xorl %ecx, %ecx\n") \
	X(lcall_m16_64, F_ALL, "leaq 1f(%rip), %rcx\n"                      \
			      "movq %rcx, 0x40(%rbp)\n"                     \
			      "movw %cs, 0x48(%rbp)\n"                      \
			      E "rex64 lcall *0x40(%rbp)\n"                 \
			      "1: popq %rdx\n" "popq %r8\n"                 \
			      "subq %rcx, %rdx\n"                           \
			      "movq $0, 0x40(%rbp)\n" "xorl %ecx, %ecx\n")  \
	/* MMX MOVQ to and from memory */                                   \
	X(movq_mmx,    F_ALL, "movq 0x10(%rbp), %mm1\n"                     \
			      E "movq %mm1, 0x18(%rbp)\n"                   \
			      E "movq 0x20(%rbp), %mm2\n"                   \
			      "movq %mm2, %rcx\n" "emms\n")

/* Entry: frame in, registers loaded; exit: registers and flags out
 * (struct frame: RAX RBX RCX RDX RSI RDI R8-R11, flags, base). */
#define CASE_PROLOGUE                                                        \
	"pushq %rbp\n" "pushq %rbx\n" "pushq %r12\n" "pushq %r13\n"          \
	"pushq %r14\n" "pushq %r15\n" "pushq %rdi\n"                         \
	"pushq 80(%rdi)\n" "popfq\n"                                         \
	"movq 88(%rdi), %rbp\n" "movq 8(%rdi), %rbx\n"                       \
	"movq 16(%rdi), %rcx\n" "movq 24(%rdi), %rdx\n"                      \
	"movq 32(%rdi), %rsi\n" "movq 48(%rdi), %r8\n"                       \
	"movq 56(%rdi), %r9\n" "movq 64(%rdi), %r10\n"                       \
	"movq 72(%rdi), %r11\n" "movq 0(%rdi), %rax\n"                       \
	"movq 40(%rdi), %rdi\n"
#define CASE_EPILOGUE                                                        \
	"pushfq\n" "pushq %rax\n" "movq 16(%rsp), %rax\n"                    \
	"popq 0(%rax)\n" "popq 80(%rax)\n"                                   \
	"movq %rbx, 8(%rax)\n" "movq %rcx, 16(%rax)\n"                       \
	"movq %rdx, 24(%rax)\n" "movq %rsi, 32(%rax)\n"                      \
	"movq %rdi, 40(%rax)\n" "movq %r8, 48(%rax)\n"                       \
	"movq %r9, 56(%rax)\n" "movq %r10, 64(%rax)\n"                       \
	"movq %r11, 72(%rax)\n" "addq $8, %rsp\n" "cld\n"                    \
	"popq %r15\n" "popq %r14\n" "popq %r13\n" "popq %r12\n"              \
	"popq %rbx\n" "popq %rbp\n" "ret\n"

/* ---- FS at the window: IA32_FS_BASE (passed through by Keel) ------------ */

#define MSR_FS_BASE 0xc0000100u

static void set_fs_base(uintptr_t base)
{
	__asm__ volatile("wrmsr" :: "c"(MSR_FS_BASE), "a"((uint32_t)base),
			 "d"((uint32_t)(base >> 32)) : "memory");
}

static void restore_fs(void)
{
}

/* #GP(0) from a non-canonical address, natively and through the marker.
 * The address sits in RBX: based on RBP or RSP it would be an SS access,
 * #SS(0) instead. */
static void test_gp(void)
{
	uintptr_t ip, bad = 0x8000000000000010ULL;
	uint32_t val = 0;

	trap_arm();
	__asm__ volatile("mov $1f, %0\n1: " FEP "movl (%2), %1\n2:\n"
			 EX_TABLE("1b", "2b")
			 : "=&r"(ip), "+r"(val) : "b"(bad) : "memory");
	expect_trap(VEC_GP, 0, ip);
	trap_arm();
	__asm__ volatile("mov $1f, %0\n1: movl (%2), %1\n2:\n"
			 EX_TABLE("1b", "2b")
			 : "=&r"(ip), "+r"(val) : "b"(bad) : "memory");
	expect_trap(VEC_GP, 0, ip);
}

/* ---- 4-level paging: identity maps with holes -------------------------------
 *
 *   0x00000000 .. 0x00dfffff   2 MiB pages
 *   0x00e00000 .. 0x00ffffff   4 KiB pages, HOLE (0x00fff000) not present
 *   0x40000000 .. 0x7fffffff   not present (PDPTE 1), UNMAPPED in it
 *   0x80000000 .. 0xffffffff   2 MiB pages, 0xff000000 included
 * The loader's tables map only RAM: these replace them for the whole run.
 */
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt4[512] __attribute__((aligned(4096)));
static uint64_t pd4[4][512] __attribute__((aligned(4096)));
static uint64_t pt4[512] __attribute__((aligned(4096)));

static void arch_init(void)
{
	for (uint64_t i = 0; i < 4; i++) {
		pdpt4[i] = (uintptr_t)pd4[i] | PTE_RW | PTE_P;
		for (uint64_t j = 0; j < 512; j++)
			pd4[i][j] = (i << 30 | j << 21) | PTE_PS | PTE_RW | PTE_P;
	}
	for (uint64_t k = 0; k < 512; k++)
		pt4[k] = ((HOLE & ~0x1fffffULL) + (k << 12)) | PTE_RW | PTE_P;
	pt4[(HOLE >> 12) & 511] = 0;
	pd4[0][HOLE >> 21] = (uintptr_t)pt4 | PTE_RW | PTE_P;
	pdpt4[UNMAPPED >> 30] = 0;
	pml4[0] = (uintptr_t)pdpt4 | PTE_RW | PTE_P;
	__asm__ volatile("mov %0, %%cr3" :: "r"((uintptr_t)pml4) : "memory");
}

static const struct paging_mode paging_modes[] = {
	{ "4-level paging", NULL, NULL, true },
};
