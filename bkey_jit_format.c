// SPDX-License-Identifier: GPL-2.0
/*
 * Key formats: validation, field geometry and the generic C unpack.
 *
 * A packed key is one little-endian integer of key_u64s words. Fields are
 * stored from its most significant bit down, inode first; the 24-bit
 * header (u64s, format/needs_whiteout, type) sits in the low bits of word
 * 0. So field i occupies bits [lsb, lsb + bits) of that integer, with
 * lsb = 64 * key_u64s - (bits of fields 0..i).
 */
#include "bkey_jit.h"
#include "bkey_jit_plan.h"
#include "bkey_jit_generic.h"

/* Width of each field once unpacked, in bits (BKEY_FORMAT_CURRENT). */
static const u8 unpacked_bits[BKEY_NR_FIELDS] = {
	[BKEY_FIELD_INODE]	= 64,
	[BKEY_FIELD_OFFSET]	= 64,
	[BKEY_FIELD_SNAPSHOT]	= 32,
	[BKEY_FIELD_SIZE]	= 32,
	[BKEY_FIELD_VERSION_HI]	= 32,
	[BKEY_FIELD_VERSION_LO]	= 64,
};

/* Where each field lands in struct bkey and in struct bpos. */
const struct bkey_jit_field_dst bkey_jit_field_dst[BKEY_NR_FIELDS] = {
	[BKEY_FIELD_INODE]	= { offsetof(struct bkey, p.inode), 8,
				    offsetof(struct bpos, inode) },
	[BKEY_FIELD_OFFSET]	= { offsetof(struct bkey, p.offset), 8,
				    offsetof(struct bpos, offset) },
	[BKEY_FIELD_SNAPSHOT]	= { offsetof(struct bkey, p.snapshot), 4,
				    offsetof(struct bpos, snapshot) },
	[BKEY_FIELD_SIZE]	= { offsetof(struct bkey, size), 4, 0 },
	[BKEY_FIELD_VERSION_HI]	= { offsetof(struct bkey, bversion.hi), 4, 0 },
	[BKEY_FIELD_VERSION_LO]	= { offsetof(struct bkey, bversion.lo), 8, 0 },
};

static inline u64 low_bits_mask(unsigned int bits)
{
	return bits ? ~0ULL >> (64 - bits) : 0;
}

static const char *const bkey_format_invalid_msg[] = {
	[BKEY_FORMAT_OK]		= "valid",
	[BKEY_FORMAT_BAD_NR_FIELDS]	= "incorrect number of fields",
	[BKEY_FORMAT_FIELD_TOO_WIDE]	= "field wider than its unpacked field",
	[BKEY_FORMAT_FIELD_OFFSET_WIDE]	= "full-width field with a nonzero offset",
	[BKEY_FORMAT_FIELD_OVERFLOWS]	= "field offset plus largest packed value overflows",
	[BKEY_FORMAT_BAD_KEY_U64S]	= "key_u64s does not match the bits in the format",
};

/*
 * bcachefs's own test (bch2_bkey_format_field_overflows()): can a packed
 * value plus the field's offset exceed what the unpacked field holds?
 */
static enum bkey_format_invalid field_check(const struct bkey_format *f,
					    unsigned int i)
{
	unsigned int bits = f->bits_per_field[i];
	u64 offset = le64_to_cpu(f->field_offset[i]);
	u64 unpacked_mask = low_bits_mask(unpacked_bits[i]);

	if (bits > unpacked_bits[i])
		return BKEY_FORMAT_FIELD_TOO_WIDE;
	if (bits == unpacked_bits[i] && offset)
		return BKEY_FORMAT_FIELD_OFFSET_WIDE;
	if (((offset + low_bits_mask(bits)) & unpacked_mask) < offset)
		return BKEY_FORMAT_FIELD_OVERFLOWS;
	return BKEY_FORMAT_OK;
}

static int format_error(char *err, size_t err_size,
			enum bkey_format_invalid why, int field,
			const struct bkey_format *f)
{
	if (err && err_size) {
		if (field >= 0)
			snprintf(err, err_size, "%s: field %d bits %u offset %llu",
				 bkey_format_invalid_msg[why], field,
				 f->bits_per_field[field],
				 (unsigned long long)le64_to_cpu(f->field_offset[field]));
		else
			snprintf(err, err_size, "%s: nr_fields %u key_u64s %u",
				 bkey_format_invalid_msg[why], f->nr_fields,
				 f->key_u64s);
	}
	return -(int)why;
}

/**
 * bkey_format_validate - check a key format the way bcachefs does
 * @f:		the format
 * @err:	buffer for a human-readable reason, or NULL
 * @err_size:	size of @err
 *
 * Refuses every format bcachefs's bch2_bkey_format_invalid() refuses. No
 * code is ever generated for a refused format.
 *
 * Return: 0 if valid, else minus the enum bkey_format_invalid reason.
 */
int bkey_format_validate(const struct bkey_format *f, char *err,
			 size_t err_size)
{
	unsigned int i, bits = KEY_PACKED_BITS_START;
	enum bkey_format_invalid why;

	if (f->nr_fields != BKEY_NR_FIELDS)
		return format_error(err, err_size, BKEY_FORMAT_BAD_NR_FIELDS,
				    -1, f);

	for (i = 0; i < BKEY_NR_FIELDS; i++) {
		why = field_check(f, i);
		if (why)
			return format_error(err, err_size, why, i, f);
		bits += f->bits_per_field[i];
	}

	if (f->key_u64s != DIV_ROUND_UP(bits, 64))
		return format_error(err, err_size, BKEY_FORMAT_BAD_KEY_U64S,
				    -1, f);
	return 0;
}
EXPORT_SYMBOL_GPL(bkey_format_validate);

/**
 * bkey_format_field_lsb - bit position of each field in the packed key
 * @f:		a valid format
 * @lsb:	out: lowest bit of each field, counting from bit 0 of word 0
 */
void bkey_format_field_lsb(const struct bkey_format *f,
			   unsigned int lsb[BKEY_NR_FIELDS])
{
	unsigned int i, top = 64 * f->key_u64s;

	for (i = 0; i < BKEY_NR_FIELDS; i++) {
		top -= f->bits_per_field[i];
		lsb[i] = top;
	}
}

/*
 * One 8-byte load covers the field unless it is wider than 57 bits and
 * badly placed; then it straddles two words, which we load aligned. The
 * single load never starts past the key's last 8 bytes, so nothing
 * outside the key is read.
 */
static void field_precompute(struct bkey_jit_field *fl, unsigned int lsb,
			     unsigned int bits, unsigned int key_bytes, u64 offset)
{
	unsigned int byte = min(lsb / 8, key_bytes - 8);

	fl->mask = low_bits_mask(bits);
	fl->offset = offset;
	fl->straddle = 0;
	if (!bits) {
		fl->byte = 0;
		fl->shift = 0;
	} else if (lsb - 8 * byte + bits <= 64) {
		fl->byte = byte;
		fl->shift = lsb - 8 * byte;
	} else {
		fl->straddle = 1;
		fl->byte = (lsb / 64) * 8;
		fl->shift = lsb % 64;
	}
}

/**
 * bkey_jit_init_generic - precompute the generic unpack for a format
 * @j:	the unpacker; @j->format must be valid
 */
void bkey_jit_init_generic(struct bkey_jit *j)
{
	const struct bkey_format *f = &j->format;
	unsigned int lsb[BKEY_NR_FIELDS], i, bits;

	bkey_format_field_lsb(f, lsb);
	for (i = 0; i < BKEY_NR_FIELDS; i++)
		field_precompute(&j->fields[i], lsb[i], f->bits_per_field[i],
				 8 * f->key_u64s, le64_to_cpu(f->field_offset[i]));
	/* What bkey_jit_unpack_generic()'s single loads rely on. */
	WARN_ON_ONCE(j->fields[BKEY_FIELD_INODE].straddle ||
		     j->fields[BKEY_FIELD_SNAPSHOT].straddle ||
		     j->fields[BKEY_FIELD_SIZE].straddle ||
		     j->fields[BKEY_FIELD_VERSION_HI].straddle);
	j->u64s_delta = BKEY_U64s - f->key_u64s;

	bits = bkey_jit_cmp_key_bits(f);
	/* No position bits: one word, nothing of it compared. */
	j->cmp_words = max(DIV_ROUND_UP(bits, 64), 1U);
	j->cmp_off = 8 * (f->key_u64s - j->cmp_words);
	j->cmp_mask = bits ? ~0ULL << (64 * j->cmp_words - bits) : 0;
}

/**
 * bkey_jit_unpack_generic - the generic C unpack
 * @j:		unpacker for @src's format
 * @dst:	the unpacked key
 * @src:	the packed key
 *
 * Same bytes as bcachefs's __bch2_bkey_unpack_key(), from precomputed
 * per-field loads, shifts and masks: no per-bit bookkeeping at run time.
 */
void bkey_jit_unpack_generic(const struct bkey_jit *j, struct bkey *dst,
			     const struct bkey_packed *src)
{
	__bkey_jit_unpack_generic(j, dst, src);
}
EXPORT_SYMBOL_GPL(bkey_jit_unpack_generic);

/**
 * bkey_jit_unpack_pos_generic - the generic C unpack of a key's position
 * @j:		unpacker for @src's format
 * @dst:	inode, offset and snapshot of @src
 * @src:	the packed key
 */
void bkey_jit_unpack_pos_generic(const struct bkey_jit *j, struct bpos *dst,
				 const struct bkey_packed *src)
{
	__bkey_jit_unpack_pos_generic(j, dst, src);
}
EXPORT_SYMBOL_GPL(bkey_jit_unpack_pos_generic);

/**
 * bkey_jit_cmp_packed_generic - the generic C compare of two packed keys
 * @j:		unpacker for the format of both keys
 * @l:		a packed key
 * @r:		a packed key of the same format
 *
 * Same result as bcachefs's __bkey_cmp_bits() over the format's key bits.
 *
 * Return: -1, 0 or 1 as @l's position is below, equal to or above @r's.
 */
int bkey_jit_cmp_packed_generic(const struct bkey_jit *j,
				const struct bkey_packed *l,
				const struct bkey_packed *r)
{
	return __bkey_jit_cmp_generic(j, l, r);
}
EXPORT_SYMBOL_GPL(bkey_jit_cmp_packed_generic);

/**
 * bkey_jit_format_to_text - print a format
 * @buf:	output
 * @size:	size of @buf
 * @f:		the format
 *
 * Return: the number of characters snprintf() would have written.
 */
int bkey_jit_format_to_text(char *buf, size_t size, const struct bkey_format *f)
{
	unsigned int i;
	int n;

	n = snprintf(buf, size, "key_u64s %u bits", f->key_u64s);
	for (i = 0; i < BKEY_NR_FIELDS; i++)
		n += snprintf(buf + min_t(size_t, n, size), size - min_t(size_t, n, size),
			      " %u", f->bits_per_field[i]);
	n += snprintf(buf + min_t(size_t, n, size), size - min_t(size_t, n, size),
		      " offsets");
	for (i = 0; i < BKEY_NR_FIELDS; i++)
		n += snprintf(buf + min_t(size_t, n, size), size - min_t(size_t, n, size),
			      " %llu",
			      (unsigned long long)le64_to_cpu(f->field_offset[i]));
	return n;
}
EXPORT_SYMBOL_GPL(bkey_jit_format_to_text);
