/* Ending the platform when Keel is done. With `shutdown=emu` on Keel's
 * command line (what tools/run and `make run` pass), Keel signals the
 * emulators' exit devices; otherwise (real hardware) it halts. */
#ifndef KEEL_DRIVERS_PLATFORM_H
#define KEEL_DRIVERS_PLATFORM_H

#include "arch/compiler.h"

extern bool platform_shutdown_emu;

__noreturn void platform_shutdown(void);

#endif
