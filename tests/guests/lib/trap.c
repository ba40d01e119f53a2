/* Exceptions: expected ones resume at their fixup, others end the guest. */
#include "guest.h"

struct ex_entry {
	uintptr_t fault, fixup;
};

extern const struct ex_entry __ex_table_start[], __ex_table_end[];
extern const uintptr_t isr_stubs[32];

volatile struct trap_record trap_last = { TRAP_NONE, 0, 0, 0 };

static const char *const vector_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "22", "23",
	"24", "25", "26", "27", "#HV", "#VC", "#SX", "31",
};

void trap_init(void)
{
	for (unsigned int v = 0; v < ARRAY_SIZE(vector_names); v++)
		idt_set_gate(v, isr_stubs[v]);
	idt_load();
}

static const struct ex_entry *ex_find(uintptr_t ip)
{
	for (const struct ex_entry *e = __ex_table_start; e < __ex_table_end; e++)
		if (e->fault == ip)
			return e;
	return NULL;
}

void trap_handle(struct trap_frame *f)
{
	const struct ex_entry *e = ex_find(f->ip);
	unsigned int v = (unsigned int)f->vector & 31;

	if (e) {
		trap_last.vector = (int)v;
		trap_last.error = (uint32_t)f->error;
		trap_last.ip = f->ip;
		trap_last.flags = f->flags;
		f->ip = e->fixup;
		return;
	}
	printf("FAIL unexpected exception %s (vector %u)\n", vector_names[v], v);
	trap_dump(f);
	guest_exit(EXIT_TRAP);
}

bool rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;

	trap_arm();
	__asm__ volatile("1: rdmsr\n2:\n" EX_TABLE("1b", "2b")
			 : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*val = ((uint64_t)hi << 32) | lo;
	return trap_last.vector == TRAP_NONE;
}

bool wrmsr_safe(uint32_t msr, uint64_t val)
{
	trap_arm();
	__asm__ volatile("1: wrmsr\n2:\n" EX_TABLE("1b", "2b")
			 :: "a"((uint32_t)val), "d"((uint32_t)(val >> 32)),
			    "c"(msr) : "memory");
	return trap_last.vector == TRAP_NONE;
}
