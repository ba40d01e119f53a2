/* Keel's static guest configuration: the text grammar, the parsed form and
 * the checks against the machine Keel booted on.
 *
 * The parser is pure code (no allocation, no output, no floating point): the
 * same file is built into Keel, into the host tool tools/keelcfg and into the
 * host unit tests and fuzzer.
 *
 * Grammar
 * -------
 * The file is a sequence of lines separated by LF; a CR right before the LF
 * (or at the very end of the file) is ignored, so CRLF files work. A line is
 * at most 255 characters (not counting the line ending). Bytes below 0x20
 * other than TAB, and 0x7f, are invalid anywhere in a line, comments
 * included; bytes 0x80-0xff (UTF-8) may appear only in strings and
 * comments. Each line is one of:
 *
 *   (blank)                      only spaces and tabs
 *   # text                       a comment; '#' outside a string starts a
 *                                comment that runs to the end of the line,
 *                                also after a section header or a value
 *   [guest.NAME]                 starts the section of guest NAME, where NAME
 *                                matches [A-Za-z0-9_-]{1,31} and is unique in
 *                                the file; spaces are allowed inside the
 *                                brackets around guest.NAME
 *   [shm.NAME]                   starts the section of shared memory region
 *                                NAME (the same rules)
 *   KEY = VALUE                  sets KEY for the current section; spaces
 *                                around '=' are optional; KEY matches
 *                                [A-Za-z0-9_-]+
 *
 * Values:
 *   string   "..." with the escapes \" \\ \n \t and no others
 *   integer  decimal (4096) or hex with 0x (0x1000); no sign, no '_'
 *   size     an integer with an optional suffix K, M or G (powers of 1024),
 *            quoted ("16M") or not (16M)
 *   bool     true or false, unquoted
 *   list     [a, b, c] of strings or integers; a trailing comma is allowed and
 *            a list must open and close on the same line
 * After a value only spaces, tabs and a comment may follow.
 *
 * Keys of a [guest.NAME] section (each at most once):
 *   image = "hello"         required; the multiboot2 module holding the guest
 *   format = "multiboot"    required; elf64 | multiboot | flat | realmode | linux
 *   memory = "16M"          required; a size, multiple of 4K, at most 64G and
 *                           at least 1M (64K for realmode)
 *   cpus = [1, 2]           required, non-empty; physical CPU ids, one vCPU
 *                           pinned to each, in order; no duplicates; ids are
 *                           below 64; CPU 0 is never given to a guest: it runs
 *                           Keel's console and management
 *   paging = "auto"         ept | shadow | auto (default auto)
 *   devices = ["com1"]      any of com1, debug-exit, fw-cfg, testdev, rtc,
 *                           port92, pci (a PCI host bridge alone),
 *                           virtio-console (default none)
 *   cmdline = "text"        optional, at most 255 characters after escapes
 *   load = 0x100000         flat and realmode only; required for flat
 *   entry = 0x100000        flat and realmode only; required for flat
 *   modules = ["a", "b"]    multiboot only; at most 16 extra modules
 *   initrd = "name"         linux only
 *   force_emulation = true  bool, default false
 *   dirty_log = "auto"      pml | ad | wp | auto (default auto); pml needs EPT,
 *                           so it cannot go with paging = "shadow"
 *   migrate_cpus = [3]      live-migrate the guest to a second slot: its own
 *                           memory and these CPUs (as many as cpus, none of
 *                           them the guest's own); memory is needed twice
 *   migrate_after_ms = 50   when to start migrating, in milliseconds after
 *                           the guest started (default 0; needs migrate_cpus)
 *   disk = "rootfs"         a virtio-blk disk backed by this module
 *   disk_readonly = true    bool, default false; needs disk
 *   net = "lan0"            a virtio-net NIC on virtual network lan0 (a name
 *                           like a guest's); networks need no section
 *   mac = "52:54:00:12:34:56"  the NIC's address (needs net): six hex pairs
 *                           separated by ':', unicast (bit 0 of the first
 *                           byte clear) and not all zero; default
 *                           52:54:00:00:00:XX, XX = the guest's index in
 *                           the file (from 0) + 1. Two guests on one
 *                           network may not share a MAC: the later one is
 *                           refused (at its mac line, or net if defaulted).
 * Module names (image, initrd, modules, disk) are 1-63 printable ASCII
 * characters without spaces. load and entry must lie inside the guest's
 * memory, and below 1M for realmode guests.
 *
 * PCI (guest/pci.h): a guest has a PCI bus when its devices hold pci or
 * virtio-console, or it has a disk or a net, or it is a member of a valid
 * [shm.NAME] section (config_guest_has_pci()). Such a guest's memory must
 * end at or below PCI_MMIO_GPA (3G), it cannot have migrate_cpus (device
 * state does not migrate), and it has at most 6 PCI functions besides the
 * host bridge: one each for disk, net and virtio-console, and one doorbell
 * per shm region it is in (reported at its section header).
 *
 * Keys of a [shm.NAME] section (NAME as for guests, unique among shm
 * sections; at most 8 sections): a region of memory shared by guests,
 * with a doorbell device for each member (guest/shm.h).
 *   size = "64K"            required; a multiple of 4K, 4K to 256M
 *   guests = ["a", "b"]     required; 2-8 distinct guests, defined anywhere
 *                           in the file
 *   gpa = [0xf0000000, 0xf0000000]
 *                           required; where each guest (in guests order) sees
 *                           the region: page-aligned, and [gpa, gpa + size)
 *                           must end at or below 1T and miss that guest's
 *                           RAM, the PCI window and ECAM (guest/pci.h), the
 *                           range 0xfec00000-0xffffffff (I/O APIC, local
 *                           APIC, testdev) and its other shm regions
 *   readonly = ["b"]        optional; members that may only read the region
 * A problem in a [shm.NAME] section marks the section invalid: it is dropped
 * (with its problems reported) and its guests run without it. A guest that
 * is refused does not take a valid region from the other members.
 *
 * Errors
 * ------
 * Every problem is recorded as {line, guest or shm section, message}, which
 * config_format_error() prints as
 *   line 7: guest hello: unknown key 'memroy'
 *   line 9: shm ring: missing required key 'size'
 * Parsing goes on at the next line, so one pass reports everything (up to
 * CONFIG_MAX_ERRORS; the rest are only counted); a line yields at most one
 * problem of its own. A problem inside a guest's section marks that guest
 * invalid; Keel then refuses that guest and runs the others (a problem in
 * a shm section likewise marks that section invalid). Problems outside
 * any section (a bad or unknown section header, a key before the first
 * section) are global. Checks that need the whole file (the guests of shm
 * sections, PCI limits, MACs) run after its last line. The body of a
 * section whose header was rejected is skipped. A key whose value is
 * rejected still counts as given, so it is not reported missing as well.
 *
 * config_check() adds the checks that need the machine: CPUs that exist,
 * memory that fits and modules that were loaded (each only if the platform
 * description knows it), and a CPU given to two guests. A guest refused by an
 * earlier check claims no CPU and no memory in the later ones; among the
 * rest, the first guest in the file wins a contested CPU or the last memory.
 */
#ifndef KEEL_GUEST_CONFIG_H
#define KEEL_GUEST_CONFIG_H

#include "arch/compiler.h"

#define CONFIG_MAX_GUESTS       16
#define CONFIG_MAX_MODULES      16
#define CONFIG_MAX_CPUS         64      /* CPU ids are 0..63 */
#define CONFIG_MAX_ERRORS       64
#define CONFIG_LINE_MAX         255
#define CONFIG_NAME_SIZE        32      /* guest name, NUL included */
#define CONFIG_MODULE_NAME_SIZE 64      /* module name, NUL included */
#define CONFIG_CMDLINE_SIZE     256     /* command line, NUL included */
#define CONFIG_ERROR_MSG_SIZE   128

#define CONFIG_KEEL_CPU         0       /* reserved for Keel, never a guest's */
#define CONFIG_MEMORY_MAX       (64 * GiB)
#define CONFIG_MEMORY_MIN       (1 * MiB)
#define CONFIG_MEMORY_MIN_REALMODE (64 * KiB)
#define CONFIG_MEMORY_ALIGN     (4 * KiB)
#define CONFIG_REALMODE_LIMIT   (1 * MiB) /* realmode load/entry lie below */

#define CONFIG_MAX_SHM          8       /* [shm.NAME] sections */
#define CONFIG_SHM_MAX_GUESTS   8       /* members of one region */
#define CONFIG_SHM_MIN_GUESTS   2
#define CONFIG_SHM_SIZE_MIN     (4 * KiB)
#define CONFIG_SHM_SIZE_MAX     (256 * MiB)
#define CONFIG_SHM_ALIGN        (4 * KiB)
#define CONFIG_SHM_GPA_LIMIT    (1ULL << 40) /* regions end at or below 1T */
#define CONFIG_PCI_MAX_FUNCS    6       /* besides the host bridge */
#define CONFIG_MAC_SIZE         6

enum config_format {
	CONFIG_FORMAT_NONE,             /* not given or not understood */
	CONFIG_FORMAT_ELF64,
	CONFIG_FORMAT_MULTIBOOT,
	CONFIG_FORMAT_FLAT,
	CONFIG_FORMAT_REALMODE,
	CONFIG_FORMAT_LINUX,
};

enum config_paging {
	CONFIG_PAGING_AUTO,
	CONFIG_PAGING_EPT,
	CONFIG_PAGING_SHADOW,
};

enum config_dirty_log {
	CONFIG_DIRTY_LOG_AUTO,
	CONFIG_DIRTY_LOG_PML,
	CONFIG_DIRTY_LOG_AD,
	CONFIG_DIRTY_LOG_WP,
};

/* Bits of config_guest.devices. */
#define CONFIG_DEVICE_COM1       BIT_ULL(0)
#define CONFIG_DEVICE_DEBUG_EXIT BIT_ULL(1)
#define CONFIG_DEVICE_FW_CFG     BIT_ULL(2)
#define CONFIG_DEVICE_TESTDEV    BIT_ULL(3)
#define CONFIG_DEVICE_RTC        BIT_ULL(4)
#define CONFIG_DEVICE_PORT92     BIT_ULL(5)
#define CONFIG_DEVICE_PCI        BIT_ULL(6)     /* the host bridge alone */
#define CONFIG_DEVICE_VIRTIO_CONSOLE BIT_ULL(7)
#define CONFIG_DEVICE_COUNT      8

/* The keys of a guest section, to index config_guest.key_line. */
enum config_key {
	CONFIG_KEY_IMAGE,
	CONFIG_KEY_FORMAT,
	CONFIG_KEY_MEMORY,
	CONFIG_KEY_CPUS,
	CONFIG_KEY_PAGING,
	CONFIG_KEY_DEVICES,
	CONFIG_KEY_CMDLINE,
	CONFIG_KEY_LOAD,
	CONFIG_KEY_ENTRY,
	CONFIG_KEY_MODULES,
	CONFIG_KEY_INITRD,
	CONFIG_KEY_FORCE_EMULATION,
	CONFIG_KEY_DIRTY_LOG,
	CONFIG_KEY_MIGRATE_CPUS,
	CONFIG_KEY_MIGRATE_AFTER_MS,
	CONFIG_KEY_DISK,
	CONFIG_KEY_DISK_READONLY,
	CONFIG_KEY_NET,
	CONFIG_KEY_MAC,
	CONFIG_KEY_COUNT,
};

/* The keys of a shm section, to index config_shm.key_line. */
enum config_shm_key {
	CONFIG_SHM_KEY_SIZE,
	CONFIG_SHM_KEY_GUESTS,
	CONFIG_SHM_KEY_GPA,
	CONFIG_SHM_KEY_READONLY,
	CONFIG_SHM_KEY_COUNT,
};

/* One [guest.NAME] section. Only a guest with valid set is complete: one
 * with problems may hold whatever part of its section was understood. */
struct config_guest {
	char name[CONFIG_NAME_SIZE];
	char image[CONFIG_MODULE_NAME_SIZE];
	char initrd[CONFIG_MODULE_NAME_SIZE];             /* "" when none */
	char cmdline[CONFIG_CMDLINE_SIZE];                /* "" when none */
	char modules[CONFIG_MAX_MODULES][CONFIG_MODULE_NAME_SIZE];
	uint32_t module_count;
	enum config_format format;
	enum config_paging paging;
	enum config_dirty_log dirty_log;
	uint64_t memory;                                  /* bytes */
	uint8_t cpus[CONFIG_MAX_CPUS];                    /* vCPU i runs on cpus[i] */
	uint32_t cpu_count;
	uint64_t cpu_mask;                                /* the same CPUs as a set */
	uint64_t devices;                                 /* CONFIG_DEVICE_* */
	uint64_t load;                                    /* valid if has_load */
	uint64_t entry;                                   /* valid if has_entry */
	bool has_load;
	bool has_entry;
	bool force_emulation;
	uint8_t migrate_cpus[CONFIG_MAX_CPUS];            /* target slot's CPUs */
	uint32_t migrate_cpu_count;                       /* 0: no migration */
	uint64_t migrate_cpu_mask;
	uint64_t migrate_after_ms;
	char disk[CONFIG_MODULE_NAME_SIZE];               /* "" when none */
	bool disk_readonly;
	char net[CONFIG_NAME_SIZE];                       /* "" when none */
	uint8_t mac[CONFIG_MAC_SIZE];                     /* set when net is */
	uint32_t shm_mask;                                /* bit i: in valid shm[i] */
	bool valid;                                       /* no problem found */
	uint32_t line;                                    /* of the [guest.NAME] */
	uint32_t key_line[CONFIG_KEY_COUNT];              /* 0: key not given */
	uint32_t key_ok;                                  /* BIT(key): value stored */
};

/* One [shm.NAME] section: a region of size bytes that member i (guest
 * index guests[i]) sees at gpa[i]. Only a region with valid set is shared;
 * guests[] is filled once the whole file has been read. */
struct config_shm {
	char name[CONFIG_NAME_SIZE];
	uint64_t size;                                    /* bytes */
	char guest_names[CONFIG_SHM_MAX_GUESTS][CONFIG_NAME_SIZE];
	uint8_t guests[CONFIG_SHM_MAX_GUESTS];            /* into config.guests */
	uint32_t guest_count;
	uint64_t gpa[CONFIG_SHM_MAX_GUESTS];              /* by member */
	uint32_t gpa_count;
	char readonly_names[CONFIG_SHM_MAX_GUESTS][CONFIG_NAME_SIZE];
	uint32_t readonly_count;
	uint32_t readonly;                                /* bit i: reads only */
	bool valid;                                       /* no problem found */
	uint32_t line;                                    /* of the [shm.NAME] */
	uint32_t key_line[CONFIG_SHM_KEY_COUNT];          /* 0: key not given */
	uint32_t key_ok;                                  /* BIT(key): value stored */
};

struct config_error {
	uint32_t line;                  /* 1-based; 0 when no line applies */
	int32_t guest;                  /* index into config.guests, or -1 */
	char guest_name[CONFIG_NAME_SIZE]; /* "" unless about a guest */
	int32_t shm;                    /* index into config.shm, or -1 */
	char shm_name[CONFIG_NAME_SIZE]; /* "" unless about a shm section */
	char msg[CONFIG_ERROR_MSG_SIZE];
};

struct config {
	struct config_guest guests[CONFIG_MAX_GUESTS];
	uint32_t guest_count;
	struct config_shm shm[CONFIG_MAX_SHM];
	uint32_t shm_count;
	struct config_error errors[CONFIG_MAX_ERRORS];
	uint32_t error_count;           /* recorded in errors[] */
	uint32_t errors_dropped;        /* found after errors[] was full */
};

/* Bits of config_platform.checks: which facts the platform knows. */
#define CONFIG_CHECK_CPUS       BIT_ULL(0)
#define CONFIG_CHECK_MEMORY     BIT_ULL(1)
#define CONFIG_CHECK_MODULES    BIT_ULL(2)

struct config_platform {
	uint64_t checks;                /* CONFIG_CHECK_*; other facts are unknown */
	uint64_t cpu_present;           /* bit n: physical CPU n exists */
	uint64_t free_memory;           /* bytes for all guests together */
	const char *const *modules;     /* names of the modules that were loaded */
	size_t module_count;
};

/* Parse len bytes of text (need not be NUL-terminated) into *cfg, which is
 * cleared first. Returns the number of problems found (0: all good). */
uint32_t config_parse(struct config *cfg, const char *text, size_t len);

/* Check the parsed *cfg against *plat (NULL: only the checks that need no
 * platform facts), adding problems to cfg->errors and marking guests invalid.
 * Call once after config_parse(). Returns the total number of problems. */
uint32_t config_check(struct config *cfg, const struct config_platform *plat);

/* Problems found so far, including those that did not fit in errors[]. */
static inline uint32_t config_problem_count(const struct config *cfg)
{
	return cfg->error_count + cfg->errors_dropped;
}

/* Does guest g get a PCI bus (see the grammar)? Meaningful once
 * config_parse() has returned. */
static inline bool config_guest_has_pci(const struct config_guest *g)
{
	return (g->devices & (CONFIG_DEVICE_PCI | CONFIG_DEVICE_VIRTIO_CONSOLE)) ||
	       g->disk[0] || g->net[0] || g->shm_mask;
}

/* PCI functions g needs besides the host bridge. */
uint32_t config_guest_pci_funcs(const struct config_guest *g);

/* Member slot of guest index gi in the valid region s (its gpa[] and
 * readonly bit), or -1 when it is not a member. */
int config_shm_member(const struct config_shm *s, uint32_t gi);

/* Write "line 7: guest hello: unknown key 'memroy'" into buf (always
 * NUL-terminated when size > 0, truncated if needed). Returns the length
 * written, not counting the NUL. */
size_t config_format_error(const struct config_error *e, char *buf, size_t size);

/* Parse a size ("16M", "4096", "0x1000", "1G") of exactly len bytes.
 * Returns 0, or -1 for bad syntax and -2 when it does not fit 64 bits. */
int config_parse_size(const char *s, size_t len, uint64_t *out);

/* Write bytes in the largest exact unit ("16M", "4K", "1000") into buf. */
size_t config_format_size(uint64_t bytes, char *buf, size_t size);

/* Names as written in the file; "?" for values outside the enum. */
const char *config_format_name(enum config_format f);
const char *config_paging_name(enum config_paging p);
const char *config_dirty_log_name(enum config_dirty_log d);
const char *config_key_name(enum config_key k);
const char *config_shm_key_name(enum config_shm_key k);
const char *config_device_name(unsigned int bit_index);

#endif
