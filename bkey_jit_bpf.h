/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The eBPF backend: a plan lowered to eBPF instructions, which the
 * kernel's own BPF JIT then compiles (bkey_jit_bpf.c), so JIT unpack works
 * from a module, under FineIBT, and on every arch with a BPF JIT.
 *
 * The program is called as every BPF program is, bpf_func(ctx, insnsi),
 * with a pointer to struct bkey_jit_bpf_ctx in R1. Why a context rather
 * than dst in R1 and src in R2: R2 is the instruction pointer by the
 * calling convention, and that a JIT leaves the caller's second argument
 * in R2 is true of x86-64 and arm64 but promised by none; two loads from
 * a context in the caller's stack frame (hot in L1) buy independence of
 * every JIT's register mapping.
 *
 * Register use: R1 = dst and R2 = src after the two context loads, plan
 * registers r0..r3 in R3, R4, R5, R0; R6 only as a scratch register when
 * no plan register is free (the JIT saves it then). No stack, no calls;
 * no jumps in an unpack: straight-line code ending in one EXIT. A compare
 * (ctx dst = l, src = r) is the one program with jumps, all forward, to
 * its three EXITs returning 0, -1 or 1 in R0.
 */
#ifndef _BKEY_JIT_BPF_H
#define _BKEY_JIT_BPF_H

#include "bkey_jit_emit.h"

/* Only the lowering needs its layout (compat/bkey_jit_bpf_insn.h). */
struct bpf_insn;

/* What the program receives in R1. */
struct bkey_jit_bpf_ctx {
	void		*dst;	/* struct bkey or struct bpos, 8-byte aligned */
	const void	*src;	/* struct bkey_packed, 8-byte aligned */
};

/*
 * A format's programs: full key and position only. The compare is lowered
 * (bkey_jit_bpf_lower() takes a compare plan, and the tests run it) but
 * not loaded: in the kernel the BPF calling convention (the context, the
 * JIT's prologue and epilogue, the indirect call) costs a compare more
 * than the generic C compare it would replace (debugfs bench under
 * icount, x86-64: 8 instructions more per compare, through the same slow
 * path), so eBPF formats compare with the generic C.
 */
#define BKEY_JIT_BPF_NR_PROGS	2

/* Longest program, in instructions (an LD_IMM64 counts as two). */
#define BKEY_JIT_BPF_MAX_INSNS	96

int bkey_jit_bpf_lower(const struct bkey_plan *plan,
		       const struct bkey_jit_caps *caps,
		       struct bpf_insn *insns, unsigned int *nr_slots,
		       unsigned int *nr_insns);

/*
 * A format's programs (full key, position only), JIT-compiled by the
 * kernel's BPF JIT (bkey_jit_bpf.c; in userspace, run by the test
 * interpreter). Opaque to the cache, which only compiles, calls and frees.
 */
struct bkey_jit_bpf;

#if IS_ENABLED(CONFIG_BPF_JIT) || !defined(__KERNEL__)
struct bkey_jit_bpf *bkey_jit_bpf_compile(const struct bkey_plan plan[BKEY_JIT_BPF_NR_PROGS]);
void bkey_jit_bpf_free(struct bkey_jit_bpf *b);
unsigned int bkey_jit_bpf_insns(const struct bkey_jit_bpf *b, unsigned int prog);
unsigned int bkey_jit_bpf_code_len(const struct bkey_jit_bpf *b);
#ifdef __KERNEL__
#include <linux/filter.h>

struct bkey_jit_bpf {
	struct bpf_prog	*prog[BKEY_JIT_BPF_NR_PROGS]; /* full, position */
	unsigned int	insns[BKEY_JIT_BPF_NR_PROGS];
};

/*
 * Inline into the unpack slow path, so an eBPF unpacker costs one call
 * (the slow path) plus the program's: through bpf_func with its own type,
 * so kCFI and FineIBT check it.
 */
static __always_inline unsigned int
bkey_jit_bpf_call(const struct bpf_prog *prog, void *dst, const void *src)
{
	struct bkey_jit_bpf_ctx ctx = { .dst = dst, .src = src };

	return prog->bpf_func(&ctx, prog->insnsi);
}

static __always_inline void bkey_jit_bpf_unpack(const struct bkey_jit_bpf *b,
						struct bkey *dst,
						const struct bkey_packed *src)
{
	bkey_jit_bpf_call(b->prog[0], dst, src);
}

static __always_inline void
bkey_jit_bpf_unpack_pos(const struct bkey_jit_bpf *b, struct bpos *dst,
			const struct bkey_packed *src)
{
	bkey_jit_bpf_call(b->prog[1], dst, src);
}

#else
/* userspace: the test interpreter runs the program */
void bkey_jit_bpf_unpack(const struct bkey_jit_bpf *b, struct bkey *dst,
			 const struct bkey_packed *src);
void bkey_jit_bpf_unpack_pos(const struct bkey_jit_bpf *b, struct bpos *dst,
			     const struct bkey_packed *src);
#endif
#else
/* No BPF JIT in this kernel: the eBPF backend never compiles anything. */
static inline struct bkey_jit_bpf *
bkey_jit_bpf_compile(const struct bkey_plan plan[BKEY_JIT_BPF_NR_PROGS])
{
	return ERR_PTR(-ENODEV);
}

static inline void bkey_jit_bpf_free(struct bkey_jit_bpf *b)
{
}

static inline void bkey_jit_bpf_unpack(const struct bkey_jit_bpf *b,
				       struct bkey *dst,
				       const struct bkey_packed *src)
{
}

static inline void bkey_jit_bpf_unpack_pos(const struct bkey_jit_bpf *b,
					   struct bpos *dst,
					   const struct bkey_packed *src)
{
}

static inline unsigned int bkey_jit_bpf_insns(const struct bkey_jit_bpf *b,
					      unsigned int prog)
{
	return 0;
}

static inline unsigned int bkey_jit_bpf_code_len(const struct bkey_jit_bpf *b)
{
	return 0;
}
#endif

#endif /* _BKEY_JIT_BPF_H */
