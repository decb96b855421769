/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small eBPF interpreter for the userspace tests: only the instructions
 * the bkey-jit lowering uses, written from the eBPF instruction-set
 * specification (RFC 9669), and strict where a real program would be
 * wrong: every memory access must fall inside a region the caller grants
 * (and, when asked, be naturally aligned), no register may be read
 * before it is written, shift counts must be in range, the program must
 * end in EXIT.
 */
#ifndef _EBPF_INTERP_H
#define _EBPF_INTERP_H

#include "compat/bkey_jit_bpf_insn.h"

struct ebpf_region {
	const void	*base;
	unsigned int	len;
	bool		writable;
};

#define EBPF_MAX_REGIONS	4

struct ebpf_vm {
	struct ebpf_region	regions[EBPF_MAX_REGIONS];
	unsigned int		nr_regions;
	bool			strict_align;	/* trap on a misaligned access */
	bool			want_r0;	/* EXIT must return a value */
	unsigned long		executed;	/* instructions run, LD_IMM64 once */
	char			err[128];	/* why the run failed */
};

int ebpf_run(struct ebpf_vm *vm, const struct bpf_insn *prog,
	     unsigned int len, u64 r1, u64 *r0);

#endif /* _EBPF_INTERP_H */
