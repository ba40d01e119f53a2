/*
 * PCI from a test guest: configuration space by mechanism #1 and by ECAM,
 * finding a function, memory BARs, capabilities, MSI-X and INTx, as a
 * driver does it by the specs (PCI Local Bus 3.0, PCI Express Base 4.0).
 *
 * A function is named by its bus/device/function number (PCI_BDF). Reads
 * of 1, 2 or 4 bytes return the value in the low bits; an access must not
 * cross a dword (neither mechanism defines one that does).
 *
 *   port 0xcf8   CONFIG_ADDRESS: enable(31) bus(23:16) dev(15:11)
 *                fn(10:8) register(7:2), written as a dword only
 *   port 0xcfc   CONFIG_DATA: bytes 0xcfc-0xcff reach bytes 0-3 of the
 *                dword CONFIG_ADDRESS selects
 *   ECAM         PCI_ECAM_BASE + (bus << 20 | dev << 15 | fn << 12 | reg),
 *                4 KiB per function (the MCFG table's base; bus 0 only
 *                where the test guests run)
 */
#ifndef KEEL_TEST_PCI_H
#define KEEL_TEST_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_CONFIG_ADDRESS      0xcf8
#define PCI_CONFIG_DATA         0xcfc
#define PCI_ECAM_BASE           0xe0000000u
#define PCI_ECAM_BUS_SIZE       0x100000u
#define PCI_SLOTS               32
#define PCI_FUNCS               8
#define PCI_CFG_LEN             256     /* conventional space */
#define PCI_ECAM_FUNC_LEN       4096    /* with the extended space */

typedef uint32_t pci_bdf;
#define PCI_BDF(bus, dev, fn)   ((pci_bdf)((bus) << 8 | (dev) << 3 | (fn)))
#define PCI_BDF_BUS(b)          (((b) >> 8) & 0xff)
#define PCI_BDF_DEV(b)          (((b) >> 3) & 0x1f)
#define PCI_BDF_FN(b)           ((b) & 7)

/* Type 0 header (PCI 3.0 6.1). */
#define PCI_CFG_VENDOR          0x00
#define PCI_CFG_DEVICE          0x02
#define PCI_CFG_COMMAND         0x04
#define PCI_CFG_STATUS          0x06
#define PCI_CFG_REVISION        0x08    /* then prog-if, subclass, class */
#define PCI_CFG_HEADER_TYPE     0x0e
#define PCI_CFG_BAR0            0x10
#define PCI_CFG_CAP_PTR         0x34
#define PCI_CFG_INT_LINE        0x3c
#define PCI_CFG_INT_PIN         0x3d
#define PCI_NR_BARS             6

#define PCI_COMMAND_IO          (1u << 0)
#define PCI_COMMAND_MEMORY      (1u << 1)
#define PCI_COMMAND_MASTER      (1u << 2)
#define PCI_COMMAND_INTX_OFF    (1u << 10)
#define PCI_STATUS_CAP_LIST     (1u << 4)
/* Status bits a write of one clears (PCI 3.0 6.2.3). */
#define PCI_STATUS_RW1C         0xf900u
#define PCI_HEADER_MULTIFN      0x80

/* A BAR's low bits (PCI 3.0 6.2.5.1). */
#define PCI_BAR_IO              0x1u
#define PCI_BAR_TYPE_MASK       0x6u
#define PCI_BAR_TYPE_64         0x4u
#define PCI_BAR_PREFETCH        0x8u
#define PCI_BAR_MEM_MASK        0xfu
#define PCI_BAR_IO_MASK         0x3u

/* Capabilities (PCI 3.0 6.7, 6.8.2). */
#define PCI_CAP_ID_MSIX         0x11
#define PCI_MSIX_CONTROL        2
#define PCI_MSIX_TABLE          4
#define PCI_MSIX_PBA            8
#define PCI_MSIX_ENABLE         (1u << 15)
#define PCI_MSIX_MASKALL        (1u << 14)
#define PCI_MSIX_SIZE_MASK      0x7ffu
#define PCI_MSIX_BIR_MASK       0x7u
#define PCI_MSIX_ENTRY_LEN      16
#define PCI_MSIX_VEC_MASKED     (1u << 0)

/* MSI address for a fixed interrupt to one physical APIC ID (SDM Vol. 3A
 * 11.11.1). */
#define PCI_MSI_ADDR_BASE       0xfee00000u
#define PCI_MSI_ADDR_DEST_SHIFT 12

/* ---- configuration space -------------------------------------------------- */

enum pci_mech { PCI_MECH_PORT, PCI_MECH_ECAM };

uint32_t pci_port_read(pci_bdf bdf, unsigned int off, unsigned int len);
void pci_port_write(pci_bdf bdf, unsigned int off, unsigned int len,
		    uint32_t val);
/* ECAM: bus 0 only (the window Keel gives a guest holds one bus). */
uint32_t pci_ecam_read(pci_bdf bdf, unsigned int off, unsigned int len);
void pci_ecam_write(pci_bdf bdf, unsigned int off, unsigned int len,
		    uint32_t val);
volatile void *pci_ecam_ptr(pci_bdf bdf, unsigned int off);

uint32_t pci_mech_read(enum pci_mech m, pci_bdf bdf, unsigned int off,
		       unsigned int len);
void pci_mech_write(enum pci_mech m, pci_bdf bdf, unsigned int off,
		    unsigned int len, uint32_t val);

/* Through the default mechanism (mechanism #1 unless changed). */
extern enum pci_mech pci_default_mech;
uint32_t pci_read(pci_bdf bdf, unsigned int off, unsigned int len);
void pci_write(pci_bdf bdf, unsigned int off, unsigned int len, uint32_t val);

/* ---- finding functions ---------------------------------------------------- */

/* True when bdf answers (its vendor ID is not all ones). */
bool pci_present(pci_bdf bdf);
/* The first function on bus 0 with these IDs, or false. */
bool pci_find(uint16_t vendor, uint16_t device, pci_bdf *out);

/* ---- BARs and the command register ---------------------------------------- */

struct pci_bar {
	uint64_t addr;          /* memory or I/O address */
	uint64_t size;          /* 0: not implemented */
	bool io, mem64, prefetch;
};

/* Reads BAR n's address and sizes it by writing all ones with decoding
 * off; returns how many BAR registers it takes (2 for a 64-bit BAR), or
 * 1 with size 0 where none is implemented. */
unsigned int pci_bar_probe(pci_bdf bdf, unsigned int n, struct pci_bar *bar);
/* Moves memory BAR n (probed into bar) to addr, with decoding off meanwhile. */
void pci_bar_move(pci_bdf bdf, unsigned int n, struct pci_bar *bar,
		  uint64_t addr);
/* Sets bits in the command register (PCI_COMMAND_*); returns it. */
uint16_t pci_command_set(pci_bdf bdf, uint16_t bits);
uint16_t pci_command_clear(pci_bdf bdf, uint16_t bits);

/* ---- capabilities --------------------------------------------------------- */

/* The capability after `from` (0: the first), or 0 at the end of the
 * list; never loops (at most 48 capabilities fit the header's space). */
unsigned int pci_cap_next(pci_bdf bdf, unsigned int from);
/* The first capability with this ID, or 0. */
unsigned int pci_cap_find(pci_bdf bdf, uint8_t id);

/* ---- interrupts ----------------------------------------------------------- */

struct pci_msix {
	pci_bdf bdf;
	unsigned int cap;               /* the capability's offset */
	unsigned int nr;                /* table entries */
	volatile uint32_t *table;       /* mapped through its BAR */
	volatile uint32_t *pba;
};

/* Finds f's MSI-X capability and the table's and PBA's addresses (their
 * BAR must already be placed and memory decoding on); false if none. */
bool pci_msix_init(pci_bdf bdf, struct pci_msix *m);
/* Entry n sends `vector` (fixed, edge) to the local APIC apic_id and is
 * unmasked. */
void pci_msix_set(struct pci_msix *m, unsigned int n, uint8_t apic_id,
		  uint8_t vector);
void pci_msix_mask(struct pci_msix *m, unsigned int n, bool masked);
/* MSI-X on (function mask off), or off. */
void pci_msix_enable(struct pci_msix *m, bool on);
bool pci_msix_pending(const struct pci_msix *m, unsigned int n);

/* INTx: the interrupt pin (1-4 for INTA#-INTD#, 0: none) and the line
 * firmware wrote (an I/O APIC input here). */
struct pci_intx {
	uint8_t pin, line;
};
struct pci_intx pci_intx_info(pci_bdf bdf);

#endif
