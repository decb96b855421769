/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bkey-jit: per-format machine code to unpack bcachefs btree keys.
 *
 * A btree node's keys are packed in the node's struct bkey_format. Callers
 * get one unpacker per format (bkey_jit_get()), which is shared, refcounted
 * and compiled once; they unpack with bkey_jit_unpack() /
 * bkey_jit_unpack_pos() and drop it with bkey_jit_put(). When no code can
 * be used (mode off, no backend for this arch, executable memory exhausted
 * or capped) the unpacker runs the generic C unpack, which gives the same
 * bytes.
 */
#ifndef _BKEY_JIT_H
#define _BKEY_JIT_H

#include "bkey_jit_types.h"

typedef void (*bkey_jit_unpack_fn)(struct bkey *dst,
				   const struct bkey_packed *src);
typedef void (*bkey_jit_unpack_pos_fn)(struct bpos *dst,
				       const struct bkey_packed *src);
typedef int (*bkey_jit_cmp_fn)(const struct bkey_packed *l,
			       const struct bkey_packed *r);

/* Precomputed extraction of one field for the generic C unpack. */
struct bkey_jit_field {
	u8	byte;		/* first byte loaded (8 bytes, unaligned) */
	u8	shift;		/* right shift after the load */
	u8	straddle;	/* field also needs the next word */
	u64	mask;
	u64	offset;
};

/**
 * struct bkey_jit - an unpacker for one key format
 * @unpack:	JIT code for the full key, or NULL (generic C is used);
 *		set at most once, from NULL, while the unpacker is in use
 * @unpack_pos:	JIT code for the position only, or NULL
 * @cmp:	JIT code comparing two keys by position, or NULL
 * @format:	the format, as validated
 * @fields:	precomputed shifts and masks for the generic C unpack
 * @cmp_mask:	generic compare: the position bits of its lowest word
 * @cmp_off:	generic compare: byte offset of its lowest word
 * @cmp_words:	generic compare: words holding position bits (1..3)
 *
 * Everything but the three code pointers and the generic compare's
 * fields (read by the inline bkey_jit_cmp_packed()) is private to
 * bkey_jit.c; callers only pass it to the functions below.
 */
struct bkey_jit {
	bkey_jit_unpack_fn	unpack;
	bkey_jit_unpack_pos_fn	unpack_pos;
	bkey_jit_cmp_fn		cmp;
	struct bkey_format	format;
	struct bkey_jit_field	fields[BKEY_NR_FIELDS];
	u64			cmp_mask;
	u8			cmp_off;
	u8			cmp_words;
	u8			u64s_delta;
	u8			fallback;	/* enum bkey_jit_fallback */
};

enum bkey_jit_mode {
	BKEY_JIT_MODE_OFF,	/* always the generic C unpack */
	BKEY_JIT_MODE_ON,	/* JIT code where there is some */
	BKEY_JIT_MODE_VERIFY,	/* both, compare, count and warn on mismatch */
};

/* Why an unpacker runs the generic C unpack. */
enum bkey_jit_fallback {
	BKEY_JIT_FALLBACK_NONE,
	BKEY_JIT_FALLBACK_MODE_OFF,	/* counts bkey_jit_get() in mode off */
	BKEY_JIT_FALLBACK_NO_ARCH,
	BKEY_JIT_FALLBACK_NOMEM,
	BKEY_JIT_FALLBACK_CAP,
	BKEY_JIT_FALLBACK_EMIT,
	BKEY_JIT_FALLBACK_CFI,		/* the kernel's CFI mode (FineIBT) */
	BKEY_JIT_FALLBACK_PENDING,	/* code not compiled yet */
	BKEY_JIT_FALLBACK_BUSY,		/* raced with its own free: uncached */
	BKEY_JIT_FALLBACK_BACKEND,	/* bkey_jit.backend=generic */
	BKEY_JIT_FALLBACK_NOT_JITED,	/* BPF JIT off (bpf_jit_enable=0) */
	BKEY_JIT_FALLBACK_NR,
};

/*
 * Where a compile's time goes (native backend): under QEMU's -icount the
 * guest clock counts instructions, so these are instruction counts there.
 */
enum bkey_jit_compile_phase {
	BKEY_JIT_PHASE_PLAN,	/* validate, plan, blind, size (both functions) */
	BKEY_JIT_PHASE_ALLOC,	/* vmalloc_exec_alloc() */
	BKEY_JIT_PHASE_EMIT,	/* the final emission into the staging buffer */
	BKEY_JIT_PHASE_COPY,	/* the text copy into executable memory */
	BKEY_JIT_PHASE_NR,
};

struct bkey_jit_stats {
	long	formats;		/* cached formats right now */
	long	compiles;		/* formats compiled to code */
	long	ebpf_compiles;		/* of which by the eBPF backend */
	long	cache_hits;
	long	fallbacks[BKEY_JIT_FALLBACK_NR];
	long	jit_unpacks;		/* only counted in verify mode */
	long	generic_unpacks;	/* only counted in verify mode */
	long	verify_mismatches;
	long	code_bytes;		/* executable bytes held by cached code */
	long	invalid_formats;
	long	pending_frees;		/* put, waiting for their grace periods */
	u64	compile_ns;		/* total time spent compiling */
	u64	compile_phase_ns[BKEY_JIT_PHASE_NR];	/* compile_ns, split */
};

/* Validation, in the order bcachefs checks (see bkey_format_validate()). */
enum bkey_format_invalid {
	BKEY_FORMAT_OK,
	BKEY_FORMAT_BAD_NR_FIELDS,
	BKEY_FORMAT_FIELD_TOO_WIDE,
	BKEY_FORMAT_FIELD_OFFSET_WIDE,
	BKEY_FORMAT_FIELD_OVERFLOWS,
	BKEY_FORMAT_BAD_KEY_U64S,
};

int bkey_format_validate(const struct bkey_format *f, char *err,
			 size_t err_size);

struct bkey_jit *bkey_jit_get(const struct bkey_format *f);
void bkey_jit_put(struct bkey_jit *j);
void bkey_jit_flush(void);
void bkey_jit_wait_compiled(void);
void bkey_jit_hold_compiles(bool hold);
struct bkey_jit *bkey_jit_generic(void);

void bkey_jit_unpack_generic(const struct bkey_jit *j, struct bkey *dst,
			     const struct bkey_packed *src);
void bkey_jit_unpack_pos_generic(const struct bkey_jit *j, struct bpos *dst,
				 const struct bkey_packed *src);
void bkey_jit_unpack_slow(const struct bkey_jit *j, struct bkey *dst,
			  const struct bkey_packed *src);
void bkey_jit_unpack_pos_slow(const struct bkey_jit *j, struct bpos *dst,
			      const struct bkey_packed *src);
int bkey_jit_unpack_checked(const struct bkey_jit *j, struct bkey *dst,
			    const struct bkey_packed *src);
int bkey_jit_cmp_packed_generic(const struct bkey_jit *j,
				const struct bkey_packed *l,
				const struct bkey_packed *r);
int bkey_jit_cmp_packed_slow(const struct bkey_jit *j,
			     const struct bkey_packed *l,
			     const struct bkey_packed *r);

int bkey_jit_set_mode(enum bkey_jit_mode mode);
enum bkey_jit_mode bkey_jit_get_mode(void);
void bkey_jit_get_stats(struct bkey_jit_stats *s);
int bkey_jit_format_to_text(char *buf, size_t size,
			    const struct bkey_format *f);
int bkey_jit_plan_to_text(char *buf, size_t size,
			  const struct bkey_format *f, unsigned int kind);
void bkey_jit_set_code_cap(long bytes);
long bkey_jit_get_code_cap(void);

/* Which code generator compiles new formats (bkey_jit.backend=). */
enum bkey_jit_backend_choice {
	BKEY_JIT_BACKEND_AUTO,		/* native, else eBPF, else generic */
	BKEY_JIT_BACKEND_NATIVE,
	BKEY_JIT_BACKEND_EBPF,
	BKEY_JIT_BACKEND_GENERIC,
	BKEY_JIT_BACKEND_NR,
};

void bkey_jit_set_backend(enum bkey_jit_backend_choice b);
enum bkey_jit_backend_choice bkey_jit_get_backend(void);
extern const char * const bkey_jit_backend_names[BKEY_JIT_BACKEND_NR];

/* What bkey_jit_for_each() reports of a cached unpacker. */
struct bkey_jit_info {
	unsigned int	refcount;
	const void	*code;		/* NULL: generic C unpack */
	unsigned int	code_len;
	unsigned int	unpack_entry;	/* entry offsets from @code */
	unsigned int	pos_entry;
	unsigned int	cmp_entry;
	unsigned int	unpack_insns;
	unsigned int	pos_insns;
	unsigned int	cmp_insns;
	const char	*backend;	/* "x86-64", "arm64", "ebpf", "generic" */
};

void bkey_jit_for_each(void (*fn)(const struct bkey_jit *j,
				  const struct bkey_jit_info *info, void *arg),
		       void *arg);

#ifdef MODULE
/*
 * bkey-jit linked into a module (bcachefs.ko, built out of tree): there
 * are no initcalls of its own, the module's init and exit call these.
 */
void bkey_jit_module_init(void);
void bkey_jit_module_exit(void);
#endif

#ifndef __KERNEL__
struct bkey_jit_emit_opts;
void bkey_jit_set_emit_opts(const struct bkey_jit_emit_opts *o);
#endif

/*
 * True while the mode is "on". A static key in the kernel, so the hot path
 * costs a patched jump; a plain flag in userspace (see the compat header).
 */
DECLARE_STATIC_KEY_TRUE(bkey_jit_fast_key);
#define bkey_jit_fast()	static_branch_likely(&bkey_jit_fast_key)

/* True while the mode is "verify", the same way. */
DECLARE_STATIC_KEY_FALSE(bkey_jit_verify_key);
#define bkey_jit_verifying()	static_branch_unlikely(&bkey_jit_verify_key)

/*
 * The generic compare: the position words from the top, equal words
 * skipped, the bits below the position masked off the lowest one. Word
 * offsets from the lowest compared word are constants, so no pointer
 * moves; bkey_jit_init_generic() precomputes that word, the count (1..3:
 * a format without position bits compares one word under a zero mask)
 * and the mask. Two-word positions are the common case, one word next.
 *
 * Here rather than in bkey_jit_generic.h: bkey_jit_cmp_packed() inlines it
 * where there is no code, so a compare without code (mode off, a capped
 * format, an eBPF one) costs what 6.12's inline one does, not a call more.
 */
static __always_inline int
__bkey_jit_cmp_generic(const struct bkey_jit *j, const struct bkey_packed *l,
		       const struct bkey_packed *r)
{
	const u8 *lp = (const u8 *)l + j->cmp_off;
	const u8 *rp = (const u8 *)r + j->cmp_off;
	unsigned int n = j->cmp_words;
	u64 a, b;

	if (n > 1) {
		if (unlikely(n > 2)) {
			a = get_unaligned_le64(lp + 16);
			b = get_unaligned_le64(rp + 16);
			if (a != b)
				goto differ;
		}
		a = get_unaligned_le64(lp + 8);
		b = get_unaligned_le64(rp + 8);
		if (a != b)
			goto differ;
	}
	a = get_unaligned_le64(lp) & j->cmp_mask;
	b = get_unaligned_le64(rp) & j->cmp_mask;
	return (a > b) - (a < b);
differ:
	/* a != b: -1 or 1 from the borrow alone */
	return -(int)(a < b) | 1;
}

/**
 * bkey_jit_unpack - unpack a key with its format's unpacker
 * @j:		unpacker from bkey_jit_get() for the format @src is packed in
 * @dst:	the unpacked key
 * @src:	a packed key; at least @j->format.key_u64s words are read
 *
 * Same result as bcachefs's __bch2_bkey_unpack_key() on every byte of
 * @dst. The caller guarantees, as bcachefs does, that @src->u64s is at
 * least the format's key_u64s; bkey_jit_unpack_checked() checks it.
 */
static __always_inline void bkey_jit_unpack(const struct bkey_jit *j,
					    struct bkey *dst,
					    const struct bkey_packed *src)
{
	/* Published once by the compiler, with release semantics. */
	bkey_jit_unpack_fn fn = READ_ONCE(j->unpack);

	if (bkey_jit_fast() && likely(fn))
		fn(dst, src);
	else
		bkey_jit_unpack_slow(j, dst, src);
}

/**
 * bkey_jit_unpack_pos - unpack only the position of a key
 * @j:		unpacker from bkey_jit_get() for the format @src is packed in
 * @dst:	inode, offset and snapshot of @src
 * @src:	a packed key, as for bkey_jit_unpack()
 */
static __always_inline void bkey_jit_unpack_pos(const struct bkey_jit *j,
						struct bpos *dst,
						const struct bkey_packed *src)
{
	bkey_jit_unpack_pos_fn fn = READ_ONCE(j->unpack_pos);

	if (bkey_jit_fast() && likely(fn))
		fn(dst, src);
	else
		bkey_jit_unpack_pos_slow(j, dst, src);
}

/**
 * bkey_jit_cmp_packed - compare two packed keys of one format by position
 * @j:		unpacker from bkey_jit_get() for the format of both keys
 * @l:		a key packed in @j's format (not a struct bkey)
 * @r:		another key packed in @j's format
 *
 * bcachefs's __bch2_bkey_cmp_packed_format_checked(): the keys compare
 * as big integers over their position bits (inode, offset, snapshot),
 * the top bkey_format_key_bits() bits of the key; bits below them (size,
 * version, the header) do not matter.
 *
 * Return: -1, 0 or 1 as @l's position is below, equal to or above @r's.
 */
static __always_inline int bkey_jit_cmp_packed(const struct bkey_jit *j,
					       const struct bkey_packed *l,
					       const struct bkey_packed *r)
{
	bkey_jit_cmp_fn fn = READ_ONCE(j->cmp);

	if (bkey_jit_fast() && likely(fn))
		return fn(l, r);
	/* verify mode runs both, out of line */
	if (bkey_jit_verifying())
		return bkey_jit_cmp_packed_slow(j, l, r);
	return __bkey_jit_cmp_generic(j, l, r);
}

#endif /* _BKEY_JIT_H */
