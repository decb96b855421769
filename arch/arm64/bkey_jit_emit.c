// SPDX-License-Identifier: GPL-2.0
/*
 * bkey-jit arm64 backend: encodes a bkey plan as a leaf function
 *
 *	void fn(void *dst, const struct bkey_packed *src)
 *
 * AAPCS64: x0 = dst, x1 = src. Only the caller-saved temporaries x2..x10
 * are written, the stack is never touched and x30 is only read by RET, so
 * there is no frame. x16/x17 (IP0/IP1, used by veneers and PLTs) and x18
 * (the shadow call stack pointer) are never used. A compare plan becomes
 *
 *	int fn(const struct bkey_packed *l, const struct bkey_packed *r)
 *
 * with x0 = l and x1 = r: per word two loads, cmp and a b.ne to the
 * exit, "mov w0, wzr" for equal keys and "csetm w0, lo; orr w0, w0, #1"
 * (-1 or 1) at the exit.
 */
#include "bkey_jit_emit.h"
#include "bkey_jit_arm64.h"

#define DST_REG		A64_R(0)
#define SRC_REG		A64_R(1)

/* Virtual plan registers r0..r3. */
static const u8 vreg_map[BKEY_PLAN_NR_REGS] = {
	A64_R(2), A64_R(3), A64_R(4), A64_R(5),
};

/* Scratch for immediates and the key header; never a virtual register. */
#define TMP0		A64_R(9)
#define TMP1		A64_R(10)

#define A64_INSN_SIZE	4

/* Longest move-immediate sequence: MOVZ + 3 MOVK. */
#define A64_MAX_MOV	4

/* A store whose emission is delayed so that it may pair with the next. */
struct pending_store {
	bool		valid;
	bool		is_imm;
	u8		reg;		/* A64 register for !is_imm */
	u8		size;
	u8		off;
	u64		imm;		/* truncated to size */
};

/* The backend's own state in the driver's context. */
static struct pending_store *pending(struct bkey_jit_ctx *ctx)
{
	return ctx->priv;
}

/* One instruction through the driver's writer (it bounds and counts). */
static void emit(u32 insn, struct bkey_jit_ctx *ctx)
{
	u8 b[A64_INSN_SIZE];

	put_unaligned_le32(insn, b);
	bkey_jit_emit_insn(ctx, b, sizeof(b));
}

static u64 lane_mask(bool is64)
{
	return is64 ? U64_MAX : U32_MAX;
}

/*
 * Encode @val as an A64 bitmask immediate (N:immr:imms) for an operation of
 * the given width: a rotated run of ones, replicated in 2, 4, .. 64-bit
 * elements. Return false if it cannot be encoded.
 */
static bool a64_bitmask_imm(u64 val, bool is64, u32 *n, u32 *immr, u32 *imms)
{
	unsigned int size = 64, ones = 0, rot, i;
	u64 emask, elt;

	if (!is64) {
		val &= U32_MAX;
		val |= val << 32;
	}
	if (!val || val == U64_MAX)
		return false;

	/* The smallest element the value is a replication of. */
	while (size > 2) {
		unsigned int half = size / 2;
		u64 hmask = (1ULL << half) - 1;

		if ((val & hmask) != ((val >> half) & hmask))
			break;
		size = half;
	}
	emask = size == 64 ? U64_MAX : (1ULL << size) - 1;
	elt = val & emask;
	for (i = 0; i < size; i++)
		ones += (elt >> i) & 1;

	/* Find rot such that elt rotated right by rot is 0..01..1. */
	for (rot = 0; rot < size; rot++) {
		u64 r = rot ? ((elt >> rot) | (elt << (size - rot))) & emask
			    : elt;

		if (r == (1ULL << ones) - 1)
			break;
	}
	if (rot == size)
		return false;

	/* The decoder rotates the run right by immr: immr = -rot mod size. */
	*n = size == 64;
	*immr = (size - rot) & (size - 1);
	*imms = ((~(size - 1) << 1) & 0x3f) | (ones - 1);
	return true;
}

/* A one-instruction ORR Rd, ZR, #val, or 0 if val is no bitmask immediate. */
static u32 a64_mov_bitmask(bool is64, u8 rd, u64 val)
{
	u32 n, immr, imms;

	if (!a64_bitmask_imm(val, is64, &n, &immr, &imms))
		return 0;
	return A64_ORR_I(is64, rd, A64_ZR, n, immr, imms);
}

/*
 * The shortest sequence of MOVZ/MOVN/MOVK/ORR (bitmask) that sets @rd to
 * @val (the low 32 bits in a W register when !is64). Return its length.
 */
static int a64_mov_seq(bool is64, u8 rd, u64 val, u32 insns[A64_MAX_MOV])
{
	int lanes = is64 ? 4 : 2, nzero = 0, nones = 0, nr = 0, i, j;
	u16 hw[4];
	bool inv;
	u32 bm;

	val &= lane_mask(is64);
	for (i = 0; i < lanes; i++) {
		hw[i] = val >> (16 * i);
		nzero += hw[i] != 0;
		nones += hw[i] != 0xffff;
	}

	/* One instruction: ORR with a bitmask immediate (or MOVZ/MOVN below). */
	if (nzero > 1 && nones > 1) {
		bm = a64_mov_bitmask(is64, rd, val);
		if (bm) {
			insns[0] = bm;
			return 1;
		}
	}

	/*
	 * ORR of a bitmask differing from @val in one lane, then MOVK: two
	 * instructions, worth it when MOVZ/MOVN need three or four.
	 */
	if (is64 && nzero > 2 && nones > 2) {
		for (i = 0; i < lanes; i++) {
			for (j = -2; j < lanes; j++) {
				u64 fill, cand;

				if (j == i)
					continue;
				fill = j == -2 ? 0 : j == -1 ? 0xffff : hw[j];
				cand = (val & ~(0xffffULL << (16 * i))) |
				       (fill << (16 * i));
				bm = a64_mov_bitmask(true, rd, cand);
				if (bm) {
					insns[0] = bm;
					insns[1] = A64_MOVK(1, rd, hw[i], i);
					return 2;
				}
			}
		}
	}

	/* MOVN when more lanes are all-ones than all-zeroes. */
	inv = nones < nzero;
	for (i = 0; i < lanes; i++) {
		if (hw[i] == (inv ? 0xffff : 0))
			continue;
		if (!nr)
			insns[nr++] = inv ? A64_MOVN(is64, rd, (u16)~hw[i], i)
					  : A64_MOVZ(is64, rd, hw[i], i);
		else
			insns[nr++] = A64_MOVK(is64, rd, hw[i], i);
	}
	if (!nr)	/* val is 0 or all-ones */
		insns[nr++] = inv ? A64_MOVN(is64, rd, 0, 0)
				  : A64_MOVZ(is64, rd, 0, 0);
	return nr;
}

static void emit_mov_imm(bool is64, u8 rd, u64 val, struct bkey_jit_ctx *ctx)
{
	u32 insns[A64_MAX_MOV];
	int nr = a64_mov_seq(is64, rd, val, insns), i;

	for (i = 0; i < nr; i++)
		emit(insns[i], ctx);
}

/* Rd += imm (modulo 2^32 or 2^64) in as few instructions as possible. */
static void emit_add_imm(bool is64, u8 rd, u64 imm, struct bkey_jit_ctx *ctx)
{
	u32 insns[A64_MAX_MOV];
	u64 neg;
	int nr_pos, nr_neg;

	imm &= lane_mask(is64);
	neg = -imm & lane_mask(is64);
	if (!imm)
		return;

	/* One or two ADD/SUB immediates cover 24 bits. */
	if (imm < (1 << 24) || neg < (1 << 24)) {
		bool sub = imm >= (1 << 24);
		u64 v = sub ? neg : imm;

		if (v >> 12)
			emit(A64_ADDSUB_IMM(is64, sub, rd, rd, v >> 12, 1), ctx);
		if (v & 0xfff)
			emit(A64_ADDSUB_IMM(is64, sub, rd, rd, v & 0xfff, 0),
			     ctx);
		return;
	}

	nr_pos = a64_mov_seq(is64, TMP0, imm, insns);
	nr_neg = a64_mov_seq(is64, TMP0, neg, insns);
	if (nr_neg < nr_pos) {
		emit_mov_imm(is64, TMP0, neg, ctx);
		emit(A64_SUB(is64, rd, rd, TMP0), ctx);
	} else {
		emit_mov_imm(is64, TMP0, imm, ctx);
		emit(A64_ADD(is64, rd, rd, TMP0), ctx);
	}
}

/*
 * A blinded constant into TMP0, TMP1 as scratch: imm and the key are
 * built separately, then EOR or MUL them (bkey_jit_plan.h), so the value
 * itself is never a MOVZ/MOVK chunk.
 */
static void emit_blinded_const(const struct bkey_plan_op *op,
			       struct bkey_jit_ctx *ctx)
{
	bool is64 = op->size == 8;

	emit_mov_imm(is64, TMP0, op->imm, ctx);
	emit_mov_imm(is64, TMP1, (u64)(s64)(s32)op->key, ctx);
	if (op->blind == BKEY_PLAN_BLIND_XOR)
		emit(A64_EOR(is64, TMP0, TMP0, TMP1), ctx);
	else
		emit(A64_MUL(is64, TMP0, TMP0, TMP1), ctx);
}

/* Rd = (Rd >> shift) & mask(width), with the AND only if @mask. */
static void emit_extract(u8 rd, unsigned int shift, unsigned int width,
			 bool mask, struct bkey_jit_ctx *ctx)
{
	if (!mask || shift + width >= 64) {
		/* Nothing above shift + width: a plain shift, if any. */
		if (shift)
			emit(A64_LSR(1, rd, rd, shift), ctx);
		return;
	}
	/* The 32-bit form zero-extends, so it is exact when the field fits. */
	emit(A64_UBFX(shift + width <= 32 ? 0 : 1, rd, rd, shift, width), ctx);
}

/*
 * DST[0..3] = { (u8)(SRC[0] + imm), (SRC[1] & 0x80) | 1, SRC[2], 0 }:
 *
 *	ldur	w9, [x1]
 *	and	w10, w9, #0xff8000	// needs_whiteout and type, rest 0
 *	add	w9, w9, #imm		// u64s; the carry is dropped below
 *	orr	w10, w10, #0x100	// format = KEY_FORMAT_CURRENT
 *	bfxil	w10, w9, #0, #8		// u64s, wrapped modulo 256
 *	stur	w10, [x0]
 */
static void emit_header(u64 imm, bool is64, struct bkey_jit_ctx *ctx)
{
	u32 n, immr, imms;

	imm &= 0xff;
	emit(A64_LDUR32(TMP0, SRC_REG, 0), ctx);
	a64_bitmask_imm(0x00ff8000, false, &n, &immr, &imms);
	emit(A64_AND_I(0, TMP1, TMP0, n, immr, imms), ctx);
	if (imm)
		emit(A64_ADD_I(0, TMP0, TMP0, imm), ctx);
	a64_bitmask_imm(KEY_FORMAT_CURRENT << 8, false, &n, &immr, &imms);
	emit(A64_ORR_I(0, TMP1, TMP1, n, immr, imms), ctx);
	emit(A64_BFXIL(0, TMP1, TMP0, 0, 8), ctx);
	/* size 8: W-register writes zeroed the upper half, bytes 4..7 are 0 */
	if (is64)
		emit(A64_STUR64(TMP1, DST_REG, 0), ctx);
	else
		emit(A64_STUR32(TMP1, DST_REG, 0), ctx);
}

static void emit_load_from(u8 rt, u8 base, unsigned int size,
			   unsigned int off, struct bkey_jit_ctx *ctx)
{
	switch (size) {
	case 1:
		emit(A64_LDURB(rt, base, off), ctx);
		break;
	case 2:
		emit(A64_LDURH(rt, base, off), ctx);
		break;
	case 4:
		emit(A64_LDUR32(rt, base, off), ctx);
		break;
	default:
		emit(A64_LDUR64(rt, base, off), ctx);
		break;
	}
}

static void emit_load(u8 rt, unsigned int size, unsigned int off,
		      struct bkey_jit_ctx *ctx)
{
	emit_load_from(rt, SRC_REG, size, off, ctx);
}

/* The label every CMP of a compare plan branches to. */
#define A64_CMP_DIFFER	0

/* b.ne to a label: one fixed-size instruction, imm19 words ahead. */
static void emit_bne_label(unsigned int label, struct bkey_jit_ctx *ctx)
{
	s64 rel = ((s64)ctx->label[label] - ctx->len) / A64_INSN_SIZE;

	if (ctx->buf && (rel < -(1 << 18) || rel >= (1 << 18))) {
		ctx->err = -EINVAL;
		return;
	}
	emit(A64_B_COND(A64_COND_NE, rel), ctx);
}

/* The register holding a pending store's value; immediates are built now. */
static u8 store_src(const struct pending_store *st, u8 tmp,
		    struct bkey_jit_ctx *ctx)
{
	if (!st->is_imm)
		return st->reg;
	if (!st->imm)
		return A64_ZR;
	emit_mov_imm(st->size == 8, tmp, st->imm, ctx);
	return tmp;
}

static void flush_store(struct bkey_jit_ctx *ctx)
{
	struct pending_store *st = pending(ctx);
	u8 rt;

	if (!st->valid)
		return;
	st->valid = false;
	rt = store_src(st, TMP0, ctx);
	if (st->size == 8)
		emit(A64_STUR64(rt, DST_REG, st->off), ctx);
	else
		emit(A64_STUR32(rt, DST_REG, st->off), ctx);
}

/*
 * Queue a store. Two stores of the same size to adjacent, naturally aligned
 * slots become one STP. A store is only held back across register
 * operations that do not change its value, never across a memory access.
 */
static void queue_store(const struct pending_store *next,
			struct bkey_jit_ctx *ctx)
{
	struct pending_store *st = pending(ctx);
	const struct pending_store *lo, *hi;
	u8 rlo, rhi;

	if (st->valid && st->size == next->size) {
		lo = st->off < next->off ? st : next;
		hi = st->off < next->off ? next : st;
		if (lo->off + lo->size == hi->off && !(lo->off % lo->size)) {
			st->valid = false;
			rlo = store_src(lo, TMP0, ctx);
			if (lo->is_imm && hi->is_imm && lo->imm == hi->imm)
				rhi = rlo;
			else
				rhi = store_src(hi, TMP1, ctx);
			if (lo->size == 8)
				emit(A64_STP64(rlo, rhi, DST_REG, lo->off), ctx);
			else
				emit(A64_STP32(rlo, rhi, DST_REG, lo->off), ctx);
			return;
		}
	}
	flush_store(ctx);
	*st = *next;
}

/* An op is about to write the A64 register @rd: a pending store of it goes. */
static void clobber_reg(u8 rd, struct bkey_jit_ctx *ctx)
{
	struct pending_store *st = pending(ctx);

	if (st->valid && !st->is_imm && st->reg == rd)
		flush_store(ctx);
}

/* arm64 kCFI: the caller checks the type hash at entry - 4. */
static void a64_preamble(struct bkey_jit_ctx *ctx)
{
	pending(ctx)->valid = false;	/* a new pass */
	if (ctx->opts->cfi)
		emit(ctx->opts->cfi_hash, ctx);
}

static void a64_prologue(struct bkey_jit_ctx *ctx)
{
	if (ctx->opts->bti)
		emit(A64_BTI_C, ctx);
}

/* The smallest load of at least @bits bits, or 0 if none. */
static unsigned int load_size_for(unsigned int bits)
{
	return bits <= 8 ? 1 : bits <= 16 ? 2 : bits <= 32 ? 4 :
	       bits <= 64 ? 8 : 0;
}

/*
 * LOAD r; EXTRACT r at a byte boundary: one narrower load at the field's
 * first byte gives the same value, inside the bytes the plan loads.
 */
static bool fuse_extract(const struct bkey_plan *plan, unsigned int i,
			 struct bkey_jit_ctx *ctx)
{
	const struct bkey_plan_op *ld = &plan->ops[i], *ex = ld + 1;
	unsigned int byte = ex->shift / 8, bits, n;

	if (i + 1 >= plan->nr_ops || ex->code != BKEY_PLAN_EXTRACT ||
	    ex->reg != ld->reg || ex->shift % 8 || byte >= ld->size)
		return false;
	/* Bits past the end of the load are zero anyway. */
	bits = min_t(unsigned int, ex->width, ld->size * 8 - ex->shift);
	n = load_size_for(bits);
	/* Without the mask, the bits above the field are known zero. */
	if (byte + n > ld->size || (ex->mask && n * 8 != bits))
		return false;
	emit_load(vreg_map[ld->reg], n, ld->off + byte, ctx);
	return true;
}

/*
 * LOAD lo, 8 bytes; LOAD hi right after it in memory (either order);
 * FUNNEL lo, hi: one unaligned load of the field's bytes and at most one
 * UBFX, when hi is dead after the FUNNEL.
 */
static bool fuse_funnel(const struct bkey_plan *plan, unsigned int i,
			struct bkey_jit_ctx *ctx)
{
	const struct bkey_plan_op *a = &plan->ops[i], *b = a + 1, *f = a + 2;
	const struct bkey_plan_op *lo, *hi;
	unsigned int byte, sub, bits, end, n;
	u8 rd;

	if (i + 2 >= plan->nr_ops || b->code != BKEY_PLAN_LOAD ||
	    f->code != BKEY_PLAN_FUNNEL || a->reg == b->reg)
		return false;
	lo = f->reg == a->reg ? a : b;
	hi = lo == a ? b : a;
	if (lo->reg != f->reg || hi->reg != f->reg2 || lo->size != 8 ||
	    hi->off != lo->off + 8 ||
	    !bkey_plan_reg_dead_after(plan, i + 2, hi->reg))
		return false;

	/* Field bits [shift, shift + width) of the 8 + hi->size bytes. */
	end = 64 + hi->size * 8;
	bits = min_t(unsigned int, f->width, end - f->shift);
	byte = f->shift / 8;
	sub = f->shift % 8;
	n = load_size_for(sub + bits);
	if (!n || byte * 8 + n * 8 > end)
		return false;

	rd = vreg_map[lo->reg];
	emit_load(rd, n, lo->off + byte, ctx);
	if (sub || n * 8 != bits)
		emit_extract(rd, sub, bits, true, ctx);
	return true;
}

/* Encode op @i (and the ops fused with it); return how many it took. */
static unsigned int a64_op(struct bkey_jit_ctx *ctx, unsigned int i)
{
	const struct bkey_plan *plan = ctx->plan;
	const struct bkey_plan_op *op = &plan->ops[i];
	u8 rd = vreg_map[op->reg & (BKEY_PLAN_NR_REGS - 1)];
	struct pending_store next;

	switch (op->code) {
	case BKEY_PLAN_HEADER:
		flush_store(ctx);
		emit_header(op->imm, op->size == 8, ctx);
		break;
	case BKEY_PLAN_LOAD:
		flush_store(ctx);
		if (op->arg) {		/* L, in a compare plan */
			emit_load_from(rd, DST_REG, op->size, op->off, ctx);
			break;
		}
		/* Fused ops are skipped; the driver validated them. */
		if (fuse_funnel(plan, i, ctx))
			return 3;
		if (fuse_extract(plan, i, ctx))
			return 2;
		emit_load(rd, op->size, op->off, ctx);
		break;
	case BKEY_PLAN_CMP:
		emit(A64_CMP(1, rd, vreg_map[op->reg2 & (BKEY_PLAN_NR_REGS - 1)]),
		     ctx);
		emit_bne_label(A64_CMP_DIFFER, ctx);
		break;
	case BKEY_PLAN_EXTRACT:
		clobber_reg(rd, ctx);
		emit_extract(rd, op->shift, op->width, op->mask, ctx);
		break;
	case BKEY_PLAN_FUNNEL: {
		u8 rhi = vreg_map[op->reg2 & (BKEY_PLAN_NR_REGS - 1)];

		clobber_reg(rd, ctx);
		if (op->shift + op->width <= 64) {
			/* All of the field is in the low word. */
			emit_extract(rd, op->shift, op->width, true, ctx);
			break;
		}
		emit(A64_EXTR(1, rd, rhi, rd, op->shift), ctx);
		if (op->width < 64)
			emit(A64_UBFX(op->width <= 32 ? 0 : 1, rd, rd, 0,
				      op->width), ctx);
		break;
	}
	case BKEY_PLAN_ADD:
		clobber_reg(rd, ctx);
		if (op->blind) {
			emit_blinded_const(op, ctx);
			emit(A64_ADD(1, rd, rd, TMP0), ctx);
			break;
		}
		emit_add_imm(op->size == 8, rd, op->imm, ctx);
		break;
	case BKEY_PLAN_STORE_IMM:
		if (op->blind) {
			/* TMP0/TMP1 are the pending store's too. */
			flush_store(ctx);
			emit_blinded_const(op, ctx);
			if (op->size == 8)
				emit(A64_STUR64(TMP0, DST_REG, op->off), ctx);
			else
				emit(A64_STUR32(TMP0, DST_REG, op->off), ctx);
			break;
		}
		fallthrough;
	case BKEY_PLAN_STORE:
		next.valid = true;
		next.is_imm = op->code == BKEY_PLAN_STORE_IMM;
		next.reg = rd;
		next.size = op->size;
		next.off = op->off;
		next.imm = op->imm & lane_mask(op->size == 8);
		queue_store(&next, ctx);
		break;
	}
	return 1;
}

/*
 * The store held back last, then the return. A compare returns 0 when
 * every word was equal; at the exit the flags of the cmp that differed
 * give -1 (lo: l < r) or 1.
 */
static void a64_epilogue(struct bkey_jit_ctx *ctx)
{
	flush_store(ctx);
	if (ctx->plan->kind != BKEY_PLAN_CMP_PACKED) {
		emit(A64_RET(A64_LR), ctx);
		return;
	}
	emit(A64_MOV_ZR32(A64_R(0)), ctx);
	emit(A64_RET(A64_LR), ctx);
	if (!bkey_plan_has_cmp(ctx->plan))
		return;
	bkey_jit_emit_label(ctx, A64_CMP_DIFFER);
	emit(A64_CSETM32(A64_R(0), A64_COND_LO), ctx);
	emit(A64_ORR_I(0, A64_R(0), A64_R(0), 0, 0, 0), ctx);
	emit(A64_RET(A64_LR), ctx);
}

static const struct bkey_jit_backend a64_backend = {
	.name		= "arm64",
	.max_len	= BKEY_JIT_MAX_CODE,
	.preamble	= a64_preamble,
	.prologue	= a64_prologue,
	.op		= a64_op,
	.epilogue	= a64_epilogue,
};

/* What the encoders above rely on: ldur, extr, ubfx. */
static const struct bkey_jit_caps a64_caps = {
	.unaligned		= true,
	.funnel_shift		= true,
	.bitfield_extract	= true,
};

/**
 * bkey_jit_arch_emit - encode a plan as an arm64 leaf function
 * @plan:	the plan; the driver refuses a malformed one (-EINVAL)
 * @opts:	kCFI type hash, BTI C; NULL for none (the x86 options are
 *		ignored)
 * @buf:	BKEY_JIT_MAX_CODE bytes of output, or NULL for a sizing pass
 * @ip:		unused: the code has nothing pc-relative
 * @out:	length, entry offset and instruction count from the entry
 *
 * Return: 0 or -EINVAL.
 */
int bkey_jit_arch_emit(const struct bkey_plan *plan,
		       const struct bkey_jit_emit_opts *opts, u8 *buf,
		       unsigned long ip, struct bkey_jit_emitted *out)
{
	struct pending_store st = { };

	return bkey_jit_emit(&a64_backend, &a64_caps, plan, opts, buf, ip,
			     &st, out);
}

/**
 * bkey_jit_arch_emit_final - the final pass alone, after a sizing pass
 * @plan:	the plan the sizing call accepted
 * @opts:	its options
 * @buf:	BKEY_JIT_MAX_CODE bytes of output
 * @ip:		unused
 * @sized:	the sizing call's result, which on success describes @buf
 *
 * Return: 0 or -EINVAL.
 */
int bkey_jit_arch_emit_final(const struct bkey_plan *plan,
			     const struct bkey_jit_emit_opts *opts, u8 *buf,
			     unsigned long ip,
			     const struct bkey_jit_emitted *sized)
{
	struct pending_store st = { };

	return bkey_jit_emit_final(&a64_backend, &a64_caps, plan, opts, buf,
				   ip, &st, sized);
}

const char *const bkey_jit_arch_name = "arm64";

void bkey_jit_arch_fill_trap(void *area, size_t size)
{
	u8 *p = area;
	size_t i;

	for (i = 0; i + A64_INSN_SIZE <= size; i += A64_INSN_SIZE)
		put_unaligned_le32(A64_BRK(A64_BRK_FAULT_IMM), p + i);
	memset(p + i, 0, size - i);
}
