// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace stand-in for the kernel's get_random_u64(): splitmix64 over
 * an atomic counter, so concurrent callers never share an output. Seeded
 * from getrandom() at load time; tests set a seed to reproduce a run.
 */
#include <sys/random.h>

#include "compat/bkey_jit_compat.h"

static u64 random_state;
static bool blinding = true;

static u64 splitmix64(u64 z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

__attribute__((constructor)) static void random_seed_at_load(void)
{
	u64 seed = 0;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (u64)(unsigned long)&seed;	/* ASLR at least */
	__atomic_store_n(&random_state, seed, __ATOMIC_RELAXED);
}

/**
 * bkey_jit_user_random_u64 - the next 64 random-looking bits
 *
 * Return: splitmix64 of the next counter value.
 */
u64 bkey_jit_user_random_u64(void)
{
	return splitmix64(__atomic_add_fetch(&random_state,
					     0x9e3779b97f4a7c15ULL,
					     __ATOMIC_RELAXED));
}

/**
 * bkey_jit_user_set_random_seed - restart the sequence from @seed
 * @seed:	any value; the same seed gives the same keys
 */
void bkey_jit_user_set_random_seed(u64 seed)
{
	__atomic_store_n(&random_state, seed, __ATOMIC_RELAXED);
}

/**
 * bkey_jit_user_set_blinding - turn constant blinding on or off
 * @on:		false only to measure what blinding costs
 */
void bkey_jit_user_set_blinding(bool on)
{
	__atomic_store_n(&blinding, on, __ATOMIC_RELAXED);
}

/**
 * bkey_jit_blinding_enabled - whether bkey_plan_blind() rewrites plans
 *
 * Return: true unless bkey_jit_user_set_blinding(false) was called.
 */
bool bkey_jit_blinding_enabled(void)
{
	return __atomic_load_n(&blinding, __ATOMIC_RELAXED);
}
