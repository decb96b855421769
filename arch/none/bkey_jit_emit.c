// SPDX-License-Identifier: GPL-2.0
/*
 * No code generator for this architecture: every unpacker uses the generic
 * C unpack.
 */
#include "bkey_jit_plan.h"

const char *const bkey_jit_arch_name;

int bkey_jit_arch_emit(const struct bkey_plan *plan,
		       const struct bkey_jit_emit_opts *opts, u8 *buf,
		       unsigned long ip, struct bkey_jit_emitted *out)
{
	return -EOPNOTSUPP;
}

int bkey_jit_arch_emit_final(const struct bkey_plan *plan,
			     const struct bkey_jit_emit_opts *opts, u8 *buf,
			     unsigned long ip,
			     const struct bkey_jit_emitted *sized)
{
	return -EOPNOTSUPP;
}

void bkey_jit_arch_fill_trap(void *area, size_t size)
{
	memset(area, 0, size);
}
