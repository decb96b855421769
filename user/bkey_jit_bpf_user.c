// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace stand-in for the kernel half of the eBPF backend
 * (bkey_jit_bpf.c): where the kernel hands the lowered program to its BPF
 * JIT, the userspace build runs it in the test interpreter
 * (tests/ebpf_interp.c), with the program granted only its context, the
 * packed key and the destination. A program the interpreter stops is a
 * lowering bug: it aborts the test run.
 */
#include "bkey_jit_bpf.h"
#include "compat/bkey_jit_bpf_insn.h"
#include "tests/ebpf_interp.h"

struct bkey_jit_bpf {
	struct bpf_insn	insns[BKEY_JIT_BPF_NR_PROGS][BKEY_JIT_BPF_MAX_INSNS];
	unsigned int	len[BKEY_JIT_BPF_NR_PROGS];	/* slots */
	unsigned int	nr_insns[BKEY_JIT_BPF_NR_PROGS];
};

/* The hosts the userspace build runs on load misaligned words fast. */
static const struct bkey_jit_caps bkey_jit_bpf_user_caps = {
	.unaligned = true,
};

struct bkey_jit_bpf *bkey_jit_bpf_compile(const struct bkey_plan plan[BKEY_JIT_BPF_NR_PROGS])
{
	struct bkey_jit_bpf *b = calloc(1, sizeof(*b));
	int i, ret;

	if (!b)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < BKEY_JIT_BPF_NR_PROGS; i++) {
		ret = bkey_jit_bpf_lower(&plan[i], &bkey_jit_bpf_user_caps,
					 b->insns[i], &b->len[i], &b->nr_insns[i]);
		if (ret) {
			free(b);
			return ERR_PTR(ret);
		}
	}
	return b;
}

void bkey_jit_bpf_free(struct bkey_jit_bpf *b)
{
	if (!IS_ERR_OR_NULL(b))
		free(b);
}

static void bkey_jit_bpf_run(const struct bkey_jit_bpf *b, bool pos, void *dst,
			     const void *src)
{
	struct bkey_jit_bpf_ctx ctx = { .dst = dst, .src = src };
	struct ebpf_vm vm = {
		.regions = {
			{ &ctx, sizeof(ctx), false },
			{ src, sizeof(struct bkey_packed), false },
			{ dst, pos ? sizeof(struct bpos) : sizeof(struct bkey), true },
		},
		.nr_regions = 3,
	};

	if (ebpf_run(&vm, b->insns[pos], b->len[pos], (u64)(unsigned long)&ctx,
		     NULL)) {
		fprintf(stderr, "bkey_jit_bpf: program stopped: %s\n", vm.err);
		abort();
	}
}

void bkey_jit_bpf_unpack(const struct bkey_jit_bpf *b, struct bkey *dst,
			 const struct bkey_packed *src)
{
	bkey_jit_bpf_run(b, false, dst, src);
}

void bkey_jit_bpf_unpack_pos(const struct bkey_jit_bpf *b, struct bpos *dst,
			     const struct bkey_packed *src)
{
	bkey_jit_bpf_run(b, true, dst, src);
}

unsigned int bkey_jit_bpf_insns(const struct bkey_jit_bpf *b, unsigned int prog)
{
	return b->nr_insns[prog];
}

/* No machine code here: the program's own bytes. */
unsigned int bkey_jit_bpf_code_len(const struct bkey_jit_bpf *b)
{
	return (b->len[0] + b->len[1]) * sizeof(struct bpf_insn);
}
