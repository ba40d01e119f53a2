/* Reading what the loader passed: command line and memory size. */
#include "guest.h"

static bool have_info(uint32_t flag)
{
	return boot_magic == MB1_BOOTLOADER_MAGIC && boot_info &&
	       (boot_info->flags & flag);
}

const char *mb_cmdline(void)
{
	if (!have_info(MB1_INFO_CMDLINE) || !boot_info->cmdline)
		return "";
	return (const char *)(uintptr_t)boot_info->cmdline;
}

uint64_t mb_ram_end(void)
{
	if (!have_info(MB1_INFO_MEM))
		return 0;
	return 0x100000 + ((uint64_t)boot_info->mem_upper << 10);
}

/* The command line is "IMAGE key=value ..." (words split by spaces). */
bool cmdline_get(const char *key, char *buf, size_t size)
{
	const char *s = mb_cmdline();
	size_t klen = strlen(key);

	while (*s) {
		const char *word = s;
		size_t n = 0;

		while (s[n] && s[n] != ' ')
			n++;
		s += n;
		while (*s == ' ')
			s++;
		if (n <= klen || strncmp(word, key, klen) || word[klen] != '=')
			continue;
		n -= klen + 1;
		if (n >= size)
			n = size - 1;
		memcpy(buf, word + klen + 1, n);
		buf[n] = '\0';
		return true;
	}
	return false;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

bool parse_size(const char *s, uint64_t *out)
{
	unsigned int base = 10, shift = 0;
	uint64_t v = 0;
	const char *start;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (start = s; digit_value(*s) < (int)base; s++)
		v = v * base + (unsigned int)digit_value(*s);
	if (s == start)
		return false;
	if (*s == 'K' || *s == 'k')
		shift = 10;
	else if (*s == 'M' || *s == 'm')
		shift = 20;
	else if (*s == 'G' || *s == 'g')
		shift = 30;
	if (shift)
		s++;
	*out = v << shift;
	return *s == '\0';
}

uint32_t cmdline_number(const char *key, uint32_t dflt, uint32_t max)
{
	uint64_t v;
	char arg[32];

	if (!cmdline_get(key, arg, sizeof(arg)))
		return dflt;
	if (!EXPECT(parse_size(arg, &v)) || !EXPECT(v >= 1 && v <= max))
		return dflt;
	return (uint32_t)v;
}
