/* Local APIC, in x2APIC mode where the CPU has it, else xAPIC (MMIO).
 * Keel never clears IA32_APIC_BASE.EN (it goes from xAPIC to x2APIC
 * directly, SDM Vol. 3A 11.12.5): some emulators never re-enable it. */
#ifndef KEEL_DRIVERS_LAPIC_H
#define KEEL_DRIVERS_LAPIC_H

#include "arch/compiler.h"

extern bool lapic_x2apic;
extern bool lapic_tsc_deadline;         /* lapic_wake_at() works everywhere */
extern bool lapic_can_wake;             /* lapic_wake_at() works on CPU 0 */

void lapic_init_this_cpu(void);         /* every CPU, mode chosen on the BSP */
uint32_t lapic_id(void);
void lapic_eoi(void);
void lapic_send_init(uint32_t apic_id);
void lapic_send_sipi(uint32_t apic_id, uint8_t vector_page);
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_send_nmi(uint32_t apic_id);
void lapic_send_nmi_all_but_self(void);
/* A kick (VEC_KICK) to this CPU when the TSC reaches `tsc`; 0 disarms. */
void lapic_wake_at(uint64_t tsc);

#endif
