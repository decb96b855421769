// SPDX-License-Identifier: GPL-2.0
/*
 * Work items for the userspace build: run at once, in the caller's thread,
 * one run of an item at a time. See compat/workqueue_user.h.
 */
#include "compat/bkey_jit_compat.h"

struct workqueue_struct *system_wq, *system_unbound_wq, *system_highpri_wq;

/* Identifies the calling thread. */
static __thread char work_self;

/**
 * schedule_work - run a work item now, in this thread
 * @work:	the item
 *
 * Return: true (the item was "queued": it has run when this returns).
 */
bool schedule_work(struct work_struct *work)
{
	atomic_store(&work->pending, true);
	/* From inside its own function: the current run loops once more. */
	if (__atomic_load_n(&work->runner, __ATOMIC_SEQ_CST) == &work_self)
		return true;

	pthread_mutex_lock(&work->lock);
	__atomic_store_n(&work->runner, &work_self, __ATOMIC_SEQ_CST);
	/* A run in another thread may have taken our request already. */
	while (atomic_exchange(&work->pending, false))
		work->func(work);
	__atomic_store_n(&work->runner, NULL, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&work->lock);
	return true;
}
