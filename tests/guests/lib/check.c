/* EXPECT and friends: print what differed, count, and give the verdict. */
#include "guest.h"

static unsigned int nr_checks, nr_failed;

unsigned int checks_failed(void)
{
	return nr_failed;
}

static bool check_done(bool ok)
{
	nr_checks++;
	if (!ok)
		nr_failed++;
	return ok;
}

bool check_true(bool ok, const char *expr, const char *file, int line)
{
	if (!ok)
		printf("FAIL %s:%d: %s\n", file, line, expr);
	return check_done(ok);
}

static void print_pair(const char *op, uint64_t a, uint64_t b,
		       const char *as, const char *bs, const char *file,
		       int line)
{
	printf("FAIL %s:%d: %s %s %s: %#llx (%lld) vs %#llx (%lld)\n", file,
	       line, as, op, bs, (unsigned long long)a, (long long)a,
	       (unsigned long long)b, (long long)b);
}

bool check_eq(uint64_t a, uint64_t b, const char *as, const char *bs,
	      const char *file, int line)
{
	if (a != b)
		print_pair("==", a, b, as, bs, file, line);
	return check_done(a == b);
}

bool check_ne(uint64_t a, uint64_t b, const char *as, const char *bs,
	      const char *file, int line)
{
	if (a == b)
		print_pair("!=", a, b, as, bs, file, line);
	return check_done(a != b);
}

__noreturn void test_finish(void)
{
	if (nr_failed) {
		printf("FAIL (%u checks failed)\n", nr_failed);
		guest_exit(EXIT_FAIL);
	}
	printf("PASS (%u checks)\n", nr_checks);
	guest_exit(EXIT_PASS);
}
