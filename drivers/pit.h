/* 8254 PIT channel 2, used only as a reference clock: to calibrate the TSC
 * and for delays before the TSC is calibrated. */
#ifndef KEEL_DRIVERS_PIT_H
#define KEEL_DRIVERS_PIT_H

#include "arch/compiler.h"

#define PIT_HZ 1193182

/* Busy-waits `us` microseconds on PIT channel 2 (at most ~54 ms per call). */
void pit_wait_us(uint32_t us);

#endif
