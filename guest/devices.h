/* A guest's virtual devices (port I/O, and MMIO through guest/mmio.h).
 * Each is confined to its guest: the state below is per guest and no
 * device touches host hardware. */
#ifndef KEEL_GUEST_DEVICES_H
#define KEEL_GUEST_DEVICES_H

#include "arch/compiler.h"
#include "arch/spinlock.h"
#include "guest/mmio.h"
#include "guest/ioapic.h"
#include "guest/isa.h"
#include "guest/vrtc.h"
#include "guest/pci.h"
#include "guest/virtio_blk.h"
#include "guest/virtio_net.h"
#include "guest/virtio_console.h"
#include "guest/shm.h"
#include "guest/vlapic.h"

#define VUART_LINE_MAX      200
#define DEV_MAX_PORT_COUNTS 16

/* 16550 at 0x3f8: what the guest writes goes to Keel's console line by
 * line as `[name] text`; what is typed on Keel's console while the guest
 * has the focus (guest/console.c) arrives in its receive FIFO. The
 * transmitter always reports empty; with an I/O APIC (Linux guests) its
 * interrupts drive IRQ 4. */
#define VUART_IRQ           4
#define VUART_RX_FIFO       16          /* a 16550A's receive FIFO */
struct vuart {
	struct spinlock lock;           /* vCPUs and CPU 0 (input) share it */
	char line[VUART_LINE_MAX];
	unsigned int len;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thre_pending;              /* THR-empty interrupt not yet read */
	bool irq_line;                  /* level driven onto IRQ 4 */
	uint8_t rx[VUART_RX_FIFO];      /* received bytes, oldest at rx_head */
	uint8_t rx_head, rx_count;
	bool overrun;                   /* LSR.OE: set until the LSR is read */
	uint64_t rx_dropped;            /* bytes lost to overruns (Keel's) */
};

/* QEMU firmware configuration interface (selector 0x510, data 0x511). */
struct fwcfg {
	uint16_t key;
	uint32_t offset;
};

/* Test device in the spirit of QEMU's pc-testdev (guest/testdev.c):
 * scratch ports that read back the last write, ports that drive the
 * interrupt lines (ISA IRQs 0-15 to the 8259s and the I/O APIC, pins
 * 16-23 to the I/O APIC), and scratch memory that is never mapped, so every
 * access to it goes through the emulator. */
#define TESTDEV_PORT_BASE   0xe0
#define TESTDEV_PORTS       8
#define TESTDEV_IRQ_BASE    0x2000          /* one port per I/O APIC pin */
#define TESTDEV_IRQ_PORTS   IOAPIC_PINS
#define TESTDEV_MEM_GPA     0xff000000ULL
#define TESTDEV_MEM_ORDER   4               /* 64 KiB of 4 KiB frames */
#define TESTDEV_MEM_SIZE    (4096ULL << TESTDEV_MEM_ORDER)

struct testdev {
	uint32_t scratch[TESTDEV_PORTS];
	uint8_t *mem;                   /* Keel's mapping of the scratch memory */
	uint64_t mem_pa;                /* 0 when not allocated */
};

struct port_count {
	uint16_t port;
	uint32_t count;
};

/* A guest's PCI bus and the functions on it, in host memory of their
 * own (devices_pci_init), so that guests without a bus (and snapshots,
 * which PCI guests cannot take) do not carry them. */
struct pci_devices {
	struct pci_bus bus;
	struct virtio_blk blk;          /* `disk` */
	struct virtio_net net;          /* `net` */
	struct virtio_dev console;      /* CONFIG_DEVICE_VIRTIO_CONSOLE */
	struct shm_dev shm[CONFIG_MAX_SHM]; /* by region, where a member */
};

struct guest_devices {
	uint64_t enabled;               /* CONFIG_DEVICE_* */
	struct vuart uart;
	struct fwcfg fwcfg;
	struct testdev testdev;
	struct vrtc rtc;
	uint8_t port92;                 /* system control port A (guest/port92.h) */
	struct mmio_bus mmio;
	struct vioapic ioapic;          /* unless RAM reaches its page */
	struct vpic pic;                /* the two 8259s (guest/isa.h) */
	struct vlapic_bases apic_bases; /* the xAPIC pages on the MMIO bus */
	struct vlapic_page apic_page;   /* where the CPU virtualizes it */
	struct pci_devices *pci;        /* with CONFIG_DEVICE_PCI, else NULL */
	bool platform;                  /* the PC platform's ports: ACPI
					 * power management, the 8259s */
	struct port_count unhandled[DEV_MAX_PORT_COUNTS];
	unsigned int nr_unhandled;
	unsigned int unhandled_last;    /* the entry counted last */
	uint64_t unhandled_total;
};

struct guest;

/*
 * One port access of `size` bytes (1, 2 or 4). For IN, *val receives the
 * value (all ones from ports no device claims); for OUT, *val is the
 * value written. Never fails: unknown ports are counted.
 */
void devices_port_io(struct guest *g, uint16_t port, unsigned int size,
		     bool in, uint32_t *val);
/* Host resources of the enabled devices (called while the guest is
 * created, after its RAM): 0 or a negative error; devices_free() undoes
 * it, also after a partial failure. */
/* Builds the port bus's lookup, once, before any guest runs. */
void devices_bus_init(void);
int devices_init(struct guest *g);
/* The PCI bus and the devices on it, for a guest whose config asks for
 * them (after devices_init): NULL or why they cannot be set up. */
const char *devices_pci_init(struct guest *g);
/* Cuts the links other guests have to g (its place on a network, its
 * doorbells), before its vCPUs go: nothing of theirs reaches g after. */
void devices_detach(struct guest *g);
void devices_free(struct guest *g);
/* Copies the guest-visible device state (UART registers and received
 * bytes, fw-cfg position, the 8259s under their locks) from src to dst;
 * Keel's own console line and counters stay. */
void devices_copy_state(struct guest_devices *dst,
			struct guest_devices *src);
/* A guest access to the UART's register `off` (0-7), on a vCPU's CPU. */
void vuart_io(struct guest *g, uint16_t off, bool in, uint32_t *val);
/* Bytes typed for g, from CPU 0: into the receive FIFO as far as it has
 * room (the rest overruns), raising the interrupt where it is enabled.
 * The caller keeps g's vCPUs alive meanwhile (guest/console.c). */
void vuart_receive(struct guest *g, const uint8_t *buf, unsigned int n);
/* Bytes for the guest's console line, as if written to the UART's THR
 * (the console hypercall, virtio-console). */
void vuart_write_bytes(struct guest *g, const char *s, uint64_t n);
/* Flushes a partial console line (when the guest ends). */
void vuart_flush(struct guest *g);
/* Prints the per-port counts of unclaimed ports. */
void devices_print_stats(struct guest *g);

#endif
