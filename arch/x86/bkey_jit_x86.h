/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tiny x86-64 instruction encoder for bkey-jit.
 *
 * An instruction is assembled into a struct x86_insn with the EMIT*()
 * macros (which, as in the BPF JIT, refer to a local named "insn") and then
 * handed whole to the backend's single writer, so the writer can count
 * instructions and bound the output in one place.
 */
#ifndef _BKEY_JIT_X86_H
#define _BKEY_JIT_X86_H

#include "compat/bkey_jit_compat.h"

/* Hardware register numbers, as encoded in ModRM/SIB plus REX.R/X/B. */
enum x86_reg {
	X86_RAX, X86_RCX, X86_RDX, X86_RBX,
	X86_RSP, X86_RBP, X86_RSI, X86_RDI,
	X86_R8,  X86_R9,  X86_R10, X86_R11,
	X86_R12, X86_R13, X86_R14, X86_R15,
};

/* The architectural limit; nothing emitted here comes close (max 11). */
#define X86_MAX_INSN_LEN	15

struct x86_insn {
	u8	len;
	bool	bad;		/* overflowed: a bug in the encoder */
	u8	b[X86_MAX_INSN_LEN];
};

#define X86_REX		0x40
#define X86_REX_W	0x08
#define X86_REX_R	0x04
#define X86_REX_X	0x02
#define X86_REX_B	0x01

/* ModRM.mod values */
#define X86_MOD_DISP0	0x00
#define X86_MOD_DISP8	0x40
#define X86_MOD_DISP32	0x80
#define X86_MOD_REG	0xc0

/* Opcode extensions (ModRM.reg) of the group 1 ALU (80/81/83) opcodes. */
#define X86_ALU_ADD	0
#define X86_ALU_OR	1
#define X86_ALU_AND	4
#define X86_ALU_SUB	5
#define X86_ALU_XOR	6

/* Opcode extensions of the group 8 bit test (0F BA) opcodes. */
#define X86_BT_BTS	5
#define X86_BT_BTR	6

/* Opcode extensions of the group 2 shift (C1/D1) opcodes. */
#define X86_SHIFT_SHL	4
#define X86_SHIFT_SHR	5

static inline bool x86_is_ext(enum x86_reg r)
{
	return r >= X86_R8;
}

static inline u8 x86_low3(enum x86_reg r)
{
	return r & 7;
}

static inline bool x86_fits_s8(s64 v)
{
	return v >= -128 && v <= 127;
}

static inline bool x86_fits_s32(s64 v)
{
	return v >= S32_MIN && v <= S32_MAX;
}

static inline void x86_insn_byte(struct x86_insn *insn, u8 b)
{
	if (insn->len >= X86_MAX_INSN_LEN) {
		insn->bad = true;
		return;
	}
	insn->b[insn->len++] = b;
}

static inline void x86_insn_le(struct x86_insn *insn, u64 v, unsigned int bytes)
{
	while (bytes--) {
		x86_insn_byte(insn, (u8)v);
		v >>= 8;
	}
}

#define EMIT1(b1)		x86_insn_byte(insn, (b1))
#define EMIT2(b1, b2)		do { EMIT1(b1); EMIT1(b2); } while (0)
#define EMIT3(b1, b2, b3)	do { EMIT2(b1, b2); EMIT1(b3); } while (0)
#define EMIT4(b1, b2, b3, b4)	do { EMIT2(b1, b2); EMIT2(b3, b4); } while (0)
#define EMIT_imm8(v)		x86_insn_le(insn, (u64)(v), 1)
#define EMIT_imm32(v)		x86_insn_le(insn, (u64)(v), 4)
#define EMIT_imm64(v)		x86_insn_le(insn, (u64)(v), 8)
#define EMIT1_off32(b1, off)	do { EMIT1(b1); EMIT_imm32(off); } while (0)

/*
 * REX prefix for an instruction whose ModRM.reg is @reg and ModRM.rm (or
 * opcode register) is @rm; emitted only when some bit is set, or when
 * @byte_regs asks for one because a byte operand is spl/bpl/sil/dil (which
 * without REX would mean ah/ch/dh/bh).
 */
static inline void x86_emit_rex(struct x86_insn *insn, bool w,
				enum x86_reg reg, enum x86_reg rm,
				bool byte_regs)
{
	u8 rex = X86_REX;

	if (w)
		rex |= X86_REX_W;
	if (x86_is_ext(reg))
		rex |= X86_REX_R;
	if (x86_is_ext(rm))
		rex |= X86_REX_B;
	if (rex != X86_REX ||
	    (byte_regs && ((reg >= X86_RSP && reg <= X86_RDI) ||
			   (rm >= X86_RSP && rm <= X86_RDI))))
		EMIT1(rex);
}

/* ModRM for a register-direct operand. */
static inline void x86_emit_modrm_reg(struct x86_insn *insn, u8 reg_field,
				      enum x86_reg rm)
{
	EMIT1(X86_MOD_REG | (x86_low3(reg_field) << 3) | x86_low3(rm));
}

/*
 * ModRM (+SIB, +displacement) for [@base + @off], using the shortest form:
 * no displacement for 0 (except rbp/r13 bases, which need one), disp8 when
 * it fits, else disp32. rsp/r12 bases always need a SIB byte.
 */
static inline void x86_emit_modrm_mem(struct x86_insn *insn, u8 reg_field,
				      enum x86_reg base, s32 off)
{
	u8 mod, rm = x86_low3(base);

	if (!off && rm != x86_low3(X86_RBP))
		mod = X86_MOD_DISP0;
	else if (x86_fits_s8(off))
		mod = X86_MOD_DISP8;
	else
		mod = X86_MOD_DISP32;

	EMIT1(mod | (x86_low3(reg_field) << 3) | rm);
	if (rm == x86_low3(X86_RSP))
		EMIT1(0x24);	/* SIB: no index, base = rm */
	if (mod == X86_MOD_DISP8)
		EMIT_imm8(off);
	else if (mod == X86_MOD_DISP32)
		EMIT_imm32(off);
}

#endif /* _BKEY_JIT_X86_H */
