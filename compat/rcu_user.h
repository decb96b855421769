/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RCU for the userspace build (user/rcu_user.c): the kernel's API with its
 * guarantees, none of its speed tricks.
 *
 * Every thread that reads registers itself on its first rcu_read_lock().
 * A reader publishes "inside, since grace-period counter C" in a word of
 * its own, so rcu_read_lock() is a store and a fence and rcu_read_unlock()
 * a release store: no shared cache line is written. synchronize_rcu()
 * advances the counter and waits until no reader is still inside from
 * before.
 *
 * call_rcu() and call_rcu_tasks() wait for the grace period and call the
 * callback before returning, when called outside a read-side section (so
 * userspace tests see the effect at once). Called inside one, where
 * waiting would wait for the caller itself, they queue the callback for a
 * helper thread, as the kernel always does; rcu_barrier() waits for it.
 */
#ifndef _BKEY_JIT_RCU_USER_H
#define _BKEY_JIT_RCU_USER_H

struct rcu_head {
	struct rcu_head	*next;
	void		(*func)(struct rcu_head *head);
};
typedef void (*rcu_callback_t)(struct rcu_head *head);

struct rcu_reader {
	atomic_ulong		ctr;	/* 0 outside, else gp counter | 1 */
	unsigned int		nesting;
	bool			registered;
	struct rcu_reader	*next, *prev;
};

extern __thread struct rcu_reader rcu_reader_self;
extern atomic_ulong rcu_gp_ctr;
void rcu_reader_register(void);

static inline void rcu_read_lock(void)
{
	struct rcu_reader *r = &rcu_reader_self;

	if (r->nesting++)
		return;
	if (unlikely(!r->registered))
		rcu_reader_register();
	atomic_store_explicit(&r->ctr, atomic_load_explicit(&rcu_gp_ctr,
							    memory_order_relaxed) | 1,
			      memory_order_relaxed);
	/* Our section's loads must follow the store synchronize_rcu() checks. */
	atomic_thread_fence(memory_order_seq_cst);
}

static inline void rcu_read_unlock(void)
{
	struct rcu_reader *r = &rcu_reader_self;

	if (WARN_ON(!r->nesting) || --r->nesting)
		return;
	atomic_store_explicit(&r->ctr, 0, memory_order_release);
}

static inline bool rcu_read_lock_held(void)
{
	return rcu_reader_self.nesting;
}

#define rcu_read_lock_bh()	rcu_read_lock()
#define rcu_read_unlock_bh()	rcu_read_unlock()
#define rcu_read_lock_sched()	rcu_read_lock()
#define rcu_read_unlock_sched()	rcu_read_unlock()

void synchronize_rcu(void);
void call_rcu(struct rcu_head *head, rcu_callback_t func);
void rcu_barrier(void);

/* Tasks RCU waits for more than RCU does; here both wait for all readers. */
#define synchronize_rcu_tasks()		synchronize_rcu()
#define call_rcu_tasks(head, func)	call_rcu(head, func)
#define rcu_barrier_tasks()		rcu_barrier()

/* kfree_rcu(): the offset of the rcu_head stands in for the callback, as in the kernel. */
#define kfree_rcu(ptr, rhf) \
	call_rcu(&(ptr)->rhf, (rcu_callback_t)(unsigned long)offsetof(__typeof__(*(ptr)), rhf))

#define __rcu
#define rcu_dereference(p)		__atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define rcu_dereference_raw(p)		rcu_dereference(p)
#define rcu_dereference_check(p, c)	rcu_dereference(p)
#define rcu_dereference_protected(p, c)	(p)
#define rcu_access_pointer(p)		READ_ONCE(p)
#define rcu_assign_pointer(p, v)	__atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define RCU_INIT_POINTER(p, v)		WRITE_ONCE(p, v)

#endif /* _BKEY_JIT_RCU_USER_H */
