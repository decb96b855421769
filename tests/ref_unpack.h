/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Two references the JIT and the generic unpack are checked against,
 * both written from the format's definition, not from our code:
 *
 * - ref_unpack_bits(): one bit at a time. Packed bit p (0 = the most
 *   significant bit of the key's highest word) is bit 63 - p % 64 of word
 *   key_u64s - 1 - p / 64; fields are laid out from p = 0 in field order.
 * - bch_unpack_key(): the algorithm of Linux 6.12 bcachefs
 *   __bch2_bkey_unpack_key() (a shift register walking down the words),
 *   used as the "bcachefs generic" baseline in the benchmark.
 */
#ifndef _REF_UNPACK_H
#define _REF_UNPACK_H

#include "bkey_jit.h"

/* Width of each field once unpacked (inode, offset, snapshot, size, ver). */
static inline unsigned int ref_field_width(unsigned int field)
{
	return field == 0 || field == 1 || field == 5 ? 64 : 32;
}

static inline u64 ref_mask(unsigned int bits)
{
	return bits ? ~0ULL >> (64 - bits) : 0;
}

/* Fill in nr_fields and key_u64s from the widths, as bcachefs does. */
static inline void ref_format_finish(struct bkey_format *f)
{
	unsigned int i, bits = KEY_PACKED_BITS_START;

	f->nr_fields = BKEY_NR_FIELDS;
	for (i = 0; i < BKEY_NR_FIELDS; i++)
		bits += f->bits_per_field[i];
	f->key_u64s = DIV_ROUND_UP(bits, 64);
}

static inline u64 ref_word(const struct bkey_packed *k, unsigned int w)
{
	u64 v;

	memcpy(&v, (const u8 *)k + 8 * w, 8);
	return v;
}

static inline void ref_fields_bits(const struct bkey_format *f,
				   const struct bkey_packed *k, u64 out[6])
{
	unsigned int i, j, p = 0;

	for (i = 0; i < 6; i++) {
		u64 v = 0;

		for (j = 0; j < f->bits_per_field[i]; j++, p++) {
			unsigned int w = f->key_u64s - 1 - p / 64;
			unsigned int bit = 63 - p % 64;

			v = (v << 1) | ((ref_word(k, w) >> bit) & 1);
		}
		out[i] = v + f->field_offset[i];
	}
}

static inline void ref_unpack_bits(const struct bkey_format *f,
				   const struct bkey_packed *k, struct bkey *out)
{
	const u8 *s = (const u8 *)k;
	u64 v[6];

	ref_fields_bits(f, k, v);
	memset(out, 0, sizeof(*out));
	out->u64s = (u8)(s[0] + 5 - f->key_u64s);
	out->format = 1;
	out->needs_whiteout = s[1] >> 7;
	out->type = s[2];
	out->p.inode = v[0];
	out->p.offset = v[1];
	out->p.snapshot = (u32)v[2];
	out->size = (u32)v[3];
	out->bversion.hi = (u32)v[4];
	out->bversion.lo = v[5];
}

static inline void ref_unpack_pos_bits(const struct bkey_format *f,
				       const struct bkey_packed *k,
				       struct bpos *out)
{
	u64 v[6];

	ref_fields_bits(f, k, v);
	memset(out, 0, sizeof(*out));
	out->inode = v[0];
	out->offset = v[1];
	out->snapshot = (u32)v[2];
}

/* Set field bits at packed position p (inverse of ref_fields_bits). */
static inline void ref_pack_fields(const struct bkey_format *f,
				   struct bkey_packed *k, const u64 val[6])
{
	unsigned int i, j, p = 0;

	for (i = 0; i < 6; i++) {
		unsigned int b = f->bits_per_field[i];

		for (j = 0; j < b; j++, p++) {
			unsigned int w = f->key_u64s - 1 - p / 64;
			unsigned int bit = 63 - p % 64;
			u64 word = ref_word(k, w);
			u64 one = (val[i] >> (b - 1 - j)) & 1;

			word = (word & ~(1ULL << bit)) | (one << bit);
			memcpy((u8 *)k + 8 * w, &word, 8);
		}
	}
}

/* --- the Linux 6.12 bcachefs algorithm, as the benchmark baseline --- */

struct bch_unpack_state {
	const struct bkey_format *format;
	unsigned int bits;
	u64 w;
	const u64 *p;
};

static __always_inline u64 bch_get_inc_field(struct bch_unpack_state *s,
					     unsigned int field)
{
	unsigned int bits = s->format->bits_per_field[field];
	u64 v = 0, offset = le64_to_cpu(s->format->field_offset[field]);

	if (bits >= s->bits) {
		v = s->w >> (64 - bits);
		bits -= s->bits;
		s->p--;
		s->w = *s->p;
		s->bits = 64;
	}
	v |= (s->w >> 1) >> (63 - bits);
	s->w <<= bits;
	s->bits -= bits;
	return v + offset;
}

static inline struct bkey bch_unpack_key(const struct bkey_format *format,
					 const struct bkey_packed *in)
{
	const u64 *p = in->_data + format->key_u64s - 1;
	struct bch_unpack_state s = {
		.format = format, .bits = 64, .w = *p, .p = p,
	};
	struct bkey out;

	out.u64s	= BKEY_U64s + in->u64s - format->key_u64s;
	out.format	= KEY_FORMAT_CURRENT;
	out.needs_whiteout = in->needs_whiteout;
	out.type	= in->type;
	out.pad[0]	= 0;
	out.p.inode	= bch_get_inc_field(&s, BKEY_FIELD_INODE);
	out.p.offset	= bch_get_inc_field(&s, BKEY_FIELD_OFFSET);
	out.p.snapshot	= bch_get_inc_field(&s, BKEY_FIELD_SNAPSHOT);
	out.size	= bch_get_inc_field(&s, BKEY_FIELD_SIZE);
	out.bversion.hi	= bch_get_inc_field(&s, BKEY_FIELD_VERSION_HI);
	out.bversion.lo	= bch_get_inc_field(&s, BKEY_FIELD_VERSION_LO);
	return out;
}

/*
 * Compare two keys of format @f by position, one bit at a time from
 * packed bit 0 (inode's top bit) down to the last bit of snapshot: the
 * first bit that differs decides. -1, 0 or 1.
 */
static inline int ref_cmp_bits(const struct bkey_format *f,
			       const struct bkey_packed *l,
			       const struct bkey_packed *r)
{
	unsigned int p, n = f->bits_per_field[0] + f->bits_per_field[1] +
			    f->bits_per_field[2];

	for (p = 0; p < n; p++) {
		unsigned int w = f->key_u64s - 1 - p / 64;
		unsigned int bit = 63 - p % 64;
		unsigned int a = (ref_word(l, w) >> bit) & 1;
		unsigned int b = (ref_word(r, w) >> bit) & 1;

		if (a != b)
			return a < b ? -1 : 1;
	}
	return 0;
}

#endif /* _REF_UNPACK_H */
