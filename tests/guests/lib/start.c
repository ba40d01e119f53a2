/* From the entry code to the test and back out through the exit port. */
#include "guest.h"

#define PORT_DEBUG_EXIT 0xf4

uint32_t boot_magic;
const struct mb1_info *boot_info;

__noreturn void guest_start(uint32_t magic, uint32_t info);

__noreturn void guest_start(uint32_t magic, uint32_t info)
{
	boot_magic = magic;
	boot_info = (const struct mb1_info *)(uintptr_t)info;
	trap_init();
	guest_main();
	test_finish();
}

/* isa-debug-exit: Keel ends the guest with status (code << 1) | 1. */
void exit_port(uint32_t code)
{
	outl(PORT_DEBUG_EXIT, code);
}

__noreturn void guest_exit(uint32_t code)
{
	exit_port(code);
	/* Without the debug-exit device the write is ignored: ask Keel, then
	 * stop in the way that always ends a guest. */
	vmcall3(KEEL_HC_EXIT, code, 0, 0);
	for (;;)
		cpu_halt();
}
