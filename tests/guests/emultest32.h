/* emultest, 32-bit side: the case list, the frame the cases load and
 * store, FS at the window through the GDT, and the three paging modes
 * (off, 32-bit, PAE). Included by emultest.c only. */

#define NR_GPRS     6
#define SI_IDX      4
#define DI_IDX      5
#define GPR_NAMES   { "eax", "ebx", "ecx", "edx", "esi-base", "edi-base" }
#define GPR_INIT    { 0x89abcdef, 0x01234567, 0x00000005, 0xfedcba98, 0, 0 }
#define ASM_SI      "%%esi"

#define CASES(X, E)                                                          \
	/* MOV: 88-8B, C6/C7, A0-A3 (moffs through FS), B0-BF */             \
	X(mov_st8,     F_ALL, E "movb %al, 3(%ebp)\n")                       \
	X(mov_st8h,    F_ALL, E "movb %ah, 0x11(%ebp)\n")                    \
	X(mov_st16,    F_ALL, E "movw %ax, 5(%ebp)\n")                       \
	X(mov_st32,    F_ALL, E "movl %eax, 9(%ebp)\n")                      \
	X(mov_ld8,     F_ALL, E "movb 7(%ebp), %cl\n")                       \
	X(mov_ld8h,    F_ALL, E "movb 0x17(%ebp), %dh\n")                    \
	X(mov_ld16,    F_ALL, E "movw 6(%ebp), %dx\n")                       \
	X(mov_ld32,    F_ALL, E "movl 10(%ebp), %ebx\n")                     \
	X(mov_sib,     F_ALL, "movl $3, %ecx\n"                              \
			      E "movl 0x20(%ebp,%ecx,4), %edx\n"             \
			      E "movw %dx, -0x10(%esi,%ecx,2)\n")            \
	X(mov_addr16,  F_ALL, "movl $0x30, %ebx\n"                           \
			      E "movl %fs:6(%bx), %ecx\n"                    \
			      E "movb %cl, %fs:0x21(%bx)\n")                 \
	X(mov_imm8,    F_ALL, E "movb $0x5a, 1(%ebp)\n")                     \
	X(mov_imm16,   F_ALL, E "movw $0x1234, 2(%ebp)\n")                   \
	X(mov_imm32,   F_ALL, E "movl $0xdeadbeef, 12(%ebp)\n")              \
	X(mov_moffs_ld8,  F_ALL, E "movb %fs:0x13, %al\n")                   \
	X(mov_moffs_ld16, F_ALL, E "movw %fs:0x14, %ax\n")                   \
	X(mov_moffs_ld32, F_ALL, E "movl %fs:0x19, %eax\n")                  \
	X(mov_moffs_st8,  F_ALL, E "movb %al, %fs:0x23\n")                   \
	X(mov_moffs_st16, F_ALL, E "movw %ax, %fs:0x25\n")                   \
	X(mov_moffs_st32, F_ALL, E "movl %eax, %fs:0x2a\n")                  \
	X(mov_fs_rm,   F_ALL, E "movl %fs:0x31(%ecx), %edx\n")               \
	X(mov_reg_imm, F_ALL, E "movl $0x11223344, %ecx\n"                   \
			      E "movb $0x7f, %dh\n" E "movw $0xbeef, %bx\n") \
	X(movzx,       F_ALL, E "movzbl 3(%ebp), %ecx\n"                     \
			      E "movzwl 6(%ebp), %edx\n"                     \
			      E "movzbw 0x21(%ebp), %bx\n")                  \
	X(movsx,       F_ALL, E "movsbl 0x13(%ebp), %ecx\n"                  \
			      E "movswl 0x16(%ebp), %edx\n"                  \
			      E "movsbw 0x2b(%ebp), %bx\n")                  \
	X(movx_reg,    F_ALL, E "movzbl %dl, %ecx\n" E "movsbw %dh, %bx\n")  \
	X(movnti,      F_ALL, E "movnti %eax, 0x14(%ebp)\n"                  \
			      E "movnti %edx, 0x33(%ebp)\n")                 \
	/* ALU: 00-3D, 80-83 */                                              \
	X(add_mr32,    F_ALL, E "addl %eax, 4(%ebp)\n")                      \
	X(add_mr8,     F_ALL, E "addb %dl, 5(%ebp)\n")                       \
	X(add_rm32,    F_ALL, E "addl 8(%ebp), %ecx\n")                      \
	X(add_rm8,     F_ALL, E "addb 0x19(%ebp), %bh\n")                    \
	X(add_i16,     F_ALL, E "addw $0x7fff, 2(%ebp)\n")                   \
	X(add_i8s,     F_ALL, E "addl $-3, 12(%ebp)\n")                      \
	X(add_i8,      F_ALL, E "addb $0x80, 1(%ebp)\n")                     \
	X(add_82,      F_ALL, E ".byte 0x82, 0x45, 0x01, 0x10\n")            \
	X(add_rr,      F_ALL, E "addl %ecx, %eax\n" E "addb %ah, %dl\n")     \
	X(alu_acc,     F_ALL, E "addl $0x1234, %eax\n" E "sbbb $3, %al\n"   \
			      E "cmpw $0x55, %ax\n")                        \
	X(test_acc,    F_LOGIC, E "testb $0x81, %al\n"                      \
			      E "testl $0x80000000, %eax\n")                \
	X(or_mr32,     F_LOGIC, E "orl %ebx, 0x10(%ebp)\n")                  \
	X(or_rm8,      F_LOGIC, E "orb 3(%ebp), %dh\n")                      \
	X(or_i16,      F_LOGIC, E "orw $0x100, 6(%ebp)\n")                   \
	X(adc_mr32,    F_ALL, E "adcl %eax, 4(%ebp)\n")                      \
	X(adc_i8,      F_ALL, E "adcb $0xff, 7(%ebp)\n")                     \
	X(adc_rm32,    F_ALL, E "adcl 8(%ebp), %edx\n")                      \
	X(sbb_mr32,    F_ALL, E "sbbl %edx, 4(%ebp)\n")                      \
	X(sbb_rm16,    F_ALL, E "sbbw 6(%ebp), %cx\n")                       \
	X(sbb_i8s,     F_ALL, E "sbbl $1, 0x18(%ebp)\n")                     \
	X(and_mr32,    F_LOGIC, E "andl %eax, 4(%ebp)\n")                    \
	X(and_i8,      F_LOGIC, E "andb $0x0f, 3(%ebp)\n")                   \
	X(and_i32,     F_LOGIC, E "andl $0xffff0000, 12(%ebp)\n")            \
	X(sub_mr32,    F_ALL, E "subl %ecx, 4(%ebp)\n")                      \
	X(sub_rm32,    F_ALL, E "subl 0x10(%ebp), %eax\n")                   \
	X(sub_i8,      F_ALL, E "subb $1, 0(%ebp)\n")                        \
	X(xor_mr32,    F_LOGIC, E "xorl %edx, 0x1c(%ebp)\n")                 \
	X(xor_i16,     F_LOGIC, E "xorw $0xaaaa, 6(%ebp)\n")                 \
	X(xor_rm8,     F_LOGIC, E "xorb 2(%ebp), %bl\n")                     \
	X(cmp_mr32,    F_ALL, E "cmpl %eax, 4(%ebp)\n")                      \
	X(cmp_i8,      F_ALL, E "cmpb $0x80, 3(%ebp)\n")                     \
	X(cmp_rm32,    F_ALL, E "cmpl 8(%ebp), %edx\n")                      \
	X(cmp_i8s16,   F_ALL, E "cmpw $-1, 6(%ebp)\n")                       \
	X(lock_add,    F_ALL, E "lock addl %eax, 4(%ebp)\n")                 \
	X(lock_or,     F_LOGIC, E "lock orb $1, 3(%ebp)\n")                  \
	X(lock_sub16,  F_ALL, E "lock subw %dx, 0x1e(%ebp)\n")               \
	/* TEST, INC, DEC, NOT, NEG */                                       \
	X(test_mr32,   F_LOGIC, E "testl %eax, 4(%ebp)\n")                   \
	X(test_i8,     F_LOGIC, E "testb $0x81, 3(%ebp)\n")                  \
	X(test_i16,    F_LOGIC, E "testw $0x8000, 6(%ebp)\n")                \
	X(inc32,       F_ALL, E "incl 4(%ebp)\n")                            \
	X(inc8,        F_ALL, E "incb 3(%ebp)\n")                            \
	X(inc_ovf,     F_ALL, "movl $0x7fffffff, %ecx\n"                     \
			      E "movl %ecx, 0x24(%ebp)\n"                    \
			      E "incl 0x24(%ebp)\n")                         \
	X(dec16,       F_ALL, E "decw 6(%ebp)\n")                            \
	X(dec32,       F_ALL, E "decl 0x20(%ebp)\n")                         \
	X(lock_inc,    F_ALL, E "lock incl 0x28(%ebp)\n")                    \
	/* FF /0 and FE /1: the one-byte 40-4F forms are not emulated */     \
	X(incdec_reg,  F_ALL, E ".byte 0xff, 0xc3\n" E "decb %ch\n")        \
	X(not32,       F_ALL, E "notl 4(%ebp)\n")                            \
	X(not8,        F_ALL, E "notb 3(%ebp)\n")                            \
	X(neg32,       F_ALL, E "negl 8(%ebp)\n")                            \
	X(neg16,       F_ALL, E "negw 6(%ebp)\n")                            \
	X(neg_zero,    F_ALL, "xorl %ecx, %ecx\n"                            \
			      E "movl %ecx, 0x30(%ebp)\n"                    \
			      E "negl 0x30(%ebp)\n")                         \
	X(lock_not,    F_ALL, E "lock notw 0x12(%ebp)\n")                    \
	X(lock_neg,    F_ALL, E "lock negb 0x15(%ebp)\n")                    \
	/* XCHG, XADD, CMPXCHG, CMPXCHG8B */                                 \
	X(xchg32,      F_ALL, E "xchgl %eax, 4(%ebp)\n")                     \
	X(xchg8,       F_ALL, E "xchgb %cl, 3(%ebp)\n")                      \
	X(xchg16,      F_ALL, E "xchgw 6(%ebp), %dx\n")                      \
	X(xchg_rr,     F_ALL, E "xchgl %ecx, %edx\n")                        \
	X(xadd32,      F_ALL, E "xaddl %eax, 4(%ebp)\n")                     \
	X(xadd8,       F_ALL, E "xaddb %dl, 3(%ebp)\n")                      \
	X(lock_xadd16, F_ALL, E "lock xaddw %cx, 6(%ebp)\n")                 \
	X(cmpxchg_eq,  F_ALL, E "movl 4(%ebp), %eax\n"                       \
			      E "cmpxchgl %ecx, 4(%ebp)\n")                  \
	X(cmpxchg_ne,  F_ALL, E "cmpxchgl %ecx, 8(%ebp)\n")                  \
	X(cmpxchg8,    F_ALL, E "cmpxchgb %dl, 3(%ebp)\n")                   \
	X(lock_cmpxchg16, F_ALL, E "movw 6(%ebp), %ax\n"                     \
			      E "lock cmpxchgw %bx, 6(%ebp)\n")              \
	X(cmpxchg8b_eq, F_ALL, E "movl 8(%ebp), %eax\n"                      \
			      E "movl 12(%ebp), %edx\n"                      \
			      E "cmpxchg8b 8(%ebp)\n")                       \
	X(cmpxchg8b_ne, F_ALL, E "cmpxchg8b 0x10(%ebp)\n")                   \
	X(lock_cmpxchg8b, F_ALL, E "movl 0x18(%ebp), %eax\n"                 \
			      E "movl 0x1c(%ebp), %edx\n"                    \
			      E "lock cmpxchg8b 0x18(%ebp)\n")               \
	/* BT, BTS, BTR, BTC: immediate and register offsets */              \
	X(bt_i,        F_BT, E "btl $5, 4(%ebp)\n")                          \
	X(bts_i,       F_BT, E "btsl $31, 8(%ebp)\n")                        \
	X(btr_i16,     F_BT, E "btrw $3, 6(%ebp)\n")                         \
	X(btc_i_mod,   F_BT, E "btcl $33, 12(%ebp)\n")                       \
	X(bts_r_far,   F_BT, "movl $100, %ecx\n" E "btsl %ecx, (%ebp)\n")    \
	X(btr_r_neg,   F_BT, "movl $-9, %ecx\n" E "btrl %ecx, 0x20(%ebp)\n") \
	X(btc_r16,     F_BT, "movl $77, %edx\n" E "btcw %dx, 0x10(%ebp)\n")  \
	X(btc_r16_neg, F_BT, "movl $0xffe1, %edx\n"                          \
			     E "btcw %dx, 0x30(%ebp)\n")                     \
	X(bt_r_far,    F_BT, "movl $200, %ecx\n" E "btl %ecx, 0(%ebp)\n")    \
	X(lock_bts_r,  F_BT, "movl $63, %ecx\n" E "lock btsl %ecx, 4(%ebp)\n") \
	X(lock_btr_i,  F_BT, E "lock btrl $7, 0x2c(%ebp)\n")                 \
	X(bt_rr,       F_BT, E "btl %ecx, %edx\n" E "btsl %eax, %ebx\n")     \
	/* SETcc, CMOVcc */                                                  \
	X(setcc_a,     F_ALL, E "setz 3(%ebp)\n" E "setb 4(%ebp)\n"          \
			      E "setl 5(%ebp)\n" E "setg 6(%ebp)\n")         \
	X(setcc_b,     F_ALL, E "setp 7(%ebp)\n" E "seto 8(%ebp)\n"          \
			      E "setna 9(%ebp)\n" E "setns 10(%ebp)\n")      \
	X(setcc_reg,   F_ALL, E "setc %bl\n" E "setge %dh\n")                \
	X(cmov_z,      F_ALL, E "cmovzl 4(%ebp), %eax\n")                    \
	X(cmov_ne,     F_ALL, E "cmovnel 8(%ebp), %ecx\n")                   \
	X(cmov_l16,    F_ALL, E "cmovl 6(%ebp), %dx\n")                      \
	X(cmov_more,   F_ALL, E "cmovgl 0x10(%ebp), %ebx\n"                  \
			      E "cmovbe 0x14(%ebp), %ecx\n"                  \
			      E "cmovs 0x18(%ebp), %edx\n"                   \
			      E "cmovpo 0x1c(%ebp), %eax\n")                 \
	X(cmov_rr,     F_ALL, E "cmovsl %edx, %eax\n" E "cmovnc %ecx, %ebx\n") \
	/* PUSH, POP: memory operands, and a stack in the window */          \
	X(push_pop_mem, F_ALL, E "pushl 4(%ebp)\n" E "popl %ecx\n"           \
			      E "pushl %eax\n" E "popl 8(%ebp)\n"            \
			      E "pushw 6(%ebp)\n" E "popw %dx\n"             \
			      E "pushl %fs:0x10\n" E "popl %fs:0x20\n")      \
	X(push_pop_window, F_ALL, "movl %esp, %edx\n"                        \
			      "leal 0x60(%ebp), %esp\n"                      \
			      E "pushl %eax\n" E "pushl $0x12345678\n"       \
			      E "pushw $0x55aa\n" E "pushl $-2\n"            \
			      E "popl %ebx\n" E "popw %bx\n"                 \
			      E "popl %ecx\n" E "popl 0x70(%ebp)\n"          \
			      "movl %edx, %esp\n" "xorl %edx, %edx\n")       \
	/* String instructions, REP, DF */                                   \
	X(movsb1,      F_ALL, E "movsb\n")                                   \
	X(rep_movsb,   F_ALL, "movl $5, %ecx\n" E "rep movsb\n")             \
	X(rep_movsw,   F_ALL, "movl $3, %ecx\n" E "rep movsw\n")             \
	X(rep_movsl_df, F_ALL, "std\n" "movl $7, %ecx\n" E "rep movsl\n")    \
	X(rep_movsl_big, F_ALL, "movl $40, %ecx\n" E "rep movsl\n")          \
	X(rep_movsb_zero, F_ALL, "xorl %ecx, %ecx\n" E "rep movsb\n")        \
	X(rep_movsb_overlap, F_ALL, "leal 1(%esi), %edi\n" "movl $9, %ecx\n" \
			      E "rep movsb\n")                               \
	X(cmpsb1,      F_ALL, E "cmpsb\n")                                   \
	X(repe_cmpsl,  F_ALL, "movl $4, %ecx\n" E "repe cmpsl\n")            \
	X(repe_cmpsb_eq, F_ALL, "movl %esi, %edi\n"                          \
			      "movl $6, %ecx\n" E "repe cmpsb\n")            \
	X(repne_cmpsb, F_ALL, "movl $6, %ecx\n" E "repne cmpsb\n")           \
	X(stosb1,      F_ALL, E "stosb\n")                                   \
	X(rep_stosl,   F_ALL, "movl $5, %ecx\n" E "rep stosl\n")             \
	X(rep_stosw_df, F_ALL, "std\n" "movl $6, %ecx\n" E "rep stosw\n")    \
	X(rep_stosb_big, F_ALL, "movl $100, %ecx\n" E "rep stosb\n")         \
	X(lodsb1,      F_ALL, E "lodsb\n")                                   \
	X(lodsl1,      F_ALL, E "lodsl\n")                                   \
	X(rep_lodsw,   F_ALL, "movl $3, %ecx\n" E "rep lodsw\n")             \
	X(scasb1,      F_ALL, E "scasb\n")                                   \
	X(repne_scasb, F_ALL, "movb 0x137(%ebp), %al\n"                      \
			      "movl $0x40, %ecx\n" E "repne scasb\n")        \
	X(repe_scasl,  F_ALL, "movl 0x100(%ebp), %eax\n"                     \
			      "movl $3, %ecx\n" E "repe scasl\n")            \
	X(repe_scasw_df, F_ALL, "std\n" "movw 0x100(%ebp), %ax\n"            \
			      "movl $4, %ecx\n" E "repe scasw\n")

/* Entry: frame in, registers loaded; exit: registers and flags out
 * (struct frame: EAX EBX ECX EDX ESI EDI, flags, base). */
#define CASE_PROLOGUE                                                        \
	"pushl %ebp\n" "pushl %ebx\n" "pushl %esi\n" "pushl %edi\n"          \
	"movl 20(%esp), %eax\n" "pushl %eax\n"                               \
	"pushl 24(%eax)\n" "popfl\n"                                         \
	"movl 28(%eax), %ebp\n" "movl 4(%eax), %ebx\n"                       \
	"movl 8(%eax), %ecx\n" "movl 12(%eax), %edx\n"                       \
	"movl 16(%eax), %esi\n" "movl 20(%eax), %edi\n"                      \
	"movl 0(%eax), %eax\n"
#define CASE_EPILOGUE                                                        \
	"pushfl\n" "pushl %eax\n" "movl 8(%esp), %eax\n"                     \
	"popl 0(%eax)\n" "popl 24(%eax)\n"                                   \
	"movl %ebx, 4(%eax)\n" "movl %ecx, 8(%eax)\n"                        \
	"movl %edx, 12(%eax)\n" "movl %esi, 16(%eax)\n"                      \
	"movl %edi, 20(%eax)\n" "addl $4, %esp\n" "cld\n"                    \
	"popl %edi\n" "popl %esi\n" "popl %ebx\n" "popl %ebp\n" "ret\n"


/* ---- segments: FS based at the window ----------------------------------- */

#define SEL_FS_WINDOW       0x18            /* data, base = the window */
#define SEL_FS_SMALL        0x20            /* data, base 0, limit 0xfff */

static uint64_t gdt[5] __attribute__((aligned(8))) = {
	0,
	0x00cf9b000000ffffULL,          /* 0x08: code, as the library's */
	0x00cf93000000ffffULL,          /* 0x10: data, as the library's */
	0x00cf93000000ffffULL,          /* 0x18: data, base set per run */
	0x0040930000000fffULL,          /* 0x20: data, base 0, limit 0xfff */
};

static void load_fs(uint16_t sel)
{
	__asm__ volatile("movw %0, %%fs" :: "r"(sel) : "memory");
}

static void set_fs_base(uintptr_t base)
{
	uint64_t d = 0x00cf93000000ffffULL;

	d |= (uint64_t)(base & 0xffffff) << 16;
	d |= (uint64_t)(base >> 24) << 56;
	gdt[3] = d;
	load_fs(SEL_FS_WINDOW);
}

/* Cases leave FS alone; a fault test may not. */
static void restore_fs(void)
{
	load_fs(SEL_FS_WINDOW);
}

static void arch_init(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint32_t base;
	} d = { sizeof(gdt) - 1, (uint32_t)(uintptr_t)gdt };

	__asm__ volatile("lgdt %0" :: "m"(d) : "memory");
}

/* #GP(0) from a segment limit, natively and through the marker. */
static void test_gp(void)
{
	uintptr_t ip;
	uint32_t val = 0;

	load_fs(SEL_FS_SMALL);
	trap_arm();
	__asm__ volatile("mov $1f, %0\n1: " FEP "movl %%fs:0x2000, %1\n2:\n"
			 EX_TABLE("1b", "2b") : "=&r"(ip), "+r"(val) :: "memory");
	expect_trap(VEC_GP, 0, ip);
	trap_arm();
	__asm__ volatile("mov $1f, %0\n1: movl %%fs:0xffe, %1\n2:\n"
			 EX_TABLE("1b", "2b") : "=&r"(ip), "+r"(val) :: "memory");
	expect_trap(VEC_GP, 0, ip);
	load_fs(SEL_FS_WINDOW);
}

/* ---- paging: identity maps with holes ------------------------------------
 *
 *   0x00000000 .. 0x00bfffff   large pages
 *   0x00c00000 .. 0x00ffffff   4 KiB pages (32-bit; PAE from 0x00e00000),
 *                              HOLE (0x00fff000) not present
 *   0x40000000 ..              large page not present (UNMAPPED)
 *   the rest, 0xff000000 included: large pages
 */
#define CR0_WP          0x00010000u
#define CR0_PG          0x80000000u
#define CR4_PSE         0x010u
#define CR4_PAE         0x020u

static uint32_t pd32[1024] __attribute__((aligned(4096)));
static uint32_t pt32[1024] __attribute__((aligned(4096)));
static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t pae_pd[4][512] __attribute__((aligned(4096)));
static uint64_t pae_pt[512] __attribute__((aligned(4096)));

#define CR_ACCESSORS(n)                                                 \
	static uint32_t read_cr##n(void)                                \
	{                                                               \
		uint32_t v;                                             \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));       \
		return v;                                               \
	}                                                               \
	static void write_cr##n(uint32_t v)                             \
	{                                                               \
		__asm__ volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); \
	}
CR_ACCESSORS(0)
CR_ACCESSORS(4)

static void write_cr3(uint32_t v)
{
	__asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory");
}

static void paging_off(void)
{
	write_cr0(read_cr0() & ~CR0_PG);
	write_cr4(read_cr4() & ~(CR4_PSE | CR4_PAE));
}

static void paging32_on(void)
{
	for (uint32_t i = 0; i < 1024; i++) {
		pd32[i] = (i << 22) | PTE_PS | PTE_RW | PTE_P;
		pt32[i] = ((HOLE & 0xffc00000u) + (i << 12)) | PTE_RW | PTE_P;
	}
	pt32[(HOLE >> 12) & 1023] = 0;
	pd32[HOLE >> 22] = (uint32_t)(uintptr_t)pt32 | PTE_RW | PTE_P;
	pd32[UNMAPPED >> 22] = 0;
	write_cr4(read_cr4() | CR4_PSE);
	write_cr3((uint32_t)(uintptr_t)pd32);
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

static void paging_pae_on(void)
{
	for (uint32_t i = 0; i < 4; i++) {
		pdpt[i] = (uint32_t)(uintptr_t)pae_pd[i] | PTE_P;
		for (uint32_t j = 0; j < 512; j++)
			pae_pd[i][j] = ((uint64_t)i << 30 | (uint64_t)j << 21) |
				       PTE_PS | PTE_RW | PTE_P;
	}
	for (uint32_t k = 0; k < 512; k++)
		pae_pt[k] = ((HOLE & 0xffe00000u) + (k << 12)) | PTE_RW | PTE_P;
	pae_pt[(HOLE >> 12) & 511] = 0;
	pae_pd[0][HOLE >> 21] = (uint32_t)(uintptr_t)pae_pt | PTE_RW | PTE_P;
	pae_pd[UNMAPPED >> 30][(UNMAPPED >> 21) & 511] = 0;
	write_cr4(read_cr4() | CR4_PAE);
	write_cr3((uint32_t)(uintptr_t)pdpt);
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

static const struct paging_mode paging_modes[] = {
	{ "paging off",    NULL,          NULL,       false },
	{ "32-bit paging", paging32_on,   paging_off, true },
	{ "PAE paging",    paging_pae_on, paging_off, true },
};
