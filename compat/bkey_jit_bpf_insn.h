/* SPDX-License-Identifier: GPL-2.0 */
/*
 * struct bpf_insn and the instruction-building macros for the eBPF
 * lowering: the kernel's own in the kernel build, binary-identical copies
 * in userspace (compat/bpf_insn_user.h). Like bkey_jit_compat.h, the one
 * place that knows which.
 */
#ifndef _BKEY_JIT_BPF_INSN_H
#define _BKEY_JIT_BPF_INSN_H

#ifdef __KERNEL__
#include <linux/filter.h>
#else
#include "bpf_insn_user.h"
#endif

#endif /* _BKEY_JIT_BPF_INSN_H */
