// SPDX-License-Identifier: GPL-2.0
/*
 * Lowering a key format to an arch-neutral plan.
 *
 * Every field becomes: one load that covers it (or two aligned words for
 * the rare field that straddles them), an extract, an add of the field
 * offset, a store; a field of 0 bits becomes a store of its constant.
 * Choices that depend only on the format (load width, whether the mask is
 * needed, 32-bit vs 64-bit arithmetic) are made here, once, so the
 * backends stay encoders.
 */
#include "bkey_jit.h"
#include "bkey_jit_plan.h"

static struct bkey_plan_op *plan_add(struct bkey_plan *plan, u8 code)
{
	struct bkey_plan_op *op = &plan->ops[plan->nr_ops++];

	memset(op, 0, sizeof(*op));
	op->code = code;
	return op;
}

/*
 * Find the narrowest load (1, 2, 4 or 8 bytes) that holds the whole field
 * and stays inside the key. A field that ends on a byte boundary is best
 * loaded so that it ends at the top of the loaded value: then a shift
 * alone extracts it, no mask. Otherwise start at the byte holding the
 * field's lowest bit, or earlier when that would run past the key's end.
 */
static bool plan_pick_load(unsigned int lsb, unsigned int bits,
			   unsigned int key_bytes, unsigned int *byte,
			   unsigned int *size)
{
	static const u8 sizes[] = { 1, 2, 4, 8 };
	unsigned int i, end = lsb + bits;

	for (i = 0; end % 8 == 0 && i < ARRAY_SIZE(sizes); i++) {
		unsigned int z = sizes[i];

		if (bits <= 8 * z && end / 8 >= z) {
			*byte = end / 8 - z;
			*size = z;
			return true;
		}
	}

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned int z = sizes[i];
		unsigned int b;

		if (z > key_bytes)
			break;
		b = min(lsb / 8, key_bytes - z);
		if (lsb - 8 * b + bits <= 8 * z) {
			*byte = b;
			*size = z;
			return true;
		}
	}
	return false;
}

/*
 * The ops that leave field @bits wide at @lsb in register @reg. Returns
 * true when nothing but the field is left there (r < 2^bits), false when
 * bits above it are ignored rather than cleared.
 */
static bool plan_field_extract(struct bkey_plan *plan, unsigned int reg,
			       unsigned int lsb, unsigned int bits,
			       unsigned int key_bytes, unsigned int val_size)
{
	struct bkey_plan_op *op;
	unsigned int byte, size, shift;

	if (plan_pick_load(lsb, bits, key_bytes, &byte, &size)) {
		op = plan_add(plan, BKEY_PLAN_LOAD);
		op->reg = reg;
		op->size = size;
		op->off = byte;

		shift = lsb - 8 * byte;
		if (shift == 0 && bits == 8 * size)
			return true;	/* the load is the field */

		op = plan_add(plan, BKEY_PLAN_EXTRACT);
		op->reg = reg;
		op->size = size == 8 ? 8 : 4;
		op->shift = shift;
		op->width = bits;
		/*
		 * No mask when the field reaches the top of the load, or
		 * when it is 32 bits with a 32-bit value: a 4-byte store
		 * ignores the bits above, a 32-bit add clears them.
		 */
		op->mask = shift + bits < 8 * size &&
			   !(val_size == 4 && bits == 32);
		return op->mask || shift + bits >= 8 * size;
	}

	/* Wider than one unaligned load can reach: funnel two words. */
	op = plan_add(plan, BKEY_PLAN_LOAD);
	op->reg = reg;
	op->size = 8;
	op->off = (lsb / 64) * 8;

	op = plan_add(plan, BKEY_PLAN_LOAD);
	op->reg = reg + 1;
	op->size = 8;
	op->off = (lsb / 64) * 8 + 8;

	op = plan_add(plan, BKEY_PLAN_FUNNEL);
	op->reg = reg;
	op->reg2 = reg + 1;
	op->size = 8;
	op->shift = lsb % 64;
	op->width = bits;
	op->mask = lsb % 64 + bits < 128;
	return true;			/* FUNNEL always masks */
}

static u64 truncate_to(u64 v, unsigned int size)
{
	return size == 8 ? v : (u32)v;
}

static void plan_field(struct bkey_plan *plan, const struct bkey_format *f,
		       unsigned int field, unsigned int lsb, unsigned int reg,
		       unsigned int dst_off)
{
	unsigned int bits = f->bits_per_field[field];
	unsigned int size = bkey_jit_field_dst[field].size;
	u64 offset = truncate_to(le64_to_cpu(f->field_offset[field]), size);
	unsigned int add_size = size;
	struct bkey_plan_op *op;
	bool clean;

	if (!bits) {
		op = plan_add(plan, BKEY_PLAN_STORE_IMM);
		op->size = size;
		op->off = dst_off;
		op->imm = offset;
		return;
	}

	/*
	 * A 64-bit field whose every value (packed value plus offset) fits
	 * 32 bits takes a 32-bit add: it zero-extends for the 8-byte store,
	 * needs no REX.W, and a blinded offset between 2^31 and 2^32 is two
	 * plain adds rather than a constant built by multiplication.
	 */
	if (size == 8 && offset && bits <= 32 &&
	    offset + (~0ULL >> (64 - bits)) <= U32_MAX)
		add_size = 4;

	clean = plan_field_extract(plan, reg, lsb, bits, 8 * f->key_u64s,
				   add_size);

	if (offset) {
		op = plan_add(plan, BKEY_PLAN_ADD);
		op->reg = reg;
		op->size = add_size;
		op->imm = offset;
		op->width = clean ? bits : 0;
	}

	op = plan_add(plan, BKEY_PLAN_STORE);
	op->reg = reg;
	op->size = size;
	op->off = dst_off;
}

/*
 * Two 4-byte constants side by side become one 8-byte store when the
 * combined value is a sign-extended 32-bit immediate (zeros, mostly):
 * one instruction instead of two on both architectures. Stores write
 * disjoint bytes, so their order does not matter.
 */
static void plan_merge_const_stores(struct bkey_plan *plan)
{
	unsigned int i, j, n = 0;

	for (i = 0; i < plan->nr_ops; i++) {
		struct bkey_plan_op *a = &plan->ops[i];

		if (a->code != BKEY_PLAN_STORE_IMM || a->size != 4)
			continue;
		for (j = 0; j < plan->nr_ops; j++) {
			struct bkey_plan_op *b = &plan->ops[j];
			u64 v = a->imm | (b->imm << 32);

			if (b->code != BKEY_PLAN_STORE_IMM || b->size != 4 ||
			    b->off != a->off + 4 || (s64)v != (s32)v)
				continue;
			a->size = 8;
			a->imm = v;
			b->code = BKEY_PLAN_NR_OPCODES;	/* deleted below */
			break;
		}
	}

	for (i = 0; i < plan->nr_ops; i++)
		if (plan->ops[i].code != BKEY_PLAN_NR_OPCODES)
			plan->ops[n++] = plan->ops[i];
	plan->nr_ops = n;
}

/*
 * A compare of two keys of one format, as bcachefs's __bkey_cmp_bits():
 * the position (inode, offset, snapshot) is the key's top
 * bkey_format_key_bits() bits, so keys compare as big integers over
 * them. Word by word from the top, each a CMP that returns at the first
 * difference; in the lowest word the bits below the snapshot field are
 * shifted out of both values (two shifts by a count, where a mask would
 * be a format-derived immediate to blind).
 */
static void plan_cmp(struct bkey_plan *plan, const struct bkey_format *f)
{
	unsigned int bits = bkey_jit_cmp_key_bits(f);
	unsigned int words = DIV_ROUND_UP(bits, 64), i, r;
	struct bkey_plan_op *op;

	for (i = 0; i < words; i++) {
		unsigned int w = f->key_u64s - 1 - i;
		unsigned int shift = i + 1 == words ? 64 * words - bits : 0;

		/* Alternate register pairs: the next loads need not wait. */
		for (r = 0; r < 2; r++) {
			op = plan_add(plan, BKEY_PLAN_LOAD);
			op->reg = 2 * (i & 1) + r;
			op->size = 8;
			op->off = 8 * w;
			op->arg = !r;
		}
		for (r = 0; shift && r < 2; r++) {
			op = plan_add(plan, BKEY_PLAN_EXTRACT);
			op->reg = 2 * (i & 1) + r;
			op->size = 8;
			op->shift = shift;
			op->width = 64 - shift;
		}
		op = plan_add(plan, BKEY_PLAN_CMP);
		op->reg = 2 * (i & 1);
		op->reg2 = 2 * (i & 1) + 1;
	}
}

/**
 * bkey_plan_build - lower a format to a plan
 * @f:		the format; validated here, no plan for an invalid one
 * @kind:	full key, position only, or a compare of two keys
 * @plan:	output
 *
 * Return: 0, or a negative bkey_format_validate() error.
 */
int bkey_plan_build(const struct bkey_format *f, enum bkey_plan_kind kind,
		    struct bkey_plan *plan)
{
	unsigned int lsb[BKEY_NR_FIELDS], i, nr_fields;
	struct bkey_plan_op *op;
	int ret;

	ret = bkey_format_validate(f, NULL, 0);
	if (ret)
		return ret;

	bkey_format_field_lsb(f, lsb);
	plan->kind = kind;
	plan->nr_ops = 0;

	if (kind == BKEY_PLAN_CMP_PACKED) {
		plan_cmp(plan, f);
		plan_add(plan, BKEY_PLAN_RET);
		return 0;
	}

	if (kind == BKEY_PLAN_UNPACK) {
		op = plan_add(plan, BKEY_PLAN_HEADER);
		op->imm = BKEY_U64s - f->key_u64s;
		op->size = 4;
		/*
		 * A constant version.lo whose low half is zero (always, in
		 * practice) rides along with the header: an 8-byte header
		 * store covers bytes 4..7 and the high half joins
		 * version.hi, one store fewer.
		 */
		if (!f->bits_per_field[BKEY_FIELD_VERSION_LO] &&
		    !(u32)le64_to_cpu(f->field_offset[BKEY_FIELD_VERSION_LO])) {
			op->size = 8;
			op = plan_add(plan, BKEY_PLAN_STORE_IMM);
			op->size = 4;
			op->off = offsetof(struct bkey, bversion.lo) + 4;
			op->imm = le64_to_cpu(f->field_offset[BKEY_FIELD_VERSION_LO]) >> 32;
		}
	}

	nr_fields = kind == BKEY_PLAN_UNPACK ? BKEY_NR_FIELDS
					      : BKEY_POS_NR_FIELDS;
	for (i = 0; i < nr_fields; i++) {
		if (kind == BKEY_PLAN_UNPACK && i == BKEY_FIELD_VERSION_LO &&
		    plan->ops[0].size == 8)
			continue;	/* stored with the header */
		const struct bkey_jit_field_dst *d = &bkey_jit_field_dst[i];

		/* Alternate register pairs so neighbouring fields overlap. */
		plan_field(plan, f, i, lsb[i], 2 * (i & 1),
			   kind == BKEY_PLAN_UNPACK ? d->off : d->pos_off);
	}

	plan_merge_const_stores(plan);
	plan_add(plan, BKEY_PLAN_RET);
	return 0;
}

static const char *const plan_op_names[] = {
	[BKEY_PLAN_HEADER]	= "header",
	[BKEY_PLAN_LOAD]	= "load",
	[BKEY_PLAN_EXTRACT]	= "extract",
	[BKEY_PLAN_FUNNEL]	= "funnel",
	[BKEY_PLAN_ADD]		= "add",
	[BKEY_PLAN_STORE]	= "store",
	[BKEY_PLAN_STORE_IMM]	= "store_imm",
	[BKEY_PLAN_CMP]		= "cmp",
	[BKEY_PLAN_RET]		= "ret",
};

/* " ^ key" or " * key" after a blinded constant, else nothing. */
static const char *plan_blind_text(const struct bkey_plan_op *op, char *buf,
				   size_t size)
{
	if (op->blind == BKEY_PLAN_BLIND_NONE)
		return "";
	snprintf(buf, size, " %c %#x",
		 op->blind == BKEY_PLAN_BLIND_XOR ? '^' : '*', op->key);
	return buf;
}

static int plan_op_to_text(char *buf, size_t size, const struct bkey_plan_op *op)
{
	const char *name = op->code < ARRAY_SIZE(plan_op_names) ?
		plan_op_names[op->code] : "?";
	unsigned long long imm = op->imm;
	char key[16];

	switch (op->code) {
	case BKEY_PLAN_HEADER:
		return snprintf(buf, size, "%s u64s+=%llu :%u", name, imm, op->size);
	case BKEY_PLAN_LOAD:
		return snprintf(buf, size, "%s r%u = %s[%u]:%u", name,
				op->reg, op->arg ? "l" : "src", op->off,
				op->size);
	case BKEY_PLAN_EXTRACT:
		return snprintf(buf, size, "%s r%u >> %u width %u%s :%u", name,
				op->reg, op->shift, op->width,
				op->mask ? " mask" : "", op->size);
	case BKEY_PLAN_FUNNEL:
		return snprintf(buf, size, "%s r%u = r%u:r%u >> %u width %u%s",
				name, op->reg, op->reg2, op->reg, op->shift,
				op->width, op->mask ? " mask" : "");
	case BKEY_PLAN_ADD:
		if (op->width)
			return snprintf(buf, size, "%s r%u += %#llx%s :%u (r < 2^%u)",
					name, op->reg, imm,
					plan_blind_text(op, key, sizeof(key)),
					op->size, op->width);
		return snprintf(buf, size, "%s r%u += %#llx%s :%u", name,
				op->reg, imm, plan_blind_text(op, key, sizeof(key)),
				op->size);
	case BKEY_PLAN_CMP:
		return snprintf(buf, size, "%s r%u, r%u: ret -1/1 if !=", name,
				op->reg, op->reg2);
	case BKEY_PLAN_STORE:
		return snprintf(buf, size, "%s dst[%u]:%u = r%u", name,
				op->off, op->size, op->reg);
	case BKEY_PLAN_STORE_IMM:
		return snprintf(buf, size, "%s dst[%u]:%u = %#llx%s", name,
				op->off, op->size, imm,
				plan_blind_text(op, key, sizeof(key)));
	default:
		return snprintf(buf, size, "%s", name);
	}
}

/**
 * bkey_plan_to_text - print a plan, one operation per line
 * @buf:	output
 * @size:	size of @buf
 * @plan:	the plan
 *
 * Return: the number of characters snprintf() would have written.
 */
int bkey_plan_to_text(char *buf, size_t size, const struct bkey_plan *plan)
{
	unsigned int i;
	size_t n = 0;

	for (i = 0; i < plan->nr_ops; i++) {
		n += plan_op_to_text(buf + min(n, size), size - min(n, size),
				     &plan->ops[i]);
		n += snprintf(buf + min(n, size), size - min(n, size), "\n");
	}
	return n;
}

/* splitmix64: a key stream from one seed, each output well mixed. */
static u64 blind_next(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Multiplicative inverse of an odd @m modulo 2^64 (Newton's iteration). */
static u64 inverse_mod64(u64 m)
{
	u64 x = m;	/* correct to 3 bits for any odd m */
	unsigned int i;

	for (i = 0; i < 5; i++)		/* 3, 6, 12, 24, 48, 96 bits */
		x *= 2 - m * x;
	return x;
}

/*
 * Constants in -128..127 (sign-extended from the op's size) stay plain:
 * they reach the code as one byte (an imm8) or one byte in a sign or zero
 * fill, and no two emitted bytes next to it complete a 4-byte pattern;
 * the header's u64s adjustment (0..4 by validation) is one of them.
 */
static bool blind_needed(u64 v, unsigned int size)
{
	s64 s = size == 8 ? (s64)v : (s32)(u32)v;

	return s < -128 || s > 127;
}

static bool fits_s32(u64 v)
{
	return (s64)v == (s32)(u32)v;
}

/* A random odd multiplier and the imm that it maps to @v. */
static void blind_mul(struct bkey_plan_op *op, u64 v, u64 *state)
{
	op->key = (u32)blind_next(state) | 1;
	op->imm = v * inverse_mod64(bkey_plan_sext32(op->key));
	op->blind = BKEY_PLAN_BLIND_MUL;
}

/*
 * A random first half @a for an ADD of @v that fits 32 bits; the second
 * half v - a must fit the same immediate (sign-extended for size 8), and
 * neither half may be 0 (an add of 0 is not emitted) or @v itself.
 */
static u64 blind_split(u64 v, unsigned int size, u64 *state)
{
	u64 a;

	do {
		u64 r = blind_next(state);

		if (size == 4) {
			a = (u32)r;
		} else {
			s64 sv = (s64)v;
			s64 lo = max_t(s64, S32_MIN, sv - S32_MAX);
			s64 hi = min_t(s64, S32_MAX, sv - S32_MIN);

			a = (u64)(lo + (s64)(r % (u64)(hi - lo + 1)));
		}
	} while (!truncate_to(a, size) || truncate_to(a, size) ==
		 truncate_to(v, size));
	return a;
}

/* Insert a copy of op @i right after it. */
static struct bkey_plan_op *plan_dup(struct bkey_plan *plan, unsigned int i)
{
	memmove(&plan->ops[i + 1], &plan->ops[i],
		(plan->nr_ops - i) * sizeof(plan->ops[0]));
	plan->nr_ops++;
	return &plan->ops[i + 1];
}

/**
 * bkey_plan_blind - keep format-derived constants out of the code bytes
 * @plan:	a plan from bkey_plan_build()
 * @seed:	a fresh random value per compiled function
 *
 * Every ADD and STORE_IMM whose value is outside -128..127 is rewritten
 * so that the code holds only random-looking immediates (the semantics
 * comment in bkey_jit_plan.h): an ADD that fits 32 bits becomes two ADDs
 * of random halves, a STORE_IMM that fits 32 bits is XORed with a random
 * key, a wider constant is multiplied by the inverse of a random odd key.
 * The result computes the same values. Keys come from @seed through
 * splitmix64, one per constant; the plan keeps them, the caller does not.
 * In the userspace build blinding can be switched off for comparison.
 */
void bkey_plan_blind(struct bkey_plan *plan, u64 seed)
{
	u64 state = seed;
	unsigned int i;

	if (!bkey_jit_blinding_enabled())
		return;

	for (i = 0; i < plan->nr_ops; i++) {
		struct bkey_plan_op *op = &plan->ops[i], *b;
		u64 v = truncate_to(op->imm, op->size);

		if ((op->code != BKEY_PLAN_ADD &&
		     op->code != BKEY_PLAN_STORE_IMM) ||
		    op->blind || !blind_needed(v, op->size))
			continue;

		if (op->size == 8 && !fits_s32(v)) {
			blind_mul(op, v, &state);
		} else if (op->code == BKEY_PLAN_STORE_IMM) {
			op->key = (u32)blind_next(&state);
			op->imm = truncate_to(v ^ bkey_plan_sext32(op->key), op->size);
			op->blind = BKEY_PLAN_BLIND_XOR;
		} else if (plan->nr_ops < BKEY_PLAN_MAX_OPS) {
			/* BKEY_PLAN_MAX_OPS has room for a split per field. */
			u64 a = blind_split(v, op->size, &state);

			b = plan_dup(plan, i);
			op->imm = truncate_to(a, op->size);
			b->imm = truncate_to(v - a, op->size);
			b->width = 0;	/* r < 2^width held before the first */
			i++;
		} else {
			plan->nr_ops = 0;	/* no room: emitters refuse it */
			return;
		}
	}
}
