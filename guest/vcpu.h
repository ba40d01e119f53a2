/* A virtual CPU: one per physical CPU a guest is given, pinned there. */
#ifndef KEEL_GUEST_VCPU_H
#define KEEL_GUEST_VCPU_H

#include "arch/compiler.h"
#include "arch/x86.h"
#include "emul/emul.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "vmx/vcpu_state.h"
#include "ept/shadow_mmu.h"
#include "guest/vlapic.h"
#include "guest/vmsr.h"

/* Guest general registers in x86 register-number order (RSP is unused:
 * the guest's RSP is in the VMCS). vmx/entry.S fills and reloads this. */
struct guest_regs {
	uint64_t rax, rcx, rdx, rbx, rsp_unused, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

enum gpr {
	GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI,
	GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15,
};

/* One CPUID answer that depends only on its leaf and subleaf, kept so
 * that a repeated CPUID exit skips the host CPUID and the adjustments
 * (vmx/exit_misc.c). leaf1 = leaf + 1, so that a zeroed slot is empty
 * (leaf ~0 is never kept). */
struct cpuid_cached {
	uint32_t leaf1, sub;
	struct cpuid_regs r;
};

#define VCPU_CPUID_CACHE 8      /* slots; a power of two */

/* The livelock watchdog's memory of the last exit that Keel answered by
 * retrying the guest's instruction (vcpu_retry_exit(), vmx/exit.c). */
struct vcpu_watchdog {
	uint64_t rip, qual, addr, rcx;  /* what that exit looked like */
	uint32_t reason;
	uint32_t streak;                /* identical retries in a row */
	uint64_t progress;              /* exits that were not retries */
	uint64_t retries;               /* all retries so far */
	uint64_t async;                 /* NMI kicks (they share reason 0) */
};

/* How a vCPU starts (filled by the image loader). */
enum vcpu_mode {
	VCPU_MODE_REAL,         /* real mode, unrestricted guest */
	VCPU_MODE_PROT32,       /* 32-bit protected mode, paging off */
	VCPU_MODE_LONG64,       /* 64-bit mode, paging on */
};

struct vcpu_boot {
	enum vcpu_mode mode;
	uint64_t rip, rsp, cr3;
	uint64_t rax, rbx, rsi, rdi;
	uint16_t cs;            /* real mode: CS selector (base = cs << 4) */
	/* Protected and long mode: the GDT loaded and the flat code and data
	 * selectors it holds; gdt_limit 0: no GDT, CS 0x08, the others 0x10. */
	uint64_t gdt_base;
	uint16_t gdt_limit, code_sel, data_sel;
};

struct guest;

/*
 * Requests to a vCPU from another CPU (guest_request()): set here, acted on
 * by the vCPU at its next exit (a kick IPI forces one), cleared when done.
 * The bit alone cannot tell the requester that it was answered: another
 * request may set it again before the requester looks (req_passes).
 * VCPU_REQ_FLUSH_ONLY needs no answer from a vCPU outside the guest: it
 * looks at its requests after setting in_guest, before each VM entry.
 */
#define VCPU_REQ_FLUSH_EPT  BIT_ULL(0)      /* INVEPT: EPT entries changed */
#define VCPU_REQ_DRAIN_PML  BIT_ULL(1)      /* page-modification log to bitmap */
#define VCPU_REQ_PML_ON     BIT_ULL(2)
#define VCPU_REQ_PML_OFF    BIT_ULL(3)
#define VCPU_REQ_PAUSE      BIT_ULL(4)      /* save state, leave the CPU */
#define VCPU_REQ_FLUSH_TLB  BIT_ULL(5)      /* INVVPID: shadow entries changed */
#define VCPU_REQ_MMU_RELOAD BIT_ULL(6)      /* shadow roots obsolete: reload */
#define VCPU_REQ_FLUSH_ONLY (VCPU_REQ_FLUSH_EPT | VCPU_REQ_FLUSH_TLB | \
			     VCPU_REQ_MMU_RELOAD)

struct vcpu {
	struct guest_regs regs;         /* must stay first: see vmx/entry.S */
	uint64_t host_rsp;              /* C stack while the guest runs */
	/* What vmx/entry.S looks at after each exit's handler, at offsets
	 * it knows. `attention`: the requests and the guest's end in one
	 * word, for a single load there. */
	union {
		struct {
			uint32_t requests;      /* VCPU_REQ_*, atomic */
			uint32_t guest_ending;  /* set once, by guest_end() */
		};
		uint64_t attention;
	};
	volatile bool in_guest;         /* entering or in VMX non-root mode */
	struct vlapic lapic;            /* its local APIC (guest/vlapic.h) */
	struct guest *guest;
	uint32_t index;                 /* vCPU number inside its guest */
	uint32_t cpu;                   /* physical CPU it is pinned to */
	uint64_t vmcs_pa;
	uint16_t vpid;
	struct vcpu_boot boot;
	/* Per exit reason: exits, and TSC ticks in Keel's handler
	 * (keel.stats=1). Two arrays, so that the exit path indexes the
	 * counts with a scaled index and no multiply. */
	uint64_t exit_counts[VMX_NR_EXIT_REASONS];
	uint64_t exit_ticks[VMX_NR_EXIT_REASONS];
	struct cpuid_cached cpuid_cache[VCPU_CPUID_CACHE];
	uint64_t exits_total;
	uint64_t tsc_exit;              /* TSC when the current exit began */
	struct vcpu_watchdog wd;        /* livelock watchdog (vmx/exit.c) */
	uint32_t req_passes;            /* vcpu_process_requests begun */
	uint32_t req_answered;          /* the latest such pass that ended */
	volatile bool on_cpu;           /* between vmcs_create and leaving */
	volatile bool paused;           /* left its CPU with `saved` filled */
	volatile uint64_t tsc_launched; /* when it (re)started on its CPU */
	uint64_t pml_pa;                /* page-modification log, if PML */
	uint64_t vapic_pa;              /* virtual-APIC page, if the TPR is
					 * shadowed (vmx/exit_apic.c) */
	uint64_t tsc_offset;            /* VMCS TSC offset (guest = host + it) */
	uint64_t tsc_guest_paused;      /* guest TSC when it was paused out */
	struct vmsr msr;                /* TSC_ADJUST, MISC_ENABLE, MTRR_DEF_TYPE */
	struct vcpu_state saved;        /* for migration */
	uint64_t cr0_owned, cr4_owned;  /* guest/host masks: bits Keel owns */
	bool shadow;                    /* paging = shadow */
	bool vmcs_efer_pat;             /* VM entry/exit switch EFER and PAT */
	/* Without them (shadow paging only): the VM-entry and VM-exit
	 * MSR-load areas that switch EFER, guest's then Keel's. */
	struct vmx_msr_entry efer_switch[2];
	bool vnmi;                      /* virtual NMIs and NMI-window exiting */
	struct shadow_vcpu sv;          /* shadow paging: guest CR3, EFER, roots */
	struct emul_icache icache;      /* instructions it emulated lately */
};

_Static_assert(offsetof(struct vcpu, regs) == 0, "vmx/entry.S layout");
_Static_assert(offsetof(struct vcpu, host_rsp) == 128, "vmx/entry.S layout");
_Static_assert(offsetof(struct vcpu, attention) == 136, "vmx/entry.S layout");
_Static_assert(offsetof(struct vcpu, in_guest) == 144, "vmx/entry.S layout");
_Static_assert(offsetof(struct vcpu, lapic.work) == 152, "vmx/entry.S layout");
_Static_assert(sizeof(((struct vcpu *)0)->lapic.work) == 4, "vmx/entry.S layout");
_Static_assert(sizeof(struct guest_regs) == 128, "vmx/entry.S layout");

/* Runs on the vCPU's own CPU: builds its VMCS and runs it until the guest
 * ends. `arg` is the struct vcpu. */
void vcpu_run(void *arg);

/* Acts on pending requests; true when the vCPU must leave (pause). */
bool vcpu_process_requests(struct vcpu *v);
/* Marks v as about to enter the guest; a request posted from now on needs
 * its answer, one posted before is seen by the check that follows.
 * vmx/entry.S does the same after each exit's handler. */
static inline void vcpu_entering(struct vcpu *v)
{
	__atomic_store_n(&v->in_guest, true, __ATOMIC_SEQ_CST);
}

/* Prints the vCPU's registers and key VMCS fields (the fatal path's
 * dump; also after a triple fault). On the vCPU's own CPU. */
void vcpu_dump(struct vcpu *v);
/* Ends the guest with a dump of why; returns EXIT_STOP (vmx/exit.h). */
int vcpu_fatal(struct vcpu *v, const char *fmt, ...) __printf(2, 3);

/* Helpers for exit handlers. vcpu_retire_instruction() completes the
 * instruction that exited: RIP to next_rip, STI/MOV-SS blocking ended,
 * RF cleared, and with `rflags` (as the instruction began) holding TF the
 * single-step trap made pending; vcpu_skip_instruction() retires it by
 * its length. Inline, since nearly every exit ends here: the common case
 * (no blocking, RF and TF clear) is one VMREAD and one VMWRITE, and the
 * rest (vcpu_retire_rest, guest/vcpu.c) is called only when needed. */
#define VCPU_RETIRE_INTR_BITS   (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS)
#define VCPU_RETIRE_RFLAGS_BITS (X86_RFLAGS_TF | X86_RFLAGS_RF)
/* Both tested at once: the interruptibility bits moved to RFLAGS bits
 * 22 and up, which are reserved and 0 in the guest's RFLAGS (a VM entry
 * checks it: SDM Vol. 3C 26.3.1.4). A set one there would only send the
 * rest down the slow path, which tests each bit again. */
#define VCPU_RETIRE_INTR_SHIFT  22
#define VCPU_RETIRE_ANY_BITS    (VCPU_RETIRE_RFLAGS_BITS | \
				 VCPU_RETIRE_INTR_BITS << VCPU_RETIRE_INTR_SHIFT)

void vcpu_retire_rest(uint64_t rflags);

static inline void vcpu_retire_instruction(struct vcpu *v, uint64_t next_rip,
					   uint64_t rflags)
{
	uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY);

	(void)v;        /* the current VMCS is v's */
	vmcs_writenat(VMCS_GUEST_RIP, next_rip);
	if (unlikely(((uint64_t)intr << VCPU_RETIRE_INTR_SHIFT | rflags) &
		     VCPU_RETIRE_ANY_BITS))
		vcpu_retire_rest(rflags);
}

static inline void vcpu_skip_instruction(struct vcpu *v)
{
	vcpu_retire_instruction(v, vmcs_readnat(VMCS_GUEST_RIP) +
				vmcs_read32(VMCS_EXIT_INSTR_LEN),
				vmcs_readnat(VMCS_GUEST_RFLAGS));
}
/* An iteration of a REP string instruction completed with iterations left
 * (RIP stays on it): the same as a completed instruction for blocking and
 * the single-step trap, and RF set (see vcpu.c). `rflags` as above. */
void vcpu_retire_iteration(struct vcpu *v, uint64_t rflags);
/* An instruction beginning with these RFLAGS ends in a single-step trap. */
bool vcpu_single_steps(uint64_t rflags);
/* A #DB trap (single step, data or I/O breakpoint) waits for VM entry:
 * it comes before any interrupt or NMI (SDM Vol. 3A 6.9). */
bool vcpu_debug_trap_pending(void);
void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error,
			   uint32_t error);
/* Sets RF in the guest's RFLAGS when intr_info (VM-entry format) is a
 * fault-class hardware exception: the image its handler gets has RF = 1. */
void vcpu_fault_rf(uint32_t intr_info);
uint64_t vcpu_gpr(const struct vcpu *v, unsigned int n);
void vcpu_set_gpr(struct vcpu *v, unsigned int n, uint64_t val);
/* CPL is SS.DPL (SDM Vol. 3A 5.5); in real mode it is 0. CR0.PE is not
 * a bit Keel owns, so the real CR0 holds the guest's value. SS.DPL is
 * read first: when it is 0, so is the CPL, whatever the mode, and CR0
 * need not be read. */
static inline unsigned int vcpu_cpl(void)
{
	unsigned int dpl = (vmcs_read32(VMCS_GUEST_SS_AR) >> 5) & 3;

	if (likely(!dpl) || !(vmcs_readnat(VMCS_GUEST_CR0) & X86_CR0_PE))
		return 0;
	return dpl;
}
/* Control registers as the guest sees them (shadow paging keeps CR3 and
 * EFER in v->sv; the VMCS holds the real ones). */
uint64_t vcpu_guest_cr0(const struct vcpu *v);
uint64_t vcpu_guest_cr4(const struct vcpu *v);
uint64_t vcpu_guest_cr3(const struct vcpu *v);
uint64_t vcpu_guest_efer(const struct vcpu *v);

#endif
