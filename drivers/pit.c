/* 8254 PIT channel 2 in mode 0, gated through port 0x61 (IBM PC/AT). */
#include "drivers/pit.h"
#include "arch/x86.h"

#define PIT_CH2         0x42
#define PIT_CMD         0x43
#define PORT_B          0x61
#define  PORT_B_GATE2   0x01
#define  PORT_B_SPEAKER 0x02
#define PIT_CMD_CH2_LOHI_MODE0 0xb0     /* channel 2, LSB then MSB, mode 0 */
#define PIT_CMD_CH2_LATCH      0x80     /* counter latch command, channel 2 */

void pit_ch2_start(uint16_t count)
{
	uint8_t b = (inb(PORT_B) & ~PORT_B_SPEAKER) & ~PORT_B_GATE2;

	outb(PORT_B, b);
	outb(PIT_CMD, PIT_CMD_CH2_LOHI_MODE0);
	outb(PIT_CH2, count & 0xff);
	outb(PIT_CH2, count >> 8);
	outb(PORT_B, b | PORT_B_GATE2);
}

void pit_ch2_latch(void)
{
	outb(PIT_CMD, PIT_CMD_CH2_LATCH);
}

uint16_t pit_ch2_read(void)
{
	uint8_t lo = inb(PIT_CH2);

	return (uint16_t)(lo | inb(PIT_CH2) << 8);
}
