/*
 * pgtorture, 64-bit side (elf64 image pgtorture64.elf): 4-level paging
 * with 2 MiB pages. Keel enters an elf64 guest in long mode on its own
 * identity tables; this side only loads CR3 with its own. Included by
 * pgtorture.c once, after the formats: entry stores, the ring-3
 * trampoline, GDT and TSS.
 */

static const struct pg_fmt *const arch_fmts[] = { &fmt_4level };

#define ASM_SET_RECOVER "movq $1f, pf_recover\n\t"
/* Before an access that may fault: where to resume (1:) and which
 * instruction a #PF must report (0:, the access that follows). */
#define ASM_ARM ASM_SET_RECOVER "movq $0f, pf_fault_ip\n0:\t"

/* ---- ring 3 and the #PF stub -----------------------------------------------
 *
 * As on the 32-bit side: user_call(va, kind, val) IRETQs to user_stub at
 * CPL 3, which reads, writes or fetches at va and ends with UD2; the #UD
 * gate (user_return) drops the TSS.RSP0 stack and returns from user_call.
 * A #PF in user_stub resumes at user_fix. In 64-bit mode a null DS is
 * usable at CPL 3; the interrupt from ring 3 loads a null SS, which
 * user_return replaces with the kernel's.
 */
__asm__(
	"	.text\n"
	"	.globl pt_pf_stub, user_call, user_fix, user_return\n"
	"	.globl user_read_insn, user_write_insn\n"
	"pt_pf_stub:\n"
	"	pushq $14\n"
	"	pushq %rax\n"
	"	pushq %rbx\n"
	"	pushq %rcx\n"
	"	pushq %rdx\n"
	"	pushq %rsi\n"
	"	pushq %rdi\n"
	"	pushq %rbp\n"
	"	pushq %r8\n"
	"	pushq %r9\n"
	"	pushq %r10\n"
	"	pushq %r11\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, %rdi\n"
	"	cld\n"
	"	call pt_fault\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %r11\n"
	"	popq %r10\n"
	"	popq %r9\n"
	"	popq %r8\n"
	"	popq %rbp\n"
	"	popq %rdi\n"
	"	popq %rsi\n"
	"	popq %rdx\n"
	"	popq %rcx\n"
	"	popq %rbx\n"
	"	popq %rax\n"
	"	addq $16, %rsp\n"
	"	iretq\n"
	"user_call:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, user_saved_sp(%rip)\n"
	"	movq %rdi, %rcx\n"
	"	pushq $0x23\n"                  /* SS: user data */
	"	leaq user_stack_top(%rip), %rax\n"
	"	pushq %rax\n"
	"	pushq $0x2\n"                   /* RFLAGS: IF = 0 */
	"	pushq $0x1b\n"                  /* CS: user code, 64-bit */
	"	leaq user_stub(%rip), %rax\n"
	"	pushq %rax\n"
	"	iretq\n"
	"user_stub:\n"
	"	movl $0xdeadbeef, %eax\n"
	"	cmpl $1, %esi\n"                /* 0 read, 1 write, 2 fetch */
	"	je 1f\n"
	"	ja 3f\n"
	"user_read_insn:\n"
	"	movl (%rcx), %eax\n"
	"	ud2\n"
	"1:\n"
	"user_write_insn:\n"
	"	movl %edx, (%rcx)\n"
	"user_fix:\n"
	"	ud2\n"
	/* The code frame's FF E3 jumps to user_fix through %rbx. */
	"3:	leaq user_fix(%rip), %rbx\n"
	"	jmp *%rcx\n"
	"user_return:\n"
	"	testb $3, 8(%rsp)\n"            /* #UD frame: RIP, CS, ... */
	"	jz 2f\n"
	"	movl $0x10, %ecx\n"
	"	movw %cx, %ss\n"
	"	movq user_saved_sp(%rip), %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	"2:	jmpq *isr_stubs+48(%rip)\n"    /* a kernel #UD: the library's */
	"	.bss\n"
	"	.balign 16\n"
	"user_stack:\n"
	"	.skip 1024\n"
	"user_stack_top:\n"
	"	.globl user_saved_sp\n"
	"user_saved_sp:\n"
	"	.skip 8\n"
	"	.text\n");

/* Supervisor instruction fetch at va: the code frame's FF E3 is
 * jmp *%rbx, back to 1:. */
static bool exec_probe(uintptr_t va)
{
	pf_fault_ip = va;
	__asm__ volatile("leaq 1f(%%rip), %%rbx\n\t" ASM_SET_RECOVER
			 "jmp *%0\n1:"
			 :: "r"(va) : "rbx", "memory");
	pf_recover = 0;
	return !pf_seen.hit;
}

/* ---- GDT and TSS (SDM Vol. 3A 3.4.5, 7.2.3, 7.7) ------------------------ */

#define GDT_KCODE       0x00af9b000000ffffULL   /* 0x08 64-bit, DPL 0 */
#define GDT_UCODE       0x00affb000000ffffULL   /* 0x18 64-bit, DPL 3 */

static struct tss64 tss;

/* A 64-bit TSS descriptor is 16 bytes: the upper 8 hold base[63:32]. */
static void arch_tss_init(uint64_t *gdt, uintptr_t stack_top)
{
	tss.rsp[0] = stack_top;
	tss.iomap = sizeof(tss);
	gdt[SEL_TSS / 8] = tss_descriptor((uintptr_t)&tss, sizeof(tss) - 1);
	gdt[SEL_TSS / 8 + 1] = (uint64_t)(uintptr_t)&tss >> 32;
}

/* ---- page-table entry stores: MOV, XCHG, LOCK CMPXCHG, LOCK OR/AND ------ */

static const enum wkind replace8[] = { WK_MOV, WK_XCHG, WK_CMPXCHG };

static const enum wkind *arch_replace_kinds(unsigned int *n)
{
	*n = 3;
	return replace8;
}

static enum wkind arch_plain_kind(void)
{
	return WK_MOV;
}

static bool arch_ent_replace(uintptr_t pa, uint64_t v, enum wkind k)
{
	volatile uint64_t *p = (volatile uint64_t *)pa;
	uint64_t old = *p;
	bool ok = true;

	if (k == WK_CMPXCHG)
		__asm__ volatile("lock cmpxchgq %3, %1"
				 : "+a"(old), "+m"(*p), "=@ccz"(ok) : "r"(v)
				 : "memory");
	else if (k == WK_XCHG)
		__asm__ volatile("xchgq %0, %1" : "+r"(v), "+m"(*p) :: "memory");
	else
		*p = v;
	return ok;
}

static void arch_ent_or(uintptr_t pa, uint64_t mask)
{
	__asm__ volatile("lock orq %1, %0"
			 : "+m"(*(volatile uint64_t *)pa) : "r"(mask) : "memory");
}

static void arch_ent_and(uintptr_t pa, uint64_t mask)
{
	__asm__ volatile("lock andq %1, %0"
			 : "+m"(*(volatile uint64_t *)pa) : "r"(mask) : "memory");
}

/* Long mode is on already (Keel's tables): CR4.PGE for the global system
 * mappings, CR0.WP, then this guest's own root. */
static void arch_paging_on(uintptr_t root)
{
	write_cr4(read_cr4() | CR4_PGE);
	write_cr0(read_cr0() | CR0_WP);
	write_cr3(root);
}
