/* XCR0 rules and XSAVE area sizes (see vmx/xcr0.h). No hardware access. */
#include "vmx/xcr0.h"

static const char *const fault_names[XSETBV_NR_FAULTS] = {
	[XSETBV_OK] = "ok",
	[XSETBV_CPL] = "CPL > 0",
	[XSETBV_XCR] = "ECX != 0",
	[XSETBV_RESERVED] = "reserved or unsupported bit",
	[XSETBV_X87] = "x87 (bit 0) clear",
	[XSETBV_AVX_NO_SSE] = "AVX without SSE",
	[XSETBV_MPX_PAIR] = "BNDREGS != BNDCSR",
	[XSETBV_AVX512_PARTIAL] = "AVX-512 states not all set or all clear",
	[XSETBV_AVX512_NO_AVX] = "AVX-512 without AVX",
	[XSETBV_AMX_PAIR] = "XTILECFG != XTILEDATA",
};

const char *xsetbv_fault_name(enum xsetbv_fault f)
{
	return (unsigned int)f < XSETBV_NR_FAULTS ? fault_names[f] : "?";
}

/* Both or neither of the bits of `group`. */
static bool all_or_none(uint64_t val, uint64_t group)
{
	return !(val & group) || (val & group) == group;
}

enum xsetbv_fault xsetbv_check(unsigned int cpl, uint32_t xcr, uint64_t val,
			       uint64_t allowed)
{
	if (cpl)
		return XSETBV_CPL;
	if (xcr)
		return XSETBV_XCR;
	if (val & ~(allowed & XCR0_KEEL_KNOWN))
		return XSETBV_RESERVED;
	if (!(val & XCR0_X87))
		return XSETBV_X87;
	if ((val & XCR0_AVX) && !(val & XCR0_SSE))
		return XSETBV_AVX_NO_SSE;
	if (!all_or_none(val, XCR0_MPX))
		return XSETBV_MPX_PAIR;
	if (!all_or_none(val, XCR0_AVX512))
		return XSETBV_AVX512_PARTIAL;
	if ((val & XCR0_AVX512) && !(val & XCR0_AVX))
		return XSETBV_AVX512_NO_AVX;
	if (!all_or_none(val, XCR0_AMX))
		return XSETBV_AMX_PAIR;
	return XSETBV_OK;
}

uint64_t xcr0_consistent(uint64_t mask)
{
	mask &= XCR0_KEEL_KNOWN;
	if (!(mask & XCR0_X87))
		return 0;
	if (!(mask & XCR0_SSE))
		mask &= ~XCR0_AVX;
	if (!all_or_none(mask, XCR0_MPX))
		mask &= ~XCR0_MPX;
	if (!all_or_none(mask, XCR0_AVX512) || !(mask & XCR0_AVX))
		mask &= ~XCR0_AVX512;
	if (!all_or_none(mask, XCR0_AMX))
		mask &= ~XCR0_AMX;
	return mask;
}

/* The feature component i belongs to: what is enabled or dropped whole. */
static uint64_t feature_of(unsigned int i)
{
	static const uint64_t groups[] = { XCR0_MPX, XCR0_AVX512, XCR0_AMX };

	for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
		if (groups[g] & BIT_ULL(i))
			return groups[g];
	return BIT_ULL(i);
}

/* The end of component i, or 0 if CPUID gives it no sane place: no size,
 * inside the legacy region or header, or past 4 GiB. */
static uint64_t component_end(const struct xsave_component *c)
{
	if (!c->size || c->offset < XSAVE_BASE_SIZE)
		return 0;
	return (uint64_t)c->offset + c->size;
}

uint32_t xsave_standard_size(uint64_t mask,
			     const struct xsave_component comp[XSAVE_COMPONENTS])
{
	uint64_t size = XSAVE_BASE_SIZE;

	if (mask >> XSAVE_COMPONENTS)
		return 0;
	for (unsigned int i = 2; i < XSAVE_COMPONENTS; i++) {
		uint64_t end;

		if (!(mask & BIT_ULL(i)))
			continue;
		end = component_end(&comp[i]);
		if (!end)
			return 0;
		size = MAX(size, end);
	}
	return size > UINT32_MAX ? 0 : (uint32_t)size;
}

uint64_t xcr0_fit(uint64_t mask,
		  const struct xsave_component comp[XSAVE_COMPONENTS],
		  uint32_t area)
{
	mask = xcr0_consistent(mask);
	for (;;) {
		uint32_t size = xsave_standard_size(mask, comp);
		unsigned int worst = 0;
		uint64_t worst_end = 0;

		if (size && size <= area)
			return mask;
		/* A component without a sane layout goes first, then the
		 * one that ends last. */
		for (unsigned int i = 2; i < XSAVE_COMPONENTS; i++) {
			uint64_t end;

			if (!(mask & BIT_ULL(i)))
				continue;
			end = component_end(&comp[i]);
			if (!end) {
				worst = i;
				break;
			}
			if (end > worst_end) {
				worst = i;
				worst_end = end;
			}
		}
		if (!worst)     /* x87 and SSE only, yet too large */
			return 0;
		mask = xcr0_consistent(mask & ~feature_of(worst));
	}
}
