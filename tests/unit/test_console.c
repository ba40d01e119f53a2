/* Host tests for the console's switch-key detector (guest/console.h):
 * Ctrl-A three times in a row switches, anything shorter reaches the
 * guest as typed. */
#include "arch/compiler.h"
#include "guest/console.h"
#include "tests/unit/test.h"

/* Feeds `in` (n bytes); the bytes for the guest go to `to`, with '|' where
 * a switch happened. Returns the switches. */
static int feed(struct console_keys *k, const char *in, size_t n, char *to)
{
	uint8_t out[CONSOLE_SWITCH_PRESSES];
	int switches = 0;
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		bool sw;
		unsigned int got = console_key_feed(k, (uint8_t)in[i], out, &sw);

		EXPECT(got <= CONSOLE_SWITCH_PRESSES);
		EXPECT(!(sw && got));
		memcpy(to + len, out, got);
		len += got;
		if (sw) {
			to[len++] = '|';
			switches++;
		}
	}
	to[len] = '\0';
	return switches;
}

#define FEED(k, s, to) feed(k, s, sizeof(s) - 1, to)

/* Typed bytes, what the guest gets ('|': a switch) and the switches. */
struct feed_case {
	const char *name, *in, *want;
	int switches;
};

static const struct feed_case cases[] = {
	{ "plain bytes pass", "ls -l\r", "ls -l\r", 0 },
	{ "three Ctrl-A switch", "a\x01\x01\x01" "b", "a|b", 1 },
	{ "short sequences reach the guest", "\x01x\x01\x01y",
	  "\x01x\x01\x01y", 0 },
	{ "seven Ctrl-A switch twice", "\x01\x01\x01\x01\x01\x01\x01q",
	  "||\x01q", 2 },
	{ "other control bytes pass", "\x02\x03\x1b\x7f", "\x02\x03\x1b\x7f",
	  0 },
};

TEST(console_switch_sequences)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct console_keys k = { 0 };
		char to[64];
		int sw = feed(&k, cases[i].in, strlen(cases[i].in), to);

		if (sw != cases[i].switches || strcmp(to, cases[i].want) ||
		    k.held) {
			printf("    %s: %d switches, %u held\n", cases[i].name,
			       sw, k.held);
			test_failed_now = 1;
		}
	}
}

TEST(console_held_keys_wait_for_the_next_byte)
{
	struct console_keys k = { 0 };
	char to[64];

	EXPECT_EQ(FEED(&k, "\x01\x01", to), 0);
	EXPECT(strcmp(to, "") == 0);
	EXPECT_EQ(k.held, 2);
	EXPECT_EQ(FEED(&k, "z", to), 0);
	EXPECT(strcmp(to, "\x01\x01z") == 0);
}

TEST(console_nul_passes)
{
	struct console_keys k = { 0 };
	char to[64];

	EXPECT_EQ(FEED(&k, "\x01\x00", to), 0);
	EXPECT(memcmp(to, "\x01\x00", 2) == 0);
}

TEST_MAIN()
