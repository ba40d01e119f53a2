/*
 * System control port A at 0x92 (the PC/AT "fast A20 and init" port, as
 * Intel's I/O controller hubs document it: PORT92, "Init Register"):
 *
 *   bit 0  INIT_NOW       R/W: a 0 -> 1 transition resets the processor
 *                         (INIT#); the bit stays 1 across that reset
 *   bit 1  ALT_A20_GATE   R/W: 1 lets address bit 20 through
 *   7:2    reserved, read 0
 *
 * Keel's guests always run with A20 on: the bit reads back what was
 * written but clearing it does not wrap addresses at 1 MiB. Keel has no
 * processor reset for a guest (no firmware at the reset vector), so the
 * INIT_NOW transition ends the guest, as the ACPI reset register does
 * (guest/devices.c). Pure: the state is one byte, tested on the host.
 */
#ifndef KEEL_GUEST_PORT92_H
#define KEEL_GUEST_PORT92_H

#include "arch/compiler.h"

#define PORT92              0x92
#define PORT92_INIT_NOW     BIT_ULL(0)
#define PORT92_A20          BIT_ULL(1)
#define PORT92_RESET_VALUE  PORT92_A20          /* A20 on, as Keel runs */

/* The register after a write of val; *init is set when the write asks
 * for the processor's reset (INIT_NOW going from 0 to 1). */
uint8_t port92_write(uint8_t reg, uint8_t val, bool *init);

#endif
