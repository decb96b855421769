/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rhashtable for the userspace build (user/rhashtable_user.c): the
 * kernel's API subset bkey-jit uses, with its semantics.
 *
 * Lookups take no lock and write nothing shared: under rcu_read_lock()
 * they walk a bucket's chain, which ends in a "nulls" marker naming the
 * bucket, so a walk that was carried onto another chain (an object
 * removed and inserted elsewhere) notices and restarts, as in the kernel.
 * Writers serialise on a mutex. The table doubles above 75% load and,
 * with automatic_shrinking, halves below 30%, in the inserting or
 * removing thread; lookups during a resize wait for it (a sequence
 * count), and the old bucket array is freed after a grace period. A
 * table does not resize while a walk is in progress, so the walk API
 * never returns -EAGAIN here.
 *
 * The params argument of the _fast calls must be the params the table was
 * initialised with (as in the kernel); the table uses its own copy.
 */
#ifndef _BKEY_JIT_RHASHTABLE_USER_H
#define _BKEY_JIT_RHASHTABLE_USER_H

struct rhash_head {
	struct rhash_head __rcu	*next;
};

struct rhashtable_compare_arg {
	struct rhashtable	*ht;
	const void		*key;
};

typedef u32 (*rht_hashfn_t)(const void *data, u32 len, u32 seed);
typedef u32 (*rht_obj_hashfn_t)(const void *data, u32 len, u32 seed);
typedef int (*rht_obj_cmpfn_t)(struct rhashtable_compare_arg *arg,
			       const void *obj);

struct rhashtable_params {
	u16			nelem_hint;
	u16			key_len;
	u16			key_offset;
	u16			head_offset;
	unsigned int		max_size;
	u16			min_size;
	bool			automatic_shrinking;
	rht_hashfn_t		hashfn;
	rht_obj_hashfn_t	obj_hashfn;
	rht_obj_cmpfn_t		obj_cmpfn;
};

struct bucket_table {
	unsigned int		size;		/* a power of two */
	struct rcu_head		rcu;
	struct rhash_head	*buckets[];
};

struct rhashtable {
	struct bucket_table __rcu *tbl;
	unsigned int		key_len;
	unsigned int		max_elems;
	struct rhashtable_params p;
	u32			hash_rnd;
	struct mutex		mutex;		/* writers */
	atomic_uint		resize_seq;	/* odd while chains move */
	unsigned int		walkers;	/* walks entered, under mutex */
	atomic_t		nelems;
};

struct rhashtable_iter {
	struct rhashtable	*ht;
	struct rhash_head	*p;		/* last returned, until walk_stop */
	unsigned int		slot;
	unsigned int		skip;		/* returned from this slot so far */
	bool			end_of_table;
};

int rhashtable_init(struct rhashtable *ht, const struct rhashtable_params *params);
void rhashtable_destroy(struct rhashtable *ht);
void rhashtable_free_and_destroy(struct rhashtable *ht,
				 void (*free_fn)(void *ptr, void *arg), void *arg);

void *rht_user_lookup(struct rhashtable *ht, const void *key);
void *rht_user_insert(struct rhashtable *ht, struct rhash_head *obj, bool dup_check);
int rht_user_remove(struct rhashtable *ht, struct rhash_head *obj);

/* The object for @key, or NULL. The caller holds rcu_read_lock(). */
static inline void *rhashtable_lookup(struct rhashtable *ht, const void *key,
				      const struct rhashtable_params params)
{
	(void)params;
	return rht_user_lookup(ht, key);
}

/* The object for @key, or NULL; takes rcu_read_lock() itself. */
static inline void *rhashtable_lookup_fast(struct rhashtable *ht, const void *key,
					   const struct rhashtable_params params)
{
	void *obj;

	(void)params;
	rcu_read_lock();
	obj = rht_user_lookup(ht, key);
	rcu_read_unlock();
	return obj;
}

/*
 * Insert @obj unless its key is present. Return: NULL when inserted, the
 * object already there, or ERR_PTR(-E2BIG) when the table is full. The
 * object returned is only safe to use under rcu_read_lock().
 */
static inline void *rhashtable_lookup_get_insert_fast(struct rhashtable *ht,
						      struct rhash_head *obj,
						      const struct rhashtable_params params)
{
	(void)params;
	return rht_user_insert(ht, obj, true);
}

/* Return: 0, -EEXIST when the key is present, or -E2BIG. */
static inline int rhashtable_lookup_insert_fast(struct rhashtable *ht,
						struct rhash_head *obj,
						const struct rhashtable_params params)
{
	void *ret = rht_user_insert(ht, obj, true);

	(void)params;
	return IS_ERR(ret) ? PTR_ERR(ret) : ret ? -EEXIST : 0;
}

/* Insert without looking for the key (duplicates allowed). Return: 0 or -E2BIG. */
static inline int rhashtable_insert_fast(struct rhashtable *ht, struct rhash_head *obj,
					 const struct rhashtable_params params)
{
	void *ret = rht_user_insert(ht, obj, false);

	(void)params;
	return IS_ERR(ret) ? PTR_ERR(ret) : 0;
}

/* Return: 0, or -ENOENT when @obj is not in the table. */
static inline int rhashtable_remove_fast(struct rhashtable *ht, struct rhash_head *obj,
					 const struct rhashtable_params params)
{
	(void)params;
	return rht_user_remove(ht, obj);
}

void rhashtable_walk_enter(struct rhashtable *ht, struct rhashtable_iter *iter);
void rhashtable_walk_exit(struct rhashtable_iter *iter);
int rhashtable_walk_start_check(struct rhashtable_iter *iter);
void *rhashtable_walk_next(struct rhashtable_iter *iter);
void rhashtable_walk_stop(struct rhashtable_iter *iter);

static inline void rhashtable_walk_start(struct rhashtable_iter *iter)
{
	(void)rhashtable_walk_start_check(iter);
}

#endif /* _BKEY_JIT_RHASHTABLE_USER_H */
