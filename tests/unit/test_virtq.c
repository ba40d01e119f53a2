/* Host tests for the split virtqueue (guest/virtq.c) against a fake guest
 * RAM: RAM_SIZE bytes at RAM_GPA with one page missing (the hole). The
 * fake's read and write refuse anything not wholly RAM, abort on calls
 * the library should never make, and count what they were asked. */
#include "test.h"
#include "guest/virtq.h"

#define RAM_GPA         0x100000ULL
#define RAM_SIZE        0x100000ULL                     /* 1 MiB */
#define RAM_END         (RAM_GPA + RAM_SIZE)
#define HOLE_GPA        (RAM_GPA + 0x80000)             /* one page */
#define HOLE_END        (HOLE_GPA + 0x1000)
#define DESC_GPA        (RAM_GPA + 0x0000)              /* 16 * 256 */
#define AVAIL_GPA       (RAM_GPA + 0x1000)
#define USED_GPA        (RAM_GPA + 0x2000)
#define DATA_GPA        (RAM_GPA + 0x4000)
#define RING_BYTES      (DATA_GPA - RAM_GPA)

struct fake {
	uint8_t ram[RAM_SIZE];
	bool forbid_write;          /* abort on a write (inside virtq_pop) */
	uint64_t ops, max_ops;      /* abort past max_ops calls (no hang) */
	uint64_t writes_to[4];      /* gpas of the first writes, in order */
	unsigned int writes;
	uint64_t reads_at[RING_BYTES / 2]; /* ring reads by 2-byte gpa */
};

static struct fake fake;

static void fake_fail(const char *why, uint64_t gpa, uint64_t len)
{
	printf("fake RAM: %s at 0x%llx len 0x%llx\n", why,
	       (unsigned long long)gpa, (unsigned long long)len);
	abort();
}

static bool is_fake_ram(uint64_t gpa, uint64_t len)
{
	if (gpa < RAM_GPA || len > RAM_SIZE || gpa - RAM_GPA > RAM_SIZE - len)
		return false;
	return gpa + len <= HOLE_GPA || gpa >= HOLE_END;
}

static void fake_count(const void *buf, uint64_t gpa, uint64_t len)
{
	if (!buf || !len)
		fake_fail("empty or NULL access", gpa, len);
	if (fake.max_ops && ++fake.ops > fake.max_ops)
		fake_fail("too many accesses", gpa, len);
}

static bool fake_read(void *ctx, uint64_t gpa, void *buf, uint64_t len)
{
	(void)ctx;
	fake_count(buf, gpa, len);
	if (!is_fake_ram(gpa, len))
		return false;
	if (gpa < DATA_GPA)
		fake.reads_at[(gpa - RAM_GPA) / 2]++;
	memcpy(buf, fake.ram + (gpa - RAM_GPA), len);
	return true;
}

static bool fake_write(void *ctx, uint64_t gpa, const void *buf, uint64_t len)
{
	(void)ctx;
	fake_count(buf, gpa, len);
	if (fake.forbid_write)
		fake_fail("write while forbidden", gpa, len);
	if (fake.writes < ARRAY_SIZE(fake.writes_to))
		fake.writes_to[fake.writes] = gpa;
	fake.writes++;
	if (!is_fake_ram(gpa, len))
		return false;
	memcpy(fake.ram + (gpa - RAM_GPA), buf, len);
	return true;
}

static const struct virtq_mem mem = { &fake, fake_read, fake_write };

static uint8_t *at(uint64_t gpa)
{
	return fake.ram + (gpa - RAM_GPA);
}

static void put_le(uint64_t gpa, uint64_t v, unsigned int bytes)
{
	memcpy(at(gpa), &v, bytes);
}

static uint64_t get_le(uint64_t gpa, unsigned int bytes)
{
	uint64_t v = 0;

	memcpy(&v, at(gpa), bytes);
	return v;
}

/* A queue of the given size at the standard place, rings zeroed. */
static struct virtq fresh_queue(uint16_t size)
{
	memset(fake.ram, 0, RING_BYTES);
	memset(fake.reads_at, 0, sizeof(fake.reads_at));
	fake.forbid_write = false;
	fake.ops = fake.max_ops = 0;
	fake.writes = 0;
	return (struct virtq){ .size = size, .desc = DESC_GPA,
			       .avail = AVAIL_GPA, .used = USED_GPA };
}

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint64_t d = DESC_GPA + VIRTQ_DESC_SIZE * (uint64_t)i;

	put_le(d + VIRTQ_DESC_ADDR, addr, 8);
	put_le(d + VIRTQ_DESC_LEN, len, 4);
	put_le(d + VIRTQ_DESC_FLAGS, flags, 2);
	put_le(d + VIRTQ_DESC_NEXT, next, 2);
}

/* The driver's side of 2.7.13: head in the next slot, then idx. */
static void make_avail(const struct virtq *q, uint16_t head)
{
	uint16_t idx = get_le(AVAIL_GPA + VIRTQ_RING_IDX, 2);

	put_le(AVAIL_GPA + VIRTQ_RING_ENTRIES + 2 * (idx % q->size), head, 2);
	put_le(AVAIL_GPA + VIRTQ_RING_IDX, (uint16_t)(idx + 1), 2);
}

static void set_avail_idx(uint16_t idx)
{
	put_le(AVAIL_GPA + VIRTQ_RING_IDX, idx, 2);
}

/* Pops the one chain made of descriptor head alone. */
static int pop_one(uint16_t size, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct virtq q = fresh_queue(size);
	struct virtq_chain c;

	set_desc(0, addr, len, flags, 0);
	make_avail(&q, 0);
	return virtq_pop(&q, &mem, &c);
}

/* ---- set-up ---- */

TEST(check_accepts_every_offered_size)
{
	for (unsigned int size = 1; size <= VIRTQ_MAX_SIZE; size *= 2) {
		struct virtq q = fresh_queue(size);

		EXPECT_EQ(virtq_check(&q, &mem), 0);
	}
}

/* Offsets from the standard places that break one alignment of 2.7. */
static const struct { uint64_t desc, avail, used; int want; } misaligned[] = {
	{ 8, 0, 0, VIRTQ_E_SETUP }, { 0, 1, 0, VIRTQ_E_SETUP },
	{ 0, 0, 2, VIRTQ_E_SETUP }, { 0, 2, 4, 0 }, { 16, 0, 0, 0 },
};

TEST(check_refuses_sizes_and_alignments)
{
	static const uint16_t bad_sizes[] = { 0, 3, 6, 100, 257, 512, 32768 };
	struct virtq q;

	for (unsigned int i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
		q = fresh_queue(bad_sizes[i]);
		EXPECT_EQ(virtq_check(&q, &mem), VIRTQ_E_SETUP);
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(misaligned); i++) {
		q = fresh_queue(8);
		q.desc += misaligned[i].desc;
		q.avail += misaligned[i].avail;
		q.used += misaligned[i].used;
		EXPECT_EQ(virtq_check(&q, &mem), misaligned[i].want);
	}
}

TEST(check_refuses_rings_outside_ram)
{
	struct virtq q = fresh_queue(256);

	q.desc = HOLE_GPA;
	EXPECT_EQ(virtq_check(&q, &mem), VIRTQ_E_RAM);
	q = fresh_queue(256);
	q.used = RAM_END - 0x800;                       /* straddles the end */
	EXPECT_EQ(virtq_check(&q, &mem), VIRTQ_E_RAM);
	q.used = RAM_END - VIRTQ_USED_BYTES(256) - 2;   /* just fits, aligned */
	EXPECT_EQ(virtq_check(&q, &mem), 0);
	q.avail = HOLE_GPA - 4;                         /* runs into the hole */
	EXPECT_EQ(virtq_check(&q, &mem), VIRTQ_E_RAM);
	q = fresh_queue(256);
	q.desc = 0xfffffffffffff000ULL;                 /* wraps 2^64 */
	EXPECT_EQ(virtq_check(&q, &mem), VIRTQ_E_RAM);
	q = fresh_queue(2);
	q.avail = 0;                                    /* below RAM */
	EXPECT_EQ(virtq_check(&q, &mem), VIRTQ_E_RAM);
}

/* ---- taking chains ---- */

TEST(pop_empty_queue_gives_nothing)
{
	struct virtq q = fresh_queue(8);
	struct virtq_chain c;

	EXPECT_EQ(virtq_pop(&q, &mem, &c), 0);
	EXPECT_EQ(q.last_avail, 0);
}

TEST(pop_readable_then_writable_chain)
{
	struct virtq q = fresh_queue(8);
	struct virtq_chain c;

	set_desc(5, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(2, DATA_GPA + 0x100, 512, VIRTQ_DESC_F_NEXT, 7);
	set_desc(7, DATA_GPA + 0x1000, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	set_desc(0, DATA_GPA + 0x2000, 4096, VIRTQ_DESC_F_WRITE, 3);
	make_avail(&q, 5);
	ASSERT(virtq_pop(&q, &mem, &c) == 1);
	EXPECT_EQ(c.head, 5);
	EXPECT_EQ(c.n, 4);
	EXPECT_EQ(c.out_len, 16 + 512);
	EXPECT_EQ(c.in_len, 1 + 4096);
	EXPECT_EQ(c.bufs[1].gpa, DATA_GPA + 0x100);
	EXPECT(!c.bufs[1].write && c.bufs[2].write);
	EXPECT_EQ(c.bufs[3].len, 4096);
	EXPECT_EQ(q.last_avail, 1);
	EXPECT_EQ(virtq_pop(&q, &mem, &c), 0);
}

TEST(pop_skips_zero_length_buffers)
{
	struct virtq q = fresh_queue(4);
	struct virtq_chain c;

	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, HOLE_GPA, 0, VIRTQ_DESC_F_NEXT, 2);   /* not RAM: unused */
	set_desc(2, DATA_GPA + 8, 8, VIRTQ_DESC_F_WRITE, 0);
	make_avail(&q, 0);
	ASSERT(virtq_pop(&q, &mem, &c) == 1);
	EXPECT_EQ(c.n, 2);
	EXPECT_EQ(c.bufs[1].gpa, DATA_GPA + 8);
	EXPECT_EQ(c.out_len + c.in_len, 16);
}

TEST(pop_and_push_wrap_the_16_bit_indices)
{
	struct virtq q = fresh_queue(4);
	struct virtq_chain c;
	uint16_t heads[3] = { 3, 1, 2 };

	q.last_avail = 0xfffe;
	q.used_idx = 0xffff;
	set_avail_idx(0xfffe);
	for (int i = 0; i < 3; i++) {
		set_desc(heads[i], DATA_GPA + 64 * i, 64, 0, 0);
		make_avail(&q, heads[i]);
	}
	EXPECT_EQ(get_le(AVAIL_GPA + VIRTQ_RING_IDX, 2), 1);
	for (int i = 0; i < 3; i++) {
		ASSERT(virtq_pop(&q, &mem, &c) == 1);
		EXPECT_EQ(c.head, heads[i]);
		EXPECT_EQ(c.bufs[0].gpa, DATA_GPA + 64 * i);
		ASSERT(virtq_push(&q, &mem, c.head, 7 + i) == 0);
	}
	EXPECT_EQ(virtq_pop(&q, &mem, &c), 0);
	EXPECT_EQ(q.last_avail, 1);
	EXPECT_EQ(q.used_idx, 2);
	EXPECT_EQ(get_le(USED_GPA + VIRTQ_RING_IDX, 2), 2);
	/* 0xffff went to slot 3, 0x0000 to slot 0, 0x0001 to slot 1. */
	EXPECT_EQ(get_le(USED_GPA + 4 + 8 * 3, 4), 3);
	EXPECT_EQ(get_le(USED_GPA + 4 + 8 * 0, 4), 1);
	EXPECT_EQ(get_le(USED_GPA + 4 + 8 * 1, 4), 2);
	EXPECT_EQ(get_le(USED_GPA + 4 + 8 * 1 + 4, 4), 9);
}

TEST(pop_refuses_avail_index_jumps)
{
	static const uint16_t jumps[] = { 9, 0x100, 0x8000, 0xffff };
	struct virtq q = fresh_queue(8);
	struct virtq_chain c;

	for (int i = 0; i < 8; i++)
		set_desc(i, DATA_GPA, 1, 0, 0);
	q.last_avail = 0xfffc;
	for (unsigned int i = 0; i < ARRAY_SIZE(jumps); i++) {
		set_avail_idx((uint16_t)(q.last_avail + jumps[i]));
		EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_AVAIL);
		EXPECT_EQ(q.last_avail, 0xfffc);
	}
	set_avail_idx((uint16_t)(q.last_avail + 8));    /* a full ring is fine */
	for (int i = 0; i < 8; i++)
		EXPECT_EQ(virtq_pop(&q, &mem, &c), 1);
	EXPECT_EQ(virtq_pop(&q, &mem, &c), 0);
}

TEST(pop_refuses_indices_out_of_range)
{
	struct virtq q = fresh_queue(8);
	struct virtq_chain c;

	make_avail(&q, 8);                               /* head */
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_INDEX);
	EXPECT_EQ(q.last_avail, 0);
	q = fresh_queue(8);
	set_desc(1, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 2);
	set_desc(2, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 0xffff);  /* next */
	make_avail(&q, 1);
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_INDEX);
}

TEST(pop_refuses_loops)
{
	struct virtq q = fresh_queue(256);
	struct virtq_chain c;

	set_desc(0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 0);  /* itself */
	make_avail(&q, 0);
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_LOOP);
	/* 10 -> 11 -> ... -> 19 -> 12: a loop, not just a long chain. */
	q = fresh_queue(256);
	for (int i = 10; i < 20; i++)
		set_desc(i, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, i == 19 ? 12 : i + 1);
	make_avail(&q, 10);
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_LOOP);
	/* A whole 4-entry table in a ring. */
	q = fresh_queue(4);
	for (int i = 0; i < 4; i++)
		set_desc(i, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, (i + 1) % 4);
	make_avail(&q, 2);
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_LOOP);
}

/* A chain of n descriptors from 0 in a queue of size, all readable. */
static int pop_long_chain(uint16_t size, unsigned int n, struct virtq_chain *c)
{
	struct virtq q = fresh_queue(size);

	for (unsigned int i = 0; i < n; i++)
		set_desc(i, DATA_GPA + 16 * i, 16,
			 i + 1 < n ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	make_avail(&q, 0);
	return virtq_pop(&q, &mem, c);
}

TEST(pop_chain_of_the_maximum_length_and_one_more)
{
	struct virtq_chain c;

	ASSERT(pop_long_chain(128, VIRTQ_CHAIN_MAX, &c) == 1);
	EXPECT_EQ(c.n, VIRTQ_CHAIN_MAX);
	EXPECT_EQ(c.out_len, 16 * VIRTQ_CHAIN_MAX);
	EXPECT_EQ(c.bufs[VIRTQ_CHAIN_MAX - 1].gpa,
		  DATA_GPA + 16 * (VIRTQ_CHAIN_MAX - 1));
	EXPECT_EQ(pop_long_chain(128, VIRTQ_CHAIN_MAX + 1, &c), VIRTQ_E_LENGTH);
	EXPECT_EQ(pop_long_chain(256, 256, &c), VIRTQ_E_LENGTH);
	ASSERT(pop_long_chain(16, 16, &c) == 1);        /* a whole small table */
	EXPECT_EQ(c.n, 16);
}

TEST(pop_refuses_indirect_descriptors)
{
	EXPECT_EQ(pop_one(8, DATA_GPA, 16, VIRTQ_DESC_F_INDIRECT), VIRTQ_E_INDIRECT);
	EXPECT_EQ(pop_one(8, DATA_GPA, 0, VIRTQ_DESC_F_INDIRECT), VIRTQ_E_INDIRECT);
}

TEST(pop_refuses_readable_after_writable)
{
	struct virtq q = fresh_queue(8);
	struct virtq_chain c;

	set_desc(0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	set_desc(2, DATA_GPA, 4, 0, 0);
	make_avail(&q, 0);
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_ORDER);
	set_desc(2, DATA_GPA, 0, 0, 0);                  /* even an empty one */
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_ORDER);
}

/* Two buffers in one direction adding up to total bytes. */
static int pop_two(uint32_t first, uint32_t second, uint16_t flags)
{
	struct virtq q = fresh_queue(8);
	struct virtq_chain c;

	set_desc(0, DATA_GPA, first, VIRTQ_DESC_F_NEXT | flags, 1);
	set_desc(1, DATA_GPA, second, flags, 0);
	make_avail(&q, 0);
	return virtq_pop(&q, &mem, &c);
}

TEST(pop_refuses_4_gib_in_one_direction)
{
	EXPECT_EQ(pop_two(0x1000, 0xfffff000, 0), VIRTQ_E_LENGTH);
	EXPECT_EQ(pop_two(0x1000, 0xfffff000, VIRTQ_DESC_F_WRITE), VIRTQ_E_LENGTH);
	EXPECT_EQ(pop_two(1, 0xffffffff, 0), VIRTQ_E_LENGTH);
	/* One byte less passes the length rule and fails on RAM. */
	EXPECT_EQ(pop_two(0x1000, 0xffffefff, 0), VIRTQ_E_RAM);
	EXPECT_EQ(pop_two(0x1000, 0x2000, 0), 1);
}

TEST(pop_refuses_buffers_outside_ram)
{
	EXPECT_EQ(pop_one(8, RAM_END - 16, 16, 0), 1);          /* ends at end */
	EXPECT_EQ(pop_one(8, RAM_END - 16, 17, 0), VIRTQ_E_RAM);/* straddles */
	EXPECT_EQ(pop_one(8, RAM_END - 1, 0x10000, VIRTQ_DESC_F_WRITE), VIRTQ_E_RAM);
	EXPECT_EQ(pop_one(8, RAM_END, 1, 0), VIRTQ_E_RAM);
	EXPECT_EQ(pop_one(8, RAM_GPA - 1, 2, 0), VIRTQ_E_RAM);
	EXPECT_EQ(pop_one(8, HOLE_GPA + 100, 1, 0), VIRTQ_E_RAM);
	EXPECT_EQ(pop_one(8, HOLE_GPA - 1, 2, 0), VIRTQ_E_RAM); /* into hole */
	EXPECT_EQ(pop_one(8, HOLE_GPA - 0x3000, 0x6000, 0), VIRTQ_E_RAM);
	EXPECT_EQ(pop_one(8, HOLE_GPA - 0x3000, 0x3000, 0), 1); /* up to it */
	EXPECT_EQ(pop_one(8, ~0ULL - 4, 0x10, 0), VIRTQ_E_RAM); /* wraps */
	EXPECT_EQ(pop_one(8, RAM_GPA, (uint32_t)RAM_SIZE, 0), VIRTQ_E_RAM);
}

TEST(pop_refuses_rings_outside_ram)
{
	struct virtq q = fresh_queue(8);
	struct virtq_chain c;

	set_desc(0, DATA_GPA, 4, 0, 0);
	make_avail(&q, 0);
	q.desc = HOLE_GPA;
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_RAM);
	q.desc = DESC_GPA;
	q.avail = RAM_END - 2;                          /* idx past the end */
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_RAM);
	EXPECT_EQ(q.last_avail, 0);
}

TEST(pop_refuses_a_queue_not_set_up)
{
	struct virtq q = fresh_queue(0);
	struct virtq_chain c;

	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_SETUP);
	q.size = 12;
	EXPECT_EQ(virtq_pop(&q, &mem, &c), VIRTQ_E_SETUP);
	EXPECT_EQ(virtq_push(&q, &mem, 0, 0), VIRTQ_E_SETUP);
	EXPECT(!virtq_need_interrupt(&q, &mem, 0xffff));
}

/* Each ring field is read once, so a driver changing it meanwhile cannot
 * pass one value to the check and another to the use. */
TEST(pop_reads_each_ring_field_once)
{
	struct virtq q = fresh_queue(8);
	struct virtq_chain c;

	for (int i = 0; i < 5; i++)
		set_desc(i, DATA_GPA + 0x10000, 4, i < 4 ? VIRTQ_DESC_F_NEXT : 0,
			 i + 1);
	make_avail(&q, 0);
	ASSERT(virtq_pop(&q, &mem, &c) == 1);
	EXPECT_EQ(fake.reads_at[(AVAIL_GPA + VIRTQ_RING_IDX - RAM_GPA) / 2], 1);
	EXPECT_EQ(fake.reads_at[(AVAIL_GPA + VIRTQ_RING_ENTRIES - RAM_GPA) / 2], 1);
	for (int i = 0; i < 5; i++)
		EXPECT_EQ(fake.reads_at[(DESC_GPA - RAM_GPA) / 2 + 8 * i], 1);
	for (int i = 0; i < 8; i++)
		EXPECT_EQ(fake.reads_at[(DESC_GPA - RAM_GPA) / 2 + 8 * i + 1], 0);
}

/* ---- giving chains back, interrupts ---- */

TEST(push_writes_the_entry_then_idx)
{
	struct virtq q = fresh_queue(8);

	q.used_idx = 6;
	ASSERT(virtq_push(&q, &mem, 5, 0x1234) == 0);
	EXPECT_EQ(get_le(USED_GPA + 4 + 8 * 6, 4), 5);
	EXPECT_EQ(get_le(USED_GPA + 4 + 8 * 6 + 4, 4), 0x1234);
	EXPECT_EQ(get_le(USED_GPA + VIRTQ_RING_IDX, 2), 7);
	EXPECT_EQ(q.used_idx, 7);
	EXPECT_EQ(fake.writes, 2);
	EXPECT_EQ(fake.writes_to[0], USED_GPA + 4 + 8 * 6);
	EXPECT_EQ(fake.writes_to[1], USED_GPA + VIRTQ_RING_IDX);
	q.used = HOLE_GPA;
	EXPECT_EQ(virtq_push(&q, &mem, 5, 1), VIRTQ_E_RAM);
	EXPECT_EQ(q.used_idx, 7);
}

/* need_interrupt after pushing from old to new with used_event = event. */
static bool interrupt_with_event(uint16_t event, uint16_t old, uint16_t n)
{
	struct virtq q = fresh_queue(8);

	q.event_idx = true;
	q.used_idx = old;
	put_le(AVAIL_GPA + VIRTQ_USED_EVENT(8), event, 2);
	put_le(AVAIL_GPA + VIRTQ_RING_FLAGS, VIRTQ_AVAIL_F_NO_INTERRUPT, 2);
	for (uint16_t i = 0; i < n; i++)
		if (virtq_push(&q, &mem, 0, 0))
			return false;
	return virtq_need_interrupt(&q, &mem, old);
}

/* vring_need_event (2.7.7): an interrupt when used_event is in [old, new). */
TEST(event_idx_decides_from_used_event)
{
	EXPECT(interrupt_with_event(5, 5, 1));
	EXPECT(!interrupt_with_event(6, 5, 1));
	EXPECT(interrupt_with_event(7, 5, 3));
	EXPECT(!interrupt_with_event(8, 5, 3));
	EXPECT(!interrupt_with_event(4, 5, 3));         /* already passed */
	EXPECT(!interrupt_with_event(5, 5, 0));         /* nothing pushed */
	EXPECT(interrupt_with_event(0xffff, 0xfffe, 3));/* across the wrap */
	EXPECT(interrupt_with_event(0x0000, 0xfffe, 3));
	EXPECT(!interrupt_with_event(0x0001, 0xfffe, 3));
	EXPECT(!interrupt_with_event(0xfffd, 0xfffe, 3));
}

static bool interrupt_with_flags(uint16_t flags, uint16_t n)
{
	struct virtq q = fresh_queue(8);

	put_le(AVAIL_GPA + VIRTQ_RING_FLAGS, flags, 2);
	put_le(AVAIL_GPA + VIRTQ_USED_EVENT(8), 0, 2);  /* ignored */
	for (uint16_t i = 0; i < n; i++)
		if (virtq_push(&q, &mem, 0, 0))
			return false;
	return virtq_need_interrupt(&q, &mem, 0);
}

TEST(no_interrupt_flag_without_event_idx)
{
	EXPECT(interrupt_with_flags(0, 1));
	EXPECT(!interrupt_with_flags(VIRTQ_AVAIL_F_NO_INTERRUPT, 1));
	EXPECT(interrupt_with_flags(0xfffe, 2));        /* other bits: no say */
	EXPECT(!interrupt_with_flags(0, 0));
}

TEST(need_interrupt_when_ring_unreadable)
{
	struct virtq q = fresh_queue(8);

	q.used_idx = 1;
	q.avail = HOLE_GPA;
	EXPECT(virtq_need_interrupt(&q, &mem, 0));
	q.event_idx = true;
	EXPECT(virtq_need_interrupt(&q, &mem, 0));
}

TEST(set_avail_event_only_with_event_idx)
{
	struct virtq q = fresh_queue(16);

	q.last_avail = 0x4321;
	EXPECT_EQ(virtq_set_avail_event(&q, &mem), 0);
	EXPECT_EQ(get_le(USED_GPA + VIRTQ_AVAIL_EVENT(16), 2), 0);
	q.event_idx = true;
	EXPECT_EQ(virtq_set_avail_event(&q, &mem), 0);
	EXPECT_EQ(get_le(USED_GPA + VIRTQ_AVAIL_EVENT(16), 2), 0x4321);
	EXPECT_EQ(get_le(USED_GPA + 4 + 8 * 16 - 2, 2), 0);  /* ring untouched */
	q.used = HOLE_GPA;
	EXPECT_EQ(virtq_set_avail_event(&q, &mem), VIRTQ_E_RAM);
}

/* ---- copies ---- */

/* Readable 3, 5, 8 bytes, writable 4, 6, as one popped chain. */
static struct virtq_chain copy_chain(void)
{
	static const uint32_t lens[] = { 3, 5, 8, 4, 6 };
	struct virtq q = fresh_queue(8);
	struct virtq_chain c = { 0 };

	memset(at(DATA_GPA), 0, 0x500);
	for (int i = 0; i < 5; i++)
		set_desc(i, DATA_GPA + 0x100 * i, lens[i],
			 (i < 4 ? VIRTQ_DESC_F_NEXT : 0) |
			 (i >= 3 ? VIRTQ_DESC_F_WRITE : 0), i + 1);
	for (int i = 0; i < 3; i++)
		for (uint32_t j = 0; j < lens[i]; j++)
			*at(DATA_GPA + 0x100 * i + j) = (uint8_t)(0x10 * i + j);
	make_avail(&q, 0);
	if (virtq_pop(&q, &mem, &c) != 1)
		c.n = 0;
	return c;
}

TEST(chain_read_across_buffers)
{
	struct virtq_chain c = copy_chain();
	static const uint8_t want[] = { 2, 0x10, 0x11, 0x12, 0x13, 0x14,
					0x20, 0x21, 0x22 };
	uint8_t got[32];

	ASSERT(c.n == 5 && c.out_len == 16 && c.in_len == 10);
	memset(got, 0xee, sizeof(got));
	EXPECT_EQ(virtq_chain_read(&c, &mem, 2, got, sizeof(want)), sizeof(want));
	EXPECT(!memcmp(got, want, sizeof(want)));
	EXPECT_EQ(got[sizeof(want)], 0xee);
	EXPECT_EQ(virtq_chain_read(&c, &mem, 14, got, 10), 2);  /* short */
	EXPECT_EQ(got[1], 0x27);
	EXPECT_EQ(virtq_chain_read(&c, &mem, 16, got, 10), 0);
	EXPECT_EQ(virtq_chain_read(&c, &mem, ~0ULL, got, 10), 0);
	EXPECT_EQ(virtq_chain_read(&c, &mem, 0, got, 0), 0);
	EXPECT_EQ(virtq_chain_read(&c, &mem, 0, got, sizeof(got)), 16);
}

TEST(chain_write_across_buffers)
{
	struct virtq_chain c = copy_chain();
	uint8_t src[16];

	ASSERT(c.n == 5);
	for (int i = 0; i < 16; i++)
		src[i] = (uint8_t)(0xa0 + i);
	EXPECT_EQ(virtq_chain_write(&c, &mem, 3, src, 5), 5);
	EXPECT_EQ(*at(DATA_GPA + 0x300 + 2), 0);        /* before off */
	EXPECT_EQ(*at(DATA_GPA + 0x300 + 3), 0xa0);
	EXPECT_EQ(*at(DATA_GPA + 0x400 + 0), 0xa1);
	EXPECT_EQ(*at(DATA_GPA + 0x400 + 3), 0xa4);
	EXPECT_EQ(*at(DATA_GPA + 0x400 + 4), 0);
	EXPECT_EQ(virtq_chain_write(&c, &mem, 0, src, sizeof(src)), 10);
	EXPECT_EQ(*at(DATA_GPA + 0x400 + 5), 0xa9);
	EXPECT_EQ(*at(DATA_GPA + 0x400 + 6), 0);        /* past the buffer */
	EXPECT_EQ(*at(DATA_GPA), 0);                    /* readable: untouched */
	EXPECT_EQ(virtq_chain_write(&c, &mem, 10, src, 4), 0);
}

TEST(chain_copies_fail_where_ram_refuses)
{
	struct virtq_chain c = { .n = 2 };
	uint8_t buf[8] = { 0 };

	c.bufs[0] = (struct virtq_buf){ DATA_GPA, 4, false };
	c.bufs[1] = (struct virtq_buf){ HOLE_GPA, 4, true };
	EXPECT_EQ(virtq_chain_read(&c, &mem, 0, buf, 8), 4);
	EXPECT_EQ(virtq_chain_write(&c, &mem, 0, buf, 8), -1);
	c.bufs[0].gpa = RAM_END - 2;
	EXPECT_EQ(virtq_chain_read(&c, &mem, 1, buf, 8), -1);
}

TEST(error_names)
{
	EXPECT(!strcmp(virtq_error_name(VIRTQ_E_AVAIL), "avail index jumped"));
	EXPECT(!strcmp(virtq_error_name(VIRTQ_E_LOOP), "descriptor loop"));
	EXPECT(!strcmp(virtq_error_name(0), "unknown error"));
	EXPECT(!strcmp(virtq_error_name(-VIRTQ_E_COUNT - 1), "unknown error"));
	for (int e = -1; e >= -VIRTQ_E_COUNT; e--) {
		EXPECT(strcmp(virtq_error_name(e), "unknown error"));
		for (int f = e + 1; f < 0; f++)
			EXPECT(strcmp(virtq_error_name(e), virtq_error_name(f)));
	}
}

/* ---- random descriptor tables ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t xorshift(void)
{
	return test_xorshift(&rng_state);
}

static uint64_t pick(uint64_t n)
{
	return xorshift() % n;
}

/* Mostly plausible, sometimes hostile: near the hole, the end, 2^64. */
static uint64_t random_addr(void)
{
	static const uint64_t spots[] = { RAM_GPA, HOLE_GPA, HOLE_END, RAM_END,
					  0, ~0ULL - 0xfff, DATA_GPA };

	if (pick(4))
		return DATA_GPA + pick(RAM_SIZE - 0x4000);
	return spots[pick(ARRAY_SIZE(spots))] + pick(0x2000) - 0x1000;
}

static uint32_t random_len(void)
{
	switch (pick(6)) {
	case 0:  return 0;
	case 1:  return pick(2) ? (uint32_t)xorshift() : UINT32_MAX - pick(0x1000);
	case 2:  return (uint32_t)pick(0x20000);
	default: return (uint32_t)pick(0x400) + 1;
	}
}

/* Some tables link i to i + 1 (long chains), others at random (loops). */
static void random_table(uint16_t size)
{
	bool linked = !pick(4);

	for (uint16_t i = 0; i < size; i++) {
		uint16_t flags = pick(8) ? pick(4) : (uint16_t)xorshift();
		uint16_t next = pick(16) ? (uint16_t)pick(size) : (uint16_t)xorshift();

		if (linked)
			next = i + 1;
		if (pick(linked ? 50 : 3))
			flags |= VIRTQ_DESC_F_NEXT;
		if (linked && pick(8))
			flags &= ~VIRTQ_DESC_F_WRITE;
		if (!pick(8))
			flags &= ~VIRTQ_DESC_F_INDIRECT;
		set_desc(i, random_addr(), random_len(), flags, next);
	}
	for (uint16_t i = 0; i < size + 1; i++)
		put_le(AVAIL_GPA + VIRTQ_RING_ENTRIES + 2 * i,
		       pick(16) ? pick(size) : xorshift(), 2);
}

/* What a chain virtq_pop returned must satisfy, checked independently. */
static void check_chain(const struct virtq_chain *c, uint16_t size)
{
	uint64_t out = 0, in = 0;
	bool seen_write = false;

	EXPECT(c->head < size && c->n <= VIRTQ_CHAIN_MAX && c->n <= size);
	for (unsigned int i = 0; i < c->n; i++) {
		const struct virtq_buf *b = &c->bufs[i];

		EXPECT(b->len && is_fake_ram(b->gpa, b->len));
		EXPECT(!seen_write || b->write);
		seen_write = b->write;
		*(b->write ? &in : &out) += b->len;
	}
	EXPECT(out == c->out_len && in == c->in_len);
	EXPECT(out <= UINT32_MAX && in <= UINT32_MAX);
}

/* Pops until the queue is empty or broken; a copy through each chain. */
static unsigned int drain(struct virtq *q, unsigned int *errors)
{
	static uint8_t scratch[RAM_SIZE];
	struct virtq_chain c;
	unsigned int popped = 0;
	int ret;

	while (popped <= q->size) {
		fake.ops = 0;
		fake.forbid_write = true;
		ret = virtq_pop(q, &mem, &c);
		fake.forbid_write = false;
		if (ret < 0)
			errors[-ret]++;
		if (ret <= 0)
			return popped;
		popped++;
		check_chain(&c, q->size);
		EXPECT_EQ(virtq_chain_read(&c, &mem, 0, scratch, sizeof(scratch)),
			  MIN(c.out_len, sizeof(scratch)));
		EXPECT_EQ(virtq_chain_write(&c, &mem, 0, scratch, sizeof(scratch)),
			  MIN(c.in_len, sizeof(scratch)));
	}
	return popped;
}

TEST(random_tables_stay_in_ram_and_end)
{
	unsigned int errors[VIRTQ_E_COUNT + 1] = { 0 }, chains = 0;
	int rounds = 20000;

	for (int r = 0; r < rounds; r++) {
		struct virtq q = fresh_queue((uint16_t)(1u << pick(9)));

		fake.max_ops = 4 + 3 * VIRTQ_CHAIN_MAX * (RAM_SIZE / 0x1000 + 2);
		random_table(q.size);
		q.last_avail = (uint16_t)xorshift();
		set_avail_idx((uint16_t)(q.last_avail +
			      (pick(8) ? pick(q.size + 1) : xorshift())));
		chains += drain(&q, errors);
	}
	printf("    %d rounds, %u chains taken; refusals:", rounds, chains);
	for (int e = 1; e <= VIRTQ_E_COUNT; e++)
		printf(" %s %u%s", virtq_error_name(-e), errors[e],
		       e < VIRTQ_E_COUNT ? "," : "\n");
	EXPECT(chains > 0);
	for (int e = 2; e <= VIRTQ_E_COUNT; e++)    /* all but SETUP */
		EXPECT(errors[e] > 0);
}

TEST_MAIN()
