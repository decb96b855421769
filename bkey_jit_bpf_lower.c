// SPDX-License-Identifier: GPL-2.0
/*
 * bkey-jit eBPF backend: encodes a bkey plan as an eBPF program (see
 * bkey_jit_bpf.h for the calling convention and register use) through the
 * same driver as the native backends.
 *
 * Constants: the kernel's BPF JIT blinds immediates only when
 * bpf_jit_harden is set, so the lowering keeps format-derived values out
 * of the program itself. The only immediates it writes are shift counts
 * (0..63), the fixed header masks, values in -128..127, and the plan's
 * blinded values (bkey_plan_blind()); a field mask is never an AND with
 * 2^width - 1 but a pair of shifts, unless it fits the small range.
 *
 * Alignment: without caps->unaligned (riscv64 traps on misaligned
 * accesses and emulates them slowly), every load is a naturally aligned
 * one: a field is read from the aligned 8-byte word(s) holding it, and a
 * misaligned store is split into aligned pieces.
 */
#include "bkey_jit_bpf.h"
#include "compat/bkey_jit_bpf_insn.h"

#define DST_REG		BPF_REG_1
#define SRC_REG		BPF_REG_2
/* Scratch when every plan register is live; callee-saved, so rare. */
#define SPARE_REG	BPF_REG_6

/* Plan registers: caller-saved ones, which no JIT needs to save. */
static const u8 vreg_map[BKEY_PLAN_NR_REGS] = {
	BPF_REG_3, BPF_REG_4, BPF_REG_5, BPF_REG_0,
};

static void emit(struct bkey_jit_ctx *ctx, struct bpf_insn insn)
{
	bkey_jit_emit_insn(ctx, &insn, sizeof(insn));
}

/* The 16-byte LD_IMM64 is one instruction in two slots. */
static void emit_ld_imm64(struct bkey_jit_ctx *ctx, u8 reg, u64 imm)
{
	struct bpf_insn insn[2] = { BPF_LD_IMM64(reg, imm) };

	bkey_jit_emit_insn(ctx, insn, sizeof(insn));
}

static u8 bpf_size(unsigned int bytes)
{
	switch (bytes) {
	case 1:
		return BPF_B;
	case 2:
		return BPF_H;
	case 4:
		return BPF_W;
	default:
		return BPF_DW;
	}
}

static bool fits_s32(u64 v)
{
	return (s64)v == (s32)(u32)v;
}

/* A register dead after op @idx and not @except, for scratch use. */
static u8 scratch_reg(struct bkey_jit_ctx *ctx, unsigned int idx,
		      unsigned int except)
{
	int r = bkey_plan_dead_reg(ctx->plan, idx, except);

	return r < 0 ? SPARE_REG : vreg_map[r];
}

static bool bpf_access_fast(struct bkey_jit_ctx *ctx, unsigned int off,
			    unsigned int size)
{
	return ctx->caps->unaligned || !(off % size);
}

/* The largest naturally aligned piece at @off of at most @size bytes. */
static unsigned int aligned_piece(unsigned int off, unsigned int size)
{
	unsigned int p = 8;

	while (p > size || off % p)
		p /= 2;
	return p;
}

/*
 * Store the low @size bytes of @reg at DST + @off. Misaligned without
 * caps->unaligned: aligned pieces, low first, shifting @reg down between
 * them (@reg must then be dead, or is first copied to @tmp).
 */
static void emit_store_reg(struct bkey_jit_ctx *ctx, u8 reg, unsigned int off,
			   unsigned int size, bool reg_dead, u8 tmp)
{
	unsigned int done = 0, p;

	if (bpf_access_fast(ctx, off, size)) {
		emit(ctx, BPF_STX_MEM(bpf_size(size), DST_REG, reg, off));
		return;
	}
	if (!reg_dead) {
		emit(ctx, BPF_MOV64_REG(tmp, reg));
		reg = tmp;
	}
	for (; done < size; done += p) {
		p = aligned_piece(off + done, size - done);
		emit(ctx, BPF_STX_MEM(bpf_size(p), DST_REG, reg, off + done));
		if (done + p < size)
			emit(ctx, BPF_ALU64_IMM(BPF_RSH, reg, 8 * p));
	}
}

/* DST + @off = the low @size bytes of @v, as ST_MEM (plain values only). */
static void emit_store_plain_imm(struct bkey_jit_ctx *ctx, unsigned int off,
				 unsigned int size, u64 v)
{
	unsigned int done, p;

	if (bpf_access_fast(ctx, off, size)) {
		emit(ctx, BPF_ST_MEM(bpf_size(size), DST_REG, off, (s32)v));
		return;
	}
	for (done = 0; done < size; done += p) {
		p = aligned_piece(off + done, size - done);
		emit(ctx, BPF_ST_MEM(bpf_size(p), DST_REG, off + done,
				     (s32)(v >> (8 * done))));
	}
}

/*
 * @reg = bits [@shift, @shift + @width) of the 64-bit @reg, zero-extended.
 * Masks are shifts (or a 32-bit move, a 16-bit zero-extension, an AND
 * below 128), so that no 2^width - 1 reaches the program.
 */
static void emit_field(struct bkey_jit_ctx *ctx, u8 reg, unsigned int shift,
		       unsigned int width)
{
	if (shift + width >= 64) {
		if (shift)
			emit(ctx, BPF_ALU64_IMM(BPF_RSH, reg, shift));
		return;
	}
	if (!shift && width == 32) {
		emit(ctx, BPF_MOV32_REG(reg, reg));
		return;
	}
	if (!shift && width == 16) {
		emit(ctx, BPF_ENDIAN(BPF_TO_LE, reg, 16));
		return;
	}
	if (width < 8) {
		if (shift)
			emit(ctx, BPF_ALU64_IMM(BPF_RSH, reg, shift));
		emit(ctx, BPF_ALU64_IMM(BPF_AND, reg, (1 << width) - 1));
		return;
	}
	emit(ctx, BPF_ALU64_IMM(BPF_LSH, reg, 64 - shift - width));
	emit(ctx, BPF_ALU64_IMM(BPF_RSH, reg, 64 - width));
}

/*
 * @lo = bits [@shift, @shift + @width) of the 128-bit (@hi:@lo), with
 * @shift + @width > 64; @hi is clobbered. The high word's part is
 * shifted up to clear what lies above the field, then down into place.
 */
static void emit_funnel_regs(struct bkey_jit_ctx *ctx, u8 lo, u8 hi,
			     unsigned int shift, unsigned int width)
{
	emit(ctx, BPF_ALU64_IMM(BPF_RSH, lo, shift));
	emit(ctx, BPF_ALU64_IMM(BPF_LSH, hi, 128 - shift - width));
	if (width < 64)
		emit(ctx, BPF_ALU64_IMM(BPF_RSH, hi, 64 - width));
	emit(ctx, BPF_ALU64_REG(BPF_OR, lo, hi));
}

/*
 * HEADER: DST[0..3] = { (u8)(SRC[0] + imm), (SRC[1] & 0x80) | 1, SRC[2],
 * 0 }. The dword goes first with u64s as loaded; the adjusted u64s then
 * overwrites byte 0, so its carry never reaches the format byte.
 */
static void lower_header(struct bkey_jit_ctx *ctx, unsigned int idx)
{
	const struct bkey_plan_op *op = &ctx->plan->ops[idx];
	u8 t = scratch_reg(ctx, idx, BKEY_PLAN_NR_REGS);

	emit(ctx, BPF_LDX_MEM(BPF_W, t, SRC_REG, 0));
	emit(ctx, BPF_ALU64_IMM(BPF_AND, t, 0x00ff0000 |
				(BKEY_JIT_HDR_WHITEOUT_MASK << 8) | 0xff));
	emit(ctx, BPF_ALU64_IMM(BPF_OR, t, KEY_FORMAT_CURRENT << 8));
	/* size 8: the upper half is zero, bytes 4..7 too */
	emit(ctx, BPF_STX_MEM(op->size == 8 ? BPF_DW : BPF_W, DST_REG, t, 0));
	if ((u8)op->imm) {
		emit(ctx, BPF_ALU64_IMM(BPF_ADD, t, (u8)op->imm));
		emit(ctx, BPF_STX_MEM(BPF_B, DST_REG, t, 0));
	}
}

/*
 * A LOAD that is not naturally aligned, without caps->unaligned, with the
 * EXTRACT after it if there is one: bits [@shift, @shift + width) of the
 * loaded value come straight from the aligned word(s) holding them.
 * Return the plan ops consumed.
 */
static unsigned int lower_load_aligned(struct bkey_jit_ctx *ctx,
				       unsigned int idx)
{
	const struct bkey_plan *plan = ctx->plan;
	const struct bkey_plan_op *ld = &plan->ops[idx], *ex = ld + 1;
	unsigned int shift = 0, width = ld->size * 8, nr = 1, a, wa, wb;
	u8 reg = vreg_map[ld->reg], hi;

	if (ex->code == BKEY_PLAN_EXTRACT && ex->reg == ld->reg) {
		if (ex->shift >= width) {
			/* Only zeros above the load: the field is 0. */
			emit(ctx, BPF_MOV64_IMM(reg, 0));
			return 2;
		}
		shift = ex->shift;
		width = min_t(unsigned int, ex->width, width - shift);
		nr = 2;
	}

	a = 8 * ld->off + shift;
	wa = a / 64;
	wb = (a + width - 1) / 64;
	emit(ctx, BPF_LDX_MEM(BPF_DW, reg, SRC_REG, 8 * wa));
	if (wa == wb) {
		emit_field(ctx, reg, a % 64, width);
		return nr;
	}
	hi = scratch_reg(ctx, idx + nr - 1, ld->reg);
	emit(ctx, BPF_LDX_MEM(BPF_DW, hi, SRC_REG, 8 * wb));
	emit_funnel_regs(ctx, reg, hi, a % 64, width);
	return nr;
}

static void lower_extract(struct bkey_jit_ctx *ctx,
			  const struct bkey_plan_op *op)
{
	unsigned int bits = op->size * 8;
	unsigned int width = min_t(unsigned int, op->width, bits - op->shift);
	u8 reg = vreg_map[op->reg];

	/* Nothing above the field (the plan says so, or it ends at the top). */
	if (!op->mask || op->shift + width == bits) {
		if (op->shift)
			emit(ctx, BPF_ALU64_IMM(BPF_RSH, reg, op->shift));
		return;
	}
	emit_field(ctx, reg, op->shift, width);
}

static void lower_funnel(struct bkey_jit_ctx *ctx, unsigned int idx)
{
	const struct bkey_plan_op *op = &ctx->plan->ops[idx];
	u8 lo = vreg_map[op->reg], hi = vreg_map[op->reg2];

	if (op->shift + op->width <= 64) {
		emit_field(ctx, lo, op->shift, op->width);
		return;
	}
	if (!bkey_plan_reg_dead_after(ctx->plan, idx, op->reg2)) {
		u8 t = scratch_reg(ctx, idx, op->reg);

		emit(ctx, BPF_MOV64_REG(t, hi));
		hi = t;
	}
	emit_funnel_regs(ctx, lo, hi, op->shift, op->width);
}

/*
 * A constant of an ADD or STORE_IMM into @t: only ever the plan's imm
 * and key, XOR- or MUL-combined at run time as bkey_jit_plan.h defines.
 */
static void lower_const(struct bkey_jit_ctx *ctx, const struct bkey_plan_op *op,
			u8 t)
{
	switch (op->blind) {
	case BKEY_PLAN_BLIND_XOR:
		emit(ctx, BPF_MOV64_IMM(t, (s32)op->imm));
		emit(ctx, BPF_ALU64_IMM(BPF_XOR, t, (s32)op->key));
		break;
	case BKEY_PLAN_BLIND_MUL:
		emit_ld_imm64(ctx, t, op->imm);
		emit(ctx, BPF_ALU64_IMM(BPF_MUL, t, (s32)op->key));
		break;
	default:
		emit_ld_imm64(ctx, t, op->imm);
		break;
	}
}

/* ADD modulo 2^(8 * size): an imm32 add when the value allows. */
static void lower_add(struct bkey_jit_ctx *ctx, unsigned int idx)
{
	const struct bkey_plan_op *op = &ctx->plan->ops[idx];
	u64 v = op->size == 8 ? op->imm : (u32)op->imm;
	u8 reg = vreg_map[op->reg], t;

	if (op->blind == BKEY_PLAN_BLIND_NONE) {
		if (!v)
			return;
		/* Size 4: a 32-bit add, which zero-extends as the plan says */
		if (op->size == 4) {
			emit(ctx, BPF_ALU32_IMM(BPF_ADD, reg, (s32)v));
			return;
		}
		if (fits_s32(v)) {
			emit(ctx, BPF_ALU64_IMM(BPF_ADD, reg, (s32)v));
			return;
		}
	}
	t = scratch_reg(ctx, idx, op->reg);
	lower_const(ctx, op, t);
	emit(ctx, BPF_ALU64_REG(BPF_ADD, reg, t));
}

static void lower_store_imm(struct bkey_jit_ctx *ctx, unsigned int idx)
{
	const struct bkey_plan_op *op = &ctx->plan->ops[idx];
	u64 v = op->size == 8 ? op->imm : (u32)op->imm;
	u8 t;

	if (op->blind == BKEY_PLAN_BLIND_NONE &&
	    (op->size == 4 || fits_s32(v))) {
		emit_store_plain_imm(ctx, op->off, op->size, v);
		return;
	}
	t = scratch_reg(ctx, idx, BKEY_PLAN_NR_REGS);
	lower_const(ctx, op, t);
	emit_store_reg(ctx, t, op->off, op->size, true, t);
}

/* The exits of a compare plan. */
#define BPF_CMP_LT	0
#define BPF_CMP_GT	1

/* A forward conditional jump to a label, in instructions after it. */
static void emit_jmp_label(struct bkey_jit_ctx *ctx, u8 op, u8 a, u8 b,
			   unsigned int label)
{
	s64 rel = ((s64)ctx->label[label] - ctx->len) /
		  (s64)sizeof(struct bpf_insn) - 1;

	if (ctx->buf && (rel < 0 || rel > 0x7fff)) {
		ctx->err = -EINVAL;
		return;
	}
	emit(ctx, BPF_JMP_REG(op, a, b, (s16)rel));
}

/* CMP: greater goes to one exit, otherwise unequal to the other. */
static void lower_cmp(struct bkey_jit_ctx *ctx, const struct bkey_plan_op *op)
{
	u8 a = vreg_map[op->reg], b = vreg_map[op->reg2];

	emit_jmp_label(ctx, BPF_JGT, a, b, BPF_CMP_GT);
	emit_jmp_label(ctx, BPF_JNE, a, b, BPF_CMP_LT);
}

static unsigned int bpf_op(struct bkey_jit_ctx *ctx, unsigned int idx)
{
	const struct bkey_plan_op *op = &ctx->plan->ops[idx];

	switch (op->code) {
	case BKEY_PLAN_HEADER:
		lower_header(ctx, idx);
		break;
	case BKEY_PLAN_LOAD:
		if (op->arg) {		/* L, in a compare: aligned words */
			emit(ctx, BPF_LDX_MEM(BPF_DW, vreg_map[op->reg],
					      DST_REG, op->off));
			break;
		}
		if (!bpf_access_fast(ctx, op->off, op->size))
			return lower_load_aligned(ctx, idx);
		emit(ctx, BPF_LDX_MEM(bpf_size(op->size), vreg_map[op->reg],
				      SRC_REG, op->off));
		break;
	case BKEY_PLAN_EXTRACT:
		lower_extract(ctx, op);
		break;
	case BKEY_PLAN_FUNNEL:
		lower_funnel(ctx, idx);
		break;
	case BKEY_PLAN_ADD:
		lower_add(ctx, idx);
		break;
	case BKEY_PLAN_STORE:
		emit_store_reg(ctx, vreg_map[op->reg], op->off, op->size,
			       bkey_plan_reg_dead_after(ctx->plan, idx, op->reg),
			       scratch_reg(ctx, idx, op->reg));
		break;
	case BKEY_PLAN_STORE_IMM:
		lower_store_imm(ctx, idx);
		break;
	case BKEY_PLAN_CMP:
		lower_cmp(ctx, op);
		break;
	}
	return 1;
}

/* R1 holds the context: src first, while R1 is still the context. */
static void bpf_prologue(struct bkey_jit_ctx *ctx)
{
	emit(ctx, BPF_LDX_MEM(BPF_DW, SRC_REG, BPF_REG_1,
			      offsetof(struct bkey_jit_bpf_ctx, src)));
	emit(ctx, BPF_LDX_MEM(BPF_DW, DST_REG, BPF_REG_1,
			      offsetof(struct bkey_jit_bpf_ctx, dst)));
}

/* A compare returns 0 (all equal), or -1 or 1 from its two exits. */
static void bpf_epilogue(struct bkey_jit_ctx *ctx)
{
	if (ctx->plan->kind != BKEY_PLAN_CMP_PACKED) {
		emit(ctx, BPF_EXIT_INSN());
		return;
	}
	emit(ctx, BPF_MOV64_IMM(BPF_REG_0, 0));
	emit(ctx, BPF_EXIT_INSN());
	bkey_jit_emit_label(ctx, BPF_CMP_LT);
	emit(ctx, BPF_MOV64_IMM(BPF_REG_0, -1));
	emit(ctx, BPF_EXIT_INSN());
	bkey_jit_emit_label(ctx, BPF_CMP_GT);
	emit(ctx, BPF_MOV64_IMM(BPF_REG_0, 1));
	emit(ctx, BPF_EXIT_INSN());
}

static const struct bkey_jit_backend bpf_backend = {
	.name		= "ebpf",
	.max_len	= BKEY_JIT_BPF_MAX_INSNS * sizeof(struct bpf_insn),
	.prologue	= bpf_prologue,
	.op		= bpf_op,
	.epilogue	= bpf_epilogue,
};

/**
 * bkey_jit_bpf_lower - lower a plan to an eBPF program
 * @plan:	a plan from bkey_plan_build(), blinded
 * @caps:	whether misaligned loads and stores are fast on the target
 * @insns:	BKEY_JIT_BPF_MAX_INSNS instructions of output, or NULL to size
 * @nr_slots:	program length in struct bpf_insn slots (prog->len)
 * @nr_insns:	instructions, an LD_IMM64 counting once
 *
 * Return: 0, or -EINVAL for a malformed plan or one that does not fit.
 */
int bkey_jit_bpf_lower(const struct bkey_plan *plan,
		       const struct bkey_jit_caps *caps,
		       struct bpf_insn *insns, unsigned int *nr_slots,
		       unsigned int *nr_insns)
{
	struct bkey_jit_emitted out;
	int ret;

	ret = bkey_jit_emit(&bpf_backend, caps, plan, NULL, (u8 *)insns, 0,
			    NULL, &out);
	if (ret)
		return ret;
	*nr_slots = out.len / sizeof(struct bpf_insn);
	*nr_insns = out.nr_insns;
	return 0;
}
