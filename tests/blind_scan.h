/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Adversarial formats for the constant-blinding tests, shared by the
 * userspace differential test and KUnit: a byte pattern (ENDBR64,
 * ENDBR32, ret, syscall, random 4-byte ones) is planted in a field's
 * offset at a chosen byte position, and emitted code is scanned for it.
 */
#ifndef _BLIND_SCAN_H
#define _BLIND_SCAN_H

#include "tests/ref_unpack.h"

struct blind_pattern {
	const char	*name;
	u8		b[4];
	u8		len;
	bool		scanned;	/* high entropy: must never appear */
};

/* Fixed patterns; the tests add random 4-byte ones. */
static const struct blind_pattern blind_fixed_patterns[] = {
	{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, true },
	{ "endbr32", { 0xf3, 0x0f, 0x1e, 0xfb }, 4, true },
	{ "ret", { 0xc3 }, 1, false },
	{ "syscall", { 0x0f, 0x05 }, 2, false },
};

/* Field widths the planted field gets: a constant, and two packed. */
static const u8 blind_bits[] = { 0, 9, 20 };
#define BLIND_NR_VARIANTS	3

/*
 * A random 4-byte pattern of high entropy: four distinct bytes, none of
 * them 0x00, 0xff or 0xcc (sign fill and trap fill).
 */
static inline void blind_random_pattern(struct blind_pattern *p, u64 r)
{
	unsigned int i, j;

	p->name = "random";
	p->len = 4;
	p->scanned = true;
	for (i = 0; i < 4; i++) {
		u8 c;

		do {
			c = r;
			r = (r >> 8) | (r << 56);
			r += 0x9e3779b97f4a7c15ULL;
			for (j = 0; j < i && p->b[j] != c; j++)
				;
		} while (c == 0x00 || c == 0xff || c == 0xcc || j < i);
		p->b[i] = c;
	}
}

/*
 * The format with @p at byte @pos of field @field's offset (@fill in the
 * other bytes), the field @bits wide. Variant 0: other fields empty;
 * 1: other fields constants carrying @p at byte 0; 2: other fields
 * packed, their offsets @fill. Return false where no valid format exists.
 */
static inline bool blind_plant(struct bkey_format *f, const struct blind_pattern *p,
			       unsigned int field, unsigned int pos,
			       unsigned int bits, unsigned int variant, u64 fill)
{
	unsigned int w = ref_field_width(field), i;
	u64 planted = 0, off;

	if (8 * (pos + p->len) > w || bits >= w)
		return false;
	for (i = 0; i < p->len; i++)
		planted |= (u64)p->b[i] << (8 * i);

	memset(f, 0, sizeof(*f));
	for (i = 0; i < BKEY_NR_FIELDS; i++) {
		unsigned int wi = ref_field_width(i);

		if (i == field || variant == 0)
			continue;
		if (variant == 1) {
			f->field_offset[i] = cpu_to_le64(planted & ref_mask(wi));
		} else {
			f->bits_per_field[i] = wi / 4;
			f->field_offset[i] = cpu_to_le64(fill & (ref_mask(wi) >> 2));
		}
	}

	off = fill & ~(ref_mask(8 * p->len) << (8 * pos));
	off = (off | planted << (8 * pos)) & ref_mask(w);
	if (off > ref_mask(w) - ref_mask(bits))
		off &= ~(ref_mask(8 * pos));	/* clear the fill below */
	f->bits_per_field[field] = bits;
	f->field_offset[field] = cpu_to_le64(off);
	ref_format_finish(f);
	return !bkey_format_validate(f, NULL, 0);
}

/* Every field x byte position x width x variant, numbered. */
#define BLIND_NR_PLANTS	(BKEY_NR_FIELDS * 8 * ARRAY_SIZE(blind_bits) * \
			 BLIND_NR_VARIANTS)

/* blind_plant() for combination @n < BLIND_NR_PLANTS. */
static inline bool blind_plant_nth(struct bkey_format *f,
				   const struct blind_pattern *p,
				   unsigned int n, u64 fill)
{
	unsigned int v = n % BLIND_NR_VARIANTS;
	unsigned int bi = n / BLIND_NR_VARIANTS % ARRAY_SIZE(blind_bits);
	unsigned int pos = n / BLIND_NR_VARIANTS / ARRAY_SIZE(blind_bits) % 8;
	unsigned int field = n / BLIND_NR_VARIANTS / ARRAY_SIZE(blind_bits) / 8;

	return blind_plant(f, p, field, pos, blind_bits[bi], v, fill);
}

/* Is @at one of the @nr offsets in @ok? */
static inline bool blind_allowed(unsigned int at, const unsigned int *ok,
				 unsigned int nr)
{
	while (nr--)
		if (ok[nr] == at)
			return true;
	return false;
}

/* Occurrences of the 4 bytes @pat in @code other than at @ok[0..nr). */
static inline unsigned int blind_count(const u8 *code, unsigned int len,
				       const u8 *pat, const unsigned int *ok,
				       unsigned int nr)
{
	unsigned int i, n = 0;

	for (i = 0; i + 4 <= len; i++)
		if (!memcmp(code + i, pat, 4) && !blind_allowed(i, ok, nr))
			n++;
	return n;
}

/*
 * The scan of one compiled unpacker (its three functions: unpack,
 * position, compare; preambles and padding included): @p nowhere when it
 * is a scanned pattern, ENDBR64 and ENDBR32 only at the entries. Return
 * the number of hits.
 */
#define BLIND_NR_ENTRIES	3

static inline unsigned int blind_scan(const u8 *code, unsigned int len,
				      const unsigned int entry[BLIND_NR_ENTRIES],
				      const struct blind_pattern *p)
{
	unsigned int n = 0, i;

	for (i = 0; i < 2; i++)
		n += blind_count(code, len, blind_fixed_patterns[i].b, entry,
				 BLIND_NR_ENTRIES);
	/* ENDBR patterns planted are counted above, entries allowed. */
	if (p->scanned && memcmp(p->b, blind_fixed_patterns[0].b, 4) &&
	    memcmp(p->b, blind_fixed_patterns[1].b, 4))
		n += blind_count(code, len, p->b, NULL, 0);
	return n;
}

/* The cached code of one unpacker, for the scan. */
struct blind_code {
	const struct bkey_jit	*j;
	const u8		*code;
	unsigned int		len;
	unsigned int		entry[BLIND_NR_ENTRIES];
};

static inline void blind_find_code(const struct bkey_jit *j,
				   const struct bkey_jit_info *info, void *arg)
{
	struct blind_code *c = arg;

	if (j != c->j || !info->code)
		return;
	c->code = info->code;
	c->len = info->code_len;
	c->entry[0] = info->unpack_entry;
	c->entry[1] = info->pos_entry;
	c->entry[2] = info->cmp_entry;
}

#endif /* _BLIND_SCAN_H */
