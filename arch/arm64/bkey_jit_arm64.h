/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A64 instruction encoders for the bkey-jit arm64 backend.
 *
 * Every instruction the JIT can emit has one macro here, named after its
 * assembler mnemonic. The encodings follow the Arm Architecture Reference
 * Manual (DDI 0487), section C4 "A64 Instruction Set Encoding"; the kernel's
 * aarch64_insn_gen_*() helpers are not used so that the same code builds in
 * userspace.
 *
 * Conventions: Rd/Rn/Rm/Rt are register numbers 0..31 (31 is XZR/WZR in
 * every instruction used here, never SP); sf selects the 64-bit (1) or
 * 32-bit (0) form.
 */
#ifndef _BKEY_JIT_ARM64_H
#define _BKEY_JIT_ARM64_H

/* Registers */
#define A64_R(x)	(x)
#define A64_ZR		31
#define A64_LR		30

#define A64_SF(sf)	((u32)!!(sf) << 31)
#define A64_RD(r)	((u32)(r) & 0x1f)
#define A64_RN(r)	(((u32)(r) & 0x1f) << 5)
#define A64_RM(r)	(((u32)(r) & 0x1f) << 16)
#define A64_RT2(r)	(((u32)(r) & 0x1f) << 10)

/*
 * Load/store, unscaled signed 9-bit offset (LDUR*, STUR*):
 * size:2 111 0 00 opc:2 0 imm9 00 Rn Rt
 */
#define A64_LS_UNSCALED(size, opc, Rt, Rn, imm9)			\
	(((u32)(size) << 30) | 0x38000000 | ((u32)(opc) << 22) |	\
	 (((u32)(imm9) & 0x1ff) << 12) | A64_RN(Rn) | A64_RD(Rt))

#define A64_LDURB(Wt, Xn, imm9)		A64_LS_UNSCALED(0, 1, Wt, Xn, imm9)
#define A64_LDURH(Wt, Xn, imm9)		A64_LS_UNSCALED(1, 1, Wt, Xn, imm9)
#define A64_LDUR32(Wt, Xn, imm9)	A64_LS_UNSCALED(2, 1, Wt, Xn, imm9)
#define A64_LDUR64(Xt, Xn, imm9)	A64_LS_UNSCALED(3, 1, Xt, Xn, imm9)
#define A64_STUR32(Wt, Xn, imm9)	A64_LS_UNSCALED(2, 0, Wt, Xn, imm9)
#define A64_STUR64(Xt, Xn, imm9)	A64_LS_UNSCALED(3, 0, Xt, Xn, imm9)

/*
 * Store pair, signed offset: opc:2 101 0 010 0 imm7 Rt2 Rn Rt.
 * imm7 is the byte offset divided by the access size (4 or 8).
 */
#define A64_STP_SO(opc, Rt, Rt2, Rn, imm7)				\
	(((u32)(opc) << 30) | 0x29000000 |				\
	 (((u32)(imm7) & 0x7f) << 15) | A64_RT2(Rt2) | A64_RN(Rn) |	\
	 A64_RD(Rt))

#define A64_STP32(Wt, Wt2, Xn, off)	A64_STP_SO(0, Wt, Wt2, Xn, (off) / 4)
#define A64_STP64(Xt, Xt2, Xn, off)	A64_STP_SO(2, Xt, Xt2, Xn, (off) / 8)

/*
 * Bitfield move: sf opc:2 100110 N immr:6 imms:6 Rn Rd, N == sf.
 * opc 0 SBFM, 1 BFM, 2 UBFM.
 */
#define A64_BITFIELD(sf, opc, Rd, Rn, immr, imms)			\
	(A64_SF(sf) | ((u32)(opc) << 29) | 0x13000000 |		\
	 ((u32)!!(sf) << 22) | (((u32)(immr) & 0x3f) << 16) |		\
	 (((u32)(imms) & 0x3f) << 10) | A64_RN(Rn) | A64_RD(Rd))

#define A64_UBFM(sf, Rd, Rn, immr, imms) A64_BITFIELD(sf, 2, Rd, Rn, immr, imms)
#define A64_BFM(sf, Rd, Rn, immr, imms)	A64_BITFIELD(sf, 1, Rd, Rn, immr, imms)

/* Rd = (Rn >> lsb) & mask(width); lsb + width <= 32 << sf */
#define A64_UBFX(sf, Rd, Rn, lsb, width)				\
	A64_UBFM(sf, Rd, Rn, lsb, (lsb) + (width) - 1)
/* Rd = Rn >> shift, logical */
#define A64_LSR(sf, Rd, Rn, shift)					\
	A64_UBFM(sf, Rd, Rn, shift, (sf) ? 63 : 31)
/* Rd<width-1:0> = Rn<lsb+width-1:lsb>, the other bits of Rd unchanged */
#define A64_BFXIL(sf, Rd, Rn, lsb, width)				\
	A64_BFM(sf, Rd, Rn, lsb, (lsb) + (width) - 1)

/* Extract: sf 00 100111 N 0 Rm imms:6 Rn Rd; Rd = (Rn:Rm) >> lsb */
#define A64_EXTR(sf, Rd, Rn, Rm, lsb)					\
	(A64_SF(sf) | 0x13800000 | ((u32)!!(sf) << 22) | A64_RM(Rm) |	\
	 (((u32)(lsb) & 0x3f) << 10) | A64_RN(Rn) | A64_RD(Rd))

/*
 * Add/subtract immediate: sf op S 100010 sh imm12 Rn Rd.
 * sh: the immediate is shifted left by 12.
 */
#define A64_ADDSUB_IMM(sf, op, Rd, Rn, imm12, sh)			\
	(A64_SF(sf) | ((u32)(op) << 30) | 0x11000000 |		\
	 ((u32)!!(sh) << 22) | (((u32)(imm12) & 0xfff) << 10) |	\
	 A64_RN(Rn) | A64_RD(Rd))

#define A64_ADD_I(sf, Rd, Rn, imm12)	A64_ADDSUB_IMM(sf, 0, Rd, Rn, imm12, 0)
#define A64_SUB_I(sf, Rd, Rn, imm12)	A64_ADDSUB_IMM(sf, 1, Rd, Rn, imm12, 0)
#define A64_ADD_I12(sf, Rd, Rn, imm12)	A64_ADDSUB_IMM(sf, 0, Rd, Rn, imm12, 1)
#define A64_SUB_I12(sf, Rd, Rn, imm12)	A64_ADDSUB_IMM(sf, 1, Rd, Rn, imm12, 1)

/* Add/subtract shifted register, LSL #0: sf op 0 01011 00 0 Rm 0 Rn Rd */
#define A64_ADDSUB_REG(sf, op, Rd, Rn, Rm)				\
	(A64_SF(sf) | ((u32)(op) << 30) | 0x0b000000 | A64_RM(Rm) |	\
	 A64_RN(Rn) | A64_RD(Rd))

#define A64_ADD(sf, Rd, Rn, Rm)		A64_ADDSUB_REG(sf, 0, Rd, Rn, Rm)
#define A64_SUB(sf, Rd, Rn, Rm)		A64_ADDSUB_REG(sf, 1, Rd, Rn, Rm)

/*
 * Move wide immediate: sf opc:2 100101 hw:2 imm16 Rd.
 * opc 0 MOVN, 2 MOVZ, 3 MOVK; hw selects the 16-bit lane (shift hw * 16).
 */
#define A64_MOVEW(sf, opc, Rd, imm16, hw)				\
	(A64_SF(sf) | ((u32)(opc) << 29) | 0x12800000 |		\
	 (((u32)(hw) & 3) << 21) | (((u32)(imm16) & 0xffff) << 5) |	\
	 A64_RD(Rd))

#define A64_MOVN(sf, Rd, imm16, hw)	A64_MOVEW(sf, 0, Rd, imm16, hw)
#define A64_MOVZ(sf, Rd, imm16, hw)	A64_MOVEW(sf, 2, Rd, imm16, hw)
#define A64_MOVK(sf, Rd, imm16, hw)	A64_MOVEW(sf, 3, Rd, imm16, hw)

/*
 * Logical immediate: sf opc:2 100100 N immr:6 imms:6 Rn Rd.
 * opc 0 AND, 1 ORR, 2 EOR. The bitmask is encoded as N:immr:imms, see
 * a64_bitmask_imm() in the emitter.
 */
#define A64_LOGIC_IMM(sf, opc, Rd, Rn, N, immr, imms)			\
	(A64_SF(sf) | ((u32)(opc) << 29) | 0x12000000 |		\
	 ((u32)(N) << 22) | (((u32)(immr) & 0x3f) << 16) |		\
	 (((u32)(imms) & 0x3f) << 10) | A64_RN(Rn) | A64_RD(Rd))

#define A64_AND_I(sf, Rd, Rn, N, immr, imms)				\
	A64_LOGIC_IMM(sf, 0, Rd, Rn, N, immr, imms)
#define A64_ORR_I(sf, Rd, Rn, N, immr, imms)				\
	A64_LOGIC_IMM(sf, 1, Rd, Rn, N, immr, imms)

/* Branches, hints and exceptions */
#define A64_RET(Rn)		(0xd65f0000 | A64_RN(Rn))
#define A64_BTI_C		0xd503245f
#define A64_NOP			0xd503201f
#define A64_BRK(imm16)		(0xd4200000 | (((u32)(imm16) & 0xffff) << 5))

/* The kernel's AARCH64_BREAK_FAULT: BRK #0x100 (FAULT_BRK_IMM) */
#define A64_BRK_FAULT_IMM	0x100

#endif /* _BKEY_JIT_ARM64_H */
