/*
 * Building a vCPU's VMCS, one function per area: controls by group, host
 * state, guest state per boot mode (SDM Vol. 3C Chapter 25, and 27.2-27.3
 * for the checks VM entry makes).
 */
#include "vmx/vmcs_setup.h"
#include "vmx/controls.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"
#include "arch/gdt.h"
#include "arch/msr.h"
#include "arch/percpu.h"
#include "arch/string.h"
#include "arch/x86.h"
#include "arch/errno.h"
#include "guest/guest.h"
#include "mm/layout.h"
#include "mm/mm.h"

#define EXC_BITMAP_UD   BIT_ULL(6)      /* #UD */
#define EXC_BITMAP_PF   BIT_ULL(14)     /* #PF */

extern char vmx_exit_stub[];

static uint64_t io_bitmap_pa;           /* two pages, all ones: every port exits */
static uint64_t msr_bitmap_pa;          /* one page, see vmx_msr_bitmap_init */
static uint64_t msr_bitmap_shadow_pa;   /* the same, with EFER intercepted */
static uint64_t msr_bitmap_x2apic_pa;   /* msr_bitmap_pa, with the x2APIC
					   MSRs x2APIC virtualization takes */
static uint16_t next_vpid = 1;

/* MSRs the guest reads and writes directly: guest state that VM entry and
 * exit switch (or that the host never uses), so passing them through gives
 * the guest nothing of the host's. */
static const uint32_t msr_passthrough[] = {
	MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE,
	MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK,
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	MSR_IA32_EFER, MSR_IA32_PAT,
	MSR_TSC_AUX,            /* what RDTSCP and RDPID return; Keel's unused */
};

static void msr_bitmap_clear(uint8_t *bm, uint32_t msr)
{
	/* read-low 0, read-high 1024, write-low 2048, write-high 3072 (25.6.9) */
	uint32_t base = msr >= 0xc0000000 ? 1024 : 0;
	uint32_t bit = msr & 0x1fff;

	bm[base + bit / 8] &= (uint8_t)~(1u << (bit % 8));
	bm[base + 2048 + bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

/* Reads of 800H-8FFH that "virtualize x2APIC mode" answers from the
 * virtual-APIC page (SDM Vol. 3C 29.5): the registers Keel keeps there
 * in x2APIC form. The others (PPR, the current count, LVT CMCI, and the
 * MSRs that do not exist or are write-only, which #GP) still exit. */
static const uint32_t x2apic_read_through[] = {
	0x802, 0x803, 0x808, 0x80d, 0x80f, 0x828, 0x830, 0x832, 0x833, 0x834,
	0x835, 0x836, 0x837, 0x838, 0x83e,
};
/* ISR, TMR and IRR: 810H-827H. TPR, EOI and SELF IPI writes are the ones
 * the CPU virtualizes (TPR, EOI and self-IPI virtualization). */
#define X2APIC_VECTOR_REGS_FIRST        0x810
#define X2APIC_VECTOR_REGS_LAST         0x827
static const uint32_t x2apic_write_through[] = { 0x808, 0x80b, 0x83f };

static void msr_bitmap_pass(uint8_t *bm, uint32_t msr, bool write)
{
	uint32_t bit = msr & 0x1fff;    /* a low MSR: the bitmaps at 0, 2048 */

	bm[(write ? 2048 : 0) + bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

static void msr_bitmap_x2apic(uint8_t *bm)
{
	for (size_t i = 0; i < ARRAY_SIZE(x2apic_read_through); i++)
		msr_bitmap_pass(bm, x2apic_read_through[i], false);
	for (uint32_t m = X2APIC_VECTOR_REGS_FIRST;
	     m <= X2APIC_VECTOR_REGS_LAST; m++)
		msr_bitmap_pass(bm, m, false);
	for (size_t i = 0; i < ARRAY_SIZE(x2apic_write_through); i++)
		msr_bitmap_pass(bm, x2apic_write_through[i], true);
}

uint64_t vmx_msr_bitmap(bool shadow, bool x2apic_virt)
{
	return shadow ? msr_bitmap_shadow_pa :
	       x2apic_virt ? msr_bitmap_x2apic_pa : msr_bitmap_pa;
}

static void msr_bitmap_set(uint8_t *bm, uint32_t msr)
{
	uint32_t base = msr >= 0xc0000000 ? 1024 : 0;
	uint32_t bit = msr & 0x1fff;

	bm[base + bit / 8] |= (uint8_t)(1u << (bit % 8));
	bm[base + 2048 + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

int vmx_bitmaps_init(void)
{
	uint8_t *bm;

	io_bitmap_pa = mm_alloc_pages(1);
	msr_bitmap_pa = mm_alloc_pages(0);
	msr_bitmap_shadow_pa = mm_alloc_pages(0);
	msr_bitmap_x2apic_pa = mm_alloc_pages(0);
	if (io_bitmap_pa == FRAME_NONE || msr_bitmap_pa == FRAME_NONE ||
	    msr_bitmap_shadow_pa == FRAME_NONE ||
	    msr_bitmap_x2apic_pa == FRAME_NONE)
		return -ENOMEM;
	memset(phys_to_virt(io_bitmap_pa), 0xff, 2 * PAGE_SIZE);
	bm = phys_to_virt(msr_bitmap_pa);
	memset(bm, 0xff, PAGE_SIZE);
	for (size_t i = 0; i < ARRAY_SIZE(msr_passthrough); i++)
		msr_bitmap_clear(bm, msr_passthrough[i]);
	/* Shadow paging keeps the guest's EFER apart from the real one. */
	memcpy(phys_to_virt(msr_bitmap_shadow_pa), bm, PAGE_SIZE);
	msr_bitmap_set(phys_to_virt(msr_bitmap_shadow_pa), MSR_IA32_EFER);
	/* Without the PAT controls the real PAT is Keel's: keep the guest's
	 * apart (vmx/exit_msr.c). */
	msr_bitmap_set(phys_to_virt(msr_bitmap_shadow_pa), MSR_IA32_PAT);
	memcpy(phys_to_virt(msr_bitmap_x2apic_pa), bm, PAGE_SIZE);
	msr_bitmap_x2apic(phys_to_virt(msr_bitmap_x2apic_pa));
	return 0;
}

static const char *vmcs_setup_pin_proc(struct vcpu *v)
{
	const struct vmx_caps *c = &vmx_caps;
	uint32_t pin, proc, proc2 = 0, want2, opt2;
	/* CR8 is the TPR: in the virtual-APIC page, or Keel's (exits). */
	uint32_t cr8 = v->vapic_pa ? CPU_USE_TPR_SHADOW : CPU_CR8_EXITING;
	bool ok = true;

	ok &= vmx_adjust_controls(c->pinbased, PIN_EXTINT_EXITING |
				  PIN_NMI_EXITING, PIN_VIRTUAL_NMIS, &pin);
	ok &= vmx_adjust_controls(c->procbased, CPU_HLT_EXITING |
				  CPU_USE_IO_BITMAPS | CPU_USE_MSR_BITMAPS |
				  CPU_RDPMC_EXITING | CPU_MWAIT_EXITING |
				  CPU_MONITOR_EXITING | CPU_ACTIVATE_SECONDARY |
				  cr8, CPU_USE_TSC_OFFSETTING, &proc);
	if (!ok)
		return "the CPU lacks a required pin-based or processor-based control";
	/* With EPT, CR3 accesses need not exit (SDM Vol. 3C 25.6.2); with
	 * shadow paging CR3 and INVLPG are Keel's, and INVPCID stays off
	 * (#UD): it would flush without Keel syncing its tables. */
	proc &= ~(uint32_t)(CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING |
			    CPU_INVLPG_EXITING);
	want2 = CPU2_WBINVD_EXITING;
	opt2 = CPU2_ENABLE_RDTSCP | (vmx_caps.vpid ? CPU2_ENABLE_VPID : 0);
	if (v->shadow) {
		proc |= CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING |
			CPU_INVLPG_EXITING;
	} else {
		want2 |= CPU2_ENABLE_EPT;
		opt2 |= CPU2_ENABLE_INVPCID;
		if (v->boot.mode == VCPU_MODE_REAL || vmx_caps.ug)
			want2 |= CPU2_UNRESTRICTED_GUEST;
	}
	if (v->lapic.page)      /* xAPIC reads without exits: 29.4 */
		want2 |= CPU2_VIRT_APIC_ACCESSES | CPU2_APIC_REG_VIRT;
	if (v->lapic.vid)       /* interrupts and EOIs without exits: 29.2 */
		want2 |= CPU2_VIRT_INTR_DELIVERY;
	if (!vmx_adjust_controls(c->procbased2, want2, opt2, &proc2))
		return "the CPU lacks EPT or unrestricted guest";
	/* Virtual NMIs give the guest NMI blocking of its own and, with it,
	 * NMI-window exits (SDM Vol. 3C 25.6.1, 26.7.6). */
	v->vnmi = (pin & PIN_VIRTUAL_NMIS) &&
		  (c->procbased >> 32) & CPU_NMI_WINDOW_EXITING;
	if (!v->vnmi)
		pin &= ~(uint32_t)PIN_VIRTUAL_NMIS;
	vmcs_write32(VMCS_PIN_CONTROLS, pin);
	vmcs_write32(VMCS_PROC_CONTROLS, proc);
	vmcs_write32(VMCS_PROC_CONTROLS2, proc2);
	if (proc2 & CPU2_ENABLE_VPID) {
		v->vpid = __atomic_fetch_add(&next_vpid, 1, __ATOMIC_RELAXED);
		vmcs_write16(VMCS_VPID, v->vpid);
	}
	return NULL;
}

/* The controls that switch EFER and PAT (SDM Vol. 3C 25.7.1, 25.8.1).
 * With EPT the guest's EFER and PAT are its own and need them; shadow
 * paging keeps the guest's EFER and PAT in Keel and can do without (Core
 * 2 CPUs have neither): the guest then runs with Keel's PAT, and its
 * EFER comes through the MSR-load areas (efer_switch_setup). */
#define EXIT_EFER_PAT  (EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_PAT | \
			EXIT_LOAD_PAT)
#define ENTRY_EFER_PAT (ENTRY_LOAD_EFER | ENTRY_LOAD_PAT)

/*
 * EFER without the controls: VM entry loads the guest's from an MSR-load
 * area and VM exit Keel's (SDM Vol. 3C 26.4, 27.6), each as WRMSR would.
 * LME must then equal what the "IA-32e mode guest" control already made
 * it (SDM Vol. 3C 26.3.2.1), or the load would fault and the entry fail:
 * vcpu_set_guest_efer() keeps LME equal to LMA, which that control
 * follows. Guests see SCE (SYSCALL) and NXE of their own.
 */
static void efer_switch_setup(struct vcpu *v)
{
	struct vmx_msr_entry *e = v->efer_switch;
	uint64_t host = rdmsr(MSR_IA32_EFER);

	e[0] = (struct vmx_msr_entry){ .index = MSR_IA32_EFER, .value = host };
	e[1] = (struct vmx_msr_entry){ .index = MSR_IA32_EFER, .value = host };
	vmcs_write64(VMCS_ENTRY_MSR_LOAD_ADDR, virt_to_phys(&e[0]));
	vmcs_write64(VMCS_EXIT_MSR_LOAD_ADDR, virt_to_phys(&e[1]));
}

static const char *vmcs_setup_exit_entry(struct vcpu *v)
{
	const struct vmx_caps *c = &vmx_caps;
	uint32_t exit, entry;
	bool ok = true;

	ok &= vmx_adjust_controls(c->exit, EXIT_HOST_ADDR_SPACE_SIZE |
				  EXIT_ACK_INTR_ON_EXIT,
				  EXIT_SAVE_DEBUG_CONTROLS | EXIT_EFER_PAT, &exit);
	ok &= vmx_adjust_controls(c->entry, v->boot.mode == VCPU_MODE_LONG64 ?
				  ENTRY_IA32E_MODE_GUEST : 0,
				  ENTRY_LOAD_DEBUG_CONTROLS | ENTRY_EFER_PAT,
				  &entry);
	if (!ok)
		return "the CPU lacks a required VM-exit or VM-entry control";
	v->vmcs_efer_pat = (exit & EXIT_EFER_PAT) == EXIT_EFER_PAT &&
			   (entry & ENTRY_EFER_PAT) == ENTRY_EFER_PAT;
	if (!v->vmcs_efer_pat && !v->shadow)
		return "the CPU cannot switch EFER and PAT at VM entry and exit";
	if (!v->vmcs_efer_pat) {
		exit &= ~(uint32_t)EXIT_EFER_PAT;
		entry &= ~(uint32_t)ENTRY_EFER_PAT;
		efer_switch_setup(v);
	}
	vmcs_write32(VMCS_EXIT_CONTROLS, exit);
	vmcs_write32(VMCS_ENTRY_CONTROLS, entry);
	vmcs_write64(VMCS_IO_BITMAP_A, io_bitmap_pa);
	vmcs_write64(VMCS_IO_BITMAP_B, io_bitmap_pa + PAGE_SIZE);
	vmcs_write64(VMCS_MSR_BITMAP, vmx_msr_bitmap(v->shadow, false));
	if (!v->shadow)
		vmcs_write64(VMCS_EPT_POINTER, v->guest->ept.eptp);
	if (v->vapic_pa) {      /* threshold: vmx/exit_apic.c, before entry */
		vmcs_write64(VMCS_VIRTUAL_APIC_ADDR, v->vapic_pa);
		vmcs_write32(VMCS_TPR_THRESHOLD, 0);
	}
	if (v->lapic.page)
		vmcs_write64(VMCS_APIC_ACCESS_ADDR,
			     v->guest->dev.apic_page.access_pa);
	if (v->lapic.vid) {     /* RVI, SVI, bitmaps: before each entry */
		vmcs_write16(VMCS_GUEST_INTR_STATUS, 0);
		for (unsigned int i = 0; i < 4; i++)
			vmcs_write_eoi_exit(i, 0);
	}
	vmcs_write64(VMCS_TSC_OFFSET, v->tsc_offset);
	/* #UD exits only for force_emulation (vmx/emulate.c): a guest marks
	 * an instruction with ud2 and "keel" to have it emulated. */
	vmcs_write32(VMCS_EXCEPTION_BITMAP,
		     (v->guest->cfg->force_emulation ? EXC_BITMAP_UD : 0) |
		     (v->shadow ? EXC_BITMAP_PF : 0));
	vmcs_write32(VMCS_PF_ERROR_MASK, 0);        /* every #PF exits */
	vmcs_write32(VMCS_PF_ERROR_MATCH, 0);
	vmcs_write32(VMCS_CR3_TARGET_COUNT, 0);
	vmcs_write32(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write32(VMCS_EXIT_MSR_LOAD_COUNT, v->vmcs_efer_pat ? 0 : 1);
	vmcs_write32(VMCS_ENTRY_MSR_LOAD_COUNT, v->vmcs_efer_pat ? 0 : 1);
	vmcs_write32(VMCS_ENTRY_INTR_INFO, 0);
	return NULL;
}

/* Host state: what the CPU loads at every VM exit (SDM Vol. 3C 28.5). */
static void vmcs_setup_host(const struct vcpu *v)
{
	struct percpu *cpu = this_cpu();
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed idtr;

	__asm__ volatile("sidt %0" : "=m"(idtr));
	vmcs_writenat(VMCS_HOST_CR0, read_cr0());
	vmcs_writenat(VMCS_HOST_CR3, read_cr3());
	vmcs_writenat(VMCS_HOST_CR4, read_cr4());
	vmcs_write16(VMCS_HOST_CS_SEL, SEL_KERNEL_CS);
	vmcs_write16(VMCS_HOST_SS_SEL, SEL_KERNEL_DS);
	vmcs_write16(VMCS_HOST_DS_SEL, SEL_KERNEL_DS);
	vmcs_write16(VMCS_HOST_ES_SEL, SEL_KERNEL_DS);
	vmcs_write16(VMCS_HOST_FS_SEL, 0);
	vmcs_write16(VMCS_HOST_GS_SEL, 0);
	vmcs_write16(VMCS_HOST_TR_SEL, SEL_TSS);
	vmcs_writenat(VMCS_HOST_FS_BASE, 0);
	vmcs_writenat(VMCS_HOST_GS_BASE, (uint64_t)cpu);
	vmcs_writenat(VMCS_HOST_TR_BASE, (uint64_t)&cpu->tss);
	vmcs_writenat(VMCS_HOST_GDTR_BASE, (uint64_t)cpu->gdt);
	vmcs_writenat(VMCS_HOST_IDTR_BASE, idtr.base);
	vmcs_write32(VMCS_HOST_SYSENTER_CS, 0);
	vmcs_writenat(VMCS_HOST_SYSENTER_ESP, 0);
	vmcs_writenat(VMCS_HOST_SYSENTER_EIP, 0);
	if (v->vmcs_efer_pat) {
		vmcs_write64(VMCS_HOST_EFER, rdmsr(MSR_IA32_EFER));
		vmcs_write64(VMCS_HOST_PAT, rdmsr(MSR_IA32_PAT));
	}
	vmcs_writenat(VMCS_HOST_RIP, (uint64_t)vmx_exit_stub);
}

/* Access rights (SDM Vol. 3C 25.4.1, Table 25-2). */
#define AR_CODE32       0xc09b  /* G, D, P, S, execute/read, accessed */
#define AR_CODE64       0xa09b  /* G, L, P, S, execute/read, accessed */
#define AR_DATA32       0xc093  /* G, D/B, P, S, read/write, accessed */
#define AR_CODE16       0x009b
#define AR_DATA16       0x0093
#define AR_TSS_BUSY     0x008b
#define AR_LDT          0x0082
#define AR_UNUSABLE     0x10000

struct seg {
	uint16_t sel;
	uint64_t base;
	uint32_t limit, ar;
};

#define SEG_FIELDS(s) \
	{ VMCS_GUEST_##s##_SEL, VMCS_GUEST_##s##_BASE, \
	  VMCS_GUEST_##s##_LIMIT, VMCS_GUEST_##s##_AR }

static const struct {
	uint32_t sel, base, limit, ar;
} seg_fields[] = {
	SEG_FIELDS(ES), SEG_FIELDS(CS), SEG_FIELDS(SS), SEG_FIELDS(DS),
	SEG_FIELDS(FS), SEG_FIELDS(GS), SEG_FIELDS(LDTR), SEG_FIELDS(TR),
};

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR };

static void vmcs_write_seg(int i, const struct seg *s)
{
	__vmwrite(seg_fields[i].sel, s->sel);
	__vmwrite(seg_fields[i].base, s->base);
	__vmwrite(seg_fields[i].limit, s->limit);
	__vmwrite(seg_fields[i].ar, s->ar);
}

static void vmcs_guest_segments(const struct vcpu_boot *b)
{
	struct seg code, data;

	if (b->mode == VCPU_MODE_REAL) {
		code = (struct seg){ b->cs, (uint64_t)b->cs << 4, 0xffff, AR_CODE16 };
		data = (struct seg){ 0, 0, 0xffff, AR_DATA16 };
	} else {
		code = (struct seg){ b->gdt_limit ? b->code_sel : 0x08, 0,
				     0xffffffff,
				     b->mode == VCPU_MODE_LONG64 ? AR_CODE64
								 : AR_CODE32 };
		data = (struct seg){ b->gdt_limit ? b->data_sel : 0x10, 0,
				     0xffffffff, AR_DATA32 };
	}
	vmcs_write_seg(SEG_CS, &code);
	vmcs_write_seg(SEG_DS, &data);
	vmcs_write_seg(SEG_ES, &data);
	vmcs_write_seg(SEG_SS, &data);
	vmcs_write_seg(SEG_FS, &data);
	vmcs_write_seg(SEG_GS, &data);
	vmcs_write_seg(SEG_LDTR, &(struct seg){ 0, 0, 0, AR_UNUSABLE });
	vmcs_write_seg(SEG_TR, &(struct seg){ 0, 0, 0xffff, AR_TSS_BUSY });
	vmcs_write32(VMCS_GUEST_GDTR_LIMIT, b->gdt_limit);
	vmcs_writenat(VMCS_GUEST_GDTR_BASE, b->gdt_base);
	vmcs_write32(VMCS_GUEST_IDTR_LIMIT, b->mode == VCPU_MODE_REAL ? 0x3ff : 0);
	vmcs_writenat(VMCS_GUEST_IDTR_BASE, 0);
}

/*
 * CR0/CR4: bits that VMX forces (CR0.NE, CR4.VMXE; SDM Vol. 3D A.7-A.8)
 * are owned by Keel through the guest/host masks, and the guest reads its
 * own values from the read shadows.
 */
static void vmcs_guest_control_regs(struct vcpu *v)
{
	const struct vcpu_boot *b = &v->boot;
	uint64_t cr0 = X86_CR0_ET, cr4 = 0, efer = 0;

	if (b->mode != VCPU_MODE_REAL)
		cr0 |= X86_CR0_PE;
	if (b->mode == VCPU_MODE_LONG64) {
		cr0 |= X86_CR0_PG | X86_CR0_WP;
		cr4 |= X86_CR4_PAE;
		efer |= EFER_LME | EFER_LMA;
	}
	v->sv.pat = 0x0007040600070406ULL;      /* power-on PAT */
	v->cr0_owned = vcpu_cr0_owned(v->shadow);
	v->cr4_owned = vcpu_cr4_owned(v->shadow);
	vmcs_writenat(VMCS_CR0_GUEST_HOST_MASK, v->cr0_owned);
	vmcs_writenat(VMCS_CR4_GUEST_HOST_MASK, v->cr4_owned);
	vmcs_writenat(VMCS_CR0_READ_SHADOW, cr0);
	vmcs_writenat(VMCS_CR4_READ_SHADOW, cr4);
	vmcs_writenat(VMCS_GUEST_CR0, vcpu_cr0_real(v, cr0));
	vmcs_writenat(VMCS_GUEST_CR4, vcpu_cr4_real(v, cr0, cr4));
	vmcs_writenat(VMCS_GUEST_CR3, b->cr3);
	v->sv.cr3 = b->cr3;
	vcpu_set_guest_efer(v, efer);
}

static void vmcs_setup_guest(struct vcpu *v)
{
	const struct vcpu_boot *b = &v->boot;

	vmcs_guest_segments(b);
	vmcs_guest_control_regs(v);
	vmcs_writenat(VMCS_GUEST_DR7, 0x400);
	vmcs_writenat(VMCS_GUEST_RSP, b->rsp);
	vmcs_writenat(VMCS_GUEST_RIP, b->rip);
	vmcs_writenat(VMCS_GUEST_RFLAGS, X86_RFLAGS_FIXED);
	vmcs_writenat(VMCS_GUEST_PENDING_DBG, 0);
	vmcs_writenat(VMCS_GUEST_SYSENTER_ESP, 0);
	vmcs_writenat(VMCS_GUEST_SYSENTER_EIP, 0);
	vmcs_write32(VMCS_GUEST_SYSENTER_CS, 0);
	vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmcs_write32(VMCS_GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE);
	vmcs_write64(VMCS_LINK_POINTER, ~0ULL);
	vmcs_write64(VMCS_GUEST_DEBUGCTL, 0);
	if (v->vmcs_efer_pat)
		vmcs_write64(VMCS_GUEST_PAT, 0x0007040600070406ULL);  /* power-on PAT */
	v->regs.rax = b->rax;
	v->regs.rbx = b->rbx;
	v->regs.rsi = b->rsi;
	v->regs.rdi = b->rdi;
}

/* VMCLEAR then VMPTRLD (SDM Vol. 3C 25.11.3): the VMCS is current here. */
static const char *vmcs_load_new(struct vcpu *v)
{
	uint64_t pa = mm_alloc_pages(0);
	uint8_t fail;

	if (pa == FRAME_NONE)
		return "no memory for the VMCS";
	*(uint32_t *)phys_to_virt(pa) = vmx_caps.revision;
	v->vmcs_pa = pa;
	__asm__ volatile("vmclear %1; setbe %0" : "=qm"(fail) : "m"(pa) : "cc", "memory");
	if (!fail)
		__asm__ volatile("vmptrld %1; setbe %0" : "=qm"(fail) : "m"(pa) : "cc", "memory");
	return fail ? "VMCLEAR/VMPTRLD failed" : NULL;
}

/* The first root, for the boot state's paging. */
static const char *vmcs_shadow_root(struct vcpu *v)
{
	struct shadow_regs r = { vcpu_guest_cr0(v), v->sv.cr3,
				 vcpu_guest_cr4(v), v->sv.efer, v->sv.pdpte };
	uint64_t hpa = shadow_load_root(v->guest, &v->sv, &r);

	if (!hpa)
		return "no shadow page left for its first root";
	vmcs_writenat(VMCS_GUEST_CR3, hpa);
	vpid_invalidate(v->vpid);
	return NULL;
}

const char *vmcs_create(struct vcpu *v)
{
	const char *why;

	/* Real mode without unrestricted guest (shadow paging) is built
	 * here as any other state, but emulated until VM entry can take it
	 * (vmx/realmode.c). */
	why = vmcs_load_new(v);
	if (!why)
		why = vmcs_setup_pin_proc(v);
	if (!why)
		why = vmcs_setup_exit_entry(v);
	if (why)
		return why;
	vmcs_setup_host(v);
	vmcs_setup_guest(v);
	if (v->shadow)
		return vmcs_shadow_root(v);
	return NULL;
}

void vmcs_release(struct vcpu *v)
{
	uint64_t pa = v->vmcs_pa;

	if (!pa)
		return;
	__asm__ volatile("vmclear %0" :: "m"(pa) : "cc", "memory");
	mm_free_pages(pa, 0);
	v->vmcs_pa = 0;
}

/* Bits Keel owns: those VMX fixes (SDM Vol. 3D A.7-A.8) and, with shadow
 * paging, those that decide how the guest's tables are read: the guest
 * sees its own values in the read shadows, the processor runs with the
 * shadow's (paging and write protection always on, PAE format, no
 * global pages or PCIDs). */
#define CR0_SHADOW_OWNED (X86_CR0_PE | X86_CR0_PG | X86_CR0_WP)
#define CR4_SHADOW_OWNED (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | \
			  X86_CR4_PCIDE | X86_CR4_LA57 | X86_CR4_SMEP | \
			  X86_CR4_SMAP | X86_CR4_PKE)

static uint64_t cr0_fixed0(bool shadow)
{
	uint64_t fixed0 = vmx_caps.cr0_fixed0;

	if (vmx_caps.ug && !shadow)
		fixed0 &= ~(X86_CR0_PE | X86_CR0_PG);
	return fixed0;
}

uint64_t vcpu_cr0_owned(bool shadow)
{
	uint64_t fixed = cr0_fixed0(shadow) | ~vmx_caps.cr0_fixed1;

	return (fixed | (shadow ? CR0_SHADOW_OWNED : 0)) & 0xffffffffULL;
}

uint64_t vcpu_cr4_owned(bool shadow)
{
	return (vmx_caps.cr4_fixed0 | ~vmx_caps.cr4_fixed1 | X86_CR4_VMXE |
		(shadow ? CR4_SHADOW_OWNED : 0)) & 0xffffffffULL;
}

uint64_t vcpu_cr0_real(const struct vcpu *v, uint64_t guest_cr0)
{
	uint64_t wp = v->shadow ? X86_CR0_WP : 0;

	return (guest_cr0 | cr0_fixed0(v->shadow) | wp) & vmx_caps.cr0_fixed1;
}

/*
 * With shadow paging the processor always pages, on the shadow's format.
 * SMEP and SMAP only apply while the guest's paging is on (SDM Vol. 3A
 * 4.1.3, 4.6: with CR0.PG = 0 there is no user page to guard); the direct
 * tables of a guest with paging off map everything as user pages, so
 * with either bit left in the real CR4 every supervisor fetch (SMEP) or
 * data access (SMAP) would fault, find the guest's walk fine, refill the
 * same leaf and fault again, forever. They are dropped while paging is
 * off. PKE stays: protection keys apply only to 4-level paging (4.6.2),
 * and the processor runs 4-level paging exactly when the guest does (a
 * guest without paging or in 32-bit or PAE paging runs on PAE paging
 * outside long mode), so the bit changes no translation there, while
 * RDPKRU and WRPKRU keep working as they do on hardware.
 */
uint64_t vcpu_cr4_real(const struct vcpu *v, uint64_t guest_cr0,
		       uint64_t guest_cr4)
{
	if (v->shadow) {
		guest_cr4 = (guest_cr4 & ~(X86_CR4_PSE | X86_CR4_PGE |
					   X86_CR4_PCIDE)) | X86_CR4_PAE;
		if (!(guest_cr0 & X86_CR0_PG))
			guest_cr4 &= ~(X86_CR4_SMEP | X86_CR4_SMAP);
	}
	return (guest_cr4 | vmx_caps.cr4_fixed0) & vmx_caps.cr4_fixed1;
}

/* With shadow paging the VMCS holds the real EFER: LME only while long
 * mode is active, since the processor runs with paging on even when the
 * guest has it off (SDM Vol. 3C 27.3.1.1: LME must equal LMA when CR0.PG
 * is 1). */
void vcpu_set_guest_efer(struct vcpu *v, uint64_t efer)
{
	if (v->shadow) {
		v->sv.efer = efer;
		efer &= ~EFER_LME;
		if (efer & EFER_LMA)
			efer |= EFER_LME;
	}
	if (v->vmcs_efer_pat)
		vmcs_write64(VMCS_GUEST_EFER, efer);
	else
		v->efer_switch[0].value = efer;
}
