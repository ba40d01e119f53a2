/*
 * isolation: a read of the first byte past the guest's RAM must stop the
 * guest (Keel: EPT violation, "fatal exit", status 0). If the read
 * returns, isolation is broken and the guest says so and exits 1.
 */
#include "guest.h"

#define MARKER 0x4b45454c       /* "LEEK" */

void guest_main(void)
{
	uint64_t end = mb_ram_end();
	volatile uint32_t *last, *past;
	uint32_t v;

	if (!EXPECT(end > 0x100000 && end <= 0xfffff000ULL))
		return;
	last = (volatile uint32_t *)(uintptr_t)(end - 4);
	*last = MARKER;
	if (!EXPECT_EQ(*last, MARKER))
		return;
	printf("marker at %#llx; reading past my RAM at %#llx\n",
	       (unsigned long long)(end - 4), (unsigned long long)end);
	past = (volatile uint32_t *)(uintptr_t)end;
	v = *past;
	printf("isolation BROKEN: read %#x past the end of RAM\n", v);
	guest_exit(EXIT_FAIL);
}
