/*
 * A guest: its configuration, memory, EPT, vCPUs and devices.
 *
 * Guest-physical layout (RAM from 0 up to the configured size):
 *
 *   0x00000000 +---------------------------+
 *              | low RAM                   |
 *   0x00008000 | boot information block    |  multiboot info, memory map,
 *              |                           |  command line, module list
 *   0x00100000 | image (at its load        |
 *              |  addresses), then modules |
 *              | ...                       |
 *   size - 64K | long-mode page tables     |  elf64 and linux guests
 *   size       +---------------------------+
 *
 * Anything above `size` is not mapped: an access there stops the guest.
 */
#ifndef KEEL_GUEST_GUEST_H
#define KEEL_GUEST_GUEST_H

#include "arch/compiler.h"
#include "arch/spinlock.h"
#include "ept/ept.h"
#include "ept/dirty.h"
#include "ept/shadow_mmu.h"
#include "guest/config.h"
#include "guest/vcpu.h"
#include "guest/devices.h"

#define GUEST_MAX_CHUNKS  64
#define GUEST_MAX_VCPUS   CONFIG_MAX_CPUS

/* A naturally aligned host block backing part of guest RAM. */
struct guest_chunk {
	uint64_t gpa, hpa, size;
	unsigned int order;
};

enum guest_state {
	GUEST_NONE = 0,
	GUEST_RUNNING,
	GUEST_ENDING,           /* an end was requested; vCPUs are leaving */
	GUEST_DONE,
};

struct guest {
	const struct config_guest *cfg;
	const char *name;
	unsigned int id;
	uint64_t mem_size;
	struct guest_chunk chunks[GUEST_MAX_CHUNKS];
	unsigned int nr_chunks;
	struct ept ept;
	struct shadow_mmu *mmu;         /* paging = shadow, else NULL */
	bool shadow_dirty_log;          /* shadow leaves catch first writes */
	struct vcpu *vcpus[GUEST_MAX_VCPUS];
	unsigned int nr_vcpus;
	volatile int state;             /* enum guest_state */
	int vcpus_running;
	int vcpus_parked;               /* in HLT with IF=0 (atomic) */
	uint64_t exit_status;           /* debug-exit or exit-hypercall status */
	const char *end_reason;
	struct guest_devices dev;
	struct spinlock lock;
	uint64_t tsc_start;
	struct dirty_log dlog;
	struct snapshot *snap;          /* KEEL_HC_SNAPSHOT, if taken */
	bool migrating;                 /* CPU 0 is moving it: it frees it */
	bool finish_pending;            /* ended while migrating */
	bool migrated;                  /* done (or failed) */
	bool migration_failed;          /* a mismatch at switch-over */
	bool console_busy;              /* CPU 0 is handing it typed bytes */
};

extern struct guest guests[CONFIG_MAX_GUESTS];
extern unsigned int nr_guests;

/* Host virtual address of [gpa, gpa + len) if it is all guest RAM inside
 * one chunk, else NULL. */
void *guest_gpa_to_hva(struct guest *g, uint64_t gpa, uint64_t len);
/* Changes whenever any guest's RAM moves to other host memory (allocated,
 * freed, swapped by a migration): host pointers into guest RAM kept
 * across exits (the emulator's instruction cache) are good only while it
 * keeps its value. */
extern uint64_t guest_ram_gen;
void guest_ram_moved(void);
/* Host-physical address of guest-physical gpa, or GUEST_NO_HPA if it is not
 * RAM; and back (GUEST_NO_HPA if hpa is not this guest's RAM). */
#define GUEST_NO_HPA (~0ULL)
uint64_t guest_gpa_to_hpa(const struct guest *g, uint64_t gpa);
uint64_t guest_hpa_to_gpa(const struct guest *g, uint64_t hpa);
/* Copies to/from guest RAM across chunks; false if any byte is not RAM. */
bool guest_write(struct guest *g, uint64_t gpa, const void *src, uint64_t len);
bool guest_read(struct guest *g, uint64_t gpa, void *dst, uint64_t len);

int guest_mem_init(struct guest *g);
/* guest_mem_init without zeroing, for memory the caller fills entirely. */
int guest_mem_alloc(struct guest *g, bool zero);
void guest_mem_free(struct guest *g);

/*
 * Ends the guest: the first caller's status and reason win. Every vCPU
 * leaves at its next exit (other CPUs are kicked with an IPI).
 */
void guest_end(struct guest *g, uint64_t status, const char *reason);

/* The reason of an end through ACPI S5 (guest/acpi_pm.c): such a guest
 * counts as passed in Keel's done line, though its status is 0. */
extern const char guest_end_poweroff[];

/*
 * Posts `req` (VCPU_REQ_*) to every vCPU of g that is on its CPU, kicks
 * them, and waits until each has acted on it. The calling vCPU (if it is
 * one of g's) acts on it at once, and on requests others post meanwhile,
 * so two vCPUs asking each other at once do not wait forever.
 */
void guest_request(struct guest *g, uint32_t req);

/* An NMI to v's CPU, unless v is not on one or is the caller: the retry
 * for a kick v has not answered after guest_kick_retry_ticks(). */
void guest_kick_nmi(const struct vcpu *v);
uint64_t guest_kick_retry_ticks(void);

/* Prints `keel: guest NAME: ...` with the guest's name. */
void guest_log(int level, const struct guest *g, const char *fmt, ...)
	__printf(3, 4);

/* On a vCPU's CPU once it left guest mode for good; the last one out
 * prints the guest's verdict and frees it. */
void guest_vcpu_leave(struct vcpu *v);
void guest_finish(struct guest *g);

/* Reads keel.conf, loads and starts every valid guest; returns how many
 * started. Refused guests are counted in *refused. */
unsigned int guests_start(unsigned int *refused);
/* Waits for every started guest to end; returns how many passed. */
unsigned int guests_wait(unsigned int started);

#endif
