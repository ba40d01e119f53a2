/* Opcode tables of Keel's emulator: what the decoder knows and how each
 * entry's operands are encoded. Internal to emul/.
 *
 * An entry names a handler, the two operand specs and decoding flags. An
 * entry with EMUL_F_GROUP has its handler field holding a group number;
 * ModRM.reg then selects the real entry in emul_group_table (SDM Vol. 2D
 * A.4, "Opcode Extensions For One-Byte And Two-byte Opcodes"). */
#ifndef KEEL_EMUL_OPCODES_H
#define KEEL_EMUL_OPCODES_H

#include "arch/compiler.h"

enum emul_handler {
	EMUL_H_NONE,		/* not in Keel's tables */
	EMUL_H_ADD, EMUL_H_OR, EMUL_H_ADC, EMUL_H_SBB,
	EMUL_H_AND, EMUL_H_SUB, EMUL_H_XOR, EMUL_H_CMP,
	EMUL_H_TEST, EMUL_H_INC, EMUL_H_DEC, EMUL_H_NOT, EMUL_H_NEG,
	EMUL_H_MOV, EMUL_H_MOVZX, EMUL_H_MOVSX, EMUL_H_MOVSXD, EMUL_H_MOVNTI,
	EMUL_H_XCHG, EMUL_H_XADD, EMUL_H_CMPXCHG, EMUL_H_CMPXCHG8B,
	EMUL_H_BT, EMUL_H_BTS, EMUL_H_BTR, EMUL_H_BTC,
	EMUL_H_SETCC, EMUL_H_CMOVCC,
	EMUL_H_PUSH, EMUL_H_POP,
	EMUL_H_MOVS, EMUL_H_CMPS, EMUL_H_STOS, EMUL_H_LODS, EMUL_H_SCAS,
	EMUL_H_INS, EMUL_H_OUTS,
	EMUL_H_SMSW, EMUL_H_LMSW,
	EMUL_H_IMUL, EMUL_H_BSF, EMUL_H_BSR, EMUL_H_SHLD, EMUL_H_SHRD,
	EMUL_H_MOVXMM,
	EMUL_H_MUL, EMUL_H_IMUL1, EMUL_H_DIV, EMUL_H_IDIV,
	EMUL_H_LTR, EMUL_H_RET, EMUL_H_LEAVE, EMUL_H_ENTER,
	EMUL_H_MOV_FROM_SREG, EMUL_H_MOV_TO_SREG,
	EMUL_H_JMP, EMUL_H_CALL, EMUL_H_JMP_FAR, EMUL_H_CALL_FAR,
	EMUL_H_MOVMMX,
	EMUL_H_MOV_FROM_CR, EMUL_H_MOV_TO_CR, EMUL_H_LGDT, EMUL_H_LIDT,
	EMUL_H_CLI, EMUL_H_IN, EMUL_H_OUT, EMUL_H_JCC,
	EMUL_H_SHL, EMUL_H_SHR, EMUL_H_SAR, EMUL_H_PUSHF, EMUL_H_POPF,
	EMUL_H_CPUID, EMUL_H_RDMSR, EMUL_H_WRMSR, EMUL_H_WBINVD,
	EMUL_H_NR
};

/* The ALU handlers are in the order of their ModRM.reg in group 1 and of
 * opcode bits 5:3 in 00-3F (SDM Vol. 2D Table A-6). */
_Static_assert(EMUL_H_CMP - EMUL_H_ADD == 7, "group 1 order");

/* Operand spec: kind in bits 3:0, size class in bits 7:4. */
#define EMUL_OK_MASK	0x0f
enum emul_opnd_spec_kind {
	EMUL_OK_NONE,
	EMUL_OK_E,		/* ModRM r/m */
	EMUL_OK_G,		/* ModRM reg */
	EMUL_OK_ACC,		/* AL/AX/EAX/RAX */
	EMUL_OK_IMM,		/* immediate of the size class */
	EMUL_OK_OPREG,		/* opcode bits 2:0 + REX.B */
	EMUL_OK_MOFFS,		/* memory at an absolute offset */
	EMUL_OK_V,		/* ModRM reg: an XMM register */
	EMUL_OK_W,		/* ModRM r/m: an XMM register or memory */
	EMUL_OK_SREG,		/* ModRM reg: a segment register */
	EMUL_OK_P,		/* ModRM reg: an MMX register */
	EMUL_OK_Q,		/* ModRM r/m: an MMX register or memory */
	EMUL_OK_R,		/* ModRM r/m: a register, whatever mod says */
	EMUL_OK_C,		/* ModRM reg (+ REX.R): a control register */
	EMUL_OK_DX,		/* DX: IN and OUT's port */
};

#define EMUL_SZ_SHIFT	4
enum emul_size_class {
	EMUL_SZ_V,		/* operand size: 2, 4 or 8 */
	EMUL_SZ_B,		/* 1 */
	EMUL_SZ_W,		/* 2 */
	EMUL_SZ_Z,		/* 2 if operand size is 2, else 4 */
	EMUL_SZ_X,		/* CMPXCHG8B/16B: 8, or 16 with REX.W */
	EMUL_SZ_Y,		/* 8 with REX.W, else 4 (MOVNTI) */
	EMUL_SZ_MWRV,		/* 2 for memory, operand size for a register
				 * (SMSW: "Mw/Rv") */
	EMUL_SZ_DQ,		/* 16 (an XMM register or m128) */
	EMUL_SZ_Q,		/* 8 (an MMX register or m64) */
	EMUL_SZ_FARP,		/* far pointer m16:16/32/64: operand size + 2 */
	EMUL_SZ_D64,		/* 8 in 64-bit mode, else 4 (MOV to/from CR) */
	EMUL_SZ_DTR,		/* m16&32, or m16&64 in 64-bit mode: 6 or 10
				 * (LGDT, LIDT) */
};

#define EMUL_OPND(kind, sz) \
	((uint8_t)(EMUL_OK_##kind | (EMUL_SZ_##sz << EMUL_SZ_SHIFT)))
#define EMUL_OPND_NONE_SPEC	0

/* Entry flags. */
#define EMUL_F_MODRM	BIT_ULL(0)	/* a ModRM byte follows the opcode */
#define EMUL_F_GROUP	BIT_ULL(1)	/* handler = group number */
#define EMUL_F_LOCK	BIT_ULL(2)	/* LOCK allowed with memory dst */
#define EMUL_F_STRING	BIT_ULL(3)	/* string op: F2/F3 repeat it */
#define EMUL_F_DEF64	BIT_ULL(4)	/* 64-bit default size in 64-bit mode */
#define EMUL_F_MEMONLY	BIT_ULL(5)	/* ModRM.mod must not be 3 */
#define EMUL_F_NO64	BIT_ULL(6)	/* not valid in 64-bit mode */
#define EMUL_F_ONLY64	BIT_ULL(7)	/* only in 64-bit mode */
#define EMUL_F_NOSIMD	BIT_ULL(8)	/* 66/F2/F3 select another insn */
#define EMUL_F_IMM8	BIT_ULL(9)	/* a third operand: Ib after ModRM */
#define EMUL_F_IMMZ	BIT_ULL(10)	/* a third operand: Iz after ModRM */
#define EMUL_F_NOREP	BIT_ULL(11)	/* F2/F3 select another insn */
#define EMUL_F_ALIGN16	BIT_ULL(12)	/* m128 must be 16-byte aligned */
#define EMUL_F_66F3	BIT_ULL(13)	/* needs 66 (aligned) or F3 (not) */
#define EMUL_F_FORCE64	BIT_ULL(14)	/* 64-bit operand size in 64-bit
					 * mode, 66 and REX.W or not */
#define EMUL_F_MMXNP	BIT_ULL(15)	/* without 66/F2/F3: the MMX form
					 * (emul_mmx_movq_table) */

struct emul_opdesc {
	uint8_t handler;	/* enum emul_handler, or group number */
	uint8_t dst;		/* operand spec */
	uint8_t src;		/* operand spec */
	uint16_t flags;		/* EMUL_F_* */
};

enum emul_group {
	EMUL_G_80, EMUL_G_81, EMUL_G_82, EMUL_G_83,
	EMUL_G_8F, EMUL_G_C6, EMUL_G_C7,
	EMUL_G_C0, EMUL_G_C1, EMUL_G_D0, EMUL_G_D1, EMUL_G_D2, EMUL_G_D3,
	EMUL_G_F6, EMUL_G_F7, EMUL_G_FE, EMUL_G_FF,
	EMUL_G_0F00, EMUL_G_0F01, EMUL_G_0FBA, EMUL_G_0FC7,
	EMUL_G_NR
};

_Static_assert(EMUL_F_MMXNP <= 0xffff, "flags fit emul_opdesc.flags");
_Static_assert(EMUL_H_NR <= 0xff && EMUL_G_NR <= 0xff,
	       "handler and group ids fit emul_opdesc.handler");
_Static_assert(EMUL_SZ_DTR < 16 && EMUL_OK_DX <= EMUL_OK_MASK,
	       "operand spec nibbles");

extern const struct emul_opdesc emul_onebyte_table[256];
extern const struct emul_opdesc emul_twobyte_table[256];
extern const struct emul_opdesc emul_group_table[EMUL_G_NR][8];
/* 0F 6F and 0F 7F without a mandatory prefix, in that order. */
extern const struct emul_opdesc emul_mmx_movq_table[2];

#endif
