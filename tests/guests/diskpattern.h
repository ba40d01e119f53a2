/*
 * The test disk's content, computed alike by the host tool that writes
 * it (tests/guests/mkdisk.c) and by the guests that read it: sector n
 * starts with n as a little-endian dword, then bytes that depend on both
 * n and their offset, so a sector read from the wrong place, or shifted,
 * shows.
 */
#ifndef KEEL_TEST_DISKPATTERN_H
#define KEEL_TEST_DISKPATTERN_H

#include <stdint.h>

#define DISK_SECTOR             512u
#define DISK_SECTORS            2048u   /* 1 MiB */

static inline uint8_t disk_byte(uint32_t sector, uint32_t i)
{
	if (i < 4)
		return (uint8_t)(sector >> (8 * i));
	return (uint8_t)(sector * 131u + i * 7u + (sector >> 8) + 0x5au);
}

#endif
