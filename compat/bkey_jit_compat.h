/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place that knows whether bkey-jit is built in the kernel or in
 * userspace. Everything else includes this header and writes kernel C.
 */
#ifndef _BKEY_JIT_COMPAT_H
#define _BKEY_JIT_COMPAT_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/bug.h>
#include <linux/build_bug.h>
#include <linux/compiler.h>
#include <linux/err.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/jump_label.h>
#include <linux/random.h>
#include <linux/refcount.h>
#include <linux/unaligned.h>
#include <asm/byteorder.h>

/* Constant blinding is always on in the kernel. */
static inline bool bkey_jit_blinding_enabled(void)
{
	return true;
}

#else
#include "bkey_jit_compat_user.h"
#endif /* __KERNEL__ */

#endif /* _BKEY_JIT_COMPAT_H */
