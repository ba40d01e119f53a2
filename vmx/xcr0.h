/*
 * XCR0, the XSAVE feature-enable register: which values a guest may write
 * with XSETBV, and how large a standard-format XSAVE area they need.
 * Pure functions (no CPUID, no XSETBV), so the host unit tests
 * (tests/unit/test_xcr0.c) run them on every rule; vmx/vcpu_state.c feeds
 * them the host's CPUID leaf 0xd, vmx/exit_misc.c the guest's XSETBV.
 *
 * SDM Vol. 1 13.3 "Enabling the XSAVE Feature Set and XSAVE-Enabled
 * Features", and Vol. 2C, XSETBV. Any rule broken is #GP(0) on a real
 * CPU, and the same XSETBV run by Keel in VMX root operation would fault
 * in Keel: the value must be checked before Keel runs it.
 */
#ifndef KEEL_VMX_XCR0_H
#define KEEL_VMX_XCR0_H

#include "arch/compiler.h"

#define XCR0_X87            BIT_ULL(0)
#define XCR0_SSE            BIT_ULL(1)
#define XCR0_AVX            BIT_ULL(2)      /* upper halves of YMM0-15 */
#define XCR0_BNDREGS        BIT_ULL(3)      /* MPX */
#define XCR0_BNDCSR         BIT_ULL(4)
#define XCR0_OPMASK         BIT_ULL(5)      /* AVX-512 k0-k7 */
#define XCR0_ZMM_HI256      BIT_ULL(6)      /* upper halves of ZMM0-15 */
#define XCR0_HI16_ZMM       BIT_ULL(7)      /* ZMM16-31 */
#define XCR0_PKRU           BIT_ULL(9)
#define XCR0_XTILECFG       BIT_ULL(17)     /* AMX */
#define XCR0_XTILEDATA      BIT_ULL(18)

#define XCR0_MPX            (XCR0_BNDREGS | XCR0_BNDCSR)
/* CPUID.(EAX=0xd, ECX=1):EAX: XSAVEC and the compacted format, XSAVES
 * with the IA32_XSS states, XFD. */
#define CPUIDD1_EAX_XSAVEC  BIT_ULL(1)
#define CPUIDD1_EAX_XSAVES  BIT_ULL(3)
#define CPUIDD1_EAX_XFD     BIT_ULL(4)
#define XCR0_AVX512         (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM)
#define XCR0_AMX            (XCR0_XTILECFG | XCR0_XTILEDATA)

/* The user state components Keel knows the rules and layout of; a guest
 * never gets any other bit, whatever the host supports. */
#define XCR0_KEEL_KNOWN     (XCR0_X87 | XCR0_SSE | XCR0_AVX | XCR0_MPX | \
			     XCR0_AVX512 | XCR0_PKRU | XCR0_AMX)
#define XSAVE_COMPONENTS    19              /* 0..18: all of XCR0_KEEL_KNOWN */
_Static_assert(!(XCR0_KEEL_KNOWN >> XSAVE_COMPONENTS), "XSAVE_COMPONENTS");

/* The legacy region (x87, SSE) and the XSAVE header (SDM Vol. 1 13.4). */
#define XSAVE_LEGACY_SIZE   512
#define XSAVE_HEADER_SIZE   64
#define XSAVE_BASE_SIZE     (XSAVE_LEGACY_SIZE + XSAVE_HEADER_SIZE)

/* Why an XSETBV is refused (each is #GP(0)); XSETBV_OK: it is not. */
enum xsetbv_fault {
	XSETBV_OK,
	XSETBV_CPL,             /* CPL > 0 (virtual-8086 mode is CPL 3) */
	XSETBV_XCR,             /* ECX != 0: XCR0 is the only writable XCR */
	XSETBV_RESERVED,        /* a bit outside what Keel exposes */
	XSETBV_X87,             /* bit 0 clear */
	XSETBV_AVX_NO_SSE,      /* bit 2 without bit 1 */
	XSETBV_MPX_PAIR,        /* bits 3 and 4 differ */
	XSETBV_AVX512_PARTIAL,  /* bits 7:5 neither 000b nor 111b */
	XSETBV_AVX512_NO_AVX,   /* bits 7:5 set, bit 2 clear */
	XSETBV_AMX_PAIR,        /* bits 17 and 18 differ */
	XSETBV_NR_FAULTS
};

/*
 * XSETBV at privilege level cpl with ECX = xcr and EDX:EAX = val, on a
 * CPU whose XCR0 may hold the bits in `allowed` (what Keel exposes in
 * CPUID.(0xd,0).EDX:EAX): the first rule broken, or XSETBV_OK.
 */
enum xsetbv_fault xsetbv_check(unsigned int cpl, uint32_t xcr, uint64_t val,
			       uint64_t allowed);
/* "ECX != 0", ... : for messages and tests. */
const char *xsetbv_fault_name(enum xsetbv_fault f);

/* The largest part of mask whose every value XSETBV may still enable:
 * incomplete pairs and triples, and the states whose prerequisite is
 * missing, are dropped (x87 missing: nothing is left). */
uint64_t xcr0_consistent(uint64_t mask);

/* Where CPUID.(0xd,i) puts component i in the standard format: EBX is the
 * offset, EAX the size. Components 0 and 1 live in the legacy region. */
struct xsave_component {
	uint32_t offset, size;
};

/* Bytes of a standard-format (XSAVE, not XSAVEC) area that holds mask;
 * 0 if a component of mask has no layout (size 0) or ends past 4 GiB. */
uint32_t xsave_standard_size(uint64_t mask,
			     const struct xsave_component comp[XSAVE_COMPONENTS]);

/* mask less whole features (the one whose state ends last first) until its
 * standard-format area fits in `area` bytes; what is left is consistent. */
uint64_t xcr0_fit(uint64_t mask,
		  const struct xsave_component comp[XSAVE_COMPONENTS],
		  uint32_t area);

#endif
