/*
 * hostile_singlestep: single-stepping (RFLAGS.TF = 1) across instructions
 * that Keel completes for the guest. An instruction that starts with TF
 * set ends in a #DB trap with DR6.BS and RIP just past it (SDM Vol. 3B
 * 17.3.1.4), whether the CPU ran it or a VM exit let Keel run it: a
 * guest's debugger, or a guest that single-steps code it does not trust,
 * must not see the instruction after a CPUID run too.
 *
 * Each case sets TF with POPF (the trap comes after the instruction that
 * follows), runs one instruction and counts the #DBs: exactly one, at the
 * address right after the instruction. The #DB handler clears TF in the
 * frame it returns to. 64-bit only.
 *
 * A REP INS from a port Keel handles is one VM exit and Keel runs its
 * iterations; the processor takes the single-step trap after each
 * iteration, RIP on the instruction and RF = 1 in the pushed RFLAGS until
 * the last (SDM Vol. 3B 17.3.1.1, 17.3.1.4), so that case keeps TF until
 * RIP has moved past it.
 */
#include "guest.h"

#define RFLAGS_TF       0x100
#define DR6_BS          (1u << 14)
#define VEC_DB          1
#define PORT_UNCLAIMED  0x2f8
#define MSR_APIC_BASE   0x1b

volatile uint64_t db_rip, db_count, db_dr6;

/* #DB: note where and how often, clear TF and DR6, return. */
__asm__(
	".text\n"
	"db_stub:\n\t"
	"pushq %rax\n\t"
	"movq 8(%rsp), %rax\n\t"
	"movq %rax, db_rip(%rip)\n\t"
	"incq db_count(%rip)\n\t"
	"movq %dr6, %rax\n\t"
	"movq %rax, db_dr6(%rip)\n\t"
	"xorl %eax, %eax\n\t"
	"movq %rax, %dr6\n\t"
	"andq $~0x100, 24(%rsp)\n\t"
	"popq %rax\n\t"
	"iretq\n");
extern char db_stub[];

#define REP_COUNT       4
#define RFLAGS_RF       0x10000

/* #DB for the REP case: note each trap's RIP and pushed RFLAGS, keep TF
 * while RIP is on the REP instruction (rep_insn). */
volatile uint64_t rep_insn, rep_rips[8], rep_rflags[8], rep_traps;
__asm__(
	".text\n"
	"db_rep_stub:\n\t"
	"pushq %rax\n\t"
	"pushq %rbx\n\t"
	"movq rep_traps(%rip), %rbx\n\t"
	"andq $7, %rbx\n\t"
	"leaq rep_rips(%rip), %rax\n\t"
	"pushq 16(%rsp)\n\t"
	"popq (%rax,%rbx,8)\n\t"
	"leaq rep_rflags(%rip), %rax\n\t"
	"pushq 32(%rsp)\n\t"
	"popq (%rax,%rbx,8)\n\t"
	"incq rep_traps(%rip)\n\t"
	"xorl %eax, %eax\n\t"
	"movq %rax, %dr6\n\t"
	"movq 16(%rsp), %rax\n\t"
	"cmpq rep_insn(%rip), %rax\n\t"
	"je 1f\n\t"
	"andq $~0x100, 32(%rsp)\n"
	"1:\n\t"
	"popq %rbx\n\t"
	"popq %rax\n\t"
	"iretq\n");
extern char db_rep_stub[];

/* Runs INSN (one instruction, operands in the usual registers) with TF
 * set; `after` is the address just past it. */
#define STEP(insn, after, ...)						\
	__asm__ volatile("pushfq\n\t"					\
			 "orq $0x100, (%%rsp)\n\t"			\
			 "popfq\n\t"					\
			 insn "\n\t"					\
			 "1: leaq 1b(%%rip), %0\n\t"			\
			 : "=r"(after), ##__VA_ARGS__)

static void expect_one_trap(const char *what, uint64_t after)
{
	printf("%s: %llu #DB at %#llx (after it: %#llx), dr6 %#llx\n", what,
	       (unsigned long long)db_count, (unsigned long long)db_rip,
	       (unsigned long long)after, (unsigned long long)db_dr6);
	EXPECT_EQ(db_count, 1);
	EXPECT_EQ(db_rip, after);
	EXPECT(db_dr6 & DR6_BS);
	db_count = 0;
	db_rip = 0;
	db_dr6 = 0;
}

static void step_cpuid(void)
{
	uint64_t after, a = 0, b, c = 0, d;

	STEP("cpuid", after, "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	expect_one_trap("cpuid", after);
}

static void step_vmcall(void)
{
	uint64_t after, a = KEEL_HC_COUNTER, b = KEEL_COUNTER_EXITS_TOTAL;

	STEP("vmcall", after, "+a"(a), "+b"(b) :: "rcx", "rdx", "memory");
	expect_one_trap("vmcall", after);
}

static void step_rdmsr(void)
{
	uint64_t after, a, d, c = MSR_APIC_BASE;

	STEP("rdmsr", after, "=a"(a), "=d"(d), "+c"(c));
	expect_one_trap("rdmsr", after);
}

static void step_in(void)
{
	uint64_t after, a = 0, d = PORT_UNCLAIMED;

	STEP("inb %%dx, %%al", after, "+a"(a), "+d"(d));
	expect_one_trap("in", after);
}

static void step_out(void)
{
	uint64_t after, a = 0x55, d = PORT_UNCLAIMED;

	STEP("outb %%al, %%dx", after, "+a"(a), "+d"(d));
	expect_one_trap("out", after);
}

static void step_cr8(void)
{
	uint64_t after, v = 0;

	STEP("movq %1, %%cr8", after, "+r"(v));
	expect_one_trap("mov cr8", after);
}

static void step_xsetbv(void)
{
	uint64_t after, a = 1, d = 0, c = 0;

	if (!(cpuid(1, 0).ecx & (1u << 26)))
		return;
	__asm__ volatile("movq %%cr4, %%rax; btsq $18, %%rax; movq %%rax, %%cr4"
			 ::: "rax");
	STEP("xsetbv", after, "+a"(a), "+d"(d), "+c"(c));
	expect_one_trap("xsetbv", after);
}

/* REP INSB of REP_COUNT bytes from an unclaimed port (all ones). */
static void step_rep_ins(void)
{
	static volatile uint8_t buf[REP_COUNT + 1];
	uint64_t after, c = REP_COUNT, d = PORT_UNCLAIMED;
	volatile uint8_t *di = buf;

	idt_set_gate(VEC_DB, (uintptr_t)db_rep_stub);
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, rep_insn(%%rip)\n\t"
			 "pushfq\n\t"
			 "orq $0x100, (%%rsp)\n\t"
			 "popfq\n\t"
			 "1: rep insb\n\t"
			 "2: leaq 2b(%%rip), %0\n\t"
			 : "=r"(after), "+D"(di), "+c"(c), "+d"(d)
			 :: "rax", "memory");
	idt_set_gate(VEC_DB, (uintptr_t)db_stub);
	printf("rep insb of %u: %llu #DB\n", REP_COUNT,
	       (unsigned long long)rep_traps);
	EXPECT_EQ(rep_traps, REP_COUNT);
	for (unsigned int i = 0; i < REP_COUNT && i < rep_traps; i++) {
		bool last = i == REP_COUNT - 1;

		EXPECT_EQ(rep_rips[i], last ? after : rep_insn);
		EXPECT_EQ(!!(rep_rflags[i] & RFLAGS_RF), !last);
	}
	EXPECT_EQ(c, 0);
	for (unsigned int i = 0; i < REP_COUNT; i++)
		EXPECT_EQ(buf[i], 0xff);
	EXPECT_EQ(buf[REP_COUNT], 0);
}

void guest_main(void)
{
	idt_set_gate(VEC_DB, (uintptr_t)db_stub);
	step_cpuid();
	step_vmcall();
	step_rdmsr();
	step_in();
	step_out();
	step_cr8();
	step_xsetbv();
	step_rep_ins();
}
