/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Work items, lock-less lists and per-CPU data for the userspace build,
 * with the kernel's names.
 *
 * schedule_work() runs the work function in the caller's thread before it
 * returns, so userspace tests see the work done when the call that
 * queued it returns. As in the kernel, one work item never runs twice at
 * once: a schedule_work() while it runs in another thread waits for that
 * run, then runs it again if the run may have missed the new request; one
 * from inside the work function itself makes the current run loop once
 * more. Do not call it holding a lock the work function takes.
 *
 * Per-CPU data has one CPU: this_cpu_*() are relaxed atomics on it.
 */
#ifndef _BKEY_JIT_WORKQUEUE_USER_H
#define _BKEY_JIT_WORKQUEUE_USER_H

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	work_func_t		func;
	atomic_bool		pending;
	pthread_mutex_t		lock;		/* held while the function runs */
	void			*runner;	/* the thread running it, atomic */
};

struct workqueue_struct;

#define __WORK_INITIALIZER(n, f) \
	{ .func = (f), .lock = PTHREAD_MUTEX_INITIALIZER }
#define DECLARE_WORK(n, f)	struct work_struct n = __WORK_INITIALIZER(n, f)

static inline void INIT_WORK(struct work_struct *work, work_func_t func)
{
	work->func = func;
	atomic_init(&work->pending, false);
	__atomic_store_n(&work->runner, NULL, __ATOMIC_RELAXED);
	pthread_mutex_init(&work->lock, NULL);
}

bool schedule_work(struct work_struct *work);

/* Every workqueue is the same synchronous one. */
extern struct workqueue_struct *system_wq, *system_unbound_wq, *system_highpri_wq;
#define WQ_UNBOUND		0x2
#define WQ_MEM_RECLAIM		0x8
#define WQ_HIGHPRI		0x10

static inline bool queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	(void)wq;
	return schedule_work(work);
}

/* Nothing is ever left queued: every run finished before schedule_work() returned. */
/* Waits for a run in progress in another thread (schedule_work() holds the lock). */
static inline bool flush_work(struct work_struct *work)
{
	pthread_mutex_lock(&work->lock);
	pthread_mutex_unlock(&work->lock);
	return false;
}
static inline bool cancel_work_sync(struct work_struct *work) { (void)work; return false; }
static inline bool work_pending(const struct work_struct *work) { (void)work; return false; }
static inline void flush_workqueue(struct workqueue_struct *wq) { (void)wq; }
static inline struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags,
						       int max_active, ...)
{
	(void)fmt;
	(void)flags;
	(void)max_active;
	return system_wq;
}
static inline void destroy_workqueue(struct workqueue_struct *wq) { (void)wq; }

/* --- llist: lock-less singly linked lists (include/linux/llist.h) --- */

struct llist_node {
	struct llist_node *next;
};

struct llist_head {
	struct llist_node *first;
};

#define LLIST_HEAD_INIT(name)	{ NULL }
#define LLIST_HEAD(name)	struct llist_head name = LLIST_HEAD_INIT(name)

static inline void init_llist_head(struct llist_head *list)
{
	list->first = NULL;
}

static inline bool llist_empty(const struct llist_head *head)
{
	return !__atomic_load_n(&head->first, __ATOMIC_RELAXED);
}

/* Return: true if the list was empty before. */
static inline bool llist_add_batch(struct llist_node *new_first,
				   struct llist_node *new_last,
				   struct llist_head *head)
{
	struct llist_node *first = __atomic_load_n(&head->first, __ATOMIC_RELAXED);

	do {
		new_last->next = first;
	} while (!__atomic_compare_exchange_n(&head->first, &first, new_first, true,
					      __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	return !first;
}

static inline bool llist_add(struct llist_node *new, struct llist_head *head)
{
	return llist_add_batch(new, new, head);
}

static inline struct llist_node *llist_del_all(struct llist_head *head)
{
	return __atomic_exchange_n(&head->first, NULL, __ATOMIC_ACQUIRE);
}

static inline struct llist_node *llist_reverse_order(struct llist_node *head)
{
	struct llist_node *new_head = NULL;

	while (head) {
		struct llist_node *tmp = head;

		head = head->next;
		tmp->next = new_head;
		new_head = tmp;
	}
	return new_head;
}

#define llist_entry(ptr, type, member)	container_of(ptr, type, member)
#define member_address_is_nonnull(ptr, member) \
	((uintptr_t)(ptr) + offsetof(__typeof__(*(ptr)), member) != 0)
#define llist_for_each(pos, node) \
	for ((pos) = (node); pos; (pos) = (pos)->next)
#define llist_for_each_safe(pos, n, node) \
	for ((pos) = (node); (pos) && ((n) = (pos)->next, true); (pos) = (n))
#define llist_for_each_entry(pos, node, member) \
	for ((pos) = llist_entry((node), __typeof__(*(pos)), member); \
	     member_address_is_nonnull(pos, member); \
	     (pos) = llist_entry((pos)->member.next, __typeof__(*(pos)), member))
#define llist_for_each_entry_safe(pos, n, node, member) \
	for (pos = llist_entry((node), __typeof__(*pos), member); \
	     member_address_is_nonnull(pos, member) && \
	     (n = llist_entry(pos->member.next, __typeof__(*n), member), true); \
	     pos = n)

/* --- per-CPU data: a single CPU, counters as relaxed atomics --- */

#define __percpu
#define DEFINE_PER_CPU(type, name)	__typeof__(type) name
#define DECLARE_PER_CPU(type, name)	extern __typeof__(type) name
#define NR_CPUS				1
#define nr_cpu_ids			1U
#define num_possible_cpus()		1U
#define num_online_cpus()		1U
#define smp_processor_id()		0
#define raw_smp_processor_id()		0
#define get_cpu()			0
#define put_cpu()			do { } while (0)
#define for_each_possible_cpu(cpu)	for ((cpu) = 0; (cpu) < 1; (cpu)++)
#define for_each_online_cpu(cpu)	for_each_possible_cpu(cpu)

#define per_cpu_ptr(ptr, cpu)		((void)(cpu), (ptr))
#define per_cpu(var, cpu)		(*per_cpu_ptr(&(var), cpu))
#define this_cpu_ptr(ptr)		(ptr)
#define raw_cpu_ptr(ptr)		(ptr)
#define alloc_percpu(type)		((type *)calloc(1, sizeof(type)))
#define alloc_percpu_gfp(type, gfp)	((void)(gfp), alloc_percpu(type))
#define free_percpu(ptr)		free(ptr)

#define this_cpu_read(pcp)		__atomic_load_n(&(pcp), __ATOMIC_RELAXED)
#define this_cpu_write(pcp, v)		__atomic_store_n(&(pcp), (v), __ATOMIC_RELAXED)
#define this_cpu_add(pcp, v)		((void)__atomic_fetch_add(&(pcp), (v), __ATOMIC_RELAXED))
#define this_cpu_sub(pcp, v)		((void)__atomic_fetch_sub(&(pcp), (v), __ATOMIC_RELAXED))
#define this_cpu_inc(pcp)		this_cpu_add(pcp, 1)
#define this_cpu_dec(pcp)		this_cpu_sub(pcp, 1)
#define this_cpu_add_return(pcp, v)	__atomic_add_fetch(&(pcp), (v), __ATOMIC_RELAXED)
#define this_cpu_inc_return(pcp)	this_cpu_add_return(pcp, 1)
#define __this_cpu_read(pcp)		this_cpu_read(pcp)
#define __this_cpu_write(pcp, v)	this_cpu_write(pcp, v)
#define __this_cpu_add(pcp, v)		this_cpu_add(pcp, v)
#define __this_cpu_sub(pcp, v)		this_cpu_sub(pcp, v)
#define __this_cpu_inc(pcp)		this_cpu_inc(pcp)
#define __this_cpu_dec(pcp)		this_cpu_dec(pcp)
#define raw_cpu_add(pcp, v)		this_cpu_add(pcp, v)
#define raw_cpu_inc(pcp)		this_cpu_inc(pcp)

#endif /* _BKEY_JIT_WORKQUEUE_USER_H */
