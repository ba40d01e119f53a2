/* Time-stamp counter: calibrated once at boot against the PIT. */
#ifndef KEEL_ARCH_TSC_H
#define KEEL_ARCH_TSC_H

#include "arch/compiler.h"

extern uint64_t tsc_khz;
extern uint64_t boot_tsc;       /* TSC at Keel's first instruction */

void tsc_calibrate(void);
void udelay(uint64_t us);

#endif
