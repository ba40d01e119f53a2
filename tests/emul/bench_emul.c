/* Host throughput of Keel's emulator, against Zydis on the same bytes.
 *
 * A stream of 64-bit instructions (the memory forms an MMIO access uses:
 * MOV, MOVZX, ALU, XADD, LOCK BTS, SETcc, CMOVcc, XCHG, NOT, PUSH/POP m,
 * CMPXCHG8B, and MOVs to the fake machine's MMIO window) is laid out in
 * the fake machine's RAM and run over and over:
 *
 *   BENCH name=host_emul_ips value=N          emul_step(): fetch, decode,
 *                                             execute (instructions/s)
 *   BENCH name=host_emul_decode_ips value=N   emul_decode() alone
 *   BENCH name=host_zydis_ips value=N         ZydisDecoderDecodeFull()
 *
 * Wall-clock figures, printed only: nothing is asserted about speed. The
 * checks are that every step succeeds, ends where the next instruction
 * starts, and that Zydis finds the same lengths.
 *
 * Build: gcc -O2 -DKEEL_HOST -I. tests/emul/bench_emul.c emul/[a-z]*.c
 *        -lZydis -lZycore */
#include <Zydis/Zydis.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "tests/emul/fake_machine.h"

#define CODE_GPA	0x10000ULL
#define DATA_GPA	0x200000ULL
#define STACK_GPA	0x300000ULL
#define STREAM_INSNS	4096
#define MIN_SECONDS	0.3

/* Each template addresses data at [rbx + disp8] or the MMIO window at
 * [rbp + disp8]; none writes RBX, RBP or RSP for good. */
struct tmpl {
	uint8_t len, insns;
	uint8_t bytes[12];
};

static const struct tmpl templates[] = {
	{ 4, 1, { 0x48, 0x89, 0x43, 0x08 } },             /* mov [rbx+8], rax */
	{ 3, 1, { 0x8b, 0x4b, 0x10 } },                   /* mov ecx, [rbx+16] */
	{ 3, 1, { 0x01, 0x43, 0x18 } },                   /* add [rbx+24], eax */
	{ 4, 1, { 0x0f, 0xb6, 0x53, 0x05 } },             /* movzx edx, byte [rbx+5] */
	{ 5, 1, { 0x48, 0x0f, 0xc1, 0x43, 0x20 } },       /* xadd [rbx+32], rax */
	{ 5, 1, { 0xf0, 0x0f, 0xab, 0x4b, 0x28 } },       /* lock bts [rbx+40], ecx */
	{ 4, 1, { 0x0f, 0x94, 0x43, 0x30 } },             /* sete [rbx+48] */
	{ 5, 1, { 0x48, 0x0f, 0x44, 0x4b, 0x38 } },       /* cmove rcx, [rbx+56] */
	{ 4, 1, { 0x83, 0x6b, 0x40, 0x01 } },             /* sub dword [rbx+64], 1 */
	{ 4, 1, { 0x48, 0x87, 0x43, 0x48 } },             /* xchg [rbx+72], rax */
	{ 3, 1, { 0xf7, 0x53, 0x50 } },                   /* not dword [rbx+80] */
	{ 6, 2, { 0xff, 0x73, 0x58, 0x8f, 0x43, 0x58 } }, /* push/pop [rbx+88] */
	{ 4, 1, { 0x0f, 0xc7, 0x4b, 0x60 } },             /* cmpxchg8b [rbx+96] */
	{ 3, 1, { 0x89, 0x45, 0x10 } },                   /* mov [rbp+16], eax (MMIO) */
	{ 3, 1, { 0x8b, 0x55, 0x20 } },                   /* mov edx, [rbp+32] (MMIO) */
};

static uint8_t stream[STREAM_INSNS * 12];
static size_t stream_len;
static unsigned int stream_insns;
static int failed, passed;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void check(int ok, const char *what)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s\n", what);
}

static void build_stream(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	while (stream_insns < STREAM_INSNS) {
		const struct tmpl *t;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t = &templates[x % ARRAY_SIZE(templates)];
		memcpy(stream + stream_len, t->bytes, t->len);
		stream_len += t->len;
		stream_insns += t->insns;
	}
}

static void machine_setup(struct fake_machine *fm)
{
	fm_mode64(fm);
	fm->ctx.gpr[EMUL_RBX] = DATA_GPA;
	fm->ctx.gpr[EMUL_RBP] = FM_MMIO_BASE;
	fm->ctx.gpr[EMUL_RSP] = STACK_GPA;
	fm->ctx.gpr[EMUL_RAX] = 0x0123456789abcdefULL;
	fm->ctx.gpr[EMUL_RCX] = 5;
	fm->ctx.rip = CODE_GPA;
	fm_put(fm, CODE_GPA, stream, stream_len);
}

/* One pass over the stream; false at the first step that fails. */
static bool run_stream(struct fake_machine *fm)
{
	fm->ctx.rip = CODE_GPA;
	while (fm->ctx.rip < CODE_GPA + stream_len) {
		uint64_t rip = fm->ctx.rip;

		if (emul_step(&fm->ctx) != EMUL_OK ||
		    fm->ctx.rip != rip + fm->ctx.insn.len)
			return false;
		fm->mmio_count = 0;
	}
	return fm->ctx.rip == CODE_GPA + stream_len;
}

static void bench_emul_step(void)
{
	struct fake_machine *fm = fm_new();
	uint64_t insns = 0;
	double t0, t;
	bool ok = true;

	machine_setup(fm);
	t0 = now();
	do {
		ok = run_stream(fm);
		insns += stream_insns;
		t = now() - t0;
	} while (ok && t < MIN_SECONDS);
	check(ok, "every emul_step of the stream succeeds");
	printf("BENCH name=host_emul_ips value=%.0f\n", (double)insns / t);
	fm_free(fm);
}

static void bench_emul_decode(void)
{
	struct emul_exception exc;
	struct emul_insn insn;
	uint64_t insns = 0;
	double t0, t;
	bool ok = true;

	t0 = now();
	do {
		for (size_t at = 0; ok && at < stream_len; at += insn.len) {
			ok = emul_decode(&insn, stream + at, stream_len - at, 64,
					 &exc) == EMUL_OK;
			insns++;
		}
		t = now() - t0;
	} while (ok && t < MIN_SECONDS);
	check(ok, "emul_decode decodes the whole stream");
	printf("BENCH name=host_emul_decode_ips value=%.0f\n",
	       (double)insns / t);
}

static void bench_zydis(void)
{
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	ZydisDecodedInstruction zi;
	struct emul_exception exc;
	struct emul_insn insn;
	ZydisDecoder dec;
	uint64_t insns = 0;
	double t0, t;
	bool same = true;

	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	for (size_t at = 0; same && at < stream_len; at += zi.length) {
		same = ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, stream + at,
							   stream_len - at,
							   &zi, ops)) &&
		       emul_decode(&insn, stream + at, stream_len - at, 64,
				   &exc) == EMUL_OK &&
		       insn.len == zi.length;
	}
	check(same, "Zydis and Keel find the same instruction lengths");
	t0 = now();
	do {
		for (size_t at = 0; at < stream_len; at += zi.length) {
			if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(
				    &dec, stream + at, stream_len - at, &zi, ops)))
				break;
			insns++;
		}
		t = now() - t0;
	} while (t < MIN_SECONDS);
	printf("BENCH name=host_zydis_ips value=%.0f\n", (double)insns / t);
}

int main(void)
{
	build_stream();
	printf("stream: %u instructions, %zu bytes\n", stream_insns,
	       stream_len);
	bench_emul_step();
	bench_emul_decode();
	bench_zydis();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
