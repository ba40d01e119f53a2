#include "drivers/platform.h"
#include "arch/x86.h"
#include "drivers/uart.h"

#define QEMU_DEBUG_EXIT_PORT 0xf4      /* isa-debug-exit,iobase=0xf4 */
#define BOCHS_SHUTDOWN_PORT  0x8900    /* "Shutdown" written byte by byte */

bool platform_shutdown_emu;

__noreturn void platform_shutdown(void)
{
	uart_drain();
	if (platform_shutdown_emu) {
		outl(QEMU_DEBUG_EXIT_PORT, 0);
		for (const char *s = "Shutdown"; *s; s++)
			outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*s);
	}
	cpu_halt_forever();
}
