/* 8254 PIT channel 2, used only as a reference clock to calibrate the
 * TSC (arch/tsc.c). */
#ifndef KEEL_DRIVERS_PIT_H
#define KEEL_DRIVERS_PIT_H

#include "arch/compiler.h"

#define PIT_HZ 1193182

/* Loads channel 2 with `count` in mode 0 and opens its gate: from the
 * next PIT clock on, it counts down by one per clock (and wraps from 0 to
 * 0xffff). */
void pit_ch2_start(uint16_t count);
/* Latches channel 2's count: the value pit_ch2_read() returns is the one
 * of this instant, however long the reading takes. */
void pit_ch2_latch(void);
uint16_t pit_ch2_read(void);

#endif
