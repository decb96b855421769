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

static void plan_field_extract(struct bkey_plan *plan, unsigned int reg,
			       unsigned int lsb, unsigned int bits,
			       unsigned int key_bytes, unsigned int dst_size)
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
			return;		/* the load is the field */

		op = plan_add(plan, BKEY_PLAN_EXTRACT);
		op->reg = reg;
		op->size = size == 8 ? 8 : 4;
		op->shift = shift;
		op->width = bits;
		/*
		 * No mask when the field reaches the top of the load, or
		 * when it is 32 bits going to a 32-bit destination: the
		 * 32-bit add and store ignore the bits above.
		 */
		op->mask = shift + bits < 8 * size &&
			   !(dst_size == 4 && bits == 32);
		return;
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
	struct bkey_plan_op *op;

	if (!bits) {
		op = plan_add(plan, BKEY_PLAN_STORE_IMM);
		op->size = size;
		op->off = dst_off;
		op->imm = offset;
		return;
	}

	plan_field_extract(plan, reg, lsb, bits, 8 * f->key_u64s, size);

	if (offset) {
		op = plan_add(plan, BKEY_PLAN_ADD);
		op->reg = reg;
		op->size = size;
		op->imm = offset;
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

/**
 * bkey_plan_build - lower a format to a plan
 * @f:		the format; validated here, no plan for an invalid one
 * @kind:	full key or position only
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
	[BKEY_PLAN_RET]		= "ret",
};

static int plan_op_to_text(char *buf, size_t size, const struct bkey_plan_op *op)
{
	const char *name = op->code < ARRAY_SIZE(plan_op_names) ?
		plan_op_names[op->code] : "?";
	unsigned long long imm = op->imm;

	switch (op->code) {
	case BKEY_PLAN_HEADER:
		return snprintf(buf, size, "%s u64s+=%llu :%u", name, imm, op->size);
	case BKEY_PLAN_LOAD:
		return snprintf(buf, size, "%s r%u = src[%u]:%u", name,
				op->reg, op->off, op->size);
	case BKEY_PLAN_EXTRACT:
		return snprintf(buf, size, "%s r%u >> %u width %u%s :%u", name,
				op->reg, op->shift, op->width,
				op->mask ? " mask" : "", op->size);
	case BKEY_PLAN_FUNNEL:
		return snprintf(buf, size, "%s r%u = r%u:r%u >> %u width %u%s",
				name, op->reg, op->reg2, op->reg, op->shift,
				op->width, op->mask ? " mask" : "");
	case BKEY_PLAN_ADD:
		return snprintf(buf, size, "%s r%u += %#llx :%u", name,
				op->reg, imm, op->size);
	case BKEY_PLAN_STORE:
		return snprintf(buf, size, "%s dst[%u]:%u = r%u", name,
				op->off, op->size, op->reg);
	case BKEY_PLAN_STORE_IMM:
		return snprintf(buf, size, "%s dst[%u]:%u = %#llx", name,
				op->off, op->size, imm);
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

/**
 * bkey_plan_blind - keep format-derived constants out of the code bytes
 * @plan:	a plan from bkey_plan_build()
 * @seed:	a fresh random value per compiled function
 *
 * Not yet implemented: the plan is left as it is.
 */
void bkey_plan_blind(struct bkey_plan *plan, u64 seed)
{
}
