/* ACPI table discovery and MADT parsing: see acpi.h.
 *
 * Firmware tables are only byte-aligned in practice (XSDT entries sit at
 * offset 36), so every field is read with memcpy() into a packed raw layout
 * after the bytes it covers have been bounds-checked. */
#include "drivers/acpi.h"
#include "arch/string.h"

/* RSDP, ACPI 6.5 section 5.2.5.3. The first 20 bytes are the ACPI 1.0
 * structure; revision 2 added the rest. */
struct acpi_raw_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_addr;
	uint32_t length;
	uint64_t xsdt_addr;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __packed;

/* System description table header, ACPI 6.5 section 5.2.6. */
struct acpi_raw_sdt {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __packed;

/* MADT and its interrupt controller structures, ACPI 6.5 section 5.2.12. */
struct acpi_raw_madt {
	struct acpi_raw_sdt h;
	uint32_t lapic_addr;
	uint32_t flags;
} __packed;

struct acpi_raw_madt_entry {
	uint8_t type;
	uint8_t length;
} __packed;

struct acpi_raw_madt_lapic {            /* type 0, 5.2.12.2 */
	uint8_t type, length;
	uint8_t acpi_uid;
	uint8_t apic_id;
	uint32_t flags;
} __packed;

struct acpi_raw_madt_ioapic {           /* type 1, 5.2.12.3 */
	uint8_t type, length;
	uint8_t id;
	uint8_t reserved;
	uint32_t addr;
	uint32_t gsi_base;
} __packed;

struct acpi_raw_madt_iso {              /* type 2, 5.2.12.5 */
	uint8_t type, length;
	uint8_t bus;
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __packed;

struct acpi_raw_madt_lapic_addr {       /* type 5, 5.2.12.8 */
	uint8_t type, length;
	uint16_t reserved;
	uint64_t addr;
} __packed;

struct acpi_raw_madt_x2apic {           /* type 9, 5.2.12.12 */
	uint8_t type, length;
	uint16_t reserved;
	uint32_t x2apic_id;
	uint32_t flags;
	uint32_t acpi_uid;
} __packed;

#define ACPI_RSDP_V1_LEN        offsetof(struct acpi_raw_rsdp, length)
#define ACPI_SDT_HEADER_LEN     sizeof(struct acpi_raw_sdt)

_Static_assert(ACPI_RSDP_V1_LEN == 20, "RSDP 1.0 part");
_Static_assert(sizeof(struct acpi_raw_rsdp) == 36, "RSDP 2.0");
_Static_assert(offsetof(struct acpi_raw_rsdp, xsdt_addr) == 24, "RSDP");
_Static_assert(sizeof(struct acpi_raw_sdt) == 36, "SDT header");
_Static_assert(sizeof(struct acpi_raw_madt) == 44, "MADT head");
_Static_assert(sizeof(struct acpi_raw_madt_lapic) == 8, "MADT type 0");
_Static_assert(sizeof(struct acpi_raw_madt_ioapic) == 12, "MADT type 1");
_Static_assert(sizeof(struct acpi_raw_madt_iso) == 10, "MADT type 2");
_Static_assert(sizeof(struct acpi_raw_madt_lapic_addr) == 12, "MADT type 5");
_Static_assert(sizeof(struct acpi_raw_madt_x2apic) == 16, "MADT type 9");

enum acpi_madt_type {
	ACPI_MADT_LAPIC         = 0,
	ACPI_MADT_IOAPIC        = 1,
	ACPI_MADT_ISO           = 2,
	ACPI_MADT_LAPIC_ADDR    = 5,
	ACPI_MADT_X2APIC        = 9,
};

/* Local APIC flags, shared by types 0 and 9 (ACPI 6.5 5.2.12.2). Online
 * Capable is new in ACPI 6.3 and reserved (zero) before, so reading it on
 * older tables is harmless. */
#define ACPI_LAPIC_ENABLED              BIT_ULL(0)
#define ACPI_LAPIC_ONLINE_CAPABLE       BIT_ULL(1)

#define ACPI_XAPIC_BROADCAST_ID         0xffU
#define ACPI_X2APIC_BROADCAST_ID        0xffffffffU

static const char *const acpi_diag_msgs[ACPI_DIAG_NR_CODES] = {
	[ACPI_DIAG_NONE] = "no problem",
	[ACPI_DIAG_RSDP_SHORT] = "RSDP shorter than 20 bytes",
	[ACPI_DIAG_RSDP_SIGNATURE] = "RSDP signature is not 'RSD PTR '",
	[ACPI_DIAG_RSDP_CHECKSUM] = "RSDP checksum bad",
	[ACPI_DIAG_RSDP_EXT_LENGTH] = "RSDP 2.0 length unusable, XSDT ignored",
	[ACPI_DIAG_RSDP_EXT_CHECKSUM] = "RSDP extended checksum bad, XSDT ignored",
	[ACPI_DIAG_XSDT_FALLBACK] = "XSDT unusable, falling back to the RSDT",
	[ACPI_DIAG_NO_ROOT] = "neither XSDT nor RSDT usable",
	[ACPI_DIAG_TABLE_NULL] = "table address is 0",
	[ACPI_DIAG_TABLE_UNMAPPED] = "table not accessible",
	[ACPI_DIAG_TABLE_SHORT] = "table length below the 36-byte header",
	[ACPI_DIAG_TABLE_HUGE] = "table length beyond the sanity limit",
	[ACPI_DIAG_TABLE_CHECKSUM] = "table checksum bad",
	[ACPI_DIAG_TABLE_SIGNATURE] = "unexpected table signature",
	[ACPI_DIAG_ROOT_PARTIAL] = "root table ends with a partial entry",
	[ACPI_DIAG_ROOT_TRUNCATED] = "root table has too many entries, rest ignored",
	[ACPI_DIAG_TABLE_MISSING] = "table not found",
	[ACPI_DIAG_MADT_SHORT] = "MADT shorter than its 44-byte head",
	[ACPI_DIAG_MADT_ENTRY_LENGTH] = "MADT entry length bad, rest of MADT ignored",
	[ACPI_DIAG_MADT_ENTRY_SHORT] = "MADT entry too short for its type, skipped",
	[ACPI_DIAG_CPU_BAD_ID] = "processor with broadcast APIC ID, skipped",
	[ACPI_DIAG_CPU_DUPLICATE] = "duplicate APIC ID, later entry skipped",
	[ACPI_DIAG_CPUS_TRUNCATED] = "too many processors, rest dropped",
	[ACPI_DIAG_IOAPICS_TRUNCATED] = "too many I/O APICs, rest dropped",
	[ACPI_DIAG_OVERRIDES_TRUNCATED] = "too many interrupt overrides, rest dropped",
	[ACPI_DIAG_LAPIC_OVERRIDE_DUP] = "second local APIC address override ignored",
};

/* Copy up to n firmware-provided characters into out[n + 1], stopping at a
 * NUL. They end up on the console, so anything unprintable becomes '?'. */
static void acpi_copy_text(char *out, const char *in, size_t n)
{
	size_t i = 0;

	for (; in && i < n && in[i]; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
}

static void acpi_diag(struct acpi *acpi, enum acpi_diag_code code,
		      const char *sig, uint64_t value)
{
	struct acpi_diag *d;

	if (acpi->nr_diags == ACPI_MAX_DIAGS) {
		acpi->nr_diags_dropped++;
		return;
	}
	d = &acpi->diags[acpi->nr_diags++];
	memset(d, 0, sizeof(*d));
	d->code = code;
	acpi_copy_text(d->table, sig, 4);
	d->value = value;
	d->msg = acpi_diag_msgs[code];
}

/* Every ACPI checksum is "all bytes sum to zero modulo 256". */
static uint8_t acpi_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

static const uint8_t *acpi_map(struct acpi *acpi, uint64_t phys, uint64_t len)
{
	if (!acpi->ops.map || len > UINT64_MAX - phys)
		return NULL;
	return acpi->ops.map(acpi->ops.ctx, phys, len);
}

/* --- single tables -------------------------------------------------------- */

/* Signatures are compared as 4 raw bytes; a shorter string from a caller
 * must not be read past its end. */
static bool acpi_sig_ok(const char *sig)
{
	return sig && strnlen(sig, 4) == 4;
}

/* Read and check the header at phys: accessible, expected signature, and a
 * length the full mapping and the checksum loop can be trusted with. */
static bool acpi_read_header(struct acpi *acpi, uint64_t phys, const char *sig,
			     struct acpi_raw_sdt *h)
{
	const uint8_t *p = acpi_map(acpi, phys, ACPI_SDT_HEADER_LEN);

	if (!p) {
		acpi_diag(acpi, ACPI_DIAG_TABLE_UNMAPPED, sig, phys);
		return false;
	}
	memcpy(h, p, sizeof(*h));
	if (sig && memcmp(h->signature, sig, 4)) {
		acpi_diag(acpi, ACPI_DIAG_TABLE_SIGNATURE, h->signature, phys);
		return false;
	}
	if (h->length < ACPI_SDT_HEADER_LEN) {
		acpi_diag(acpi, ACPI_DIAG_TABLE_SHORT, h->signature, h->length);
		return false;
	}
	if (h->length > ACPI_TABLE_MAX_LEN) {
		acpi_diag(acpi, ACPI_DIAG_TABLE_HUGE, h->signature, h->length);
		return false;
	}
	return true;
}

const void *acpi_map_table(struct acpi *acpi, uint64_t phys, const char *sig,
			   uint32_t *len)
{
	struct acpi_raw_sdt h;
	const uint8_t *t;

	if (sig && !acpi_sig_ok(sig))
		return NULL;
	if (!phys) {
		acpi_diag(acpi, ACPI_DIAG_TABLE_NULL, sig, 0);
		return NULL;
	}
	if (!acpi_read_header(acpi, phys, sig, &h))
		return NULL;
	t = acpi_map(acpi, phys, h.length);
	if (!t) {
		acpi_diag(acpi, ACPI_DIAG_TABLE_UNMAPPED, h.signature, phys);
		return NULL;
	}
	if (acpi_sum(t, h.length)) {
		acpi_diag(acpi, ACPI_DIAG_TABLE_CHECKSUM, h.signature, phys);
		return NULL;
	}
	if (len)
		*len = h.length;
	return t;
}

/* --- RSDP and root table ------------------------------------------------ */

static int acpi_check_rsdp(struct acpi *acpi, const void *rsdp, size_t len,
			   struct acpi_raw_rsdp *r)
{
	if (!rsdp || len < ACPI_RSDP_V1_LEN) {
		acpi_diag(acpi, ACPI_DIAG_RSDP_SHORT, "RSDP", len);
		return -1;
	}
	memcpy(r, rsdp, MIN(len, sizeof(*r)));
	if (memcmp(r->signature, "RSD PTR ", sizeof(r->signature))) {
		acpi_diag(acpi, ACPI_DIAG_RSDP_SIGNATURE, "RSDP", 0);
		return -1;
	}
	if (acpi_sum(rsdp, ACPI_RSDP_V1_LEN)) {
		acpi_diag(acpi, ACPI_DIAG_RSDP_CHECKSUM, "RSDP", r->checksum);
		return -1;
	}
	return 0;
}

/* Revision 2+ adds a length and an extended checksum over that length; the
 * XSDT address is believed only when both check out against the copy we
 * were given (ACPI 6.5 5.2.5.3). Revision 1 does not exist; 0 is ACPI 1.0. */
static bool acpi_rsdp_xsdt_ok(struct acpi *acpi, const void *rsdp, size_t len,
			      const struct acpi_raw_rsdp *r)
{
	if (r->revision < 2)
		return false;
	if (len < sizeof(*r) || r->length < sizeof(*r) || r->length > len) {
		acpi_diag(acpi, ACPI_DIAG_RSDP_EXT_LENGTH, "RSDP",
			  len < sizeof(*r) ? len : r->length);
		return false;
	}
	if (acpi_sum(rsdp, r->length)) {
		acpi_diag(acpi, ACPI_DIAG_RSDP_EXT_CHECKSUM, "RSDP",
			  r->ext_checksum);
		return false;
	}
	return true;
}

/* Entry i of the XSDT (u64) or RSDT (u32); copying 4 bytes into the low
 * half of a zeroed u64 is right because x86 is little-endian. */
static uint64_t acpi_root_entry(const struct acpi *acpi, const uint8_t *root,
				uint32_t i)
{
	uint64_t phys = 0;

	memcpy(&phys, root + ACPI_SDT_HEADER_LEN + (size_t)i * acpi->root_entry_size,
	       acpi->root_entry_size);
	return phys;
}

/* Report root entries that can never be used, once, here; lookups later
 * skip them quietly. */
static void acpi_check_root_entries(struct acpi *acpi, const uint8_t *root,
				    const char *sig)
{
	for (uint32_t i = 0; i < acpi->nr_root_entries; i++) {
		uint64_t phys = acpi_root_entry(acpi, root, i);

		if (!phys)
			acpi_diag(acpi, ACPI_DIAG_TABLE_NULL, sig, i);
		else if (!acpi_map(acpi, phys, ACPI_SDT_HEADER_LEN))
			acpi_diag(acpi, ACPI_DIAG_TABLE_UNMAPPED, sig, phys);
	}
}

static bool acpi_use_root(struct acpi *acpi, uint64_t phys, const char *sig,
			  uint32_t entry_size)
{
	const uint8_t *root;
	uint32_t len, body, n;

	root = acpi_map_table(acpi, phys, sig, &len);
	if (!root)
		return false;
	body = len - ACPI_SDT_HEADER_LEN;
	if (body % entry_size)
		acpi_diag(acpi, ACPI_DIAG_ROOT_PARTIAL, sig, len);
	n = body / entry_size;
	if (n > ACPI_ROOT_MAX_ENTRIES) {
		acpi_diag(acpi, ACPI_DIAG_ROOT_TRUNCATED, sig, n);
		n = ACPI_ROOT_MAX_ENTRIES;
	}
	acpi->root_phys = phys;
	acpi->root_len = len;
	acpi->root_entry_size = entry_size;
	acpi->nr_root_entries = n;
	acpi_check_root_entries(acpi, root, sig);
	return true;
}

int acpi_init(struct acpi *acpi, const struct acpi_ops *ops,
	      const void *rsdp, size_t len)
{
	struct acpi_raw_rsdp r = { 0 };

	memset(acpi, 0, sizeof(*acpi));
	if (ops)
		acpi->ops = *ops;
	if (acpi_check_rsdp(acpi, rsdp, len, &r))
		return -1;
	acpi->rsdp_revision = r.revision;
	acpi_copy_text(acpi->oem_id, r.oem_id, sizeof(r.oem_id));
	if (acpi_rsdp_xsdt_ok(acpi, rsdp, len, &r)) {
		if (acpi_use_root(acpi, r.xsdt_addr, "XSDT", sizeof(uint64_t)))
			return 0;
		acpi_diag(acpi, ACPI_DIAG_XSDT_FALLBACK, "XSDT", r.xsdt_addr);
	}
	if (acpi_use_root(acpi, r.rsdt_addr, "RSDT", sizeof(uint32_t)))
		return 0;
	acpi_diag(acpi, ACPI_DIAG_NO_ROOT, "RSDP", r.rsdt_addr);
	return -1;
}

/* Peek at a listed table's signature without reporting anything: entries
 * that are 0 or unmapped were reported by acpi_init(). */
static bool acpi_entry_has_sig(struct acpi *acpi, uint64_t phys, const char *sig)
{
	const uint8_t *p;

	if (!phys)
		return false;
	p = acpi_map(acpi, phys, ACPI_SDT_HEADER_LEN);
	return p && !memcmp(p, sig, 4);
}

uint64_t acpi_find_table(struct acpi *acpi, const char *sig,
			 uint32_t instance, uint32_t *len)
{
	const uint8_t *root;

	if (!acpi_sig_ok(sig) || !acpi->root_entry_size)
		return 0;
	root = acpi_map(acpi, acpi->root_phys, acpi->root_len);
	if (!root)
		return 0;
	for (uint32_t i = 0; i < acpi->nr_root_entries; i++) {
		uint64_t phys = acpi_root_entry(acpi, root, i);

		if (!acpi_entry_has_sig(acpi, phys, sig))
			continue;
		if (!acpi_map_table(acpi, phys, sig, len))
			continue;
		if (instance-- == 0)
			return phys;
	}
	return 0;
}

/* --- MADT ------------------------------------------------------------ */

static bool acpi_cpu_known(const struct acpi_madt *madt, uint32_t apic_id)
{
	for (uint32_t i = 0; i < madt->nr_cpus; i++)
		if (madt->cpus[i].apic_id == apic_id)
			return true;
	return false;
}

/* A processor is listed when enabled or online capable; with neither flag
 * the entry is a placeholder OSPM must ignore (ACPI 6.5 5.2.12.2). Some
 * firmware lists one per possible socket population, so placeholders are
 * filtered first, before they can exhaust ACPI_MAX_CPUS. */
static void acpi_madt_add_cpu(struct acpi *acpi, struct acpi_madt *madt,
			      uint32_t apic_id, uint32_t uid, uint32_t flags,
			      bool x2apic)
{
	bool enabled = flags & ACPI_LAPIC_ENABLED;
	uint32_t broadcast = x2apic ? ACPI_X2APIC_BROADCAST_ID :
				      ACPI_XAPIC_BROADCAST_ID;

	if (!enabled && !(flags & ACPI_LAPIC_ONLINE_CAPABLE)) {
		madt->nr_cpus_unusable++;
		return;
	}
	if (apic_id == broadcast) {
		acpi_diag(acpi, ACPI_DIAG_CPU_BAD_ID, "APIC", apic_id);
		return;
	}
	if (acpi_cpu_known(madt, apic_id)) {
		acpi_diag(acpi, ACPI_DIAG_CPU_DUPLICATE, "APIC", apic_id);
		return;
	}
	if (madt->nr_cpus == ACPI_MAX_CPUS) {
		if (madt->nr_cpus_dropped++ == 0)
			acpi_diag(acpi, ACPI_DIAG_CPUS_TRUNCATED, "APIC", apic_id);
		return;
	}
	madt->cpus[madt->nr_cpus++] = (struct acpi_cpu){
		.apic_id = apic_id, .acpi_uid = uid, .enabled = enabled,
		.online_capable = !enabled, .x2apic = x2apic,
	};
}

typedef void acpi_madt_fn(struct acpi *acpi, struct acpi_madt *madt,
			  const uint8_t *entry);

static void acpi_madt_lapic(struct acpi *acpi, struct acpi_madt *madt,
			    const uint8_t *entry)
{
	struct acpi_raw_madt_lapic e;

	memcpy(&e, entry, sizeof(e));
	acpi_madt_add_cpu(acpi, madt, e.apic_id, e.acpi_uid, e.flags, false);
}

static void acpi_madt_x2apic(struct acpi *acpi, struct acpi_madt *madt,
			     const uint8_t *entry)
{
	struct acpi_raw_madt_x2apic e;

	memcpy(&e, entry, sizeof(e));
	acpi_madt_add_cpu(acpi, madt, e.x2apic_id, e.acpi_uid, e.flags, true);
}

static void acpi_madt_ioapic(struct acpi *acpi, struct acpi_madt *madt,
			     const uint8_t *entry)
{
	struct acpi_raw_madt_ioapic e;

	memcpy(&e, entry, sizeof(e));
	if (madt->nr_ioapics == ACPI_MAX_IOAPICS) {
		if (madt->nr_ioapics_dropped++ == 0)
			acpi_diag(acpi, ACPI_DIAG_IOAPICS_TRUNCATED, "APIC", e.id);
		return;
	}
	madt->ioapics[madt->nr_ioapics++] = (struct acpi_ioapic){
		.id = e.id, .addr = e.addr, .gsi_base = e.gsi_base,
	};
}

static void acpi_madt_iso(struct acpi *acpi, struct acpi_madt *madt,
			  const uint8_t *entry)
{
	struct acpi_raw_madt_iso e;

	memcpy(&e, entry, sizeof(e));
	if (madt->nr_overrides == ACPI_MAX_OVERRIDES) {
		if (madt->nr_overrides_dropped++ == 0)
			acpi_diag(acpi, ACPI_DIAG_OVERRIDES_TRUNCATED, "APIC",
				  e.source);
		return;
	}
	madt->overrides[madt->nr_overrides++] = (struct acpi_irq_override){
		.bus = e.bus, .source = e.source, .gsi = e.gsi, .flags = e.flags,
	};
}

/* At most one type-5 entry may exist; it replaces the 32-bit address in
 * the MADT head (ACPI 6.5 5.2.12.8). */
static void acpi_madt_lapic_addr(struct acpi *acpi, struct acpi_madt *madt,
				 const uint8_t *entry)
{
	struct acpi_raw_madt_lapic_addr e;

	memcpy(&e, entry, sizeof(e));
	if (madt->lapic_addr_overridden) {
		acpi_diag(acpi, ACPI_DIAG_LAPIC_OVERRIDE_DUP, "APIC", e.addr);
		return;
	}
	madt->lapic_addr = e.addr;
	madt->lapic_addr_overridden = true;
}

/* Entry types Keel reads, indexed by type; the rest are skipped by length. */
static const struct acpi_madt_kind {
	uint8_t min_len;
	acpi_madt_fn *parse;
} acpi_madt_kinds[] = {
	[ACPI_MADT_LAPIC] = { sizeof(struct acpi_raw_madt_lapic), acpi_madt_lapic },
	[ACPI_MADT_IOAPIC] = { sizeof(struct acpi_raw_madt_ioapic),
			       acpi_madt_ioapic },
	[ACPI_MADT_ISO] = { sizeof(struct acpi_raw_madt_iso), acpi_madt_iso },
	[ACPI_MADT_LAPIC_ADDR] = { sizeof(struct acpi_raw_madt_lapic_addr),
				   acpi_madt_lapic_addr },
	[ACPI_MADT_X2APIC] = { sizeof(struct acpi_raw_madt_x2apic),
			       acpi_madt_x2apic },
};

static void acpi_madt_entry(struct acpi *acpi, struct acpi_madt *madt,
			    const uint8_t *entry, struct acpi_raw_madt_entry e,
			    uint32_t off)
{
	const struct acpi_madt_kind *k;

	if (e.type >= ARRAY_SIZE(acpi_madt_kinds) || !acpi_madt_kinds[e.type].parse)
		return;
	k = &acpi_madt_kinds[e.type];
	if (e.length < k->min_len) {
		acpi_diag(acpi, ACPI_DIAG_MADT_ENTRY_SHORT, "APIC", off);
		return;
	}
	k->parse(acpi, madt, entry);
}

/* Entries follow the 44-byte head back to back, each starting with type and
 * length. A length below 2 or past the table leaves no way to find the next
 * entry, so the walk stops there. */
static void acpi_madt_walk(struct acpi *acpi, struct acpi_madt *madt,
			   const uint8_t *t, uint32_t len)
{
	uint32_t off = sizeof(struct acpi_raw_madt);
	struct acpi_raw_madt_entry e;

	while (off < len) {
		if (len - off < sizeof(e)) {
			acpi_diag(acpi, ACPI_DIAG_MADT_ENTRY_LENGTH, "APIC", off);
			return;
		}
		memcpy(&e, t + off, sizeof(e));
		if (e.length < sizeof(e) || e.length > len - off) {
			acpi_diag(acpi, ACPI_DIAG_MADT_ENTRY_LENGTH, "APIC", off);
			return;
		}
		acpi_madt_entry(acpi, madt, t + off, e, off);
		off += e.length;
	}
}

static int acpi_parse_madt_at(struct acpi *acpi, struct acpi_madt *madt,
			      uint64_t phys)
{
	struct acpi_raw_madt head;
	const uint8_t *t;
	uint32_t len;

	t = acpi_map_table(acpi, phys, "APIC", &len);
	if (!t)
		return -1;
	if (len < sizeof(head)) {
		acpi_diag(acpi, ACPI_DIAG_MADT_SHORT, "APIC", len);
		return -1;
	}
	memcpy(&head, t, sizeof(head));
	memset(madt, 0, sizeof(*madt));
	madt->phys = phys;
	madt->lapic_addr = head.lapic_addr;
	madt->flags = head.flags;
	acpi_madt_walk(acpi, madt, t, len);
	return 0;
}

int acpi_parse_madt(struct acpi *acpi, struct acpi_madt *madt)
{
	uint64_t phys;

	memset(madt, 0, sizeof(*madt));
	for (uint32_t i = 0; (phys = acpi_find_table(acpi, "APIC", i, NULL)); i++)
		if (acpi_parse_madt_at(acpi, madt, phys) == 0)
			return 0;
	acpi_diag(acpi, ACPI_DIAG_TABLE_MISSING, "APIC", 0);
	return -1;
}
