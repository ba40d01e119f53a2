/* Integer ALU with exact arithmetic flags (SDM Vol. 1 3.4.3.1 and the flag
 * sections of each instruction in Vol. 2, Appendix A of Vol. 1).
 *
 * Flags the SDM leaves undefined are given fixed values: AF is cleared by
 * the logical operations AND/OR/XOR/TEST, as Intel and AMD processors do
 * today. Software must not rely on them, and tests/emul/oracle_cpu.c does
 * not compare them, since processors are free to differ there. */
#include "emul/internal.h"

/* PF is set when the low byte of the result has an even number of 1 bits:
 * 0x6996 is the parity of each nibble value. */
static uint64_t flag_pf(uint64_t r)
{
	unsigned int b = (unsigned int)(r & 0xff);

	b ^= b >> 4;
	return ((0x6996u >> (b & 0xf)) & 1) ? 0 : EMUL_RFLAGS_PF;
}

static uint64_t flags_szp(uint64_t r, unsigned int size)
{
	uint64_t f = flag_pf(r);

	if ((r & emul_size_mask(size)) == 0)
		f |= EMUL_RFLAGS_ZF;
	if (r & emul_sign_bit(size))
		f |= EMUL_RFLAGS_SF;
	return f;
}

/* AF: carry/borrow out of bit 3, visible in bit 4 of a ^ b ^ r. */
static uint64_t flag_af(uint64_t a, uint64_t b, uint64_t r)
{
	return ((a ^ b ^ r) & 0x10) ? EMUL_RFLAGS_AF : 0;
}

static uint64_t alu_add(uint64_t a, uint64_t b, uint64_t cin,
			unsigned int size, uint64_t *f)
{
	uint64_t m = emul_size_mask(size);
	uint64_t r = (a + b + cin) & m;
	bool carry = cin ? r <= a : r < a;

	*f = flags_szp(r, size) | flag_af(a, b, r);
	if (carry)
		*f |= EMUL_RFLAGS_CF;
	if ((a ^ r) & (b ^ r) & emul_sign_bit(size))
		*f |= EMUL_RFLAGS_OF;
	return r;
}

static uint64_t alu_sub(uint64_t a, uint64_t b, uint64_t bin,
			unsigned int size, uint64_t *f)
{
	uint64_t m = emul_size_mask(size);
	uint64_t r = (a - b - bin) & m;
	bool borrow = bin ? a <= b : a < b;

	*f = flags_szp(r, size) | flag_af(a, b, r);
	if (borrow)
		*f |= EMUL_RFLAGS_CF;
	if ((a ^ b) & (a ^ r) & emul_sign_bit(size))
		*f |= EMUL_RFLAGS_OF;
	return r;
}

/* CF = OF = 0; AF cleared (undefined in the SDM, see above). */
static uint64_t alu_logic(uint64_t r, unsigned int size, uint64_t *f)
{
	*f = flags_szp(r, size);
	return r;
}

uint64_t emul_alu(unsigned int handler, uint64_t dst, uint64_t src,
		  unsigned int size, uint64_t *rflags)
{
	uint64_t m = emul_size_mask(size), a = dst & m, b = src & m;
	uint64_t cf = *rflags & EMUL_RFLAGS_CF, f = 0, r;
	uint64_t keep = ~EMUL_RFLAGS_ARITH;

	switch (handler) {
	case EMUL_H_ADD: r = alu_add(a, b, 0, size, &f); break;
	case EMUL_H_ADC: r = alu_add(a, b, cf, size, &f); break;
	case EMUL_H_SUB:
	case EMUL_H_CMP: r = alu_sub(a, b, 0, size, &f); break;
	case EMUL_H_SBB: r = alu_sub(a, b, cf, size, &f); break;
	case EMUL_H_NEG: r = alu_sub(0, a, 0, size, &f); break;
	case EMUL_H_OR:  r = alu_logic(a | b, size, &f); break;
	case EMUL_H_XOR: r = alu_logic(a ^ b, size, &f); break;
	case EMUL_H_AND:
	case EMUL_H_TEST: r = alu_logic(a & b, size, &f); break;
	/* INC and DEC leave CF alone. */
	case EMUL_H_INC:
		r = alu_add(a, 1, 0, size, &f);
		keep |= EMUL_RFLAGS_CF;
		f &= ~EMUL_RFLAGS_CF;
		break;
	case EMUL_H_DEC:
		r = alu_sub(a, 1, 0, size, &f);
		keep |= EMUL_RFLAGS_CF;
		f &= ~EMUL_RFLAGS_CF;
		break;
	default:
		return a;
	}
	*rflags = (*rflags & keep) | f;
	return r;
}

/* Condition codes, SDM Vol. 1 Appendix B, Table B-1: bit 0 negates. */
bool emul_cond(unsigned int cc, uint64_t fl)
{
	bool cf = fl & EMUL_RFLAGS_CF, zf = fl & EMUL_RFLAGS_ZF;
	bool sf = fl & EMUL_RFLAGS_SF, of = fl & EMUL_RFLAGS_OF;
	bool pf = fl & EMUL_RFLAGS_PF, r;

	switch ((cc >> 1) & 7) {
	case 0:  r = of; break;			/* O */
	case 1:  r = cf; break;			/* B */
	case 2:  r = zf; break;			/* E */
	case 3:  r = cf || zf; break;		/* BE */
	case 4:  r = sf; break;			/* S */
	case 5:  r = pf; break;			/* P */
	case 6:  r = sf != of; break;		/* L */
	default: r = zf || sf != of; break;	/* LE */
	}
	return r ^ (cc & 1);
}

/* ---- multiply, bit scan, double shifts ------------------------------------- */

/*
 * IMUL (two and three operands, SDM Vol. 2A "IMUL"): the signed product
 * truncated to the operand size; CF = OF = 1 when it did not fit. SF, ZF,
 * AF and PF are undefined: Keel sets SF, ZF and PF from the truncated
 * result and clears AF, as the Bochs CPU models do.
 */
uint64_t emul_imul(uint64_t a, uint64_t b, unsigned int size, uint64_t *fl)
{
	__int128 p = (__int128)(int64_t)emul_sext(a, size) *
		     (int64_t)emul_sext(b, size);
	uint64_t r = (uint64_t)p & emul_size_mask(size);
	bool over = p != (__int128)(int64_t)emul_sext(r, size);

	*fl &= ~EMUL_RFLAGS_ARITH;
	*fl |= flags_szp(r, size) | (over ? EMUL_RFLAGS_CF | EMUL_RFLAGS_OF : 0);
	return r;
}

/*
 * BSF/BSR (SDM Vol. 2A): the index of the lowest / highest set bit of
 * src, ZF = 0; a zero source sets ZF and leaves the destination (*found
 * false). CF, OF, SF, AF and PF are undefined: as the Bochs models do,
 * a found index gives them the flags of a logical result (CF = OF = AF
 * = 0, SF and PF of the index); a zero source leaves them.
 */
uint64_t emul_bitscan(bool reverse, uint64_t src, unsigned int size,
		      uint64_t *fl, bool *found)
{
	uint64_t r;

	src &= emul_size_mask(size);
	*found = src != 0;
	if (!src) {
		*fl |= EMUL_RFLAGS_ZF;
		return 0;
	}
	r = reverse ? 63u - (unsigned int)__builtin_clzll(src)
		    : (unsigned int)__builtin_ctzll(src);
	*fl &= ~EMUL_RFLAGS_ARITH;
	*fl |= flags_szp(r, size) & ~EMUL_RFLAGS_ZF;
	return r;
}

/*
 * SHLD/SHRD (SDM Vol. 2B): dst shifted by count (masked to 5 bits, 6
 * with 64-bit operands), the vacated bits filled from src; CF = the last
 * bit shifted out of dst; SF ZF PF of the result. A count of 0 changes
 * nothing. OF is defined for a count of 1 (a sign change) and AF not at
 * all; Keel computes OF with the count-1 rule for every count and clears
 * AF, as the Bochs models do. A 16-bit count above 16 is undefined:
 * the bits come round again from dst (dst:src:dst), as Bochs has it.
 */
uint64_t emul_shxd(bool right, uint64_t dst, uint64_t src, unsigned int count,
		   unsigned int size, uint64_t *fl)
{
	unsigned int bits = 8 * size;
	uint64_t mask = emul_size_mask(size), r, cf;

	count &= size == 8 ? 63 : 31;
	if (!count)
		return dst & mask;
	dst &= mask;
	src &= mask;
	if (size == 2) {                /* dst:src:dst, 48 bits */
		uint64_t t = (dst << 32) | (src << 16) | dst;

		r = right ? t >> count : t << count >> 32;
		cf = right ? t >> (count - 1) : t >> (48 - count);
	} else if (right) {
		unsigned __int128 t = ((unsigned __int128)src << bits) | dst;

		r = (uint64_t)(t >> count);
		cf = dst >> (count - 1);
	} else {
		unsigned __int128 t = ((unsigned __int128)dst << bits) | src;

		r = (uint64_t)((t << count) >> bits);
		cf = dst >> (bits - count);
	}
	r &= mask;
	cf &= 1;
	*fl &= ~EMUL_RFLAGS_ARITH;
	*fl |= flags_szp(r, size) | (cf ? EMUL_RFLAGS_CF : 0);
	if (right ? ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1
		  : cf ^ ((r >> (bits - 1)) & 1))
		*fl |= EMUL_RFLAGS_OF;
	return r;
}

/* ---- SHL, SHR, SAR ---------------------------------------------------------------- */

/* The last bit shifted out (CF) and the result of SHL/SHR/SAR by a
 * count already masked to 1..31 (1..63 for 64 bits); a count at or past
 * the operand's width shifts every bit out. */
static uint64_t shift_value(unsigned int handler, uint64_t dst,
			    unsigned int count, unsigned int size, uint64_t *cf)
{
	unsigned int bits = 8 * size;
	int64_t sd = (int64_t)emul_sext(dst, size);

	switch (handler) {
	case EMUL_H_SHL:
		*cf = count <= bits ? (dst >> (bits - count)) & 1 : 0;
		return count < 64 ? dst << count : 0;
	case EMUL_H_SHR:
		*cf = (dst >> (count - 1)) & 1;
		return dst >> count;
	default:
		*cf = (uint64_t)(sd >> MIN(count - 1, 63u)) & 1;
		return (uint64_t)(sd >> MIN(count, 63u));
	}
}

/*
 * SHL/SHR/SAR (SDM Vol. 2B "SAL/SAR/SHL/SHR"): the count is masked to 5
 * bits (6 with a 64-bit operand); a zero count leaves the flags alone.
 * SF, ZF, PF follow the result, CF is the last bit out; OF, defined for
 * a count of 1, is given the same rule for every count: SHL the MSB of
 * the result XOR CF, SHR the MSB of the operand, SAR 0. AF is cleared.
 */
uint64_t emul_shift(unsigned int handler, uint64_t dst, unsigned int count,
		    unsigned int size, uint64_t *fl)
{
	uint64_t mask = emul_size_mask(size), r, cf;
	unsigned int msb = 8 * size - 1;

	count &= size == 8 ? 63 : 31;
	dst &= mask;
	if (!count)
		return dst;
	r = shift_value(handler, dst, count, size, &cf) & mask;
	*fl &= ~EMUL_RFLAGS_ARITH;
	*fl |= flags_szp(r, size) | (cf ? EMUL_RFLAGS_CF : 0);
	if ((handler == EMUL_H_SHL && (cf ^ (r >> msb))) ||
	    (handler == EMUL_H_SHR && (dst >> msb)))
		*fl |= EMUL_RFLAGS_OF;
	return r;
}

/* ---- MUL, IMUL (one operand), DIV, IDIV ----------------------------------------- */

/* The 128-by-64 division of the DIV instruction itself; hi < d, so the
 * quotient fits and it cannot fault. */
static uint64_t udiv128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
	uint64_t q, r;

	__asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
	*rem = r;
	return q;
}

/* Unsigned (hi:lo) / d at `bits` bits per half; false when the quotient
 * does not fit in `bits` (or d is 0). */
static bool udiv_wide(uint64_t hi, uint64_t lo, uint64_t d, unsigned int bits,
		      uint64_t *q, uint64_t *r)
{
	uint64_t mask = bits == 64 ? ~0ULL : (1ULL << bits) - 1;

	if (!d || hi >= d)
		return false;
	if (bits == 64) {
		*q = udiv128(hi, lo, d, r);
	} else {
		uint64_t n = (hi << bits) | lo;

		*q = n / d;
		*r = n % d;
	}
	return *q <= mask;
}

/* Signed: by magnitudes, then the signs (quotient: both; remainder: the
 * dividend's); false when the quotient leaves the signed range. */
static bool idiv_wide(uint64_t hi, uint64_t lo, uint64_t d, unsigned int bits,
		      uint64_t *q, uint64_t *r)
{
	uint64_t mask = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
	uint64_t sign = 1ULL << (bits - 1);
	bool nneg = hi & sign, dneg = d & sign;
	unsigned __int128 n = ((unsigned __int128)hi << bits) | lo;
	uint64_t dm = dneg ? (-d & mask) : d, qm, rm;

	if (nneg)       /* two's complement over 2 * bits */
		n = (~n + 1) & (((unsigned __int128)mask << bits) | mask);
	if (!udiv_wide((uint64_t)(n >> bits), (uint64_t)n & mask, dm, bits, &qm, &rm))
		return false;
	if (qm > (nneg != dneg ? sign : sign - 1))
		return false;
	*q = (nneg != dneg ? -qm : qm) & mask;
	*r = (nneg ? -rm : rm) & mask;
	return true;
}

/*
 * F6/F7 /4-/7 (SDM Vol. 2A MUL, IMUL; DIV, IDIV): rAX (AL for a byte
 * MUL, AX for a byte DIV) with src; the result goes to *ax and *dx
 * (operand-size halves; for bytes all of it in *ax as AH:AL). MUL and
 * IMUL set CF = OF when the upper half is significant; their SF, ZF, AF
 * and PF, undefined, follow the Bochs models (the lower half's, AF
 * clear). DIV and IDIV leave the flags (undefined) and return false for
 * #DE: a zero divisor or a quotient that does not fit.
 */
bool emul_muldiv(unsigned int handler, uint64_t *ax, uint64_t *dx,
		 uint64_t src, unsigned int size, uint64_t *fl)
{
	unsigned int bits = 8 * size;
	uint64_t mask = emul_size_mask(size), lo, hi, over;
	uint64_t a = *ax & mask, d = size == 1 ? (*ax >> 8) & 0xff : *dx & mask;

	if (handler == EMUL_H_DIV || handler == EMUL_H_IDIV) {
		bool ok = handler == EMUL_H_DIV ?
			  udiv_wide(d, a, src & mask, bits, &lo, &hi) :
			  idiv_wide(d, a, src & mask, bits, &lo, &hi);

		if (!ok)
			return false;
	} else if (handler == EMUL_H_MUL) {
		unsigned __int128 p = (unsigned __int128)a * (src & mask);

		lo = (uint64_t)p & mask;
		hi = (uint64_t)(p >> bits) & mask;
		over = hi;
	} else {
		__int128 p = (__int128)(int64_t)emul_sext(a, size) *
			     (int64_t)emul_sext(src, size);

		lo = (uint64_t)p & mask;
		hi = (uint64_t)(p >> bits) & mask;
		over = p != (__int128)(int64_t)emul_sext(lo, size);
	}
	if (handler == EMUL_H_MUL || handler == EMUL_H_IMUL1) {
		*fl &= ~EMUL_RFLAGS_ARITH;
		*fl |= flags_szp(lo, size) & ~EMUL_RFLAGS_AF;
		if (over)
			*fl |= EMUL_RFLAGS_CF | EMUL_RFLAGS_OF;
	}
	*ax = size == 1 ? (hi << 8) | lo : lo;
	*dx = hi;
	return true;
}
