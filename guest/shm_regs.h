/*
 * The shared-memory doorbell device's registers (also included by test
 * guests): one PCI function per (guest, [shm.NAME] region), in the style
 * of the ivshmem device (vendor 1af4, device 1110, class 05/00/00), with
 * the region at a fixed guest-physical address instead of a BAR.
 *
 * BAR0, 4 KiB, 32-bit memory; registers are dwords (other sizes and
 * offsets read 0 and ignore writes):
 *
 *   0x000  IntrMask     rw  bit 0 set: INTx held low (reset 0: unmasked;
 *                           note QEMU's ivshmem uses the bit as an enable)
 *   0x004  IntrStatus   rc  bit 0: a doorbell came while MSI-X was off;
 *                           a read returns it and clears it (lowers INTx)
 *   0x008  IVPosition   ro  this guest's index in the region's `guests`
 *   0x00c  Doorbell     wo  bits 31:16 peer index, 15:0 vector (< 4)
 *   0x010  RegionGpaLo  ro  where this guest sees the region (bits 31:0)
 *   0x014  RegionGpaHi  ro  (bits 63:32)
 *   0x018  RegionSizeLo ro  its size in bytes
 *   0x01c  RegionSizeHi ro
 *   0x020  Flags        ro  bit 0: this guest may only read the region
 *   0x024  Peers        ro  how many guests share it (IVPosition < Peers)
 *   0x028  Dropped      ro  this guest's doorbells Keel dropped (bad peer,
 *                           itself, a peer not running, vector >= 4)
 *   0x800  MSI-X table, 4 entries (PCI 3.0 6.8.2)
 *   0xc00  MSI-X PBA
 */
#ifndef KEEL_GUEST_SHM_REGS_H
#define KEEL_GUEST_SHM_REGS_H

#define SHM_PCI_VENDOR          0x1af4
#define SHM_PCI_DEVICE          0x1110
#define SHM_PCI_CLASS           0x050000        /* memory controller, RAM */
#define SHM_BAR                 0
#define SHM_BAR_SIZE            0x1000

#define SHM_REG_INTR_MASK       0x00
#define SHM_REG_INTR_STATUS     0x04
#define SHM_REG_IV_POSITION     0x08
#define SHM_REG_DOORBELL        0x0c
#define SHM_REG_GPA_LO          0x10
#define SHM_REG_GPA_HI          0x14
#define SHM_REG_SIZE_LO         0x18
#define SHM_REG_SIZE_HI         0x1c
#define SHM_REG_FLAGS           0x20
#define SHM_REG_PEERS           0x24
#define SHM_REG_DROPPED         0x28

#define SHM_INTR_BIT            0x1u            /* IntrMask, IntrStatus */
#define SHM_FLAG_READONLY       0x1u
#define SHM_DOORBELL(peer, vector) (((uint32_t)(peer) << 16) | (vector))
#define SHM_DOORBELL_PEER(v)    ((v) >> 16)
#define SHM_DOORBELL_VECTOR(v)  ((v) & 0xffffu)

#define SHM_VECTORS             4
#define SHM_MSIX_TABLE          0x800
#define SHM_MSIX_PBA            0xc00

#endif
