/* Host tests for the console output ring (guest/console_ring.h): lines go
 * out whole and in order across the wrap, a line that does not fit is
 * refused whole, and space comes back as lines are written out. */
#include "guest/console_ring.h"
#include "tests/unit/test.h"

/* Takes everything queued, in order, into out; returns its length. */
static size_t drain(struct console_ring *r, char *out)
{
	const char *at;
	uint32_t n;
	size_t len = 0;

	while ((n = console_ring_peek(r, &at))) {
		memcpy(out + len, at, n);
		len += n;
		console_ring_done(r, n);
	}
	return len;
}

TEST(empty_ring_has_nothing)
{
	static struct console_ring r;
	const char *at;

	EXPECT_EQ(console_ring_used(&r), 0);
	EXPECT_EQ(console_ring_peek(&r, &at), 0);
}

TEST(lines_come_out_in_order)
{
	static struct console_ring r;
	char out[64];

	ASSERT(console_ring_put(&r, "[a] one\n", 8));
	ASSERT(console_ring_put(&r, "[a] two\n", 8));
	EXPECT_EQ(console_ring_used(&r), 16);
	EXPECT_EQ(drain(&r, out), 16);
	EXPECT_EQ(memcmp(out, "[a] one\n[a] two\n", 16), 0);
	EXPECT_EQ(console_ring_used(&r), 0);
}

TEST(full_ring_refuses_a_line_whole)
{
	static struct console_ring r;
	static char big[CONSOLE_RING_SIZE];
	char out[16];

	memset(big, 'x', sizeof(big));
	ASSERT(console_ring_put(&r, big, CONSOLE_RING_SIZE - 4));
	EXPECT(!console_ring_put(&r, "[a] five\n", 9));
	EXPECT_EQ(console_ring_used(&r), CONSOLE_RING_SIZE - 4);
	EXPECT(console_ring_put(&r, "abcd", 4));
	EXPECT(!console_ring_put(&r, "e", 1));
	(void)out;
}

TEST(a_line_across_the_wrap_stays_whole)
{
	static struct console_ring r;
	static char pad[CONSOLE_RING_SIZE - 3], out[CONSOLE_RING_SIZE];
	const char *at;

	memset(pad, '.', sizeof(pad));
	ASSERT(console_ring_put(&r, pad, sizeof(pad)));
	EXPECT_EQ(drain(&r, out), sizeof(pad));
	ASSERT(console_ring_put(&r, "[b] wrapped\n", 12));
	/* The first piece ends at the buffer's end, the rest follows. */
	EXPECT_EQ(console_ring_peek(&r, &at), 3);
	EXPECT_EQ(drain(&r, out), 12);
	EXPECT_EQ(memcmp(out, "[b] wrapped\n", 12), 0);
}

TEST(indices_run_past_32_bits)
{
	static struct console_ring r;
	char out[32];

	r.head = r.tail = 0xfffffff8u;
	ASSERT(console_ring_put(&r, "[c] past the top\n", 17));
	EXPECT_EQ(console_ring_used(&r), 17);
	EXPECT_EQ(drain(&r, out), 17);
	EXPECT_EQ(memcmp(out, "[c] past the top\n", 17), 0);
}

TEST_MAIN()
