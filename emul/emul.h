/* Keel's x86 instruction emulator: a pure library.
 *
 * The emulator decodes and executes one guest instruction at a time. It
 * reaches guest state only through struct emul_ctx (registers, control
 * state) and struct emul_ops (memory, port I/O, segment cache), so it builds
 * and is tested on the host as an ordinary program.
 *
 *   emul_step(ctx)
 *     |- fetch:   CS:RIP -> segmentation -> page walk (emul/walk.c) -> RAM
 *     |- decode:  emul_decode(), table driven (emul/opcodes.c)
 *     `- execute: emul/exec.c, emul/strops.c; every data access goes
 *                 through emul/mem.c:
 *
 *        seg:offset --segmentation--> linear --emul_walk()--> guest-physical
 *                                                   |
 *                               ops->read_phys / write_phys / cmpxchg_phys
 *                                                   |  EMUL_NOT_RAM
 *                                                   v
 *                               ops->mmio_read / mmio_write
 *
 * Faults are not injected: a step that faults returns EMUL_EXCEPTION with
 * ctx->exc filled in (vector, error code, CR2 for #PF) and RIP, registers and
 * flags left as they were before the instruction (or before the current
 * iteration of a REP string instruction). The caller injects the event.
 *
 * Instructions (emul/opcodes.c has the exact forms): MOV (88-8B, A0-A3,
 * B0-BF, C6/C7), MOV to and from segment registers (8C/8E), MOVZX, MOVSX,
 * MOVSXD, MOVNTI, ADD OR ADC SBB AND SUB XOR CMP (00-3D, 80-83), TEST,
 * INC, DEC, NOT, NEG, XCHG, XADD, CMPXCHG, CMPXCHG8B/16B, BT BTS BTR BTC,
 * SETcc, CMOVcc, PUSH/POP (register, r/m, immediate), MOVS CMPS STOS LODS
 * SCAS INS OUTS with REP prefixes, IN, OUT, SMSW, LMSW, LTR, MOV to and
 * from CR0/CR3/CR4, LGDT, LIDT, CLI, PUSHF, POPF, CPUID, RDMSR, WRMSR,
 * WBINVD, SHL SHR SAR (C0, C1, D0-D3), RET (near), Jcc, JMP and CALL
 * relative, through a register or memory (FF /2 /4) and far, through
 * memory (FF /3 /5) or ptr16:16/32 (EA, 9A), to a code segment, ENTER
 * (level 0), LEAVE, IMUL (two and three operands), MUL, IMUL, DIV, IDIV,
 * BSF, BSR, SHLD, SHRD, the 128-bit SSE moves MOVUPS MOVUPD MOVAPS
 * MOVAPD MOVDQU MOVDQA and the MMX MOVQ (0F 6F/7F). Everything else is
 * EMUL_UNSUPPORTED,
 * among it the rotates (group 2 /0-/3) and its /6 alias of SHL, the
 * short XCHG forms 91-97, the undocumented F6/F7 /1 alias
 * of TEST, the other MMX instructions, LOOP and JCXZ, MOV to or from
 * CR2 and CR8, STI, far branches through call gates or to a task
 * (a task switch). Not modelled: the TF/RF debug trap after an emulated
 * instruction (the caller raises it), protection keys for supervisor
 * pages (PKS) and shadow stacks.
 */
#ifndef KEEL_EMUL_EMUL_H
#define KEEL_EMUL_EMUL_H

#include "arch/compiler.h"

/* ---- result codes ---------------------------------------------------- */

enum emul_status {
	EMUL_OK = 0,
	EMUL_EXCEPTION,		/* ctx->exc holds the fault to inject */
	EMUL_UNSUPPORTED,	/* not in Keel's tables; ctx->exc holds #UD */
	EMUL_UNHANDLEABLE,	/* cannot continue: paging structure outside
				 * RAM, a missing op, or an op failed */
	EMUL_RETRY,		/* run the instruction again (resume the guest
				 * at RIP): an op asked for it, or a locked
				 * write-back lost a race; nothing of this
				 * instruction was committed */
	/* Returned by ops only. */
	EMUL_NOT_RAM,		/* read/write/cmpxchg_phys: gpa is MMIO */
	EMUL_CMPXCHG_FAILED,	/* cmpxchg_phys: memory did not hold 'old' */
	/* Returned by emul_decode() only. */
	EMUL_NEED_BYTES,	/* ran out of bytes before the 15-byte limit */
};

/* ---- exceptions (SDM Vol. 3A 6.15) ------------------------------------ */

#define EMUL_VEC_DE	0
#define EMUL_VEC_UD	6
#define EMUL_VEC_NM	7
#define EMUL_VEC_NP	11
#define EMUL_VEC_SS	12
#define EMUL_VEC_GP	13
#define EMUL_VEC_PF	14
#define EMUL_VEC_MF	16
#define EMUL_VEC_AC	17

/* #PF error code bits (SDM Vol. 3A 4.7, Figure 4-12). */
#define EMUL_PFEC_P	BIT_ULL(0)
#define EMUL_PFEC_W	BIT_ULL(1)
#define EMUL_PFEC_U	BIT_ULL(2)
#define EMUL_PFEC_RSVD	BIT_ULL(3)
#define EMUL_PFEC_I	BIT_ULL(4)
#define EMUL_PFEC_PK	BIT_ULL(5)

struct emul_exception {
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
	uint64_t cr2;		/* faulting linear address, #PF only */
};

/* ---- architectural bits the emulator reads ---------------------------- */

#define EMUL_RFLAGS_CF		BIT_ULL(0)
#define EMUL_RFLAGS_FIXED	BIT_ULL(1)
#define EMUL_RFLAGS_PF		BIT_ULL(2)
#define EMUL_RFLAGS_AF		BIT_ULL(4)
#define EMUL_RFLAGS_ZF		BIT_ULL(6)
#define EMUL_RFLAGS_SF		BIT_ULL(7)
#define EMUL_RFLAGS_TF		BIT_ULL(8)
#define EMUL_RFLAGS_IF		BIT_ULL(9)
#define EMUL_RFLAGS_DF		BIT_ULL(10)
#define EMUL_RFLAGS_OF		BIT_ULL(11)
#define EMUL_RFLAGS_IOPL	GENMASK_ULL(13, 12)
#define EMUL_RFLAGS_IOPL_SHIFT	12
#define EMUL_RFLAGS_RF		BIT_ULL(16)
#define EMUL_RFLAGS_VM		BIT_ULL(17)
#define EMUL_RFLAGS_AC		BIT_ULL(18)
#define EMUL_RFLAGS_ARITH	(EMUL_RFLAGS_CF | EMUL_RFLAGS_PF | \
				 EMUL_RFLAGS_AF | EMUL_RFLAGS_ZF | \
				 EMUL_RFLAGS_SF | EMUL_RFLAGS_OF)

#define EMUL_CR0_PE		BIT_ULL(0)
#define EMUL_CR0_EM		BIT_ULL(2)
#define EMUL_CR0_TS		BIT_ULL(3)
#define EMUL_CR0_NE		BIT_ULL(5)
#define EMUL_CR0_WP		BIT_ULL(16)
#define EMUL_CR0_AM		BIT_ULL(18)
#define EMUL_CR0_PG		BIT_ULL(31)
#define EMUL_CR4_VME		BIT_ULL(0)
#define EMUL_CR4_PVI		BIT_ULL(1)
#define EMUL_CR4_PSE		BIT_ULL(4)
#define EMUL_CR4_PAE		BIT_ULL(5)
#define EMUL_CR4_OSFXSR		BIT_ULL(9)
#define EMUL_CR4_UMIP		BIT_ULL(11)
#define EMUL_CR4_LA57		BIT_ULL(12)
#define EMUL_CR4_SMEP		BIT_ULL(20)
#define EMUL_CR4_SMAP		BIT_ULL(21)
#define EMUL_CR4_PKE		BIT_ULL(22)
#define EMUL_EFER_LME		BIT_ULL(8)
#define EMUL_EFER_LMA		BIT_ULL(10)
#define EMUL_EFER_NXE		BIT_ULL(11)

/* General-purpose register numbers, in ModRM/REX encoding order. */
enum emul_gpr {
	EMUL_RAX, EMUL_RCX, EMUL_RDX, EMUL_RBX,
	EMUL_RSP, EMUL_RBP, EMUL_RSI, EMUL_RDI,
	EMUL_R8, EMUL_R9, EMUL_R10, EMUL_R11,
	EMUL_R12, EMUL_R13, EMUL_R14, EMUL_R15,
	EMUL_GPR_NR
};

/* Segment registers, in Sreg encoding order (also the VMCS order). */
enum emul_segreg {
	EMUL_ES, EMUL_CS, EMUL_SS, EMUL_DS, EMUL_FS, EMUL_GS,
	EMUL_SEG_NR
};

/* Segment access rights in the VMCS format (SDM Vol. 3C 24.4.1,
 * Table 24-2), so the VMM can copy the guest-state field as it is. */
#define EMUL_AR_TYPE		GENMASK_ULL(3, 0)
#define EMUL_AR_TYPE_A		BIT_ULL(0)	/* accessed */
#define EMUL_AR_TYPE_W		BIT_ULL(1)	/* data: writable */
#define EMUL_AR_TYPE_R		BIT_ULL(1)	/* code: readable */
#define EMUL_AR_TYPE_E		BIT_ULL(2)	/* data: expand-down */
#define EMUL_AR_TYPE_CODE	BIT_ULL(3)
#define EMUL_AR_S		BIT_ULL(4)
#define EMUL_AR_DPL		GENMASK_ULL(6, 5)
#define EMUL_AR_P		BIT_ULL(7)
#define EMUL_AR_L		BIT_ULL(13)
#define EMUL_AR_DB		BIT_ULL(14)
#define EMUL_AR_G		BIT_ULL(15)
#define EMUL_AR_UNUSABLE	BIT_ULL(16)

struct emul_seg {
	uint64_t base;
	uint32_t limit;		/* byte granular, as in the VMCS */
	uint32_t ar;		/* EMUL_AR_* */
	uint16_t sel;
};

/* ---- decoded instruction ----------------------------------------------- */

enum emul_opnd_kind {
	EMUL_OPND_NONE,
	EMUL_OPND_REG,		/* general-purpose register */
	EMUL_OPND_MEM,		/* the ModRM/moffs memory operand, insn->mem */
	EMUL_OPND_IMM,		/* insn->imm */
	EMUL_OPND_XMM,		/* XMM register `reg` (0-15) */
	EMUL_OPND_SREG,		/* segment register `reg` (enum emul_segreg) */
	EMUL_OPND_MMX,		/* MMX register `reg` (0-7) */
	EMUL_OPND_CR,		/* control register `reg` (0-15) */
};

struct emul_operand {
	uint8_t kind;		/* enum emul_opnd_kind */
	uint8_t size;		/* bytes: 1, 2, 4, 8 or 16; a far pointer
				 * m16:16/32/64 is 4, 6 or 10 */
	uint8_t reg;		/* EMUL_OPND_REG: enum emul_gpr */
	bool high8;		/* AH/CH/DH/BH: bits 15:8 of reg 0..3 */
};

#define EMUL_MEM_NOREG	0xff
#define EMUL_MEM_RIP	0x10	/* base: RIP-relative */

struct emul_mem {
	uint8_t base;		/* enum emul_gpr, EMUL_MEM_RIP or NOREG */
	uint8_t index;		/* enum emul_gpr or EMUL_MEM_NOREG */
	uint8_t scale;		/* 1, 2, 4, 8 */
	uint8_t seg;		/* effective segment (after overrides) */
	int64_t disp;		/* sign-extended; moffs zero-extended */
};

/* Legacy prefixes seen (insn->prefixes). */
#define EMUL_PFX_LOCK	BIT_ULL(0)
#define EMUL_PFX_REP	BIT_ULL(1)	/* F3, the last of F2/F3 */
#define EMUL_PFX_REPNE	BIT_ULL(2)	/* F2, the last of F2/F3 */
#define EMUL_PFX_OPSZ	BIT_ULL(3)	/* 66 */
#define EMUL_PFX_ADSZ	BIT_ULL(4)	/* 67 */
#define EMUL_PFX_SEG	BIT_ULL(5)	/* a segment override */

#define EMUL_REX_B	BIT_ULL(0)
#define EMUL_REX_X	BIT_ULL(1)
#define EMUL_REX_R	BIT_ULL(2)
#define EMUL_REX_W	BIT_ULL(3)
#define EMUL_REX_PRESENT BIT_ULL(6)	/* 0x40: also marks a REX byte */

#define EMUL_MAX_INSN_LEN 15

struct emul_insn {
	uint8_t len;
	uint8_t mode;		/* default size: 16, 32 or 64 */
	uint8_t map;		/* 0: one-byte map, 1: 0F map */
	uint8_t opcode;
	uint8_t modrm;
	uint8_t rex;		/* 0 or 0x40..0x4f */
	uint8_t prefixes;	/* EMUL_PFX_* */
	uint8_t opsize;		/* bytes: 2, 4, 8 */
	uint8_t addrsize;	/* bytes: 2, 4, 8 */
	uint8_t handler;	/* enum emul_handler (emul/opcodes.h) */
	uint16_t flags;		/* table flags (emul/opcodes.h) */
	bool has_modrm;
	bool has_mem;		/* one of dst/src is EMUL_OPND_MEM */
	struct emul_operand dst;
	struct emul_operand src;
	struct emul_mem mem;
	uint64_t imm;		/* sign-extended immediate */
	uint8_t bytes[EMUL_MAX_INSN_LEN];
};

/* ---- context and ops --------------------------------------------------- */

struct emul_ctx;

/* Ops return an enum emul_status: EMUL_OK, or
 *  - read_phys/write_phys/cmpxchg_phys: EMUL_NOT_RAM when the gpa is not
 *    guest RAM; data accesses then go to mmio_read/mmio_write, page-table
 *    accesses end the step with EMUL_UNHANDLEABLE;
 *  - cmpxchg_phys: EMUL_CMPXCHG_FAILED when memory did not hold *old;
 *  - any op: EMUL_RETRY / EMUL_UNHANDLEABLE to stop the step, or
 *    EMUL_EXCEPTION after filling ctx->exc (e.g. a device wants #GP).
 * Accesses never cross a 4 KiB page; len is 1..16. */
struct emul_ops {
	int (*read_phys)(struct emul_ctx *ctx, uint64_t gpa, void *buf,
			 unsigned int len);
	int (*write_phys)(struct emul_ctx *ctx, uint64_t gpa, const void *buf,
			  unsigned int len);
	/* Optional: atomic compare-exchange of guest RAM, used for A/D bit
	 * updates and LOCK-prefixed / XCHG write-back. When NULL the
	 * emulator falls back to write_phys (not atomic). */
	int (*cmpxchg_phys)(struct emul_ctx *ctx, uint64_t gpa, const void *old,
			    const void *new_val, unsigned int len);
	/* Optional: the page walker's A/D updates, when the VMM treats them
	 * apart from the guest's own stores (a shadow MMU zaps what a guest
	 * store to a page table changed, not what A/D updates change).
	 * When NULL, cmpxchg_phys (or write_phys) is used. */
	int (*update_pte)(struct emul_ctx *ctx, uint64_t gpa, const void *old,
			  const void *new_val, unsigned int len);
	int (*mmio_read)(struct emul_ctx *ctx, uint64_t gpa, void *buf,
			 unsigned int len);
	int (*mmio_write)(struct emul_ctx *ctx, uint64_t gpa, const void *buf,
			  unsigned int len);
	int (*pio_in)(struct emul_ctx *ctx, uint16_t port, unsigned int size,
		      uint32_t *val);
	int (*pio_out)(struct emul_ctx *ctx, uint16_t port, unsigned int size,
		       uint32_t val);
	/* Optional: TSS I/O permission bitmap check (SDM Vol. 1 19.5.2),
	 * asked only when CPL > IOPL or in virtual-8086 mode. Returns true
	 * when access is allowed. When NULL such accesses get #GP(0). */
	bool (*io_allowed)(struct emul_ctx *ctx, uint16_t port,
			   unsigned int size);
	/* Optional: fill ctx->seg[seg]; called at most once per segment
	 * between emul_begin() calls. When NULL, ctx->seg[] must be filled
	 * and ctx->seg_valid set by the caller. */
	int (*get_seg)(struct emul_ctx *ctx, enum emul_segreg seg,
		       struct emul_seg *out);
	/* Optional: the new CR0 an emulated LMSW loads, applied by the VMM
	 * with the checks and effects of MOV to CR0 (a #GP fills ctx->exc
	 * and returns EMUL_EXCEPTION). When NULL, LMSW is
	 * EMUL_UNHANDLEABLE. ctx->cr0 follows on EMUL_OK. */
	int (*write_cr0)(struct emul_ctx *ctx, uint64_t val);
	/* Optional: MOV to CR3 or CR4 (cr), with the checks and effects of
	 * the processor's own (a #GP fills ctx->exc and returns
	 * EMUL_EXCEPTION). MOV to CR0 goes to write_cr0. When NULL, those
	 * are EMUL_UNHANDLEABLE. ctx->cr3/cr4 follow on EMUL_OK. */
	int (*write_cr)(struct emul_ctx *ctx, unsigned int cr, uint64_t val);
	/* Optional: the guest's XMM registers (16 bytes each), for the SSE
	 * moves. When NULL, those are EMUL_UNHANDLEABLE. */
	int (*get_xmm)(struct emul_ctx *ctx, unsigned int reg, void *buf);
	int (*set_xmm)(struct emul_ctx *ctx, unsigned int reg, const void *buf);
	/* Optional, for LTR: the guest's GDTR, and the task register LTR
	 * loads (selector, base, byte-granular limit, VMCS access rights).
	 * When NULL, LTR is EMUL_UNHANDLEABLE. */
	int (*get_gdtr)(struct emul_ctx *ctx, uint64_t *base, uint32_t *limit);
	int (*set_tr)(struct emul_ctx *ctx, const struct emul_seg *tr);
	/* Optional, for LGDT and LIDT: load the GDTR or (idt) the IDTR.
	 * When NULL, those are EMUL_UNHANDLEABLE. */
	int (*set_dtr)(struct emul_ctx *ctx, bool idt, uint64_t base,
		       uint32_t limit);
	/* Optional, for MOV to a segment register and far JMP/CALL: loads
	 * segment register seg (selector, base, byte-granular limit, VMCS
	 * access rights) once every check passed; the emulator's cache in
	 * ctx->seg follows. When NULL, those are EMUL_UNHANDLEABLE. */
	int (*set_seg)(struct emul_ctx *ctx, enum emul_segreg seg,
		       const struct emul_seg *val);
	/* Optional: the guest's LDTR, for selectors with TI set. When NULL,
	 * such a selector makes the step EMUL_UNHANDLEABLE. */
	int (*get_ldtr)(struct emul_ctx *ctx, struct emul_seg *out);
	/* Optional, for the MMX moves: the guest's MMX registers (8 bytes
	 * each, written as an MMX instruction writes them) and its x87 FPU
	 * status word (the pending-exception check). When NULL, those moves
	 * are EMUL_UNHANDLEABLE. */
	int (*get_mm)(struct emul_ctx *ctx, unsigned int reg, void *buf);
	int (*set_mm)(struct emul_ctx *ctx, unsigned int reg, const void *buf);
	int (*get_fsw)(struct emul_ctx *ctx, uint16_t *fsw);
	/* Optional, for CPUID: the four registers (EAX, EBX, ECX, EDX) the
	 * guest's CPUID gets for leaf and subleaf. When NULL, CPUID is
	 * EMUL_UNHANDLEABLE. */
	int (*cpuid)(struct emul_ctx *ctx, uint32_t leaf, uint32_t sub,
		     uint32_t out[4]);
	/* Optional, for RDMSR and WRMSR at CPL 0: the guest's MSR as the
	 * VMM has it; a refused access fills ctx->exc (#GP(0)) and returns
	 * EMUL_EXCEPTION. When NULL, those are EMUL_UNHANDLEABLE. */
	int (*rdmsr)(struct emul_ctx *ctx, uint32_t msr, uint64_t *val);
	int (*wrmsr)(struct emul_ctx *ctx, uint32_t msr, uint64_t val);
	/* Optional: WBINVD's write-back; when NULL, WBINVD only completes. */
	int (*wbinvd)(struct emul_ctx *ctx);
	/* Optional, for the instruction cache (ctx->icache): a host pointer
	 * to len bytes of guest RAM at gpa (within one page), or NULL when
	 * they are not RAM. It must stay valid, and keep reading what
	 * read_phys() would, while ctx->ram_gen keeps its value. */
	const void *(*map_phys)(struct emul_ctx *ctx, uint64_t gpa,
				unsigned int len);
};

/* ctx->blocking: a MOV to SS blocks interrupts, NMIs and debug traps
 * until the next instruction completes (SDM Vol. 2B "MOV", Vol. 3A 6.8.3);
 * the caller records it (with VMX: blocking by MOV SS in the guest
 * interruptibility state, SDM Vol. 3C 24.4.2). */
#define EMUL_BLOCK_MOV_SS	BIT_ULL(0)

/* Bound on REP string iterations per emul_step() (one with RFLAGS.TF);
 * see emul/strops.c. */
#define EMUL_REP_BATCH 64

/* A translation the caller already knows (one 4 KiB page); emul_walk()
 * uses it for data accesses the rights in acc (EMUL_ACC_WRITE/USER) allow.
 * With ctx->hint_mmio set, the caller also knows that gpa's page is not
 * RAM: data accesses to it go to mmio_read/mmio_write without asking
 * read_phys/write_phys first. */
struct emul_xlat_hint {
	uint64_t la, gpa;
	unsigned int acc;
	bool valid;
};

/*
 * Decoded instructions kept from one step to the next (emul/icache.c), so
 * that an instruction which keeps exiting (an MMIO access in a driver's
 * loop) is neither walked for nor decoded again. A line holds what its
 * fetch depended on: the linear address, the control state, host
 * pointers to the paging entries the fetch walked (map_phys) with the
 * values it found there, and the bytes. It is used only when all of them
 * are still what they were, so the result is the fetch and decode of the
 * bytes in memory now: a changed page table, a changed code byte, another
 * mode or CR3 all miss. Instructions whose fetch reaches into a second
 * page are not kept.
 */
#define EMUL_ICACHE_LINES	2
#define EMUL_ICACHE_LEVELS	5

struct emul_icache_line {
	bool valid;
	bool pdpte_valid;		/* ctx->pdpte_valid when filled */
	uint8_t cpl, maxphyaddr;
	uint8_t levels;			/* paging entries walked, 0 without
					 * paging */
	uint8_t pte_bytes;		/* 4 or 8 */
	uint64_t ram_gen, la, cr0, cr3, cr4, efer;
	/* Leaf first; NULL for the PAE PDPTE register (ctx->pdpte). */
	const void *pte_at[EMUL_ICACHE_LEVELS];
	uint64_t pte[EMUL_ICACHE_LEVELS];
	const void *code;		/* insn.len bytes at the leaf's gpa */
	struct emul_insn insn;
};

struct emul_icache {
	struct emul_icache_line line[EMUL_ICACHE_LINES];
	uint8_t victim;			/* the line the next miss refills */
};

struct emul_ctx {
	const struct emul_ops *ops;
	void *opaque;			/* the VMM's vCPU */

	/* Register state, read and written by the emulator. */
	uint64_t gpr[EMUL_GPR_NR];
	uint64_t rip;
	uint64_t rflags;

	/* Control state, read only. */
	uint64_t cr0, cr3, cr4, efer;
	uint64_t pdpte[4];		/* PAE PDPTE registers (VMCS) ... */
	bool pdpte_valid;		/* ... used when true, else read at CR3 */
	uint32_t pkru;
	uint8_t cpl;
	uint8_t maxphyaddr;		/* CPUID.80000008H:EAX[7:0]; 0 = 52 */
	struct emul_xlat_hint hint;	/* set by the caller, or invalid */
	bool hint_mmio;			/* hint.gpa's page is a device's */
	struct emul_icache *icache;	/* the caller's (one per vCPU), or
					 * NULL: fetch and decode every time */
	uint64_t ram_gen;		/* see emul_ops.map_phys */

	/* Segment cache, see emul_ops.get_seg. */
	uint8_t seg_valid;		/* bit n: seg[n] is filled */
	struct emul_seg seg[EMUL_SEG_NR];

	/* Output of the last step. */
	struct emul_exception exc;
	uint8_t blocking;		/* EMUL_BLOCK_*: what an EMUL_OK step
					 * leaves for the next instruction */
	bool retired;			/* EMUL_OK: the instruction completed
					 * (a branch may land on itself);
					 * false while a REP string one has
					 * iterations left */
	struct emul_insn insn;
};

/* ---- API ---------------------------------------------------------------- */

/* Starts a new VM exit's worth of emulation: forgets cached segments. */
static inline void emul_begin(struct emul_ctx *ctx)
{
	ctx->seg_valid = 0;
}

/* Fetches, decodes and executes the instruction at CS:RIP. On EMUL_OK
 * registers, RFLAGS and RIP are updated (RIP is left unchanged while a REP
 * string instruction has iterations left, so it runs again, and retired
 * is false). On any other result nothing of the faulting iteration is
 * committed. */
int emul_step(struct emul_ctx *ctx);

/* Decodes bytes[0..avail) for a processor whose default operand size is
 * mode (16, 32 or 64). Pure: reads no guest state. Returns EMUL_OK,
 * EMUL_UNSUPPORTED (not in Keel's tables), EMUL_EXCEPTION (architectural
 * #UD, or #GP(0) past 15 bytes; *exc filled) or EMUL_NEED_BYTES. */
int emul_decode(struct emul_insn *insn, const uint8_t *bytes, size_t avail,
		unsigned int mode, struct emul_exception *exc);

/* Executes ctx->insn, decoded for the current mode. */
int emul_execute(struct emul_ctx *ctx);

/* The default operand size of the current mode: 16, 32 or 64. */
unsigned int emul_mode_bits(struct emul_ctx *ctx);

/* ---- forced emulation marker --------------------------------------------
 * A test guest asks Keel to emulate the next instruction by prefixing it
 * with "ud2; .ascii \"keel\"". */
#define EMUL_FORCE_PREFIX	{ 0x0f, 0x0b, 0x6b, 0x65, 0x65, 0x6c }
#define EMUL_FORCE_PREFIX_LEN	6

bool emul_is_force_prefix(const uint8_t *bytes, size_t n);

#endif
