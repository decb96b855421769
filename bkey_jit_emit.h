/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one backend driver: what every code generator shares, so that a
 * backend is only its capabilities and its encoders (the shape of the
 * kernel's BPF JITs: a context, one writer, prologue/body/epilogue, a
 * sizing pass checked against the final pass).
 *
 * The driver checks the plan once (bkey_plan_validate()), runs a sizing
 * pass with no buffer and, given one, the final pass, and refuses a final
 * pass whose length differs. A backend supplies:
 *
 *   preamble	bytes before the function entry (a kCFI type hash)
 *   prologue	the first instructions at the entry (ENDBR64, BTI C, the
 *		eBPF context loads)
 *   op		the encoding of plan op @idx; it may consume the ops after
 *		it too (a fused load and extract) and returns how many
 *   epilogue	the return (and anything a backend held back)
 *
 * and writes code only through bkey_jit_emit_insn(), one whole
 * instruction at a time, so the instruction count is exact and the
 * buffer bound is checked in one place.
 *
 * Forward branches (a compare's early exits) go to labels the backend
 * marks with bkey_jit_emit_label(); the sizing pass finds where they
 * are, the final pass branches there, and a backend encodes a branch at
 * the same length in both passes.
 */
#ifndef _BKEY_JIT_EMIT_H
#define _BKEY_JIT_EMIT_H

#include "bkey_jit_plan.h"

/* What the target does well; the encoders choose sequences by these. */
struct bkey_jit_caps {
	bool	unaligned;	/* loads/stores at any byte offset are fast */
	bool	funnel_shift;	/* (hi:lo) >> n in one instruction */
	bool	bitfield_extract; /* (r >> shift) & mask(width) in one */
};

struct bkey_jit_ctx {
	u8			*buf;		/* NULL in the sizing pass */
	unsigned int		cap;		/* bytes @buf holds */
	unsigned int		len;		/* bytes emitted */
	unsigned int		nr_insns;	/* instructions emitted */
	unsigned int		entry;		/* offset of the entry */
	unsigned int		entry_insns;	/* nr_insns at the entry */
	unsigned long		ip;		/* where @buf[0] runs */
	const struct bkey_plan	*plan;
	const struct bkey_jit_emit_opts *opts;
	const struct bkey_jit_caps *caps;
	void			*priv;		/* the backend's own state */
	unsigned int		label[BKEY_JIT_NR_LABELS]; /* offsets */
	int			err;
};

struct bkey_jit_backend {
	const char	*name;
	unsigned int	max_len;	/* bytes of one function at most */
	void		(*preamble)(struct bkey_jit_ctx *ctx);
	void		(*prologue)(struct bkey_jit_ctx *ctx);
	unsigned int	(*op)(struct bkey_jit_ctx *ctx, unsigned int idx);
	void		(*epilogue)(struct bkey_jit_ctx *ctx);
};

/**
 * bkey_jit_emit_insn - append one instruction
 * @ctx:	the emitter context
 * @insn:	its encoding
 * @len:	its length in bytes, at least 1
 *
 * The only writer of @ctx->buf. Past the backend's bound the pass fails
 * with -EINVAL and nothing more is written; in the sizing pass only the
 * length and the count move. Inline: it runs for every instruction of
 * every pass, and a compile is mostly that.
 */
static inline void bkey_jit_emit_insn(struct bkey_jit_ctx *ctx,
				      const void *insn, unsigned int len)
{
	const u8 *b = insn;
	unsigned int i;

	if (ctx->err)
		return;
	if (!len || len > ctx->cap - ctx->len) {
		ctx->err = -EINVAL;
		return;
	}
	/* a few bytes: a loop, not a call to memcpy() */
	if (ctx->buf)
		for (i = 0; i < len; i++)
			ctx->buf[ctx->len + i] = b[i];
	ctx->len += len;
	ctx->nr_insns++;
}

void bkey_jit_emit_label(struct bkey_jit_ctx *ctx, unsigned int id);
int bkey_plan_validate(const struct bkey_plan *plan);
bool bkey_plan_reg_dead_after(const struct bkey_plan *plan, unsigned int idx,
			      unsigned int reg);
int bkey_plan_dead_reg(const struct bkey_plan *plan, unsigned int idx,
		       unsigned int except);
bool bkey_plan_has_cmp(const struct bkey_plan *plan);
int bkey_jit_emit(const struct bkey_jit_backend *be,
		  const struct bkey_jit_caps *caps,
		  const struct bkey_plan *plan,
		  const struct bkey_jit_emit_opts *opts, u8 *buf,
		  unsigned long ip, void *priv, struct bkey_jit_emitted *out);
int bkey_jit_emit_final(const struct bkey_jit_backend *be,
			const struct bkey_jit_caps *caps,
			const struct bkey_plan *plan,
			const struct bkey_jit_emit_opts *opts, u8 *buf,
			unsigned long ip, void *priv,
			const struct bkey_jit_emitted *sized);

#endif /* _BKEY_JIT_EMIT_H */
