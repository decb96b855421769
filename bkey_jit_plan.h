/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The arch-neutral middle of bkey-jit: a validated format is lowered to a
 * short plan, and each arch backend only encodes plan operations.
 *
 * Plan semantics (what every backend must implement exactly):
 *
 *   Inputs: DST (struct bkey * or struct bpos *) and SRC (const struct
 *   bkey_packed *), both 8-byte aligned. Four virtual 64-bit registers
 *   r0..r3. Loads may be unaligned but never reach outside the key's first
 *   key_u64s words.
 *
 *   HEADER      DST[0..3] = { (u8)(SRC[0] + imm), (SRC[1] & 0x80) | 1,
 *                             SRC[2], 0 }              (struct bkey only);
 *               with size 8, also DST[4..7] = 0
 *   LOAD        r[reg] = zero-extended little-endian load of size (1,2,4,8)
 *               bytes at SRC + off
 *   EXTRACT     r[reg] = (r[reg] >> shift) & mask(width); when !mask the
 *               bits of r[reg] above shift + width are known to be zero
 *               (or are ignored: a 32-bit field whose ADD and STORE have
 *               size 4) and the AND may be skipped (shift 0 .. 63,
 *               width 1 .. 64)
 *   FUNNEL      r[reg] = ((r[reg2]:r[reg]) >> shift) & mask(width), a
 *               128-bit shift; shift 1 .. 63, reg2 != reg (fields
 *               straddling words)
 *   ADD         r[reg] += imm, modulo 2^(8 * size); size 4 zero-extends:
 *               r[reg] = (u32)(r[reg] + imm), so a field whose value fits
 *               32 bits takes 32-bit arithmetic even on its way to an
 *               8-byte store; a nonzero width is a fact backends may
 *               use: r[reg] < 2^width before the add (no bit of the
 *               value below bit width can carry into it)
 *   STORE       low size bytes of r[reg] to DST + off (size 4 or 8)
 *   STORE_IMM   low size bytes of imm to DST + off (size 4 or 8)
 *   CMP         if r[reg] != r[reg2] (unsigned 64-bit), return -1 when
 *               r[reg] < r[reg2], else 1 (compare plans only)
 *   RET         return (0 from a compare plan); the last op, and only
 *               the last
 *
 *   Compare plans (BKEY_PLAN_CMP_PACKED, int fn(const struct bkey_packed *l,
 *   const struct bkey_packed *r)): L takes the place of DST (the first
 *   argument), R the place of SRC. A LOAD with @arg set reads L, else R;
 *   nothing is stored. Only LOAD (size 8), EXTRACT and CMP
 *   come before RET. A CMP is a forward branch to the function's exit:
 *   backends resolve it through the driver's labels (bkey_jit_emit.h).
 *
 *   bkey_plan_validate() (bkey_jit_emit.c) checks these rules once for
 *   every backend.
 *
 *   Blinding (bkey_plan_blind()): a constant taken from the format is
 *   never carried as is. @blind on ADD and STORE_IMM says how the value
 *   is recovered from @imm and the 32-bit @key, both random-looking:
 *
 *   BLIND_NONE  value = imm
 *   BLIND_XOR   value = imm ^ (u64)(s64)(s32)key       (STORE_IMM; for
 *               size 8, imm then fits a sign-extended 32-bit immediate)
 *   BLIND_MUL   value = imm * (u64)(s64)(s32)key, key odd (size 8 only)
 *
 *   An ADD whose value fits 32 bits (sign-extended when size is 8) is
 *   instead split into two plain ADDs of random-looking halves.
 *
 *   size on LOAD is the load width; on EXTRACT/FUNNEL the width in bytes of
 *   the value being shifted (4 when a 32-bit operation suffices, else 8).
 */
#ifndef _BKEY_JIT_PLAN_H
#define _BKEY_JIT_PLAN_H

#include "bkey_jit_types.h"

enum bkey_plan_opcode {
	BKEY_PLAN_HEADER,
	BKEY_PLAN_LOAD,
	BKEY_PLAN_EXTRACT,
	BKEY_PLAN_FUNNEL,
	BKEY_PLAN_ADD,
	BKEY_PLAN_STORE,
	BKEY_PLAN_STORE_IMM,
	BKEY_PLAN_CMP,
	BKEY_PLAN_RET,
	BKEY_PLAN_NR_OPCODES,
};

enum bkey_plan_blind_kind {
	BKEY_PLAN_BLIND_NONE,
	BKEY_PLAN_BLIND_XOR,
	BKEY_PLAN_BLIND_MUL,
};

#define BKEY_PLAN_NR_REGS	4
/*
 * Header and its constant store, 6 fields of at most 6 ops (2 loads,
 * funnel, add split in two by blinding, store), ret.
 */
#define BKEY_PLAN_MAX_OPS	(2 + BKEY_NR_FIELDS * 6 + 1)

struct bkey_plan_op {
	u8	code;		/* enum bkey_plan_opcode */
	u8	reg;
	/* FUNNEL: the register holding the high word; CMP: right-hand side */
	u8	reg2;
	u8	size;		/* bytes, see above */
	u8	shift;
	u8	width;
	u8	mask;		/* EXTRACT: the AND is needed */
	u8	off;		/* LOAD: SRC offset; STORE*: DST offset */
	u8	blind;		/* ADD, STORE_IMM: enum bkey_plan_blind_kind */
	u8	arg;		/* LOAD in a compare plan: 1 reads L, 0 R */
	u32	key;		/* ADD, STORE_IMM: blinding key */
	u64	imm;		/* HEADER, ADD, STORE_IMM */
};

enum bkey_plan_kind {
	BKEY_PLAN_UNPACK,	/* void fn(struct bkey *, const struct bkey_packed *) */
	BKEY_PLAN_UNPACK_POS,	/* void fn(struct bpos *, const struct bkey_packed *) */
	/* int fn(const struct bkey_packed *l, const struct bkey_packed *r) */
	BKEY_PLAN_CMP_PACKED,
	BKEY_PLAN_NR_KINDS,
};

struct bkey_plan {
	u8			kind;
	u8			nr_ops;
	struct bkey_plan_op	ops[BKEY_PLAN_MAX_OPS];
};

/* Security and ABI options of the generated code, set by the caller. */
struct bkey_jit_emit_opts {
	bool		endbr;		/* x86: ENDBR64 at the entry (IBT) */
	bool		bti;		/* arm64: BTI C at the entry */
	bool		cfi;		/* kCFI type hash before the entry */
	bool		cfi_padding;	/* x86: the 16-byte CALL_PADDING preamble */
	u32		cfi_hash;
	unsigned long	return_thunk;	/* x86: jmp to this instead of ret; int3 */
};

/* Branch targets a backend may mark (compare plans: the exits). */
#define BKEY_JIT_NR_LABELS	4

/* What one emitter run produced. */
struct bkey_jit_emitted {
	unsigned int	len;		/* bytes, preamble included */
	unsigned int	entry;		/* offset of the function entry */
	unsigned int	nr_insns;	/* instructions from entry to the end */
	/* where the labels landed: a final pass after this one needs them */
	unsigned int	label[BKEY_JIT_NR_LABELS];
};

/*
 * Upper bound on one emitted function, preamble included: arm64 with
 * every constant blinded reaches about 80 instructions.
 */
#define BKEY_JIT_MAX_CODE	384

/**
 * bkey_jit_arch_emit - encode a plan as machine code for this arch
 * @plan:	a plan from bkey_plan_build()
 * @opts:	security and ABI options
 * @buf:	output, at least BKEY_JIT_MAX_CODE bytes; NULL to only size
 * @ip:		the address @buf[0] will execute at (for pc-relative jumps)
 * @out:	length, entry offset and instruction count
 *
 * Emission is deterministic and its length does not depend on @ip, so a
 * sizing pass with @buf == NULL gives the size to allocate.
 *
 * Return: 0, or -EINVAL for a plan the backend cannot encode, or
 * -EOPNOTSUPP where the architecture has no backend.
 */
int bkey_jit_arch_emit(const struct bkey_plan *plan,
		       const struct bkey_jit_emit_opts *opts, u8 *buf,
		       unsigned long ip, struct bkey_jit_emitted *out);

/**
 * bkey_jit_arch_emit_final - the final pass alone, after a sizing pass
 * @plan:	the plan a sizing bkey_jit_arch_emit() call accepted, unchanged
 * @opts:	the options of that call
 * @buf:	output, at least BKEY_JIT_MAX_CODE bytes
 * @ip:		the address @buf[0] will execute at
 * @sized:	what that sizing call returned
 *
 * For a caller that sized first to allocate (the cache): the plan is not
 * validated nor sized again. The pass must reproduce @sized exactly, so
 * on success @sized describes what was written.
 *
 * Return: 0, -EINVAL (an encoder that did not reproduce @sized) or
 * -EOPNOTSUPP.
 */
int bkey_jit_arch_emit_final(const struct bkey_plan *plan,
			     const struct bkey_jit_emit_opts *opts, u8 *buf,
			     unsigned long ip,
			     const struct bkey_jit_emitted *sized);

/* Name of the backend ("x86-64", "arm64"), or NULL without one. */
extern const char *const bkey_jit_arch_name;

/* Trap instruction pattern used to fill free executable memory. */
void bkey_jit_arch_fill_trap(void *area, size_t size);

/* Where a field lands: offset and size in struct bkey, offset in bpos. */
struct bkey_jit_field_dst {
	u8	off;
	u8	size;
	u8	pos_off;
};

extern const struct bkey_jit_field_dst bkey_jit_field_dst[BKEY_NR_FIELDS];

/* Fields a position-only unpack produces: inode, offset, snapshot. */
#define BKEY_POS_NR_FIELDS	3

/*
 * Bits a compare looks at: the position fields, the key's top bits
 * (bcachefs's bkey_format_key_bits(), b->nr_key_bits).
 */
static inline unsigned int bkey_jit_cmp_key_bits(const struct bkey_format *f)
{
	return f->bits_per_field[BKEY_FIELD_INODE] +
	       f->bits_per_field[BKEY_FIELD_OFFSET] +
	       f->bits_per_field[BKEY_FIELD_SNAPSHOT];
}

struct bkey_jit;

void bkey_format_field_lsb(const struct bkey_format *f,
			   unsigned int lsb[BKEY_NR_FIELDS]);
void bkey_jit_init_generic(struct bkey_jit *j);

int bkey_plan_build(const struct bkey_format *f, enum bkey_plan_kind kind,
		    struct bkey_plan *plan);
int bkey_plan_to_text(char *buf, size_t size, const struct bkey_plan *plan);
void bkey_plan_blind(struct bkey_plan *plan, u64 seed);

#ifdef MODULE
/* bkey_jit_debugfs.c: /sys/kernel/debug/bkey_jit/, for the module's init. */
int bkey_jit_debugfs_init(void);
void bkey_jit_debugfs_exit(void);
#endif

static inline u64 bkey_plan_sext32(u32 v)
{
	return (u64)(s64)(s32)v;
}

/**
 * bkey_plan_op_value - the constant an ADD or STORE_IMM op stands for
 * @op:		an ADD or STORE_IMM op, blinded or not
 *
 * For checks and interpreters only: an emitter that encoded this value
 * would undo the blinding. (x86-64 reads it for one thing: the indices
 * of the one or two set bits of an offset it can set with "bts", which
 * reach the code as 6-bit bit numbers, like shift counts.)
 *
 * Return: the value, truncated to the op's size.
 */
static inline u64 bkey_plan_op_value(const struct bkey_plan_op *op)
{
	u64 v = op->imm;

	if (op->blind == BKEY_PLAN_BLIND_XOR)
		v ^= bkey_plan_sext32(op->key);
	else if (op->blind == BKEY_PLAN_BLIND_MUL)
		v *= bkey_plan_sext32(op->key);
	return op->size == 8 ? v : (u32)v;
}

#endif /* _BKEY_JIT_PLAN_H */
