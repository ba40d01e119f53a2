/* Console input and its focus, all on CPU 0; console output through
 * each guest's ring (see guest/console.h). */
#include "guest/console.h"
#include "guest/console_ring.h"
#include "guest/guest.h"
#include "arch/idt.h"
#include "arch/percpu.h"
#include "arch/spinlock.h"
#include "drivers/lapic.h"
#include "drivers/printk.h"
#include "drivers/uart.h"

/* Bytes read per call at most: a UART that keeps reporting data (a
 * stuck line) must not hold CPU 0. */
#define CONSOLE_POLL_BYTES  64

static struct console_keys keys;
static int focus = -1;          /* index into guests[], -1: none */

static bool takes_input(struct guest *g)
{
	return (g->dev.enabled & CONFIG_DEVICE_COM1) &&
	       __atomic_load_n(&g->state, __ATOMIC_ACQUIRE) == GUEST_RUNNING;
}

/* The first guest after `from` in configuration order (wrapping around,
 * `from` itself last) that takes input, or -1. */
static int console_next(int from)
{
	for (unsigned int i = 1; i <= nr_guests; i++) {
		unsigned int k = (unsigned int)(from + (int)i) % nr_guests;

		if (takes_input(&guests[k]))
			return (int)k;
	}
	return -1;
}

static void console_focus(int to)
{
	focus = to;
	if (to >= 0)
		pr_info("keel: console: input to guest %s (Ctrl-A x3 "
			"switches)\n", guests[to].name);
}

/*
 * vuart_receive() may raise the guest's interrupt, which reaches into its
 * vCPUs; the last vCPU to leave frees them (guest_finish). The guest ends
 * before that, so either this CPU sees it ending, or guest_finish sees
 * `console_busy` and waits: a store-then-load pair on each side, ordered
 * by sequentially consistent accesses (console_input_release).
 */
static void console_deliver(struct guest *g, const uint8_t *buf,
			    unsigned int n)
{
	if (!n)
		return;
	__atomic_store_n(&g->console_busy, true, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&g->state, __ATOMIC_SEQ_CST) == GUEST_RUNNING)
		vuart_receive(g, buf, n);
	__atomic_store_n(&g->console_busy, false, __ATOMIC_RELEASE);
}

void console_input_release(struct guest *g)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	while (__atomic_load_n(&g->console_busy, __ATOMIC_ACQUIRE))
		cpu_relax();
}

void console_input_start(void)
{
	keys = (struct console_keys){ 0 };
	console_focus(console_next(-1));
}

bool console_input_poll(void)
{
	uint8_t buf[CONSOLE_POLL_BYTES + CONSOLE_SWITCH_PRESSES];
	unsigned int n = 0;
	int c;

	if (focus >= 0 && !takes_input(&guests[focus]))
		console_focus(console_next(focus));
	if (focus < 0)
		return false;
	for (int i = 0; i < CONSOLE_POLL_BYTES && (c = uart_getc()) >= 0; i++) {
		bool sw;

		n += console_key_feed(&keys, (uint8_t)c, buf + n, &sw);
		if (!sw)
			continue;
		console_deliver(&guests[focus], buf, n);
		n = 0;
		console_focus(console_next(focus));
		if (focus < 0)
			return false;
	}
	console_deliver(&guests[focus], buf, n);
	return true;
}

/* ---- output ------------------------------------------------------------- */

struct console_out {
	struct console_ring ring;
	struct spinlock drain;          /* one consumer at a time */
	uint64_t waits;                 /* lines that found the ring full */
};

static struct console_out outs[CONFIG_MAX_GUESTS];

static struct console_out *out_of(const struct guest *g)
{
	return &outs[g - guests];
}

/* With o->drain held: everything queued, under the console lock so that
 * a line split by the ring's wrap stays whole. */
static void out_drain_locked(struct console_out *o)
{
	const char *at;
	uint32_t n;

	console_lock_take();
	while ((n = console_ring_peek(&o->ring, &at))) {
		console_write(at, n);
		console_ring_done(&o->ring, n);
	}
	console_lock_drop();
}

void console_out_drain(const struct guest *g)
{
	struct console_out *o = out_of(g);

	if (!console_ring_used(&o->ring))
		return;
	spin_lock(&o->drain);
	out_drain_locked(o);
	spin_unlock(&o->drain);
}

void console_out_drain_all(void)
{
	for (unsigned int i = 0; i < nr_guests; i++)
		console_out_drain(&guests[i]);
}

/* Called by the guest's vCPUs under its UART lock: one producer. */
void console_out_line(const struct guest *g, const char *line, uint32_t n)
{
	struct console_out *o = out_of(g);
	bool was_empty = !console_ring_used(&o->ring);

	if (console_ring_put(&o->ring, line, n)) {
		/* CPU 0 may be asleep with nothing to poll: wake it once
		 * per batch of lines. */
		if (was_empty)
			lapic_send_ipi(percpu[0].apic_id, VEC_KICK);
		return;
	}
	spin_lock(&o->drain);
	o->waits++;
	out_drain_locked(o);
	if (!console_ring_put(&o->ring, line, n))
		console_write(line, n);         /* longer than the ring */
	spin_unlock(&o->drain);
}

uint64_t console_out_waits(const struct guest *g)
{
	return READ_ONCE(out_of(g)->waits);
}
