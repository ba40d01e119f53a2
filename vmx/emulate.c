/*
 * The glue between the instruction emulator (emul/, a pure library) and a
 * vCPU: an emul_ctx built from v->regs and the VMCS, emul_ops over the
 * guest's RAM, MMIO regions and ports, and the commit of the result.
 *
 *   exit: EPT violation on MMIO, string I/O, #UD at the force marker
 *         (or no exit: real-mode code the processor cannot run)
 *     |
 *   vemu_init     GPRs, RIP, RFLAGS, CR0/CR3/CR4/EFER as the guest sees
 *     |           them, PAE PDPTEs, CPL; segments on demand (get_seg)
 *   emul_step     one instruction, or one batch of a REP string one
 *     |             RAM:   read/write/cmpxchg_phys via guest_gpa_to_hva()
 *     |             MMIO:  mmio_read/mmio_write (guest/mmio.c)
 *     |             ports: devices_port_io()
 *   vemu_finish   OK: registers back, RIP on once complete
 *                 EXCEPTION: registers back, the fault injected
 *                 UNSUPPORTED/UNHANDLEABLE: the guest stops (vcpu_fatal)
 */
#include "vmx/emulate.h"
#include "vmx/exit.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "vmx/vmcs_setup.h"
#include "emul/emul.h"
#include "emul/walk.h"
#include "guest/guest.h"
#include "arch/string.h"
#include "arch/x86.h"
#include "drivers/printk.h"
#include "mm/layout.h"

#define TSS_IOMAP_BASE      0x66            /* SDM Vol. 3A 8.7, Figure 8-11 */
#define TSS_TYPE_BUSY32     0xb             /* the only TSS with an I/O map */
#define NO_GPA              (~0ULL)

struct vemu {
	struct emul_ctx ctx;
	struct vcpu *v;
	uint64_t rip0, rsp0, rflags0;   /* as the exit left them */
	uint64_t bad_gpa;               /* an access nothing holds, or NO_GPA */
	const struct mmio_region *mmio; /* the exit's device region, or NULL */
};

_Static_assert(sizeof(struct guest_regs) == sizeof(((struct emul_ctx *)0)->gpr),
	       "struct guest_regs is the emulator's GPR array");
_Static_assert((int)GPR_RAX == (int)EMUL_RAX && (int)GPR_RSP == (int)EMUL_RSP &&
	       (int)GPR_R15 == (int)EMUL_R15, "register numbers");
_Static_assert(EMUL_AR_UNUSABLE == BIT_ULL(16) && EMUL_AR_L == BIT_ULL(13),
	       "emul/ takes access rights in the VMCS format");

static struct vemu *vemu_of(struct emul_ctx *ctx)
{
	return container_of(ctx, struct vemu, ctx);
}

static struct guest *vemu_guest(struct emul_ctx *ctx)
{
	return vemu_of(ctx)->v->guest;
}

/* ---- guest RAM ----------------------------------------------------------- */

static int op_read_phys(struct emul_ctx *ctx, uint64_t gpa, void *buf,
			unsigned int len)
{
	const void *hva = guest_gpa_to_hva(vemu_guest(ctx), gpa, len);

	if (!hva)
		return EMUL_NOT_RAM;
	memcpy(buf, hva, len);
	return EMUL_OK;
}

/* Keel's own writes to guest RAM bypass EPT, so neither PML nor the EPT
 * dirty bits see them: they go to the dirty log here, as a write-protect
 * exit would (ept/dirty.c). */
static void log_write(struct guest *g, uint64_t gpa)
{
	if (unlikely(READ_ONCE(g->dlog.mode) != DIRTY_OFF))
		dirty_bitmap_set(&g->dlog.bm, gpa >> PAGE_SHIFT);
}

/* A store the guest made (through Keel) to a page table Keel shadows:
 * the shadow entries it stood for go. */
static void track_write(struct guest *g, uint64_t gpa, unsigned int len)
{
	if (unlikely(g->mmu))
		shadow_track_write(g, gpa, len);
}

static int op_write_phys(struct emul_ctx *ctx, uint64_t gpa, const void *buf,
			 unsigned int len)
{
	struct guest *g = vemu_guest(ctx);
	void *hva = guest_gpa_to_hva(g, gpa, len);

	if (!hva)
		return EMUL_NOT_RAM;
	memcpy(hva, buf, len);
	log_write(g, gpa);
	track_write(g, gpa, len);
	return EMUL_OK;
}

static bool cmpxchg16(void *p, const void *old, const void *new_val)
{
	uint64_t o[2], n[2];
	bool ok;

	memcpy(o, old, sizeof(o));
	memcpy(n, new_val, sizeof(n));
	__asm__ volatile("lock cmpxchg16b %1"
			 : "=@ccz"(ok), "+m"(*(uint64_t (*)[2])p),
			   "+a"(o[0]), "+d"(o[1])
			 : "b"(n[0]), "c"(n[1]) : "memory");
	return ok;
}

#define CMPXCHG_N(type, p, old, new_val) ({                             \
	type o_, n_;                                                    \
	memcpy(&o_, old, sizeof(o_));                                   \
	memcpy(&n_, new_val, sizeof(n_));                               \
	__atomic_compare_exchange_n((type *)(p), &o_, n_, false,        \
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
})

/* A locked access of the processor is 1, 2, 4, 8 or (aligned) 16 bytes;
 * anything else is compared and written plainly. */
static bool cmpxchg_hva(void *p, const void *old, const void *new_val,
			unsigned int len)
{
	switch (len) {
	case 1:
		return CMPXCHG_N(uint8_t, p, old, new_val);
	case 2:
		return CMPXCHG_N(uint16_t, p, old, new_val);
	case 4:
		return CMPXCHG_N(uint32_t, p, old, new_val);
	case 8:
		return CMPXCHG_N(uint64_t, p, old, new_val);
	case 16:
		if (!((uintptr_t)p & 15))
			return cmpxchg16(p, old, new_val);
		break;
	}
	if (memcmp(p, old, len))
		return false;
	memcpy(p, new_val, len);
	return true;
}

/* The walker's accessed/dirty updates: no shadow entry depends on A, and
 * one built while D was clear has no W, so nothing needs zapping. */
static int op_update_pte(struct emul_ctx *ctx, uint64_t gpa, const void *old,
			 const void *new_val, unsigned int len)
{
	struct guest *g = vemu_guest(ctx);
	void *hva = guest_gpa_to_hva(g, gpa, len);

	if (!hva)
		return EMUL_NOT_RAM;
	if (!cmpxchg_hva(hva, old, new_val, len))
		return EMUL_CMPXCHG_FAILED;
	log_write(g, gpa);
	return EMUL_OK;
}

static int op_cmpxchg_phys(struct emul_ctx *ctx, uint64_t gpa, const void *old,
			   const void *new_val, unsigned int len)
{
	int rc = op_update_pte(ctx, gpa, old, new_val, len);

	if (rc == EMUL_OK)
		track_write(vemu_guest(ctx), gpa, len);
	return rc;
}

/* The instruction cache's pointers: good until guest_ram_gen changes
 * (vemu_init puts it in the context). */
static const void *op_map_phys(struct emul_ctx *ctx, uint64_t gpa,
			       unsigned int len)
{
	return guest_gpa_to_hva(vemu_guest(ctx), gpa, len);
}

/* ---- MMIO and ports ---------------------------------------------------------- */

/* A gpa that is neither RAM nor a device's: on hardware the access would
 * have been an EPT violation outside the guest's memory, which stops the
 * guest; so does this (the reason names the address). */
static int mmio_missing(struct emul_ctx *ctx, uint64_t gpa)
{
	vemu_of(ctx)->bad_gpa = gpa;
	return EMUL_UNHANDLEABLE;
}

static int op_mmio_read(struct emul_ctx *ctx, uint64_t gpa, void *buf,
			unsigned int len)
{
	if (!mmio_read_near(vemu_guest(ctx), vemu_of(ctx)->mmio, gpa, buf, len))
		return mmio_missing(ctx, gpa);
	return EMUL_OK;
}

static int op_mmio_write(struct emul_ctx *ctx, uint64_t gpa, const void *buf,
			 unsigned int len)
{
	if (!mmio_write_near(vemu_guest(ctx), vemu_of(ctx)->mmio, gpa, buf,
			     len))
		return mmio_missing(ctx, gpa);
	return EMUL_OK;
}

static int op_pio_in(struct emul_ctx *ctx, uint16_t port, unsigned int size,
		     uint32_t *val)
{
	devices_port_io(vemu_guest(ctx), port, size, true, val);
	return EMUL_OK;
}

static int op_pio_out(struct emul_ctx *ctx, uint16_t port, unsigned int size,
		      uint32_t val)
{
	devices_port_io(vemu_guest(ctx), port, size, false, &val);
	return EMUL_OK;
}

/* ---- segments and linear reads for Keel itself ------------------------------- */

/* Guest segment fields, in enum emul_segreg order. */
static const struct {
	uint32_t sel, base, limit, ar;
} seg_fields[EMUL_SEG_NR] = {
	[EMUL_ES] = { VMCS_GUEST_ES_SEL, VMCS_GUEST_ES_BASE,
		      VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
	[EMUL_CS] = { VMCS_GUEST_CS_SEL, VMCS_GUEST_CS_BASE,
		      VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
	[EMUL_SS] = { VMCS_GUEST_SS_SEL, VMCS_GUEST_SS_BASE,
		      VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
	[EMUL_DS] = { VMCS_GUEST_DS_SEL, VMCS_GUEST_DS_BASE,
		      VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
	[EMUL_FS] = { VMCS_GUEST_FS_SEL, VMCS_GUEST_FS_BASE,
		      VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
	[EMUL_GS] = { VMCS_GUEST_GS_SEL, VMCS_GUEST_GS_BASE,
		      VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
};

static int op_get_seg(struct emul_ctx *ctx, enum emul_segreg seg,
		      struct emul_seg *out)
{
	(void)ctx;
	if ((unsigned int)seg >= EMUL_SEG_NR)
		return EMUL_UNHANDLEABLE;
	out->sel = (uint16_t)__vmread(seg_fields[seg].sel);
	out->base = __vmread(seg_fields[seg].base);
	out->limit = (uint32_t)__vmread(seg_fields[seg].limit);
	out->ar = (uint32_t)__vmread(seg_fields[seg].ar);
	return EMUL_OK;
}

/* Every step asks for CS first (its mode): read it with the rest of the
 * context, without a round trip through the get_seg op. */
static void vemu_load_cs(struct emul_ctx *ctx)
{
	op_get_seg(ctx, EMUL_CS, &ctx->seg[EMUL_CS]);
	ctx->seg_valid = (uint8_t)BIT_ULL(EMUL_CS);
}

/* MOV to a segment register, far JMP/CALL: the checks were the
 * emulator's; the VMCS takes the register as the processor would have
 * left it. */
static int op_set_seg(struct emul_ctx *ctx, enum emul_segreg seg,
		      const struct emul_seg *val)
{
	(void)ctx;
	if ((unsigned int)seg >= EMUL_SEG_NR)
		return EMUL_UNHANDLEABLE;
	__vmwrite(seg_fields[seg].sel, val->sel);
	__vmwrite(seg_fields[seg].base, val->base);
	__vmwrite(seg_fields[seg].limit, val->limit);
	__vmwrite(seg_fields[seg].ar, val->ar);
	return EMUL_OK;
}

static int op_get_ldtr(struct emul_ctx *ctx, struct emul_seg *out)
{
	(void)ctx;
	out->sel = vmcs_read16(VMCS_GUEST_LDTR_SEL);
	out->base = vmcs_readnat(VMCS_GUEST_LDTR_BASE);
	out->limit = vmcs_read32(VMCS_GUEST_LDTR_LIMIT);
	out->ar = vmcs_read32(VMCS_GUEST_LDTR_AR);
	return EMUL_OK;
}

/* Outside IA-32e mode linear addresses wrap at 4 GiB. */
static uint64_t la_mask(const struct emul_ctx *ctx)
{
	return (ctx->efer & EMUL_EFER_LMA) ? ~0ULL : 0xffffffffULL;
}

/* Reads guest-linear memory for Keel's own use (the force marker, the TSS
 * I/O map, bytes for a fatal message): through the guest's paging, RAM
 * only, and no fault is raised, false is returned instead. */
static bool read_linear(struct emul_ctx *ctx, uint64_t la, unsigned int acc,
			void *buf, unsigned int len)
{
	uint8_t *p = buf;

	while (len) {
		unsigned int n = MIN(len, (unsigned int)(PAGE_SIZE -
							 (la & (PAGE_SIZE - 1))));
		uint64_t gpa = 0;

		if (emul_walk(ctx, la, acc, &gpa) != EMUL_OK ||
		    op_read_phys(ctx, gpa, p, n) != EMUL_OK)
			return false;
		la = (la + n) & la_mask(ctx);
		p += n;
		len -= n;
	}
	return true;
}

/* len bytes of code at CS:rip, as an instruction fetch. */
static bool read_code(struct emul_ctx *ctx, uint64_t rip, void *buf,
		      unsigned int len)
{
	unsigned int acc = EMUL_ACC_FETCH | (ctx->cpl == 3 ? EMUL_ACC_USER : 0);
	struct emul_seg cs;
	uint64_t la = rip;

	if (emul_mode_bits(ctx) != 64) {
		op_get_seg(ctx, EMUL_CS, &cs);
		la = (cs.base + rip) & 0xffffffffULL;
	}
	return read_linear(ctx, la, acc, buf, len);
}

/*
 * The I/O permission bitmap (SDM Vol. 1 19.5.2), asked by the emulator when
 * CPL > IOPL: every bit of the access must be clear in the map whose offset
 * the TSS holds at 0x66; bits beyond the TSS limit count as set. Keel's
 * own I/O exits come after the processor made this check; a forced
 * emulation of IN/OUT does not.
 */
static bool op_io_allowed(struct emul_ctx *ctx, uint16_t port,
			  unsigned int size)
{
	uint64_t base = vmcs_readnat(VMCS_GUEST_TR_BASE);
	uint32_t limit = vmcs_read32(VMCS_GUEST_TR_LIMIT), at;
	uint16_t map = 0, bits = 0;

	if ((vmcs_read32(VMCS_GUEST_TR_AR) & EMUL_AR_TYPE) != TSS_TYPE_BUSY32 ||
	    limit < TSS_IOMAP_BASE + 1 ||
	    !read_linear(ctx, base + TSS_IOMAP_BASE, EMUL_ACC_IMPLICIT, &map, 2))
		return false;
	at = map + port / 8u;
	if (at + 1 > limit ||
	    !read_linear(ctx, base + at, EMUL_ACC_IMPLICIT, &bits, 2))
		return false;
	return !(bits & (((1u << size) - 1) << (port % 8)));
}

/* LMSW: the new CR0 goes through MOV to CR0's checks and effects
 * (vmx/exit_cr.c); a refused value is #GP(0). */
static int op_write_cr0(struct emul_ctx *ctx, uint64_t val)
{
	if (vcpu_load_cr0(vemu_of(ctx)->v, val))
		return EMUL_OK;
	ctx->exc = (struct emul_exception){ EMUL_VEC_GP, true, 0, 0 };
	return EMUL_EXCEPTION;
}

/* MOV to CR3/CR4 with the exits' checks and effects (vmx/exit_cr.c). */
static int op_write_cr(struct emul_ctx *ctx, unsigned int cr, uint64_t val)
{
	struct vcpu *v = vemu_of(ctx)->v;
	bool ok = cr == 3 ? vcpu_load_cr3(v, val) :
		  cr == 4 ? vcpu_load_cr4(v, val) : false;

	if (ok)
		return EMUL_OK;
	ctx->exc = (struct emul_exception){ EMUL_VEC_GP, true, 0, 0 };
	return EMUL_EXCEPTION;
}

/* LGDT/LIDT: the emulator checked the base; the limit is 16 bits. */
static int op_set_dtr(struct emul_ctx *ctx, bool idt, uint64_t base,
		      uint32_t limit)
{
	(void)ctx;
	vmcs_writenat(idt ? VMCS_GUEST_IDTR_BASE : VMCS_GUEST_GDTR_BASE, base);
	vmcs_write32(idt ? VMCS_GUEST_IDTR_LIMIT : VMCS_GUEST_GDTR_LIMIT, limit);
	return EMUL_OK;
}

/*
 * The guest's XMM registers are live in this CPU while Keel handles its
 * exit: VM exits do not switch them and Keel, built without SSE, never
 * touches them (migration saves them with XSAVE, vmx/vcpu_state.c).
 * Keel's CR4.OSFXSR is set (fpu_init_this_cpu) and its CR0.TS clear.
 */
#define XMM_GET(n) case n: __asm__ volatile("movdqu %%xmm" #n ", %0" \
					     : "=m"(*x)); break
#define XMM_SET(n) case n: __asm__ volatile("movdqu %0, %%xmm" #n \
					     :: "m"(*x)); break

static int op_get_xmm(struct emul_ctx *ctx, unsigned int reg, void *buf)
{
	uint8_t (*x)[16] = buf;

	(void)ctx;
	switch (reg & 15) {
	XMM_GET(0); XMM_GET(1); XMM_GET(2); XMM_GET(3);
	XMM_GET(4); XMM_GET(5); XMM_GET(6); XMM_GET(7);
	XMM_GET(8); XMM_GET(9); XMM_GET(10); XMM_GET(11);
	XMM_GET(12); XMM_GET(13); XMM_GET(14); XMM_GET(15);
	}
	return EMUL_OK;
}

static int op_set_xmm(struct emul_ctx *ctx, unsigned int reg, const void *buf)
{
	const uint8_t (*x)[16] = buf;

	(void)ctx;
	switch (reg & 15) {
	XMM_SET(0); XMM_SET(1); XMM_SET(2); XMM_SET(3);
	XMM_SET(4); XMM_SET(5); XMM_SET(6); XMM_SET(7);
	XMM_SET(8); XMM_SET(9); XMM_SET(10); XMM_SET(11);
	XMM_SET(12); XMM_SET(13); XMM_SET(14); XMM_SET(15);
	}
	return EMUL_OK;
}

/*
 * The guest's MMX registers and x87 state are live in this CPU too. An
 * MOVQ that Keel runs on them has every effect the guest's own MOVQ has
 * (x87 TOS to 0, tags all valid: SDM Vol. 1 9.5.1); the emulator asked
 * get_fsw first, so no pending x87 exception can raise #MF here.
 */
#define MM_GET(n) case n: __asm__ volatile("movq %%mm" #n ", %0" \
					    : "=m"(*x)); break
#define MM_SET(n) case n: __asm__ volatile("movq %0, %%mm" #n \
					    :: "m"(*x)); break

static int op_get_mm(struct emul_ctx *ctx, unsigned int reg, void *buf)
{
	uint8_t (*x)[8] = buf;

	(void)ctx;
	switch (reg & 7) {
	MM_GET(0); MM_GET(1); MM_GET(2); MM_GET(3);
	MM_GET(4); MM_GET(5); MM_GET(6); MM_GET(7);
	}
	return EMUL_OK;
}

static int op_set_mm(struct emul_ctx *ctx, unsigned int reg, const void *buf)
{
	const uint8_t (*x)[8] = buf;

	(void)ctx;
	switch (reg & 7) {
	MM_SET(0); MM_SET(1); MM_SET(2); MM_SET(3);
	MM_SET(4); MM_SET(5); MM_SET(6); MM_SET(7);
	}
	return EMUL_OK;
}

/* FNSTSW does not wait, so it raises no pending x87 exception. */
static int op_get_fsw(struct emul_ctx *ctx, uint16_t *fsw)
{
	(void)ctx;
	__asm__ volatile("fnstsw %0" : "=m"(*fsw));
	return EMUL_OK;
}

/* LTR: the guest's GDTR, and its new TR. */
static int op_get_gdtr(struct emul_ctx *ctx, uint64_t *base, uint32_t *limit)
{
	(void)ctx;
	*base = vmcs_readnat(VMCS_GUEST_GDTR_BASE);
	*limit = vmcs_read32(VMCS_GUEST_GDTR_LIMIT);
	return EMUL_OK;
}

static int op_set_tr(struct emul_ctx *ctx, const struct emul_seg *tr)
{
	(void)ctx;
	vmcs_write16(VMCS_GUEST_TR_SEL, tr->sel);
	vmcs_writenat(VMCS_GUEST_TR_BASE, tr->base);
	vmcs_write32(VMCS_GUEST_TR_LIMIT, tr->limit);
	vmcs_write32(VMCS_GUEST_TR_AR, tr->ar);
	return EMUL_OK;
}

/* CPUID, RDMSR, WRMSR, WBINVD: Keel's answers to the guest's own
 * (vmx/exit_misc.c, vmx/exit_msr.c). */
static int op_cpuid(struct emul_ctx *ctx, uint32_t leaf, uint32_t sub,
		    uint32_t out[4])
{
	struct cpuid_regs r = guest_cpuid(vemu_of(ctx)->v, leaf, sub);

	out[0] = r.eax;
	out[1] = r.ebx;
	out[2] = r.ecx;
	out[3] = r.edx;
	return EMUL_OK;
}

static int msr_refused(struct emul_ctx *ctx)
{
	ctx->exc = (struct emul_exception){ EMUL_VEC_GP, true, 0, 0 };
	return EMUL_EXCEPTION;
}

static int op_rdmsr(struct emul_ctx *ctx, uint32_t msr, uint64_t *val)
{
	return vcpu_read_msr(vemu_of(ctx)->v, msr, val) ? EMUL_OK
							: msr_refused(ctx);
}

static int op_wrmsr(struct emul_ctx *ctx, uint32_t msr, uint64_t val)
{
	return vcpu_write_msr(vemu_of(ctx)->v, msr, val) ? EMUL_OK
							 : msr_refused(ctx);
}

/* As handle_wbinvd: the guest's data may sit in this CPU's caches. */
static int op_wbinvd(struct emul_ctx *ctx)
{
	(void)ctx;
	__asm__ volatile("wbinvd" ::: "memory");
	return EMUL_OK;
}

static const struct emul_ops vemu_ops = {
	.read_phys = op_read_phys,
	.write_phys = op_write_phys,
	.cmpxchg_phys = op_cmpxchg_phys,
	.update_pte = op_update_pte,
	.mmio_read = op_mmio_read,
	.mmio_write = op_mmio_write,
	.pio_in = op_pio_in,
	.pio_out = op_pio_out,
	.io_allowed = op_io_allowed,
	.get_seg = op_get_seg,
	.write_cr0 = op_write_cr0,
	.write_cr = op_write_cr,
	.set_dtr = op_set_dtr,
	.get_xmm = op_get_xmm,
	.set_xmm = op_set_xmm,
	.get_gdtr = op_get_gdtr,
	.set_tr = op_set_tr,
	.set_seg = op_set_seg,
	.get_ldtr = op_get_ldtr,
	.get_mm = op_get_mm,
	.set_mm = op_set_mm,
	.get_fsw = op_get_fsw,
	.map_phys = op_map_phys,
	.cpuid = op_cpuid,
	.rdmsr = op_rdmsr,
	.wrmsr = op_wrmsr,
	.wbinvd = op_wbinvd,
};

/* ---- context from the VMCS ----------------------------------------------------- */

/* PKRU is not in the VMCS and Keel never changes it: the register holds
 * the guest's value. RDPKRU needs CR4.PKE in Keel's own CR4 for a moment
 * (the guest's CR4.PKE says the CPU has it). */
static uint32_t guest_pkru(void)
{
	uint64_t cr4 = read_cr4();
	uint32_t pkru, edx;

	write_cr4(cr4 | X86_CR4_PKE);
	__asm__ volatile("rdpkru" : "=a"(pkru), "=d"(edx) : "c"(0));
	write_cr4(cr4);
	return pkru;
}

/* CPL (SDM Vol. 3A 5.5, 20.2): 0 in real mode, 3 in virtual-8086 mode,
 * else SS.DPL. */
static uint8_t guest_cpl(const struct emul_ctx *ctx)
{
	if (!(ctx->cr0 & EMUL_CR0_PE))
		return 0;
	if (ctx->rflags & EMUL_RFLAGS_VM)
		return 3;
	return (uint8_t)((vmcs_read32(VMCS_GUEST_SS_AR) & EMUL_AR_DPL) >> 5);
}

/* With EPT, PAE paging outside IA-32e mode uses the PDPTEs the processor
 * loaded, which VM exit saves in the VMCS (SDM Vol. 3C 28.3.4); with
 * shadow paging Keel loaded them itself (vmx/exit_shadow.c). */
static void vemu_pdptes(struct emul_ctx *ctx, const struct vcpu *v)
{
	ctx->pdpte_valid = emul_paging_mode(ctx) == EMUL_PAGING_PAE;
	if (!ctx->pdpte_valid)
		return;
	if (v->shadow) {
		memcpy(ctx->pdpte, v->sv.pdpte, sizeof(ctx->pdpte));
		return;
	}
	ctx->pdpte[0] = vmcs_read64(VMCS_GUEST_PDPTE0);
	ctx->pdpte[1] = vmcs_read64(VMCS_GUEST_PDPTE1);
	ctx->pdpte[2] = vmcs_read64(VMCS_GUEST_PDPTE2);
	ctx->pdpte[3] = vmcs_read64(VMCS_GUEST_PDPTE3);
}

/* The registers as the guest sees them (vcpu_guest_cr0() and friends). */
static void vemu_control_state(struct emul_ctx *ctx, const struct vcpu *v)
{
	ctx->cr0 = vcpu_guest_cr0(v);
	ctx->cr4 = vcpu_guest_cr4(v);
	ctx->cr3 = vcpu_guest_cr3(v);
	ctx->efer = vcpu_guest_efer(v);
	ctx->cpl = guest_cpl(ctx);
	ctx->maxphyaddr = (uint8_t)cpu_maxphyaddr();
	ctx->pkru = (ctx->cr4 & X86_CR4_PKE) ? guest_pkru() : 0;
	ctx->hint.valid = false;
	ctx->hint_mmio = false;
	ctx->icache = NULL;
	vemu_pdptes(ctx, v);
}

/* Every field of the context is set here except the segment cache, the
 * decoded instruction and the exception, which emul/ fills before it
 * reads them (emul_begin() empties the cache): no need to clear ~460
 * bytes at every exit. */
static void vemu_init(struct vemu *e, struct vcpu *v)
{
	struct emul_ctx *ctx = &e->ctx;

	e->v = v;
	e->bad_gpa = NO_GPA;
	e->mmio = NULL;
	ctx->ops = &vemu_ops;
	ctx->opaque = v;
	memcpy(ctx->gpr, &v->regs, sizeof(ctx->gpr));
	ctx->gpr[EMUL_RSP] = e->rsp0 = vmcs_readnat(VMCS_GUEST_RSP);
	ctx->rip = e->rip0 = vmcs_readnat(VMCS_GUEST_RIP);
	ctx->rflags = e->rflags0 = vmcs_readnat(VMCS_GUEST_RFLAGS);
	vemu_control_state(ctx, v);
	ctx->icache = &v->icache;
	ctx->ram_gen = READ_ONCE(guest_ram_gen);
	emul_begin(ctx);
	vemu_load_cs(ctx);
}

/* ---- committing the result ------------------------------------------------------- */

/* An emulated MOV SS blocks as the processor's own would, until the next
 * instruction completes (SDM Vol. 3C 24.4.2, "blocking by MOV SS"); the
 * blocking by STI that vcpu_retire_instruction() ended cannot be set with
 * it (SDM Vol. 3C 26.3.1.5). */
static void block_by_mov_ss(void)
{
	vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY,
		     vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) |
		     INTERRUPTIBILITY_MOV_SS);
}

/* The instruction completed: RIP moves on, with what that implies for
 * interrupt shadows and single-stepping (vcpu_retire_instruction; emul/
 * leaves the single-step trap to its caller). */
static void vemu_retire(struct vemu *e)
{
	vcpu_retire_instruction(e->v, e->ctx.rip, e->rflags0);
	if (e->ctx.blocking & EMUL_BLOCK_MOV_SS)
		block_by_mov_ss();
}

/* Registers and RFLAGS as the emulator left them (after a fault: as
 * before the faulting iteration); RIP only once the instruction is done
 * (ctx->retired: a branch to itself completes too, with what that
 * implies). */
static void vemu_commit(struct vemu *e)
{
	const struct emul_ctx *ctx = &e->ctx;

	memcpy(&e->v->regs, ctx->gpr, sizeof(e->v->regs));
	if (ctx->gpr[EMUL_RSP] != e->rsp0)
		vmcs_writenat(VMCS_GUEST_RSP, ctx->gpr[EMUL_RSP]);
	if (ctx->rflags != e->rflags0)
		vmcs_writenat(VMCS_GUEST_RFLAGS, ctx->rflags);
	if (ctx->retired)
		vemu_retire(e);
}

/* A completed step: an instruction, or iterations of a REP string one
 * with more left (RIP stays on it). */
static void vemu_commit_done(struct vemu *e)
{
	vemu_commit(e);
	if (!e->ctx.retired)
		vcpu_retire_iteration(e->v, e->rflags0);
}

/*
 * The fault goes to the guest at the next VM entry. CR2 is not part of
 * the VMCS: while the guest runs, the processor's own CR2 is the guest's,
 * and Keel never uses CR2 (only its exception handler reads it, for a
 * Keel bug), so writing it now is what the guest finds after the entry.
 * In real mode no error code is pushed (SDM Vol. 3C 27.2.1.3).
 */
static void vemu_inject(struct vemu *e)
{
	const struct emul_exception *x = &e->ctx.exc;

	if (x->vector == EMUL_VEC_PF)
		write_cr2(x->cr2);
	vcpu_inject_exception(e->v, x->vector,
			      x->has_error_code && (e->ctx.cr0 & EMUL_CR0_PE),
			      x->error_code);
}

/* As many bytes at rip0 as can be read, up to 15. */
static unsigned int vemu_insn_bytes(struct vemu *e, uint8_t *buf)
{
	unsigned int n = EMUL_MAX_INSN_LEN;

	while (n && !read_code(&e->ctx, e->rip0, buf, n))
		n--;
	return n;
}

/*
 * An instruction Keel cannot emulate stops the guest, with its bytes. It
 * reached an MMIO region or a string I/O exit, so the guest depends on
 * it doing its work: a #UD for an instruction the CPU itself ran would
 * only make the guest fail later and further from the cause.
 */
static int vemu_fatal(struct vemu *e, int rc)
{
	uint8_t bytes[EMUL_MAX_INSN_LEN];
	char hex[3 * EMUL_MAX_INSN_LEN + 1] = " ?", why[64];
	unsigned int n = vemu_insn_bytes(e, bytes);

	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 3 * i, 4, " %02x", bytes[i]);
	if (e->bad_gpa != NO_GPA)
		snprintf(why, sizeof(why), "no RAM or device at guest-physical %#lx",
			 e->bad_gpa);
	else
		snprintf(why, sizeof(why), "%s", rc == EMUL_UNSUPPORTED ?
			 "instruction not supported" : "cannot go on");
	return vcpu_fatal(e->v, "emulation at rip %#lx: %s; bytes%s", e->rip0,
			  why, hex);
}

static int vemu_finish(struct vemu *e, int rc)
{
	switch (rc) {
	case EMUL_OK:
		vemu_commit_done(e);
		return EXIT_RESUME;
	case EMUL_RETRY:
		vemu_commit(e);
		return EXIT_RESUME;
	case EMUL_EXCEPTION:
		vemu_commit(e);
		vemu_inject(e);
		return EXIT_RESUME;
	default:
		return vemu_fatal(e, rc);
	}
}

int vcpu_emulate(struct vcpu *v)
{
	struct vemu e;

	/* An access made while delivering an event (pushing onto a stack in
	 * MMIO, say) cannot be replayed by emulating the instruction at
	 * RIP. */
	if (unlikely(vmcs_read32(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID))
		return vcpu_fatal(v, "emulation needed during event delivery");
	vemu_init(&e, v);
	return vemu_finish(&e, emul_step(&e.ctx));
}

/*
 * One instruction of code the processor cannot run (real mode without
 * unrestricted guest, vmx/realmode.c). Nothing is injected: an event in
 * real mode goes through the guest's IVT, which Keel does not emulate,
 * so an instruction that faults stops the guest, saying so.
 */
int vcpu_emulate_real(struct vcpu *v)
{
	struct vemu e;
	int rc;

	vemu_init(&e, v);
	rc = emul_step(&e.ctx);
	if (rc != EMUL_EXCEPTION)
		return vemu_finish(&e, rc);
	return vcpu_fatal(v, "emulated real-mode code at %04x:%04lx raised "
			  "exception %u, which Keel cannot deliver there",
			  e.ctx.seg[EMUL_CS].sel, e.rip0, e.ctx.exc.vector);
}

/* A write to a page table Keel shadows. False when the instruction is not
 * one the emulator knows (nothing was done: the caller lets the guest run
 * it natively instead); else *ret is what to return from the exit. */
bool vcpu_emulate_pt_write(struct vcpu *v, int *ret)
{
	struct vemu e;
	int rc;

	vemu_init(&e, v);
	rc = emul_step(&e.ctx);
	if (rc == EMUL_UNSUPPORTED ||
	    (rc == EMUL_UNHANDLEABLE && e.bad_gpa == NO_GPA))
		return false;
	*ret = vemu_finish(&e, rc);
	return true;
}

/* MMIO through a translation the processor or the shadow MMU gave: the
 * emulator's data access to that page skips the guest page walk; with
 * the device's region known (r), it skips the RAM lookup and the region
 * search too. */
int vcpu_emulate_hinted(struct vcpu *v, uint64_t la, uint64_t gpa,
			unsigned int acc, const struct mmio_region *r)
{
	struct vemu e;

	vemu_init(&e, v);
	e.mmio = r;
	e.ctx.hint = (struct emul_xlat_hint){ la, gpa, acc, true };
	e.ctx.hint_mmio = r != NULL;
	return vemu_finish(&e, emul_step(&e.ctx));
}

int vcpu_walk(struct vcpu *v, uint64_t la, unsigned int acc,
	      struct emul_walk_path *path, struct emul_exception *exc)
{
	struct vemu e;
	int rc;

	e.v = v;
	e.bad_gpa = NO_GPA;
	e.ctx.ops = &vemu_ops;
	e.ctx.opaque = v;
	e.ctx.rflags = vmcs_readnat(VMCS_GUEST_RFLAGS);
	vemu_control_state(&e.ctx, v);
	rc = emul_walk_path(&e.ctx, la, acc, path);
	if (rc == EMUL_EXCEPTION)
		*exc = e.ctx.exc;
	return rc;
}

/* ---- forced emulation --------------------------------------------------------------- */

static uint64_t rip_mask(struct emul_ctx *ctx)
{
	unsigned int mode = emul_mode_bits(ctx);

	return mode == 64 ? ~0ULL : mode == 32 ? 0xffffffffULL : 0xffffULL;
}

/*
 * "ud2; .ascii "keel"" asks for the next instruction to be emulated. What
 * the guest gets mirrors a CPU that knew the marker: the instruction's own
 * faults are reported at the marker, so that a guest which fixes the cause
 * and returns runs it through Keel again; a REP batch with iterations left
 * also goes on from the marker. An instruction Keel does not emulate gets
 * the #UD that ud2 raised, so a test can tell (unlike vcpu_emulate(),
 * nothing depends on it).
 */
int vcpu_emulate_forced(struct vcpu *v)
{
	uint8_t marker[EMUL_FORCE_PREFIX_LEN];
	struct vemu e;
	uint64_t next;
	int rc;

	vemu_init(&e, v);
	if (!read_code(&e.ctx, e.rip0, marker, sizeof(marker)) ||
	    !emul_is_force_prefix(marker, sizeof(marker))) {
		vcpu_inject_exception(v, EMUL_VEC_UD, false, 0);
		return EXIT_RESUME;
	}
	next = (e.rip0 + EMUL_FORCE_PREFIX_LEN) & rip_mask(&e.ctx);
	e.ctx.rip = next;
	rc = emul_step(&e.ctx);
	if (rc == EMUL_UNSUPPORTED) {
		vcpu_inject_exception(v, EMUL_VEC_UD, false, 0);
		return EXIT_RESUME;
	}
	if (rc != EMUL_OK || !e.ctx.retired)
		e.ctx.rip = e.rip0;
	return vemu_finish(&e, rc);
}
