/* ACPI table discovery and MADT parsing.
 *
 *   RSDP (copy from Multiboot2 tag 14/15, or found by the caller)
 *     |
 *     +-- rev >= 2 and valid --> XSDT: 36-byte header + u64 table addresses
 *     +-- otherwise / fallback -> RSDT: 36-byte header + u32 table addresses
 *                                   |
 *                                   +--> "APIC" (MADT), "FACP" (FADT), ...
 *
 * Pure code: physical memory is reached only through ops->map, which returns
 * NULL for a range that cannot be read. Nothing read through it is trusted;
 * every table is checked (length limits, checksum, signature) before use,
 * and what is wrong goes into acpi->diags for the caller to print. A bad
 * table is skipped, not fatal: a bad XSDT falls back to the RSDT, a bad MADT
 * copy lets a later good one be used.
 *
 * References: ACPI 6.5 section 5.2.5 (RSDP), 5.2.6 (SDT header), 5.2.7
 * (RSDT), 5.2.8 (XSDT), 5.2.12 (MADT). */
#ifndef KEEL_DRIVERS_ACPI_H
#define KEEL_DRIVERS_ACPI_H

#include "arch/compiler.h"

#define ACPI_MAX_DIAGS          32
#define ACPI_MAX_CPUS           256
#define ACPI_MAX_IOAPICS        16
#define ACPI_MAX_OVERRIDES      32

/* Sanity limits on firmware-provided lengths. The largest real tables are
 * DSDTs of a few hundred KiB; 16 MiB leaves ample room and bounds the
 * checksum loop. A root table with more entries than the limit is read up to
 * it. */
#define ACPI_TABLE_MAX_LEN      (16U * 1024 * 1024)
#define ACPI_ROOT_MAX_ENTRIES   1024

/* Returns a pointer through which [phys, phys + len) can be read, or NULL.
 * The pointer must stay valid until the acpi_* call that asked returns; a
 * pointer handed on to the caller (acpi_map_table) is only as long-lived as
 * the mapping behind it. */
typedef const void *acpi_map_fn(void *ctx, uint64_t phys, uint64_t len);

struct acpi_ops {
	acpi_map_fn *map;
	void *ctx;
};

enum acpi_diag_code {
	ACPI_DIAG_NONE = 0,
	ACPI_DIAG_RSDP_SHORT,           /* fatal: copy shorter than 20 bytes */
	ACPI_DIAG_RSDP_SIGNATURE,       /* fatal: not "RSD PTR " */
	ACPI_DIAG_RSDP_CHECKSUM,        /* fatal: first 20 bytes */
	ACPI_DIAG_RSDP_EXT_LENGTH,      /* rev >= 2 but length unusable */
	ACPI_DIAG_RSDP_EXT_CHECKSUM,    /* rev >= 2, extended checksum bad */
	ACPI_DIAG_XSDT_FALLBACK,        /* XSDT unusable, trying the RSDT */
	ACPI_DIAG_NO_ROOT,              /* fatal: neither XSDT nor RSDT usable */
	ACPI_DIAG_TABLE_NULL,           /* table address is 0 */
	ACPI_DIAG_TABLE_UNMAPPED,       /* map() refused the range */
	ACPI_DIAG_TABLE_SHORT,          /* length < 36 */
	ACPI_DIAG_TABLE_HUGE,           /* length > ACPI_TABLE_MAX_LEN */
	ACPI_DIAG_TABLE_CHECKSUM,
	ACPI_DIAG_TABLE_SIGNATURE,      /* not the signature expected there */
	ACPI_DIAG_ROOT_PARTIAL,         /* length not header + whole entries */
	ACPI_DIAG_ROOT_TRUNCATED,       /* more than ACPI_ROOT_MAX_ENTRIES */
	ACPI_DIAG_TABLE_MISSING,
	ACPI_DIAG_MADT_SHORT,           /* shorter than the 44-byte MADT head */
	ACPI_DIAG_MADT_ENTRY_LENGTH,    /* length < 2 or past the end: stop */
	ACPI_DIAG_MADT_ENTRY_SHORT,     /* shorter than its type needs: skip */
	ACPI_DIAG_CPU_BAD_ID,           /* broadcast APIC ID: skipped */
	ACPI_DIAG_CPU_DUPLICATE,        /* APIC ID seen before: skipped */
	ACPI_DIAG_CPUS_TRUNCATED,
	ACPI_DIAG_IOAPICS_TRUNCATED,
	ACPI_DIAG_OVERRIDES_TRUNCATED,
	ACPI_DIAG_LAPIC_OVERRIDE_DUP,   /* second type-5 entry: ignored */
	ACPI_DIAG_NR_CODES,
};

/* One problem found. table is the signature involved ("" when none),
 * value the offending address, length, offset or ID. */
struct acpi_diag {
	enum acpi_diag_code code;
	char table[5];
	uint64_t value;
	const char *msg;                /* static text, never NULL */
};

/* Where the root table is and what it holds; filled by acpi_init(). */
struct acpi {
	struct acpi_ops ops;
	uint8_t rsdp_revision;
	char oem_id[7];
	uint64_t root_phys;             /* validated XSDT or RSDT */
	uint32_t root_len;
	uint32_t root_entry_size;       /* 8 for the XSDT, 4 for the RSDT */
	uint32_t nr_root_entries;

	struct acpi_diag diags[ACPI_MAX_DIAGS];
	uint32_t nr_diags;
	uint32_t nr_diags_dropped;
};

struct acpi_cpu {
	uint32_t apic_id;
	uint32_t acpi_uid;
	bool enabled;                   /* usable now */
	bool online_capable;            /* disabled, but may be brought up */
	bool x2apic;                    /* from a type-9 entry */
};

struct acpi_ioapic {
	uint8_t id;
	uint32_t addr;
	uint32_t gsi_base;
};

/* ISA IRQ 'source' arrives at 'gsi' with MPS INTI 'flags' (polarity in bits
 * 1:0, trigger mode in bits 3:2). */
struct acpi_irq_override {
	uint8_t bus;
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
};

#define ACPI_MADT_PCAT_COMPAT   BIT_ULL(0)      /* dual 8259s present */

#define ACPI_MPS_INTI_POLARITY  GENMASK_ULL(1, 0)
#define ACPI_MPS_INTI_TRIGGER   GENMASK_ULL(3, 2)

struct acpi_madt {
	uint64_t phys;
	uint64_t lapic_addr;            /* type-5 override applied */
	bool lapic_addr_overridden;
	uint32_t flags;                 /* ACPI_MADT_* */

	/* Enabled and online-capable processors, one per APIC ID, in table
	 * order. Entries with neither flag are unusable (ACPI 6.5 5.2.12.2)
	 * and only counted. */
	struct acpi_cpu cpus[ACPI_MAX_CPUS];
	uint32_t nr_cpus;
	uint32_t nr_cpus_dropped;       /* lost to ACPI_MAX_CPUS */
	uint32_t nr_cpus_unusable;

	struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
	uint32_t nr_ioapics;
	uint32_t nr_ioapics_dropped;

	struct acpi_irq_override overrides[ACPI_MAX_OVERRIDES];
	uint32_t nr_overrides;
	uint32_t nr_overrides_dropped;
};

/* Validate the RSDP copy (rsdp, len bytes) and pick the root table: the XSDT
 * when the RSDP is revision 2+ with a good extended checksum and the XSDT
 * checks out, else the RSDT. Returns 0, or -1 when no root table is usable
 * (reasons in acpi->diags). */
int acpi_init(struct acpi *acpi, const struct acpi_ops *ops,
	      const void *rsdp, size_t len);

/* Physical address of the instance-th (from 0) valid table with signature
 * sig (4 characters) listed in the root table, or 0. Invalid copies are
 * reported and not counted. *len (if not NULL) gets its length. DSDT and
 * FACS are not listed in the root: reach them through the FADT with
 * acpi_map_table(). */
uint64_t acpi_find_table(struct acpi *acpi, const char *sig,
			 uint32_t instance, uint32_t *len);

/* Map and check the table at phys: length within limits, checksum, and the
 * signature when sig is not NULL. Returns the mapping or NULL. */
const void *acpi_map_table(struct acpi *acpi, uint64_t phys, const char *sig,
			   uint32_t *len);

/* Find and parse the MADT ("APIC"). Returns 0, or -1 when there is no usable
 * MADT. Entries after a malformed one are lost (there is no way to find the
 * next one), which is reported. */
int acpi_parse_madt(struct acpi *acpi, struct acpi_madt *madt);

#endif
