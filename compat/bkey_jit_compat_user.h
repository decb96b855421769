/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace side of bkey_jit_compat.h: just enough of the kernel's
 * types, helpers and locking for the shared sources to build as a
 * library (like bcachefs-tools builds kernel code). Never built in the
 * kernel, so not held to kernel style where that would fight libc.
 */
#ifndef _BKEY_JIT_COMPAT_USER_H
#define _BKEY_JIT_COMPAT_USER_H


#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef u16 __le16;
typedef u32 __le32;
typedef u64 __le64;

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bkey-jit userspace build: little-endian hosts only"
#endif
#define __LITTLE_ENDIAN_BITFIELD 1

#define __packed		__attribute__((__packed__))
#define __aligned(x)		__attribute__((__aligned__(x)))
#undef __always_inline
#define __always_inline		inline __attribute__((__always_inline__))
#define noinline		__attribute__((__noinline__))
#define __maybe_unused		__attribute__((__unused__))
#define __printf(a, b)		__attribute__((__format__(printf, a, b)))
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#define fallthrough		__attribute__((__fallthrough__))

#define U8_MAX			((u8)~0U)
#define U32_MAX			((u32)~0U)
#define S32_MAX			((s32)(U32_MAX >> 1))
#define S32_MIN			((s32)(-S32_MAX - 1))
#define U64_MAX			((u64)~0ULL)

#define BIT(n)			(1UL << (n))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define ALIGN(x, a)		(((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define BUILD_BUG_ON(c)		_Static_assert(!(c), #c)
#define static_assert(expr, ...)	_Static_assert(expr, #expr)
#define WARN_ON(c)		({ int __c = !!(c); if (__c) fprintf(stderr, "WARN_ON(%s) at %s:%d\n", #c, __FILE__, __LINE__); __c; })
#define WARN_ON_ONCE(c)		WARN_ON(c)
#define WARN_ONCE(c, ...)	({ int __c = !!(c); if (__c) fprintf(stderr, __VA_ARGS__); __c; })
/* No kernel config in userspace: every IS_ENABLED(CONFIG_...) is off. */
#define IS_ENABLED(option)	0
/* Each argument evaluated once, as the kernel's (min(x, rng()) differs). */
#define min(a, b)		({ __typeof__(a) __min_a = (a);		\
				   __typeof__(b) __min_b = (b);		\
				   __min_a < __min_b ? __min_a : __min_b; })
#define max(a, b)		({ __typeof__(a) __max_a = (a);		\
				   __typeof__(b) __max_b = (b);		\
				   __max_a > __max_b ? __max_a : __max_b; })
#define min_t(t, a, b)		min((t)(a), (t)(b))
#define max_t(t, a, b)		max((t)(a), (t)(b))

#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile __typeof__(x) *)&(x) = (v))
#define smp_store_release(p, v)	__atomic_store_n(p, v, __ATOMIC_RELEASE)
#define smp_load_acquire(p)	__atomic_load_n(p, __ATOMIC_ACQUIRE)

#define pr_err(...)		fprintf(stderr, "bkey_jit: " __VA_ARGS__)
#define pr_warn(...)		fprintf(stderr, "bkey_jit: " __VA_ARGS__)
#define pr_info(...)		do { } while (0)
#define pr_debug(...)		do { } while (0)

#define EXPORT_SYMBOL_GPL(s)

static inline u64 le64_to_cpu(__le64 v) { return v; }
static inline __le64 cpu_to_le64(u64 v) { return v; }

static inline u64 get_unaligned_le64(const void *p)
{
	u64 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline u32 get_unaligned_le32(const void *p)
{
	u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void put_unaligned_le64(u64 v, void *p)
{
	memcpy(p, &v, sizeof(v));
}

static inline void put_unaligned_le32(u32 v, void *p)
{
	memcpy(p, &v, sizeof(v));
}

#define MAX_ERRNO		4095
#define IS_ERR_VALUE(x)		((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)
static inline void *ERR_PTR(long e) { return (void *)e; }
static inline long PTR_ERR(const void *p) { return (long)p; }
static inline bool IS_ERR(const void *p) { return IS_ERR_VALUE(p); }
static inline bool IS_ERR_OR_NULL(const void *p) { return !p || IS_ERR(p); }
static inline long PTR_ERR_OR_ZERO(const void *p) { return IS_ERR(p) ? PTR_ERR(p) : 0; }

/*
 * The kernel's random source, seedable here so that tests reproduce
 * (user/bkey_jit_random_user.c); blinding can be switched off, for
 * comparisons only.
 */
u64 bkey_jit_user_random_u64(void);
void bkey_jit_user_set_random_seed(u64 seed);
void bkey_jit_user_set_blinding(bool on);
bool bkey_jit_blinding_enabled(void);
static inline u64 get_random_u64(void) { return bkey_jit_user_random_u64(); }

#define GFP_KERNEL		0
#define GFP_NOWAIT		0x1
#define GFP_ATOMIC		0x2
#define __GFP_NOWARN		0x4
#define __GFP_ZERO		0x8
static inline void *kzalloc(size_t n, int gfp) { (void)gfp; return calloc(1, n); }
static inline void *kmalloc(size_t n, int gfp) { (void)gfp; return malloc(n); }
static inline void kfree(const void *p) { free((void *)p); }
static inline void *kvzalloc(size_t n, int gfp) { (void)gfp; return calloc(1, n); }
static inline void kvfree(const void *p) { free((void *)p); }

/* Integer arithmetic: llist walks apply it to NULL at the end, which UBSan flags. */
#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((uintptr_t)(ptr) - offsetof(type, member)))
#endif

/* Contexts: userspace never sleeps "atomically", nothing to check. */
#define might_sleep()		do { } while (0)
#define cond_resched()		do { } while (0)
#define preempt_disable()	do { } while (0)
#define preempt_enable()	do { } while (0)
#define lockdep_assert_held(l)	do { (void)(l); } while (0)
#if defined(__x86_64__)
#define cpu_relax()		__builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax()		__asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax()		__asm__ __volatile__("" ::: "memory")
#endif

/* Init calls run as constructors, before main(). */
#define __init
#define __exit
#define __initdata
#define __bkey_jit_initcall(fn) \
	static void __attribute__((constructor)) __initcall_##fn(void) { fn(); }
#define core_initcall(fn)	__bkey_jit_initcall(fn)
#define subsys_initcall(fn)	__bkey_jit_initcall(fn)
#define late_initcall(fn)	__bkey_jit_initcall(fn)
#define module_init(fn)		__bkey_jit_initcall(fn)

/* A kernel mutex is a pthread mutex here. */
struct mutex { pthread_mutex_t m; };
#define DEFINE_MUTEX(n)		struct mutex n = { PTHREAD_MUTEX_INITIALIZER }
static inline void mutex_lock(struct mutex *m) { pthread_mutex_lock(&m->m); }
static inline void mutex_unlock(struct mutex *m) { pthread_mutex_unlock(&m->m); }

/* A spinlock is a pthread mutex too: holders never sleep in userspace either. */
typedef struct { pthread_mutex_t m; } spinlock_t;
#define DEFINE_SPINLOCK(n)	spinlock_t n = { PTHREAD_MUTEX_INITIALIZER }
static inline void spin_lock_init(spinlock_t *l) { pthread_mutex_init(&l->m, NULL); }
static inline void spin_lock(spinlock_t *l) { pthread_mutex_lock(&l->m); }
static inline void spin_unlock(spinlock_t *l) { pthread_mutex_unlock(&l->m); }
#define spin_lock_bh(l)		spin_lock(l)
#define spin_unlock_bh(l)	spin_unlock(l)
static inline void mutex_init(struct mutex *m) { pthread_mutex_init(&m->m, NULL); }
static inline void mutex_destroy(struct mutex *m) { pthread_mutex_destroy(&m->m); }

/* refcount_t: saturation is not needed for the tests, atomics are. */
typedef struct { atomic_int refs; } refcount_t;
static inline void refcount_set(refcount_t *r, int n) { atomic_store(&r->refs, n); }
static inline unsigned int refcount_read(const refcount_t *r) { return atomic_load(&((refcount_t *)r)->refs); }
static inline void refcount_inc(refcount_t *r) { atomic_fetch_add(&r->refs, 1); }
static inline bool refcount_inc_not_zero(refcount_t *r)
{
	int old = atomic_load(&r->refs);

	do {
		if (!old)
			return false;
	} while (!atomic_compare_exchange_weak(&r->refs, &old, old + 1));
	return true;
}
static inline bool refcount_dec_and_test(refcount_t *r) { return atomic_fetch_sub(&r->refs, 1) == 1; }
static inline bool refcount_dec_and_mutex_lock(refcount_t *r, struct mutex *m)
{
	int old = atomic_load(&r->refs);

	/* Fast path: not the last reference. */
	while (old > 1)
		if (atomic_compare_exchange_weak(&r->refs, &old, old - 1))
			return false;
	mutex_lock(m);
	if (!refcount_dec_and_test(r)) {
		mutex_unlock(m);
		return false;
	}
	return true;
}

/* A static key is a flag read on every use. */
struct static_key_true { bool enabled; };
#define DEFINE_STATIC_KEY_TRUE(n)	struct static_key_true n = { true }
#define DECLARE_STATIC_KEY_TRUE(n)	extern struct static_key_true n
#define static_branch_likely(k)		likely(READ_ONCE((k)->enabled))
struct static_key_false { bool enabled; };
#define DEFINE_STATIC_KEY_FALSE(n)	struct static_key_false n = { false }
#define DECLARE_STATIC_KEY_FALSE(n)	extern struct static_key_false n
#define static_branch_unlikely(k)	unlikely(READ_ONCE((k)->enabled))
#define static_branch_enable(k)		WRITE_ONCE((k)->enabled, true)
#define static_branch_disable(k)	WRITE_ONCE((k)->enabled, false)

/* Statistics counters: relaxed atomics. */
typedef struct { atomic_long v; } atomic_long_t;
static inline void atomic_long_inc(atomic_long_t *a) { atomic_fetch_add_explicit(&a->v, 1, memory_order_relaxed); }
static inline void atomic_long_add(long n, atomic_long_t *a) { atomic_fetch_add_explicit(&a->v, n, memory_order_relaxed); }
static inline void atomic_long_dec(atomic_long_t *a) { atomic_fetch_sub_explicit(&a->v, 1, memory_order_relaxed); }
static inline void atomic_long_sub(long n, atomic_long_t *a) { atomic_fetch_sub_explicit(&a->v, n, memory_order_relaxed); }
static inline long atomic_long_read(const atomic_long_t *a) { return atomic_load_explicit(&((atomic_long_t *)a)->v, memory_order_relaxed); }
static inline void atomic_long_set(atomic_long_t *a, long n) { atomic_store_explicit(&a->v, n, memory_order_relaxed); }

/* atomic_t: the kernel's read/set are relaxed, its RMW-and-return ops fully ordered. */
typedef struct { atomic_int counter; } atomic_t;
#define ATOMIC_INIT(i)		{ (i) }
static inline int atomic_read(const atomic_t *a) { return atomic_load_explicit(&((atomic_t *)a)->counter, memory_order_relaxed); }
static inline void atomic_set(atomic_t *a, int n) { atomic_store_explicit(&a->counter, n, memory_order_relaxed); }
static inline void atomic_inc(atomic_t *a) { atomic_fetch_add_explicit(&a->counter, 1, memory_order_relaxed); }
static inline void atomic_dec(atomic_t *a) { atomic_fetch_sub_explicit(&a->counter, 1, memory_order_relaxed); }
static inline void atomic_add(int n, atomic_t *a) { atomic_fetch_add_explicit(&a->counter, n, memory_order_relaxed); }
static inline void atomic_sub(int n, atomic_t *a) { atomic_fetch_sub_explicit(&a->counter, n, memory_order_relaxed); }
static inline int atomic_inc_return(atomic_t *a) { return atomic_fetch_add(&a->counter, 1) + 1; }
static inline int atomic_dec_return(atomic_t *a) { return atomic_fetch_sub(&a->counter, 1) - 1; }
static inline bool atomic_dec_and_test(atomic_t *a) { return atomic_fetch_sub(&a->counter, 1) == 1; }
#define smp_mb()		atomic_thread_fence(memory_order_seq_cst)
static inline int atomic_xchg(atomic_t *a, int n) { return atomic_exchange(&a->counter, n); }

/* RCU, rhashtable, work items, llist and per-CPU data: see each header. */
#include "rcu_user.h"
#include "workqueue_user.h"
#include "rhashtable_user.h"


#endif /* _BKEY_JIT_COMPAT_USER_H */
