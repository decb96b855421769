// SPDX-License-Identifier: GPL-2.0
/*
 * bkey-jit x86-64 backend: encodes a bkey plan as a leaf function
 *
 *	void fn(void *dst, const struct bkey_packed *src)
 *
 * SysV ABI: rdi = dst, rsi = src. Only caller-saved registers are touched
 * and the stack is never used, so there is no frame to set up. A compare
 * plan becomes
 *
 *	int fn(const struct bkey_packed *l, const struct bkey_packed *r)
 *
 * with rdi = l and rsi = r: loads, cmp, a jne to the shared exit per
 * word, "xor eax, eax" for equal keys and "sbb eax, eax; or eax, 1"
 * (-1 or 1 from the carry) at the exit.
 */
#include "bkey_jit_emit.h"
#include "bkey_jit_x86.h"

/*
 * Virtual plan registers. rax, rcx and rdx need no REX prefix; the fourth
 * one has to be an extended register, r8 is the first.
 */
static const enum x86_reg vreg_map[BKEY_PLAN_NR_REGS] = {
	X86_RAX, X86_RCX, X86_RDX, X86_R8,
};

/* Scratch for 64-bit immediates; never a virtual register. */
#define X86_TMP		X86_R11

#define DST_REG		X86_RDI
#define SRC_REG		X86_RSI

/* kCFI: "mov eax, hash" plus nops makes the CALL_PADDING 16-byte preamble. */
#define KCFI_PADDED_PREAMBLE	16
#define KCFI_MOV_LEN		5

/*
 * One whole instruction at a time through the driver's writer, so the
 * instruction count is exact and the buffer bound is checked there.
 */
static void emit(struct bkey_jit_ctx *ctx, const struct x86_insn *insn)
{
	if (insn->bad) {
		ctx->err = -EINVAL;
		return;
	}
	bkey_jit_emit_insn(ctx, insn->b, insn->len);
}

/* Declares the instruction under construction the EMIT*() macros fill. */
#define INSN_START()	struct x86_insn __insn = {}, *insn = &__insn

static void emit_byte_insn(struct bkey_jit_ctx *ctx, u8 opcode)
{
	INSN_START();

	EMIT1(opcode);
	emit(ctx, insn);
}

/* movzx r32, byte/word [base+off]; mov r32/r64, [base+off] */
static void emit_load(struct bkey_jit_ctx *ctx, enum x86_reg dst,
		      enum x86_reg base, unsigned int size, s32 off)
{
	INSN_START();

	x86_emit_rex(insn, size == 8, dst, base, false);
	if (size == 1)
		EMIT2(0x0f, 0xb6);
	else if (size == 2)
		EMIT2(0x0f, 0xb7);
	else
		EMIT1(0x8b);
	x86_emit_modrm_mem(insn, dst, base, off);
	emit(ctx, insn);
}

/* mov [base+off], r32/r64 */
static void emit_store(struct bkey_jit_ctx *ctx, enum x86_reg base, s32 off,
		       enum x86_reg src, bool is64)
{
	INSN_START();

	x86_emit_rex(insn, is64, src, base, false);
	EMIT1(0x89);
	x86_emit_modrm_mem(insn, src, base, off);
	emit(ctx, insn);
}

/* mov dword/qword [base+off], imm32 (sign-extended for qword) */
static void emit_store_imm32(struct bkey_jit_ctx *ctx, enum x86_reg base,
			     s32 off, u32 imm, bool is64)
{
	INSN_START();

	x86_emit_rex(insn, is64, X86_RAX, base, false);
	EMIT1(0xc7);
	x86_emit_modrm_mem(insn, 0, base, off);
	EMIT_imm32(imm);
	emit(ctx, insn);
}

/*
 * Group 1 ALU op on dword/qword [base+off] with an immediate
 * (sign-extended): the imm8 form when it fits, else imm32.
 */
static void emit_alu_mem_imm(struct bkey_jit_ctx *ctx, u8 ext,
			     enum x86_reg base, s32 off, s32 imm, bool is64)
{
	INSN_START();

	x86_emit_rex(insn, is64, X86_RAX, base, false);
	EMIT1(x86_fits_s8(imm) ? 0x83 : 0x81);
	x86_emit_modrm_mem(insn, ext, base, off);
	if (x86_fits_s8(imm))
		EMIT_imm8(imm);
	else
		EMIT_imm32(imm);
	emit(ctx, insn);
}

/* imul r64, r64, imm32 (sign-extended) */
static void emit_imul_imm32(struct bkey_jit_ctx *ctx, enum x86_reg reg, u32 imm)
{
	INSN_START();

	x86_emit_rex(insn, true, reg, reg, false);
	EMIT1(0x69);
	x86_emit_modrm_reg(insn, reg, reg);
	EMIT_imm32(imm);
	emit(ctx, insn);
}

/*
 * Group 1 ALU op with an immediate: the sign-extended imm8 form when the
 * value allows, else the one-byte-shorter accumulator form for rax.
 */
static void emit_alu_imm(struct bkey_jit_ctx *ctx, u8 ext, enum x86_reg reg,
			 s32 imm, bool is64)
{
	INSN_START();

	x86_emit_rex(insn, is64, X86_RAX, reg, false);
	if (x86_fits_s8(imm)) {
		EMIT1(0x83);
		x86_emit_modrm_reg(insn, ext, reg);
		EMIT_imm8(imm);
	} else if (reg == X86_RAX) {
		EMIT1_off32(0x05 | (ext << 3), imm);
	} else {
		EMIT1(0x81);
		x86_emit_modrm_reg(insn, ext, reg);
		EMIT_imm32(imm);
	}
	emit(ctx, insn);
}

/* Group 1 ALU op on the low byte of @reg: add al, imm8 and friends. */
static void emit_alu8_imm(struct bkey_jit_ctx *ctx, u8 ext, enum x86_reg reg,
			  u8 imm)
{
	INSN_START();

	x86_emit_rex(insn, false, X86_RAX, reg, true);
	if (reg == X86_RAX) {
		EMIT1(0x04 | (ext << 3));
	} else {
		EMIT1(0x80);
		x86_emit_modrm_reg(insn, ext, reg);
	}
	EMIT_imm8(imm);
	emit(ctx, insn);
}

/* shl/shr by a constant; the D1 form is a byte shorter for a count of 1. */
static void emit_shift_imm(struct bkey_jit_ctx *ctx, u8 ext, enum x86_reg reg,
			   unsigned int count, bool is64)
{
	INSN_START();

	x86_emit_rex(insn, is64, X86_RAX, reg, false);
	if (count == 1) {
		EMIT1(0xd1);
		x86_emit_modrm_reg(insn, ext, reg);
	} else {
		EMIT1(0xc1);
		x86_emit_modrm_reg(insn, ext, reg);
		EMIT_imm8(count);
	}
	emit(ctx, insn);
}

/* bts/btr r32/r64, imm8: set or clear one bit without an imm32 mask */
static void emit_bit_imm(struct bkey_jit_ctx *ctx, u8 ext, enum x86_reg reg,
			 unsigned int bit, bool is64)
{
	INSN_START();

	x86_emit_rex(insn, is64, X86_RAX, reg, false);
	EMIT2(0x0f, 0xba);
	x86_emit_modrm_reg(insn, ext, reg);
	EMIT_imm8(bit);
	emit(ctx, insn);
}

/* shrd lo, hi, count (64-bit): lo = low 64 bits of (hi:lo) >> count */
static void emit_shrd(struct bkey_jit_ctx *ctx, enum x86_reg lo,
		      enum x86_reg hi, unsigned int count)
{
	INSN_START();

	x86_emit_rex(insn, true, hi, lo, false);
	EMIT2(0x0f, 0xac);
	x86_emit_modrm_reg(insn, hi, lo);
	EMIT_imm8(count);
	emit(ctx, insn);
}

/* mov r32, r32 (zero-extends into the upper half) */
static void emit_mov_rr32(struct bkey_jit_ctx *ctx, enum x86_reg dst,
			  enum x86_reg src)
{
	INSN_START();

	x86_emit_rex(insn, false, src, dst, false);
	EMIT1(0x89);
	x86_emit_modrm_reg(insn, src, dst);
	emit(ctx, insn);
}

/* movzx r32, r8/r16 */
static void emit_movzx_rr(struct bkey_jit_ctx *ctx, enum x86_reg dst,
			  enum x86_reg src, unsigned int bytes)
{
	INSN_START();

	x86_emit_rex(insn, false, dst, src, bytes == 1);
	EMIT2(0x0f, bytes == 1 ? 0xb6 : 0xb7);
	x86_emit_modrm_reg(insn, dst, src);
	emit(ctx, insn);
}

/* add r64, r64 */
static void emit_add_rr64(struct bkey_jit_ctx *ctx, enum x86_reg dst,
			  enum x86_reg src)
{
	INSN_START();

	x86_emit_rex(insn, true, src, dst, false);
	EMIT1(0x01);
	x86_emit_modrm_reg(insn, src, dst);
	emit(ctx, insn);
}

/*
 * Load a 64-bit constant: "mov r32, imm32" zero-extends and is 5-6 bytes,
 * the sign-extended "mov r64, simm32" is 7, full movabs is 10.
 */
static void emit_mov_imm64(struct bkey_jit_ctx *ctx, enum x86_reg reg, u64 imm)
{
	INSN_START();

	if (imm <= U32_MAX) {
		x86_emit_rex(insn, false, X86_RAX, reg, false);
		EMIT1_off32(0xb8 | x86_low3(reg), imm);
	} else if (x86_fits_s32((s64)imm)) {
		x86_emit_rex(insn, true, X86_RAX, reg, false);
		EMIT1(0xc7);
		x86_emit_modrm_reg(insn, 0, reg);
		EMIT_imm32(imm);
	} else {
		x86_emit_rex(insn, true, X86_RAX, reg, false);
		EMIT1(0xb8 | x86_low3(reg));
		EMIT_imm64(imm);
	}
	emit(ctx, insn);
}

/* jmp rel32 to an absolute address; always 5 bytes so sizing is exact. */
static void emit_jmp_abs(struct bkey_jit_ctx *ctx, unsigned long target)
{
	INSN_START();
	s64 rel;

	rel = (s64)(target - (ctx->ip + ctx->len + 5));

	/* The sizing pass may not know where the code will live yet. */
	if (ctx->buf && !x86_fits_s32(rel)) {
		ctx->err = -EINVAL;
		return;
	}
	EMIT1_off32(0xe9, (u32)rel);
	emit(ctx, insn);
}

/* cmp r64, r64 (first minus second) */
static void emit_cmp_rr(struct bkey_jit_ctx *ctx, enum x86_reg a,
			enum x86_reg b)
{
	INSN_START();

	x86_emit_rex(insn, true, b, a, false);
	EMIT1(0x39);
	x86_emit_modrm_reg(insn, b, a);
	emit(ctx, insn);
}

/* cmp r64, [base+off] (the register minus memory) */
static void emit_cmp_rm(struct bkey_jit_ctx *ctx, enum x86_reg a,
			enum x86_reg base, s32 off)
{
	INSN_START();

	x86_emit_rex(insn, true, a, base, false);
	EMIT1(0x3b);
	x86_emit_modrm_mem(insn, a, base, off);
	emit(ctx, insn);
}

/*
 * jne rel8 to a label: always the short form, so both passes agree on
 * the length; a compare is far shorter than 128 bytes, and a target out
 * of reach fails the final pass rather than being encoded wrong.
 */
static void emit_jne_label(struct bkey_jit_ctx *ctx, unsigned int label)
{
	INSN_START();
	s64 rel = (s64)ctx->label[label] - (ctx->len + 2);

	if (ctx->buf && !x86_fits_s8(rel)) {
		ctx->err = -EINVAL;
		return;
	}
	EMIT2(0x75, (u8)rel);
	emit(ctx, insn);
}

/* 32-bit "op r, r" of the ALU group (xor, sbb) */
static void emit_alu_rr32(struct bkey_jit_ctx *ctx, u8 opcode,
			  enum x86_reg reg)
{
	INSN_START();

	x86_emit_rex(insn, false, reg, reg, false);
	EMIT1(opcode);
	x86_emit_modrm_reg(insn, reg, reg);
	emit(ctx, insn);
}

#define X86_XOR_RR	0x31
#define X86_SBB_RR	0x19

/* The label every CMP of a compare plan branches to. */
#define X86_CMP_DIFFER	0

static void emit_endbr64(struct bkey_jit_ctx *ctx)
{
	INSN_START();

	EMIT4(0xf3, 0x0f, 0x1e, 0xfa);
	emit(ctx, insn);
}

/*
 * r = r & (2^width - 1) for 1 <= width <= 63, assuming nothing about the
 * bits above: movzx for a byte or word, a 32-bit and (imm8 form up to
 * 0x7f), a 32-bit mov for width 32, btr for 63 (a 63-bit dirent hash
 * straddling words), and otherwise a shl/shr pair rather than
 * materializing a 64-bit mask.
 */
static void emit_mask(struct bkey_jit_ctx *ctx, enum x86_reg reg,
		      unsigned int width)
{
	if (width == 8 || width == 16) {
		emit_movzx_rr(ctx, reg, reg, width / 8);
	} else if (width < 32) {
		emit_alu_imm(ctx, X86_ALU_AND, reg, (1U << width) - 1, false);
	} else if (width == 32) {
		emit_mov_rr32(ctx, reg, reg);
	} else if (width == 63) {
		emit_bit_imm(ctx, X86_BT_BTR, reg, 63, true);
	} else if (width < 64) {
		emit_shift_imm(ctx, X86_SHIFT_SHL, reg, 64 - width, true);
		emit_shift_imm(ctx, X86_SHIFT_SHR, reg, 64 - width, true);
	}
}

/*
 * HEADER: dst[0..3] = { src[0] + imm, (src[1] & 0x80) | 1, src[2], 0 }.
 * The add is done on the low byte only, so u64s wraps modulo 256 and never
 * carries into the format byte. "bts r32, 8" sets the format: a byte
 * shorter than "or r32, 0x100", and unlike "or ah, 1" no ah merge uop on
 * Intel when the dword is stored.
 */
static void emit_header(struct bkey_jit_ctx *ctx, enum x86_reg tmp, u8 imm,
			bool is64)
{
	emit_load(ctx, tmp, SRC_REG, 4, 0);
	emit_alu_imm(ctx, X86_ALU_AND, tmp, 0x00ff0000 |
		     (BKEY_JIT_HDR_WHITEOUT_MASK << 8) | 0xff, false);
	if (imm)
		emit_alu8_imm(ctx, X86_ALU_ADD, tmp, imm);
	BUILD_BUG_ON(KEY_FORMAT_CURRENT != 1);
	emit_bit_imm(ctx, X86_BT_BTS, tmp, 8, false);
	/* size 8: the 32-bit ops zeroed the upper half, bytes 4..7 are 0 */
	emit_store(ctx, DST_REG, 0, tmp, is64);
}

/*
 * A temporary for HEADER: the first mapped register whose value is dead
 * after op @idx (in practice rax, the header comes first), else r11.
 */
static enum x86_reg header_tmp(const struct bkey_plan *plan, unsigned int idx)
{
	int v = bkey_plan_dead_reg(plan, idx, BKEY_PLAN_NR_REGS);

	return v < 0 ? X86_TMP : vreg_map[v];
}

/*
 * EXTRACT: r = (r >> shift) & mask(width). With a size of 4 the value is
 * known to fit 32 bits, so a width reaching past bit 31 is clipped; a
 * result that fits in bits 0..31 of the source allows 32-bit operations
 * (no REX.W) even for size 8 since they zero-extend.
 */
static void emit_extract(struct bkey_jit_ctx *ctx,
			 const struct bkey_plan_op *op)
{
	enum x86_reg reg = vreg_map[op->reg];
	unsigned int bits = op->size * 8;
	unsigned int width = min_t(unsigned int, op->width, bits - op->shift);
	bool is64 = op->shift + width > 32;

	if (!op->mask || width == bits - op->shift) {
		/* Nothing above the field: a plain shift is enough. */
		if (op->shift)
			emit_shift_imm(ctx, X86_SHIFT_SHR, reg, op->shift, is64);
		return;
	}

	if (width > 32) {
		/* Field to the top, then down: two ops and no immediate. */
		emit_shift_imm(ctx, X86_SHIFT_SHL, reg, 64 - op->shift - width,
			       true);
		emit_shift_imm(ctx, X86_SHIFT_SHR, reg, 64 - width, true);
		return;
	}

	if (op->shift)
		emit_shift_imm(ctx, X86_SHIFT_SHR, reg, op->shift, is64);
	emit_mask(ctx, reg, width);
}

/*
 * FUNNEL: a 128-bit shift of (hi:lo), then the mask. Always 64-bit and
 * always masked: the plan's mask flag is only defined for EXTRACT, and the
 * bits shifted in from the high word are not known to be zero.
 */
static void emit_funnel(struct bkey_jit_ctx *ctx, const struct bkey_plan_op *op)
{
	enum x86_reg reg = vreg_map[op->reg];

	emit_shrd(ctx, reg, vreg_map[op->reg2], op->shift);
	emit_mask(ctx, reg, op->width);
}

/*
 * A blinded 64-bit constant into r11: "movabs r11, imm; imul r11, r11,
 * key" (imm = value * key^-1), so neither the value nor any 4 of its
 * bytes appear in the code.
 */
static void emit_blinded_mul(struct bkey_jit_ctx *ctx,
			     const struct bkey_plan_op *op)
{
	emit_mov_imm64(ctx, X86_TMP, op->imm);
	emit_imul_imm32(ctx, X86_TMP, op->key);
}

/*
 * A 64-bit offset with one or two set bits, all above the field the
 * register holds (ADD's width fact: r < 2^width), as in an LRU key's
 * lru id << 48 or a freespace key's generation bits << 56: adding cannot
 * carry, so "bts r, k" per bit replaces the constant (movabs + add, or
 * movabs + imul + add when blinded). The value reaches the code only as
 * bit numbers 0..63, like shift counts. Returns false to add instead.
 */
static bool emit_add_bits(struct bkey_jit_ctx *ctx,
			  const struct bkey_plan_op *op)
{
	u64 v = bkey_plan_op_value(op);
	unsigned int k, n = 0;

	if (op->size != 8 || !op->width || op->width >= 64 ||
	    (v & (~0ULL >> (64 - op->width))) ||
	    (op->blind == BKEY_PLAN_BLIND_NONE && x86_fits_s32((s64)v)))
		return false;
	for (k = op->width; k < 64; k++)
		n += (v >> k) & 1;
	if (!n || n > 2)
		return false;
	for (k = op->width; k < 64; k++)
		if ((v >> k) & 1)
			emit_bit_imm(ctx, X86_BT_BTS, vreg_map[op->reg], k, true);
	return true;
}

/* ADD modulo 2^(8 * size), as the shortest add/sub of an immediate. */
static void emit_add(struct bkey_jit_ctx *ctx, const struct bkey_plan_op *op)
{
	enum x86_reg reg = vreg_map[op->reg];
	bool is64 = op->size == 8;
	s64 imm = is64 ? (s64)op->imm : (s32)(u32)op->imm;
	/* Negated without signed overflow: S64_MIN stays S64_MIN. */
	s64 neg = (s64)(0 - (u64)imm);

	if (emit_add_bits(ctx, op))
		return;
	if (op->blind == BKEY_PLAN_BLIND_MUL) {
		emit_blinded_mul(ctx, op);
		emit_add_rr64(ctx, reg, X86_TMP);
		return;
	}
	if (!imm)
		return;

	if (x86_fits_s32(imm) && (x86_fits_s8(imm) || !x86_fits_s8(neg))) {
		emit_alu_imm(ctx, X86_ALU_ADD, reg, imm, is64);
	} else if (x86_fits_s32(neg)) {
		/*
		 * 128 needs an imm32 to add but only an imm8 to subtract its
		 * negation; 2^31 does not fit a simm32 but its negation does.
		 */
		emit_alu_imm(ctx, X86_ALU_SUB, reg, neg, is64);
	} else {
		emit_mov_imm64(ctx, X86_TMP, op->imm);
		emit_add_rr64(ctx, reg, X86_TMP);
	}
}

/*
 * STORE_IMM: mov m, imm32 when the value allows, else via r11; a zero
 * (version, size, inode 0: most formats have two or three) is "and m, 0",
 * 3 bytes shorter than "mov m, 0" with the same one instruction. Blinded:
 * XOR keys are undone in memory ("mov m, imm; xor m, key", one extra
 * instruction and no register), multiplied constants through r11.
 */
static void emit_store_imm(struct bkey_jit_ctx *ctx,
			   const struct bkey_plan_op *op)
{
	bool is64 = op->size == 8;

	if (op->blind == BKEY_PLAN_BLIND_XOR) {
		emit_store_imm32(ctx, DST_REG, op->off, (u32)op->imm, is64);
		emit_alu_mem_imm(ctx, X86_ALU_XOR, DST_REG, op->off, op->key,
				 is64);
		return;
	}
	if (op->blind == BKEY_PLAN_BLIND_MUL) {
		emit_blinded_mul(ctx, op);
		emit_store(ctx, DST_REG, op->off, X86_TMP, true);
		return;
	}
	if (!(op->size == 4 ? (u32)op->imm : op->imm)) {
		emit_alu_mem_imm(ctx, X86_ALU_AND, DST_REG, op->off, 0, is64);
		return;
	}
	if (op->size == 4 || x86_fits_s32((s64)op->imm)) {
		emit_store_imm32(ctx, DST_REG, op->off, (u32)op->imm, is64);
		return;
	}
	emit_mov_imm64(ctx, X86_TMP, op->imm);
	emit_store(ctx, DST_REG, op->off, X86_TMP, true);
}

/*
 * kCFI preamble (hash in a "mov eax, imm32" that is never executed, the
 * caller reads it before the entry), padded to the 16 bytes of the
 * CONFIG_CALL_PADDING layout when asked.
 */
static void x86_preamble(struct bkey_jit_ctx *ctx)
{
	const struct bkey_jit_emit_opts *opts = ctx->opts;

	if (opts->cfi) {
		INSN_START();

		EMIT1_off32(0xb8 | X86_RAX, opts->cfi_hash);
		emit(ctx, insn);
		if (opts->cfi_padding)
			while (!ctx->err && ctx->len < KCFI_PADDED_PREAMBLE)
				emit_byte_insn(ctx, 0x90);
	}
}

/* ENDBR64 at the entry for IBT. */
static void x86_prologue(struct bkey_jit_ctx *ctx)
{
	if (ctx->opts->endbr)
		emit_endbr64(ctx);
}

/* The return: the return thunk, or ret plus int3 against SLS. */
static void emit_ret(struct bkey_jit_ctx *ctx)
{
	if (ctx->opts->return_thunk) {
		emit_jmp_abs(ctx, ctx->opts->return_thunk);
	} else {
		emit_byte_insn(ctx, 0xc3);
		emit_byte_insn(ctx, 0xcc);
	}
}

/*
 * A compare returns 0 when every word was equal; at the exit the flags
 * of the cmp that differed are live: CF set means l < r, so
 * "sbb eax, eax" gives -1 or 0 and "or eax, 1" makes that -1 or 1.
 */
static void x86_epilogue(struct bkey_jit_ctx *ctx)
{
	if (ctx->plan->kind != BKEY_PLAN_CMP_PACKED) {
		emit_ret(ctx);
		return;
	}
	emit_alu_rr32(ctx, X86_XOR_RR, X86_RAX);
	emit_ret(ctx);
	if (!bkey_plan_has_cmp(ctx->plan))
		return;
	bkey_jit_emit_label(ctx, X86_CMP_DIFFER);
	emit_alu_rr32(ctx, X86_SBB_RR, X86_RAX);
	emit_alu_imm(ctx, X86_ALU_OR, X86_RAX, 1, false);
	emit_ret(ctx);
}

/*
 * LOAD r2 from R; CMP r1, r2 right after it: the load is the cmp's
 * memory operand (r2 is dead after a CMP: each word loads afresh).
 */
static bool fuse_load_cmp(struct bkey_jit_ctx *ctx, unsigned int idx)
{
	const struct bkey_plan *plan = ctx->plan;
	const struct bkey_plan_op *ld = &plan->ops[idx], *c = ld + 1;

	if (idx + 1 >= plan->nr_ops || c->code != BKEY_PLAN_CMP ||
	    c->reg2 != ld->reg || c->reg == ld->reg || ld->size != 8 ||
	    !bkey_plan_reg_dead_after(plan, idx + 1, ld->reg))
		return false;
	emit_cmp_rm(ctx, vreg_map[c->reg], ld->arg ? DST_REG : SRC_REG,
		    ld->off);
	emit_jne_label(ctx, X86_CMP_DIFFER);
	return true;
}

static unsigned int x86_op(struct bkey_jit_ctx *ctx, unsigned int idx)
{
	const struct bkey_plan_op *op = &ctx->plan->ops[idx];

	switch (op->code) {
	case BKEY_PLAN_HEADER:
		emit_header(ctx, header_tmp(ctx->plan, idx), (u8)op->imm,
			    op->size == 8);
		break;
	case BKEY_PLAN_LOAD:
		if (fuse_load_cmp(ctx, idx))
			return 2;
		emit_load(ctx, vreg_map[op->reg], op->arg ? DST_REG : SRC_REG,
			  op->size, op->off);
		break;
	case BKEY_PLAN_CMP:
		emit_cmp_rr(ctx, vreg_map[op->reg], vreg_map[op->reg2]);
		emit_jne_label(ctx, X86_CMP_DIFFER);
		break;
	case BKEY_PLAN_EXTRACT:
		emit_extract(ctx, op);
		break;
	case BKEY_PLAN_FUNNEL:
		emit_funnel(ctx, op);
		break;
	case BKEY_PLAN_ADD:
		emit_add(ctx, op);
		break;
	case BKEY_PLAN_STORE:
		emit_store(ctx, DST_REG, op->off, vreg_map[op->reg],
			   op->size == 8);
		break;
	case BKEY_PLAN_STORE_IMM:
		emit_store_imm(ctx, op);
		break;
	}
	return 1;
}

static const struct bkey_jit_backend x86_backend = {
	.name		= "x86-64",
	.max_len	= BKEY_JIT_MAX_CODE,
	.preamble	= x86_preamble,
	.prologue	= x86_prologue,
	.op		= x86_op,
	.epilogue	= x86_epilogue,
};

/* What the encoders above rely on: misaligned loads, shrd. */
static const struct bkey_jit_caps x86_caps = {
	.unaligned	= true,
	.funnel_shift	= true,
};

/**
 * bkey_jit_arch_emit - encode a plan as an x86-64 leaf function
 * @plan:	the plan; the driver refuses a malformed one (-EINVAL)
 * @opts:	kCFI preamble, ENDBR64, return thunk; NULL for none
 * @buf:	BKEY_JIT_MAX_CODE bytes of output, or NULL for a sizing pass
 * @ip:		address @buf[0] runs at; only the return thunk jump uses it
 * @out:	length, entry offset and instruction count from the entry
 *
 * Nothing is written past BKEY_JIT_MAX_CODE bytes; on error the contents
 * of @buf are undefined and @out is untouched.
 *
 * Return: 0 or -EINVAL.
 */
int bkey_jit_arch_emit(const struct bkey_plan *plan,
		       const struct bkey_jit_emit_opts *opts, u8 *buf,
		       unsigned long ip, struct bkey_jit_emitted *out)
{
	return bkey_jit_emit(&x86_backend, &x86_caps, plan, opts, buf, ip,
			     NULL, out);
}

/**
 * bkey_jit_arch_emit_final - the final pass alone, after a sizing pass
 * @plan:	the plan the sizing call accepted
 * @opts:	its options
 * @buf:	BKEY_JIT_MAX_CODE bytes of output
 * @ip:		address @buf[0] runs at
 * @sized:	the sizing call's result, which on success describes @buf
 *
 * Return: 0 or -EINVAL.
 */
int bkey_jit_arch_emit_final(const struct bkey_plan *plan,
			     const struct bkey_jit_emit_opts *opts, u8 *buf,
			     unsigned long ip,
			     const struct bkey_jit_emitted *sized)
{
	return bkey_jit_emit_final(&x86_backend, &x86_caps, plan, opts, buf,
				   ip, NULL, sized);
}

const char *const bkey_jit_arch_name = "x86-64";

/* int3: a stray jump into free JIT memory traps at once. */
void bkey_jit_arch_fill_trap(void *area, size_t size)
{
	memset(area, 0xcc, size);
}
