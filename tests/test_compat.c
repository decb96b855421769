// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the userspace stand-ins for kernel APIs (compat/): rhashtable,
 * RCU, work items, llist, per-CPU counters. bkey_jit.c relies on them
 * having the kernel's semantics, so these check the semantics, including
 * under concurrent readers and writers.
 *
 * usage: test_compat [--objects N] [--seconds S]
 */
#include <time.h>
#include <unistd.h>

#include "compat/bkey_jit_compat.h"
#include "tests/test_util.h"

static unsigned int nr_objects = 100000;
static double run_seconds = 1.0;

struct obj {
	u64			key[2];		/* 16-byte key: key[1] is a check value */
	struct rhash_head	node;
	struct rcu_head		rcu;
	atomic_int		dead;
	bool			seen;
};

static const struct rhashtable_params obj_params = {
	.key_len		= sizeof(u64[2]),
	.key_offset		= offsetof(struct obj, key),
	.head_offset		= offsetof(struct obj, node),
	.automatic_shrinking	= true,
};

static void obj_key(u64 key[2], u64 k)
{
	key[0] = k;
	key[1] = k * 0x9e3779b97f4a7c15ULL;
}

static struct obj *obj_new(u64 k)
{
	struct obj *o = calloc(1, sizeof(*o));

	obj_key(o->key, k);
	return o;
}

static u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static unsigned int table_size(struct rhashtable *ht)
{
	return ht->tbl->size;
}

/* Insert, look up, refuse duplicates, remove, walk: N objects, one thread. */
static void test_rhashtable_basic(void)
{
	struct test_case tc = { .name = "rhashtable: N objects, duplicates, remove, walk" };
	struct obj **objs = calloc(nr_objects, sizeof(*objs)), *o, *dup;
	unsigned int i, found = 0, wrong = 0, grown, walked = 0, twice = 0;
	struct rhashtable_iter iter;
	struct rhashtable ht;
	u64 key[2], t;

	tc_check(&tc, rhashtable_init(&ht, &obj_params) == 0, "init");
	for (i = 0; i < nr_objects; i++) {
		objs[i] = obj_new(i);
		o = rhashtable_lookup_get_insert_fast(&ht, &objs[i]->node, obj_params);
		if (o)
			tc_check(&tc, 0, "insert %u: got %p", i, o);
	}
	tc_check(&tc, atomic_read(&ht.nelems) == (int)nr_objects, "nelems %d",
		 atomic_read(&ht.nelems));
	grown = table_size(&ht);
	tc_check(&tc, grown / 4 * 3 >= nr_objects && grown <= 4 * nr_objects,
		 "table of %u buckets for %u objects", grown, nr_objects);

	t = mono_ns();
	rcu_read_lock();
	for (i = 0; i < nr_objects; i++) {
		obj_key(key, i);
		o = rhashtable_lookup(&ht, key, obj_params);
		found += !!o;
		wrong += o != objs[i];
	}
	rcu_read_unlock();
	t = mono_ns() - t;
	printf("# %u lookups in a table of %u buckets: %.1f ns each\n", nr_objects,
	       grown, (double)t / nr_objects);
	tc_check(&tc, found == nr_objects && !wrong, "found %u of %u, %u wrong", found,
		 nr_objects, wrong);
	obj_key(key, nr_objects + 7);
	tc_check(&tc, !rhashtable_lookup_fast(&ht, key, obj_params), "absent key found");

	/* The same key again: the object already there, the table unchanged. */
	dup = obj_new(42);
	o = rhashtable_lookup_get_insert_fast(&ht, &dup->node, obj_params);
	tc_check(&tc, o == objs[42], "duplicate: got %p, want %p", o, objs[42]);
	tc_check(&tc, rhashtable_lookup_insert_fast(&ht, &dup->node, obj_params) == -EEXIST,
		 "lookup_insert of a duplicate");
	tc_check(&tc, rhashtable_remove_fast(&ht, &dup->node, obj_params) == -ENOENT,
		 "removed an object never inserted");
	tc_check(&tc, atomic_read(&ht.nelems) == (int)nr_objects, "duplicate counted");
	/* insert_fast does not look: both are in, and removable one by one. */
	tc_check(&tc, rhashtable_insert_fast(&ht, &dup->node, obj_params) == 0, "insert_fast");
	tc_check(&tc, atomic_read(&ht.nelems) == (int)nr_objects + 1, "insert_fast count");
	tc_check(&tc, rhashtable_remove_fast(&ht, &dup->node, obj_params) == 0, "remove dup");
	obj_key(key, 42);
	tc_check(&tc, rhashtable_lookup_fast(&ht, key, obj_params) == objs[42],
		 "original lost with its duplicate");
	free(dup);

	/* Remove the odd ones; twice fails. */
	for (i = 1; i < nr_objects; i += 2) {
		if (rhashtable_remove_fast(&ht, &objs[i]->node, obj_params))
			tc_check(&tc, 0, "remove %u", i);
		if (rhashtable_remove_fast(&ht, &objs[i]->node, obj_params) != -ENOENT)
			tc_check(&tc, 0, "removed %u twice", i);
	}
	found = 0;
	for (i = 0; i < nr_objects; i++) {
		obj_key(key, i);
		o = rhashtable_lookup_fast(&ht, key, obj_params);
		if (o != (i % 2 ? NULL : objs[i]))
			found++;
	}
	tc_check(&tc, !found, "%u lookups wrong after removing half", found);

	/* Walk, with a stop and start in the middle: each object exactly once. */
	rhashtable_walk_enter(&ht, &iter);
	rhashtable_walk_start(&iter);
	while ((o = rhashtable_walk_next(&iter))) {
		twice += o->seen;
		o->seen = true;
		if (++walked % 1000 == 0) {
			rhashtable_walk_stop(&iter);
			rhashtable_walk_start(&iter);
		}
	}
	rhashtable_walk_stop(&iter);
	rhashtable_walk_exit(&iter);
	tc_check(&tc, walked == (nr_objects + 1) / 2 && !twice, "walked %u (%u twice), want %u",
		 walked, twice, (nr_objects + 1) / 2);
	for (i = 0; i < nr_objects; i += 2)
		if (!objs[i]->seen)
			tc_check(&tc, 0, "walk missed %u", i);

	/* Remove the rest: automatic shrinking brings the table down. */
	for (i = 0; i < nr_objects; i += 2)
		rhashtable_remove_fast(&ht, &objs[i]->node, obj_params);
	tc_check(&tc, atomic_read(&ht.nelems) == 0, "nelems %d at the end",
		 atomic_read(&ht.nelems));
	tc_check(&tc, table_size(&ht) < grown / 16, "table of %u buckets after emptying",
		 table_size(&ht));
	rhashtable_walk_enter(&ht, &iter);
	rhashtable_walk_start(&iter);
	tc_check(&tc, !rhashtable_walk_next(&iter), "walk of an empty table");
	rhashtable_walk_stop(&iter);
	rhashtable_walk_exit(&iter);
	rhashtable_destroy(&ht);
	for (i = 0; i < nr_objects; i++)
		free(objs[i]);
	free(objs);

	tc_check(&tc, rhashtable_init(&ht, &(struct rhashtable_params){ .head_offset = 8 }) ==
		 -EINVAL, "init without a key");
	tc_end(&tc);
}

/*
 * Readers look up keys while writers insert, remove and free: a key that
 * is always present is always found, an object found has its own key and
 * was not freed (its memory is poisoned after the grace period, and ASan
 * sees any use after free), and the table grows and shrinks meanwhile.
 */
#define NR_READERS	3
#define NR_WRITERS	2

static struct rhashtable conc_ht;
static atomic_bool conc_stop;
static atomic_ulong conc_lookups, conc_misses_stable, conc_bad, conc_churn;
static unsigned int conc_stable;	/* keys [0, conc_stable) never leave */

static void obj_free_rcu(struct rcu_head *head)
{
	struct obj *o = container_of(head, struct obj, rcu);

	atomic_store(&o->dead, 1);
	memset(o->key, 0x6b, sizeof(o->key));
	free(o);
}

static void *conc_reader(void *arg)
{
	u64 seed = (unsigned long)arg * 7919 + 1, key[2];

	while (!atomic_load(&conc_stop)) {
		unsigned int i;

		rcu_read_lock();
		for (i = 0; i < 64; i++) {
			u64 k;
			struct obj *o;

			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			k = (seed >> 33) % (conc_stable * 2);
			obj_key(key, k);
			o = rhashtable_lookup(&conc_ht, key, obj_params);
			if (!o && k < conc_stable)
				atomic_fetch_add(&conc_misses_stable, 1);
			if (o && (atomic_load(&o->dead) || memcmp(o->key, key, sizeof(key))))
				atomic_fetch_add(&conc_bad, 1);
		}
		rcu_read_unlock();
		atomic_fetch_add(&conc_lookups, 64);
	}
	return NULL;
}

/* Writer @w owns keys conc_stable + w, + NR_WRITERS, ...: insert a batch, remove it. */
static void *conc_writer(void *arg)
{
	unsigned int w = (unsigned long)arg, batch = conc_stable / NR_WRITERS, i;
	struct obj **objs = calloc(batch, sizeof(*objs));

	while (!atomic_load(&conc_stop)) {
		for (i = 0; i < batch; i++) {
			objs[i] = obj_new(conc_stable + w + (u64)i * NR_WRITERS);
			if (rhashtable_lookup_get_insert_fast(&conc_ht, &objs[i]->node, obj_params))
				atomic_fetch_add(&conc_bad, 1);
		}
		for (i = 0; i < batch; i++) {
			if (rhashtable_remove_fast(&conc_ht, &objs[i]->node, obj_params))
				atomic_fetch_add(&conc_bad, 1);
			call_rcu(&objs[i]->rcu, obj_free_rcu);
		}
		atomic_fetch_add(&conc_churn, batch);
	}
	free(objs);
	return NULL;
}

static void test_rhashtable_concurrent(void)
{
	struct test_case tc = { .name = "rhashtable: concurrent readers and writers" };
	pthread_t r[NR_READERS], w[NR_WRITERS];
	struct obj **stable;
	unsigned int i, min_size = UINT_MAX, max_size = 0;
	u64 end;

	conc_stable = nr_objects / 10 ? nr_objects / 10 : 1000;
	stable = calloc(conc_stable, sizeof(*stable));
	tc_check(&tc, rhashtable_init(&conc_ht, &obj_params) == 0, "init");
	for (i = 0; i < conc_stable; i++) {
		stable[i] = obj_new(i);
		rhashtable_insert_fast(&conc_ht, &stable[i]->node, obj_params);
	}
	for (i = 0; i < NR_READERS; i++)
		pthread_create(&r[i], NULL, conc_reader, (void *)(unsigned long)i);
	for (i = 0; i < NR_WRITERS; i++)
		pthread_create(&w[i], NULL, conc_writer, (void *)(unsigned long)i);
	end = mono_ns() + run_seconds * 1e9;
	while (mono_ns() < end) {
		unsigned int s;

		mutex_lock(&conc_ht.mutex);
		s = table_size(&conc_ht);
		mutex_unlock(&conc_ht.mutex);
		min_size = min(min_size, s);
		max_size = max(max_size, s);
		usleep(1000);
	}
	atomic_store(&conc_stop, true);
	for (i = 0; i < NR_READERS; i++)
		pthread_join(r[i], NULL);
	for (i = 0; i < NR_WRITERS; i++)
		pthread_join(w[i], NULL);
	printf("# %lu lookups, %lu objects inserted and freed, table %u..%u buckets\n",
	       atomic_load(&conc_lookups), atomic_load(&conc_churn), min_size, max_size);
	tc_check(&tc, atomic_load(&conc_lookups) > 0 && atomic_load(&conc_churn) > 0,
		 "no progress");
	tc_check(&tc, !atomic_load(&conc_misses_stable), "%lu lookups missed a present key",
		 atomic_load(&conc_misses_stable));
	tc_check(&tc, !atomic_load(&conc_bad), "%lu lookups found a wrong or freed object",
		 atomic_load(&conc_bad));
	tc_check(&tc, atomic_read(&conc_ht.nelems) == (int)conc_stable, "nelems %d, want %u",
		 atomic_read(&conc_ht.nelems), conc_stable);
	rhashtable_destroy(&conc_ht);
	for (i = 0; i < conc_stable; i++)
		free(stable[i]);
	free(stable);
	tc_end(&tc);
}

/* RCU: a grace period waits for readers; callbacks from inside sections are deferred. */
static atomic_int rcu_in_section, rcu_freed, rcu_seen_freed;

static void rcu_mark_freed(struct rcu_head *head)
{
	atomic_store(&rcu_freed, 1);
}

static void *rcu_slow_reader(void *arg)
{
	rcu_read_lock();
	rcu_read_lock();	/* nested */
	atomic_store(&rcu_in_section, 1);
	usleep(50000);
	rcu_read_unlock();
	usleep(20000);		/* still inside the outer section */
	atomic_store(&rcu_seen_freed, atomic_load(&rcu_freed));
	rcu_read_unlock();
	return NULL;
}

struct kfree_me {
	long		payload[3];
	struct rcu_head	rcu;
};

static void test_rcu(void)
{
	struct test_case tc = { .name = "rcu: grace periods and callbacks" };
	struct rcu_head head, inner;
	struct kfree_me *k = calloc(1, sizeof(*k));
	pthread_t t;
	u64 start;

	pthread_create(&t, NULL, rcu_slow_reader, NULL);
	while (!atomic_load(&rcu_in_section))
		usleep(100);
	start = mono_ns();
	call_rcu(&head, rcu_mark_freed);
	tc_check(&tc, atomic_load(&rcu_freed), "call_rcu outside a section did not call");
	tc_check(&tc, mono_ns() - start > 40000000ULL,
		 "the grace period did not wait for the reader (%llu ns)",
		 (unsigned long long)(mono_ns() - start));
	pthread_join(t, NULL);
	tc_check(&tc, !atomic_load(&rcu_seen_freed), "freed while a reader was inside");

	/* From inside a section: queued, run by rcu_barrier() at the latest. */
	atomic_store(&rcu_freed, 0);
	rcu_read_lock();
	tc_check(&tc, rcu_read_lock_held(), "rcu_read_lock_held");
	call_rcu(&inner, rcu_mark_freed);
	usleep(2000);
	tc_check(&tc, !atomic_load(&rcu_freed), "a callback ran inside the caller's section");
	rcu_read_unlock();
	rcu_barrier();
	tc_check(&tc, atomic_load(&rcu_freed), "rcu_barrier() did not wait for the callback");
	tc_check(&tc, !rcu_read_lock_held(), "rcu_read_lock_held after unlock");

	kfree_rcu(k, rcu);	/* ASan checks that the right pointer is freed */
	synchronize_rcu();
	synchronize_rcu_tasks();
	tc_end(&tc);
}

/* Work items: run before schedule_work() returns, never twice at once. */
static atomic_int work_runs, work_running, work_overlaps, work_requeue;

static void work_fn(struct work_struct *w)
{
	if (atomic_fetch_add(&work_running, 1))
		atomic_fetch_add(&work_overlaps, 1);
	atomic_fetch_add(&work_runs, 1);
	if (atomic_exchange(&work_requeue, 0))
		schedule_work(w);	/* from inside: runs once more, no recursion */
	atomic_fetch_sub(&work_running, 1);
}

static DECLARE_WORK(static_work, work_fn);
static struct work_struct dyn_work;

static void *work_thread(void *arg)
{
	unsigned int i;

	for (i = 0; i < 20000; i++) {
		int before = atomic_load(&work_runs);

		schedule_work(&dyn_work);
		if (atomic_load(&work_runs) <= before)
			atomic_fetch_add(&work_overlaps, 1000000);	/* did not run after us */
	}
	return NULL;
}

static void test_work(void)
{
	struct test_case tc = { .name = "work items: synchronous, not reentrant" };
	pthread_t t[4];
	unsigned int i;

	tc_check(&tc, schedule_work(&static_work) && atomic_load(&work_runs) == 1,
		 "DECLARE_WORK: %d runs", atomic_load(&work_runs));
	atomic_store(&work_requeue, 1);
	schedule_work(&static_work);
	tc_check(&tc, atomic_load(&work_runs) == 3, "requeue from inside: %d runs, want 3",
		 atomic_load(&work_runs));
	flush_work(&static_work);
	tc_check(&tc, queue_work(system_unbound_wq, &static_work) &&
		 atomic_load(&work_runs) == 4, "queue_work");

	INIT_WORK(&dyn_work, work_fn);
	for (i = 0; i < ARRAY_SIZE(t); i++)
		pthread_create(&t[i], NULL, work_thread, NULL);
	for (i = 0; i < ARRAY_SIZE(t); i++)
		pthread_join(t[i], NULL);
	tc_check(&tc, !atomic_load(&work_overlaps), "overlapping or missed runs: %d",
		 atomic_load(&work_overlaps));
	tc_end(&tc);
}

/* llist: LIFO, "was empty" from llist_add, concurrent adds all land. */
struct litem {
	int			v;
	struct llist_node	node;
};

static LLIST_HEAD(llist_shared);

static void *llist_thread(void *arg)
{
	unsigned int i;

	for (i = 0; i < 10000; i++) {
		struct litem *it = malloc(sizeof(*it));

		it->v = 1;
		llist_add(&it->node, &llist_shared);
	}
	return NULL;
}

static void test_llist(void)
{
	struct test_case tc = { .name = "llist and per-CPU counters" };
	struct litem items[3] = { { .v = 0 }, { .v = 1 }, { .v = 2 } }, *pos, *n;
	struct llist_node *list;
	struct llist_head head;
	unsigned int i, total = 0;
	int order[3], k = 0;
	pthread_t t[4];

	init_llist_head(&head);
	tc_check(&tc, llist_empty(&head), "empty");
	tc_check(&tc, llist_add(&items[0].node, &head), "first add: was empty");
	tc_check(&tc, !llist_add(&items[1].node, &head), "second add: was not empty");
	llist_add(&items[2].node, &head);
	list = llist_del_all(&head);
	tc_check(&tc, llist_empty(&head), "del_all leaves it empty");
	llist_for_each_entry_safe(pos, n, list, node)
		if (k < 3)
			order[k++] = pos->v;
	tc_check(&tc, k == 3 && order[0] == 2 && order[1] == 1 && order[2] == 0,
		 "order %d %d %d", order[0], order[1], order[2]);
	list = llist_reverse_order(&items[2].node);
	tc_check(&tc, list == &items[0].node, "reverse");

	for (i = 0; i < ARRAY_SIZE(t); i++)
		pthread_create(&t[i], NULL, llist_thread, NULL);
	for (i = 0; i < ARRAY_SIZE(t); i++)
		pthread_join(t[i], NULL);
	llist_for_each_entry_safe(pos, n, llist_del_all(&llist_shared), node) {
		total += pos->v;
		free(pos);
	}
	tc_check(&tc, total == 40000, "concurrent adds: %u of 40000", total);
	tc_end(&tc);
}

static DEFINE_PER_CPU(unsigned long, pcpu_count);
struct pcpu_stats {
	unsigned long	a, b;
};

static struct pcpu_stats __percpu *pcpu_stats;

static void *pcpu_thread(void *arg)
{
	unsigned int i;

	for (i = 0; i < 100000; i++) {
		this_cpu_inc(pcpu_count);
		this_cpu_add(this_cpu_ptr(pcpu_stats)->b, 2);
	}
	return NULL;
}

static void test_percpu(void)
{
	struct test_case tc = { .name = "per-CPU counters from threads" };
	unsigned long sum = 0, sum_b = 0;
	pthread_t t[4];
	unsigned int i;
	int cpu;

	pcpu_stats = alloc_percpu(struct pcpu_stats);
	for (i = 0; i < ARRAY_SIZE(t); i++)
		pthread_create(&t[i], NULL, pcpu_thread, NULL);
	for (i = 0; i < ARRAY_SIZE(t); i++)
		pthread_join(t[i], NULL);
	for_each_possible_cpu(cpu) {
		sum += per_cpu(pcpu_count, cpu);
		sum_b += per_cpu_ptr(pcpu_stats, cpu)->b;
	}
	tc_check(&tc, sum == 400000 && sum_b == 800000, "sums %lu %lu", sum, sum_b);
	free_percpu(pcpu_stats);
	tc_end(&tc);
}

int main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--objects") && i + 1 < argc) {
			nr_objects = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			run_seconds = strtod(argv[++i], NULL);
		} else {
			fprintf(stderr, "usage: test_compat [--objects N] [--seconds S]\n");
			return 2;
		}
	}
	test_rhashtable_basic();
	test_rhashtable_concurrent();
	test_rcu();
	test_work();
	test_llist();
	test_percpu();
	return tests_summary();
}
