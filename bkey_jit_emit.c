// SPDX-License-Identifier: GPL-2.0
/*
 * The arch-neutral backend driver (bkey_jit_emit.h): plan validation,
 * register liveness, the sizing and final passes and the
 * prologue/body/epilogue loop, shared by the x86-64, arm64 and eBPF
 * backends.
 */
#include "bkey_jit_emit.h"

/**
 * bkey_jit_emit_label - mark a branch target at the current position
 * @ctx:	the emitter context
 * @id:		the label, below BKEY_JIT_NR_LABELS
 *
 * Forward branches read @ctx->label[@id]: in the sizing pass it is not
 * known yet (a backend encodes branches at a fixed length), in the final
 * pass it holds the sizing pass's offset, and the final pass fails if
 * the label lands anywhere else.
 */
void bkey_jit_emit_label(struct bkey_jit_ctx *ctx, unsigned int id)
{
	if (id >= BKEY_JIT_NR_LABELS ||
	    (ctx->buf && ctx->label[id] != ctx->len)) {
		ctx->err = -EINVAL;
		return;
	}
	ctx->label[id] = ctx->len;
}

static bool size_ok(unsigned int size, unsigned int allowed)
{
	return size <= 8 && (allowed & size) && !(size & (size - 1));
}

static bool fits_s32(u64 v)
{
	return (s64)v == (s32)(u32)v;
}

/* XOR: imm must be an imm32 (sign-extended for size 8); MUL is 64-bit. */
static bool blind_ok(const struct bkey_plan_op *op)
{
	switch (op->blind) {
	case BKEY_PLAN_BLIND_NONE:
		return true;
	case BKEY_PLAN_BLIND_XOR:
		return op->code == BKEY_PLAN_STORE_IMM &&
		       (op->size == 4 || fits_s32(op->imm));
	case BKEY_PLAN_BLIND_MUL:
		return op->size == 8;
	default:
		return false;
	}
}

static unsigned int plan_dst_size(const struct bkey_plan *plan)
{
	switch (plan->kind) {
	case BKEY_PLAN_UNPACK:
		return sizeof(struct bkey);
	case BKEY_PLAN_UNPACK_POS:
		return sizeof(struct bpos);
	default:
		return 0;	/* a compare stores nothing */
	}
}

/*
 * The rules of bkey_jit_plan.h, checked for one op: registers in range,
 * shift counts no hardware reduces modulo 32/64, accesses inside the
 * 40-byte packed key and the destination, RET last and only last; a
 * compare plan only loads 8-byte words of either key, shifts and compares.
 */
static bool op_valid(const struct bkey_plan *plan, unsigned int idx)
{
	const struct bkey_plan_op *op = &plan->ops[idx];
	bool last = idx + 1 == plan->nr_ops;
	bool cmp = plan->kind == BKEY_PLAN_CMP_PACKED;

	if (op->code != BKEY_PLAN_RET && last)
		return false;
	if (op->arg && (!cmp || op->code != BKEY_PLAN_LOAD))
		return false;
	if (cmp && op->code != BKEY_PLAN_LOAD &&
	    op->code != BKEY_PLAN_EXTRACT && op->code != BKEY_PLAN_CMP &&
	    op->code != BKEY_PLAN_RET)
		return false;

	switch (op->code) {
	case BKEY_PLAN_HEADER:
		return plan->kind == BKEY_PLAN_UNPACK;
	case BKEY_PLAN_LOAD:
		return op->reg < BKEY_PLAN_NR_REGS && size_ok(op->size, 15) &&
		       op->off + op->size <= sizeof(struct bkey_packed) &&
		       op->arg <= 1 && (!cmp || op->size == 8);
	case BKEY_PLAN_EXTRACT:
		return op->reg < BKEY_PLAN_NR_REGS && size_ok(op->size, 12) &&
		       op->shift < op->size * 8 &&
		       op->width >= 1 && op->width <= 64;
	case BKEY_PLAN_FUNNEL:
		return op->reg < BKEY_PLAN_NR_REGS &&
		       op->reg2 < BKEY_PLAN_NR_REGS && op->reg != op->reg2 &&
		       size_ok(op->size, 12) &&
		       op->shift >= 1 && op->shift <= 63 &&
		       op->width >= 1 && op->width <= 64;
	case BKEY_PLAN_ADD:
		return op->reg < BKEY_PLAN_NR_REGS && size_ok(op->size, 12) &&
		       op->width <= 64 && blind_ok(op);
	case BKEY_PLAN_STORE:
		return op->reg < BKEY_PLAN_NR_REGS && size_ok(op->size, 12) &&
		       op->off + op->size <= plan_dst_size(plan);
	case BKEY_PLAN_STORE_IMM:
		return size_ok(op->size, 12) &&
		       op->off + op->size <= plan_dst_size(plan) && blind_ok(op);
	case BKEY_PLAN_CMP:
		return cmp && op->reg < BKEY_PLAN_NR_REGS &&
		       op->reg2 < BKEY_PLAN_NR_REGS && op->reg != op->reg2;
	case BKEY_PLAN_RET:
		return last;
	default:
		return false;
	}
}

/**
 * bkey_plan_validate - check a plan before any backend encodes it
 * @plan:	the plan
 *
 * Return: 0, or -EINVAL for a plan outside the semantics of
 * bkey_jit_plan.h (an empty plan included: bkey_plan_blind() empties one
 * it has no room for).
 */
int bkey_plan_validate(const struct bkey_plan *plan)
{
	unsigned int i;

	if (!plan || !plan->nr_ops || plan->nr_ops > BKEY_PLAN_MAX_OPS ||
	    plan->kind >= BKEY_PLAN_NR_KINDS)
		return -EINVAL;
	for (i = 0; i < plan->nr_ops; i++)
		if (!op_valid(plan, i))
			return -EINVAL;
	return 0;
}

/* Does @op read virtual register @reg? */
static bool op_reads(const struct bkey_plan_op *op, unsigned int reg)
{
	switch (op->code) {
	case BKEY_PLAN_FUNNEL:
	case BKEY_PLAN_CMP:
		return op->reg == reg || op->reg2 == reg;
	case BKEY_PLAN_EXTRACT:
	case BKEY_PLAN_ADD:
	case BKEY_PLAN_STORE:
		return op->reg == reg;
	default:
		return false;
	}
}

/**
 * bkey_plan_reg_dead_after - is a register's value unused after an op?
 * @plan:	the plan
 * @idx:	the op
 * @reg:	a virtual register
 *
 * Return: true if no op after @idx reads @reg before a LOAD overwrites it.
 */
bool bkey_plan_reg_dead_after(const struct bkey_plan *plan, unsigned int idx,
			      unsigned int reg)
{
	unsigned int i;

	for (i = idx + 1; i < plan->nr_ops; i++) {
		const struct bkey_plan_op *op = &plan->ops[i];

		if (op_reads(op, reg))
			return false;
		if (op->code == BKEY_PLAN_LOAD && op->reg == reg)
			return true;
	}
	return true;
}

/**
 * bkey_plan_has_cmp - does a plan compare (and so branch to an exit)?
 * @plan:	the plan
 *
 * Return: true if any op is a CMP: the backend's epilogue then needs the
 * exit its branches go to.
 */
bool bkey_plan_has_cmp(const struct bkey_plan *plan)
{
	unsigned int i;

	for (i = 0; i < plan->nr_ops; i++)
		if (plan->ops[i].code == BKEY_PLAN_CMP)
			return true;
	return false;
}

/**
 * bkey_plan_dead_reg - a virtual register free for scratch use after an op
 * @plan:	the plan
 * @idx:	the op
 * @except:	a register not to return (the op's own), or a value >=
 *		BKEY_PLAN_NR_REGS for none
 *
 * Return: the lowest such register, or -1 if every one is live.
 */
int bkey_plan_dead_reg(const struct bkey_plan *plan, unsigned int idx,
		       unsigned int except)
{
	unsigned int r;

	for (r = 0; r < BKEY_PLAN_NR_REGS; r++)
		if (r != except && !op_reads(&plan->ops[idx], r) &&
		    bkey_plan_reg_dead_after(plan, idx, r))
			return r;
	return -1;
}

static int emit_pass(const struct bkey_jit_backend *be,
		     struct bkey_jit_ctx *ctx)
{
	unsigned int i;

	if (be->preamble)
		be->preamble(ctx);
	ctx->entry = ctx->len;
	ctx->entry_insns = ctx->nr_insns;
	if (be->prologue)
		be->prologue(ctx);
	for (i = 0; i < ctx->plan->nr_ops && !ctx->err;) {
		if (ctx->plan->ops[i].code == BKEY_PLAN_RET)
			break;
		i += be->op(ctx, i);
	}
	be->epilogue(ctx);
	return ctx->err;
}

static void emit_ctx_init(struct bkey_jit_ctx *ctx,
			  const struct bkey_jit_backend *be,
			  const struct bkey_jit_caps *caps,
			  const struct bkey_plan *plan,
			  const struct bkey_jit_emit_opts *opts,
			  unsigned long ip, void *priv)
{
	static const struct bkey_jit_emit_opts no_opts;
	static const struct bkey_jit_caps no_caps;

	*ctx = (struct bkey_jit_ctx) {
		.cap	= be->max_len,
		.ip	= ip,
		.plan	= plan,
		.opts	= opts ?: &no_opts,
		.caps	= caps ?: &no_caps,
		.priv	= priv,
	};
}

static void emit_result(const struct bkey_jit_ctx *ctx,
			struct bkey_jit_emitted *out)
{
	out->len = ctx->len;
	out->entry = ctx->entry;
	out->nr_insns = ctx->nr_insns - ctx->entry_insns;
	memcpy(out->label, ctx->label, sizeof(out->label));
}

/*
 * The final pass: branches go to the labels the sizing pass found, and
 * the pass must land exactly where that one did.
 */
static int final_pass(const struct bkey_jit_backend *be,
		      struct bkey_jit_ctx *ctx, u8 *buf,
		      const struct bkey_jit_emitted *sized)
{
	struct bkey_jit_emitted res;
	int ret;

	ctx->buf = buf;
	memcpy(ctx->label, sized->label, sizeof(ctx->label));
	ret = emit_pass(be, ctx);
	if (ret)
		return ret;
	emit_result(ctx, &res);
	if (memcmp(&res, sized, sizeof(res)))
		return -EINVAL;	/* a backend bug: sizes must agree */
	return 0;
}

/**
 * bkey_jit_emit - encode a plan with a backend
 * @be:		the backend
 * @caps:	what the target does well (NULL: nothing)
 * @plan:	the plan; validated here
 * @opts:	security and ABI options (NULL: none)
 * @buf:	@be->max_len bytes of output, or NULL to only size
 * @ip:		the address @buf[0] runs at
 * @priv:	the backend's per-pass state, passed in the context
 * @out:	length, entry offset and instruction count from the entry
 *
 * With @buf, a sizing pass runs first and the final pass must produce
 * the same length and count, so the size a caller allocated from an
 * earlier sizing pass is the size written. On error @out is untouched
 * and nothing is written past @be->max_len.
 *
 * Return: 0 or -EINVAL.
 */
int bkey_jit_emit(const struct bkey_jit_backend *be,
		  const struct bkey_jit_caps *caps,
		  const struct bkey_plan *plan,
		  const struct bkey_jit_emit_opts *opts, u8 *buf,
		  unsigned long ip, void *priv, struct bkey_jit_emitted *out)
{
	struct bkey_jit_emitted sized;
	struct bkey_jit_ctx ctx;
	int ret;

	if (!out)
		return -EINVAL;
	ret = bkey_plan_validate(plan);
	if (ret)
		return ret;
	emit_ctx_init(&ctx, be, caps, plan, opts, ip, priv);
	ret = emit_pass(be, &ctx);
	if (ret)
		return ret;
	emit_result(&ctx, &sized);
	if (buf) {
		emit_ctx_init(&ctx, be, caps, plan, opts, ip, priv);
		ret = final_pass(be, &ctx, buf, &sized);
		if (ret)
			return ret;
	}
	*out = sized;
	return 0;
}

/**
 * bkey_jit_emit_final - the final pass alone, after bkey_jit_emit() sized
 * @be:		the backend
 * @caps:	as for the sizing call
 * @plan:	the plan that call validated, unchanged since
 * @opts:	as for the sizing call
 * @buf:	@be->max_len bytes of output
 * @ip:		the address @buf[0] runs at
 * @priv:	the backend's per-pass state
 * @sized:	the sizing call's result, which on success describes @buf
 *
 * Saves the cache, which sizes every function before it allocates, a
 * second validation and sizing pass per function.
 *
 * Return: 0 or -EINVAL (no buffer, or a pass that did not reproduce
 * @sized).
 */
int bkey_jit_emit_final(const struct bkey_jit_backend *be,
			const struct bkey_jit_caps *caps,
			const struct bkey_plan *plan,
			const struct bkey_jit_emit_opts *opts, u8 *buf,
			unsigned long ip, void *priv,
			const struct bkey_jit_emitted *sized)
{
	struct bkey_jit_ctx ctx;

	if (!buf || !sized)
		return -EINVAL;
	emit_ctx_init(&ctx, be, caps, plan, opts, ip, priv);
	return final_pass(be, &ctx, buf, sized);
}
