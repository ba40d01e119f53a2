/* Host unit tests for the doorbell budget of shared memory (guest/shm.h). */
#include "guest/shm.h"
#include "tests/unit/test.h"

#define WINDOW 1000
#define BURST  16

/* BURST doorbells in a window pass; the next waits for the window's
 * end, whenever in the window it comes. */
TEST(shm_budget_burst_then_wait)
{
	struct shm_budget b = { 0 };

	for (unsigned int i = 0; i < BURST; i++)
		EXPECT_EQ(shm_budget_take(&b, 5000 + i, WINDOW, BURST), 0);
	EXPECT_EQ(shm_budget_take(&b, 5100, WINDOW, BURST), 6000);
	EXPECT_EQ(shm_budget_take(&b, 5999, WINDOW, BURST), 6000);
	EXPECT_EQ(b.used, BURST);
}

/* The window's end opens a new one with the whole burst. */
TEST(shm_budget_new_window)
{
	struct shm_budget b = { 0 };

	for (unsigned int i = 0; i < BURST; i++)
		shm_budget_take(&b, 5000, WINDOW, BURST);
	EXPECT_EQ(shm_budget_take(&b, 6000, WINDOW, BURST), 0);
	EXPECT_EQ(b.start, 6000);
	EXPECT_EQ(b.used, 1);
	for (unsigned int i = 1; i < BURST; i++)
		EXPECT_EQ(shm_budget_take(&b, 6500, WINDOW, BURST), 0);
	EXPECT_EQ(shm_budget_take(&b, 6999, WINDOW, BURST), 7000);
}

/* A TSC read on another CPU, before the window's start, must not wait
 * for ever: it opens a window of its own. */
TEST(shm_budget_earlier_tsc)
{
	struct shm_budget b = { 0 };

	for (unsigned int i = 0; i < BURST; i++)
		shm_budget_take(&b, 5000, WINDOW, BURST);
	EXPECT_EQ(shm_budget_take(&b, 4990, WINDOW, BURST), 0);
	EXPECT_EQ(b.start, 4990);
}

TEST_MAIN()
