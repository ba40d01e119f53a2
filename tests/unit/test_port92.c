/* Host unit tests for system control port A (guest/port92.c). */
#include "guest/port92.h"
#include "tests/unit/test.h"

TEST(port92_bits_read_back)
{
	bool init = true;
	uint8_t r = port92_write(PORT92_RESET_VALUE, 0x00, &init);

	EXPECT_EQ(r, 0);
	EXPECT(!init);
	r = port92_write(r, PORT92_A20, &init);
	EXPECT_EQ(r, PORT92_A20);
	EXPECT(!init);
	r = port92_write(r, 0xfe, &init);               /* reserved bits read 0 */
	EXPECT_EQ(r, PORT92_A20);
	EXPECT(!init);
}

/* Only a 0 -> 1 transition of bit 0 resets the processor; writing 1 again
 * does not (kvm-unit-tests' init test clears it, then sets it). */
TEST(port92_init_on_rising_edge)
{
	bool init = false;
	uint8_t r = port92_write(PORT92_A20, PORT92_A20 | PORT92_INIT_NOW, &init);

	EXPECT(init);
	EXPECT_EQ(r, PORT92_A20 | PORT92_INIT_NOW);
	r = port92_write(r, PORT92_A20 | PORT92_INIT_NOW, &init);
	EXPECT(!init);
	r = port92_write(r, PORT92_A20, &init);
	EXPECT(!init);
	r = port92_write(r, PORT92_INIT_NOW, &init);
	EXPECT(init);
	EXPECT_EQ(r, PORT92_INIT_NOW);
}

TEST_MAIN()
