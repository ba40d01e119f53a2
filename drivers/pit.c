/* 8254 PIT channel 2 in mode 0, gated through port 0x61 (IBM PC/AT). */
#include "drivers/pit.h"
#include "arch/x86.h"

#define PIT_CH2         0x42
#define PIT_CMD         0x43
#define PORT_B          0x61
#define  PORT_B_GATE2   0x01
#define  PORT_B_SPEAKER 0x02
#define  PORT_B_OUT2    0x20
#define PIT_CMD_CH2_LOHI_MODE0 0xb0

void pit_wait_us(uint32_t us)
{
	uint32_t count = (uint32_t)(((uint64_t)us * PIT_HZ) / 1000000);
	uint8_t b;

	if (count > 0xffff)
		count = 0xffff;
	if (count == 0)
		count = 1;
	b = (inb(PORT_B) & ~PORT_B_SPEAKER) & ~PORT_B_GATE2;
	outb(PORT_B, b);
	outb(PIT_CMD, PIT_CMD_CH2_LOHI_MODE0);
	outb(PIT_CH2, count & 0xff);
	outb(PIT_CH2, count >> 8);
	outb(PORT_B, b | PORT_B_GATE2);         /* rising gate starts the count */
	/* OUT2 goes high at terminal count; bounded in case there is no PIT. */
	for (uint32_t i = 0; i < 50000000; i++)
		if (inb(PORT_B) & PORT_B_OUT2)
			break;
}
