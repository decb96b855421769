// SPDX-License-Identifier: GPL-2.0
/*
 * rhashtable for the userspace build: lock-free lookups under RCU, writers
 * under a mutex, resizing in the writer. See compat/rhashtable_user.h.
 */
#include "compat/bkey_jit_compat.h"

#define HASH_DEFAULT_SIZE	64U
#define HASH_MIN_SIZE		4U

/* A chain ends in a nulls marker naming its bucket: odd, never an object. */
#define RHT_NULLS(idx)		((struct rhash_head *)((((unsigned long)(idx)) << 1) | 1))
#define rht_is_nulls(p)		((unsigned long)(p) & 1)

static inline void *rht_obj(const struct rhashtable *ht, const struct rhash_head *he)
{
	return (char *)he - ht->p.head_offset;
}

static inline struct rhash_head *rht_load(struct rhash_head **p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void rht_store(struct rhash_head **p, struct rhash_head *v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static u64 rht_mix(u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

/* The default hash: 8 bytes at a time, then the tail, then a final mix. */
static u32 rht_default_hash(const void *data, u32 len, u32 seed)
{
	const u8 *p = data;
	u64 h = seed ^ (len * 0x9e3779b97f4a7c15ULL), v;

	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&v, p, 8);
		h = (h ^ rht_mix(v)) * 0x9e3779b97f4a7c15ULL;
	}
	if (len) {
		v = 0;
		memcpy(&v, p, len);
		h = (h ^ rht_mix(v)) * 0x9e3779b97f4a7c15ULL;
	}
	return rht_mix(h);
}

static u32 rht_key_hash(const struct rhashtable *ht, const void *key)
{
	return (ht->p.hashfn ?: rht_default_hash)(key, ht->key_len, ht->hash_rnd);
}

static u32 rht_head_hash(const struct rhashtable *ht, const struct rhash_head *he)
{
	const char *obj = rht_obj(ht, he);

	if (ht->p.obj_hashfn)
		return ht->p.obj_hashfn(obj, ht->key_len, ht->hash_rnd);
	return rht_key_hash(ht, obj + ht->p.key_offset);
}

static bool rht_match(struct rhashtable *ht, const void *key, const struct rhash_head *he)
{
	const char *obj = rht_obj(ht, he);

	if (ht->p.obj_cmpfn) {
		struct rhashtable_compare_arg arg = { .ht = ht, .key = key };

		return !ht->p.obj_cmpfn(&arg, obj);
	}
	return !memcmp(obj + ht->p.key_offset, key, ht->key_len);
}

static struct bucket_table *bucket_table_alloc(unsigned int size)
{
	struct bucket_table *tbl = malloc(sizeof(*tbl) + size * sizeof(tbl->buckets[0]));
	unsigned int i;

	if (!tbl)
		return NULL;
	tbl->size = size;
	for (i = 0; i < size; i++)
		tbl->buckets[i] = RHT_NULLS(i);
	return tbl;
}

static void bucket_table_free_rcu(struct rcu_head *head)
{
	free(container_of(head, struct bucket_table, rcu));
}

static unsigned int roundup_pow_of_two(unsigned long n)
{
	unsigned int size = 1;

	while (size < n)
		size <<= 1;
	return size;
}

/**
 * rhashtable_init - initialise an empty table
 * @ht:		the table
 * @params:	key layout and sizing; kept for the table's life
 *
 * Return: 0, -EINVAL for params without a key, or -ENOMEM.
 */
int rhashtable_init(struct rhashtable *ht, const struct rhashtable_params *params)
{
	unsigned int size = HASH_DEFAULT_SIZE;

	if ((!params->key_len && !params->obj_hashfn) ||
	    (params->obj_hashfn && !params->obj_cmpfn))
		return -EINVAL;
	memset(ht, 0, sizeof(*ht));
	ht->p = *params;
	ht->p.min_size = max_t(unsigned int, ht->p.min_size, HASH_MIN_SIZE);
	if (ht->p.max_size)
		ht->p.max_size = 1U << (31 - __builtin_clz(ht->p.max_size));
	ht->max_elems = ht->p.max_size ? ht->p.max_size * 2 : 1U << 31;
	if (params->nelem_hint)
		size = max_t(unsigned int, ht->p.min_size,
			     roundup_pow_of_two(params->nelem_hint * 4UL / 3));
	ht->key_len = ht->p.key_len;
	ht->hash_rnd = (u32)rht_mix((unsigned long)ht ^ 0x6a09e667f3bcc909ULL);
	mutex_init(&ht->mutex);
	atomic_set(&ht->nelems, 0);
	ht->tbl = bucket_table_alloc(size);
	return ht->tbl ? 0 : -ENOMEM;
}

/**
 * rhashtable_free_and_destroy - free a table and call @free_fn on each object
 * @ht:		the table; nothing may use it any more
 * @free_fn:	called for each object, or NULL
 * @arg:	passed to @free_fn
 */
void rhashtable_free_and_destroy(struct rhashtable *ht,
				 void (*free_fn)(void *ptr, void *arg), void *arg)
{
	struct bucket_table *tbl = ht->tbl;
	unsigned int i;

	for (i = 0; free_fn && tbl && i < tbl->size; i++) {
		struct rhash_head *he = tbl->buckets[i], *next;

		for (; !rht_is_nulls(he); he = next) {
			next = he->next;
			free_fn(rht_obj(ht, he), arg);
		}
	}
	free(tbl);
	ht->tbl = NULL;
	mutex_destroy(&ht->mutex);
}

/**
 * rhashtable_destroy - free a table, not the objects in it
 * @ht:		the table; nothing may use it any more
 */
void rhashtable_destroy(struct rhashtable *ht)
{
	rhashtable_free_and_destroy(ht, NULL, NULL);
}

/* Lookup, caller in an RCU read-side section. */
void *rht_user_lookup(struct rhashtable *ht, const void *key)
{
	u32 hash = rht_key_hash(ht, key);

	for (;;) {
		unsigned int seq = atomic_load_explicit(&ht->resize_seq,
							memory_order_acquire);
		struct bucket_table *tbl;
		struct rhash_head *he;
		unsigned int idx;

		if (seq & 1) {		/* chains are moving to a new table */
			cpu_relax();
			continue;
		}
		tbl = rcu_dereference(ht->tbl);
		idx = hash & (tbl->size - 1);
		for (he = rht_load(&tbl->buckets[idx]); !rht_is_nulls(he);
		     he = rht_load(&he->next))
			if (rht_match(ht, key, he))
				return rht_obj(ht, he);
		/* A miss counts only if the walk stayed on the chain it began. */
		atomic_thread_fence(memory_order_acquire);
		if (he == RHT_NULLS(idx) &&
		    atomic_load_explicit(&ht->resize_seq, memory_order_relaxed) == seq)
			return NULL;
	}
}

/* Move every object to a table of @size buckets; under the mutex. */
static struct bucket_table *rht_resize(struct rhashtable *ht, unsigned int size)
{
	struct bucket_table *old = ht->tbl, *tbl = bucket_table_alloc(size);
	unsigned int i;

	if (!tbl)
		return NULL;	/* keep the old one: longer chains, still correct */
	atomic_store_explicit(&ht->resize_seq, ht->resize_seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (i = 0; i < old->size; i++) {
		struct rhash_head *he = old->buckets[i], *next;

		for (; !rht_is_nulls(he); he = next) {
			unsigned int idx = rht_head_hash(ht, he) & (size - 1);

			next = he->next;
			rht_store(&he->next, tbl->buckets[idx]);
			rht_store(&tbl->buckets[idx], he);
		}
	}
	rcu_assign_pointer(ht->tbl, tbl);
	atomic_store_explicit(&ht->resize_seq, ht->resize_seq + 1, memory_order_release);
	return old;
}

/* Grow above 75% load, shrink below 30%; the old table to free, or NULL. */
static struct bucket_table *rht_maybe_resize(struct rhashtable *ht)
{
	unsigned int n = atomic_read(&ht->nelems), size = ht->tbl->size;

	if (ht->walkers)
		return NULL;
	if (n > size / 4 * 3 && (!ht->p.max_size || size < ht->p.max_size))
		return rht_resize(ht, size * 2);
	if (ht->p.automatic_shrinking && n < size * 3 / 10 && size > ht->p.min_size) {
		unsigned int want = max_t(unsigned int, ht->p.min_size,
					  roundup_pow_of_two(n * 3UL / 2));

		if (want < size)
			return rht_resize(ht, want);
	}
	return NULL;
}

static void rht_unlock_free(struct rhashtable *ht, struct bucket_table *old)
{
	mutex_unlock(&ht->mutex);
	/* Lookups may still walk the old buckets: free after a grace period. */
	if (old)
		call_rcu(&old->rcu, bucket_table_free_rcu);
}

/* Insert; with @dup_check, return the object with the same key if any. */
void *rht_user_insert(struct rhashtable *ht, struct rhash_head *obj, bool dup_check)
{
	struct bucket_table *tbl;
	struct rhash_head *he;
	unsigned int idx;
	const void *key;
	void *ret = NULL;

	mutex_lock(&ht->mutex);
	tbl = ht->tbl;
	idx = rht_head_hash(ht, obj) & (tbl->size - 1);
	key = (char *)rht_obj(ht, obj) + ht->p.key_offset;
	for (he = tbl->buckets[idx]; dup_check && !rht_is_nulls(he); he = he->next)
		if (rht_match(ht, key, he)) {
			ret = rht_obj(ht, he);
			goto out;
		}
	if ((unsigned int)atomic_read(&ht->nelems) >= ht->max_elems) {
		ret = ERR_PTR(-E2BIG);
		goto out;
	}
	obj->next = tbl->buckets[idx];
	rht_store(&tbl->buckets[idx], obj);	/* publishes the object */
	atomic_inc(&ht->nelems);
	rht_unlock_free(ht, rht_maybe_resize(ht));
	return NULL;
out:
	mutex_unlock(&ht->mutex);
	return ret;
}

/* Unlink; the object's own next pointer stays, for lookups standing on it. */
int rht_user_remove(struct rhashtable *ht, struct rhash_head *obj)
{
	struct bucket_table *tbl;
	struct rhash_head **pprev, *he;

	mutex_lock(&ht->mutex);
	tbl = ht->tbl;
	pprev = &tbl->buckets[rht_head_hash(ht, obj) & (tbl->size - 1)];
	for (he = *pprev; !rht_is_nulls(he); pprev = &he->next, he = *pprev)
		if (he == obj)
			break;
	if (he != obj) {
		mutex_unlock(&ht->mutex);
		return -ENOENT;
	}
	rht_store(pprev, obj->next);
	atomic_dec(&ht->nelems);
	rht_unlock_free(ht, rht_maybe_resize(ht));
	return 0;
}

/**
 * rhashtable_walk_enter - prepare to walk every object
 * @ht:		the table
 * @iter:	the walk; the table does not resize until rhashtable_walk_exit()
 */
void rhashtable_walk_enter(struct rhashtable *ht, struct rhashtable_iter *iter)
{
	memset(iter, 0, sizeof(*iter));
	iter->ht = ht;
	mutex_lock(&ht->mutex);
	ht->walkers++;
	mutex_unlock(&ht->mutex);
}

/**
 * rhashtable_walk_exit - end a walk
 * @iter:	the walk
 */
void rhashtable_walk_exit(struct rhashtable_iter *iter)
{
	struct rhashtable *ht = iter->ht;

	mutex_lock(&ht->mutex);
	ht->walkers--;
	mutex_unlock(&ht->mutex);
}

/**
 * rhashtable_walk_start_check - (re)start a walk: enters an RCU section
 * @iter:	the walk
 *
 * Return: 0 (the table cannot have been resized since rhashtable_walk_enter()).
 */
int rhashtable_walk_start_check(struct rhashtable_iter *iter)
{
	rcu_read_lock();
	iter->p = NULL;
	return 0;
}

/**
 * rhashtable_walk_next - the next object of a walk
 * @iter:	the walk, started
 *
 * Objects inserted or removed during the walk may be seen or not, and one
 * removed between a stop and a start may make the walk skip or repeat one
 * object, as in the kernel.
 *
 * Return: an object, or NULL at the end of the table.
 */
void *rhashtable_walk_next(struct rhashtable_iter *iter)
{
	struct rhashtable *ht = iter->ht;
	struct bucket_table *tbl = rcu_dereference(ht->tbl);
	struct rhash_head *he;

	if (iter->end_of_table)
		return NULL;
	if (iter->p) {
		he = rht_load(&iter->p->next);
	} else {
		unsigned int skip = iter->skip;

		if (iter->slot >= tbl->size)
			goto end;
		he = rht_load(&tbl->buckets[iter->slot]);
		while (skip-- && !rht_is_nulls(he))
			he = rht_load(&he->next);
	}
	while (rht_is_nulls(he)) {
		if (++iter->slot >= tbl->size)
			goto end;
		iter->skip = 0;
		he = rht_load(&tbl->buckets[iter->slot]);
	}
	iter->p = he;
	iter->skip++;
	return rht_obj(ht, he);
end:
	iter->p = NULL;
	iter->end_of_table = true;
	return NULL;
}

/**
 * rhashtable_walk_stop - pause a walk: leaves the RCU section
 * @iter:	the walk
 */
void rhashtable_walk_stop(struct rhashtable_iter *iter)
{
	iter->p = NULL;
	rcu_read_unlock();
}
