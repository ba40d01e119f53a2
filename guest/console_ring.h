/*
 * A guest's console output on its way to Keel's console: complete lines
 * ("[NAME] text\n"), queued by the guest's vCPUs as the guest writes them
 * and written to COM1 later, by CPU 0 or by whoever needs the guest's
 * output out first (guest/console.c). One producer at a time (the guest's
 * UART lock) and one consumer at a time (the ring's drain lock):
 *
 *   buf: [ ... drained | tail ... queued lines ... head | free ... ]
 *                        (indices run freely and wrap modulo the size)
 *
 * A line is published by the release store of `head` after its bytes, so
 * a consumer that sees the new head sees the whole line; space is given
 * back by the release store of `tail` after the bytes were read.
 */
#ifndef KEEL_GUEST_CONSOLE_RING_H
#define KEEL_GUEST_CONSOLE_RING_H

#include "arch/compiler.h"

#define CONSOLE_RING_SIZE 4096          /* a power of two */

_Static_assert((CONSOLE_RING_SIZE & (CONSOLE_RING_SIZE - 1)) == 0,
	       "ring indices wrap with a mask");

struct console_ring {
	char buf[CONSOLE_RING_SIZE];
	uint32_t head;                  /* next byte to queue (producer) */
	uint32_t tail;                  /* next byte to write out (consumer) */
};

static inline uint32_t console_ring_used(const struct console_ring *r)
{
	return __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
}

/* Queues all n bytes, or nothing when they do not fit. */
bool console_ring_put(struct console_ring *r, const char *s, uint32_t n);

/*
 * The queued bytes that lie in one piece from the tail: *at points at
 * them; returns how many (0: empty). console_ring_done() gives them back.
 */
uint32_t console_ring_peek(const struct console_ring *r, const char **at);
void console_ring_done(struct console_ring *r, uint32_t n);

#endif
