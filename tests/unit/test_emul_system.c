/* The emulator's system instructions for a real-mode start-up (an AP's
 * SIPI trampoline on a processor that cannot run real mode): MOV to and
 * from CR0/CR3/CR4, LGDT/LIDT, CLI, IN/OUT, far JMP/CALL ptr16:16/32,
 * PUSHF/POPF, CPUID, RDMSR/WRMSR, WBINVD and the shifts, run through
 * emul_step() on the fake machine. */
#include "tests/unit/test.h"
#include "tests/emul/fake_machine.h"

#define CODE	0x1000ULL
#define DATA	0x8000ULL
#define STACK	0x9000ULL
#define GDT	0x6000ULL

#define CR0_ET	BIT_ULL(4)

/* A flat 4 GiB descriptor (SDM Vol. 3A Figure 3-8): G, D/B, P, S, the
 * type in bits 43:40. */
#define DESC_FLAT(type)	(0x00cf00000000ffffULL | ((uint64_t)(type) << 40) | \
			 BIT_ULL(44) | BIT_ULL(47))
#define TYPE_CODE_RX	0xa
#define TYPE_DATA_RW	0x2

/* Real mode as a SIPI leaves it: CS = vector << 8, IP = 0, IF clear. */
static struct fake_machine *setup_real(uint16_t cs)
{
	struct fake_machine *fm = fm_new();

	fm_mode16(fm);
	fm->ctx.cr0 = CR0_ET;
	fm->ctx.rip = 0;
	fm->ctx.seg[EMUL_CS].sel = cs;
	fm->ctx.seg[EMUL_CS].base = (uint64_t)cs << 4;
	return fm;
}

static void expect_fault(struct fake_machine *fm, int rc, uint8_t vector,
			 uint64_t rip)
{
	EXPECT_EQ(rc, EMUL_EXCEPTION);
	EXPECT_EQ(fm->ctx.exc.vector, vector);
	EXPECT_EQ(fm->ctx.rip, rip);
}

/* ---- MOV to and from CRs ------------------------------------------------------ */

/* 16-bit code moves 32 bits without 66; mod is ignored, so 0F 20 00 is
 * MOV EAX, CR0 too, with no displacement. */
TEST(mov_cr_real_mode)
{
	struct fake_machine *fm = setup_real(0x0100);

	fm->ctx.gpr[EMUL_RAX] = 0xffffffff00000000ULL;
	ASSERT(FM_RUN(fm, 0x0f, 0x20, 0xc0) == EMUL_OK);	/* mov eax, cr0 */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], CR0_ET);
	EXPECT_EQ(fm->ctx.insn.len, 3);
	EXPECT_EQ(fm->ctx.rip, 3);
	fm->ctx.gpr[EMUL_RBX] = CR0_ET | EMUL_CR0_PE;
	ASSERT(FM_RUN(fm, 0x0f, 0x22, 0xc3) == EMUL_OK);	/* mov cr0, ebx */
	EXPECT_EQ(fm->cr0_written, CR0_ET | EMUL_CR0_PE);
	EXPECT_EQ(fm->ctx.cr0, CR0_ET | EMUL_CR0_PE);
	EXPECT_EQ(fm->ctx.rip, 6);
	fm->ctx.gpr[EMUL_RDX] = 0;
	ASSERT(FM_RUN(fm, 0x0f, 0x20, 0x02) == EMUL_OK);	/* mod 0: edx */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], CR0_ET | EMUL_CR0_PE);
	EXPECT_EQ(fm->ctx.insn.len, 3);
	fm_free(fm);
}

/* MOV to CR3/CR4 goes to write_cr; the context follows. In 64-bit mode
 * the whole register moves. */
TEST(mov_cr3_cr4)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RCX] = 0x123456789000ULL;
	ASSERT(FM_RUN(fm, 0x0f, 0x22, 0xd9) == EMUL_OK);	/* mov cr3, rcx */
	EXPECT_EQ(fm->cr_written[3], 0x123456789000ULL);
	EXPECT_EQ(fm->ctx.cr3, 0x123456789000ULL);
	fm->ctx.gpr[EMUL_R9] = EMUL_CR4_PAE;
	ASSERT(FM_RUN(fm, 0x41, 0x0f, 0x22, 0xe1) == EMUL_OK);	/* mov cr4, r9 */
	EXPECT_EQ(fm->cr_written[4], EMUL_CR4_PAE);
	EXPECT_EQ(fm->ctx.cr4, EMUL_CR4_PAE);
	EXPECT_EQ(fm->cr_writes, 2);
	ASSERT(FM_RUN(fm, 0x0f, 0x20, 0xd8) == EMUL_OK);	/* mov rax, cr3 */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x123456789000ULL);
	fm_free(fm);
}

/* CR1 and CR5-7 are #UD, CR2 and CR8 not the emulator's; CPL 3 is
 * #GP(0); a value the VMM refuses is its #GP with nothing changed. */
TEST(mov_cr_checks)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	fm->ctx.rip = CODE;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x20, 0xc8), EMUL_VEC_UD, CODE);
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x22, 0xe8), EMUL_VEC_UD, CODE);
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x20, 0xd0), EMUL_UNSUPPORTED);  /* cr2 */
	fm->ctx.cr0 = EMUL_CR0_PE;
	fm->cr0_gp = true;
	fm->ctx.gpr[EMUL_RAX] = EMUL_CR0_PG;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x22, 0xc0), EMUL_VEC_GP, CODE);
	EXPECT_EQ(fm->ctx.cr0, EMUL_CR0_PE);
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x22, 0xe0), EMUL_VEC_GP, CODE);
	EXPECT_EQ(fm->ctx.cr4, 0);
	fm->cr0_gp = false;
	fm->ctx.cpl = 3;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x20, 0xc0), EMUL_VEC_GP, CODE);
	EXPECT_EQ(fm->ctx.exc.error_code, 0);
	fm_mode64(fm);
	fm->ctx.rip = CODE;
	EXPECT_EQ(FM_RUN(fm, 0x44, 0x0f, 0x20, 0xc0), EMUL_UNSUPPORTED); /* cr8 */
	expect_fault(fm, FM_RUN(fm, 0x44, 0x0f, 0x20, 0xc8), EMUL_VEC_UD, CODE);
	fm_free(fm);
}

/* ---- LGDT, LIDT ---------------------------------------------------------------- */

static void put_dtr(struct fake_machine *fm, uint64_t at, uint16_t limit,
		    uint64_t base)
{
	fm_put(fm, at, &limit, 2);
	fm_set64(fm, at + 2, base);
}

/* 16-bit operand size keeps 24 bits of the base, 66 all 32; a CS
 * override (apictest's trampoline) reads through CS. */
TEST(lgdt_lidt_real_mode)
{
	struct fake_machine *fm = setup_real(0x0700);

	put_dtr(fm, 0x7000 + 0x20, 0x17, 0xaabbccdd);
	ASSERT(FM_RUN(fm, 0x2e, 0x0f, 0x01, 0x16, 0x20, 0x00) == EMUL_OK);
	EXPECT_EQ(fm->gdtr_base, 0xbbccdd);
	EXPECT_EQ(fm->gdtr_limit, 0x17);
	EXPECT_EQ(fm->ctx.rip, 6);
	ASSERT(FM_RUN(fm, 0x2e, 0x66, 0x0f, 0x01, 0x16, 0x20, 0x00) == EMUL_OK);
	EXPECT_EQ(fm->gdtr_base, 0xaabbccdd);
	fm->ctx.gpr[EMUL_RBX] = DATA;
	put_dtr(fm, DATA, 0x3ff, 0);
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0x01, 0x1f) == EMUL_OK);	/* lidtl [bx] */
	EXPECT_EQ(fm->idtr_base, 0);
	EXPECT_EQ(fm->idtr_limit, 0x3ff);
	EXPECT_EQ(fm->gdtr_base, 0xaabbccdd);
	/* 67: a 32-bit address (disp32) in 16-bit code. */
	put_dtr(fm, 0x7000 + 0x40, 0x27, 0x11223344);
	ASSERT(FM_RUN(fm, 0x2e, 0x67, 0x66, 0x0f, 0x01, 0x15,
		      0x40, 0x00, 0x00, 0x00) == EMUL_OK);
	EXPECT_EQ(fm->gdtr_base, 0x11223344);
	EXPECT_EQ(fm->gdtr_limit, 0x27);
	EXPECT_EQ(fm->ctx.insn.len, 10);
	fm_free(fm);
}

/* 64-bit mode reads a 64-bit base, which must be canonical; CPL 3 is
 * #GP(0); mod = 3 is another instruction (0F 01 D0 is XGETBV). */
TEST(lgdt_checks)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RAX] = DATA;
	put_dtr(fm, DATA, 0xfff, 0xffff800000001000ULL);
	ASSERT(FM_RUN(fm, 0x66, 0x0f, 0x01, 0x10) == EMUL_OK);	/* lgdt [rax] */
	EXPECT_EQ(fm->gdtr_base, 0xffff800000001000ULL);
	EXPECT_EQ(fm->gdtr_limit, 0xfff);
	EXPECT_EQ(fm->ctx.insn.src.size, 10);
	put_dtr(fm, DATA, 0xfff, 0x0000800000000000ULL);
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x01, 0x18), EMUL_VEC_GP, CODE + 4);
	EXPECT_EQ(fm->idtr_base, 0);
	fm->ctx.cpl = 3;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x01, 0x10), EMUL_VEC_GP, CODE + 4);
	EXPECT_EQ(FM_RUN(fm, 0x0f, 0x01, 0xd0), EMUL_UNSUPPORTED);
	fm_free(fm);
}

/* ---- CLI --------------------------------------------------------------------- */

/* Real mode always may; CPL 3 needs IOPL 3, else #GP(0), or with
 * CR4.PVI the virtual flag, which is not the emulator's. */
TEST(cli)
{
	struct fake_machine *fm = setup_real(0x0100);

	fm->ctx.rflags |= EMUL_RFLAGS_IF;
	ASSERT(FM_RUN(fm, 0xfa) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rflags & EMUL_RFLAGS_IF, 0);
	EXPECT_EQ(fm->ctx.rip, 1);
	fm_mode32(fm);
	fm->ctx.rip = CODE;
	fm->ctx.cpl = 3;
	fm->ctx.rflags |= EMUL_RFLAGS_IF;
	expect_fault(fm, FM_RUN(fm, 0xfa), EMUL_VEC_GP, CODE);
	EXPECT(fm->ctx.rflags & EMUL_RFLAGS_IF);
	fm->ctx.cr4 = EMUL_CR4_PVI;
	EXPECT_EQ(FM_RUN(fm, 0xfa), EMUL_UNSUPPORTED);
	fm->ctx.rflags |= EMUL_RFLAGS_IOPL;
	ASSERT(FM_RUN(fm, 0xfa) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rflags & EMUL_RFLAGS_IF, 0);
	fm_free(fm);
}

/* ---- IN, OUT ------------------------------------------------------------------- */

/* Real mode: the port from an imm8 or DX; 66 makes it EAX; IN AL and
 * AX keep the rest of the register. */
TEST(in_out_real_mode)
{
	struct fake_machine *fm = setup_real(0x0100);

	fm->pio_in_value = 0x12345678;
	fm->ctx.gpr[EMUL_RAX] = 0xaaaaaaaa;
	ASSERT(FM_RUN(fm, 0xe4, 0x80) == EMUL_OK);		/* in al, 0x80 */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0xaaaaaa78);
	EXPECT_EQ(fm->pio_log[0].addr, 0x80);
	EXPECT_EQ(fm->pio_log[0].len, 1);
	EXPECT_EQ(fm->ctx.rip, 2);
	fm->ctx.gpr[EMUL_RDX] = 0xffff0cf8;
	ASSERT(FM_RUN(fm, 0x66, 0xed) == EMUL_OK);		/* in eax, dx */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x12345679);
	EXPECT_EQ(fm->pio_log[1].addr, 0xcf8);
	EXPECT_EQ(fm->pio_log[1].len, 4);
	ASSERT(FM_RUN(fm, 0xe7, 0x70) == EMUL_OK);		/* out 0x70, ax */
	EXPECT(fm->pio_log[2].write);
	EXPECT_EQ(fm->pio_log[2].addr, 0x70);
	EXPECT_EQ(fm->pio_log[2].val, 0x5679);
	EXPECT_EQ(fm->pio_log[2].len, 2);
	ASSERT(FM_RUN(fm, 0xee) == EMUL_OK);			/* out dx, al */
	EXPECT_EQ(fm->pio_log[3].addr, 0xcf8);
	EXPECT_EQ(fm->pio_log[3].val, 0x79);
	EXPECT_EQ(fm->ctx.rip, 2 + 2 + 2 + 1);
	fm_free(fm);
}

/* CPL 3 above IOPL asks the TSS bitmap (io_allowed): refused is #GP(0)
 * before any port access. In 64-bit mode REX.W still moves 32 bits. */
TEST(in_out_checks)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	fm->ctx.rip = CODE;
	fm->ctx.cpl = 3;
	expect_fault(fm, FM_RUN(fm, 0xec), EMUL_VEC_GP, CODE);
	EXPECT_EQ(fm->pio_count, 0);
	fm->io_allow = true;
	ASSERT(FM_RUN(fm, 0xec) == EMUL_OK);
	EXPECT_EQ(fm->pio_count, 1);
	fm_mode64(fm);
	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RAX] = ~0ULL;
	fm->pio_in_value = 0x87654321;
	ASSERT(FM_RUN(fm, 0x48, 0xe5, 0x60) == EMUL_OK);	/* in eax, 0x60 */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x87654321);
	EXPECT_EQ(fm->pio_log[0].len, 4);
	fm_free(fm);
}

/* ---- far JMP/CALL ptr ---------------------------------------------------------- */

/* Real mode: CS = selector, base selector << 4; CALL pushes CS and IP. */
TEST(far_ptr_real_mode)
{
	struct fake_machine *fm = setup_real(0x0100);

	ASSERT(FM_RUN(fm, 0xea, 0x00, 0x01, 0x34, 0x12) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, 0x100);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].sel, 0x1234);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].base, 0x12340);
	fm->ctx.gpr[EMUL_RSP] = 0x100;
	ASSERT(FM_RUN(fm, 0x9a, 0x10, 0x00, 0x00, 0x02) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rip, 0x10);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].base, 0x2000);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], 0xfc);
	EXPECT_EQ(fm_get(fm, 0xfe, 2), 0x1234);
	EXPECT_EQ(fm_get(fm, 0xfc, 2), 0x105);
	/* Past the current CS limit: #GP(0). */
	fm->ctx.seg[EMUL_CS].limit = 0xff;
	fm->ctx.rip = 0x10;
	expect_fault(fm, FM_RUN(fm, 0xea, 0x00, 0x01, 0x00, 0x00), EMUL_VEC_GP,
		     0x10);
	fm_free(fm);
}

/* Not in 64-bit mode: the decoder does not know them there. */
TEST(far_ptr_not_64)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	EXPECT_EQ(FM_RUN(fm, 0xea, 0, 0, 0, 0, 0x08, 0), EMUL_UNSUPPORTED);
	EXPECT_EQ(FM_RUN(fm, 0x9a, 0, 0, 0, 0, 0x08, 0), EMUL_UNSUPPORTED);
	fm_free(fm);
}

/* Older Linux trampolines enter protected mode with LMSW: in real mode
 * (CPL 0) it sets PE through the VMM's write_cr0, ET and the rest of
 * CR0 kept. */
TEST(lmsw_real_mode)
{
	struct fake_machine *fm = setup_real(0x0100);

	fm->ctx.gpr[EMUL_RAX] = 0xfff1;
	ASSERT(FM_RUN(fm, 0x0f, 0x01, 0xf0) == EMUL_OK);	/* lmsw %ax */
	EXPECT_EQ(fm->ctx.cr0, CR0_ET | EMUL_CR0_PE);
	EXPECT_EQ(fm->cr0_written, CR0_ET | EMUL_CR0_PE);
	EXPECT_EQ(fm->ctx.rip, 3);
	fm_free(fm);
}

/* ---- PUSHF, POPF ------------------------------------------------------------------ */

#define RFLAGS_NT	BIT_ULL(14)
#define RFLAGS_ID	BIT_ULL(21)
#define RFLAGS_VIF	BIT_ULL(19)

/* Real mode: PUSHF stores FLAGS, PUSHFD EFLAGS with RF and VM read as
 * 0; RSP moves by the operand size within SP. */
TEST(pushf_real_mode)
{
	struct fake_machine *fm = setup_real(0x0100);

	fm->ctx.gpr[EMUL_RSP] = 0xabcd0000 | STACK;
	fm->ctx.rflags |= EMUL_RFLAGS_CF | EMUL_RFLAGS_IF | EMUL_RFLAGS_AC |
			  EMUL_RFLAGS_RF;
	ASSERT(FM_RUN(fm, 0x9c) == EMUL_OK);			/* pushf */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], 0xabcd0000 | (STACK - 2));
	EXPECT_EQ(fm_get(fm, STACK - 2, 4), 0x0203);
	ASSERT(FM_RUN(fm, 0x66, 0x9c) == EMUL_OK);		/* pushfd */
	EXPECT_EQ(fm_get(fm, STACK - 6, 4), 0x40203);
	EXPECT_EQ(fm->ctx.rflags & EMUL_RFLAGS_RF, 0);
	EXPECT_EQ(fm->ctx.rip, 3);
	fm_free(fm);
}

/* Real mode is CPL 0: POPF loads FLAGS[15:0] but the reserved bits,
 * POPFD also AC and ID, never RF, VM, VIF or VIP. */
TEST(popf_real_mode)
{
	struct fake_machine *fm = setup_real(0x0100);

	fm->ctx.gpr[EMUL_RSP] = STACK;
	fm->ctx.rflags |= EMUL_RFLAGS_AC;
	fm_set32(fm, STACK, 0xffffffff);
	ASSERT(FM_RUN(fm, 0x9d) == EMUL_OK);			/* popf */
	EXPECT_EQ(fm->ctx.rflags, EMUL_RFLAGS_FIXED | EMUL_RFLAGS_AC | 0x7fd5);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK + 2);
	fm_set32(fm, STACK + 2, 0xffffffff);
	ASSERT(FM_RUN(fm, 0x66, 0x9d) == EMUL_OK);		/* popfd */
	EXPECT_EQ(fm->ctx.rflags, EMUL_RFLAGS_FIXED | 0x7fd5 | EMUL_RFLAGS_AC |
				  RFLAGS_ID);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK + 6);
	fm_set32(fm, STACK + 6, 0);
	ASSERT(FM_RUN(fm, 0x66, 0x9d) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rflags, EMUL_RFLAGS_FIXED);
	fm_free(fm);
}

/* The CPUID probe of 32-bit code: flip EFLAGS.ID through PUSHFD and
 * POPFD and see it stick. */
TEST(pushf_popf_id_probe)
{
	static const uint8_t code[] = {
		0x66, 0x9c,				/* pushfd */
		0x66, 0x58,				/* pop %eax */
		0x66, 0x35, 0x00, 0x00, 0x20, 0x00,	/* xor $ID, %eax */
		0x66, 0x50,				/* push %eax */
		0x66, 0x9d,				/* popfd */
		0x66, 0x9c,				/* pushfd */
		0x66, 0x5b,				/* pop %ebx */
	};
	struct fake_machine *fm = setup_real(0x0800);

	fm->ctx.gpr[EMUL_RSP] = STACK;
	fm_put(fm, 0x8000, code, sizeof(code));
	for (int i = 0; i < 7; i++)
		ASSERT(emul_step(&fm->ctx) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RBX], EMUL_RFLAGS_FIXED | RFLAGS_ID);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK);
	fm_free(fm);
}

/* Above CPL 0 POPF keeps IOPL, and IF too where CPL > IOPL;
 * virtual-8086 mode below IOPL 3 is #GP(0), or with CR4.VME the
 * virtual flag, not the emulator's. */
TEST(popf_privilege)
{
	struct fake_machine *fm = fm_new();

	fm_mode32(fm);
	fm->ctx.rip = CODE;
	fm->ctx.cpl = 3;
	fm->ctx.gpr[EMUL_RSP] = STACK;
	fm_set32(fm, STACK, 0xffffffff);
	ASSERT(FM_RUN(fm, 0x9d) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rflags & (EMUL_RFLAGS_IF | EMUL_RFLAGS_IOPL), 0);
	EXPECT(fm->ctx.rflags & RFLAGS_NT);
	fm->ctx.rflags = EMUL_RFLAGS_FIXED | EMUL_RFLAGS_VM;
	fm->ctx.gpr[EMUL_RSP] = STACK;
	expect_fault(fm, FM_RUN(fm, 0x9d), EMUL_VEC_GP, CODE + 1);
	expect_fault(fm, FM_RUN(fm, 0x9c), EMUL_VEC_GP, CODE + 1);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK);
	fm->ctx.cr4 = EMUL_CR4_VME;
	EXPECT_EQ(FM_RUN(fm, 0x9d), EMUL_UNSUPPORTED);
	fm_free(fm);
}

/* 64-bit mode: PUSHFQ and POPFQ by default; the upper half is
 * reserved and VIF stays. */
TEST(pushf_popf_64)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	fm->ctx.gpr[EMUL_RSP] = STACK;
	fm->ctx.rflags |= RFLAGS_VIF | EMUL_RFLAGS_ZF;
	ASSERT(FM_RUN(fm, 0x9c) == EMUL_OK);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK - 8);
	EXPECT_EQ(fm_get(fm, STACK - 8, 8),
		  EMUL_RFLAGS_FIXED | RFLAGS_VIF | EMUL_RFLAGS_ZF);
	fm_set64(fm, STACK - 8, ~0ULL);
	ASSERT(FM_RUN(fm, 0x9d) == EMUL_OK);
	EXPECT_EQ(fm->ctx.rflags, EMUL_RFLAGS_FIXED | RFLAGS_VIF | 0x247fd5);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RSP], STACK);
	fm_free(fm);
}

/* ---- CPUID, RDMSR, WRMSR, WBINVD --------------------------------------------------- */

/* CPUID takes EAX and ECX; the VMM's four answers replace RAX, RBX, RCX
 * and RDX whole, upper halves cleared. */
TEST(cpuid)
{
	struct fake_machine *fm = setup_real(0x0100);

	fm->ctx.gpr[EMUL_RAX] = 0xffffffff80000001ULL;
	fm->ctx.gpr[EMUL_RCX] = 0xffffffff00000002ULL;
	fm->ctx.gpr[EMUL_RBX] = ~0ULL;
	fm->ctx.gpr[EMUL_RDX] = ~0ULL;
	ASSERT(FM_RUN(fm, 0x0f, 0xa2) == EMUL_OK);
	EXPECT_EQ(fm->cpuid_leaf, 0x80000001);
	EXPECT_EQ(fm->cpuid_sub, 2);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x80000001);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RBX], 2);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0x6c65746e);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 0x49656e69);
	EXPECT_EQ(fm->ctx.rip, 2);
	fm_free(fm);
}

/* RDMSR and WRMSR: ECX names the MSR, EDX:EAX the value; an MSR the
 * VMM refuses is its #GP(0); CPL > 0 is #GP(0) before the VMM is
 * asked. */
TEST(rdmsr_wrmsr)
{
	struct fake_machine *fm = setup_real(0x0100);

	fm->msr_val = 0x0000000400850089ULL;
	fm->ctx.gpr[EMUL_RCX] = FM_MSR;
	fm->ctx.gpr[EMUL_RAX] = ~0ULL;
	ASSERT(FM_RUN(fm, 0x0f, 0x32) == EMUL_OK);		/* rdmsr */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x00850089);
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 4);
	fm->ctx.gpr[EMUL_RDX] = 0xffffffff00000001ULL;
	ASSERT(FM_RUN(fm, 0x0f, 0x30) == EMUL_OK);		/* wrmsr */
	EXPECT_EQ(fm->msr_val, 0x0000000100850089ULL);
	EXPECT_EQ(fm->ctx.rip, 4);
	fm->ctx.gpr[EMUL_RCX] = 0x10;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x32), EMUL_VEC_GP, 4);
	fm_mode32(fm);
	fm->ctx.rip = CODE;
	fm->ctx.cpl = 3;
	fm->ctx.gpr[EMUL_RCX] = FM_MSR;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x30), EMUL_VEC_GP, CODE);
	EXPECT_EQ(fm->msr_writes, 1);
	fm_free(fm);
}

TEST(wbinvd)
{
	struct fake_machine *fm = setup_real(0x0100);

	ASSERT(FM_RUN(fm, 0x0f, 0x09) == EMUL_OK);
	EXPECT_EQ(fm->wbinvds, 1);
	EXPECT_EQ(fm->ctx.rip, 2);
	fm_mode32(fm);
	fm->ctx.rip = CODE;
	fm->ctx.cpl = 3;
	expect_fault(fm, FM_RUN(fm, 0x0f, 0x09), EMUL_VEC_GP, CODE);
	EXPECT_EQ(fm->wbinvds, 1);
	fm_free(fm);
}

/* ---- SHL, SHR, SAR ---------------------------------------------------------------- */

#define ARITH	EMUL_RFLAGS_ARITH

/* By Ib, by 1 and by CL; CF the last bit out; OF of a 1-bit shift; a
 * zero count changes no flag. */
TEST(shifts)
{
	struct fake_machine *fm = setup_real(0x0100);

	fm->ctx.gpr[EMUL_RAX] = 0x00065400;
	ASSERT(FM_RUN(fm, 0x66, 0xc1, 0xe8, 0x08) == EMUL_OK);	/* shr $8, %eax */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x0654);
	EXPECT_EQ(fm->ctx.rflags & ARITH, 0);
	EXPECT_EQ(fm->ctx.rip, 4);
	fm->ctx.gpr[EMUL_RBX] = 0x81;
	ASSERT(FM_RUN(fm, 0xd0, 0xe3) == EMUL_OK);		/* shl $1, %bl */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RBX], 0x02);
	EXPECT_EQ(fm->ctx.rflags & ARITH, EMUL_RFLAGS_CF | EMUL_RFLAGS_OF);
	fm->ctx.gpr[EMUL_RDX] = 0x8000;
	fm->ctx.gpr[EMUL_RCX] = 0x24;				/* 36 & 31 = 4 */
	ASSERT(FM_RUN(fm, 0xd3, 0xfa) == EMUL_OK);		/* sar %cl, %dx */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 0xf800);
	EXPECT_EQ(fm->ctx.rflags & ARITH, EMUL_RFLAGS_SF | EMUL_RFLAGS_PF);
	ASSERT(FM_RUN(fm, 0xd1, 0xea) == EMUL_OK);		/* shr $1, %dx */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RDX], 0x7c00);
	EXPECT_EQ(fm->ctx.rflags & ARITH, EMUL_RFLAGS_OF | EMUL_RFLAGS_PF);
	fm->ctx.rflags |= EMUL_RFLAGS_CF;
	ASSERT(FM_RUN(fm, 0xc0, 0xe0, 0x20) == EMUL_OK);	/* shl $32, %al */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0x0654);
	EXPECT_EQ(fm->ctx.rflags & ARITH, EMUL_RFLAGS_OF | EMUL_RFLAGS_PF |
					  EMUL_RFLAGS_CF);
	fm->ctx.gpr[EMUL_RAX] = 0x0f;
	ASSERT(FM_RUN(fm, 0xc0, 0xe8, 0x0c) == EMUL_OK);	/* shr $12, %al */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], 0);
	EXPECT_EQ(fm->ctx.rflags & ARITH, EMUL_RFLAGS_ZF | EMUL_RFLAGS_PF);
	EXPECT_EQ(FM_RUN(fm, 0xc1, 0xc0, 0x01), EMUL_UNSUPPORTED); /* rol */
	fm_free(fm);
}

/* A memory destination, and SAR of a 64-bit register past its sign. */
TEST(shifts_mem_and_64)
{
	struct fake_machine *fm = fm_new();

	fm->ctx.rip = CODE;
	fm_set32(fm, DATA, 0x40000001);
	fm->ctx.gpr[EMUL_RBX] = DATA;
	ASSERT(FM_RUN(fm, 0xd1, 0x23) == EMUL_OK);	/* shll (%rbx) */
	EXPECT_EQ(fm_get(fm, DATA, 4), 0x80000002);
	EXPECT_EQ(fm->ctx.rflags & ARITH, EMUL_RFLAGS_OF | EMUL_RFLAGS_SF);
	fm->ctx.gpr[EMUL_RAX] = 0x8000000000000000ULL;
	ASSERT(FM_RUN(fm, 0x48, 0xc1, 0xf8, 0x3f) == EMUL_OK); /* sar $63, %rax */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RAX], ~0ULL);
	EXPECT_EQ(fm->ctx.rflags & ARITH, EMUL_RFLAGS_SF | EMUL_RFLAGS_PF);
	fm->ctx.gpr[EMUL_RCX] = 0xffffffff00000010ULL;
	ASSERT(FM_RUN(fm, 0xc1, 0xe1, 0x00) == EMUL_OK); /* shl $0, %ecx */
	EXPECT_EQ(fm->ctx.gpr[EMUL_RCX], 0x10);
	EXPECT_EQ(fm->ctx.rflags & ARITH, EMUL_RFLAGS_SF | EMUL_RFLAGS_PF);
	fm_free(fm);
}

/* ---- a whole trampoline ------------------------------------------------------------ */

/* kvm-unit-tests' sipi_entry (x86/trampolines.S) at vector 8: mov eax,
 * cr0; or eax, 1; mov cr0, eax; lgdtl; ljmpl to a flat 32-bit code
 * segment. Five steps end in 32-bit protected mode at the target. */
TEST(sipi_trampoline)
{
	static const uint8_t code[] = {
		0x0f, 0x20, 0xc0,			/* mov %cr0, %eax */
		0x66, 0x83, 0xc8, 0x01,			/* or $1, %eax */
		0x0f, 0x22, 0xc0,			/* mov %eax, %cr0 */
		0x66, 0x0f, 0x01, 0x16, 0x20, 0x00,	/* lgdtl 0x20 */
		0x66, 0xea, 0x00, 0x20, 0x40, 0x00,	/* ljmpl $8, $0x402000 */
		0x08, 0x00,
	};
	struct fake_machine *fm = setup_real(0x0800);

	fm->ctx.seg[EMUL_DS].base = 0x8000;	/* DS = CS, as the image sets */
	fm_put(fm, 0x8000, code, sizeof(code));
	put_dtr(fm, 0x8020, 0x17, GDT);
	fm_set64(fm, GDT + 0x08, DESC_FLAT(TYPE_CODE_RX));
	fm_set64(fm, GDT + 0x10, DESC_FLAT(TYPE_DATA_RW));
	for (int i = 0; i < 5; i++)
		ASSERT(emul_step(&fm->ctx) == EMUL_OK);
	EXPECT_EQ(fm->ctx.cr0, CR0_ET | EMUL_CR0_PE);
	EXPECT_EQ(fm->gdtr_base, GDT);
	EXPECT_EQ(fm->ctx.rip, 0x402000);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].sel, 0x08);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].base, 0);
	EXPECT_EQ(fm->ctx.seg[EMUL_CS].limit, 0xffffffff);
	EXPECT(fm->ctx.seg[EMUL_CS].ar & EMUL_AR_DB);
	EXPECT_EQ(emul_mode_bits(&fm->ctx), 32);
	fm_free(fm);
}

TEST_MAIN()
