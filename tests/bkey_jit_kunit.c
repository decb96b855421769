// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for bkey_jit in the kernel: the emitted code against the
 * generic C unpack and a bit-at-a-time reference, instruction decoding on
 * x86-64, the per-format cache under concurrency, gets and puts in atomic
 * context, the switch from generic to JIT code while in use, freeing only
 * after the grace periods, and every fallback. Tests that change global
 * state (mode, cap, fault injection, held compiles) restore it with KUnit
 * actions, so a failed assertion leaves nothing behind.
 */
#include <kunit/test.h>
#include <linux/kthread.h>
#include <linux/random.h>
#include <linux/completion.h>
#include <linux/filter.h>
#include <linux/delay.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#ifdef CONFIG_X86_64
#include <asm/insn.h>
#endif

#include "bkey_jit.h"
#include "bkey_jit_plan.h"
#include "vmalloc_exec.h"
#include "tests/ref_unpack.h"
#include "tests/blind_scan.h"

/* A random valid format: widths biased to 0 and full, offsets at edges. */
static void random_format(struct bkey_format *f)
{
	unsigned int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < BKEY_NR_FIELDS; i++) {
		unsigned int r = get_random_u32_below(8), b;
		u64 max;

		b = r < 2 ? 0 : r == 2 ? ref_field_width(i) :
			get_random_u32_below(ref_field_width(i) + 1);
		f->bits_per_field[i] = b;
		max = b == ref_field_width(i) ? 0 :
			ref_mask(ref_field_width(i)) - ref_mask(b);
		switch (get_random_u32_below(4)) {
		case 0:
			break;
		case 1:
			f->field_offset[i] = cpu_to_le64(max);
			break;
		default:
			f->field_offset[i] = cpu_to_le64(max == U64_MAX ?
				get_random_u64() : get_random_u64() % (max + 1));
		}
	}
	ref_format_finish(f);
}

static void random_key(const struct bkey_format *f, struct bkey_packed *k)
{
	unsigned int w;

	memset(k, 0xa5, sizeof(*k));
	for (w = 0; w < f->key_u64s; w++)
		k->_data[w] = get_random_u64();
}

static void print_failure(struct kunit *test, const struct bkey_jit *j,
			  const struct bkey_packed *k)
{
	char buf[256];

	bkey_jit_format_to_text(buf, sizeof(buf), &j->format);
	kunit_info(test, "format: %s\nkey: %*phN\n", buf,
		   8 * j->format.key_u64s, k);
}

static void restore_mode(void *mode)
{
	bkey_jit_set_mode((enum bkey_jit_mode)(uintptr_t)mode);
}

static void restore_cap(void *cap)
{
	bkey_jit_set_code_cap((long)(uintptr_t)cap);
}

static void restore_fail_next(void *unused)
{
	vmalloc_exec_fail_next(0);
}

static void release_compiles(void *unused)
{
	bkey_jit_hold_compiles(false);
}

/* Global state a test changes goes back when it ends, however it ends. */
static void save_mode(struct kunit *test)
{
	void *mode = (void *)(uintptr_t)bkey_jit_get_mode();

	KUNIT_ASSERT_EQ(test, kunit_add_action(test, restore_mode, mode), 0);
}

static void save_cap(struct kunit *test)
{
	void *cap = (void *)(uintptr_t)bkey_jit_get_code_cap();

	KUNIT_ASSERT_EQ(test, kunit_add_action(test, restore_cap, cap), 0);
}

/* An unpacker with its code compiled (or its fallback reason set). */
static struct bkey_jit *get_compiled(const struct bkey_format *f)
{
	struct bkey_jit *j = bkey_jit_get(f);

	bkey_jit_wait_compiled();
	return j;
}

/* Is the kernel's BPF JIT on (sysctl net.core.bpf_jit_enable)? */
static int bpf_jit_on(void)
{
#ifdef CONFIG_BPF_JIT
	return READ_ONCE(bpf_jit_enable);
#else
	return 0;
#endif
}

struct backend_probe {
	const struct bkey_jit	*j;
	const char		*backend;
};

static void backend_of(const struct bkey_jit *j,
		       const struct bkey_jit_info *info, void *arg)
{
	struct backend_probe *p = arg;

	if (j == p->j)
		p->backend = info->backend;
}

static const char *unpacker_backend(const struct bkey_jit *j)
{
	struct backend_probe p = { .j = j };

	bkey_jit_for_each(backend_of, &p);
	return p.backend ?: "";
}

/* >= 1e4 random formats, random and boundary keys, both variants. */
static void bkey_jit_test_differential(struct kunit *test)
{
	struct bkey_packed k __aligned(8);
	unsigned int n, i, with_code = 0, ebpf = 0;

	for (n = 0; n < 10000; n++) {
		struct bkey_format f;
		struct bkey_jit *j;

		random_format(&f);
		j = get_compiled(&f);
		KUNIT_ASSERT_FALSE(test, IS_ERR(j));
		with_code += !!j->unpack;
		/* where there is no native backend, auto picks the eBPF one */
		ebpf += !strcmp(unpacker_backend(j), "ebpf");

		for (i = 0; i < 16; i++) {
			struct bkey a, b, c;
			struct bpos pa, pc;

			random_key(&f, &k);
			if (i == 0)
				memset(k._data, 0xff, 8 * f.key_u64s);
			bkey_jit_unpack(j, &a, &k);
			bkey_jit_unpack_generic(j, &b, &k);
			ref_unpack_bits(&f, &k, &c);
			bkey_jit_unpack_pos(j, &pa, &k);
			ref_unpack_pos_bits(&f, &k, &pc);
			if (memcmp(&a, &c, sizeof(a)) || memcmp(&b, &c, sizeof(b)) ||
			    memcmp(&pa, &pc, sizeof(pa))) {
				print_failure(test, j, &k);
				KUNIT_FAIL(test, "unpack mismatch: jit %d generic %d pos %d",
					   !memcmp(&a, &c, sizeof(a)),
					   !memcmp(&b, &c, sizeof(b)),
					   !memcmp(&pa, &pc, sizeof(pa)));
				bkey_jit_put(j);
				return;
			}
		}
		bkey_jit_put(j);
		cond_resched();
	}
	if (bkey_jit_arch_name)
		KUNIT_EXPECT_EQ(test, with_code, 10000U);
	else if (bpf_jit_on())
		KUNIT_EXPECT_EQ(test, ebpf, 10000U);
	kunit_info(test, "10000 formats, %u with native code, %u through the BPF JIT, 160000 keys\n",
		   with_code, ebpf);
}

/* Flip bit @p of @k, counted as ref_cmp_bits() does from the top. */
static void flip_bit(const struct bkey_format *f, struct bkey_packed *k,
		     unsigned int p)
{
	k->_data[f->key_u64s - 1 - p / 64] ^= 1ULL << (63 - p % 64);
}

/*
 * The packed-key compare in every mode (on: the native code, verify: both
 * and a mismatch counted, off: the generic C), against the bit-at-a-time
 * reference: equal keys, one bit flipped at every bit of the key (below
 * the position it must not matter), random pairs.
 */
static void bkey_jit_test_cmp(struct kunit *test)
{
	static const enum bkey_jit_mode modes[] = {
		BKEY_JIT_MODE_ON, BKEY_JIT_MODE_VERIFY, BKEY_JIT_MODE_OFF,
	};
	struct bkey_packed l __aligned(8), r __aligned(8);
	struct bkey_jit_stats before, after;
	unsigned int n, p, m, with_code = 0;
	unsigned long verified = 0;

	save_mode(test);
	bkey_jit_get_stats(&before);
	for (n = 0; n < 1000; n++) {
		struct bkey_format f;
		struct bkey_jit *j;

		random_format(&f);
		/* mode off would defer the compile: get each format in mode on */
		KUNIT_ASSERT_EQ(test, bkey_jit_set_mode(BKEY_JIT_MODE_ON), 0);
		j = get_compiled(&f);
		KUNIT_ASSERT_FALSE(test, IS_ERR(j));
		with_code += !!READ_ONCE(j->cmp);

		for (m = 0; m < ARRAY_SIZE(modes); m++) {
			KUNIT_ASSERT_EQ(test, bkey_jit_set_mode(modes[m]), 0);
			random_key(&f, &l);
			r = l;
			KUNIT_EXPECT_EQ(test, bkey_jit_cmp_packed(j, &l, &r), 0);
			for (p = 0; p < 64 * f.key_u64s; p++) {
				int want;

				random_key(&f, &l);
				r = l;
				flip_bit(&f, &r, p);
				want = ref_cmp_bits(&f, &l, &r);
				if (bkey_jit_cmp_packed(j, &l, &r) != want ||
				    bkey_jit_cmp_packed(j, &r, &l) != -want ||
				    bkey_jit_cmp_packed_generic(j, &l, &r) != want) {
					print_failure(test, j, &l);
					KUNIT_FAIL(test, "compare mismatch: mode %u bit %u want %d",
						   modes[m], p, want);
					bkey_jit_put(j);
					return;
				}
			}
			random_key(&f, &r);
			KUNIT_EXPECT_EQ(test, bkey_jit_cmp_packed(j, &l, &r),
					ref_cmp_bits(&f, &l, &r));
			/* verify mode's compares go out of line and count */
			if (modes[m] == BKEY_JIT_MODE_VERIFY)
				verified += 2 + 2 * 64 * f.key_u64s;
		}
		bkey_jit_put(j);
		cond_resched();
	}
	bkey_jit_get_stats(&after);
	KUNIT_EXPECT_EQ(test, after.verify_mismatches, before.verify_mismatches);
	/* and mode on and off count nothing: inline, no store per compare */
	KUNIT_EXPECT_EQ(test, after.generic_unpacks - before.generic_unpacks,
			verified);
	if (bkey_jit_arch_name)
		KUNIT_EXPECT_EQ(test, with_code, 1000U);
	kunit_info(test, "1000 formats, %u with compare code\n", with_code);
}

#ifdef CONFIG_X86_64
/* Every emitted function decodes with the kernel's decoder, as reported. */
static void bkey_jit_test_insn_decode(struct kunit *test)
{
	struct bkey_jit_emit_opts opts = { .endbr = true, .cfi = true,
					   .cfi_padding = true, .cfi_hash = 0x1234 };
	u8 *buf = kunit_kzalloc(test, BKEY_JIT_MAX_CODE, GFP_KERNEL);
	unsigned int n, kind;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (n = 0; n < 2000; n++) {
		struct bkey_format f;

		random_format(&f);
		for (kind = 0; kind < BKEY_PLAN_NR_KINDS; kind++) {
			struct bkey_jit_emitted out;
			struct bkey_plan plan;
			unsigned int off, insns = 0;

			if (n & 1)
				memset(&opts, 0, sizeof(opts));
			KUNIT_ASSERT_EQ(test, bkey_plan_build(&f, kind, &plan), 0);
			KUNIT_ASSERT_EQ(test, bkey_jit_arch_emit(&plan, &opts, buf,
								 (unsigned long)buf, &out), 0);
			for (off = out.entry; off < out.len; insns++) {
				struct insn insn;
				int ret = insn_decode(&insn, buf + off, out.len - off,
						      INSN_MODE_64);

				KUNIT_ASSERT_EQ_MSG(test, ret, 0, "undecodable at %u", off);
				off += insn.length;
			}
			KUNIT_EXPECT_EQ(test, off, out.len);
			KUNIT_EXPECT_EQ(test, insns, out.nr_insns);
		}
	}
}
#endif

/* Same format, same unpacker; refcounts; nothing left at the end. */
static void bkey_jit_test_cache_dedup(struct kunit *test)
{
	struct bkey_format f = { .bits_per_field = { 3, 5, 7, 11, 13, 17 } };
	struct bkey_jit_stats s0, s1;
	struct bkey_jit *a, *b, *c;

	ref_format_finish(&f);
	bkey_jit_get_stats(&s0);
	a = bkey_jit_get(&f);
	b = bkey_jit_get(&f);
	KUNIT_EXPECT_PTR_EQ(test, a, b);
	f.field_offset[1] = cpu_to_le64(1);
	c = bkey_jit_get(&f);
	KUNIT_EXPECT_PTR_NE(test, a, c);
	bkey_jit_get_stats(&s1);
	KUNIT_EXPECT_EQ(test, s1.formats - s0.formats, 2);
	KUNIT_EXPECT_EQ(test, s1.cache_hits - s0.cache_hits, 1);
	bkey_jit_put(a);
	bkey_jit_put(b);
	bkey_jit_put(c);
	bkey_jit_flush();
	bkey_jit_get_stats(&s1);
	KUNIT_EXPECT_EQ(test, s1.formats, s0.formats);
	KUNIT_EXPECT_EQ(test, s1.code_bytes, s0.code_bytes);
}

#define NR_KTHREADS	8

struct cache_thread_ctx {
	struct bkey_format	*pool;
	atomic_t		failures;
	atomic_t		checks;
	struct completion	done[NR_KTHREADS];
};

static int cache_thread(void *arg)
{
	struct cache_thread_ctx *ctx = arg;
	struct bkey_packed k __aligned(8);
	unsigned int i, n;

	for (i = 0; i < 2000; i++) {
		struct bkey_jit *j = bkey_jit_get(&ctx->pool[get_random_u32_below(16)]);
		struct bkey a, c;

		for (n = 0; n < 4; n++) {
			random_key(&j->format, &k);
			bkey_jit_unpack(j, &a, &k);
			ref_unpack_bits(&j->format, &k, &c);
			if (memcmp(&a, &c, sizeof(a)))
				atomic_inc(&ctx->failures);
			atomic_inc(&ctx->checks);
		}
		bkey_jit_put(j);
		if (!(i % 64))
			cond_resched();
	}
	return 0;
}

struct cache_thread_arg {
	struct cache_thread_ctx	*ctx;
	unsigned int		idx;
};

static int cache_thread_fn(void *arg)
{
	struct cache_thread_arg *a = arg;

	cache_thread(a->ctx);
	complete(&a->ctx->done[a->idx]);
	return 0;
}

/* Eight kthreads get, unpack and put a small pool of formats at once. */
static void bkey_jit_test_cache_concurrency(struct kunit *test)
{
	struct cache_thread_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	struct cache_thread_arg args[NR_KTHREADS];
	struct bkey_format *pool = kunit_kcalloc(test, 16, sizeof(*pool), GFP_KERNEL);
	struct bkey_jit_stats s0, s1;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	KUNIT_ASSERT_NOT_NULL(test, pool);
	for (i = 0; i < 16; i++)
		random_format(&pool[i]);
	ctx->pool = pool;
	bkey_jit_get_stats(&s0);

	for (i = 0; i < NR_KTHREADS; i++) {
		struct task_struct *t;

		init_completion(&ctx->done[i]);
		args[i].ctx = ctx;
		args[i].idx = i;
		t = kthread_run(cache_thread_fn, &args[i], "bkey_jit_test/%u", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	for (i = 0; i < NR_KTHREADS; i++)
		wait_for_completion(&ctx->done[i]);

	bkey_jit_flush();
	bkey_jit_get_stats(&s1);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->failures), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->checks), NR_KTHREADS * 2000 * 4);
	KUNIT_EXPECT_EQ(test, s1.formats, s0.formats);
	KUNIT_EXPECT_EQ(test, s1.code_bytes, s0.code_bytes);
}

static void check_keys(struct kunit *test, struct bkey_jit *j, unsigned int n)
{
	struct bkey_packed k __aligned(8);
	struct bkey a, c;

	while (n--) {
		random_key(&j->format, &k);
		bkey_jit_unpack(j, &a, &k);
		ref_unpack_bits(&j->format, &k, &c);
		KUNIT_EXPECT_MEMEQ(test, &a, &c, sizeof(a));
	}
}

/* Mode off and verify, injected allocation failure, the cap. */
static void bkey_jit_test_fallback(struct kunit *test)
{
	struct bkey_format f = { .bits_per_field = { 13, 41, 7, 16, 0, 3 } };
	enum bkey_jit_mode old = bkey_jit_get_mode();
	struct bkey_jit_stats s0, s1;
	struct bkey_jit *j;

	save_mode(test);
	save_cap(test);
	KUNIT_ASSERT_EQ(test, kunit_add_action(test, restore_fail_next, NULL), 0);

	ref_format_finish(&f);
	f.field_offset[0] = cpu_to_le64(0x5eed);
	j = get_compiled(&f);
	KUNIT_ASSERT_FALSE(test, IS_ERR(j));
	bkey_jit_get_stats(&s0);
	bkey_jit_set_mode(BKEY_JIT_MODE_OFF);
	check_keys(test, j, 64);
	bkey_jit_set_mode(BKEY_JIT_MODE_VERIFY);
	check_keys(test, j, 64);
	bkey_jit_set_mode(old);
	bkey_jit_get_stats(&s1);
	/* counted in verify mode only: mode off costs no counter per key */
	KUNIT_EXPECT_EQ(test, s1.generic_unpacks - s0.generic_unpacks, 64);
	if (j->unpack)
		KUNIT_EXPECT_EQ(test, s1.jit_unpacks - s0.jit_unpacks, 64);
	KUNIT_EXPECT_EQ(test, s1.verify_mismatches, 0);
	bkey_jit_put(j);

	f.field_offset[0] = cpu_to_le64(0x5eee);
	vmalloc_exec_fail_next(1);
	j = get_compiled(&f);
	KUNIT_ASSERT_FALSE(test, IS_ERR(j));
	KUNIT_EXPECT_NULL(test, j->unpack);
	if (bkey_jit_arch_name)
		KUNIT_EXPECT_EQ(test, j->fallback, BKEY_JIT_FALLBACK_NOMEM);
	check_keys(test, j, 64);
	bkey_jit_put(j);
	vmalloc_exec_fail_next(0);

	f.field_offset[0] = cpu_to_le64(0x5eef);
	bkey_jit_set_code_cap(16);
	j = get_compiled(&f);
	bkey_jit_set_code_cap(0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(j));
	KUNIT_EXPECT_NULL(test, j->unpack);
	if (bkey_jit_arch_name)
		KUNIT_EXPECT_EQ(test, j->fallback, BKEY_JIT_FALLBACK_CAP);
	check_keys(test, j, 64);
	bkey_jit_put(j);
}

/*
 * Mode off compiles nothing (a format got then stays pending, on the
 * generic unpack); leaving mode off queues what was deferred, once.
 */
static void bkey_jit_test_mode_off_defers(struct kunit *test)
{
	struct bkey_format f = { .bits_per_field = { 19, 37, 5, 9, 0, 11 } };
	struct bkey_jit_stats s0, s1;
	struct bkey_jit *j;

	save_mode(test);
	ref_format_finish(&f);
	f.field_offset[1] = cpu_to_le64(0xdefe7);

	bkey_jit_get_stats(&s0);
	bkey_jit_set_mode(BKEY_JIT_MODE_OFF);
	j = get_compiled(&f);
	KUNIT_ASSERT_FALSE(test, IS_ERR(j));
	bkey_jit_get_stats(&s1);
	KUNIT_EXPECT_EQ(test, s1.compiles, s0.compiles);
	KUNIT_EXPECT_EQ(test, j->fallback, BKEY_JIT_FALLBACK_PENDING);
	KUNIT_EXPECT_NULL(test, j->unpack);
	check_keys(test, j, 64);

	bkey_jit_set_mode(BKEY_JIT_MODE_VERIFY);
	bkey_jit_put(get_compiled(&f));
	bkey_jit_get_stats(&s1);
	/* compiled, or refused for a reason of its own: not pending */
	KUNIT_EXPECT_NE(test, j->fallback, BKEY_JIT_FALLBACK_PENDING);
	KUNIT_EXPECT_LE(test, s1.compiles - s0.compiles, 1);
	if (bkey_jit_arch_name)
		KUNIT_EXPECT_NOT_NULL(test, j->unpack);
	check_keys(test, j, 64);
	KUNIT_EXPECT_EQ(test, s1.verify_mismatches, 0);
	bkey_jit_put(j);
}

/*
 * The node-read path may hold spinlocks or run with preemption off: gets
 * and puts never sleep there (CONFIG_DEBUG_ATOMIC_SLEEP and lockdep in the
 * debug leg would say so), and the unpackers they return are correct at
 * once (generic C) and get their code shortly after.
 */
#define NR_ATOMIC_FORMATS	32

/* Static, so lockdep has a class for it (a stack lock would need one). */
static DEFINE_SPINLOCK(get_atomic_lock);

static void bkey_jit_test_get_atomic(struct kunit *test)
{
	struct bkey_format *f = kunit_kcalloc(test, NR_ATOMIC_FORMATS,
					      sizeof(*f), GFP_KERNEL);
	struct bkey_jit **j = kunit_kcalloc(test, NR_ATOMIC_FORMATS,
					    sizeof(*j), GFP_KERNEL);
	struct bkey_jit *hit;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_NOT_NULL(test, j);
	for (i = 0; i < NR_ATOMIC_FORMATS; i++)
		random_format(&f[i]);

	preempt_disable();
	for (i = 0; i < NR_ATOMIC_FORMATS / 2; i++)
		j[i] = bkey_jit_get(&f[i]);
	preempt_enable();
	spin_lock(&get_atomic_lock);
	for (; i < NR_ATOMIC_FORMATS; i++)
		j[i] = bkey_jit_get(&f[i]);
	hit = bkey_jit_get(&f[0]);
	spin_unlock(&get_atomic_lock);

	for (i = 0; i < NR_ATOMIC_FORMATS; i++) {
		KUNIT_ASSERT_FALSE(test, IS_ERR(j[i]));
		check_keys(test, j[i], 8);
	}
	KUNIT_EXPECT_PTR_EQ(test, hit, j[0]);

	bkey_jit_wait_compiled();
	for (i = 0; i < NR_ATOMIC_FORMATS; i++) {
		if (bkey_jit_arch_name)
			KUNIT_EXPECT_NOT_NULL(test, READ_ONCE(j[i]->unpack));
		check_keys(test, j[i], 8);
	}

	spin_lock(&get_atomic_lock);
	bkey_jit_put(hit);
	for (i = 0; i < NR_ATOMIC_FORMATS; i++)
		bkey_jit_put(j[i]);
	spin_unlock(&get_atomic_lock);
	bkey_jit_flush();
}

/* Several kthreads unpack through one unpacker while it gets its code. */
#define NR_SWITCH_THREADS	4

struct switch_ctx {
	struct bkey_jit		*j;
	bool			stop;
	atomic_t		failures;
	atomic_t		generic_seen;
	atomic_t		jit_seen;
	struct completion	done[NR_SWITCH_THREADS];
};

struct switch_arg {
	struct switch_ctx	*ctx;
	unsigned int		idx;
};

static int switch_thread_fn(void *arg)
{
	struct switch_arg *a = arg;
	struct switch_ctx *ctx = a->ctx;
	struct bkey_packed k __aligned(8);
	unsigned int n = 0;

	while (!READ_ONCE(ctx->stop)) {
		struct bkey got, want;
		struct bpos pos, want_pos;
		bool jit = READ_ONCE(ctx->j->unpack);

		random_key(&ctx->j->format, &k);
		bkey_jit_unpack(ctx->j, &got, &k);
		bkey_jit_unpack_pos(ctx->j, &pos, &k);
		ref_unpack_bits(&ctx->j->format, &k, &want);
		ref_unpack_pos_bits(&ctx->j->format, &k, &want_pos);
		if (memcmp(&got, &want, sizeof(got)) ||
		    memcmp(&pos, &want_pos, sizeof(pos)))
			atomic_inc(&ctx->failures);
		atomic_inc(jit ? &ctx->jit_seen : &ctx->generic_seen);
		if (!(++n % 256))
			cond_resched();
	}
	complete(&ctx->done[a->idx]);
	return 0;
}

static void bkey_jit_test_switch_while_in_use(struct kunit *test)
{
	struct switch_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	struct switch_arg args[NR_SWITCH_THREADS];
	struct bkey_format f = { .bits_per_field = { 9, 40, 0, 20, 8, 5 } };
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	KUNIT_ASSERT_EQ(test, kunit_add_action(test, release_compiles, NULL), 0);
	/* a new format each run (a 40-bit field takes any 32-bit offset) */
	ref_format_finish(&f);
	f.field_offset[1] = cpu_to_le64(get_random_u32());

	bkey_jit_hold_compiles(true);
	ctx->j = bkey_jit_get(&f);
	KUNIT_ASSERT_FALSE(test, IS_ERR(ctx->j));
	KUNIT_EXPECT_NULL(test, READ_ONCE(ctx->j->unpack));

	for (i = 0; i < NR_SWITCH_THREADS; i++) {
		struct task_struct *t;

		init_completion(&ctx->done[i]);
		args[i] = (struct switch_arg) { .ctx = ctx, .idx = i };
		t = kthread_run(switch_thread_fn, &args[i], "bkey_jit_switch/%u", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	msleep(50);
	bkey_jit_hold_compiles(false);
	bkey_jit_wait_compiled();
	msleep(50);
	WRITE_ONCE(ctx->stop, true);
	for (i = 0; i < NR_SWITCH_THREADS; i++)
		wait_for_completion(&ctx->done[i]);

	kunit_info(test, "%d unpacks before the switch, %d after\n",
		   atomic_read(&ctx->generic_seen), atomic_read(&ctx->jit_seen));
	KUNIT_EXPECT_EQ(test, atomic_read(&ctx->failures), 0);
	KUNIT_EXPECT_GT(test, atomic_read(&ctx->generic_seen), 0);
	if (bkey_jit_arch_name)
		KUNIT_EXPECT_GT(test, atomic_read(&ctx->jit_seen), 0);
	bkey_jit_put(ctx->j);
	bkey_jit_flush();
}

/* Does [p, p + len) of executable memory hold nothing but traps? */
static bool code_is_trap(const void *p, size_t len)
{
	u8 buf[BKEY_JIT_MAX_CODE];
	u8 trap[BKEY_JIT_MAX_CODE];

	len = min(len, sizeof(buf));
	if (copy_from_kernel_nofault(buf, p, len))
		return false;
	bkey_jit_arch_fill_trap(trap, len);
	return !memcmp(buf, trap, len);
}

/*
 * After the last put, code a task may still be running stays intact until
 * the grace periods are over: the raw function pointer still unpacks
 * right (here inside an RCU read-side section, which holds the first grace
 * period back); afterwards the memory holds traps.
 */
static void bkey_jit_test_free_after_grace_period(struct kunit *test)
{
	struct bkey_format f = { .bits_per_field = { 9, 47, 0, 20, 8, 5 } };
	struct bkey_packed k __aligned(8);
	struct bkey_jit_stats s0, s1;
	struct bkey_jit *j, *keep;
	bkey_jit_unpack_fn fn;
	struct bkey got, want;

	if (!bkey_jit_arch_name)
		kunit_skip(test, "no JIT backend on this architecture");

	ref_format_finish(&f);
	f.field_offset[1] = cpu_to_le64(0x600d);
	j = get_compiled(&f);
	f.field_offset[1] = cpu_to_le64(0x600e);
	keep = get_compiled(&f);	/* keeps the pack in use */
	KUNIT_ASSERT_FALSE(test, IS_ERR(j));
	KUNIT_ASSERT_FALSE(test, IS_ERR(keep));
	fn = READ_ONCE(j->unpack);
	KUNIT_ASSERT_NOT_NULL(test, fn);
	bkey_jit_get_stats(&s0);

	random_key(&j->format, &k);
	ref_unpack_bits(&j->format, &k, &want);
	rcu_read_lock();
	bkey_jit_put(j);			/* the last reference */
	fn(&got, &k);
	rcu_read_unlock();
	KUNIT_EXPECT_MEMEQ(test, &got, &want, sizeof(got));
	bkey_jit_get_stats(&s1);
	KUNIT_EXPECT_EQ(test, s1.pending_frees - s0.pending_frees, 1);

	bkey_jit_flush();
	bkey_jit_get_stats(&s1);
	KUNIT_EXPECT_EQ(test, s1.pending_frees, 0);
	KUNIT_EXPECT_TRUE(test, code_is_trap(fn, 16));
	bkey_jit_put(keep);
	bkey_jit_flush();
}

static void restore_backend(void *b)
{
	bkey_jit_set_backend((enum bkey_jit_backend_choice)(uintptr_t)b);
}

/*
 * The eBPF backend through the kernel's own BPF JIT: random formats
 * compiled as BPF programs (prog->jited, else no code), unpacked through
 * them, full key and position, against the bit-at-a-time reference.
 */
static void bkey_jit_test_ebpf_backend(struct kunit *test)
{
	void *old = (void *)(uintptr_t)bkey_jit_get_backend();
	unsigned int n, i, ebpf = 0;

	if (!IS_ENABLED(CONFIG_BPF_JIT))
		kunit_skip(test, "no BPF JIT in this kernel");
	KUNIT_ASSERT_EQ(test, kunit_add_action(test, restore_backend, old), 0);
	bkey_jit_set_backend(BKEY_JIT_BACKEND_EBPF);

	for (n = 0; n < 200; n++) {
		struct bkey_packed k __aligned(8);
		struct bkey_format f;
		struct bkey_jit *j;

		random_format(&f);
		j = get_compiled(&f);
		KUNIT_ASSERT_FALSE(test, IS_ERR(j));
		ebpf += !strcmp(unpacker_backend(j), "ebpf");
		KUNIT_EXPECT_NULL(test, READ_ONCE(j->unpack));
		for (i = 0; i < 8; i++) {
			struct bkey a, c;
			struct bpos pa, pc;

			random_key(&f, &k);
			bkey_jit_unpack(j, &a, &k);
			bkey_jit_unpack_pos(j, &pa, &k);
			ref_unpack_bits(&f, &k, &c);
			ref_unpack_pos_bits(&f, &k, &pc);
			KUNIT_EXPECT_MEMEQ(test, &a, &c, sizeof(a));
			KUNIT_EXPECT_MEMEQ(test, &pa, &pc, sizeof(pa));
		}
		/* eBPF formats compare with the generic C: itself, neighbours */
		KUNIT_EXPECT_NULL(test, READ_ONCE(j->cmp));
		for (i = 0; i < 64 * f.key_u64s; i++) {
			struct bkey_packed r = k;

			KUNIT_EXPECT_EQ(test, bkey_jit_cmp_packed(j, &k, &r), 0);
			flip_bit(&f, &r, i);
			KUNIT_EXPECT_EQ(test, bkey_jit_cmp_packed(j, &k, &r),
					ref_cmp_bits(&f, &k, &r));
		}
		bkey_jit_put(j);
	}
	kunit_info(test, "200 formats, %u compiled by the BPF JIT (bpf_jit_enable %d)\n",
		   ebpf, bpf_jit_on());
	if (bpf_jit_on())
		KUNIT_EXPECT_EQ(test, ebpf, 200U);
}

#ifdef CONFIG_BPF_JIT
static void restore_bpf_jit_enable(void *v)
{
	WRITE_ONCE(bpf_jit_enable, (int)(uintptr_t)v);
}
#endif

/*
 * The eBPF backend with the BPF JIT switched off (sysctl
 * net.core.bpf_jit_enable=0): the kernel would run the programs in its
 * interpreter, slower than the generic C, so bkey-jit refuses them, says
 * why (not_jited) and unpacks right with the generic C.
 */
static void bkey_jit_test_ebpf_jit_off(struct kunit *test)
{
#ifdef CONFIG_BPF_JIT
	void *old = (void *)(uintptr_t)bkey_jit_get_backend();
	struct bkey_jit_stats s0, s1;
	unsigned int n, generic = 0;

	if (IS_ENABLED(CONFIG_BPF_JIT_ALWAYS_ON))
		kunit_skip(test, "BPF_JIT_ALWAYS_ON: the JIT cannot be switched off");
	KUNIT_ASSERT_EQ(test, kunit_add_action(test, restore_backend, old), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action(test, restore_bpf_jit_enable,
					       (void *)(uintptr_t)bpf_jit_on()), 0);
	bkey_jit_set_backend(BKEY_JIT_BACKEND_EBPF);
	WRITE_ONCE(bpf_jit_enable, 0);

	bkey_jit_get_stats(&s0);
	for (n = 0; n < 20; n++) {
		struct bkey_format f;
		struct bkey_jit *j;

		random_format(&f);
		j = get_compiled(&f);
		KUNIT_ASSERT_FALSE(test, IS_ERR(j));
		generic += !strcmp(unpacker_backend(j), "generic");
		KUNIT_EXPECT_EQ(test, READ_ONCE(j->fallback),
				BKEY_JIT_FALLBACK_NOT_JITED);
		check_keys(test, j, 16);
		bkey_jit_put(j);
	}
	bkey_jit_get_stats(&s1);
	KUNIT_EXPECT_EQ(test, generic, 20U);
	KUNIT_EXPECT_EQ(test, s1.fallbacks[BKEY_JIT_FALLBACK_NOT_JITED] -
			s0.fallbacks[BKEY_JIT_FALLBACK_NOT_JITED], 20);
	KUNIT_EXPECT_EQ(test, s1.compiles, s0.compiles);
#else
	kunit_skip(test, "no BPF JIT in this kernel");
#endif
}

struct invalid_case {
	const char		*name;
	struct bkey_format	f;
	bool			keep_u64s;
};

static const struct invalid_case invalid_cases[] = {
	{ "nr_fields", { .nr_fields = 5, .bits_per_field = { 8 } }, false },
	{ "too wide", { .bits_per_field = { 65 } }, false },
	{ "snapshot too wide", { .bits_per_field = { 0, 0, 33 } }, false },
	{ "full width with offset", { .bits_per_field = { 64 }, .field_offset = { 1 } }, false },
	{ "overflow", { .bits_per_field = { 0, 0, 1 }, .field_offset = { 0, 0, U32_MAX } }, false },
	{ "key_u64s", { .key_u64s = 3, .bits_per_field = { 8 } }, true },
};

static void invalid_case_desc(const struct invalid_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(invalid, invalid_cases, invalid_case_desc);

/* An invalid format gets an error code, never code. */
static void bkey_jit_test_invalid(struct kunit *test)
{
	const struct invalid_case *c = test->param_value;
	struct bkey_format f = c->f;
	struct bkey_jit_stats s0, s1;
	char err[128] = "";
	struct bkey_jit *j;
	u8 nr = f.nr_fields;

	if (!c->keep_u64s)
		ref_format_finish(&f);
	else
		f.nr_fields = BKEY_NR_FIELDS;
	if (nr)
		f.nr_fields = nr;
	bkey_jit_get_stats(&s0);
	KUNIT_EXPECT_LT(test, bkey_format_validate(&f, err, sizeof(err)), 0);
	KUNIT_EXPECT_GT(test, strlen(err), 0);
	j = bkey_jit_get(&f);
	KUNIT_EXPECT_TRUE(test, IS_ERR(j));
	KUNIT_EXPECT_EQ(test, PTR_ERR(j), -EINVAL);
	bkey_jit_get_stats(&s1);
	KUNIT_EXPECT_EQ(test, s1.compiles, s0.compiles);
	KUNIT_EXPECT_EQ(test, s1.invalid_formats - s0.invalid_formats, 1);
}

/*
 * The planted patterns (as in blind_fixed_patterns[], which cannot
 * initialise a static array), and "random": four random 4-byte ones.
 */
static const struct blind_pattern blind_cases[] = {
	{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, true },
	{ "endbr32", { 0xf3, 0x0f, 0x1e, 0xfb }, 4, true },
	{ "ret", { 0xc3 }, 1, false },
	{ "syscall", { 0x0f, 0x05 }, 2, false },
	{ "random", { 0 }, 0, true },
};

static void blind_case_desc(const struct blind_pattern *p, char *desc)
{
	strscpy(desc, p->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(blind, blind_cases, blind_case_desc);

/* One adversarial format: code, the same keys as the reference, the scan. */
static unsigned int blind_check_format(struct kunit *test,
				       const struct bkey_format *f,
				       const struct blind_pattern *p)
{
	struct bkey_packed k;
	struct bkey a, c;
	struct blind_code code = { };
	struct bkey_jit *j = get_compiled(f);
	unsigned int i, found;

	KUNIT_ASSERT_FALSE(test, IS_ERR(j));
	if (bkey_jit_arch_name)
		KUNIT_EXPECT_NOT_NULL(test, j->unpack);
	for (i = 0; i < 8; i++) {
		random_key(f, &k);
		bkey_jit_unpack(j, &a, &k);
		ref_unpack_bits(f, &k, &c);
		KUNIT_EXPECT_MEMEQ(test, &a, &c, sizeof(a));
	}
	code.j = j;
	bkey_jit_for_each(blind_find_code, &code);
	/* scanned while @j holds the code */
	found = code.code ? blind_scan(code.code, code.len, code.entry, p) : 0;
	bkey_jit_put(j);
	return found;
}

/*
 * Constant blinding with the kernel's real emit options (ENDBR, kCFI
 * preamble, return thunk, BTI, whatever this kernel uses): a pattern
 * planted at every byte position of every field's offset never shows in
 * the code, and ENDBR64/ENDBR32 only at the two entries.
 */
static void bkey_jit_test_blinding_scan(struct kunit *test)
{
	const struct blind_pattern *param = test->param_value;
	struct blind_pattern pats[4];
	unsigned int nr = 1, pi, n, formats = 0, found = 0;

	pats[0] = *param;
	if (!param->len)
		for (nr = 0; nr < ARRAY_SIZE(pats); nr++)
			blind_random_pattern(&pats[nr], get_random_u64());

	for (pi = 0; pi < nr; pi++) {
		for (n = 0; n < BLIND_NR_PLANTS; n++) {
			struct bkey_format f;

			if (!blind_plant_nth(&f, &pats[pi], n, get_random_u64()))
				continue;
			found += blind_check_format(test, &f, &pats[pi]);
			formats++;
		}
		cond_resched();
	}
	KUNIT_EXPECT_GT(test, formats, 0U);
	KUNIT_EXPECT_EQ(test, found, 0U);
	kunit_info(test, "%s: %u formats, %u functions scanned, patterns found: %u\n",
		   param->name, formats, 2 * formats, found);
}

static struct kunit_case bkey_jit_test_cases[] = {
	KUNIT_CASE(bkey_jit_test_differential),
	KUNIT_CASE_SLOW(bkey_jit_test_cmp),
#ifdef CONFIG_X86_64
	KUNIT_CASE(bkey_jit_test_insn_decode),
#endif
	KUNIT_CASE(bkey_jit_test_cache_dedup),
	KUNIT_CASE(bkey_jit_test_cache_concurrency),
	KUNIT_CASE(bkey_jit_test_fallback),
	KUNIT_CASE(bkey_jit_test_mode_off_defers),
	KUNIT_CASE(bkey_jit_test_get_atomic),
	KUNIT_CASE(bkey_jit_test_switch_while_in_use),
	KUNIT_CASE(bkey_jit_test_free_after_grace_period),
	KUNIT_CASE(bkey_jit_test_ebpf_backend),
	KUNIT_CASE(bkey_jit_test_ebpf_jit_off),
	KUNIT_CASE_PARAM(bkey_jit_test_invalid, invalid_gen_params),
	KUNIT_CASE_PARAM(bkey_jit_test_blinding_scan, blind_gen_params),
	{}
};

/*
 * Every test starts with nothing queued: no compile of an earlier test's
 * format and no free waiting for its grace periods, so counters that a
 * test compares before and after move only by what the test itself did.
 */
static int bkey_jit_test_init(struct kunit *test)
{
	bkey_jit_flush();
	return 0;
}

static struct kunit_suite bkey_jit_test_suite = {
	.name = "bkey_jit",
	.init = bkey_jit_test_init,
	.test_cases = bkey_jit_test_cases,
};

kunit_test_suite(bkey_jit_test_suite);

MODULE_DESCRIPTION("KUnit tests for bkey_jit");
MODULE_LICENSE("GPL");
