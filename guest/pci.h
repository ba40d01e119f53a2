/*
 * A guest's PCI bus: one host bridge and the guest's virtual PCI
 * functions on bus 0, and nothing of the host's.
 *
 * Configuration space is reached two ways (PCI Local Bus 3.0 3.2.2.3.2;
 * PCI Express Base 4.0 7.2.2):
 *   ports 0xcf8 (address, 32-bit only) / 0xcfc-0xcff (data)   mechanism #1
 *   PCI_ECAM_GPA, 1 MiB: bus 0, 4 KiB per function             ECAM (MCFG)
 * Only the first 256 bytes of a function's space exist; the extended
 * space reads as zero and ignores writes.
 *
 * Guest-physical layout of a guest with a PCI bus (its RAM must end at or
 * below PCI_MMIO_GPA; guest/config.c checks it):
 *
 *   0 .. RAM | PCI_MMIO_GPA (512 MiB window for memory BARs) |
 *   PCI_ECAM_GPA (1 MiB) | ... | 0xfec00000 I/O APIC | 0xfee00000 APIC
 *
 * Memory BARs start packed in the window at function creation; the guest
 * may move them anywhere. A BAR decodes only while the function's memory
 * space enable is set and the whole BAR lies inside the window: moved
 * over RAM or another device it decodes nothing (as a BAR outside the
 * bridge's window would on hardware), so RAM always stays RAM; where
 * the guest makes two BARs overlap, the lower slot's wins. I/O BARs are
 * not offered.
 *
 * Interrupts: MSI-X (PCI Local Bus 3.0 6.8.2), the table and PBA in one
 * of the function's memory BARs, delivered to the guest's local APICs;
 * and INTx, the pin of slot s wired to I/O APIC input
 * PCI_INTX_GSI_BASE + (s + pin - 1) % 4 (the swizzle the DSDT's _PRT
 * describes).
 */
#ifndef KEEL_GUEST_PCI_H
#define KEEL_GUEST_PCI_H

#include "arch/compiler.h"
#include "arch/spinlock.h"

#define PCI_PORT_ADDR           0xcf8
#define PCI_PORT_DATA           0xcfc
#define PCI_MMIO_GPA            0xc0000000ULL
#define PCI_MMIO_SIZE           0x20000000ULL
#define PCI_ECAM_GPA            0xe0000000ULL
#define PCI_ECAM_SIZE           0x100000ULL     /* bus 0 only */
#define PCI_MAX_FUNCS           8               /* slots 0-7, function 0 */
#define PCI_INTX_GSI_BASE       16              /* I/O APIC pins 16-19 */
#define PCI_CFG_SIZE            256
#define PCI_BARS                6
#define PCI_MSIX_MAX            32

/* Configuration header offsets (PCI Local Bus 3.0 6.1). */
#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define PCI_STATUS              0x06
#define PCI_REVISION            0x08
#define PCI_CLASS_PROG          0x09
#define PCI_CLASS_DEVICE        0x0a
#define PCI_HEADER_TYPE         0x0e
#define PCI_BAR0                0x10
#define PCI_SUBSYS_VENDOR       0x2c
#define PCI_SUBSYS_ID           0x2e
#define PCI_CAP_PTR             0x34
#define PCI_INTX_LINE           0x3c
#define PCI_INTX_PIN            0x3d

#define PCI_CMD_IO              BIT_ULL(0)
#define PCI_CMD_MEM             BIT_ULL(1)
#define PCI_CMD_MASTER          BIT_ULL(2)
#define PCI_CMD_INTX_DISABLE    BIT_ULL(10)
#define PCI_STATUS_INTX         BIT_ULL(3)
#define PCI_STATUS_CAPS         BIT_ULL(4)

#define PCI_BAR_MEM64           0x4             /* type bits 2:1 = 10b */
#define PCI_BAR_PREFETCH        0x8

#define PCI_CAP_ID_VENDOR       0x09
#define PCI_CAP_ID_MSIX         0x11
/* MSI-X capability: control word, table and PBA offset/BIR dwords. */
#define PCI_MSIX_CTRL           2
#define PCI_MSIX_TABLE          4
#define PCI_MSIX_PBA            8
#define PCI_MSIX_CAP_LEN        12
#define PCI_MSIX_ENABLE         BIT_ULL(15)
#define PCI_MSIX_FMASK          BIT_ULL(14)
#define PCI_MSIX_ENTRY_SIZE     16
#define PCI_MSIX_ENTRY_MASKED   BIT_ULL(0)          /* vector control, bit 0 */

struct guest;
struct pci_func;

/* A memory BAR's register file: off is relative to the BAR's start and an
 * access is 1, 2, 4 or 8 bytes that stay inside the BAR. */
typedef void pci_bar_read_fn(struct pci_func *f, unsigned int bar,
			     uint64_t off, void *buf, unsigned int len);
typedef void pci_bar_write_fn(struct pci_func *f, unsigned int bar,
			      uint64_t off, const void *buf, unsigned int len);

struct pci_bar {
	uint64_t size;                  /* power of two >= 4 KiB; 0: none */
	uint64_t addr;                  /* where the guest put it */
	bool mem64;                     /* takes this BAR and the next */
};

/* An MSI-X table entry's four dwords (PCI 3.0 6.8.2.6-9). */
#define PCI_MSIX_ADDR_LO        0
#define PCI_MSIX_ADDR_HI        1
#define PCI_MSIX_DATA           2
#define PCI_MSIX_VECTOR_CTRL    3
struct pci_msix_entry {
	uint32_t w[4];
};

struct pci_func {
	struct guest *g;
	uint8_t slot;
	uint8_t cfg[PCI_CFG_SIZE];      /* what reads return (BARs aside) */
	uint8_t wmask[PCI_CFG_SIZE];    /* bits the guest may write */
	struct pci_bar bars[PCI_BARS];
	pci_bar_read_fn *bar_read;
	pci_bar_write_fn *bar_write;
	uint8_t cap_free;               /* where the next capability goes */
	uint8_t cap_link;               /* the pointer to the last one */
	/* MSI-X: nr_msix entries, table and PBA at these offsets of
	 * bars[msix_bar]; msix_cap: the capability's offset (0: none). */
	uint8_t msix_cap, msix_bar;
	uint16_t nr_msix;
	uint32_t msix_table_off, msix_pba_off;
	struct pci_msix_entry msix[PCI_MSIX_MAX];
	uint32_t msix_pending;          /* PBA: bit n, entry n */
	bool intx_level;                /* what the function drives */
	uint64_t msix_bad;              /* messages that were not interrupts */
};

struct pci_bus {
	struct spinlock lock;           /* configuration space and BARs */
	uint32_t cf8;                   /* mechanism #1 address register */
	struct pci_func host_bridge;
	struct pci_func *funcs[PCI_MAX_FUNCS]; /* by slot; 0: host bridge */
	uint64_t next_bar;              /* where pci_add puts the next BAR */
};

/*
 * Sets up f's header: vendor, device, class (base class << 16 |
 * subclass << 8 | prog-if), subsystem ids, INTx pin A, no BARs, no
 * capabilities. The caller then adds BARs and capabilities and calls
 * pci_add().
 */
void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device,
		   uint32_t class, uint16_t subsys_vendor, uint16_t subsys);
/* A memory BAR of `size` bytes (a power of two, at least 4 KiB). */
void pci_func_add_bar(struct pci_func *f, unsigned int bar, uint64_t size,
		      bool mem64);
/* Appends a capability of len bytes (id and next filled in) and returns
 * its offset, or 0 when it does not fit. */
unsigned int pci_func_add_cap(struct pci_func *f, uint8_t id,
			      const void *body, unsigned int len);
/* MSI-X with n entries (1..PCI_MSIX_MAX) in `bar`: table at table_off,
 * PBA at pba_off. The core answers table and PBA accesses itself. */
unsigned int pci_func_add_msix(struct pci_func *f, unsigned int bar,
			       unsigned int n, uint32_t table_off,
			       uint32_t pba_off);

/* Configuration space of f, pure (guest/pci_cfg.c): reads of len 1-4
 * bytes (beyond 256 bytes: zero) and writes through the writable mask,
 * after which the BARs' addresses follow their registers. */
uint32_t pci_cfg_read(const struct pci_func *f, unsigned int off,
		      unsigned int len);
void pci_cfg_write(struct pci_func *f, unsigned int off, unsigned int len,
		   uint32_t val);
uint16_t pci_cfg_command(const struct pci_func *f);
bool pci_msix_enabled(const struct pci_func *f);
/* Entry n masked, by itself or by the function mask. */
bool pci_msix_masked(const struct pci_func *f, unsigned int n);
/* An access at `off` of memory BAR `bar`: true when it fell on the MSI-X
 * table or PBA and was answered. */
bool pci_msix_access(struct pci_func *f, unsigned int bar, uint64_t off,
		     void *buf, unsigned int len, bool write);

struct pci_msi {
	uint32_t dest;
	bool logical, lowest;
	uint8_t vector;
};
/* Decodes an MSI address/data pair: false when it is not a fixed or
 * lowest-priority interrupt Keel delivers. */
bool pci_msi_decode(uint64_t addr, uint32_t data, struct pci_msi *m);

/* Gives g a PCI bus with its host bridge (while g is created). */
int pci_bus_init(struct guest *g);
/* Puts f in the next free slot and assigns its BARs: 0, -ENOSPC. */
int pci_add(struct guest *g, struct pci_func *f);

/* With keel.stats: the MSI-X messages each function had dropped. */
void pci_print_stats(struct guest *g);
/* Mechanism #1 port accesses (port 0xcf8-0xcff). */
void pci_port_io(struct guest *g, uint16_t off, unsigned int size, bool in,
		 uint32_t *val);

/* Signals MSI-X entry n of f: sent to the vCPUs it names if MSI-X is on,
 * the entry and function are unmasked and bus mastering is on, else left
 * pending in the PBA (sent when all are). From any CPU. False if MSI-X
 * is off. */
bool pci_msix_notify(struct pci_func *f, unsigned int n);
/* Drives f's INTx line (level-triggered, I/O APIC), unless the guest
 * disabled INTx in the command register. */
void pci_intx_set(struct pci_func *f, bool level);

/* Guest-physical address a memory BAR decodes at, or 0 when it does not
 * decode (memory space disabled, outside the window). */
uint64_t pci_bar_decode(const struct pci_func *f, unsigned int bar);

#endif
