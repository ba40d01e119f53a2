/*
 * A virtual I/O APIC (82093AA register set), every guest's: 24
 * redirection entries behind IOREGSEL (offset 0x00) and IOWIN (0x10) at
 * guest-physical 0xfec00000, reached through the instruction emulator.
 * Devices raise and lower its input pins. An edge-triggered entry sends
 * its vector to the local APICs it names on a rising edge (a masked
 * pin's edge is lost, as on the real part); a level-triggered one while
 * its input is high, once until the EOI for its vector (remote IRR).
 */
#ifndef KEEL_GUEST_IOAPIC_H
#define KEEL_GUEST_IOAPIC_H

#include "arch/compiler.h"
#include "arch/spinlock.h"

#define IOAPIC_PINS             24
#define IOAPIC_GPA              0xfec00000ULL
#define IOAPIC_REG_ID           0x00
#define IOAPIC_REG_VER          0x01
#define IOAPIC_REG_ARB          0x02
#define IOAPIC_REG_REDIR        0x10    /* two registers per pin */
#define IOAPIC_VERSION          0x11
#define IOAPIC_OFF_SEL          0x00
#define IOAPIC_OFF_WIN          0x10

/* Redirection entry bits (82093AA datasheet 3.2.4). */
#define IOREDIR_VECTOR          GENMASK_ULL(7, 0)
#define IOREDIR_DM_SHIFT        8
#define IOREDIR_DM_FIXED        0
#define IOREDIR_DM_LOWEST       1
#define IOREDIR_LOGICAL         BIT_ULL(11)
#define IOREDIR_STATUS          BIT_ULL(12)     /* read-only */
#define IOREDIR_REMOTE_IRR      BIT_ULL(14)     /* read-only */
#define IOREDIR_MASKED          BIT_ULL(16)
#define IOREDIR_DEST_SHIFT      56
#define IOREDIR_RO              (IOREDIR_STATUS | IOREDIR_REMOTE_IRR)
#define IOREDIR_POLARITY        BIT_ULL(13)
#define IOREDIR_LEVEL           BIT_ULL(15)
#define IOREDIR_WRITABLE        (GENMASK_ULL(11, 0) | IOREDIR_POLARITY | \
				 IOREDIR_LEVEL | IOREDIR_MASKED | \
				 GENMASK_ULL(63, 56))

struct vioapic {
	struct spinlock lock;
	bool present;
	uint32_t id, sel;
	uint32_t level;                 /* input pin levels, bit per pin */
	uint64_t redir[IOAPIC_PINS];
};

struct guest;

/* Registers g's I/O APIC at IOAPIC_GPA, all pins masked: 0 or an error. */
int ioapic_init(struct guest *g, unsigned int id);
/* Sets input pin `pin` to `level` (from a device, on any vCPU's CPU). */
void ioapic_set_irq(struct guest *g, unsigned int pin, bool level);
/* A local APIC's EOI for level-triggered `vector` (guest/vlapic.c). */
void ioapic_eoi(struct guest *g, uint8_t vector);

/* The register file, without locking or delivery (tests/unit). Returns
 * the pin whose entry was unmasked with its input high (-1 if none): the
 * caller delivers it. */
uint32_t ioapic_reg_read(const struct vioapic *a, uint32_t reg);
int ioapic_reg_write(struct vioapic *a, uint32_t reg, uint32_t val);

#endif
