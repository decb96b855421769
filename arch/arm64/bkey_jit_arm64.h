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
 * Conventions: rd/rn/rm/rt are register numbers 0..31 (31 is XZR/WZR in
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
 * size:2 111 0 00 opc:2 0 imm9 00 rn rt
 */
#define A64_LS_UNSCALED(size, opc, rt, rn, imm9)			\
	(((u32)(size) << 30) | 0x38000000 | ((u32)(opc) << 22) |	\
	 (((u32)(imm9) & 0x1ff) << 12) | A64_RN(rn) | A64_RD(rt))

#define A64_LDURB(wt, xn, imm9)		A64_LS_UNSCALED(0, 1, wt, xn, imm9)
#define A64_LDURH(wt, xn, imm9)		A64_LS_UNSCALED(1, 1, wt, xn, imm9)
#define A64_LDUR32(wt, xn, imm9)	A64_LS_UNSCALED(2, 1, wt, xn, imm9)
#define A64_LDUR64(xt, xn, imm9)	A64_LS_UNSCALED(3, 1, xt, xn, imm9)
#define A64_STUR32(wt, xn, imm9)	A64_LS_UNSCALED(2, 0, wt, xn, imm9)
#define A64_STUR64(xt, xn, imm9)	A64_LS_UNSCALED(3, 0, xt, xn, imm9)

/*
 * Store pair, signed offset: opc:2 101 0 010 0 imm7 rt2 rn rt.
 * imm7 is the byte offset divided by the access size (4 or 8).
 */
#define A64_STP_SO(opc, rt, rt2, rn, imm7)				\
	(((u32)(opc) << 30) | 0x29000000 |				\
	 (((u32)(imm7) & 0x7f) << 15) | A64_RT2(rt2) | A64_RN(rn) |	\
	 A64_RD(rt))

#define A64_STP32(wt, wt2, xn, off)	A64_STP_SO(0, wt, wt2, xn, (off) / 4)
#define A64_STP64(xt, xt2, xn, off)	A64_STP_SO(2, xt, xt2, xn, (off) / 8)

/*
 * Bitfield move: sf opc:2 100110 N immr:6 imms:6 rn rd, N == sf.
 * opc 0 SBFM, 1 BFM, 2 UBFM.
 */
static inline u32 a64_bitfield(bool sf, u32 opc, u32 rd, u32 rn, u32 immr,
			       u32 imms)
{
	return A64_SF(sf) | (opc << 29) | 0x13000000 | ((u32)sf << 22) |
	       ((immr & 0x3f) << 16) | ((imms & 0x3f) << 10) | A64_RN(rn) |
	       A64_RD(rd);
}

#define A64_BITFIELD(sf, opc, rd, rn, immr, imms)			\
	a64_bitfield(sf, opc, rd, rn, immr, imms)

#define A64_UBFM(sf, rd, rn, immr, imms) A64_BITFIELD(sf, 2, rd, rn, immr, imms)
#define A64_BFM(sf, rd, rn, immr, imms)	A64_BITFIELD(sf, 1, rd, rn, immr, imms)

/* rd = (rn >> lsb) & mask(width); lsb + width <= 32 << sf */
static inline u32 a64_ubfx(bool sf, u32 rd, u32 rn, u32 lsb, u32 width)
{
	return A64_UBFM(sf, rd, rn, lsb, lsb + width - 1);
}

/* rd = rn >> shift, logical */
static inline u32 a64_lsr(bool sf, u32 rd, u32 rn, u32 shift)
{
	return A64_UBFM(sf, rd, rn, shift, sf ? 63 : 31);
}

/* rd<width-1:0> = rn<lsb+width-1:lsb>, the other bits of rd unchanged */
static inline u32 a64_bfxil(bool sf, u32 rd, u32 rn, u32 lsb, u32 width)
{
	return A64_BFM(sf, rd, rn, lsb, lsb + width - 1);
}

#define A64_UBFX(sf, rd, rn, lsb, width)	a64_ubfx(sf, rd, rn, lsb, width)
#define A64_LSR(sf, rd, rn, shift)		a64_lsr(sf, rd, rn, shift)
#define A64_BFXIL(sf, rd, rn, lsb, width)	a64_bfxil(sf, rd, rn, lsb, width)

/* Extract: sf 00 100111 N 0 rm imms:6 rn rd; rd = (rn:rm) >> lsb */
static inline u32 a64_extr(bool sf, u32 rd, u32 rn, u32 rm, u32 lsb)
{
	return A64_SF(sf) | 0x13800000 | ((u32)sf << 22) | A64_RM(rm) |
	       ((lsb & 0x3f) << 10) | A64_RN(rn) | A64_RD(rd);
}

#define A64_EXTR(sf, rd, rn, rm, lsb)	a64_extr(sf, rd, rn, rm, lsb)

/*
 * Add/subtract immediate: sf op S 100010 sh imm12 rn rd.
 * sh: the immediate is shifted left by 12.
 */
#define A64_ADDSUB_IMM(sf, op, rd, rn, imm12, sh)			\
	(A64_SF(sf) | ((u32)(op) << 30) | 0x11000000 |		\
	 ((u32)!!(sh) << 22) | (((u32)(imm12) & 0xfff) << 10) |	\
	 A64_RN(rn) | A64_RD(rd))

#define A64_ADD_I(sf, rd, rn, imm12)	A64_ADDSUB_IMM(sf, 0, rd, rn, imm12, 0)
#define A64_SUB_I(sf, rd, rn, imm12)	A64_ADDSUB_IMM(sf, 1, rd, rn, imm12, 0)
#define A64_ADD_I12(sf, rd, rn, imm12)	A64_ADDSUB_IMM(sf, 0, rd, rn, imm12, 1)
#define A64_SUB_I12(sf, rd, rn, imm12)	A64_ADDSUB_IMM(sf, 1, rd, rn, imm12, 1)

/* Add/subtract shifted register, LSL #0: sf op 0 01011 00 0 rm 0 rn rd */
#define A64_ADDSUB_REG(sf, op, rd, rn, rm)				\
	(A64_SF(sf) | ((u32)(op) << 30) | 0x0b000000 | A64_RM(rm) |	\
	 A64_RN(rn) | A64_RD(rd))

#define A64_ADD(sf, rd, rn, rm)		A64_ADDSUB_REG(sf, 0, rd, rn, rm)
#define A64_SUB(sf, rd, rn, rm)		A64_ADDSUB_REG(sf, 1, rd, rn, rm)

/* EOR shifted register, LSL #0: sf 10 01010 00 0 rm 000000 rn rd */
#define A64_EOR(sf, rd, rn, rm)						\
	(A64_SF(sf) | 0x4a000000 | A64_RM(rm) | A64_RN(rn) | A64_RD(rd))

/* MUL rd, rn, rm = MADD rd, rn, rm, zr: sf 00 11011 000 rm 0 11111 rn rd */
#define A64_MUL(sf, rd, rn, rm)						\
	(A64_SF(sf) | 0x1b007c00 | A64_RM(rm) | A64_RN(rn) | A64_RD(rd))

/*
 * Move wide immediate: sf opc:2 100101 hw:2 imm16 rd.
 * opc 0 MOVN, 2 MOVZ, 3 MOVK; hw selects the 16-bit lane (shift hw * 16).
 */
#define A64_MOVEW(sf, opc, rd, imm16, hw)				\
	(A64_SF(sf) | ((u32)(opc) << 29) | 0x12800000 |		\
	 (((u32)(hw) & 3) << 21) | (((u32)(imm16) & 0xffff) << 5) |	\
	 A64_RD(rd))

#define A64_MOVN(sf, rd, imm16, hw)	A64_MOVEW(sf, 0, rd, imm16, hw)
#define A64_MOVZ(sf, rd, imm16, hw)	A64_MOVEW(sf, 2, rd, imm16, hw)
#define A64_MOVK(sf, rd, imm16, hw)	A64_MOVEW(sf, 3, rd, imm16, hw)

/*
 * Logical immediate: sf opc:2 100100 N immr:6 imms:6 rn rd.
 * opc 0 AND, 1 ORR, 2 EOR. The bitmask is encoded as N:immr:imms, see
 * a64_bitmask_imm() in the emitter.
 */
#define A64_LOGIC_IMM(sf, opc, rd, rn, N, immr, imms)			\
	(A64_SF(sf) | ((u32)(opc) << 29) | 0x12000000 |		\
	 ((u32)(N) << 22) | (((u32)(immr) & 0x3f) << 16) |		\
	 (((u32)(imms) & 0x3f) << 10) | A64_RN(rn) | A64_RD(rd))

#define A64_AND_I(sf, rd, rn, N, immr, imms)				\
	A64_LOGIC_IMM(sf, 0, rd, rn, N, immr, imms)
#define A64_ORR_I(sf, rd, rn, N, immr, imms)				\
	A64_LOGIC_IMM(sf, 1, rd, rn, N, immr, imms)

/* Branches, hints and exceptions */
/* cmp xn, xm (subs xzr, xn, xm) */
#define A64_CMP(sf, rn, rm)						\
	(A64_SF(sf) | 0x6b000000 | A64_RM(rm) | A64_RN(rn) | A64_RD(A64_ZR))

/* Condition codes */
#define A64_COND_NE	0x1
#define A64_COND_HS	0x2
#define A64_COND_LO	0x3

/* b.cond, @imm19 instructions from this one */
#define A64_B_COND(cond, imm19)						\
	(0x54000000 | (((u32)(imm19) & 0x7ffff) << 5) | (cond))

/* mov wd, wzr (orr wd, wzr, wzr) */
#define A64_MOV_ZR32(rd)	(0x2a0003e0 | A64_RM(A64_ZR) | A64_RD(rd))

/* csetm wd, cond: csinv wd, wzr, wzr, !cond (-1 if cond, else 0) */
#define A64_CSETM32(rd, cond)						\
	(0x5a800000 | A64_RM(A64_ZR) | (((u32)(cond) ^ 1) << 12) |	\
	 A64_RN(A64_ZR) | A64_RD(rd))

#define A64_RET(rn)		(0xd65f0000 | A64_RN(rn))
#define A64_BTI_C		0xd503245f
#define A64_NOP			0xd503201f
#define A64_BRK(imm16)		(0xd4200000 | (((u32)(imm16) & 0xffff) << 5))

/* The kernel's AARCH64_BREAK_FAULT: BRK #0x100 (FAULT_BRK_IMM) */
#define A64_BRK_FAULT_IMM	0x100

#endif /* _BKEY_JIT_ARM64_H */
