/* The console output ring (guest/console_ring.h). */
#include "guest/console_ring.h"
#include "arch/string.h"

#define RING_MASK (CONSOLE_RING_SIZE - 1)

bool console_ring_put(struct console_ring *r, const char *s, uint32_t n)
{
	uint32_t head = r->head, at = head & RING_MASK, first;

	if (n > CONSOLE_RING_SIZE - console_ring_used(r))
		return false;
	first = MIN(n, CONSOLE_RING_SIZE - at);
	memcpy(r->buf + at, s, first);
	memcpy(r->buf, s + first, n - first);
	__atomic_store_n(&r->head, head + n, __ATOMIC_RELEASE);
	return true;
}

uint32_t console_ring_peek(const struct console_ring *r, const char **at)
{
	uint32_t tail = r->tail, used = console_ring_used(r);

	*at = r->buf + (tail & RING_MASK);
	return MIN(used, CONSOLE_RING_SIZE - (tail & RING_MASK));
}

void console_ring_done(struct console_ring *r, uint32_t n)
{
	__atomic_store_n(&r->tail, r->tail + n, __ATOMIC_RELEASE);
}
