/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The generic C unpack's bodies, private to bkey-jit: bkey_jit_format.c
 * exports them as functions, and bkey_jit.c inlines them into the unpack
 * slow path, so a key that has no code (mode off, a refused or capped
 * format, an arch without a JIT) costs one call, as in bcachefs, not two.
 */
#ifndef _BKEY_JIT_GENERIC_H
#define _BKEY_JIT_GENERIC_H

#include "bkey_jit.h"
#include "bkey_jit_plan.h"

/* A field one unaligned 8-byte load always covers. */
static __always_inline u64 field_get_single(const struct bkey_jit_field *fl,
					    const u8 *src)
{
	return ((get_unaligned_le64(src + fl->byte) >> fl->shift) & fl->mask) +
		fl->offset;
}

/*
 * A field that may straddle two words: wider than 57 bits and not at the
 * top of the key. Only offset and version.lo can be: the 32-bit fields
 * always fit one load, and inode, the first field, ends at the key's top
 * (field_precompute() clamps its load there).
 */
static __always_inline u64 field_get(const struct bkey_jit_field *fl,
				     const u8 *src)
{
	u64 v = get_unaligned_le64(src + fl->byte) >> fl->shift;

	if (unlikely(fl->straddle))
		v |= get_unaligned_le64(src + fl->byte + 8) << (64 - fl->shift);
	return (v & fl->mask) + fl->offset;
}

static __always_inline void
__bkey_jit_unpack_generic(const struct bkey_jit *j, struct bkey *dst,
			  const struct bkey_packed *src)
{
	const u8 *s = (const u8 *)src;
	const struct bkey_jit_field *fl = j->fields;
	u32 h = get_unaligned_le32(s);

	/* u64s adjusted modulo 256, needs_whiteout and type kept, format 1 */
	h = ((h + j->u64s_delta) & 0xff) |
	    (h & (0xff0000 | (BKEY_JIT_HDR_WHITEOUT_MASK << 8))) |
	    (KEY_FORMAT_CURRENT << 8);
	put_unaligned_le32(h, dst);
	dst->p.inode	= field_get_single(&fl[BKEY_FIELD_INODE], s);
	dst->p.offset	= field_get(&fl[BKEY_FIELD_OFFSET], s);
	dst->p.snapshot	= field_get_single(&fl[BKEY_FIELD_SNAPSHOT], s);
	dst->size	= field_get_single(&fl[BKEY_FIELD_SIZE], s);
	dst->bversion.hi = field_get_single(&fl[BKEY_FIELD_VERSION_HI], s);
	dst->bversion.lo = field_get(&fl[BKEY_FIELD_VERSION_LO], s);
}

static __always_inline void
__bkey_jit_unpack_pos_generic(const struct bkey_jit *j, struct bpos *dst,
			      const struct bkey_packed *src)
{
	const u8 *s = (const u8 *)src;
	const struct bkey_jit_field *fl = j->fields;

	dst->inode	= field_get_single(&fl[BKEY_FIELD_INODE], s);
	dst->offset	= field_get(&fl[BKEY_FIELD_OFFSET], s);
	dst->snapshot	= field_get_single(&fl[BKEY_FIELD_SNAPSHOT], s);
}

#endif /* _BKEY_JIT_GENERIC_H */
