/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the old bcachefs emitter (Linux 6.12 fs/bcachefs/bkey.c, compiled
 * out there; cut out at build time by scripts/old-emitter.sh) needs in
 * userspace: the bcachefs key types and kernel helpers come from our
 * compat layer, and BUG()/BUG_ON() record the line instead of crashing,
 * so that the benchmark can report a format the emitter refuses.
 */
#ifndef _OLD_EMIT_SHIM_H
#define _OLD_EMIT_SHIM_H

#include "bkey_jit_types.h"

/* Source line of the first BUG()/BUG_ON() hit since the caller reset it. */
extern int bch_old_emit_bug;

#define BUG()		(bch_old_emit_bug = bch_old_emit_bug ?: __LINE__)
#define BUG_ON(c)	do { if (c) BUG(); } while (0)

/*
 * The emitter's entry point: writes the unpack function for @format to
 * @out (no bound: 256 bytes hold the longest) and returns its length.
 */
int bch2_compile_bkey_format(const struct bkey_format *format, void *out);

#endif /* _OLD_EMIT_SHIM_H */
