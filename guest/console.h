/*
 * Console input: what is typed on Keel's serial console (COM1) goes to one
 * guest at a time, the one with the focus. At first that is the first
 * running guest, in configuration order, whose devices include com1;
 * Ctrl-A typed three times in a row moves it to the next such guest
 * (wrapping around), and when the focused guest ends the focus moves on
 * by itself. Keel prints a line naming the guest each time:
 *
 *   keel: console: input to guest NAME (Ctrl-A x3 switches)
 *
 *   host UART --CPU 0 polls it (guests_wait)--> switch-key detector
 *             --vuart_receive(), the UART's lock--> the focused guest's
 *               receive FIFO and IRQ 4, emulated on its vCPUs' CPUs
 *
 * One or two Ctrl-A followed by another key reach the guest as typed,
 * with that key (they wait for it: like Xen's console switch).
 */
#ifndef KEEL_GUEST_CONSOLE_H
#define KEEL_GUEST_CONSOLE_H

#include "arch/compiler.h"

#define CONSOLE_SWITCH_KEY      0x01    /* Ctrl-A */
#define CONSOLE_SWITCH_PRESSES  3
/* CPU 0 reads the host UART this often while guests run: a 16550's
 * 16-byte FIFO fills in 1.4 ms at 115200 baud, and wake-ups come late
 * (in Bochs, 0.8 to 1.1 ms apart when asked for 0.5 ms). */
#define CONSOLE_POLL_US         500

struct console_keys {
	unsigned int held;      /* switch keys in a row, not passed on yet */
};

/*
 * Feeds one typed byte. Returns how many bytes go to the focused guest,
 * stored in out: none while a switch sequence grows, else the switch keys
 * held back and then the byte itself. *sw tells that the byte completed
 * a switch sequence (none of whose keys is passed on).
 */
static inline unsigned int console_key_feed(struct console_keys *k, uint8_t c,
					    uint8_t out[CONSOLE_SWITCH_PRESSES],
					    bool *sw)
{
	unsigned int n = 0;

	*sw = false;
	if (c == CONSOLE_SWITCH_KEY) {
		if (++k->held == CONSOLE_SWITCH_PRESSES) {
			k->held = 0;
			*sw = true;
		}
		return 0;
	}
	for (; k->held; k->held--)
		out[n++] = CONSOLE_SWITCH_KEY;
	out[n++] = c;
	return n;
}

struct guest;

/*
 * Console output: a guest's finished lines ("[NAME] text\n") are queued
 * in its ring (guest/console_ring.h), so a THR write that ends a line
 * costs the vCPU a copy, not the time COM1 takes to send it. CPU 0 writes
 * the rings out whenever it wakes (every CONSOLE_POLL_US at most while a
 * guest takes input); Keel's own lines about a guest write that guest's
 * ring out first, so they follow what the guest printed before them. A
 * line that finds the ring full writes the ring out itself: it waits for
 * COM1, and the wait is counted (console_out_waits). Nothing is dropped.
 *
 *   vCPU: THR '\n' --vuart_flush--> console_out_line --> ring
 *   CPU 0 (guests_wait), guest_log, guest_finish:
 *         console_out_drain --> console_write --> COM1
 */
void console_out_line(const struct guest *g, const char *line, uint32_t n);
/* Writes g's queued lines out now, in order. Any CPU. */
void console_out_drain(const struct guest *g);
/* Every guest's; on CPU 0. */
void console_out_drain_all(void);
/* Lines of g that found its ring full. */
uint64_t console_out_waits(const struct guest *g);

/* On CPU 0 once the guests run: gives the focus to the first guest that
 * takes input and prints the focus line. */
void console_input_start(void);
/*
 * On CPU 0: hands what was typed since the last call to the guest with
 * the focus, moving the focus as asked or when its guest ended. Returns
 * whether some guest takes input, so that CPU 0 should call again within
 * CONSOLE_POLL_US.
 */
bool console_input_poll(void);
/* Before g's vCPUs are freed, on any CPU (g no longer runs): waits until
 * CPU 0 no longer hands g bytes. */
void console_input_release(struct guest *g);

#endif
