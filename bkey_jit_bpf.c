// SPDX-License-Identifier: GPL-2.0
/*
 * The eBPF backend's kernel half: a lowered plan becomes a struct
 * bpf_prog, which the kernel's own BPF JIT compiles. It needs no
 * executable-memory allocator and no change to the core kernel, so it
 * works from a module (bcachefs.ko), under FineIBT (the BPF JIT emits
 * the preamble the CFI mode wants) and on any arch with a BPF JIT.
 *
 * The program never meets the verifier: it is built by
 * bkey_jit_bpf_lower() from a validated plan, straight-line, with loads
 * only inside the packed key and stores only inside the destination, the
 * same guarantees the native backends rely on. It is used only if it was
 * JIT-compiled; the BPF interpreter would be slower than the generic C.
 */
#include <linux/bpf.h>
#include <linux/filter.h>

#include "bkey_jit_bpf.h"

/*
 * Which loads the target's JIT turns into fast instructions. riscv64
 * traps on misaligned accesses (and emulates them slowly); x86-64 and
 * arm64 do not care.
 */
static const struct bkey_jit_caps bkey_jit_bpf_caps = {
	.unaligned = IS_ENABLED(CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS),
};

static void bkey_jit_bpf_release(struct bpf_prog *prog)
{
	if (!IS_ERR_OR_NULL(prog))
		bpf_prog_free(prog);
}

/*
 * The program is lowered straight into the allocation: bpf_prog_alloc()
 * rounds up to a page anyway. Its type stays BPF_PROG_TYPE_UNSPEC, as for
 * the kernel's own converted classic programs: no maps, no helpers, no
 * tail calls.
 */
static struct bpf_prog *bkey_jit_bpf_load(const struct bkey_plan *plan,
					  unsigned int *nr_insns)
{
	struct bpf_prog *prog;
	unsigned int slots;
	int err;

	prog = bpf_prog_alloc(bpf_prog_size(BKEY_JIT_BPF_MAX_INSNS), 0);
	if (!prog)
		return ERR_PTR(-ENOMEM);

	err = bkey_jit_bpf_lower(plan, &bkey_jit_bpf_caps, prog->insnsi,
				 &slots, nr_insns);
	if (err) {
		bpf_prog_free(prog);
		return ERR_PTR(err);
	}
	prog->len = slots;

	/* May return another prog (constant blinding with bpf_jit_harden). */
	prog = bpf_prog_select_runtime(prog, &err);
	if (!err && !prog->jited)
		err = -EOPNOTSUPP;
	if (err) {
		bpf_prog_free(prog);
		return ERR_PTR(err);
	}
	return prog;
}

/**
 * bkey_jit_bpf_compile - compile a format's plans with the BPF JIT
 * @plan:	the full-key, the position-only and the compare plan, blinded
 *
 * Process context: allocates with GFP_KERNEL and runs the JIT.
 *
 * Return: the programs, or an ERR_PTR(): -ENOMEM, -EINVAL for a plan the
 * lowering refuses, -EOPNOTSUPP when the program was not JIT-compiled
 * (bpf_jit_enable off, or the JIT failed); -ENODEV (the stub) when the
 * kernel has no BPF JIT at all.
 */
struct bkey_jit_bpf *bkey_jit_bpf_compile(const struct bkey_plan plan[BKEY_JIT_BPF_NR_PROGS])
{
	struct bkey_jit_bpf *b = kzalloc(sizeof(*b), GFP_KERNEL);
	int i;

	if (!b)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < BKEY_JIT_BPF_NR_PROGS; i++) {
		b->prog[i] = bkey_jit_bpf_load(&plan[i], &b->insns[i]);
		if (IS_ERR(b->prog[i])) {
			struct bkey_jit_bpf *err = ERR_CAST(b->prog[i]);

			b->prog[i] = NULL;
			bkey_jit_bpf_free(b);
			return err;
		}
	}
	return b;
}

/**
 * bkey_jit_bpf_free - free the programs of bkey_jit_bpf_compile()
 * @b:		the programs; NULL and error pointers are ignored
 *
 * The caller guarantees no CPU can still be running them (the cache frees
 * after its RCU and tasks-RCU grace periods).
 */
void bkey_jit_bpf_free(struct bkey_jit_bpf *b)
{
	int i;

	if (IS_ERR_OR_NULL(b))
		return;
	for (i = 0; i < BKEY_JIT_BPF_NR_PROGS; i++)
		bkey_jit_bpf_release(b->prog[i]);
	kfree(b);
}

/**
 * bkey_jit_bpf_insns - eBPF instructions of one program
 * @b:		the programs
 * @prog:	0 full key, 1 position only
 *
 * Return: the count, an LD_IMM64 counting once.
 */
unsigned int bkey_jit_bpf_insns(const struct bkey_jit_bpf *b, unsigned int prog)
{
	return b->insns[prog];
}

/**
 * bkey_jit_bpf_code_len - machine code bytes the BPF JIT produced
 * @b:		the programs
 *
 * Return: the programs' JIT image lengths, added.
 */
unsigned int bkey_jit_bpf_code_len(const struct bkey_jit_bpf *b)
{
	unsigned int i, len = 0;

	for (i = 0; i < BKEY_JIT_BPF_NR_PROGS; i++)
		len += b->prog[i]->jited_len;
	return len;
}
