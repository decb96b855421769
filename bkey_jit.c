// SPDX-License-Identifier: GPL-2.0
/*
 * bkey-jit: the per-format cache of unpackers, and the runtime policy
 * around them (mode, fallback, statistics).
 *
 * Pipeline: format -> bkey_format_validate() -> bkey_plan_build() ->
 * bkey_jit_arch_emit() -> vmalloc_exec (publish) -> this cache -> users.
 *
 * Compiling takes a couple of microseconds and happens once per format, so
 * a get that misses compiles under the cache mutex: concurrent getters of
 * a new format wait and then share the one result. Lookups of cached
 * formats take the same mutex; they happen when a btree node is read or
 * created, never per key.
 */
#include "bkey_jit.h"
#include "bkey_jit_plan.h"
#include "vmalloc_exec.h"

#ifdef __KERNEL__
#include <linux/cfi.h>
#include <linux/cpufeature.h>
#include <linux/ktime.h>
#include <linux/llist.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#ifdef CONFIG_X86
#include <asm/cfi.h>
#include <asm/nospec-branch.h>
#endif
#else
#include <time.h>
#endif

#define BKEY_JIT_HASH_BITS	8
#define BKEY_JIT_HASH_SIZE	BIT(BKEY_JIT_HASH_BITS)

/* A cached unpacker; callers only ever see the embedded struct bkey_jit. */
struct bkey_jit_entry {
	struct bkey_jit		jit;
	struct bkey_jit_entry	*next;		/* hash chain */
	refcount_t		ref;
	void			*code;		/* vmalloc_exec allocation */
	unsigned int		code_len;
	unsigned int		unpack_insns;
	unsigned int		pos_insns;
#ifdef __KERNEL__
	struct llist_node	free_node;
#endif
};

static DEFINE_MUTEX(bkey_jit_lock);
static struct bkey_jit_entry *bkey_jit_hash[BKEY_JIT_HASH_SIZE];

static struct {
	atomic_long_t	formats;
	atomic_long_t	compiles;
	atomic_long_t	cache_hits;
	atomic_long_t	fallbacks[BKEY_JIT_FALLBACK_NR];
	atomic_long_t	jit_unpacks;
	atomic_long_t	generic_unpacks;
	atomic_long_t	verify_mismatches;
	atomic_long_t	code_bytes;
	atomic_long_t	invalid_formats;
	atomic_long_t	compile_ns;
} bkey_jit_stat;

static enum bkey_jit_mode bkey_jit_mode = BKEY_JIT_MODE_ON;

/* Enabled while the mode is "on": the inline unpack calls code directly. */
DEFINE_STATIC_KEY_TRUE(bkey_jit_fast_key);
EXPORT_SYMBOL_GPL(bkey_jit_fast_key);

static void bkey_jit_fast_set(bool on)
{
	if (on)
		static_branch_enable(&bkey_jit_fast_key);
	else
		static_branch_disable(&bkey_jit_fast_key);
}

#ifdef __KERNEL__
static u64 bkey_jit_now_ns(void)
{
	return ktime_get_ns();
}
#else
static u64 bkey_jit_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
#endif

static inline struct bkey_jit_entry *to_entry(const struct bkey_jit *j)
{
	return (struct bkey_jit_entry *)((char *)j -
					 offsetof(struct bkey_jit_entry, jit));
}

/* FNV-1a over the format's bytes; formats are 56 bytes. */
static unsigned int bkey_format_hash(const struct bkey_format *f)
{
	const u8 *p = (const u8 *)f;
	u32 h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*f); i++)
		h = (h ^ p[i]) * 16777619u;
	return (h ^ (h >> 16)) & (BKEY_JIT_HASH_SIZE - 1);
}

/* Emitter options: what the running kernel requires of indirect targets. */
#ifdef __KERNEL__
#ifdef CONFIG_CFI_CLANG
/* Never called: their kCFI type hashes are the ones the JIT code carries. */
static void bkey_jit_cfi_unpack(struct bkey *dst, const struct bkey_packed *src)
{
}

static void bkey_jit_cfi_unpack_pos(struct bpos *dst,
				    const struct bkey_packed *src)
{
}

#ifdef CONFIG_X86
/* x86 knows the preamble layout (CALL_PADDING) and the boot-time rehash. */
#define bkey_jit_cfi_hash(fn)	cfi_get_func_hash(fn)
#else
/*
 * 6.12 has cfi_get_func_hash() on x86 (and riscv) only. arm64 kCFI keeps
 * the type hash in the word just before the function, and never rehashes.
 */
static u32 bkey_jit_cfi_hash(void *func)
{
	u32 hash;

	if (get_kernel_nofault(hash, (u32 *)func - 1))
		return 0;
	return hash;
}
#endif
#endif

/*
 * Can the running kernel call code we emit? Under FineIBT (x86, chosen at
 * boot on IBT hardware) callers check a preamble our emitter does not
 * produce, so every format stays on the generic unpack there.
 */
static bool bkey_jit_cfi_supported(void)
{
#ifdef CONFIG_FINEIBT
	return cfi_mode != CFI_FINEIBT;
#else
	return true;
#endif
}

static void bkey_jit_emit_opts(struct bkey_jit_emit_opts *o, bool pos)
{
	memset(o, 0, sizeof(*o));
	o->endbr = IS_ENABLED(CONFIG_X86_KERNEL_IBT);
	o->bti = IS_ENABLED(CONFIG_ARM64_BTI_KERNEL);
#ifdef CONFIG_CFI_CLANG
	o->cfi = true;
	o->cfi_padding = IS_ENABLED(CONFIG_CALL_PADDING);
	o->cfi_hash = pos ? bkey_jit_cfi_hash(bkey_jit_cfi_unpack_pos)
			  : bkey_jit_cfi_hash(bkey_jit_cfi_unpack);
#endif
#if defined(CONFIG_X86) && defined(CONFIG_MITIGATION_RETHUNK)
	if (cpu_feature_enabled(X86_FEATURE_RETHUNK))
		o->return_thunk = (unsigned long)x86_return_thunk;
#endif
}
#else
static struct bkey_jit_emit_opts bkey_jit_user_opts;

/* Userspace tests exercise the security options through the cache too. */
void bkey_jit_set_emit_opts(const struct bkey_jit_emit_opts *o)
{
	bkey_jit_user_opts = *o;
}

static void bkey_jit_emit_opts(struct bkey_jit_emit_opts *o, bool pos)
{
	*o = bkey_jit_user_opts;
}

static bool bkey_jit_cfi_supported(void)
{
	return true;
}
#endif

static enum bkey_jit_fallback bkey_jit_alloc_failure(unsigned int len)
{
	struct vmalloc_exec_stats s;

	vmalloc_exec_get_stats(&s);
	return s.bytes_cap && s.bytes_used + len > s.bytes_cap ?
		BKEY_JIT_FALLBACK_CAP : BKEY_JIT_FALLBACK_NOMEM;
}

/* Scratch for one compile: too big for the stack, so allocated. */
struct bkey_jit_compile_buf {
	struct bkey_plan	plan[2];	/* full key, position only */
	u8			staging[2 * BKEY_JIT_MAX_CODE];
};

/*
 * Emit both functions into one staging buffer, the position-only one at
 * the next granule, and publish them with one copy into executable memory.
 */
static enum bkey_jit_fallback bkey_jit_compile(struct bkey_jit_entry *e)
{
	struct bkey_jit_compile_buf *cb;
	struct bkey_jit_emit_opts opts[2];
	struct bkey_jit_emitted out[2];
	unsigned int pos_off = 0, len = 0;
	void *code = NULL;
	u64 start = bkey_jit_now_ns();
	int ret = 0, i;

	if (!bkey_jit_arch_name || !bkey_jit_cfi_supported())
		return BKEY_JIT_FALLBACK_NO_ARCH;

	cb = kmalloc(sizeof(*cb), GFP_KERNEL);
	if (!cb)
		return BKEY_JIT_FALLBACK_NOMEM;

	/* Sizing pass: the length does not depend on the final address. */
	for (i = 0; i < 2 && !ret; i++) {
		bkey_jit_emit_opts(&opts[i], i);
		ret = bkey_plan_build(&e->jit.format, i ? BKEY_PLAN_UNPACK_POS :
				      BKEY_PLAN_UNPACK, &cb->plan[i]);
		if (!ret) {
			bkey_plan_blind(&cb->plan[i], get_random_u64());
			ret = bkey_jit_arch_emit(&cb->plan[i], &opts[i], NULL, 0,
						 &out[i]);
		}
	}
	if (ret)
		goto err;
	pos_off = ALIGN(out[0].len, VMALLOC_EXEC_ALIGN);
	len = pos_off + out[1].len;

	code = vmalloc_exec_alloc(len);
	if (!code) {
		kfree(cb);
		return bkey_jit_alloc_failure(len);
	}
	bkey_jit_arch_fill_trap(cb->staging, len);

	for (i = 0; i < 2 && !ret; i++) {
		unsigned int off = i ? pos_off : 0;

		ret = bkey_jit_arch_emit(&cb->plan[i], &opts[i], cb->staging + off,
					 (unsigned long)code + off, &out[i]);
	}
	if (!ret)
		ret = vmalloc_exec_write(code, cb->staging, len);
	if (ret)
		goto err;
	kfree(cb);

	e->code = code;
	e->code_len = len;
	e->unpack_insns = out[0].nr_insns;
	e->pos_insns = out[1].nr_insns;
	e->jit.unpack = (bkey_jit_unpack_fn)((u8 *)code + out[0].entry);
	e->jit.unpack_pos = (bkey_jit_unpack_pos_fn)((u8 *)code + pos_off +
						    out[1].entry);
	atomic_long_inc(&bkey_jit_stat.compiles);
	atomic_long_add(len, &bkey_jit_stat.code_bytes);
	atomic_long_add(bkey_jit_now_ns() - start, &bkey_jit_stat.compile_ns);
	return BKEY_JIT_FALLBACK_NONE;
err:
	vmalloc_exec_free(code);
	kfree(cb);
	return BKEY_JIT_FALLBACK_EMIT;
}

static struct bkey_jit_entry *bkey_jit_lookup(const struct bkey_format *f,
					      unsigned int h)
{
	struct bkey_jit_entry *e;

	/* An entry whose last reference is gone is waiting to be freed. */
	for (e = bkey_jit_hash[h]; e; e = e->next)
		if (!memcmp(&e->jit.format, f, sizeof(*f)) &&
		    refcount_inc_not_zero(&e->ref))
			return e;
	return NULL;
}

static struct bkey_jit_entry *bkey_jit_create(const struct bkey_format *f)
{
	struct bkey_jit_entry *e = kzalloc(sizeof(*e), GFP_KERNEL);

	if (!e)
		return NULL;
	e->jit.format = *f;
	bkey_jit_init_generic(&e->jit);
	refcount_set(&e->ref, 1);

	e->jit.fallback = bkey_jit_compile(e);
	if (e->jit.fallback)
		atomic_long_inc(&bkey_jit_stat.fallbacks[e->jit.fallback]);
	return e;
}

/* The generic unpacker bkey_jit_generic() hands out before a format. */
static struct bkey_jit bkey_jit_placeholder;

/**
 * bkey_jit_generic - an unpacker that is always valid and never put
 *
 * For users that need an unpacker before they know the format (a btree
 * node being set up): it unpacks the current, unpacked-layout format
 * with the generic C code. bkey_jit_put() ignores it.
 *
 * Return: a static unpacker.
 */
struct bkey_jit *bkey_jit_generic(void)
{
	static const struct bkey_format current_format = {
		.key_u64s	= BKEY_U64s,
		.nr_fields	= BKEY_NR_FIELDS,
		.bits_per_field	= { 64, 64, 32, 32, 32, 64 },
	};
	struct bkey_jit *j = &bkey_jit_placeholder;

	/* Not a hot path: the lock keeps a half-built placeholder unseen. */
	mutex_lock(&bkey_jit_lock);
	if (!j->format.nr_fields) {
		j->format = current_format;
		bkey_jit_init_generic(j);
		j->fallback = BKEY_JIT_FALLBACK_NO_ARCH;
	}
	mutex_unlock(&bkey_jit_lock);
	return j;
}
EXPORT_SYMBOL_GPL(bkey_jit_generic);

/**
 * bkey_jit_get - get the unpacker for a key format
 * @f:	the format
 *
 * Returns the cached unpacker for @f, compiling it on first use. Never
 * fails for a valid format: when no code can be generated or published
 * the unpacker uses the generic C unpack (the reason is in the stats).
 * May sleep.
 *
 * Return: a referenced unpacker, to be released with bkey_jit_put(), or
 * ERR_PTR(-EINVAL) for a format bcachefs would refuse, or ERR_PTR(-ENOMEM).
 */
struct bkey_jit *bkey_jit_get(const struct bkey_format *f)
{
	unsigned int h = bkey_format_hash(f);
	struct bkey_jit_entry *e;

	if (bkey_format_validate(f, NULL, 0)) {
		atomic_long_inc(&bkey_jit_stat.invalid_formats);
		return ERR_PTR(-EINVAL);
	}

	mutex_lock(&bkey_jit_lock);
	e = bkey_jit_lookup(f, h);
	if (e) {
		atomic_long_inc(&bkey_jit_stat.cache_hits);
	} else {
		e = bkey_jit_create(f);
		if (e) {
			e->next = bkey_jit_hash[h];
			bkey_jit_hash[h] = e;
			atomic_long_inc(&bkey_jit_stat.formats);
		}
	}
	mutex_unlock(&bkey_jit_lock);

	return e ? &e->jit : ERR_PTR(-ENOMEM);
}
EXPORT_SYMBOL_GPL(bkey_jit_get);

static void bkey_jit_unhash(struct bkey_jit_entry *e)
{
	struct bkey_jit_entry **p = &bkey_jit_hash[bkey_format_hash(&e->jit.format)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
}

/* Unhash and free an entry whose last reference is gone. */
static void bkey_jit_free_entry(struct bkey_jit_entry *e)
{
	mutex_lock(&bkey_jit_lock);
	bkey_jit_unhash(e);
	mutex_unlock(&bkey_jit_lock);
	atomic_long_sub(1, &bkey_jit_stat.formats);

	if (e->code) {
		atomic_long_sub(e->code_len, &bkey_jit_stat.code_bytes);
		vmalloc_exec_free(e->code);
	}
	kfree(e);
}

#ifdef __KERNEL__
/*
 * The last put may come from a context that holds locks our mutex must
 * not nest under (bcachefs frees node buffers under its btree cache
 * lock, which its shrinker takes during reclaim, and bkey_jit_get()
 * allocates under our mutex). So the put itself only drops the count;
 * unhashing and freeing run from a work item.
 */
static LLIST_HEAD(bkey_jit_free_list);

static void bkey_jit_free_workfn(struct work_struct *work)
{
	struct llist_node *list = llist_del_all(&bkey_jit_free_list);
	struct bkey_jit_entry *e, *n;

	llist_for_each_entry_safe(e, n, list, free_node)
		bkey_jit_free_entry(e);
}

static DECLARE_WORK(bkey_jit_free_work, bkey_jit_free_workfn);

static void bkey_jit_release(struct bkey_jit_entry *e)
{
	if (llist_add(&e->free_node, &bkey_jit_free_list))
		schedule_work(&bkey_jit_free_work);
}

/**
 * bkey_jit_flush - wait until released unpackers are freed
 *
 * For tests and teardown: after it returns the stats no longer count
 * unpackers whose last reference was put before the call.
 */
void bkey_jit_flush(void)
{
	flush_work(&bkey_jit_free_work);
}
#else
static void bkey_jit_release(struct bkey_jit_entry *e)
{
	bkey_jit_free_entry(e);
}

void bkey_jit_flush(void)
{
}
#endif
EXPORT_SYMBOL_GPL(bkey_jit_flush);

/**
 * bkey_jit_put - release an unpacker from bkey_jit_get()
 * @j:	the unpacker; NULL, error pointers and bkey_jit_generic() are ignored
 *
 * Never sleeps and takes no lock: callable under any lock the caller may
 * hold. The last put frees the code (from a work item in the kernel). The
 * caller must not be unpacking with @j any more; another CPU that still
 * runs the code (preempted inside it, or having loaded the pointer) is
 * covered by vmalloc_exec_free(), which reuses the memory only after a
 * grace period.
 */
void bkey_jit_put(struct bkey_jit *j)
{
	struct bkey_jit_entry *e;

	if (IS_ERR_OR_NULL(j) || j == &bkey_jit_placeholder)
		return;

	e = to_entry(j);
	if (refcount_dec_and_test(&e->ref))
		bkey_jit_release(e);
}
EXPORT_SYMBOL_GPL(bkey_jit_put);

static void bkey_jit_verify(const void *jit_out, const void *generic_out,
			    size_t size)
{
	atomic_long_inc(&bkey_jit_stat.jit_unpacks);
	if (likely(!memcmp(jit_out, generic_out, size)))
		return;
	atomic_long_inc(&bkey_jit_stat.verify_mismatches);
	WARN_ON_ONCE(1);
}

/**
 * bkey_jit_unpack_slow - bkey_jit_unpack() when the fast path is off
 * @j:		unpacker
 * @dst:	the unpacked key
 * @src:	the packed key
 *
 * Mode off, no code for this format, or verify mode: in verify mode the
 * code and the generic unpack both run, and the generic result is the one
 * returned, so a mismatch is counted and warned about but never used.
 */
void bkey_jit_unpack_slow(const struct bkey_jit *j, struct bkey *dst,
			  const struct bkey_packed *src)
{
	enum bkey_jit_mode mode = READ_ONCE(bkey_jit_mode);
	struct bkey jit_out;

	if (mode == BKEY_JIT_MODE_ON && j->unpack) {
		j->unpack(dst, src);	/* raced with a mode change */
		return;
	}

	bkey_jit_unpack_generic(j, dst, src);
	atomic_long_inc(&bkey_jit_stat.generic_unpacks);
	if (mode == BKEY_JIT_MODE_OFF) {
		atomic_long_inc(&bkey_jit_stat.fallbacks[BKEY_JIT_FALLBACK_MODE_OFF]);
	} else if (mode == BKEY_JIT_MODE_VERIFY && j->unpack) {
		j->unpack(&jit_out, src);
		bkey_jit_verify(&jit_out, dst, sizeof(*dst));
	}
}
EXPORT_SYMBOL_GPL(bkey_jit_unpack_slow);

/**
 * bkey_jit_unpack_pos_slow - bkey_jit_unpack_pos() when the fast path is off
 * @j:		unpacker
 * @dst:	the position
 * @src:	the packed key
 */
void bkey_jit_unpack_pos_slow(const struct bkey_jit *j, struct bpos *dst,
			      const struct bkey_packed *src)
{
	enum bkey_jit_mode mode = READ_ONCE(bkey_jit_mode);
	struct bpos jit_out;

	if (mode == BKEY_JIT_MODE_ON && j->unpack_pos) {
		j->unpack_pos(dst, src);
		return;
	}

	bkey_jit_unpack_pos_generic(j, dst, src);
	atomic_long_inc(&bkey_jit_stat.generic_unpacks);
	if (mode == BKEY_JIT_MODE_OFF) {
		atomic_long_inc(&bkey_jit_stat.fallbacks[BKEY_JIT_FALLBACK_MODE_OFF]);
	} else if (mode == BKEY_JIT_MODE_VERIFY && j->unpack_pos) {
		j->unpack_pos(&jit_out, src);
		bkey_jit_verify(&jit_out, dst, sizeof(*dst));
	}
}
EXPORT_SYMBOL_GPL(bkey_jit_unpack_pos_slow);

/**
 * bkey_jit_unpack_checked - unpack a key that may be malformed
 * @j:		unpacker
 * @dst:	the unpacked key
 * @src:	the packed key
 *
 * Refuses a key whose u64s is shorter than its format's key_u64s (the
 * unpack would read past it) or longer than an unpacked key can describe.
 *
 * Return: 0, or -EINVAL without touching @dst.
 */
int bkey_jit_unpack_checked(const struct bkey_jit *j, struct bkey *dst,
			    const struct bkey_packed *src)
{
	if (src->u64s < j->format.key_u64s ||
	    (unsigned int)(src->u64s - j->format.key_u64s) > BKEY_VAL_U64s_MAX ||
	    src->format != KEY_FORMAT_LOCAL_BTREE)
		return -EINVAL;
	bkey_jit_unpack(j, dst, src);
	return 0;
}
EXPORT_SYMBOL_GPL(bkey_jit_unpack_checked);

/**
 * bkey_jit_set_mode - switch between JIT code, generic C and verification
 * @mode:	enum bkey_jit_mode
 *
 * Takes effect for every unpacker, cached or not, on the next unpack.
 *
 * Return: 0 or -EINVAL.
 */
int bkey_jit_set_mode(enum bkey_jit_mode mode)
{
	if (mode > BKEY_JIT_MODE_VERIFY)
		return -EINVAL;
	WRITE_ONCE(bkey_jit_mode, mode);
	bkey_jit_fast_set(mode == BKEY_JIT_MODE_ON);
	return 0;
}
EXPORT_SYMBOL_GPL(bkey_jit_set_mode);

/**
 * bkey_jit_get_mode - the current mode
 *
 * Return: enum bkey_jit_mode.
 */
enum bkey_jit_mode bkey_jit_get_mode(void)
{
	return READ_ONCE(bkey_jit_mode);
}
EXPORT_SYMBOL_GPL(bkey_jit_get_mode);

/**
 * bkey_jit_set_code_cap - cap the executable memory held by JIT code
 * @bytes:	the cap, 0 for none
 *
 * Formats compiled while the cap is reached use the generic unpack.
 */
void bkey_jit_set_code_cap(long bytes)
{
	vmalloc_exec_set_cap(bytes);
}
EXPORT_SYMBOL_GPL(bkey_jit_set_code_cap);

/**
 * bkey_jit_get_stats - a snapshot of the counters
 * @s:	output
 */
void bkey_jit_get_stats(struct bkey_jit_stats *s)
{
	unsigned int i;

	s->formats = atomic_long_read(&bkey_jit_stat.formats);
	s->compiles = atomic_long_read(&bkey_jit_stat.compiles);
	s->cache_hits = atomic_long_read(&bkey_jit_stat.cache_hits);
	for (i = 0; i < BKEY_JIT_FALLBACK_NR; i++)
		s->fallbacks[i] = atomic_long_read(&bkey_jit_stat.fallbacks[i]);
	s->jit_unpacks = atomic_long_read(&bkey_jit_stat.jit_unpacks);
	s->generic_unpacks = atomic_long_read(&bkey_jit_stat.generic_unpacks);
	s->verify_mismatches = atomic_long_read(&bkey_jit_stat.verify_mismatches);
	s->code_bytes = atomic_long_read(&bkey_jit_stat.code_bytes);
	s->invalid_formats = atomic_long_read(&bkey_jit_stat.invalid_formats);
	s->compile_ns = atomic_long_read(&bkey_jit_stat.compile_ns);
}
EXPORT_SYMBOL_GPL(bkey_jit_get_stats);

/**
 * bkey_jit_plan_to_text - print the plan the JIT would run for a format
 * @buf:	output
 * @size:	size of @buf
 * @f:		the format
 * @pos_only:	the position-only variant
 *
 * Return: characters written as snprintf() counts them, or -EINVAL.
 */
int bkey_jit_plan_to_text(char *buf, size_t size, const struct bkey_format *f,
			  bool pos_only)
{
	struct bkey_plan plan;
	int ret = bkey_plan_build(f, pos_only ? BKEY_PLAN_UNPACK_POS :
				  BKEY_PLAN_UNPACK, &plan);

	if (ret)
		return -EINVAL;
	return bkey_plan_to_text(buf, size, &plan);
}
EXPORT_SYMBOL_GPL(bkey_jit_plan_to_text);

/**
 * bkey_jit_for_each - call @fn for every cached unpacker, under the lock
 * @fn:		callback; must not sleep or call back into bkey_jit
 * @arg:	passed to @fn
 */
void bkey_jit_for_each(void (*fn)(const struct bkey_jit *j,
				  const struct bkey_jit_info *info, void *arg),
		       void *arg)
{
	struct bkey_jit_entry *e;
	unsigned int h;

	mutex_lock(&bkey_jit_lock);
	for (h = 0; h < BKEY_JIT_HASH_SIZE; h++)
		for (e = bkey_jit_hash[h]; e; e = e->next) {
			struct bkey_jit_info info = {
				.refcount	= refcount_read(&e->ref),
				.code		= e->code,
				.code_len	= e->code_len,
				.unpack_insns	= e->unpack_insns,
				.pos_insns	= e->pos_insns,
				.unpack_entry	= e->code ? (u8 *)e->jit.unpack -
						  (u8 *)e->code : 0,
				.pos_entry	= e->code ? (u8 *)e->jit.unpack_pos -
						  (u8 *)e->code : 0,
			};

			fn(&e->jit, &info, arg);
		}
	mutex_unlock(&bkey_jit_lock);
}
EXPORT_SYMBOL_GPL(bkey_jit_for_each);

#ifdef __KERNEL__
static int bkey_jit_mode_param_set(const char *val, const struct kernel_param *kp)
{
	static const char * const names[] = { "off", "on", "verify" };
	int i = sysfs_match_string(names, val);

	return i < 0 ? -EINVAL : bkey_jit_set_mode(i);
}

static int bkey_jit_mode_param_get(char *buf, const struct kernel_param *kp)
{
	static const char * const names[] = { "off", "on", "verify" };

	return sysfs_emit(buf, "%s\n", names[bkey_jit_get_mode()]);
}

static const struct kernel_param_ops bkey_jit_mode_ops = {
	.set = bkey_jit_mode_param_set,
	.get = bkey_jit_mode_param_get,
};

/* bkey_jit.mode=off|on|verify on the kernel command line. */
module_param_cb(mode, &bkey_jit_mode_ops, NULL, 0644);
MODULE_PARM_DESC(mode, "off, on or verify");

static int bkey_jit_cap_param_set(const char *val, const struct kernel_param *kp)
{
	unsigned long cap;
	int ret = kstrtoul(val, 0, &cap);

	if (!ret)
		bkey_jit_set_code_cap(cap);
	return ret;
}

static const struct kernel_param_ops bkey_jit_cap_ops = {
	.set = bkey_jit_cap_param_set,
	.get = NULL,
};

/* bkey_jit.code_cap=BYTES: cap executable memory (tests of the fallback). */
module_param_cb(code_cap, &bkey_jit_cap_ops, NULL, 0200);
MODULE_PARM_DESC(code_cap, "cap on executable bytes for JIT code, 0 = none");
#endif
