/* A guest's ISA interrupt lines and its 8259s on the port bus
 * (guest/isa.c; the 8259 model is guest/vpic.h). */
#ifndef KEEL_GUEST_ISA_H
#define KEEL_GUEST_ISA_H

#include "guest/vpic.h"

struct guest;
struct vcpu;

/* ISA IRQ `irq` (0-15) at `level`, from any CPU: to the 8259s' input and
 * the I/O APIC's pin of that number. */
void isa_set_irq(struct guest *g, unsigned int irq, bool level);

/* The 8259s as a BIOS leaves them (vpic_reset), present. */
void vpic_init(struct guest *g);
/* Byte accesses to chip c's port off (0: command, 1: data) and to the
 * ELCR's (off 0: master, 1: slave), from the port bus. */
void vpic_port_io(struct guest *g, unsigned int c, uint16_t off, bool in,
		  uint32_t *val);
void vpic_elcr_io(struct guest *g, uint16_t off, bool in, uint32_t *val);

/* The chips' state from src to dst (snapshots, migration), each locked. */
void vpic_copy(struct vpic *dst, struct vpic *src);

/* On v's CPU: whether the master's INTR reaches v (vCPU 0 only, while
 * its local APIC takes ExtINT on LINT0 or is off), and the INTA cycle
 * that gives the vector to inject. */
bool vpic_intr_for(struct vcpu *v);
uint8_t vpic_acknowledge(struct guest *g);

#endif
