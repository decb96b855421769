// SPDX-License-Identifier: GPL-2.0
/*
 * RCU for the userspace build: grace periods over registered readers, and
 * a helper thread for callbacks queued from inside read-side sections.
 * See compat/rcu_user.h.
 */
#include <sched.h>

#include "compat/bkey_jit_compat.h"

__thread struct rcu_reader rcu_reader_self;
atomic_ulong rcu_gp_ctr;

/* Registered readers, and the lock grace periods take. */
static pthread_mutex_t rcu_gp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rcu_reader rcu_readers = { .next = &rcu_readers, .prev = &rcu_readers };
static pthread_key_t rcu_reader_key;
static pthread_once_t rcu_reader_once = PTHREAD_ONCE_INIT;

/* Callbacks queued from read-side sections, and the thread running them. */
static pthread_mutex_t rcu_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rcu_cb_queued = PTHREAD_COND_INITIALIZER;
static pthread_cond_t rcu_cb_done = PTHREAD_COND_INITIALIZER;
static struct rcu_head *rcu_cb_list, **rcu_cb_tail = &rcu_cb_list;
static unsigned long rcu_cb_nr_queued, rcu_cb_nr_done;
static bool rcu_cb_thread_started;

static void rcu_reader_unregister(void *arg)
{
	struct rcu_reader *r = arg;

	pthread_mutex_lock(&rcu_gp_lock);
	r->prev->next = r->next;
	r->next->prev = r->prev;
	r->registered = false;
	pthread_mutex_unlock(&rcu_gp_lock);
}

static void rcu_reader_key_init(void)
{
	pthread_key_create(&rcu_reader_key, rcu_reader_unregister);
}

/* First rcu_read_lock() of a thread: make synchronize_rcu() see it. */
void rcu_reader_register(void)
{
	struct rcu_reader *r = &rcu_reader_self;

	pthread_once(&rcu_reader_once, rcu_reader_key_init);
	pthread_mutex_lock(&rcu_gp_lock);
	r->next = &rcu_readers;
	r->prev = rcu_readers.prev;
	rcu_readers.prev->next = r;
	rcu_readers.prev = r;
	r->registered = true;
	pthread_mutex_unlock(&rcu_gp_lock);
	/* Unregistered by the key's destructor when the thread exits. */
	pthread_setspecific(rcu_reader_key, r);
}

/* Is @r inside a section that began before grace period @gp? */
static bool rcu_reader_old(struct rcu_reader *r, unsigned long gp)
{
	unsigned long v = atomic_load_explicit(&r->ctr, memory_order_acquire);

	return (v & 1) && v != (gp | 1);
}

/**
 * synchronize_rcu - wait until every read-side section begun before returns
 *
 * Must not be called inside a read-side section (it would wait for
 * itself): that aborts, as the kernel would complain.
 */
void synchronize_rcu(void)
{
	struct rcu_reader *r;
	unsigned long gp;

	if (rcu_reader_self.nesting) {
		fprintf(stderr, "%s() inside rcu_read_lock()\n", __func__);
		abort();
	}
	pthread_mutex_lock(&rcu_gp_lock);
	/* Removals before the call happen before the new counter... */
	atomic_thread_fence(memory_order_seq_cst);
	gp = atomic_load_explicit(&rcu_gp_ctr, memory_order_relaxed) + 2;
	atomic_store_explicit(&rcu_gp_ctr, gp, memory_order_relaxed);
	/* ...which is stored before the readers' words are read. */
	atomic_thread_fence(memory_order_seq_cst);
	for (r = rcu_readers.next; r != &rcu_readers; r = r->next) {
		unsigned int spins = 0;

		while (rcu_reader_old(r, gp)) {
			if (++spins % 64)
				cpu_relax();
			else
				sched_yield();	/* the reader may be preempted */
		}
	}
	atomic_thread_fence(memory_order_seq_cst);
	pthread_mutex_unlock(&rcu_gp_lock);
}

static void rcu_invoke(struct rcu_head *head)
{
	unsigned long off = (unsigned long)head->func;

	if (off < 4096)		/* kfree_rcu() */
		free((char *)head - off);
	else
		head->func(head);
}

static void *rcu_cb_thread(void *arg)
{
	for (;;) {
		struct rcu_head *list, *next;
		unsigned long n;

		pthread_mutex_lock(&rcu_cb_lock);
		while (!rcu_cb_list)
			pthread_cond_wait(&rcu_cb_queued, &rcu_cb_lock);
		list = rcu_cb_list;
		rcu_cb_list = NULL;
		rcu_cb_tail = &rcu_cb_list;
		n = rcu_cb_nr_queued;
		pthread_mutex_unlock(&rcu_cb_lock);

		synchronize_rcu();
		for (; list; list = next) {
			next = list->next;
			rcu_invoke(list);
		}

		pthread_mutex_lock(&rcu_cb_lock);
		rcu_cb_nr_done = n;
		pthread_cond_broadcast(&rcu_cb_done);
		pthread_mutex_unlock(&rcu_cb_lock);
	}
	return NULL;
}

static void rcu_cb_queue(struct rcu_head *head)
{
	pthread_t t;

	pthread_mutex_lock(&rcu_cb_lock);
	if (!rcu_cb_thread_started) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, rcu_cb_thread, NULL)) {
			fprintf(stderr, "call_rcu: no callback thread\n");
			abort();
		}
		pthread_attr_destroy(&attr);
		rcu_cb_thread_started = true;
	}
	head->next = NULL;
	*rcu_cb_tail = head;
	rcu_cb_tail = &head->next;
	rcu_cb_nr_queued++;
	pthread_cond_signal(&rcu_cb_queued);
	pthread_mutex_unlock(&rcu_cb_lock);
}

/**
 * call_rcu - call @func(@head) after a grace period
 * @head:	in the object to free
 * @func:	the callback
 *
 * Outside a read-side section: waits for the grace period and calls
 * @func before returning. Inside one: queued for the helper thread.
 */
void call_rcu(struct rcu_head *head, rcu_callback_t func)
{
	head->func = func;
	if (rcu_reader_self.nesting) {
		rcu_cb_queue(head);
		return;
	}
	synchronize_rcu();
	rcu_invoke(head);
}

/**
 * rcu_barrier - wait until every callback queued so far has run
 */
void rcu_barrier(void)
{
	unsigned long n;

	pthread_mutex_lock(&rcu_cb_lock);
	n = rcu_cb_nr_queued;
	while (rcu_cb_nr_done < n)
		pthread_cond_wait(&rcu_cb_done, &rcu_cb_lock);
	pthread_mutex_unlock(&rcu_cb_lock);
}
