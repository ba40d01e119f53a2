/* What the boot sequence found out, for the rest of Keel. */
#ifndef KEEL_BOOT_BOOT_H
#define KEEL_BOOT_BOOT_H

#include "arch/compiler.h"

struct mb2_info;

struct boot_params {
	const struct mb2_info *mb2;
	uint64_t info_pa, info_size;
	uint64_t ticks;                 /* boot_tsc to all CPUs in VMX root */
	bool stats;                     /* keel.stats=1 */
	bool bench;                     /* keel.bench=1: print memory figures */
	int paging;                     /* keel.paging: enum config_paging for
					 * guests whose config says auto */
};

extern struct boot_params boot;

void keel_main(uint32_t magic, uint32_t info_pa);
/* Runs the boot self-checks, prints `keel: done: P passed, F failed` and
 * ends the platform. */
__noreturn void boot_finish(void);

#endif
