/*
 * The device side of a virtio split virtqueue (virtio 1.2 section 2.7),
 * as Keel's virtio 1.x devices use it: VIRTIO_F_VERSION_1, optionally
 * VIRTIO_F_EVENT_IDX, no indirect descriptors (VIRTIO_F_INDIRECT_DESC is
 * not offered, so a descriptor carrying the flag breaks the rules).
 *
 * Everything in the rings is the guest's and hostile: the library reads
 * guest RAM only through struct virtq_mem, reads each field once and
 * decides from its copy, and refuses anything the spec forbids with a
 * VIRTQ_E* code, after which the device sets DEVICE_NEEDS_RESET (2.1.2)
 * and leaves the queue alone until the driver resets it.
 *
 * The three rings, little-endian, at the guest-physical addresses the
 * driver wrote (2.7, "Virtqueue Part" table; N = size):
 *
 *   desc  (align 16, 16*N bytes)    avail (align 2, 6+2*N bytes)
 *   +0  le64 addr                   +0      le16 flags
 *   +8  le32 len                    +2      le16 idx
 *   +12 le16 flags                  +4      le16 ring[N]
 *   +14 le16 next                   +4+2N   le16 used_event
 *
 *   used  (align 4, 6+8*N bytes)
 *   +0      le16 flags
 *   +2      le16 idx
 *   +4      { le32 id; le32 len; } ring[N]
 *   +4+8N   le16 avail_event
 *
 * used_event and avail_event mean something only with VIRTIO_F_EVENT_IDX,
 * but the driver lays them out either way, so the ring sizes include them.
 *
 * Guest RAM is taken to come in whole 4 KiB pages (VIRTQ_RAM_GRAIN): a
 * buffer is checked for being RAM by probing one byte in each page it
 * covers, not by copying it.
 *
 * Pure: no Keel state; tests/unit/test_virtq.c runs it on the host.
 */
#ifndef KEEL_GUEST_VIRTQ_H
#define KEEL_GUEST_VIRTQ_H

#include "arch/compiler.h"

#define VIRTQ_MAX_SIZE          256     /* queue sizes offered: power of two <= this */
#define VIRTQ_CHAIN_MAX         64      /* most descriptors one chain may have */
#define VIRTQ_RAM_GRAIN         4096    /* guest RAM is whole pages of this size */

/* Descriptor flags (2.7.5). */
#define VIRTQ_DESC_F_NEXT       1
#define VIRTQ_DESC_F_WRITE      2
#define VIRTQ_DESC_F_INDIRECT   4
/* avail->flags (2.7.7) and used->flags (2.7.10). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY  1

/* Ring layouts (2.7.5, 2.7.6, 2.7.8): byte offsets and sizes. */
#define VIRTQ_DESC_SIZE         16
#define VIRTQ_DESC_ADDR         0
#define VIRTQ_DESC_LEN          8
#define VIRTQ_DESC_FLAGS        12
#define VIRTQ_DESC_NEXT         14
#define VIRTQ_RING_FLAGS        0       /* avail->flags, used->flags */
#define VIRTQ_RING_IDX          2       /* avail->idx, used->idx */
#define VIRTQ_RING_ENTRIES      4       /* avail->ring[], used->ring[] */
#define VIRTQ_AVAIL_ENTRY_SIZE  2
#define VIRTQ_USED_ENTRY_SIZE   8       /* le32 id, le32 len */
#define VIRTQ_DESC_BYTES(n)     (VIRTQ_DESC_SIZE * (uint64_t)(n))
#define VIRTQ_AVAIL_BYTES(n)    (6 + VIRTQ_AVAIL_ENTRY_SIZE * (uint64_t)(n))
#define VIRTQ_USED_BYTES(n)     (6 + VIRTQ_USED_ENTRY_SIZE * (uint64_t)(n))
#define VIRTQ_USED_EVENT(n)     (VIRTQ_RING_ENTRIES + VIRTQ_AVAIL_ENTRY_SIZE * (uint64_t)(n))
#define VIRTQ_AVAIL_EVENT(n)    (VIRTQ_RING_ENTRIES + VIRTQ_USED_ENTRY_SIZE * (uint64_t)(n))
#define VIRTQ_DESC_ALIGN        16
#define VIRTQ_AVAIL_ALIGN       2
#define VIRTQ_USED_ALIGN        4

_Static_assert((VIRTQ_MAX_SIZE & (VIRTQ_MAX_SIZE - 1)) == 0, "power of two");
_Static_assert(VIRTQ_CHAIN_MAX <= VIRTQ_MAX_SIZE, "chain within a queue");
_Static_assert(VIRTQ_USED_EVENT(1) + 2 == VIRTQ_AVAIL_BYTES(1), "avail");
_Static_assert(VIRTQ_AVAIL_EVENT(1) + 2 == VIRTQ_USED_BYTES(1), "used");
_Static_assert(VIRTQ_DESC_NEXT + 2 == VIRTQ_DESC_SIZE, "descriptor");

/* What the driver did wrong (negative; virtq_error_name says it). */
#define VIRTQ_E_SETUP           (-1)    /* size or alignment of the rings */
#define VIRTQ_E_RAM             (-2)    /* a ring or buffer outside RAM */
#define VIRTQ_E_INDEX           (-3)    /* head or next >= size */
#define VIRTQ_E_LOOP            (-4)    /* a chain revisits a descriptor */
#define VIRTQ_E_INDIRECT        (-5)    /* INDIRECT, not offered */
#define VIRTQ_E_ORDER           (-6)    /* readable after writable */
#define VIRTQ_E_AVAIL           (-7)    /* avail idx moved by > size */
#define VIRTQ_E_LENGTH          (-8)    /* > VIRTQ_CHAIN_MAX descriptors,
					   or >= 4 GiB one way */
#define VIRTQ_E_COUNT           8

struct virtq_mem {            /* the guest's RAM, supplied by the caller */
	void *ctx;
	/* false unless all of [gpa, gpa+len) is the guest's RAM (nothing copied then) */
	bool (*read)(void *ctx, uint64_t gpa, void *buf, uint64_t len);
	bool (*write)(void *ctx, uint64_t gpa, const void *buf, uint64_t len);
};

struct virtq {
	uint16_t size;              /* 0: not set up */
	uint64_t desc, avail, used; /* guest-physical ring addresses */
	uint16_t last_avail;        /* next avail entry the device takes */
	uint16_t used_idx;          /* device's copy of used->idx */
	bool event_idx;             /* VIRTIO_F_EVENT_IDX negotiated */
};

struct virtq_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;                 /* device-writable */
};

struct virtq_chain {
	uint16_t head;
	unsigned int n;
	struct virtq_buf bufs[VIRTQ_CHAIN_MAX];
	uint64_t out_len;   /* bytes the device may read (driver->device) */
	uint64_t in_len;    /* bytes the device may write (device->driver) */
};

/* Checks a queue's set-up as the driver wrote it (size a power of two
 * 1..VIRTQ_MAX_SIZE, alignments desc 16 / avail 2 / used 4, the three
 * rings inside RAM): 0 or a VIRTQ_E* code. */
int virtq_check(const struct virtq *q, const struct virtq_mem *m);

/* Takes the next available chain: 1 (chain in *c), 0 (none available),
 * or a negative VIRTQ_E* code when the driver broke the rules; q is then
 * unchanged and unusable until the driver resets the device. A chain's
 * zero-length descriptors count towards its length but give no buffer.
 * Never writes guest RAM. */
int virtq_pop(struct virtq *q, const struct virtq_mem *m, struct virtq_chain *c);

/* Puts (head, written) in the used ring, then advances used->idx (entry
 * before index, 2.7.8.2): 0, VIRTQ_E_RAM, or VIRTQ_E_SETUP when q has no
 * valid size. */
int virtq_push(struct virtq *q, const struct virtq_mem *m, uint16_t head,
	       uint32_t written);

/* After pushes: whether the driver wants an interrupt now (with event
 * idx, used_event per 2.7.7; else avail->flags' NO_INTERRUPT). old_used:
 * q->used_idx before the pushes. True when the ring cannot be read: a
 * spurious interrupt is harmless, a missing one hangs the driver. */
bool virtq_need_interrupt(const struct virtq *q, const struct virtq_mem *m,
			  uint16_t old_used);

/* Copies between a chain's buffers and Keel: off counts bytes across the
 * chain's readable (for read) or writable (for write) buffers only.
 * Returns the bytes copied (short at the end of the chain), or -1 when
 * guest RAM refused. */
int64_t virtq_chain_read(const struct virtq_chain *c, const struct virtq_mem *m,
			 uint64_t off, void *buf, uint64_t len);
int64_t virtq_chain_write(const struct virtq_chain *c, const struct virtq_mem *m,
			  uint64_t off, const void *buf, uint64_t len);

/* With event idx, tells the driver (used->avail_event, 2.7.10) that the
 * device has taken every chain before q->last_avail; no-op without. The
 * caller must then pop again: a chain made available just before the
 * write would otherwise wait for a notification that never comes.
 * 0 or VIRTQ_E_RAM. */
int virtq_set_avail_event(struct virtq *q, const struct virtq_mem *m);

/* "avail index jumped", "descriptor loop", ...; "unknown error" else. */
const char *virtq_error_name(int err);

#endif
