/* IDT: 256 interrupt gates into arch/isr.S (SDM Vol. 3A 6.14.1). */
#include "arch/idt.h"
#include "arch/gdt.h"

#define GATE_INTERRUPT 0x8e     /* P, DPL 0, 64-bit interrupt gate */

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t reserved;
} __packed;

_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate");

extern const uint64_t isr_stub_table[256];
static struct idt_gate idt[256] __aligned(16);

static uint8_t idt_ist_for(int vec)
{
	switch (vec) {
	case VEC_DOUBLE_FAULT:
		return IST_DOUBLE_FAULT;
	case VEC_NMI:
		return IST_NMI;
	case VEC_MACHINE_CHECK:
		return IST_MACHINE_CHECK;
	default:
		return 0;
	}
}

void idt_init(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t a = isr_stub_table[v];

		idt[v] = (struct idt_gate){
			.off_lo = a & 0xffff,
			.sel = SEL_KERNEL_CS,
			.ist = idt_ist_for(v),
			.type = GATE_INTERRUPT,
			.off_mid = (a >> 16) & 0xffff,
			.off_hi = a >> 32,
		};
	}
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed ptr = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ volatile("lidt %0" :: "m"(ptr));
}
