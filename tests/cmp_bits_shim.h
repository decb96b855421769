/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What Linux 6.12's __bkey_cmp_bits() (fs/bcachefs/bkey_cmp.h, cut out at
 * build time by scripts/cmp-bits.sh) expects from bkey.h, little-endian:
 * the key's high word is its last, the next word is the one below.
 */
#ifndef _CMP_BITS_SHIM_H
#define _CMP_BITS_SHIM_H

#include "bkey_jit.h"

#define high_bit_offset		0
#define nth_word(p, n)		((p) - (n))
#define next_word(p)		nth_word(p, 1)
#ifndef cmp_int
#define cmp_int(l, r)		(((l) > (r)) - ((l) < (r)))
#endif

#endif /* _CMP_BITS_SHIM_H */
