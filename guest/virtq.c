/* The device side of a split virtqueue (guest/virtq.h, virtio 1.2 2.7).
 * Guest RAM is read through m->read only, each ring field once into a
 * local copy, so a driver changing the rings meanwhile gets the answer
 * for one of the values it wrote and never an inconsistent check. */
#include "guest/virtq.h"
#include "arch/bytes.h"
#include "arch/string.h"

static const char *const error_names[VIRTQ_E_COUNT + 1] = {
	[-VIRTQ_E_SETUP]    = "bad queue set-up",
	[-VIRTQ_E_RAM]      = "ring or buffer outside RAM",
	[-VIRTQ_E_INDEX]    = "descriptor index out of range",
	[-VIRTQ_E_LOOP]     = "descriptor loop",
	[-VIRTQ_E_INDIRECT] = "indirect descriptor not offered",
	[-VIRTQ_E_ORDER]    = "readable descriptor after a writable one",
	[-VIRTQ_E_AVAIL]    = "avail index jumped",
	[-VIRTQ_E_LENGTH]   = "chain too long",
};

const char *virtq_error_name(int err)
{
	if (err >= 0 || err < -VIRTQ_E_COUNT)
		return "unknown error";
	return error_names[-err];
}

/* 2.7: "Queue Size ... is always a power of 2", up to what Keel offers. */
static bool is_valid_size(uint16_t size)
{
	return size && size <= VIRTQ_MAX_SIZE && !(size & (size - 1));
}

/* Whether all of [gpa, gpa + len) is RAM, probing one byte per page
 * (RAM comes in whole VIRTQ_RAM_GRAIN pages) and the last byte. */
static bool is_ram(const struct virtq_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t last = gpa + len - 1;
	uint8_t byte;

	if (!len)
		return true;
	if (last < gpa)
		return false;
	for (uint64_t p = gpa; ALIGN_DOWN(p, VIRTQ_RAM_GRAIN) !=
	     ALIGN_DOWN(last, VIRTQ_RAM_GRAIN);
	     p = ALIGN_DOWN(p, VIRTQ_RAM_GRAIN) + VIRTQ_RAM_GRAIN)
		if (!m->read(m->ctx, p, &byte, 1))
			return false;
	return m->read(m->ctx, last, &byte, 1);
}

static bool read16(const struct virtq_mem *m, uint64_t gpa, uint16_t *v)
{
	uint8_t b[2];

	if (!m->read(m->ctx, gpa, b, sizeof(b)))
		return false;
	*v = get16(b, 0);
	return true;
}

static bool write16(const struct virtq_mem *m, uint64_t gpa, uint16_t v)
{
	uint8_t b[2];

	put16(b, 0, v);
	return m->write(m->ctx, gpa, b, sizeof(b));
}

/* The alignments of the "Virtqueue Part" table in 2.7. */
static bool is_aligned_rings(const struct virtq *q)
{
	return IS_ALIGNED(q->desc, VIRTQ_DESC_ALIGN) &&
	       IS_ALIGNED(q->avail, VIRTQ_AVAIL_ALIGN) &&
	       IS_ALIGNED(q->used, VIRTQ_USED_ALIGN);
}

int virtq_check(const struct virtq *q, const struct virtq_mem *m)
{
	if (!is_valid_size(q->size) || !is_aligned_rings(q))
		return VIRTQ_E_SETUP;
	if (!is_ram(m, q->desc, VIRTQ_DESC_BYTES(q->size)) ||
	    !is_ram(m, q->avail, VIRTQ_AVAIL_BYTES(q->size)) ||
	    !is_ram(m, q->used, VIRTQ_USED_BYTES(q->size)))
		return VIRTQ_E_RAM;
	return 0;
}

/* One descriptor as the guest wrote it, decoded from a single read. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static bool read_desc(const struct virtq *q, const struct virtq_mem *m,
		      uint16_t idx, struct desc *d)
{
	uint8_t b[VIRTQ_DESC_SIZE];

	if (!m->read(m->ctx, q->desc + VIRTQ_DESC_BYTES(idx), b, sizeof(b)))
		return false;
	d->addr = get64(b, VIRTQ_DESC_ADDR);
	d->len = get32(b, VIRTQ_DESC_LEN);
	d->flags = get16(b, VIRTQ_DESC_FLAGS);
	d->next = get16(b, VIRTQ_DESC_NEXT);
	return true;
}

/* Adds a non-empty buffer to the chain. 2.7.5.2 bounds a whole chain to
 * 2^32 bytes; Keel holds each direction under 4 GiB, which is what its
 * 32-bit lengths (used->len, the copies' offsets) need. */
static int add_buf(struct virtq_chain *c, const struct virtq_mem *m,
		   const struct desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	uint64_t *total = write ? &c->in_len : &c->out_len;

	if (*total + d->len > UINT32_MAX)
		return VIRTQ_E_LENGTH;
	if (!is_ram(m, d->addr, d->len))
		return VIRTQ_E_RAM;
	c->bufs[c->n++] = (struct virtq_buf){ d->addr, d->len, write };
	*total += d->len;
	return 0;
}

/* The per-descriptor rules: no INDIRECT without VIRTIO_F_INDIRECT_DESC
 * (2.7.5.3.1), readable ones before writable ones (2.7.4.2). Empty
 * descriptors obey them too but give no buffer. */
static int take_desc(struct virtq_chain *c, const struct virtq_mem *m,
		     const struct desc *d, bool *seen_write)
{
	if (d->flags & VIRTQ_DESC_F_INDIRECT)
		return VIRTQ_E_INDIRECT;
	if (d->flags & VIRTQ_DESC_F_WRITE)
		*seen_write = true;
	else if (*seen_write)
		return VIRTQ_E_ORDER;
	return d->len ? add_buf(c, m, d) : 0;
}

/* Descriptors of one chain, each visited at most once: a revisit is a
 * loop (2.7.5.2 forbids them), so the walk ends within size steps. */
struct chain_walk {
	uint64_t seen[VIRTQ_MAX_SIZE / 64];
	unsigned int count;
	bool seen_write;
};

static int visit(struct chain_walk *w, const struct virtq *q, uint16_t idx)
{
	uint64_t bit = BIT_ULL(idx % 64);

	if (idx >= q->size)
		return VIRTQ_E_INDEX;
	if (w->seen[idx / 64] & bit)
		return VIRTQ_E_LOOP;
	w->seen[idx / 64] |= bit;
	return ++w->count > VIRTQ_CHAIN_MAX ? VIRTQ_E_LENGTH : 0;
}

static int walk_chain(const struct virtq *q, const struct virtq_mem *m,
		      uint16_t head, struct virtq_chain *c)
{
	struct chain_walk w = { 0 };
	uint16_t idx = head;
	struct desc d;
	int err;

	c->head = head;
	c->n = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		err = visit(&w, q, idx);
		if (err)
			return err;
		if (!read_desc(q, m, idx, &d))
			return VIRTQ_E_RAM;
		err = take_desc(c, m, &d, &w.seen_write);
		if (err || !(d.flags & VIRTQ_DESC_F_NEXT))
			return err;
		idx = d.next;
	}
}

/* The head of the next available chain (2.7.6), after checking that the
 * driver's idx moved by at most size: 1, 0 (none) or a VIRTQ_E* code. */
static int next_head(const struct virtq *q, const struct virtq_mem *m,
		     uint16_t *head)
{
	uint16_t idx, slot = q->last_avail & (q->size - 1);

	if (!read16(m, q->avail + VIRTQ_RING_IDX, &idx))
		return VIRTQ_E_RAM;
	if ((uint16_t)(idx - q->last_avail) > q->size)
		return VIRTQ_E_AVAIL;
	if (idx == q->last_avail)
		return 0;
	/* The entry is read after idx (2.7.13.3: the driver writes it first). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (!read16(m, q->avail + VIRTQ_RING_ENTRIES +
		    VIRTQ_AVAIL_ENTRY_SIZE * slot, head))
		return VIRTQ_E_RAM;
	return 1;
}

int virtq_pop(struct virtq *q, const struct virtq_mem *m, struct virtq_chain *c)
{
	uint16_t head;
	int ret;

	if (!is_valid_size(q->size))
		return VIRTQ_E_SETUP;
	ret = next_head(q, m, &head);
	if (ret <= 0)
		return ret;
	ret = walk_chain(q, m, head, c);
	if (ret)
		return ret;
	q->last_avail++;
	return 1;
}

/* 2.7.8.2: the entry (id, len) is written before used->idx moves. */
int virtq_push(struct virtq *q, const struct virtq_mem *m, uint16_t head,
	       uint32_t written)
{
	uint8_t entry[VIRTQ_USED_ENTRY_SIZE];
	uint16_t slot;

	if (!is_valid_size(q->size))
		return VIRTQ_E_SETUP;
	slot = q->used_idx & (q->size - 1);
	put32(entry, 0, head);
	put32(entry, 4, written);
	if (!m->write(m->ctx, q->used + VIRTQ_RING_ENTRIES +
		      VIRTQ_USED_ENTRY_SIZE * slot, entry, sizeof(entry)))
		return VIRTQ_E_RAM;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (!write16(m, q->used + VIRTQ_RING_IDX, (uint16_t)(q->used_idx + 1)))
		return VIRTQ_E_RAM;
	q->used_idx++;
	return 0;
}

/* 2.7.7: with event idx, the driver wants an interrupt once used->idx
 * passes used_event, that is when used_event lies in [old, new). */
static bool is_event_crossed(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_need_interrupt(const struct virtq *q, const struct virtq_mem *m,
			  uint16_t old_used)
{
	uint16_t v;

	if (q->used_idx == old_used || !is_valid_size(q->size))
		return false;
	/* used->idx must be visible before the driver's choice is read, or
	 * a driver re-enabling interrupts meanwhile would miss this one. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx) {
		if (!read16(m, q->avail + VIRTQ_USED_EVENT(q->size), &v))
			return true;
		return is_event_crossed(v, q->used_idx, old_used);
	}
	if (!read16(m, q->avail + VIRTQ_RING_FLAGS, &v))
		return true;
	return !(v & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

int virtq_set_avail_event(struct virtq *q, const struct virtq_mem *m)
{
	if (!q->event_idx || !is_valid_size(q->size))
		return 0;
	if (!write16(m, q->used + VIRTQ_AVAIL_EVENT(q->size), q->last_avail))
		return VIRTQ_E_RAM;
	/* The caller's next look at avail->idx comes after this store. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

/* One piece of a copy: len bytes between guest gpa and Keel's keel. */
typedef bool (*copy_fn)(const struct virtq_mem *m, uint64_t gpa,
			uint8_t *keel, uint64_t len);

static bool copy_from_guest(const struct virtq_mem *m, uint64_t gpa,
			    uint8_t *keel, uint64_t len)
{
	return m->read(m->ctx, gpa, keel, len);
}

static bool copy_to_guest(const struct virtq_mem *m, uint64_t gpa,
			  uint8_t *keel, uint64_t len)
{
	return m->write(m->ctx, gpa, keel, len);
}

/* Copies up to len bytes at offset off of the chain's buffers of one
 * direction, piece by piece: the bytes copied, or -1. */
static int64_t chain_copy(const struct virtq_chain *c, const struct virtq_mem *m,
			  bool write, uint64_t off, uint8_t *keel, uint64_t len,
			  copy_fn copy)
{
	unsigned int n_bufs = MIN(c->n, (unsigned int)VIRTQ_CHAIN_MAX);
	uint64_t done = 0;

	for (unsigned int i = 0; i < n_bufs && done < len; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		uint64_t n;

		if (b->write != write)
			continue;
		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = MIN(b->len - off, len - done);
		if (!copy(m, b->gpa + off, keel + done, n))
			return -1;
		done += n;
		off = 0;
	}
	return (int64_t)done;
}

int64_t virtq_chain_read(const struct virtq_chain *c, const struct virtq_mem *m,
			 uint64_t off, void *buf, uint64_t len)
{
	return chain_copy(c, m, false, off, buf, len, copy_from_guest);
}

/* copy_to_guest only reads from the Keel side, so the cast is safe. */
int64_t virtq_chain_write(const struct virtq_chain *c, const struct virtq_mem *m,
			  uint64_t off, const void *buf, uint64_t len)
{
	return chain_copy(c, m, true, off, (uint8_t *)buf, len, copy_to_guest);
}
