/* The multiboot v1 information a loader hands over in EBX (Multiboot
 * 0.6.96, 3.3); only the fields test guests read. */
#ifndef KEEL_TEST_MULTIBOOT_H
#define KEEL_TEST_MULTIBOOT_H

#include <stdint.h>

#define MB1_BOOTLOADER_MAGIC    0x2badb002
#define MB1_INFO_MEM            (1u << 0)
#define MB1_INFO_CMDLINE        (1u << 2)
#define MB1_INFO_MODS           (1u << 3)
#define MB1_INFO_MMAP           (1u << 6)
#define MB1_MEM_AVAILABLE       1

struct mb1_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
} __attribute__((packed));

/* Each entry is preceded by its size, which does not count itself. */
struct mb1_mmap {
	uint32_t size;
	uint64_t base, len;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct mb1_mmap) == 24, "multiboot mmap entry");
_Static_assert(__builtin_offsetof(struct mb1_info, mmap_addr) == 48,
	       "multiboot info");

#endif
