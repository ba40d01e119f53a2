/*
 * pgtorture, 32-bit side (multiboot image pgtorture.elf): 32-bit paging
 * with CR4.PSE (4 MiB pages) and PAE paging (2 MiB pages), both entered
 * from the protected mode Keel starts a multiboot guest in. Included by
 * pgtorture.c once, after the formats; everything here is what differs
 * from the 64-bit side: entry stores, the ring-3 trampoline, GDT and TSS.
 */

static const struct pg_fmt *const arch_fmts[] = { &fmt_32, &fmt_pae };

#define ASM_SET_RECOVER "movl $1f, pf_recover\n\t"
/* Before an access that may fault: where to resume (1:) and which
 * instruction a #PF must report (0:, the access that follows). */
#define ASM_ARM ASM_SET_RECOVER "movl $0f, pf_fault_ip\n0:\t"

/* ---- ring 3 and the #PF stub -----------------------------------------------
 *
 * user_call(va, kind, val) leaves ring 0 by IRET to user_stub (CPL 3),
 * which reads or writes the 32-bit word at va, or jumps there, and ends
 * with UD2 (a fetch comes back through the code frame); the #UD
 * gate (user_return) sees CS.RPL = 3, drops the ring-0 stack the CPU
 * switched to (TSS.ESP0) and returns from user_call with EAX as the user
 * code left it. A #PF in user_stub resumes at user_fix (pf_recover), the
 * UD2, so a faulting access also comes back the same way.
 * pt_pf_stub is the library's exception stub with pt_fault() as handler:
 * the same frame (struct trap_frame), so other faults go to trap_handle().
 */
__asm__(
	"	.text\n"
	"	.globl pt_pf_stub, user_call, user_fix, user_return\n"
	"	.globl user_read_insn, user_write_insn\n"
	"pt_pf_stub:\n"
	"	pushl $14\n"
	"	pushal\n"
	"	cld\n"
	"	pushl %esp\n"
	"	call pt_fault\n"
	"	addl $4, %esp\n"
	"	popal\n"
	"	addl $8, %esp\n"
	"	iret\n"
	"user_call:\n"
	"	pushl %ebp\n"
	"	pushl %ebx\n"
	"	pushl %esi\n"
	"	pushl %edi\n"
	"	movl %esp, user_saved_sp\n"
	"	movl 20(%esp), %ecx\n"
	"	movl 24(%esp), %esi\n"
	"	movl 28(%esp), %edx\n"
	"	pushl $0x23\n"                  /* SS: user data */
	"	pushl $user_stack_top\n"
	"	pushl $0x2\n"                   /* EFLAGS: IF = 0 */
	"	pushl $0x1b\n"                  /* CS: user code */
	"	pushl $user_stub\n"
	"	iret\n"
	"user_stub:\n"
	/* IRET to ring 3 nulled DS and ES (DPL 0 data, SDM Vol. 2A IRET). */
	"	movl $0x23, %eax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movl $0xdeadbeef, %eax\n"
	"	cmpl $1, %esi\n"                /* 0 read, 1 write, 2 fetch */
	"	je 1f\n"
	"	ja 3f\n"
	"user_read_insn:\n"
	"	movl (%ecx), %eax\n"
	"	ud2\n"
	"1:\n"
	"user_write_insn:\n"
	"	movl %edx, (%ecx)\n"
	"user_fix:\n"
	"	ud2\n"
	/* The code frame's FF E3 jumps to user_fix through %ebx. */
	"3:	movl $user_fix, %ebx\n"
	"	jmp *%ecx\n"
	"user_return:\n"
	"	testl $3, 4(%esp)\n"            /* #UD frame: EIP, CS, ... */
	"	jz 2f\n"
	"	movl $0x10, %ecx\n"
	"	movw %cx, %ds\n"
	"	movw %cx, %es\n"
	"	movw %cx, %fs\n"
	"	movw %cx, %gs\n"
	"	movl user_saved_sp, %esp\n"
	"	popl %edi\n"
	"	popl %esi\n"
	"	popl %ebx\n"
	"	popl %ebp\n"
	"	ret\n"
	"2:	jmp *isr_stubs+24\n"           /* a kernel #UD: the library's */
	"	.bss\n"
	"	.balign 16\n"
	"user_stack:\n"
	"	.skip 1024\n"
	"user_stack_top:\n"
	"	.globl user_saved_sp\n"
	"user_saved_sp:\n"
	"	.skip 4\n"
	"	.text\n");

/* Supervisor instruction fetch at va: a JMP there; the code frame holds
 * FF E3 (jmp *%ebx) everywhere, which comes straight back to 1:. */
static bool exec_probe(uintptr_t va)
{
	pf_fault_ip = va;
	__asm__ volatile("movl $1f, %%ebx\n\t" ASM_SET_RECOVER
			 "jmp *%0\n1:"
			 :: "r"(va) : "ebx", "memory");
	pf_recover = 0;
	return !pf_seen.hit;
}

/* ---- GDT and TSS (SDM Vol. 3A 3.4.5, 7.2.1, 7.2.2) ---------------------- */

struct tss32 {
	uint32_t link, esp0, ss0, unused[22];
	uint16_t trap, iomap;
} __attribute__((packed));

_Static_assert(sizeof(struct tss32) == 104, "SDM Vol. 3A Figure 7-2");

#define GDT_KCODE       0x00cf9b000000ffffULL   /* 0x08 32-bit, DPL 0 */
#define GDT_UCODE       0x00cffb000000ffffULL   /* 0x18 32-bit, DPL 3 */

static struct tss32 tss;

static void arch_tss_init(uint64_t *gdt, uintptr_t stack_top)
{
	tss.esp0 = (uint32_t)stack_top;
	tss.ss0 = SEL_KDATA;
	tss.iomap = sizeof(tss);
	gdt[SEL_TSS / 8] = tss_descriptor((uintptr_t)&tss, sizeof(tss) - 1);
}

/* ---- page-table entry stores -----------------------------------------------
 *
 * 4-byte entries (32-bit paging): MOV, XCHG, LOCK CMPXCHG. 8-byte entries
 * (PAE) from 32-bit code: two MOVs, MOV + XCHG, LOCK CMPXCHG8B. When two
 * stores make an entry, the one holding P goes last when the entry becomes
 * present and first when it stops being present, as a PAE kernel does.
 */
static const enum wkind replace4[] = { WK_MOV, WK_XCHG, WK_CMPXCHG };
static const enum wkind replace8[] = { WK_SPLIT, WK_XCHG, WK_CMPXCHG8B };

static const enum wkind *arch_replace_kinds(unsigned int *n)
{
	*n = 3;
	return F->entry_size == 4 ? replace4 : replace8;
}

static enum wkind arch_plain_kind(void)
{
	return F->entry_size == 4 ? WK_MOV : WK_SPLIT;
}

static void xchg32(volatile uint32_t *p, uint32_t v)
{
	__asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(*p) :: "memory");
}

static bool cmpxchg32(volatile uint32_t *p, uint32_t old, uint32_t v)
{
	bool ok;

	__asm__ volatile("lock cmpxchgl %3, %1"
			 : "+a"(old), "+m"(*p), "=@ccz"(ok) : "r"(v) : "memory");
	return ok;
}

static bool cmpxchg64(volatile uint64_t *p, uint64_t old, uint64_t v)
{
	bool ok;

	__asm__ volatile("lock cmpxchg8b %1"
			 : "+A"(old), "+m"(*p), "=@ccz"(ok)
			 : "b"((uint32_t)v), "c"((uint32_t)(v >> 32)) : "memory");
	return ok;
}

/* Two 32-bit stores, the low half (P) by MOV or XCHG. */
static void store_halves(volatile uint32_t *p, uint64_t v, bool use_xchg)
{
	bool present_last = v & PTE_P;

	if (present_last)
		p[1] = (uint32_t)(v >> 32);
	if (use_xchg)
		xchg32(&p[0], (uint32_t)v);
	else
		p[0] = (uint32_t)v;
	if (!present_last)
		p[1] = (uint32_t)(v >> 32);
}

static bool arch_ent_replace(uintptr_t pa, uint64_t v, enum wkind k)
{
	volatile uint32_t *p = (volatile uint32_t *)pa;

	if (F->entry_size == 8) {
		if (k == WK_CMPXCHG8B)
			return cmpxchg64((volatile uint64_t *)pa,
					 *(volatile uint64_t *)pa, v);
		store_halves(p, v, k == WK_XCHG);
		return true;
	}
	if (k == WK_CMPXCHG)
		return cmpxchg32(p, *p, (uint32_t)v);
	if (k == WK_XCHG)
		xchg32(p, (uint32_t)v);
	else
		*p = (uint32_t)v;
	return true;
}

/* LOCK OR / LOCK AND on each 32-bit half the mask touches. */
static void arch_ent_or(uintptr_t pa, uint64_t mask)
{
	volatile uint32_t *p = (volatile uint32_t *)pa;

	if ((uint32_t)mask)
		__asm__ volatile("lock orl %1, %0"
				 : "+m"(p[0]) : "r"((uint32_t)mask) : "memory");
	if (mask >> 32)
		__asm__ volatile("lock orl %1, %0"
				 : "+m"(p[1]) : "r"((uint32_t)(mask >> 32))
				 : "memory");
}

static void arch_ent_and(uintptr_t pa, uint64_t mask)
{
	volatile uint32_t *p = (volatile uint32_t *)pa;

	if ((uint32_t)mask != 0xffffffffu)
		__asm__ volatile("lock andl %1, %0"
				 : "+m"(p[0]) : "r"((uint32_t)mask) : "memory");
	if (F->entry_size == 8 && (mask >> 32) != 0xffffffffu)
		__asm__ volatile("lock andl %1, %0"
				 : "+m"(p[1]) : "r"((uint32_t)(mask >> 32))
				 : "memory");
}

/* ---- turning paging on -----------------------------------------------------
 * From paging off: CR4 first (PSE or PAE, PGE), then CR3, then CR0.PG
 * (SDM Vol. 3A 4.1.2: the mode is chosen by CR4.PAE when PG is set). */
static void arch_paging_on(uintptr_t root)
{
	uintptr_t cr4 = read_cr4() | CR4_PGE;

	cr4 |= F->kind == FMT_32 ? CR4_PSE : CR4_PAE;
	write_cr4(cr4);
	write_cr3(root);
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
}
