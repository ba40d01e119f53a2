/*
 * debugtest: single-stepping (RFLAGS.TF) across instructions Keel runs on
 * the guest's behalf. Each one exits and Keel moves RIP past it; the
 * single-step trap the processor would have raised after it must come as
 * it would on bare metal (SDM Vol. 3A 18.3.1.4): one #DB, with EIP on the
 * next instruction and DR6.BS set.
 *
 *   CPUID                  exits every time
 *   IN from the UART       a port I/O exit
 *   MOV SS; CPUID          the exit comes with MOV-SS blocking, which holds
 *                          MOV SS's own trap back until after CPUID: still
 *                          one #DB
 *   STI; HLT               the trap after STI (STI blocking does not hold a
 *                          #DB back), then the one after HLT, which wakes
 *                          the processor at once: before the APIC timer,
 *                          armed as a bound, fires
 *
 * The #DB handler records EIP and DR6, clears DR6 and, after the number
 * of #DBs a case expects, clears TF in the frame it returns to.
 */
#include "guest.h"

#define APIC_MMIO           0xfee00000u
#define APIC_EOI            0x0b0
#define APIC_SVR            0x0f0
#define APIC_LVT_TIMER      0x320
#define APIC_TIMER_ICR      0x380
#define APIC_TIMER_DCR      0x3e0
#define DCR_DIVIDE_1        0xb
#define VEC_DB              1
#define VEC_TIMER           0x50
#define TIMER_TICKS         2000000u        /* a bound, not a time */
#define RFLAGS_TF           0x100u
#define DR6_BS              (1u << 14)
#define DR6_B0_B3           0xfu
#define MAX_DB              8

struct db_frame {
	uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;    /* PUSHA */
	uint32_t eip, cs, eflags;
};

__asm__(
	".text\n"
	"db_stub:\n"
	"	pushal\n"
	"	cld\n"
	"	pushl %esp\n"
	"	call db_entry\n"
	"	addl $4, %esp\n"
	"	popal\n"
	"	iret\n"
	"timer_stub:\n"
	"	pushal\n"
	"	cld\n"
	"	call timer_entry\n"
	"	popal\n"
	"	iret\n");
extern char db_stub[], timer_stub[];

static volatile uint32_t db_count, db_stop, timer_count;
static volatile uint32_t db_eip[MAX_DB], db_dr6[MAX_DB], db_timers[MAX_DB];

static uint32_t read_dr6(void)
{
	uint32_t v;

	__asm__ volatile("mov %%dr6, %0" : "=r"(v));
	return v;
}

static void write_dr6(uint32_t v)
{
	__asm__ volatile("mov %0, %%dr6" :: "r"(v));
}

__attribute__((used)) void db_entry(struct db_frame *f);
__attribute__((used)) void db_entry(struct db_frame *f)
{
	uint32_t n = db_count;

	if (n < MAX_DB) {
		db_eip[n] = f->eip;
		db_dr6[n] = read_dr6();
		db_timers[n] = timer_count;
	}
	write_dr6(0);
	db_count = ++n;
	if (n >= db_stop)
		f->eflags &= ~RFLAGS_TF;
}

static void apic_write(uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)(APIC_MMIO + off) = val;
}

__attribute__((used)) void timer_entry(void);
__attribute__((used)) void timer_entry(void)
{
	timer_count++;
	apic_write(APIC_EOI, 0);
}

static void db_arm(uint32_t stop)
{
	db_count = 0;
	db_stop = stop;
	write_dr6(0);
}

static bool is_single_step(unsigned int i)
{
	return (db_dr6[i] & (DR6_BS | DR6_B0_B3)) == DR6_BS;
}

/* One #DB, at `next`, with DR6.BS alone. */
static void expect_one_step(const char *what, uint32_t next)
{
	printf("%s: %u #DB, at %#x (next instruction %#x), DR6 %#x\n", what,
	       db_count, db_eip[0], next, db_dr6[0]);
	EXPECT_EQ(db_count, 1);
	EXPECT_EQ(db_eip[0], next);
	EXPECT(is_single_step(0));
}

/* POPF sets TF: the instruction after it is the first one stepped. */
#define SET_TF  "pushfl; orl $0x100, (%%esp); popfl\n\t"

static void test_cpuid(void)
{
	uint32_t next;

	db_arm(1);
	__asm__ volatile(SET_TF "cpuid\n\t"
			 "1: movl $1b, %0"
			 : "=S"(next) : "a"(0) : "ebx", "ecx", "edx", "memory");
	expect_one_step("cpuid", next);
}

static void test_port_io(void)
{
	uint32_t next;

	db_arm(1);
	__asm__ volatile(SET_TF "inb %%dx, %%al\n\t"
			 "1: movl $1b, %0"
			 : "=S"(next) : "d"(0x3fd) : "eax", "memory");
	expect_one_step("in", next);
}

static void test_mov_ss_cpuid(void)
{
	uint32_t next;

	db_arm(1);
	__asm__ volatile("movw %%ss, %%bx\n\t"
			 SET_TF "movw %%bx, %%ss\n\t"
			 "cpuid\n\t"
			 "1: movl $1b, %0"
			 : "=S"(next) : "a"(0) : "ebx", "ecx", "edx", "memory");
	expect_one_step("mov ss; cpuid", next);
}

static void test_sti_hlt(void)
{
	uint32_t at_hlt, next;

	apic_write(APIC_SVR, 0x1ff);
	apic_write(APIC_TIMER_DCR, DCR_DIVIDE_1);
	apic_write(APIC_LVT_TIMER, VEC_TIMER);
	timer_count = 0;
	db_arm(2);
	apic_write(APIC_TIMER_ICR, TIMER_TICKS);
	__asm__ volatile("cli\n\t"
			 SET_TF "sti\n\t"
			 "2: hlt\n\t"
			 "1: cli\n\t"
			 "movl $2b, %0\n\t"
			 "movl $1b, %1"
			 : "=S"(at_hlt), "=D"(next) :: "memory");
	while (!timer_count)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	printf("sti; hlt: %u #DB, at %#x and %#x (hlt %#x, next %#x), DR6 %#x "
	       "%#x, timer interrupts before the second %u\n", db_count,
	       db_eip[0], db_eip[1], at_hlt, next, db_dr6[0], db_dr6[1],
	       db_timers[1]);
	EXPECT_EQ(db_count, 2);
	EXPECT_EQ(db_eip[0], at_hlt);
	EXPECT_EQ(db_eip[1], next);
	EXPECT(is_single_step(0));
	EXPECT(is_single_step(1));
	EXPECT_EQ(db_timers[1], 0);
}

void guest_main(void)
{
	idt_set_gate(VEC_DB, (uintptr_t)db_stub);
	idt_set_gate(VEC_TIMER, (uintptr_t)timer_stub);
	idt_load();
	test_cpuid();
	test_port_io();
	test_mov_ss_cpuid();
	test_sti_hlt();
}
