/* SPDX-License-Identifier: GPL-2.0 */
/* Counters, assertions and a seeded PRNG for the userspace tests. */
#ifndef _TEST_UTIL_H
#define _TEST_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long tests_passed, tests_failed;

static inline void test_report(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		tests_passed++;
		return;
	}
	tests_failed++;
	if (tests_failed > 50)
		return;
	fprintf(stderr, "FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

/* A named group of assertions: one pass/fail line, one count. */
struct test_case {
	const char *name;
	unsigned long checks, failures;
};

static inline void tc_check(struct test_case *tc, int ok, const char *fmt, ...)
{
	va_list ap;

	tc->checks++;
	if (ok)
		return;
	if (tc->failures++ < 10) {
		fprintf(stderr, "FAIL %s: ", tc->name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, "\n");
	}
}

static inline void tc_end(struct test_case *tc)
{
	printf("%s %s (%lu checks, %lu failed)\n",
	       tc->failures || !tc->checks ? "not ok" : "ok", tc->name,
	       tc->checks, tc->failures);
	if (tc->failures || !tc->checks)
		tests_failed++;
	else
		tests_passed++;
}

static inline int tests_summary(void)
{
	printf("%lu passed, %lu failed\n", tests_passed, tests_failed);
	return tests_failed ? 1 : 0;
}

/* splitmix64: seeded, so a failure is reproducible from the seed. */
static u64 rng_state = 0x9e3779b97f4a7c15ULL;

static inline u64 rng64(void)
{
	u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline unsigned int rng_below(unsigned int n)
{
	return rng64() % n;
}

#endif /* _TEST_UTIL_H */
