/* A minimal host unit-test harness shared by every tests/unit/test_*.c file.
 *
 *   TEST(name) { EXPECT(x == 1); EXPECT_EQ(a, b); }
 *   int main(void) { return test_main(); }   -- via TEST_MAIN()
 *
 * Tests register themselves through a constructor. Each test prints one line
 * ("PASS name" / "FAIL name: file:line: what differed"); the run closes with
 * "N passed, N failed" and exits non-zero when anything failed. */
#ifndef KEEL_TESTS_UNIT_TEST_H
#define KEEL_TESTS_UNIT_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST_MAX 512
extern struct test_case test_cases[TEST_MAX];
extern int test_count;
extern int test_failed_now;

static inline void test_register(const char *name, void (*fn)(void))
{
	if (test_count < TEST_MAX)
		test_cases[test_count++] = (struct test_case){ name, fn };
}

#define TEST(n)                                                         \
	static void test_##n(void);                                     \
	__attribute__((constructor)) static void test_reg_##n(void)     \
	{ test_register(#n, test_##n); }                                \
	static void test_##n(void)

#define EXPECT(c) do {                                                  \
	if (!(c)) {                                                     \
		printf("    %s:%d: expected %s\n", __FILE__, __LINE__, #c); \
		test_failed_now = 1;                                    \
	}                                                               \
} while (0)

#define EXPECT_EQ(a, b) do {                                            \
	unsigned long long _a = (unsigned long long)(a);                \
	unsigned long long _b = (unsigned long long)(b);                \
	if (_a != _b) {                                                 \
		printf("    %s:%d: %s == %s: 0x%llx != 0x%llx\n",      \
		       __FILE__, __LINE__, #a, #b, _a, _b);             \
		test_failed_now = 1;                                    \
	}                                                               \
} while (0)

/* Little-endian fields at byte offset o of a buffer (unaligned). */
static inline uint32_t get32(const uint8_t *p, size_t o)
{
	uint32_t v;

	memcpy(&v, p + o, sizeof(v));
	return v;
}

static inline uint64_t get64(const uint8_t *p, size_t o)
{
	uint64_t v;

	memcpy(&v, p + o, sizeof(v));
	return v;
}

/* A hostile change to a well-formed input (`width` bytes at `off` become
 * `val`) and a word the parser's refusal must contain. */
struct test_mutation {
	const char *name;
	size_t off, width;
	uint64_t val;
	const char *why_contains;
};

static inline void test_mutate(uint8_t *p, const struct test_mutation *m)
{
	memcpy(p + m->off, &m->val, m->width);
}

/* Fails the test unless `why` is a refusal that names the problem. */
static inline void test_expect_refusal(const struct test_mutation *m,
				       const char *why)
{
	if (!why || !strstr(why, m->why_contains)) {
		printf("    %s: got '%s'\n", m->name, why ? why : "(accepted)");
		test_failed_now = 1;
	}
}

/* Marsaglia's xorshift64 (shifts 13, 7, 17): a seeded, reproducible
 * stream for randomized tests. *state must not be 0. */
static inline uint64_t test_xorshift(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Stop the current test at the first failure when going on is pointless. */
#define ASSERT(c) do {                                                  \
	if (!(c)) {                                                     \
		printf("    %s:%d: expected %s\n", __FILE__, __LINE__, #c); \
		test_failed_now = 1;                                    \
		return;                                                 \
	}                                                               \
} while (0)

#define TEST_MAIN()                                                     \
	struct test_case test_cases[TEST_MAX];                          \
	int test_count;                                                 \
	int test_failed_now;                                            \
	int main(int argc, char **argv)                                 \
	{                                                               \
		int passed = 0, failed = 0;                             \
		for (int i = 0; i < test_count; i++) {                  \
			if (argc > 1 && !strstr(test_cases[i].name, argv[1])) \
				continue;                               \
			test_failed_now = 0;                            \
			test_cases[i].fn();                             \
			printf("%s %s\n", test_failed_now ? "FAIL" : "PASS", \
			       test_cases[i].name);                     \
			if (test_failed_now)                            \
				failed++;                               \
			else                                            \
				passed++;                               \
		}                                                       \
		printf("%d passed, %d failed\n", passed, failed);       \
		return failed ? 1 : 0;                                  \
	}

#endif
