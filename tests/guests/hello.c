/* hello32, hello64 and helloflat: say hello and show what the loader
 * passed. GUEST_FORMAT names the format the build made this image for. */
#include "guest.h"

void guest_main(void)
{
	printf("Hello from %s\n", GUEST_FORMAT);
	if (!EXPECT_EQ(boot_magic, MB1_BOOTLOADER_MAGIC))
		return;
	printf("cmdline: '%s'\n", mb_cmdline());
	EXPECT(boot_info->flags & MB1_INFO_MEM);
	printf("mem_lower %u KiB, mem_upper %u KiB\n", boot_info->mem_lower,
	       boot_info->mem_upper);
	EXPECT(boot_info->mem_upper > 0);
	EXPECT(mb_cmdline()[0] != '\0');
}
