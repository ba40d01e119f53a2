/*
 * The PC's two 8259A interrupt controllers, every guest's (8259A
 * datasheet; the ELCR as the PIIX4 has it, 82371AB datasheet 3.1.2):
 *
 *   ISA IRQ 0-7  --> master (ports 0x20, 0x21) --INTR--> vCPU 0's LINT0
 *   ISA IRQ 8-15 --> slave  (ports 0xa0, 0xa1) --INT--> master IR2
 *   ELCR at 0x4d0 (IRQ 0-7) and 0x4d1 (IRQ 8-15): bit set, level-triggered
 *
 * The master's INTR reaches vCPU 0 (the BSP) through its local APIC's
 * LINT0 programmed as ExtINT, or directly while its APIC is off (virtual
 * wire, guest/isa.c); the vector comes from the INTA cycle here, not
 * from the APIC's IRR. The same ISA lines go to the I/O APIC's pins 0-15.
 *
 * What is modelled: ICW1-ICW4 (8086 mode, cascade on IR2, auto-EOI,
 * special fully nested mode), OCW1 (IMR), OCW2 (non-specific and
 * specific EOI, rotation, set priority), OCW3 (IRR/ISR reads, poll,
 * special mask mode), edge and level triggering by the ELCR (ICW1's
 * LTIM is ignored, as on the PIIX, whose ELCR replaces it), spurious
 * IRQ 7 at an INTA with nothing to give. Not modelled: MCS-80/85 mode
 * (a guest without ICW4 gets 8086 vectors), buffered mode (no effect on
 * a virtual bus). The slave answers for the master's IR2 while the
 * master's ICW3 names IR2 a cascade; the slave's ICW3 ID is kept as
 * written.
 *
 * These functions are the register file and its logic, without locking
 * (tests/unit/test_vpic.c); guest/isa.c takes the lock and delivers.
 */
#ifndef KEEL_GUEST_VPIC_H
#define KEEL_GUEST_VPIC_H

#include "arch/compiler.h"
#include "arch/spinlock.h"

#define VPIC_MASTER             0
#define VPIC_SLAVE              1
#define VPIC_IRQS               16
#define VPIC_CASCADE_IRQ        2
#define VPIC_PORT_MASTER        0x20    /* command; +1 data */
#define VPIC_PORT_SLAVE         0xa0
#define VPIC_PORT_ELCR          0x4d0   /* master's; +1 the slave's */

/* A PC BIOS's programming (SeaBIOS pic_reset, as every PC BIOS since
 * the AT): vectors 0x08-0x0f and 0x70-0x77, the slave on IR2. */
#define VPIC_BIOS_MASTER_BASE   0x08
#define VPIC_BIOS_SLAVE_BASE    0x70

/* ELCR bits that exist (82371AB 3.1.2): IRQ 0, 1, 2, 8 and 13 are always
 * edge-triggered; their bits read 0. */
#define VPIC_ELCR_MASK_MASTER   0xf8
#define VPIC_ELCR_MASK_SLAVE    0xde

/* struct vpic_chip.flags */
#define VPIC_ICW4_NEEDED        BIT_ULL(0)      /* ICW1.IC4 */
#define VPIC_SINGLE             BIT_ULL(1)      /* ICW1.SNGL: no ICW3 */
#define VPIC_AUTO_EOI           BIT_ULL(2)      /* ICW4.AEOI */
#define VPIC_SFNM               BIT_ULL(3)      /* ICW4.SFNM */
#define VPIC_ROTATE_AEOI        BIT_ULL(4)      /* OCW2 rotate in AEOI */
#define VPIC_SPECIAL_MASK       BIT_ULL(5)      /* OCW3.SMM */
#define VPIC_READ_ISR           BIT_ULL(6)      /* OCW3.RIS with RR */
#define VPIC_POLL               BIT_ULL(7)      /* OCW3.P: next read polls */

/* struct vpic_chip.init: which ICW the data port takes next (0: none,
 * the chip is initialized and takes OCW1). */
#define VPIC_INIT_DONE          0
#define VPIC_INIT_ICW2          2
#define VPIC_INIT_ICW3          3
#define VPIC_INIT_ICW4          4

struct vpic_chip {
	uint8_t irr;                    /* requests (edge: latched) */
	uint8_t isr;                    /* in service */
	uint8_t imr;                    /* masked */
	uint8_t elcr;                   /* level-triggered inputs */
	uint8_t elcr_mask;              /* ELCR bits that exist */
	uint8_t lines;                  /* input levels */
	uint8_t base;                   /* ICW2: vector of IR0 */
	uint8_t icw3;                   /* master: cascade inputs; slave: ID */
	uint8_t lowest;                 /* the IR of lowest priority */
	uint8_t init;                   /* VPIC_INIT_* */
	uint8_t flags;                  /* VPIC_* */
};

struct vpic {
	struct spinlock lock;
	bool present;
	struct vpic_chip chip[2];       /* VPIC_MASTER, VPIC_SLAVE */
};

/* Both chips as a PC BIOS leaves them (see README, "What a guest sees"):
 * initialized with the BIOS's vectors, every input masked but the
 * cascade, all edge-triggered, lines low. */
void vpic_reset(struct vpic *p);
/* ISA IRQ `irq` (0-15; others ignored) driven to `level`. */
void vpic_set_line(struct vpic *p, unsigned int irq, bool level);
/* A guest access to chip c's command (port 0) or data (port 1) port. A
 * read may change state (poll mode acknowledges). */
void vpic_write(struct vpic *p, unsigned int c, unsigned int port,
		uint8_t val);
uint8_t vpic_read(struct vpic *p, unsigned int c, unsigned int port);
/* The ELCR of chip c; bits that do not exist stay 0. */
void vpic_elcr_write(struct vpic *p, unsigned int c, uint8_t val);
uint8_t vpic_elcr_read(const struct vpic *p, unsigned int c);
/* The master's INTR output: an unmasked request outranks what is in
 * service. */
bool vpic_output(const struct vpic *p);
/* The INTA cycle: the vector of the highest-priority request, which goes
 * in service (spurious IR7 of the chip when there is none). */
uint8_t vpic_intack(struct vpic *p);

#endif
