/* Time-stamp counter: calibrated once at boot against the PIT, checked
 * against CPUID (arch/tsc.c). */
#ifndef KEEL_ARCH_TSC_H
#define KEEL_ARCH_TSC_H

#include "arch/compiler.h"

extern uint64_t tsc_khz;
extern uint64_t boot_tsc;       /* TSC at Keel's first instruction */

/* Sets tsc_khz and prints it ("keel: tsc: N kHz (...)"). */
void tsc_calibrate(void);
void udelay(uint64_t us);

#endif
