// SPDX-License-Identifier: GPL-2.0
/*
 * bkey-jit: the per-format cache of unpackers, and the runtime policy
 * around them (mode, fallback, statistics).
 *
 * Pipeline: format -> bkey_format_validate() -> bkey_plan_build() ->
 * bkey_jit_arch_emit() -> vmalloc_exec (publish) -> this cache -> users.
 *
 * Getting an unpacker happens on bcachefs's btree node read path, in I/O
 * completion, possibly with the btree cache lock held elsewhere by a task
 * waiting for that very read. So a get never blocks: a hit is an RCU lookup
 * in an rhashtable, a miss inserts an unpacker that runs the generic C
 * unpack at once and queues its format for compilation by a work item,
 * which publishes the code when done. Puts never block either; freeing
 * waits for the grace periods that make it safe (see bkey_jit_release()).
 */
#include "bkey_jit.h"
#include "bkey_jit_bpf.h"
#include "bkey_jit_plan.h"
#include "bkey_jit_generic.h"
#include "vmalloc_exec.h"

#ifdef __KERNEL__
#include <linux/cfi.h>
#include <linux/cpufeature.h>
#include <linux/ktime.h>
#include <linux/llist.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/rhashtable.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#ifdef CONFIG_X86
#include <linux/cfi.h>
#include <asm/nospec-branch.h>
#endif
#else
#include <time.h>
#endif

/*
 * A cached unpacker; callers only ever see the embedded struct bkey_jit.
 *
 * Lifetime: created by a getter that missed (never sleeping), compiled by
 * bkey_jit_compile_work, unhashed by the last put, freed after an RCU grace
 * period (lookups may still see it) followed by a tasks-RCU one (a task may
 * be preempted inside its code), from bkey_jit_free_work.
 */
struct bkey_jit_entry {
	/*
	 * What a hit touches (the hash link, the count, the code pointers and
	 * the format it compares) comes first: two cache lines, not four.
	 */
	struct rhash_head	node;
	refcount_t		ref;
	bool			hashed;		/* false: a private fallback */
	struct bkey_jit		jit;		/* jit.format is the hash key */
	void			*code;		/* vmalloc_exec allocation */
	unsigned int		code_len;
	unsigned int		unpack_entry;	/* entry offsets in code */
	unsigned int		pos_entry;
	unsigned int		cmp_entry;
	unsigned int		unpack_insns;
	unsigned int		pos_insns;
	unsigned int		cmp_insns;
	struct bkey_jit_bpf	*bpf;		/* the eBPF backend's programs */
	atomic_t		deferred;	/* got in mode off, not queued */
	struct llist_node	work_node;	/* compile, then free list */
	struct rcu_head		rcu;
};

static const struct rhashtable_params bkey_jit_params = {
	.key_len		= sizeof(struct bkey_format),
	.key_offset		= offsetof(struct bkey_jit_entry, jit.format),
	.head_offset		= offsetof(struct bkey_jit_entry, node),
	.automatic_shrinking	= true,
};

static struct rhashtable bkey_jit_table;
static bool bkey_jit_table_ready;

/*
 * Counters. The ones a get or put bumps are shared atomics: a get is once
 * per btree node read. The per-key ones are per CPU, so that unpacking
 * never writes a shared cache line.
 */
static struct {
	atomic_long_t	formats;
	atomic_long_t	compiles;
	atomic_long_t	ebpf_compiles;
	atomic_long_t	fallbacks[BKEY_JIT_FALLBACK_NR];
	atomic_long_t	code_bytes;
	atomic_long_t	invalid_formats;
	atomic_long_t	compile_ns;
	atomic_long_t	compile_phase_ns[BKEY_JIT_PHASE_NR];
	atomic_long_t	pending_frees;
} bkey_jit_stat;

/*
 * Counters written on the node-read path, per CPU: hits and mode-off gets
 * once per node, the unpack counts only in verify mode (counting every
 * key would cost the fallback path what it is meant to save).
 */
struct bkey_jit_key_stats {
	unsigned long	cache_hits;
	unsigned long	mode_off;	/* unpackers handed out in mode off */
	unsigned long	jit_unpacks;
	unsigned long	generic_unpacks;
	unsigned long	verify_mismatches;
};

static DEFINE_PER_CPU(struct bkey_jit_key_stats, bkey_jit_key_stat);

static enum bkey_jit_mode bkey_jit_mode = BKEY_JIT_MODE_ON;
/* Serialises mode changes: the mode and the static key change together. */
static DEFINE_MUTEX(bkey_jit_mode_lock);

/* Enabled while the mode is "on": the inline unpack calls code directly. */
DEFINE_STATIC_KEY_TRUE(bkey_jit_fast_key);
EXPORT_SYMBOL_GPL(bkey_jit_fast_key);

/* Enabled while the mode is "verify": the inline compare goes out of line. */
DEFINE_STATIC_KEY_FALSE(bkey_jit_verify_key);
EXPORT_SYMBOL_GPL(bkey_jit_verify_key);

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
	return container_of((struct bkey_jit *)j, struct bkey_jit_entry, jit);
}

/* Set once at init; gets before it, or after it failed, get no unpacker. */
static struct rhashtable *bkey_jit_table_get(void)
{
	/* pairs with the release in bkey_jit_init(): the table is set up */
	return smp_load_acquire(&bkey_jit_table_ready) ? &bkey_jit_table : NULL;
}

static int __init bkey_jit_init(void)
{
	int ret = rhashtable_init(&bkey_jit_table, &bkey_jit_params);

	if (ret)
		pr_err("bkey_jit: no format cache (%d), unpacking with C\n", ret);
	else	/* the table's contents before the flag, see above */
		smp_store_release(&bkey_jit_table_ready, true);
	return ret;
}

#ifndef MODULE
subsys_initcall(bkey_jit_init);
#endif

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

static int bkey_jit_cfi_cmp(const struct bkey_packed *l,
			    const struct bkey_packed *r)
{
	return 0;
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

static void bkey_jit_emit_opts(struct bkey_jit_emit_opts *o,
			       enum bkey_plan_kind kind)
{
	memset(o, 0, sizeof(*o));
	o->endbr = IS_ENABLED(CONFIG_X86_KERNEL_IBT);
	o->bti = IS_ENABLED(CONFIG_ARM64_BTI_KERNEL);
#ifdef CONFIG_CFI_CLANG
	o->cfi = true;
	o->cfi_padding = IS_ENABLED(CONFIG_CALL_PADDING);
	switch (kind) {
	case BKEY_PLAN_UNPACK_POS:
		o->cfi_hash = bkey_jit_cfi_hash(bkey_jit_cfi_unpack_pos);
		break;
	case BKEY_PLAN_CMP_PACKED:
		o->cfi_hash = bkey_jit_cfi_hash(bkey_jit_cfi_cmp);
		break;
	default:
		o->cfi_hash = bkey_jit_cfi_hash(bkey_jit_cfi_unpack);
		break;
	}
#endif
/*
 * Not in a module: it has no native emitter (vmalloc_exec is built in
 * only) and x86_return_thunk is not exported.
 */
#if defined(CONFIG_X86) && defined(CONFIG_MITIGATION_RETHUNK) && !defined(MODULE)
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

static void bkey_jit_emit_opts(struct bkey_jit_emit_opts *o,
			       enum bkey_plan_kind kind)
{
	*o = bkey_jit_user_opts;
}

static bool bkey_jit_cfi_supported(void)
{
	return true;
}
#endif

/*
 * The functions compiled per format, in the order of their plans (the
 * plan kind is the index) and in the code: full unpack, position-only
 * unpack, compare.
 */
#define BKEY_JIT_NR_FNS		BKEY_PLAN_NR_KINDS
/* the eBPF backend loads the first BKEY_JIT_BPF_NR_PROGS (both unpacks) */
static_assert(BKEY_JIT_NR_FNS >= BKEY_JIT_BPF_NR_PROGS);

/* Scratch for compiling: too big for the stack, so allocated per batch. */
struct bkey_jit_compile_buf {
	struct bkey_plan		plan[BKEY_JIT_NR_FNS];
	struct bkey_jit_emit_opts	opts[BKEY_JIT_NR_FNS];
	/* the sizing passes; the final ones must reproduce them exactly */
	struct bkey_jit_emitted		sized[BKEY_JIT_NR_FNS];
	unsigned int			off[BKEY_JIT_NR_FNS]; /* in the code */
	unsigned int			total;
	u8				staging[BKEY_JIT_NR_FNS * BKEY_JIT_MAX_CODE];
};

/* Why no code can be compiled at all on this kernel, if that is so. */
static enum bkey_jit_fallback bkey_jit_unavailable(void)
{
	if (!bkey_jit_arch_name)
		return BKEY_JIT_FALLBACK_NO_ARCH;
	if (!bkey_jit_cfi_supported())
		return BKEY_JIT_FALLBACK_CFI;
	return BKEY_JIT_FALLBACK_NONE;
}

/*
 * Plan, blind and size every function. Each goes at the next granule
 * after the one before, so all are published with one copy.
 */
static int bkey_jit_plans(const struct bkey_format *f,
			  struct bkey_jit_compile_buf *cb)
{
	int i, ret;

	for (i = 0; i < BKEY_JIT_NR_FNS; i++) {
		ret = bkey_plan_build(f, i, &cb->plan[i]);
		if (ret)
			return ret;
		bkey_plan_blind(&cb->plan[i], get_random_u64());
	}
	return 0;
}

static int bkey_jit_size(const struct bkey_format *f,
			 struct bkey_jit_compile_buf *cb)
{
	int i, ret;

	ret = bkey_jit_plans(f, cb);
	if (ret)
		return ret;
	cb->total = 0;
	for (i = 0; i < BKEY_JIT_NR_FNS; i++) {
		bkey_jit_emit_opts(&cb->opts[i], i);
		ret = bkey_jit_arch_emit(&cb->plan[i], &cb->opts[i], NULL, 0,
					 &cb->sized[i]);
		if (ret)
			return ret;
		cb->off[i] = ALIGN(cb->total, VMALLOC_EXEC_ALIGN);
		cb->total = cb->off[i] + cb->sized[i].len;
	}
	return 0;
}

/*
 * The final pass, for the address the code will run at. It must produce
 * what the sizing pass promised: a longer function would overrun the
 * allocation, a shorter one would leave the entries where they were not
 * sized for. Either is an emitter bug; fall back rather than run it.
 */
static int bkey_jit_emit_code(struct bkey_jit_compile_buf *cb, void *code)
{
	int i, ret;

	for (i = 0; i < BKEY_JIT_NR_FNS; i++) {
		unsigned int off = cb->off[i], end = off + cb->sized[i].len;
		unsigned int next = i + 1 < BKEY_JIT_NR_FNS ? cb->off[i + 1] :
							     cb->total;

		/* the padding between functions traps */
		bkey_jit_arch_fill_trap(cb->staging + end, next - end);
		ret = bkey_jit_arch_emit_final(&cb->plan[i], &cb->opts[i],
					       cb->staging + off,
					       (unsigned long)code + off,
					       &cb->sized[i]);
		if (WARN_ONCE(ret, "bkey_jit: final pass %d differs from sizing\n",
			      i))
			return ret;
	}
	return 0;
}

/* Make the code reachable: release, so its bytes are seen before it. */
static void bkey_jit_publish(struct bkey_jit_entry *e, void *code,
			     const struct bkey_jit_compile_buf *cb)
{
	e->code = code;
	e->code_len = cb->total;
	e->unpack_entry = cb->off[0] + cb->sized[0].entry;
	e->pos_entry = cb->off[1] + cb->sized[1].entry;
	e->cmp_entry = cb->off[2] + cb->sized[2].entry;
	e->unpack_insns = cb->sized[0].nr_insns;
	e->pos_insns = cb->sized[1].nr_insns;
	e->cmp_insns = cb->sized[2].nr_insns;
	/*
	 * Release: whoever reads a code pointer also sees the fields above
	 * (bkey_jit_for_each()). The code bytes themselves were made visible
	 * to every CPU's instruction fetch by the text copy.
	 */
	smp_store_release(&e->jit.cmp,
			  (bkey_jit_cmp_fn)((u8 *)code + e->cmp_entry));
	/* release, as above */
	smp_store_release(&e->jit.unpack_pos,
			  (bkey_jit_unpack_pos_fn)((u8 *)code + e->pos_entry));
	/* the entry the fast path checks goes last, with the same release */
	smp_store_release(&e->jit.unpack,
			  (bkey_jit_unpack_fn)((u8 *)code + e->unpack_entry));
}

static enum bkey_jit_fallback bkey_jit_alloc_failure(const void *code)
{
	return PTR_ERR_OR_ZERO(code) == -ENOSPC ? BKEY_JIT_FALLBACK_CAP :
						   BKEY_JIT_FALLBACK_NOMEM;
}

/*
 * Compile @e's format and publish the code. Runs from the compile work
 * item (process context, may sleep and reclaim), never from a getter.
 */
static enum bkey_jit_fallback bkey_jit_compile(struct bkey_jit_entry *e,
					       struct bkey_jit_compile_buf *cb)
{
	u64 t[BKEY_JIT_PHASE_NR + 1];
	void *code;
	int i;

	t[0] = bkey_jit_now_ns();
	if (bkey_jit_size(&e->jit.format, cb))
		return BKEY_JIT_FALLBACK_EMIT;
	t[1] = bkey_jit_now_ns();

	code = vmalloc_exec_alloc(cb->total);
	if (IS_ERR_OR_NULL(code))
		return bkey_jit_alloc_failure(code);
	t[2] = bkey_jit_now_ns();

	if (bkey_jit_emit_code(cb, code))
		goto unreachable;
	t[3] = bkey_jit_now_ns();
	if (vmalloc_exec_write(code, cb->staging, cb->total))
		goto unreachable;
	t[4] = bkey_jit_now_ns();

	bkey_jit_publish(e, code, cb);
	atomic_long_inc(&bkey_jit_stat.compiles);
	atomic_long_add(cb->total, &bkey_jit_stat.code_bytes);
	atomic_long_add(t[4] - t[0], &bkey_jit_stat.compile_ns);
	for (i = 0; i < BKEY_JIT_PHASE_NR; i++)
		atomic_long_add(t[i + 1] - t[i],
				&bkey_jit_stat.compile_phase_ns[i]);
	return BKEY_JIT_FALLBACK_NONE;

unreachable:
	/* never published: nobody can be executing it */
	vmalloc_exec_free(code);
	return BKEY_JIT_FALLBACK_EMIT;
}

/*
 * The eBPF backend: the same blinded plans, lowered to eBPF and compiled
 * by the kernel's BPF JIT. Published like native code, with release; the
 * unpack slow path calls it (its type is bpf_func_t, not an unpack
 * function's, so the inline fast path never does).
 */
static enum bkey_jit_fallback bkey_jit_compile_bpf(struct bkey_jit_entry *e,
						   struct bkey_jit_compile_buf *cb)
{
	u64 start = bkey_jit_now_ns();
	struct bkey_jit_bpf *b;

	if (bkey_jit_plans(&e->jit.format, cb))
		return BKEY_JIT_FALLBACK_EMIT;
	b = bkey_jit_bpf_compile(cb->plan);
	if (IS_ERR(b)) {
		switch (PTR_ERR(b)) {
		case -ENOMEM:
			return BKEY_JIT_FALLBACK_NOMEM;
		case -EOPNOTSUPP:	/* the BPF JIT is off or refused it */
			return BKEY_JIT_FALLBACK_NOT_JITED;
		case -ENODEV:		/* no BPF JIT in this kernel */
			return BKEY_JIT_FALLBACK_NO_ARCH;
		default:
			return BKEY_JIT_FALLBACK_EMIT;
		}
	}

	e->code_len = bkey_jit_bpf_code_len(b);
	e->unpack_insns = bkey_jit_bpf_insns(b, 0);
	e->pos_insns = bkey_jit_bpf_insns(b, 1);
	/* Release: the fields above are set when the programs are seen. */
	smp_store_release(&e->bpf, b);
	atomic_long_inc(&bkey_jit_stat.compiles);
	atomic_long_inc(&bkey_jit_stat.ebpf_compiles);
	atomic_long_add(e->code_len, &bkey_jit_stat.code_bytes);
	atomic_long_add(bkey_jit_now_ns() - start, &bkey_jit_stat.compile_ns);
	return BKEY_JIT_FALLBACK_NONE;
}

static enum bkey_jit_backend_choice bkey_jit_backend = BKEY_JIT_BACKEND_AUTO;

const char * const bkey_jit_backend_names[BKEY_JIT_BACKEND_NR] = {
	[BKEY_JIT_BACKEND_AUTO]		= "auto",
	[BKEY_JIT_BACKEND_NATIVE]	= "native",
	[BKEY_JIT_BACKEND_EBPF]		= "ebpf",
	[BKEY_JIT_BACKEND_GENERIC]	= "generic",
};

/**
 * bkey_jit_set_backend - choose the code generator for new formats
 * @b:		auto (native where this kernel can run native code, else
 *		eBPF), native, ebpf or generic (no code at all)
 *
 * For comparison and tests; formats compiled already keep their code.
 */
void bkey_jit_set_backend(enum bkey_jit_backend_choice b)
{
	if (b < BKEY_JIT_BACKEND_NR)
		WRITE_ONCE(bkey_jit_backend, b);
}
EXPORT_SYMBOL_GPL(bkey_jit_set_backend);

enum bkey_jit_backend_choice bkey_jit_get_backend(void)
{
	return READ_ONCE(bkey_jit_backend);
}
EXPORT_SYMBOL_GPL(bkey_jit_get_backend);

/*
 * Native code where this kernel can run it (an emitter for the arch,
 * vmalloc_exec, a CFI mode our preamble satisfies); else, in auto, the
 * eBPF backend (a module, FineIBT, an arch with only a BPF JIT).
 */
static enum bkey_jit_fallback bkey_jit_compile_with(struct bkey_jit_entry *e,
						    struct bkey_jit_compile_buf *cb)
{
	enum bkey_jit_fallback native = bkey_jit_unavailable(), why;

	switch (READ_ONCE(bkey_jit_backend)) {
	case BKEY_JIT_BACKEND_GENERIC:
		return BKEY_JIT_FALLBACK_BACKEND;
	case BKEY_JIT_BACKEND_EBPF:
		return bkey_jit_compile_bpf(e, cb);
	case BKEY_JIT_BACKEND_NATIVE:
		return native == BKEY_JIT_FALLBACK_NONE ?
		       bkey_jit_compile(e, cb) : native;
	default:
		if (native == BKEY_JIT_FALLBACK_NONE)
			return bkey_jit_compile(e, cb);
		why = bkey_jit_compile_bpf(e, cb);
		/* No BPF JIT either: say why native code could not run. */
		return why == BKEY_JIT_FALLBACK_NO_ARCH ? native : why;
	}
}

static void bkey_jit_set_fallback(struct bkey_jit_entry *e,
				  enum bkey_jit_fallback why)
{
	WRITE_ONCE(e->jit.fallback, why);
	if (why != BKEY_JIT_FALLBACK_NONE)
		atomic_long_inc(&bkey_jit_stat.fallbacks[why]);
}

static void bkey_jit_compile_one(struct bkey_jit_entry *e,
				 struct bkey_jit_compile_buf **cb)
{
	enum bkey_jit_fallback why;

	/* Only the queue's reference left: nobody wants the code any more. */
	if (refcount_read(&e->ref) == 1)
		return;

	if (!*cb)
		*cb = kmalloc(sizeof(**cb), GFP_KERNEL);
	why = *cb ? bkey_jit_compile_with(e, *cb) : BKEY_JIT_FALLBACK_NOMEM;
	bkey_jit_set_fallback(e, why);
}

/*
 * Getters never compile: they queue the entry (holding a reference) and
 * this work item compiles every queued entry in one batch.
 */
static LLIST_HEAD(bkey_jit_compile_list);
static bool bkey_jit_compiles_held;	/* tests: see bkey_jit_hold_compiles() */

static void bkey_jit_compile_workfn(struct work_struct *work)
{
	struct bkey_jit_compile_buf *cb = NULL;
	struct bkey_jit_entry *e, *n;
	struct llist_node *list;

	if (READ_ONCE(bkey_jit_compiles_held))
		return;
	list = llist_del_all(&bkey_jit_compile_list);

	llist_for_each_entry_safe(e, n, list, work_node) {
		bkey_jit_compile_one(e, &cb);
		bkey_jit_put(&e->jit);
	}
	kfree(cb);
}

static DECLARE_WORK(bkey_jit_compile_work, bkey_jit_compile_workfn);

static void bkey_jit_queue_compile(struct bkey_jit_entry *e)
{
	refcount_inc(&e->ref);
	if (llist_add(&e->work_node, &bkey_jit_compile_list))
		schedule_work(&bkey_jit_compile_work);
}

/*
 * Mode off compiles nothing: code nobody runs would only cost the time to
 * make it and the executable memory to hold it. A format got in mode off
 * is marked deferred; whoever clears the mark queues it, exactly once: the
 * getter that inserted it, if the mode has changed since (the barrier
 * pairs with the one in bkey_jit_set_mode(): either the getter sees the
 * new mode or the mode change's table walk sees the entry), a later get
 * out of mode off, or that walk.
 */
static void bkey_jit_queue_if_deferred(struct bkey_jit_entry *e)
{
	if (atomic_read(&e->deferred) && atomic_xchg(&e->deferred, 0))
		bkey_jit_queue_compile(e);
}

static void bkey_jit_queue_deferred(struct bkey_jit_entry *e)
{
	smp_mb();	/* inserted, then read the mode: pairs with set_mode */
	if (READ_ONCE(bkey_jit_mode) != BKEY_JIT_MODE_OFF)
		bkey_jit_queue_if_deferred(e);
}

/*
 * Call @fn on every cached entry, holding a reference across the call
 * (an entry whose count already reached zero is skipped). Under the
 * walk's RCU read lock: @fn must not sleep. A resize during the walk
 * (-EAGAIN) may show an entry twice or not at all.
 */
static void bkey_jit_walk(void (*fn)(struct bkey_jit_entry *e, void *arg),
			  void *arg)
{
	struct rhashtable *ht = bkey_jit_table_get();
	struct rhashtable_iter iter;
	struct bkey_jit_entry *e;

	if (!ht)
		return;

	rhashtable_walk_enter(ht, &iter);
	rhashtable_walk_start(&iter);
	while ((e = rhashtable_walk_next(&iter))) {
		if (IS_ERR(e) || !refcount_inc_not_zero(&e->ref))
			continue;
		fn(e, arg);
		bkey_jit_put(&e->jit);
	}
	rhashtable_walk_stop(&iter);
	rhashtable_walk_exit(&iter);
}

static void bkey_jit_queue_walked(struct bkey_jit_entry *e, void *unused)
{
	bkey_jit_queue_if_deferred(e);
}

/*
 * Out of mode off: queue every format got while it was on. An entry the
 * walk misses (a resize) is queued by its next get.
 */
static void bkey_jit_queue_all_deferred(void)
{
	bkey_jit_walk(bkey_jit_queue_walked, NULL);
}

/* A new entry, running the generic unpack until its code is published. */
static struct bkey_jit_entry *bkey_jit_entry_new(const struct bkey_format *f)
{
	struct bkey_jit_entry *e = kzalloc(sizeof(*e), GFP_NOWAIT | __GFP_NOWARN);

	if (!e)
		return NULL;
	e->jit.format = *f;
	e->jit.fallback = BKEY_JIT_FALLBACK_PENDING;
	bkey_jit_init_generic(&e->jit);
	refcount_set(&e->ref, 1);
	atomic_set(&e->deferred, READ_ONCE(bkey_jit_mode) == BKEY_JIT_MODE_OFF);
	return e;
}

/*
 * A get that missed: insert a new entry. Losing the race to another getter
 * is a hit on its entry. If the entry found is dying (its last put has not
 * unhashed it yet) or the table cannot take more right now, the caller gets
 * a private entry of its own that keeps the generic unpack; it is correct,
 * only slower, and goes away with the caller's put.
 */
static struct bkey_jit *bkey_jit_insert(struct rhashtable *ht,
					const struct bkey_format *f)
{
	struct bkey_jit_entry *e = bkey_jit_entry_new(f), *old;

	if (!e) {
		atomic_long_inc(&bkey_jit_stat.fallbacks[BKEY_JIT_FALLBACK_NOMEM]);
		return ERR_PTR(-ENOMEM);
	}

	rcu_read_lock();
	old = rhashtable_lookup_get_insert_fast(ht, &e->node, bkey_jit_params);
	if (!IS_ERR_OR_NULL(old) && refcount_inc_not_zero(&old->ref)) {
		rcu_read_unlock();
		kfree(e);
		this_cpu_inc(bkey_jit_key_stat.cache_hits);
		return &old->jit;
	}
	rcu_read_unlock();

	if (old) {
		bkey_jit_set_fallback(e, BKEY_JIT_FALLBACK_BUSY);
		return &e->jit;
	}
	e->hashed = true;
	atomic_long_inc(&bkey_jit_stat.formats);
	if (atomic_read(&e->deferred))
		bkey_jit_queue_deferred(e);
	else
		bkey_jit_queue_compile(e);
	return &e->jit;
}

/* The generic unpacker bkey_jit_generic() hands out before a format. */
static struct bkey_jit bkey_jit_placeholder;
static DEFINE_SPINLOCK(bkey_jit_placeholder_lock);

/**
 * bkey_jit_generic - an unpacker that is always valid and never put
 *
 * For users that need an unpacker before they know the format (a btree
 * node being set up): it unpacks the current, unpacked-layout format
 * with the generic C code. bkey_jit_put() ignores it. Never sleeps.
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

	/* Once, and never seen half built. */
	spin_lock(&bkey_jit_placeholder_lock);
	if (!j->format.nr_fields) {
		j->format = current_format;
		bkey_jit_init_generic(j);
		j->fallback = BKEY_JIT_FALLBACK_NO_ARCH;
	}
	spin_unlock(&bkey_jit_placeholder_lock);
	return j;
}
EXPORT_SYMBOL_GPL(bkey_jit_generic);

/**
 * bkey_jit_get - get the unpacker for a key format
 * @f:	the format
 *
 * Returns the cached unpacker for @f. Never sleeps, never reclaims and
 * takes no sleeping lock, so it is safe on bcachefs's node-read path and
 * in atomic context: a hit is an RCU lookup; a miss allocates with
 * GFP_NOWAIT and returns an unpacker that runs the generic C unpack while
 * its code is compiled by a work item. The code pointers are published
 * once compiled, and the next unpack uses them: the bytes are the same
 * either way. When no code can be had the unpacker keeps the generic C
 * unpack (the reason is in the stats).
 *
 * Return: a referenced unpacker, to be released with bkey_jit_put(), or
 * ERR_PTR(-EINVAL) for a format bcachefs would refuse, or ERR_PTR(-ENOMEM)
 * (then unpack with the caller's own C code).
 */
struct bkey_jit *bkey_jit_get(const struct bkey_format *f)
{
	struct rhashtable *ht = bkey_jit_table_get();
	struct bkey_jit_entry *e;
	bool off;

	if (bkey_format_validate(f, NULL, 0)) {
		atomic_long_inc(&bkey_jit_stat.invalid_formats);
		return ERR_PTR(-EINVAL);
	}
	if (!ht)
		return ERR_PTR(-ENOMEM);

	off = READ_ONCE(bkey_jit_mode) == BKEY_JIT_MODE_OFF;
	if (off)
		this_cpu_inc(bkey_jit_key_stat.mode_off);

	rcu_read_lock();
	e = rhashtable_lookup(ht, f, bkey_jit_params);
	if (e && refcount_inc_not_zero(&e->ref)) {
		rcu_read_unlock();
		this_cpu_inc(bkey_jit_key_stat.cache_hits);
		if (!off)
			bkey_jit_queue_if_deferred(e);
		return &e->jit;
	}
	rcu_read_unlock();
	return bkey_jit_insert(ht, f);
}
EXPORT_SYMBOL_GPL(bkey_jit_get);

/*
 * Freeing, in the order the BPF JITs use: the last put unhashes the entry;
 * after an RCU grace period no lookup can find it any more; after a further
 * tasks-RCU grace period no task can be inside its code either (a task
 * preempted inside it, or one that loaded the code pointer before the put,
 * has scheduled voluntarily since); only then is the code trap-filled and
 * its memory reused, and the entry freed, from a work item because
 * vmalloc_exec_free() sleeps. Without CONFIG_TASKS_RCU (no preemption)
 * call_rcu_tasks() is call_rcu(), which then suffices.
 */
static LLIST_HEAD(bkey_jit_free_list);

static void bkey_jit_free_workfn(struct work_struct *work)
{
	struct llist_node *list = llist_del_all(&bkey_jit_free_list);
	struct bkey_jit_entry *e, *n;

	llist_for_each_entry_safe(e, n, list, work_node) {
		if (e->code) {
			atomic_long_sub(e->code_len, &bkey_jit_stat.code_bytes);
			vmalloc_exec_free(e->code);
		}
		if (e->bpf) {
			atomic_long_sub(e->code_len, &bkey_jit_stat.code_bytes);
			bkey_jit_bpf_free(e->bpf);
		}
		kfree(e);
		atomic_long_dec(&bkey_jit_stat.pending_frees);
	}
}

static DECLARE_WORK(bkey_jit_free_work, bkey_jit_free_workfn);

static void bkey_jit_free_after_tasks_gp(struct rcu_head *rcu)
{
	struct bkey_jit_entry *e = container_of(rcu, struct bkey_jit_entry, rcu);

	if (llist_add(&e->work_node, &bkey_jit_free_list))
		schedule_work(&bkey_jit_free_work);
}

static void bkey_jit_free_after_gp(struct rcu_head *rcu)
{
	struct bkey_jit_entry *e = container_of(rcu, struct bkey_jit_entry, rcu);

	if (e->code || e->bpf)
		call_rcu_tasks(&e->rcu, bkey_jit_free_after_tasks_gp);
	else
		bkey_jit_free_after_tasks_gp(rcu);
}

static void bkey_jit_release(struct bkey_jit_entry *e)
{
	if (e->hashed) {
		rhashtable_remove_fast(&bkey_jit_table, &e->node,
				       bkey_jit_params);
		atomic_long_dec(&bkey_jit_stat.formats);
	}
	atomic_long_inc(&bkey_jit_stat.pending_frees);
	call_rcu(&e->rcu, bkey_jit_free_after_gp);
}

/**
 * bkey_jit_flush - wait for queued compiles and frees
 *
 * For tests and teardown: when it returns, every unpacker got before the
 * call has its code (or its fallback reason), and every unpacker whose
 * last reference was put before the call is freed. May sleep, for long.
 */
void bkey_jit_flush(void)
{
	flush_work(&bkey_jit_compile_work);
	rcu_barrier();
	if (IS_ENABLED(CONFIG_TASKS_RCU))
		rcu_barrier_tasks();
	flush_work(&bkey_jit_free_work);
}
EXPORT_SYMBOL_GPL(bkey_jit_flush);

/**
 * bkey_jit_wait_compiled - wait until queued formats are compiled
 *
 * When it returns, every unpacker got before the call has its code or its
 * fallback reason (unless compiles are held). For tests. May sleep.
 */
void bkey_jit_wait_compiled(void)
{
	flush_work(&bkey_jit_compile_work);
}

/**
 * bkey_jit_hold_compiles - keep new unpackers on the generic unpack
 * @hold:	true to hold queued compiles back, false to run them
 *
 * For tests of the switch from generic to JIT code while in use.
 */
void bkey_jit_hold_compiles(bool hold)
{
	WRITE_ONCE(bkey_jit_compiles_held, hold);
	if (!hold)
		schedule_work(&bkey_jit_compile_work);
}

/**
 * bkey_jit_put - release an unpacker from bkey_jit_get()
 * @j:	the unpacker; NULL, error pointers and bkey_jit_generic() are ignored
 *
 * Never sleeps and takes no sleeping lock: callable under any lock the
 * caller holds and in atomic context. The last put unhashes the unpacker;
 * its code stays valid until no CPU can be running it, so a task still
 * inside it (preempted there, or having loaded the pointer) finishes with
 * the right result. The caller must not start new unpacks with @j.
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
	this_cpu_inc(bkey_jit_key_stat.jit_unpacks);
	if (likely(!memcmp(jit_out, generic_out, size)))
		return;
	this_cpu_inc(bkey_jit_key_stat.verify_mismatches);
	WARN_ON_ONCE(1);
}

/* The eBPF backend's programs of @j, if any (the placeholder has none). */
static const struct bkey_jit_bpf *bkey_jit_bpf_of(const struct bkey_jit *j)
{
	if (j == &bkey_jit_placeholder)
		return NULL;
	/* Pairs with the release in bkey_jit_compile_bpf(). */
	return smp_load_acquire(&to_entry(j)->bpf);
}

/*
 * Verify mode, out of line: the code (native or eBPF) and the generic
 * unpack both run, and the generic result is the one returned, so a
 * mismatch is counted and warned about but never used.
 */
static noinline void bkey_jit_unpack_verified(const struct bkey_jit *j,
					      struct bkey *dst,
					      const struct bkey_packed *src)
{
	bkey_jit_unpack_fn fn = READ_ONCE(j->unpack);
	const struct bkey_jit_bpf *bpf = fn ? NULL : bkey_jit_bpf_of(j);
	struct bkey jit_out;

	__bkey_jit_unpack_generic(j, dst, src);
	this_cpu_inc(bkey_jit_key_stat.generic_unpacks);
	if (fn)
		fn(&jit_out, src);
	else if (bpf)
		bkey_jit_bpf_unpack(bpf, &jit_out, src);
	else
		return;
	bkey_jit_verify(&jit_out, dst, sizeof(*dst));
}

static noinline void bkey_jit_unpack_pos_verified(const struct bkey_jit *j,
						  struct bpos *dst,
						  const struct bkey_packed *src)
{
	bkey_jit_unpack_pos_fn fn = READ_ONCE(j->unpack_pos);
	const struct bkey_jit_bpf *bpf = fn ? NULL : bkey_jit_bpf_of(j);
	struct bpos jit_out;

	__bkey_jit_unpack_pos_generic(j, dst, src);
	this_cpu_inc(bkey_jit_key_stat.generic_unpacks);
	if (fn)
		fn(&jit_out, src);
	else if (bpf)
		bkey_jit_bpf_unpack_pos(bpf, &jit_out, src);
	else
		return;
	bkey_jit_verify(&jit_out, dst, sizeof(*dst));
}

/**
 * bkey_jit_unpack_slow - bkey_jit_unpack() when there is no native code
 * @j:		unpacker
 * @dst:	the unpacked key
 * @src:	the packed key
 *
 * The eBPF backend's program when the format has one, else the generic
 * C unpack, inlined here: mode off, a format without code (refused,
 * capped, not compiled yet, no JIT for the arch) cost one call and no
 * store but @dst's, like bcachefs's own __bch2_bkey_unpack_key(). Native
 * code published after the caller looked is not called: the generic
 * unpack gives the same bytes. Verify mode goes out of line.
 */
void bkey_jit_unpack_slow(const struct bkey_jit *j, struct bkey *dst,
			  const struct bkey_packed *src)
{
	enum bkey_jit_mode mode = READ_ONCE(bkey_jit_mode);
	const struct bkey_jit_bpf *bpf;

	if (unlikely(mode == BKEY_JIT_MODE_VERIFY)) {
		bkey_jit_unpack_verified(j, dst, src);
		return;
	}
	bpf = mode == BKEY_JIT_MODE_ON ? bkey_jit_bpf_of(j) : NULL;
	if (bpf)
		bkey_jit_bpf_unpack(bpf, dst, src);
	else
		__bkey_jit_unpack_generic(j, dst, src);
}
EXPORT_SYMBOL_GPL(bkey_jit_unpack_slow);

/**
 * bkey_jit_unpack_pos_slow - bkey_jit_unpack_pos() when there is no native code
 * @j:		unpacker
 * @dst:	the position
 * @src:	the packed key
 *
 * As bkey_jit_unpack_slow(), for the position only.
 */
void bkey_jit_unpack_pos_slow(const struct bkey_jit *j, struct bpos *dst,
			      const struct bkey_packed *src)
{
	enum bkey_jit_mode mode = READ_ONCE(bkey_jit_mode);
	const struct bkey_jit_bpf *bpf;

	if (unlikely(mode == BKEY_JIT_MODE_VERIFY)) {
		bkey_jit_unpack_pos_verified(j, dst, src);
		return;
	}
	bpf = mode == BKEY_JIT_MODE_ON ? bkey_jit_bpf_of(j) : NULL;
	if (bpf)
		bkey_jit_bpf_unpack_pos(bpf, dst, src);
	else
		__bkey_jit_unpack_pos_generic(j, dst, src);
}
EXPORT_SYMBOL_GPL(bkey_jit_unpack_pos_slow);

/* Verify mode: both compares run, the generic one's result is returned. */
static noinline int bkey_jit_cmp_verified(const struct bkey_jit *j,
					  const struct bkey_packed *l,
					  const struct bkey_packed *r)
{
	bkey_jit_cmp_fn fn = READ_ONCE(j->cmp);
	int ret = __bkey_jit_cmp_generic(j, l, r), jit;

	this_cpu_inc(bkey_jit_key_stat.generic_unpacks);
	if (!fn)
		return ret;
	jit = fn(l, r);
	bkey_jit_verify(&jit, &ret, sizeof(ret));
	return ret;
}

/**
 * bkey_jit_cmp_packed_slow - bkey_jit_cmp_packed() out of line
 * @j:		unpacker for the format of both keys
 * @l:		a packed key
 * @r:		a packed key of the same format
 *
 * What bkey_jit_cmp_packed() calls in verify mode (the code and the
 * generic compare both run, out of line); right in any mode, so a mode
 * change racing with the inline check is harmless: outside verify mode
 * it is the generic compare.
 *
 * Return: -1, 0 or 1 as @l's position is below, equal to or above @r's.
 */
int bkey_jit_cmp_packed_slow(const struct bkey_jit *j,
			     const struct bkey_packed *l,
			     const struct bkey_packed *r)
{
	if (unlikely(READ_ONCE(bkey_jit_mode) == BKEY_JIT_MODE_VERIFY))
		return bkey_jit_cmp_verified(j, l, r);
	return __bkey_jit_cmp_generic(j, l, r);
}
EXPORT_SYMBOL_GPL(bkey_jit_cmp_packed_slow);

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
 * Concurrent callers are serialised, so the static key always matches the
 * mode last set. May sleep.
 *
 * Return: 0 or -EINVAL.
 */
int bkey_jit_set_mode(enum bkey_jit_mode mode)
{
	if (mode > BKEY_JIT_MODE_VERIFY)
		return -EINVAL;

	mutex_lock(&bkey_jit_mode_lock);
	WRITE_ONCE(bkey_jit_mode, mode);
	if (mode == BKEY_JIT_MODE_ON)
		static_branch_enable(&bkey_jit_fast_key);
	else
		static_branch_disable(&bkey_jit_fast_key);
	if (mode == BKEY_JIT_MODE_VERIFY)
		static_branch_enable(&bkey_jit_verify_key);
	else
		static_branch_disable(&bkey_jit_verify_key);
	if (mode != BKEY_JIT_MODE_OFF) {
		smp_mb();	/* pairs with bkey_jit_queue_deferred() */
		bkey_jit_queue_all_deferred();
	}
	mutex_unlock(&bkey_jit_mode_lock);
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
 * Formats compiled while the cap is reached use the generic unpack. Code
 * waiting for its grace period still counts against the cap.
 */
void bkey_jit_set_code_cap(long bytes)
{
	vmalloc_exec_set_cap(bytes);
}

/**
 * bkey_jit_get_code_cap - the cap set by bkey_jit_set_code_cap()
 *
 * Return: the cap in bytes, 0 for none.
 */
long bkey_jit_get_code_cap(void)
{
	struct vmalloc_exec_stats s;

	vmalloc_exec_get_stats(&s);
	return s.bytes_cap;
}

static void bkey_jit_sum_key_stats(struct bkey_jit_stats *s)
{
	int cpu;

	s->cache_hits = 0;
	s->jit_unpacks = 0;
	s->generic_unpacks = 0;
	s->verify_mismatches = 0;
	for_each_possible_cpu(cpu) {
		const struct bkey_jit_key_stats *k =
			per_cpu_ptr(&bkey_jit_key_stat, cpu);

		s->cache_hits += READ_ONCE(k->cache_hits);
		s->jit_unpacks += READ_ONCE(k->jit_unpacks);
		s->generic_unpacks += READ_ONCE(k->generic_unpacks);
		s->fallbacks[BKEY_JIT_FALLBACK_MODE_OFF] += READ_ONCE(k->mode_off);
		s->verify_mismatches += READ_ONCE(k->verify_mismatches);
	}
}

/**
 * bkey_jit_get_stats - a snapshot of the counters
 * @s:	output
 */
void bkey_jit_get_stats(struct bkey_jit_stats *s)
{
	unsigned int i;

	s->formats = atomic_long_read(&bkey_jit_stat.formats);
	s->compiles = atomic_long_read(&bkey_jit_stat.compiles);
	s->ebpf_compiles = atomic_long_read(&bkey_jit_stat.ebpf_compiles);
	for (i = 0; i < BKEY_JIT_FALLBACK_NR; i++)
		s->fallbacks[i] = atomic_long_read(&bkey_jit_stat.fallbacks[i]);
	s->code_bytes = atomic_long_read(&bkey_jit_stat.code_bytes);
	s->invalid_formats = atomic_long_read(&bkey_jit_stat.invalid_formats);
	s->compile_ns = atomic_long_read(&bkey_jit_stat.compile_ns);
	for (i = 0; i < BKEY_JIT_PHASE_NR; i++)
		s->compile_phase_ns[i] =
			atomic_long_read(&bkey_jit_stat.compile_phase_ns[i]);
	s->pending_frees = atomic_long_read(&bkey_jit_stat.pending_frees);
	bkey_jit_sum_key_stats(s);
}
EXPORT_SYMBOL_GPL(bkey_jit_get_stats);

/**
 * bkey_jit_plan_to_text - print the plan the JIT would run for a format
 * @buf:	output
 * @size:	size of @buf
 * @f:		the format
 * @kind:	0 the full unpack, 1 the position-only one, 2 the compare
 *
 * Return: characters written as snprintf() counts them, or -EINVAL.
 */
int bkey_jit_plan_to_text(char *buf, size_t size, const struct bkey_format *f,
			  unsigned int kind)
{
	struct bkey_plan plan;
	int ret;

	if (kind >= BKEY_PLAN_NR_KINDS)
		return -EINVAL;
	ret = bkey_plan_build(f, kind, &plan);
	if (ret)
		return -EINVAL;
	return bkey_plan_to_text(buf, size, &plan);
}
EXPORT_SYMBOL_GPL(bkey_jit_plan_to_text);

static void bkey_jit_entry_info(const struct bkey_jit_entry *e,
				struct bkey_jit_info *info)
{
	/* Acquire pairs with bkey_jit_publish(): the fields below are set. */
	bool compiled = smp_load_acquire(&e->jit.unpack);

	/* Acquire pairs with bkey_jit_compile_bpf(), as above. */
	if (!compiled && smp_load_acquire(&e->bpf)) {
		/* Two BPF programs, not one piece of code we own: no bytes. */
		*info = (struct bkey_jit_info) {
			.refcount	= refcount_read(&e->ref),
			.code_len	= e->code_len,
			.unpack_insns	= e->unpack_insns,
			.pos_insns	= e->pos_insns,
			.cmp_insns	= e->cmp_insns,
			.backend	= "ebpf",
		};
		return;
	}
	if (!compiled) {
		*info = (struct bkey_jit_info) {
			.refcount	= refcount_read(&e->ref),
			.backend	= "generic",
		};
		return;
	}
	*info = (struct bkey_jit_info) {
		.refcount	= refcount_read(&e->ref),
		.code		= e->code,
		.code_len	= e->code_len,
		.unpack_entry	= e->unpack_entry,
		.pos_entry	= e->pos_entry,
		.cmp_entry	= e->cmp_entry,
		.unpack_insns	= e->unpack_insns,
		.pos_insns	= e->pos_insns,
		.cmp_insns	= e->cmp_insns,
		.backend	= bkey_jit_arch_name,
	};
}

struct bkey_jit_for_each_arg {
	void	(*fn)(const struct bkey_jit *j,
		      const struct bkey_jit_info *info, void *arg);
	void	*arg;
};

static void bkey_jit_report_walked(struct bkey_jit_entry *e, void *arg)
{
	struct bkey_jit_for_each_arg *a = arg;
	struct bkey_jit_info info;

	bkey_jit_entry_info(e, &info);
	info.refcount--;	/* the users', not the walk's own */
	a->fn(&e->jit, &info, a->arg);
}

/**
 * bkey_jit_for_each - call @fn for every cached unpacker
 * @fn:		callback; runs under rcu_read_lock(), so it must not sleep
 * @arg:	passed to @fn
 *
 * The code an unpacker reports stays valid until @fn returns. May sleep
 * between callbacks.
 */
void bkey_jit_for_each(void (*fn)(const struct bkey_jit *j,
				  const struct bkey_jit_info *info, void *arg),
		       void *arg)
{
	struct bkey_jit_for_each_arg a = { .fn = fn, .arg = arg };

	bkey_jit_walk(bkey_jit_report_walked, &a);
}
EXPORT_SYMBOL_GPL(bkey_jit_for_each);

#ifdef __KERNEL__
#ifdef MODULE
/**
 * bkey_jit_module_init - set bkey-jit up inside a module
 *
 * For a module that links bkey-jit in (bcachefs.ko built out of tree, with
 * the eBPF backend only), called first from its init. Without the format
 * cache every unpacker is the caller's C code, as when built in.
 */
void __init bkey_jit_module_init(void)
{
	bkey_jit_init();
	bkey_jit_debugfs_init();
}

/**
 * bkey_jit_module_exit - tear bkey-jit down before the module goes away
 *
 * Called last from the module's exit, when no filesystem holds an
 * unpacker. Removes debugfs first (no new readers, and it waits for the
 * ones inside), then waits for the whole freeing chain - the compile work
 * item, the RCU and tasks-RCU callbacks (rcu_barrier(), rcu_barrier_tasks())
 * and the free work item - since every one of them runs code and reads
 * data of this module.
 */
void bkey_jit_module_exit(void)
{
	bkey_jit_debugfs_exit();
	bkey_jit_hold_compiles(false);
	bkey_jit_flush();
	if (!bkey_jit_table_get())
		return;
	/* A format still cached here is a reference bcachefs leaked. */
	WARN_ON(atomic_long_read(&bkey_jit_stat.formats));
	rhashtable_destroy(&bkey_jit_table);
}

/*
 * Named as when built in: bcachefs.ko takes bkey_jit.mode=verify, and
 * bcachefs.bkey_jit.mode=verify on the kernel command line.
 */
#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX	"bkey_jit."
/* and described under that name, for modinfo */
#define BKEY_JIT_PARM_DESC(name, desc)	MODULE_INFO(parm, "bkey_jit." #name ":" desc)
#else
#define BKEY_JIT_PARM_DESC(name, desc)	MODULE_PARM_DESC(name, desc)
#endif

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
BKEY_JIT_PARM_DESC(mode, "off, on or verify");

static int bkey_jit_cap_param_set(const char *val,
				  const struct kernel_param *kp)
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

static int bkey_jit_backend_param_set(const char *val,
				      const struct kernel_param *kp)
{
	int i = sysfs_match_string(bkey_jit_backend_names, val);

	if (i < 0)
		return -EINVAL;
	bkey_jit_set_backend(i);
	return 0;
}

static int bkey_jit_backend_param_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  bkey_jit_backend_names[bkey_jit_get_backend()]);
}

static const struct kernel_param_ops bkey_jit_backend_ops = {
	.set = bkey_jit_backend_param_set,
	.get = bkey_jit_backend_param_get,
};

/* bkey_jit.backend=auto|native|ebpf|generic, to compare backends. */
module_param_cb(backend, &bkey_jit_backend_ops, NULL, 0644);
BKEY_JIT_PARM_DESC(backend, "auto, native, ebpf or generic");

/* bkey_jit.code_cap=BYTES: cap executable memory (tests of the fallback). */
module_param_cb(code_cap, &bkey_jit_cap_ops, NULL, 0200);
BKEY_JIT_PARM_DESC(code_cap, "cap on executable bytes for JIT code, 0 = none");
#endif
