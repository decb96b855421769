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
 * no plan register is free (the JIT saves it then). No stack, no calls,
 * no jumps: straight-line code ending in one EXIT.
 */
#ifndef _BKEY_JIT_BPF_H
#define _BKEY_JIT_BPF_H

#include "bkey_jit_emit.h"
#include "compat/bkey_jit_bpf_insn.h"

/* What the program receives in R1. */
struct bkey_jit_bpf_ctx {
	void		*dst;	/* struct bkey or struct bpos, 8-byte aligned */
	const void	*src;	/* struct bkey_packed, 8-byte aligned */
};

/* Longest program, in instructions (an LD_IMM64 counts as two). */
#define BKEY_JIT_BPF_MAX_INSNS	96

int bkey_jit_bpf_lower(const struct bkey_plan *plan,
		       const struct bkey_jit_caps *caps,
		       struct bpf_insn *insns, unsigned int *nr_slots,
		       unsigned int *nr_insns);

#endif /* _BKEY_JIT_BPF_H */
