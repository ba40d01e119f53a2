/*
 * virtio-blk as a test guest's driver sees it (virtio 1.2 5.2): feature
 * bits, the configuration layout and requests (a 16-byte header the
 * device reads, data, a status byte it writes).
 */
#ifndef KEEL_TEST_VIRTIO_BLK_H
#define KEEL_TEST_VIRTIO_BLK_H

#include <stdint.h>

#define BLK_F_SEG_MAX           (1ULL << 2)
#define BLK_F_RO                (1ULL << 5)
#define BLK_F_BLK_SIZE          (1ULL << 6)
#define BLK_F_FLUSH             (1ULL << 9)
#define BLK_CFG_CAPACITY        0       /* le64, in 512-byte sectors */
#define BLK_CFG_SEG_MAX         12
#define BLK_CFG_BLK_SIZE        20
#define BLK_T_IN                0
#define BLK_T_OUT               1
#define BLK_T_FLUSH             4
#define BLK_T_GET_ID            8
#define BLK_S_OK                0
#define BLK_S_IOERR             1
#define BLK_S_UNSUPP            2
#define BLK_ID_LEN              20

struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
} __attribute__((packed));

_Static_assert(sizeof(struct blk_hdr) == 16, "5.2.6");

#endif
